"""Files a hostile or careless user hands the loaders: each is read right or refused with one clear line.

Every case goes through all the loaders that can meet it: the whole-table readers (``read_csv``,
``read_parquet``), prediction's block reader (``iter_feature_batches``) and the streamed sources
(``open_source(...).chunks()``), so a file one of them accepts is read the same by the others.
"""

import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from torchlogit.data.streaming import open_source
from torchlogit.data.tabular import csv_column_names, iter_feature_batches, read_csv, read_parquet, read_table


def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def _streamed(path, **options):
    """Features and label indices of every chunk of a streamed source over ``path``."""
    source = open_source(path, **options)
    chunks = list(source.chunks())
    X = np.concatenate([X.numpy() for X, _, _ in chunks])
    return X, np.concatenate([y.numpy() for _, y, _ in chunks]), source


def _blocks(path, features=None):
    return np.concatenate(list(iter_feature_batches(path, features)))


# --------------------------------------------------------------------------- duplicate columns
DUPLICATES = {  # header, the duplicated name, the feature columns a model would ask for
    "feature twice": ("x1,x1,x2,y", "x1", ["x1", "x2"]),
    "target twice": ("x1,y,y", "y", ["x1"]),
    "feature twice at predict": ("x1,x2,x3,x1", "x1", ["x1", "x2", "x3"]),
}


def _loaders(path, features):
    """Every way a file is read: (name, call)."""
    return [
        ("read_table", lambda: read_table(path, target="y")),
        ("read_table with features", lambda: read_table(path, features=features)),
        ("iter_feature_batches", lambda: _blocks(path, features)),
        ("iter_feature_batches, every column", lambda: _blocks(path)),
        ("open_source with target", lambda: _streamed(path, target="y")),
        ("open_source for prediction", lambda: _streamed(path, features=features)),
    ]


@pytest.mark.parametrize("case", list(DUPLICATES))
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_duplicate_column_names_are_refused_by_every_loader(tmp_path, case, fmt):
    header, twice, features = DUPLICATES[case]
    names = header.split(",")
    path = tmp_path / f"dup.{fmt}"
    if fmt == "csv":
        _write(path, header + "\n" + "\n".join(",".join(str((r + c) % 2) for c in range(len(names)))
                                               for r in range(4)) + "\n")
    else:
        columns = [pa.array([float((r + c) % 2) for r in range(4)]) for c in range(len(names))]
        pq.write_table(pa.Table.from_arrays(columns, names=names), path)
    for name, load in _loaders(path, features):
        with pytest.raises(ValueError, match=rf"dup\.{fmt}' has the column '{twice}' more than once"):
            load()
            pytest.fail(f"{name} read a file with two columns {twice!r}")


def test_a_feature_list_naming_a_column_twice_is_refused(tmp_path):
    path = _write(tmp_path / "ok.csv", "x1,x2,y\n1,2,0\n3,4,1\n")
    for load in (lambda: read_csv(path, target="y", features=["x1", "x1"]),
                 lambda: _blocks(path, ["x1", "x1"]),
                 lambda: _streamed(path, target="y", features=["x1", "x1"])):
        with pytest.raises(ValueError, match="the feature column 'x1' is named twice"):
            load()


# --------------------------------------------------------------------------------- UTF-8 BOM
@pytest.mark.parametrize("header", ["x1,x2,y", "y,x1,x2"])
def test_a_byte_order_mark_is_stripped_by_every_csv_loader(tmp_path, header):
    rows = ["1,2,0", "3,5,1", "4,4,0", "6,1,1"]
    plain = _write(tmp_path / "plain.csv", "\n".join([header, *rows]) + "\n")
    bom = _write(tmp_path / "bom.csv", "\n".join([header, *rows]) + "\n", encoding="utf-8-sig")
    assert bom.read_bytes().startswith(b"\xef\xbb\xbf")
    expected = read_csv(plain, target="y")
    table = read_csv(bom, target="y")
    assert table.feature_names == expected.feature_names == ["x1", "x2"]
    np.testing.assert_array_equal(table.X, expected.X)
    np.testing.assert_array_equal(table.y, expected.y)
    X, y, source = _streamed(bom, target="y")
    assert source.feature_names == ["x1", "x2"]
    np.testing.assert_array_equal(X, expected.X)
    np.testing.assert_array_equal(source.classes[y], expected.y)
    np.testing.assert_array_equal(_blocks(bom, ["x1", "x2"]), expected.X)
    every = _blocks(bom)  # every column, named from the header: the BOM is not part of the first name
    np.testing.assert_array_equal(every, _blocks(plain))
    assert csv_column_names(bom) == header.split(",")


