"""Per-chunk logistic loss: value, gradient and Hessian as *sums* over the rows of one chunk.

Conventions (shared with :mod:`torchlogit.core.objective` and every solver):

* ``coef`` is a matrix of shape ``(n_outputs, n_features + fit_intercept)``; the intercept, when
  fitted, is the **last column**. ``n_outputs`` is 1 for the binomial (sigmoid) model and
  ``n_classes`` for the multinomial (softmax) model, which, like scikit-learn, keeps one row per
  class (the model is over-parametrised; see the gauge in :mod:`torchlogit.solvers.newton`).
* ``y`` holds class indices ``0..n_classes-1`` (as the dtype of ``X`` for the binomial model,
  ``int64`` for the multinomial one); ``sample_weight`` is one non-negative weight per row.
* The gradient has the shape of ``coef``; the Hessian is the square matrix over ``coef.ravel()``
  (row-major: all coefficients of class 0, then class 1, ...).
* Losses are computed with log-sigmoid / log-sum-exp, never ``log(sigmoid(z))``.

Everything returned is an un-normalised sum over the chunk's rows, so chunks can be added up
(and all-reduced across processes) before the objective normalises.

A chunk's ``X`` is dense, or a torch sparse CSR tensor (``DataSource.stored_chunks``): every sum
then reads the stored values only (margins ``X @ W.T``, gradients ``Xᵀr``, Hessians
``Xᵀ diag(h) X`` as sparse products), never a densified row. The intercept is its own term, so
sparse columns are never centred. On CPU the sparse products run in scipy on views of the same
arrays, 2-4 times faster than torch's CSR kernels there (``benchmarks/bench_sparse.py``);
on other devices (CUDA) in torch.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

if TYPE_CHECKING:
    import scipy.sparse as sp

# Rows per block when forming weighted Gram matrices: keeps the block in cache and lets BLAS use
# its fast tall-skinny path; float32 blocks are 4x taller (see benchmarks/README.md).
_GRAM_BLOCK_ROWS = 4096
# sparse products on CPU through scipy (views of the same arrays); False: torch's kernels everywhere
_SCIPY_ON_CPU = True
# a dense Hessian of at most one row block, whose product operand holds at most this many values,
# is one product over X̃ = [X, 1] (a multinomial one: over every class pair at once), a handful of
# torch calls instead of about twenty per Gram: on small data the calls, not the arithmetic, cost.
# Below a cache-sized chunk (data/memory.py), whose Grams are then blocked, summed in float64 and
# never pay X̃'s copy: benchmark B's default fit 1.28 → 1.13 s against 2²⁰ (benchmarks/README.md)
_ONE_PRODUCT_VALUES = 1 << 17


@dataclass
class ChunkSums:
    """Sums over the rows of one chunk: weighted loss, gradient and (optionally) Hessian."""

    loss: Tensor | float  # a Python float once the objective has normalised it (Objective._sums)
    grad: Tensor | None = None
    hess: Tensor | None = None
    # each chunk's (class-major probabilities, row weights), in chunk order: what Hessian-vector
    # products need (:func:`curvature_weights`, :func:`hessian_vector_sums`)
    curvature: list | None = None

    def __iadd__(self, other: ChunkSums) -> ChunkSums:
        self.loss = self.loss + other.loss
        self.grad = _add(self.grad, other.grad)
        self.hess = _add(self.hess, other.hess)  # a sampled Hessian may come from some chunks only
        if other.curvature is not None:  # extended in place: a pass over many chunks stays linear
            if self.curvature is None:
                self.curvature = []
            self.curvature.extend(other.curvature)
        return self


def _add(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    return b if a is None else a if b is None else a + b


def is_csr(X: Tensor) -> bool:
    """Whether a chunk's ``X`` is a torch sparse CSR tensor (rows as stored values only)."""
    return X.layout == torch.sparse_csr


def _uses_scipy(X: Tensor) -> bool:
    return _SCIPY_ON_CPU and X.device.type == "cpu"


def _scipy_csr(X: Tensor) -> sp.csr_matrix:
    """A scipy CSR matrix over the arrays of the CPU CSR tensor ``X`` (no copy)."""
    import scipy.sparse as sp

    return sp.csr_matrix((X.values().numpy(), X.col_indices().numpy(), X.crow_indices().numpy()),
                         shape=tuple(X.shape), copy=False)


