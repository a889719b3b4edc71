"""Profiles of the penalised likelihood: likelihood-ratio tests of ``β_j = b`` and their intervals.

The profile ``ℓ*_j(b) = max_{β_j = b} ℓ*(β)`` is a maximum over the other coefficients. ℓ* is
not concave, and far out in the profile of a separating feature the constrained problem has
several local maxima (branches that cross): a fit warm-started from a distant point can settle on
a lower branch, and a limit found there lies inside the profile region. So every constrained fit
starts from a prediction along the profile's tangent ``dβ/db = I⁻¹e_j / (I⁻¹)_jj`` (Fisher
information at the nearest point already fitted; at β̂ for the first), and a limit is accepted
only once constrained fits from the other candidate starts (the tangent at β̂, the tangents at
every point visited) find no higher maximum there; a higher one makes the point an inner one and
the search goes on from it. A start where ℓ* follows the accepted maximum's quadratic model (its
Fisher information) needs no fit, and a fit that enters that region stops there: in regular data
every start is in that basin, and these checks cost a few evaluations instead of full fits.

The limit solves ``r(b) = z`` with ``r = √(2(ℓ*(β̂) − ℓ*_j(b)))``, which is nearly linear in b
even where ℓ*_j is flat; ``r′ = −U*_j / r`` (envelope theorem: ``dℓ*_j/db`` is the score ``U*_j``
at the constrained maximum). Newton on r, kept inside the bracket once one is found (bisection
otherwise), moving outward at most ``_MAX_REACH`` times the distance from β̂_j before that.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from torchlogit._exceptions import ConvergenceWarning
from torchlogit.estimators._firth_problem import FirthPoint, FirthProblem, FitResult, _absmax

_MAX_PROFILE_STEPS = 100
_MAX_REACH = 4.0  # outward, each step moves at most this many times the current distance from β̂_j
_INFINITE_LIMIT = 1e6  # a profile still above the cut this far out has an infinite limit
_SAME_START = 1e-3  # starts this close (relative to 1 + max |β|) to one already tried are skipped
# a candidate start is in the accepted maximum's basin when ℓ* there drops at most this much below it
# and agrees with the quadratic model's drop to this share
_QUADRATIC_REACH = 2.0
_QUADRATIC_AGREEMENT = 0.1


@dataclass(frozen=True, eq=False)  # compared by identity: the search replaces a visit in place
class _Visit:
    """A fitted profile point: ``b``, its constrained maximum, and the tangent there."""

    b: float
    result: FitResult
    tangent: torch.Tensor

    def predict(self, b: float) -> torch.Tensor:
        return self.result.point.beta + (b - self.b) * self.tangent


@dataclass
class _Search:
    """One limit's root search: the bracket and every point visited, nearest-first for warm starts."""

    j: int
    sign: float
    centre: float
    inside: float
    outside: float | None = None
    visits: list[_Visit] = field(default_factory=list)

    def nearest(self, b: float) -> _Visit:
        return min(self.visits, key=lambda v: abs(v.b - b))


@dataclass(frozen=True)
class _QuadraticModel:
    """ℓ* near a constrained maximum ``m`` (coefficient ``j`` fixed): ``ℓ*(m) − ½ dᵀ I(m) d``, ``d = β − m``.

    The Fisher information is the curvature of ℓ, ℓ*'s leading part, and costs nothing more at
    ``m``. A start where ℓ* agrees with this model, and halfway to it, lies in the concave bowl
    around ``m``: a fit from it would return to ``m``, so it needs none. Under separation, a start
    near a higher branch has ℓ* far above the model (or above ℓ*(m)) and is fitted; where the
    penalty's curvature is large (small samples) the model disagrees and every start is fitted.
    """

    point: FirthPoint
    free: torch.Tensor

    @staticmethod
    def at(point: FirthPoint, j: int) -> _QuadraticModel:
        """The model at the constrained maximum ``point`` of coefficient ``j``."""
        free = torch.ones(point.beta.shape[0], dtype=torch.bool, device=point.beta.device)
        free[j] = False
        return _QuadraticModel(point, free)

    def _drop(self, step: torch.Tensor) -> float:
        return 0.5 * float(step @ (self.point.info[self.free][:, self.free] @ step))

    def explains(self, problem: FirthProblem, start: torch.Tensor, f_tol: float) -> bool:
        """Whether ℓ* at ``start`` and halfway to it is within the model's reach and agreement."""
        offset = (start - self.point.beta)[self.free]
        if self._drop(offset) > _QUADRATIC_REACH:
            return False
        for fraction in (1.0, 0.5):
            step = fraction * offset
            predicted = self._drop(step)
            trial = self.point.beta.clone()
            trial[self.free] += step
            actual = self.point.pen - problem.evaluate(trial, need_score=False).pen
            if not abs(actual - predicted) <= _QUADRATIC_AGREEMENT * predicted + f_tol:
                return False
        return True


