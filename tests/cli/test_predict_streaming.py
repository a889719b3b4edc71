"""Streaming prediction: block-by-block CSV/Parquet reading, bounded memory, every class's probability."""

import csv
import tracemalloc

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support.synthetic import make_classification_data

from torchlogit import LogisticRegression
from torchlogit.cli.main import main
from torchlogit.data import tabular
from torchlogit.serving.modelfile import save_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    X, y, _ = make_classification_data(n=200, d=3, n_classes=3, seed=31)
    est = LogisticRegression().fit(X, np.array(["ant", "bee", "cat"])[y])
    return est, save_model(est, tmp_path_factory.mktemp("m") / "m.safetensors", feature_names=["a", "b", "c"])


def _csv(path, X, extra_text=None):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "c", "a", "b"])  # another column and another order than the model's
        writer.writerows([f"r{i}", repr(float(row[2])), int(row[0]) if i == 0 else repr(float(row[0])),
                          repr(float(row[1]))] for i, row in enumerate(X))
        if extra_text:
            handle.write(extra_text)
    return path


def _read(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_streamed_predictions_with_every_class_probability(model, tmp_path, monkeypatch, capsys):
    est, path = model
    X = np.random.default_rng(0).normal(size=(500, 3))
    X[0, 0] = 2.0  # the first block's column 'a' starts as an integer, later rows hold decimals
    data = _csv(tmp_path / "new.csv", X)
    monkeypatch.setattr(tabular, "STREAM_BLOCK_BYTES", 2048)  # many blocks
    out = tmp_path / "p.csv"
    assert main(["predict", str(path), str(data), "--out", str(out), "--proba"]) == 0
    assert "wrote 500 predictions" in capsys.readouterr().err
    rows = _read(out)
    assert list(rows[0]) == ["prediction", "probability", "proba_ant", "proba_bee", "proba_cat"]
    proba = est.predict_proba(X)
    np.testing.assert_array_equal([r["prediction"] for r in rows], est.predict(X))
    got = np.array([[float(r[f"proba_{c}"]) for c in ("ant", "bee", "cat")] for r in rows])
    np.testing.assert_allclose(got, proba, rtol=1e-9)
    np.testing.assert_allclose([float(r["probability"]) for r in rows], proba.max(1), rtol=1e-9)


def test_parquet_input_streams_too(model, tmp_path, monkeypatch, capsys):
    est, path = model
    X = np.random.default_rng(1).normal(size=(100, 3))
    data = tmp_path / "new.parquet"
    pq.write_table(pa.table({"b": X[:, 1], "a": X[:, 0], "c": X[:, 2]}), data)
    monkeypatch.setattr(tabular, "STREAM_BATCH_ROWS", 7)
    assert main(["predict", str(path), str(data)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "prediction,probability" and len(lines) == 101
    assert [line.split(",")[0] for line in lines[1:]] == list(est.predict(X))


@pytest.mark.parametrize("case", ["late bad value", "late missing value", "late infinite value"])
def test_a_bad_value_in_a_later_block_is_named_and_leaves_no_file(model, tmp_path, monkeypatch, capsys, case):
    _, path = model
    X = np.random.default_rng(2).normal(size=(300, 3))
    tail, message = {
        "late bad value": ("r300,1.0,oops,2.0\n", "column 'a' is not numeric"),
        "late missing value": ("r300,1.0,,2.0\n", "column 'a' has a missing value at data row 301"),
        "late infinite value": (
            "r300,1.0,2.0,inf\n", "column 'b' has a non-finite value (inf) at data row 301"),
    }[case]
    data = _csv(tmp_path / "bad.csv", X, extra_text=tail)
    monkeypatch.setattr(tabular, "STREAM_BLOCK_BYTES", 1024)
    out = tmp_path / "p.csv"
    assert main(["predict", str(path), str(data), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("torchlogit: error: ") and message in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_memory_stays_bounded_by_the_block_size(model, tmp_path, monkeypatch):
    """Python-level allocations (numpy arrays, rows) do not grow with the input: a file four times
    as long peaks at the same memory, far below its own size."""
    _, path = model
    monkeypatch.setattr(tabular, "STREAM_BLOCK_BYTES", 32 * 1024)
    peaks, sizes = [], []
    for n in (5_000, 20_000):
        data = tmp_path / f"rows{n}.csv"
        with open(data, "w") as handle:
            handle.write("a,b,c\n")
            np.savetxt(handle, np.random.default_rng(n).normal(size=(n, 3)), delimiter=",")
        out = tmp_path / f"p{n}.csv"
        if not peaks:
            main(["predict", str(path), str(data), "--out", str(out)])  # warm: imports and caches
        tracemalloc.start()
        try:
            assert main(["predict", str(path), str(data), "--out", str(out)]) == 0
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert len(_read(out)) == n
        sizes.append(data.stat().st_size)
    assert peaks[1] < 1.5 * peaks[0] + 50_000, f"peaks {peaks} for files of {sizes} bytes"
    assert peaks[1] < sizes[1] / 3


def test_read_table_reads_parquet_with_the_csv_checks(tmp_path):
    data = tmp_path / "d.parquet"
    pq.write_table(pa.table({"x": [1.0, 2.0, None], "label": ["a", "b", "a"]}), data)
    with pytest.raises(ValueError, match="column 'x' has a missing value at data row 3"):
        tabular.read_table(data, target="label")
    pq.write_table(pa.table({"x": [1.0, 2.0], "label": ["a", "b"]}), data)
    table = tabular.read_table(data, target="label")
    assert table.feature_names == ["x"] and table.y.tolist() == ["a", "b"]
    not_parquet = tmp_path / "n.parquet"
    not_parquet.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="could not be read as Parquet"):
        tabular.read_table(not_parquet)
