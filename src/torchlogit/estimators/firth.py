"""Firth's bias-reduced logistic regression, with profile penalised-likelihood intervals (as R's logistf).

Firth (1993) maximises the penalised log-likelihood

.. math::

    \\ell^*(\\beta) = \\ell(\\beta) + \\tfrac12 \\log\\det I(\\beta),
    \\qquad I(\\beta) = \\tilde X^T \\operatorname{diag}(s_i p_i (1 - p_i)) \\tilde X,

(the Jeffreys-prior penalty), whose estimates are finite even under complete or quasi-complete
separation and have O(n⁻²) bias. Its score is ``U*(β) = X̃ᵀ (s(y − p) + h(½ − p))`` with ``h`` the
diagonal of the weighted hat matrix. We solve ``U* = 0`` by Fisher scoring with step halving on
``ℓ*``, capping each step at ``max_step`` (Heinze & Schemper 2002; logistf's algorithm), and switch
to exact Newton steps (the Hessian of ℓ* in closed form) once scoring contracts slowly
(``_firth_problem.py``).

Inference follows logistf's defaults (``pl=True``):

* confidence intervals from the *profile* penalised likelihood: ``{b : 2(ℓ*(β̂) − max_{β_j=b} ℓ*) ≤
  χ²₁(1 − α)}``, the penalty always computed with the full design; the constrained maxima are
  warm-started along the profile's tangent and checked against other starts, because far out
  under separation the constrained problem has several local maxima (``_firth_profile.py``);
* p-values from penalised likelihood-ratio tests of ``β_j = 0`` (χ² on 1 df);
* ``llf``/``llnull``: penalised log-likelihoods of the model and of the intercept-only model (the
  slopes fixed at 0, penalty still from the full design, as logistf); ``llr`` is their LR test;
* standard errors (``bse``) from ``I(β̂)⁻¹`` (Wald), as logistf's ``vcov``.

With ``pl=False``, intervals and p-values are Wald ones. ``intercept_correction="flic"|"flac"``
gives Puhr et al.'s (2017) corrections, as logistf's ``flic()``/``flac()`` (``_firth_correction.py``
defines them and their inference). Binary outcomes only (as logistf). The data are held as float64
tensors (a few ``n × p`` arrays): Firth's method is meant for the small or separated samples where
the MLE fails.

Example
-------
>>> from torchlogit.estimators.firth import FirthLogisticRegression
>>> firth = FirthLogisticRegression().fit(X, y)  # doctest: +SKIP
>>> print(firth.summary(X, y).summary())  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import math
import numbers
import warnings
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
from torchlogit.estimators._firth_correction import (
    flac_fit,
    flac_problem,
    flic_intercept,
    flic_intercept_variance,
    without_indicator,
)
from torchlogit.estimators._firth_problem import FirthProblem, FirthSettings
from torchlogit.estimators._firth_profile import Profiler, profile_intervals, profile_statistics
from torchlogit.estimators._shared import check_tol, checked_weight_sum
from torchlogit.inference.naming import feature_names, names_given
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

__all__ = ["FirthLogisticRegression", "FirthProblem", "FirthSettings"]

_F64 = torch.float64
# Firth's fits and profiles chain thousands of small dense calls (a few n·p² products each, with a
# Python step between them), so a thread hand-off per call costs more than for one large product:
# one thread up to this many times _threads.SMALL_WORK per information matrix. Measured
# (busy 2-core box, n = 1000, d = 50): summary() 95 CPU-s / 294 s wall with 2 threads, 6.8 / 17 with one.
_MANY_SMALL_CALLS = 64
_CORRECTIONS = (None, "flic", "flac")
_NOTES = {
    None: "",
    "flic": " FLIC (Puhr et al. 2017): intercept refitted by ML with Firth's linear predictor as offset; "
            "its std err is logistf's √[(X̃ᵀŴX̃)⁻¹]₀₀ at FLIC's probabilities, its test and interval "
            "Wald ones; slopes' inference is Firth's.",
    "flac": " FLAC (Puhr et al. 2017): ML on data augmented with pseudo-rows weighted h/2; std err, "
            "intervals and tests from that ML fit (as logistf's flac); llf/LL-Null are Firth's.",
}


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


@dataclass(frozen=True)
class _FitData:
    """The validated fitting data: features, 0/1 labels and frequency weights."""

    X: np.ndarray
    y: np.ndarray
    weights: np.ndarray


@dataclass(frozen=True)
class _Inference:
    """What the results table needs, in the internal order (intercept last)."""

    coef: np.ndarray
    cov: np.ndarray
    pen_max: float
    pen_null: float
    tests: LikelihoodRatioTests | None


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
        Iterations (per fit and per profile point).
    max_step : float, default=5.0
        Largest change of any coefficient in one iteration (logistf's ``maxstep``).
    max_halfstep : int, default=25
        Step halvings per iteration (logistf's ``maxhs``).
    device : {'cpu', 'cuda', 'auto'}, default='cpu'
    intercept_correction : {None, 'flic', 'flac'}, default=None
        Puhr et al.'s (2017) corrections making the mean predicted probability unbiased, as
        logistf's ``flic()`` / ``flac()`` (definitions in ``estimators/_firth_correction.py``);
        they need ``fit_intercept=True``.

    Attributes
    ----------
    coef_ : (1, n_features); intercept_ : (1,); classes_ : (2,)
    firth_coef_ : (1, n_features); firth_intercept_ : (1,)
        Firth's estimates before any intercept correction (equal to ``coef_``/``intercept_``
        without one).
    loglik_ : float, the maximised penalised log-likelihood ℓ*(β̂) of Firth's fit
    n_iter_ : int; converged_ : bool
    """

    def __init__(self, *, fit_intercept: bool = True, tol: float = 1e-10, max_iter: int = 500,
                 max_step: float = 5.0, max_halfstep: int = 25, device: str = "cpu",
                 intercept_correction: str | None = None):
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.max_step = max_step
        self.max_halfstep = max_halfstep
        self.device = device
        self.intercept_correction = intercept_correction

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _settings(self) -> FirthSettings:
        return FirthSettings(max_iter=self.max_iter, max_step=self.max_step,
                             max_halfstep=self.max_halfstep, tol=self.tol)

    def _problem(self, data: _FitData) -> FirthProblem:
        names = list(self.feature_names_in_) if hasattr(self, "feature_names_in_") else None
        return FirthProblem(data.X, data.y, data.weights, fit_intercept=self.fit_intercept,
                            device=resolve_device(self.device), settings=self._settings(),
                            feature_names=names)

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
        if not any(self.intercept_correction is c or self.intercept_correction == c for c in _CORRECTIONS):
            raise ValueError(f"intercept_correction must be None, 'flic' or 'flac', got "
                             f"{plain(self.intercept_correction)!r}")
        if self.intercept_correction is not None and not self.fit_intercept:
            raise ValueError(f"intercept_correction={self.intercept_correction!r} corrects the intercept: it "
                             "needs fit_intercept=True")

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> FirthLogisticRegression:
        """Maximise the penalised likelihood, then correct the intercept if asked.

        ``sample_weight``: frequency weights.

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
        data = _FitData(X, y_index, weights)
        problem = self._problem(data)
        with _threads_for(problem):
            result = problem.fit(problem.X.new_zeros(problem.n_params))
            beta, pen = result.point.beta, result.point.pen
            if not (bool(torch.isfinite(beta).all()) and math.isfinite(pen)):
                raise ValueError(f"Firth's fit ended with non-finite coefficients or penalised "
                                 f"log-likelihood ({pen:g}); to fix: standardise the features")
            corrected = self._corrected(data, problem, beta)
        d = X.shape[1]
        self.firth_coef_, self.firth_intercept_ = self._split(beta.cpu().numpy(), d)
        self.coef_, self.intercept_ = self._split(corrected, d)
        self.loglik_, self.n_iter_, self.converged_ = pen, result.n_iter, result.converged
        if not result.converged:
            warnings.warn(f"Firth's fit did not converge in {result.n_iter} iterations; raise max_iter",
                          ConvergenceWarning, stacklevel=2)
        return self

    def _split(self, coef: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
        return coef[None, :d].copy(), (coef[d:].copy() if self.fit_intercept else np.zeros(1))

    def _corrected(self, data: _FitData, problem: FirthProblem, beta: torch.Tensor) -> np.ndarray:
        """Firth's coefficients (intercept last) after the intercept correction asked for."""
        coef = beta.cpu().numpy()
        if self.intercept_correction == "flic":
            coef = coef.copy()
            coef[-1] = flic_intercept(data.X @ coef[:-1], data.y, data.weights, coef[-1])
        elif self.intercept_correction == "flac":
            augmented = flac_problem(data.X, data.y, data.weights, _hat_values(problem, beta),
                                     device=problem.X.device, settings=self._settings())
            coef = without_indicator(flac_fit(augmented, beta).cpu().numpy(), data.X.shape[1])
        return coef

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        p = 1 / (1 + np.exp(-self.decision_function(tensor_to_numpy(X))))
        return np.column_stack([1 - p, p])

    def summary(self, X: Any, y: Any, sample_weight: Any = None, *, alpha: float = 0.05,
                pl: bool = True, xname: list[str] | None = None, yname: str | None = None,
                ) -> LogitResults:
        """Inference as logistf's ``summary``: profile-likelihood intervals and PLR p-values.

        Pass the fitting data. ``pl=False`` gives Wald intervals and p-values instead;
        ``xname``/``yname`` name the features and target in the table. With an intercept
        correction the inference is logistf's ``flic``/``flac`` one (module docstring).
        Returns a :class:`~torchlogit.inference.results.LogitResults` (``llf`` = penalised log-likelihood).
        """
        check_is_fitted(self)
        alpha = _check_alpha(alpha)
        X = validate_data(self, tensor_to_numpy(X), dtype=np.float64, reset=False)
        names = feature_names(self, X.shape[1], xname)
        weights = check_sample_weight(tensor_to_numpy(sample_weight), X)
        data = _FitData(X, class_indices(self.classes_, y), weights)
        problem = self._problem(data)
        order = presentation_order(1, X.shape[1], self.fit_intercept)
        with _threads_for(problem):
            inference = self._inference(data, problem, pl, order)
            if inference.tests is not None:
                inference.tests.conf_int(alpha)  # now, like logistf, so problems surface in summary()
        coef = inference.coef
        sums = inference_sums(X, data.y, data.weights, coef[None, :],
                              SumsLayout(2, self.fit_intercept, problem.X.device))
        tests = ("p-values from penalised likelihood-ratio tests and intervals from the profile penalised "
                 "likelihood." if pl else "Wald p-values and intervals.")
        note = ("Firth's penalised likelihood (logistf): llf and LL-Null are penalised log-likelihoods; "
                "std err from I(β̂)⁻¹; " + tests + _NOTES[self.intercept_correction])
        fit = FitOutcome("Logit", "Firth (penalised ML)", coef[order], inference.pen_max, inference.pen_null,
                         self.converged_)
        data_description = DataDescription(yname or str(getattr(y, "name", None) or "y"),
                                           (["const"] if self.fit_intercept else []) + names, self.classes_,
                                           nobs=sums.weight_sum, df_model=X.shape[1],
                                           named=names_given(self, xname), k_constant=int(self.fit_intercept))
        margins = Margins(names, (sums.ame, sums.ame_jacobian[:, order]))
        covariance = Covariance(inference.cov[np.ix_(order, order)])
        return LogitResults(fit, data_description, covariance, alpha=alpha, margins=margins, notes=[note],
                            tests=inference.tests)

    def _inference(self, data: _FitData, problem: FirthProblem, pl: bool, order: np.ndarray) -> _Inference:
        """Firth's inference at ``firth_coef_``, then the intercept correction's."""
        firth = np.r_[self.firth_coef_[0], self.firth_intercept_] if self.fit_intercept \
            else self.firth_coef_[0].copy()
        beta = torch.as_tensor(firth, dtype=_F64, device=problem.X.device)
        fitted = problem.evaluate(beta)
        pen_null = _penalised_null(problem, beta, data.X.shape[1])
        if self.intercept_correction == "flac":
            return _flac_inference(data, problem, beta, (fitted.pen, pen_null), pl, order)
        cov = _inverse_information(fitted.info)
        profiler = Profiler(problem, fitted)
        tests = _profile_tests(profiler, np.sqrt(np.diag(cov)), order) if pl else None
        inference = _Inference(firth, cov, fitted.pen, pen_null, tests)
        if self.intercept_correction == "flic":
            inference = _flic_inference(data, inference, np.r_[self.coef_[0], self.intercept_], order)
        return inference


