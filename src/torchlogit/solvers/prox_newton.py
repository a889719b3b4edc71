"""Proximal Newton for L1 and elastic-net penalties: the glmnet / glum approach.

Minimises ``F(W) + Σ λ₁ⱼ |W_kj|`` with F the smooth objective of :mod:`torchlogit.core.objective`
(mean loss plus the ridge part) and λ₁ the :class:`~torchlogit.core.penalties.L1Penalty`. Each outer
iteration

1. takes F, ∇F and the Hessian *on a working set* from one pass over the data: the non-zero
   coefficients, the unpenalised ones and those whose gradient violates the KKT conditions
   (``|∂F/∂W_i| > λ₁ᵢ``); every other coefficient is zero and stays so this iteration. With ~10 %
   of the features active the Hessian block costs ~1 % of the full one;
2. minimises the L1-penalised quadratic model ``∇Fᵀδ + ½δᵀHδ + Σλ₁|W + δ|`` over the working set
   by cyclic coordinate descent with an active set (numpy, on the small ``|A| × |A|`` matrix);
3. backtracks along the step until the full objective decreases enough (Armijo, with the model
   decrease of Lee, Sun & Saunders). The trial point's evaluation is the next iteration's pass.

The Hessian only shapes the step, so when its block is costly (big data, many active columns) it
is reused while the steps it gives converge fast enough that the passes still needed cost less
than a new block: most passes then cost F and ∇F only. The stopping rule is on the exact
gradient, so the optimum is the same.

Stopping rule (what ``tol`` means): the minimum-norm subgradient, i.e. the KKT violation
``|∂F/∂W_i + λ₁ᵢ sign(W_i)|`` for non-zero and ``max(|∂F/∂W_i| − λ₁ᵢ, 0)`` for zero coefficients,
is at most ``tol`` everywhere. Without an L1 term this is ``max |∇F|``, as for Newton.

The multinomial model's unpenalised columns (the intercept) are free along shifts shared by
all classes; coordinate descent copes with the singular Hessian, and the result is centred
(Σ_k W_kj = 0 on those columns), as scikit-learn's solvers end.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch
from torch import Tensor

from torchlogit.core.objective import Objective
from torchlogit.core.penalties import L1Penalty
from torchlogit.solvers._linesearch import LINE_SEARCH_FAILED, Trial, backtrack, within_rounding
from torchlogit.solvers._result import SolverResult, StoppingRule, Trace

# Coordinate descent sweeps per model, at most: an inexact model minimiser is still a descent
# direction (the line search takes care of the rest), and on nearly collinear features the
# sweeps would otherwise crawl.
_MAX_SWEEPS = 200
# a zero coefficient whose model gradient is within this fraction of λ₁ is kept in the next
# Hessian block: cheaper than the full working set, and rarely misses (a miss costs one pass)
_GUESS_MARGIN = 0.8
_MIN_ENTRANTS = 32  # KKT violators let into a working set at once, at least
_ORTHANT_SWEEPS = 50  # an exact solve on the support may cost this many sweeps, at most
_COSTLY_HESSIAN = 1 << 28  # multiply-adds of a Hessian block (rows × columns²)
# A costly block is formed from about this many rows per coefficient, at least _HESSIAN_MIN_ROWS
# (evenly spaced blocks of rows, Objective.hessian_stride_for): its relative error is then about
# √(1/200) ≈ 7 %, which the steps' linear rate follows, at a fraction of the Gram's cost. On the
# 20-C path of benchmarks/bench_l1.py (200,000 × 500) every row's blocks took 8.5 s of 20.8 s;
# sampled ones 3.1 s, for 12 more passes of the 131 (2026-12-02, AMD EPYC 2-core).
_HESSIAN_ROWS_PER_COEF = 200
_HESSIAN_MIN_ROWS = 1 << 16
# a step on a sampled block that is damped or shrinks the KKT violation less than this: every row
_SAMPLED_MAX_SHRINK = 0.5


def prox_newton(
    objective: Objective, coef0: Tensor, *, l1: L1Penalty | None = None, tol: float = 1e-8,
    max_iter: int = 100, working_set: Tensor | None = None,
    callback: Callable[[int, float, float], None] | None = None, warm: WarmStart | None = None,
) -> SolverResult:
    """Minimise ``objective + l1`` from ``coef0`` with proximal Newton steps.

    Parameters
    ----------
    objective : Objective
        The smooth part (loss and ridge term), evaluated as sums over data chunks.
    coef0 : Tensor, starting coefficients (shape ``objective.coef_shape``)
    l1 : L1Penalty or None
        The lasso term; ``None`` makes this a Newton method with an exact line search criterion.
    tol : stop when the largest KKT violation (minimum-norm subgradient) is ``<= tol``
    max_iter : most outer (Newton) iterations
    working_set : bool Tensor of ``coef``'s shape, optional
        A guess of the coefficients that will be active (e.g. a strong-rule screen along a path);
        the first Hessian block covers it, saving a pass when the guess is right.
    callback : called as ``callback(iteration, objective, kkt_violation)`` after each iteration; its
        iterate hook (:class:`~torchlogit.solvers._result.SolverCallbacks`), if any, too, and may
        stop the solve there
    warm : :class:`WarmStart`, optional
        What an earlier solve on the same data knows: its last Hessian block, and F and ∇F at
        ``coef0`` when a pass computed them.

    Returns
    -------
    SolverResult
        ``objective`` is the full penalised objective; ``grad_max`` the final KKT violation.

    Examples
    --------
    >>> result = prox_newton(objective, objective.zeros(), l1=L1Penalty(strength))  # doctest: +SKIP
    """
    passes_before = objective.n_passes
    lam = _l1_strengths(objective, l1)
    problem = _Problem(objective=objective, l1=l1, lam=lam, free=lam == 0,
                       rule=StoppingRule(tol, max_iter, "KKT violation", "proximal Newton steps"))
    warm = warm if warm is not None else WarmStart()
    state = _start(problem, coef0.clone(), working_set, warm.hessian, warm.value_grad)
    trace = Trace(callback)
    trace.start(state.f, state.kkt)
    while not problem.rule.should_stop(state.kkt, state.n_iter, state.stall):
        if _step(problem, state):
            trace.record(state.n_iter, state.f, state.kkt,
                         lambda: _centre_free_columns(objective, state.coef, problem.free))
            state.stall = state.stall or trace.stopped
    converged, message = problem.rule.outcome(state.kkt, state.f, state.coef.dtype, state.n_iter, state.stall)
    return SolverResult(
        coef=_centre_free_columns(objective, state.coef, problem.free), n_iter=state.n_iter,
        converged=converged, grad_max=state.kkt, objective=state.f,
        n_passes=objective.n_passes - passes_before, history=trace.history, message=message,
        grad=state.grad, hessian=(state.index, state.H),
    )


@dataclass(frozen=True)
class WarmStart:
    """What an earlier solve on the same data hands :func:`prox_newton`.

    Attributes
    ----------
    hessian : ``(index, H)``, a Hessian block (``SolverResult.hessian``, e.g. at the previous C of a
        path), used as a stale Hessian for the first step when it covers the working set: that
        saves forming one.
    value_grad : ``(F, ∇F)`` of the objective at the starting point, when a pass computed them (a
        working-set solver's certificate): the first block then covers the KKT violators at once,
        and with a ``hessian`` that covers them too the start costs no pass.
    """

    hessian: tuple[np.ndarray, np.ndarray] | None = None
    value_grad: tuple[float, Tensor] | None = None


@dataclass(frozen=True)
class _Problem:
    """What stays fixed during a solve: the smooth part, the L1 term and the stopping rule."""

    objective: Objective
    l1: L1Penalty | None
    lam: np.ndarray  # λ₁ for every entry of coef.ravel() (float64)
    free: np.ndarray  # the unpenalised entries (λ₁ = 0)
    rule: StoppingRule


@dataclass
class _ProxState:
    """What proximal Newton carries from one iteration to the next."""

    coef: Tensor
    f: float  # the full objective F + L1
    grad: Tensor  # ∇F, the smooth part's gradient
    kkt: float  # the largest KKT violation
    index: np.ndarray  # the Hessian block's entries (flat indices into coef.ravel())
    H: np.ndarray  # the Hessian block over ``index``
    fresh: bool  # H was formed at ``coef`` (else at an earlier iterate, and reused)
    refresh: bool = False  # form a new block before the next step: the reused one misled
    want_hess: bool = False  # trial points get a Hessian block in the same pass
    sampled: bool = True  # costly blocks come from a sample of the rows (until a step disappoints)
    n_iter: int = 0
    stall: str | None = None  # why no step was possible, once none was


@dataclass(frozen=True)
class _ModelStep:
    """The minimiser ``v`` of the L1-penalised quadratic model over the block, as a direction."""

    v: np.ndarray
    model_grad: np.ndarray  # the smooth model's gradient at v
    direction: Tensor  # v − w over the block, zero elsewhere (shape of coef)
    decrease: float  # the model's decrease for the full step (negative for a descent step)


def _start(
    problem: _Problem, coef: Tensor, working_set: Tensor | None, hessian: tuple | None,
    start: tuple[float, Tensor] | None,
) -> _ProxState:
    """F, ∇F and a first Hessian block at the starting point (one pass, none when ``start`` gives
    F and ∇F and ``hessian`` covers the block). The block covers the non-zero and unpenalised
    coefficients and the ``working_set`` guess, and with ``start`` the KKT violators too; an
    earlier solve's ``hessian`` that covers them is reused instead, saving its cost."""
    objective = problem.objective
    guess = (coef.reshape(-1) != 0).cpu().numpy() | problem.free
    if working_set is not None:
        guess |= working_set.reshape(-1).cpu().numpy().astype(bool)
    if start is not None:
        guess = _working_set(_numpy(coef).reshape(-1), _numpy(start[1]).reshape(-1), problem.lam, guess)
    if hessian is not None and np.all(np.isin(np.flatnonzero(guess), hessian[0])):
        index, H = hessian
        f_smooth, grad = start if start is not None else objective.value_grad(coef)
        fresh = False
    else:
        index = np.flatnonzero(guess)
        f_smooth, grad, H = _block(objective, coef, index, sampled=True)
        fresh = True
    return _ProxState(coef=coef, f=f_smooth + _l1_value(problem.l1, coef), grad=grad,
                      kkt=_kkt(problem.l1, coef, grad), index=index, H=H, fresh=fresh)


def _step(problem: _Problem, state: _ProxState) -> bool:
    """One proximal Newton iteration; whether it moved (else it asked for a fresh block, or stalled)."""
    w, g = _numpy(state.coef).reshape(-1), _numpy(state.grad).reshape(-1)
    # 1. a new Hessian block when the working set leaves the current one, or that one is stale
    _cover(problem, state, _working_set(w, g, problem.lam, problem.free))
    # 2. the step minimising the L1-penalised quadratic model over the block
    model = _model_step(problem, state, w, g)
    if not (model.decrease < 0 or _flat_model_step(model, state, problem.objective.n_rows)):
        _retry_or_stall(state, "the quadratic model allows no further decrease (rounding level reached)")
        return False
    # 3. the next block: where the model says coefficients will be non-zero or near it
    _narrow_block(problem, state, model)
    # 4. backtracking along the step, each trial one pass
    trial = backtrack(state.coef, model.direction, state.f, min(model.decrease, 0.0), state.kkt,
                      lambda point, _step_length: _evaluate(problem, state, point),
                      n_terms=problem.objective.n_rows)
    if trial is None:
        _retry_or_stall(state, LINE_SEARCH_FAILED)
        return False
    # 5. move there, and decide whether the next step reuses this block
    _accept(problem, state, trial)
    return True


def _block(
    objective: Objective, point: Tensor, index: np.ndarray, sampled: bool = False,
) -> tuple[float, Tensor, np.ndarray]:
    """F, ∇F and the Hessian block over ``index`` at ``point`` (one pass), H as numpy; with
    ``sampled``, a costly block is formed from evenly spaced blocks of rows only
    (:func:`_hessian_stride`)."""
    stride = _hessian_stride(objective, index.size) if sampled else 1
    f_smooth, grad, hess = objective.value_grad_hess(point, _to_index(index, point), hessian_stride=stride)
    return f_smooth, grad, _numpy(hess)


def _cover(problem: _Problem, state: _ProxState, active: np.ndarray) -> None:
    """Form the block over ``active`` (one pass) if ``state.index`` misses some of it or must be refreshed."""
    covered = np.zeros_like(active)
    covered[state.index] = True
    if state.refresh or not np.all(covered[active]):
        state.index = np.flatnonzero(active)
        _, state.grad, state.H = _block(problem.objective, state.coef, state.index, state.sampled)
        state.fresh, state.refresh = True, False


def _model_step(problem: _Problem, state: _ProxState, w: np.ndarray, g: np.ndarray) -> _ModelStep:
    """Minimise the model ``gᵀδ + ½δᵀHδ + Σλ₁|w + δ|`` over the block, to a tolerance that tightens
    as the KKT violation falls."""
    index, lam = state.index, problem.lam
    inner_tol = max(0.1 * problem.rule.tol, min(0.1 * state.kkt, state.kkt * state.kkt))
    with _one_blas_thread():  # small matrices: a second BLAS thread only waits
        v, model_grad = _cd_quadratic(state.H, g[index], w[index], lam[index], inner_tol)
    step_flat = np.zeros_like(w)
    step_flat[index] = v - w[index]
    direction = torch.as_tensor(step_flat, dtype=state.coef.dtype, device=state.coef.device)
    # the model's decrease, summed elementwise: no cancellation between two large L1 sums
    decrease = float(np.sum(g * step_flat + lam * (np.abs(w + step_flat) - np.abs(w))))
    return _ModelStep(v=v, model_grad=model_grad, direction=direction.reshape(problem.objective.coef_shape),
                      decrease=decrease)


def _flat_model_step(model: _ModelStep, state: _ProxState, n_rows: int) -> bool:
    """Whether a step whose model decrease is not negative is still worth trying: it moves, and
    its decrease is within F's rounding, where the KKT violation, not F, tells whether it helps
    (the line search accepts such a step only if it lowers the KKT violation). Near the optimum
    the model's decrease is about KKT², below F's rounding long before the KKT violation is."""
    return bool(model.direction.any()) and within_rounding(model.decrease, state.f, state.coef.dtype, n_rows)


def _retry_or_stall(state: _ProxState, why: str) -> None:
    """A step that failed on a reused block is retried with a fresh one; on a fresh one the solver stalls."""
    if state.fresh:
        state.stall = why
    else:
        state.refresh = True


def _narrow_block(problem: _Problem, state: _ProxState, model: _ModelStep) -> None:
    """Keep the block's entries that are non-zero, unpenalised or within ``_GUESS_MARGIN`` of
    entering at ``v``: trial points' Hessian blocks (and the next step's) are formed over those."""
    index, lam = state.index, problem.lam
    keep = (model.v != 0) | problem.free[index] | (np.abs(model.model_grad) >= _GUESS_MARGIN * lam[index])
    state.index, state.H = index[keep], state.H[np.ix_(keep, keep)]


def _evaluate(problem: _Problem, state: _ProxState, point: Tensor) -> tuple[float, float, tuple]:
    """F + L1, the KKT violation and ``(∇F, Hessian block or None)`` at a trial point (one pass)."""
    if state.want_hess:
        f_smooth, grad, hess = _block(problem.objective, point, state.index, state.sampled)
    else:
        (f_smooth, grad), hess = problem.objective.value_grad(point), None
    return f_smooth + _l1_value(problem.l1, point), _kkt(problem.l1, point, grad), (grad, hess)


def _accept(problem: _Problem, state: _ProxState, trial: Trial) -> None:
    """Move to the accepted point. A costly Hessian block is kept while the steps it gives
    converge fast enough that the passes still needed cost less than forming a new one (cheap
    blocks: always fresh, formed in the trial points' passes)."""
    grad, hess_new = trial.evaluation
    objective, n_block = problem.objective, state.index.size
    state.n_iter += 1
    costly = _costly(objective, n_block)
    if costly and state.sampled and _sample_disappointed(objective, n_block, trial, state.kkt):
        state.sampled = False  # a rare feature, say, missed by the sample: every row from now on
        keep = False
    else:
        keep = costly and _worth_keeping(objective, n_block, state.kkt, trial.progress, problem.rule.tol)
    if hess_new is not None:
        state.H, state.fresh = hess_new, True
    else:
        state.fresh, state.refresh = False, not keep
    state.want_hess = not costly
    state.coef, state.f, state.grad, state.kkt = trial.point, trial.f, grad, trial.progress


def _l1_strengths(objective: Objective, l1: L1Penalty | None) -> np.ndarray:
    """λ₁ for every entry of ``coef.ravel()`` (float64 numpy)."""
    n_outputs, n_cols = objective.coef_shape
    if l1 is None:
        return np.zeros(n_outputs * n_cols)
    return np.tile(l1.strength.detach().cpu().numpy().astype(np.float64), n_outputs)


@functools.lru_cache(maxsize=1)
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_blas_thread():
    return _blas_controller().limit(limits=1, user_api="blas")


def _numpy(t: Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float64)


def _costly(objective: Objective, n_block: int) -> bool:
    """Whether a Hessian block costs enough (``_COSTLY_HESSIAN`` multiply-adds) that reusing one
    beats forming it afresh."""
    return objective.n_rows * n_block * n_block >= _COSTLY_HESSIAN


def _hessian_stride(objective: Objective, n_block: int) -> int:
    """The ``hessian_stride`` of a block of ``n_block`` coefficients: for a costly block, rows
    enough for about ``_HESSIAN_ROWS_PER_COEF`` per coefficient (at least ``_HESSIAN_MIN_ROWS``),
    else every row. The block only shapes the steps: F, ∇F and the KKT test use every row."""
    if not _costly(objective, n_block):
        return 1
    return objective.hessian_stride_for(max(_HESSIAN_MIN_ROWS, _HESSIAN_ROWS_PER_COEF * n_block))


def _sample_disappointed(objective: Objective, n_block: int, trial: Trial, kkt: float) -> bool:
    """Whether a step on a sampled block (one was, when its stride exceeds 1) was damped or shrank
    the KKT violation less than ``_SAMPLED_MAX_SHRINK``-fold: then blocks use every row."""
    if _hessian_stride(objective, n_block) == 1:
        return False
    return trial.step < 1.0 or trial.progress > _SAMPLED_MAX_SHRINK * kkt


def _working_set(w: np.ndarray, g: np.ndarray, lam: np.ndarray, free: np.ndarray) -> np.ndarray:
    """The coefficients a step may move: non-zero, unpenalised, and the KKT violators at zero, at
    most ``max(2·(non-zero), _MIN_ENTRANTS)`` of those (the worst first). Starting from zero with a
    weak penalty, hundreds may violate while a few dozen end non-zero; letting them in gradually
    keeps the Hessian blocks small, and the next iteration checks every violator again."""
    keep = (w != 0) | free
    violation = np.abs(g) - lam
    violators = ~keep & (violation > 0)
    cap = max(2 * int(keep.sum()), _MIN_ENTRANTS)
    if violators.sum() > cap:
        candidates = np.flatnonzero(violators)
        violators = np.zeros_like(violators)
        violators[candidates[np.argpartition(-violation[candidates], cap - 1)[:cap]]] = True
    return keep | violators


def _worth_keeping(objective: Objective, n_block: int, kkt: float, kkt_new: float, tol: float) -> bool:
    """Whether to keep a Hessian block that took the KKT violation from ``kkt`` to ``kkt_new``:
    yes if, at that rate, the remaining steps (one pass each, ~4 multiply-adds per coefficient
    and row) cost less than a new block (``n_block²`` per row) and the two Newton steps after it."""
    if kkt_new <= tol:
        return True
    ratio = kkt_new / kkt
    if not ratio < 1:
        return False
    steps = np.log(tol / kkt_new) / np.log(ratio)
    pass_work = 4.0 * objective.coef_shape[0] * objective.coef_shape[1]
    return steps * pass_work <= n_block * n_block + 2 * pass_work


def _to_index(index: np.ndarray, like: Tensor) -> Tensor:
    return torch.as_tensor(index, dtype=torch.int64, device=like.device)


def _l1_value(l1: L1Penalty | None, coef: Tensor) -> float:
    return 0.0 if l1 is None else float(l1.value(coef))


def _kkt(l1: L1Penalty | None, coef: Tensor, grad: Tensor) -> float:
    sub = grad if l1 is None else l1.min_norm_subgradient(coef, grad)
    return float(sub.abs().max()) if sub.numel() else 0.0  # an empty working set is optimal


def _cd_quadratic(
    H: np.ndarray, g: np.ndarray, w: np.ndarray, lam: np.ndarray, tol: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``argmin_v gᵀ(v − w) + ½(v − w)ᵀH(v − w) + Σ lamᵢ|vᵢ|`` by cyclic coordinate descent.

    Returns the minimiser and the smooth model's gradient there, ``g + H(v − w)``.

    Active-set strategy: one sweep over every coordinate, then sweeps over the non-zero ones
    until they settle, then a full sweep again; done when a full sweep changes no coordinate's
    gradient by more than ``tol`` (``Hᵢᵢ·|Δvᵢ| <= tol``). ``rho = Hw − g − Hv`` is kept up to date.
    Coordinate descent identifies the support quickly but can crawl on correlated features, so
    every few sweeps the model is also solved exactly on the current support and signs
    (:func:`_solve_on_support`); that answer is taken as it satisfies the KKT conditions.
    """
    v = w.copy()
    rho = -g.copy()
    diag = H.diagonal().copy()
    everything = np.arange(len(w))
    coords = everything
    full = True
    last_signs = tried = np.zeros(0)
    for sweep in range(1, _MAX_SWEEPS + 1):
        if _sweep(H, diag, lam, coords, v, rho) <= tol:
            if full:
                break
            coords, full = everything, True
            continue
        if full:
            coords = np.flatnonzero((v != 0) | (lam == 0))
            full = False
        signs = np.sign(v)
        if (sweep >= 2 and np.array_equal(signs, last_signs) and not np.array_equal(signs, tried)
                and _orthant_affordable(np.count_nonzero(signs), len(w))):
            tried = signs  # support and signs settled for a sweep: try them once
            done, v = _orthant_step(H, g, w, lam, v)
            if done:
                return v, g + H @ (v - w)
            rho = -g - H @ (v - w)
            signs = np.sign(v)
        last_signs = signs
    return v, -rho


def _orthant_affordable(support: int, block: int) -> bool:
    """Whether the exact solve on a support (a Cholesky factorisation, ``support³/3`` multiply-adds)
    costs at most ``_ORTHANT_SWEEPS`` coordinate descent sweeps over the block (``block²`` each).
    On wide sparse data the support can hold thousands of weakly correlated columns: sweeps then
    converge well, and a factorisation per try would cost more than the whole solve."""
    return support**3 <= 3 * _ORTHANT_SWEEPS * block * block


def _sweep(
    H: np.ndarray, diag: np.ndarray, lam: np.ndarray, coords: np.ndarray, v: np.ndarray, rho: np.ndarray,
) -> float:
    """One coordinate descent sweep over ``coords``, updating ``v`` and ``rho`` in place; returns the
    largest change of a coordinate's gradient, ``Hᵢᵢ·|Δvᵢ|``."""
    largest = 0.0
    rows = H  # symmetric: row i is column i
    for i in coords.tolist():
        hii = diag[i]
        if hii <= 0.0:
            continue
        vi = v[i]
        z = rho[i] + hii * vi
        li = lam[i]
        if z > li:
            new = (z - li) / hii
        elif z < -li:
            new = (z + li) / hii
        else:
            new = 0.0
        if new != vi:
            delta = new - vi
            rho -= delta * rows[i]
            v[i] = new
            largest = max(largest, abs(delta) * hii)
    return largest


def _solve_symmetric(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``A⁻¹b`` by Cholesky for a positive definite A, else a least-squares solution.

    Raises
    ------
    ValueError
        If A or b is not finite, or the least-squares solve fails (never numpy's LinAlgError).
    """
    if not (np.isfinite(A).all() and np.isfinite(b).all()):
        raise ValueError("proximal Newton's Hessian block is not finite: the features are too large for "
                         "the dtype; rescale them, e.g. standardise the features")
    try:
        factor = scipy.linalg.cho_factor(A, check_finite=False)
    except np.linalg.LinAlgError:
        try:
            return np.linalg.lstsq(A, b, rcond=None)[0]
        except np.linalg.LinAlgError as exc:
            raise ValueError(f"proximal Newton could not solve on the support ({exc}); the features are too "
                             "badly scaled: standardise them") from exc
    return scipy.linalg.cho_solve(factor, b, check_finite=False)


def _model(H: np.ndarray, g: np.ndarray, w: np.ndarray, lam: np.ndarray, v: np.ndarray) -> float:
    step = v - w
    return float(g @ step + 0.5 * step @ (H @ step) + lam @ np.abs(v))


def _orthant_step(
    H: np.ndarray, g: np.ndarray, w: np.ndarray, lam: np.ndarray, v: np.ndarray,
) -> tuple[bool, np.ndarray]:
    """Jump to the model's minimiser within the orthant of ``v`` (feature-sign search, Lee et al. 2007).

    On the support S with signs s the model is a smooth quadratic, stationary where
    ``H_SS u_S = (Hw − g)_S − λ_S s_S`` (solved by least squares: H_SS can be singular, e.g. the
    multinomial model's free intercept direction). Returns ``(True, u)`` when u keeps the signs and
    satisfies the KKT conditions off S (it is then the exact minimiser); otherwise ``(False, v')``
    with v' the furthest point towards u that keeps the signs (one coefficient lands on zero), if
    that lowers the model, else v unchanged. When the system has no solution the model decreases
    without bound inside the orthant along the least-squares residual, and v' follows it instead.
    """
    support = (v != 0) | (lam == 0)
    S = np.flatnonzero(support)
    if S.size == 0:
        return False, v
    sign = np.sign(v[S])
    rhs = H[S] @ w - g[S] - lam[S] * sign
    H_SS = H[np.ix_(S, S)]
    u_S = _solve_symmetric(H_SS, rhs)
    penalised = lam[S] > 0
    residual = rhs - H_SS @ u_S
    if np.abs(residual).max() > 1e-9 * (np.abs(rhs).max() + 1e-300):
        # no stationary point in this orthant: the model falls linearly along the residual (a null
        # direction of H_SS, e.g. one column shifted in every class) until a coefficient hits zero
        shrinking = penalised & (np.sign(residual) == -sign)
        if not shrinking.any():
            return False, v
        t = np.abs(v[S][shrinking] / residual[shrinking])
        first = int(np.argmin(t))
        candidate = v.copy()
        candidate[S] += float(t[first]) * residual
        candidate[S[np.flatnonzero(shrinking)[first]]] = 0.0
        if _model(H, g, w, lam, candidate) < _model(H, g, w, lam, v):
            return False, candidate
        return False, v
    u = np.zeros_like(v)
    u[S] = u_S
    crossing = penalised & (np.sign(u_S) != sign)
    if not crossing.any():
        model_grad = g + H @ (u - w)
        off = ~support
        slack = 1e-12 * (np.abs(lam[off]) + np.abs(g[off])) + 1e-15
        if not np.any(np.abs(model_grad[off]) > lam[off] + slack):
            return True, u
        candidate = u
    else:
        # the first coefficient to reach zero on the way from v to u stops the step there
        t = v[S][crossing] / (v[S][crossing] - u_S[crossing])
        first = int(np.argmin(t))
        candidate = v + float(t[first]) * (u - v)
        candidate[S[np.flatnonzero(crossing)[first]]] = 0.0
    if _model(H, g, w, lam, candidate) < _model(H, g, w, lam, v):
        return False, candidate
    return False, v


def _centre_free_columns(objective: Objective, coef: Tensor, free: np.ndarray) -> Tensor:
    """Multinomial: shift unpenalised columns to sum to zero over classes (F is unchanged)."""
    n_outputs, n_cols = objective.coef_shape
    if n_outputs == 1:
        return coef
    l2_free = np.ones(n_cols, dtype=bool) if objective.l2 is None \
        else (objective.l2.strength == 0).cpu().numpy()
    cols = np.flatnonzero(free[:n_cols] & l2_free)
    if cols.size == 0:
        return coef
    coef = coef.clone()
    idx = torch.as_tensor(cols, device=coef.device)
    coef[:, idx] -= coef[:, idx].mean(dim=0, keepdim=True)
    return coef
