"""CSV files streamed with pyarrow's streaming reader: :class:`CSVSource`."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from torchlogit.data._arrow import arrow, csv_reader_batches, quoted
from torchlogit.data._csvheader import (
    CSV_NULLS,
    CSVHeader,
    csv_block_size,
    read_csv_header,
    read_first_line,
    typed_labels,
)
from torchlogit.data._filesource import Location, _FileSource


class CSVSource(_FileSource):
    """CSV files (header row, comma-separated) read with pyarrow's streaming CSV reader.

    Feature and weight columns are parsed as numbers from the first block on; the target is read
    as text and typed like the in-memory reader types it (integers, else floats, else booleans,
    else text), from its distinct values. Made by :func:`~torchlogit.data.streaming.open_source`,
    whose keywords are the ``options``.
    """

    format_name = "CSV"

    def _columns(self) -> list[str]:
        self._headers: list[CSVHeader] = [read_csv_header(path) for path in self.files]
        # bytes per row: the most of any file's first rows (see _block_size)
        self._row_bytes = max(header.row_bytes for header in self._headers)
        self._block_sizes: dict[Path, int] = {}  # each file's, found when it is first read
        return list(self._headers[0].names)

    def _check_feature_columns(self) -> None:
        needed = [*self.feature_names, *(c for c in (self.target, self.weight) if c)]
        for path, header in zip(self.files, self._headers, strict=True):
            names = set(header.names)
            missing = [c for c in needed if c not in names]
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
        if self._classes is not None and self._classes.dtype.kind in "iuf":
            return pc.utf8_trim(column, characters=" \t")  # as pyarrow's number parser reads them
        return column

    def _parse_labels(self, values: list) -> np.ndarray:
        """Type the distinct label texts as pyarrow's CSV inference types the in-memory reader's
        column: integers, else floats (blanks around a number ignored), else booleans, where a
        missing-value marker (``NA``, ``nan``…) is a missing label; else text, markers included."""
        markers = [v for v in values if v in CSV_NULLS]
        typed = typed_labels([v for v in values if v not in CSV_NULLS])
        if typed is None:
            return np.unique(np.asarray(values, dtype=str))
        if markers:
            raise self._missing_label(markers)
        return typed

    def _missing_label(self, markers: list[str]) -> ValueError:
        """Where this shard's first label among ``markers`` is (every shard raises: all have the
        same union of labels)."""
        pa, pc = arrow()
        value_set = pa.array(markers, type=pa.string())
        for batch, path, where in self._batches([self.target], self.shard()):
            found = pc.is_in(batch.column(self.target), value_set=value_set)
            if pc.any(found).as_py():
                row = int(pc.index(found, True).as_py())
                return ValueError(f"{quoted(path)}: target {self.target!r} has a missing value "
                                  f"({batch.column(self.target)[row].as_py()!r}) at {where(row)}")
        return ValueError(f"target {self.target!r} has a missing value ({markers[0]!r}) in another shard")

    def _block_size(self, path: Path) -> int:
        """About ``chunk_rows`` rows of text per block, and room for the file's longest line."""
        if path not in self._block_sizes:
            estimate = int(min(max(self.chunk_rows * self._row_bytes * 1.05, 1 << 16), 1 << 26))
            self._block_sizes[path] = csv_block_size(path, estimate)
        return self._block_sizes[path]

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

        header = self._headers[self.files.index(path)]
        features = set(self.feature_names)
        types = {c: pa.float64() for c in columns if c not in features and c != self.target}  # the weight
        types.update(header.feature_types(c for c in columns if c in features))
        if self.target in columns:
            types[self.target] = pa.string()
        with contextlib.ExitStack() as stack:
            source = path if lines is None else stack.enter_context(lines.open())
            try:
                reader = stack.enter_context(csv.open_csv(
                    source, read_options=header.read_options(self._block_size(path)),
                    convert_options=csv.ConvertOptions(column_types=types, include_columns=columns,
                                                       null_values=list(CSV_NULLS),
                                                       strings_can_be_null=False),
                ))
            except (pa.ArrowException, OSError) as exc:
                raise self._conversion_error(header, exc) from None
            yield from csv_reader_batches(reader, lambda exc: self._conversion_error(header, exc))

    def _conversion_error(self, header: CSVHeader, exc: BaseException) -> ValueError:
        return header.error(exc, target=self.target, what="features and weights")


class _LineRange:
    """Rank ``part`` of ``parts``'s share of a CSV file's data lines: the header, then the lines
    starting in that part's slice of the bytes (pyarrow parses values without line breaks, so a
    line break always ends a row)."""

    def __init__(self, path: Path, part: int, parts: int):
        self.path = path
        size = path.stat().st_size
        with open(path, "rb") as handle:
            read_first_line(handle)  # the header ends where pyarrow ends it (also at a lone "\r")
            body = handle.tell()
            handle.seek(0)
            self.header = handle.read(body)

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
