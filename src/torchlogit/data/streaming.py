"""Parquet and CSV files streamed from disk in bounded chunks: data larger than memory, sharded by rank.

:func:`open_source` takes files, folders (every ``*.parquet`` / ``*.csv`` file in them, recursively)
and glob patterns, and returns a :class:`ParquetSource` or a :class:`CSVSource`. Both satisfy the
:class:`~torchlogit.data.DataSource` protocol: every call to ``chunks()`` re-reads the files and
yields ``(X, y, sample_weight)`` tensors of at most ``chunk_rows`` rows, so memory is bounded by
the chunk size, whatever the number of rows. A background thread reads and decodes the next chunk
while the current one is being summed.

Columns are chosen by name: ``target`` (the labels), ``features`` (default: every other column
but ``weight``), ``weight`` (optional sample weights). Labels become indices into ``classes``,
the sorted distinct target values; when not given, they are found in a first streaming pass over
the target column only (:meth:`~ParquetSource.discover_classes`). Checks are those of the
in-memory readers, with messages naming the file, the column and the row group / row: a
non-numeric feature column (also one that turns to text in a later file), missing or non-finite
values, a label that is not one of ``classes``, a truncated or corrupt file. Non-finite values
are looked for on a shard's first complete pass only (per dtype): later passes read the same
files, which must not change during a fit.

**Sharding.** Under torch.distributed, rank ``r`` of ``W`` reads only its share: for Parquet, a
contiguous run of row groups (over all files) holding about ``1/W`` of the rows; for CSV, whole
files when there are at least ``W`` of them, else the lines starting in its ``1/W`` of each
file's bytes (pyarrow's CSV parser takes no line breaks inside values, so lines are rows; error
messages still count rows from the top of the file). A rank with no rows yields one empty chunk.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from torchlogit.data._filesource import DEFAULT_CHUNK_ROWS, MAX_CLASSES, SourceOptions
from torchlogit.data.csv_source import CSVSource
from torchlogit.data.parquet_source import ParquetSource

__all__ = [
    "DEFAULT_CHUNK_ROWS", "MAX_CLASSES", "CSVSource", "ParquetSource", "SourceOptions", "expand_paths",
    "open_source",
]

_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def expand_paths(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The files named by ``paths``: files, folders (their Parquet/CSV files, recursively) and globs.

    The order is the order given, each folder and pattern sorted, duplicates dropped.

    Raises
    ------
    FileNotFoundError
        For a path or pattern that names no file.
    """
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not items:
        raise FileNotFoundError("no input files given")
    found: list[Path] = []
    for item in items:
        text = os.fspath(item)
        path = Path(text)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _SUFFIXES
                            and not p.name.startswith((".", "_")))
            if not inside:
                raise FileNotFoundError(f"folder {text!r} holds no .parquet or .csv files")
            found += inside
        elif path.is_file():
            found.append(path)
        elif glob.has_magic(text):
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
            if not matches:
                raise FileNotFoundError(f"no file matches {text!r}")
            found += matches
        else:
            raise FileNotFoundError(f"no such file: {text!r}")
    return list(dict.fromkeys(found))


def open_source(  # noqa: PLR0913 keyword API documented in README
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, target: str | None = None,
    features: Sequence[str] | None = None, weight: str | None = None, classes: Any = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS, dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu", rank: int | None = None, world_size: int | None = None,
    memory_map: bool = False,
) -> ParquetSource | CSVSource:
    """A :class:`ParquetSource` or :class:`CSVSource` over ``paths`` (all files of one format).

    Parameters
    ----------
    paths : files, folders or glob patterns (see :func:`expand_paths`)
    target : the label column; None for rows to predict (``y`` is then all zeros)
    features : feature columns in this order; default every column but ``target`` and ``weight``
    weight : column of non-negative sample weights; default all ones
    classes : the class labels; default: found in a streaming pass over ``target``
    chunk_rows : most rows per chunk
    dtype, device : of the tensors yielded
    rank, world_size : this process's shard; default from torch.distributed when a chunk is
        first asked for (rank 0 of 1 without a process group)
    memory_map : Parquet files only: map them instead of reading them, so pyarrow decodes from the
        page cache without the kernel copying every byte first (less CPU for reading, faster
        passes). Off by default: a mapped file that is cut short or rewritten during a fit, or a
        network file system's read error, ends the process with a bus error instead of a Python
        exception.

    Examples
    --------
    >>> source = open_source("data/*.parquet", target="y", chunk_rows=100_000)  # doctest: +SKIP
    >>> clf = torchlogit.estimators.streaming.fit_streamed(LogisticRegression(), source)  # doctest: +SKIP
    """
    files = expand_paths(paths)
    kinds = {_SUFFIXES.get(p.suffix.lower(), "csv") for p in files}
    if len(kinds) > 1:
        raise ValueError("the inputs mix Parquet and CSV files; convert them to one format")
    options = SourceOptions(target=target, features=features, weight=weight, classes=classes,
                            chunk_rows=chunk_rows, dtype=dtype, device=device, rank=rank,
                            world_size=world_size, memory_map=memory_map)
    cls = ParquetSource if kinds == {"parquet"} else CSVSource
    return cls(files, options)
