"""Read CSV and Parquet files into numeric features and a target, with errors that name file, column and row.

:func:`read_csv`, :func:`read_parquet` and :func:`read_table` read a whole file;
:func:`iter_feature_batches` streams one block of rows at a time (bounded memory), for prediction
on large files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from torchlogit.data._arrow import (
    arrow,
    as_text,
    check_file,
    check_unique_columns,
    check_unique_features,
    csv_reader_batches,
    first_failure,
    first_null,
    invalid_text,
    is_numeric,
    open_parquet,
    parquet_batches,
)
from torchlogit.data._csvheader import csv_block_size, read_csv_header


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

    The header is read as every CSV reader here reads it (:func:`~torchlogit.data._csvheader.read_csv_header`:
    byte order mark stripped, UTF-8, distinct names). Feature columns are parsed as float64, or as
    booleans (0/1) when their first rows hold true/false; the target's type is inferred (integers,
    floats, booleans or text). Blocks are sized to the longest line, so wide files read.

    Parameters
    ----------
    target : name of the label column; ``None`` when reading rows to predict.
    features : the feature columns, in this order; by default every column but ``target``.
        Columns not named (e.g. an id column, or the target at predict time) are not read.

    Raises
    ------
    FileNotFoundError, ValueError
        With a message naming the file and, where it applies, the column and the row.
    """
    from pyarrow import csv

    pa, _ = arrow()
    path = check_file(path)
    header = read_csv_header(path)
    features = _chosen_features(path, header.names, target, features)
    options = csv.ConvertOptions(column_types=header.feature_types(features),
                                 include_columns=_needed(features, target))
    try:
        table = csv.read_csv(path, read_options=header.read_options(csv_block_size(path, 1 << 20)),
                             convert_options=options)
    except (pa.ArrowException, OSError) as exc:
        raise header.error(exc, target=target) from None
    if target is not None and pa.types.is_string(table.column(target).type):
        _check_no_empty_label(table.column(target), path, target)
    return _to_table(table, path, target, features)


def _check_no_empty_label(column, path: Path, target: str) -> None:
    """An empty CSV cell is a missing label, in a column of text too (as the streamed source reads it)."""
    _, pc = arrow()
    empty = pc.equal(column, "")
    if pc.any(empty).as_py():
        row = int(pc.index(empty, True).as_py())
        raise ValueError(f"{str(path)!r}: target {target!r} has a missing value at data row {row + 1}")


def read_parquet(
    path: str | os.PathLike[str], *, target: str | None = None, features: list[str] | None = None,
) -> Table:
    """Read a Parquet file ``path``; same parameters, checks and errors as :func:`read_csv`.

    Only the feature and target columns are read, one row group at a time, so a corrupt page is
    reported with its row group.
    """
    pa, _ = arrow()
    path = check_file(path)
    with open_parquet(path) as handle:
        schema = handle.schema_arrow
        check_unique_columns(path, schema.names)
        features = _chosen_features(path, schema.names, target, features)
        columns = _needed(features, target)
        batches = list(parquet_batches(handle, path, columns, STREAM_BATCH_ROWS))
    table = pa.Table.from_batches(batches) if batches else schema.empty_table().select(columns)
    return _to_table(table, path, target, features)


def _needed(features: list[str], target: str | None) -> list[str]:
    """The columns to read: the features, then the target (once)."""
    return list(dict.fromkeys([*features, *([target] if target is not None else [])]))


def read_table(
    path: str | os.PathLike[str], *, target: str | None = None, features: list[str] | None = None,
) -> Table:
    """:func:`read_parquet` for ``.parquet``/``.pq`` files, :func:`read_csv` for anything else."""
    reader = read_parquet if is_parquet(path) else read_csv
    return reader(path, target=target, features=features)


def csv_column_names(path: str | os.PathLike[str]) -> list[str]:
    """The column names of a CSV file as every reader here reads them: from its first line, byte
    order mark stripped, checked to be UTF-8 and distinct (for callers choosing columns by name)."""
    return read_csv_header(check_file(path)).names


