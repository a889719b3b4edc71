"""Firth's bias-reduced logistic regression, with profile penalised-likelihood intervals (as R's logistf).

Firth (1993) maximises the penalised log-likelihood

.. math::

    \\ell^*(\\beta) = \\ell(\\beta) + \\tfrac12 \\log\\det I(\\beta),
    \\qquad I(\\beta) = \\tilde X^T \\operatorname{diag}(s_i p_i (1 - p_i)) \\tilde X,

(the Jeffreys-prior penalty), whose estimates are finite even under complete or quasi-complete
separation and have O(n⁻²) bias. Its score is ``U*(β) = X̃ᵀ (s(y − p) + h(½ − p))`` with ``h`` the
diagonal of the weighted hat matrix. We solve ``U* = 0`` by Fisher scoring with step halving on
``ℓ*``, capping each step at ``max_step`` (Heinze & Schemper 2002; logistf's algorithm), except
that we take exact Newton steps (the Hessian of ``ℓ*`` in closed form) wherever ``−∇²ℓ*`` is
positive definite: scoring converges only linearly and crawls far out in the profiles.

Inference follows logistf's defaults (``pl=True``):

* confidence intervals from the *profile* penalised likelihood: ``{b : 2(ℓ*(β̂) − max_{β_j=b} ℓ*) ≤
  χ²₁(1 − α)}``, the penalty always computed with the full design;
* p-values from penalised likelihood-ratio tests of ``β_j = 0`` (χ² on 1 df);
* ``llf``/``llnull``: penalised log-likelihoods of the model and of the intercept-only model (the
  slopes fixed at 0, penalty still from the full design, as logistf); ``llr`` is their LR test;
* standard errors (``bse``) from ``I(β̂)⁻¹`` (Wald), as logistf's ``vcov``.

With ``pl=False``, intervals and p-values are Wald ones. Binary outcomes only (as logistf).
The data are held as float64 tensors (a few ``n × p`` arrays): Firth's method is meant for the
small or separated samples where the MLE fails.

Example
-------
>>> from torchlogit.estimators.firth import FirthLogisticRegression
>>> firth = FirthLogisticRegression().fit(X, y)  # doctest: +SKIP
>>> print(firth.summary(X, y).summary())  # doctest: +SKIP
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import stats
from sklearn.base import BaseEstimator
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from torchlogit._exceptions import ConvergenceWarning
from torchlogit._sklearn import LinearClassifierMixin, check_sample_weight
from torchlogit._threads import single_thread_if_small
from torchlogit._validation import encode_labels, plain, resolve_device, tensor_to_numpy
from torchlogit.core.objective import columns_too_large
from torchlogit.estimators._shared import check_tol, checked_weight_sum
from torchlogit.inference.naming import feature_names
from torchlogit.inference.results import (
    Covariance,
    DataDescription,
    FitOutcome,
    LikelihoodRatioTests,
    LogitResults,
    Margins,
    _check_alpha,
)
from torchlogit.inference.summarize import class_indices, presentation_order
from torchlogit.inference.sums import SumsLayout, inference_sums

_F64 = torch.float64
_MAX_PROFILE_STEPS = 100
_INFINITE_LIMIT = 1e6  # a profile still above the cut this far out has an infinite limit
_BLOCK_ROWS = 4096


def _absmax(t: torch.Tensor) -> float:
    return float(t.abs().max()) if t.numel() else 0.0


@dataclass(frozen=True)
class FirthSettings:
    """The stopping rules and step controls of every penalised fit (see ``FirthLogisticRegression``)."""

    max_iter: int = 500
    max_step: float = 5.0
    max_halfstep: int = 25
    tol: float = 1e-10


class FirthProblem:
    """Penalised likelihood of one binary data set: evaluation, constrained fits, profiles.

    Parameters
    ----------
    X : (n, d) array; y : (n,) 0/1; sample_weight : (n,) frequency weights
    fit_intercept : bool (the intercept is the last coefficient internally)
    device : where the (float64) data and every evaluation live
    settings : iteration limits, step caps and the tolerance (default: ``FirthSettings()``)
    feature_names : the columns' names for error messages (default ``x1..xd``)
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray, *, fit_intercept: bool,
                 device: torch.device, settings: FirthSettings | None = None,
                 feature_names: Sequence[str] | None = None):
        settings = FirthSettings() if settings is None else settings
        self.feature_names = None if feature_names is None else list(feature_names)
        Xt = torch.tensor(np.asarray(X, dtype=np.float64), device=device)  # a copy: X may be read-only
        if fit_intercept:
            Xt = torch.cat([Xt, Xt.new_ones(Xt.shape[0], 1)], dim=1)
        self.X = Xt
        self.y = torch.as_tensor(np.asarray(y, dtype=np.float64), device=device)
        self.w = torch.as_tensor(np.asarray(sample_weight, dtype=np.float64), device=device)
        self.n_params = Xt.shape[1]
        self.fit_intercept = fit_intercept
        self.max_iter, self.max_step, self.max_halfstep = settings.max_iter, settings.max_step, \
            settings.max_halfstep
        # stop when max |U*| <= tol · Σ sᵢ (the score is a sum over rows) or the step is negligible
        self.score_tol = settings.tol * max(1.0, float(self.w.sum()))
        self.work = Xt.shape[0] * self.n_params**2  # multiply-adds of one information matrix

    def evaluate(self, beta: torch.Tensor, need_score: bool = True):
        """``(ℓ*, ℓ, U*, I)`` at ``beta``; ℓ* is ``-inf`` where ``I`` is singular."""
        X, y, w = self.X, self.y, self.w
        eta = X @ beta
        p = torch.sigmoid(eta)
        v = w * p * (1 - p)
        info = X.T @ (X * v[:, None])
        loglik = -torch.dot(w, (1 - y) * eta - torch.nn.functional.logsigmoid(eta))
        chol, bad = torch.linalg.cholesky_ex(info)
        if int(bad) != 0:
            return -math.inf, float(loglik), None, info
        penalised = float(loglik) + float(torch.log(torch.diagonal(chol)).sum())  # ½ log det I
        if not need_score:
            return penalised, float(loglik), None, info
        Z = torch.linalg.solve_triangular(chol, X.T, upper=False)  # L⁻¹ X̃ᵀ, so h = v · ‖col‖²
        hat = v * (Z * Z).sum(0)
        score = X.T @ (w * (y - p) + hat * (0.5 - p))
        return penalised, float(loglik), score, info

    def hessian(self, beta: torch.Tensor, info: torch.Tensor) -> torch.Tensor:
        """Exact Hessian of ℓ*: ``−I + ½ X̃ᵀdiag(v″q)X̃ − ½ [tr(I⁻¹ ∂_a I I⁻¹ ∂_b I)]_ab``.

        With ``v = s p(1−p)``, ``v′ = v(1−2p)``, ``v″ = v(1−6p+6p²)``, ``q_i = x̃ᵢᵀI⁻¹x̃ᵢ`` and
        ``∂_a I = X̃ᵀ diag(v′ x̃_a) X̃``; costs ``n p³``, fine for the data Firth's method is for.
        """
        X, w = self.X, self.w
        p = torch.sigmoid(X @ beta)
        v = w * p * (1 - p)
        chol, bad = torch.linalg.cholesky_ex(info)
        if int(bad) != 0:
            raise ValueError("Firth's fit: the Fisher information became singular; the design is (nearly) "
                             "rank deficient or too badly scaled: standardise the features")
        inv = torch.cholesky_inverse(chol)
        q = ((X @ inv) * X).sum(1)
        hess = -info + 0.5 * X.T @ (X * (v * (1 - 6 * p + 6 * p * p) * q)[:, None])
        k = X.shape[1]
        d_info = X.new_zeros(k, k, k)
        for start in range(0, X.shape[0], _BLOCK_ROWS):
            Xb = X[start : start + _BLOCK_ROWS]
            vb = (v * (1 - 2 * p))[start : start + _BLOCK_ROWS]
            outer = (Xb[:, :, None] * Xb[:, None, :]).reshape(len(Xb), k * k)
            d_info += ((Xb * vb[:, None]).T @ outer).reshape(k, k, k)
        B = inv @ d_info  # B_a = I⁻¹ ∂_a I
        return hess - 0.5 * torch.einsum("acd,bdc->ab", B, B)

    def _direction(self, beta: torch.Tensor, score: torch.Tensor, info: torch.Tensor,
                   free: torch.Tensor) -> torch.Tensor:
        """Newton step on the free coordinates where −∇²ℓ* is positive definite, else Fisher scoring."""
        neg_hess = -self.hessian(beta, info)[free][:, free]
        chol, bad = torch.linalg.cholesky_ex(neg_hess)
        rhs = score[free][:, None]
        if int(bad) == 0:
            return torch.cholesky_solve(rhs, chol)[:, 0]
        try:
            return torch.linalg.solve(info[free][:, free], rhs)[:, 0]
        except torch.linalg.LinAlgError as exc:
            raise ValueError(f"Firth's fit could not solve for its step ({exc}); the design is (nearly) rank "
                             "deficient or too badly scaled: standardise the features") from exc

    def fit(self, beta0: torch.Tensor, free: torch.Tensor | None = None,
            ) -> tuple[torch.Tensor, float, int, bool, torch.Tensor]:
        """Maximise ℓ* over the coordinates in ``free`` (bool mask; all by default), the rest fixed.

        Returns ``(beta, ℓ*, n_iter, converged, U*)``.
        """
        beta = beta0.clone()
        free = torch.ones(self.n_params, dtype=torch.bool, device=beta.device) if free is None else free
        pen, _, score, info = self.evaluate(beta)
        if not math.isfinite(pen):
            self._check_scale(info)
            raise ValueError("the Fisher information is singular: the columns of X (with the intercept) are "
                             "linearly dependent, or there are fewer rows than coefficients; Firth's "
                             "penalty log det I(β) needs a full-rank design")
        for it in range(1, self.max_iter + 1):
            step = self._direction(beta, score, info, free)
            biggest = _absmax(step)
            if biggest > self.max_step:
                step = step * (self.max_step / biggest)
            for _ in range(self.max_halfstep + 1):
                trial = beta.clone()
                trial[free] += step
                pen_new, _, score_new, info_new = self.evaluate(trial)
                if pen_new >= pen:
                    break
                step = step / 2
            else:  # no ascent left along the scoring direction: the optimum to rounding level
                return beta, pen, it, True, score
            gain = pen_new - pen
            beta, pen, score, info = trial, pen_new, score_new, info_new
            if _absmax(score[free]) <= self.score_tol:
                return beta, pen, it, True, score
            # at rounding level (far out in a profile ℓ* is flat): no measurable gain from a tiny step
            if gain <= 1e-13 * max(1.0, abs(pen)) and _absmax(step) <= 1e-7 * (1.0 + _absmax(beta)):
                return beta, pen, it, True, score
        return beta, pen, self.max_iter, False, score

    def _check_scale(self, info: torch.Tensor) -> None:
        """Raise ValueError naming the feature columns whose ``Σ vᵢxᵢⱼ²`` overflowed float64."""
        n_features = self.n_params - int(self.fit_intercept)
        columns = torch.nonzero(~torch.isfinite(info.diagonal()[:n_features])).flatten().tolist()
        if not columns:
            return
        names = self.feature_names or [f"x{j + 1}" for j in range(n_features)]
        raise ValueError(columns_too_large([names[j] for j in columns], _F64))

    def profile(self, j: int, value: float, start: torch.Tensor) -> tuple[float, torch.Tensor, float]:
        """``max ℓ*`` with coefficient ``j`` fixed at ``value``: ``(ℓ*, maximiser, dℓ*/d value)``.

        The derivative of the profile is ``U*_j`` at the constrained maximum (envelope theorem).
        """
        beta = start.clone()
        beta[j] = value
        free = torch.ones(self.n_params, dtype=torch.bool, device=beta.device)
        free[j] = False
        beta, pen, _, converged, score = self.fit(beta, free)
        if not converged:
            warnings.warn(f"profile fit for coefficient {j} at {value:.6g} did not converge",
                          ConvergenceWarning, stacklevel=3)
        return pen, beta, float(score[j])

    def profile_interval(self, j: int, beta_hat: torch.Tensor, pen_max: float, se: float,
                         alpha: float) -> tuple[float, float]:
        """Endpoints where the profile penalised LR statistic reaches ``χ²₁(1 − α)``.

        Safeguarded Newton on ``ℓ*_prof(b) − (ℓ*(β̂) − χ²/2)``, whose derivative is the profile's
        score, from the Wald limit; the bracket, once found, only shrinks (bisection fallback).
        """
        quantile = stats.chi2.ppf(1 - alpha, 1)
        target = pen_max - quantile / 2
        centre = float(beta_hat[j])
        f_tol = max(1e-10, 1e-13 * abs(target))
        ends = []
        for sign in (-1.0, 1.0):
            inside, outside, start = centre, None, beta_hat
            value = centre + sign * math.sqrt(quantile) * max(se, 1e-8)
            for _ in range(_MAX_PROFILE_STEPS):
                pen, start, slope = self.profile(j, value, start)
                excess = pen - target  # > 0 inside the interval
                if abs(excess) <= f_tol:
                    break
                if excess > 0:
                    inside = value
                else:
                    outside = value
                proposal = value - excess / slope if slope != 0 else math.nan
                if outside is None:  # still inside: move outwards, at most 4× the distance
                    reach = 4 * (value - centre)
                    if not math.isfinite(proposal) or (proposal - value) * sign <= 0 \
                            or abs(proposal - centre) > abs(reach):
                        proposal = centre + reach
                    if abs(proposal - centre) > _INFINITE_LIMIT * (1 + abs(centre)):
                        value = sign * math.inf
                        break
                elif not min(inside, outside) < proposal < max(inside, outside):
                    proposal = 0.5 * (inside + outside)
                if abs(proposal - value) <= 1e-12 * (1 + abs(value)):
                    value = proposal
                    break
                value = proposal
            else:
                warnings.warn(f"profile limit for coefficient {j} did not converge", ConvergenceWarning,
                              stacklevel=3)
            ends.append(value)
        return ends[0], ends[1]


