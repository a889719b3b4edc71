"""Stopping L1 fits on the duality gap (``gap_tol``): the certificate holds against independent optima."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit, xlogy
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from support.synthetic import make_classification_data

from torchlogit import LogisticRegression
from torchlogit.core import duality


def _primal(X, y, coef, C):
    """Binary L1 objective without intercept, mean form: (1/n) Σ log-loss + ‖w‖₁/(C n)."""
    z = X @ coef
    return float(np.mean(np.logaddexp(0, z) - y * z) + np.abs(coef).sum() / (C * len(y)))


def _numpy_dual(X, y, coef, C):
    """The textbook dual point θ = (y − p)/n, scaled into ‖Xᵀθ‖∞ ≤ 1/(C n)."""
    n = len(y)
    theta = (y - expit(X @ coef)) / n
    theta *= min(1.0, 1.0 / (C * n) / np.abs(X.T @ theta).max())
    q = y - n * theta
    return float(-np.mean(xlogy(q, q) + xlogy(1 - q, 1 - q)))


def _sparse_wide(seed=0, n=400, d=900):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.02, random_state=rng, format="csr")
    w = np.zeros(d)
    w[:30] = rng.normal(0, 3, 30)
    y = (rng.random(n) < expit(X @ w)).astype(np.int64)
    return X, y


def test_the_sparse_solvers_reported_gap_is_numpys_from_its_final_probabilities(monkeypatch):
    X, y = _sparse_wide(seed=5)
    C = 0.5

    def no_scores(*args):
        raise AssertionError("the gap recomputed the scores instead of using the final probabilities")

    monkeypatch.setattr(duality, "linear_predictor", no_scores)
    ours = LogisticRegression(l1_ratio=1.0, C=C, fit_intercept=False, tol=1e-6).fit(X, y)  # no gap_tol
    coef = ours.coef_.ravel()
    Xd = X.toarray()
    assert ours.duality_gap_ > 0  # stopped early enough for the gap to be measurable
    assert ours.duality_gap_ == pytest.approx(_primal(Xd, y, coef, C) - _numpy_dual(Xd, y, coef, C),
                                              rel=1e-6, abs=1e-15)


@pytest.mark.parametrize("shape", ["dense", "sparse_wide"])
@pytest.mark.parametrize("gap_tol", [1e-6, 1e-10])
def test_the_gap_certifies_the_distance_to_liblinears_optimum(shape, gap_tol):
    if shape == "dense":
        X, y, _ = make_classification_data(n=300, d=20, seed=3)
    else:  # over 500 columns of sparse rows: the compiled coordinate descent (solvers/sparse_cd.py)
        X, y = _sparse_wide()
    C = 0.5
    ours = LogisticRegression(l1_ratio=1.0, C=C, fit_intercept=False, gap_tol=gap_tol).fit(X, y)
    assert ours.converged_
    Xd = X.toarray() if sp.issparse(X) else X
    coef = ours.coef_.ravel()
    primal, dual = _primal(Xd, y, coef, C), _numpy_dual(Xd, y, coef, C)
    assert primal - dual <= gap_tol * (1 + 1e-6)  # the numpy certificate of our point
    assert ours.duality_gap_ == pytest.approx(primal - dual, rel=1e-6, abs=1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SkLogisticRegression(l1_ratio=1.0, C=C, solver="liblinear", tol=1e-12, max_iter=100_000,
                                   fit_intercept=False).fit(X, y)
    assert primal - _primal(Xd, y, ref.coef_.ravel(), C) <= gap_tol  # F − F* ≤ gap, as certified


def test_a_loose_gap_stops_before_a_tight_kkt_target():
    X, y, _ = make_classification_data(n=400, d=30, seed=5)
    loose = LogisticRegression(l1_ratio=1.0, C=0.2, gap_tol=1e-4, tol=1e-14).fit(X, y)
    tight = LogisticRegression(l1_ratio=1.0, C=0.2, tol=1e-14).fit(X, y)
    assert loose.converged_ and loose.duality_gap_ <= 1e-4
    assert loose.n_iter_[0] < tight.n_iter_[0]
    assert loose.objective_ - tight.objective_ <= 1e-4


def test_multinomial_gap_stop():
    X, y, _ = make_classification_data(n=300, d=6, n_classes=3, seed=8)
    ours = LogisticRegression(l1_ratio=1.0, C=0.3, gap_tol=1e-9).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SkLogisticRegression(l1_ratio=1.0, C=0.3, solver="saga", tol=1e-12, max_iter=100_000).fit(X, y)
    tight = LogisticRegression(l1_ratio=1.0, C=0.3, tol=1e-13).fit(X, y)
    assert ours.converged_ and 0 <= ours.duality_gap_ <= 1e-9
    assert ours.objective_ - tight.objective_ <= 1e-9
    np.testing.assert_allclose(tight.coef_, ref.coef_, atol=1e-5)  # the reference optimum is the optimum


def test_an_unpenalised_feature_leaves_tol_in_charge():
    X, y, _ = make_classification_data(n=200, d=4, seed=1)
    factor = np.array([0.0, 1.0, 1.0, 1.0])
    est = LogisticRegression(l1_ratio=1.0, C=0.5, penalty_factor=factor, gap_tol=1e-9, tol=1e-10).fit(X, y)
    assert est.converged_ and est.grad_max_ <= 1e-10 and np.isnan(est.duality_gap_)


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf, "small", True])
def test_gap_tol_must_be_a_non_negative_number(bad):
    X, y, _ = make_classification_data(n=50, d=3, seed=0)
    with pytest.raises(ValueError, match="gap_tol must be a non-negative finite number"):
        LogisticRegression(l1_ratio=1.0, gap_tol=bad).fit(X, y)
