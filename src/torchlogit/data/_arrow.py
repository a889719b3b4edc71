"""What every module reading files with pyarrow shares: the lazy import, file and column checks.

Used by the whole-file readers (:mod:`torchlogit.data.tabular`) and the streamed sources
(:mod:`torchlogit.data.parquet_source`, :mod:`torchlogit.data.csv_source`), so all of them refuse
a missing file, duplicated column names, a missing value, text that is not UTF-8 or a corrupt row
group in the same words (CSV headers: :mod:`torchlogit.data._csvheader`). pyarrow is imported
inside the functions, never at module level, so ``import torchlogit`` stays light.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from torchlogit._messages import first_line


def arrow() -> tuple[Any, Any]:
    """``(pyarrow, pyarrow.compute)``, imported on first use."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pa, pc


def quoted(path: str | os.PathLike[str]) -> str:
    """``path`` as every message names a file: its text, quoted."""
    return repr(str(path))


def check_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a :class:`~pathlib.Path`, after checking that it is a file and not empty.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is empty (pyarrow's own message for it says nothing of the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {quoted(path)}")
    if path.stat().st_size == 0:
        raise ValueError(f"{quoted(path)} is empty")
    return path


def check_unique_columns(path: Path, names: Iterable[str]) -> None:
    """Refuse a file with two columns of one name: which of them a reader takes is arbitrary."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{quoted(path)} has the column {name!r} more than once; "
                             "columns must have distinct names")
        seen.add(name)


def check_unique_features(features: Sequence[str]) -> None:
    """Refuse a list of feature columns that names one twice (it would be read twice)."""
    if len(set(features)) < len(features):
        twice = next(name for k, name in enumerate(features) if name in features[:k])
        raise ValueError(f"the feature column {twice!r} is named twice")


@functools.cache  # asked once per column, of a few distinct types
def is_numeric(arrow_type: Any) -> bool:
    """Whether a column of ``arrow_type`` converts to float features (integers, floats, booleans,
    or all nulls, which the missing-value check then reports)."""
    pa, _ = arrow()
    return (pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)
            or pa.types.is_boolean(arrow_type) or pa.types.is_null(arrow_type))


def first_null(column: Any) -> int:
    """The index of the first null in an Arrow array that has one (``column.null_count > 0``)."""
    _, pc = arrow()
    return int(pc.index(pc.is_null(column), True).as_py())


def as_text(column: Any) -> Any | None:
    """A binary Arrow column as text, or ``None`` when it is not UTF-8."""
    pa, _ = arrow()
    try:
        return column.cast(pa.string())
    except pa.ArrowInvalid:
        return None


def invalid_text(column: Any) -> int | None:
    """The first row of a text column that is not UTF-8 (Parquet writers are not made to check;
    pyarrow's CSV reader does), or ``None``."""
    pa, _ = arrow()
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return None

    def fails(values: Any) -> bool:
        try:
            values.validate(full=True)
        except pa.ArrowInvalid:
            return True
        return False

    return first_failure(column, fails) if fails(column) else None


def first_failure(values: Any, fails: Callable[[Any], bool]) -> int:
    """The first index ``i`` of an Arrow array with ``fails(values[: i + 1])``, given ``fails(values)``.

    A binary search over prefixes: ``fails`` is asked about ``log2(len(values))`` slices, so a bad
    value among millions of rows is located with a few vectorized checks.
    """
    low, high = 0, len(values) - 1
    while low < high:
        middle = (low + high) // 2
        if fails(values.slice(0, middle + 1)):
            high = middle
        else:
            low = middle + 1
    return low


def checked_batches(batches: Iterator[Any], error: Callable[[BaseException], Exception]) -> Iterator[Any]:
    """The items of a pyarrow batch iterator; a read or decode failure is raised as ``error(exc)``,
    so each caller names the file, and the row group or column, in its own words."""
    pa, _ = arrow()
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as exc:
            raise error(exc) from None
        yield batch


def csv_reader_batches(reader: Any, error: Callable[[BaseException], Exception]) -> Iterator[Any]:
    """The record batches of a pyarrow streaming CSV reader, which is closed at the end."""
    with reader:
        yield from checked_batches(iter(reader), error)


# --------------------------------------------------------------------------------------- Parquet
def open_parquet(path: Path, memory_map: bool = False) -> Any:
    """``pyarrow.parquet.ParquetFile`` of ``path`` with its schema decoded; a ValueError naming the
    file when it is not Parquet, truncated, or its footer is corrupt."""
    pa, _ = arrow()
    import pyarrow.parquet as pq

    handle = None
    try:
        handle = pq.ParquetFile(path, memory_map=memory_map)
        handle.schema_arrow.names  # noqa: B018 - decoded now, so a bad footer is reported here
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        if handle is not None:
            handle.close()
        why = ("its column names are not UTF-8 text" if isinstance(exc, UnicodeDecodeError)
               else first_line(exc))
        raise ValueError(f"{quoted(path)} could not be read as Parquet (truncated or not a Parquet "
                         f"file): {why}") from None
    return handle


def parquet_batches(handle: Any, path: Path, columns: list[str] | None, batch_size: int,
                    row_groups: Iterable[int] | None = None) -> Iterator[Any]:
    """The record batches of ``row_groups`` (default: all) of an open Parquet file, in order; a
    corrupt page is a ValueError naming the file and the row group."""
    groups = range(handle.num_row_groups) if row_groups is None else row_groups
    for group in groups:
        batches = handle.iter_batches(batch_size=batch_size, row_groups=[group], columns=columns,
                                      use_threads=True)
        yield from checked_batches(batches, _row_group_error(path, group))


def _row_group_error(path: Path, group: int) -> Callable[[BaseException], ValueError]:
    return lambda exc: ValueError(f"{quoted(path)}: row group {group} could not be read (truncated or "
                                  f"corrupt file?): {first_line(exc)}")
