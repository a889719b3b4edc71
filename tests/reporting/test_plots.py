"""Figures: each is written (PNG or SVG), has a sensible size and is not blank, draws the curves,
points and labels it should (read back from the matplotlib figure); bad arguments are refused."""

import re

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score, roc_curve
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


# --------------------------------------------------------------------------- what is drawn
@pytest.fixture
def drawn(monkeypatch):
    """The matplotlib figures the plot functions save, in order (their artists stay readable)."""
    from matplotlib.figure import Figure

    figures = []
    savefig = Figure.savefig

    def recording(self, *args, **kwargs):
        figures.append(self)
        return savefig(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", recording)
    return figures


def _legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _number_after(word, text):
    found = re.search(rf"{word} (\d+\.\d+)", text)
    assert found, text
    return float(found.group(1))


def test_roc_draws_sklearns_curve_with_its_auc_in_the_legend(binary, tmp_path, drawn):
    est, X, y = binary
    proba = est.predict_proba(X)
    plots.plot_roc(y, proba, est.classes_, tmp_path / "roc.png")
    (fig,) = drawn
    (ax,) = fig.axes
    curve, chance = ax.get_lines()
    fpr, tpr, _ = roc_curve(y == est.classes_[1], proba[:, 1])
    np.testing.assert_array_equal(curve.get_xdata(), fpr)
    np.testing.assert_array_equal(curve.get_ydata(), tpr)
    np.testing.assert_array_equal(chance.get_xydata(), [[0, 0], [1, 1]])
    label, chance_label = _legend(ax)
    assert label.startswith(f"{est.classes_[1]} (AUC ") and chance_label == "chance"
    area = auc(curve.get_xdata(), curve.get_ydata())
    assert 0.6 < area < 1  # a real curve, not the diagonal
    assert _number_after("AUC", label) == pytest.approx(area, abs=5e-4)
    assert area == pytest.approx(roc_auc_score(y == est.classes_[1], proba[:, 1]), rel=1e-12)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == (
        "false positive rate", "true positive rate", "ROC curve")
    assert ax.get_xlim() == (0, 1)


def test_roc_of_three_classes_draws_one_curve_per_class_against_the_rest(three, tmp_path, drawn):
    est, X, y = three
    proba = est.predict_proba(X)
    plots.plot_roc(y, proba, est.classes_, tmp_path / "roc.png")
    ax = drawn[0].axes[0]
    *curves, _ = ax.get_lines()
    labels = _legend(ax)
    assert len(curves) == 3 and len(labels) == 4
    for k, (line, label) in enumerate(zip(curves, labels, strict=False)):
        fpr, tpr, _ = roc_curve(y == k, proba[:, k])
        np.testing.assert_array_equal(line.get_xydata(), np.column_stack([fpr, tpr]))
        assert label.startswith(f"{k} (AUC ")
        assert _number_after("AUC", label) == pytest.approx(auc(fpr, tpr), abs=5e-4)


def test_precision_recall_draws_the_step_curve_its_average_precision_and_the_base_rate(
        binary, tmp_path, drawn):
    est, X, y = binary
    proba = est.predict_proba(X)
    positive = y == est.classes_[1]
    plots.plot_precision_recall(y, proba, est.classes_, tmp_path / "pr.png")
    ax = drawn[0].axes[0]
    step, base_rate = ax.get_lines()
    precision, recall, _ = precision_recall_curve(positive, proba[:, 1])
    assert step.get_drawstyle() == "steps-post"
    np.testing.assert_array_equal(step.get_xdata(), recall)
    np.testing.assert_array_equal(step.get_ydata(), precision)
    np.testing.assert_allclose(base_rate.get_ydata(), [positive.mean()] * 2)
    (label,) = _legend(ax)
    assert _number_after("AP", label) == pytest.approx(average_precision_score(positive, proba[:, 1]),
                                                       abs=5e-4)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("recall", "precision")


def test_calibration_draws_the_binned_frequencies_above_a_histogram(binary, tmp_path, drawn):
    est, X, y = binary
    proba = est.predict_proba(X)
    positive = y == est.classes_[1]
    plots.plot_calibration(y, proba, est.classes_, tmp_path / "cal.png", n_bins=8)
    ax, hist = drawn[0].axes
    diagonal, curve = ax.get_lines()
    observed, predicted = calibration_curve(positive, proba[:, 1], n_bins=8)
    np.testing.assert_array_equal(diagonal.get_xydata(), [[0, 0], [1, 1]])
    np.testing.assert_allclose(curve.get_xydata(), np.column_stack([predicted, observed]))
    assert curve.get_marker() == "o" and len(observed) >= 4
    heights = [bar.get_height() for bar in hist.patches]
    np.testing.assert_array_equal(heights, np.histogram(proba[:, 1], bins=np.linspace(0, 1, 9))[0])
    assert sum(heights) == len(y)
    assert (ax.get_ylabel(), hist.get_xlabel(), hist.get_ylabel()) == (
        "observed frequency", "predicted probability", "rows")


def test_confusion_matrix_shows_row_fractions_as_colours_and_text(binary, tmp_path, drawn):
    est, _, _ = binary
    matrix = np.array([[30, 10], [5, 55]])
    plots.plot_confusion_matrix(matrix, est.classes_, tmp_path / "cm.png", normalize=True)
    ax = drawn[0].axes[0]
    fractions = np.array([[0.75, 0.25], [5 / 60, 55 / 60]])
    np.testing.assert_allclose(ax.images[0].get_array(), fractions)
    assert [t.get_text() for t in ax.texts] == ["0.75", "0.25", "0.08", "0.92"]
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(c) for c in est.classes_]
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(c) for c in est.classes_]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted class", "true class")
    plots.plot_confusion_matrix(matrix, est.classes_, tmp_path / "counts.png")
    assert [t.get_text() for t in drawn[1].axes[0].texts] == ["30", "10", "5", "55"]


