"""Read CSV and Parquet files into numeric features and a target, with errors that name file, column and row.

:func:`read_csv`, :func:`read_parquet` and :func:`read_table` read a whole file;
:func:`iter_feature_batches` streams one block of rows at a time (bounded memory), for prediction
on large files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from torchlogit._messages import first_line
from torchlogit.data._arrow import (
    arrow,
    check_file,
    csv_reader_batches,
    first_null,
    is_numeric,
    non_numeric_column,
)


@dataclass
class Table:
    """Features as a float64 matrix, the target column (if asked for) and the feature names."""

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str]


def read_csv(
    path: str | os.PathLike[str], *, target: str | None = None, features: list[str] | None = None,
) -> Table:
    """Read ``path`` (header row, comma-separated) with pyarrow.

    Parameters
    ----------
    target : name of the label column; ``None`` when reading rows to predict.
    features : the feature columns, in this order; by default every column but ``target``.
        Columns not named (e.g. an id column, or the target at predict time) are ignored.

    Raises
    ------
    FileNotFoundError, ValueError
        With a message naming the file and, where it applies, the column and the row.
    """
    from pyarrow import csv

    pa, _ = arrow()
    return _read_whole(csv.read_csv, "CSV", (pa.ArrowInvalid, UnicodeDecodeError), path, target, features)


def read_parquet(
    path: str | os.PathLike[str], *, target: str | None = None, features: list[str] | None = None,
) -> Table:
    """Read a Parquet file ``path``; same parameters, checks and errors as :func:`read_csv`."""
    import pyarrow.parquet as pq

    pa, _ = arrow()
    return _read_whole(pq.read_table, "Parquet", (pa.ArrowException, OSError), path, target, features)


def _read_whole(
    read: Callable[[Path], Any], format_name: str, failures: tuple[type[BaseException], ...],
    path: str | os.PathLike[str], target: str | None, features: list[str] | None,
) -> Table:
    """``read(path)`` as a checked :class:`Table`; ``failures`` (the reader's errors for a file
    that is not ``format_name``) become a ValueError naming the file."""
    path = check_file(path)
    try:
        table = read(path)
    except failures as exc:
        raise ValueError(f"{str(path)!r} could not be read as {format_name}: {exc}") from None
    return _to_table(table, path, target, features)


def read_table(
    path: str | os.PathLike[str], *, target: str | None = None, features: list[str] | None = None,
) -> Table:
    """:func:`read_parquet` for ``.parquet``/``.pq`` files, :func:`read_csv` for anything else."""
    reader = read_parquet if is_parquet(path) else read_csv
    return reader(path, target=target, features=features)


def is_parquet(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a Parquet file (by its suffix)."""
    return Path(path).suffix.lower() in (".parquet", ".pq")


def _to_table(table, path: Path, target: str | None, features: list[str] | None) -> Table:
    """Validate an Arrow table read from ``path`` and convert it to a :class:`Table`."""
    if table.num_rows == 0:
        raise ValueError(f"{str(path)!r} has a header but no data rows")
    columns = table.column_names
    if target is not None and target not in columns:
        raise ValueError(f"{str(path)!r} has no target column {target!r}; columns are {columns}")
    if features is None:
        features = [c for c in columns if c != target]
        if not features:
            raise ValueError(f"{str(path)!r} has no feature columns besides the target {target!r}")
    else:
        missing = [c for c in features if c not in columns]
        if missing:
            raise ValueError(f"{str(path)!r} lacks the model's feature columns {missing}")
    X = _features(table, path, features)
    y = None
    if target is not None:
        column = table.column(target)
        if column.null_count:
            row = first_null(column)
            raise ValueError(f"{str(path)!r}: target {target!r} has a missing value at data row {row + 1}")
        y = column.to_numpy(zero_copy_only=False)
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError(f"{str(path)!r}: target {target!r} has non-finite values")
        if y.dtype.kind not in "biuf":
            y = y.astype(str)
    return Table(X=X, y=y, feature_names=list(features))