def _threads_for(problem: FirthProblem) -> contextlib.AbstractContextManager[None]:
    """One torch thread unless each of the problem's products is large (see ``_MANY_SMALL_CALLS``)."""
    return single_thread_if_small(problem.work // _MANY_SMALL_CALLS)


def _hat_values(problem: FirthProblem, beta: torch.Tensor) -> np.ndarray:
    """Diagonal of the weighted hat matrix of the Firth fit (FLAC's pseudo-row weights are half of it)."""
    return problem.evaluate(beta).hat.cpu().numpy()


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
        return problem.evaluate(torch.zeros_like(beta), need_score=False).pen
    free = torch.zeros(problem.n_params, dtype=torch.bool, device=beta.device)
    free[n_features:] = True
    return problem.fit(torch.zeros_like(beta), free).point.pen


def _profile_tests(profiler: Profiler, se: np.ndarray, order: np.ndarray,
                   columns: list[int] | None = None) -> LikelihoodRatioTests:
    """Penalised likelihood-ratio tests of every ``β_j = 0`` and profile intervals (computed per level).

    ``columns`` are the internal indices reported (all by default), ``se`` the Wald standard errors
    of every coefficient (they place the first profile point); ``order`` takes the reported
    columns to the displayed order.
    """
    columns = list(range(profiler.problem.n_params)) if columns is None else columns
    chi2 = profile_statistics(profiler, columns)
    cache: dict[float, np.ndarray] = {}

    def conf_int(level: float) -> np.ndarray:
        if level not in cache:
            with _threads_for(profiler.problem):
                ci = profile_intervals(profiler, se, stats.chi2.ppf(1 - level, 1), columns)
            cache[level] = ci[order]
        return cache[level]

    return LikelihoodRatioTests(statistics=chi2[order], pvalues=stats.chi2.sf(chi2, 1)[order],
                                conf_int=conf_int)


def _flic_inference(data: _FitData, firth: _Inference, coef: np.ndarray, order: np.ndarray) -> _Inference:
    """FLIC: the corrected intercept with logistf's standard error and Wald test; slopes as Firth's."""
    flic_cov = flic_intercept_variance(data.X, data.weights, coef)
    cov = firth.cov.copy()
    cov[-1, :], cov[:, -1] = flic_cov[-1, :], flic_cov[:, -1]
    if firth.tests is None:
        return _Inference(coef, cov, firth.pen_max, firth.pen_null, None)
    se, display_const = math.sqrt(cov[-1, -1]), int(np.flatnonzero(order == len(coef) - 1)[0])
    statistics, pvalues = firth.tests.statistics.copy(), firth.tests.pvalues.copy()
    statistics[display_const] = (coef[-1] / se) ** 2
    pvalues[display_const] = stats.chi2.sf(statistics[display_const], 1)

    def conf_int(level: float) -> np.ndarray:
        ci = firth.tests.conf_int(level).copy()
        ci[display_const] = coef[-1] + np.array([-1.0, 1.0]) * stats.norm.ppf(1 - level / 2) * se
        return ci

    tests = LikelihoodRatioTests(statistics, pvalues, conf_int)
    return _Inference(coef, cov, firth.pen_max, firth.pen_null, tests)


def _flac_inference(data: _FitData, problem: FirthProblem, beta: torch.Tensor, firth_fit: tuple[float, float],
                    pl: bool, order: np.ndarray) -> _Inference:
    """FLAC: ML standard errors, likelihood-ratio tests and profile intervals on the augmented data."""
    d = data.X.shape[1]
    augmented = flac_problem(data.X, data.y, data.weights, _hat_values(problem, beta),
                             device=problem.X.device, settings=problem.settings)
    fitted = augmented.evaluate(flac_fit(augmented, beta))
    full_cov = _inverse_information(fitted.info)
    columns = [*range(d), d + 1]
    tests = None
    if pl:
        tests = _profile_tests(Profiler(augmented, fitted), np.sqrt(np.diag(full_cov)), order, columns)
    coef = without_indicator(fitted.beta.cpu().numpy(), d)
    return _Inference(coef, without_indicator(full_cov, d), firth_fit[0], firth_fit[1], tests)
