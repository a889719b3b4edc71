"""Newton/IRLS: analytic gradient and Hessian, Cholesky solve, backtracking line search.

Stopping rule (what ``tol`` means): stop when ``max |∇F(coef)| <= tol``, with F the mean objective
of :mod:`torchlogit.objective`. Near the optimum Newton converges quadratically, so one more
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

import torch
from torch import Tensor

from torchlogit._threads import single_thread_if_small
from torchlogit.objective import Objective
from torchlogit.solvers._result import SolverResult, rounding_floor

_ARMIJO = 1e-4
_MIN_STEP = 1e-10


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
) -> SolverResult:
    """Minimise ``objective`` from ``coef0`` with damped Newton steps.

    Parameters
    ----------
    objective : Objective
    coef0 : Tensor, starting coefficients (shape ``objective.coef_shape``)
    tol : stop when ``max |∇F| <= tol``
    max_iter : most Newton steps
    callback : called as ``callback(iteration, F, max |∇F|)`` after each step

    Returns
    -------
    SolverResult
    """
    passes_before = objective.n_passes
    coef = coef0.clone()
    f, grad, hess = objective.value_grad_hess(coef)
    grad_max = float(grad.abs().max())
    history = [{"objective": f, "grad_max": grad_max}]
    eps = torch.finfo(coef.dtype).eps
    message = f"reached max_iter={max_iter}"
    n_iter = 0
    at_rounding_floor = False
    while grad_max > tol and n_iter < max_iter:
        gauge = _gauge(objective, hess)
        direction = newton_direction(hess if gauge is None else hess + gauge, grad)
        slope = float(torch.sum(grad * direction))
        if not slope < 0:  # not a descent direction (numerical trouble): fall back to the gradient
            direction = -grad
            slope = -float(torch.sum(grad * grad))
        step = 1.0
        accepted = False
        while step >= _MIN_STEP:
            trial = coef + step * direction
            f_new, grad_new, hess_new = objective.value_grad_hess(trial)
            grad_new_max = float(grad_new.abs().max())
            decreased = f_new <= f + _ARMIJO * step * slope
            # at rounding level F cannot decrease measurably; accept if the gradient still shrinks
            flat = abs(f_new - f) <= 16 * eps * max(abs(f), 1.0) and grad_new_max < grad_max
            if decreased or flat:
                accepted = True
                break
            step *= 0.5
        if not accepted:
            message = "the line search could not decrease the objective (rounding level reached)"
            at_rounding_floor = grad_max <= rounding_floor(f, coef.dtype)
            if at_rounding_floor:
                message = (f"stopped at the rounding floor of F after {n_iter} Newton steps: "
                           f"max |gradient| {grad_max:.3g} is as small as {coef.dtype} can certify")
            break
        n_iter += 1
        coef, f, grad, hess, grad_max = trial, f_new, grad_new, hess_new, grad_new_max
        history.append({"objective": f, "grad_max": grad_max})
        if callback is not None:
            callback(n_iter, f, grad_max)
    converged = grad_max <= tol or at_rounding_floor
    if grad_max <= tol:
        message = f"max |gradient| {grad_max:.3g} <= tol {tol:g} after {n_iter} Newton steps"
    return SolverResult(
        coef=coef, n_iter=n_iter, converged=converged, grad_max=grad_max, objective=f,
        n_passes=objective.n_passes - passes_before, history=history, message=message,
    )
