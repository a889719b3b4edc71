"""In-memory data source: tensors already on the target device, served in row chunks (views)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import torch
from torch import Tensor


class DataSource(Protocol):
    """What solvers need from data: its width and an iterator over row chunks.

    A source may also offer ``row_totals() -> (rows, weight sum)`` for its rows (its shard, under
    torch.distributed); the :class:`~torchlogit.core.objective.Objective` then skips its counting pass.
    The streamed file sources do (:mod:`torchlogit.data.streaming`).
    """

    n_features: int

    def chunks(self) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        """Yield ``(X, y, sample_weight)`` chunks; ``y`` holds int64 class indices."""
        ...


class InMemorySource:
    """Rows held as tensors; ``chunks()`` yields views of at most ``chunk_rows`` rows.

    Parameters
    ----------
    X : Tensor of shape (n_samples, n_features)
    y : Tensor of shape (n_samples,), int64 class indices
    sample_weight : Tensor of shape (n_samples,), same dtype and device as ``X``
    chunk_rows : int or None
        Rows per chunk; ``None`` serves everything as one chunk (fastest in memory).
    """

    def __init__(self, X: Tensor, y: Tensor, sample_weight: Tensor, chunk_rows: int | None = None):
        if chunk_rows is not None and chunk_rows < 1:
            raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows}")
        self.X = X
        self.y = y.to(device=X.device, dtype=torch.int64)
        self.sample_weight = sample_weight.to(device=X.device, dtype=X.dtype)
        self.chunk_rows = chunk_rows
        self.n_features = X.shape[1]

    def astype(self, dtype: torch.dtype) -> InMemorySource:
        """The same rows with ``X`` and weights copied to ``dtype`` (labels shared)."""
        return InMemorySource(self.X.to(dtype), self.y, self.sample_weight.to(dtype), self.chunk_rows)

    def chunks(self) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        step = self.chunk_rows or max(self.X.shape[0], 1)
        for start in range(0, self.X.shape[0], step):
            stop = start + step
            yield self.X[start:stop], self.y[start:stop], self.sample_weight[start:stop]
