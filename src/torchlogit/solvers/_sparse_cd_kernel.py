"""Compiled kernels of :mod:`torchlogit.solvers.sparse_cd` (numba; imported only when it runs).

Binomial proximal Newton over the columns of a CSC matrix (glmnet's and liblinear's newGLMNET
scheme): each outer step forms the gradient and the diagonal curvature from the stored values,
then minimises the L1-penalised quadratic model by coordinate descent *without forming the
Hessian*: a coordinate's model gradient is ``gⱼ + Σᵢ xᵢⱼ Dᵢ (Xδ)ᵢ``, kept exact by updating
``Xδ`` after each move, so a sweep costs the stored values of the columns it visits. A
backtracking (Armijo) search along the full step makes the outer step a descent step.

Every array is float64 or int; ``w`` are the normalised row weights (summing to 1). The kernels
take flat arrays (numba's nopython mode compiles arrays and scalars, not our objects), hence
their long argument lists.
"""

# ruff: noqa: PLR0913

from __future__ import annotations

import numpy as np
from numba import njit

# sweeps between Anderson extrapolations of the support's coordinates (skglm uses 5)
_ANDERSON_K = 5
# coordinate descent stops once a sweep's largest move is this share of the KKT violation. On many
# correlated columns (news20's shape at 0.01·λ_max: 12k of them in the support) small moves do not
# mean the model is solved: the KKT violation then stalls near λ (2.3e-6 → 2.2e-6 over 24 Newton
# steps). A step that leaves it above _STALL_SHARE of the last one divides the share by 10.
_INNER_SHARE = 0.1
_MIN_INNER_SHARE = 1e-4
_STALL_SHARE = 0.5


@njit(cache=True)
def _log1pexp(z: float) -> float:
    return z + np.log1p(np.exp(-z)) if z > 0 else np.log1p(np.exp(z))


@njit(cache=True)
def _penalised_value(z, y, w, coef, lam1, lam2):
    f = 0.0
    for i in range(z.shape[0]):
        f += w[i] * (_log1pexp(z[i]) - y[i] * z[i])
    for j in range(coef.shape[0]):
        f += lam1[j] * abs(coef[j]) + 0.5 * lam2[j] * coef[j] * coef[j]
    return f


@njit(cache=True)
def _derivatives(indptr, indices, data, y, w, z, coef, lam1, lam2, D, g, h):
    """Fill the curvature weights D, the gradient g and the curvature h of every column; return
    the intercept's gradient and curvature and the largest KKT violation of the columns."""
    r = np.empty(z.shape[0])
    gb, hb = 0.0, 0.0
    for i in range(z.shape[0]):
        p = 1.0 / (1.0 + np.exp(-z[i]))
        D[i] = w[i] * p * (1.0 - p)
        r[i] = w[i] * (p - y[i])
        gb += r[i]
        hb += D[i]
    kkt = 0.0
    for j in range(coef.shape[0]):
        gj, hj = 0.0, 0.0
        for k in range(indptr[j], indptr[j + 1]):
            i = indices[k]
            gj += data[k] * r[i]
            hj += data[k] * data[k] * D[i]
        g[j] = gj + lam2[j] * coef[j]
        h[j] = hj + lam2[j] + 1e-12
        if coef[j] != 0.0:
            kkt = max(kkt, abs(g[j] + lam1[j] * np.sign(coef[j])))
        else:
            kkt = max(kkt, abs(g[j]) - lam1[j])
    return gb, hb, kkt


@njit(cache=True)
def _move(j, indptr, indices, data, D, xd, delta, coef, g, h, lam1, lam2):
    """Minimise the model over coordinate j; returns how much its model gradient moved (h·|Δ|)."""
    c = coef[j] + delta[j]
    mg = g[j] + lam2[j] * delta[j]
    for k in range(indptr[j], indptr[j + 1]):
        mg += data[k] * D[indices[k]] * xd[indices[k]]
    hj, l1 = h[j], lam1[j]
    if mg + l1 <= hj * c:
        u = -(mg + l1) / hj
    elif mg - l1 >= hj * c:
        u = -(mg - l1) / hj
    else:
        u = -c
    if u == 0.0:
        return 0.0
    delta[j] += u
    for k in range(indptr[j], indptr[j + 1]):
        xd[indices[k]] += u * data[k]
    return abs(u) * hj


@njit(cache=True)
def _move_intercept(gb, hb, D, xd):
    """The intercept's model step (its column is all ones); returns (step, h·|step|)."""
    mg = gb
    for i in range(xd.shape[0]):
        mg += D[i] * xd[i]
    step = -mg / (hb + 1e-12)
    for i in range(xd.shape[0]):
        xd[i] += step
    return step, abs(step) * hb


