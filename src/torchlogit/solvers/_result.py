"""The one result type every solver returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor


def rounding_floor(objective_value: float, dtype: torch.dtype) -> float:
    """The smallest ``max |∇F|`` a line search can certify, given F's rounding error.

    A step with gradient g and curvature h ≲ 1 changes F by about g²/(2h); once that falls
    below the rounding error ``eps·|F|``, F can no longer tell better points from worse ones.
    A solver that stalls there with ``max |∇F| <= 10·sqrt(eps·max(|F|, 1))`` is as accurate as
    evaluating F in ``dtype`` allows, and we report it as converged (saying so in the message).
    """
    return 10.0 * math.sqrt(torch.finfo(dtype).eps * max(abs(objective_value), 1.0))


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
    grad : gradient of the smooth objective at ``coef`` (proximal Newton; paths reuse it), or None.
    hessian : proximal Newton's last ``(index, Hessian block)``, which a path's next fit starts from.
    """

    coef: Tensor
    n_iter: int
    converged: bool
    grad_max: float
    objective: float
    n_passes: int
    history: list[dict[str, float]] = field(default_factory=list)
    message: str = ""
    grad: Tensor | None = None  # the smooth part's final gradient, where the solver keeps it
    hessian: tuple | None = None  # (flat index, Hessian block) to warm-start a later solve with
