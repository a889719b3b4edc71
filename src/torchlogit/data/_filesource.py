"""What the streamed file sources share: columns by name, labels, checks, shards, prefetching.

The formats live in :mod:`torchlogit.data.parquet_source` and :mod:`torchlogit.data.csv_source`; the
public entry point is :mod:`torchlogit.data.streaming`.
"""

from __future__ import annotations

import abc
import contextlib
import copy
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from torchlogit import distributed
from torchlogit.data._arrow import (
    arrow,
    check_file,
    check_unique_features,
    first_null,
    invalid_text,
    quoted,
)
from torchlogit.data.base import Chunk, DataSource

DEFAULT_CHUNK_ROWS = 65_536
# a target with more distinct values than this is not a set of class labels
MAX_CLASSES = 10_000
# chunks decoded ahead of the one being summed
_PREFETCH_DEPTH = 2
# the chunk dtypes a file source yields, and the numpy dtype it converts columns to
_NUMPY_DTYPES = {torch.float64: np.float64, torch.float32: np.float32}

Location = Callable[[int], str]  # data row index within a batch -> "row group 3, row 1,234" etc.


@dataclass(frozen=True)
class SourceOptions:
    """How a file source reads its files: columns, labels, chunks, tensors and shard.

    :func:`~torchlogit.data.streaming.open_source` builds one from its keywords, which its
    docstring describes; the values are checked here, before any file is opened.
    """

    target: str | None = None
    features: Sequence[str] | None = None
    weight: str | None = None
    classes: Any = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    dtype: torch.dtype = torch.float64
    device: torch.device | str = "cpu"
    rank: int | None = None
    world_size: int | None = None
    memory_map: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.chunk_rows, int) or self.chunk_rows < 1:
            raise ValueError(f"chunk_rows must be a positive integer, got {self.chunk_rows!r}")
        if self.dtype not in _NUMPY_DTYPES:
            raise ValueError(f"dtype must be torch.float64 or torch.float32, got {self.dtype}")


