"""Streamed Parquet/CSV sources: the exact in-memory optimum, bounded chunks, shards, clear errors."""

import threading
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from support.streaming_data import make_table, write_csv_file, write_parquet_files

from torchlogit import LogisticRegression
from torchlogit._exceptions import ConvergenceWarning
from torchlogit.cli.main import main
from torchlogit.data import InMemorySource
from torchlogit.data.streaming import CSVSource, ParquetSource, SourceOptions, expand_paths, open_source
from torchlogit.estimators import logistic as estimator_module
from torchlogit.estimators.streaming import fit_files, fit_streamed
from torchlogit.serving.modelfile import load_model


@pytest.fixture(scope="module", params=[2, 3], ids=["binary", "multinomial"])
def dataset(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"data{request.param}")
    table, X, labels, sw = make_table(n_classes=request.param, seed=request.param)
    parquet = write_parquet_files(folder / "pq", table, splits=(0.3, 0.7))
    csv = [write_csv_file(folder / "a.csv", table.slice(0, 200)),
           write_csv_file(folder / "b.csv", table.slice(200))]
    return {"parquet": parquet, "csv": csv, "X": X, "labels": labels, "sw": sw, "folder": folder}


def _reference(dataset, tol=1e-10, **params):
    return LogisticRegression(tol=tol, **params).fit(dataset["X"], dataset["labels"],
                                                       sample_weight=dataset["sw"])


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize("chunk_rows", [37, 10_000])
def test_streamed_newton_fit_equals_in_memory_fit(dataset, fmt, chunk_rows):
    reference = _reference(dataset)
    streamed = fit_files(LogisticRegression(tol=1e-10), dataset[fmt], target="y", weight="w",
                         chunk_rows=chunk_rows)
    np.testing.assert_array_equal(streamed.classes_, reference.classes_)
    np.testing.assert_allclose(streamed.coef_, reference.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(streamed.intercept_, reference.intercept_, rtol=0, atol=1e-10)
    assert streamed.n_passes_ == reference.n_passes_  # one pass over the files per evaluation


def test_mixed_precision_newton_reads_float32_chunks_and_reaches_the_float64_optimum(dataset, monkeypatch):
    monkeypatch.setattr(estimator_module, "FLOAT32_HESSIAN_MIN_WORK", 100)  # as for large data
    monkeypatch.setattr(estimator_module, "FLOAT32_COPY_RATIO", 0)  # the in-memory reference too
    reference = _reference(dataset, tol=1e-12)  # 1e-10 leaves coefficients 1e-9 apart on this problem
    streamed = fit_files(LogisticRegression(tol=1e-12), dataset["parquet"], target="y", weight="w",
                         chunk_rows=37, checkpoint=dataset["folder"] / f"ck-{len(reference.classes_)}")
    np.testing.assert_allclose(streamed.coef_, reference.coef_, rtol=0, atol=1e-10)
    assert streamed.n_passes_ == reference.n_passes_


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "sgd"])
def test_float32_parquet_is_fitted_in_float64(tmp_path, solver):
    """float32 feature columns are widened as they are read: the float64 fit of the same (exact)
    values, for every solver."""
    table, X, labels, sw = make_table(n=400, seed=7)
    X32 = X.astype(np.float32)
    narrow = table
    for j in range(X.shape[1]):
        narrow = narrow.set_column(j, f"f{j}", pa.array(X32[:, j]))
    paths = write_parquet_files(tmp_path, narrow)
    source = open_source(paths, target="y", weight="w", chunk_rows=45)
    assert next(source.chunks())[0].dtype == torch.float64
    params = {"solver": solver, "tol": 1e-10} if solver != "sgd" else {
        "solver": "sgd", "tol": 1e-4, "max_iter": 3, "random_state": 0, "learning_rate": 0.05}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 3 SGD epochs: far from the optimum
        streamed = fit_files(LogisticRegression(**params), paths, target="y", weight="w", chunk_rows=45)
    if solver == "sgd":  # same mini-batches only chunk for chunk: compare with the float64 stream
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            wide64 = fit_files(LogisticRegression(**params), write_parquet_files(
                tmp_path / "wide64", narrow.cast(table.schema)), target="y", weight="w", chunk_rows=45)
        np.testing.assert_allclose(streamed.coef_, wide64.coef_, rtol=0, atol=1e-12)
    else:
        reference = LogisticRegression(**params).fit(X32.astype(np.float64), labels, sample_weight=sw)
        np.testing.assert_allclose(streamed.coef_, reference.coef_, rtol=0, atol=1e-8)
        assert streamed.coef_.dtype == np.float64


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_reusing_buffers_yields_the_same_chunks_from_a_few_buffers(dataset, dtype):
    """A consumer using each chunk before asking for the next sees exactly the plain chunks (also
    from memory-mapped files)."""
    source = open_source(dataset["parquet"], target="y", weight="w", chunk_rows=23).astype(dtype)
    plain = [(X.clone(), y, w) for X, y, w in source.chunks()]
    mapped = open_source(dataset["parquet"], target="y", weight="w", chunk_rows=23, memory_map=True)
    reused, buffers = [], set()
    for X, y, w in mapped.astype(dtype).reusing_buffers().chunks():
        reused.append((X.clone(), y, w))
        buffers.add(X.untyped_storage().data_ptr())
    assert len(reused) == len(plain) > 10
    for (X, y, w), (X2, y2, w2) in zip(plain, reused, strict=True):
        assert X2.dtype == dtype and torch.equal(X, X2) and torch.equal(y, y2) and torch.equal(w, w2)
    assert len(buffers) == 4  # the chunk summed, two queued, one being converted


