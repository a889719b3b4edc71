"""CSV files streamed with pyarrow's streaming reader: :class:`CSVSource`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from torchlogit.data._filesource import (
    Location,
    _arrow,
    _csv_location,
    _FileSource,
    _first_line,
    _first_non_number,
    _name,
)


class CSVSource(_FileSource):
    """CSV files (header row, comma-separated) read with pyarrow's streaming CSV reader.

    Feature and weight columns are parsed as numbers from the first block on; the target is read
    as text and typed like the in-memory reader types it (integers, else floats, else booleans,
    else text), from its distinct values. Parameters as :func:`open_source`.
    """

    format_name = "CSV"
    _NULLS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
              "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null")

    def _columns(self) -> list[str]:
        import csv as text_csv

        self._headers = []
        for path in self.files:
            with open(path, newline="", encoding="utf-8", errors="replace") as handle:
                header = next(text_csv.reader(handle), [])
                sample = handle.read(1 << 16)
            if not header:
                raise ValueError(f"{_name(path)} has no header row")
            self._headers.append(header)
            lines = max(sample.count("\n"), 1)
            self._row_bytes = max(getattr(self, "_row_bytes", 0), len(sample.encode()) / lines)
        return list(self._headers[0])

    def _check_feature_columns(self) -> None:
        needed = [*self.feature_names, *(c for c in (self.target, self.weight) if c)]
        for path, header in zip(self.files, self._headers, strict=True):
            missing = [c for c in needed if c not in header]
            if missing:
                raise ValueError(f"{_name(path)} lacks the columns {missing}")

    def _target_type(self):
        return None

    def _checked_labels(self, column, path: Path, where: Location):
        _, pc = _arrow()
        empty = pc.equal(column, "")
        if pc.any(empty).as_py():
            row = int(pc.index(empty, True).as_py())
            raise ValueError(f"{_name(path)}: target {self.target!r} has a missing value at {where(row)}")
        return column

    def _parse_labels(self, values: list) -> np.ndarray:
        """Type the distinct label texts as pyarrow's CSV inference would: int, float, bool, text."""
        pa, _ = _arrow()
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
        by_file = len(self.files) >= world
        if by_file:
            sizes = np.cumsum([p.stat().st_size for p in self.files])
            owner = np.minimum((sizes - np.diff(sizes, prepend=0) / 2) * world // sizes[-1], world - 1)
            files = [p for p, o in zip(self.files, owner, strict=True) if o == rank]
        else:
            files = self.files
        counter = 0
        for path in files:
            first = 0
            for batch in self._read(path, columns):
                for start in range(0, batch.num_rows, self.chunk_rows):
                    if by_file or counter % world == rank:
                        yield batch.slice(start, self.chunk_rows), path, _csv_location(first + start)
                    counter += 1
                first += batch.num_rows

    def _read(self, path: Path, columns: list[str]):
        pa, _ = _arrow()
        from pyarrow import csv

        numeric = [c for c in columns if c != self.target]
        types = dict.fromkeys(numeric, pa.float64())
        if self.target in columns:
            types[self.target] = pa.string()
        try:
            reader = csv.open_csv(
                path, read_options=csv.ReadOptions(block_size=self._block_size()),
                convert_options=csv.ConvertOptions(column_types=types, include_columns=columns,
                                                   null_values=list(self._NULLS),
                                                   strings_can_be_null=False),
            )
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise self._conversion_error(path, exc) from None
        with reader:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                    raise self._conversion_error(path, exc) from None
                yield batch

    def _conversion_error(self, path: Path, exc: BaseException) -> ValueError:
        import re

        headers = self._headers[self.files.index(path)]
        found = re.search(r"column #(\d+): CSV conversion error to double: (.*)", str(exc))
        if found and int(found.group(1)) < len(headers):
            name = headers[int(found.group(1))]
            row = _first_non_number(path, int(found.group(1)), self._NULLS)
            at = "" if row is None else f" at data row {row + 1}"
            return ValueError(f"{_name(path)}: column {name!r} is not numeric{at} "
                              f"({_first_line(found.group(2))}); features and weights must be numbers")
        return ValueError(f"{_name(path)} could not be read as CSV: {_first_line(exc)}")