@pytest.mark.parametrize("end", ["\r", "\n", "\r\n"])
def test_shards_of_one_csv_file_hold_each_row_once_whatever_its_line_ends(tmp_path, end):
    path = tmp_path / "ends.csv"
    path.write_bytes(end.join(["x,y", *(f"{i},{i % 2}" for i in range(40))]).encode() + end.encode())
    shards = [open_source(path, target="y", classes=[0, 1], rank=rank, world_size=3) for rank in range(3)]
    values = np.concatenate([X.numpy()[:, 0] for source in shards for X, _, _ in source.chunks()])
    np.testing.assert_array_equal(np.sort(values), np.arange(40))  # lines end at "\r" too: none twice


def test_a_shard_without_rows_cannot_find_the_classes_alone(tmp_path):
    path = _write(tmp_path / "two.csv", "x,y\n1,0\n")
    with pytest.raises(ValueError, match=r"shard 1 of 2 holds no rows of .*two\.csv', so it cannot find the "
                                         r"classes; pass classes="):
        open_source(path, target="y", rank=1, world_size=2).discover_classes()


# ---------------------------------------------------------------------------- no data rows
def _empty_parquet(path):
    pq.write_table(pa.table({"x": pa.array([], pa.float64()), "y": pa.array([], pa.int64())}), path)
    return path


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_file_without_data_rows_is_refused_where_its_rows_are_read(tmp_path, fmt):
    path = (_write(tmp_path / "none.csv", "x,y\n") if fmt == "csv"
            else _empty_parquet(tmp_path / "none.parquet"))
    message = rf"none\.{fmt}' has no data rows"
    with pytest.raises(ValueError, match=message):
        read_table(path, target="y")
    with pytest.raises(ValueError, match=message):
        _blocks(path, ["x"])
    source = open_source(path, target="y")
    with pytest.raises(ValueError, match=message):
        source.discover_classes()  # where the CLI's one-class message took classes[0] (IndexError)
    with pytest.raises(ValueError, match=message):
        list(open_source(path, target="y").chunks())
    with pytest.raises(ValueError, match=message):
        list(open_source(path, features=["x"]).feature_blocks())


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_files_without_rows_are_fine_next_to_files_with_rows(tmp_path, fmt):
    if fmt == "csv":
        empty = _write(tmp_path / "a.csv", "x,y\n")
        full = _write(tmp_path / "b.csv", "x,y\n1,0\n2,1\n")
        second = _write(tmp_path / "c.csv", "x,y\n")
    else:
        empty, second = _empty_parquet(tmp_path / "a.parquet"), _empty_parquet(tmp_path / "c.parquet")
        full = tmp_path / "b.parquet"
        pq.write_table(pa.table({"x": [1.0, 2.0], "y": [0, 1]}), full)
    X, y, _ = _streamed([empty, full], target="y")
    np.testing.assert_array_equal(X[:, 0], [1.0, 2.0])
    np.testing.assert_array_equal(y, [0, 1])
    with pytest.raises(ValueError, match=r"the 2 files .*a\.\w+'.* hold no data rows"):
        open_source([empty, second], target="y").discover_classes()


