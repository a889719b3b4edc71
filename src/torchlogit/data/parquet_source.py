"""Parquet files streamed one row group at a time: :class:`ParquetSource`."""

from __future__ import annotations

import numpy as np

from torchlogit.data._arrow import (
    arrow,
    check_unique_columns,
    is_numeric,
    open_parquet,
    parquet_batches,
    quoted,
)
from torchlogit.data._filesource import Location, _FileSource

# bytes of decoded columns per pyarrow read (at 8 bytes a value)
_READ_BYTES = 1 << 26


class ParquetSource(_FileSource):
    """Parquet files, read one row group at a time in batches of at most ``chunk_rows`` rows.

    Made by :func:`~torchlogit.data.streaming.open_source`, whose keywords are the ``options``.
    Every file's schema is checked when the source is made
    (footers only): each must hold the feature, target and weight columns, with numeric features
    and one kind of target (numbers, text or booleans) throughout.
    """

    format_name = "Parquet"

    def _columns(self) -> list[str]:
        self._schemas = []
        self._units: list[tuple[int, int, int, int]] = []  # (file, row group, rows, first row in file)
        for index, path in enumerate(self.files):
            with open_parquet(path) as handle:  # one footer read gives the row groups and the schema
                meta, schema = handle.metadata, handle.schema_arrow
            check_unique_columns(path, schema.names)
            self._schemas.append(schema)
            first = 0
            for group in range(meta.num_row_groups):
                rows = meta.row_group(group).num_rows
                self._units.append((index, group, rows, first))
                first += rows
        return list(self._schemas[0].names)

    def _check_feature_columns(self) -> None:
        types = [dict(zip(schema.names, schema.types, strict=True)) for schema in self._schemas]
        for name in [*self.feature_names, *([self.weight] if self.weight else [])]:
            first = None
            for path, kinds in zip(self.files, types, strict=True):
                kind = kinds.get(name)
                if kind is None:
                    raise ValueError(f"{quoted(path)} has no column {name!r} (it is in "
                                     f"{quoted(self.files[0])})")
                if not is_numeric(kind):
                    where = "" if first is None else f", but {first[1]} in {quoted(first[0])}"
                    raise ValueError(f"{quoted(path)}: column {name!r} is not numeric ({kind}{where}); "
                                     "features and weights must be numbers")
                first = first or (path, kind)

    def _target_type(self):
        if self.target is None:
            return None
        pa, _ = arrow()
        kinds = []
        for path, schema in zip(self.files, self._schemas, strict=True):
            if self.target not in schema.names:
                raise ValueError(f"{quoted(path)} has no target column {self.target!r}")
            kind = schema.field(self.target).type
            if pa.types.is_dictionary(kind):
                kind = kind.value_type
            family = ("number" if pa.types.is_integer(kind) or pa.types.is_floating(kind)
                      else "text" if pa.types.is_string(kind) or pa.types.is_large_string(kind)
                      else "boolean" if pa.types.is_boolean(kind) else None)
            if family is None:
                raise ValueError(f"{quoted(path)}: target {self.target!r} has type {kind}; labels must be "
                                 "numbers, text or booleans")
            if kinds and family != kinds[0][1]:
                raise ValueError(f"{quoted(path)}: target {self.target!r} holds {family} values, but "
                                 f"{kinds[0][1]} values in {quoted(kinds[0][0])}")
            kinds.append((path, family))
        return kinds[0][1]

    def _parse_labels(self, values: list) -> np.ndarray:
        if self._label_type == "text":
            return np.unique(np.asarray(values, dtype=str))
        return super()._parse_labels(values)

    def shard_units(self) -> list[tuple[int, int, int, int]]:
        """This rank's row groups ``(file index, row group, rows, first row in file)``."""
        return self._shard_units(*self.shard())

    def _shard_units(self, rank: int, world: int) -> list[tuple[int, int, int, int]]:
        if world == 1:
            return list(self._units)
        total = sum(u[2] for u in self._units)
        mine, start = [], 0
        for unit in self._units:  # a contiguous run of row groups holding about total/world rows
            middle = start + unit[2] / 2
            if min(world - 1, int(middle * world // max(total, 1))) == rank:
                mine.append(unit)
            start += unit[2]
        return mine

    def _read_rows(self, n_columns: int) -> int:
        # pyarrow decodes large batches with less CPU per row than small ones; they are sliced
        # into chunks, so chunk sizes stay as asked
        return max(self.chunk_rows, _READ_BYTES // (8 * n_columns))

    def _chunks_per_read(self, n_columns: int) -> int:
        return -(-self._read_rows(n_columns) // self.chunk_rows)

    def _count(self) -> tuple[int, float]:
        if self.weight:
            return super()._count()
        rows = sum(unit[2] for unit in self.shard_units())  # from the footers: no data read
        return rows, float(rows)

    def _batches(self, columns: list[str], shard: tuple[int, int]):
        units = self._shard_units(*shard)
        read_rows = self._read_rows(len(columns))
        handle, current = None, None
        try:
            for index, group, _, first in units:
                path = self.files[index]
                if index != current:
                    if handle is not None:
                        handle.close()
                    handle, current = open_parquet(path, memory_map=self.memory_map), index
                done = 0
                for batch in parquet_batches(handle, path, columns, read_rows, [group]):
                    for start in range(0, batch.num_rows, self.chunk_rows):
                        yield (batch.slice(start, self.chunk_rows), path,
                               _parquet_location(group, first + done + start))
                    done += batch.num_rows
        finally:
            if handle is not None:
                handle.close()


def _parquet_location(group: int, first_row: int) -> Location:
    """Error locations for a batch of row group ``group`` starting at row ``first_row + 1`` of the file."""
    return lambda row: f"row group {group}, row {first_row + row + 1} of the file"