def is_parquet(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a Parquet file (by its suffix)."""
    return Path(path).suffix.lower() in (".parquet", ".pq")


def _chosen_features(path: Path, columns: list[str], target: str | None,
                     features: list[str] | None) -> list[str]:
    """The feature columns: ``features`` (checked to be distinct and present) or every column but
    ``target``; the target checked to be present."""
    names = set(columns)
    if target is not None and target not in names:
        raise ValueError(f"{str(path)!r} has no target column {target!r}; columns are {columns}")
    if features is None:
        features = [c for c in columns if c != target]
        if not features:
            raise ValueError(f"{str(path)!r} has no feature columns besides the target {target!r}")
        return features
    check_unique_features(features)
    _check_columns(path, names, features)
    return list(features)


def _to_table(table, path: Path, target: str | None, features: list[str]) -> Table:
    """Validate an Arrow table read from ``path`` and convert it to a :class:`Table`."""
    if table.num_rows == 0:
        raise ValueError(f"{str(path)!r} has no data rows")
    X = _features(table, path, features)
    y = None if target is None else _labels(table.column(target), path, target)
    return Table(X=X, y=y, feature_names=list(features))


def _labels(column, path: Path, target: str) -> np.ndarray:
    """The target column as numpy: numbers and booleans as they are, anything else as text."""
    pa, _ = arrow()
    if column.null_count:
        row = first_null(column)
        raise ValueError(f"{str(path)!r}: target {target!r} has a missing value at data row {row + 1}")
    if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
        text = as_text(column)
        if text is None:  # pyarrow reads a CSV column that is not UTF-8 as bytes
            row = first_failure(column, lambda values: as_text(values) is None)
            raise ValueError(f"{str(path)!r}: target {target!r} is not UTF-8 text at data row {row + 1}; "
                             "save the file as UTF-8")
        column = text
    row = invalid_text(column)
    if row is not None:
        raise ValueError(f"{str(path)!r}: target {target!r} is not UTF-8 text at data row {row + 1}")
    y = column.to_numpy(zero_copy_only=False)
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError(f"{str(path)!r}: target {target!r} has non-finite values")
    return y if y.dtype.kind in "biuf" else y.astype(str)


def _features(table, path: Path, features: list[str], first_row: int = 0) -> np.ndarray:
    """The ``features`` columns of an Arrow table or record batch as float64, checked.

    ``first_row`` is the data row number of the table's first row minus one, for the messages.
    The first column in ``features`` order with a problem (not numeric, a missing value, a
    non-finite value) is the one reported; finiteness is checked for all columns at once, so a
    file of many columns costs one conversion per column and no more.
    """
    X = np.empty((table.num_rows, len(features)), dtype=np.float64)
    for j, name in enumerate(features):
        column = table.column(name)
        kind = column.type
        if not is_numeric(kind):
            _check_finite(X[:, :j], path, features, first_row)
            raise ValueError(
                f"{str(path)!r}: column {name!r} is not numeric ({kind}); features must be numbers"
            )
        if column.null_count:
            _check_finite(X[:, :j], path, features, first_row)
            row = first_row + first_null(column)
            raise ValueError(f"{str(path)!r}: column {name!r} has a missing value at data row {row + 1}")
        X[:, j] = column.to_numpy(zero_copy_only=False)
    _check_finite(X, path, features, first_row)
    return X


def _check_finite(X: np.ndarray, path: Path, features: list[str], first_row: int) -> None:
    """Refuse a non-finite value in the columns of ``X`` (the first ``X.shape[1]`` features)."""
    finite = np.isfinite(X)
    if finite.all():
        return
    j = int(np.flatnonzero(~finite.all(axis=0))[0])
    row = int(np.flatnonzero(~finite[:, j])[0])
    raise ValueError(f"{str(path)!r}: column {features[j]!r} has a non-finite value ({X[row, j]}) "
                     f"at data row {first_row + row + 1}")


# Streaming: bounded memory for files of any size (``torchlogit predict``).
STREAM_BLOCK_BYTES = 1 << 20  # CSV text parsed per batch
STREAM_BATCH_ROWS = 65_536  # Parquet rows per batch


def iter_feature_batches(
    path: str | os.PathLike[str], features: list[str] | None = None,
) -> Iterator[np.ndarray]:
    """Yield the ``features`` columns of a CSV or Parquet file as float64 blocks of rows, in order.

    ``features=None`` reads every column, in file order.

    Only one block (about ``STREAM_BLOCK_BYTES`` of CSV text, or the longest line twice, or
    ``STREAM_BATCH_ROWS`` Parquet rows) is held at a time. The checks and messages are those of
    :func:`read_csv`, with data row numbers counted from the start of the file. CSV feature columns
    are parsed as float64 (booleans as 0/1) from the first block on, so a column of integers that
    later holds ``1.5`` is read correctly.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`read_csv`; a bad value in a later block is found when that block is read.
    """
    path = check_file(path)
    if features is not None:
        check_unique_features(features)
    batches = _parquet_batches(path, features) if is_parquet(path) else _csv_batches(path, features)
    first_row = 0
    for batch in batches:
        if batch.num_rows:
            yield _features(batch, path, features or batch.schema.names, first_row)
            first_row += batch.num_rows
    if first_row == 0:
        raise ValueError(f"{str(path)!r} has no data rows")


def _check_columns(path: Path, columns: Iterable[str], features: list[str]) -> None:
    names = set(columns)
    missing = [c for c in features if c not in names]
    if missing:
        raise ValueError(f"{str(path)!r} lacks the model's feature columns {missing}")


def _csv_batches(path: Path, features: list[str] | None) -> Iterator:
    from pyarrow import csv

    pa, _ = arrow()
    header = read_csv_header(path)
    if features is None:
        features = header.names
    _check_columns(path, header.names, features)
    try:
        reader = csv.open_csv(
            path, read_options=header.read_options(csv_block_size(path, STREAM_BLOCK_BYTES)),
            convert_options=csv.ConvertOptions(column_types=header.feature_types(features),
                                               include_columns=features),
        )
    except (pa.ArrowException, OSError) as exc:
        raise header.error(exc) from None
    yield from csv_reader_batches(reader, header.error)


def _parquet_batches(path: Path, features: list[str] | None) -> Iterator:
    with open_parquet(path) as handle:
        names = handle.schema_arrow.names
        check_unique_columns(path, names)
        if features is not None:
            _check_columns(path, names, features)
        yield from parquet_batches(handle, path, features, STREAM_BATCH_ROWS)
