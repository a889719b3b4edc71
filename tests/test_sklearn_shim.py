"""scikit-learn's private helper behind ``torchlogit._sklearn``: fail loudly when it moves or changes."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

from torchlogit._sklearn import LinearClassifierMixin, check_sample_weight, scorer_with_labels


def test_private_sample_weight_check_is_where_we_import_it_from():
    from sklearn.utils import validation

    assert callable(validation._check_sample_weight)


def test_sample_weight_check_fills_ones_and_rejects_what_scikit_learn_rejects():
    X = np.zeros((3, 2))
    np.testing.assert_array_equal(check_sample_weight(None, X), np.ones(3))
    assert check_sample_weight([1, 2, 3], X).dtype == np.float64
    with pytest.raises(ValueError, match="Negative values"):
        check_sample_weight([1.0, -1.0, 1.0], X)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        check_sample_weight([1.0, 1.0], X)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_mixin_predicts_as_scikit_learn_from_the_same_coefficients(n_classes):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = rng.integers(0, n_classes, size=60)
    reference = SkLogisticRegression().fit(X, y)

    class Linear(LinearClassifierMixin, BaseEstimator):
        def fit(self, X, y):  # scikit-learn's check_is_fitted asks for a fit method
            return self

    ours = Linear()
    for name in ("coef_", "intercept_", "classes_", "n_features_in_"):
        setattr(ours, name, getattr(reference, name))
    for data in (X, sp.csr_matrix(X)):
        np.testing.assert_allclose(ours.decision_function(data), reference.decision_function(X), rtol=1e-12)
        np.testing.assert_array_equal(ours.predict(data), reference.predict(X))


def test_scorer_with_labels_scores_a_fold_missing_a_class_as_scikit_learn_metrics_do():
    from sklearn.metrics import log_loss

    classes = np.array([0, 1, 2])
    model = SkLogisticRegression().fit(np.eye(3), classes)
    X_fold, y_fold = np.eye(3)[:2], classes[:2]  # class 2 absent from the fold
    expected = -log_loss(y_fold, model.predict_proba(X_fold), labels=classes)
    assert scorer_with_labels("neg_log_loss", classes)(model, X_fold, y_fold) == pytest.approx(expected)
    assert scorer_with_labels("accuracy", classes)(model, X_fold, y_fold) == model.score(X_fold, y_fold)
