"""Newton-CG: Newton steps solved by preconditioned conjugate gradients on Hessian-vector products.

Same stopping rule and line search as :mod:`torchlogit.solvers.newton` (``max |∇F| <= tol``), but
no Hessian matrix: each step costs one pass for F, ∇F and the rows' curvature weights, then a few
Hessian-vector products of one pass each (:class:`~torchlogit.core.objective.HessianOperator`),
where Newton forms and factors a (K·d)² matrix, n·(K·d)² multiply-adds. With many coefficients
(wide data, many classes) that matrix costs far more than the dozens of products CG needs.

The step is inexact Newton (Dembo, Eisenstat and Steihaug 1982): CG stops once its residual is
below ``η‖∇F‖`` with the forcing term ``η = min(0.5, √‖∇F‖)``, which keeps Newton's
superlinear convergence while early steps stay cheap. CG is preconditioned by the diagonal
``c·E[x̃ⱼ²] + λⱼ`` (``c`` the rows' mean curvature, the column moments from one pass at the
start): the Hessian's diagonal for a typical row, which undoes the columns' scales. It is the
same for every class, so a multinomial step stays in the gauge Newton's iterates keep (no shift
common to all classes on an unpenalised column; see :mod:`torchlogit.solvers.newton`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from torchlogit.core.objective import HessianOperator, Objective
from torchlogit.distributed import all_reduce_sum
from torchlogit.solvers._linesearch import LINE_SEARCH_FAILED, backtrack
from torchlogit.solvers._result import SolverResult, StoppingRule, Trace, rounding_floor
from torchlogit.solvers.newton import NO_PROGRESS_AT_ROUNDING

# CG iterations per Newton step, at most (each one Hessian-vector product, one pass)
MAX_CG_ITERATIONS = 250
# the forcing term's ceiling: a step solves the Newton system at least this well
_MAX_FORCING = 0.5


def newton_cg(
    objective: Objective, coef0: Tensor, *, tol: float = 1e-8, max_iter: int = 100,
    callback: Callable[[int, float, float], None] | None = None,
) -> SolverResult:
    """Minimise ``objective`` from ``coef0`` with inexact Newton steps (module docstring).

    Parameters and result as for :func:`torchlogit.solvers.newton.newton`; ``n_passes`` counts the
    Hessian-vector products too.
    """
    passes_before = objective.n_passes
    inverse_diagonal = _preconditioner(objective)
    trace, rule = Trace(callback), StoppingRule(tol, max_iter)
    coef = coef0.clone()
    f, grad, hvp = objective.value_grad_curvature(coef)
    grad_max, n_iter, stall = float(grad.abs().max()), 0, None
    trace.start(f, grad_max)
    while not rule.should_stop(grad_max, n_iter, stall or trace.stopped):
        direction, slope = _truncated_cg(hvp, grad, inverse_diagonal(hvp))
        trial = backtrack(coef, direction, f, slope, grad_max,
                          lambda point, _step: _evaluate(objective, point), n_terms=objective.n_rows)
        if trial is None:
            stall = LINE_SEARCH_FAILED
            continue
        previous = grad_max
        coef, f, grad_max, (grad, hvp) = trial.point, trial.f, trial.progress, trial.evaluation
        n_iter += 1
        if grad_max > previous / 2 and grad_max <= rounding_floor(f, objective.dtype):
            stall = NO_PROGRESS_AT_ROUNDING
        trace.record(n_iter, f, grad_max, coef)
    converged, message = rule.outcome(grad_max, f, coef.dtype, n_iter, stall or trace.stopped)
    return SolverResult(coef=coef, n_iter=n_iter, converged=converged, grad_max=grad_max, objective=f,
                        n_passes=objective.n_passes - passes_before, history=trace.history,
                        message=message, grad=grad)


def _evaluate(objective: Objective, point: Tensor) -> tuple[float, float, tuple[Tensor, HessianOperator]]:
    f, grad, hvp = objective.value_grad_curvature(point)
    return f, float(grad.abs().max()), (grad, hvp)


def _preconditioner(objective: Objective) -> Callable[[HessianOperator], Tensor]:
    """The inverse of ``c·E[x̃ⱼ²] + λⱼ`` per column (module docstring), given a step's operator
    (for ``c``); the column moments come from one pass, now."""
    mean, std = objective.column_moments()
    second = std * std + mean * mean
    if objective.fit_intercept:
        second = torch.cat([second, second.new_ones(1)])
    ridge = 0.0 if objective.l2 is None else objective.l2.strength

    def inverse_diagonal(hvp: HessianOperator) -> Tensor:
        c = _mean_curvature(hvp)
        diagonal = (c * second + ridge).clamp_min(torch.finfo(second.dtype).tiny)
        return (1.0 / diagonal).expand(objective.coef_shape)

    return inverse_diagonal


def _mean_curvature(hvp: HessianOperator) -> float:
    """The rows' mean curvature ``Σᵢ sᵢ Σₖ pᵢₖ(1 − pᵢₖ) / (K Σᵢ sᵢ)`` at the operator's point,
    summed over every rank (each holds its own rows' weights), so all ranks precondition alike."""
    objective = hvp.objective
    total = torch.zeros((), dtype=torch.float64, device=objective.device)
    for weights in hvp.weights:
        if isinstance(weights, tuple):  # multinomial: class-major probabilities and row weights
            proba_t, sample_weight = weights
            total += ((proba_t * (1 - proba_t)).sum(0) * sample_weight).sum() / objective.n_outputs
        else:
            total += weights.sum()
    return float(all_reduce_sum(total)) / objective.weight_sum


def _truncated_cg(hvp: HessianOperator, grad: Tensor, inverse_diagonal: Tensor) -> tuple[Tensor, float]:
    """An approximate solution of ``∇²F d = −∇F`` by preconditioned CG, stopped by the forcing term
    or at negative curvature; returns ``(d, ∇Fᵀd)``, the steepest descent step if CG cannot start."""
    residual = -grad
    grad_norm = float(torch.linalg.vector_norm(grad))
    target = min(_MAX_FORCING, math.sqrt(grad_norm)) * grad_norm
    direction = torch.zeros_like(grad)
    z = inverse_diagonal * residual
    search = z.clone()
    rz = float(torch.sum(residual * z))
    for _ in range(MAX_CG_ITERATIONS):
        product = hvp(search)
        curvature = float(torch.sum(search * product))
        if not curvature > 0:  # negative or no curvature along it: stop with what CG has
            break
        alpha = rz / curvature
        direction += alpha * search
        residual -= alpha * product
        if float(torch.linalg.vector_norm(residual)) <= target:
            break
        z = inverse_diagonal * residual
        rz, rz_old = float(torch.sum(residual * z)), rz
        search = z + (rz / rz_old) * search
    if not bool(direction.any()):
        direction = -inverse_diagonal * grad
    return direction, float(torch.sum(grad * direction))