def test_reused_buffers_fit_the_rows_read_not_chunk_rows(tmp_path):
    table, *_ = make_table(n=300)
    pq.write_table(table, tmp_path / "small.parquet")
    source = open_source(tmp_path / "small.parquet", target="y", chunk_rows=10**10)  # 150 GB if allocated
    (X, y, _), = source.reusing_buffers().chunks()
    assert X.shape == (300, 5) and len(y) == 300  # f0..f3 and w


def test_float64_values_too_large_for_float32_are_caught_after_a_float64_pass(tmp_path):
    table, *_ = make_table(n=300)
    values = table.column("f1").to_numpy().copy()
    values[99] = 1e39  # finite in float64, infinite in float32
    pq.write_table(table.set_column(1, "f1", pa.array(values)), tmp_path / "big.parquet")
    source = open_source(tmp_path / "big.parquet", target="y", chunk_rows=64)
    assert sum(len(y) for _, y, _ in source.chunks()) == 300  # float64: all finite
    with pytest.raises(ValueError, match=r"'f1' has a non-finite value \(inf\) at row group 0, row 100"):
        list(source.astype(torch.float32).chunks())


def test_a_float32_source_is_fitted_in_the_estimators_float64(dataset):
    """A user's source yielding float32 chunks: the objective widens them (the float64 fit of the
    same float32 values)."""
    X32 = torch.from_numpy(dataset["X"].astype(np.float32))
    y = torch.from_numpy(np.searchsorted(np.unique(dataset["labels"]), dataset["labels"]))
    source = InMemorySource(X32, y, torch.ones(len(y), dtype=torch.float32), chunk_rows=50)
    reference = LogisticRegression(tol=1e-10).fit(X32.double().numpy(), dataset["labels"])
    for solver, atol in (("newton", 1e-10), ("lbfgs", 1e-6)):
        fitted = LogisticRegression(solver=solver, tol=1e-10).fit_source(source, np.unique(dataset["labels"]))
        np.testing.assert_allclose(fitted.coef_, reference.coef_, rtol=0, atol=atol)


def test_streamed_lbfgs_and_unweighted_fits_reach_the_optimum(dataset):
    reference = LogisticRegression(tol=1e-10, C=0.5).fit(dataset["X"], dataset["labels"])
    folder = dataset["folder"] / "pq"
    features = ["f0", "f1", "f2", "f3"]
    lbfgs = fit_files(LogisticRegression(tol=1e-9, C=0.5, solver="lbfgs"), folder, target="y",
                      features=features, chunk_rows=50)
    np.testing.assert_allclose(lbfgs.coef_, reference.coef_, rtol=0, atol=1e-6)
    newton = fit_files(LogisticRegression(tol=1e-10, C=0.5), str(folder / "*.parquet"), target="y",
                       features=features, chunk_rows=61)
    np.testing.assert_allclose(newton.coef_, reference.coef_, rtol=0, atol=1e-10)


