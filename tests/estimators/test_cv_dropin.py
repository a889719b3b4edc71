"""LogisticRegressionCV as a drop-in for scikit-learn 1.9.1's: answers checked against scikit-learn itself.

scikit-learn's fold fits stop at its ``tol``; where coefficients are compared to 1e-5 both sides
run at tight tolerances (scikit-learn's 'newton-cholesky', 'saga' or 'liblinear' at 1e-10..1e-12).
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris, load_wine, make_classification
from sklearn.linear_model import LogisticRegressionCV as SkLogisticRegressionCV
from sklearn.metrics import accuracy_score, get_scorer
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

from torchlogit import LogisticRegressionCV

# the new layout and explicit grids, so neither side warns about scikit-learn's changing defaults
QUIET = {"scoring": "neg_log_loss", "use_legacy_attributes": False}


def _fit_recording(estimator, X, y, **fit_params):
    """Fit, returning the (category, message) of every FutureWarning/UserWarning it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X, y, **fit_params)
    return [(w.category, str(w.message)) for w in caught if w.category in (FutureWarning, UserWarning)]


def _both(**params):
    return SkLogisticRegressionCV(**params), LogisticRegressionCV(**params)


def _data(n_classes, n=90, seed=0):
    return make_classification(n_samples=n, n_features=4, n_informative=3, n_redundant=0,
                               n_classes=n_classes, random_state=seed)


def test_default_arguments_choose_scikit_learns_c_and_warn_alike_on_iris():
    X, y = load_iris(return_X_y=True)
    theirs, ours = _both()
    assert _fit_recording(ours, X, y) == _fit_recording(theirs, X, y)  # scoring, l1_ratios, layout
    np.testing.assert_array_equal(ours.C_, theirs.C_)  # 21.54 (log-loss scoring chose 166.8)
    np.testing.assert_array_equal(ours.Cs_, theirs.Cs_)
    assert ours.scores_.keys() == theirs.scores_.keys()
    # held-out accuracies: at C >= 1e3 scikit-learn's lbfgs stops (tol=1e-4) short of the optimum,
    # which moves at most one of a fold's 30 points
    for label in theirs.scores_:
        np.testing.assert_allclose(ours.scores_[label], theirs.scores_[label], atol=1 / 30 + 1e-12)
        np.testing.assert_allclose(ours.scores_[label].mean(axis=0), theirs.scores_[label].mean(axis=0),
                                   atol=1 / 150 + 1e-12)
    # (the refits start from the folds' mean coefficients and both stop as soon as max |gradient| is
    # below tol=1e-4, far from the optimum on iris's flat objective: coefficients are compared at tight
    # tolerances below)
    assert ours.score(X, y) == accuracy_score(y, ours.predict(X))


# scikit-learn 1.9.1's choice with default arguments on the standardised data (its raw fits of these
# two stop at max_iter with ConvergenceWarnings): LogisticRegressionCV().fit(StandardScaler()
# .fit_transform(X), y).C_ is np.logspace(-4, 4, 10)[4] = 0.3594 and [3] = 0.04642
@pytest.mark.parametrize(("loader", "index"), [(load_breast_cancer, 4), (load_wine, 3)])
def test_default_arguments_choose_scikit_learns_c_on_standardised_data(loader, index):
    X, y = loader(return_X_y=True)
    ours = LogisticRegressionCV(l1_ratios=(0,), scoring=None, use_legacy_attributes=True)
    ours.fit(StandardScaler().fit_transform(X), y)
    np.testing.assert_array_equal(ours.C_, np.full(len(ours.coef_), np.logspace(-4, 4, 10)[index]))


