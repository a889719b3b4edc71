"""CSV files streamed with pyarrow's streaming reader: :class:`CSVSource`."""

from __future__ import annotations

import contextlib
import csv as text_csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from torchlogit._messages import first_line
from torchlogit.data._arrow import arrow, csv_reader_batches, non_numeric_column, quoted
from torchlogit.data._filesource import Location, _FileSource


class CSVSource(_FileSource):
    """CSV files (header row, comma-separated) read with pyarrow's streaming CSV reader.

    Feature and weight columns are parsed as numbers from the first block on; the target is read
    as text and typed like the in-memory reader types it (integers, else floats, else booleans,
    else text), from its distinct values. Made by :func:`~torchlogit.data.streaming.open_source`,
    whose keywords are the ``options``.
    """

    format_name = "CSV"
    _NULLS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
              "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null")

    def _columns(self) -> list[str]:
        self._headers = []
        self._row_bytes = 0.0  # bytes per row: the most of any file's sample (see _block_size)
        for path in self.files:
            with open(path, newline="", encoding="utf-8", errors="replace") as handle:
                header = next(text_csv.reader(handle), [])
                sample = handle.read(1 << 16)
            if not header:
                raise ValueError(f"{quoted(path)} has no header row")
            self._headers.append(header)
            lines = max(sample.count("\n"), 1)
            self._row_bytes = max(self._row_bytes, len(sample.encode()) / lines)
        return list(self._headers[0])

    def _check_feature_columns(self) -> None:
        needed = [*self.feature_names, *(c for c in (self.target, self.weight) if c)]
        for path, header in zip(self.files, self._headers, strict=True):
            missing = [c for c in needed if c not in header]
            if missing:
                raise ValueError(f"{quoted(path)} lacks the columns {missing}")

    def _target_type(self):
        return None

    def _checked_labels(self, column, path: Path, where: Location):
        _, pc = arrow()
        empty = pc.equal(column, "")
        if pc.any(empty).as_py():
            row = int(pc.index(empty, True).as_py())
            raise ValueError(f"{quoted(path)}: target {self.target!r} has a missing value at {where(row)}")
        return column

    def _parse_labels(self, values: list) -> np.ndarray:
        """Type the distinct label texts as pyarrow's CSV inference would: int, float, bool, text."""
        pa, _ = arrow()
        texts = pa.array(values, type=pa.string())
        for kind in (pa.int64(), pa.float64(), pa.bool_()):
            try:
                typed = texts.cast(kind)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
            return np.unique(typed.to_numpy(zero_copy_only=False))
        return np.unique(np.asarray(values, dtype=str))

    def _block_size(self) -> int:
        estimate = int(self.chunk_rows * self._row_bytes * 1.05)
        return int(min(max(estimate, 1 << 16), 1 << 26))

    def _batches(self, columns: list[str], shard: tuple[int, int]):
        rank, world = shard
        if len(self.files) >= world:  # whole files: a run of them holding about 1/world of the bytes
            sizes = np.cumsum([p.stat().st_size for p in self.files])
            owner = np.minimum((sizes - np.diff(sizes, prepend=0) / 2) * world // sizes[-1], world - 1)
            parts = [(path, None) for path, o in zip(self.files, owner, strict=True) if o == rank]
        else:  # fewer files than ranks: each rank parses its own 1/world of every file's lines
            parts = [(path, _LineRange(path, rank, world)) for path in self.files]
        for path, lines in parts:
            first = 0
            for batch in self._read(path, columns, lines):
                for start in range(0, batch.num_rows, self.chunk_rows):
                    location = (_csv_location(first + start) if lines is None
                                else lines.location(first + start))
                    yield batch.slice(start, self.chunk_rows), path, location
                first += batch.num_rows

    def _read(self, path: Path, columns: list[str], lines: _LineRange | None = None):
        pa, _ = arrow()
        from pyarrow import csv

        numeric = [c for c in columns if c != self.target]
        types = dict.fromkeys(numeric, pa.float64())
        if self.target in columns:
            types[self.target] = pa.string()
        with contextlib.ExitStack() as stack:
            source = path if lines is None else stack.enter_context(lines.open())
            try:
                reader = stack.enter_context(csv.open_csv(
                    source, read_options=csv.ReadOptions(block_size=self._block_size()),
                    convert_options=csv.ConvertOptions(column_types=types, include_columns=columns,
                                                       null_values=list(self._NULLS),
                                                       strings_can_be_null=False),
                ))
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                raise self._conversion_error(path, exc) from None
            yield from csv_reader_batches(reader, lambda exc: self._conversion_error(path, exc))

    def _conversion_error(self, path: Path, exc: BaseException) -> ValueError:
        headers = self._headers[self.files.index(path)]
        found = non_numeric_column(exc)
        if found and found[0] < len(headers):
            row = _first_non_number(path, found[0], self._NULLS)
            at = "" if row is None else f" at data row {row + 1}"
            return ValueError(f"{quoted(path)}: column {headers[found[0]]!r} is not numeric{at} "
                              f"({found[1]}); features and weights must be numbers")
        return ValueError(f"{quoted(path)} could not be read as CSV: {first_line(exc)}")


class _LineRange:
    """Rank ``part`` of ``parts``'s share of a CSV file's data lines: the header, then the lines
    starting in that part's slice of the bytes (pyarrow parses values without line breaks, so a
    line break always ends a row)."""

    def __init__(self, path: Path, part: int, parts: int):
        self.path = path
        size = path.stat().st_size
        with open(path, "rb") as handle:
            self.header = handle.readline()
            body = handle.tell()

            def boundary(k: int) -> int:  # where the first line starting at or after 1/parts·k begins
                if k == parts:
                    return size
                offset = body + (size - body) * k // parts
                if offset <= body:
                    return body
                handle.seek(offset - 1)
                handle.readline()
                return handle.tell()

            self.start, self.stop = boundary(part), boundary(part + 1)
        self.body = body
        self._rows_before: int | None = None

    def open(self) -> io.BufferedReader:
        """The header followed by this range's lines, as a file pyarrow can read."""
        return io.BufferedReader(_Concatenated(self.header, self.path, self.start, self.stop), 1 << 20)

    def location(self, first_row: int) -> Location:
        """Error locations as data rows of the whole file (the rows before the range counted on demand)."""
        return lambda row: f"data row {self.rows_before() + first_row + row + 1}"

    def rows_before(self) -> int:
        if self._rows_before is None:
            count, left = 0, self.start - self.body
            with open(self.path, "rb") as handle:
                handle.seek(self.body)
                while left > 0:
                    block = handle.read(min(left, 1 << 24))
                    count += block.count(b"\n")
                    left -= len(block)
            self._rows_before = count
        return self._rows_before


class _Concatenated(io.RawIOBase):
    """``head`` then the bytes ``[start, stop)`` of the file at ``path``, as one stream."""

    def __init__(self, head: bytes, path: Path, start: int, stop: int):
        self._head = head
        self._file = open(path, "rb")  # noqa: SIM115 - closed with this stream
        self._file.seek(start)
        self._left = stop - start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n], self._head = self._head[:n], self._head[n:]
            return n
        n = self._file.readinto(view[: min(len(view), self._left)]) if self._left > 0 else 0
        self._left -= n
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


def _csv_location(first_row: int) -> Location:
    """Error locations for a batch whose first row is data row ``first_row + 1`` of its file."""
    return lambda row: f"data row {first_row + row + 1}"


def _first_non_number(path: Path, column: int, nulls: Sequence[str]) -> int | None:
    """Data row index of the first value in ``column`` that is neither a number nor a null marker."""
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        reader = text_csv.reader(handle)
        next(reader, None)
        for row, values in enumerate(reader):
            if column < len(values) and values[column] not in nulls:
                try:
                    float(values[column])
                except ValueError:
                    return row
    return None
