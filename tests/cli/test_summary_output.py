"""``fit --summary`` at the terminal: Python's ``summary()`` layout sized to the terminal, labels and
feature names as the data has them, and the covariance types of ``--cov`` (HC3, two-way clusters)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from torchlogit.cli.main import main


def _write(path, columns: dict[str, np.ndarray]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(columns))
        writer.writerows(zip(*columns.values(), strict=True))


@pytest.fixture
def closed_form(tmp_path):
    """The data of tests/reference/cli_hc3.R: i = 1..60, a = sin(i), b = cos(1.7 i)."""
    i = np.arange(1, 61)
    a, b = np.sin(i), np.cos(1.7 * i)
    y = (a + 0.5 * b + np.sin(3.1 * i) > 0).astype(int)
    path = tmp_path / "cf.csv"
    _write(path, {"a": a, "b": b, "y": y})
    return path


def _summary_fit(path, tmp_path, *extra):
    model = tmp_path / "m.safetensors"
    code = main(["fit", str(path), "--target", "y", "--penalty", "none", "--summary", "--test-size", "0",
                 "--quiet", "--out", str(model), *extra])
    return code, model


def test_the_summary_fits_an_80_column_terminal_in_pythons_layout(closed_form, tmp_path, capsys,
                                                                  monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, _ = _summary_fit(closed_form, tmp_path, "--cov", "HC1")
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    start = next(k for k, line in enumerate(lines) if "Logit Regression Results" in line)
    rule = lines[start + 1]
    assert set(rule) == {"="} and len(rule) <= 80
    assert lines[start].strip() == "Logit Regression Results"
    assert len(lines[start]) <= len(rule)  # centred over the table, not over the terminal
    end = max(k for k, line in enumerate(lines) if line == rule)
    notes = [line for line in lines[end + 1:] if not line.startswith("wrote ")]
    assert notes[0].startswith("[1] ") and all(len(line) <= len(rule) for line in notes)
    assert all(line.startswith("    ") for line in notes[1:] if not line.startswith("["))
    assert " ".join(notes).count("[1]") == 1 and "HC1" in " ".join(notes)


def test_a_narrow_terminal_gets_every_digit_and_folded_notes(closed_form, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    assert _summary_fit(closed_form, tmp_path, "--cov", "HC1")[0] == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.split()[:1] in (["a"], ["b"])}
    assert all(len(cells) == 6 and "…" not in " ".join(cells) for cells in rows.values())
    notes = lines[max(k for k, line in enumerate(lines) if line.startswith("=")) + 1:]
    notes = [line for line in notes if not line.startswith("wrote ")]
    assert notes and all(len(line) <= 60 for line in notes)


def test_hc3_standard_errors_are_rs_vcovhc(closed_form, tmp_path, capsys):
    code, _ = _summary_fit(closed_form, tmp_path, "--cov", "HC3")
    assert code == 0
    saved = json.loads((tmp_path / "m.safetensors.summary.json").read_text())
    rows = {row["term"]: row for row in saved["coefficients"]}
    # tests/reference/cli_hc3.R: coef(fit) and sqrt(diag(vcovHC(fit, type = "HC3")))
    np.testing.assert_allclose([rows[t]["coef"] for t in ("const", "a", "b")],
                               [0.0453588122052284, 1.7410656348389386, 0.6169594490676770], rtol=1e-6)
    np.testing.assert_allclose([rows[t]["std_err"] for t in ("const", "a", "b")],
                               [0.323638963094265, 0.468023873409361, 0.462403912106380], rtol=1e-6)
    assert saved["cov_type"] == "HC3" and "HC3" in capsys.readouterr().out


def test_two_way_clusters_are_statsmodels(tmp_path, capsys):
    import statsmodels.api as sm

    rng = np.random.default_rng(12)
    n = 240
    X = rng.normal(size=(n, 2))
    y = (X[:, 0] - X[:, 1] + rng.normal(size=n) > 0).astype(int)
    firm, year = np.arange(n) % 12, np.arange(n) % 7
    path = tmp_path / "panel.csv"
    _write(path, {"a": X[:, 0], "b": X[:, 1], "firm": [f"f{g}" for g in firm], "year": year, "y": y})
    code, _ = _summary_fit(path, tmp_path, "--cov", "cluster:firm,year")
    assert code == 0
    text = capsys.readouterr().out
    assert "clusters: firm, year" in text and "features (2): a, b" in text
    saved = json.loads((tmp_path / "m.safetensors.summary.json").read_text())
    reference = sm.Logit(y, sm.add_constant(X)).fit(disp=0, cov_type="cluster",
                                                     cov_kwds={"groups": np.column_stack([firm, year])})
    np.testing.assert_allclose([r["std_err"] for r in saved["coefficients"]], reference.bse, rtol=1e-6)


@pytest.mark.parametrize("cov", ["cluster:a,b,y", "cluster:firm,firm", "sandwich"])
def test_bad_covariances_are_one_line(closed_form, tmp_path, capsys, cov):
    assert _summary_fit(closed_form, tmp_path, "--cov", cov)[0] == 1
    err = capsys.readouterr().err
    assert err.startswith("torchlogit: error: --cov") and err.count("\n") == 1


def test_the_multinomial_note_names_the_reference_label_plainly(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 2))
    y = np.array(["high", "low", "mid"])[np.digitize(X[:, 0] + rng.normal(size=90), [-0.5, 0.5])]
    path = tmp_path / "m3.csv"
    _write(path, {"a": X[:, 0], "b": X[:, 1], "y": y})
    assert _summary_fit(path, tmp_path)[0] == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "against the reference class 'high'" in text
    assert "np.str_" not in text


def test_separation_is_reported_with_the_files_column_names(tmp_path, capsys):
    i = np.arange(60)
    a, b, c = np.sin(i), np.cos(i), np.sin(2.3 * i)
    path = tmp_path / "sep.csv"
    _write(path, {"a": a, "b": b, "c": c, "y": (b > 0).astype(int)})  # b separates the classes
    assert _summary_fit(path, tmp_path)[0] == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if "separated" in line]
    assert len(warnings) == 2  # the fit's and the summary's
    assert all("separated by b" in line or "linear combination of b" in line for line in warnings), warnings
    assert "x1" not in captured.err and "x2" not in captured.err and "x0" not in captured.err
