"""``fit`` says which columns it uses, fits in memory with --features/--exclude/--weight and the
split, prints the coefficients, and takes class weights; checked against scikit-learn."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.model_selection import train_test_split

from torchlogit.cli.main import main
from torchlogit.serving.modelfile import load_model, read_metadata


@pytest.fixture
def table(tmp_path):
    """id (1..n), a, b, w (weights), y in {no, yes}: a file with an id and a weight column."""
    rng = np.random.default_rng(11)
    n = 200
    a, b = rng.normal(size=n), rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, size=n)
    y = np.where(a - 0.5 * b + rng.normal(size=n) > 0, "yes", "no")
    path = tmp_path / "t.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "a", "b", "w", "y"])
        writer.writerows(zip(range(1, n + 1), a, b, w, y, strict=True))
    return path, np.column_stack([a, b]), w, y


def _sklearn(X, y, **options):
    return SkLogisticRegression(C=1.0, tol=1e-12, max_iter=10_000, **options).fit(X, y)


def test_exclude_and_weight_fit_in_memory_with_the_split_as_scikit_learn(table, tmp_path, capsys):
    path, X, w, y = table
    model = tmp_path / "m.safetensors"
    assert main(["fit", str(path), "--target", "y", "--exclude", "id", "--weight", "w", "--test-size", "0.25",
                 "--quiet", "--tol", "1e-12", "--out", str(model)]) == 0
    text = capsys.readouterr().out
    assert "features (2): a, b" in text and "weight w" in text and "not used: id" in text
    assert "test" in text and "(50 held-out rows)" in text  # in memory: the split is kept
    train, _ = train_test_split(np.arange(len(y)), test_size=0.25, random_state=42)
    reference = SkLogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(X[train], y[train],
                                                                           sample_weight=w[train])
    fitted = load_model(model)
    assert read_metadata(model)["feature_names"] == ["a", "b"]
    np.testing.assert_allclose(fitted.coef_, reference.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(fitted.intercept_, reference.intercept_, rtol=1e-6, atol=1e-9)


def test_features_choose_and_order_the_columns(table, tmp_path, capsys):
    path, X, _, y = table
    model = tmp_path / "m.safetensors"
    assert main(["fit", str(path), "--target", "y", "--features", "b,a", "--test-size", "0", "--quiet",
                 "--tol", "1e-12", "--out", str(model)]) == 0
    assert "features (2): b, a" in capsys.readouterr().out
    reference = _sklearn(X[:, ::-1], y)
    np.testing.assert_allclose(load_model(model).coef_, reference.coef_, rtol=1e-6, atol=1e-9)


def test_a_default_fit_names_every_column_it_uses_warns_about_an_id_and_prints_coefficients(
        table, tmp_path, capsys):
    path, X, w, y = table
    assert main(["fit", str(path), "--target", "y", "--test-size", "0", "--quiet", "--tol", "1e-12",
                 "--out", str(tmp_path / "m.safetensors")]) == 0
    captured = capsys.readouterr()
    assert "features (4): id, a, b, w" in captured.out and "weight none" in captured.out
    assert "feature 'id' holds a different whole number on every row" in captured.err
    reference = _sklearn(np.column_stack([np.arange(1, len(y) + 1), X, w]), y)
    rows = {line.split()[0]: line.split()[1:] for line in captured.out.splitlines()
            if line.split() and line.split()[0] in ("intercept", "id", "a", "b", "w")}
    assert float(rows["intercept"][0]) == pytest.approx(reference.intercept_[0], rel=1e-3)
    for name, coef in zip(["id", "a", "b", "w"], reference.coef_[0], strict=True):
        printed, odds = map(float, rows[name])
        assert printed == pytest.approx(coef, rel=1e-3, abs=1e-6)
        assert odds == pytest.approx(math.exp(coef), rel=1e-3)


def test_a_wide_model_prints_no_coefficient_table(tmp_path, capsys):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 31))
    y = (X[:, 0] > 0).astype(int)
    path = tmp_path / "wide.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*(f"f{j}" for j in range(31)), "y"])
        writer.writerows([*row, label] for row, label in zip(X, y, strict=True))
    assert main(["fit", str(path), "--target", "y", "--quiet", "--out", str(tmp_path / "m.safetensors")]) == 0
    text = capsys.readouterr().out
    assert "features (31): f0, f1, f2, f3, f4, f5, f6, f7, ... (21 more), f29, f30" in text
    assert "Coefficients" not in text


@pytest.mark.parametrize(("option", "reference"),
                         [("balanced", "balanced"), ('{"yes": 3}', {"yes": 3, "no": 1})])
def test_class_weight_as_scikit_learn(table, tmp_path, capsys, option, reference):
    path, X, _, y = table
    model = tmp_path / "m.safetensors"
    assert main(["fit", str(path), "--target", "y", "--features", "a,b", "--test-size", "0", "--quiet",
                 "--tol", "1e-12", "--class-weight", option, "--out", str(model)]) == 0
    expected = _sklearn(X, y, class_weight=reference)
    np.testing.assert_allclose(load_model(model).coef_, expected.coef_, rtol=1e-6, atol=1e-9)


def test_class_weight_keys_match_numeric_labels(tmp_path, capsys):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(100, 2))
    y = (X[:, 0] + rng.normal(size=100) > 0).astype(int)
    path = tmp_path / "n.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "b", "y"])
        writer.writerows([*row, label] for row, label in zip(X, y, strict=True))
    model = tmp_path / "m.safetensors"
    assert main(["fit", str(path), "--target", "y", "--test-size", "0", "--quiet", "--tol", "1e-12",
                 "--class-weight", json.dumps({"1": 2.5}), "--out", str(model)]) == 0
    expected = _sklearn(X, y, class_weight={1: 2.5, 0: 1.0})
    np.testing.assert_allclose(load_model(model).coef_, expected.coef_, rtol=1e-6, atol=1e-9)


def test_an_ignored_c_is_a_warning(table, tmp_path, capsys):
    path, *_ = table
    assert main(["fit", str(path), "--target", "y", "--features", "a,b", "--penalty", "none", "--C", "10",
                 "--quiet", "--out", str(tmp_path / "m.safetensors")]) == 0
    assert "warning: --C 10 is ignored with --penalty none" in capsys.readouterr().err
    assert main(["fit", str(path), "--target", "y", "--features", "a,b", "--quiet",
                 "--out", str(tmp_path / "m.safetensors")]) == 0
    assert "ignored" not in capsys.readouterr().err


@pytest.mark.parametrize(("extra", "message"), [
    (["--features", "a", "--exclude", "id"], "not both"),
    (["--features", "a,y"], "'y' is the target, not a feature"),
    (["--features", "a,w", "--weight", "w"], "'w' is the weight"),
    (["--exclude", "zzz"], "--exclude: no column 'zzz'"),
    (["--features", "a,,b"], "distinct column names"),
    (["--exclude", "id,a,b,w"], "no feature column is left"),
    (["--class-weight", "heavy"], "--class-weight takes 'balanced' or a JSON object"),
    (["--class-weight", '{"yes": -1}'], "non-negative"),
    (["--class-weight", '{"maybe": 2}'], "'maybe' is not a class"),
])
def test_column_and_class_weight_errors_are_one_line(table, tmp_path, capsys, extra, message):
    path, *_ = table
    assert main(["fit", str(path), "--target", "y", "--quiet", "--out", str(tmp_path / "m.safetensors"),
                 *extra]) == 1
    err = capsys.readouterr().err
    assert err.startswith("torchlogit: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "m.safetensors").exists()
