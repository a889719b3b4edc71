"""In-memory data source: tensors already on the target device, served in row chunks (views)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from torchlogit.data.base import Chunk, DataSource


class InMemorySource(DataSource):
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

    def select_columns(self, columns: np.ndarray) -> InMemorySource:
        """The same rows with only ``columns`` (a copy of those columns, labels and weights shared)."""
        index = torch.as_tensor(columns, dtype=torch.int64, device=self.X.device)
        return InMemorySource(self.X.index_select(1, index), self.y, self.sample_weight, self.chunk_rows)

    def chunks(self) -> Iterator[Chunk]:
        """Views of at most ``chunk_rows`` rows each (one chunk of every row when it is ``None``)."""
        n_rows = self.X.shape[0]
        step = self.chunk_rows or max(n_rows, 1)
        if 0 < n_rows <= step:  # one chunk: the tensors themselves, not three views of them
            if self.on_chunk is not None:
                self.on_chunk(n_rows)
            yield self.X, self.y, self.sample_weight
            return
        for start in range(0, n_rows, step):
            stop = min(start + step, n_rows)
            if self.on_chunk is not None:
                self.on_chunk(stop - start)
            yield self.X[start:stop], self.y[start:stop], self.sample_weight[start:stop]
