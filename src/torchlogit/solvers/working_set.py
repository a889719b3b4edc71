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
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from torchlogit.core.objective import Objective
from torchlogit.core.penalties import L1Penalty, L2Penalty
from torchlogit.solvers._result import (
    STOPPED_BY_HOOK,
    IterateHook,
    SolverCallbacks,
    SolverResult,
    iterate_hook,
)
from torchlogit.solvers.prox_newton import WarmStart, prox_newton
from torchlogit.solvers.sparse_cd import sparse_cd, sparse_cd_applies

# a working set wider than this share of the columns is solved on the full problem directly
_MAX_SHARE = 0.6
_MAX_ROUNDS = 50
# KKT violators let into the working set per round, at least (celer's first working set); a round
# lets in at most as many as the set already holds, so it grows geometrically
_FIRST_ENTRANTS = 100
# a narrow problem is solved to this share of the largest KKT violation left outside its set
_INNER_SHARE = 0.3


@dataclass
class ColumnCache:
    """A narrow copy of a source: its columns ``features`` (in the order they joined) as an objective."""

    features: np.ndarray | None = None
    objective: Objective | None = None
    hessian: tuple | None = None  # the last Hessian block on these columns, for the next fit
    full_hessian: tuple | None = None  # the same when the full problem was solved directly


@dataclass
class PathHint:
    """What a path hands from one fit to the next: the column copy, and guesses for the next fit."""

    cache: ColumnCache = field(default_factory=ColumnCache)
    working_set: Tensor | None = None  # bool, coef's shape: coefficients expected to be active
    grad: Tensor | None = None  # the smooth gradient at the starting point (ranks likely entrants)
    value: float | None = None  # the smooth objective there, when ``grad`` is of this fit's objective


def working_set_prox_newton(
    objective: Objective, coef0: Tensor, *, l1: L1Penalty, tol: float = 1e-8, max_iter: int = 100,
    hint: PathHint | None = None, callback: Callable[[int, float, float], None] | None = None,
) -> SolverResult:
    """Minimise ``objective + l1`` by proximal Newton on working sets of columns.

    Parameters
    ----------
    objective, coef0, l1, tol, max_iter : as for :func:`~torchlogit.solvers.prox_newton.prox_newton`
    hint : a :class:`PathHint` to reuse along a path (its cache grows); None for a single fit,
        which ranks the columns by their KKT violation at ``coef0`` (one pass) and starts from
        the worst ``_FIRST_ENTRANTS``
    callback : called as ``callback(iteration, objective, kkt_violation)`` after each proximal
        Newton step (on a working set, the violation is the narrow problem's); its iterate hook
        (:class:`~torchlogit.solvers._result.SolverCallbacks`), if any, gets the full problem's
        coefficients (zero outside the set) and may stop the solve (with that round's certificate)

    Returns
    -------
    SolverResult
        For the full problem; ``n_passes`` counts the narrow passes and the full ones alike.
    """
    hint = hint if hint is not None else PathHint()
    working_set, grad0, cache = hint.working_set, hint.grad, hint.cache
    if sparse_cd_applies(objective):  # sparse binomial rows: sweeps over columns, no Hessian block
        return sparse_cd(objective, coef0, l1=l1, tol=tol, max_iter=max_iter, callback=callback)
    if not objective.source.selects_columns:
        return prox_newton(objective, coef0, l1=l1, tol=tol, max_iter=max_iter, working_set=working_set,
                           callback=callback)
    d = objective.source.n_features
    passes_before = objective.n_passes
    task = _Task(l1=l1, tol=tol, max_iter=max_iter, callback=callback, iterates=_FullIterates.of(callback))
    rounds = _Rounds(coef=coef0.clone(), wanted=_first_columns(coef0, l1, working_set, d), grad=grad0,
                     value=hint.value if grad0 is not None else None)
    if grad0 is None and (optimal := _rank_at_start(objective, rounds, task)) is not None:
        return optimal
    for _ in range(_MAX_ROUNDS):
        # 1. a narrow copy holding every wanted column (False: too wide, or the source cannot)
        if not _copy_columns(objective, cache, rounds, l1.strength):
            break
        # 2. proximal Newton on the narrow problem
        narrow = _solve_narrow(objective, cache, rounds, task)
        # 3. the certificate: one pass, every column's KKT condition
        f_smooth, grad = objective.value_grad(rounds.coef)
        kkt = l1.min_norm_subgradient(rounds.coef, grad).abs()
        if float(kkt.max()) <= tol or not narrow.converged or task.stopped:
            return _certified(rounds, task, narrow, f_smooth, grad, float(kkt.max()),
                              n_passes=rounds.n_passes + objective.n_passes - passes_before)
        # 4. the worst violators join the working set
        _grow(rounds, kkt[:, :d], tol)
        rounds.grad, rounds.value = grad, f_smooth
    # too wide, a source without columns, or no progress: the full problem directly
    result = prox_newton(objective, rounds.coef, l1=l1, tol=tol, max_iter=max(max_iter - rounds.n_iter, 0),
                         working_set=working_set, warm=WarmStart(cache.full_hessian),
                         callback=task.callback_after(rounds))
    cache.full_hessian = result.hessian
    result.n_iter += rounds.n_iter
    result.n_passes = rounds.n_passes + objective.n_passes - passes_before
    return result


