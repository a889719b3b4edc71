"""Newton-CG (Hessian-vector products, no Hessian matrix) against scikit-learn and closed forms."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from support.synthetic import make_classification_data

from torchlogit import LogisticRegression
from torchlogit.core.objective import Objective
from torchlogit.core.penalties import L2Penalty
from torchlogit.data.memory import InMemorySource
from torchlogit.estimators.logistic import select_solver
from torchlogit.solvers.newton_cg import newton_cg


def _objective(X, y, n_outputs, fit_intercept, sample_weight, chunk_rows=None):
    d = X.shape[1]
    Xt = torch.as_tensor(X, dtype=torch.float64)
    source = InMemorySource(Xt, torch.as_tensor(y), torch.as_tensor(sample_weight, dtype=torch.float64),
                            chunk_rows=chunk_rows)
    strength = torch.cat([torch.full((d,), 0.05, dtype=torch.float64),
                          torch.zeros(int(fit_intercept), dtype=torch.float64)])
    return Objective(source, n_outputs=n_outputs, fit_intercept=fit_intercept, l2=L2Penalty(strength),
                     dtype=torch.float64, device="cpu")


@pytest.mark.parametrize(("n_outputs", "fit_intercept"), [(1, True), (1, False), (3, True), (4, False)])
def test_hessian_vector_products_equal_the_hessian_times_v(n_outputs, fit_intercept):
    """The operator, over several chunks with weights, against the formed Hessian."""
    rng = np.random.default_rng(n_outputs)
    X = rng.normal(size=(300, 5))
    y = rng.integers(0, max(n_outputs, 2), 300)
    objective = _objective(X, y, n_outputs, fit_intercept, rng.uniform(0.5, 2.0, 300), chunk_rows=64)
    coef = torch.as_tensor(rng.normal(0, 0.3, objective.coef_shape))
    _, grad_h, hess = objective.value_grad_hess(coef)
    _, grad, operator = objective.value_grad_curvature(coef)
    torch.testing.assert_close(grad, grad_h, rtol=0, atol=0)
    for _ in range(3):
        v = torch.as_tensor(rng.normal(size=objective.coef_shape))
        expected = (hess @ v.reshape(-1)).reshape(v.shape)
        torch.testing.assert_close(operator(v), expected, rtol=1e-12, atol=1e-14)


CASES = [(2, True, False), (2, False, True), (3, True, True), (5, True, False), (3, False, True)]


@pytest.mark.parametrize(("n_classes", "fit_intercept", "weighted"), CASES)
def test_newton_cg_reaches_sklearn_optimum(n_classes, fit_intercept, weighted):
    X, y, sw = make_classification_data(n=300, d=6, n_classes=n_classes, seed=10 + n_classes,
                                        weights=weighted)
    X[:, 0] *= 50.0  # a badly scaled column: the preconditioner's job
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SkLogisticRegression(C=0.7, solver="newton-cholesky", tol=1e-12, max_iter=1000,
                                   fit_intercept=fit_intercept).fit(X, y, sample_weight=sw)
    ours = LogisticRegression(C=0.7, solver="newton_cg", tol=1e-10,
                              fit_intercept=fit_intercept).fit(X, y, sample_weight=sw)
    assert ours.converged_ and ours.solver_ == "newton_cg"
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-7, atol=1e-9)
    if n_classes > 2 and fit_intercept:  # the gauge of Newton's iterates: centred intercepts
        assert abs(ours.intercept_.sum()) < 1e-10


def test_newton_cg_on_sparse_rows_equals_dense():
    X, y, _ = make_classification_data(n=400, d=8, n_classes=3, seed=4)
    X[np.abs(X) < 0.8] = 0.0
    dense = LogisticRegression(solver="newton_cg", tol=1e-11).fit(X, y)
    sparse = LogisticRegression(solver="newton_cg", tol=1e-11).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-9, atol=1e-11)


def test_sklearn_newton_cg_name_runs_newton_cg_and_matches_sklearn():
    X, y = load_digits(return_X_y=True)
    X, y = X[:600], y[:600]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SkLogisticRegression(solver="newton-cg", tol=1e-10, max_iter=1000).fit(X, y)
    ours = LogisticRegression(solver="newton-cg", tol=1e-9).fit(X, y)
    assert ours.solver_ == "newton_cg"
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-4, atol=1e-6)


def test_newton_cg_stops_at_max_iter_with_the_last_iterate():
    X, y, _ = make_classification_data(n=200, d=4, n_classes=3, seed=2)
    objective = _objective(X, y, 3, True, np.ones(len(y)))
    result = newton_cg(objective, objective.zeros(), tol=1e-14, max_iter=2)
    assert result.n_iter == 2 and not result.converged
    f, grad = objective.value_grad(result.coef)
    assert result.objective == pytest.approx(f, rel=1e-14)
    assert result.grad_max == pytest.approx(float(grad.abs().max()), rel=1e-12)


def test_auto_picks_newton_cg_for_many_classes_on_small_data_only():
    assert select_solver("auto", 650, n_rows=1797, n_outputs=10) == "newton_cg"  # digits
    assert select_solver("auto", 15, n_rows=150, n_outputs=3) != "newton_cg"  # iris: small Hessian
    assert select_solver("auto", 510, n_rows=100_000, n_outputs=10) != "newton_cg"  # X out of cache
    assert select_solver("auto", 65, n_rows=1797, n_outputs=1) != "newton_cg"  # binary
