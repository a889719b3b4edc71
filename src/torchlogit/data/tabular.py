"""Read a CSV file into numeric features and a target, with errors that name file, column and row."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np


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
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    if path.stat().st_size == 0:
        raise ValueError(f"{str(path)!r} is empty")
    try:
        table = csv.read_csv(path)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise ValueError(f"{str(path)!r} could not be read as CSV: {exc}") from None
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
    X = np.empty((table.num_rows, len(features)), dtype=np.float64)
    for j, name in enumerate(features):
        column = table.column(name)
        kind = column.type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
                or pa.types.is_null(kind)):
            raise ValueError(
                f"{str(path)!r}: column {name!r} is not numeric ({kind}); features must be numbers"
            )
        if column.null_count:
            row = int(pc.index(pc.is_null(column), True).as_py())
            raise ValueError(f"{str(path)!r}: column {name!r} has a missing value at data row {row + 1}")
        values = column.to_numpy(zero_copy_only=False).astype(np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{str(path)!r}: column {name!r} has a non-finite value ({values[row]}) "
                f"at data row {row + 1}"
            )
        X[:, j] = values
    y = None
    if target is not None:
        column = table.column(target)
        if column.null_count:
            row = int(pc.index(pc.is_null(column), True).as_py())
            raise ValueError(f"{str(path)!r}: target {target!r} has a missing value at data row {row + 1}")
        y = column.to_numpy(zero_copy_only=False)
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError(f"{str(path)!r}: target {target!r} has non-finite values")
        if y.dtype.kind not in "biuf":
            y = y.astype(str)
    return Table(X=X, y=y, feature_names=list(features))
