"""Property-based tests of the model-file loader: whatever the bytes, a load gives the model that was
saved or a ModelFileError/ValueError/OSError; never another exception, never a different model.

Fast by default (a few dozen examples a test); ``HYPOTHESIS_PROFILE=long`` runs thousands.
"""

import json
import os
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.numpy import load_file
from safetensors.numpy import save_file as write_safetensors
from support.synthetic import make_classification_data

from torchlogit import LogisticRegression
from torchlogit._exceptions import ModelFileWarning
from torchlogit.serving.modelfile import load_model, save_model

settings.register_profile("modelfile-ci", max_examples=100, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("modelfile-long", max_examples=3000, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
PROFILE = settings.get_profile("modelfile-long" if os.environ.get("HYPOTHESIS_PROFILE") == "long"
                               else "modelfile-ci")
REFUSALS = (ValueError, OSError)  # ModelFileError is a ValueError

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children,
                                                                        max_size=4),
    max_leaves=10,
)
# every field of the metadata, a few labels and names, and a new one
FIELDS = ["format", "format_version", "torchlogit_version", "n_features", "feature_names",
          "feature_names.1", "estimator_has_feature_names", "classes", "classes.0", "classes.2",
          "label_type", "params", "params.C", "params.penalty", "params.fit_intercept", "params.dtype",
          "params.penalty_factor", "fit", "fit.solver", "fit.n_iter", "fit.converged", "fit.objective",
          "fit.grad_max", "fit.history", "fit.history.0", "extra", "checksum", "new"]


class _Saved(SimpleNamespace):
    def __repr__(self):  # hypothesis prints the arguments of a failing example
        return f"<saved model {self.path}>"


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A saved three-class model: its estimator, file, bytes, tensors and metadata."""
    folder = tmp_path_factory.mktemp("fuzz")
    X, y, _ = make_classification_data(n=60, n_classes=3, seed=5)
    original = LogisticRegression().fit(X, np.array(["ant", "bee", "cat"])[y])
    path = save_model(original, folder / "good.safetensors", feature_names=["a", "b", "c", "d"])
    with safe_open(str(path), framework="np") as handle:
        meta = json.loads(handle.metadata()["torchlogit"])
    return _Saved(X=X, original=original, path=path, folder=folder, bytes=path.read_bytes(),
                           tensors=load_file(str(path)), meta=meta)


def _load(good, data: bytes):
    """The model loaded from ``data``, or the refusal it raised (and no ModelFileWarning)."""
    path = good.folder / "mutant.safetensors"
    path.write_bytes(data)
    return _load_path(path, unchecked=False)


def _load_path(path, unchecked):
    """The model loaded from ``path``, or the refusal it raised; a ModelFileWarning (a file without
    checksum) must come exactly when ``unchecked``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ModelFileWarning)
        try:
            model = load_model(path)
        except REFUSALS as exc:
            return exc
    assert [w.category for w in caught] == ([ModelFileWarning] if unchecked else [])
    return model


def _assert_original(good, model):
    """``model`` is the saved one: coefficients bit for bit, labels, names and predictions."""
    original = good.original
    assert model.coef_.tobytes() == original.coef_.tobytes()
    assert model.intercept_.tobytes() == original.intercept_.tobytes()
    assert model.classes_.tolist() == original.classes_.tolist()
    assert model.n_features_in_ == original.n_features_in_
    assert model.get_params() == original.get_params()
    np.testing.assert_array_equal(model.predict_proba(good.X), original.predict_proba(good.X))


def _usable(model):
    """A model loaded from an edited file without checksum still predicts (no other exception)."""
    proba = model.predict_proba(np.zeros((2, model.n_features_in_)))
    assert proba.shape == (2, len(model.classes_)) and np.isfinite(proba).all()


@settings(PROFILE)
@given(data=st.binary(max_size=3000))
def test_random_bytes_are_refused(good, data):
    assert isinstance(_load(good, data), REFUSALS)


