"""The scikit-learn estimator: scikit-learn's own checks, inputs of every kind, warnings."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn import datasets
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from support.synthetic import make_classification_data

from torchlogit import ConvergenceWarning, LogisticRegression, PerfectSeparationWarning
from torchlogit.data.memory import CACHE_CHUNK_VALUES
from torchlogit.estimators.logistic import newton_is_cheaper, select_solver
from torchlogit.tutorial.datasets import make_demo_data


# No check is skipped: check_array_api_input (numpy namespace) runs because conftest.py turns on
# SCIPY_ARRAY_API before scipy is imported.
@parametrize_with_checks([LogisticRegression(), LogisticRegression(solver="lbfgs", max_iter=1000)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _sk(**kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SkLogisticRegression(tol=1e-10, max_iter=10_000, **kwargs)


def test_works_in_pipeline_gridsearch_and_cross_validation():
    X, y, _ = make_classification_data(n=200, seed=2)
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    scores = cross_val_score(pipe, X, y, cv=3)
    reference = cross_val_score(make_pipeline(StandardScaler(), _sk()), X, y, cv=3)
    np.testing.assert_allclose(scores, reference)
    grid = {"C": [0.001, 0.01, 1.0]}
    search = GridSearchCV(LogisticRegression(), grid, cv=3).fit(X, y)
    sk_search = GridSearchCV(_sk(), grid, cv=3).fit(X, y)
    assert search.best_params_ == sk_search.best_params_
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               sk_search.cv_results_["mean_test_score"])
    assert clone(LogisticRegression(C=3.0)).get_params()["C"] == 3.0


def test_string_labels_and_dataframe_feature_names():
    pd = pytest.importorskip("pandas")
    X, y, _ = make_classification_data(n=150, n_classes=3, seed=4)
    labels = np.array(["cat", "dog", "emu"])[y]
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    est = LogisticRegression().fit(frame, labels)
    assert list(est.feature_names_in_) == ["a", "b", "c", "d"]
    assert list(est.classes_) == ["cat", "dog", "emu"]
    assert set(est.predict(frame)) <= {"cat", "dog", "emu"}
    np.testing.assert_allclose(est.coef_, _sk().fit(frame, labels).coef_, rtol=1e-5, atol=1e-8)


def test_torch_tensor_and_sparse_inputs_give_the_same_model():
    X, y, _ = make_classification_data(n=120, seed=7)
    X[np.abs(X) < 0.5] = 0.0
    dense = LogisticRegression().fit(X, y)
    from_tensor = LogisticRegression().fit(torch.tensor(X), torch.tensor(y))
    from_sparse = LogisticRegression().fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(from_tensor.coef_, dense.coef_, rtol=1e-12)
    np.testing.assert_allclose(from_sparse.coef_, dense.coef_, rtol=1e-10)
    np.testing.assert_allclose(from_tensor.predict_proba(torch.tensor(X)), dense.predict_proba(X))


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "newton_cg"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_rows_over_several_cache_sized_chunks_reach_sklearns_optimum(solver, n_classes):
    d = 64
    n = 2 * (CACHE_CHUNK_VALUES // d) + 1_001  # three chunks, the last one short
    X, y, sw = make_classification_data(n=n, d=d, n_classes=n_classes, seed=11, weights=True)
    est = LogisticRegression(solver=solver, tol=1e-10).fit(X, y, sample_weight=sw)
    # scikit-learn's lbfgs stops short of 1e-8 here, its newton-cholesky does not
    reference = SkLogisticRegression(solver="newton-cholesky", tol=1e-12).fit(X, y, sample_weight=sw)
    # L-BFGS at tol 1e-10 stops within ~1e-7 of the optimum, the Newton solvers within 1e-9
    atol = 1e-6 if solver == "lbfgs" else 1e-8
    np.testing.assert_allclose(est.coef_, reference.coef_, rtol=0, atol=atol)
    np.testing.assert_allclose(est.intercept_, reference.intercept_, rtol=0, atol=atol)


def test_full_batch_sgd_steps_on_every_row_however_many_chunks_a_pass_has():
    d = 64
    n = 2 * (CACHE_CHUNK_VALUES // d) + 1_001  # three cache-sized chunks for the other solvers
    X, y, sw = make_classification_data(n=n, d=d, seed=12, weights=True)
    C, rate, epochs = 0.5, 0.5, 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = LogisticRegression(solver="sgd", C=C, learning_rate=rate, max_iter=epochs)
        est.fit(X, y, sample_weight=sw)
    # numpy gradient descent on F = Σ sᵢℓᵢ/Σs + ‖w‖²/(2·C·Σs), intercept unpenalised
    coef, intercept, total = np.zeros(d), 0.0, sw.sum()
    for _ in range(epochs):
        r = sw * (1 / (1 + np.exp(-(X @ coef + intercept))) - y) / total
        coef, intercept = coef - rate * (X.T @ r + coef / (C * total)), intercept - rate * r.sum()
    np.testing.assert_allclose(est.coef_[0], coef, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(est.intercept_[0], intercept, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "newton_cg", "prox_newton"])
def test_a_fit_leaves_autograd_as_it_was_and_its_model_trainable(solver):
    X, y, _ = make_classification_data(n=200, d=4, seed=13)
    est = LogisticRegression(solver=solver, l1_ratio=0.5 if solver == "prox_newton" else 0.0).fit(X, y)
    assert not torch.is_inference_mode_enabled() and torch.is_grad_enabled()
    model = est.to_model()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(torch.tensor(X)).squeeze(1),
                                                                torch.tensor(y, dtype=torch.float64))
    loss.backward()  # the fitted coefficients start a new autograd graph
    assert all(p.grad is not None for p in model.parameters())


def test_float32_matches_float64_closely():
    X, y, _ = make_classification_data(n=300, seed=8)
    est32 = LogisticRegression(dtype="float32", tol=1e-4).fit(X, y)
    est64 = LogisticRegression().fit(X, y)
    assert est32.coef_.dtype == np.float32
    np.testing.assert_allclose(est32.coef_, est64.coef_, rtol=1e-4, atol=1e-5)


def test_predict_proba_and_log_proba_are_consistent_and_stable():
    X, y, _ = make_classification_data(n=100, n_classes=3, seed=9)
    est = LogisticRegression().fit(X, y)
    np.testing.assert_allclose(est.predict_proba(X).sum(1), 1.0)
    np.testing.assert_allclose(np.exp(est.predict_log_proba(X)), est.predict_proba(X))
    np.testing.assert_allclose(est.predict_proba(X), _sk().fit(X, y).predict_proba(X), rtol=1e-5)
    binary = LogisticRegression().fit(X, (y == 0).astype(int))
    far = X[:1] * 1e6
    assert np.all(np.isfinite(binary.predict_log_proba(far)))


def test_warm_start_starts_from_the_previous_solution():
    X, y, _ = make_classification_data(n=200, seed=10)
    est = LogisticRegression(warm_start=True).fit(X, y)
    first = est.coef_.copy(), est.intercept_.copy()
    est.fit(X, y)
    assert est.n_iter_[0] == 0  # already at the optimum
    np.testing.assert_array_equal(est.coef_, first[0])
    np.testing.assert_array_equal(est.intercept_, first[1])
    # with no iterations allowed, a warm start at a new C keeps the previous coefficients exactly
    with pytest.warns(ConvergenceWarning):
        est.set_params(C=0.05, max_iter=0).fit(X, y)
    np.testing.assert_array_equal(est.coef_, first[0])
    # and with iterations it reaches the new optimum, scikit-learn's at C=0.05, from there
    est.set_params(max_iter=100).fit(X, y)
    reference = _sk(C=0.05).fit(X, y)
    np.testing.assert_allclose(est.coef_, reference.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(est.intercept_, reference.intercept_, rtol=1e-6, atol=1e-9)
    cold = LogisticRegression(C=0.05).fit(X, y)
    assert 0 < est.n_iter_[0] <= cold.n_iter_[0]


def test_convergence_warning_says_how_far_and_what_to_do():
    X, y, _ = make_classification_data(n=200, seed=11)
    with pytest.warns(ConvergenceWarning, match=r"max \|gradient\| .* > tol .*raise max_iter"):
        LogisticRegression(max_iter=1).fit(X, y)


def test_separated_data_without_penalty_is_reported():
    X, y = make_demo_data(n_samples=200)
    with pytest.warns(PerfectSeparationWarning, match=r"does not exist.*combination of x1, x2\."):
        LogisticRegression(C=np.inf).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LogisticRegression(C=1.0).fit(X, y)  # penalised: a finite optimum, no warning


def test_overlapping_data_without_penalty_gives_no_separation_warning():
    X, y, _ = make_classification_data(n=300, seed=12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LogisticRegression(C=np.inf).fit(X, y)


def test_quasi_complete_separation_is_detected():
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=100)
    x2 = np.where(x1 > 0, 1.0, 0.0)  # y = 1 whenever x2 = 1; mixed where x2 = 0
    y = np.where(x2 == 1, 1, rng.integers(0, 2, 100))
    with pytest.warns(PerfectSeparationWarning, match=r"combination of x2\."):  # 1-based, as summary()
        LogisticRegression(C=np.inf, max_iter=200).fit(np.column_stack([x1, x2]), y)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"penalty": "l3"}, "penalty must be one of"),
        ({"l1_ratio": 1, "solver": "lbfgs"}, "Solver lbfgs supports only 'l2' or None.*prox_newton"),
        ({"l1_ratio": 0.5, "solver": "newton"}, "Solver newton supports only 'l2' or None penalties"),
        ({"solver": "liblinear2"}, "solver must be one of"),
        ({"l1_ratio": 1.5}, r"l1_ratio must be a number in \[0, 1\]"),
        ({"intercept_scaling": 0}, "intercept_scaling must be a positive"),
        ({"dual": True}, "Solver auto supports only dual=False, got dual=True"),
        ({"C": np.inf, "solver": "liblinear"}, "penalty=None is not supported for the liblinear solver"),
        ({"l1_ratio": 0.5, "solver": "liblinear"}, "Only 'saga' solver supports elasticnet penalty"),
        ({"C": -1.0}, "C must be a positive"),
        ({"tol": -1.0}, "tol must be"),
        ({"dtype": "float16"}, "dtype must be"),
        ({"device": "tpu"}, "device must be"),
        ({"class_weight": "auto"}, "class_weight must be"),
        ({"batch_size": 0}, "batch_size must be"),
    ],
)
def test_bad_parameters_raise_clear_errors(params, message):
    X, y, _ = make_classification_data(n=20)
    with pytest.raises(ValueError, match=message):
        LogisticRegression(**params).fit(X, y)


def test_single_class_is_rejected():
    with pytest.raises(ValueError, match="at least 2 classes"):
        LogisticRegression().fit(np.ones((5, 2)), np.zeros(5))


def test_auto_solver_rule():
    X, y, _ = make_classification_data(n=50, d=3)
    assert LogisticRegression().fit(X, y).solver_ == "newton"
    # few rows and many coefficients: factorising the 601 x 601 Hessian costs more than L-BFGS
    X_wide = np.random.default_rng(0).normal(size=(50, 600))
    assert LogisticRegression().fit(X_wide, y).solver_ == "lbfgs"


@pytest.mark.parametrize(("n_rows", "n_params", "n_outputs", "newton"), [
    (1_797, 650, 10, True),      # load_digits, 10 classes: the 650 x 650 Hessian of 1,797 rows is cheap
    (100_000, 510, 10, False),   # workload C (10 classes): 44 L-BFGS passes beat 5 block Hessians
    (1_000_000, 33, 1, True),    # benchmarks/bench_solvers.py workload A
    (200_000, 201, 1, True),     # workload B
    (50, 601, 1, False),         # few rows: factorising the Hessian dominates
    (100_000, 2_001, 1, True),   # Newton 29 s and converged; L-BFGS 35 s and not (benchmarks/_scaling.py)
    (1_000_000, 5_000, 1, False),  # a 5,000 x 5,000 Hessian per step costs more than L-BFGS's passes
])
def test_auto_weighs_newtons_work_against_lbfgs(n_rows, n_params, n_outputs, newton):
    assert newton_is_cheaper(n_rows, n_params, n_outputs) is newton
    chosen = select_solver("auto", n_params, n_rows=n_rows, n_outputs=n_outputs)
    # digits' Hessian is cheap, its Hessian-vector products cheaper still (tests/solvers/test_newton_cg.py)
    assert chosen == ("newton_cg" if n_rows == 1_797 else "newton" if newton else "lbfgs")
    assert select_solver("saga", n_params, nonsmooth=True, n_rows=n_rows) == "prox_newton"


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer", "digits"])
def test_default_fits_on_the_bundled_datasets_converge(name):
    """No ConvergenceWarning with default parameters, raw and standardised, binary and multiclass
    (scikit-learn's default lbfgs warns on raw breast_cancer, wine and digits)."""
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    for rows in (X, StandardScaler().fit_transform(X)):
        for labels in ((y == y[0]).astype(int), y):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                est = LogisticRegression().fit(rows, labels)
            assert est.converged_ and est.grad_max_ <= est.tol


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_cuda_matches_cpu(solver, n_classes):
    X, y, _ = make_classification_data(n=500, n_classes=n_classes, seed=13)
    cpu = LogisticRegression(solver=solver).fit(X, y)
    gpu = LogisticRegression(solver=solver, device="cuda").fit(X, y)
    np.testing.assert_allclose(gpu.coef_, cpu.coef_, rtol=1e-7, atol=1e-9)
    gpu32 = LogisticRegression(solver=solver, device="cuda", dtype="float32", tol=1e-4).fit(X, y)
    np.testing.assert_allclose(gpu32.coef_, cpu.coef_, rtol=1e-3, atol=1e-4)


def test_unpenalised_fit_on_a_dataframe_raises_no_feature_name_warning():
    pd = pytest.importorskip("pandas")
    X, y, _ = make_classification_data(n=200, seed=14)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LogisticRegression(C=np.inf).fit(pd.DataFrame(X, columns=list("abcd")), y)


def test_a_tol_below_the_rounding_level_stops_newton_once_steps_stop_helping():
    # scikit-learn's own tests ask for tol=1e-18: Newton reaches F's rounding level in a few steps
    # and must stop there (converged, no warning), not spin until max_iter
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=30, n_features=3, n_informative=3, n_redundant=0, n_classes=3,
                               random_state=42)
    rows = np.r_[0:6, 12:30]  # a fold where max |gradient| settles at ~3e-17, not 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = LogisticRegression(solver="newton", C=1e-4, fit_intercept=False, tol=1e-18, max_iter=500,
                                 class_weight={0: 0.1, 1: 0.2, 2: 0.5}).fit(X[rows], y[rows])
    assert est.n_iter_[0] < 20


def test_auto_fits_wide_sparse_data_by_lbfgs_from_the_stored_values():
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    X = sp.random(4000, 700, density=0.005, format="csr", random_state=3)  # dense rule: Newton
    y = (X @ np.random.default_rng(3).normal(size=700) > 0).astype(int)
    est = LogisticRegression(tol=1e-10).fit(X, y)
    assert est.solver_ == "lbfgs"  # 701 coefficients: no dense 701 x 701 Hessian for sparse rows
    ref = SkLogisticRegression(solver="newton-cholesky", tol=1e-12, max_iter=100).fit(X, y)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-5, atol=1e-7)
