"""Statistical inference for fitted logistic regressions, named and computed like statsmodels.

``LogisticRegression(C=np.inf).fit(X, y).summary(X, y)`` returns a :class:`LogitResults`
whose attributes follow statsmodels' ``LogitResults`` / ``MNLogitResults``: ``params``, ``bse``,
``zvalues`` (alias ``tvalues``), ``pvalues``, ``conf_int(alpha)``, ``cov_params()``, ``llf``,
``llnull``, ``llr``, ``llr_pvalue``, ``prsquared``, ``aic``, ``bic``, ``nobs``, ``df_model``,
``df_resid``, ``converged``, ``get_margeff()``, ``get_influence()``; ``print(res.summary())`` prints
a table laid out like ``Logit.summary()``, ``summary2()`` gives statsmodels' DataFrame tables,
``rich`` renders ``res`` directly, ``to_frame()``/``to_dict()``/``to_json()`` export it.

Names: fitted on a DataFrame (``feature_names_in_``) or given ``xname=``, ``params``, ``bse``,
``zvalues``/``tvalues`` and ``pvalues`` are pandas Series indexed by name (3+ classes: DataFrames,
names × modelled class), ``conf_int()`` and ``cov_params()`` DataFrames, as statsmodels with a
DataFrame (its MNLogit labels the equations 0..K-2; we use the class labels). Otherwise plain
numpy arrays, as statsmodels with arrays.

Data kept: the results from ``LogisticRegression.summary`` keep a reference to the validated
fitting data (no copy of a float array) for ``get_influence()``, ``conf_int(method='profile')``
and ``get_margeff(at=, method=, dummy=, count=, atexog=)``; the data stay in memory as long as
the results do. ``clf.summary()`` without data is not offered: the estimator keeps no sums.

Conventions
-----------
* Parameters are listed with the intercept **first**, named ``const`` (as after
  ``sm.add_constant``); features are named after ``feature_names_in_`` or ``x1 .. xd``.
* Multinomial (3+ classes): parameters are contrasts against the **first class**
  (``classes_[0]``), ``θ_k = W_k − W_0``, as statsmodels ``MNLogit``: ``params`` has shape
  ``(p, K-1)``, ``conf_int()`` ``(K-1, p, 2)``, ``cov_params()`` is over ``params.ravel('F')``
  (class by class). The estimator's centred ``coef_`` rows are converted.
* Sample weights are frequency weights: results equal statsmodels on rows repeated ``sᵢ`` times,
  and ``nobs = Σ sᵢ``.
* Statistics are z (normal) based, like statsmodels' discrete models, for every covariance type.
* ``df_model = (rank(X̃) − 1)(K − 1)`` and ``llnull`` is the intercept-only model, also without a
  fitted intercept (statsmodels' convention); ``aic = −2 llf + 2 k``, ``bic = −2 llf + log(nobs) k``
  with ``k = df_model + K − 1`` (the number of free parameters when an intercept is fitted).

Covariance types (small-sample corrections)
-------------------------------------------
* ``'nonrobust'``: inverse Fisher information ``I⁻¹``, ``I = X̃ᵀ diag(sᵢ pᵢ(1−pᵢ)) X̃``.
* ``'HC0'`` (alias ``'robust'``): sandwich ``I⁻¹ (Σ sᵢ gᵢgᵢᵀ) I⁻¹``, no correction; equals
  statsmodels ``Logit.fit(cov_type='HC0')``.
* ``'HC1'``: HC0 × ``nobs / (nobs − k_params)`` (MacKinnon & White; R's ``sandwich::vcovHC``
  and Stata). Note: statsmodels 0.14–0.15 applies *no* correction for ``cov_type='HC1'`` in
  discrete models (its HC1 equals its HC0 there, 1/1.069 of ours in standard error on spector);
  that convention is offered by name as ``'HC1-statsmodels'``, and both are stated in the footnote.
* ``'HC2'``/``'HC3'`` (two classes, unpenalised): every squared score over ``1 − hᵢ`` /
  ``(1 − hᵢ)²``, ``hᵢ = pᵢ(1 − pᵢ) x̃ᵢᵀ I⁻¹ x̃ᵢ`` (a second pass, in blocks); equals R's
  ``sandwich::vcovHC(glm, type=)``. With weights, ``hᵢ`` is that of one copy of the row
  (frequency weights: equal to the rows repeated). Refused for 3+ classes (no reference).
* ``'cluster'``: CRV1, ``I⁻¹ (Σ_g G_g G_gᵀ) I⁻¹ · G/(G−1) · (nobs−1)/(nobs−k_params)``, with
  ``G_g`` the summed scores of cluster g; equals statsmodels ``cov_type='cluster'`` (default
  ``use_correction=True``) and R's ``vcovCL(type="HC1")``. Two-way (``groups`` of shape (n, 2)):
  Cameron–Gelbach–Miller ``V_A + V_B − V_{A∩B}``, each term with its own ``G/(G−1)`` and all with
  ``(nobs−1)/(nobs−k)``, as R's ``vcovCL(cluster=~a+b, type="HC1", cadjust=TRUE, multi0=FALSE)``.
  z statistics, as statsmodels (``use_t=False``).

Marginal effects (``get_margeff()``) take statsmodels' options (:mod:`torchlogit.inference.margins`),
with delta-method standard errors from the chosen covariance and an exact (autograd) Jacobian.
"""