# -------------------------------------------------------------------------------- long lines
def test_lines_longer_than_a_block_are_read_by_every_csv_loader(tmp_path):
    notes = "n" * (3 << 20)  # a 3 MiB text cell: longer than pyarrow's default 1 MiB block
    rows = [f"{i},{i % 2},{notes if i == 5 else 'short'}" for i in range(12)]
    path = _write(tmp_path / "long.csv", "\n".join(["x,y,notes", *rows]) + "\n")
    expected = np.arange(12.0)[:, None]
    np.testing.assert_array_equal(read_csv(path, target="y", features=["x"]).X, expected)
    np.testing.assert_array_equal(_blocks(path, ["x"]), expected)
    X, y, _ = _streamed(path, target="y", features=["x"], chunk_rows=2)
    np.testing.assert_array_equal(X, expected)
    np.testing.assert_array_equal(y, np.arange(12) % 2)


def test_a_header_longer_than_a_block_is_read(tmp_path):
    names = [f"f{j}_" + "n" * 60_000 for j in range(20)]  # about 1.2 MiB of header
    path = _write(tmp_path / "wide.csv", ",".join([*names, "y"]) + "\n"
                  + "\n".join(",".join([str(r)] * 20 + [str(r % 2)]) for r in range(3)) + "\n")
    assert len(path.read_bytes().split(b"\n")[0]) > 1 << 20
    expected = np.repeat(np.arange(3.0)[:, None], 20, axis=1)
    table = read_csv(path, target="y")
    assert table.feature_names == names
    np.testing.assert_array_equal(table.X, expected)
    np.testing.assert_array_equal(_blocks(path, names), expected)
    np.testing.assert_array_equal(_streamed(path, target="y")[0], expected)


# ---------------------------------------------------------------------------------- booleans
BOOLEAN_CSV = "x,flag,y\n1.5,true,0\n2.0,false,1\n-1.0,True,1\n0.5,FALSE,0\n3.0,,1\n"


def test_a_true_false_column_is_a_zero_one_feature_for_every_loader(tmp_path):
    text = BOOLEAN_CSV.replace("3.0,,1", "3.0,1,1")  # 1 and 0 are booleans too in such a column
    csv_path = _write(tmp_path / "flags.csv", text)
    parquet_path = tmp_path / "flags.parquet"
    pq.write_table(pa.table({"x": [1.5, 2.0, -1.0, 0.5, 3.0], "flag": [True, False, True, False, True],
                             "y": [0, 1, 1, 0, 1]}), parquet_path)
    expected = np.array([[1.5, 1], [2.0, 0], [-1.0, 1], [0.5, 0], [3.0, 1]])
    for path in (csv_path, parquet_path):
        table = read_table(path, target="y")
        assert table.feature_names == ["x", "flag"]
        np.testing.assert_array_equal(table.X, expected)
        np.testing.assert_array_equal(_blocks(path, ["x", "flag"]), expected)
        X, y, _ = _streamed(path, target="y")
        np.testing.assert_array_equal(X, expected)
        np.testing.assert_array_equal(y, [0, 1, 1, 0, 1])


def test_a_missing_boolean_is_a_missing_value(tmp_path):
    path = _write(tmp_path / "gap.csv", BOOLEAN_CSV)
    message = r"gap\.csv': column 'flag' has a missing value at data row 5"
    for load in (lambda: read_csv(path, target="y"), lambda: _blocks(path, ["x", "flag"]),
                 lambda: _streamed(path, target="y")):
        with pytest.raises(ValueError, match=message):
            load()


def test_a_boolean_column_with_other_values_later_names_the_row(tmp_path):
    rows = [f"{i},{'true' if i % 2 else 'false'},{i % 2}" for i in range(100_000)]
    rows[90_000] = "7,maybe,0"  # beyond the first rows, where the column was found boolean
    path = _write(tmp_path / "later.csv", "\n".join(["x,flag,y", *rows]) + "\n")
    message = r"later\.csv': column 'flag' is not numeric at data row 90001 \(invalid value 'maybe'"
    for load in (lambda: read_csv(path, target="y"), lambda: _blocks(path, ["x", "flag"]),
                 lambda: _streamed(path, target="y")):
        with pytest.raises(ValueError, match=message):
            load()


