"""The command line: the demo, fit/predict round trips, and a clear one-line error for every bad input."""

import csv
import pickle

import numpy as np
import pytest
from support.synthetic import make_classification_data

from torchlogit.cli.main import main
from torchlogit.serving.modelfile import load_model


def _write_csv(path, X, y, names=None, target="label"):
    names = names or [f"f{j}" for j in range(X.shape[1])]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*names, target])
        for row, label in zip(X, y, strict=True):
            writer.writerow([*row, label])
    return path


@pytest.fixture
def data_csv(tmp_path):
    X, y, _ = make_classification_data(n=120, d=3, seed=1)
    return _write_csv(tmp_path / "data.csv", X, np.array(["no", "yes"])[y])


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_demo_writes_figures_and_classifies_the_new_point_as_red(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "classifies it as RED (class 0)" in text
    assert "test 1.000" in text
    assert _files(out) == ["boundary_test.png", "boundary_train.png", "loss.png", "new_point.png"]
    for png in out.iterdir():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_demo_with_the_tutorial_optimizer(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--solver", "adam", "--epochs", "200"]) == 0
    text = capsys.readouterr().out
    assert "epoch    200" in text and "test accuracy 1.000" in text
    assert "RED" in text


def test_fit_then_predict_round_trip(tmp_path, data_csv, capsys):
    model = tmp_path / "m.safetensors"
    assert main(["fit", str(data_csv), "--target", "label", "--out", str(model), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "solver newton" in text and "converged" in text and "test" in text
    preds = tmp_path / "p.csv"
    assert main(["predict", str(model), str(data_csv), "--out", str(preds)]) == 0
    with open(preds) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 120
    assert {r["prediction"] for r in rows} <= {"no", "yes"}
    est = load_model(model)
    with open(data_csv) as handle:
        X = np.array([[float(v) for v in r[:3]] for r in list(csv.reader(handle))[1:]])
    np.testing.assert_array_equal([r["prediction"] for r in rows], est.predict(X))
    np.testing.assert_allclose([float(r["probability"]) for r in rows], est.predict_proba(X).max(1),
                               rtol=1e-9)


def test_fit_multinomial_with_sgd_options(tmp_path, capsys):
    X, y, _ = make_classification_data(n=150, d=2, n_classes=3, seed=2)
    data = _write_csv(tmp_path / "three.csv", X, y)
    model = tmp_path / "m.safetensors"
    code = main(["fit", str(data), "--target", "label", "--out", str(model), "--solver", "adam",
                 "--epochs", "50", "--lr", "0.05", "--quiet"])
    assert code == 0
    assert "3 classes" in capsys.readouterr().out
    assert load_model(model).coef_.shape == (3, 2)


def test_predict_to_stdout(tmp_path, data_csv, capsys):
    model = tmp_path / "m.safetensors"
    main(["fit", str(data_csv), "--target", "label", "--out", str(model), "--quiet"])
    capsys.readouterr()
    assert main(["predict", str(model), str(data_csv)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "prediction,probability" and len(lines) == 121


def _bad_csv(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


BAD_FIT_INPUTS = {
    "missing file": (None, "no such file"),
    "empty file": ("", "is empty"),
    "header only": ("a,b,label\n", "no data rows"),
    "no target column": ("a,b,y\n1,2,0\n3,4,1\n", "no target column 'label'"),
    "non-numeric feature": ("a,b,label\n1,x,0\n3,y,1\n", "column 'b' is not numeric"),
    "NaN value": ("a,b,label\n1,nan,0\n3,4,1\n", "column 'b' has a missing value at data row 1"),
    "infinite value": ("a,b,label\n1,2,0\n3,inf,1\n", "column 'b' has a non-finite value"),
    "one class": ("a,b,label\n1,2,0\n3,4,0\n", "single class"),
}


@pytest.mark.parametrize("case", list(BAD_FIT_INPUTS))
def test_bad_fit_inputs_give_one_line_errors_and_no_output(tmp_path, capsys, case):
    text, message = BAD_FIT_INPUTS[case]
    data = tmp_path / "absent.csv" if text is None else _bad_csv(tmp_path, "bad.csv", text)
    before = set(_files(tmp_path))
    assert main(["fit", str(data), "--target", "label", "--out", str(tmp_path / "m.safetensors")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("torchlogit: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert set(_files(tmp_path)) == before  # no partial model file


def test_more_than_two_classes_are_fitted_as_multinomial(tmp_path, capsys):
    data = _bad_csv(tmp_path, "three.csv", "a,label\n1,0\n2,1\n3,2\n4,0\n5,1\n6,2\n7,0\n8,1\n9,2\n")
    assert main(["fit", str(data), "--target", "label", "--test-size", "0", "--quiet",
                 "--out", str(tmp_path / "m.safetensors")]) == 0
    assert "3 classes" in capsys.readouterr().out


def test_predict_with_missing_feature_columns(tmp_path, data_csv, capsys):
    model = tmp_path / "m.safetensors"
    main(["fit", str(data_csv), "--target", "label", "--out", str(model), "--quiet"])
    other = _bad_csv(tmp_path, "other.csv", "f0,zzz\n1,2\n")
    capsys.readouterr()
    assert main(["predict", str(model), str(other), "--out", str(tmp_path / "p.csv")]) == 1
    err = capsys.readouterr().err
    assert "lacks the model's feature columns ['f1', 'f2']" in err
    assert not (tmp_path / "p.csv").exists()


def test_corrupt_and_pickle_model_files_are_refused(tmp_path, data_csv, capsys):
    corrupt = _bad_csv(tmp_path, "corrupt.safetensors", "this is not a model")
    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps({"a": 1}))
    for path in (corrupt, evil, tmp_path / "absent.safetensors"):
        assert main(["predict", str(path), str(data_csv)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("torchlogit: error: ") and err.count("\n") == 1


def test_unwritable_output_is_a_clean_error(tmp_path, data_csv, capsys):
    code = main(["fit", str(data_csv), "--target", "label", "--out",
                 str(tmp_path / "no-such-folder" / "m.safetensors"), "--quiet"])
    assert code == 1
    assert "does not exist" in capsys.readouterr().err


def test_separation_warning_is_printed_for_unpenalised_fit(tmp_path, capsys):
    from torchlogit.tutorial.datasets import make_demo_data

    X, y = make_demo_data(n_samples=100)
    data = _write_csv(tmp_path / "sep.csv", X, y)
    assert main(["fit", str(data), "--target", "label", "--penalty", "none", "--quiet",
                 "--out", str(tmp_path / "m.safetensors")]) == 0
    assert "warning: The maximum-likelihood estimate does not exist" in capsys.readouterr().err


def test_fit_summary_matches_statsmodels_and_writes_json(tmp_path, capsys):
    import json

    import statsmodels.api as sm

    X, y, _ = make_classification_data(n=300, d=2, seed=3)
    groups = np.arange(300) % 15
    data = tmp_path / "s.csv"
    with open(data, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["age", "dose", "clinic", "label"])
        for row, g, label in zip(X, groups, y, strict=True):
            writer.writerow([*row, f"c{g}", label])
    model = tmp_path / "m.safetensors"
    code = main(["fit", str(data), "--target", "label", "--penalty", "none", "--summary",
                 "--cov", "cluster:clinic", "--test-size", "0", "--out", str(model), "--quiet"])
    assert code == 0
    text = capsys.readouterr().out
    assert "Logit Regression Results" in text and "age" in text and "clinic" not in text.split("coef")[1]
    saved = json.loads((tmp_path / "m.safetensors.summary.json").read_text())
    reference = sm.Logit(y, sm.add_constant(X)).fit(disp=0, cov_type="cluster",
                                                     cov_kwds={"groups": groups})
    rows = {row["term"]: row for row in saved["coefficients"]}
    assert list(rows) == ["const", "age", "dose"]
    np.testing.assert_allclose([rows[t]["std_err"] for t in rows], reference.bse, rtol=1e-6)
    np.testing.assert_allclose(saved["llf"], reference.llf, rtol=1e-9)
    est = load_model(model)
    np.testing.assert_allclose(est.coef_[0], reference.params[1:], rtol=1e-6)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--summary"], "needs --penalty none"),
        (["--firth"], "go with --summary"),
        (["--summary", "--penalty", "none", "--cov", "sandwich"], "--cov must be"),
        (["--summary", "--firth", "--cov", "HC1"], "does not apply to --firth"),
    ],
)
def test_fit_summary_option_errors(tmp_path, data_csv, capsys, extra, message):
    assert main(["fit", str(data_csv), "--target", "label", "--quiet",
                 "--out", str(tmp_path / "m.safetensors"), *extra]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.safetensors").exists()


def test_fit_firth_summary_on_separated_data(tmp_path, capsys):
    from torchlogit.tutorial.datasets import make_demo_data

    X, y = make_demo_data(n_samples=100)
    data = _write_csv(tmp_path / "sep.csv", X, y)
    assert main(["fit", str(data), "--target", "label", "--firth", "--summary", "--test-size", "0",
                 "--quiet", "--out", str(tmp_path / "m.safetensors")]) == 0
    assert "Firth Logistic Regression Results" in capsys.readouterr().out
    est = load_model(tmp_path / "m.safetensors")
    assert np.all(np.isfinite(est.coef_)) and est.solver_ == "firth"
