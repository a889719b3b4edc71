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

import copy
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from torchlogit.core.loss import (
    ChunkSums,
    chunk_sums,
    curvature_hessian,
    curvature_weights,
    hessian_vector_sums,
    is_csr,
    row_block,
    weighted_column_moments,
)
from torchlogit.core.penalties import L2Penalty
from torchlogit.data.base import DataSource
from torchlogit.distributed import all_reduce_sum, is_distributed


@dataclass(frozen=True)
class _Request:
    """What one pass forms: F always, ∇F with ``grad``, the Hessian (and ∇F) with ``hess``.

    ``hess_index`` restricts the Hessian to a square block; ``hessian_stride`` > 1 forms it from
    every ``hessian_stride``-th block of ``_HESSIAN_BLOCK_ROWS`` rows only; ``curvature`` keeps
    the rows' curvature weights for Hessian-vector products (:class:`HessianOperator`).
    """

    grad: bool = False
    hess: bool = False
    hess_index: Tensor | None = None
    hessian_stride: int = 1
    curvature: bool = False  # keep each chunk's curvature weights (with the gradient)

    @property
    def sampled(self) -> bool:
        return self.hess and self.hessian_stride > 1


@dataclass
class _ReadyChunks:
    """An objective's pass-ready chunks (:meth:`Objective._pass_ready_chunks`), shared with its
    :meth:`~Objective.with_l2` copies: ``made`` once any of them has passed over the data."""

    made: bool = False
    chunks: list[tuple[Tensor, Tensor, Tensor]] | None = None


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
    feature_names : the source's column names, for error messages only; default ``x1..xd``.

    A column whose values are too large for ``dtype`` (their squared sums overflow in the
    gradient or the Hessian, e.g. values around 1e200 in float64) raises a
    :class:`FeatureScaleError` naming it, on the first pass that forms those sums.

    An objective is never changed by the solvers that use it: another ridge term is another
    objective (:meth:`with_l2`), Hessian sampling an argument (:meth:`value_grad_hess`). Only
    ``n_passes`` (passes over the data so far) and ``last_coef`` (where F was last evaluated,
    which checkpoints read) move.
    """

    def __init__(
        self, source: DataSource, *, n_outputs: int, fit_intercept: bool,
        l2: L2Penalty | None, dtype: torch.dtype, device: torch.device | str,
        feature_names: Sequence[str] | None = None,
    ):
        self.source = source
        self.feature_names = None if feature_names is None else [str(name) for name in feature_names]
        self.n_outputs = n_outputs
        self.fit_intercept = fit_intercept
        self.l2 = l2
        self.dtype = dtype
        self.device = torch.device(device)
        self.n_passes = 0
        self.coef_shape = (n_outputs, source.n_features + int(fit_intercept))
        self.last_coef: Tensor | None = None
        self.n_rows, self.weight_sum = _count_rows(source, self.device)
        if math.isinf(self.weight_sum) or self.weight_sum > torch.finfo(dtype).max:
            raise ValueError(
                f"the sample weights sum to {self.weight_sum:g}, beyond the range of {_dtype_name(dtype)}: "
                "they are too large; divide them by a common factor"
            )
        if not self.weight_sum > 0:
            raise ValueError("the sample weights sum to zero: there is nothing to fit")
        self._ready = _ReadyChunks()  # made at the first pass; with_l2 copies share the holder

    def _pass_ready_chunks(self) -> list[tuple[Tensor, Tensor, Tensor]] | None:
        """Copies of a small in-memory source's chunks made ready for passes, or None.

        Dense resident chunks of at most ``PASS_READY_VALUES`` values in all are copied once into
        the objective's dtype, ``X`` with the intercept's column of ones appended (X̃ = [X, 1], so
        scores, gradient and Hessian are plain products with it) and binomial labels as floats.
        A small fit makes a dozen passes of a few dozen tensor operations each, and these copies
        spare each pass about a third of them (benchmarks/_small_fits.py).
        """
        chunks = self.source.resident_chunks()
        if chunks is None or any(is_csr(X) for X, _, _ in chunks):
            return None
        if sum(X.numel() for X, _, _ in chunks) > PASS_READY_VALUES:
            return None
        ready = []
        for X, y, w in chunks:
            X = X.to(self.dtype)
            if self.fit_intercept:
                X = torch.cat([X, X.new_ones(X.shape[0], 1)], dim=1)
            ready.append((X, y.to(self.dtype) if self.n_outputs == 1 else y, w.to(self.dtype)))
        return ready

    def _pass_chunks(self) -> Iterator[tuple[Tensor, Tensor, Tensor, bool]]:
        """The chunks a pass reads, each with whether its sums must add the intercept themselves:
        the pass-ready copies (:meth:`_pass_ready_chunks`, the intercept X̃'s last column) when
        there are any and no progress hook wants each chunk reported, else the stored chunks."""
        if not self._ready.made:
            with torch.inference_mode(False):  # fits run in inference mode; autograd may pass later
                self._ready.chunks, self._ready.made = self._pass_ready_chunks(), True
        if self._ready.chunks is not None and self.source.on_chunk is None:
            for X, y, w in self._ready.chunks:
                yield X, y, w, False
            return
        for X, y, w in self.stored_chunks():
            yield X, y, w, self.fit_intercept

    def with_l2(self, l2: L2Penalty | None) -> Objective:
        """The same data with another ridge term (e.g. the next C of a path), without a counting pass.

        The new objective shares the source, its row count and weight sum; its pass counter and
        ``last_coef`` start afresh, so each counts the passes made through it.
        """
        other = copy.copy(self)
        other.l2, other.n_passes, other.last_coef = l2, 0, None
        return other

    def chunks(self) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        """The source's chunks, ``X`` and the weights in the objective's dtype (a no-op when they are)."""
        for X, y, w in self.source.chunks():
            yield X.to(self.dtype), y, w.to(self.dtype)

    def stored_chunks(self) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        """The source's chunks as stored (:meth:`DataSource.stored_chunks`: ``X`` dense or a torch
        sparse CSR tensor), ``X`` and the weights in the objective's dtype; what every pass reads."""
        for X, y, w in self.source.stored_chunks():
            yield X.to(self.dtype), y, w.to(self.dtype)

    def zeros(self) -> Tensor:
        """A starting point of the right shape, dtype and device."""
        return torch.zeros(self.coef_shape, dtype=self.dtype, device=self.device)

    def hessian_stride_for(self, rows: int) -> int:
        """The ``hessian_stride`` that forms Hessians from about ``rows`` rows (evenly spaced blocks).

        The Hessian only shapes Newton's steps; F and ∇F still use every row, so the optimum is
        unchanged. On tens of millions of rows the weighted Gram costs as much as reading the
        data, while a few million rows give it to a few parts in a thousand. Newton returns to
        full Hessians if a step disappoints (a feature too rare to be sampled, say).
        """
        return max(1, self.n_rows // rows)

    def _sampled_ranges(self, first_row: int, n: int, stride: int) -> list[tuple[int, int]]:
        """Rows ``[start, stop)`` of a chunk (first row ``first_row`` of this shard) in the sampled
        blocks: every ``stride``-th block of ``_HESSIAN_BLOCK_ROWS`` rows, counted from the shard's start."""
        ranges = []
        block = _HESSIAN_BLOCK_ROWS
        start = (first_row // block) * block
        while start < first_row + n:
            if (start // block) % stride == 0:
                stop = min(start + block, first_row + n)
                ranges.append((max(start, first_row) - first_row, stop - first_row))
            start += block
        return ranges

    def _sums(self, coef: Tensor, request: _Request) -> ChunkSums:
        """One pass: the chunks' sums, all-reduced and normalised, plus the ridge term."""
        self.n_passes += 1
        self.last_coef = coef
        total, hess_rows = self._chunk_totals(coef, request)
        self._normalise(total, coef, request, hess_rows)
        self._add_ridge(total, coef, request)
        return total

    def _chunk_totals(self, coef: Tensor, request: _Request) -> tuple[ChunkSums, int]:
        """This shard's sums over every chunk, and how many rows its sampled Hessian saw."""
        total: ChunkSums | None = None
        first_row, hess_rows = 0, 0
        for X, y, w, intercept in self._pass_chunks():
            part = chunk_sums(X, y, w, coef, intercept, need_grad=request.grad or request.sampled,
                              need_hess=request.hess and not request.sampled, hess_index=request.hess_index)
            if request.sampled:  # from the pass's own probabilities over the sampled blocks' rows
                (proba_t, weights), = part.curvature
                for start, stop in self._sampled_ranges(first_row, X.shape[0], request.hessian_stride):
                    # a sample's block is approximate to a few per cent anyway: float32 products
                    block = curvature_hessian(row_block(X, start, stop), proba_t[:, start:stop],
                                              weights[start:stop], intercept, request.hess_index,
                                              low_precision=True)
                    part.hess = block if part.hess is None else part.hess + block
                    hess_rows += stop - start
            if not request.curvature:  # dropped at once: a streamed pass holds one chunk's only
                part.curvature = None
            first_row += X.shape[0]
            if total is None:
                total = part
            else:
                total += part
        if total is None:
            raise ValueError("the data source yielded no rows")
        return total, hess_rows

    def _normalise(self, total: ChunkSums, coef: Tensor, request: _Request, hess_rows: int) -> None:
        """Sum ``total`` over ranks and divide by the weight sum, in place: one all_reduce for all of
        loss, gradient, sampled rows and Hessian, packed in a flat buffer. A sampled Hessian is
        scaled up to all rows. In one process with every row's Hessian nothing needs packing
        (:meth:`_normalise_local`: the same values, F as a Python float)."""
        if not (request.sampled or is_distributed()):
            self._normalise_local(total, request)
            return
        pieces = [total.loss.reshape(1)]
        if request.grad:
            pieces.append(total.grad.reshape(-1))
        if request.sampled:
            if total.hess is None:  # this shard's rows fell between the sampled blocks
                size = int(request.hess_index.numel()) if request.hess_index is not None else coef.numel()
                total.hess = coef.new_zeros(size, size)
            pieces.append(torch.tensor([float(hess_rows)], dtype=coef.dtype, device=coef.device))
        if request.hess:
            pieces.append(total.hess.reshape(-1))
        flat = all_reduce_sum(torch.cat(pieces)) / self.weight_sum
        n_grad = total.grad.numel() if request.grad else 0
        total.loss = flat[0]
        if request.grad:
            total.grad = flat[1 : 1 + n_grad].reshape(self.coef_shape)
        if request.hess:
            hess = flat[1 + n_grad + int(request.sampled) :].reshape(total.hess.shape)
            if request.sampled:
                hess = hess * (self.n_rows / (flat[1 + n_grad] * self.weight_sum))
            total.hess = hess
        if not all_finite(flat):
            self._check_scale(total, request)

    def _normalise_local(self, total: ChunkSums, request: _Request) -> None:
        """:meth:`_normalise` in one process for an unsampled pass: each sum divided by the weight
        sum where it is, without packing (about half the torch calls, which small fits pay per pass)."""
        total.loss = float(total.loss) / self.weight_sum  # scalars as Python floats: no tensor calls
        check = total.loss  # a NaN or ±inf anywhere makes this sum non-finite: only then look closer
        if request.grad:
            total.grad = total.grad / self.weight_sum
            check += float(total.grad.sum())
        if request.hess:
            total.hess = total.hess / self.weight_sum
            check += float(total.hess.sum())
        if not math.isfinite(check):
            self._check_scale(total, request)

    def _check_scale(self, total: ChunkSums, request: _Request) -> None:
        """Raise :class:`FeatureScaleError` if a gradient or Hessian entry overflowed because of the data.

        Where F is not NaN every row's score is a number, so every residual ``sᵢ(pᵢ − yᵢ)`` and
        curvature ``sᵢpᵢ(1 − pᵢ)`` is bounded by its weight: an infinite ``Σᵢ rᵢxᵢⱼ`` or
        ``Σᵢ hᵢxᵢⱼ²`` is then the column's scale, not the coefficients'. (A NaN F comes from
        overflowing scores at a wild trial point, which the line search rejects.)
        """
        if math.isnan(float(total.loss)):
            return
        n_cols = self.coef_shape[1]
        bad = torch.zeros(n_cols, dtype=torch.bool, device=self.device)
        if request.grad:
            bad |= ~torch.isfinite(total.grad).all(0)
        if request.hess:
            rows = ~torch.isfinite(total.hess.diagonal())  # Σ hᵢxᵢⱼ²: the column's own scale
            if not bool(rows.any()):
                rows = ~torch.isfinite(total.hess).all(1)
            index = request.hess_index if request.hess_index is not None else torch.arange(
                total.hess.shape[0], device=rows.device)
            bad[index.to(rows.device)[rows] % n_cols] = True
        if bool(bad[: self.source.n_features].any()):
            raise self.scale_error(bad)

    def scale_error(self, bad_columns: Tensor) -> FeatureScaleError:
        """The error naming the feature columns flagged in ``bad_columns`` (bool, one per column;
        an intercept entry after the features is ignored)."""
        columns = torch.nonzero(bad_columns[: self.source.n_features]).flatten().tolist()
        names = self.column_names
        return FeatureScaleError(columns_too_large([names[j] for j in columns], self.dtype))

    @property
    def column_names(self) -> list[str]:
        """The feature columns' names: ``feature_names``, else ``x1..xd`` (1-based, as summary tables)."""
        if self.feature_names is not None:
            return self.feature_names
        return [f"x{j + 1}" for j in range(self.source.n_features)]

    def _add_ridge(self, total: ChunkSums, coef: Tensor, request: _Request) -> None:
        if self.l2 is None:
            return
        ridge_grad = self.l2.grad(coef)  # the ridge's value is ½ coef · its gradient
        total.loss = total.loss + 0.5 * float(torch.dot(ridge_grad.ravel(), coef.ravel()))
        if request.grad:
            total.grad = total.grad + ridge_grad
        if request.hess:
            diag = self.l2.hess_diag(self.n_outputs)
            total.hess.diagonal().add_(diag if request.hess_index is None else diag[request.hess_index])

    def column_moments(self) -> tuple[Tensor, Tensor]:
        """Weighted mean and standard deviation of every feature column (one pass, over the stored
        values only for sparse rows)."""
        d = self.source.n_features
        sums = torch.zeros(2, d, dtype=torch.float64, device=self.device)
        for X, _, w in self.stored_chunks():
            sums += weighted_column_moments(X, w)
        sums = all_reduce_sum(sums) / self.weight_sum
        if not bool(torch.isfinite(sums).all()):
            raise self.scale_error(~torch.isfinite(sums).all(0))
        mean = sums[0]
        std = (sums[1] - mean * mean).clamp_min(0).sqrt()
        return mean.to(self.dtype), std.to(self.dtype)

    def value(self, coef: Tensor) -> float:
        """F(coef)."""
        return float(self._sums(coef, _Request()).loss)

    def value_grad(self, coef: Tensor) -> tuple[float, Tensor]:
        """F and its gradient (shape of ``coef``)."""
        sums = self._sums(coef, _Request(grad=True))
        return float(sums.loss), sums.grad

    def value_grad_hess(
        self, coef: Tensor, hess_index: Tensor | None = None, *, hessian_stride: int = 1,
    ) -> tuple[float, Tensor, Tensor]:
        """F, its gradient and its Hessian over ``coef.ravel()``.

        ``hess_index`` (int64 flat indices into ``coef.ravel()``), when given, asks only for that
        square block of the Hessian: what an active-set solver needs, at a fraction of the cost.
        ``hessian_stride`` > 1 forms the Hessian from every ``hessian_stride``-th block of rows
        only (:meth:`hessian_stride_for`); F and the gradient always use every row.
        """
        sums = self._sums(coef, _Request(grad=True, hess=True, hess_index=hess_index,
                                         hessian_stride=hessian_stride))
        return float(sums.loss), sums.grad, sums.hess

    def value_grad_proba(self, coef: Tensor) -> tuple[float, Tensor, list[Tensor]]:
        """F, its gradient and every chunk's class-major probabilities at ``coef`` (one
        ``(n_outputs, rows)`` tensor per chunk, in the order the source serves them), in one
        pass: what :func:`~torchlogit.core.duality.duality_gap` needs to skip its own pass."""
        sums = self._sums(coef, _Request(grad=True, curvature=True))
        return float(sums.loss), sums.grad, [proba_t for proba_t, _ in sums.curvature]

    def value_grad_curvature(self, coef: Tensor) -> tuple[float, Tensor, HessianOperator]:
        """F, its gradient and the Hessian as an operator (:class:`HessianOperator`), in one pass:
        what a Newton-CG step needs when the (K·d)² Hessian costs more than a few dozen passes."""
        sums = self._sums(coef, _Request(grad=True, curvature=True))
        return float(sums.loss), sums.grad, HessianOperator(self, sums.curvature)


class HessianOperator:
    """``v ↦ ∇²F(W)·v`` at the point ``W`` of one pass (:meth:`Objective.value_grad_curvature`),
    without the Hessian matrix: each product is one pass over the chunks, two products with each
    chunk's X (:func:`~torchlogit.core.loss.hessian_vector_sums`) and the ridge term, all-reduced
    across ranks. It keeps every chunk's curvature weights: n values (binomial) or n × K
    probabilities (multinomial), the chunks in the order the source serves them.
    """

    def __init__(self, objective: Objective, curvature: list):
        self.objective = objective
        self.weights = [curvature_weights(proba_t, w) for proba_t, w in curvature]

    def __call__(self, v: Tensor) -> Tensor:
        objective = self.objective
        objective.n_passes += 1
        total = v.new_zeros(v.shape)
        for (X, _, _, intercept), weights in zip(objective._pass_chunks(), self.weights, strict=True):
            total += hessian_vector_sums(X, weights, v, intercept)
        total = all_reduce_sum(total) / objective.weight_sum
        return total if objective.l2 is None else total + objective.l2.grad(v)


def all_finite(values: Tensor) -> bool:
    """Whether every entry of ``values`` is finite, as ``torch.isfinite(values).all()``.

    A NaN or ±inf entry makes the sum non-finite, so a finite sum answers at once; only a
    non-finite one (which finite entries may also give, by overflow) takes the full check.
    One reduction instead of a boolean tensor and its reduction: a few microseconds a call,
    which every pass and Newton step of a small fit pays (benchmarks/_small_fits.py).
    """
    return math.isfinite(float(values.sum())) or bool(torch.isfinite(values).all())


class FeatureScaleError(ValueError):
    """Feature values too large for the dtype: the sums over their rows overflow."""


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def columns_too_large(names: Sequence[str], dtype: torch.dtype) -> str:
    """The message for feature columns (``names``) whose values are too large for ``dtype``."""
    listed = ", ".join(repr(str(name)) for name in names[:10])
    if len(names) > 10:
        listed += f" and {len(names) - 10} more"
    many = len(names) > 1
    dtype_name = _dtype_name(dtype)
    hint = " (or fit with dtype='float64')" if dtype == torch.float32 else ""
    return (
        f"feature column{'s' if many else ''} {listed} {'hold' if many else 'holds'} values too large for "
        f"{dtype_name}: the objective's sums over {'their' if many else 'its'} rows (x^2 times the sample "
        f"weights) overflow; rescale {'them' if many else 'it'}, e.g. standardise the features{hint}"
    )


def _count_rows(source: DataSource, device: torch.device) -> tuple[int, float]:
    """Rows and weight sum of ``source`` over every rank: from ``row_totals()`` where a source
    counts without a full pass (footers, one column), else from one pass."""
    totals = torch.zeros(2, dtype=torch.float64, device=device)
    row_totals = source.row_totals()
    if row_totals is not None:
        rows, weight_sum = row_totals
        totals += torch.tensor([float(rows), weight_sum], dtype=torch.float64, device=device)
    else:
        for _, _, w in source.stored_chunks():  # sparse rows are not densified to be counted
            totals[0] += w.shape[0]
            totals[1] += w.sum(dtype=torch.float64)
    totals = all_reduce_sum(totals)
    return int(totals[0].item()), float(totals[1].item())


# in-memory dense rows of at most this many values in all get pass-ready copies (2 MiB of float64)
PASS_READY_VALUES = 1 << 18
# rows per sampled block when Hessians are sampled (Objective.hessian_stride_for)
_HESSIAN_BLOCK_ROWS = 16384
