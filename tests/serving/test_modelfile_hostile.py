"""Hostile and damaged model files: every one is a ModelFileError naming the file and the field.

Each damaged file is written from a valid one with its metadata edited and its checksum
recomputed (as the module's docstring defines it), so what refuses it is the schema, not the
checksum; the checksum itself is tested on files changed after they were written.
"""

import errno
import hashlib
import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from safetensors.numpy import load_file
from safetensors.numpy import save_file as write_safetensors
from support.synthetic import make_classification_data

from torchlogit import LogisticRegression, ModelFileError
from torchlogit._exceptions import ModelFileWarning
from torchlogit.serving.modelfile import load_model, read_metadata, save_model


@pytest.fixture(scope="module")
def fitted():
    X, y, _ = make_classification_data(n=80, n_classes=2, seed=3)
    return X, LogisticRegression().fit(X, y)


@pytest.fixture
def good(tmp_path, fitted):
    return save_model(fitted[1], tmp_path / "good.safetensors", feature_names=["a", "b", "c", "d"])


def _contents(path):
    """The tensors (numpy) and the metadata document of a model file."""
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as handle:
        meta = json.loads(handle.metadata()["torchlogit"])
    return load_file(str(path)), meta


def _checksum(meta, tensors):
    """The checksum as the docstring of torchlogit.serving.modelfile defines it."""
    digest = hashlib.sha256(b"torchlogit-model\0")
    body = {k: v for k, v in meta.items() if k != "checksum"}
    digest.update(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name], dtype=tensors[name].dtype.newbyteorder("<"))
        digest.update(f"\0{name}\0{array.dtype.name}\0{list(array.shape)}\0".encode() + array.tobytes())
    return "sha256:" + digest.hexdigest()


def _rewrite(source, target, edit=None, tensors=None, checksum="recompute", text=None):
    """``source`` with its metadata edited (``edit(meta)``), tensors replaced, the checksum
    recomputed, dropped or kept as it was, or the metadata replaced by ``text`` outright."""
    saved, meta = _contents(source)
    tensors = saved if tensors is None else tensors
    if edit is not None:
        edit(meta)
    if checksum == "drop":
        del meta["checksum"]
    elif checksum == "recompute":
        meta["checksum"] = _checksum(meta, tensors)
    write_safetensors(tensors, str(target), metadata={"torchlogit": text or json.dumps(meta)})
    return target


def _set(field, value):
    def edit(meta):
        *parents, last = field.split(".")
        doc = meta
        for key in parents:
            doc = doc[key]
        doc[last] = value
    return edit


SCHEMA_CASES = [
    ("fit", {}, r"metadata field 'fit\.solver' is missing"),
    ("params", "C=1", r"'params' must be an object, not a string"),
    ("params", None, r"'params' must be an object, not null"),
    ("params", {"penalty_factor": [[1.0]]}, r"'params\.penalty_factor' must be a scalar or an array"),
    ("fit.n_iter", -5036949127090991, r"'fit\.n_iter' must lie in \[0, 2147483647\], got -5036949127090991"),
    ("fit.n_iter", 1.5, r"'fit\.n_iter' must be an integer, not a number"),
    ("fit.converged", "yes", r"'fit\.converged' must be a boolean, not a string"),
    ("fit.objective", 10**400, r"'fit\.objective' is out of range"),
    ("fit.history", [[1.0]], r"'fit\.history\[0\]' must be an object of numbers or nulls"),
    ("fit.history", "none", r"'fit\.history' must be an array"),
    ("label_type", [], r"'label_type' must be a string, not an array"),
    ("label_type", "complex", r"'label_type' must be one of \['bool', 'float', 'int', 'str'\]"),
    ("classes", None, r"'classes' must be an array, not null"),
    ("classes", [1], r"'classes' must hold at least 2 labels, got 1"),
    ("classes", [1, 1], r"'classes' repeats 1"),
    ("classes", [1, 0], r"'classes' must be sorted \(1 before 0\)"),
    ("classes", [0, [1]], r"'classes\[1\]' must be of label_type 'int', not an array"),
    ("classes", [0, 10**30], r"'classes\[1\]' is outside int64"),
    ("n_features", 4.0, r"'n_features' must be an integer, not a number"),
    ("n_features", 0, r"'n_features' must lie in \[1, "),
    ("n_features", True, r"'n_features' must be an integer, not a boolean"),
    ("feature_names", ["a", "b", "c"], r"'feature_names' holds 3 names for n_features = 4"),
    ("feature_names", ["a", "b", "a", "d"], r"'feature_names' repeats \['a'\]"),
    ("feature_names", ["a", "b", 3, "d"], r"'feature_names\[2\]' must be a string, not an integer"),
    ("feature_names", "abcd", r"'feature_names' must be an array of strings or null, not a string"),
    ("estimator_has_feature_names", 1, r"'estimator_has_feature_names' must be a boolean"),
    ("torchlogit_version", None, r"'torchlogit_version' must be a string, not null"),
    ("extra", [], r"'extra' must be an object, not an array"),
    ("format_version", 0, r"'format_version' must be at least 1, got 0"),
]


@pytest.mark.parametrize(("field", "value", "message"), SCHEMA_CASES)
def test_metadata_that_breaks_the_schema_is_refused_naming_the_field(good, tmp_path, field, value, message):
    bad = _rewrite(good, tmp_path / "bad.safetensors", _set(field, value))
    damaged = r"bad\.safetensors' is a damaged torchlogit model file: .*"
    with pytest.raises(ModelFileError, match=damaged + message):
        load_model(bad)
    with pytest.raises(ModelFileError, match=message):
        read_metadata(bad)


def test_missing_fields_are_named(good, tmp_path):
    for field in ("n_features", "classes", "params", "fit", "label_type", "torchlogit_version"):
        bad = _rewrite(good, tmp_path / "bad.safetensors", lambda meta, f=field: meta.pop(f))
        with pytest.raises(ModelFileError, match=f"metadata field '{field}' is missing"):
            load_model(bad)


def test_label_types_must_match_the_classes(tmp_path):
    X, y, _ = make_classification_data(n=60, seed=2)
    words = save_model(LogisticRegression().fit(X, np.array(["no", "yes"])[y]), tmp_path / "w.safetensors")
    bad = _rewrite(words, tmp_path / "bad.safetensors", _set("label_type", "bool"))
    with pytest.raises(ModelFileError, match=r"'classes\[0\]' must be of label_type 'bool', not a string"):
        load_model(bad)  # it loaded as [True, True]
    floats = save_model(LogisticRegression().fit(X, np.array([-1.0, 1.0])[y]), tmp_path / "f.safetensors")
    for classes, message in (([math.nan, 1.0], r"'classes\[0\]' must be finite, got nan"),
                             ([1.0, 1.0], r"'classes' repeats 1\.0"),
                             ([-1, 1], r"'classes\[0\]' must be of label_type 'float', not an integer")):
        bad = _rewrite(floats, tmp_path / "bad.safetensors", _set("classes", classes))
        with pytest.raises(ModelFileError, match=message):
            load_model(bad)


def test_metadata_that_is_not_an_object_or_not_json_is_refused(good, tmp_path):
    cases = [("[1, 2, 3]", r"its metadata is an array, not a JSON object"),
             ('"torchlogit-model"', r"its metadata is a string"),
             ("{not json", r"is a safetensors file but not a torchlogit model"),
             ('{"format": "torchlogit-model", "format_version": ' + "9" * 5000 + "}",
              r"is a safetensors file but not a torchlogit model"),
             ('{"format": "torchlogit-model", "format_version": true}', r"is not a torchlogit model file")]
    for text, message in cases:
        bad = _rewrite(good, tmp_path / "bad.safetensors", text=text)
        with pytest.raises(ModelFileError, match=message):
            load_model(bad)


@pytest.mark.parametrize("levels", [33, 2_000, 100_000])
def test_deeply_nested_metadata_is_refused_without_a_recursion_error(good, tmp_path, levels):
    _, meta = _contents(good)
    text = json.dumps(meta)[:-1] + ', "extra": ' + "[" * levels + "]" * levels + "}"
    bad = _rewrite(good, tmp_path / "bad.safetensors", text=text)
    with pytest.raises(ModelFileError, match=r"metadata is nested more than 32 levels deep"):
        load_model(bad)
    bad = _rewrite(good, tmp_path / "bad.safetensors", text="[" * levels + "]" * levels)
    with pytest.raises(ModelFileError, match=r"nested more than 32 levels deep|is an array"):
        load_model(bad)


@pytest.mark.parametrize(("dtype", "name"),
                         [(np.float16, "float16"), (np.int64, "int64"), (np.bool_, "bool")])
def test_coefficients_other_than_float32_or_float64_are_refused(good, tmp_path, dtype, name):
    tensors, _ = _contents(good)
    tensors = {"coef": tensors["coef"].astype(dtype), "intercept": tensors["intercept"].astype(dtype)}
    bad = _rewrite(good, tmp_path / "bad.safetensors", tensors=tensors)
    with pytest.raises(ModelFileError, match=f"tensor 'coef' is {name}, not float32 or float64"):
        load_model(bad)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_coefficients_are_refused(good, tmp_path, value):
    tensors, _ = _contents(good)
    tensors["intercept"][0] = value
    bad = _rewrite(good, tmp_path / "bad.safetensors", tensors=tensors)
    with pytest.raises(ModelFileError, match="tensor 'intercept' holds non-finite values"):
        load_model(bad)


def test_tensors_that_do_not_fit_the_metadata_are_refused(good, tmp_path):
    tensors, _ = _contents(good)
    cases = [({**tensors, "coef": tensors["coef"][:, :3].copy()}, "tensor shapes do not match the metadata"),
             ({"coef": tensors["coef"]}, r"holds the tensors \['coef'\], not \['coef', 'intercept'\]"),
             ({**tensors, "x": tensors["intercept"]}, "holds the tensors"),
             ({**tensors, "intercept": tensors["intercept"].astype(np.float32)}, "tensor 'intercept' is")]
    for replaced, message in cases:
        bad = _rewrite(good, tmp_path / "bad.safetensors", tensors=replaced)
        with pytest.raises(ModelFileError, match=message):
            load_model(bad)
    bad = _rewrite(good, tmp_path / "bad.safetensors", _set("classes", [0, 1, 2]))
    with pytest.raises(ModelFileError, match=r"coef \(1, 4\) and intercept \(1,\), expected \(3, 4\)"):
        load_model(bad)


def test_a_flipped_bit_in_a_coefficient_is_caught_by_the_checksum(good, tmp_path, fitted):
    raw = bytearray(good.read_bytes())
    header_len = int.from_bytes(raw[:8], "little")
    offset = 8 + header_len + json.loads(raw[8:8 + header_len])["coef"]["data_offsets"][0]
    raw[offset] ^= 1  # the last bit of the first coefficient's mantissa: still finite, slightly off
    flipped = tmp_path / "flipped.safetensors"
    flipped.write_bytes(bytes(raw))
    assert np.isfinite(_contents(flipped)[0]["coef"]).all()
    with pytest.raises(ModelFileError, match=r"flipped\.safetensors' is a damaged .*checksum does not match"):
        load_model(flipped)


def test_metadata_edited_after_saving_is_caught_by_the_checksum(good, tmp_path):
    for edit in (_set("extra", {"note": "edited"}), _set("params.C", 2.0), _set("fit.n_iter", 1)):
        bad = _rewrite(good, tmp_path / "bad.safetensors", edit, checksum="keep")
        with pytest.raises(ModelFileError, match="checksum does not match"):
            load_model(bad)
    for value in ("md5:abc", None):
        bad = _rewrite(good, tmp_path / "bad.safetensors", _set("checksum", value), checksum="keep")
        with pytest.raises(ModelFileError, match=r"'checksum' must be 'sha256:' and 64 hex digits"):
            load_model(bad)


def test_a_damaged_checksum_field_name_is_not_taken_for_an_older_file(good, tmp_path):
    def rename(meta):  # one flipped bit in the key: 'checksum' -> 'checksue'
        meta["checksue"] = meta.pop("checksum")
        meta["classes"] = [0, 3]  # and the labels changed

    bad = _rewrite(good, tmp_path / "bad.safetensors", rename, checksum="keep")
    with pytest.raises(ModelFileError, match=r"has no checksum but fields no earlier torchlogit wrote: "
                                             r"\['checksue'\]"):
        load_model(bad)


def test_a_saved_file_carries_the_documented_checksum(good):
    tensors, meta = _contents(good)
    assert meta["checksum"] == _checksum(meta, tensors)


def test_a_file_without_checksum_loads_with_a_warning(good, tmp_path, fitted):
    X, est = fitted
    old = _rewrite(good, tmp_path / "old.safetensors", checksum="drop")
    with pytest.warns(ModelFileWarning, match=r"old\.safetensors' has no checksum"):
        loaded = load_model(old)
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    assert issubclass(ModelFileWarning, UserWarning)
    assert issubclass(ModelFileError, ValueError)


def test_a_model_that_cannot_be_read_back_is_not_saved(tmp_path, fitted):
    X, _ = fitted
    broken = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    broken.coef_ = broken.coef_.copy()
    broken.coef_[0, 1] = np.nan
    with pytest.raises(ValueError, match=r"cannot save the model to .*tensor 'coef' holds non-finite"):
        save_model(broken, tmp_path / "nan.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_extra_nested_too_deeply_is_not_saved(tmp_path, fitted):
    deep = {}
    for _ in range(40):
        deep = {"level": deep}
    with pytest.raises(ValueError, match=r"cannot save the model to .*nested more than 32 levels deep"):
        save_model(fitted[1], tmp_path / "deep.safetensors", extra=deep)
    assert list(tmp_path.iterdir()) == []


def test_object_labels_keep_their_type_and_mixed_ones_are_refused(tmp_path, fitted):
    X, _ = fitted
    est = LogisticRegression().fit(X, np.where(X[:, 0] > 0, 7, 3))
    est.classes_ = est.classes_.astype(object)  # e.g. labels from a pandas object column
    loaded = load_model(save_model(est, tmp_path / "obj.safetensors"))
    assert loaded.classes_.tolist() == [3, 7] and loaded.classes_.dtype.kind == "i"  # were '3', '7'
    est.classes_ = np.array([3, "seven"], dtype=object)
    with pytest.raises(ValueError, match="class labels must be all booleans, all integers"):
        save_model(est, tmp_path / "mixed.safetensors")
    assert not (tmp_path / "mixed.safetensors").exists()


def test_a_full_disk_is_an_oserror_naming_the_model_and_leaves_the_old_file(tmp_path, fitted, monkeypatch):
    target = save_model(fitted[1], tmp_path / "m.safetensors")
    before = target.read_bytes()
    real_write = os.write
    calls = []

    def full_disk(fd, data):  # a partial write, then ENOSPC, as write(2) does on a full disk
        calls.append(fd)
        if len(calls) == 1:
            return real_write(fd, bytes(data[:100]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(OSError, match=r"No space left on device: '.*m\.safetensors'") as info:
        save_model(fitted[1], target)
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    assert len(calls) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]  # no temporary file
    assert target.read_bytes() == before


def test_cli_fit_on_a_full_disk_prints_one_line_and_leaves_no_file(tmp_path):
    X, y, _ = make_classification_data(n=60, d=3, seed=1)
    data = tmp_path / "data.csv"
    rows = ["f0,f1,f2,y"] + [",".join([*map(str, x), str(t)]) for x, t in zip(X, y, strict=True)]
    data.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out" / "m.safetensors"
    out.parent.mkdir()
    # the kernel refuses writes past 512 bytes (EFBIG, as ENOSPC on a full disk): a real write error
    script = textwrap.dedent(f"""
        import resource, signal, sys
        from torchlogit.cli.main import main
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (512, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        sys.exit(main(["fit", {str(data)!r}, "--target", "y", "--out", {str(out)!r}, "--quiet"]))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "File too large" in lines[0] and str(out) in lines[0], run.stderr
    assert list(out.parent.iterdir()) == []