from __future__ import annotations

import abc
import json
import math
import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from torchlogit._validation import plain
from torchlogit.inference.hypotheses import ResultsTestsMixin
from torchlogit.inference.influence import LogitInfluence
from torchlogit.inference.margins import MarginOptions, marginal_effects
from torchlogit.inference.profile import profile_conf_int
from torchlogit.inference.sums import FitData
from torchlogit.inference.tables import HeaderLines, Section, Table, table_renderable, table_text

_COV_DESCRIPTIONS = {
    "HC1": "Standard errors are heteroscedasticity robust (HC1: HC0 × nobs/(nobs − k), as R's sandwich "
           "and Stata; statsmodels' Logit applies no factor: cov_type='HC1-statsmodels').",
    "HC1-statsmodels": "Standard errors are heteroscedasticity robust (statsmodels' Logit 'HC1': no "
                       "small-sample factor, equal to HC0; R's sandwich and Stata multiply by "
                       "nobs/(nobs − k)).",
    "HC2": "Standard errors are heteroscedasticity robust (HC2: squared scores over 1 − h, R's vcovHC).",
    "HC3": "Standard errors are heteroscedasticity robust (HC3: squared scores over (1 − h)², R's vcovHC).",
    "cluster": "Standard errors are robust to cluster correlation (CRV1, {G} clusters).",
    "cluster2": "Standard errors are robust to two-way cluster correlation (Cameron-Gelbach-Miller, {G} "
                "clusters; each term × G/(G − 1), all × (nobs − 1)/(nobs − k), as R's vcovCL(type='HC1')).",
}
_MARGEFF_LABELS = {"dydx": "dy/dx", "eyex": "d(lny)/d(lnx)", "dyex": "dy/d(lnx)", "eydx": "d(lny)/dx"}
def _check_alpha(alpha: float) -> float:
    if not (isinstance(alpha, numbers.Real) and 0 < alpha < 1):
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    return float(alpha)


def _clean(x: Any) -> Any:
    """numpy scalars/arrays → plain Python for JSON."""
    if isinstance(x, np.ndarray):
        return [_clean(v) for v in x.tolist()]
    return plain(x)


# ---------------------------------------------------------------------- what a results object holds
@dataclass(frozen=True, eq=False)
class FitOutcome:
    """The fitted model: its estimates and (penalised, for Firth) log-likelihoods.

    ``params`` is flat, in the displayed order: equation by equation, ``const`` first in each.
    """

    model: str  # 'Logit' or 'MNLogit'
    method: str  # 'MLE', 'Firth (penalised ML)' or 'L2-penalised ML'
    params: np.ndarray
    llf: float
    llnull: float
    converged: bool


@dataclass(frozen=True, eq=False)
class DataDescription:
    """What the model was fitted to: the names, the classes and the (frequency-weighted) size."""

    dep_variable: str
    exog_names: Sequence[str]  # intercept first ('const')
    classes: np.ndarray  # the estimator's classes_; the reference is classes[0]
    nobs: float  # Σ sᵢ
    df_model: float  # (rank(X̃) − 1)(K − 1)
    named: bool = False  # features named by the user (DataFrame or xname=): pandas outputs
    fit_data: FitData | None = None  # the rows and the model (a reference), for row-level statistics
    k_constant: int | None = None  # 1 with a fitted intercept, 0 without; None: read off exog_names


@dataclass(frozen=True, eq=False)
class Covariance:
    """The parameters' covariance (over the flat ``params``) and how it was estimated."""

    matrix: np.ndarray
    cov_type: str = "nonrobust"
    n_groups: int | tuple[int, ...] | None = None  # clusters, for cov_type='cluster' (two: two-way)


