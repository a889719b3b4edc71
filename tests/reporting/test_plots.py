"""Figures: each is written (PNG or SVG), has a sensible size and is not blank; bad arguments are refused."""

import numpy as np
import pytest
from support.synthetic import make_classification_data

from torchlogit import LogisticRegression
from torchlogit.reporting import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png_not_blank(path, min_bytes=5000):
    import matplotlib.image as mpimg

    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) >= min_bytes, path
    pixels = mpimg.imread(path)[..., :3]
    assert pixels.shape[0] > 200 and pixels.shape[1] > 200
    assert pixels.std() > 0.05, f"{path.name} looks blank"  # a blank canvas has std 0
    assert (pixels.reshape(-1, 3) < 0.5).any(axis=1).mean() > 0.002  # some dark ink: lines, text


def assert_svg(path):
    text = path.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text and text.rstrip().endswith("</svg>")
    assert text.count("<path") > 20 and path.stat().st_size > 5000
    assert "xlink:href=\"http" not in text  # self-contained


@pytest.fixture(scope="module")
def binary():
    X, y, _ = make_classification_data(n=200, d=3, seed=7)
    labels = np.array(["red", "blue"])[y]
    est = LogisticRegression().fit(X, labels)
    return est, X, labels


@pytest.fixture(scope="module")
def three():
    X, y, _ = make_classification_data(n=240, d=4, n_classes=3, seed=8)
    return LogisticRegression().fit(X, y), X, y


def test_roc_pr_and_calibration_curves(binary, tmp_path):
    est, X, y = binary
    proba = est.predict_proba(X)
    for fn in (plots.plot_roc, plots.plot_precision_recall, plots.plot_calibration):
        path = fn(y, proba, est.classes_, tmp_path / f"{fn.__name__}.png")
        assert_png_not_blank(path)


def test_confusion_matrix_coefficients_with_intervals_and_history(binary, tmp_path):
    est, X, y = binary
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(y, est.predict(X), labels=est.classes_)
    assert_png_not_blank(plots.plot_confusion_matrix(cm, est.classes_, tmp_path / "cm.png", normalize=True))
    half = np.full(est.coef_.shape, 0.25)
    assert_png_not_blank(plots.plot_coefficients(est.coef_, ["a", "b", "c"], tmp_path / "coef.png",
                                                 lower=est.coef_ - half, upper=est.coef_ + half))
    assert len(est.history_) >= 2
    assert_png_not_blank(plots.plot_history(est.history_, tmp_path / "history.png"))


def test_decision_regions_for_two_chosen_features_of_a_binary_model(binary, tmp_path):
    est, X, y = binary
    path = plots.plot_decision_regions(X, y, est.coef_, est.intercept_, est.classes_, tmp_path / "dr.png",
                                       features=(2, 0), feature_names=["a", "b", "c"])
    assert_png_not_blank(path, min_bytes=20000)


def test_every_evaluation_figure_of_a_three_class_model_as_svg(three, tmp_path):
    est, X, y = three
    written = plots.plot_evaluation(est, X, y, tmp_path / "figs", fmt="svg", features=(1, 3))
    assert set(written) == {"roc", "precision_recall", "calibration", "confusion_matrix", "coefficients",
                            "history", "decision_regions"}
    for path in written.values():
        assert path.suffix == ".svg" and path.parent == tmp_path / "figs"
        assert_svg(path)


def test_bad_arguments_are_refused_and_leave_no_file(binary, tmp_path):
    est, X, y = binary
    proba = est.predict_proba(X)
    with pytest.raises(ValueError, match="two different column indices"):
        plots.plot_decision_regions(X, y, est.coef_, est.intercept_, est.classes_, tmp_path / "a.png",
                                    features=(1, 1))
    with pytest.raises(ValueError, match="does not know"):
        plots.plot_roc(np.where(np.arange(len(y)) == 0, "green", y), proba, est.classes_, tmp_path / "b.png")
    with pytest.raises(ValueError, match="shape"):
        plots.plot_roc(y, proba[:, :1], est.classes_, tmp_path / "c.png")
    with pytest.raises(ValueError, match="lower and upper"):
        plots.plot_coefficients(est.coef_, ["a", "b", "c"], tmp_path / "d.png", lower=est.coef_)
    with pytest.raises(ValueError, match="empty"):
        plots.plot_history([], tmp_path / "e.png")
    with pytest.raises(FileNotFoundError):
        plots.plot_roc(y, proba, est.classes_, tmp_path / "missing" / "f.png")
    assert list(tmp_path.iterdir()) == []
