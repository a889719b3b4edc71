"""How every CSV reader here reads a file's header and first rows, sizes its blocks, and words its errors.

The whole-file reader, prediction's block reader and the streamed source all call
:func:`read_csv_header`: the names come from the first line (a byte order mark stripped, UTF-8
checked, distinct) and are handed to pyarrow, which skips that line, so no reader sees other
columns than another. Columns whose first rows hold true/false are read as booleans (0/1
features) by all of them; blocks hold twice the longest line, so wide files read; a conversion
failure becomes one line naming the file, the column and the data row (:meth:`CSVHeader.error`).
"""

from __future__ import annotations

import codecs
import csv as text_csv
import io
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from torchlogit._messages import first_line
from torchlogit.data._arrow import (
    arrow,
    as_text,
    check_unique_columns,
    csv_reader_batches,
    first_failure,
    quoted,
)

# pyarrow's default missing-value markers, spelled out so every CSV reader uses the same ones
CSV_NULLS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
             "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null")
# pyarrow's texts of true and false; a column whose first rows hold only these (or missing values),
# at least one of them a word, is read as booleans, that is 0/1 features
_BOOLEAN_TEXTS = frozenset({"1", "True", "TRUE", "true", "0", "False", "FALSE", "false"})
_BOOLEAN_WORDS = _BOOLEAN_TEXTS - {"0", "1"}
# bytes after the header in which boolean columns are looked for
SAMPLE_BYTES = 1 << 16
_LINE_END = re.compile(rb"[\r\n]")


@dataclass(frozen=True)
class CSVHeader:
    """A CSV file's column names and what its first rows say about them, read once for every reader.

    pyarrow is given these names and told to skip the header line, so the whole-file reader, the
    block reader and the streamed source see the same columns (a byte order mark is no part of
    the first name).

    Attributes
    ----------
    path : the file
    names : its column names, distinct
    booleans : the columns whose first rows (:data:`SAMPLE_BYTES`) hold true/false values, read
        as booleans (0/1 features) by every reader; other feature columns are read as float64
    row_bytes : mean bytes per data row in those first rows (0 without rows)
    """

    path: Path
    names: list[str]
    booleans: frozenset[str]
    row_bytes: float

    def read_options(self, block_size: int) -> Any:
        """pyarrow's read options: these names, the header line skipped, blocks of ``block_size``."""
        from pyarrow import csv

        return csv.ReadOptions(column_names=self.names, skip_rows=1, block_size=block_size)

    def feature_types(self, features: Iterable[str]) -> dict[str, Any]:
        """The type each feature column is parsed as: boolean or float64 (never inferred per block,
        so a column of integers that later holds ``1.5`` is read right)."""
        pa, _ = arrow()
        return {name: pa.bool_() if name in self.booleans else pa.float64() for name in features}

    def error(self, exc: BaseException, *, target: str | None = None, what: str = "features") -> ValueError:
        """pyarrow's failure to read this file as one line naming the file, column and row."""
        found = re.search(r"column #(\d+): CSV conversion error to (\w+): (.*)", str(exc))
        if found is None or int(found.group(1)) >= len(self.names):
            return self._unreadable(exc)
        name, kind, detail = self.names[int(found.group(1))], found.group(2), first_line(found.group(3))
        row, value = self._first_bad_value(name, kind)
        at = "" if row is None else f" at data row {row + 1}"
        role = "target" if name == target else "column"
        if kind == "string":  # pyarrow's "invalid UTF8 data"
            return ValueError(f"{quoted(self.path)}: {role} {name!r} is not UTF-8 text{at}; "
                              "save the file as UTF-8")
        if value is not None and as_text(value) is None:
            detail += ", not UTF-8 text"
        if name == target:
            return ValueError(f"{quoted(self.path)}: target {name!r} holds {kind} labels in its first rows, "
                              f"then another kind of value{at} ({detail})")
        if kind == "bool":
            detail += "; the column's first rows hold true/false"
        return ValueError(f"{quoted(self.path)}: column {name!r} is not numeric{at} ({detail}); "
                          f"{what} must be numbers")

    def _unreadable(self, exc: BaseException) -> ValueError:
        return ValueError(f"{quoted(self.path)} could not be read as CSV: {first_line(exc)}")

    def _first_bad_value(self, name: str, kind: str) -> tuple[int | None, Any]:
        """``(data row index, value)`` of the first value of column ``name`` that pyarrow cannot read
        as ``kind`` (``(None, None)`` if none is found): the column re-read as bytes, each block
        checked at once and the failing one searched by halves."""
        pa, _ = arrow()
        from pyarrow import csv

        fails = _failure_test(kind)
        if fails is None:
            return None, None
        try:
            reader = csv.open_csv(
                self.path, read_options=self.read_options(csv_block_size(self.path, 1 << 20)),
                convert_options=csv.ConvertOptions(column_types={name: pa.binary()}, include_columns=[name],
                                                   null_values=list(CSV_NULLS), strings_can_be_null=True),
            )
        except (pa.ArrowException, OSError) as exc:
            raise self._unreadable(exc) from None
        first = 0
        for batch in csv_reader_batches(reader, self._unreadable):
            values = batch.column(0)
            if fails(values):
                row = first_failure(values, fails)
                return first + row, values.slice(row, 1)
            first += batch.num_rows
        return None, None