def test_chunks_are_bounded_and_cover_every_row_once(dataset):
    source = open_source(dataset["parquet"], target="y", weight="w", chunk_rows=37)
    sizes = [len(y) for _, y, _ in source.chunks()]
    assert max(sizes) <= 37 and sum(sizes) == len(dataset["labels"])
    assert source.row_totals() == (len(dataset["labels"]), pytest.approx(dataset["sw"].sum()))
    X = torch.cat([X for X, _, _ in source.chunks()])
    np.testing.assert_array_equal(X.numpy(), dataset["X"])


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize("world", [2, 3])
def test_shards_split_the_rows_between_ranks(dataset, fmt, world):
    seen = []
    for rank in range(world):
        source = open_source(dataset[fmt], target="y", weight="w", chunk_rows=29, rank=rank,
                             world_size=world)
        rows = torch.cat([X for X, _, _ in source.chunks()])
        assert 0 < len(rows) < len(dataset["labels"])
        seen.append(rows.numpy())
    together = np.concatenate(seen)
    assert len(together) == len(dataset["X"])
    np.testing.assert_array_equal(np.unique(together, axis=0), np.unique(dataset["X"], axis=0))


@pytest.mark.parametrize("world", [2, 3, 7])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_one_csv_file_is_split_by_lines_between_ranks(tmp_path, world, newline):
    """Fewer CSV files than ranks: each rank parses only its own lines, in order, none twice."""
    table, X, *_ = make_table(n=301, seed=3)
    path = tmp_path / "one.csv"
    write_csv_file(path, table)
    path.write_bytes(path.read_bytes().replace(b"\n", newline.encode()))
    parts = []
    for rank in range(world):
        source = open_source(path, target="y", weight="w", chunk_rows=23, rank=rank, world_size=world)
        X_rank = torch.cat([X for X, _, _ in source.chunks()]).numpy()
        assert abs(len(X_rank) - 301 / world) <= 301 / world / 2 + 1  # about even shares (by bytes)
        parts.append(X_rank)
    np.testing.assert_array_equal(np.concatenate(parts), X)
    values = table.column("f2").to_numpy().copy()
    values[250] = np.nan
    write_csv_file(path, table.set_column(2, "f2", pa.array(values)))
    with pytest.raises(ValueError, match=r"one\.csv': column 'f2' has a missing value at data row 251"):
        for rank in range(world):  # the rank whose lines hold row 251 names it as a row of the file
            list(open_source(path, target="y", chunk_rows=23, rank=rank, world_size=world).chunks())


def test_a_rank_without_rows_yields_one_empty_chunk(tmp_path):
    table, *_ = make_table(n=40)
    path = tmp_path / "one.parquet"
    pq.write_table(table, path)  # a single row group
    options = [SourceOptions(target="y", weight="w", rank=rank, world_size=2, classes=["ant", "bee"])
               for rank in (0, 1)]
    shapes = [[tuple(X.shape) for X, _, _ in ParquetSource([path], ranked).chunks()] for ranked in options]
    assert sorted(shapes) == [[(0, 4)], [(40, 4)]]


@pytest.mark.parametrize(("values", "kind"), [
    ([0, 1, 1, 0], "i"), ([2.5, -1.0, 2.5, 2.5], "f"), ([True, False, True, True], "b"),
    (["no", "yes", "no", "no"], "U"),
])
def test_labels_are_typed_as_in_memory(tmp_path, values, kind):
    table = pa.table({"a": [0.1, 0.2, 0.3, 0.4], "y": values})
    pq.write_table(table, tmp_path / "t.parquet")
    write_csv_file(tmp_path / "t.csv", table)
    for name in ("t.parquet", "t.csv"):
        source = open_source(tmp_path / name, target="y")
        assert source.classes.dtype.kind == kind
        np.testing.assert_array_equal(source.classes, np.unique(values))
        y = torch.cat([y for _, y, _ in source.chunks()]).numpy()
        np.testing.assert_array_equal(source.classes[y], values)


