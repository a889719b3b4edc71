"""The one interface between data and solvers: a width and an iterator over row chunks.

Solvers never see where rows come from; they ask an :class:`~torchlogit.core.objective.Objective`
for sums over chunks, and the objective asks a :class:`DataSource` for the chunks. Everything else
a source may do is an optional capability, declared here with a default that is always correct,
so callers ask for it by name and never probe with ``getattr`` or test for a concrete class.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor

Chunk = tuple[Tensor, Tensor, Tensor]
"""``(X, y, sample_weight)``: features (n, d), int64 class indices (n,), weights (n,)."""


class DataSource(abc.ABC):
    """Rows served as ``(X, y, sample_weight)`` chunks, each call to :meth:`chunks` a full pass.

    Subclasses set ``n_features`` and implement :meth:`chunks`; the capabilities below have
    defaults that are correct for any source, which a source overrides when it can do better.

    Attributes
    ----------
    n_features : int
        Columns of ``X`` in every chunk.
    on_chunk : callable or None
        Called with each chunk's row count as the chunk is served (a progress bar), if set.
    """

    n_features: int
    on_chunk: Callable[[int], None] | None = None

    @abc.abstractmethod
    def chunks(self) -> Iterator[Chunk]:
        """Yield the ``(X, y, sample_weight)`` chunks of one full pass; ``y`` holds int64 class indices."""

    def row_totals(self) -> tuple[int, float] | None:
        """``(rows, weight sum)`` of this source (its shard under torch.distributed) without a pass.

        ``None`` (the default) means the caller must count them with a pass over :meth:`chunks`;
        file sources read them from footers or one column.
        """
        return None

    def astype(self, dtype: torch.dtype) -> DataSource | None:
        """The same rows served in ``dtype``, or ``None`` (the default) when the source cannot.

        Streamed sources convert as they read, so their float32 passes cost no copy; an in-memory
        source copies its tensors once.
        """
        return None

    def reading_cores(self, cores: int) -> int:
        """How many of ``cores`` the source's own reading threads keep busy during a pass, to be
        left to them by the pass's sums: 0 (the default) for rows already in memory."""
        return 0

    def reusing_buffers(self) -> DataSource:
        """This source, allowed to overwrite a chunk's memory once the next chunk is asked for.

        Only for callers that finish with every chunk before taking the next one (the objective's
        sums). The default serves fresh chunks, which is always safe.
        """
        return self

    def stored_chunks(self) -> Iterator[Chunk]:
        """One full pass with ``X`` as the rows are stored: a torch sparse CSR tensor for sparse rows.

        For callers that only form sums and handle both layouts (``X.layout`` strided or
        ``torch.sparse_csr``): the objective's passes, which then cost the stored values only
        instead of rows × columns. The default serves :meth:`chunks` (dense ``X``), which is
        always correct; a source holding CSR rows overrides it and never densifies them.
        """
        return self.chunks()

    def resident_chunks(self) -> list[Chunk] | None:
        """Every chunk of :meth:`stored_chunks`, when the source holds them in memory and serves the
        same tensors on every pass; ``None`` (the default) for sources that read or build their
        chunks per pass. The objective keeps pass-ready copies of small resident chunks, so the
        tensors must not be modified in place while an objective uses the source."""
        return None

    def select_columns(self, columns: np.ndarray, previous: DataSource | None = None) -> DataSource | None:
        """A source of the same rows with only ``columns`` (in that order), or ``None``.

        Working-set solvers use it to run passes over a few columns; a source that cannot hand
        out columns cheaply (a streamed file) returns ``None`` (the default), and the solver then
        works on all columns. ``previous``, an earlier selection from this source whose columns
        begin ``columns``, may be extended instead of copying those columns again.
        """
        return None

    def stored_columns(self) -> tuple[Any, np.ndarray, np.ndarray] | None:
        """``(X, y, sample_weight)`` with ``X`` a scipy CSC matrix of every row, float64 (numpy
        ``y`` and weights), for coordinate-descent solvers that walk columns; ``None`` (the
        default) where the rows are not sparse and in memory."""
        return None

    @property
    def selects_columns(self) -> bool:
        """Whether :meth:`select_columns` hands out columns (a subclass overrides it) or returns None."""
        return type(self).select_columns is not DataSource.select_columns


class _DuckSource(DataSource):
    """A user's object with ``n_features`` and ``chunks()`` but not derived from :class:`DataSource`."""

    def __init__(self, source: Any):
        self._source = source
        self.n_features = int(source.n_features)

    def chunks(self) -> Iterator[Chunk]:
        for chunk in self._source.chunks():
            if self.on_chunk is not None:
                self.on_chunk(chunk[0].shape[0])
            yield chunk


def as_data_source(source: Any) -> DataSource:
    """``source`` itself when it is a :class:`DataSource`, else wrapped with the default capabilities.

    Raises
    ------
    TypeError
        If ``source`` has no integer ``n_features`` or no ``chunks()`` method.
    """
    if isinstance(source, DataSource):
        return source
    if not callable(getattr(source, "chunks", None)) or not isinstance(getattr(source, "n_features", None),
                                                                       int | np.integer):
        raise TypeError(f"a data source needs an integer n_features and a chunks() method; "
                        f"got {type(source).__name__}")
    return _DuckSource(source)