def tangent(point: FirthPoint, j: int) -> torch.Tensor:
    """``dβ/dβ_j`` along the profile, from the Fisher information at ``point``: ``I⁻¹e_j / (I⁻¹)_jj``."""
    column = point.covariance_column(j)
    return column / column[j]


class Profiler:
    """Constrained fits and profile limits around the fitted ``beta_hat`` (whose point holds I(β̂)).

    Parameters
    ----------
    problem : the penalised likelihood
    fitted : ``problem.evaluate(beta_hat)`` at the fitted coefficients
    """

    def __init__(self, problem: FirthProblem, fitted: FirthPoint):
        self.problem = problem
        self.fitted = fitted
        self.pen_max = fitted.pen

    def constrained(self, j: int, b: float, start: torch.Tensor,
                    until: Callable[[FirthPoint], bool] | None = None) -> FitResult:
        """``max ℓ*`` with coefficient ``j`` fixed at ``b``, from ``start`` (its ``j``-th entry replaced).

        ``until``: stop early at the first iterate where it holds (see ``FirthProblem.fit``).
        """
        beta = start.clone()
        beta[j] = b
        free = torch.ones(self.problem.n_params, dtype=torch.bool, device=beta.device)
        free[j] = False
        result = self.problem.fit(beta, free, until)
        if not result.converged:
            warnings.warn(f"profile fit for coefficient {j} at {b:.6g} did not converge",
                          ConvergenceWarning, stacklevel=4)
        return result

    def statistic_at_zero(self, j: int) -> float:
        """Penalised likelihood-ratio statistic of ``β_j = 0``, from the tangent prediction at β̂."""
        beta_hat = self.fitted.beta
        start = beta_hat - beta_hat[j] * tangent(self.fitted, j)
        return max(0.0, 2 * (self.pen_max - self.constrained(j, 0.0, start).point.pen))

    def _visit(self, search: _Search, b: float, start: torch.Tensor) -> _Visit:
        result = self.constrained(search.j, b, start)
        visit = _Visit(b, result, tangent(result.point, search.j))
        search.visits.append(visit)
        return visit

    def _higher_branch(self, search: _Search, accepted: _Visit, f_tol: float) -> _Visit | None:
        """A constrained maximum at ``accepted.b`` above the accepted one, from the other candidate starts.

        Starts where ℓ* follows the accepted maximum's quadratic model are in its basin and skipped.
        """
        b, best = accepted.b, accepted
        tried = [accepted.result.point.beta]
        model = _QuadraticModel.at(accepted.result.point, search.j)

        def until(point: FirthPoint) -> bool:  # a fit entering that basin would return to the maximum
            return model.explains(self.problem, point.beta, f_tol)

        for start in self._candidates(search, accepted):
            start = start.clone()
            start[search.j] = b
            scale = _SAME_START * (1.0 + _absmax(start))
            if any(_absmax(start - seen) <= scale for seen in tried):
                continue
            tried.append(start)
            if model.explains(self.problem, start, f_tol):
                continue
            try:
                result = self.constrained(search.j, b, start, until)
            except ValueError:  # I(β) singular at this start (probabilities at 0 or 1): no candidate
                continue
            if result.point.pen > best.result.point.pen + f_tol:
                best = _Visit(b, result, tangent(result.point, search.j))
        return None if best is accepted else best

    def _candidates(self, search: _Search, accepted: _Visit) -> list[torch.Tensor]:
        """Other starts at ``accepted.b``: every visit's tangent prediction, β̂ scaled radially, β̂ itself.

        Under separation β̂ lies near a ray along which the likelihood rises, so far out the
        profile's maximiser is often near ``β̂ · b / β̂_j`` rather than near a tangent's prediction.
        """
        b, beta_hat = accepted.b, self.fitted.beta
        starts = [v.predict(b) for v in search.visits if v is not accepted]  # the first: from β̂
        if float(beta_hat[search.j]) * b > 0:
            starts.append(beta_hat * (b / float(beta_hat[search.j])))
        starts.append(beta_hat)
        return starts

    def _propose(self, search: _Search, visit: _Visit, z: float) -> float:
        """Newton on ``r(b) = z`` inside the bracket (bisection where it leaves it), or a step outward."""
        b = visit.b
        r = math.sqrt(max(0.0, 2 * (self.pen_max - visit.result.point.pen)))
        slope = float(visit.result.point.score[search.j])
        dr = -slope / r if r > 0 else math.nan
        proposal = b + (z - r) / dr if math.isfinite(dr) and dr * search.sign > 0 else math.nan
        if search.outside is None:
            reach = search.centre + _MAX_REACH * (b - search.centre)
            if not math.isfinite(proposal) or (proposal - b) * search.sign <= 0 \
                    or (proposal - reach) * search.sign > 0:
                proposal = reach
            return proposal
        low, high = sorted((search.inside, search.outside))
        return proposal if low < proposal < high else 0.5 * (low + high)

    def limit(self, j: int, sign: float, se: float, quantile: float) -> float:
        """The ``sign`` side's endpoint where ``2(ℓ*(β̂) − ℓ*_j(b))`` reaches ``quantile``."""
        z, target = math.sqrt(quantile), self.pen_max - quantile / 2
        f_tol = max(1e-10, 1e-13 * abs(target))
        centre = float(self.fitted.beta[j])
        search = _Search(j, sign, centre, inside=centre)
        search.visits.append(_Visit(centre, FitResult(self.fitted, 0, True), tangent(self.fitted, j)))
        b = centre + sign * z * max(se, 1e-8)
        for _ in range(_MAX_PROFILE_STEPS):
            visit = self._visit(search, b, search.nearest(b).predict(b))
            excess = visit.result.point.pen - target  # > 0 inside the interval
            settled = search.outside is not None \
                and abs(search.outside - search.inside) <= 1e-12 * (1 + abs(b))
            if abs(excess) <= f_tol or settled:
                better = self._higher_branch(search, visit, f_tol)
                if better is None:
                    return b
                # the bracket was found on a lower branch: continue from the higher one alone
                search.visits[search.visits.index(visit)] = better
                visit, excess, search.outside = better, better.result.point.pen - target, None
            if excess > 0:
                search.inside = b
            else:
                search.outside = b
            b = self._propose(search, visit, z)
            if abs(b - centre) > _INFINITE_LIMIT * (1 + abs(centre)):
                return sign * math.inf
        warnings.warn(f"profile limit for coefficient {j} did not converge", ConvergenceWarning, stacklevel=3)
        return b


def profile_statistics(profiler: Profiler, columns: list[int]) -> np.ndarray:
    """Penalised likelihood-ratio statistics of ``β_j = 0`` for the given internal columns."""
    return np.array([profiler.statistic_at_zero(j) for j in columns])


def profile_intervals(profiler: Profiler, se: np.ndarray, quantile: float, columns: list[int]) -> np.ndarray:
    """``(len(columns), 2)`` profile limits at the χ² ``quantile``; ``se``: every coefficient's Wald one."""
    return np.array([[profiler.limit(j, -1.0, float(se[j]), quantile),
                      profiler.limit(j, 1.0, float(se[j]), quantile)] for j in columns])