@pytest.mark.parametrize(("values", "classes", "bad"), [
    ([0, 1, 2, 1], [0, 1], "2"), ([0, 1, -1, 1], [0, 1], "-1"), ([3, 5, 4, 5], [3, 5], "4"),
    ([0.0, 1.0, 0.5, 1.0], [0, 1], "0.5"),
])
def test_unknown_numeric_label_names_value_and_row(tmp_path, values, classes, bad):
    pq.write_table(pa.table({"a": [0.1, 0.2, 0.3, 0.4], "y": values}), tmp_path / "t.parquet")
    source = open_source(tmp_path / "t.parquet", target="y", classes=classes)
    with pytest.raises(ValueError, match=rf"label {bad} of target 'y' at row group 0, row 3 of the file is "
                                         rf"not one of the classes"):
        list(source.chunks())


def _prefetch_threads() -> set[threading.Thread]:
    """The live reader threads (named; other libraries' threads may come and go during a test)."""
    return {t for t in threading.enumerate() if t.name == "torchlogit-prefetch"}


def test_abandoned_pass_stops_its_reader_thread(dataset):
    before = _prefetch_threads()
    chunks = open_source(dataset["parquet"], target="y", chunk_rows=10).chunks()
    next(chunks)
    assert len(_prefetch_threads() - before) == 2  # the decoder and the converter
    chunks.close()
    assert _prefetch_threads() <= before


@pytest.mark.parametrize("where", ["source", "consumer"])
def test_an_interrupted_fit_stops_the_reader_threads_at_once(dataset, where, monkeypatch):
    """A KeyboardInterrupt mid-pass (in the reader's callback, or in the sums) leaves no thread
    decoding until the garbage collector frees the traceback."""
    from torchlogit.core import objective as objective_module

    source = open_source(dataset["parquet"], target="y", weight="w", chunk_rows=10)
    seen = []

    def interrupt(*_):
        seen.append(None)
        if len(seen) == 5:
            raise KeyboardInterrupt

    if where == "source":
        source.on_chunk = interrupt
    else:
        original = objective_module.chunk_sums

        def sums(*args, **kwargs):
            interrupt()
            return original(*args, **kwargs)

        monkeypatch.setattr(objective_module, "chunk_sums", sums)
    before = _prefetch_threads()
    with pytest.raises(KeyboardInterrupt):
        fit_streamed(LogisticRegression(), source)
    assert _prefetch_threads() <= before


def test_a_conversion_error_stops_the_decoder_thread_too(tmp_path):
    x = np.random.default_rng(0).random(5000)
    x[30] = np.inf
    pq.write_table(pa.table({"a": x, "y": np.arange(5000) % 2}), tmp_path / "inf.parquet", row_group_size=100)
    source = open_source(tmp_path / "inf.parquet", target="y", chunk_rows=1 << 22)  # decoder two reads ahead
    before = _prefetch_threads()
    with pytest.raises(ValueError, match="non-finite value"):
        list(source.chunks())
    assert _prefetch_threads() <= before  # without waiting for the garbage collector


# ------------------------------------------------------------------------------------------ errors
def _bad(tmp_path, make):
    table, *_ = make_table(n=300)
    return make(tmp_path, table)


def test_truncated_parquet_names_the_file(tmp_path):
    table, *_ = make_table(n=300)
    good = write_parquet_files(tmp_path, table)[0]
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(ValueError, match=r"cut\.parquet' could not be read as Parquet \(truncated"):
        open_source([good, cut], target="y")


