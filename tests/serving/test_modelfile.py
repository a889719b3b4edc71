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


def test_the_history_is_stored_compactly_as_float32_tensors(tmp_path):
    """A 1000-epoch SGD fit of 4 coefficients: format 1's JSON history made a 125 KB file."""
    from safetensors import safe_open

    X, y, _ = make_classification_data(n=200, seed=3)
    from torchlogit import ConvergenceWarning

    with pytest.warns(ConvergenceWarning):  # SGD stops at max_iter, short of tol
        est = LogisticRegression(solver="sgd", max_iter=1000, learning_rate=0.1, random_state=0).fit(X, y)
    assert len(est.history_) > 900
    path = save_model(est, tmp_path / "m.safetensors")
    assert path.stat().st_size < 16 * 1024  # 2 x 4 bytes per epoch, and the metadata
    with safe_open(str(path), framework="np") as handle:
        objective = handle.get_tensor("history.objective")
        meta = json.loads(handle.metadata()["torchlogit"])
    assert objective.dtype == np.float32 and len(objective) == len(est.history_)
    assert len(meta["fit"]["history"]) == 2  # the first and last steps, for readers of the metadata
    loaded = load_model(path)
    expected = [{k: float(np.float32(v)) for k, v in step.items()} for step in est.history_]
    assert loaded.history_ == expected  # every step, to float32 precision


def _format_1_file(path, est, penalty):
    """A model file as torchlogit wrote it before format 2: the history as JSON, ``penalty`` a parameter."""
    from torchlogit.serving.modelfile import _checksum

    tensors = {"coef": est.coef_, "intercept": est.intercept_}
    params = {k: v for k, v in est.get_params().items() if k not in ("penalty", "l1_ratio", "C")}
    params.update(penalty=penalty, C=1.0, l1_ratio=None)
    meta = {"format": "torchlogit-model", "format_version": 1, "torchlogit_version": "0.0.9",
            "n_features": est.n_features_in_, "feature_names": None, "estimator_has_feature_names": False,
            "classes": est.classes_.tolist(), "label_type": "int", "params": params,
            "fit": {"solver": "newton", "n_iter": 3, "converged": True, "objective": 0.5, "grad_max": 1e-9,
                    "history": [{"objective": 0.69, "grad_max": 0.3}, {"objective": 0.5, "grad_max": None}]},
            "extra": {}}
    import torch

    meta["checksum"] = _checksum(meta, {k: torch.from_numpy(v) for k, v in tensors.items()})
    save_file(tensors, str(path), metadata={"torchlogit": json.dumps(meta)})
    return path


@pytest.mark.parametrize(("penalty", "C", "l1_ratio"),
                         [("l2", 1.0, 0.0), (None, np.inf, 0.0), ("l1", 1.0, 1.0)])
def test_format_1_files_still_load_without_a_warning(tmp_path, recwarn, penalty, C, l1_ratio):
    X, y, _ = make_classification_data(n=100)
    est = LogisticRegression().fit(X, y)
    loaded = load_model(_format_1_file(tmp_path / "old.safetensors", est, penalty))
    assert [w.category.__name__ for w in recwarn] == []  # no FutureWarning about 'penalty'
    assert loaded.history_[0] == {"objective": 0.69, "grad_max": 0.3}
    assert loaded.history_[1]["objective"] == 0.5 and np.isnan(loaded.history_[1]["grad_max"])
    assert loaded.C == C and loaded.l1_ratio == l1_ratio
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))


def test_history_tensors_in_a_format_1_file_are_refused(tmp_path):
    X, y, _ = make_classification_data(n=100)
    est = LogisticRegression().fit(X, y)
    path = save_model(est, tmp_path / "m.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as handle:
        meta = json.loads(handle.metadata()["torchlogit"])
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    meta["format_version"] = 1
    meta.pop("checksum")
    save_file(tensors, str(path), metadata={"torchlogit": json.dumps(meta)})
    with pytest.raises(ModelFileError, match="holds the tensors"):
        load_model(path)