def test_coefficients_draw_each_point_at_its_name_with_its_interval(binary, three, tmp_path, drawn):
    est, _, _ = binary
    coef = est.coef_[0]
    lower, upper = coef - 0.25, coef + np.array([0.5, 0.1, 0.3])
    plots.plot_coefficients(coef, ["a", "b", "c"], tmp_path / "coef.png", lower=lower, upper=upper)
    ax = drawn[0].axes[0]
    (container,) = ax.containers
    points, _, (bars,) = container.lines
    at = dict(zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()], strict=True))
    assert [at[v] for v in points.get_ydata()] == ["a", "b", "c"]  # each point on its name's row
    assert list(points.get_ydata()) == sorted(points.get_ydata(), reverse=True)  # read top-down
    np.testing.assert_allclose(points.get_xdata(), coef)
    segments = np.array(bars.get_segments())  # (feature, end, x/y)
    np.testing.assert_allclose(segments[:, 0, 0], lower)
    np.testing.assert_allclose(segments[:, 1, 0], upper)
    assert ax.get_xlabel() == "coefficient (with confidence interval)"
    est3, _, _ = three
    plots.plot_coefficients(est3.coef_, ["a", "b", "c", "d"], tmp_path / "c3.png",
                            class_names=["p", "q", "r"])
    ax = drawn[1].axes[0]
    assert len(ax.containers) == 3 and _legend(ax) == ["p", "q", "r"] and ax.get_xlabel() == "coefficient"
    for row, container in zip(est3.coef_, ax.containers, strict=True):
        np.testing.assert_allclose(container.lines[0].get_xdata(), row)


def test_history_draws_the_objective_and_the_gradient_on_a_log_scale(binary, tmp_path, drawn):
    est, _, _ = binary
    plots.plot_history(est.history_, tmp_path / "history.png")
    top, bottom = drawn[0].axes
    (objective,) = top.get_lines()
    (gradient,) = bottom.get_lines()
    np.testing.assert_array_equal(objective.get_xdata(), np.arange(len(est.history_)))
    np.testing.assert_allclose(objective.get_ydata(), [h["objective"] for h in est.history_])
    expected = np.maximum([h["grad_max"] for h in est.history_], np.finfo(float).tiny)
    np.testing.assert_allclose(gradient.get_ydata(), expected)
    assert bottom.get_yscale() == "log" and top.get_yscale() == "linear"
    assert (top.get_ylabel(), bottom.get_ylabel(), bottom.get_xlabel()) == (
        "objective F", "max |gradient|", "iteration (0 = starting point)")


