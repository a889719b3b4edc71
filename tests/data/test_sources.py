"""The capabilities every source declares (data/base.py), tested on each source directly."""

import numpy as np
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp
import torch
from support.streaming_data import make_table, write_csv_file, write_parquet_files
from support.synthetic import make_classification_data

from torchlogit._validation import dense_rows_per_chunk
from torchlogit.data import DataSource, InMemorySource, SparseRowsSource, as_data_source
from torchlogit.data.memory import CACHE_CHUNK_VALUES
from torchlogit.data.streaming import open_source
from torchlogit.data.tabular import read_csv, read_parquet

COLUMNS = np.array([0, 2, 3])


def _in_memory(chunk_rows=17, dtype=torch.float64):
    X, y, sw = make_classification_data(n=103, d=5, n_classes=3, seed=1, weights=True)
    return InMemorySource(torch.from_numpy(X).to(dtype), torch.from_numpy(y),
                          torch.from_numpy(sw).to(dtype), chunk_rows=chunk_rows)


def _sparse(chunk_rows=13):
    X, y, sw = make_classification_data(n=97, d=5, seed=2, weights=True)
    X[np.abs(X) < 0.8] = 0.0  # about half the entries
    return SparseRowsSource(sp.csr_matrix(X), y, sw, chunk_rows=chunk_rows, dtype=torch.float64,
                            device=torch.device("cpu")), X, y, sw


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sources")
    table, _, labels, sw = make_table(n=301, seed=4)
    parquet = write_parquet_files(folder / "pq", table, splits=(0.4,), row_group_size=50)
    csv = [write_csv_file(folder / "a.csv", table.slice(0, 120)),
           write_csv_file(folder / "b.csv", table.slice(120))]
    return {"parquet": parquet, "csv": csv, "rows": len(labels), "weight_sum": float(sw.sum())}


# ------------------------------------------------------------------------------- select_columns
def test_in_memory_select_columns_serves_the_sliced_columns_in_the_same_chunks():
    source = _in_memory()
    selected = source.select_columns(COLUMNS)
    assert selected.n_features == len(COLUMNS)
    original = list(source.chunks())
    narrow = list(selected.chunks())
    assert len(narrow) == len(original) == 7  # 103 rows in chunks of 17
    for (X, y, w), (Xs, ys, ws) in zip(original, narrow, strict=True):
        assert torch.equal(Xs, X[:, COLUMNS]) and torch.equal(ys, y) and torch.equal(ws, w)


def test_in_memory_selections_extend_a_previous_one_and_keep_every_earlier_copy_intact():
    n, d = 5_000, 40
    X = torch.from_numpy(np.random.default_rng(3).standard_normal((n, d)))
    source = InMemorySource(X, torch.zeros(n, dtype=torch.int64), torch.ones(n, dtype=torch.float64),
                            cache_sized=True)
    first = source.select_columns(np.array([7, 3]))
    grown = source.select_columns(np.array([7, 3, 30, 1, 12, 0]), first)  # past the first buffer
    again = source.select_columns(np.array([7, 3, 30, 1, 12, 0, 39]), grown)
    branch = source.select_columns(np.array([7, 3, 5]), first)  # not the latest: copied afresh
    for selected, columns in [(first, [7, 3]), (grown, [7, 3, 30, 1, 12, 0]),
                              (again, [7, 3, 30, 1, 12, 0, 39]), (branch, [7, 3, 5])]:
        assert torch.equal(torch.cat([chunk[0] for chunk in selected.chunks()]), X[:, columns])
    assert again.X.stride(0) == 1  # held column by column: a block's columns are contiguous rows
    # a selection from a column-major X, and one whose previous came from another source
    by_column = InMemorySource(X.T.contiguous().T, source.y, source.sample_weight)
    other = by_column.select_columns(np.array([7, 3, 2]), first)
    assert torch.equal(other.X, X[:, [7, 3, 2]])


