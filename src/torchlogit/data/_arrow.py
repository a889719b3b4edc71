"""What every module reading files with pyarrow shares: the lazy import, file and column checks.

Used by the whole-file readers (:mod:`torchlogit.data.tabular`) and the streamed sources
(:mod:`torchlogit.data.parquet_source`, :mod:`torchlogit.data.csv_source`), so both report a
missing file, a missing value or a non-numeric CSV column in the same words. pyarrow is imported
inside the functions, never at module level, so ``import torchlogit`` stays light.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
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


def csv_reader_batches(reader: Any, error: Callable[[BaseException], Exception]) -> Iterator[Any]:
    """The record batches of a pyarrow streaming CSV reader, which is closed at the end.

    A parse or conversion error is raised as ``error(exc)``, so each caller names the file and
    column in its own words.
    """
    pa, _ = arrow()
    with reader:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                raise error(exc) from None
            yield batch


def non_numeric_column(exc: BaseException) -> tuple[int, str] | None:
    """``(column index, pyarrow's first line)`` when ``exc`` is pyarrow's failure to parse a CSV
    value as a number (e.g. "In CSV column #1: CSV conversion error to double: invalid value 'x'")."""
    found = re.search(r"column #(\d+): CSV conversion error to double: (.*)", str(exc))
    return None if found is None else (int(found.group(1)), first_line(found.group(2)))
