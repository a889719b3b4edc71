"""In-memory data source: tensors already on the target device, served in row chunks (views)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from torchlogit.data.base import Chunk, DataSource

# Values per chunk of a cache-sized CPU source: 4 MiB of float64. A pass reads its chunk twice
# (scores, then the gradient Xᵀr) and runs a few elementwise ops on its rows; a chunk this size
# is read from memory once and stays in cache for the rest. On a 32 MiB-L3 AMD EPYC this made
# gradient passes of 1M × 32 float64 56 → 35 ms and whole fits of benchmarks A/B/C 15-25 % faster
# than one chunk of every row (benchmarks/README.md).
CACHE_CHUNK_VALUES = 1 << 19
_MIN_CACHE_CHUNK_ROWS = 1024


class InMemorySource(DataSource):
    """Rows held as tensors; ``chunks()`` yields views of at most ``chunk_rows`` rows.

    Parameters
    ----------
    X : Tensor of shape (n_samples, n_features)
    y : Tensor of shape (n_samples,), int64 class indices
    sample_weight : Tensor of shape (n_samples,), same dtype and device as ``X``
    chunk_rows : int or None
        Rows per chunk; ``None`` serves everything as one chunk.
    cache_sized : bool
        On CPU, chunks of about ``CACHE_CHUNK_VALUES`` values instead (``chunk_rows`` ignored),
        recomputed for the columns of :meth:`select_columns`: what the estimators use, as a pass
        then reads each value from memory once. On other devices one chunk of every row.
    """

    def __init__(self, X: Tensor, y: Tensor, sample_weight: Tensor, chunk_rows: int | None = None,
                 *, cache_sized: bool = False):
        if chunk_rows is not None and chunk_rows < 1:
            raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows}")
        self.X = X
        self.y = y.to(device=X.device, dtype=torch.int64)
        self.sample_weight = sample_weight.to(device=X.device, dtype=X.dtype)
        self.cache_sized = cache_sized
        if cache_sized:
            values_per_row = max(X.shape[1], 1)
            on_cpu = X.device.type == "cpu"
            chunk_rows = max(_MIN_CACHE_CHUNK_ROWS, CACHE_CHUNK_VALUES // values_per_row) if on_cpu else None
        self.chunk_rows = chunk_rows
        self.n_features = X.shape[1]
        self._columns: _ColumnStore | None = None  # set on a selection: the buffer its X views

    def _like(self, X: Tensor, sample_weight: Tensor) -> InMemorySource:
        """A source of other ``X`` and weights over the same rows, chunked the same way."""
        return InMemorySource(X, self.y, sample_weight, self.chunk_rows, cache_sized=self.cache_sized)

    def astype(self, dtype: torch.dtype) -> InMemorySource:
        """The same rows with ``X`` and weights copied to ``dtype`` (labels shared)."""
        return self._like(self.X.to(dtype), self.sample_weight.to(dtype))

    def select_columns(self, columns: np.ndarray, previous: DataSource | None = None) -> InMemorySource:
        """The same rows with only ``columns``, in that order (labels and weights shared).

        The copy is held column by column (``X`` is the transpose of a ``(columns, rows)`` buffer):
        a working set's Hessian block then gathers whole contiguous columns, and a ``previous``
        selection of this source whose columns begin ``columns`` is extended in place (its buffer
        grows geometrically), so a growing working set copies each column once.
        """
        columns = np.asarray(columns, dtype=np.int64)
        store = previous._columns if isinstance(previous, InMemorySource) else None
        if store is None or not store.extends(self, previous, columns):
            store = _ColumnStore(self, min(2 * len(columns), self.n_features))
        store.append(columns[store.filled:])
        selected = self._like(store.buffer[: len(columns)].T, self.sample_weight)
        selected._columns = store
        return selected

    def row_totals(self) -> tuple[int, float]:
        """Rows and weight sum from the tensors themselves: no pass over chunks."""
        return self.X.shape[0], float(self.sample_weight.sum(dtype=torch.float64))

    def resident_chunks(self) -> list[Chunk]:
        """Every chunk of a pass (views of the tensors, the same each pass), without calling the
        progress hook: they are not being served."""
        return list(self._views())

    def chunks(self) -> Iterator[Chunk]:
        """Views of at most ``chunk_rows`` rows each (one chunk of every row when it is ``None``)."""
        for X, y, w in self._views():
            if self.on_chunk is not None:
                self.on_chunk(X.shape[0])
            yield X, y, w

    def _views(self) -> Iterator[Chunk]:
        n_rows = self.X.shape[0]
        step = self.chunk_rows or max(n_rows, 1)
        if 0 < n_rows <= step:  # one chunk: the tensors themselves, not three views of them
            yield self.X, self.y, self.sample_weight
            return
        for start in range(0, n_rows, step):
            stop = min(start + step, n_rows)
            yield self.X[start:stop], self.y[start:stop], self.sample_weight[start:stop]


class _ColumnStore:
    """A growable column-major copy of some columns of one source's ``X``: rows of ``buffer`` are
    the columns ``held`` (in the order they were added), the first ``filled`` of them written."""

    def __init__(self, origin: InMemorySource, capacity: int):
        self.origin = origin
        self.buffer = origin.X.new_empty(max(capacity, 1), origin.X.shape[0])
        self.held = np.zeros(0, dtype=np.int64)

    @property
    def filled(self) -> int:
        return len(self.held)

    def extends(self, origin: InMemorySource, previous: InMemorySource, columns: np.ndarray) -> bool:
        """Whether ``columns`` of ``origin`` continue this store's columns, with ``previous`` its
        latest selection (an older one's rows past its width may have been overwritten since)."""
        return (self.origin is origin and previous.n_features == self.filled <= len(columns)
                and np.array_equal(columns[: self.filled], self.held))

    def append(self, columns: np.ndarray) -> None:
        """Copy ``columns`` of the origin's ``X`` into the next rows, growing the buffer if full."""
        start, stop = self.filled, self.filled + len(columns)
        if stop > self.buffer.shape[0]:
            wider = self.buffer.new_empty(min(max(2 * stop, 8), self.origin.n_features), self.buffer.shape[1])
            wider[:start] = self.buffer[:start]
            self.buffer = wider
        _gather_columns(self.origin.X, columns, self.buffer[start:stop])
        self.held = np.r_[self.held, columns]


def _gather_columns(X: Tensor, columns: np.ndarray, out: Tensor) -> None:
    """``out[i] = X[:, columns[i]]``. From row-major rows, a row block at a time as rows of the
    block's transpose: torch gathers whole rows several times faster than scattered columns."""
    if len(columns) == 0:
        return
    index = torch.as_tensor(columns, device=X.device)
    if X.stride(1) != 1:  # already held by column
        out.copy_(X.T.index_select(0, index))
        return
    rows = max(_MIN_CACHE_CHUNK_ROWS, CACHE_CHUNK_VALUES // max(X.shape[1], 1))
    for start in range(0, X.shape[0], rows):
        out[:, start : start + rows] = X[start : start + rows].T.index_select(0, index)
