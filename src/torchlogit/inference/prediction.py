"""Predictions at new rows with standard errors and confidence intervals, as statsmodels' ``get_prediction``.

For a binomial model with parameters θ (covariance Σ, the results' ``cov_type``) and a row x̃
(the features, with a leading 1 when an intercept was fitted):

* the linear predictor ``η = x̃ᵀθ`` has standard error ``sqrt(x̃ᵀ Σ x̃)``;
* the mean ``μ = σ(η)`` (the probability of ``classes[1]``) has the delta-method standard error
  ``μ(1 − μ) · se(η)``;
* intervals are formed on the linear predictor and mapped through the sigmoid,
  ``[σ(η − z·se(η)), σ(η + z·se(η))]`` with the normal quantile z. This is the default of
  statsmodels 0.15 (``conf_int(method='endpoint')`` of ``Logit.get_prediction``) and what R users
  form from ``predict(m, newdata, type="link", se.fit=TRUE)``; it stays inside (0, 1), unlike
  ``μ ± z·se(μ)``.

statsmodels' ``Logit.get_prediction().summary_frame()`` names the columns ``predicted``, ``se``,
``ci_lower``, ``ci_upper``; we use the names of its GLM predictions (``mean``, ``mean_se``,
``mean_ci_lower``, ``mean_ci_upper``), for both ``which='mean'`` and ``which='linear'``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy import special, stats

__all__ = ["PredictionResults", "predict_linear"]


class PredictionResults:
    """Predicted means (or linear predictors) with standard errors, as statsmodels' ``PredictionResults``.

    Attributes
    ----------
    which : ``'mean'`` (probabilities of ``classes[1]``) or ``'linear'`` (log-odds)
    predicted_mean : (n,) the predictions (statsmodels' name, also for ``which='linear'``)
    se_mean : (n,) their standard errors
    var_pred_mean : (n,) their variances
    linpred : the linear predictor's :class:`PredictionResults` (itself for ``which='linear'``)
    row_labels : the index of ``X_new`` when it was a DataFrame, else ``None``
    """

    def __init__(self, linear: np.ndarray, se_linear: np.ndarray, which: str = "mean",
                 row_labels: Any = None):
        if which not in ("mean", "linear"):
            raise ValueError(f"which must be 'mean' or 'linear', got {which!r}")
        self.which, self.row_labels = which, row_labels
        self._linear, self._se_linear = np.asarray(linear, np.float64), np.asarray(se_linear, np.float64)
        if which == "linear":
            self.predicted_mean, self.se_mean = self._linear.copy(), self._se_linear.copy()
        else:
            self.predicted_mean = special.expit(self._linear)
            self.se_mean = self.predicted_mean * special.expit(-self._linear) * self._se_linear

    @property
    def var_pred_mean(self) -> np.ndarray:
        return self.se_mean**2

    @property
    def linpred(self) -> PredictionResults:
        return self if self.which == "linear" else \
            PredictionResults(self._linear, self._se_linear, "linear", self.row_labels)

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        """``(n, 2)`` intervals at level ``1 − alpha``, formed on the linear predictor (see the module)."""
        if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        half = stats.norm.ppf(1 - alpha / 2) * self._se_linear
        bounds = np.column_stack([self._linear - half, self._linear + half])
        return bounds if self.which == "linear" else special.expit(bounds)

    def summary_frame(self, alpha: float = 0.05):
        """pandas DataFrame: ``mean``, ``mean_se``, ``mean_ci_lower``, ``mean_ci_upper``."""
        import pandas as pd

        ci = self.conf_int(alpha)
        return pd.DataFrame({"mean": self.predicted_mean, "mean_se": self.se_mean,
                             "mean_ci_lower": ci[:, 0], "mean_ci_upper": ci[:, 1]}, index=self.row_labels)

    def __repr__(self) -> str:
        return f"<PredictionResults which={self.which!r}: {len(self.predicted_mean)} rows>"


def _features(X_new: Any, names: Sequence[str]) -> tuple[Any, Any]:
    """``X_new`` as a float64 array (or CSR) with one column per name, and its row labels."""
    from sklearn.utils.validation import check_array

    labels = None
    columns = getattr(X_new, "columns", None)  # a DataFrame: match its columns by name
    if columns is not None:
        missing = [n for n in names if n not in set(map(str, columns))]
        if missing:
            raise ValueError(f"X_new lacks the model's feature column(s) {missing}; it has {list(columns)}")
        labels = X_new.index
        X_new = X_new.set_axis(list(map(str, columns)), axis=1)[list(names)]
    X = check_array(X_new, accept_sparse="csr", dtype=np.float64, ensure_2d=False)
    if X.ndim == 1:
        X = X.reshape(1, -1)
    if X.shape[1] != len(names):
        raise ValueError(f"X_new has {X.shape[1]} columns; the model has {len(names)} features {list(names)}")
    return X, labels


def predict_linear(X_new: Any, params: np.ndarray, cov: np.ndarray, names: Sequence[str],
                   has_const: bool, which: str = "mean") -> PredictionResults:
    """Predictions of a binomial model at ``X_new`` with delta-method standard errors.

    Parameters
    ----------
    X_new : array-like, CSR matrix or DataFrame of the features (no constant column); a 1-D array is one row
    params : flat parameters, ``const`` first when ``has_const``
    cov : their covariance
    names : the feature names (DataFrame columns are matched against them)
    has_const : whether ``params[0]`` is the intercept
    which : ``'mean'`` or ``'linear'``

    Raises
    ------
    ValueError
        ``X_new`` with the wrong number of columns, missing named columns, or non-finite values.
    """
    if which not in ("mean", "linear"):
        raise ValueError(f"which must be 'mean' or 'linear', got {which!r}")
    X, labels = _features(X_new, names)
    slopes, intercept = (params[1:], params[0]) if has_const else (params, 0.0)
    linear = np.asarray(X @ slopes).ravel() + intercept
    k = int(has_const)
    XS = np.asarray(X @ cov[k:, k:])
    variance = (np.asarray(X.multiply(XS).sum(axis=1)).ravel() if sp.issparse(X)
                else np.einsum("ij,ij->i", X, XS))
    if has_const:
        variance = variance + 2 * np.asarray(X @ cov[k:, 0]).ravel() + cov[0, 0]
    return PredictionResults(linear, np.sqrt(np.clip(variance, 0, None)), which, labels)