def _features(table, path: Path, features: list[str], first_row: int = 0) -> np.ndarray:
    """The ``features`` columns of an Arrow table or record batch as float64, checked.

    ``first_row`` is the data row number of the table's first row minus one, for the messages.
    """
    X = np.empty((table.num_rows, len(features)), dtype=np.float64)
    for j, name in enumerate(features):
        column = table.column(name)
        kind = column.type
        if not is_numeric(kind):
            raise ValueError(
                f"{str(path)!r}: column {name!r} is not numeric ({kind}); features must be numbers"
            )
        if column.null_count:
            row = first_row + first_null(column)
            raise ValueError(f"{str(path)!r}: column {name!r} has a missing value at data row {row + 1}")
        values = column.to_numpy(zero_copy_only=False).astype(np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{str(path)!r}: column {name!r} has a non-finite value ({values[row]}) "
                f"at data row {first_row + row + 1}"
            )
        X[:, j] = values
    return X


# Streaming: bounded memory for files of any size (``torchlogit predict``).
STREAM_BLOCK_BYTES = 1 << 20  # CSV text parsed per batch
STREAM_BATCH_ROWS = 65_536  # Parquet rows per batch


def iter_feature_batches(
    path: str | os.PathLike[str], features: list[str] | None = None,
) -> Iterator[np.ndarray]:
    """Yield the ``features`` columns of a CSV or Parquet file as float64 blocks of rows, in order.

    ``features=None`` reads every column, in file order.

    Only one block (about ``STREAM_BLOCK_BYTES`` of CSV text or ``STREAM_BATCH_ROWS`` Parquet
    rows) is held at a time. The checks and messages are those of :func:`read_csv`, with data row
    numbers counted from the start of the file. CSV feature columns are parsed as float64 from the
    first block on, so a column of integers that later holds ``1.5`` is read correctly.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`read_csv`; a bad value in a later block is found when that block is read.
    """
    path = check_file(path)
    batches = _parquet_batches(path, features) if is_parquet(path) else _csv_batches(path, features)
    first_row = 0
    for batch in batches:
        if batch.num_rows:
            yield _features(batch, path, features or batch.schema.names, first_row)
            first_row += batch.num_rows
    if first_row == 0:
        raise ValueError(f"{str(path)!r} has a header but no data rows")


def _check_columns(path: Path, columns: list[str], features: list[str]) -> None:
    missing = [c for c in features if c not in columns]
    if missing:
        raise ValueError(f"{str(path)!r} lacks the model's feature columns {missing}")


def _csv_batches(path: Path, features: list[str] | None) -> Iterator:
    import csv as text_csv

    from pyarrow import csv

    pa, _ = arrow()
    if features is None:  # every column: learn the names from the header, then parse them as floats
        with open(path, newline="", encoding="utf-8", errors="replace") as handle:
            features = next(text_csv.reader(handle), [])
    try:
        reader = csv.open_csv(
            path, read_options=csv.ReadOptions(block_size=STREAM_BLOCK_BYTES),
            convert_options=csv.ConvertOptions(column_types=dict.fromkeys(features, pa.float64())),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise ValueError(f"{str(path)!r} could not be read as CSV: {first_line(exc)}") from None
    columns = reader.schema.names
    _check_columns(path, columns, features)

    def error(exc: BaseException) -> ValueError:
        found = non_numeric_column(exc)
        if found and found[0] < len(columns):
            return ValueError(f"{str(path)!r}: column {columns[found[0]]!r} is not numeric ({found[1]}); "
                              "features must be numbers")
        return ValueError(f"{str(path)!r} could not be read as CSV: {first_line(exc)}")

    yield from csv_reader_batches(reader, error)


def _parquet_batches(path: Path, features: list[str] | None) -> Iterator:
    import pyarrow.parquet as pq

    pa, _ = arrow()
    try:
        handle = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"{str(path)!r} could not be read as Parquet: {first_line(exc)}") from None
    with handle:
        if features is not None:
            _check_columns(path, handle.schema_arrow.names, features)
        yield from handle.iter_batches(batch_size=STREAM_BATCH_ROWS, columns=features)

