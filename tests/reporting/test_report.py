"""The HTML report: self-contained (no external assets, no JavaScript), every image a valid PNG, and
it renders in headless Chromium to a non-blank page with no broken images."""

import base64
import csv
import io
import math
import os
import re
import shutil
import subprocess
import tempfile

import numpy as np
import pytest
from support.synthetic import make_classification_data

from torchlogit import LogisticRegression
from torchlogit.cli.main import main
from torchlogit.reporting.report import build_report, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Inference:
    """The part of torchlogit.inference.results.LogitResults the report reads (its ``to_dict``)."""

    def __init__(self, est, names):
        coef = np.concatenate([est.intercept_, est.coef_[0]])
        rows = [{"term": n, "coef": c, "std_err": 0.1, "z": c / 0.1, "p_value": 0.01, "ci_lower": c - 0.2,
                 "ci_upper": c + 0.2} for n, c in zip(["const", *names], coef, strict=True)]
        self.document = {"method": "MLE", "cov_type": "nonrobust", "alpha": 0.05, "reference_class": "no",
                         "coefficients": rows, "notes": ["a note <with markup>"]}

    def to_dict(self):
        return self.document


@pytest.fixture(scope="module")
def binary():
    X, y, _ = make_classification_data(n=200, d=3, seed=21)
    return LogisticRegression().fit(X, np.array(["no", "yes"])[y]), X, np.array(["no", "yes"])[y]


def _images(page):
    sources = re.findall(r"<img\b[^>]*\bsrc=\"([^\"]*)\"", page)
    assert len(sources) == page.count("<img")
    return sources


def assert_self_contained(page):
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page.lower()
    assert not re.search(r"(src|href)\s*=\s*\"(?!data:)", page)  # every reference is inline data
    assert "url(" not in page
    for src in _images(page):
        assert src.startswith("data:image/png;base64,")
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert data[:8] == PNG_MAGIC and len(data) > 5000
        import matplotlib.image as mpimg

        assert mpimg.imread(io.BytesIO(data), format="png").std() > 0.05


@pytest.fixture(scope="module")
def binary_report(binary, tmp_path_factory):
    est, X, y = binary
    names = ["age", "income", "<b>risk</b>"]
    return write_report(est, X, y, tmp_path_factory.mktemp("report") / "report.html", feature_names=names,
                        data_name="test & holdout.csv", target="label", threshold=0.4,
                        inference=_Inference(est, names), model_info={"note": "x<y"})


def test_binary_report_has_every_section_and_escapes_text(binary_report):
    page = binary_report.read_text(encoding="utf-8")
    assert_self_contained(page)
    for text in ("<h2>Data</h2>", "<h2>Model</h2>", "<h2>Metrics</h2>", "<h2>Figures</h2>",
                 "<h2>Coefficients</h2>", "roc auc", "Youden", "predicted yes", "test &amp; holdout.csv",
                 "&lt;b&gt;risk&lt;/b&gt;", "a note &lt;with markup&gt;", "x&lt;y", "ci lower",
                 "predict yes when its probability ≥ 0.4"):
        assert text in page, text
    assert "<b>risk</b>" not in page
    # ROC, PR, calibration, confusion matrix, coefficients (with intervals), solver progress, regions
    assert len(_images(page)) == 7 and "Coefficients with confidence intervals" in page


def test_the_title_names_the_target_and_the_data_and_the_coefficients_come_first(binary_report):
    page = binary_report.read_text(encoding="utf-8")
    assert "<h1>Predicting label from test &amp; holdout.csv</h1>" in page
    markers = ('class="headline"', "<h2>Coefficients</h2>", "<h2>Metrics</h2>", "<h2>Figures</h2>",
               "<details>")
    order = [page.index(marker) for marker in markers]
    assert order == sorted(order)
    appendix = page[page.index("<details>"):]
    assert "Solver progress" in appendix and "Solver progress" not in page[:page.index("<details>")]


def test_one_coefficient_table_with_odds_ratios_and_their_intervals(binary, binary_report):
    est, _, _ = binary
    page = binary_report.read_text(encoding="utf-8")
    section = page[page.index("<h2>Coefficients</h2>"):page.index("<h2>Metrics</h2>")]
    assert section.count("<table>") == 1 and "const" not in page and section.count(">intercept<") == 1
    for c in est.coef_[0]:  # the fake inference's intervals are coef ± 0.2
        cells = [f"{v:.4g}" for v in (c, math.exp(c), math.exp(c - 0.2), math.exp(c + 0.2))]
        assert "".join(f"<td>{v}</td>" for v in cells[1:]) in section, cells
        assert f"<td>{cells[0]}</td>" in section


