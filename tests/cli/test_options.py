"""Names on the command line: one meaning per flag, old names kept one release with a deprecation
line, every default in ``--help``, ``--version`` and ``predict --threshold``."""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import json

import numpy as np
import pytest

from torchlogit.cli.main import main, main_parser
from torchlogit.serving.modelfile import load_model


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(8)
    X = rng.normal(size=(150, 2))
    y = np.where(X[:, 0] + rng.normal(size=150) > 0.3, "yes", "no")
    path = tmp_path / "d.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "b", "y"])
        writer.writerows([*row, label] for row, label in zip(X, y, strict=True))
    return path, X, y


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in main_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices)


@pytest.mark.parametrize("command", ["demo", "fit", "predict", "evaluate", "report", "export"])
def test_help_states_every_default(command):
    for action in _subcommands()[command]._actions:
        if (not action.option_strings or action.help == argparse.SUPPRESS or action.required
                or action.nargs == 0):  # positional, hidden alias, required, or an on/off flag
            continue
        assert "default" in action.help, f"{command} {action.option_strings[0]}: {action.help}"


def test_fit_help_says_where_the_model_goes(capsys):
    assert main(["fit", "--help"]) == 0
    assert "model.safetensors in the current folder" in " ".join(capsys.readouterr().out.split())


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"torchlogit {importlib.metadata.version('torchlogit')}"


def test_one_meaning_per_flag_across_subcommands():
    """A flag name shared by two subcommands is the same option (same destination, same choices)."""
    seen: dict[str, tuple] = {}
    for command, parser in _subcommands().items():
        for action in parser._actions:
            if action.help == argparse.SUPPRESS:
                continue  # the deprecated aliases
            for flag in action.option_strings:
                if flag in ("-h", "--help", "--out", "--dtype"):
                    continue
                key = (action.dest, tuple(action.choices or ()))
                assert seen.setdefault(flag, key) == key or flag == "--solver", (command, flag)
    assert "--features" in seen and seen["--features"][0] == "features"  # fit's columns, nowhere else


def _fit(path, out, *extra):
    return main(["fit", str(path), "--target", "y", "--quiet", "--out", str(out), *extra])


def test_old_names_still_work_and_say_what_replaces_them(data, tmp_path, capsys):
    path, *_ = data
    assert _fit(path, tmp_path / "new.safetensors", "--solver", "adam", "--epochs", "30",
                "--split-seed", "7", "--random-state", "7") == 0
    assert "deprecated" not in capsys.readouterr().err
    assert _fit(path, tmp_path / "old.safetensors", "--optimizer", "adam", "--epochs", "30",
                "--seed", "7") == 0
    err = capsys.readouterr().err.splitlines()
    assert "torchlogit: warning: --optimizer is deprecated and will be removed in the next release; use " \
           "--solver" in err
    assert any("--seed is deprecated" in line and "--split-seed and --random-state" in line for line in err)
    old, new = load_model(tmp_path / "old.safetensors"), load_model(tmp_path / "new.safetensors")
    np.testing.assert_array_equal(old.coef_, new.coef_)


def test_alpha_is_now_confidence(data, tmp_path, capsys):
    path, *_ = data
    out = {}
    for name, option in (("old", ["--alpha", "0.1"]), ("new", ["--confidence", "0.9"])):
        assert _fit(path, tmp_path / f"{name}.safetensors", "--penalty", "none", "--summary", *option) == 0
        out[name] = json.loads((tmp_path / f"{name}.safetensors.summary.json").read_text())
    assert "--alpha is deprecated" in capsys.readouterr().err
    assert out["old"]["alpha"] == pytest.approx(0.1) and out["new"]["alpha"] == pytest.approx(0.1)
    assert out["old"]["coefficients"] == out["new"]["coefficients"]


def test_a_failing_command_with_an_old_name_still_leaves_one_line(data, tmp_path, capsys):
    path, *_ = data
    assert _fit(path, tmp_path / "absent" / "m.safetensors", "--optimizer", "sgd") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("torchlogit: error: ")


def test_evaluate_names_the_figure_axes_region_features(data, tmp_path, capsys):
    path, *_ = data
    model = tmp_path / "m.safetensors"
    assert _fit(path, model) == 0
    base = ["evaluate", str(model), str(path), "--target", "y", "--plots", str(tmp_path / "p")]
    assert main([*base, "--region-features", "b,a"]) == 0
    assert "deprecated" not in capsys.readouterr().err
    assert main([*base, "--features", "b,a"]) == 0
    assert "--features is deprecated" in capsys.readouterr().err


def test_predict_threshold(data, tmp_path, capsys):
    path, X, _ = data
    model = tmp_path / "m.safetensors"
    assert _fit(path, model) == 0
    out = tmp_path / "p.csv"
    assert main(["predict", str(model), str(path), "--threshold", "0.8", "--out", str(out), "--proba"]) == 0
    fitted = load_model(model)
    p_yes = 1 / (1 + np.exp(-(X @ fitted.coef_[0] + fitted.intercept_[0])))  # the logistic model by hand
    with open(out) as handle:
        rows = list(csv.DictReader(handle))
    assert [r["prediction"] for r in rows] == ["yes" if p >= 0.8 else "no" for p in p_yes]
    assert sum(r["prediction"] == "yes" for r in rows) < sum(p >= 0.5 for p in p_yes)  # stricter than 0.5
    np.testing.assert_allclose([float(r["proba_yes"]) for r in rows], p_yes, rtol=1e-8)
    chosen = [float(r["probability"]) for r in rows]
    np.testing.assert_allclose(chosen, np.where(p_yes >= 0.8, p_yes, 1 - p_yes), rtol=1e-8)


@pytest.mark.parametrize(("threshold", "message"), [("1.2", "strictly between 0 and 1"),
                                                    ("0.5", "binary models")])
def test_predict_threshold_errors(tmp_path, capsys, threshold, message):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 2))
    path = tmp_path / "three.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "b", "y"])
        writer.writerows([*row, k % 3] for k, row in enumerate(X))
    model = tmp_path / "m.safetensors"
    assert main(["fit", str(path), "--target", "y", "--quiet", "--out", str(model)]) == 0
    capsys.readouterr()
    assert main(["predict", str(model), str(path), "--threshold", threshold]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