def _rank_at_start(objective: Objective, rounds: _Rounds, task: _Task) -> SolverResult | None:
    """For a fit without a path's hint: one pass ranks the columns and the worst violators form
    the first working set; the certified result instead if the start is already optimal."""
    f_smooth, rounds.grad = objective.value_grad(rounds.coef)
    rounds.value = f_smooth
    kkt = task.l1.min_norm_subgradient(rounds.coef, rounds.grad).abs()
    if float(kkt.max()) <= task.tol:
        return _certified(rounds, task, None, f_smooth, rounds.grad, float(kkt.max()), n_passes=1)
    _grow(rounds, kkt[:, : objective.source.n_features], task.tol)
    return None


def _first_columns(coef0: Tensor, l1: L1Penalty, working_set: Tensor | None, d: int) -> np.ndarray:
    """The feature columns every working set holds: non-zero at the start, unpenalised, guessed."""
    wanted = ((coef0[:, :d] != 0).any(0) | (l1.strength[:d] == 0)).cpu().numpy()
    if working_set is not None:
        wanted |= working_set[:, :d].any(0).cpu().numpy()
    return wanted


@dataclass(frozen=True)
class _Task:
    """The full problem's L1 term and stopping rule."""

    l1: L1Penalty
    tol: float
    max_iter: int
    callback: Callable[[int, float, float], None] | None = None
    iterates: _FullIterates | None = None

    @property
    def stopped(self) -> bool:
        """Whether the iterate hook asked to stop."""
        return self.iterates is not None and self.iterates.stopped

    def callback_after(
        self, rounds: _Rounds, columns: Tensor | None = None,
    ) -> Callable[[int, float, float], None] | None:
        """The callback of a solve after ``rounds`` (on the full problem, or on its ``columns``):
        iterations numbered on, and iterates widened to the full problem for the hook."""
        progress = _counting_on(self.callback, rounds.n_iter)
        if self.iterates is None:
            return progress
        return SolverCallbacks(progress, self.iterates.after(rounds.n_iter, rounds.coef, columns))


@dataclass
class _FullIterates:
    """The full problem's iterate hook, fed by the solves of the rounds; remembers a stop."""

    hook: IterateHook
    stopped: bool = False

    @classmethod
    def of(cls, callback: Callable[[int, float, float], None] | None) -> _FullIterates | None:
        """For the iterate hook ``callback`` carries, if any."""
        hook = iterate_hook(callback)
        return None if hook is None else cls(hook)

    def after(self, done: int, template: Tensor, columns: Tensor | None) -> IterateHook:
        """A solve's hook: its iterations numbered after the ``done`` of earlier rounds, and the
        coefficients of a narrow solve (on ``columns``) widened to ``template``'s shape."""

        def on_iterate(iteration: int, coef: Tensor) -> bool:
            full = coef if columns is None else _widened(template, columns, coef)
            self.stopped = bool(self.hook(done + iteration, full)) or self.stopped
            return self.stopped

        return on_iterate


@dataclass
class _Rounds:
    """What the working-set rounds carry: the full coefficients and the columns wanted next."""

    coef: Tensor
    wanted: np.ndarray  # bool per feature column: the narrow copy must hold it
    grad: Tensor | None  # the smooth gradient at ``coef``, if known (ranks likely entrants)
    value: float | None = None  # the smooth objective at ``coef``, if known with ``grad``
    outside: float = 0.0  # the largest KKT violation of a column outside the set
    n_iter: int = 0
    n_passes: int = 0  # passes over the narrow copies
    history: list[dict[str, float]] = field(default_factory=list)


def _copy_columns(objective: Objective, cache: ColumnCache, rounds: _Rounds, lam: Tensor) -> bool:
    """Make ``cache`` hold every wanted column (plus likely entrants by ``|∂F/∂W_j| / lam_j``),
    copying them out once; False when that is wider than ``_MAX_SHARE`` of the columns or the
    source cannot hand out columns."""
    d = objective.source.n_features
    have = np.zeros(d, dtype=bool)
    if cache.features is not None:
        have[cache.features] = True
    if cache.objective is not None and np.all(have[rounds.wanted]):
        return True
    extra = _likely_entrants(rounds.grad, lam, rounds.wanted | have, d)
    # the columns held keep their places and the new ones follow, so the copy can be extended
    held = cache.features if cache.features is not None else np.zeros(0, dtype=np.int64)
    features = np.r_[held, np.flatnonzero((rounds.wanted | extra) & ~have)].astype(np.int64)
    previous = None if cache.objective is None else cache.objective.source
    source = objective.source.select_columns(features, previous) if len(features) <= _MAX_SHARE * d else None
    if source is None:
        return False
    cache.hessian = _remap(cache.hessian, len(held), len(features), _intercept(objective))
    cache.features = features
    names = objective.column_names
    cache.objective = Objective(source, n_outputs=objective.coef_shape[0],
                                fit_intercept=objective.fit_intercept, l2=None, dtype=objective.dtype,
                                device=objective.device, feature_names=[names[j] for j in features])
    return True