@pytest.mark.parametrize("legacy", [True, False])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_l2_paths_refit_and_scores_match_at_tight_tolerance(n_classes, legacy):
    X, y = _data(n_classes)
    weights = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    params = {"Cs": [0.01, 0.3, 10.0], "cv": 3, "l1_ratios": (0.0,), "scoring": "neg_log_loss",
              "tol": 1e-10, "class_weight": "balanced", "use_legacy_attributes": legacy}
    theirs = SkLogisticRegressionCV(solver="newton-cholesky", **params).fit(X, y, sample_weight=weights)
    ours = LogisticRegressionCV(**params).fit(X, y, sample_weight=weights)
    np.testing.assert_array_equal(ours.C_, theirs.C_)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-5)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-5)
    if legacy:
        assert ours.coefs_paths_.keys() == theirs.coefs_paths_.keys()
        for label in theirs.coefs_paths_:
            np.testing.assert_allclose(ours.coefs_paths_[label], theirs.coefs_paths_[label], rtol=1e-5)
            np.testing.assert_allclose(ours.scores_[label], theirs.scores_[label], rtol=1e-8)
    else:
        np.testing.assert_allclose(ours.coefs_paths_, theirs.coefs_paths_, rtol=1e-5)
        np.testing.assert_allclose(ours.scores_, theirs.scores_, rtol=1e-8)
    assert ours.n_iter_.shape == theirs.n_iter_.shape
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y), rel=1e-8)
    assert ours.score(X, y) == get_scorer("neg_log_loss")(ours, X, y)


@pytest.mark.parametrize("refit", [True, False])
def test_elastic_net_grid_chooses_and_averages_as_scikit_learn(refit):
    X, y = _data(3)
    # an array: scikit-learn 1.9.1's refit=False indexes l1_ratios with an array (a tuple fails there)
    params = {"Cs": [0.05, 0.5, 5.0], "cv": 3, "l1_ratios": np.array([0.0, 0.5, 1.0]), "solver": "saga",
              "refit": refit, **QUIET}
    theirs = SkLogisticRegressionCV(tol=1e-12, max_iter=100_000, **params).fit(X, y)
    ours = LogisticRegressionCV(tol=1e-10, **params).fit(X, y)
    assert (ours.C_, ours.l1_ratio_) == (theirs.C_, theirs.l1_ratio_)
    np.testing.assert_allclose(ours.coefs_paths_, theirs.coefs_paths_, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(ours.scores_, theirs.scores_, rtol=1e-8)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-5, atol=1e-8)
    assert hasattr(ours, "best_estimator_") == refit


def _layout(model):
    """What a caller sees of the fitted attributes: types, shapes, dict keys, the grid of l1_ratios."""
    def describe(value):
        if isinstance(value, dict):
            return {key: np.shape(item) for key, item in value.items()}
        return type(value).__name__, np.shape(value)

    names = ("C_", "l1_ratio_", "coefs_paths_", "scores_", "n_iter_", "Cs_", "coef_", "intercept_")
    return {name: describe(getattr(model, name)) for name in names} | {
        "l1_ratios_": model.l1_ratios_.tolist()}


@pytest.mark.parametrize("refit", [True, False])
@pytest.mark.parametrize("l1_ratios", [None, (0,), np.array([0.0, 1.0])], ids=["None", "0", "grid"])
@pytest.mark.parametrize("legacy", [True, False])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_attribute_layouts_and_warnings_are_scikit_learns(n_classes, legacy, l1_ratios, refit):
    X, y = _data(n_classes, n=40)
    theirs, ours = _both(Cs=2, cv=2, l1_ratios=l1_ratios, solver="saga", tol=1e-2, refit=refit,
                         scoring="neg_log_loss", use_legacy_attributes=legacy)
    assert _fit_recording(ours, X, y) == _fit_recording(theirs, X, y)
    assert _layout(ours) == _layout(theirs)
    if legacy:
        assert ours.C_.dtype == theirs.C_.dtype and ours.l1_ratio_.dtype == theirs.l1_ratio_.dtype
    if l1_ratios is None or len(l1_ratios) == 1:  # on a grid scikit-learn's loose saga may choose otherwise
        np.testing.assert_array_equal(ours.l1_ratio_, theirs.l1_ratio_)  # None, 0 or 0.0 as scikit-learn


