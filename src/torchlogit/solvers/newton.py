"""Newton/IRLS: analytic gradient and Hessian, Cholesky solve, backtracking line search.

Stopping rule (what ``tol`` means): stop when ``max |∇F(coef)| <= tol``, with F the mean objective
of :mod:`torchlogit.core.objective`. Near the optimum Newton converges quadratically, so one more
iteration takes the gradient from ``1e-4`` to rounding level; each iteration is one pass over the
data (loss, gradient and Hessian are formed together).

The multinomial model keeps one coefficient row per class, so shifting a column by the same amount
in every class leaves F unchanged wherever that column is unpenalised (always the intercept). The
Hessian is singular along those shifts; we add a *gauge* term ``μ 𝟙𝟙ᵀ`` on them, which only fixes
the free direction: starting from zero the iterates stay centred (Σ_k W_kj = 0), the convention
scikit-learn's solvers end in too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from torchlogit._threads import single_thread_if_small
from torchlogit.core.objective import Objective
from torchlogit.solvers._linesearch import MIN_STEP, accept_step
from torchlogit.solvers._result import SolverResult, rounding_floor

# with a separate low-precision Hessian, keep it once a full step shrinks max |∇F| at least 100-fold
_REUSE_RATIO = 0.01
# with fused passes (F, ∇F and Hessian together), skip forming the next Hessian after a full step
# that shrank max |∇F| at least 20-fold: Newton is then in its quadratic phase
_FUSED_REUSE_RATIO = 0.05
# a step with a sampled Hessian that is damped or shrinks max |∇F| less than this: back to all rows
_SAMPLED_HESSIAN_MAX_SHRINK = 0.5
# the float32 phase of mixed-precision Newton stops once max |∇F| has dropped by this factor
_LOW_PRECISION_REDUCTION = 1e-4


def _gauge(objective: Objective, hess: Tensor) -> Tensor | None:
    """``μ (𝟙𝟙ᵀ ⊗ diag(free))`` for the multinomial model's unpenalised columns, else None."""
    n_outputs, n_cols = objective.coef_shape
    if n_outputs == 1:
        return None
    if objective.l2 is None:
        free = torch.ones(n_cols, dtype=hess.dtype, device=hess.device)
    else:
        free = (objective.l2.strength == 0).to(hess.dtype)
    if not bool(free.any()):
        return None
    mu = hess.diagonal().mean().clamp_min(torch.finfo(hess.dtype).tiny)
    ones = torch.ones(n_outputs, n_outputs, dtype=hess.dtype, device=hess.device)
    return mu * torch.kron(ones, torch.diag(free))


def newton_direction(hess: Tensor, grad: Tensor) -> Tensor:
    """Solve ``hess · d = -grad`` by Cholesky, falling back to an eigen-pseudo-inverse."""
    with single_thread_if_small(hess.shape[0] ** 3):
        return _solve(hess, grad)


def _solve(hess: Tensor, grad: Tensor) -> Tensor:
    rhs = -grad.reshape(-1, 1)
    factor, info = torch.linalg.cholesky_ex(hess)
    if int(info) == 0:
        return torch.cholesky_solve(rhs, factor).reshape(grad.shape)
    # singular or indefinite by rounding (collinear columns, no penalty): least-norm step
    evals, evecs = torch.linalg.eigh(hess)
    cutoff = evals.abs().max() * hess.shape[0] * torch.finfo(hess.dtype).eps
    inv = torch.where(evals > cutoff, 1.0 / evals, torch.zeros_like(evals))
    return (evecs @ (inv[:, None] * (evecs.T @ rhs))).reshape(grad.shape)


def newton(
    objective: Objective, coef0: Tensor, *, tol: float = 1e-8, max_iter: int = 100,
    callback: Callable[[int, float, float], None] | None = None,
    hessian_objective: Objective | None = None,
) -> SolverResult:
    """Minimise ``objective`` from ``coef0`` with damped Newton steps.

    Parameters
    ----------
    objective : Objective
    coef0 : Tensor, starting coefficients (shape ``objective.coef_shape``)
    tol : stop when ``max |∇F| <= tol``
    max_iter : most Newton steps (both phases together, see below)
    callback : called as ``callback(iteration, F, max |∇F|)`` after each step
    hessian_objective : the same objective over a float32 copy of the data. When given, Newton
        runs in two phases (mixed-precision iterative refinement): first entirely in float32,
        where passes and Hessians cost a third, until ``max |∇F|`` has dropped by
        ``_LOW_PRECISION_REDUCTION``; then in full precision for F and ∇F with float32 Hessians,
        recomputed only while a step shrinks ``max |∇F|`` less than ``_REUSE_RATIO``-fold.
        The optimum is exactly the full-precision one.

    Returns
    -------
    SolverResult
    """
    passes_before = objective.n_passes
    low_passes_before = hessian_objective.n_passes if hessian_objective is not None else 0
    history: list[dict[str, float]] = []
    coef, n_iter, hess = coef0.clone(), 0, None
    if hessian_objective is not None:
        low = hessian_objective
        f, grad, hess = low.value_grad_hess(coef.to(low.dtype))
        target = max(tol, _LOW_PRECISION_REDUCTION * float(grad.abs().max()))
        phase1 = _iterate(low, coef.to(low.dtype), f, grad, hess, tol=target, max_iter=max_iter,
                          history=history, callback=callback, hessian_at=None, hessians=low)
        coef, n_iter, hess = phase1.coef.to(coef.dtype), phase1.n_iter, phase1.hess.to(coef.dtype)

        def hessian_at(point: Tensor) -> Tensor:
            return low.value_grad_hess(point.to(low.dtype))[2].to(point.dtype)

        f, grad = objective.value_grad(coef)
    else:
        hessian_at = None
        f, grad, hess = objective.value_grad_hess(coef)
    result = _iterate(objective, coef, f, grad, hess, tol=tol, max_iter=max_iter - n_iter,
                      history=history, callback=callback, hessian_at=hessian_at, first_iter=n_iter,
                      hessians=hessian_objective or objective)
    passes = objective.n_passes - passes_before
    if hessian_objective is not None:
        passes += hessian_objective.n_passes - low_passes_before
    return SolverResult(
        coef=result.coef, n_iter=n_iter + result.n_iter, converged=result.converged,
        grad_max=result.grad_max, objective=result.objective, n_passes=passes, history=history,
        message=result.message,
    )