@dataclass(frozen=True, eq=False)
class Margins:
    """Marginal effects dP/dx (flat) with their Jacobians over the flat ``params`` (delta method)."""

    names: Sequence[str]  # the features
    overall: tuple[np.ndarray, np.ndarray]  # (effects, Jacobian), averaged over the rows
    at_mean: tuple[np.ndarray, np.ndarray] | None = None  # the same at the mean of the features


@dataclass(frozen=True, eq=False)
class LikelihoodRatioTests:
    """Profile (penalised) likelihood-ratio tests and intervals, reported instead of Wald's.

    ``statistics`` are the χ² statistics of ``params_j = 0`` (1 df) and ``pvalues`` theirs, both
    flat like ``params``; ``conf_int(alpha)`` returns the ``(n_params, 2)`` profile intervals.
    """

    statistics: np.ndarray
    pvalues: np.ndarray
    conf_int: Callable[[float], np.ndarray]


class SummaryTable:
    """A printable summary: ``str()``/``as_text()`` gives statsmodels' layout, ``rich`` a table.

    The table is built when it is shown (the header carries the date and time of printing).
    """

    def __init__(self, build: Callable[[], Table]):
        self._build = build

    def as_text(self) -> str:
        return table_text(self._build())

    def __str__(self) -> str:
        return self.as_text()

    def __rich__(self):
        return table_renderable(self._build())


