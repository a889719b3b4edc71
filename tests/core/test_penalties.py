"""Penalties as data (L1 prox, subgradient, elastic-net split) and every penalty through the estimator."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from support.synthetic import make_classification_data

from torchlogit import LogisticRegression
from torchlogit.core.penalties import L1Penalty, column_strengths, elastic_net


def test_l1_value_prox_and_min_norm_subgradient():
    l1 = L1Penalty(torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64))
    coef = torch.tensor([[0.5, -3.0, 0.2], [-2.0, 1.0, 0.0]], dtype=torch.float64)
    assert float(l1.value(coef)) == pytest.approx(0.5 + 6.0 + 2.0 + 2.0)
    torch.testing.assert_close(
        l1.prox(coef, 0.75), torch.tensor([[0.0, -1.5, 0.2], [-1.25, 0.0, 0.0]], dtype=torch.float64)
    )
    grad = torch.tensor([[0.3, 0.5, -0.1], [2.5, -3.0, 0.4]], dtype=torch.float64)
    at_zero = torch.zeros_like(coef)
    # at zero: shrink |g| by λ towards 0; off zero: g + λ sign(w)
    torch.testing.assert_close(
        l1.min_norm_subgradient(at_zero, grad),
        torch.tensor([[0.0, 0.0, -0.1], [1.5, -1.0, 0.4]], dtype=torch.float64),
    )
    torch.testing.assert_close(
        l1.min_norm_subgradient(coef, grad),
        torch.tensor([[1.3, -1.5, -0.1], [1.5, -1.0, 0.4]], dtype=torch.float64),
    )


def test_elastic_net_splits_strengths_and_drops_empty_terms():
    factor = torch.tensor([1.0, 0.0, 2.0])
    l2, l1 = elastic_net(0.1, 0.25, 3, True, factor, dtype=torch.float64, device="cpu")
    base = column_strengths(0.1, 3, True, factor, dtype=torch.float64, device="cpu")
    torch.testing.assert_close(l2.strength, 0.75 * base)
    torch.testing.assert_close(l1.strength, 0.25 * base)
    assert float(base[-1]) == 0.0  # the intercept is never penalised
    assert elastic_net(0.1, 1.0, 3, False, None, dtype=torch.float64, device="cpu")[0] is None
    assert elastic_net(0.1, 0.0, 3, False, None, dtype=torch.float64, device="cpu")[1] is None


def _sk_saga(X, y, C, l1_ratio):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SkLogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-13,
                                    max_iter=200_000).fit(X, y)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.4])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_estimator_l1_and_elasticnet_match_sklearn(l1_ratio, n_classes):
    X, y, _ = make_classification_data(n=300, d=6, n_classes=n_classes, seed=21)
    est = LogisticRegression(l1_ratio=l1_ratio, C=0.05).fit(X, y)
    assert est.solver_ == "prox_newton" and est.converged_
    ref = _sk_saga(X, y, 0.05, l1_ratio)
    np.testing.assert_array_equal(est.coef_ != 0, ref.coef_ != 0)
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-4)
    np.testing.assert_allclose(est.intercept_, ref.intercept_, atol=1e-4)


def test_sparse_input_gives_the_same_l1_model():
    X, y, _ = make_classification_data(n=200, d=6, seed=22)
    X[np.abs(X) < 0.6] = 0.0
    dense = LogisticRegression(l1_ratio=1, C=0.1).fit(X, y)
    sparse = LogisticRegression(l1_ratio=1, C=0.1).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-12)
    assert (dense.coef_ == 0).any()


def test_elasticnet_limits_are_l2_and_l1():
    X, y, _ = make_classification_data(n=200, d=5, seed=23)
    # l1_ratio at its ends is the L2 and the L1 fit (the deprecated penalty= spelling, for comparison)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ridge = LogisticRegression(penalty="l2", C=0.3).fit(X, y)
        lasso = LogisticRegression(penalty="l1", l1_ratio=1, C=0.3).fit(X, y)
    en0 = LogisticRegression(l1_ratio=0.0, C=0.3).fit(X, y)
    assert en0.solver_ == "newton"  # no L1 term: the smooth solver
    np.testing.assert_allclose(en0.coef_, ridge.coef_, rtol=1e-12)
    en1 = LogisticRegression(l1_ratio=1.0, C=0.3).fit(X, y)
    np.testing.assert_allclose(en1.coef_, lasso.coef_, rtol=1e-12)


def test_prox_newton_solver_also_fits_l2_and_no_penalty():
    X, y, _ = make_classification_data(n=200, d=5, n_classes=3, seed=24)
    for C in (1.0, np.inf):
        a = LogisticRegression(C=C, l1_ratio=0, solver="prox_newton").fit(X, y)
        b = LogisticRegression(C=C, l1_ratio=0, solver="newton").fit(X, y)
        np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-6)


def test_penalty_factor_through_the_estimator():
    X, y, _ = make_classification_data(n=300, d=4, seed=25)
    est = LogisticRegression(l1_ratio=1, C=0.005, penalty_factor=[0, 1, 1, 1]).fit(X, y)
    assert est.coef_[0, 0] != 0 and np.all(est.coef_[0, 1:] == 0)
    # a factor of 1 everywhere is the plain penalty
    plain = LogisticRegression(l1_ratio=0, C=0.3).fit(X, y)
    ones = LogisticRegression(l1_ratio=0, C=0.3, penalty_factor=np.ones(4)).fit(X, y)
    np.testing.assert_allclose(ones.coef_, plain.coef_, rtol=1e-12)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"l1_ratio": 1, "solver": "newton"}, "An L1 part needs solver='auto', 'saga' or 'prox_newton'"),
        ({"l1_ratio": 0.5, "solver": "lbfgs"}, "Solver lbfgs supports only 'l2' or None penalties"),
        ({"l1_ratio": 1.5}, r"l1_ratio must be a number in \[0, 1\]"),
        ({"l1_ratio": -0.5}, r"l1_ratio must be a number in \[0, 1\]"),
        ({"l1_ratio": 1, "penalty_factor": [1.0, -1.0, 1.0, 1.0]}, "penalty_factor must be"),
        ({"l1_ratio": 1, "penalty_factor": [1.0, 1.0]}, "penalty_factor must be"),
    ],
)
def test_bad_penalty_parameters_raise_clear_errors(params, message):
    X, y, _ = make_classification_data(n=30)
    with pytest.raises(ValueError, match=message):
        LogisticRegression(**params).fit(X, y)
