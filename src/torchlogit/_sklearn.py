"""What torchlogit takes from scikit-learn beyond its public API, in one place.

``check_sample_weight`` wraps scikit-learn's private ``_check_sample_weight`` (the validation every
scikit-learn estimator applies to ``sample_weight``, so ours reject the same inputs with the same
messages); ``tests/test_sklearn_shim.py`` fails loudly if scikit-learn moves or changes it.
``scorer_with_labels`` reads a scorer's private ``_score_func``/``_sign``/``_response_method``/
``_kwargs``, as scikit-learn's ``_log_reg_scoring_path`` does, to hand its metric every class.
``LinearClassifierMixin`` and ``SparseCoefMixin`` are our own copies of the methods scikit-learn's
private mixins of those names give its linear classifiers, so no estimator imports
``sklearn.linear_model._base``.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import ClassifierMixin
from sklearn.metrics import get_scorer, make_scorer
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data


def check_sample_weight(sample_weight: Any, X: Any) -> np.ndarray:
    """Float64, non-negative weights of shape ``(n_samples,)``; ``None`` gives ones.

    Raises
    ------
    ValueError
        If the weights have the wrong shape, are negative or not finite.
    """
    return _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)


def scorer_with_labels(scoring: Any, classes: np.ndarray) -> Any:
    """``get_scorer(scoring)``, rebuilt with ``labels=classes`` when its metric takes ``labels``.

    Log-loss, Brier and other metrics taking ``labels`` then score a held-out fold that lacks a
    class (the last class is ``pos_label`` for two, where the metric takes one); other scorers,
    and objects without scikit-learn's private scorer attributes, are returned as they are.
    """
    scorer = get_scorer(scoring)
    func = getattr(scorer, "_score_func", None)
    parameters = inspect.signature(func).parameters if func is not None else {}
    if "labels" not in parameters:
        return scorer
    pos_label = {"pos_label": classes[-1]} if len(classes) <= 2 and "pos_label" in parameters else {}
    return make_scorer(func, greater_is_better=scorer._sign == 1, response_method=scorer._response_method,
                       labels=classes, **pos_label, **getattr(scorer, "_kwargs", {}))


class LinearClassifierMixin(ClassifierMixin):
    """``decision_function`` and ``predict`` from ``coef_``, ``intercept_`` and ``classes_``."""

    def decision_function(self, X: Any) -> np.ndarray:
        """Scores ``X·coef_ᵀ + intercept_``: shape (n_samples,) for two classes, else (n_samples, n_classes).

        For two classes a positive score predicts ``classes_[1]``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        scores = safe_sparse_dot(X, self.coef_.T, dense_output=True) + self.intercept_
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X: Any) -> np.ndarray:
        """The class of highest score for every row of ``X``."""
        scores = self.decision_function(X)
        indices = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
        return np.take(self.classes_, indices, axis=0)


class SparseCoefMixin:
    """``sparsify``/``densify``: scikit-learn's ``SparseCoefMixin`` (``sklearn.linear_model._base``), copied.

    ``coef_`` as a CSR matrix saves memory and speeds up ``decision_function`` when most
    coefficients are zero (an L1 fit); :class:`LinearClassifierMixin` scores with either.
    """

    def densify(self) -> Any:
        """Turn a sparse ``coef_`` back into a dense array (the default layout); returns self."""
        check_is_fitted(self, msg="Estimator, %(name)s, must be fitted before densifying.")
        if sp.issparse(self.coef_):
            self.coef_ = self.coef_.toarray()
        return self

    def sparsify(self) -> Any:
        """Turn ``coef_`` into a scipy CSR matrix; returns self."""
        check_is_fitted(self, msg="Estimator, %(name)s, must be fitted before sparsifying.")
        self.coef_ = sp.csr_matrix(self.coef_)
        return self