@dataclass
class _Phase:
    coef: Tensor
    hess: Tensor
    n_iter: int
    converged: bool
    grad_max: float
    objective: float
    message: str


def _iterate(
    objective: Objective, coef: Tensor, f: float, grad: Tensor, hess: Tensor, *, tol: float,
    max_iter: int, history: list[dict[str, float]],
    callback: Callable[[int, float, float], None] | None,
    hessian_at: Callable[[Tensor], Tensor] | None, hessians: Objective, first_iter: int = 0,
) -> _Phase:
    """Damped Newton steps from ``coef`` (with F, ∇F and Hessian there) until ``max |∇F| <= tol``.

    ``hessian_at``, when given, supplies Hessians (lazily, see :func:`newton`); otherwise each
    accepted full step's pass computes the next Hessian together with F and ∇F. ``hessians`` is
    the objective forming them: if its Hessians are sampled (``Objective.sample_hessians``) and a
    step needs damping or shrinks max |∇F| less than ``_SAMPLED_HESSIAN_MAX_SHRINK``-fold, it goes
    back to all rows.
    """
    grad_max = float(grad.abs().max())
    if not history:
        history.append({"objective": f, "grad_max": grad_max})
    message = f"reached max_iter={first_iter + max_iter}"
    n_iter = 0
    at_rounding_floor = False
    keep_hessian = False
    while grad_max > tol and n_iter < max_iter:
        gauge = _gauge(objective, hess)
        direction = newton_direction(hess if gauge is None else hess + gauge, grad)
        slope = float(torch.sum(grad * direction))
        if not slope < 0:  # not a descent direction (numerical trouble): fall back to the gradient
            direction = -grad
            slope = -float(torch.sum(grad * grad))
        step, accepted, hess_new = 1.0, False, None
        while step >= MIN_STEP:
            trial = coef + step * direction
            if step == 1.0 and hessian_at is None and not keep_hessian:
                # usual case: one fused pass gives F, ∇F and the next Hessian
                f_new, grad_new, hess_new = objective.value_grad_hess(trial)
            else:
                f_new, grad_new = objective.value_grad(trial)
            grad_new_max = float(grad_new.abs().max())
            if accept_step(f, f_new, step, slope, grad_max, grad_new_max, coef.dtype):
                accepted = True
                break
            step *= 0.5
        if not accepted:
            message = "the line search could not decrease the objective (rounding level reached)"
            at_rounding_floor = grad_max <= rounding_floor(f, coef.dtype)
            if at_rounding_floor:
                message = (f"stopped at the rounding floor of F after {first_iter + n_iter} Newton "
                           f"steps: max |gradient| {grad_max:.3g} is as {coef.dtype} can certify")
            break
        n_iter += 1
        shrink = grad_new_max / grad_max if grad_max > 0 else 0.0
        coef, f, grad, grad_max = trial, f_new, grad_new, grad_new_max
        reuse_ratio = _REUSE_RATIO if hessian_at is not None else _FUSED_REUSE_RATIO
        lazy_ok = step == 1.0 and shrink <= reuse_ratio
        if hessians.hessian_stride > 1 and (step < 1.0 or shrink > _SAMPLED_HESSIAN_MAX_SHRINK):
            hessians.hessian_stride = 1  # the sampled Hessian misled this step: all rows from now on
            hess_new = None
        if hess_new is not None:
            hess = hess_new
        elif grad_max > tol and not (lazy_ok and (hessian_at is not None or keep_hessian)):
            hess = (hessian_at or (lambda c: objective.value_grad_hess(c)[2]))(coef)
        # in the quadratic phase a one-step-old Hessian is as good: the next pass skips forming one
        keep_hessian = hessian_at is None and lazy_ok
        history.append({"objective": f, "grad_max": grad_max})
        if callback is not None:
            callback(first_iter + n_iter, f, grad_max)
    if grad_max <= tol:
        message = f"max |gradient| {grad_max:.3g} <= tol {tol:g} after {first_iter + n_iter} Newton steps"
    return _Phase(coef=coef, hess=hess, n_iter=n_iter, converged=grad_max <= tol or at_rounding_floor,
                  grad_max=grad_max, objective=f, message=message)
