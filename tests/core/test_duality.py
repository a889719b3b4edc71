"""The duality gap (torchlogit.core.duality) against an independent numpy computation and weak duality.

Weak duality is the test that cannot be argued with: every dual value must lie below the primal
optimum, which scikit-learn's saga finds independently; a dual point made feasible wrongly
(the intercept's constraint, the lasso's box) would break it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import expit, xlogy
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.preprocessing import StandardScaler

from torchlogit import LogisticRegression
from torchlogit.core.duality import duality_gap
from torchlogit.core.objective import Objective
from torchlogit.core.penalties import elastic_net
from torchlogit.data.memory import InMemorySource


def _data(name):
    X, y = (load_breast_cancer if name == "binary" else load_iris)(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _problem(X, y, C, l1_ratio, fit_intercept, weights=None):
    w = np.ones(len(y)) if weights is None else weights
    n_outputs = 1 if len(np.unique(y)) == 2 else len(np.unique(y))
    source = InMemorySource(torch.tensor(X), torch.tensor(y), torch.tensor(w))
    objective = Objective(source, n_outputs=n_outputs, fit_intercept=fit_intercept, l2=None,
                          dtype=torch.float64, device="cpu")
    l2, l1 = elastic_net(1.0 / (C * w.sum()), l1_ratio, X.shape[1], fit_intercept, None,
                         dtype=torch.float64, device="cpu")
    return objective.with_l2(l2), l1


def _numpy_lasso_dual(X, y, w_coef, C):
    """The textbook dual of binary L1 logistic regression without intercept, in numpy:
    θ = (y − p)/n rescaled into ‖Xᵀθ‖∞ ≤ λ = 1/(C n); D = (1/n) Σ H(y − nθ)."""
    n = len(y)
    lam = 1.0 / (C * n)
    theta = (y - expit(X @ w_coef)) / n
    theta *= min(1.0, lam / np.abs(X.T @ theta).max())
    q = y - n * theta
    return float(-np.mean(xlogy(q, q) + xlogy(1 - q, 1 - q)))


def test_the_dual_is_the_textbook_one_without_intercept():
    X, y = _data("binary")
    C = 0.3
    objective, l1 = _problem(X, y, C, 1.0, fit_intercept=False)
    rng = np.random.default_rng(0)
    for scale in (0.0, 0.05, 0.5):  # the start, and points far from optimal
        w_coef = scale * rng.standard_normal(X.shape[1])
        ours = duality_gap(objective, torch.tensor(w_coef)[None], l1)
        assert ours.dual == pytest.approx(_numpy_lasso_dual(X, y, w_coef, C), rel=1e-12, abs=1e-14)


def test_the_final_pass_probabilities_give_the_textbook_dual_without_a_pass():
    X, y = _data("binary")
    C = 0.3
    objective, l1 = _problem(X, y, C, 1.0, fit_intercept=False)
    objective.source.chunk_rows = 100  # six chunks: the probabilities are matched chunk by chunk
    w_coef = 0.05 * np.random.default_rng(3).standard_normal(X.shape[1])
    coef = torch.tensor(w_coef)[None]
    f, grad, proba = objective.value_grad_proba(coef)
    assert len(proba) == 6
    passes = objective.n_passes
    ours = duality_gap(objective, coef, l1, value_grad=(f, grad), proba=proba)
    assert objective.n_passes == passes + 1  # the labels' column sums only
    assert ours.dual == pytest.approx(_numpy_lasso_dual(X, y, w_coef, C), rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_multinomial_probabilities_give_the_same_gap_as_a_pass(fit_intercept):
    X, y = _data("multiclass")
    objective, l1 = _problem(X, y, 0.5, 0.5, fit_intercept, np.random.default_rng(4).uniform(0.2, 2, len(y)))
    objective.source.chunk_rows = 40
    coef = 0.3 * torch.tensor(np.random.default_rng(5).standard_normal(objective.coef_shape))
    f, grad, proba = objective.value_grad_proba(coef)
    from_pass = duality_gap(objective, coef, l1, value_grad=(f, grad))
    from_proba = duality_gap(objective, coef, l1, value_grad=(f, grad), proba=proba)
    assert from_proba.dual == pytest.approx(from_pass.dual, rel=1e-13)


@pytest.mark.parametrize("name", ["binary", "multiclass"])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_weak_duality_against_scikit_learns_optimum(name, l1_ratio, fit_intercept):
    X, y = _data(name)
    C = 0.5
    weights = np.random.default_rng(1).uniform(0.2, 2.0, len(y))
    objective, l1 = _problem(X, y, C, l1_ratio, fit_intercept, weights)
    reference = SkLogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-8, max_iter=100_000,
                                     random_state=0, fit_intercept=fit_intercept)
    reference.fit(X, y, sample_weight=weights)
    coef = np.hstack([reference.coef_, reference.intercept_[:, None]]) if fit_intercept else reference.coef_
    near_optimum = torch.tensor(coef)
    p_saga = objective.value(near_optimum) + float(l1.value(near_optimum))  # >= the optimum
    rng = np.random.default_rng(2)
    for scale in (0.0, 0.01, 0.3):
        point = near_optimum + scale * torch.tensor(rng.standard_normal(coef.shape))
        certificate = duality_gap(objective, point, l1)
        assert certificate.dual <= p_saga  # a feasible dual point lies below the optimum
        assert certificate.gap >= 0
    # the gap closes at the optimum: at saga's point it bounds saga's own distance to it
    assert 0 <= duality_gap(objective, near_optimum, l1).gap <= 1e-5


def test_the_estimator_reports_the_gap_of_l1_fits_only():
    X, y = _data("multiclass")
    lasso = LogisticRegression(C=0.5, l1_ratio=1.0, tol=1e-10).fit(X, y)
    assert 0 <= lasso.duality_gap_ <= 1e-9 * abs(lasso.objective_)
    assert LogisticRegression(C=0.5).fit(X, y).duality_gap_ is None
    factor = np.ones(X.shape[1])
    factor[0] = 0.0  # an unpenalised feature: no cheap feasible dual point, so no certificate
    assert np.isnan(LogisticRegression(C=0.5, l1_ratio=1.0, penalty_factor=factor).fit(X, y).duality_gap_)