def test_numbers_carry_four_significant_digits(binary_report):
    page = binary_report.read_text(encoding="utf-8")
    cells = re.findall(r"<td>(-?[0-9][0-9.e+-]*)</td>", page)
    assert cells
    for cell in cells:
        digits = cell.split("e")[0].replace("-", "").replace(".", "").lstrip("0")
        assert len(digits) <= 4 or "." not in cell, cell  # counts (rows, confusion matrix) are whole


def test_the_headline_shows_the_accuracy_and_the_calibration(binary):
    from sklearn.metrics import accuracy_score

    est, X, y = binary
    page = build_report(est, X, y, target="label")
    headline = page[page.index('class="headline"'):page.index("<h2>Coefficients</h2>")]
    assert f"<b>{accuracy_score(y, est.predict(X)):.4g}</b><span>accuracy</span>" in headline
    assert "<b>200</b><span>rows evaluated</span>" in headline and "calibration slope" in headline


def test_a_model_fitted_on_a_dataframe_reports_without_warnings(binary, tmp_path):
    import warnings

    import pandas as pd

    _, X, y = binary
    frame = pd.DataFrame(X, columns=["age", "income", "risk"])
    est = LogisticRegression().fit(frame, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scikit-learn's "X does not have valid feature names" would raise
        page = write_report(est, X, y, tmp_path / "r.html").read_text(encoding="utf-8")
    assert ">income<" in page


def test_multinomial_report_from_a_model_file_shows_the_solver_history(tmp_path):
    from torchlogit.serving.modelfile import load_model, save_model

    X, y, _ = make_classification_data(n=240, d=2, n_classes=3, seed=22)
    fitted = LogisticRegression().fit(X, y)
    loaded = load_model(save_model(fitted, tmp_path / "m.safetensors"))
    np.testing.assert_allclose([h["objective"] for h in loaded.history_],
                               [h["objective"] for h in fitted.history_], rtol=1e-6)  # float32 in the file
    out = write_report(loaded, X, y, tmp_path / "r.html")
    page = out.read_text(encoding="utf-8")
    assert_self_contained(page)
    assert "roc auc ovr macro" in page and "class 2" in page
    assert len(_images(page)) == 7 and "Solver progress" in page
    del loaded.history_  # as loaded from a file of an earlier version
    page = write_report(loaded, X, y, tmp_path / "r2.html").read_text(encoding="utf-8")
    assert len(_images(page)) == 6 and "history is not available" in page


def test_report_errors(binary, tmp_path):
    est, X, y = binary
    with pytest.raises(ValueError, match="that the binary model does not know"):
        write_report(est, X, np.where(np.arange(len(y)) == 0, "maybe", y), tmp_path / "r.html")
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        write_report(est, X, y, tmp_path / "r.html", threshold=1.0)
    with pytest.raises(FileNotFoundError):
        write_report(est, X, y, tmp_path / "missing" / "r.html")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- CLI
@pytest.fixture
def model_and_csv(tmp_path, binary):
    _, X, y = binary
    data = tmp_path / "data.csv"
    with open(data, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["f0", "f1", "f2", "label"])
        writer.writerows([*row, label] for row, label in zip(X, y, strict=True))
    model = tmp_path / "m.safetensors"
    assert main(["fit", str(data), "--target", "label", "--out", str(model), "--quiet"]) == 0
    return model, data


def test_cli_report_and_its_errors(model_and_csv, tmp_path, capsys):
    model, data = model_and_csv
    out = tmp_path / "report.html"
    assert main(["report", str(model), str(data), "--target", "label", "--out", str(out),
                 "--region-features", "f2,f1", "--title", "Churn model", "--ci"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert_self_contained(page)
    assert "<h1>Churn model</h1>" in page and "test accuracy" in page and "over f2 and f1" in page
    assert "std err" in page and "Coefficients with confidence intervals" in page  # --ci
    section = page[page.index("<h2>Coefficients</h2>"):page.index("<h2>Metrics</h2>")]
    assert section.count("<table>") == 1 and "odds ratio ci lower" in section and "const" not in page
    assert main(["report", str(model), str(data), "--target", "label", "--out", str(out)]) == 0
    assert "<h1>Predicting label from data.csv</h1>" in out.read_text(encoding="utf-8")
    out.unlink()
    before = sorted(p.name for p in tmp_path.iterdir())
    bad_out = str(tmp_path / "no-such-folder" / "r.html")
    for argv, message in (
        (["--out", bad_out], "does not exist"),
        (["--out", str(out), "--threshold", "0"], "strictly between 0 and 1"),
        (["--out", str(out), "--region-features", "f1"], "two different feature names"),
    ):
        assert main(["report", str(model), str(data), "--target", "label", *argv]) == 1
        err = capsys.readouterr().err
        assert err.startswith("torchlogit: error: ") and message in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# --------------------------------------------------------------------------- headless browser
_CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Injected into a copy of the report only: after the page loads, count the images the browser
# could not decode (the report itself has no JavaScript).
_IMAGE_PROBE = ("<script>window.addEventListener('load', function () { var n = 0, broken = 0;"
                " for (const img of document.images) { n++; if (!(img.complete && img.naturalWidth > 0))"
                " broken++; } document.body.setAttribute('data-images', n + '/' + broken); });</script>")


def _chromium():
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: .ci/run installs Debian's chromium package")
        pytest.skip("headless check needs Debian's `chromium` package (apt-get install chromium)")
    return found


def _run_chromium(chromium, *args):
    with tempfile.TemporaryDirectory(prefix="torchlogit-chromium-") as profile:
        return subprocess.run([chromium, *_CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=120, check=False)


def test_report_renders_in_headless_chromium(binary_report, tmp_path):
    import matplotlib.image as mpimg

    chromium = _chromium()
    report = binary_report
    shot = tmp_path / "shot.png"
    done = _run_chromium(chromium, f"--screenshot={shot}", "--window-size=1200,2000", report.as_uri())
    assert shot.exists(), done.stderr[-2000:]
    pixels = mpimg.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2000, 1200)
    assert pixels.std() > 0.05, "the screenshot is blank"
    assert (pixels < 0.3).all(axis=2).mean() > 0.005  # dark text and lines were drawn

    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", _IMAGE_PROBE + "</body>"),
                     encoding="utf-8")
    dom = _run_chromium(chromium, "--dump-dom", probe.as_uri()).stdout
    found = re.search(r'data-images="(\d+)/(\d+)"', dom)
    assert found, dom[-2000:]
    assert int(found.group(1)) == 7 and int(found.group(2)) == 0  # 7 images, none broken


# Injected into a copy of the report: where the title, the headline and the coefficient table end,
# against the height of the window (the first screen), and whether the appendix starts closed.
_FIRST_SCREEN_PROBE = (
    "<script>window.addEventListener('load', function () {"
    " var h2 = Array.from(document.querySelectorAll('h2')).find(e => e.textContent === 'Coefficients');"
    " var table = h2; while (table && table.tagName !== 'TABLE') { table = table.nextElementSibling; }"
    " var parts = [document.querySelector('h1'), document.querySelector('.headline'), table];"
    " var bottoms = parts.map(e => e ? Math.round(e.getBoundingClientRect().bottom) : -1);"
    " document.body.setAttribute('data-first-screen', bottoms.join(',') + ';' + window.innerHeight);"
    " document.body.setAttribute('data-appendix-open', String(document.querySelector('details').open));"
    " });</script>")


def test_the_first_screen_shows_the_title_the_headline_and_the_coefficients(binary_report, tmp_path):
    import matplotlib.image as mpimg

    chromium = _chromium()
    probe = tmp_path / "first.html"
    page = binary_report.read_text(encoding="utf-8")
    probe.write_text(page.replace("</body>", _FIRST_SCREEN_PROBE + "</body>"), encoding="utf-8")
    dom = _run_chromium(chromium, "--window-size=1280,800", "--dump-dom", probe.as_uri()).stdout
    found = re.search(r'data-first-screen="(-?\d+),(-?\d+),(-?\d+);(\d+)"', dom)
    assert found, dom[-2000:]
    title, headline, table, height = map(int, found.groups())
    assert 0 < title < headline < table <= height  # all three end inside the first screen, in this order
    assert 'data-appendix-open="false"' in dom
    shot = tmp_path / "first.png"
    _run_chromium(chromium, f"--screenshot={shot}", "--window-size=1280,800", binary_report.as_uri())
    pixels = mpimg.imread(shot)[..., :3]
    rows_with_ink = np.flatnonzero((pixels < 0.5).all(axis=2).any(axis=1))
    assert rows_with_ink.size and rows_with_ink.max() > table * pixels.shape[0] / height - 40  # drawn there
