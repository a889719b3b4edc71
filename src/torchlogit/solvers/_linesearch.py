"""The backtracking rule Newton and proximal Newton share: when to accept a step."""

from __future__ import annotations

import torch

# sufficient decrease: F must fall by at least this fraction of what the model predicts
ARMIJO = 1e-4
# the line search gives up below this step length
MIN_STEP = 1e-10


def accept_step(
    f: float, f_new: float, step: float, predicted: float, progress: float, progress_new: float,
    dtype: torch.dtype,
) -> bool:
    """Whether a step of length ``step`` is acceptable.

    Armijo: ``f_new <= f + ARMIJO·step·predicted`` (``predicted < 0``, the model's decrease for a
    full step). Near the optimum F stops changing measurably in ``dtype``; a step that leaves F
    flat to rounding is then accepted if it still shrinks the optimality measure
    (``progress``: max |∇F| or the KKT violation), so the solver can reach rounding level.
    """
    if f_new <= f + ARMIJO * step * predicted:
        return True
    flat = abs(f_new - f) <= 16 * torch.finfo(dtype).eps * max(abs(f), 1.0)
    return flat and progress_new < progress
