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
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

# Rows per block when forming weighted Gram matrices: keeps the block in cache and lets BLAS use
# its fast tall-skinny path; float32 blocks are 4x taller (see benchmarks/README.md).
_GRAM_BLOCK_ROWS = 4096


@dataclass
class ChunkSums:
    """Sums over the rows of one chunk: weighted loss, gradient and (optionally) Hessian."""

    loss: Tensor
    grad: Tensor | None = None
    hess: Tensor | None = None

    def __iadd__(self, other: ChunkSums) -> ChunkSums:
        self.loss = self.loss + other.loss
        self.grad = _add(self.grad, other.grad)
        self.hess = _add(self.hess, other.hess)  # a sampled Hessian may come from some chunks only
        return self


def _add(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    return b if a is None else a if b is None else a + b


def linear_predictor(X: Tensor, coef: Tensor, fit_intercept: bool) -> Tensor:
    """Raw scores ``X @ W.T (+ b)`` of shape ``(n_rows, n_outputs)``."""
    if fit_intercept:
        return torch.addmm(coef[:, -1], X, coef[:, :-1].T)
    return X @ coef.T


def logits_loss(scores: Tensor, y: Tensor, sample_weight: Tensor) -> Tensor:
    """Σᵢ sᵢ ℓ(yᵢ, scoresᵢ): binomial for one score column, multinomial for several.

    Differentiable, so the tutorial's autograd loop and the analytic solvers share one formula.
    """
    if scores.shape[1] == 1:
        z = scores[:, 0]
        # ℓ = log(1 + e^z) - y z = -logsigmoid(z) + (1 - y) z, stable for any z
        return torch.dot(sample_weight, (1 - y.to(z.dtype)) * z - F.logsigmoid(z))
    log_norm = torch.logsumexp(scores, dim=1)
    return torch.dot(sample_weight, log_norm - scores.gather(1, y[:, None])[:, 0])


def _weighted_gram(X: Tensor, h: Tensor, fit_intercept: bool) -> Tensor:
    """``X̃ᵀ diag(h) X̃`` with X̃ = [X, 1], formed in row blocks without building X̃.

    The intercept's row and column are ``Xᵀh`` and ``Σh``; only the d × d part needs a matrix
    product, done block by block so each block stays in cache. Block results are summed in
    float64 even for float32 data, so a running sum over millions of rows does not lose digits.
    """
    d = X.shape[1]
    gram = X.new_zeros(d, d, dtype=torch.float64)
    x_h = X.new_zeros(d, dtype=torch.float64)
    block_rows = _GRAM_BLOCK_ROWS if X.dtype == torch.float64 else 4 * _GRAM_BLOCK_ROWS
    for start in range(0, X.shape[0], block_rows):
        Xb, hb = X[start : start + block_rows], h[start : start + block_rows]
        gram += Xb.T @ (Xb * hb[:, None])
        if fit_intercept:  # the intercept column Xᵀh, while the block is in cache
            x_h += Xb.T @ hb
    gram = gram.to(X.dtype)
    if not fit_intercept:
        return gram
    Xh = x_h.to(X.dtype)
    top = torch.cat([gram, Xh[:, None]], dim=1)
    bottom = torch.cat([Xh, h.sum(dtype=torch.float64).to(X.dtype).reshape(1)])[None, :]
    return torch.cat([top, bottom], dim=0)


def _weighted_gram_columns(X: Tensor, h: Tensor, columns: Tensor) -> Tensor:
    """The ``columns`` block of ``X̃ᵀ diag(h) X̃`` (X̃ = [X, 1]; index ``X.shape[1]`` is the intercept).

    What an active-set solver needs: ``len(columns)²`` work per row instead of ``d²``. The columns
    are gathered a row block at a time, blocks of ~4M values (4096-row blocks of a few hundred
    columns make products too thin); the intercept's row is ``X_Sᵀh``.
    """
    d = X.shape[1]
    is_feature = columns < d
    features = columns[is_feature]
    m = features.numel()
    rows = min(max(_GRAM_BLOCK_ROWS, (1 << 22) // max(m, 1)), 1 << 16)
    every = m == d and bool((features == torch.arange(d, device=features.device)).all())
    gram = X.new_zeros(m + 1, m + 1)  # features, then the intercept
    for start in range(0, X.shape[0], rows):
        Xb = X[start : start + rows]
        if not every:
            Xb = Xb.index_select(1, features)
        hb = h[start : start + rows]
        gram[:m, :m].addmm_(Xb.T, Xb * hb[:, None])
        gram[m, :m].addmv_(Xb.T, hb)
    gram[:m, m] = gram[m, :m]
    gram[m, m] = h.sum()
    # back to the order of ``columns``: features keep their order, the intercept goes where it was
    position = torch.full_like(columns, m)
    position[is_feature] = torch.arange(m, device=columns.device)
    return gram[position][:, position]


def binomial_sums(
    X: Tensor, y: Tensor, sample_weight: Tensor, coef: Tensor, fit_intercept: bool,
    *, need_grad: bool = True, need_hess: bool = False, hess_index: Tensor | None = None,
) -> ChunkSums:
    """Weighted binomial log-loss sums for one chunk (``coef`` has one row).

    ``hess_index``, when given, restricts the Hessian to those entries of ``coef.ravel()``.
    """
    scores = linear_predictor(X, coef, fit_intercept)
    sums = ChunkSums(loss=logits_loss(scores, y, sample_weight))
    if not (need_grad or need_hess):
        return sums
    y = y.to(X.dtype)
    z = scores[:, 0]
    p = torch.sigmoid(z)
    r = sample_weight * (p - y)
    grad_w = X.T @ r
    grad = torch.cat([grad_w, r.sum().reshape(1)]) if fit_intercept else grad_w
    sums.grad = grad.reshape(1, -1)
    if need_hess:
        h = sample_weight * p * (1 - p)
        sums.hess = (_weighted_gram(X, h, fit_intercept) if hess_index is None
                     else _weighted_gram_columns(X, h, hess_index))
    return sums


def multinomial_sums(
    X: Tensor, y: Tensor, sample_weight: Tensor, coef: Tensor, fit_intercept: bool,
    *, need_grad: bool = True, need_hess: bool = False, hess_index: Tensor | None = None,
) -> ChunkSums:
    """Weighted multinomial (softmax) log-loss sums for one chunk (``coef`` has one row per class).

    Works on class-major scores (``n_classes × n_rows``): the log-sum-exp and softmax then reduce
    across a few long contiguous rows, which vectorises, where torch's row-wise softmax over a few
    columns does not.
    """
    weights, bias = (coef[:, :-1], coef[:, -1:]) if fit_intercept else (coef, None)
    scores_t = weights @ X.T if bias is None else torch.addmm(bias, weights, X.T)
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
    grad_w = resid_t @ X
    sums.grad = torch.cat([grad_w, resid_t.sum(1)[:, None]], dim=1) if fit_intercept else grad_w
    proba = proba_t.T
    if need_hess:
        if hess_index is None:
            sums.hess = _multinomial_hessian(X, proba, sample_weight, fit_intercept)
        else:
            sums.hess = _multinomial_hessian_block(X, proba, sample_weight, fit_intercept, hess_index)
    return sums


def _multinomial_hessian(X: Tensor, proba: Tensor, sample_weight: Tensor, fit_intercept: bool) -> Tensor:
    """Block Hessian Σᵢ sᵢ (diag(pᵢ) − pᵢpᵢᵀ) ⊗ x̃ᵢx̃ᵢᵀ, blocks ordered like ``coef.ravel()``."""
    n_classes = proba.shape[1]
    d = X.shape[1] + int(fit_intercept)
    hess = X.new_zeros(n_classes, d, n_classes, d)
    for k in range(n_classes):
        for l in range(k, n_classes):  # noqa: E741 - the class index of the usual formula
            h = proba[:, k] * ((1.0 if k == l else 0.0) - proba[:, l]) * sample_weight
            block = _weighted_gram(X, h, fit_intercept)
            hess[k, :, l, :] = block
            if l != k:
                hess[l, :, k, :] = block
    return hess.reshape(n_classes * d, n_classes * d)


def _multinomial_hessian_block(
    X: Tensor, proba: Tensor, sample_weight: Tensor, fit_intercept: bool, hess_index: Tensor,
) -> Tensor:
    """The rows and columns ``hess_index`` (into ``coef.ravel()``) of the multinomial Hessian."""
    n_classes = proba.shape[1]
    d = X.shape[1] + int(fit_intercept)
    classes, cols = hess_index // d, hess_index % d
    union, position = torch.unique(cols, return_inverse=True)
    out = X.new_zeros(hess_index.numel(), hess_index.numel())
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
