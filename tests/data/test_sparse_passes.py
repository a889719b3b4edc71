"""Sparse passes (issue 14): CSR rows are summed from their stored values, never densified.

The references are independent: the same rows densified in memory (the dense code path), and
scikit-learn's lbfgs / liblinear fits of the same objective.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import torchlogit.core.loss as loss_module
import torchlogit.core.objective as objective_module
from torchlogit.core.objective import Objective
from torchlogit.core.penalties import L1Penalty, L2Penalty, column_strengths
from torchlogit.data import InMemorySource, SparseRowsSource
from torchlogit.estimators.logistic import LogisticRegression
from torchlogit.solvers import prox_newton


def _sparse_data(n=240, d=40, n_classes=2, density=0.08, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=seed) * 3.0
    W = rng.normal(size=(n_classes if n_classes > 2 else 1, d)) * 2.0
    scores = X @ W.T
    if n_classes == 2:
        y = (rng.uniform(size=n) < 1 / (1 + np.exp(-scores[:, 0]))).astype(np.int64)
    else:
        P = np.exp(scores - scores.max(1, keepdims=True))
        y = np.array([rng.choice(n_classes, p=p / p.sum()) for p in P])
    return X, y, rng.uniform(0.5, 2.0, size=n)


class _NeverDense(SparseRowsSource):
    """A sparse source whose dense chunks are refused: a pass that densifies fails."""

    def chunks(self):
        raise AssertionError("the rows were densified")


def _pair(X, y, w, n_outputs, fit_intercept=True, alpha=0.01):
    d = X.shape[1]
    l2 = L2Penalty(column_strengths(alpha, d, fit_intercept, None, dtype=torch.float64, device="cpu"))
    kwargs = {"n_outputs": n_outputs, "fit_intercept": fit_intercept, "l2": l2, "dtype": torch.float64,
              "device": "cpu"}
    dense = Objective(InMemorySource(torch.tensor(X.toarray()), torch.tensor(y), torch.tensor(w)), **kwargs)
    sparse = Objective(_NeverDense(X, y, w, chunk_rows=7, dtype=torch.float64, device=torch.device("cpu")),
                       **kwargs)
    return dense, sparse


@pytest.fixture(params=["scipy", "torch"])
def backend(request, monkeypatch):
    """Both sparse back ends: scipy (CPU default) and torch's kernels (what CUDA runs), forced on CPU."""
    monkeypatch.setattr(loss_module, "_SCIPY_ON_CPU", request.param == "scipy")
    return request.param


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_sparse_sums_equal_the_dense_sums(backend, n_classes, fit_intercept):
    X, y, w = _sparse_data(n_classes=n_classes)
    dense, sparse = _pair(X, y, w, 1 if n_classes == 2 else n_classes, fit_intercept)
    coef = torch.randn(dense.coef_shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    f1, g1, h1 = dense.value_grad_hess(coef)
    f2, g2, h2 = sparse.value_grad_hess(coef)
    assert f2 == pytest.approx(f1, rel=1e-13)
    torch.testing.assert_close(g2, g1, rtol=1e-11, atol=1e-14)
    torch.testing.assert_close(h2, h1, rtol=1e-11, atol=1e-14)
    # a Hessian block over some entries of coef.ravel() (what proximal Newton asks for), unsorted
    index = torch.tensor([coef.numel() - 1, 3, 0, 17, coef.shape[1] + 2][: 4 + (n_classes > 2)])
    torch.testing.assert_close(sparse.value_grad_hess(coef, index)[2], dense.value_grad_hess(coef, index)[2],
                               rtol=1e-11, atol=1e-14)


def test_sparse_column_moments_equal_the_dense_ones(backend):
    X, y, w = _sparse_data()
    dense, sparse = _pair(X, y, w, 1)
    for a, b in zip(sparse.column_moments(), dense.column_moments(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    # and against numpy directly: weighted mean of the CSR columns
    np.testing.assert_allclose(sparse.column_moments()[0].numpy(), (X.T @ w) / w.sum(), rtol=1e-12)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_sampled_sparse_hessian_equals_the_dense_sampled_one(backend, monkeypatch, n_classes):
    monkeypatch.setattr(objective_module, "_HESSIAN_BLOCK_ROWS", 16)
    X, y, w = _sparse_data(n=100, n_classes=n_classes)
    dense, sparse = _pair(X, y, w, 1 if n_classes == 2 else n_classes)
    coef = torch.randn(dense.coef_shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    stride = dense.hessian_stride_for(rows=40)
    assert stride > 1
    torch.testing.assert_close(sparse.value_grad_hess(coef, hessian_stride=stride)[2],
                               dense.value_grad_hess(coef, hessian_stride=stride)[2], rtol=1e-11, atol=1e-14)


def test_stored_chunks_are_csr_views_of_the_matrix():
    X, y, w = _sparse_data()
    source = SparseRowsSource(X, y, w, chunk_rows=7, dtype=torch.float64, device=torch.device("cpu"))
    (Xc, _, _), = source.stored_chunks()
    assert Xc.layout == torch.sparse_csr and tuple(Xc.shape) == X.shape
    assert np.shares_memory(Xc.values().numpy(), source.X.data)  # no copy of the stored values
    np.testing.assert_array_equal(Xc.to_dense().numpy(), X.toarray())


def test_an_unsorted_csr_matrix_is_read_right_and_left_unchanged():
    X, y, w = _sparse_data(n=30, d=6, density=0.5)
    shuffled = X.copy()
    for i in range(X.shape[0]):  # reverse the entries of every row
        lo, hi = shuffled.indptr[i], shuffled.indptr[i + 1]
        shuffled.indices[lo:hi] = shuffled.indices[lo:hi][::-1].copy()
        shuffled.data[lo:hi] = shuffled.data[lo:hi][::-1].copy()
    shuffled.has_sorted_indices = False
    before = shuffled.indices.copy()
    source = SparseRowsSource(shuffled, y, w, chunk_rows=7, dtype=torch.float64, device=torch.device("cpu"))
    (Xc, _, _), = source.stored_chunks()
    np.testing.assert_array_equal(Xc.to_dense().numpy(), X.toarray())
    np.testing.assert_array_equal(shuffled.indices, before)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_lbfgs_on_sparse_rows_matches_sklearn_and_the_dense_fit(n_classes):
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    X, y, _ = _sparse_data(n=300, d=60, n_classes=n_classes, seed=3)
    sparse = LogisticRegression(solver="lbfgs", C=2.0, tol=1e-11, max_iter=2000).fit(X, y)
    dense = LogisticRegression(solver="lbfgs", C=2.0, tol=1e-11, max_iter=2000).fit(X.toarray(), y)
    ref = SkLogisticRegression(solver="lbfgs", C=2.0, tol=1e-12, max_iter=10000).fit(X, y)
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(sparse.coef_, ref.coef_, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(sparse.intercept_, ref.intercept_, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-7, atol=1e-7 * scale)


def test_lbfgs_fit_on_sparse_rows_never_densifies(monkeypatch):
    import torchlogit.estimators._shared as shared

    monkeypatch.setattr(shared, "SparseRowsSource", _NeverDense)
    X, y, _ = _sparse_data(n=200, d=800, density=0.01, seed=4)  # 801 coefficients: auto picks lbfgs
    model = LogisticRegression(tol=1e-9, max_iter=500).fit(X, y)
    assert model.solver_ == "lbfgs" and model.converged_


def test_l1_prox_newton_on_sparse_rows_matches_liblinear():
    """Without an intercept liblinear's L1 objective is exactly ours (its intercept would be penalised)."""
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    X, y, _ = _sparse_data(n=300, d=60, seed=5)
    C = 0.5
    ref = SkLogisticRegression(l1_ratio=1.0, solver="liblinear", C=C, tol=1e-7, max_iter=100000,
                               fit_intercept=False).fit(X, y)
    source = _NeverDense(X, y, np.ones(len(y)), chunk_rows=7, dtype=torch.float64, device=torch.device("cpu"))
    objective = Objective(source, n_outputs=1, fit_intercept=False, l2=None, dtype=torch.float64,
                          device="cpu")
    strength = column_strengths(1.0 / (C * len(y)), X.shape[1], False, None, dtype=torch.float64,
                                device="cpu")
    result = prox_newton(objective, objective.zeros(), l1=L1Penalty(strength), tol=1e-10, max_iter=200)
    assert result.converged
    coef = result.coef.numpy()[0]
    assert 0 < np.count_nonzero(coef) < len(coef)  # a sparse answer, not a trivial one
    np.testing.assert_array_equal(coef != 0, ref.coef_[0] != 0)
    np.testing.assert_allclose(coef, ref.coef_[0], rtol=1e-5, atol=1e-6)