def _csr_tensor(crow: Tensor, col: Tensor, values: Tensor, shape: tuple[int, int]) -> Tensor:
    with warnings.catch_warnings():  # torch calls its CSR support beta, once per process
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(crow, col, values, size=shape, check_invariants=False)


def _coordinates(X: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Row index, column index and value of every stored entry of the CSR tensor ``X``."""
    crow = X.crow_indices()
    rows = torch.repeat_interleave(torch.arange(X.shape[0], device=X.device, dtype=crow.dtype), crow.diff(),
                                   output_size=X.values().numel())
    return rows, X.col_indices(), X.values()


def _from_numpy(values: np.ndarray, shape: tuple[int, int]) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(values)).reshape(shape)


def csr_matmul(X: Tensor, B: Tensor) -> Tensor:
    """``X @ B`` for a CSR ``X`` (n, d) and a dense ``B`` (d, k): (n, k), from the stored values."""
    if _uses_scipy(X):
        B_np = B.detach().numpy()
        product = _scipy_csr(X) @ (B_np[:, 0] if B.shape[1] == 1 else B_np)
        return _from_numpy(product, (X.shape[0], B.shape[1]))
    return torch.sparse.mm(X, B.contiguous())


def csr_tmatmul(X: Tensor, R: Tensor) -> Tensor:
    """``Xᵀ @ R`` for a CSR ``X`` (n, d) and a dense ``R`` (n, k): (d, k), from the stored values.

    torch's transposed CSR product is slow, so off scipy it is a scatter-add over the entries."""
    if _uses_scipy(X):
        R_np = R.detach().numpy()
        product = _scipy_csr(X).T @ (R_np[:, 0] if R.shape[1] == 1 else R_np)
        return _from_numpy(product, (X.shape[1], R.shape[1]))
    rows, cols, values = _coordinates(X)
    return R.new_zeros(X.shape[1], R.shape[1]).index_add_(0, cols, values[:, None] * R[rows])


def row_block(X: Tensor, start: int, stop: int) -> Tensor:
    """Rows ``[start, stop)`` of a chunk's ``X``, dense or CSR (a view of the stored arrays)."""
    if not is_csr(X):
        return X[start:stop]
    crow = X.crow_indices()[start : stop + 1]
    first, last = int(crow[0]), int(crow[-1])
    return _csr_tensor(crow - crow[0], X.col_indices()[first:last], X.values()[first:last],
                       (stop - start, X.shape[1]))


def weighted_column_moments(X: Tensor, w: Tensor) -> Tensor:
    """``[Σᵢ wᵢxᵢⱼ, Σᵢ wᵢxᵢⱼ²]`` of shape (2, d), in float64, from the stored values when ``X`` is CSR."""
    w64 = w.to(torch.float64)
    if is_csr(X):
        X64 = X.to(torch.float64)
        squared = _csr_tensor(X64.crow_indices(), X64.col_indices(), X64.values() ** 2, tuple(X64.shape))
        return torch.cat([csr_tmatmul(X64, w64[:, None]), csr_tmatmul(squared, w64[:, None])], dim=1).T
    Xw = X.to(torch.float64) * w64[:, None]
    return torch.stack([Xw.sum(0), (Xw * X.to(torch.float64)).sum(0)])


def linear_predictor(X: Tensor, coef: Tensor, fit_intercept: bool) -> Tensor:
    """Raw scores ``X @ W.T (+ b)`` of shape ``(n_rows, n_outputs)``; ``X`` dense or CSR."""
    if is_csr(X):
        scores = csr_matmul(X, (coef[:, :-1] if fit_intercept else coef).T)
        return scores + coef[:, -1] if fit_intercept else scores
    if fit_intercept:
        return torch.addmm(coef[:, -1], X, coef[:, :-1].T)
    return X @ coef.T


def logits_loss(scores: Tensor, y: Tensor, sample_weight: Tensor) -> Tensor:
    """Σᵢ sᵢ ℓ(yᵢ, scoresᵢ): binomial for one score column, multinomial for several.

    Differentiable, so the tutorial's autograd loop and the analytic solvers share one formula.
    """
    if scores.shape[1] == 1:
        z = scores[:, 0]
        if y.dtype != z.dtype:
            y = y.to(z.dtype)
        # ℓ = log(1 + e^z) - y z = (z - y z) - logsigmoid(z), stable for any z; torch.addcmul, not
        # `1 - y`, whose Python-level operator costs small fits microseconds a pass
        return torch.dot(sample_weight, torch.addcmul(z, y, z, value=-1) - F.logsigmoid(z))
    log_norm = torch.logsumexp(scores, dim=1)
    return torch.dot(sample_weight, log_norm - scores.gather(1, y[:, None])[:, 0])


def _csr_gram(X: Tensor, h: Tensor, features: Tensor | None) -> tuple[Tensor, Tensor]:
    """``X_Sᵀ diag(h) X_S`` and ``X_Sᵀh`` (float64) over the columns ``features`` of a CSR ``X``
    (every column when None), as sparse products: Σᵢ (stored values of row i)² multiply-adds
    instead of n·|S|², the result dense (callers ask for it only while it is small)."""
    if _uses_scipy(X):
        import scipy.sparse as sp

        Xs = _scipy_csr(X) if features is None else _scipy_csr(X)[:, features.cpu().numpy()]
        Xs = Xs.astype(np.float64, copy=False)
        h64 = h.detach().to(torch.float64).numpy()
        scaled = sp.csr_matrix((Xs.data * np.repeat(h64, np.diff(Xs.indptr)), Xs.indices, Xs.indptr),
                               shape=Xs.shape)
        return torch.from_numpy((Xs.T @ scaled).toarray()), torch.from_numpy(Xs.T @ h64)
    rows, cols, values = _coordinates(X)
    m = X.shape[1]
    if features is not None:  # entries of the other columns dropped, columns renumbered 0..|S|-1
        position = torch.full((m,), -1, dtype=torch.int64, device=X.device)
        position[features] = torch.arange(features.numel(), device=X.device)
        cols = position[cols]
        keep = cols >= 0
        rows, cols, values, m = rows[keep], cols[keep], values[keep], features.numel()
    rows, cols, values = rows.long(), cols.long(), values.to(torch.float64)
    scaled = values * h.to(torch.float64)[rows]
    index = torch.stack([rows, cols])
    A = torch.sparse_coo_tensor(index, values, (X.shape[0], m), check_invariants=False)
    Ah = torch.sparse_coo_tensor(index, scaled, (X.shape[0], m), check_invariants=False)
    gram = torch.sparse.mm(A.t().coalesce(), Ah.coalesce()).to_dense()
    return gram, scaled.new_zeros(m).index_add_(0, cols, scaled)


def _with_intercept(gram: Tensor, x_h: Tensor, h: Tensor, dtype: torch.dtype) -> Tensor:
    """``[[G, Xᵀh], [hᵀX, Σh]]`` in ``dtype``: the Gram matrix of X̃ = [X, 1] from that of X."""
    gram, Xh = gram.to(dtype), x_h.to(dtype)
    top = torch.cat([gram, Xh[:, None]], dim=1)
    bottom = torch.cat([Xh, h.sum(dtype=torch.float64).to(dtype).reshape(1)])[None, :]
    return torch.cat([top, bottom], dim=0)


def _weighted_gram(X: Tensor, h: Tensor, fit_intercept: bool) -> Tensor:
    """``X̃ᵀ diag(h) X̃`` with X̃ = [X, 1], formed in row blocks without building X̃.

    The intercept's row and column are ``Xᵀh`` and ``Σh``; only the d × d part needs a matrix
    product, done block by block so each block stays in cache. Block results are summed in
    float64 even for float32 data, so a running sum over millions of rows does not lose digits.
    A CSR ``X`` is multiplied sparsely (:func:`_csr_gram`).
    """
    if is_csr(X):
        gram, x_h = _csr_gram(X, h, None)
        return _with_intercept(gram, x_h, h, X.dtype) if fit_intercept else gram.to(X.dtype)
    d = X.shape[1]
    block_rows = _gram_block_rows(X)
    if _one_product(X, 1, fit_intercept):
        Xt = _with_ones(X) if fit_intercept else X
        return Xt.T @ (Xt * h[:, None])
    gram = X.new_zeros(d, d, dtype=torch.float64)
    x_h = X.new_zeros(d, dtype=torch.float64)
    for start in range(0, X.shape[0], block_rows):
        Xb, hb = X[start : start + block_rows], h[start : start + block_rows]
        gram += Xb.T @ (Xb * hb[:, None])
        if fit_intercept:  # the intercept column Xᵀh, while the block is in cache
            x_h += Xb.T @ hb
    if not fit_intercept:
        return gram.to(X.dtype)
    return _with_intercept(gram, x_h, h, X.dtype)


def _gram_block_rows(X: Tensor) -> int:
    return _GRAM_BLOCK_ROWS if X.dtype == torch.float64 else 4 * _GRAM_BLOCK_ROWS


def _one_product(X: Tensor, n_grams: int, fit_intercept: bool) -> bool:
    """Whether ``n_grams`` Grams of a dense ``X`` (with the intercept column when ``fit_intercept``)
    are formed as one product (``_ONE_PRODUCT_VALUES``): ``X`` is one row block, the operand small."""
    n, d = X.shape
    columns = d + int(fit_intercept)
    return not is_csr(X) and n <= _gram_block_rows(X) and n * columns * n_grams <= _ONE_PRODUCT_VALUES


def _with_ones(X: Tensor) -> Tensor:
    """X̃ = [X, 1], a copy of a dense ``X`` with the intercept column."""
    return torch.cat([X, X.new_ones(X.shape[0], 1)], dim=1)


def _weighted_gram_columns(X: Tensor, h: Tensor, columns: Tensor, low_precision: bool = False) -> Tensor:
    """The ``columns`` block of ``X̃ᵀ diag(h) X̃`` (X̃ = [X, 1]; index ``X.shape[1]`` is the intercept).

    What an active-set solver needs: ``len(columns)²`` work per row instead of ``d²``. The columns
    are gathered (as rows of the transpose) a row block at a time, blocks of ~4M values (4096-row
    blocks of a few hundred columns make products too thin); the intercept's row is ``X_Sᵀh``.
    ``low_precision``: dense float64 blocks are multiplied and summed in float32 (twice the
    speed), for a Hessian that is approximate anyway (from sampled rows); returned as ``X.dtype``.
    """
    d = X.shape[1]
    is_feature = columns < d
    features = columns[is_feature]
    m = features.numel()
    if is_csr(X):
        gram, x_h = _csr_gram(X, h, features)
        return _in_column_order(_with_intercept(gram, x_h, h, X.dtype), columns, is_feature)
    rows = min(max(_GRAM_BLOCK_ROWS, (1 << 22) // max(m, 1)), 1 << 16)
    every = m == d and bool((features == torch.arange(d, device=features.device)).all())
    work = torch.float32 if low_precision and X.dtype == torch.float64 else X.dtype
    gram = X.new_zeros(m + 1, m + 1, dtype=work)  # features, then the intercept
    for start in range(0, X.shape[0], rows):
        # X_Sᵀ as the rows ``features`` of the block's transpose: torch gathers whole rows several
        # times faster than scattered columns (index_select(1, ...) of a row-major block)
        XbT = X[start : start + rows].T
        if not every:
            XbT = XbT.index_select(0, features)
        XbT, hb = XbT.to(work), h[start : start + rows].to(work)
        gram[:m, :m].addmm_(XbT * hb, XbT.T)
        gram[m, :m].addmv_(XbT, hb)
    gram = gram.to(X.dtype)
    gram[:m, m] = gram[m, :m]
    gram[m, m] = h.sum()
    return _in_column_order(gram, columns, is_feature)


def _in_column_order(gram: Tensor, columns: Tensor, is_feature: Tensor) -> Tensor:
    """A Gram block over (features of ``columns``, then the intercept) back in the order of ``columns``:
    features keep their order, the intercept goes where it was."""
    m = int(is_feature.sum())
    position = torch.full_like(columns, m)
    position[is_feature] = torch.arange(m, device=columns.device)
    return gram[position][:, position]


def binomial_sums(
    X: Tensor, y: Tensor, sample_weight: Tensor, coef: Tensor, fit_intercept: bool,
    *, need_grad: bool = True, need_hess: bool = False, hess_index: Tensor | None = None,
) -> ChunkSums:
    """Weighted binomial log-loss sums for one chunk (``coef`` has one row).

    ``hess_index``, when given, restricts the Hessian to those entries of ``coef.ravel()``.
    With the gradient come the rows' probabilities and weights (``curvature``, for Hessian-vector
    products: :func:`curvature_weights`), at no cost: the pass forms them anyway.
    """
    scores = linear_predictor(X, coef, fit_intercept)
    if y.dtype != scores.dtype:  # once: logits_loss's own conversion is then skipped
        y = y.to(scores.dtype)
    sums = ChunkSums(loss=logits_loss(scores, y, sample_weight))
    if not (need_grad or need_hess):
        return sums
    z = scores[:, 0]
    p = torch.sigmoid(z)
    r = sample_weight * (p - y)
    grad_w = csr_tmatmul(X, r[:, None])[:, 0] if is_csr(X) else X.T @ r
    grad = torch.cat([grad_w, r.sum().reshape(1)]) if fit_intercept else grad_w
    sums.grad = grad.reshape(1, -1)
    sums.curvature = [(p[None, :], sample_weight)]
    if need_hess:
        sums.hess = curvature_hessian(X, p[None, :], sample_weight, fit_intercept, hess_index)
    return sums


def multinomial_sums(
    X: Tensor, y: Tensor, sample_weight: Tensor, coef: Tensor, fit_intercept: bool,
    *, need_grad: bool = True, need_hess: bool = False, hess_index: Tensor | None = None,
) -> ChunkSums:
    """Weighted multinomial (softmax) log-loss sums for one chunk (``coef`` has one row per class).

    Works on class-major scores (``n_classes × n_rows``): the log-sum-exp and softmax then reduce
    across a few long contiguous rows, which vectorises, where torch's row-wise softmax over a few
    columns does not. With the gradient come the class-major probabilities and the row weights
    (``curvature``, for Hessian-vector products: :func:`curvature_weights`).
    """
    scores_t = _class_major_scores(X, coef, fit_intercept)
    top = scores_t.max(dim=0).values
    exp_t = torch.exp(scores_t - top)
    norm = exp_t.sum(dim=0)
    log_norm = top + torch.log(norm)
    own = scores_t.gather(0, y[None, :])[0]
    sums = ChunkSums(loss=torch.dot(sample_weight, log_norm - own))
    if not (need_grad or need_hess):
        return sums
    proba_t = exp_t.div_(norm)
    resid_t = proba_t * sample_weight
    resid_t.scatter_add_(0, y[None, :], -sample_weight[None, :])
    sums.grad = _residual_gradient(X, resid_t, fit_intercept)
    sums.curvature = [(proba_t, sample_weight)]
    if need_hess:
        sums.hess = curvature_hessian(X, proba_t, sample_weight, fit_intercept, hess_index)
    return sums


def curvature_hessian(X: Tensor, proba_t: Tensor, sample_weight: Tensor, fit_intercept: bool,
                      hess_index: Tensor | None = None, low_precision: bool = False) -> Tensor:
    """``Σᵢ ∇²ℓᵢ`` over the rows of ``X`` (un-normalised) from the class-major probabilities of a
    pass over them (a ``curvature`` entry, or a slice of one): no scores recomputed, which is
    what a Hessian from a sample of a chunk's rows needs. ``hess_index`` restricts it to that
    square block of ``coef.ravel()``; ``low_precision`` lets a binomial block of float64 rows be
    formed in float32 (:func:`_weighted_gram_columns`)."""
    if proba_t.shape[0] == 1:
        h = _binomial_curvature(proba_t[0], sample_weight)
        if hess_index is None:
            return _weighted_gram(X, h, fit_intercept)
        return _weighted_gram_columns(X, h, hess_index, low_precision)
    proba = proba_t.T
    if hess_index is None:
        return _multinomial_hessian(X, proba, sample_weight, fit_intercept)
    return _multinomial_hessian_block(X, proba, sample_weight, fit_intercept, hess_index)


def _class_major_scores(X: Tensor, coef: Tensor, fit_intercept: bool) -> Tensor:
    """Scores ``W X̃ᵀ`` of shape ``(n_outputs, n_rows)``, ``X`` dense or CSR."""
    weights, bias = (coef[:, :-1], coef[:, -1:]) if fit_intercept else (coef, None)
    if is_csr(X):
        scores_t = csr_matmul(X, weights.T).T.contiguous()
        return scores_t if bias is None else scores_t + bias
    return weights @ X.T if bias is None else torch.addmm(bias, weights, X.T)


def _residual_gradient(X: Tensor, resid_t: Tensor, fit_intercept: bool) -> Tensor:
    """``R X̃`` for class-major row residuals ``R`` (n_outputs × n_rows): the gradient's layout."""
    grad_w = csr_tmatmul(X, resid_t.T).T if is_csr(X) else resid_t @ X
    return torch.cat([grad_w, resid_t.sum(1)[:, None]], dim=1) if fit_intercept else grad_w


def curvature_weights(proba_t: Tensor, sample_weight: Tensor) -> Tensor | tuple[Tensor, Tensor]:
    """What :func:`hessian_vector_sums` needs from a pass's ``curvature`` entry (class-major
    probabilities and row weights): the weights ``sᵢpᵢ(1 − pᵢ)`` for one output, else both."""
    if proba_t.shape[0] == 1:
        return _binomial_curvature(proba_t[0], sample_weight)
    return proba_t, sample_weight


def _binomial_curvature(p: Tensor, sample_weight: Tensor) -> Tensor:
    """``sᵢ pᵢ (1 − pᵢ)``, as ``sᵢ (pᵢ − pᵢ²)`` in two tensor operations."""
    return sample_weight * torch.addcmul(p, p, p, value=-1)


def hessian_vector_sums(X: Tensor, curvature: Tensor | tuple[Tensor, Tensor], v: Tensor,
                        fit_intercept: bool) -> Tensor:
    """``Σᵢ ∇²ℓᵢ · v`` over one chunk's rows (un-normalised, the shape of ``coef``), from its
    :func:`curvature_weights`: two products with ``X``, no Hessian matrix.

    Binomial (``curvature`` the weights ``h``): ``X̃ᵀ (h ⊙ X̃v)``. Multinomial (``curvature`` the
    class-major probabilities ``P`` and the row weights ``s``): with ``U = V X̃ᵀ``, each row's
    ``(diag(pᵢ) − pᵢpᵢᵀ) uᵢ`` is ``pᵢ ⊙ uᵢ − pᵢ (pᵢ·uᵢ)``, times ``sᵢ``, then back through ``X̃``.
    """
    scores_t = _class_major_scores(X, v, fit_intercept)
    if v.shape[0] == 1:
        return _residual_gradient(X, scores_t * curvature, fit_intercept)
    proba_t, sample_weight = curvature
    weighted = proba_t * scores_t
    resid_t = (weighted - proba_t * weighted.sum(0)) * sample_weight
    return _residual_gradient(X, resid_t, fit_intercept)


def _multinomial_hessian(X: Tensor, proba: Tensor, sample_weight: Tensor, fit_intercept: bool) -> Tensor:
    """Block Hessian Σᵢ sᵢ (diag(pᵢ) − pᵢpᵢᵀ) ⊗ x̃ᵢx̃ᵢᵀ, blocks ordered like ``coef.ravel()``.

    Only the Grams of the class pairs k < l are formed, ``G_kl = X̃ᵀ diag(s p_k p_l) X̃``: the
    block (k, l) is ``−G_kl`` and the diagonal block (k, k) is ``Σ_{l≠k} G_kl``, because each row's
    weights ``s p_k (δ_kl − p_l)`` sum to zero over l (the probabilities sum to one). That is
    K(K−1)/2 Grams instead of K(K+1)/2 (half as many for 3 classes), and no ``1 − p_k``, which
    loses digits where p_k is near one.
    """
    n_classes = proba.shape[1]
    if _one_product(X, n_classes * (n_classes - 1) // 2, fit_intercept):
        return _multinomial_hessian_one_product(X, proba, sample_weight, fit_intercept)
    d = X.shape[1] + int(fit_intercept)
    hess = torch.zeros(n_classes, d, n_classes, d, dtype=X.dtype, device=X.device)  # X may be CSR
    for k, l in itertools.combinations(range(n_classes), 2):  # noqa: E741 - the usual class indices
        gram = _weighted_gram(X, proba[:, k] * proba[:, l] * sample_weight, fit_intercept)
        hess[k, :, l, :] = -gram
        hess[l, :, k, :] = -gram
        hess[k, :, k, :] += gram
        hess[l, :, l, :] += gram
    return hess.reshape(n_classes * d, n_classes * d)


def _multinomial_hessian_one_product(X: Tensor, proba: Tensor, sample_weight: Tensor,
                                     fit_intercept: bool) -> Tensor:
    """:func:`_multinomial_hessian` for a small dense ``X``, every class pair's Gram in one product.

    The weights ``s p_k p_l`` of the pairs k < l side by side, each multiplying X̃'s rows, make one
    ``n × (pairs · d)`` operand: ``X̃ᵀ`` times it is every pair's Gram at once, and one small
    product with ``_class_pairs``' mixing matrix turns them into the K² blocks."""
    n, n_classes = proba.shape
    Xt = _with_ones(X) if fit_intercept else X
    d = Xt.shape[1]
    first, second, mixing = _class_pairs(n_classes, X.device, X.dtype)
    h = proba.index_select(1, first) * proba.index_select(1, second) * sample_weight[:, None]
    grams = (Xt.T @ (h[:, :, None] * Xt[:, None, :]).reshape(n, -1)).reshape(d, -1, d)  # [j, pair, j']
    blocks = (mixing @ grams.transpose(0, 1).reshape(first.numel(), d * d))  # [(k, l), (j, j')]
    return blocks.reshape(n_classes, n_classes, d, d).transpose(1, 2).reshape(n_classes * d, n_classes * d)


_ClassPairs = tuple[Tensor, Tensor, Tensor]
_CLASS_PAIRS: dict[tuple[int, torch.device, torch.dtype], _ClassPairs] = {}


def _class_pairs(n_classes: int, device: torch.device, dtype: torch.dtype) -> _ClassPairs:
    """The class pairs k < l (as ``first``, ``second``) and the ``(K², pairs)`` matrix (in ``dtype``)
    that maps their Grams to the Hessian's blocks (k, l) in row-major order: −1 into (k, l) and
    (l, k), +1 into (k, k) and (l, l). Made once per class count, device and dtype."""
    key = (n_classes, torch.device(device), dtype)
    if key not in _CLASS_PAIRS:
        with torch.inference_mode(False):  # fits run in inference mode; autograd passes reuse these
            _CLASS_PAIRS[key] = _new_class_pairs(n_classes, device, dtype)
    return _CLASS_PAIRS[key]


def _new_class_pairs(n_classes: int, device: torch.device, dtype: torch.dtype) -> _ClassPairs:
    """What :func:`_class_pairs` caches, formed afresh."""
    first, second = torch.triu_indices(n_classes, n_classes, offset=1, device=device)
    mixing = torch.zeros(n_classes, n_classes, first.numel(), dtype=dtype, device=device)
    pairs = torch.arange(first.numel(), device=device)
    mixing[first, second, pairs] = -1.0
    mixing[second, first, pairs] = -1.0
    mixing[first, first, pairs] = 1.0
    mixing[second, second, pairs] = 1.0
    return first, second, mixing.reshape(n_classes * n_classes, -1)


def _multinomial_hessian_block(
    X: Tensor, proba: Tensor, sample_weight: Tensor, fit_intercept: bool, hess_index: Tensor,
) -> Tensor:
    """The rows and columns ``hess_index`` (into ``coef.ravel()``) of the multinomial Hessian."""
    n_classes = proba.shape[1]
    d = X.shape[1] + int(fit_intercept)
    classes, cols = hess_index // d, hess_index % d
    union, position = torch.unique(cols, return_inverse=True)
    out = torch.zeros(hess_index.numel(), hess_index.numel(), dtype=X.dtype, device=X.device)
    members = [torch.nonzero(classes == k).flatten() for k in range(n_classes)]
    for k in range(n_classes):
        for l in range(k, n_classes):  # noqa: E741 - the class index of the usual formula
            if members[k].numel() == 0 or members[l].numel() == 0:
                continue
            h = proba[:, k] * ((1.0 if k == l else 0.0) - proba[:, l]) * sample_weight
            gram = _weighted_gram_columns(X, h, union)
            block = gram[position[members[k]]][:, position[members[l]]]
            out[members[k][:, None], members[l][None, :]] = block
            if l != k:
                out[members[l][:, None], members[k][None, :]] = block.T
    return out


def chunk_sums(
    X: Tensor, y: Tensor, sample_weight: Tensor, coef: Tensor, fit_intercept: bool,
    *, need_grad: bool = True, need_hess: bool = False, hess_index: Tensor | None = None,
) -> ChunkSums:
    """Dispatch to the binomial (one output row) or multinomial (several rows) sums.

    ``hess_index`` (flat indices into ``coef.ravel()``) restricts the Hessian to that square block.
    """
    fn = binomial_sums if coef.shape[0] == 1 else multinomial_sums
    return fn(X, y, sample_weight, coef, fit_intercept, need_grad=need_grad, need_hess=need_hess,
              hess_index=hess_index)
