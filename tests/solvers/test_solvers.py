"""Every solver reaches scikit-learn's optimum (lbfgs at tol 1e-10) on generated data."""

import warnings

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.utils.class_weight import compute_class_weight
from support.synthetic import make_classification_data

from torchlogit import LogisticRegression


def sklearn_objective(X, y, coef, intercept, sample_weight, C, classes):
    """C · Σ sᵢ ℓᵢ + ½‖W‖², computed independently in numpy."""
    idx = np.searchsorted(classes, y)
    scores = X @ coef.T + intercept
    if coef.shape[0] == 1:
        z = scores[:, 0]
        loss = np.logaddexp(0, z) - idx * z
    else:
        loss = logsumexp(scores, axis=1) - scores[np.arange(len(y)), idx]
    return C * np.sum(sample_weight * loss) + 0.5 * np.sum(coef**2)


def _reference(X, y, sw, C, fit_intercept, class_weight):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn 1.8+ FutureWarnings about penalty
        return SkLogisticRegression(C=C, tol=1e-10, max_iter=10_000, fit_intercept=fit_intercept,
                                    class_weight=class_weight).fit(X, y, sample_weight=sw)


CASES = [
    # (n_classes, fit_intercept, sample weights, class_weight)
    (2, True, False, None),
    (2, False, True, None),
    (2, True, True, "balanced"),
    (3, True, False, None),
    (4, True, True, {0: 1.0, 1: 2.0, 2: 0.5, 3: 1.5}),
    (3, False, False, "balanced"),
]


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "sgd"])
@pytest.mark.parametrize(("n_classes", "fit_intercept", "weighted", "class_weight"), CASES)
def test_solver_matches_sklearn(solver, n_classes, fit_intercept, weighted, class_weight):
    X, y, sw = make_classification_data(n=240, d=3, n_classes=n_classes, seed=n_classes,
                                        weights=weighted)
    X = (X - X.mean(0)) / X.std(0)
    C = 0.8
    ref = _reference(X, y, sw, C, fit_intercept, class_weight)
    extra = {"learning_rate": 1.0, "max_iter": 5000} if solver == "sgd" else {}
    # L-BFGS's line search stalls near max |∇F| ~ 1e-10, where F changes below rounding;
    # full-batch gradient descent converges linearly, 1e-8 keeps it quick and within 1e-5
    tol = {"lbfgs": 1e-9, "sgd": 1e-8}.get(solver, 1e-10)
    ours = LogisticRegression(C=C, solver=solver, fit_intercept=fit_intercept, tol=tol,
                              class_weight=class_weight, **extra).fit(X, y, sample_weight=sw)
    assert ours.converged_
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-5, atol=1e-7)
    weights = np.ones(len(y)) if sw is None else sw
    if class_weight is not None:
        weights = weights * compute_class_weight(class_weight, classes=ref.classes_, y=y,
                                                 sample_weight=weights)[np.searchsorted(ref.classes_, y)]
    f_ours = sklearn_objective(X, y, ours.coef_, ours.intercept_, weights, C, ours.classes_)
    f_ref = sklearn_objective(X, y, ref.coef_, ref.intercept_, weights, C, ref.classes_)
    assert f_ours <= f_ref * (1 + 1e-8)
    assert f_ours == pytest.approx(f_ref, rel=1e-8)


def test_adam_gets_close_to_the_optimum():
    """Adam with a constant step size hovers near the optimum rather than reaching it exactly."""
    X, y, _ = make_classification_data(n=240, d=3, seed=1)
    ref = _reference(X, y, None, 1.0, True, None)
    ours = LogisticRegression(solver="adam", learning_rate=0.02, max_iter=2000, tol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours.fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_newton_reaches_machine_precision_in_a_handful_of_passes(n_classes):
    X, y, _ = make_classification_data(n=500, d=5, n_classes=n_classes, seed=3)
    est = LogisticRegression(solver="newton", tol=1e-12).fit(X, y)
    assert est.grad_max_ <= 1e-12
    assert est.n_passes_ <= 12


def test_unpenalised_newton_matches_statsmodels():
    import statsmodels.api as sm

    X, y, _ = make_classification_data(n=400, d=3, seed=5)
    est = LogisticRegression(C=np.inf, tol=1e-12).fit(X, y)
    res = sm.Logit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12)
    np.testing.assert_allclose(est.intercept_[0], res.params[0], rtol=1e-8)
    np.testing.assert_allclose(est.coef_[0], res.params[1:], rtol=1e-8)


