"""``LogisticRegression`` as a drop-in for scikit-learn 1.9's: its parameters, penalties, solver names,
warnings, dtypes and ``sparsify``; every reference is scikit-learn itself."""

import inspect
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.preprocessing import StandardScaler
from support.synthetic import make_classification_data

from torchlogit import LogisticRegression

SKLEARN_SOLVERS = ("lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga")
# where our defaults differ from scikit-learn's on purpose (see the class docstring)
OUR_DEFAULTS = {"solver": "auto", "tol": 1e-8}


def _data(n_classes):
    X, y, _ = make_classification_data(n=240, d=4, n_classes=n_classes, seed=21)
    return StandardScaler().fit_transform(X), y


def _reference(**params):
    """scikit-learn's fit at a tight tolerance (its warnings silenced: sag/saga need many epochs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SkLogisticRegression(tol=1e-12, max_iter=100_000, random_state=0, **params)


def _supported(solver, l1_ratio, n_classes):
    if solver == "liblinear":
        return n_classes == 2 and l1_ratio in (0.0, 1.0)
    return solver == "saga" or l1_ratio == 0.0


def test_every_sklearn_parameter_is_accepted_with_its_default():
    ours = inspect.signature(LogisticRegression).parameters
    for name, param in inspect.signature(SkLogisticRegression).parameters.items():
        assert name in ours, name
        assert ours[name].default == OUR_DEFAULTS.get(name, param.default), name


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("solver", SKLEARN_SOLVERS)
def test_sklearn_solver_names_reach_sklearns_optimum(solver, l1_ratio, n_classes):
    X, y = _data(n_classes)
    params = {"solver": solver, "l1_ratio": l1_ratio, "C": 0.5}
    if not _supported(solver, l1_ratio, n_classes):
        with pytest.raises(ValueError) as ours:
            LogisticRegression(**params).fit(X, y)
        with pytest.raises(ValueError) as theirs:
            SkLogisticRegression(**params).fit(X, y)
        assert str(ours.value).startswith(str(theirs.value)[:40])
        return
    est = LogisticRegression(**params).fit(X, y)
    ref = _reference(**params).fit(X, y)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=1e-5, atol=1e-7)
    if l1_ratio == 1.0:
        np.testing.assert_array_equal(est.coef_ == 0, np.abs(ref.coef_) < 1e-8)


def test_l1_ratio_one_is_the_lasso_on_breast_cancer():
    """The issue's case: l1_ratio=1, C=0.1 is an L1 fit (8 non-zero coefficients in scikit-learn)."""
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    est = LogisticRegression(l1_ratio=1, C=0.1).fit(X, y)
    ref = _reference(l1_ratio=1, C=0.1, solver="saga").fit(X, y)
    assert np.count_nonzero(est.coef_) == np.count_nonzero(np.abs(ref.coef_) > 1e-8) == 8
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("intercept_scaling", [1.0, 10.0])
def test_liblinear_penalises_the_intercept_as_a_column_of_intercept_scaling(intercept_scaling):
    X, y = _data(2)
    X = X + 2.0  # an intercept far from zero, so its penalty shows
    params = {"solver": "liblinear", "C": 0.05, "intercept_scaling": intercept_scaling}
    est = LogisticRegression(**params).fit(X, y)
    ref = _reference(**params).fit(X, y)
    np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=1e-5)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-5)
    unpenalised_intercept = LogisticRegression(C=0.05).fit(X, y)
    assert abs(unpenalised_intercept.intercept_[0] - est.intercept_[0]) > 1e-3
    assert est.coef_.dtype == np.float64 == ref.coef_.dtype


# every way of naming a penalty, legacy and new: the same warnings as scikit-learn (category, text)
@pytest.mark.parametrize("params", [
    {}, {"l1_ratio": None}, {"penalty": "l2"}, {"penalty": "l1", "solver": "saga"},
    {"penalty": "l1", "l1_ratio": 1, "solver": "saga"},
    {"penalty": "elasticnet", "l1_ratio": 0.3, "solver": "saga"},
    {"penalty": None}, {"penalty": None, "C": 4.0}, {"C": np.inf}, {"n_jobs": 2},
    {"penalty": "l2", "C": np.inf},
])
def test_penalty_parameters_warn_as_sklearn(params):
    X, y = _data(2)

    def caught(cls):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            cls(**params).fit(X, y)
        return {(w.category, str(w.message)) for w in record if w.category in (FutureWarning, UserWarning)}

    assert caught(LogisticRegression) == caught(SkLogisticRegression)


