"""L-BFGS via ``torch.optim.LBFGS`` with the strong-Wolfe line search.

For many features, where the ``d × d`` Hessian of Newton is too big. Each function evaluation is
one pass over the data (loss and gradient together, analytic, no autograd graph); ``history`` has
one entry per evaluation, line-search trials included.

L-BFGS runs in preconditioned coordinates (:func:`~torchlogit.core.coordinates.precondition`: whitened
features for narrow problems, standardised ones otherwise; one extra pass): the same model and
optimum, but uncentred, badly scaled or correlated features no longer slow it down.

Stopping rule: as an evaluated point has ``max |∇F| <= tol`` (the gradient in the
original coordinates), or after ``max_iter`` iterations, or when the line search can no longer
change F (rounding level), or when the iterate hook asks to stop. A stall where the gradient
in the preconditioned coordinates is below the rounding floor
(:func:`~torchlogit.solvers._result.rounding_floor`, about 1.5e-7 for float64 and F ≈ 1) counts
as converged: no line search on a float64 F can certify more.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from torchlogit.core.coordinates import StandardisedCoordinates, WhitenedCoordinates, precondition
from torchlogit.core.objective import Objective
from torchlogit.solvers._result import SolverResult, Trace, rounding_floor

_HISTORY_SIZE = 20


class _Converged(Exception):  # noqa: N818 - a stop signal, not an error
    """Raised from the closure to stop torch's L-BFGS at the first point meeting ``tol``."""


class _Stopped(Exception):  # noqa: N818 - a stop signal, not an error
    """Raised from the closure when the iterate hook asked to stop after the last finished iteration."""


def lbfgs(
    objective: Objective, coef0: Tensor, *, tol: float = 1e-8, max_iter: int = 100,
    callback: Callable[[int, float, float], None] | None = None,
) -> SolverResult:
    """Minimise ``objective`` from ``coef0`` with L-BFGS (strong Wolfe line search).

    Parameters and result as for :func:`torchlogit.solvers.newton.newton`; ``callback`` is
    called after every function evaluation, its iterate hook
    (:class:`~torchlogit.solvers._result.SolverCallbacks`), if any, after every iteration (as the
    next one's first evaluation begins, or at the end) with the best point so far: what a run
    stopped after that iteration returns.
    """
    passes_before = objective.n_passes
    coords = precondition(objective)
    run = _Run(coords=coords, param=coords.to_standardised(coef0).clone().requires_grad_(True), tol=tol,
               trace=Trace(callback))
    n_iter = _minimise(run, max_iter)
    coef = coords.to_original(run.best_coef)
    converged, message = _outcome(run, n_iter, max_iter, coef.dtype)
    return SolverResult(
        coef=coef, n_iter=n_iter, converged=converged, grad_max=run.best_grad_max,
        objective=run.best_objective, n_passes=objective.n_passes - passes_before,
        history=run.trace.history, message=message,
    )


@dataclass
class _Run:
    """An L-BFGS run: the parameter torch optimises (preconditioned coordinates) and the best point seen."""

    coords: StandardisedCoordinates | WhitenedCoordinates
    param: Tensor
    tol: float
    trace: Trace
    best_coef: Tensor | None = None  # in preconditioned coordinates
    best_objective: float = math.inf
    best_grad_max: float = math.inf  # max |∇F| in the original coordinates
    best_grad_std_max: float = math.inf  # the same in the preconditioned ones
    optimizer: torch.optim.LBFGS | None = None  # torch's, whose state counts the iterations begun
    reported: int = 0  # iterations handed to the trace's iterate hook


def _report_finished(run: _Run, n_done: int) -> bool:
    """Hand the iterations finished since the last report to the iterate hook, each with the best
    point so far in the original coordinates; whether the hook asked to stop."""
    while run.reported < n_done and run.trace.stopped is None:
        run.reported += 1
        run.trace.report(run.reported, lambda: run.coords.to_original(run.best_coef))
    return run.trace.stopped is not None


def _closure(run: _Run) -> Tensor:
    """One evaluation (a pass): F and the gradient for torch's L-BFGS; the best point is kept and a
    point meeting ``tol`` ends the run."""
    # iteration n is under way, n - 1 are finished; a stop ends the run before this evaluation
    if run.optimizer is not None and _report_finished(run, run.optimizer.state[run.param]["n_iter"] - 1):
        raise _Stopped
    with torch.no_grad():
        f, grad_std, grad = run.coords.value_grad(run.param)
    grad_max = float(grad.abs().max())
    run.trace.record(len(run.trace.history) + 1, f, grad_max)
    if run.best_coef is None or f < run.best_objective or grad_max <= run.tol:
        run.best_coef, run.best_objective, run.best_grad_max = run.param.detach().clone(), f, grad_max
        run.best_grad_std_max = float(grad_std.abs().max())
    if grad_max <= run.tol:
        raise _Converged
    run.param.grad = grad_std
    return torch.tensor(f, dtype=run.param.dtype, device=run.param.device)


def _minimise(run: _Run, max_iter: int) -> int:
    """Run torch's L-BFGS for at most ``max_iter`` iterations (none: one evaluation); the iterations
    done, each handed to the iterate hook."""
    n_iter = 0
    try:
        if max_iter == 0:
            _closure(run)
        else:
            run.optimizer = torch.optim.LBFGS(
                [run.param], lr=1.0, max_iter=max_iter, max_eval=max(2 * max_iter, 20),
                tolerance_grad=0.0, tolerance_change=torch.finfo(run.param.dtype).eps,
                history_size=_HISTORY_SIZE, line_search_fn="strong_wolfe",
            )
            try:
                run.optimizer.step(functools.partial(_closure, run))
            finally:
                n_iter = int(run.optimizer.state[run.param].get("n_iter", 0))
    except _Converged:
        pass
    except _Stopped:
        return run.reported
    _report_finished(run, n_iter)
    return n_iter


def _outcome(run: _Run, n_iter: int, max_iter: int, dtype: torch.dtype) -> tuple[bool, str]:
    """``(converged, message)``: the stopping rule of the module docstring, in one place."""
    f, grad_max = run.best_objective, run.best_grad_max
    if grad_max <= run.tol:
        return True, f"max |gradient| {grad_max:.3g} <= tol {run.tol:g} after {n_iter} L-BFGS iterations"
    if run.trace.stopped is not None:
        return False, run.trace.stopped
    if n_iter >= max_iter:
        return False, f"reached max_iter={max_iter}"
    if run.best_grad_std_max <= rounding_floor(f, dtype):
        return True, (f"stopped at the rounding floor of F after {n_iter} L-BFGS iterations: max |gradient| "
                      f"{grad_max:.3g} is as {dtype} evaluation of F can certify "
                      "(solver='newton' goes further)")
    return False, "the line search could not decrease the objective further (rounding level reached)"