@njit(cache=True)
def _sweep(columns, indptr, indices, data, D, g, h, coef, lam1, lam2, gb, hb, fit_intercept, xd, delta):
    """One coordinate-descent sweep: the intercept (when fitted), then ``columns`` in order. Returns
    the intercept's step and the largest move (h·|Δ|) of the sweep."""
    step_b, largest = 0.0, 0.0
    if fit_intercept:
        step_b, largest = _move_intercept(gb, hb, D, xd)
    for a in range(columns.shape[0]):
        largest = max(largest, _move(columns[a], indptr, indices, data, D, xd, delta, coef, g, h, lam1, lam2))
    return step_b, largest


@njit(cache=True)
def _model_step(indptr, indices, data, D, g, h, coef, lam1, lam2, gb, hb, fit_intercept, inner_tol,
                max_sweeps, xd, delta):
    """Coordinate descent on the quadratic model: a full sweep over the columns that may move
    (non-zero, or gradient within 10 % of entering), then sweeps over the moving ones until they
    settle, until a full sweep settles. Returns the intercept's step and the sweeps made."""
    p = coef.shape[0]
    xd[:] = 0.0
    delta[:] = 0.0
    db = 0.0
    candidates = np.empty(p, dtype=np.int64)
    n_candidates = 0
    for j in range(p):
        if coef[j] != 0.0 or abs(g[j]) >= 0.9 * lam1[j]:
            candidates[n_candidates] = j
            n_candidates += 1
    moving = np.empty(p, dtype=np.int64)
    sweeps = 0
    while sweeps < max_sweeps:
        step_b, largest = _sweep(candidates[:n_candidates], indptr, indices, data, D, g, h, coef, lam1, lam2,
                                 gb, hb, fit_intercept, xd, delta)
        db += step_b
        n_moving = 0
        for a in range(n_candidates):
            j = candidates[a]
            if coef[j] + delta[j] != 0.0:
                moving[n_moving] = j
                n_moving += 1
        sweeps += 1
        if largest <= inner_tol:
            break
        db, sweeps = _support_sweeps(indptr, indices, data, D, g, h, coef, lam1, lam2, gb, hb, fit_intercept,
                                     inner_tol, max_sweeps, xd, delta, moving[:n_moving], db, sweeps)
    return db, sweeps


@njit(cache=True)
def _support_sweeps(indptr, indices, data, D, g, h, coef, lam1, lam2, gb, hb, fit_intercept, inner_tol,
                    max_sweeps, xd, delta, moving, db, sweeps):
    """Sweeps over the support's coordinates (``moving``) until they settle, Anderson-accelerated
    as skglm's: after every ``_ANDERSON_K`` sweeps the iterates' best affine combination
    (residuals of least norm, weights summing to one) replaces the last one if it lowers the
    model. ``xd`` is linear in the step, so the combination's ``Xδ`` is the same combination of
    the kept ones, exactly. Returns the intercept's step and the sweeps made so far."""
    m, n = moving.shape[0], xd.shape[0]
    kept_steps = np.empty((_ANDERSON_K + 1, m + 1))
    kept_xd = np.empty((_ANDERSON_K + 1, n))
    n_kept = 0
    while sweeps < max_sweeps:
        step_b, largest = _sweep(moving, indptr, indices, data, D, g, h, coef, lam1, lam2, gb, hb,
                                 fit_intercept, xd, delta)
        db += step_b
        sweeps += 1
        if largest <= inner_tol:
            break
        kept_steps[n_kept, :m] = delta[moving]
        kept_steps[n_kept, m] = db
        kept_xd[n_kept] = xd
        n_kept += 1
        if n_kept == _ANDERSON_K + 1:
            db = _extrapolate(kept_steps, kept_xd, moving, g, coef, lam1, lam2, D, gb, xd, delta, db)
            n_kept = 0
    return db, sweeps


@njit(cache=True)
def _extrapolate(kept_steps, kept_xd, moving, g, coef, lam1, lam2, D, gb, xd, delta, db):
    """Anderson's step from the kept iterates (rows); taken, in ``xd``, ``delta`` and the returned
    intercept step, only if the model is lower there than at the last iterate."""
    k = kept_steps.shape[0] - 1
    diffs = kept_steps[1:] - kept_steps[:-1]
    gram = diffs @ diffs.T
    gram += (1e-12 * np.trace(gram) + 1e-300) * np.eye(k)
    weights = np.linalg.solve(gram, np.ones(k))
    weights /= weights.sum()
    combined = weights @ kept_steps[1:]
    combined_xd = weights @ kept_xd[1:]
    m = moving.shape[0]
    if _model(combined[:m], combined[m], combined_xd, moving, g, coef, lam1, lam2, D, gb) < _model(
            delta[moving], db, xd, moving, g, coef, lam1, lam2, D, gb):
        delta[moving] = combined[:m]
        xd[:] = combined_xd
        return combined[m]
    return db


