"""Export: ONNX (under onnxruntime), TorchScript and torch.export outputs match torchlogit's; to_sklearn."""

import json
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from support.synthetic import make_classification_data

from torchlogit import LogisticRegression, LogisticRegressionCV
from torchlogit.cli.main import main
from torchlogit.serving.export import export_onnx, export_program, export_torchscript, to_sklearn


@pytest.fixture(scope="module")
def binary():
    """Integer labels (3, 7): the ONNX 'label' output holds the class values themselves."""
    X, y, _ = make_classification_data(n=200, d=3, seed=11)
    return LogisticRegression().fit(X, np.array([3, 7])[y]), X


@pytest.fixture(scope="module")
def three():
    """Text labels: the 'label' output holds the class index."""
    X, y, _ = make_classification_data(n=300, d=4, n_classes=3, seed=12)
    return LogisticRegression(C=0.5).fit(X, np.array(["ant", "bee", "cat"])[y]), X


def _inputs(d, n=64, seed=0):
    """Random rows well outside the training range too (probabilities near 0 and 1)."""
    return np.random.default_rng(seed).normal(scale=4.0, size=(n, d))


def _expected_label(est, X):
    pred = est.predict(X)
    return pred if est.classes_.dtype.kind in "iub" else np.searchsorted(est.classes_, pred)


@pytest.mark.parametrize("which", ["binary", "three"])
def test_onnx_outputs_match_torchlogit_under_onnxruntime(which, request, tmp_path):
    pytest.importorskip("onnxscript")
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    est, X = request.getfixturevalue(which)
    path = export_onnx(est, tmp_path / "model.onnx", feature_names=[f"f{j}" for j in range(X.shape[1])])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["features"]
    assert [o.name for o in session.get_outputs()] == ["probabilities", "label"]
    for n in (1, 64):  # the row dimension is dynamic
        Xn = _inputs(X.shape[1], n)
        proba, label = session.run(None, {"features": Xn})
        np.testing.assert_allclose(proba, est.predict_proba(Xn), rtol=0, atol=1e-6)
        np.testing.assert_array_equal(label, _expected_label(est, Xn))
    meta = json.loads({p.key: p.value for p in onnx.load(str(path)).metadata_props}["torchlogit"])
    assert meta["classes"] == est.classes_.tolist()
    assert meta["label"] == ("class value" if which == "binary" else "class index")
    assert meta["feature_names"] == [f"f{j}" for j in range(X.shape[1])]


@pytest.mark.parametrize("which", ["binary", "three"])
def test_torchscript_and_torch_export_outputs_match(which, request, tmp_path):
    est, X = request.getfixturevalue(which)
    Xn = _inputs(X.shape[1])
    ts = export_torchscript(est, tmp_path / "model.ts")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)  # torch deprecates TorchScript
        extra = {"torchlogit.json": ""}
        scripted = torch.jit.load(str(ts), _extra_files=extra)
    program = torch.export.load(export_program(est, tmp_path / "model.pt2")).module()
    for module in (scripted, program):
        proba, label = module(torch.from_numpy(Xn))
        np.testing.assert_allclose(proba.numpy(), est.predict_proba(Xn), rtol=0, atol=1e-6)
        np.testing.assert_array_equal(label.numpy(), _expected_label(est, Xn))
    assert json.loads(extra["torchlogit.json"])["classes"] == est.classes_.tolist()


def test_float32_export(binary, tmp_path):
    est, X = binary
    program = torch.export.load(export_program(est, tmp_path / "m.pt2", dtype="float32")).module()
    Xn = _inputs(X.shape[1])
    proba, _ = program(torch.from_numpy(Xn.astype(np.float32)))
    assert proba.dtype == torch.float32
    np.testing.assert_allclose(proba.numpy(), est.predict_proba(Xn), atol=1e-5)
    with pytest.raises(ValueError, match="dtype"):
        export_program(est, tmp_path / "x.pt2", dtype="float16")


@pytest.mark.parametrize("which", ["binary", "three"])
def test_to_sklearn_predicts_the_same_and_refits_to_the_same_objective(which, request):
    from sklearn.linear_model import LogisticRegression as SklearnLR

    est, X = request.getfixturevalue(which)
    sk = to_sklearn(est)
    assert isinstance(sk, SklearnLR)
    assert sk.coef_.shape == (1 if which == "binary" else 3, X.shape[1])  # scikit-learn's convention
    Xn = _inputs(X.shape[1])
    np.testing.assert_array_equal(sk.classes_, est.classes_)
    np.testing.assert_array_equal(sk.predict(Xn), est.predict(Xn))
    np.testing.assert_allclose(sk.predict_proba(Xn), est.predict_proba(Xn), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sk.decision_function(Xn), est.decision_function(Xn), rtol=1e-12)
    y = est.predict(X)  # any labels: both fit the same objective with the copied C
    refit = clone(sk).set_params(tol=1e-10, max_iter=1000).fit(X, y)
    ours = clone(est).fit(X, y)
    np.testing.assert_allclose(refit.coef_, ours.coef_, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("penalty", ["l2", "elasticnet"])
def test_to_sklearn_converts_a_cross_validated_model_at_its_chosen_c(penalty):
    X, y, _ = make_classification_data(n=200, d=3, seed=13)
    l1_ratio = 0.5 if penalty == "elasticnet" else 0.0
    cv = LogisticRegressionCV(Cs=[0.003, 0.03, 0.3, 3.0], cv=3, l1_ratios=(l1_ratio,), solver="auto",
                              scoring="neg_log_loss", use_legacy_attributes=False).fit(X, y)
    assert cv.C_ != 1.0  # scikit-learn's default C: the conversion must carry the chosen one
    sk = to_sklearn(cv)
    assert sk.C == cv.C_ and sk.l1_ratio == (0.5 if penalty == "elasticnet" else 0.0)
    assert sk.solver == ("saga" if penalty == "elasticnet" else "lbfgs")
    Xn = _inputs(X.shape[1])
    np.testing.assert_allclose(sk.predict_proba(Xn), cv.predict_proba(Xn), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(sk.predict(Xn), cv.predict(Xn))
    if penalty == "l2":  # refitting at the chosen C fits the same objective (saga is too slow to compare)
        refit = clone(sk).set_params(tol=1e-10, max_iter=1000).fit(X, y)
        np.testing.assert_allclose(refit.coef_, cv.coef_, rtol=1e-5, atol=1e-6)


def test_cli_export_and_a_clean_error_for_an_unwritable_path(binary, tmp_path, capsys):
    from torchlogit.serving.modelfile import save_model

    est, _ = binary
    model = save_model(est, tmp_path / "m.safetensors", feature_names=["a", "b", "c"])
    out = tmp_path / "m.ts"
    assert main(["export", str(model), "--format", "torchscript", "--out", str(out)]) == 0
    assert "input 'features' (float64, rows x 3: a, b, c)" in capsys.readouterr().out
    assert out.stat().st_size > 1000
    before = sorted(p.name for p in tmp_path.iterdir())
    for bad in (tmp_path / "no-such-folder" / "m.onnx", tmp_path):
        assert main(["export", str(model), "--format", "pt2", "--out", str(bad)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("torchlogit: error: ") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before
