"""The Hessian-free coordinate-descent solver for sparse binomial rows (torchlogit.solvers.sparse_cd)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

from torchlogit import LogisticRegression


def _wide(n=200, d=600, seed=0):
    """More columns than rows, so a weak penalty's support outgrows the rows (the case dense
    Hessian blocks handle worst)."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.05, random_state=seed, format="csr")
    X.data = rng.normal(size=X.nnz)
    truth = np.zeros(d)
    truth[:20] = rng.normal(size=20) * 2
    y = (X @ truth + 0.5 * rng.normal(size=n) > 0).astype(int)
    return X, y, rng.uniform(0.5, 2.0, n)


def _objective(X, y, weights, coef, intercept, C, l1_ratio):
    """scikit-learn's objective, C·Σ sᵢℓᵢ + r‖w‖₁ + (1−r)/2‖w‖², in float64 numpy."""
    z = X @ coef + intercept
    loss = np.sum(weights * (np.logaddexp(0, z) - y * z))
    return C * loss + l1_ratio * np.abs(coef).sum() + 0.5 * (1 - l1_ratio) * coef @ coef


@pytest.mark.parametrize("l1_ratio", [1.0, 0.6])
@pytest.mark.parametrize("C", [0.3, 3.0])
def test_wide_sparse_fits_reach_scikit_learns_optimum(l1_ratio, C):
    X, y, weights = _wide()
    ours = LogisticRegression(C=C, l1_ratio=l1_ratio, tol=1e-10, max_iter=500)
    ours.fit(X, y, sample_weight=weights)
    reference = SkLogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-12, max_iter=200_000,
                                     random_state=0).fit(X, y, sample_weight=weights)
    F_ours = _objective(X, y, weights, ours.coef_[0], ours.intercept_[0], C, l1_ratio)
    F_ref = _objective(X, y, weights, reference.coef_[0], reference.intercept_[0], C, l1_ratio)
    assert F_ours <= F_ref + 1e-9 * abs(F_ref)
    np.testing.assert_allclose(ours.coef_, reference.coef_, atol=1e-5)
    assert ours.converged_ and ours.duality_gap_ <= 1e-8
    assert ours.history_[-1]["grad_max"] == ours.grad_max_  # the solver's record: sparse_cd's two rows
    assert len(ours.history_) == 2


def test_a_support_wider_than_the_rows_equals_the_dense_fit():
    X, y, weights = _wide(seed=1)
    kwargs = {"C": 100.0, "l1_ratio": 1.0, "tol": 1e-12, "max_iter": 1000}
    sparse = LogisticRegression(**kwargs).fit(X, y, sample_weight=weights)
    dense = LogisticRegression(**kwargs).fit(X.toarray(), y, sample_weight=weights)
    assert np.count_nonzero(dense.coef_) > 0.5 * X.shape[0]  # the regime the solver is for
    # with 153 active columns over 200 rows the optimum is nearly flat in some directions: both fits
    # reach KKT 4e-13 and objectives equal to 3e-17, yet the coefficients differ by up to 2.7e-7
    # (the Anderson-accelerated sweeps end elsewhere on that flat valley than plain sweeps, 1e-8)
    assert max(sparse.grad_max_, dense.grad_max_) <= 1e-12
    assert sparse.objective_ == pytest.approx(dense.objective_, rel=1e-13)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-6)
    np.testing.assert_allclose(sparse.intercept_, dense.intercept_, atol=1e-6)


def test_the_start_is_left_alone_and_warm_starts_resume():
    X, y, _ = _wide(seed=2)
    model = LogisticRegression(C=1.0, l1_ratio=1.0, warm_start=True).fit(X, y)
    first = model.coef_.copy()
    model.fit(X, y)  # from the optimum: nothing left to do
    np.testing.assert_allclose(model.coef_, first, atol=1e-10)
    assert model.n_iter_[0] == 0