@settings(PROFILE)
@given(length=st.integers(0, 4000), data=st.binary(max_size=600))
def test_a_plausible_header_with_random_bytes_is_refused(good, length, data):
    assert isinstance(_load(good, length.to_bytes(8, "little") + data), REFUSALS)


@settings(PROFILE)
@given(bits=st.lists(st.integers(0, 1 << 30), min_size=1, max_size=3, unique=True))
def test_flipped_bits_are_refused_or_change_nothing(good, bits):
    data = bytearray(good.bytes)
    for bit in bits:
        bit %= len(data) * 8
        data[bit // 8] ^= 1 << (bit % 8)
    result = _load(good, bytes(data))
    if not isinstance(result, REFUSALS):
        _assert_original(good, result)  # e.g. a flip in the header's padding that JSON ignores


@settings(PROFILE)
@given(cut=st.integers(0, 1 << 30), insert=st.binary(max_size=20), truncate=st.booleans())
def test_truncated_or_spliced_files_are_refused_or_change_nothing(good, cut, insert, truncate):
    cut %= len(good.bytes)
    data = good.bytes[:cut] if truncate else good.bytes[:cut] + insert + good.bytes[cut:]
    result = _load(good, data)
    if not isinstance(result, REFUSALS):
        _assert_original(good, result)


def _edited(good, field, value, delete):
    meta = json.loads(json.dumps(good.meta))
    *parents, last = field.split(".")
    doc = meta
    for key in parents:
        doc = doc[int(key)] if isinstance(doc, list) else doc[key]
    if isinstance(doc, list):
        doc[int(last)] = value
    elif delete:
        doc.pop(last, None)
    else:
        doc[last] = value
    return meta


def _write(good, meta, tensors=None):
    path = good.folder / "edited.safetensors"
    write_safetensors(good.tensors if tensors is None else tensors, str(path),
                      metadata={"torchlogit": json.dumps(meta)})
    return path


@settings(PROFILE)
@given(field=st.sampled_from(FIELDS), value=JSON_VALUES, delete=st.booleans())
def test_header_edits_are_refused_by_the_checksum_or_change_nothing(good, field, value, delete):
    meta = _edited(good, field, value, delete)
    result = _load_path(_write(good, meta), unchecked="checksum" not in meta)
    if not isinstance(result, REFUSALS):
        assert meta == good.meta or "checksum" not in meta  # the same document, or no checksum left
        if meta == good.meta:
            _assert_original(good, result)
        else:
            _usable(result)


@settings(PROFILE)
@given(field=st.sampled_from(FIELDS), value=JSON_VALUES, delete=st.booleans())
def test_header_edits_of_a_file_without_checksum_load_only_when_valid(good, field, value, delete):
    meta = _edited(good, field, value, delete)
    meta.pop("checksum", None)
    result = _load_path(_write(good, meta), unchecked=True)
    if not isinstance(result, REFUSALS):
        _usable(result)


@settings(PROFILE)
@given(name=st.sampled_from(["coef", "intercept"]),
       dtype=st.sampled_from(["float16", "float32", "float64", "int64", "bool", "uint8"]),
       index=st.integers(0, 100), value=st.floats(allow_nan=True, allow_infinity=True))
def test_tensor_edits_are_refused_or_change_nothing(good, name, dtype, index, value):
    tensors = {key: array.copy() for key, array in good.tensors.items()}
    with np.errstate(all="ignore"):
        changed = tensors[name].astype(dtype).reshape(-1)
        changed[index % changed.size] = np.asarray(value).astype(dtype)
    tensors[name] = changed.reshape(tensors[name].shape)
    result = _load_path(_write(good, good.meta, tensors), unchecked=False)
    if not isinstance(result, REFUSALS):
        _assert_original(good, result)


def test_the_good_file_loads_unchanged(good):
    _assert_original(good, load_model(good.path))
