"""The one result type every solver returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


@dataclass
class SolverResult:
    """Outcome of a solver run.

    Attributes
    ----------
    coef : Tensor of shape ``(n_outputs, n_features + fit_intercept)``, intercept last.
    n_iter : iterations (Newton steps, L-BFGS iterations or epochs).
    converged : whether ``max |∇F| <= tol`` was reached.
    grad_max : final ``max |∇F|`` (the quantity ``tol`` bounds).
    objective : final ``F(coef)``.
    n_passes : passes over the data the solver asked for.
    history : per iteration ``{"objective": F, "grad_max": max |∇F|}`` (starting point first).
    message : why the solver stopped, in words.
    """

    coef: Tensor
    n_iter: int
    converged: bool
    grad_max: float
    objective: float
    n_passes: int
    history: list[dict[str, float]] = field(default_factory=list)
    message: str = ""