@pytest.mark.parametrize("params", [
    {"penalty": "l2", "l1_ratio": 0.5}, {"penalty": "l2", "l1_ratio": 1.0},
    {"penalty": "l1", "l1_ratio": 0.5}, {"penalty": None, "l1_ratio": 0.5},
])
def test_a_penalty_contradicting_l1_ratio_is_an_error(params):
    """scikit-learn fits ``penalty`` and ignores ``l1_ratio`` (with a warning): a different model
    than asked for; here it is a ValueError."""
    X, y = _data(2)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        SkLogisticRegression(solver="saga", **params).fit(X, y)
    assert any(w.category is UserWarning for w in record)  # scikit-learn does flag it
    with pytest.raises(ValueError, match=r"l1_ratio=.* applies only to penalty='elasticnet'"):
        LogisticRegression(solver="saga", **params).fit(X, y)


@pytest.mark.parametrize("params", [{"penalty": "l1", "solver": "saga"}, {"penalty": None},
                                    {"penalty": "elasticnet", "l1_ratio": 0.3, "solver": "saga"}])
def test_legacy_penalty_fits_the_same_model_as_sklearn(params):
    X, y = _data(3)
    with warnings.catch_warnings():  # the warnings: test_penalty_parameters_warn_as_sklearn
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        est = LogisticRegression(C=0.5 if params.get("penalty") else 1.0, **params).fit(X, y)
        ref = _reference(C=0.5 if params.get("penalty") else 1.0, **params).fit(X, y)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("solver", ["auto", "lbfgs", "saga", "liblinear"])
def test_float32_input_keeps_float32_coefficients_as_sklearn(solver, sparse):
    X, y = _data(2)
    X32 = X.astype(np.float32)
    X32 = sp.csr_matrix(X32) if sparse else X32
    est = LogisticRegression(solver=solver).fit(X32, y)
    sk_solver = "lbfgs" if solver == "auto" else solver
    with warnings.catch_warnings():  # only its dtypes count (saga may stop at max_iter)
        warnings.simplefilter("ignore")
        ref = SkLogisticRegression(solver=sk_solver).fit(X32, y)
    assert est.coef_.dtype == ref.coef_.dtype
    assert est.intercept_.dtype == ref.intercept_.dtype
    # scikit-learn's float32 fit stops at its tol=1e-4; ours is the float64 optimum, rounded
    tight = _reference(solver=sk_solver).fit(X32.astype(np.float64), y)
    np.testing.assert_allclose(est.coef_, tight.coef_, rtol=1e-6)


def test_sparsify_and_densify_behave_as_sklearns():
    X, y = _data(3)
    est = LogisticRegression(l1_ratio=1, C=0.05).fit(X, y)
    ref = _reference(l1_ratio=1, C=0.05, solver="saga").fit(X, y)
    dense_scores = est.decision_function(X)
    est.sparsify()
    ref.sparsify()
    assert sp.issparse(est.coef_) and est.coef_.format == ref.coef_.format == "csr"
    assert est.coef_.nnz == ref.coef_.nnz
    np.testing.assert_allclose(est.decision_function(X), dense_scores)
    np.testing.assert_allclose(est.predict_proba(sp.csr_matrix(X)), ref.predict_proba(X), rtol=1e-5)
    est.densify()
    assert isinstance(est.coef_, np.ndarray)
    np.testing.assert_allclose(est.decision_function(X), dense_scores)
    with pytest.raises(ValueError, match="must be fitted before sparsifying"):
        LogisticRegression().sparsify()


def test_dual_is_refused_with_sklearns_message_except_for_liblinear_l2():
    X, y = _data(2)
    for solver in ("lbfgs", "saga", "auto"):
        with pytest.raises(ValueError, match=f"Solver {solver} supports only dual=False, got dual=True"):
            LogisticRegression(solver=solver, dual=True).fit(X, y)
    # the dual of liblinear's L2 problem has the primal's optimum
    est = LogisticRegression(solver="liblinear", dual=True, C=0.5).fit(X, y)
    ref = _reference(solver="liblinear", dual=True, C=0.5).fit(X, y)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-5)
