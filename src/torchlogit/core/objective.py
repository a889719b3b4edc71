"""The objective every solver minimises, evaluated as sums over the chunks of a data source.

.. math::

    F(W) = \\frac{1}{S} \\sum_i s_i \\, \\ell(y_i, \\tilde x_i W^T)
           + \\frac{1}{2} \\sum_k \\sum_j \\lambda_j W_{kj}^2,
    \\qquad S = \\sum_i s_i,

with :math:`\\ell` the binomial or multinomial log-loss (:mod:`torchlogit.core.loss`), per-row weights
:math:`s_i` (sample weight × class weight) and per-column ridge strengths :math:`\\lambda_j`
(zero for the intercept). scikit-learn's objective ``C·Σ sᵢ ℓᵢ + ½‖W‖²`` is ``C·S·F`` with
``λ = 1/(C·S)``, so both have the same minimiser; glum's ``alpha`` is ``λ``.

Sums are formed chunk by chunk, then all-reduced across ranks (a no-op in one process), so the
same solver code serves in-memory, streamed and distributed data.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from torchlogit.core.loss import ChunkSums, chunk_sums
from torchlogit.core.penalties import L2Penalty
from torchlogit.data.base import DataSource
from torchlogit.distributed import all_reduce_sum


class Objective:
    """Mean weighted log-loss plus a ridge term, over a :class:`~torchlogit.data.DataSource`.

    Parameters
    ----------
    source : DataSource
    n_outputs : int
        1 for the binomial model, the number of classes for the multinomial one.
    fit_intercept : bool
    l2 : L2Penalty or None
    dtype, device : where coefficients live (the source's chunks must match).
    """

    def __init__(
        self, source: DataSource, *, n_outputs: int, fit_intercept: bool,
        l2: L2Penalty | None, dtype: torch.dtype, device: torch.device | str,
    ):
        self.source = source
        self.n_outputs = n_outputs
        self.fit_intercept = fit_intercept
        self.l2 = l2
        self.dtype = dtype
        self.device = torch.device(device)
        self.n_passes = 0
        # Hessians from every ``hessian_stride``-th block of rows (1: all rows), see sample_hessians
        self.hessian_stride = 1
        self.coef_shape = (n_outputs, source.n_features + int(fit_intercept))
        self.last_coef: Tensor | None = None  # where F was last evaluated (checkpoints read it)
        totals = torch.zeros(2, dtype=torch.float64, device=self.device)  # rows, weight sum
        row_totals = source.row_totals()
        if row_totals is not None:  # a streamed source counts without a full pass (footers, one column)
            rows, weight_sum = row_totals
            totals += torch.tensor([float(rows), weight_sum], dtype=torch.float64, device=self.device)
        else:
            for _, _, w in source.chunks():
                totals[0] += w.shape[0]
                totals[1] += w.sum(dtype=torch.float64)
        totals = all_reduce_sum(totals)
        self.n_rows = int(totals[0].item())
        self.weight_sum = float(totals[1].item())
        if not self.weight_sum > 0:
            raise ValueError("the sample weights sum to zero: there is nothing to fit")

    def chunks(self) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        """The source's chunks, ``X`` and the weights in the objective's dtype (a no-op when they are)."""
        for X, y, w in self.source.chunks():
            yield X.to(self.dtype), y, w.to(self.dtype)

    def zeros(self) -> Tensor:
        """A starting point of the right shape, dtype and device."""
        return torch.zeros(self.coef_shape, dtype=self.dtype, device=self.device)

    def sample_hessians(self, rows: int) -> None:
        """Form Hessians from about ``rows`` rows (evenly spaced blocks) instead of all of them.

        The Hessian only shapes Newton's steps; F and ∇F still use every row, so the optimum is
        unchanged. On tens of millions of rows the weighted Gram costs as reading the
        data, while a few million rows give it to a few parts in a thousand. Newton returns to
        full Hessians if a step disappoints (a feature too rare to be sampled, say).
        """
        self.hessian_stride = max(1, self.n_rows // rows)

    def _sampled_ranges(self, first_row: int, n: int) -> list[tuple[int, int]]:
        """Rows ``[start, stop)`` of a chunk (first row ``first_row`` of this shard) in sampled blocks."""
        ranges = []
        block = _HESSIAN_BLOCK_ROWS
        start = (first_row // block) * block
        while start < first_row + n:
            if (start // block) % self.hessian_stride == 0:
                stop = min(start + block, first_row + n)
                ranges.append((max(start, first_row) - first_row, stop - first_row))
            start += block
        return ranges

    def _sums(
        self, coef: Tensor, need_grad: bool, need_hess: bool, hess_index: Tensor | None = None,
    ) -> ChunkSums:
        self.n_passes += 1
        self.last_coef = coef
        total: ChunkSums | None = None
        sampled = need_hess and self.hessian_stride > 1
        first_row, hess_rows = 0, 0
        for X, y, w in self.chunks():
            part = chunk_sums(X, y, w, coef, self.fit_intercept, need_grad=need_grad or sampled,
                              need_hess=need_hess and not sampled, hess_index=hess_index)
            if sampled:
                for start, stop in self._sampled_ranges(first_row, X.shape[0]):
                    block = chunk_sums(X[start:stop], y[start:stop], w[start:stop], coef, self.fit_intercept,
                                       need_hess=True, hess_index=hess_index).hess
                    part.hess = block if part.hess is None else part.hess + block
                    hess_rows += stop - start
            first_row += X.shape[0]
            if total is None:
                total = part
            else:
                total += part
        if total is None:
            raise ValueError("the data source yielded no rows")
        # one all_reduce for everything: pack loss, gradient and Hessian into a flat buffer
        pieces = [total.loss.reshape(1)]
        if need_grad or sampled:
            pieces.append(total.grad.reshape(-1))
        if sampled:
            if total.hess is None:  # this shard's rows fell between the sampled blocks
                size = int(hess_index.numel()) if hess_index is not None else coef.numel()
                total.hess = coef.new_zeros(size, size)
            pieces.append(torch.tensor([float(hess_rows)], dtype=coef.dtype, device=coef.device))
        if need_hess:
            pieces.append(total.hess.reshape(-1))
        flat = all_reduce_sum(torch.cat(pieces)) / self.weight_sum
        n_grad = total.grad.numel() if need_grad or sampled else 0
        total.loss = flat[0]
        if need_grad or sampled:
            total.grad = flat[1 : 1 + n_grad].reshape(self.coef_shape)
        if need_hess:
            hess = flat[1 + n_grad + int(sampled) :].reshape(total.hess.shape)
            if sampled:  # scale the sample up to all rows
                hess = hess * (self.n_rows / (flat[1 + n_grad] * self.weight_sum))
            total.hess = hess
        if self.l2 is not None:
            total.loss = total.loss + self.l2.value(coef)
            if need_grad:
                total.grad = total.grad + self.l2.grad(coef)
            if need_hess:
                diag = self.l2.hess_diag(self.n_outputs)
                total.hess.diagonal().add_(diag if hess_index is None else diag[hess_index])
        return total

    def column_moments(self) -> tuple[Tensor, Tensor]:
        """Weighted mean and standard deviation of every feature column (one pass)."""
        d = self.source.n_features
        sums = torch.zeros(2, d, dtype=torch.float64, device=self.device)
        for X, _, w in self.chunks():
            Xw = X.to(torch.float64) * w.to(torch.float64)[:, None]
            sums[0] += Xw.sum(0)
            sums[1] += (Xw * X.to(torch.float64)).sum(0)
        sums = all_reduce_sum(sums) / self.weight_sum
        mean = sums[0]
        std = (sums[1] - mean * mean).clamp_min(0).sqrt()
        return mean.to(self.dtype), std.to(self.dtype)

    def value(self, coef: Tensor) -> float:
        """F(coef)."""
        return float(self._sums(coef, False, False).loss)

    def value_grad(self, coef: Tensor) -> tuple[float, Tensor]:
        """F and its gradient (shape of ``coef``)."""
        sums = self._sums(coef, True, False)
        return float(sums.loss), sums.grad

    def value_grad_hess(self, coef: Tensor, hess_index: Tensor | None = None) -> tuple[float, Tensor, Tensor]:
        """F, its gradient and its Hessian over ``coef.ravel()``.

        ``hess_index`` (int64 flat indices into ``coef.ravel()``), when given, asks only for that
        square block of the Hessian: what an active-set solver needs, at a fraction of the cost.
        """
        sums = self._sums(coef, True, True, hess_index)
        return float(sums.loss), sums.grad, sums.hess


# rows per sampled block when Hessians are sampled (Objective.sample_hessians)
_HESSIAN_BLOCK_ROWS = 16384
