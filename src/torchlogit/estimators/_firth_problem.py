"""The penalised likelihood of one binary data set and its (constrained) maximisation.

``ℓ*(β) = ℓ(β) + τ log det I(β)`` with ``I(β) = X̃ᵀ diag(sᵢpᵢ(1 − pᵢ)) X̃``: Firth's (Jeffreys)
penalty for ``τ = ½``, plain maximum likelihood for ``τ = 0`` (FLAC's fit on augmented data).
Its score is ``U*(β) = X̃ᵀ(s(y − p) + 2τ h(½ − p))`` with ``h`` the diagonal of the weighted hat
matrix. One evaluation costs two ``n × p²`` products (the information and the hat values, from one
Cholesky factor), so the maximiser takes Fisher-scoring steps ``I⁻¹U*`` with that factor, and
switches to exact Newton steps (the Hessian of ℓ* in closed form, ``n p³``) only once scoring
contracts slowly, as it does far out in profiles of separated data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from torchlogit.core.objective import columns_too_large

_F64 = torch.float64
_BLOCK_ROWS = 4096
# a scoring step that leaves more than this share of max |U*| calls for exact Newton steps
_SLOW_CONTRACTION = 0.25


def _absmax(t: torch.Tensor) -> float:
    return float(t.abs().max()) if t.numel() else 0.0


@dataclass(frozen=True)
class FirthSettings:
    """The stopping rules and step controls of every penalised fit (see ``FirthLogisticRegression``)."""

    max_iter: int = 500
    max_step: float = 5.0
    max_halfstep: int = 25
    tol: float = 1e-10


@dataclass(frozen=True)
class FirthPoint:
    """ℓ* and what one evaluation leaves behind at ``beta``, reused by the next step.

    ``chol`` is the Cholesky factor of ``info`` (None where ``I`` is singular, then ``pen`` is
    ``-inf``); ``score`` is None when it was not asked for.
    """

    beta: torch.Tensor
    pen: float
    loglik: float
    score: torch.Tensor | None
    info: torch.Tensor
    chol: torch.Tensor | None
    hat: torch.Tensor | None = None

    def covariance_column(self, j: int) -> torch.Tensor:
        """Column ``j`` of ``I⁻¹`` from the stored factor (the profile's tangent is ``col / col[j]``)."""
        if self.chol is None:
            raise ValueError("the Fisher information is singular at this point")
        unit = self.info.new_zeros(self.info.shape[0], 1)
        unit[j] = 1.0
        return torch.cholesky_solve(unit, self.chol)[:, 0]


@dataclass(frozen=True)
class FitResult:
    """A constrained maximum: the last point, iterations used, and whether a stopping rule held."""

    point: FirthPoint
    n_iter: int
    converged: bool


class FirthProblem:
    """Penalised likelihood of one binary data set: evaluation and (constrained) maximisation.

    Parameters
    ----------
    X : (n, d) array; y : (n,) 0/1; sample_weight : (n,) frequency weights
    fit_intercept : bool (the intercept is the last coefficient internally)
    device : where the (float64) data and every evaluation live
    settings : iteration limits, step caps and the tolerance (default: ``FirthSettings()``)
    feature_names : the columns' names for error messages (default ``x1..xd``)
    penalty : τ, the weight of ``log det I``: ½ for Firth, 0 for maximum likelihood
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray, *, fit_intercept: bool,
                 device: torch.device, settings: FirthSettings | None = None,
                 feature_names: Sequence[str] | None = None, penalty: float = 0.5):
        settings = FirthSettings() if settings is None else settings
        self.feature_names = None if feature_names is None else list(feature_names)
        Xt = torch.tensor(np.asarray(X, dtype=np.float64), device=device)  # a copy: X may be read-only
        if fit_intercept:
            Xt = torch.cat([Xt, Xt.new_ones(Xt.shape[0], 1)], dim=1)
        self.X = Xt
        self.y = torch.as_tensor(np.asarray(y, dtype=np.float64), device=device)
        self.w = torch.as_tensor(np.asarray(sample_weight, dtype=np.float64), device=device)
        self.n_params = Xt.shape[1]
        self.fit_intercept = fit_intercept
        self.penalty = float(penalty)
        self.settings = settings
        # stop when max |U*| <= tol · Σ sᵢ (the score is a sum over rows) or the step is negligible
        self.score_tol = settings.tol * max(1.0, float(self.w.sum()))
        self.work = Xt.shape[0] * self.n_params**2  # multiply-adds of one information matrix

    def evaluate(self, beta: torch.Tensor, need_score: bool = True) -> FirthPoint:
        """ℓ*, ℓ, U*, I and I's Cholesky factor at ``beta``; ℓ* is ``-inf`` where ``I`` is singular."""
        X, y, w = self.X, self.y, self.w
        eta = X @ beta
        p = torch.sigmoid(eta)
        v = w * p * (1 - p)
        info = X.T @ (X * v[:, None])
        loglik = float(-torch.dot(w, (1 - y) * eta - torch.nn.functional.logsigmoid(eta)))
        chol, bad = torch.linalg.cholesky_ex(info)
        if int(bad) != 0:
            return FirthPoint(beta, -math.inf, loglik, None, info, None)
        penalised = loglik + 2 * self.penalty * float(torch.log(torch.diagonal(chol)).sum())
        if not need_score:
            return FirthPoint(beta, penalised, loglik, None, info, chol)
        residual = w * (y - p)
        hat = None
        if self.penalty != 0:
            Z = torch.linalg.solve_triangular(chol, X.T, upper=False)  # L⁻¹ X̃ᵀ, so h = v · ‖col‖²
            hat = v * (Z * Z).sum(0)
            residual = residual + 2 * self.penalty * hat * (0.5 - p)
        return FirthPoint(beta, penalised, loglik, X.T @ residual, info, chol, hat)

    def hessian(self, beta: torch.Tensor, info: torch.Tensor) -> torch.Tensor:
        """Exact Hessian of ℓ*: ``−I + 2τ(½ X̃ᵀdiag(v″q)X̃ − ½ [tr(I⁻¹ ∂_a I I⁻¹ ∂_b I)]_ab)``.

        With ``v = s p(1−p)``, ``v′ = v(1−2p)``, ``v″ = v(1−6p+6p²)``, ``q_i = x̃ᵢᵀI⁻¹x̃ᵢ`` and
        ``∂_a I = X̃ᵀ diag(v′ x̃_a) X̃``. The trace term is ``X̃ᵀ diag(v′) (Q∘Q) diag(v′) X̃`` with
        ``Q = X̃ I⁻¹ X̃ᵀ``: ``2n²p`` multiply-adds that way, ``np³`` through the ``∂_a I``; the
        cheaper is taken (Q for n < p²/2, e.g. n = 1000 rows and p = 51).
        """
        if self.penalty == 0:
            return -info
        X, w = self.X, self.w
        p = torch.sigmoid(X @ beta)
        v = w * p * (1 - p)
        chol, bad = torch.linalg.cholesky_ex(info)
        if int(bad) != 0:
            raise ValueError("Firth's fit: the Fisher information became singular; the design is (nearly) "
                             "rank deficient or too badly scaled: standardise the features")
        n, k = X.shape
        if 2 * n < k * k:
            Z = torch.linalg.solve_triangular(chol, X.T, upper=False)  # Q = ZᵀZ
            Q = Z.T @ Z
            scaled = X * (v * (1 - 2 * p))[:, None]
            q, trace_term = Q.diagonal(), scaled.T @ ((Q * Q) @ scaled)
        else:
            q, trace_term = self._trace_term_by_derivatives(chol, v * (1 - 2 * p))
        penalty_part = 0.5 * X.T @ (X * (v * (1 - 6 * p + 6 * p * p) * q)[:, None]) - 0.5 * trace_term
        return -info + 2 * self.penalty * penalty_part

    def _trace_term_by_derivatives(self, chol: torch.Tensor, v1: torch.Tensor,
                                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """``q`` and ``[tr(I⁻¹ ∂_a I I⁻¹ ∂_b I)]_ab`` from the ``∂_a I = X̃ᵀ diag(v′ x̃_a) X̃`` (``v1`` = v′)."""
        X = self.X
        inv = torch.cholesky_inverse(chol)
        q = ((X @ inv) * X).sum(1)
        k = X.shape[1]
        d_info = X.new_zeros(k, k, k)
        for start in range(0, X.shape[0], _BLOCK_ROWS):
            Xb = X[start : start + _BLOCK_ROWS]
            outer = (Xb[:, :, None] * Xb[:, None, :]).reshape(len(Xb), k * k)
            d_info += ((Xb * v1[start : start + _BLOCK_ROWS, None]).T @ outer).reshape(k, k, k)
        B = inv @ d_info  # B_a = I⁻¹ ∂_a I
        return q, torch.einsum("acd,bdc->ab", B, B)

    def _direction(self, point: FirthPoint, free: torch.Tensor, newton: bool) -> torch.Tensor:
        """Newton step on the free coordinates where asked and −∇²ℓ* is positive definite, else scoring."""
        rhs = point.score[free][:, None]
        if newton:
            neg_hess = -self.hessian(point.beta, point.info)[free][:, free]
            chol, bad = torch.linalg.cholesky_ex(neg_hess)
            if int(bad) == 0:
                return torch.cholesky_solve(rhs, chol)[:, 0]
        if bool(free.all()):
            return torch.cholesky_solve(rhs, point.chol)[:, 0]
        chol, bad = torch.linalg.cholesky_ex(point.info[free][:, free])
        if int(bad) != 0:
            raise ValueError("Firth's fit could not solve for its step; the design is (nearly) rank "
                             "deficient or too badly scaled: standardise the features")
        return torch.cholesky_solve(rhs, chol)[:, 0]

    def _start(self, beta0: torch.Tensor) -> FirthPoint:
        point = self.evaluate(beta0.clone())
        if not math.isfinite(point.pen):
            self._check_scale(point.info)
            raise ValueError("the Fisher information is singular: the columns of X (with the intercept) are "
                             "linearly dependent, or there are fewer rows than coefficients; Firth's "
                             "penalty log det I(β) needs a full-rank design")
        return point

    def _ascend(self, point: FirthPoint, step: torch.Tensor, free: torch.Tensor) -> FirthPoint | None:
        """The first of ``step, step/2, …`` (capped at ``max_step``) that does not lower ℓ*; None if none."""
        biggest = _absmax(step)
        if biggest > self.settings.max_step:
            step = step * (self.settings.max_step / biggest)
        rounding = 1e-14 * max(1.0, abs(point.pen))  # ℓ* is a sum: changes below this are rounding
        for _ in range(self.settings.max_halfstep + 1):
            trial = point.beta.clone()
            trial[free] += step
            new = self.evaluate(trial)
            if new.pen >= point.pen - rounding:
                return new
            step = step / 2
        return None

    def fit(self, beta0: torch.Tensor, free: torch.Tensor | None = None,
            until: Callable[[FirthPoint], bool] | None = None) -> FitResult:
        """Maximise ℓ* over the coordinates in ``free`` (bool mask; all by default), the rest fixed.

        ``until``: a test of each new iterate that ends the fit early where it holds (the profile's
        branch checks stop a fit once it has entered a known maximum's basin); such a result counts
        as converged.
        """
        free = torch.ones(self.n_params, dtype=torch.bool, device=beta0.device) if free is None else free
        point = self._start(beta0)
        newton = False
        if _absmax(point.score[free]) <= self.score_tol:  # a warm start already at the maximum
            return FitResult(point, 0, True)
        for it in range(1, self.settings.max_iter + 1):
            new = self._ascend(point, self._direction(point, free, newton), free)
            if new is None:  # no ascent left along the step: the optimum to rounding level
                return FitResult(point, it, True)
            before, after = _absmax(point.score[free]), _absmax(new.score[free])
            gain, moved = new.pen - point.pen, _absmax(new.beta - point.beta)
            point = new
            if after <= self.score_tol or (until is not None and until(point)):
                return FitResult(point, it, True)
            # at rounding level (far out in a profile ℓ* is flat): no measurable gain from a tiny step
            if gain <= 1e-13 * max(1.0, abs(point.pen)) and moved <= 1e-7 * (1.0 + _absmax(point.beta)):
                return FitResult(point, it, True)
            # near the tolerance rounding slows every method alike: judge scoring above it
            newton = newton or (after > _SLOW_CONTRACTION * before and after > 1e3 * self.score_tol)
        return FitResult(point, self.settings.max_iter, False)

    def _check_scale(self, info: torch.Tensor) -> None:
        """Raise ValueError naming the feature columns whose ``Σ vᵢxᵢⱼ²`` overflowed float64."""
        n_features = self.n_params - int(self.fit_intercept)
        columns = torch.nonzero(~torch.isfinite(info.diagonal()[:n_features])).flatten().tolist()
        if not columns:
            return
        names = self.feature_names or [f"x{j + 1}" for j in range(n_features)]
        raise ValueError(columns_too_large([names[j] for j in columns], _F64))
