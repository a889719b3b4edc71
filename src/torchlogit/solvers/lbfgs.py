"""L-BFGS via ``torch.optim.LBFGS`` with the strong-Wolfe line search.

For many features, where the ``d × d`` Hessian of Newton is too big. Each function evaluation is
one pass over the data (loss and gradient together, analytic, no autograd graph); ``history`` has
one entry per evaluation, line-search trials included.

L-BFGS runs in preconditioned coordinates (:func:`~torchlogit.core.coordinates.precondition`: whitened
features for narrow problems, standardised ones otherwise; one extra pass): the same model and
optimum, but uncentred, badly scaled or correlated features no longer slow it down.

Stopping rule: as an evaluated point has ``max |∇F| <= tol`` (the gradient in the
original coordinates), or after ``max_iter`` iterations, or when the line search can no longer
change F (rounding level). A stall where the gradient in the preconditioned coordinates is
below the rounding floor (:func:`~torchlogit.solvers._result.rounding_floor`,
about 1.5e-7 for float64 and F ≈ 1) counts as converged: no line search on a float64 F can
certify more.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from torchlogit.core.coordinates import precondition
from torchlogit.core.objective import Objective
from torchlogit.solvers._result import SolverResult, rounding_floor

_HISTORY_SIZE = 20


class _Converged(Exception):  # noqa: N818 - a stop signal, not an error
    """Raised from the closure to stop torch's L-BFGS at the first point meeting ``tol``."""


def lbfgs(
    objective: Objective, coef0: Tensor, *, tol: float = 1e-8, max_iter: int = 100,
    callback: Callable[[int, float, float], None] | None = None,
) -> SolverResult:
    """Minimise ``objective`` from ``coef0`` with L-BFGS (strong Wolfe line search).

    Parameters and result as for :func:`torchlogit.solvers.newton.newton`; ``callback`` is
    called after every function evaluation.
    """
    passes_before = objective.n_passes
    coords = precondition(objective)
    param = coords.to_standardised(coef0).clone().requires_grad_(True)
    history: list[dict[str, float]] = []
    best: dict[str, object] = {}

    def closure() -> Tensor:
        with torch.no_grad():
            f, grad_std, grad = coords.value_grad(param)
        grad_max = float(grad.abs().max())
        history.append({"objective": f, "grad_max": grad_max})
        if callback is not None:
            callback(len(history), f, grad_max)
        if not best or f < best["objective"] or grad_max <= tol:
            best.update(objective=f, grad_max=grad_max, grad_std_max=float(grad_std.abs().max()),
                        coef=param.detach().clone())
        if grad_max <= tol:
            raise _Converged
        param.grad = grad_std
        return torch.tensor(f, dtype=param.dtype, device=param.device)

    n_iter = 0
    try:
        if max_iter == 0:
            closure()
        else:
            optimizer = torch.optim.LBFGS(
                [param], lr=1.0, max_iter=max_iter, max_eval=max(2 * max_iter, 20),
                tolerance_grad=0.0, tolerance_change=torch.finfo(param.dtype).eps,
                history_size=_HISTORY_SIZE, line_search_fn="strong_wolfe",
            )
            try:
                optimizer.step(closure)
            finally:
                n_iter = int(optimizer.state[param].get("n_iter", 0))
    except _Converged:
        pass
    coef = coords.to_original(best["coef"])
    f, grad_max = float(best["objective"]), float(best["grad_max"])
    converged = grad_max <= tol
    if converged:
        message = f"max |gradient| {grad_max:.3g} <= tol {tol:g} after {n_iter} L-BFGS iterations"
    elif n_iter >= max_iter:
        message = f"reached max_iter={max_iter}"
    elif float(best["grad_std_max"]) <= rounding_floor(f, coef.dtype):
        converged = True
        message = (f"stopped at the rounding floor of F after {n_iter} L-BFGS iterations: max |gradient| "
                   f"{grad_max:.3g} is as {coef.dtype} evaluation of F can certify "
                   "(solver='newton' goes further)")
    else:
        message = "the line search could not decrease the objective further (rounding level reached)"
    return SolverResult(
        coef=coef, n_iter=n_iter, converged=converged, grad_max=grad_max, objective=f,
        n_passes=objective.n_passes - passes_before, history=history, message=message,
    )
