"""The objective: chunking does not change the sums; scaling matches scikit-learn's objective."""

import numpy as np
import pytest
import torch
from support.synthetic import make_classification_data

from torchlogit.core.loss import chunk_sums
from torchlogit.core.objective import Objective
from torchlogit.core.penalties import L2Penalty, column_strengths
from torchlogit.data import InMemorySource, SparseRowsSource


def _objective(X, y, w, n_out, chunk_rows=None, alpha=0.01):
    src = InMemorySource(torch.tensor(X), torch.tensor(y), torch.tensor(w), chunk_rows=chunk_rows)
    l2 = L2Penalty(column_strengths(alpha, X.shape[1], True, None, dtype=torch.float64, device="cpu"))
    return Objective(src, n_outputs=n_out, fit_intercept=True, l2=l2, dtype=torch.float64, device="cpu")


@pytest.mark.parametrize("n_classes", [2, 3])
def test_chunked_sums_equal_single_chunk(n_classes):
    X, y, w = make_classification_data(n=101, n_classes=n_classes, weights=True)
    n_out = 1 if n_classes == 2 else n_classes
    whole, chunked = _objective(X, y, w, n_out), _objective(X, y, w, n_out, chunk_rows=17)
    coef = torch.randn(whole.coef_shape, dtype=torch.float64)
    f1, g1, h1 = whole.value_grad_hess(coef)
    f2, g2, h2 = chunked.value_grad_hess(coef)
    assert f1 == pytest.approx(f2, rel=1e-14)
    torch.testing.assert_close(g1, g2, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(h1, h2, rtol=1e-12, atol=1e-14)


def _numpy_sums(X, y, w, coef, fit_intercept, n_classes):
    """Mean weighted log-loss, gradient and Hessian by the textbook formulas (no ridge)."""
    Xt = np.hstack([X, np.ones((len(X), 1))]) if fit_intercept else X
    S = w.sum()
    if n_classes == 2:
        z = Xt @ coef[0]
        p = 1 / (1 + np.exp(-z))
        f = np.sum(w * (np.logaddexp(0, z) - y * z)) / S
        return f, (Xt.T @ (w * (p - y)))[None] / S, Xt.T @ (Xt * (w * p * (1 - p))[:, None]) / S
    scores = Xt @ coef.T
    P = np.exp(scores - scores.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    Y = np.eye(n_classes)[y]
    f = np.sum(w * (np.log(np.exp(scores).sum(1)) - scores[np.arange(len(y)), y])) / S
    grad = ((P - Y) * w[:, None]).T @ Xt / S
    blocks = [[Xt.T @ (Xt * (w * P[:, k] * ((k == m) - P[:, m]))[:, None]) for m in range(n_classes)]
              for k in range(n_classes)]
    return f, grad, np.block(blocks) / S


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_pass_ready_copies_of_small_sources_give_the_textbook_sums(n_classes, fit_intercept):
    """A small in-memory source is read through pass-ready copies (X with its column of ones);
    F, ∇F, the Hessian, a Hessian block and Hessian-vector products are the textbook ones, and
    the same as through the stored chunks (a progress hook turns the copies off)."""
    X, y, w = make_classification_data(n=90, n_classes=n_classes, weights=True, seed=4)
    n_out = 1 if n_classes == 2 else n_classes
    src = InMemorySource(torch.tensor(X), torch.tensor(y), torch.tensor(w), chunk_rows=40)
    objective = Objective(src, n_outputs=n_out, fit_intercept=fit_intercept, l2=None, dtype=torch.float64,
                          device="cpu")
    coef = torch.tensor(np.random.default_rng(5).normal(size=objective.coef_shape))
    f, grad, hess = objective.value_grad_hess(coef)
    assert objective._ready.chunks is not None and len(objective._ready.chunks) == 3  # copied
    f_np, grad_np, hess_np = _numpy_sums(X, y, w, coef.numpy(), fit_intercept, n_classes)
    assert f == pytest.approx(f_np, rel=1e-13)
    np.testing.assert_allclose(grad.numpy(), grad_np, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(hess.numpy(), hess_np, rtol=1e-11, atol=1e-14)
    index = torch.tensor([0, objective.coef_shape[1] - 1, coef.numel() - 1])
    _, _, block = objective.value_grad_hess(coef, index)
    np.testing.assert_allclose(block.numpy(), hess_np[np.ix_(index.numpy(), index.numpy())], rtol=1e-11,
                               atol=1e-14)
    v = torch.randn(objective.coef_shape, dtype=torch.float64)
    _, _, operator = objective.value_grad_curvature(coef)
    np.testing.assert_allclose(operator(v).numpy().ravel(), hess_np @ v.numpy().ravel(),
                               rtol=1e-11, atol=1e-14)
    src.on_chunk = lambda rows: None  # a progress hook: passes read the stored chunks again
    f_stored, grad_stored, hess_stored = objective.value_grad_hess(coef)
    assert f_stored == pytest.approx(f, rel=1e-14)
    torch.testing.assert_close(grad_stored, grad, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(hess_stored, hess, rtol=1e-12, atol=1e-15)


def test_pass_ready_copies_are_shared_by_ridge_copies_and_serve_autograd_and_float32():
    """with_l2 copies made before any pass share the copies the first pass makes; copies made in
    inference mode (as fits make them) serve a later pass that autograd differentiates; a float32
    objective over float64 rows reads float32 copies and agrees with float64 to float32 rounding."""
    X, y, w = make_classification_data(n=70, weights=True, seed=6)
    src = InMemorySource(torch.tensor(X), torch.tensor(y), torch.tensor(w))
    base = Objective(src, n_outputs=1, fit_intercept=True, l2=None, dtype=torch.float64, device="cpu")
    ridge = base.with_l2(L2Penalty(column_strengths(0.2, X.shape[1], True, None, dtype=torch.float64,
                                                    device="cpu")))
    coef = torch.tensor(np.random.default_rng(7).normal(size=base.coef_shape))
    with torch.inference_mode():
        f_ridge = ridge.value(coef)
    assert base._ready.chunks is ridge._ready.chunks is not None
    point = coef.clone().requires_grad_()
    loss = sum(chunk_sums(Xc, yc, wc, point, intercept).loss for Xc, yc, wc, intercept in base._pass_chunks())
    loss.backward()
    _, grad = base.value_grad(coef)
    torch.testing.assert_close(point.grad / base.weight_sum, grad, rtol=1e-12, atol=1e-15)
    assert f_ridge == pytest.approx(base.value(coef) + float(ridge.l2.value(coef)), rel=1e-14)
    single = Objective(src, n_outputs=1, fit_intercept=True, l2=None, dtype=torch.float32, device="cpu")
    f32, g32, h32 = single.value_grad_hess(coef.float())
    assert single._ready.chunks[0][0].dtype == torch.float32
    f64, g64, h64 = base.value_grad_hess(coef)
    assert f32 == pytest.approx(f64, rel=1e-6)
    torch.testing.assert_close(g32.double(), g64, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h32.double(), h64, rtol=1e-5, atol=1e-6)


def test_large_sources_get_no_pass_ready_copy(monkeypatch):
    import torchlogit.core.objective as objective_module

    X, y, w = make_classification_data(n=120, weights=True)
    monkeypatch.setattr(objective_module, "PASS_READY_VALUES", X.size - 1)
    objective = _objective(X, y, w, 1)
    objective.value(objective.zeros())
    assert objective._ready.made and objective._ready.chunks is None
    monkeypatch.setattr(objective_module, "PASS_READY_VALUES", X.size)
    objective = _objective(X, y, w, 1)
    objective.value(objective.zeros())
    assert objective._ready.chunks is not None


def test_value_matches_sklearn_objective_divided_by_c_times_weight_sum():
    from sklearn.metrics import log_loss

    X, y, w = make_classification_data(n=80, weights=True)
    C = 0.7
    obj = _objective(X, y, w, 1, alpha=1 / (C * w.sum()))
    coef = torch.tensor([[0.3, -0.2, 0.1, 0.5, -0.4]], dtype=torch.float64)
    p = 1 / (1 + np.exp(-(X @ coef[0, :4].numpy() + coef[0, 4].item())))
    sklearn_objective = C * log_loss(y, p, sample_weight=w, normalize=False) + 0.5 * np.sum(
        coef[0, :4].numpy() ** 2
    )
    assert obj.value(coef) == pytest.approx(sklearn_objective / (C * w.sum()), rel=1e-13)


def test_sparse_source_matches_dense():
    import scipy.sparse as sp

    X, y, w = make_classification_data(n=60, weights=True)
    X[X < 0.3] = 0.0
    dense = _objective(X, y, w, 1)
    sparse = Objective(
        SparseRowsSource(sp.csr_matrix(X), y, w, chunk_rows=7, dtype=torch.float64, device="cpu"),
        n_outputs=1, fit_intercept=True, l2=dense.l2, dtype=torch.float64, device="cpu",
    )
    coef = torch.randn(dense.coef_shape, dtype=torch.float64)
    torch.testing.assert_close(dense.value_grad(coef)[1], sparse.value_grad(coef)[1])


def test_zero_total_weight_is_rejected():
    X, y, _ = make_classification_data(n=10)
    with pytest.raises(ValueError, match="sum to zero"):
        _objective(X, y, np.zeros(10), 1)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_sampled_hessian_of_repeated_blocks_is_the_full_hessian(monkeypatch, n_classes):
    """Every block of rows the same: any evenly spaced sample of blocks gives the exact Hessian."""
    import torchlogit.core.objective as objective_module

    monkeypatch.setattr(objective_module, "_HESSIAN_BLOCK_ROWS", 8)
    X, y, w = make_classification_data(n=8, n_classes=n_classes, weights=True)
    repeats = 12
    X, y, w = np.tile(X, (repeats, 1)), np.tile(y, repeats), np.tile(w, repeats)
    n_out = 1 if n_classes == 2 else n_classes
    full, sampled = _objective(X, y, w, n_out), _objective(X, y, w, n_out, chunk_rows=13)
    stride = sampled.hessian_stride_for(rows=30)  # every 3rd block of 8 rows: 4 of the 12
    assert stride == 3
    coef = torch.randn(full.coef_shape, dtype=torch.float64)
    f1, g1, h1 = full.value_grad_hess(coef)
    f2, g2, h2 = sampled.value_grad_hess(coef, hessian_stride=stride)
    assert f1 == pytest.approx(f2, rel=1e-13)  # F and its gradient still use every row
    torch.testing.assert_close(g1, g2, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(h1, h2, rtol=1e-12, atol=1e-14)
    assert sampled._sampled_ranges(0, 13, stride) == [(0, 8)]  # chunk rows 0-12: block 0 only
    assert sampled._sampled_ranges(13, 13, stride) == [(11, 13)]  # rows 13-25: rows 24-25 of block 3


def test_sampled_hessian_differs_when_the_blocks_differ(monkeypatch):
    """The stride really selects rows: on rows that are not repeats, a sample is not the full Hessian,
    and the sample of every 2nd block is exactly the Hessian of those rows scaled up."""
    import torchlogit.core.objective as objective_module

    monkeypatch.setattr(objective_module, "_HESSIAN_BLOCK_ROWS", 8)
    X, y, w = make_classification_data(n=64, weights=True)
    objective = _objective(X, y, w, 1, chunk_rows=20)
    coef = torch.randn(objective.coef_shape, dtype=torch.float64)
    _, _, full = objective.value_grad_hess(coef)
    _, _, sampled = objective.value_grad_hess(coef, hessian_stride=2)
    assert not torch.allclose(full, sampled, rtol=1e-3)
    rows = np.concatenate([np.arange(start, start + 8) for start in range(0, 64, 16)])
    blocks = _objective(X[rows], y[rows], w[rows], 1, alpha=0.0)
    _, _, block_hess = blocks.value_grad_hess(coef)
    ridge = torch.diag(objective.l2.hess_diag(1))
    scale = 64 / 32 * w[rows].sum() / w.sum()  # rows/sampled rows, then the weight sums' ratio
    torch.testing.assert_close(sampled - ridge, block_hess * scale, rtol=1e-10, atol=1e-14)


def test_a_sampled_hessian_block_is_formed_in_float32_and_returned_in_float64(monkeypatch):
    """A sampled block (``hess_index`` with ``hessian_stride``) of float64 rows is multiplied in
    float32: it agrees with the same rows' float64 block to float32 rounding, not to float64's."""
    import torchlogit.core.objective as objective_module

    monkeypatch.setattr(objective_module, "_HESSIAN_BLOCK_ROWS", 8)
    X, y, w = make_classification_data(n=64, weights=True)
    objective = _objective(X, y, w, 1, chunk_rows=20, alpha=0.0)
    coef = torch.randn(objective.coef_shape, dtype=torch.float64)
    index = torch.tensor([0, 2, objective.coef_shape[1] - 1])
    _, _, sampled = objective.value_grad_hess(coef, index, hessian_stride=2)
    assert sampled.dtype == torch.float64
    rows = np.concatenate([np.arange(start, start + 8) for start in range(0, 64, 16)])
    _, _, exact = _objective(X[rows], y[rows], w[rows], 1, alpha=0.0).value_grad_hess(coef, index)
    exact = exact * (64 / 32 * w[rows].sum() / w.sum())  # scaled up as the sample is
    torch.testing.assert_close(sampled, exact, rtol=1e-5, atol=1e-7)
    assert not torch.allclose(sampled, exact, rtol=1e-12, atol=0)  # float32 products, really


def test_with_l2_shares_the_counted_rows_and_leaves_the_source_objective_alone():
    X, y, w = make_classification_data(n=90, weights=True)
    source = InMemorySource(torch.tensor(X), torch.tensor(y), torch.tensor(w), chunk_rows=40)
    passes = []
    chunks = source.chunks

    def counted_chunks():
        passes.append(1)
        yield from chunks()

    source.chunks = counted_chunks
    source.row_totals = lambda: None  # counted in a pass, as a source without footers
    base = Objective(source, n_outputs=1, fit_intercept=True, l2=None, dtype=torch.float64, device="cpu")
    counted = len(passes)
    assert counted == 1
    l2 = L2Penalty(column_strengths(0.3, X.shape[1], True, None, dtype=torch.float64, device="cpu"))
    ridge = base.with_l2(l2)
    assert len(passes) == counted  # no counting pass
    assert (ridge.n_rows, ridge.weight_sum, ridge.source) == (base.n_rows, base.weight_sum, base.source)
    assert base.l2 is None and ridge.l2 is l2
    coef = torch.randn(base.coef_shape, dtype=torch.float64)
    expected = Objective(source, n_outputs=1, fit_intercept=True, l2=l2, dtype=torch.float64, device="cpu")
    value = ridge.value(coef)
    assert value == expected.value(coef)
    assert value == pytest.approx(base.value(coef) + float(l2.value(coef)), rel=1e-14)
    assert (ridge.n_passes, base.n_passes) == (1, 1)  # each counts the passes made through it
    assert ridge.last_coef is coef