# ------------------------------------------------------------------------------------ labels
@pytest.mark.parametrize(("labels", "classes"), [
    (["1", " 2", "1 "], [1, 2]),  # blanks around a number, as pyarrow's number parser ignores them
    (["1.50", "1.5", "2"], [1.5, 2.0]),
    (["true", "false", "1"], [False, True]),
    (["ant", "NA", "bee"], ["NA", "ant", "bee"]),  # among text, "NA" is a label
])
def test_labels_are_typed_alike_in_memory_and_streamed(tmp_path, labels, classes):
    path = _write(tmp_path / "labels.csv", "x,y\n" + "".join(f"{i},{v}\n" for i, v in enumerate(labels)))
    y = read_csv(path, target="y").y
    _, index, source = _streamed(path, target="y")
    assert source.classes.tolist() == classes
    assert sorted(set(y.tolist())) == classes
    np.testing.assert_array_equal(source.classes[index], y)


@pytest.mark.parametrize("labels", [["1", "NA", "2"], ["1", "nan", "2"], ["ant", '""', "bee"]])
def test_a_missing_label_is_refused_in_memory_and_streamed(tmp_path, labels):
    path = _write(tmp_path / "gap.csv", "x,y\n" + "".join(f"{i},{v}\n" for i, v in enumerate(labels)))
    message = r"gap\.csv': target 'y' has a missing value .*at data row 2"
    with pytest.raises(ValueError, match=message):
        read_csv(path, target="y")
    with pytest.raises(ValueError, match=message):
        open_source(path, target="y").discover_classes()


# ---------------------------------------------------------------------------------- encodings
def test_a_latin1_target_names_the_file_and_says_it_is_not_utf8(tmp_path):
    path = _write(tmp_path / "latin.csv", "x,y\n1,café\n2,thé\n3,café\n", encoding="latin-1")
    message = r"latin\.csv': target 'y' is not UTF-8 text at data row 1"
    with pytest.raises(ValueError, match=message):
        read_csv(path, target="y")
    with pytest.raises(ValueError, match=message):
        open_source(path, target="y").discover_classes()


def test_a_latin1_feature_or_header_names_the_file_and_says_it_is_not_utf8(tmp_path):
    path = _write(tmp_path / "value.csv", "x,z,y\n1,2,0\n2,café,1\n", encoding="latin-1")
    message = r"value\.csv': column 'z' is not numeric at data row 2 \(.*not UTF-8"
    for load in (lambda: read_csv(path, target="y"), lambda: _blocks(path, ["x", "z"]),
                 lambda: _streamed(path, target="y")):
        with pytest.raises(ValueError, match=message):
            load()
    header = _write(tmp_path / "header.csv", "x,prix_é,y\n1,2,0\n2,3,1\n", encoding="latin-1")
    message = r"header\.csv': the header row is not UTF-8 text \(byte 0xe9 at position 7\)"
    for load in (lambda: read_csv(header, target="y"), lambda: _blocks(header),
                 lambda: _streamed(header, target="y")):
        with pytest.raises(ValueError, match=message):
            load()


def test_latin1_text_in_a_column_nobody_reads_is_ignored(tmp_path):
    path = _write(tmp_path / "notes.csv", "x,y,note\n1,0,café\n2,1,thé\n", encoding="latin-1")
    np.testing.assert_array_equal(read_csv(path, target="y", features=["x"]).X[:, 0], [1, 2])
    np.testing.assert_array_equal(_blocks(path, ["x"])[:, 0], [1, 2])
    np.testing.assert_array_equal(_streamed(path, target="y", features=["x"])[0][:, 0], [1, 2])


def _patched_parquet(path, table, old, new):
    """``table`` written plainly (no compression, dictionary or statistics), then ``old`` -> ``new``."""
    pq.write_table(table, path, compression="none", use_dictionary=False, write_statistics=False)
    data = path.read_bytes()
    assert old in data
    return _write(path, data.replace(old, new))


