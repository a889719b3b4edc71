"""Model files: exact round trip, and nothing is ever unpickled."""

import json
import pickle

import numpy as np
import pytest
from safetensors.numpy import save_file
from support.synthetic import make_classification_data

from torchlogit import LogisticRegression, ModelFileError
from torchlogit.serving.modelfile import load_model, read_metadata, save_model


@pytest.mark.parametrize(("n_classes", "labels"), [(2, None), (3, ["a", "b", "c"]), (2, [-1.0, 1.0])])
def test_round_trip_is_bit_for_bit(tmp_path, n_classes, labels):
    X, y, _ = make_classification_data(n=100, n_classes=n_classes)
    if labels is not None:
        y = np.array(labels)[y]
    est = LogisticRegression().fit(X, y)
    path = save_model(est, tmp_path / "m.safetensors", feature_names=["a", "b", "c", "d"])
    loaded = load_model(path)
    assert loaded.coef_.tobytes() == est.coef_.tobytes()
    assert loaded.intercept_.tobytes() == est.intercept_.tobytes()
    np.testing.assert_array_equal(loaded.classes_, est.classes_)
    assert loaded.classes_.dtype.kind == est.classes_.dtype.kind
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    assert loaded.get_params() == est.get_params()
    meta = read_metadata(path)
    assert meta["feature_names"] == ["a", "b", "c", "d"]
    assert meta["torchlogit_version"]


def test_pickle_file_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "executed"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(ModelFileError, match="not a torchlogit model"):
        load_model(path)
    assert not marker.exists()


def test_foreign_and_damaged_files_are_refused(tmp_path):
    other = tmp_path / "other.safetensors"
    save_file({"x": np.zeros(3)}, str(other))
    with pytest.raises(ModelFileError, match="not a torchlogit model"):
        load_model(other)
    est = LogisticRegression().fit(*make_classification_data(n=50)[:2])
    good = save_model(est, tmp_path / "good.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[:-10])
    with pytest.raises(ModelFileError):
        load_model(truncated)
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "missing.safetensors")


def test_newer_format_is_refused(tmp_path):
    est = LogisticRegression().fit(*make_classification_data(n=50)[:2])
    meta = json.loads(json.dumps({"format": "torchlogit-model", "format_version": 99}))
    path = tmp_path / "future.safetensors"
    save_file({"coef": est.coef_, "intercept": est.intercept_}, str(path),
              metadata={"torchlogit": json.dumps(meta)})
    with pytest.raises(ModelFileError, match="newer torchlogit"):
        load_model(path)