class _FileSource(DataSource):
    """What Parquet and CSV sources share: labels, checks, conversion, shards, prefetching.

    Parameters
    ----------
    files : the files to read, all of this source's format
    options : the columns, chunking and shard (see :func:`~torchlogit.data.streaming.open_source`)
    """

    format_name = ""

    def __init__(self, files: Sequence[str | os.PathLike[str]], options: SourceOptions | None = None):
        options = options or SourceOptions()
        self.files = [Path(f) for f in files]
        if not self.files:
            raise FileNotFoundError("no input files given")
        for path in self.files:
            check_file(path)
        self.target, self.weight = options.target, options.weight
        self.chunk_rows, self.memory_map = options.chunk_rows, options.memory_map
        self.dtype, self.device = options.dtype, torch.device(options.device)
        self._np_dtype = _NUMPY_DTYPES[options.dtype]
        self._rank, self._world_size = options.rank, options.world_size
        self._reuse_buffers = False  # X written into a few reused buffers (see reusing_buffers)
        self.feature_names: list[str] = self._chosen_features(options.features)
        self.n_features = len(self.feature_names)
        self._check_feature_columns()
        self._label_type = self._target_type()
        self._classes: np.ndarray | None = None
        self._value_set = None
        # (shard, dtype) whose features a complete pass found finite (shared with astype copies:
        # same files; by dtype, as a float64 value may overflow float32)
        self._finite_shards: set[tuple[tuple[int, int], str]] = set()
        self._totals: tuple[int, float] | None = None
        if options.classes is not None:
            self._set_classes(np.unique(np.asarray(options.classes)))

    def _chosen_features(self, features: Sequence[str] | None) -> list[str]:
        """The feature columns: ``features``, or every column but the target and weight; checked."""
        target, weight = self.target, self.weight
        columns = self._columns()  # every file's columns checked; the first file's names
        for name in (target, weight):
            if name is not None and name not in columns:
                raise ValueError(f"{quoted(self.files[0])} has no column {name!r}; columns are {columns}")
        if weight is not None and weight == target:
            raise ValueError(f"the weight column {weight!r} is also the target")
        if features is None:
            chosen = [c for c in columns if c not in (target, weight)]
            if not chosen:
                raise ValueError(f"{quoted(self.files[0])} has no feature columns besides {target!r}")
            return chosen
        check_unique_features(features)
        clash = [c for c in features if c in (target, weight)]
        if clash:
            raise ValueError(f"{clash[0]!r} is the target or weight column; it cannot be a feature")
        return list(features)

    def astype(self, dtype: torch.dtype) -> _FileSource | None:
        """The same files, shard and labels read as ``dtype`` chunks, or ``None`` for a dtype
        other than float64 and float32.

        Nothing is copied: each pass re-reads the files and converts as it reads, so the float32
        passes of mixed-precision Newton (its Hessians) cost no more than float64 ones.
        """
        if dtype not in _NUMPY_DTYPES:
            return None
        other = copy.copy(self)
        other.dtype = dtype
        other._np_dtype = _NUMPY_DTYPES[dtype]
        return other

    def reading_cores(self, cores: int) -> int:
        """Half the cores, at most two: on a 2-core box pyarrow's decode of 20M × 30 float32
        fills both (2 CPU-s in a 1.1 s read). A torch pool on every core then spin-waits between
        chunks on cores the decoder needs: a 65,536-row-chunk pass took 3.7 CPU-s on two torch
        threads, 3.5 on one (16,384-row chunks: 7.2 against 3.7). Only measured on 2 cores; two
        keep a larger machine's pool for the Hessians and factorisations between passes."""
        return min(cores // 2, 2)

    def reusing_buffers(self) -> _FileSource:
        """The same source writing each chunk's ``X`` into one of a few buffers it reuses.

        For a consumer that is done with a chunk when it asks for the next one, as the
        :class:`~torchlogit.core.objective.Objective`'s sums are: a chunk's ``X`` is overwritten a few
        chunks later. Fresh memory for every chunk costs page faults, and pyarrow's float32
        columns are widened straight into the buffer, in the converter thread.
        """
        other = copy.copy(self)
        other._reuse_buffers = True
        return other

    # ----------------------------------------------------------- format specifics
    @abc.abstractmethod
    def _columns(self) -> list[str]:
        """Implemented by each file format."""

    @abc.abstractmethod
    def _check_feature_columns(self) -> None:
        """Implemented by each file format."""

    @abc.abstractmethod
    def _target_type(self):
        """Implemented by each file format."""

    @abc.abstractmethod
    def _batches(self, columns: list[str], shard: tuple[int, int]) -> Iterator[tuple[Any, Path, Location]]:
        """Yield ``(record batch, file, location)`` for this shard: at most ``chunk_rows`` rows each."""

    def _chunks_per_read(self, n_columns: int) -> int:
        """How many chunks one read of ``n_columns`` yields (formats reading larger batches override)."""
        return 1

    # ------------------------------------------------------------------ sharding
    def shard(self) -> tuple[int, int]:
        """``(rank, world_size)`` of the rows this process reads."""
        world = self._world_size if self._world_size is not None else distributed.world_size()
        rank = self._rank if self._rank is not None else distributed.rank()
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} is outside 0..{world - 1}")
        return rank, world

    # -------------------------------------------------------------------- labels
    @property
    def classes(self) -> np.ndarray:
        """The class labels (sorted); found by :meth:`discover_classes` on first use."""
        if self._classes is None:
            self.discover_classes()
        return self._classes

    def discover_classes(self) -> np.ndarray:
        """One pass over the target column (all ranks together): the sorted distinct labels.

        Also counts the rows and the weight sum of this shard (:meth:`row_totals`).
        """
        if self.target is None:
            raise ValueError("no target column was given, so there are no classes to find")
        _, pc = arrow()
        columns = [self.target] + ([self.weight] if self.weight else [])
        seen: set = set()
        rows, weight_sum = 0, 0.0
        for batch, path, where in self._batches(columns, self.shard()):
            labels = self._checked_labels(batch.column(self.target), path, where)
            seen.update(pc.unique(labels).to_pylist())
            if len(seen) > MAX_CLASSES:
                raise ValueError(f"{quoted(path)}: target {self.target!r} has more than {MAX_CLASSES} "
                                 "distinct values; it looks continuous, not like class labels")
            rows += batch.num_rows
            if self.weight:
                weight_sum += float(self._weights(batch, path, where).sum(dtype=np.float64))
        gathered = distributed.all_gather_objects(seen)
        union = set().union(*gathered)
        if not union:  # no rank saw a label (a missing label is refused above)
            raise self._no_rows_error(partial=len(gathered) < self.shard()[1])
        self._totals = (rows, weight_sum if self.weight else float(rows))
        self._set_classes(self._parse_labels(sorted(union, key=repr)))
        return self._classes

    def _no_rows_error(self, partial: bool = False) -> ValueError:
        """The files hold no data rows; ``partial``: this shard's do not, and the other shards
        (not in this process group) were not asked."""
        if partial:
            rank, world = self.shard()
            return ValueError(f"shard {rank} of {world} holds no rows of {quoted(self.files[0])}"
                              f"{' and the other files' if len(self.files) > 1 else ''}, so it cannot find "
                              "the classes; pass classes=")
        if len(self.files) == 1:
            return ValueError(f"{quoted(self.files[0])} has no data rows")
        names = ", ".join(quoted(path) for path in self.files[:3]) + (", …" if len(self.files) > 3 else "")
        return ValueError(f"the {len(self.files)} files ({names}) hold no data rows")

    def _set_classes(self, classes: np.ndarray) -> None:
        pa, _ = arrow()
        if classes.ndim != 1:
            raise ValueError("classes must be a one-dimensional list of labels")
        kind = classes.dtype.kind
        arrow_type = {"b": pa.bool_(), "i": pa.int64(), "u": pa.int64(),
                      "f": pa.float64()}.get(kind, pa.string())
        if kind == "f" and not np.isfinite(classes).all():
            raise ValueError(f"target {self.target!r} has non-finite values")
        self._classes = classes if kind in "biuf" else classes.astype(str)
        self._classes_are_positions = kind in "iu" and np.array_equal(classes, np.arange(len(classes)))
        self._value_set = pa.array(self._classes.tolist(), type=arrow_type)

    def _parse_labels(self, values: list) -> np.ndarray:
        """Distinct labels as numpy, typed as the in-memory readers type them."""
        return np.unique(np.asarray(values)) if values else np.asarray(values)

    def _checked_labels(self, column, path: Path, where: Location):
        if column.null_count:
            raise ValueError(f"{quoted(path)}: target {self.target!r} has a missing value at "
                             f"{where(first_null(column))}")
        row = invalid_text(column)
        if row is not None:
            raise ValueError(f"{quoted(path)}: target {self.target!r} is not UTF-8 text at {where(row)}")
        return column

    def _label_index(self, column, path: Path, where: Location) -> np.ndarray:
        pa, pc = arrow()
        column = self._checked_labels(column, path, where)
        if self._classes.dtype.kind in "iuf" and (pa.types.is_integer(column.type)
                                                  or pa.types.is_floating(column.type)):
            values = column.to_numpy(zero_copy_only=False)
            positions = self._classes_are_positions and values.dtype.kind in "iu"  # labels 0..K-1
            if positions and (len(values) == 0 or (values.min() >= 0 and values.max() < len(self._classes))):
                return values.astype(np.int64)  # their own index (a copy: Arrow's memory is read-only)
            # numbers: a binary search in the sorted classes (faster than Arrow's hash lookup)
            index = np.searchsorted(self._classes, values)
            np.minimum(index, len(self._classes) - 1, out=index)
            unknown = self._classes[index] != values
            if not unknown.any():
                return index.astype(np.int64, copy=False)
            self._unknown_label(column, int(np.argmax(unknown)), path, where)
        try:
            typed = column.cast(self._value_set.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            typed = None
        index = pc.index_in(typed, value_set=self._value_set) if typed is not None else None
        if index is None or index.null_count:
            self._unknown_label(column, _first_unknown(column, self._value_set), path, where)
        return index.to_numpy(zero_copy_only=False).astype(np.int64)

    def _unknown_label(self, column, row: int, path: Path, where: Location) -> None:
        raise ValueError(
            f"{quoted(path)}: label {column[row].as_py()!r} of target {self.target!r} at {where(row)} "
            f"is not one of the classes {self._classes.tolist()}"
        )

    def row_totals(self) -> tuple[int, float]:
        """``(rows, weight sum)`` of this process's shard, never ``None``: known from the class
        discovery pass, else counted once from the Parquet footers or one column's values.

        The :class:`~torchlogit.core.objective.Objective` all-reduces them, so no full pass is
        spent on counting.
        """
        if self._totals is None:
            self._totals = self._count()
        return self._totals

    def _count(self) -> tuple[int, float]:
        columns = [self.weight] if self.weight else [self.target or self.feature_names[0]]
        rows, weight_sum = 0, 0.0
        for batch, path, where in self._batches(columns, self.shard()):
            rows += batch.num_rows
            if self.weight:
                weight_sum += float(self._weights(batch, path, where).sum(dtype=np.float64))
        return rows, weight_sum if self.weight else float(rows)

    # -------------------------------------------------------------------- chunks
    def chunks(self) -> Iterator[Chunk]:
        """Re-read this shard's rows: ``(X, y, sample_weight)`` chunks of at most ``chunk_rows`` rows.

        ``X`` is a column-major view (features contiguous), which the loss sums read fastest.
        """
        if self.target is not None and self._classes is None:
            self.discover_classes()
        columns = list(dict.fromkeys([*self.feature_names, *(c for c in (self.target, self.weight) if c)]))
        shard = self.shard()
        # the features were checked on this shard's first complete pass: re-checking every pass
        # would cost time for nothing (the files are the same)
        checked = (shard, np.dtype(self._np_dtype).name)
        check_finite = checked not in self._finite_shards
        # a buffer for the chunk being converted, the two queued and the one being summed
        buffers = _BufferRing(_PREFETCH_DEPTH + 2, self.chunk_rows) if self._reuse_buffers else None
        empty = True
        # two stages in two threads: pyarrow decodes the next batch while the last one is converted
        # (the decoder runs two reads ahead, so a slow read does not stall the converter)
        ahead = 2 * self._chunks_per_read(len(columns))

        def converted() -> Iterator[Chunk]:
            # owns the decoder: closing this (also after a conversion error) stops its thread
            with contextlib.closing(_prefetched(lambda: self._batches(columns, shard), ahead)) as batches:
                for item in batches:
                    yield self._convert(*item, check_finite=check_finite, buffers=buffers)

        for chunk in _prefetched(converted):
            empty = False
            if self.on_chunk is not None:
                self.on_chunk(chunk[1].shape[0])
            yield chunk
        self._finite_shards.add(checked)
        if empty:  # a rank without rows still takes part in every pass (and every all_reduce)
            yield (torch.zeros(0, self.n_features, dtype=self.dtype, device=self.device),
                   torch.zeros(0, dtype=torch.int64, device=self.device),
                   torch.zeros(0, dtype=self.dtype, device=self.device))

    def feature_blocks(self) -> Iterator[np.ndarray]:
        """The feature columns only, as ``(rows, n_features)`` arrays (for prediction).

        Raises
        ------
        ValueError
            When the files hold no data rows at all (in a single process: a shard of a distributed
            run may be empty).
        """
        shard = self.shard()
        empty = True
        for batch, path, where in self._batches(list(self.feature_names), shard):
            empty = False
            yield self._features(batch, path, where).T
        if empty and shard[1] == 1:
            raise self._no_rows_error()

    def _convert(
        self, batch, path: Path, where: Location, check_finite: bool, buffers: _BufferRing | None,
    ) -> Chunk:
        n = batch.num_rows
        out = buffers.next(self.n_features, n, self._np_dtype) if buffers else None
        X = torch.from_numpy(self._features(batch, path, where, check_finite, out)).T
        if self.target is not None:
            y = torch.from_numpy(self._label_index(batch.column(self.target), path, where))
        else:
            y = torch.zeros(n, dtype=torch.int64)
        w = (torch.from_numpy(self._weights(batch, path, where)) if self.weight
             else torch.ones(n, dtype=self.dtype))
        if self.device.type != "cpu":  # a copy: the buffer may be reused
            X, y, w = X.to(self.device), y.to(self.device), w.to(self.device)
        return X, y, w

    def _features(
        self, batch, path: Path, where: Location, check_finite: bool = True, out: np.ndarray | None = None,
    ) -> np.ndarray:
        """The feature columns as a ``(n_features, rows)`` array (``out`` if given), checked."""
        if out is None:
            out = np.empty((self.n_features, batch.num_rows), dtype=self._np_dtype)
        with np.errstate(over="ignore"):  # a float64 value beyond float32: reported just below
            for j, name in enumerate(self.feature_names):
                column = batch.column(name)
                if column.null_count:
                    raise ValueError(f"{quoted(path)}: column {name!r} has a missing value at "
                                     f"{where(first_null(column))}")
                out[j] = column.to_numpy(zero_copy_only=False)
        if check_finite:
            finite = np.isfinite(out)
            if not finite.all():
                j, row = np.unravel_index(int(np.argmin(finite)), finite.shape)
                raise ValueError(f"{quoted(path)}: column {self.feature_names[j]!r} has a non-finite "
                                 f"value ({out[j, row]}) at {where(int(row))}")
        return out

    def _weights(self, batch, path: Path, where: Location) -> np.ndarray:
        column = batch.column(self.weight)
        if column.null_count:
            raise ValueError(f"{quoted(path)}: weight column {self.weight!r} has a missing value at "
                             f"{where(first_null(column))}")
        values = column.to_numpy(zero_copy_only=False).astype(self._np_dtype)
        bad = ~(np.isfinite(values) & (values >= 0))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{quoted(path)}: weight column {self.weight!r} has the value {values[row]} "
                             f"at {where(row)}; weights must be finite and non-negative")
        return values