def test_column_that_turns_to_text_in_a_later_file(tmp_path):
    table, *_ = make_table(n=300)
    first = write_parquet_files(tmp_path / "ok", table.slice(0, 100), splits=())[0]
    text = pa.array([str(v) for v in table.column("f2").slice(100).to_pylist()])
    pq.write_table(table.slice(100).set_column(2, "f2", text), tmp_path / "later.parquet")
    with pytest.raises(ValueError, match=r"later\.parquet': column 'f2' is not numeric "
                                         r"\(string, but double in .*part-0"):
        open_source([first, tmp_path / "later.parquet"], target="y")
    write_csv_file(tmp_path / "a.csv", table.slice(0, 100))
    write_csv_file(tmp_path / "b.csv", table.slice(100))
    lines = (tmp_path / "b.csv").read_text().splitlines()
    cells = lines[58].split(",")
    lines[58] = ",".join([cells[0], "oops", *cells[2:]])  # data row 58, column f1
    (tmp_path / "b.csv").write_text("\n".join(lines) + "\n")
    source = open_source([tmp_path / "a.csv", tmp_path / "b.csv"], target="y")
    with pytest.raises(ValueError, match=r"b\.csv': column 'f1' is not numeric at data row 58"):
        list(source.chunks())


def test_wrong_schema_names_file_and_column(tmp_path):
    table, *_ = make_table(n=300)
    first = write_parquet_files(tmp_path, table.slice(0, 100), splits=())[0]
    pq.write_table(table.slice(100).drop_columns(["f3"]), tmp_path / "narrow.parquet")
    with pytest.raises(ValueError, match=r"narrow\.parquet' has no column 'f3'"):
        open_source([first, tmp_path / "narrow.parquet"], target="y")
    with pytest.raises(ValueError, match=r"has no column 'label'"):
        open_source(first, target="label")
    numbers = table.slice(100).set_column(4, "y", pa.array(np.arange(200)))
    pq.write_table(numbers, tmp_path / "numbers.parquet")
    with pytest.raises(ValueError, match=r"numbers\.parquet': target 'y' holds number values, but text"):
        open_source([first, tmp_path / "numbers.parquet"], target="y")


def test_non_finite_values_are_found_until_a_pass_completes(tmp_path):
    """Features are checked on the first complete pass; an abandoned pass leaves them unchecked."""
    table, *_ = make_table(n=300)
    values = table.column("f1").to_numpy().copy()
    values[250] = -np.inf
    pq.write_table(table.set_column(1, "f1", pa.array(values)), tmp_path / "inf.parquet", row_group_size=64)
    source = open_source(tmp_path / "inf.parquet", target="y", chunk_rows=50)
    for copy in (source, source.astype(torch.float32), source):
        chunks = copy.chunks()
        next(chunks)  # the first chunk is finite; the pass is abandoned
        chunks.close()
        with pytest.raises(ValueError, match=r"column 'f1' has a non-finite value \(-inf\)"):
            list(copy.chunks())


def test_bad_values_name_file_column_and_row_group(tmp_path):
    table, *_ = make_table(n=300)
    values = table.column("f1").to_numpy().copy()
    values[200] = np.inf
    pq.write_table(table.set_column(1, "f1", pa.array(values)), tmp_path / "inf.parquet", row_group_size=64)
    where = r"inf\.parquet': column 'f1' has a non-finite value \(inf\) at row group 3, row 201 of the file"
    with pytest.raises(ValueError, match=where):
        fit_files(LogisticRegression(), tmp_path / "inf.parquet", target="y")
    with pytest.raises(ValueError, match=where):  # chunks sliced from larger reads: same location
        list(open_source(tmp_path / "inf.parquet", target="y", chunk_rows=5).chunks())
    labels = table.column("y").to_pylist()
    labels[10] = None
    write_csv_file(tmp_path / "gap.csv", table.set_column(4, "y", pa.array(labels)))
    with pytest.raises(ValueError, match=r"gap\.csv': target 'y' has a missing value at data row 11"):
        open_source(tmp_path / "gap.csv", target="y").discover_classes()
    source = open_source(tmp_path / "inf.parquet", target="y", classes=["ant"], features=["f0"])
    with pytest.raises(ValueError, match=r"label 'bee' of target 'y' at row group 0, row \d+ of the file"):
        list(source.chunks())
    weights = table.column("w").to_numpy().copy()
    weights[5] = -1
    pq.write_table(table.set_column(5, "w", pa.array(weights)), tmp_path / "neg.parquet")
    with pytest.raises(ValueError, match=r"weight column 'w' has the value -1.0 at row group 0, row 6"):
        open_source(tmp_path / "neg.parquet", target="y", weight="w").discover_classes()