def _failure_test(kind: str) -> Callable[[Any], bool] | None:
    """Whether an Arrow array of CSV texts holds a value pyarrow's CSV reader refuses as ``kind``."""
    pa, pc = arrow()
    if kind == "string":
        return lambda values: as_text(values) is None
    if kind == "bool":  # exactly pyarrow's true/false texts
        texts = pa.array(sorted(_BOOLEAN_TEXTS), type=pa.binary())
        return lambda values: not pc.all(pc.or_kleene(pc.is_in(values, value_set=texts),
                                                      pc.is_null(values))).as_py()
    try:
        arrow_type = pa.type_for_alias(kind)
    except ValueError:
        return None

    def fails(values: Any) -> bool:
        text = as_text(values)
        if text is None:
            return True
        try:  # pyarrow's CSV number parser ignores blanks and tabs around a number
            pc.utf8_trim(text, characters=" \t").cast(arrow_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return True
        return False

    return fails


def typed_labels(texts: list[str]) -> np.ndarray | None:
    """The distinct label ``texts`` (no missing-value marker among them) typed as pyarrow's CSV
    inference types a column: integers, else floats (blanks around a number ignored, as its number
    parser does), else booleans (exactly its true/false texts); ``None`` for text."""
    pa, pc = arrow()
    values = pa.array(texts, type=pa.string())
    numbers = pc.utf8_trim(values, characters=" \t")
    for kind in (pa.int64(), pa.float64()):
        try:
            return np.unique(numbers.cast(kind).to_numpy(zero_copy_only=False))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    if _BOOLEAN_TEXTS.issuperset(texts):
        return np.unique(values.cast(pa.bool_()).to_numpy(zero_copy_only=False))
    return None


def read_csv_header(path: Path) -> CSVHeader:
    """The header and first rows of the CSV file ``path``: names, boolean columns, row size.

    Raises
    ------
    ValueError
        Naming the file: no header row, a header that is not UTF-8 text, a column name twice.
    """
    with open(path, "rb") as handle:
        line = read_first_line(handle)
        sample = _sample(handle)
    names = _header_names(path, line)
    check_unique_columns(path, names)
    booleans, rows = _sampled_columns(names, sample)
    return CSVHeader(path=path, names=names, booleans=booleans, row_bytes=len(sample) / rows if rows else 0.0)


def read_first_line(handle: Any) -> bytes:
    """The bytes before the first line end (``\\n``, ``\\r`` or ``\\r\\n``, as pyarrow ends rows);
    ``handle`` is left after that line end."""
    parts = []
    while True:
        piece = handle.read(1 << 16)
        found = _LINE_END.search(piece)
        if found is None:
            parts.append(piece)
            if not piece:
                return b"".join(parts)
            continue
        end = found.start()
        parts.append(piece[:end])
        after = end + (2 if piece[end:end + 2] == b"\r\n" else 1)
        handle.seek(after - len(piece), os.SEEK_CUR)
        return b"".join(parts)


def _sample(handle: Any) -> bytes:
    """Whole lines from the handle's position: about :data:`SAMPLE_BYTES`, at least one line."""
    data = handle.read(SAMPLE_BYTES)
    if len(data) < SAMPLE_BYTES:
        return data
    cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
    return data + read_first_line(handle) if cut < 0 else data[:cut]


def _header_names(path: Path, line: bytes) -> list[str]:
    if line.startswith(codecs.BOM_UTF8):
        line = line[len(codecs.BOM_UTF8):]
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{quoted(path)}: the header row is not UTF-8 text (byte 0x{line[exc.start]:02x} "
                         f"at position {exc.start}); save the file as UTF-8") from None
    try:
        names = next(text_csv.reader([text]), [])
    except text_csv.Error as exc:
        raise ValueError(f"{quoted(path)}: the header row could not be read: {exc}") from None
    if not names:
        raise ValueError(f"{quoted(path)} has no header row (its first line is empty)")
    return names


def _sample_rows(sample: bytes) -> Iterator[list[str] | None]:
    """The values of each non-empty line of ``sample``, ``None`` for a line Python's csv refuses (a
    value over its field limit); bytes that are not UTF-8 become surrogates, never a boolean.
    Decoded and parsed a line at a time, so the memory taken is a line's, not the sample's."""
    lines = io.TextIOWrapper(io.BytesIO(sample), encoding="utf-8", errors="surrogateescape", newline="")
    reader = text_csv.reader(lines)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except text_csv.Error:
            yield None
            continue
        if row:  # pyarrow skips empty lines
            yield row


def _sampled_columns(names: list[str], sample: bytes) -> tuple[frozenset[str], int]:
    """``(boolean columns, rows)`` of ``sample``: the columns whose values are all true/false texts
    or missing, one of them a word."""
    allowed = _BOOLEAN_TEXTS.union(CSV_NULLS)
    candidates = set(range(len(names)))
    words: set[int] = set()
    count = 0
    for row in _sample_rows(sample):
        count += 1
        if row is None or len(row) != len(names) or not candidates:
            continue
        candidates = {j for j in candidates if row[j] in allowed}
        words.update(j for j in candidates if row[j] in _BOOLEAN_WORDS)
    return frozenset(names[j] for j in candidates & words), count


def csv_block_size(path: Path, at_least: int) -> int:
    """Bytes of CSV text pyarrow parses per block: ``at_least``, and room for twice the longest line
    (a row longer than a block is refused by pyarrow, a header longer than one is not found)."""
    size = path.stat().st_size
    if size < at_least:
        return at_least
    longest = longest_line(path, read_bytes=min(max(at_least, 1 << 16), 1 << 24))
    return int(min(max(at_least, 2 * longest + 2), (1 << 31) - 1))


def longest_line(path: Path, read_bytes: int = 1 << 20) -> int:
    """Bytes in the longest ``\\n``-ended line of ``path``: one read of the file, vectorized, in
    pieces of ``read_bytes`` (the memory it takes, twice over)."""
    longest, run = 0, 0  # run: bytes since the last line end
    buffer = np.empty(read_bytes, dtype=np.uint8)
    with open(path, "rb", buffering=0) as handle:
        while n := handle.readinto(buffer):
            block = buffer[:n]
            ends = np.flatnonzero(block == ord("\n"))
            if len(ends) == 0:
                run += len(block)
                continue
            longest = max(longest, run + int(ends[0]) + 1)
            if len(ends) > 1:
                longest = max(longest, int(np.diff(ends).max()))
            run = len(block) - int(ends[-1]) - 1
    return max(longest, run)