@njit(cache=True)
def _model(step, step_b, xd, moving, g, coef, lam1, lam2, D, gb):
    """The quadratic model's value at a step that differs from another only on ``moving`` and the
    intercept (the other coordinates' terms, equal for both, left out)."""
    value = gb * step_b
    for i in range(xd.shape[0]):
        value += 0.5 * D[i] * xd[i] * xd[i]
    for a in range(moving.shape[0]):
        j = moving[a]
        c = coef[j] + step[a]
        value += g[j] * step[a] + 0.5 * lam2[j] * step[a] * step[a] + lam1[j] * (abs(c) - abs(coef[j]))
    return value


@njit(cache=True)
def _line_search(z, y, w, coef, lam1, lam2, xd, delta, f, decrease):
    """Backtracking (Armijo) along the step; returns ``(t, F at t)``, t = 0 if none is accepted.

    The full step is also taken when F changes by no more than its rounding error: near the
    optimum F cannot tell a Newton step's gain from noise, and the caller then goes on only while
    the KKT violation falls."""
    t = 1.0
    for _ in range(40):
        f_new = 0.0
        for i in range(z.shape[0]):
            zi = z[i] + t * xd[i]
            f_new += w[i] * (_log1pexp(zi) - y[i] * zi)
        for j in range(coef.shape[0]):
            cj = coef[j] + t * delta[j]
            f_new += lam1[j] * abs(cj) + 0.5 * lam2[j] * cj * cj
        if f_new <= f + 0.01 * t * decrease:
            return t, f_new
        if t == 1.0 and abs(f_new - f) <= 64.0 * 2.220446049250313e-16 * max(abs(f), 1.0):
            return t, f_new
        t *= 0.5
    return 0.0, f


@njit(cache=True)
def prox_newton_cd(indptr, indices, data, y, w, lam1, lam2, coef, b, z, fit_intercept, tol, max_iter,
                   max_sweeps):
    """Minimise ``Σ wᵢ ℓ(yᵢ, zᵢ) + Σ λ₁|c| + ½λ₂c²`` from ``coef``, ``b`` (``z = Xc + b``, kept
    up to date; ``coef`` and ``z`` are changed in place). Returns ``(b, iterations, last KKT
    violation, sweeps, line search failed)``."""
    p, n = coef.shape[0], z.shape[0]
    D, g, h = np.empty(n), np.empty(p), np.empty(p)
    xd, delta = np.empty(n), np.empty(p)
    f = _penalised_value(z, y, w, coef, lam1, lam2)
    n_iter, total_sweeps, failed = 0, 0, False
    kkt, flat = np.inf, False
    inner_share = _INNER_SHARE
    while True:
        last_kkt = kkt
        gb, hb, kkt = _derivatives(indptr, indices, data, y, w, z, coef, lam1, lam2, D, g, h)
        if fit_intercept:
            kkt = max(kkt, abs(gb))
        if kkt <= tol or n_iter >= max_iter:
            break
        if flat and kkt >= last_kkt:  # F at its rounding floor and the KKT violation no longer falls
            failed = True
            break
        if kkt > _STALL_SHARE * last_kkt:  # the last model was solved too loosely to help: tighten
            inner_share = max(0.1 * inner_share, _MIN_INNER_SHARE)
        n_iter += 1
        inner_tol = max(0.1 * tol, inner_share * kkt)  # loose: outer steps are cheap, sweeps at p ~ n crawl
        db, sweeps = _model_step(indptr, indices, data, D, g, h, coef, lam1, lam2, gb, hb, fit_intercept,
                                 inner_tol, max_sweeps, xd, delta)
        total_sweeps += sweeps
        decrease = gb * db if fit_intercept else 0.0
        for j in range(p):
            decrease += g[j] * delta[j] + lam1[j] * (abs(coef[j] + delta[j]) - abs(coef[j]))
        t, f_new = _line_search(z, y, w, coef, lam1, lam2, xd, delta, f, decrease)
        if t == 0.0:
            failed = True
            break
        for i in range(n):
            z[i] += t * xd[i]
        for j in range(p):
            coef[j] += t * delta[j]
        b += t * db
        flat = not f_new < f  # rounding hides the change: go on only while the violation falls
        f = f_new
    return b, n_iter, kkt, total_sweeps, failed
