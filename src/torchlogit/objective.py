"""The objective every solver minimises, evaluated as sums over the chunks of a data source.

.. math::

    F(W) = \\frac{1}{S} \\sum_i s_i \\, \\ell(y_i, \\tilde x_i W^T)
           + \\frac{1}{2} \\sum_k \\sum_j \\lambda_j W_{kj}^2,
    \\qquad S = \\sum_i s_i,

with :math:`\\ell` the binomial or multinomial log-loss (:mod:`torchlogit.loss`), per-row weights
:math:`s_i` (sample weight × class weight) and per-column ridge strengths :math:`\\lambda_j`
(zero for the intercept). scikit-learn's objective ``C·Σ sᵢ ℓᵢ + ½‖W‖²`` is ``C·S·F`` with
``λ = 1/(C·S)``, so both have the same minimiser; glum's ``alpha`` is ``λ``.

Sums are formed chunk by chunk, then all-reduced across ranks (a no-op in one process), so the
same solver code serves in-memory, streamed and distributed data.
"""

from __future__ import annotations

import torch
from torch import Tensor

from torchlogit.data import DataSource
from torchlogit.distributed import all_reduce_sum
from torchlogit.loss import ChunkSums, chunk_sums
from torchlogit.penalties import L2Penalty


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
        self.coef_shape = (n_outputs, source.n_features + int(fit_intercept))
        totals = torch.zeros(2, dtype=torch.float64, device=self.device)  # rows, weight sum
        for _, _, w in source.chunks():
            totals[0] += w.shape[0]
            totals[1] += w.sum(dtype=torch.float64)
        totals = all_reduce_sum(totals)
        self.n_rows = int(totals[0].item())
        self.weight_sum = float(totals[1].item())
        if not self.weight_sum > 0:
            raise ValueError("the sample weights sum to zero: there is nothing to fit")

    def zeros(self) -> Tensor:
        """A starting point of the right shape, dtype and device."""
        return torch.zeros(self.coef_shape, dtype=self.dtype, device=self.device)

    def _sums(self, coef: Tensor, need_grad: bool, need_hess: bool) -> ChunkSums:
        self.n_passes += 1
        total: ChunkSums | None = None
        for X, y, w in self.source.chunks():
            part = chunk_sums(X, y, w, coef, self.fit_intercept, need_grad=need_grad, need_hess=need_hess)
            if total is None:
                total = part
            else:
                total += part
        if total is None:
            raise ValueError("the data source yielded no rows")
        # one all_reduce for everything: pack loss, gradient and Hessian into a flat buffer
        pieces = [total.loss.reshape(1)]
        if need_grad:
            pieces.append(total.grad.reshape(-1))
        if need_hess:
            pieces.append(total.hess.reshape(-1))
        flat = all_reduce_sum(torch.cat(pieces)) / self.weight_sum
        n_grad = total.grad.numel() if need_grad else 0
        total.loss = flat[0]
        if need_grad:
            total.grad = flat[1 : 1 + n_grad].reshape(self.coef_shape)
        if need_hess:
            total.hess = flat[1 + n_grad :].reshape(total.hess.shape)
        if self.l2 is not None:
            total.loss = total.loss + self.l2.value(coef)
            if need_grad:
                total.grad = total.grad + self.l2.grad(coef)
            if need_hess:
                total.hess.diagonal().add_(self.l2.hess_diag(self.n_outputs))
        return total

    def value(self, coef: Tensor) -> float:
        """F(coef)."""
        return float(self._sums(coef, False, False).loss)

    def value_grad(self, coef: Tensor) -> tuple[float, Tensor]:
        """F and its gradient (shape of ``coef``)."""
        sums = self._sums(coef, True, False)
        return float(sums.loss), sums.grad

    def value_grad_hess(self, coef: Tensor) -> tuple[float, Tensor, Tensor]:
        """F, its gradient and its Hessian over ``coef.ravel()``."""
        sums = self._sums(coef, True, True)
        return float(sums.loss), sums.grad, sums.hess