class _WaldTable(abc.ABC):
    """Estimates, covariance and z tests of a parameter vector; shared by results and margins."""

    _flat: np.ndarray
    _cov: np.ndarray
    alpha: float
    _tests: LikelihoodRatioTests | None = None

    @abc.abstractmethod
    def _shaped(self, flat: np.ndarray) -> np.ndarray:
        """Arrange a flat parameter vector in the subclass's table shape."""

    @abc.abstractmethod
    def _table(self, alpha: float) -> Table:
        """The summary table at level ``1 − alpha``."""

    @property
    @abc.abstractmethod
    def _row_names(self) -> list[str]:
        """The term of every row within one group (equation or outcome)."""

    @property
    @abc.abstractmethod
    def _groups(self) -> list[str] | None:
        """The group labels (multinomial classes), or None for a single group."""

    def _statistic_flat(self) -> np.ndarray:
        """The test statistic shown in tables: Wald z, or the PLR χ² when p-values come from it."""
        if self._tests is not None:
            return self._tests.statistics
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._flat / self._bse_flat

    @property
    def _bse_flat(self) -> np.ndarray:
        """√diag; NaN where a variance is negative (a two-way cluster V_A + V_B − V_AB can be), as R."""
        variances = np.diag(self._cov)
        with np.errstate(invalid="ignore"):
            return np.sqrt(np.where(variances < 0, np.nan, variances))

    def _labelled(self, shaped: np.ndarray) -> Any:
        """The estimates' shape as returned: plain arrays here; results with names return pandas."""
        return shaped

    @property
    def bse(self) -> Any:
        """Standard errors, shaped like the estimates."""
        return self._labelled(self._shaped(self._bse_flat))

    @property
    def zvalues(self) -> Any:
        """Wald z statistics, estimate / standard error."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._labelled(self._shaped(self._flat / self._bse_flat))

    tvalues = zvalues  # statsmodels' name (its discrete models also report z)

    def _p_flat(self) -> np.ndarray:
        if self._tests is not None:
            return self._tests.pvalues
        with np.errstate(divide="ignore", invalid="ignore"):
            return 2 * stats.norm.sf(np.abs(self._flat / self._bse_flat))

    @property
    def pvalues(self) -> Any:
        """Two-sided p-values (Wald z; penalised likelihood-ratio for Firth with ``pl=True``)."""
        return self._labelled(self._shaped(self._p_flat()))

    def _ci_flat(self, alpha: float | None) -> np.ndarray:
        alpha = self.alpha if alpha is None else _check_alpha(alpha)
        if self._tests is not None:
            return self._tests.conf_int(alpha)
        q = stats.norm.ppf(1 - alpha / 2)
        se = self._bse_flat
        return np.column_stack([self._flat - q * se, self._flat + q * se])

    def _sections(self, alpha: float, labels: list[str | None]) -> tuple[Section, ...]:
        """The table's rows as plain numbers, one section per group, ``_row_names`` in each."""
        names = self._row_names
        columns = (self._flat, self._bse_flat, self._statistic_flat(), self._p_flat(), self._ci_flat(alpha))
        n = len(names)
        return tuple(Section(label, tuple(names), *(c[k * n:(k + 1) * n] for c in columns))
                     for k, label in enumerate(labels))

    def _rows(self, alpha: float | None, estimate: str) -> list[dict[str, Any]]:
        """One plain-Python dict per parameter: term, estimate, std_err, z, p_value, CI bounds."""
        ci, se, p = self._ci_flat(alpha), self._bse_flat, self._p_flat()
        names, groups = self._row_names, self._groups
        rows = []
        for i, value in enumerate(self._flat):
            row: dict[str, Any] = {} if groups is None else {"class": groups[i // len(names)]}
            row.update({"term": names[i % len(names)], estimate: value, "std_err": se[i],
                        "z": value / se[i] if se[i] > 0 else float("nan")})
            if self._tests is not None:  # penalised likelihood-ratio statistics (Firth, pl=True)
                row["chi2"] = self._tests.statistics[i]
            row.update(p_value=p[i], ci_lower=ci[i, 0], ci_upper=ci[i, 1])
            rows.append({k: _clean(v) for k, v in row.items()})
        return rows

    def _frame(self, alpha: float | None, estimate: str):
        import pandas as pd

        frame = pd.DataFrame(self._rows(alpha, estimate))
        return frame.set_index(["class", "term"] if self._groups is not None else "term")

    def summary(self, alpha: float | None = None) -> SummaryTable:
        """The statsmodels-style table: ``print()`` it, or hand it to a ``rich`` console."""
        alpha = self.alpha if alpha is None else _check_alpha(alpha)
        return SummaryTable(lambda: self._table(alpha))

    def __str__(self) -> str:
        return str(self.summary())

    def __rich__(self):
        return self.summary().__rich__()


class LogitResults(ResultsTestsMixin, _WaldTable):
    """Inference for a fitted binomial or multinomial logistic regression (statsmodels names).

    Built by :meth:`torchlogit.LogisticRegression.summary` or
    :meth:`torchlogit.estimators.firth.FirthLogisticRegression.summary`; see the module docstring for the
    conventions. Arrays are float64 numpy; with feature names (a DataFrame fit or ``xname=``) the
    estimates are pandas objects indexed by name, as statsmodels with a DataFrame.

    Parameters
    ----------
    fit : the estimates and log-likelihoods
    data : names, classes, nobs, df_model and (``data.fit_data``) the fitting data and model, a
        reference kept for :meth:`get_influence`, ``conf_int(method='profile')`` and every
        option of :meth:`get_margeff`
    covariance : the covariance of ``fit.params``, its type and the number of clusters
    alpha : default level of the intervals, ``1 − alpha``
    margins : marginal effects and their Jacobians, for :meth:`get_margeff` without ``data``
    notes : lines printed under the table
    tests : likelihood-ratio tests and intervals replacing the Wald ones (Firth, ``pl=True``)
    separation : the separating class and features, when detected

    Attributes
    ----------
    params, bse, zvalues, tvalues, pvalues : (p,) binomial, (p, K-1) multinomial; with names a
        Series (index ``exog_names``) or a DataFrame (columns ``eq_names``)
    llf, llnull, llr, llr_pvalue, prsquared, aic, bic : float
    nobs, df_model, df_resid : float (nobs is an int when the weights are)
    converged : bool
    cov_type : str ('nonrobust', 'HC0', 'HC1', 'HC1-statsmodels', 'HC2', 'HC3', 'cluster')
    n_groups : clusters (cluster), a pair for two-way clustering, else None
    exog_names : list of str, intercept first ('const')
    classes : the estimator's ``classes_``; ``reference`` is ``classes[0]``
    method : 'MLE', 'Firth (penalised ML)' or 'L2-penalised ML'
    test_label : 'z' (Wald) or 'chi2' (likelihood-ratio tests)
    notes : list of str, printed under the table
    separation : dict or None, the separating class and features when detected
    """

    def __init__(self, fit: FitOutcome, data: DataDescription, covariance: Covariance, *, alpha: float = 0.05,
                 margins: Margins | None = None, notes: Sequence[str] = (),
                 tests: LikelihoodRatioTests | None = None, separation: dict | None = None):
        self.model, self.method = fit.model, fit.method
        self._flat = np.asarray(fit.params, dtype=np.float64)
        self.llf, self.llnull = float(fit.llf), float(fit.llnull)
        self.converged = bool(fit.converged)
        self.exog_names = list(data.exog_names)
        self.classes = np.asarray(data.classes)
        self.reference = self.classes[0]
        self.k_eq = len(self.classes) - 1  # equations (non-reference classes)
        self.dep_variable = data.dep_variable
        self.named = data.named
        nobs = data.nobs
        self.nobs = int(nobs) if float(nobs).is_integer() else float(nobs)
        self.df_model = float(data.df_model)
        self.df_resid = float(nobs - data.df_model - self.k_eq)
        self._cov = np.asarray(covariance.matrix, dtype=np.float64)
        self.cov_type, self.n_groups = covariance.cov_type, covariance.n_groups
        self.alpha = _check_alpha(alpha)
        self._margins = margins
        self.notes = list(notes)
        self._tests = tests
        self.test_label = "z" if tests is None else "chi2"
        self.separation = separation
        self._data = data.fit_data
        named_const = int(self.exog_names[:1] == ["const"])
        self.k_constant = named_const if data.k_constant is None else data.k_constant
        self._profile_cache: dict[float, np.ndarray] = {}

    def _shaped(self, flat: np.ndarray) -> np.ndarray:
        flat = np.asarray(flat)
        return flat.copy() if self.k_eq == 1 else flat.reshape(self.k_eq, -1).T.copy()

    def _labelled(self, shaped: np.ndarray) -> Any:
        """A Series by name (binomial) or a DataFrame name × equation (multinomial) when named."""
        if not self.named:
            return shaped
        import pandas as pd

        if self.k_eq == 1:
            return pd.Series(shaped, index=self.exog_names)
        return pd.DataFrame(shaped, index=self.exog_names, columns=self.eq_names)

    @property
    def _param_index(self):
        """The flat parameters' labels: names, or (equation, name) pairs (statsmodels' MNLogit)."""
        import pandas as pd

        if self.k_eq == 1:
            return pd.Index(self.exog_names)
        return pd.MultiIndex.from_product([self.eq_names, self.exog_names], names=[self.dep_variable, None])

    @property
    def _row_names(self) -> list[str]:
        return self.exog_names

    @property
    def _groups(self) -> list[str] | None:
        return None if self.k_eq == 1 else self.eq_names

    @property
    def params(self) -> Any:
        """Coefficients: (p,) binomial, (p, K-1) multinomial (contrasts against ``classes[0]``)."""
        return self._labelled(self._shaped(self._flat))

    @property
    def eq_names(self) -> list[str]:
        """One label per equation: the modelled class (binomial ``classes[1]``)."""
        return [str(c) for c in self.classes[1:]]

    def conf_int(self, alpha: float | None = None, method: str | None = None) -> Any:
        """Confidence intervals at level ``1 − alpha``: (p, 2) binomial, (K-1, p, 2) multinomial.

        ``method``: None, the table's own intervals (Wald; Firth's profile penalised likelihood
        with ``pl=True``); ``'wald'``; or ``'profile'``, the likelihood-ratio intervals of an
        unpenalised fit, as R's ``confint(glm)`` (:mod:`torchlogit.inference.profile`). With
        names: a DataFrame (columns 0, 1 binomial; rows (equation, name), columns lower/upper
        multinomial, as statsmodels).
        """
        ci = self._intervals(alpha, method)
        if self.named:
            import pandas as pd

            columns = [0, 1] if self.k_eq == 1 else ["lower", "upper"]
            return pd.DataFrame(ci, index=self._param_index, columns=columns)
        return ci.copy() if self.k_eq == 1 else ci.reshape(self.k_eq, len(self.exog_names), 2)

    def _intervals(self, alpha: float | None, method: str | None) -> np.ndarray:
        """The flat (n_params, 2) intervals of ``method``."""
        if method is None:
            return self._ci_flat(alpha)
        alpha = self.alpha if alpha is None else _check_alpha(alpha)
        if method == "wald":
            q = stats.norm.ppf(1 - alpha / 2)
            return np.column_stack([self._flat - q * self._bse_flat, self._flat + q * self._bse_flat])
        if method != "profile":
            raise ValueError(f"conf_int method must be None, 'wald' or 'profile'; got {method!r}")
        if alpha not in self._profile_cache:
            self._profile_cache[alpha] = profile_conf_int(self._fit_data("conf_int(method='profile')"),
                                                          self.llf, alpha)
        return self._profile_cache[alpha]

    def cov_params(self) -> Any:
        """Covariance of ``params.ravel('F')`` (equation by equation) under ``cov_type``.

        With names, a DataFrame indexed by the parameters' labels on both sides."""
        if self.named:
            import pandas as pd

            return pd.DataFrame(self._cov, index=self._param_index, columns=self._param_index)
        return self._cov.copy()

    def _fit_data(self, what: str) -> FitData:
        """The kept fitting data, or a ValueError saying ``what`` needs them."""
        if self._data is None:
            raise ValueError(f"{what} needs the fitting data, kept by LogisticRegression.summary(X, y); "
                             "these results were built without them")
        return self._data

    @property
    def llr(self) -> float:
        """Likelihood-ratio statistic ``2 (llf − llnull)``."""
        return 2.0 * (self.llf - self.llnull)

    @property
    def llr_pvalue(self) -> float:
        """χ² p-value of ``llr`` on ``df_model`` degrees of freedom."""
        return float(stats.chi2.sf(self.llr, self.df_model))

    @property
    def prsquared(self) -> float:
        """McFadden's pseudo R², ``1 − llf/llnull``."""
        return 1.0 - self.llf / self.llnull

    @property
    def k_params(self) -> float:
        """Free parameters counted by AIC/BIC: ``df_model + K − 1``."""
        return self.df_model + self.k_eq

    @property
    def aic(self) -> float:
        return -2.0 * self.llf + 2.0 * self.k_params

    @property
    def bic(self) -> float:
        return -2.0 * self.llf + math.log(self.nobs) * self.k_params

    # ------------------------------------------------------------------ diagnostics
    def get_influence(self) -> LogitInfluence:
        """Leverage, residuals, Cook's distance and DFBETAS of every row.

        Definitions and references: :mod:`torchlogit.inference.influence`. Only for an unpenalised
        binomial fit whose results kept the data (``LogisticRegression.summary``).
        """
        data = self._fit_data("get_influence()")
        if data.penalised:
            raise ValueError("get_influence() needs an unpenalised (maximum-likelihood) fit; this model is "
                             "penalised and its hat matrix is not a projection")
        if self.k_eq > 1:
            raise ValueError("get_influence() is defined for two classes only (R's influence.measures and "
                             "statsmodels' GLMInfluence are binomial); this model has "
                             f"{len(self.classes)} classes")
        return LogitInfluence(data, self.exog_names)

    # ------------------------------------------------------------------ marginal effects
    def get_margeff(self, at: str = "overall", method: str = "dydx", atexog: dict | None = None,
                    dummy: bool = False, count: bool = False) -> MarginalEffects:
        """Marginal effects with delta-method standard errors, as statsmodels' ``get_margeff``.

        ``at``: 'overall' (average over the rows), 'mean', 'median' or 'zero'; ``method``: 'dydx',
        'eyex', 'dyex' or 'eydx'; ``atexog``: {column (exog index, const first, or name): value};
        ``dummy``/``count``: discrete changes for 0/1 and count columns
        (:mod:`torchlogit.inference.margins`). Results built without data (Firth) offer
        'overall' and 'mean' with 'dydx' only.
        """
        options = MarginOptions(at, method, atexog, dummy, count).checked()
        if self._data is not None:
            effects, jac = marginal_effects(self._data, options, self.exog_names)
            names = [n for n in self.exog_names if n != "const"] if self._data.layout.fit_intercept \
                else list(self.exog_names)
        else:
            effects, jac, names = self._stored_margins(options)
        outcome = [str(c) for c in self.classes] if self.k_eq > 1 else None
        labels = EffectLabels(names, outcome, self.model, self.dep_variable, options.at, options.method)
        return MarginalEffects(effects, jac @ self._cov @ jac.T, labels, self.alpha)

    def _stored_margins(self, options: MarginOptions) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """The effects computed with the fit (no data kept): 'overall' or 'mean', 'dydx' only."""
        plain_options = options.at in ("overall", "mean") and options.method == "dydx" and not (
            options.atexog or options.dummy or options.count)
        stored = None if self._margins is None or not plain_options else \
            (self._margins.overall if options.at == "overall" else self._margins.at_mean)
        if stored is None:
            raise ValueError("these results kept no fitting data: get_margeff supports at='overall' or "
                             "'mean' with method='dydx' only (LogisticRegression.summary keeps the data "
                             "for the rest)")
        return stored[0], stored[1], list(self._margins.names)

    @property
    def _has_margins(self) -> bool:
        return self._data is not None or self._margins is not None

    # ------------------------------------------------------------------ export
    def to_frame(self, alpha: float | None = None):
        """The coefficient table as a pandas DataFrame (index: term, or (class, term))."""
        return self._frame(alpha, "coef")

    def summary2(self, alpha: float | None = None) -> Summary2:
        """statsmodels' ``summary2()``: a table whose parts are DataFrames (``.tables``).

        ``tables[0]`` is the model's description (4 columns of labels and values), ``tables[1]``
        the coefficients (columns ``Coef.``, ``Std.Err.``, ``z``, ``P>|z|``, ``[a/2``, ``1-a/2]``,
        index the names) for two classes; 3+ classes have one coefficient table per equation
        (``tables[1:]``), as statsmodels' MNLogit.
        """
        import pandas as pd

        alpha = self.alpha if alpha is None else _check_alpha(alpha)
        stat = "chi2" if self._tests is not None else "z"
        lo, hi = f"[{alpha / 2:g}", f"{1 - alpha / 2:g}]"
        columns = ["Coef.", "Std.Err.", stat, f"P>|{stat}|", lo, hi]
        ci, n = self._ci_flat(alpha), len(self.exog_names)
        values = np.column_stack([self._flat, self._bse_flat, self._statistic_flat(), self._p_flat(), ci])
        coefficients = [pd.DataFrame(values[k * n:(k + 1) * n], index=self.exog_names, columns=columns)
                        for k in range(self.k_eq)]
        left, right = self._header()
        rows = [[lk, lv, rk, rv] for (lk, lv), (rk, rv) in zip(left, right, strict=True)]
        info = pd.DataFrame([*rows, ["AIC:", f"{self.aic:.4f}", "BIC:", f"{self.bic:.4f}"]])
        return Summary2([info, *coefficients], self.eq_names if self.k_eq > 1 else None, list(self.notes))

    def to_dict(self, alpha: float | None = None) -> dict[str, Any]:
        """Everything in the printed summary as plain Python (JSON-ready apart from non-finite floats)."""
        alpha = self.alpha if alpha is None else _check_alpha(alpha)
        out: dict[str, Any] = {
            "model": self.model, "method": self.method, "dep_variable": self.dep_variable,
            "classes": _clean(self.classes), "reference_class": _clean(self.reference),
            "cov_type": self.cov_type, "n_groups": _clean(self.n_groups), "alpha": alpha,
            "nobs": self.nobs, "df_model": self.df_model, "df_resid": self.df_resid,
            "llf": self.llf, "llnull": self.llnull, "llr": self.llr, "llr_pvalue": self.llr_pvalue,
            "prsquared": self.prsquared, "aic": self.aic, "bic": self.bic, "converged": self.converged,
            "test": self.test_label, "coefficients": self._rows(alpha, "coef"),
        }
        if self._has_margins:
            out["marginal_effects"] = self.get_margeff().to_dict(alpha)["effects"]
        out["notes"] = list(self.notes)
        if self.separation is not None:
            out["separation"] = self.separation
        return out

    def to_json(self, path: str | None = None, *, alpha: float | None = None, indent: int = 2) -> str:
        """Strict JSON (non-finite numbers become ``null``); also written to ``path`` when given."""
        text = json.dumps(_finite(self.to_dict(alpha)), indent=indent)
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
        return text

    # ------------------------------------------------------------------ display
    def _header(self) -> tuple[HeaderLines, HeaderLines]:
        """statsmodels' two header columns: the model on the left, the fit statistics on the right."""
        now = time.localtime()
        left = [
            ("Dep. Variable:", self.dep_variable), ("Model:", self.model), ("Method:", self.method),
            ("Date:", time.strftime("%a, %d %b %Y", now)), ("Time:", time.strftime("%H:%M:%S", now)),
            ("converged:", str(self.converged)), ("Covariance Type:", self.cov_type),
        ]
        nobs = f"{self.nobs}" if isinstance(self.nobs, int) else f"{self.nobs:#.6g}"
        right = [
            ("No. Observations:", nobs), ("Df Residuals:", f"{self.df_resid:g}"),
            ("Df Model:", f"{self.df_model:g}"), ("Pseudo R-squ.:", f"{self.prsquared:#6.4g}"),
            ("Log-Likelihood:", f"{self.llf:#8.5g}"), ("LL-Null:", f"{self.llnull:#8.5g}"),
            ("LLR p-value:", f"{self.llr_pvalue:#6.4g}"),
        ]
        if self.n_groups:
            shown = self.n_groups if isinstance(self.n_groups, int) else " × ".join(map(str, self.n_groups))
            left.append(("No. Clusters:", str(shown)))
            right.append(("", ""))
        return tuple(left), tuple(right)

    def _table(self, alpha: float) -> Table:
        title = "Firth Logistic Regression Results" if self.method == "Firth (penalised ML)" \
            else f"{self.model} Regression Results"
        groups = self._groups
        labels = [None] if groups is None else [f"{self.dep_variable}={eq}" for eq in groups]
        left, right = self._header()
        return Table(title, left, right, self._sections(alpha, labels), alpha, test=self.test_label,
                     notes=tuple(self.notes))

    def __repr__(self) -> str:
        return (f"<LogitResults {self.model} {self.method}: nobs={self.nobs}, llf={self.llf:.6g}, "
                f"cov_type={self.cov_type!r}>")


@dataclass(frozen=True)
class Summary2:
    """statsmodels' ``Summary`` of ``summary2()``: ``tables`` (DataFrames), ``as_text()``, ``as_html()``.

    ``tables[0]`` describes the model; ``tables[1:]`` hold the coefficients, one per equation
    (``equations`` names them, None for two classes); ``notes`` are the footnotes.
    """

    tables: list
    equations: list[str] | None
    notes: list[str]

    def _titled(self) -> list[tuple[str | None, Any]]:
        labels = [None] * len(self.tables[1:]) if self.equations is None else self.equations
        return list(zip(labels, self.tables[1:], strict=True))

    def as_text(self) -> str:
        """The tables as fixed-width text (pandas' ``to_string``), notes at the end."""
        parts = [self.tables[0].to_string(header=False, index=False)]
        for label, table in self._titled():
            parts.append(table.to_string(float_format=lambda v: f"{v:.4f}") if label is None
                         else f"= {label} =\n" + table.to_string(float_format=lambda v: f"{v:.4f}"))
        parts.extend(f"[{i + 1}] {note}" for i, note in enumerate(self.notes))
        return "\n\n".join(parts)

    def as_html(self) -> str:
        """The tables as HTML (pandas' ``to_html``)."""
        return "\n".join([self.tables[0].to_html(header=False, index=False),
                          *(table.to_html(float_format=lambda v: f"{v:.4f}") for _, table in self._titled())])

    def __str__(self) -> str:
        return self.as_text()


@dataclass(frozen=True)
class EffectLabels:
    """What marginal effects are of: the features, the outcomes (multinomial), the model, at and method."""

    names: list[str]
    outcomes: list[str] | None
    model: str
    dep_variable: str
    at: str = "overall"
    method: str = "dydx"


class MarginalEffects(_WaldTable):
    """Marginal effects of P(y = k) with respect to x_j (averaged, or at one point), delta-method errors.

    ``margeff``, ``margeff_se``, ``zvalues``, ``pvalues``: (d,) binomial (effect on P(y = classes[1])),
    (d, K) multinomial (one column per class, reference included), as statsmodels' margins.
    ``at`` and ``method`` say what they are (statsmodels' ``margeff_options``).
    """

    def __init__(self, effects: np.ndarray, cov: np.ndarray, labels: EffectLabels, alpha: float):
        self.at, self.method = labels.at, labels.method
        self._flat = np.asarray(effects, dtype=np.float64).ravel()  # multinomial: class-major (K, d)
        self._cov = cov
        self.names = labels.names
        self.outcomes = labels.outcomes
        self.alpha = alpha
        self.model, self.dep_variable = labels.model, labels.dep_variable

    @property
    def margeff_options(self) -> dict[str, str]:
        return {"at": self.at, "method": self.method}

    def _shaped(self, flat: np.ndarray) -> np.ndarray:
        flat = np.asarray(flat)
        if self.outcomes is None:
            return flat.copy()
        return flat.reshape(len(self.outcomes), len(self.names), *flat.shape[1:]).swapaxes(0, 1).copy()

    @property
    def _row_names(self) -> list[str]:
        return self.names

    @property
    def _groups(self) -> list[str] | None:
        return self.outcomes

    @property
    def margeff(self) -> np.ndarray:
        return self._shaped(self._flat)

    @property
    def margeff_se(self) -> np.ndarray:
        return self.bse

    @property
    def margeff_cov(self) -> np.ndarray:
        """Covariance of the effects (multinomial: ordered class by class)."""
        return self._cov.copy()

    def conf_int(self, alpha: float | None = None) -> np.ndarray:
        """(d, 2) binomial; (d, 2, K) multinomial (statsmodels' layout)."""
        ci = self._ci_flat(alpha)
        if self.outcomes is None:
            return ci
        return ci.reshape(len(self.outcomes), len(self.names), 2).transpose(1, 2, 0).copy()

    def summary_frame(self, alpha: float | None = None):
        """pandas DataFrame of the effects (statsmodels' name)."""
        return self._frame(alpha, self.method)

    to_frame = summary_frame

    def to_dict(self, alpha: float | None = None) -> dict[str, Any]:
        alpha = self.alpha if alpha is None else _check_alpha(alpha)
        return {"at": self.at, "method": self.method, "alpha": alpha,
                "effects": self._rows(alpha, self.method)}

    def _table(self, alpha: float) -> Table:
        labels = [None] if self.outcomes is None else [f"{self.dep_variable}={o}" for o in self.outcomes]
        left = (("Dep. Variable:", self.dep_variable), ("Method:", self.method), ("At:", self.at))
        return Table(f"{self.model} Marginal Effects", left, (("", ""),) * len(left),
                     self._sections(alpha, labels), alpha, estimate=_MARGEFF_LABELS[self.method])


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj
