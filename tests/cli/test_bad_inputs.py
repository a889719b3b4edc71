"""A catalogue of bad command lines: each ends with one clear line, its exit status, and no file touched.

Every case runs ``torchlogit.cli.main.main`` in a fresh folder holding a good CSV file, a good
Parquet file, a folder of two Parquet parts and a good model file, plus whatever bad file the case
adds. It must exit 1 with exactly one ``torchlogit: error: ...`` line on stderr (2 for argument
errors, with argparse's own usage lines before its one error line), show no traceback, and leave
the folder exactly as it found it: no output, no temporary file, every input byte for byte.

Some cases rest on checks below the CLI: duplicate column names, a UTF-8 BOM and encodings (data
layer), the metadata schema, checksum and finite coefficients of model files (serving), a fit that
diverges (estimators). The CLI's part is that each becomes one line and exit status 1.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from torchlogit import LogisticRegression
from torchlogit.cli.main import main
from torchlogit.serving.modelfile import save_model

ARGUMENT_ERROR, ERROR = 2, 1


# --------------------------------------------------------------------------- the folder of every case
def _rows(n: int = 60, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = np.where(X[:, 0] + 0.8 * rng.normal(size=n) > 0, "yes", "no")
    return X, y


def _write_csv(path: Path, header: list[str], rows) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory) -> bytes:
    X, y = _rows()
    path = save_model(LogisticRegression().fit(X, y), tmp_path_factory.mktemp("model") / "m.safetensors",
                      feature_names=["a", "b"])
    return path.read_bytes()


@pytest.fixture
def folder(tmp_path, model_bytes) -> Path:
    """data.csv, data.parquet, parts/{p1,p2}.parquet, model.safetensors and an empty out/."""
    X, y = _rows()
    _write_csv(tmp_path / "data.csv", ["a", "b", "y"],
               ([*row, label] for row, label in zip(X, y, strict=True)))
    table = pa.table({"a": X[:, 0], "b": X[:, 1], "y": y})
    pq.write_table(table, tmp_path / "data.parquet")
    (tmp_path / "parts").mkdir()
    pq.write_table(table.slice(0, 30), tmp_path / "parts" / "p1.parquet")
    pq.write_table(table.slice(30), tmp_path / "parts" / "p2.parquet")
    (tmp_path / "model.safetensors").write_bytes(model_bytes)
    (tmp_path / "out").mkdir()
    return tmp_path


def _snapshot(root: Path) -> dict[str, object]:
    """Every entry under ``root`` (hidden ones too): a link's target, a file's bytes, or a folder."""
    entries: dict[str, object] = {}
    for here, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(here) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                entries[key] = ("link", os.readlink(path))
            elif path.is_dir():
                entries[key] = "folder"
            else:
                entries[key] = path.read_bytes()
    return entries


# --------------------------------------------------------------------------- bad files the cases add
def _text(name: str, text: str, encoding: str = "utf-8"):
    def setup(d: Path) -> None:
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(text.encode(encoding))

    return setup


def _copy(source: str, name: str, keep: slice = slice(None)):
    def setup(d: Path) -> None:
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes((d / source).read_bytes()[keep])

    return setup


def _symlink(name: str, target: str):
    return lambda d: (d / name).symlink_to(d / target)


def _hardlink(name: str, target: str):
    return lambda d: os.link(d / target, d / name)


def _continuous(d: Path) -> None:
    X, _ = _rows()
    y = np.random.default_rng(9).normal(size=len(X))
    _write_csv(d / "cont.csv", ["a", "b", "y"], ([*row, v] for row, v in zip(X, y, strict=True)))


def _zero_rows_parquet(d: Path) -> None:
    pq.write_table(pa.table({"a": pa.array([], pa.float64()), "b": pa.array([], pa.float64()),
                             "y": pa.array([], pa.string())}), d / "empty.parquet")


def _model_metadata(change):
    """A copy of the model, ``bad.safetensors``, with its JSON metadata passed through ``change``."""

    def setup(d: Path) -> None:
        raw = (d / "model.safetensors").read_bytes()
        (length,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8:8 + length])
        metadata = json.loads(header["__metadata__"]["torchlogit"])
        header["__metadata__"]["torchlogit"] = json.dumps(change(metadata))
        text = json.dumps(header).encode()
        text += b" " * (-len(text) % 8)
        (d / "bad.safetensors").write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + length:])

    return setup


def _model_tensor_bytes(change):
    """A copy of the model, ``bad.safetensors``, with its tensor bytes passed through ``change``."""

    def setup(d: Path) -> None:
        raw = (d / "model.safetensors").read_bytes()
        (length,) = struct.unpack("<Q", raw[:8])
        (d / "bad.safetensors").write_bytes(raw[:8 + length] + change(bytearray(raw[8 + length:])))

    return setup


def _flip_bit(data: bytearray) -> bytes:
    data[3] ^= 0x10  # the first coefficient's mantissa: a plausible, wrong number
    return bytes(data)


def _nan_coefficient(data: bytearray) -> bytes:
    data[:8] = struct.pack("<d", float("nan"))
    return bytes(data)


def _set(key: str, value):
    def change(metadata: dict) -> dict:
        metadata[key] = value
        return metadata

    return change


def _plots_folder_holding_the_data(d: Path) -> None:
    (d / "plots").mkdir()
    (d / "plots" / "roc.png").write_bytes((d / "data.csv").read_bytes())


def _pickle_model(d: Path) -> None:
    import pickle

    (d / "evil.safetensors").write_bytes(pickle.dumps({"coef": [1.0]}))


# --------------------------------------------------------------------------- the catalogue
@dataclass(frozen=True)
class Case:
    """One bad command line: ``{d}`` is the case's folder; ``message`` a part of the error line."""

    argv: str
    code: int = ERROR
    message: str | None = None
    setup: object = None
    absent: tuple[str, ...] = field(default=())  # text the error line must not hold


FIT = "fit {d}/data.csv --target y --quiet --out {d}/out/m.safetensors"
STREAM = "fit {d}/data.parquet --target y --quiet --out {d}/out/m.safetensors"
PREDICT = "predict {d}/model.safetensors {d}/data.csv"
EVALUATE = "evaluate {d}/model.safetensors {d}/data.csv --target y"
REPORT = "report {d}/model.safetensors {d}/data.csv --target y"
REFUSED = "refusing to write"
FIRTH = "--firth takes no --penalty"
DUPLICATE = "a,a,b,y\n1,2,3,no\n2,3,4,yes\n"


def fit_on(data: str, extra: str = "") -> str:
    """``fit`` on ``{d}/DATA`` with target ``y``, writing ``{d}/out/m.safetensors``."""
    return f"fit {{d}}/{data} --target y --out {{d}}/out/m.safetensors {extra}".strip()


def predict_with(model: str, data: str = "data.csv") -> str:
    return f"predict {{d}}/{model} {{d}}/{data}"


CASES: dict[str, Case] = {
    # fit: the data files
    "fit missing file": Case(fit_on("absent.csv"), message="no such file"),
    "fit empty file": Case(fit_on("e.csv"), message="is empty", setup=_text("e.csv", "")),
    "fit header only": Case(fit_on("h.csv"), message="no data rows", setup=_text("h.csv", "a,b,y\n")),
    "fit folder without data files": Case(fit_on("nothing"), message="holds no .parquet or .csv files",
                                          setup=_text("nothing/readme.txt", "no data here")),
    "fit glob matching nothing": Case(fit_on("none*.parquet"), message="no file matches"),
    "fit no target column": Case(FIT.replace("--target y", "--target label"),
                                 message="no target column 'label'"),
    "fit non-numeric feature": Case(fit_on("t.csv"), message="column 'b' is not numeric",
                                    setup=_text("t.csv", "a,b,y\n1,x,no\n2,3,yes\n")),
    "fit missing value": Case(fit_on("t.csv"), message="column 'b' has a missing value at data row 1",
                              setup=_text("t.csv", "a,b,y\n1,,no\n2,3,yes\n")),
    "fit infinite value": Case(fit_on("t.csv"), message="column 'a' has a non-finite value",
                               setup=_text("t.csv", "a,b,y\n1,2,no\ninf,3,yes\n")),
    "fit single class": Case(fit_on("t.csv"), message="has a single class ('no')",
                             setup=_text("t.csv", "a,y\n1,no\n2,no\n")),
    "fit single numeric class": Case(fit_on("t.csv"), message="has a single class (1.0)",
                                     setup=_text("t.csv", "a,y\n1,1.0\n2,1.0\n"), absent=("np.float64",)),
    "fit continuous target": Case(fit_on("cont.csv"), message="target 'y' is continuous", setup=_continuous,
                                  absent=("np.float64", "training split")),
    "fit continuous target streamed": Case(fit_on("cont.csv", "--chunk-rows 16"),
                                           message="target 'y' is continuous", setup=_continuous),
    "fit zero-row Parquet": Case(fit_on("empty.parquet"), message="no data rows", setup=_zero_rows_parquet),
    "fit text named .parquet": Case(fit_on("fake.parquet"), message="fake.parquet",
                                    setup=_text("fake.parquet", "a,b,y\n1,2,no\n")),
    "fit truncated Parquet": Case(fit_on("cut.parquet"), message="cut.parquet",
                                  setup=_copy("data.parquet", "cut.parquet", slice(0, 600))),
    "fit mixed formats": Case(fit_on("data.csv {d}/data.parquet"), message="mix Parquet and CSV"),
    "fit duplicate columns": Case(fit_on("dup.csv"), message="'a'", setup=_text("dup.csv", DUPLICATE)),
    "fit duplicate columns streamed": Case(fit_on("dup.csv", "--chunk-rows 8"), message="'a'",
                                           setup=_text("dup.csv", DUPLICATE)),
    "fit BOM file, unknown target, streamed": Case(
        fit_on("bom.csv", "--chunk-rows 8").replace("--target y", "--target label"), message="'label'",
        setup=_text("bom.csv", "\ufeffa,b,y\n1,2,no\n2,3,yes\n"), absent=("\\ufeff", "\ufeff")),
    "fit latin-1 target": Case(fit_on("l1.csv"), message="l1.csv",
                               setup=_text("l1.csv", "a,y\n1,caf\xe9\n2,th\xe9\n", "latin-1")),
    # fit: where the model goes
    "fit out is the data": Case("fit {d}/data.csv --target y --out {d}/data.csv", message=REFUSED),
    "fit out is ./the data": Case("fit {d}/data.csv --target y --out {d}/out/../data.csv",
                                  message="input file"),
    "fit out is a symlink to the data": Case("fit {d}/data.csv --target y --out {d}/link.csv",
                                             message=REFUSED, setup=_symlink("link.csv", "data.csv")),
    "fit out is a hard link to the data": Case("fit {d}/data.csv --target y --out {d}/hard.csv",
                                               message=REFUSED, setup=_hardlink("hard.csv", "data.csv")),
    "fit out through a symlinked folder": Case("fit {d}/data.csv --target y --out {d}/alias/data.csv",
                                               message=REFUSED, setup=_symlink("alias", ".")),
    "fit out in a missing folder": Case("fit {d}/data.csv --target y --out {d}/absent/m.safetensors",
                                        message="does not exist"),
    "fit out is a folder": Case("fit {d}/data.csv --target y --out {d}/out", message="is a directory"),
    "fit cv plot is the data": Case(FIT + " --cv 3 --cv-plot {d}/data.csv", message="--cv-plot"),
    "fit cv plot in a missing folder": Case(FIT + " --cv 3 --cv-plot {d}/absent/cv.png",
                                            message="does not exist"),
    "fit cv plot is the model": Case(FIT + " --cv 3 --cv-plot {d}/out/m.safetensors", message="--out"),
    "fit summary file is the data": Case("fit {d}/m.summary.json --target y --out {d}/m --summary "
                                         "--penalty none --test-size 0", message="summary",
                                         setup=_copy("data.csv", "m.summary.json")),
    "fit streamed out is a part in the folder": Case("fit {d}/parts --target y --out {d}/parts/p1.parquet",
                                                     message="input file"),
    "fit streamed out is a part in the glob": Case("fit {d}/parts/*.parquet --target y --out "
                                                   "{d}/parts/p2.parquet", message="p2.parquet"),
    "fit checkpoint holds the model": Case(STREAM + " --checkpoint {d}/out --out "
                                           "{d}/out/checkpoint.safetensors", message="checkpoint"),
    # fit: options that contradict each other or the data's path
    "fit firth with l1 and summary": Case(FIT + " --firth --summary --penalty l1", message=FIRTH),
    "fit firth with l1": Case(FIT + " --firth --penalty l1", message=FIRTH),
    "fit firth with elasticnet": Case(FIT + " --firth --summary --penalty elasticnet --l1-ratio 0.5",
                                      message=FIRTH),
    "fit streamed summary": Case(STREAM + " --summary --penalty none", message="--summary"),
    "fit streamed firth": Case(STREAM + " --firth --summary", message="when streaming"),
    "fit streamed covariance": Case(STREAM + " --cov robust", message="--cov"),
    "fit streamed test size": Case(STREAM + " --test-size 0.2", message="--test-size"),
    "fit streamed cv": Case(STREAM + " --cv 3", message="--cv"),
    "fit streamed unknown feature": Case(STREAM + " --features a,zzz", message="zzz"),
    "fit streamed unknown weight": Case(STREAM + " --weight w", message="'w'"),
    "fit streamed unknown target": Case(STREAM.replace("--target y", "--target zzz"), message="zzz"),
    "fit solver contradicts optimizer": Case(FIT + " --solver newton --optimizer adam",
                                             message="contradicts"),
    "fit l1 ratio without elasticnet": Case(FIT + " --l1-ratio 0.5", message="--l1-ratio applies"),
    "fit one cv fold": Case(FIT + " --cv 1", message="at least 2 folds"),
    "fit cv without penalty": Case(FIT + " --cv 3 --penalty none", message="--cv chooses the penalty"),
    "fit cluster without a column": Case(FIT + " --summary --penalty none --cov cluster:",
                                         message="needs the name"),
    "fit cluster column absent": Case(FIT + " --summary --penalty none --cov cluster:zzz", message="zzz"),
    "fit summary with a penalty": Case(FIT + " --summary", message="needs --penalty none"),
    "fit unknown device": Case(FIT + " --device tpu", message="device"),
    "fit huge adam step": Case(FIT + " --optimizer adam --lr 1e300 --epochs 30"),
    # fit: argument values argparse refuses
    "fit lr inf": Case(FIT + " --optimizer sgd --lr inf", ARGUMENT_ERROR, "--lr"),
    "fit lr nan": Case(FIT + " --optimizer adam --lr nan", ARGUMENT_ERROR, "--lr"),
    "fit lr negative": Case(FIT + " --optimizer sgd --lr -0.1", ARGUMENT_ERROR, "--lr"),
    "fit tol nan": Case(FIT + " --tol nan", ARGUMENT_ERROR, "--tol"),
    "fit tol inf": Case(FIT + " --tol inf", ARGUMENT_ERROR, "--tol"),
    "fit C inf": Case(FIT + " --C inf", ARGUMENT_ERROR, "--penalty none"),
    "fit C zero": Case(FIT + " --C 0", ARGUMENT_ERROR, "--C"),
    "fit C text": Case(FIT + " --C big", ARGUMENT_ERROR, "--C"),
    "fit dist timeout inf": Case(STREAM + " --dist-timeout inf", ARGUMENT_ERROR, "--dist-timeout"),
    "fit zero epochs": Case(FIT + " --epochs 0", ARGUMENT_ERROR, "--epochs"),
    "fit fractional epochs": Case(FIT + " --epochs 1.5", ARGUMENT_ERROR, "--epochs"),
    "fit test size one": Case(FIT + " --test-size 1", ARGUMENT_ERROR, "--test-size"),
    "fit l1 ratio above one": Case(FIT + " --penalty elasticnet --l1-ratio 1.5", ARGUMENT_ERROR,
                                   "--l1-ratio"),
    "fit unknown solver": Case(FIT + " --solver magic", ARGUMENT_ERROR, "--solver"),
    "fit unknown penalty": Case(FIT + " --penalty l3", ARGUMENT_ERROR, "--penalty"),
    "fit without --target": Case("fit {d}/data.csv --out {d}/out/m.safetensors", ARGUMENT_ERROR, "--target"),
    "fit unknown flag": Case(FIT + " --fast", ARGUMENT_ERROR, "--fast"),
    # predict: the model file
    "predict missing model": Case(predict_with("absent.safetensors"), message="absent.safetensors"),
    "predict text model": Case(predict_with("t.safetensors"), message="not a torchlogit model",
                               setup=_text("t.safetensors", "this is not a model")),
    "predict empty model": Case(predict_with("e.safetensors"), message="e.safetensors",
                                setup=_text("e.safetensors", "")),
    "predict pickled model": Case(predict_with("evil.safetensors"), message="evil.safetensors",
                                  setup=_pickle_model),
    "predict truncated model": Case(predict_with("cut.safetensors"), message="cut.safetensors",
                                    setup=_copy("model.safetensors", "cut.safetensors", slice(0, -20))),
    "predict model is a folder": Case(predict_with("out"), message="out"),
    "predict model without fit details": Case(predict_with("bad.safetensors"), message="bad.safetensors",
                                              setup=_model_metadata(_set("fit", {}))),
    "predict model with params a string": Case(predict_with("bad.safetensors"), message="bad.safetensors",
                                               setup=_model_metadata(_set("params", "x"))),
    "predict model with duplicate classes": Case(predict_with("bad.safetensors"), message="bad.safetensors",
                                                 setup=_model_metadata(_set("classes", ["no", "no"]))),
    "predict model with a flipped bit": Case(predict_with("bad.safetensors"), message="bad.safetensors",
                                             setup=_model_tensor_bytes(_flip_bit)),
    "predict model with a NaN coefficient": Case(predict_with("bad.safetensors"), message="bad.safetensors",
                                                 setup=_model_tensor_bytes(_nan_coefficient)),
    # predict: the data
    "predict missing data": Case(predict_with("model.safetensors", "absent.csv"), message="no such file"),
    "predict empty data": Case(predict_with("model.safetensors", "e.csv"), message="is empty",
                               setup=_text("e.csv", "")),
    "predict data lacking a feature": Case(predict_with("model.safetensors", "t.csv") + " --out {d}/o.csv",
                                           message="lacks the model's feature columns ['b']",
                                           setup=_text("t.csv", "a,c\n1,2\n")),
    "predict non-numeric data": Case(predict_with("model.safetensors", "t.csv") + " --out {d}/out/p.csv",
                                     message="t.csv", setup=_text("t.csv", "a,b\n1,x\n")),
    "predict duplicate feature columns": Case(predict_with("model.safetensors", "dup.csv"), message="'a'",
                                              setup=_text("dup.csv", "a,b,a\n1,2,3\n")),
    # predict: where the predictions go
    "predict out is the data": Case(PREDICT + " --out {d}/data.csv", message=REFUSED),
    "predict out is the model": Case(PREDICT + " --out {d}/model.safetensors", message="model file"),
    "predict out is ./the data": Case(PREDICT + " --out {d}/./out/../data.csv", message="input file"),
    "predict out is a symlink to the model": Case(PREDICT + " --out {d}/m.csv", message="model file",
                                                  setup=_symlink("m.csv", "model.safetensors")),
    "predict Parquet out is the Parquet data": Case(predict_with("model.safetensors", "data.parquet")
                                                    + " --out {d}/data.parquet", message=REFUSED),
    "predict folder out is one of its parts": Case(predict_with("model.safetensors", "parts")
                                                   + " --out {d}/parts/p2.parquet", message="p2.parquet"),
    "predict out is a folder": Case(PREDICT + " --out {d}/out", message="is a directory"),
    "predict out in a missing folder": Case(PREDICT + " --out {d}/absent/p.csv", message="does not exist"),
    "predict without data": Case("predict {d}/model.safetensors", ARGUMENT_ERROR, "data"),
    "predict unknown flag": Case(PREDICT + " --probability", ARGUMENT_ERROR, "--probability"),
    # evaluate and report
    "evaluate threshold above one": Case(EVALUATE + " --threshold 1.5", message="--threshold"),
    "evaluate threshold nan": Case(EVALUATE + " --threshold nan", message="--threshold"),
    "evaluate json is the data": Case(EVALUATE + " --json {d}/data.csv", message="--json"),
    "evaluate json is the model": Case(EVALUATE + " --json {d}/model.safetensors", message="model file"),
    "evaluate json in a missing folder": Case(EVALUATE + " --json {d}/absent/e.json",
                                              message="does not exist"),
    "evaluate plots overwrite the data": Case("evaluate {d}/model.safetensors {d}/plots/roc.png --target y "
                                              "--plots {d}/plots", message="roc.png",
                                              setup=_plots_folder_holding_the_data),
    "evaluate plots is a file": Case(EVALUATE + " --plots {d}/data.csv", message="--plots"),
    "evaluate one feature for the figure": Case(EVALUATE + " --features a",
                                                message="two different feature names"),
    "evaluate unknown feature for the figure": Case(EVALUATE + " --features a,zzz",
                                                    message="unknown feature"),
    "evaluate unknown target": Case(EVALUATE.replace("--target y", "--target zzz"), message="zzz"),
    "evaluate unknown plot format": Case(EVALUATE + " --plot-format jpg", ARGUMENT_ERROR, "--plot-format"),
    "evaluate without --target": Case("evaluate {d}/model.safetensors {d}/data.csv", ARGUMENT_ERROR,
                                      "--target"),
    "report out is the data": Case(REPORT + " --out {d}/data.csv", message=REFUSED),
    "report out is the model": Case(REPORT + " --out {d}/model.safetensors", message="model file"),
    "report out is a folder": Case(REPORT + " --out {d}/out", message="is a directory"),
    "report threshold zero": Case(REPORT + " --out {d}/out/r.html --threshold 0", message="--threshold"),
    # export and demo
    "export out is the model": Case("export {d}/model.safetensors --out {d}/model.safetensors",
                                    message=REFUSED),
    "export corrupt model": Case("export {d}/t.safetensors --out {d}/out/m.onnx", message="t.safetensors",
                                 setup=_text("t.safetensors", "{}")),
    "export out is a folder": Case("export {d}/model.safetensors --out {d}/out", message="is a directory"),
    "export unknown format": Case("export {d}/model.safetensors --out {d}/out/m.x --format tflite",
                                  ARGUMENT_ERROR, "--format"),
    "export without --out": Case("export {d}/model.safetensors", ARGUMENT_ERROR, "--out"),
    "demo zero epochs": Case("demo --out {d}/out/demo --epochs 0", ARGUMENT_ERROR, "--epochs"),
    "demo lr inf": Case("demo --out {d}/out/demo --optimizer sgd --lr inf", ARGUMENT_ERROR, "--lr"),
    "demo C nan": Case("demo --out {d}/out/demo --C nan", ARGUMENT_ERROR, "--C"),
    "no command": Case("", ARGUMENT_ERROR, "COMMAND"),
    "unknown command": Case("train {d}/data.csv", ARGUMENT_ERROR, "train"),
}




def assert_one_error_line(err: str, code: int) -> str:
    """The error line of a failed command: alone on stderr (after argparse's usage, for status 2)."""
    assert "Traceback" not in err
    lines = err.splitlines()
    if code == ARGUMENT_ERROR:
        assert lines[0].startswith("usage: ") and all(line.startswith(" ") for line in lines[1:-1]), err
        assert re.match(r"torchlogit( \w+)?: error: \S", lines[-1]), err
    else:
        assert len(lines) == 1 and lines[0].startswith("torchlogit: error: "), err
    return lines[-1]


def test_the_catalogue_is_large_enough():
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_a_bad_command_line_gets_one_line_and_touches_nothing(case, folder, capsys):
    if case.setup is not None:
        case.setup(folder)
    before = _snapshot(folder)
    argv = case.argv.format(d=folder).split()
    code = main(argv)
    captured = capsys.readouterr()
    assert code == case.code, captured.err
    line = assert_one_error_line(captured.err, case.code)
    if case.message is not None:
        assert case.message in line
    for text in case.absent:
        assert text not in line
    assert "Traceback" not in captured.out
    assert _snapshot(folder) == before


# --------------------------------------------------------------------------- failures while writing
def test_the_firth_penalty_rule_is_one_rule(folder, capsys):
    """``--firth --penalty l1`` is refused in the same words with and without ``--summary``;
    ``--penalty none`` says what Firth's fit is, and is accepted."""
    lines = []
    for extra in ([], ["--summary"]):
        assert main([*FIT.format(d=folder).split(), "--firth", "--penalty", "l1", *extra]) == ERROR
        lines.append(capsys.readouterr().err)
    assert lines[0] == lines[1]
    assert main([*FIT.format(d=folder).split(), "--firth", "--summary", "--penalty", "none"]) == 0
    assert "Firth Logistic Regression Results" in capsys.readouterr().out


def _refuse_temporary_files(monkeypatch, folder: Path) -> None:
    """Make ``folder`` refuse new files as a read-only folder does (even for root, who ignores modes)."""
    import tempfile

    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, prefix="tmp", suffix="", **kwargs):
        if dir is not None and Path(dir).resolve() == folder.resolve():
            name = os.path.join(dir, f"{prefix}abc123{suffix}")
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), name)
        return real(*args, dir=dir, prefix=prefix, suffix=suffix, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


@pytest.mark.parametrize("command", ["fit", "predict", "predict parquet", "evaluate", "report"])
def test_a_folder_refusing_new_files_is_named_by_the_output_path(folder, capsys, monkeypatch, command):
    out = folder / "out"
    argv = {
        "fit": FIT,
        "predict": PREDICT + " --out {d}/out/p.csv",
        "predict parquet": PREDICT + " --out {d}/out/p.parquet",
        "evaluate": EVALUATE + " --json {d}/out/e.json",
        "report": REPORT + " --out {d}/out/e.json",
    }[command].format(d=folder).split()
    target = argv[argv.index("--json" if command == "evaluate" else "--out") + 1]
    _refuse_temporary_files(monkeypatch, out)
    before = _snapshot(folder)
    assert main(argv) == ERROR
    line = assert_one_error_line(capsys.readouterr().err, ERROR)
    assert repr(target) in line and "Permission denied" in line and ".tmp" not in line
    assert _snapshot(folder) == before


def _assert_refused_before_the_fit(folder: Path, capsys) -> None:
    out = folder / "out"
    assert main(FIT.format(d=folder).split()) == ERROR
    captured = capsys.readouterr()
    line = assert_one_error_line(captured.err, ERROR)
    assert repr(str(out / "m.safetensors")) in line and "permission denied" in line and ".tmp" not in line
    assert captured.out == ""  # refused before the fit, not after it
    assert list(out.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_refused_before_the_fit(folder, capsys):
    (folder / "out").chmod(0o555)
    try:
        _assert_refused_before_the_fit(folder, capsys)
    finally:
        (folder / "out").chmod(0o755)


def test_an_output_folder_on_a_read_only_file_system_is_refused_before_the_fit(folder, capsys, monkeypatch):
    """A read-only mount refuses writing even to root: ``access(W_OK)`` fails there (EROFS)."""
    real = os.access
    out = (folder / "out").resolve()

    def access(path, mode, **kwargs):
        return (not mode & os.W_OK or Path(path).resolve() != out) and real(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    _assert_refused_before_the_fit(folder, capsys)


class _FullDisk:
    """A text file that takes ``room`` characters, then fails as a full disk does."""

    def __init__(self, handle, room: int):
        self.handle, self.room = handle, room

    def write(self, text: str) -> int:
        self.room -= len(text)
        if self.room < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.handle.write(text)

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()


def test_a_full_disk_while_predicting_to_csv_names_the_output(folder, capsys, monkeypatch):
    from torchlogit.cli import predict

    real_open = open
    monkeypatch.setattr(predict, "open", lambda *a, **k: _FullDisk(real_open(*a, **k), 100), raising=False)
    before = _snapshot(folder)
    out = folder / "out" / "p.csv"
    assert main([*PREDICT.format(d=folder).split(), "--out", str(out)]) == ERROR
    line = assert_one_error_line(capsys.readouterr().err, ERROR)
    assert "No space left on device" in line and repr(str(out)) in line
    assert _snapshot(folder) == before


def test_a_full_disk_while_predicting_to_parquet_names_the_output(folder, capsys, monkeypatch):
    def full(self, table, *args, **kwargs):
        raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full)
    before = _snapshot(folder)
    out = folder / "out" / "p.parquet"
    assert main([*PREDICT.format(d=folder).split(), "--out", str(out)]) == ERROR
    line = assert_one_error_line(capsys.readouterr().err, ERROR)
    assert "No space left on device" in line and repr(str(out)) in line
    assert _snapshot(folder) == before


# --------------------------------------------------------------------------- what now works instead
def test_predicting_a_folder_without_out_writes_csv_to_stdout(folder, capsys):
    assert main(["predict", str(folder / "model.safetensors"), str(folder / "parts")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "prediction,probability" and len(lines) == 61


def test_predicting_a_folder_to_a_csv_file_writes_csv(folder, capsys):
    out = folder / "out" / "p.csv"
    assert main(["predict", str(folder / "model.safetensors"), str(folder / "parts"), "--out", str(out),
                 "--proba"]) == 0
    assert "wrote 60 predictions" in capsys.readouterr().err
    with open(out) as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["prediction", "probability", "proba_no", "proba_yes"] and len(rows) == 60
    same = folder / "out" / "same.csv"
    assert main(["predict", str(folder / "model.safetensors"), str(folder / "data.csv"), "--out", str(same),
                 "--proba"]) == 0
    assert out.read_bytes() == same.read_bytes()


def test_refit_over_a_previous_model_is_allowed(folder, capsys):
    """Outputs may replace earlier outputs: only inputs and the command's other outputs are protected."""
    argv = FIT.format(d=folder).split()
    assert main(argv) == 0 and main(argv) == 0
    assert "wrote" in capsys.readouterr().out


def test_the_plot_files_guarded_are_the_ones_evaluate_writes(folder, capsys):
    from torchlogit.cli.evaluate import PLOT_NAMES

    plots = folder / "out" / "plots"
    assert main([*EVALUATE.format(d=folder).split(), "--plots", str(plots)]) == 0
    assert {p.stem for p in plots.iterdir()} <= set(PLOT_NAMES)
