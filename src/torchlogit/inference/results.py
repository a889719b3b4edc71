"""Statistical inference for fitted logistic regressions, named and computed like statsmodels.

``LogisticRegression(penalty=None).fit(X, y).summary(X, y)`` returns a :class:`LogitResults`
whose attributes follow statsmodels' ``LogitResults`` / ``MNLogitResults``: ``params``, ``bse``,
``zvalues`` (alias ``tvalues``), ``pvalues``, ``conf_int(alpha)``, ``cov_params()``, ``llf``,
``llnull``, ``llr``, ``llr_pvalue``, ``prsquared``, ``aic``, ``bic``, ``nobs``, ``df_model``,
``df_resid``, ``converged``, ``get_margeff()``; ``print(res.summary())`` prints a table laid out
like ``Logit.summary()``, ``rich`` renders ``res`` directly, ``to_frame()``/``to_dict()``/
``to_json()`` export it.

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
* ``'HC1'``: HC0 × ``nobs / (nobs − k_params)`` (MacKinnon & White). Note: statsmodels 0.14–0.15
  applies *no* correction for ``cov_type='HC1'`` in discrete models (its HC1 equals its HC0 there);
  we apply the documented factor, as its OLS does.
* ``'cluster'``: CRV1, ``I⁻¹ (Σ_g G_g G_gᵀ) I⁻¹ · G/(G−1) · (nobs−1)/(nobs−k_params)``, with
  ``G_g`` the summed scores of cluster g; equals statsmodels ``cov_type='cluster'`` (default
  ``use_correction=True``). z statistics, as statsmodels (``use_t=False``).

Marginal effects (``get_margeff()``) are average dP/dx over the sample (statsmodels'
``at='overall', method='dydx'``), with delta-method standard errors from the chosen covariance
and an analytic Jacobian.
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
from torchlogit.inference.tables import HeaderLines, Section, Table, table_renderable, table_text

_COV_DESCRIPTIONS = {
    "HC1": "Standard errors are heteroscedasticity robust (HC1: HC0 × nobs/(nobs − k)).",
    "cluster": "Standard errors are robust to cluster correlation (CRV1, {G} clusters).",
}
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


@dataclass(frozen=True, eq=False)
class Covariance:
    """The parameters' covariance (over the flat ``params``) and how it was estimated."""

    matrix: np.ndarray
    cov_type: str = "nonrobust"
    n_groups: int | None = None  # clusters, for cov_type='cluster'


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
        return np.sqrt(np.clip(np.diag(self._cov), 0, None))

    @property
    def bse(self) -> np.ndarray:
        """Standard errors, shaped like the estimates."""
        return self._shaped(self._bse_flat)

    @property
    def zvalues(self) -> np.ndarray:
        """Wald z statistics, estimate / standard error."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._shaped(self._flat / self._bse_flat)

    tvalues = zvalues  # statsmodels' name (its discrete models also report z)

    def _p_flat(self) -> np.ndarray:
        if self._tests is not None:
            return self._tests.pvalues
        with np.errstate(divide="ignore", invalid="ignore"):
            return 2 * stats.norm.sf(np.abs(self._flat / self._bse_flat))

    @property
    def pvalues(self) -> np.ndarray:
        """Two-sided p-values (Wald z; penalised likelihood-ratio for Firth with ``pl=True``)."""
        return self._shaped(self._p_flat())

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


class LogitResults(_WaldTable):
    """Inference for a fitted binomial or multinomial logistic regression (statsmodels names).

    Built by :meth:`torchlogit.LogisticRegression.summary` or
    :meth:`torchlogit.estimators.firth.FirthLogisticRegression.summary`; see the module docstring for the
    conventions. All arrays are float64 numpy.

    Parameters
    ----------
    fit : the estimates and log-likelihoods
    data : names, classes, nobs and df_model
    covariance : the covariance of ``fit.params``, its type and the number of clusters
    alpha : default level of the intervals, ``1 − alpha``
    margins : marginal effects and their Jacobians, for :meth:`get_margeff`
    notes : lines printed under the table
    tests : likelihood-ratio tests and intervals replacing the Wald ones (Firth, ``pl=True``)
    separation : the separating class and features, when detected

    Attributes
    ----------
    params, bse, zvalues, tvalues, pvalues : (p,) binomial, (p, K-1) multinomial
    llf, llnull, llr, llr_pvalue, prsquared, aic, bic : float
    nobs, df_model, df_resid : float (nobs is an int when the weights are)
    converged : bool
    cov_type : str ('nonrobust', 'HC0', 'HC1', 'cluster')
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

    def _shaped(self, flat: np.ndarray) -> np.ndarray:
        flat = np.asarray(flat)
        return flat.copy() if self.k_eq == 1 else flat.reshape(self.k_eq, -1).T.copy()

    @property
    def _row_names(self) -> list[str]:
        return self.exog_names

    @property
    def _groups(self) -> list[str] | None:
        return None if self.k_eq == 1 else self.eq_names

    @property
    def params(self) -> np.ndarray:
        """Coefficients: (p,) binomial, (p, K-1) multinomial (contrasts against ``classes[0]``)."""
        return self._shaped(self._flat)

    @property
    def eq_names(self) -> list[str]:
        """One label per equation: the modelled class (binomial ``classes[1]``)."""
        return [str(c) for c in self.classes[1:]]

    def conf_int(self, alpha: float | None = None) -> np.ndarray:
        """Confidence intervals at level ``1 − alpha``: (p, 2) binomial, (K-1, p, 2) multinomial."""
        ci = self._ci_flat(alpha)
        return ci.copy() if self.k_eq == 1 else ci.reshape(self.k_eq, len(self.exog_names), 2)

    def cov_params(self) -> np.ndarray:
        """Covariance of ``params.ravel('F')`` (equation by equation) under ``cov_type``."""
        return self._cov.copy()

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

    # ------------------------------------------------------------------ marginal effects
    def get_margeff(self, at: str = "overall", method: str = "dydx") -> MarginalEffects:
        """Marginal effects dP/dx with delta-method standard errors, as statsmodels' ``get_margeff``.

        ``at='overall'`` (default): averaged over the sample; ``at='mean'``: at the (weighted)
        mean of the features. Only ``method='dydx'``.
        """
        if at not in ("overall", "mean") or method != "dydx":
            raise ValueError("get_margeff supports at='overall' or 'mean' with method='dydx'")
        margins = None if self._margins is None else \
            (self._margins.overall if at == "overall" else self._margins.at_mean)
        if margins is None:
            raise ValueError("marginal effects were not computed for this model")
        effects, jac = margins
        outcome = [str(c) for c in self.classes] if self.k_eq > 1 else None
        return MarginalEffects(effects, jac @ self._cov @ jac.T, list(self._margins.names), outcome,
                               self.alpha, self.model, self.dep_variable, at=at)

    # ------------------------------------------------------------------ export
    def to_frame(self, alpha: float | None = None):
        """The coefficient table as a pandas DataFrame (index: term, or (class, term))."""
        return self._frame(alpha, "coef")

    def to_dict(self, alpha: float | None = None) -> dict[str, Any]:
        """Everything in the printed summary as plain Python (JSON-ready apart from non-finite floats)."""
        alpha = self.alpha if alpha is None else _check_alpha(alpha)
        out: dict[str, Any] = {
            "model": self.model, "method": self.method, "dep_variable": self.dep_variable,
            "classes": _clean(self.classes), "reference_class": _clean(self.reference),
            "cov_type": self.cov_type, "n_groups": self.n_groups, "alpha": alpha,
            "nobs": self.nobs, "df_model": self.df_model, "df_resid": self.df_resid,
            "llf": self.llf, "llnull": self.llnull, "llr": self.llr, "llr_pvalue": self.llr_pvalue,
            "prsquared": self.prsquared, "aic": self.aic, "bic": self.bic, "converged": self.converged,
            "test": self.test_label, "coefficients": self._rows(alpha, "coef"),
        }
        if self._margins is not None:
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
            left.append(("No. Clusters:", str(self.n_groups)))
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


