"""L-BFGS via ``torch.optim.LBFGS`` with the strong-Wolfe line search.

For many features, where the ``d × d`` Hessian of Newton is too big. Each function evaluation is
one pass over the data (loss and gradient together, analytic, no autograd graph). Stopping rule:
``max |∇F| <= tol`` (torch's ``tolerance_grad``), or ``max_iter`` iterations.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from torchlogit.objective import Objective
from torchlogit.solvers._result import SolverResult

_HISTORY_SIZE = 20


def lbfgs(
    objective: Objective, coef0: Tensor, *, tol: float = 1e-8, max_iter: int = 100,
    callback: Callable[[int, float, float], None] | None = None,
) -> SolverResult:
    """Minimise ``objective`` from ``coef0`` with L-BFGS (strong Wolfe line search).

    Parameters and result as for :func:`torchlogit.solvers.newton.newton`.
    """
    passes_before = objective.n_passes
    param = coef0.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS(
        [param], lr=1.0, max_iter=max_iter, max_eval=max(2 * max_iter, 20),
        tolerance_grad=tol, tolerance_change=0.0, history_size=_HISTORY_SIZE,
        line_search_fn="strong_wolfe",
    )
    history: list[dict[str, float]] = []

    def closure() -> Tensor:
        with torch.no_grad():
            f, grad = objective.value_grad(param)
        param.grad = grad
        history.append({"objective": f, "grad_max": float(grad.abs().max())})
        if callback is not None:
            callback(len(history), f, history[-1]["grad_max"])
        return torch.tensor(f, dtype=param.dtype, device=param.device)

    optimizer.step(closure)
    n_iter = int(optimizer.state[param].get("n_iter", 0))
    coef = param.detach()
    f, grad = objective.value_grad(coef)
    grad_max = float(grad.abs().max())
    converged = grad_max <= tol
    if converged:
        message = f"max |gradient| {grad_max:.3g} <= tol {tol:g} after {n_iter} L-BFGS iterations"
    elif n_iter >= max_iter:
        message = f"reached max_iter={max_iter}"
    else:
        message = "L-BFGS stopped early: the line search made no further progress"
    return SolverResult(
        coef=coef, n_iter=n_iter, converged=converged, grad_max=grad_max, objective=f,
        n_passes=objective.n_passes - passes_before, history=history, message=message,
    )