# --------------------------------------------------------------------------- helpers
def _first_unknown(column, value_set) -> int:
    """The first row of ``column`` whose value is not in ``value_set`` (after casting if possible)."""
    pa, pc = arrow()
    for row, value in enumerate(column.to_pylist()):
        try:
            typed = pa.array([value]).cast(value_set.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return row
        if pc.index_in(typed, value_set=value_set).null_count:
            return row
    return 0


class _BufferRing:
    """``size`` arrays handed out in turn: each is reused ``size`` requests later."""

    def __init__(self, size: int, max_rows: int):
        self._buffers: list[np.ndarray | None] = [None] * size
        self._turn = 0
        self._max_rows = max_rows

    def next(self, n_features: int, n_rows: int, dtype) -> np.ndarray:
        """An ``(n_features, n_rows)`` view of the next buffer. A buffer too small is replaced by
        one of room for up to twice the rows asked (at most ``max_rows``, the largest chunk), so
        a short chunk does not make its successors reallocate, and a small file with a huge
        ``max_rows`` does not allocate it."""
        self._turn = (self._turn + 1) % len(self._buffers)
        buffer = self._buffers[self._turn]
        if buffer is None or buffer.shape[1] < n_rows or buffer.dtype != dtype:
            width = max(n_rows, min(self._max_rows, 2 * n_rows))
            buffer = self._buffers[self._turn] = np.empty((n_features, width), dtype=dtype)
        return buffer[:, :n_rows]


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


_DONE = object()


def _prefetched(make: Callable[[], Iterator], depth: int = _PREFETCH_DEPTH) -> Iterator:
    """Run ``make()`` in a background thread, ``depth`` items ahead of the consumer.

    pyarrow's decoding and numpy's conversions release the GIL, so reading the next chunk overlaps
    with summing the current one. Errors are re-raised in the consumer; abandoning the iterator
    stops the thread.
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            with contextlib.closing(make()) as produced:  # closing it stops a nested prefetcher
                for item in produced:
                    if not put(item):
                        return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, re-raised there
            put(_Failure(exc))

    thread = threading.Thread(target=work, name="torchlogit-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()
