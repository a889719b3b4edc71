"""Working sets for L1 paths: solve on the columns that matter, certify on all of them.

Along a lasso path most columns stay at zero. :func:`working_set_prox_newton` copies the columns
of a working set (the non-zero ones, a strong-rule screen and a few likely entrants) out of an
in-memory source once, runs :func:`~torchlogit.solvers.prox_newton.prox_newton` on that narrow
problem, whose passes read a fraction of the data, and then certifies the answer with one pass
over every column: if a left-out coefficient violates its KKT condition, it joins the working
set and the narrow problem is solved again (glmnet's strategy). The answer is therefore the exact
optimum of the full problem. The column copy (:class:`ColumnCache`) is kept across the fits of a
path and only grows.

Sources that cannot hand out columns cheaply (streamed files) fall back to plain proximal Newton.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from torchlogit.core.objective import Objective
from torchlogit.core.penalties import L1Penalty, L2Penalty
from torchlogit.solvers._result import SolverResult
from torchlogit.solvers.prox_newton import prox_newton

# a working set wider than this share of the columns is solved on the full problem directly
_MAX_SHARE = 0.6
_MAX_ROUNDS = 50


@dataclass
class ColumnCache:
    """A narrow copy of a source: its columns ``features`` (ascending) as an objective."""

    features: np.ndarray | None = None
    objective: Objective | None = None
    hessian: tuple | None = None  # the last Hessian block on these columns, for the next fit
    full_hessian: tuple | None = None  # the same when the full problem was solved directly


def working_set_prox_newton(
    objective: Objective, coef0: Tensor, *, l1: L1Penalty, tol: float = 1e-8, max_iter: int = 100,
    working_set: Tensor | None = None, grad0: Tensor | None = None, cache: ColumnCache | None = None,
    callback: Callable[[int, float, float], None] | None = None,
) -> SolverResult:
    """Minimise ``objective + l1`` by proximal Newton on working sets of columns.

    Parameters
    ----------
    objective, coef0, l1, tol, max_iter : as for :func:`~torchlogit.solvers.prox_newton.prox_newton`
    working_set : bool Tensor of ``coef``'s shape, optional; coefficients expected to be active
    grad0 : the smooth gradient at ``coef0`` if known (ranks the likely entrants)
    cache : a :class:`ColumnCache` to reuse across calls (e.g. along a path)
    callback : passed on to each proximal Newton run (narrow runs report the narrow objective)

    Returns
    -------
    SolverResult
        For the full problem; ``n_passes`` counts the narrow passes and the full ones alike.
    """
    n_outputs = objective.coef_shape[0]
    d = objective.source.n_features
    intercept = [d] if objective.fit_intercept else []
    cache = cache if cache is not None else ColumnCache()
    lam = l1.strength
    wanted = ((coef0[:, :d] != 0).any(0) | (lam[:d] == 0)).cpu().numpy()
    if working_set is not None:
        wanted |= working_set[:, :d].any(0).cpu().numpy()
    passes_before = objective.n_passes
    n_passes = n_iter = 0
    coef = coef0.clone()
    history: list[dict[str, float]] = []
    for _ in range(_MAX_ROUNDS):
        have = np.zeros(d, dtype=bool)
        if cache.features is not None:
            have[cache.features] = True
        if cache.objective is None or not np.all(have[wanted]):
            extra = _likely_entrants(grad0, lam, wanted | have, d)
            features = np.flatnonzero(wanted | have | extra)
            source = objective.source.select_columns(features) if len(features) <= _MAX_SHARE * d else None
            if source is None:
                break
            cache.hessian = _remap(cache.hessian, cache.features, features, n_outputs, intercept)
            cache.features = features
            cache.objective = Objective(source, n_outputs=n_outputs, fit_intercept=objective.fit_intercept,
                                        l2=None, dtype=objective.dtype, device=objective.device)
        columns = torch.as_tensor(np.r_[cache.features, intercept].astype(np.int64), device=coef.device)
        narrow = cache.objective
        narrow.l2 = None if objective.l2 is None else L2Penalty(objective.l2.strength[columns])
        narrow_passes = narrow.n_passes
        result = prox_newton(narrow, coef[:, columns], l1=L1Penalty(lam[columns]), tol=tol,
                             max_iter=max(max_iter - n_iter, 1), hessian=cache.hessian, callback=callback)
        cache.hessian = result.hessian
        n_iter += result.n_iter
        n_passes += narrow.n_passes - narrow_passes
        history += result.history
        coef = coef.new_zeros(coef.shape)
        coef[:, columns] = result.coef
        f_smooth, grad = objective.value_grad(coef)  # the certificate: every column's KKT condition
        kkt = l1.min_norm_subgradient(coef, grad).abs()
        if float(kkt.max()) <= tol or not result.converged:
            return SolverResult(
                coef=coef, n_iter=n_iter, converged=float(kkt.max()) <= tol, grad_max=float(kkt.max()),
                objective=f_smooth + float(l1.value(coef)),
                n_passes=n_passes + objective.n_passes - passes_before, history=history,
                message=result.message if float(kkt.max()) > tol else
                f"KKT violation {float(kkt.max()):.3g} <= tol {tol:g} on every column after {n_iter} "
                f"proximal Newton steps on working sets", grad=grad,
            )
        violators = (kkt[:, :d] > tol).any(0).cpu().numpy()
        wanted |= violators
        grad0 = grad
    # too wide, a source without columns, or no progress: the full problem directly
    result = prox_newton(objective, coef, l1=l1, tol=tol, max_iter=max(max_iter - n_iter, 1),
                         working_set=working_set, hessian=cache.full_hessian, callback=callback)
    cache.full_hessian = result.hessian
    result.n_iter += n_iter
    result.n_passes = n_passes + objective.n_passes - passes_before
    return result


def _remap(hessian: tuple | None, old: np.ndarray | None, new: np.ndarray, n_outputs: int,
           intercept: list[int]) -> tuple | None:
    """A Hessian block over the narrow coefficients of ``old`` columns, indexed for ``new`` ones
    (``old ⊆ new``): the new copy's first fit can still start from it."""
    if hessian is None or old is None:
        return None
    index, H = hessian
    width_old, width_new = len(old) + len(intercept), len(new) + len(intercept)
    position = np.r_[np.searchsorted(new, old), [len(new)] * len(intercept)]  # old column -> new column
    rows, cols = np.divmod(index, width_old)
    return rows * width_new + position[cols], H


def _likely_entrants(grad: Tensor | None, lam: Tensor, taken: np.ndarray, d: int) -> np.ndarray:
    """A margin of columns next in line by ``|∂F/∂W_j| / λ_j`` (a quarter of the set, at least 8),
    so that the copy need not be rebuilt at the next step of a path."""
    extra = np.zeros(d, dtype=bool)
    if grad is None:
        return extra
    ratio = (grad[:, :d].abs().max(0).values / lam[:d].clamp_min(torch.finfo(lam.dtype).tiny)).cpu().numpy()
    ratio[taken] = -np.inf
    k = min(max(8, int(taken.sum()) // 4), d - int(taken.sum()))
    if k > 0:
        extra[np.argpartition(-ratio, k - 1)[:k]] = True
    return extra