def test_parquet_text_that_is_not_utf8_names_the_file(tmp_path):
    table = pa.table({"x": [1.0, 2.0, 3.0], "y": ["qqqq", "r", "s"]})
    path = _patched_parquet(tmp_path / "labels.parquet", table, b"qqqq", b"\xb0qqq")  # writers need not check
    message = r"labels\.parquet': target 'y' is not UTF-8 text at "
    with pytest.raises(ValueError, match=message + "data row 1"):
        read_parquet(path, target="y")
    with pytest.raises(ValueError, match=message + "row group 0, row 1 of the file"):
        _streamed(path, target="y")
    np.testing.assert_array_equal(_blocks(path, ["x"])[:, 0], [1, 2, 3])  # the labels are not read
    names = _patched_parquet(tmp_path / "names.parquet", pa.table({"x": [1.0], "zzzz": [2.0], "y": [0]}),
                             b"zzzz", b"\xb0zzz")
    message = r"names\.parquet' could not be read as Parquet .*: its column names are not UTF-8 text"
    for load in (lambda: read_parquet(names, target="y"), lambda: _blocks(names, ["x"]),
                 lambda: _streamed(names, target="y")):
        with pytest.raises(ValueError, match=message):
            load()


# ----------------------------------------------------------------------------- corrupt Parquet
def test_a_corrupt_parquet_page_names_the_file_and_row_group(tmp_path):
    good = tmp_path / "good.parquet"
    rng = np.random.default_rng(0)
    table = pa.table({"x": rng.normal(size=4000), "y": np.arange(4000) % 2})
    pq.write_table(table, good, row_group_size=1000)
    page = pq.read_metadata(good).row_group(2).column(0).data_page_offset
    data = bytearray(good.read_bytes())
    data[page:page + 16] = b"\xff" * 16  # row group 2's first page header: "Couldn't deserialize thrift"
    bad = _write(tmp_path / "bad.parquet", bytes(data))
    message = r"bad\.parquet': row group 2 could not be read"
    for load in (lambda: read_parquet(bad, target="y"), lambda: _blocks(bad, ["x"]),
                 lambda: _streamed(bad, target="y")):
        with pytest.raises(ValueError, match=message):
            load()


# ---------------------------------------------------------------------------- wide files
WIDE = 100_000
SECONDS = 30.0  # a hang guard, not a benchmark: linear handling takes a few seconds


@pytest.fixture(scope="module")
def wide_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wide")
    names = [f"c{j}" for j in range(WIDE)]
    values = np.arange(3 * WIDE, dtype=np.float64).reshape(3, WIDE) / 7
    csv_path = folder / "wide.csv"
    lines = [",".join([*names, "y"])] + [",".join([*map(repr, row.tolist()), str(r % 2)])
                                         for r, row in enumerate(values)]
    csv_path.write_text("\n".join(lines) + "\n")
    parquet_path = folder / "wide.parquet"
    table = pa.Table.from_arrays([*(pa.array(values[:, j]) for j in range(WIDE)), pa.array([0, 1, 0])],
                                 names=[*names, "y"])
    pq.write_table(table, parquet_path, compression="none", use_dictionary=False, write_statistics=False)
    return {"csv": csv_path, "parquet": parquet_path, "X": values}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_file_of_100000_columns_opens_and_reads_in_bounded_time(wide_files, fmt):
    path = wide_files[fmt]
    started = time.perf_counter()
    source = open_source(path, target="y")
    assert source.n_features == WIDE
    opened = time.perf_counter() - started
    assert opened < SECONDS, f"opening {WIDE} columns took {opened:.1f} s"
    started = time.perf_counter()
    table = read_table(path, target="y")
    np.testing.assert_array_equal(table.X, wide_files["X"])
    read = time.perf_counter() - started
    assert read < SECONDS, f"reading {WIDE} columns took {read:.1f} s"