@pytest.mark.parametrize(
    ("params", "n_classes"),
    [
        ({"solver": "lbfgs", "l1_ratios": (1,)}, 2),
        ({"solver": "newton-cholesky", "l1_ratios": (0.5,)}, 2),
        ({"solver": "liblinear", "l1_ratios": (0.5,)}, 2),
        ({"solver": "saga", "dual": True}, 2),
        ({"solver": "liblinear", "l1_ratios": (0,)}, 3),
        ({"penalty": "elasticnet", "solver": "saga", "l1_ratios": None}, 2),
        ({"solver": "saga", "l1_ratios": [0.5, 2.0]}, 2),
    ],
)
def test_bad_combinations_raise_scikit_learns_errors(params, n_classes):
    X, y = _data(n_classes, n=30)
    theirs, ours = _both(scoring="neg_log_loss", use_legacy_attributes=False, **params)
    with pytest.raises(ValueError) as expected, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        theirs.fit(X, y)
    with pytest.raises(ValueError) as raised, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ours.fit(X, y)
    assert str(raised.value) == str(expected.value)


def test_deprecated_penalty_warns_and_fits_as_scikit_learn():
    X, y = _data(2, n=60)
    theirs, ours = _both(penalty="l1", solver="saga", Cs=[0.1, 1.0], cv=3, tol=1e-12, max_iter=100_000,
                         l1_ratios=(0.5,), **QUIET)
    assert _fit_recording(ours, X, y) == _fit_recording(theirs, X, y)  # 'penalty' and l1_ratios warnings
    assert (ours.C_, ours.l1_ratio_) == (theirs.C_, theirs.l1_ratio_)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-5, atol=1e-8)


def test_liblinear_penalises_the_intercept_through_intercept_scaling():
    X, y = _data(2, n=80, seed=1)
    params = {"Cs": [0.1, 1.0], "cv": 3, "l1_ratios": (0.0,), "solver": "liblinear",
              "intercept_scaling": 2.5, **QUIET}
    theirs = SkLogisticRegressionCV(tol=1e-12, max_iter=10_000, **params).fit(X, y)
    ours = LogisticRegressionCV(tol=1e-10, **params).fit(X, y)
    np.testing.assert_allclose(ours.coefs_paths_, theirs.coefs_paths_, rtol=1e-5)
    # scikit-learn 1.9.1 refits with intercept_scaling=1 (its refit call leaves it out); so do we
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-5)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-5)


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # scikit-learn's fold fits, not ours
def test_folds_missing_a_class_score_with_every_label():
    X, y = load_iris(return_X_y=True)  # sorted labels: KFold(3) holds out one whole class each time
    params = {"cv": KFold(3), "Cs": [1e-6, 1e-2, 10.0], "l1_ratios": (0,), "scoring": "neg_brier_score",
              "use_legacy_attributes": False}
    theirs = SkLogisticRegressionCV(solver="newton-cholesky", tol=1e-10, **params).fit(X, y)
    ours = LogisticRegressionCV(tol=1e-10, **params).fit(X, y)
    assert ours.C_ == theirs.C_ == 1e-6
    np.testing.assert_allclose(ours.scores_, theirs.scores_, rtol=1e-5)


def test_cs_keep_their_order_and_a_custom_scorer_is_called_per_fold_and_c():
    X, y = _data(2, n=60)
    calls = []

    def scorer(model, X, y, sample_weight=None):
        calls.append(model.coef_.copy())
        return -float(np.abs(model.coef_).sum())  # prefers the strongest penalty

    theirs, ours = _both(Cs=[1.0, 0.01, 0.1], cv=2, l1_ratios=(0,), scoring=scorer,
                         use_legacy_attributes=False)
    theirs.fit(X, y)
    n_calls = len(calls)
    ours.fit(X, y)
    assert len(calls) - n_calls == n_calls == 6
    np.testing.assert_array_equal(ours.Cs_, theirs.Cs_)
    assert ours.C_ == theirs.C_ == 0.01
    assert np.argmax(ours.scores_[0, 0]) == np.argmax(theirs.scores_[0, 0]) == 1
    assert ours.score(X, y) == scorer(ours, X, y)


def test_metadata_beyond_sample_weight_is_refused():
    X, y = _data(2, n=30)
    ours = LogisticRegressionCV(l1_ratios=(0,), **QUIET)
    with pytest.raises(ValueError, match="only supported if enable_metadata_routing=True"):
        ours.fit(X, y, groups=np.zeros(len(y)))