def test_paths_folders_and_patterns(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        expand_paths([tmp_path / "missing.parquet"])
    with pytest.raises(FileNotFoundError, match="no file matches"):
        expand_paths(str(tmp_path / "*.parquet"))
    with pytest.raises(FileNotFoundError, match=r"holds no \.parquet or \.csv files"):
        expand_paths(tmp_path)
    table, *_ = make_table(n=100)
    write_parquet_files(tmp_path / "p", table)
    write_csv_file(tmp_path / "p" / "x.csv", table)
    with pytest.raises(ValueError, match="mix Parquet and CSV"):
        open_source(tmp_path / "p", target="y")
    assert isinstance(open_source(tmp_path / "p" / "x.csv", target="y"), CSVSource)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="is empty"):
        open_source(tmp_path / "empty.csv", target="y")


# --------------------------------------------------------------------------------------------- CLI
def test_cli_fit_and_predict_parquet(dataset, tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    files = [str(p) for p in dataset["parquet"]]
    assert main(["fit", *files, "--target", "y", "--weight", "w", "--chunk-rows", "100", "--out", str(model),
                 "--quiet", "--tol", "1e-10", "--memory-map"]) == 0
    out = capsys.readouterr().out
    assert "rows (3 files)" in out and "solver newton" in out and "converged" in out and "passes:" in out
    est = load_model(model)
    reference = _reference(dataset)
    np.testing.assert_allclose(est.coef_, reference.coef_, atol=1e-10)
    preds = tmp_path / "p.parquet"
    assert main(["predict", str(model), str(dataset["folder"] / "pq"), "--out", str(preds), "--proba"]) == 0
    table = pq.read_table(preds)
    proba = reference.predict_proba(dataset["X"])
    assert table.column("prediction").to_pylist() == list(reference.predict(dataset["X"]))
    np.testing.assert_allclose(table.column("probability").to_numpy(), proba.max(axis=1), atol=1e-12)
    last = table.column(f"proba_{reference.classes_[-1]}").to_numpy()
    np.testing.assert_allclose(last, proba[:, -1], atol=1e-12)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors", "p.parquet"]  # no temporary files


def test_cli_streaming_errors_are_one_line(dataset, tmp_path, capsys):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    assert main(["fit", str(bad), "--target", "y"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.parquet' could not be read as Parquet" in err
    files = [str(p) for p in dataset["parquet"]]
    assert main(["fit", *files, "--target", "y", "--test-size", "0.2"]) == 1
    assert "--test-size is not available when streaming" in capsys.readouterr().err
    preds = tmp_path / "p.parquet"
    assert main(["predict", str(tmp_path / "none.safetensors"), files[0], "--out", str(preds)]) == 1
    assert not (tmp_path / "p.parquet").exists()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_streamed_fit_on_cuda_matches_the_cpu_fit(tmp_path, monkeypatch, solver):
    """Float32 Parquet streamed to the GPU (chunks copied out of the reused buffers), with
    mixed-precision sampled Hessians."""
    from torchlogit.core import objective as objective_module

    monkeypatch.setattr(estimator_module, "FLOAT32_HESSIAN_MIN_WORK", 100)
    monkeypatch.setattr(estimator_module, "HESSIAN_SAMPLE_ROWS", 200)
    monkeypatch.setattr(objective_module, "_HESSIAN_BLOCK_ROWS", 32)
    table, X, *_ = make_table(n=1000, seed=9)
    narrow = table
    for j in range(X.shape[1]):
        narrow = narrow.set_column(j, f"f{j}", pa.array(X[:, j].astype(np.float32)))
    paths = write_parquet_files(tmp_path, narrow, row_group_size=300)
    fits = {device: fit_files(LogisticRegression(solver=solver, tol=1e-10, device=device), paths, target="y",
                              weight="w", chunk_rows=97) for device in ("cpu", "cuda")}
    np.testing.assert_allclose(fits["cuda"].coef_, fits["cpu"].coef_, rtol=0, atol=1e-8)
