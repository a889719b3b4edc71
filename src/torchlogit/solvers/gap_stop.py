"""Stopping an L1 solve on its duality gap: a certificate that F − F* is at most ``gap_tol``.

skglm and celer stop on the duality gap; our solvers stop on the KKT violation (``tol``), which
bounds the gradient, not the distance to the optimum. :func:`gap_certified` runs the working-set
solver (:func:`~torchlogit.solvers.working_set.working_set_prox_newton`, which hands wide sparse
binomial rows to :mod:`~torchlogit.solvers.sparse_cd`) with a KKT target that falls
``_TARGET_FALL``-fold per round, each round warm-started from the last (its working set and
Hessian blocks kept, as along a path), and stops after the first round whose duality gap
(:mod:`torchlogit.core.duality`, one or two passes) is at most ``gap_tol``. ``tol`` then plays
no part, except where no gap can be formed (NaN: an unpenalised feature), where it decides as
without ``gap_tol``. Targets stop falling at ``_MIN_TARGET``, float64's rounding level; a gap
still above ``gap_tol`` there is reported as not converged.

The first target is ``_FIRST_TARGET_SHARE · gap_tol``: on the rcv1-shaped benchmark a relative
gap of 1e-8 needed a KKT violation of 2e-10 at 0.1·λ_max but 1e-12 at 0.01·λ_max, so a fixed
``tol`` is too loose for one and far too tight for the other, while the gap says when to stop.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from torch import Tensor

from torchlogit.core.duality import duality_gap
from torchlogit.core.objective import Objective
from torchlogit.core.penalties import L1Penalty
from torchlogit.solvers._result import STOPPED_BY_HOOK, SolverCallbacks, SolverResult, iterate_hook
from torchlogit.solvers.working_set import PathHint, working_set_prox_newton

# the first round's KKT target, as a share of gap_tol
_FIRST_TARGET_SHARE = 0.1
# each further round's target, as a share of the last
_TARGET_FALL = 0.05
# the lowest KKT target: below it float64 rounding, not the solver, limits the violation
_MIN_TARGET = 1e-15


def gap_certified(
    objective: Objective, coef0: Tensor, *, l1: L1Penalty, gap_tol: float, tol: float = 1e-8,
    max_iter: int = 100, callback: Callable[[int, float, float], None] | None = None,
) -> SolverResult:
    """Minimise ``objective + l1`` until the duality gap is at most ``gap_tol`` (module docstring;
    ``tol`` only where the gap is NaN).

    Returns
    -------
    SolverResult
        Over every round: iterations, passes (the gaps' included) and history; ``duality_gap``
        the last round's gap; converged when the gap is at most ``gap_tol`` (or, for a NaN gap,
        the KKT violation at most ``tol``).
    """
    hint = PathHint()
    target = max(_MIN_TARGET, _FIRST_TARGET_SHARE * gap_tol)
    coef, n_iter, n_passes, history = coef0, 0, 0, []
    while True:
        result = working_set_prox_newton(objective, coef, l1=l1, tol=target, max_iter=max_iter - n_iter,
                                         hint=hint, callback=_numbered_after(callback, n_iter))
        smooth = result.objective - float(l1.value(result.coef))
        passes_before = objective.n_passes
        gap = duality_gap(objective, result.coef, l1, value_grad=(smooth, result.grad),
                          proba=result.proba).gap
        n_iter += result.n_iter
        n_passes += result.n_passes + objective.n_passes - passes_before
        history += result.history if not history else result.history[1:]
        if math.isnan(gap):  # no certificate to be had: the KKT violation decides, as without gap_tol
            target = tol
            if result.grad_max <= tol:
                break
        elif gap <= gap_tol or target <= _MIN_TARGET:
            break
        else:
            target = max(_MIN_TARGET, target * _TARGET_FALL)
        if n_iter >= max_iter or not result.converged or result.message == STOPPED_BY_HOOK:
            break
        coef = result.coef
        hint.working_set, hint.grad = coef != 0, result.grad
    _conclude(result, gap, gap_tol, n_iter)
    result.n_iter, result.n_passes, result.history, result.duality_gap = n_iter, n_passes, history, gap
    return result


def _conclude(result: SolverResult, gap: float, gap_tol: float, n_iter: int) -> None:
    """The whole solve's verdict on the last round's ``result``: converged when the gap certifies."""
    if result.message == STOPPED_BY_HOOK or math.isnan(gap):
        return
    certified = gap <= gap_tol
    result.converged = certified
    verdict = "<=" if certified else ">"
    result.message = (f"duality gap {gap:.3g} {verdict} gap_tol {gap_tol:g} (KKT violation "
                      f"{result.grad_max:.3g}) after {n_iter} proximal Newton steps")


def _numbered_after(
    callback: Callable[[int, float, float], None] | None, done: int,
) -> Callable[[int, float, float], None] | None:
    """``callback`` (and the iterate hook it carries) with iterations numbered after ``done``."""
    if callback is None or done == 0:
        return callback
    hook = iterate_hook(callback)

    def progress(iteration: int, f: float, measure: float) -> None:
        callback(done + iteration, f, measure)

    if hook is None:
        return progress
    return SolverCallbacks(progress, lambda iteration, coef: hook(done + iteration, coef))