def _check_binary(estimator: Any, y: Any) -> np.ndarray:
    y = np.asarray(y)
    check_classification_targets(y)
    classes, y_index = encode_labels(y)
    if len(classes) != 2:
        raise ValueError(f"Only binary classification is supported: Firth's method (as logistf) needs "
                         f"exactly 2 classes; the data contain {len(classes)} class"
                         f"{'' if len(classes) == 1 else 'es'}")
    estimator.classes_ = classes
    return y_index


class FirthLogisticRegression(LinearClassifierMixin, BaseEstimator):
    """Firth's bias-reduced (Jeffreys-penalised) binary logistic regression, like R's ``logistf``.

    Finite estimates under (quasi-)complete separation; ``summary()`` gives profile
    penalised-likelihood intervals and penalised likelihood-ratio p-values (see the module
    docstring for the definitions).

    Parameters
    ----------
    fit_intercept : bool, default=True
    tol : float, default=1e-10
        Stop when ``max |U*| <= tol · Σ sᵢ`` (penalised score, a sum over rows), or when a step
        no longer changes ℓ* beyond rounding.
    max_iter : int, default=500
        Fisher-scoring iterations (per fit and per profile point).
    max_step : float, default=5.0
        Largest change of any coefficient in one iteration (logistf's ``maxstep``).
    max_halfstep : int, default=25
        Step halvings per iteration (logistf's ``maxhs``).
    device : {'cpu', 'cuda', 'auto'}, default='cpu'

    Attributes
    ----------
    coef_ : (1, n_features); intercept_ : (1,); classes_ : (2,)
    loglik_ : float, the maximised penalised log-likelihood ℓ*(β̂)
    n_iter_ : int; converged_ : bool
    """

    def __init__(self, *, fit_intercept: bool = True, tol: float = 1e-10, max_iter: int = 500,
                 max_step: float = 5.0, max_halfstep: int = 25, device: str = "cpu"):
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.max_step = max_step
        self.max_halfstep = max_halfstep
        self.device = device

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _problem(self, X: np.ndarray, y_index: np.ndarray, weights: np.ndarray) -> FirthProblem:
        settings = FirthSettings(max_iter=self.max_iter, max_step=self.max_step,
                                 max_halfstep=self.max_halfstep, tol=self.tol)
        names = list(self.feature_names_in_) if hasattr(self, "feature_names_in_") else None
        return FirthProblem(X, y_index, weights, fit_intercept=self.fit_intercept,
                            device=resolve_device(self.device), settings=settings, feature_names=names)

    def _check_params(self) -> None:
        check_tol(self.tol)
        if not self.tol > 0:
            raise ValueError(f"tol must be a positive number, got {plain(self.tol)!r}")
        if not isinstance(self.max_iter, numbers.Integral) or self.max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, got {plain(self.max_iter)!r}")
        if isinstance(self.max_step, bool) or not isinstance(self.max_step, numbers.Real) \
                or not 0 < self.max_step < math.inf:
            raise ValueError(f"max_step must be a positive finite number, got {plain(self.max_step)!r}")
        if not isinstance(self.max_halfstep, numbers.Integral) or self.max_halfstep < 0:
            raise ValueError(f"max_halfstep must be a non-negative integer, got {plain(self.max_halfstep)!r}")

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> FirthLogisticRegression:
        """Maximise the penalised likelihood. ``sample_weight``: frequency weights.

        Raises
        ------
        ValueError
            For bad parameters or data (features too large for float64, weights whose sum
            overflows, a singular design), and when the fit ends with non-finite coefficients.
        """
        self._check_params()
        X, y = validate_data(self, tensor_to_numpy(X), tensor_to_numpy(y), dtype=np.float64)
        y_index = _check_binary(self, y)
        weights = check_sample_weight(tensor_to_numpy(sample_weight), X)
        checked_weight_sum(weights, _F64)
        if np.count_nonzero(np.bincount(y_index, weights=weights, minlength=2)) < 2:
            raise ValueError("sample_weight leaves only one class with positive weight; Firth's method "
                             "needs 2 classes")
        problem = self._problem(X, y_index, weights)
        with single_thread_if_small(problem.work):
            beta, pen, n_iter, converged, _ = problem.fit(problem.X.new_zeros(problem.n_params))
        if not (bool(torch.isfinite(beta).all()) and math.isfinite(pen)):
            raise ValueError(f"Firth's fit ended with non-finite coefficients or penalised log-likelihood "
                             f"({pen:g}); to fix: standardise the features")
        coef = beta.cpu().numpy()
        d = X.shape[1]
        self.coef_ = coef[None, :d].copy()
        self.intercept_ = coef[d:].copy() if self.fit_intercept else np.zeros(1)
        self.loglik_, self.n_iter_, self.converged_ = pen, n_iter, converged
        if not converged:
            warnings.warn(f"Firth's fit did not converge in {n_iter} iterations; raise max_iter",
                          ConvergenceWarning, stacklevel=2)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        p = 1 / (1 + np.exp(-self.decision_function(tensor_to_numpy(X))))
        return np.column_stack([1 - p, p])

    def summary(self, X: Any, y: Any, sample_weight: Any = None, *, alpha: float = 0.05,
                pl: bool = True, xname: list[str] | None = None, yname: str | None = None,
                ) -> LogitResults:
        """Inference as logistf's ``summary``: profile-likelihood intervals and PLR p-values.

        Pass the fitting data. ``pl=False`` gives Wald intervals and p-values instead;
        ``xname``/``yname`` name the features and target in the table.
        Returns a :class:`~torchlogit.inference.results.LogitResults` (``llf`` = penalised log-likelihood).
        """
        check_is_fitted(self)
        alpha = _check_alpha(alpha)
        X = validate_data(self, tensor_to_numpy(X), dtype=np.float64, reset=False)
        names = feature_names(self, X.shape[1], xname)
        y_index = class_indices(self.classes_, y)
        weights = check_sample_weight(tensor_to_numpy(sample_weight), X)
        problem = self._problem(X, y_index, weights)
        coef = np.r_[self.coef_[0], self.intercept_] if self.fit_intercept else self.coef_[0].copy()
        beta = torch.as_tensor(coef, dtype=_F64, device=problem.X.device)
        order = presentation_order(1, X.shape[1], self.fit_intercept)
        with single_thread_if_small(problem.work):
            pen_max, _, _, info = problem.evaluate(beta, need_score=False)
            cov = _inverse_information(info)
            pen_null = _penalised_null(problem, beta, X.shape[1])
            tests = _profile_tests(problem, beta, pen_max, np.sqrt(np.diag(cov)), order) if pl else None
        if tests is not None:
            tests.conf_int(alpha)  # computed now, like logistf, so problems surface in summary()
        sums = inference_sums(X, y_index, weights, coef[None, :],
                              SumsLayout(2, self.fit_intercept, problem.X.device))
        note = ("Firth's penalised likelihood (logistf): llf and LL-Null are penalised log-likelihoods; "
                "std err from I(β̂)⁻¹; " + ("p-values from penalised likelihood-ratio tests and intervals "
                                            "from the profile penalised likelihood." if pl else
                                            "Wald p-values and intervals."))
        fit = FitOutcome("Logit", "Firth (penalised ML)", coef[order], pen_max, pen_null, self.converged_)
        data = DataDescription(yname or str(getattr(y, "name", None) or "y"),
                               (["const"] if self.fit_intercept else []) + names, self.classes_,
                               nobs=sums.weight_sum, df_model=X.shape[1])
        margins = Margins(names, (sums.ame, sums.ame_jacobian[:, order]))
        return LogitResults(fit, data, Covariance(cov[np.ix_(order, order)]), alpha=alpha, margins=margins,
                            notes=[note], tests=tests)