def test_decision_regions_draw_every_point_and_the_line_where_the_score_is_zero(binary, tmp_path, drawn):
    from matplotlib.collections import PathCollection
    from matplotlib.contour import ContourSet

    est, X, y = binary
    plots.plot_decision_regions(X, y, est.coef_, est.intercept_, est.classes_, tmp_path / "dr.png",
                                features=(2, 0), feature_names=["a", "b", "c"])
    ax, colorbar = drawn[0].axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("c", "a")
    assert ax.get_title() == "Decision regions (other features at their mean)"
    assert colorbar.get_ylabel() == f"P({est.classes_[1]})"
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [s.get_label() for s in scatters] == [str(c) for c in est.classes_]
    for scatter, label in zip(scatters, est.classes_, strict=True):
        np.testing.assert_array_equal(scatter.get_offsets(), X[y == label][:, [2, 0]])
    (line,) = [c for c in ax.collections if isinstance(c, ContourSet) and list(c.levels) == [0]]
    vertices = np.vstack([p.vertices for p in line.get_paths()])
    assert len(vertices) > 10
    w = est.coef_[0]
    score = w[2] * vertices[:, 0] + w[0] * vertices[:, 1] + w[1] * X[:, 1].mean() + est.intercept_[0]
    np.testing.assert_allclose(score, 0, atol=1e-9 * np.abs(w).sum() * np.abs(X).max())


def test_tutorial_boundary_is_the_line_w_x_plus_b_and_the_new_point_a_star(tmp_path, drawn):
    from torchlogit.tutorial.datasets import make_demo_data

    X, y = make_demo_data(n_samples=120)
    coef, intercept = np.array([1.5, 2.0]), -7.0
    plots.plot_decision_boundary(X, y, coef, intercept, tmp_path / "b.png", class_names=("red", "blue"),
                                 new_point=np.array([1.0, 1.0]), new_point_label=0)
    ax = drawn[0].axes[0]
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_xdata() * coef[0] + line.get_ydata() * coef[1] + intercept, 0,
                               atol=1e-12)
    red, blue, star = ax.collections
    np.testing.assert_array_equal(red.get_offsets(), X[y == 0])
    np.testing.assert_array_equal(blue.get_offsets(), X[y == 1])
    np.testing.assert_array_equal(star.get_offsets(), [[1.0, 1.0]])
    assert _legend(ax) == ["red (0)", "blue (1)", "w·x + b = 0", "new point → red"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "x2")


def test_loss_curve_is_log_scaled_when_it_spans_decades(tmp_path, drawn):
    plots.plot_loss([5.0, 0.5, 0.01], tmp_path / "wide.png", xlabel="Newton iteration")
    plots.plot_loss([0.7, 0.6, 0.55], tmp_path / "narrow.png")
    wide, narrow = (fig.axes[0] for fig in drawn)
    np.testing.assert_array_equal(wide.get_lines()[0].get_xydata(), [[0, 5.0], [1, 0.5], [2, 0.01]])
    assert wide.get_yscale() == "log" and narrow.get_yscale() == "linear"
    assert (wide.get_xlabel(), narrow.get_xlabel()) == ("Newton iteration", "epoch")


def test_path_takes_the_path_result_and_keeps_its_title_clear(three, tmp_path, drawn):
    """``plot_path(result, file)`` draws each class's coefficients along ``result.Cs``; the suptitle
    sits above the top axis' label ('non-zero coefficients') instead of over it."""
    from torchlogit import path as regularization_path

    _, X, y = three
    result = regularization_path(X, y, Cs=8, l1_ratio=1.0)
    out = plots.plot_path(result, tmp_path / "path.png", feature_names=["a", "b", "c", "d"])
    assert_png_not_blank(out)
    figure = drawn[-1]
    axes = [ax for ax in figure.axes if ax.get_xlabel().startswith("C (")]
    assert len(axes) == 3 and [ax.get_title() for ax in axes] == ["class 0", "class 1", "class 2"]
    for k, ax in enumerate(axes):
        lines = [line for line in ax.get_lines() if line.get_label() in ("a", "b", "c", "d")]
        for line in lines:
            j = "abcd".index(line.get_label())
            np.testing.assert_allclose(line.get_xdata(), result.Cs)
            np.testing.assert_allclose(line.get_ydata(), result.coefs[:, k, j])
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)  # the figure was saved and closed: lay it out again to measure
    canvas.draw()
    renderer = canvas.get_renderer()
    title = figure._suptitle.get_window_extent(renderer)
    tops = [child.xaxis.label.get_window_extent(renderer) for ax in axes for child in ax.child_axes]
    assert tops and all(title.y0 >= label.y1 for label in tops)  # no overlap: the title is above
    with pytest.raises(TypeError, match="plot_path takes"):
        plots.plot_path(result)
    same = plots.plot_path(result.Cs, result.coefs, tmp_path / "arrays.png")  # the arrays, as before
    assert_png_not_blank(same)