def test_cache_sized_sources_chunk_by_values_and_resize_for_selected_columns():
    n, d = 40_000, 64
    X = torch.zeros(n, d, dtype=torch.float64)
    source = InMemorySource(X, torch.zeros(n, dtype=torch.int64), torch.ones(n, dtype=torch.float64),
                            chunk_rows=5, cache_sized=True)
    rows = CACHE_CHUNK_VALUES // d  # chunk_rows is ignored
    assert [chunk[0].shape[0] for chunk in source.chunks()] == [rows] * (n // rows) + [n % rows]
    narrow = source.select_columns(np.arange(4))  # 4 columns: more rows per chunk, up to every row
    assert [chunk[0].shape for chunk in narrow.chunks()] == [(n, 4)]
    assert source.astype(torch.float32).chunk_rows == rows
    assert torch.equal(torch.cat([chunk[0] for chunk in source.astype(torch.float32).chunks()]),
                       X.to(torch.float32))


def test_cache_sized_sources_serve_one_chunk_on_other_devices():
    X = torch.zeros(40_000, 64, dtype=torch.float64, device="meta")
    source = InMemorySource(X, torch.zeros(40_000, dtype=torch.int64, device="meta"),
                            torch.ones(40_000, dtype=torch.float64, device="meta"), cache_sized=True)
    assert source.chunk_rows is None


def test_sparse_select_columns_serves_the_sliced_columns_of_every_row():
    source, X, y, sw = _sparse()
    selected = source.select_columns(COLUMNS)
    assert selected.n_features == len(COLUMNS)
    start = 0
    for Xs, ys, ws in selected.chunks():
        rows = slice(start, start + len(ys))
        assert len(ys) <= dense_rows_per_chunk(len(COLUMNS))  # chunked for the narrower width
        np.testing.assert_array_equal(Xs.numpy(), X[rows][:, COLUMNS])
        np.testing.assert_array_equal(ys.numpy(), y[rows])
        np.testing.assert_array_equal(ws.numpy(), sw[rows])
        start += len(ys)
    assert start == len(y)


def test_file_sources_cannot_select_columns(files):
    assert open_source(files["parquet"], target="y").select_columns(COLUMNS) is None


# ----------------------------------------------------------------------------------- astype
def test_in_memory_astype_copies_features_and_weights_to_the_dtype():
    source = _in_memory()
    narrow = source.astype(torch.float32)
    for (X, y, w), (X32, y32, w32) in zip(source.chunks(), narrow.chunks(), strict=True):
        assert X32.dtype == w32.dtype == torch.float32 and y32.dtype == torch.int64
        assert torch.equal(X32, X.float()) and torch.equal(w32, w.float()) and torch.equal(y32, y)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_file_source_astype_reads_the_same_rows_in_the_dtype(files, fmt):
    source = open_source(files[fmt], target="y", weight="w", chunk_rows=40)
    narrow = source.astype(torch.float32)
    assert narrow is not source and source.dtype == torch.float64  # the original keeps its dtype
    for (X, y, w), (X32, y32, w32) in zip(source.chunks(), narrow.chunks(), strict=True):
        assert X32.dtype == w32.dtype == torch.float32
        assert torch.equal(X32, X.float()) and torch.equal(w32, w.float()) and torch.equal(y32, y)
    assert source.astype(torch.float16) is None  # not a dtype a file source yields


def test_sparse_rows_and_duck_sources_cannot_change_dtype():
    source, *_ = _sparse()
    assert source.astype(torch.float32) is None
    assert as_data_source(_Duck(_in_memory())).astype(torch.float32) is None


# ------------------------------------------------------------------------------- row_totals
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize("weight", ["w", None])
def test_file_source_row_totals_are_the_rows_and_weights_a_pass_counts(files, fmt, weight):
    source = open_source(files[fmt], target="y", weight=weight, chunk_rows=37)
    totals = source.row_totals()  # before any pass: from footers or one column
    chunks = list(source.chunks())
    counted = (sum(len(y) for _, y, _ in chunks), sum(float(w.sum()) for _, _, w in chunks))
    assert totals == (counted[0], pytest.approx(counted[1], rel=1e-12))
    assert counted[0] == files["rows"]
    expected = files["weight_sum"] if weight else float(files["rows"])
    assert totals[1] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_row_totals_of_the_shards_add_up(files, fmt):
    shards = [open_source(files[fmt], target="y", weight="w", rank=rank, world_size=3) for rank in range(3)]
    totals = [source.row_totals() for source in shards]
    assert [rows for rows, _ in totals] == [sum(len(y) for _, y, _ in s.chunks()) for s in shards]
    assert sum(rows for rows, _ in totals) == files["rows"]
    assert sum(weight for _, weight in totals) == pytest.approx(files["weight_sum"], rel=1e-12)


def test_discovering_the_classes_also_counts_the_rows(files):
    source = open_source(files["csv"], target="y", weight="w")
    source.discover_classes()
    assert source.row_totals() == (files["rows"], pytest.approx(files["weight_sum"], rel=1e-12))


def test_dense_in_memory_sources_count_their_tensors_and_sparse_ones_leave_it_to_a_pass():
    source, *_ = _sparse()
    dense = _in_memory()
    weights = dense.sample_weight.numpy()
    rows, weight_sum = dense.row_totals()
    assert rows == len(weights)
    assert weight_sum == pytest.approx(float(np.sum(weights, dtype=np.float64)), rel=1e-15)
    assert source.row_totals() is None


# ------------------------------------------------------------------ on_chunk, reusing_buffers
def test_every_source_calls_on_chunk_with_each_chunks_rows(files):
    sparse, *_ = _sparse()
    for source in (_in_memory(), sparse, as_data_source(_Duck(_in_memory())),
                   open_source(files["parquet"], target="y", chunk_rows=37)):
        seen = []
        source.on_chunk = seen.append
        sizes = [len(y) for _, y, _ in source.chunks()]
        assert seen == sizes and len(sizes) > 1


def test_reusing_buffers_is_the_source_itself_where_chunks_are_views():
    sparse, *_ = _sparse()
    for source in (_in_memory(), sparse, as_data_source(_Duck(_in_memory()))):
        assert source.reusing_buffers() is source


# ---------------------------------------------------------------------------- as_data_source
class _Duck:
    """A user's source that does not derive from DataSource."""

    def __init__(self, inner):
        self.inner = inner
        self.n_features = inner.n_features
        self.passes = 0

    def chunks(self):
        self.passes += 1
        yield from self.inner.chunks()


def test_a_duck_typed_source_is_wrapped_and_serves_its_own_chunks():
    inner = _in_memory()
    duck = _Duck(inner)
    wrapped = as_data_source(duck)
    assert isinstance(wrapped, DataSource) and wrapped.n_features == inner.n_features
    for (X, y, w), (Xd, yd, wd) in zip(inner.chunks(), wrapped.chunks(), strict=True):
        assert torch.equal(Xd, X) and torch.equal(yd, y) and torch.equal(wd, w)
    assert duck.passes == 1
    assert wrapped.select_columns(COLUMNS) is None  # the defaults: nothing the object cannot do
    assert as_data_source(inner) is inner  # a DataSource is not wrapped


class _NoWidth:
    def chunks(self):
        return iter(())


@pytest.mark.parametrize("bad", [object(), np.zeros((3, 2)), _NoWidth()])
def test_as_data_source_rejects_an_object_without_chunks_or_width(bad):
    with pytest.raises(TypeError, match="a data source needs an integer n_features and a chunks"):
        as_data_source(bad)


# ------------------------------------------------------------------------------ option checks
@pytest.mark.parametrize(("options", "message"), [
    ({"chunk_rows": 0}, "chunk_rows must be a positive integer, got 0"),
    ({"chunk_rows": 2.5}, "chunk_rows must be a positive integer, got 2.5"),
    ({"dtype": torch.float16}, "dtype must be torch.float64 or torch.float32, got torch.float16"),
])
def test_open_source_checks_its_options(files, options, message):
    with pytest.raises(ValueError, match=message):
        open_source(files["parquet"], target="y", **options)


def test_open_source_finds_missing_files_before_bad_options(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        open_source(tmp_path / "missing.parquet", target="y", chunk_rows=0)


# ------------------------------------------------------------------------- whole-file readers
def test_whole_file_readers_name_the_file_they_cannot_read(tmp_path):
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n")
    with pytest.raises(ValueError, match=r"ragged\.csv' could not be read as CSV"):
        read_csv(tmp_path / "ragged.csv")
    (tmp_path / "fake.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(ValueError, match=r"fake\.parquet' could not be read as Parquet"):
        read_parquet(tmp_path / "fake.parquet")
    (tmp_path / "empty.parquet").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.parquet' is empty"):
        read_parquet(tmp_path / "empty.parquet")
    with pytest.raises(FileNotFoundError, match=r"no such file: '.*missing\.csv'"):
        read_csv(tmp_path / "missing.csv")
    table, X, *_ = make_table(n=20)
    pq.write_table(table, tmp_path / "good.parquet")
    np.testing.assert_array_equal(read_parquet(tmp_path / "good.parquet", target="y").X[:, :4], X)