def test_unpenalised_multinomial_is_centred_and_matches_mnlogit():
    import statsmodels.api as sm

    X, y, _ = make_classification_data(n=500, d=2, n_classes=3, seed=6)
    est = LogisticRegression(C=np.inf, tol=1e-12).fit(X, y)
    np.testing.assert_allclose(est.coef_.sum(0), 0, atol=1e-10)
    np.testing.assert_allclose(est.intercept_.sum(), 0, atol=1e-10)
    res = sm.MNLogit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12)
    # MNLogit's parameters are class k versus class 0
    ours = np.hstack([est.intercept_[:, None], est.coef_])
    np.testing.assert_allclose((ours[1:] - ours[0]).T, res.params, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_newton_with_sampled_hessians_reaches_the_sklearn_optimum(monkeypatch, n_classes):
    from torchlogit.core import objective as objective_module
    from torchlogit.estimators import logistic as estimator_module

    monkeypatch.setattr(objective_module, "_HESSIAN_BLOCK_ROWS", 16)
    monkeypatch.setattr(estimator_module, "HESSIAN_SAMPLE_ROWS", 200)  # every 4th block of 16 rows
    X, y, w = make_classification_data(n=900, d=5, n_classes=n_classes, seed=4, weights=True)
    ours = LogisticRegression(tol=1e-10).fit(X, y, sample_weight=w)
    ref = SkLogisticRegression(tol=1e-12, max_iter=10_000).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-6)
    assert ours.grad_max_ <= 1e-10


def test_newton_goes_back_to_full_hessians_when_the_sample_misses_a_feature(monkeypatch):
    """A feature non-zero only in rows outside the sampled blocks: the sampled Hessian is blind to
    it, the step disappoints, and Newton returns to all rows and still converges."""
    from torchlogit.core import objective as objective_module
    from torchlogit.estimators import logistic as estimator_module

    monkeypatch.setattr(objective_module, "_HESSIAN_BLOCK_ROWS", 16)
    monkeypatch.setattr(estimator_module, "HESSIAN_SAMPLE_ROWS", 200)
    X, y, _ = make_classification_data(n=960, d=3, seed=5)
    rare = np.zeros(len(y))
    rare[16:32] = 1.0  # block 1 only; the sample holds blocks 0, 4, 8, ...
    X = np.column_stack([X, rare])
    y[16:32] = 1
    y[16:20] = 0
    strides = []  # the rows each Hessian pass sampled: every 4th block, then all (1)
    original = objective_module.Objective.value_grad_hess

    def record(self, coef, hess_index=None, *, hessian_stride=1):
        strides.append(hessian_stride)
        return original(self, coef, hess_index, hessian_stride=hessian_stride)

    monkeypatch.setattr(objective_module.Objective, "value_grad_hess", record)
    ours = LogisticRegression(tol=1e-10).fit(X, y)
    ref = SkLogisticRegression(tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-6)
    assert ours.converged_ and ours.grad_max_ <= 1e-10
    assert strides[0] == 4 and strides[-1] == 1  # was 4, until a step disappointed
    assert strides == sorted(strides, reverse=True)  # and all rows from then on
    assert ours.n_iter_[0] <= 8  # blind to the rare feature it took 24 Newton steps


def test_in_memory_newton_samples_rows_per_coefficient_in_float64(monkeypatch):
    """In memory the Hessian's rows follow the coefficients (HESSIAN_ROWS_PER_COEF), not the
    streamed 2M, and a sampled Hessian that cheap takes no float32 copy of X; the optimum is
    still scikit-learn's."""
    from torchlogit.core import objective as objective_module
    from torchlogit.estimators import logistic as estimator_module

    monkeypatch.setattr(objective_module, "_HESSIAN_BLOCK_ROWS", 16)
    monkeypatch.setattr(estimator_module, "HESSIAN_MIN_SAMPLE_ROWS", 32)
    monkeypatch.setattr(estimator_module, "HESSIAN_ROWS_PER_COEF", 40)  # 4 coefficients: 160 rows
    monkeypatch.setattr(estimator_module, "FLOAT32_HESSIAN_MIN_WORK", 1)
    X, y, _ = make_classification_data(n=960, d=3, seed=8)
    strides, dtypes = [], []
    original = objective_module.Objective.value_grad_hess

    def record(self, coef, hess_index=None, *, hessian_stride=1):
        strides.append(hessian_stride)
        dtypes.append(self.dtype)
        return original(self, coef, hess_index, hessian_stride=hessian_stride)

    monkeypatch.setattr(objective_module.Objective, "value_grad_hess", record)
    ours = LogisticRegression(tol=1e-10).fit(X, y)
    ref = SkLogisticRegression(tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-6)
    assert ours.converged_
    assert strides[0] == 960 // 160
    assert set(dtypes) == {torch.float64}  # the sampled Hessian is too cheap for the copy to pay


def test_streamed_sources_keep_the_large_hessian_sample():
    from torchlogit.core.objective import Objective
    from torchlogit.data import InMemorySource, as_data_source
    from torchlogit.estimators import logistic as estimator_module

    X = torch.zeros(10, 3, dtype=torch.float64)
    y, w = torch.zeros(10, dtype=torch.int64), torch.ones(10, dtype=torch.float64)

    class Streamed:
        n_features = 3

        def chunks(self):
            yield X, y, w

    def objective(source):
        return Objective(source, n_outputs=1, fit_intercept=True, l2=None, dtype=torch.float64, device="cpu")

    in_memory = estimator_module.hessian_sample_rows(objective(InMemorySource(X, y, w)))
    streamed = estimator_module.hessian_sample_rows(objective(as_data_source(Streamed())))
    assert in_memory == estimator_module.HESSIAN_MIN_SAMPLE_ROWS  # 4 coefficients × 2000 rows is fewer
    assert streamed == estimator_module.HESSIAN_SAMPLE_ROWS