def _inverse_information(info: torch.Tensor) -> np.ndarray:
    """``I(β̂)⁻¹`` (the Wald covariance), or ValueError where ``I`` is singular for these data."""
    try:
        return np.linalg.inv(info.cpu().numpy())
    except np.linalg.LinAlgError as exc:
        raise ValueError(f"the Fisher information at the fitted coefficients is singular for these data "
                         f"({exc}): pass the data the model was fitted on, with a full-rank design") from exc


def _penalised_null(problem: FirthProblem, beta: torch.Tensor, n_features: int) -> float:
    """ℓ* of the null model: slopes fixed at 0, intercept free, penalty from the full design (logistf)."""
    if not problem.fit_intercept:
        return problem.evaluate(torch.zeros_like(beta), need_score=False)[0]
    free = torch.zeros(problem.n_params, dtype=torch.bool, device=beta.device)
    free[n_features:] = True
    return problem.fit(torch.zeros_like(beta), free)[1]


def _profile_tests(problem: FirthProblem, beta: torch.Tensor, pen_max: float, se: np.ndarray,
                   order: np.ndarray) -> LikelihoodRatioTests:
    """Penalised likelihood-ratio tests of every ``β_j = 0`` and profile intervals (computed per level).

    ``order`` takes the internal (intercept last) order to the displayed one.
    """
    n_params = len(se)
    chi2 = np.array([2 * (pen_max - problem.profile(j, 0.0, beta)[0]) for j in range(n_params)])
    chi2 = np.clip(chi2, 0, None)
    cache: dict[float, np.ndarray] = {}

    def conf_int(level: float) -> np.ndarray:
        if level not in cache:
            with single_thread_if_small(problem.work):
                ci = [problem.profile_interval(j, beta, pen_max, se[j], level) for j in range(n_params)]
            cache[level] = np.asarray(ci)[order]
        return cache[level]

    return LikelihoodRatioTests(statistics=chi2[order], pvalues=stats.chi2.sf(chi2, 1)[order],
                                conf_int=conf_int)
