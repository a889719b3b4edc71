"""The backtracking line search Newton and proximal Newton share: when to accept a step, and the loop."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

# sufficient decrease: F must fall by at least this fraction of what the model predicts
ARMIJO = 1e-4
# the line search gives up below this step length
MIN_STEP = 1e-10
# why a solver stops when no step length is acceptable
LINE_SEARCH_FAILED = "the line search could not decrease the objective (rounding level reached)"


def accept_step(
    f: float, f_new: float, step: float, predicted: float, progress: float, progress_new: float,
    dtype: torch.dtype, n_terms: int = 1,
) -> bool:
    """Whether a step of length ``step`` is acceptable.

    Armijo: ``f_new <= f + ARMIJO·step·predicted`` (``predicted < 0``, the model's decrease for a
    full step). Near the optimum F stops changing measurably in ``dtype``; a step that leaves F
    flat to rounding is then accepted if it still shrinks the optimality measure
    (``progress``: max |∇F| or the KKT violation), so the solver can reach rounding level.
    ``n_terms``: the rows F sums over (:func:`within_rounding`).
    """
    if f_new <= f + ARMIJO * step * predicted:
        return True
    return within_rounding(f_new - f, f, dtype, n_terms) and progress_new < progress


def within_rounding(change: float, f: float, dtype: torch.dtype, n_terms: int = 1) -> bool:
    """Whether a change of F by ``change`` is within F's rounding in ``dtype``: 16 eps·max(|F|, 1),
    times √n_terms for an F summed over ``n_terms`` rows, whose rounding errors add up like a random
    walk. On 200,000 rows F moved by 5e-14·F (240 eps) between points 3e-9 apart, where the true
    change was 1e-17: without the √n the solver could not take the step that zeroed the gradient."""
    return abs(change) <= 16 * torch.finfo(dtype).eps * max(abs(f), 1.0) * math.sqrt(max(n_terms, 1))


@dataclass
class Trial:
    """An accepted point of the line search: ``point = coef + step·direction``."""

    step: float
    point: Tensor
    f: float
    progress: float
    evaluation: Any  # what ``evaluate`` computed there besides F (gradient, Hessian, ...)


# evaluate(point, step) -> (F, optimality measure, anything else the solver keeps)
Evaluate = Callable[[Tensor, float], tuple[float, float, Any]]


def backtrack(
    coef: Tensor, direction: Tensor, f: float, predicted: float, progress: float, evaluate: Evaluate,
    n_terms: int = 1,
) -> Trial | None:
    """Halve the step from 1 until :func:`accept_step` takes it; None once it falls below ``MIN_STEP``.

    ``f`` and ``progress`` are F and the optimality measure at ``coef``, ``predicted`` the model's
    decrease for the full step; each trial costs the pass ``evaluate`` makes.
    """
    step = 1.0
    while step >= MIN_STEP:
        point = coef + direction if step == 1.0 else coef + step * direction
        f_new, progress_new, evaluation = evaluate(point, step)
        if accept_step(f, f_new, step, predicted, progress, progress_new, coef.dtype, n_terms):
            return Trial(step=step, point=point, f=f_new, progress=progress_new, evaluation=evaluation)
        step *= 0.5
    return None