def _solve_narrow(objective: Objective, cache: ColumnCache, rounds: _Rounds, task: _Task) -> SolverResult:
    """Proximal Newton on the cached columns (warm-started from their last Hessian block);
    ``rounds.coef`` becomes its answer, zero on every other column."""
    columns = torch.as_tensor(np.r_[cache.features, _intercept(objective)].astype(np.int64),
                              device=rounds.coef.device)
    l2 = None if objective.l2 is None else L2Penalty(objective.l2.strength[columns])
    # no tighter than the violations still outside call for: the set will grow again anyway
    tol = max(task.tol, _INNER_SHARE * rounds.outside)
    # F and ∇F at the start are known from the last full pass: the narrow solve need not repeat it
    known = None if rounds.value is None or rounds.grad is None else (rounds.value, rounds.grad[:, columns])
    result = prox_newton(cache.objective.with_l2(l2), rounds.coef[:, columns],
                         l1=L1Penalty(task.l1.strength[columns]), tol=tol,
                         max_iter=max(task.max_iter - rounds.n_iter, 0), warm=WarmStart(cache.hessian, known),
                         callback=task.callback_after(rounds, columns))
    cache.hessian = result.hessian
    rounds.n_iter += result.n_iter
    rounds.n_passes += result.n_passes
    rounds.history += result.history
    rounds.coef = _widened(rounds.coef, columns, result.coef)
    return result


def _widened(template: Tensor, columns: Tensor, narrow: Tensor) -> Tensor:
    """The narrow coefficients on ``columns``, zero on every other column of ``template``'s shape."""
    full = template.new_zeros(template.shape)
    full[:, columns] = narrow
    return full


def _grow(rounds: _Rounds, kkt: Tensor, tol: float) -> None:
    """Let the feature columns whose KKT violation (largest over outputs) exceeds ``tol`` join the
    working set, worst first, at most ``max(_FIRST_ENTRANTS, columns already wanted)`` of them: a
    set that grows geometrically from the columns that matter most, instead of every violator at
    once (at a small penalty nearly every column violates at the start). ``rounds.outside``
    becomes the largest violation left outside the set."""
    violation = kkt.max(0).values.cpu().numpy()
    violation[rounds.wanted] = 0.0
    violators = np.flatnonzero(violation > tol)
    budget = max(_FIRST_ENTRANTS, int(rounds.wanted.sum()))
    if len(violators) > budget:
        violators = violators[np.argpartition(-violation[violators], budget - 1)[:budget]]
    rounds.wanted[violators] = True
    violation[violators] = 0.0
    rounds.outside = float(violation.max()) if violation.size else 0.0


def _certified(
    rounds: _Rounds, task: _Task, narrow: SolverResult | None, f_smooth: float, grad: Tensor, kkt: float, *,
    n_passes: int,
) -> SolverResult:
    """The full problem's result from the last narrow solve (None: the start was optimal) and the
    certificate's pass (F, ∇F and the largest KKT violation ``kkt`` over every column)."""
    converged = kkt <= task.tol
    if converged:
        message = (f"KKT violation {kkt:.3g} <= tol {task.tol:g} on every column after {rounds.n_iter} "
                   "proximal Newton steps on working sets")
    else:
        message = STOPPED_BY_HOOK if task.stopped else narrow.message
    return SolverResult(
        coef=rounds.coef, n_iter=rounds.n_iter, converged=converged, grad_max=kkt,
        objective=f_smooth + float(task.l1.value(rounds.coef)), n_passes=n_passes,
        history=rounds.history, message=message, grad=grad,
    )


def _counting_on(
    callback: Callable[[int, float, float], None] | None, done: int,
) -> Callable[[int, float, float], None] | None:
    """``callback`` with iterations numbered after the ``done`` steps of earlier rounds."""
    if callback is None:
        return None
    return lambda iteration, f, kkt: callback(done + iteration, f, kkt)


def _intercept(objective: Objective) -> list[int]:
    """The intercept's column (after the features), as a list to append to the narrow columns."""
    return [objective.source.n_features] if objective.fit_intercept else []


def _remap(hessian: tuple | None, width_old: int, width_new: int, intercept: list[int]) -> tuple | None:
    """A Hessian block over the narrow coefficients of a copy of ``width_old`` feature columns,
    indexed for a copy that appends columns to them (``width_new`` in all): the features keep their
    places and the intercept, after them, moves, so the new copy's first fit can start from it."""
    if hessian is None or width_old == 0:
        return None
    index, H = hessian
    old_cols, new_cols = width_old + len(intercept), width_new + len(intercept)
    position = np.r_[np.arange(width_old), np.full(len(intercept), width_new)].astype(np.int64)
    rows, cols = np.divmod(index, old_cols)
    return rows * new_cols + position[cols], H


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
