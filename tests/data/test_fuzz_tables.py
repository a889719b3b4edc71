"""Property-based tests of the CSV and Parquet loaders: whatever the bytes, every loader gives the
table that was written or one documented error naming the file; never another exception, a hang
or a silent misread.

The loaders: the whole-table readers (``read_table``), prediction's block reader
(``iter_feature_batches``) and the streamed sources (``open_source(...)``, its ``chunks()`` and
``feature_blocks()``). Fast by default (a few dozen examples a test, the module in well under 30 s);
``HYPOTHESIS_PROFILE=long`` runs thousands.
"""

import csv
import io
import math
import os
import signal
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import torchlogit._exceptions as package_errors
from torchlogit.data.streaming import open_source
from torchlogit.data.tabular import iter_feature_batches, read_table

settings.register_profile("data-ci", max_examples=25, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("data-long", max_examples=2000, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
PROFILE = settings.get_profile("data-long" if os.environ.get("HYPOTHESIS_PROFILE") == "long" else "data-ci")
# the documented refusals: exactly ValueError or TypeError (not a subclass such as pyarrow's
# ArrowInvalid or UnicodeDecodeError, whose messages name no file), or the package's own errors
PACKAGE_ERRORS = tuple(v for v in vars(package_errors).values()
                       if isinstance(v, type) and issubclass(v, Exception) and not issubclass(v, Warning)
                       and v.__module__ == package_errors.__name__)
SECONDS = 20  # per example: far beyond what a file of a few rows takes; a hang guard


@contextmanager
def _no_hang(seconds=SECONDS):
    def stop(signum, frame):
        raise TimeoutError(f"a loader ran past {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _is_documented(exc, path):
    documented = type(exc) in (ValueError, TypeError) or isinstance(exc, PACKAGE_ERRORS)
    message = str(exc)
    return documented and "\n" not in message and (path.name in message or "named twice" in message)


# ------------------------------------------------------------------------------------- loaders
def _loaders(path, features):
    """Each loader as ``(name, call)``; a call returns ``(X, labels or None, feature names or None)``."""
    def whole():
        table = read_table(path, target="y")
        return table.X, table.y, table.feature_names

    def blocks(features):
        return np.concatenate(list(iter_feature_batches(path, features))), None, None

    def streamed():
        source = open_source(path, target="y", chunk_rows=3)
        chunks = list(source.chunks())
        labels = source.classes[np.concatenate([c[1].numpy() for c in chunks])]
        return np.concatenate([c[0].numpy() for c in chunks]), labels, source.feature_names

    def predicted():
        return np.concatenate(list(open_source(path, features=features).feature_blocks())), None, None

    return [("read_table", whole), ("iter_feature_batches", lambda: blocks(features)),
            ("iter_feature_batches, every column", lambda: blocks(None)),
            ("open_source chunks", streamed), ("open_source feature_blocks", predicted)]


def _outcomes(path, features):
    """What each loader made of ``path``: ``(X, labels)`` or the documented error; anything else fails."""
    results = {}
    for name, load in _loaders(path, features):
        with _no_hang():
            try:
                results[name] = load()
            except Exception as exc:  # judged just below
                assert _is_documented(exc, path), f"{name} raised {type(exc).__name__}: {exc}"
                results[name] = exc
    return results


# ------------------------------------------------------------------------------------ tables
@dataclass
class Written:
    """A table as written: feature names and values, labels, and whether every loader must read it."""

    names: list
    columns: list  # per feature: a list of float / int / bool / None values
    labels: list
    valid: bool
    ending: str = "\n"  # CSV only: the line end, and whether a byte order mark starts the file
    bom: bool = False

    def expected(self):
        return np.array([[np.nan if v is None else float(v) for v in column] for column in self.columns]).T

    def __repr__(self):
        return (f"Written(names={self.names!r}, columns={self.columns!r}, labels={self.labels!r}, "
                f"ending={self.ending!r}, bom={self.bom})")


NAME_CHARACTERS = st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\t\",' ")
# a byte order mark opening the file is no part of a name (every reader strips it)
NAME = st.text(NAME_CHARACTERS, max_size=6).filter(lambda name: not name.startswith("\ufeff"))
FLOATS = (st.floats(allow_nan=False, allow_infinity=False)
          | st.sampled_from([5e-324, -0.0, 1.7976931348623157e308, 1e200]))
# labels of one kind per table (test_hostile_files.py checks blanks, markers and mixed kinds)
LABELS = {"int": st.integers(-3, 3), "bool": st.booleans(),
          "text": st.sampled_from(["ant", "bee", "café", "ß", "b,c", 'q"uote', " lead", "日本"])}
BAD_VALUES = st.sampled_from([None, math.inf, -math.inf, math.nan])


@st.composite
def tables(draw):
    n_rows = draw(st.integers(0, 6))
    n_features = draw(st.integers(1, 4))
    names = draw(st.lists(NAME.filter(lambda s: s != "y"), min_size=n_features, max_size=n_features))
    columns = []
    for _ in range(n_features):
        values = st.sampled_from([FLOATS, st.integers(-(2**63), 2**63 - 1), st.booleans()])
        columns.append(draw(st.lists(draw(values), min_size=n_rows, max_size=n_rows)))
    bad = draw(st.booleans()) and n_rows > 0 and draw(st.integers(0, 3)) == 0
    if bad:
        j, i = draw(st.integers(0, n_features - 1)), draw(st.integers(0, n_rows - 1))
        columns[j][i] = draw(BAD_VALUES)
    labels = draw(st.lists(LABELS[draw(st.sampled_from(list(LABELS)))], min_size=n_rows, max_size=n_rows))
    valid = n_rows > 0 and not bad and len(set(names)) == len(names)
    return Written(names=names, columns=columns, labels=labels, valid=valid,
                   ending=draw(st.sampled_from(["\n", "\r\n", "\r"])), bom=draw(st.booleans()))


def _csv_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def write_csv(table, path):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=table.ending)
    writer.writerow([*table.names, "y"])
    for i, label in enumerate(table.labels):
        writer.writerow([*(_csv_text(column[i]) for column in table.columns), _csv_text(label)])
    path.write_bytes(out.getvalue().encode("utf-8-sig" if table.bom else "utf-8"))


def write_parquet(table, path):
    arrays = []
    for column in table.columns:
        given = [v for v in column if v is not None]
        if given and all(isinstance(v, bool) for v in given):
            arrays.append(pa.array(column, type=pa.bool_()))
        elif given and all(isinstance(v, int) for v in given):
            arrays.append(pa.array(column, type=pa.int64()))
        else:  # floats, or a bad value among integers or booleans
            arrays.append(pa.array([None if v is None else float(v) for v in column], type=pa.float64()))
    labels = pa.array(table.labels, type=None if table.labels else pa.int64())
    pq.write_table(pa.Table.from_arrays([*arrays, labels], names=[*table.names, "y"]), path, row_group_size=4)


WRITERS = {"csv": write_csv, "parquet": write_parquet}


@pytest.fixture
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def _check_read(table, name, outcome):
    """A valid table is read as written; any other outcome is a documented error (checked already)."""
    if name == "iter_feature_batches, every column":
        return  # the labels are a column too: only a result or a refusal (checked already)
    if not table.valid:
        assert isinstance(outcome, Exception), f"{name} read an invalid table without complaint: {outcome}"
        return
    assert not isinstance(outcome, Exception), f"{name} refused a valid table: {outcome}"
    X, labels, names = outcome
    np.testing.assert_array_equal(X, table.expected(), err_msg=f"{name} misread the features")
    assert names is None or names == table.names, name
    if labels is not None:
        assert [_same_label(a) for a in labels] == [_same_label(b) for b in table.labels], name


def _same_label(value):
    return value.item() if isinstance(value, np.generic) else value


# ---------------------------------------------------------------------------------- properties
@PROFILE
@given(table=tables(), fmt=st.sampled_from(sorted(WRITERS)))
def test_a_random_small_table_is_read_as_written_or_refused(folder, table, fmt):
    path = folder / f"table.{fmt}"
    WRITERS[fmt](table, path)
    event("a valid table" if table.valid else "an invalid table")
    for name, outcome in _outcomes(path, table.names).items():
        _check_read(table, name, outcome)


# random bytes, or random text from the pieces CSV files are made of
CSV_TOKENS = [*",\n\r\"'0123456789.-+eE \t", "true", "false", "NA", "nan", "inf", "x", "y", "z", "\ufeff",
              "é", "\x00"]
CSV_BYTES = st.binary(max_size=200) | st.lists(st.sampled_from(CSV_TOKENS), max_size=60).map(
    lambda pieces: "".join(pieces).encode("utf-8"))


@PROFILE
@given(data=CSV_BYTES, features=st.sampled_from([["x"], ["x", "z"], ["y"]]))
def test_random_bytes_as_csv_give_a_result_or_a_documented_error(folder, data, features):
    path = folder / "random.csv"
    path.write_bytes(data)
    for name, outcome in _outcomes(path, features).items():
        if not isinstance(outcome, Exception):
            assert outcome[0].dtype == np.float64 and np.isfinite(outcome[0]).all(), name


@PROFILE
@given(data=st.binary(max_size=300))
def test_random_bytes_as_parquet_give_a_documented_error(folder, data):
    path = folder / "random.parquet"
    path.write_bytes(b"PAR1" + data + b"PAR1" if data[:1] == b"P" else data)
    for name, outcome in _outcomes(path, ["x"]).items():
        assert isinstance(outcome, Exception), f"{name} read random bytes as Parquet"


MUTATIONS = st.lists(st.tuples(st.sampled_from(["flip", "truncate", "insert", "delete"]),
                               st.floats(0, 1, exclude_max=True), st.binary(min_size=1, max_size=4)),
                     min_size=1, max_size=3)


def _mutated(data, mutations):
    data = bytearray(data)
    for kind, where, extra in mutations:
        at = int(where * len(data)) if data else 0
        if kind == "flip" and data:
            data[at] ^= extra[0] or 1
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = extra
        elif data:
            del data[at:at + len(extra)]
    return bytes(data)


@PROFILE
@given(table=tables(), fmt=st.sampled_from(sorted(WRITERS)), mutations=MUTATIONS)
def test_a_mutated_valid_file_gives_a_result_or_a_documented_error(folder, table, fmt, mutations):
    original = folder / f"original.{fmt}"
    WRITERS[fmt](table, original)
    path = folder / f"mutant.{fmt}"
    path.write_bytes(_mutated(original.read_bytes(), mutations))
    for name, outcome in _outcomes(path, table.names).items():
        if not isinstance(outcome, Exception):
            X = outcome[0]
            assert X.dtype == np.float64 and np.isfinite(X).all(), name
            assert name.endswith("every column") or X.shape[1] == len(table.names), name


# --------------------------------------------------------------------- cases the fuzzer found
@pytest.mark.parametrize("text", [
    "x,y\r1,0\r2,1\r",  # old Mac line ends
    "x,y\r\n1,0\r\n2,1\r\n",
    "\ufeffx,y\n1,0\n2,1\n",
    "x,y\n1,0\n\n2,1\n",  # a blank line is no row
    '"x",y\n"1",0\n2,"1"\n',
])
def test_line_ends_quotes_and_blank_lines_are_read_alike(folder, text):
    path = folder / "ends.csv"
    path.write_text(text, encoding="utf-8", newline="")
    for name, outcome in _outcomes(path, ["x"]).items():
        assert not isinstance(outcome, Exception), f"{name}: {outcome}"
        np.testing.assert_array_equal(outcome[0][:, 0], [1.0, 2.0], err_msg=name)


def test_names_of_every_kind_survive_the_round_trip(folder):
    names = ["", " ", "a,b", 'q"', "日本", "\t", "ü"]
    table = Written(names=names, columns=[[1.0, 2.0]] * len(names), labels=[0, 1], valid=True)
    for fmt, write in WRITERS.items():
        path = folder / f"names.{fmt}"
        write(table, path)
        for name, outcome in _outcomes(path, names).items():
            _check_read(table, name, outcome)