class MarginalEffects(_WaldTable):
    """Marginal effects dP(y = k)/dx_j (averaged, or at the mean) with delta-method standard errors.

    ``margeff``, ``margeff_se``, ``zvalues``, ``pvalues``: (d,) binomial (effect on P(y = classes[1])),
    (d, K) multinomial (one column per class, reference included), as statsmodels' margins.
    """

    def __init__(self, ame: np.ndarray, cov: np.ndarray, names: list[str], outcomes: list[str] | None,
                 alpha: float, model: str, dep_variable: str, at: str = "overall"):
        self.at = at  # 'overall': averaged over the rows; 'mean': at the mean of the features
        self._flat = np.asarray(ame, dtype=np.float64).ravel()  # multinomial: class-major (K, d)
        self._cov = cov
        self.names = names
        self.outcomes = outcomes
        self.alpha = alpha
        self.model, self.dep_variable = model, dep_variable

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
        return self._frame(alpha, "dydx")

    to_frame = summary_frame

    def to_dict(self, alpha: float | None = None) -> dict[str, Any]:
        alpha = self.alpha if alpha is None else _check_alpha(alpha)
        return {"at": self.at, "method": "dydx", "alpha": alpha, "effects": self._rows(alpha, "dydx")}

    def _table(self, alpha: float) -> Table:
        labels = [None] if self.outcomes is None else [f"{self.dep_variable}={o}" for o in self.outcomes]
        left = (("Dep. Variable:", self.dep_variable), ("Method:", "dydx"), ("At:", self.at))
        return Table(f"{self.model} Marginal Effects", left, (("", ""),) * len(left),
                     self._sections(alpha, labels), alpha, estimate="dy/dx")


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj
