"""Figures (matplotlib, Agg backend, imported lazily).

The tutorial's loss curve and 2-D decision boundary, and for evaluation: ROC and precision-recall
curves, a calibration (reliability) curve with a histogram of the predicted probabilities, the
confusion matrix, coefficients with confidence intervals, the solver's objective and gradient
norm per iteration, and decision regions over any two features (the others at their mean).

Every function writes one figure atomically and returns its path: SVG when the path ends in
``.svg``, PNG otherwise; nothing is shown on screen. Labels ``y`` are the model's class labels and
``proba`` has one column per class, in the order of ``classes``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from torchlogit._fileio import atomic_path
from torchlogit._validation import plain

_COLORS = ("tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike[str]) -> Path:
    fmt = "svg" if Path(path).suffix.lower() == ".svg" else "png"
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=100, bbox_inches="tight")
    finally:
        _pyplot().close(fig)
    return Path(path)


def plot_loss(
    losses: Sequence[float], path: str | os.PathLike[str], *, xlabel: str = "epoch",
    title: str = "Training loss",
) -> Path:
    """Loss per epoch (or per solver iteration), log-scaled when it spans decades."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    values = np.asarray(losses, dtype=float)
    ax.plot(np.arange(len(values)), values, marker="o" if len(values) <= 50 else None, lw=1.5)
    if values.min() > 0 and values.max() / values.min() > 100:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss (mean log-loss + penalty)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_decision_boundary(  # noqa: PLR0913 tutorial API documented in README
    X: np.ndarray, y: np.ndarray, coef: np.ndarray, intercept: float,
    path: str | os.PathLike[str], *, class_names: Sequence[str] = ("class 0", "class 1"),
    title: str = "Decision boundary", new_point: np.ndarray | None = None,
    new_point_label: int | None = None,
) -> Path:
    """Points of two features coloured by class, and the line ``w·x + b = 0``.

    ``new_point``, when given, is drawn as a star in the colour of its predicted class.
    """
    plt = _pyplot()
    X = np.asarray(X, dtype=float)
    fig, ax = plt.subplots(figsize=(6, 5))
    for label, name in enumerate(class_names):
        mask = np.asarray(y) == label
        ax.scatter(X[mask, 0], X[mask, 1], s=12, alpha=0.6, color=_COLORS[label % len(_COLORS)],
                   label=f"{name} ({label})")
    points = X if new_point is None else np.vstack([X, new_point])
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = 0.05 * (hi - lo + 1e-12)
    x_grid = np.linspace(lo[0] - pad[0], hi[0] + pad[0], 200)
    w = np.asarray(coef, dtype=float).ravel()
    if abs(w[1]) > 1e-12:
        ax.plot(x_grid, -(w[0] * x_grid + intercept) / w[1], "k-", lw=2, label="w·x + b = 0")
    elif abs(w[0]) > 1e-12:
        ax.axvline(-intercept / w[0], color="k", lw=2, label="w·x + b = 0")
    if new_point is not None:
        color = _COLORS[(new_point_label or 0) % len(_COLORS)]
        ax.scatter([new_point[0]], [new_point[1]], marker="*", s=400, color=color,
                   edgecolor="black", zorder=5,
                   label=f"new point → {class_names[new_point_label or 0]}")
    ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
    ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


# --------------------------------------------------------------------------- evaluation figures
def _class_index(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Indices of ``y`` in ``classes`` (ValueError for an unknown label)."""
    from torchlogit.reporting.evaluation import check_labels

    y = check_labels(y, classes)
    keys = np.asarray(classes).astype(str) if y.dtype.kind == "U" else np.asarray(classes)
    order = np.argsort(keys, kind="stable")
    return order[np.searchsorted(keys, y, sorter=order)]


def _color(k: int) -> str:
    return _COLORS[k] if k < len(_COLORS) else f"C{k % 10}"


_Curve = tuple[int, str, np.ndarray, np.ndarray]  # (class index, name, is-positive, score)


def _one_vs_rest(y: np.ndarray, proba: np.ndarray, classes: Sequence) -> list[_Curve]:
    """One curve per class: the positive class for a binary model, every class otherwise."""
    classes = np.asarray(classes)
    index = _class_index(np.asarray(y), classes)
    proba = np.asarray(proba, dtype=float)
    if proba.shape != (len(index), len(classes)):
        raise ValueError(f"proba has shape {proba.shape}; expected ({len(index)}, {len(classes)})")
    ks = [1] if len(classes) == 2 else range(len(classes))
    return [(k, str(classes[k]), index == k, proba[:, k]) for k in ks]


def _curve_axes(curves: list[_Curve], draw: Callable[[Any, _Curve], None]):
    """A figure for curves in the unit square, with ``draw(ax, curve)`` called for each curve."""
    fig, ax = _pyplot().subplots(figsize=(5.5, 5))
    for curve in curves:
        draw(ax, curve)
    return fig, ax


def _save_unit_square(fig, ax, path: str | os.PathLike[str], labels: dict[str, str], legend_loc: str) -> Path:
    """Both axes on [0, 1] (a little headroom above), ``labels`` (xlabel, ylabel, title), a grid
    and the legend; then :func:`_save`."""
    ax.set(xlim=(0, 1), ylim=(0, 1.02), **labels)
    ax.grid(alpha=0.3)
    ax.legend(loc=legend_loc, fontsize=8)
    return _save(fig, path)


def plot_roc(
    y: np.ndarray, proba: np.ndarray, classes: Sequence, path: str | os.PathLike[str], *,
    title: str = "ROC curve",
) -> Path:
    """ROC curve of the positive class (binary) or one-vs-rest per class, with the AUC in the legend."""
    from sklearn.metrics import auc, roc_curve

    def draw(ax, curve: _Curve) -> None:
        k, name, positive, score = curve
        if positive.all() or not positive.any():
            return  # undefined without both outcomes
        fpr, tpr, _ = roc_curve(positive, score)
        ax.plot(fpr, tpr, lw=2, color=_color(k), label=f"{name} (AUC {auc(fpr, tpr):.3f})")

    fig, ax = _curve_axes(_one_vs_rest(y, proba, classes), draw)
    ax.plot([0, 1], [0, 1], "k--", lw=1, alpha=0.5, label="chance")
    labels = {"xlabel": "false positive rate", "ylabel": "true positive rate", "title": title}
    return _save_unit_square(fig, ax, path, labels, "lower right")


def plot_precision_recall(
    y: np.ndarray, proba: np.ndarray, classes: Sequence, path: str | os.PathLike[str], *,
    title: str = "Precision-recall curve",
) -> Path:
    """Precision against recall (binary: the positive class; else one-vs-rest), with average
    precision in the legend and the share of positives (a random model's precision) dotted."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    def draw(ax, curve: _Curve) -> None:
        k, name, positive, score = curve
        if not positive.any():
            return
        precision, recall, _ = precision_recall_curve(positive, score)
        ap = average_precision_score(positive, score)
        ax.step(recall, precision, where="post", lw=2, color=_color(k), label=f"{name} (AP {ap:.3f})")
        ax.axhline(positive.mean(), color=_color(k), ls=":", lw=1, alpha=0.7)

    fig, ax = _curve_axes(_one_vs_rest(y, proba, classes), draw)
    labels = {"xlabel": "recall", "ylabel": "precision", "title": title}
    return _save_unit_square(fig, ax, path, labels, "lower left")


def plot_calibration(
    y: np.ndarray, proba: np.ndarray, classes: Sequence, path: str | os.PathLike[str], *,
    n_bins: int = 10, title: str = "Calibration (reliability) curve",
) -> Path:
    """Observed frequency against mean predicted probability per bin, above a histogram of probabilities."""
    from sklearn.calibration import calibration_curve

    curves = _one_vs_rest(y, proba, classes)
    plt = _pyplot()
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(5.5, 6.5), sharex=True,
                                   gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], "k--", lw=1, alpha=0.5, label="perfectly calibrated")
    bins = np.linspace(0, 1, n_bins + 1)
    for k, name, positive, score in curves:
        if positive.any() and not positive.all():
            observed, predicted = calibration_curve(positive, score, n_bins=n_bins)
            ax.plot(predicted, observed, marker="o", lw=2, color=_color(k), label=name)
        hist.hist(score, bins=bins, color=_color(k), alpha=0.5, label=name)
    ax.set(xlim=(0, 1), ylim=(-0.02, 1.02), ylabel="observed frequency", title=title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    hist.set(xlabel="predicted probability", ylabel="rows")
    hist.grid(alpha=0.3)
    return _save(fig, path)


def plot_confusion_matrix(
    matrix: np.ndarray, classes: Sequence, path: str | os.PathLike[str], *, normalize: bool = False,
    title: str = "Confusion matrix",
) -> Path:
    """Counts (or, with ``normalize``, row fractions): rows are the true class, columns the prediction."""
    plt = _pyplot()
    matrix = np.asarray(matrix, dtype=float)
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        matrix = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    n = len(classes)
    size = min(3 + 0.6 * n, 12)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    names = [str(c) for c in classes]
    ax.set(xticks=range(n), yticks=range(n), xticklabels=names, yticklabels=names,
           xlabel="predicted class", ylabel="true class", title=title)
    if n <= 30:
        threshold = matrix.max() / 2 if matrix.size else 0
        for i in range(n):
            for j in range(n):
                text = f"{matrix[i, j]:.2f}" if normalize else f"{matrix[i, j]:.0f}"
                ax.text(j, i, text, ha="center", va="center", fontsize=9,
                        color="white" if matrix[i, j] > threshold else "black")
    return _save(fig, path)


def plot_coefficients(
    coef: np.ndarray, names: Sequence[str], path: str | os.PathLike[str], *,
    lower: np.ndarray | None = None, upper: np.ndarray | None = None,
    class_names: Sequence[str] | None = None, title: str = "Coefficients",
) -> Path:
    """One point per coefficient, with confidence intervals ``[lower, upper]`` when given.

    ``coef``, ``lower`` and ``upper`` have shape ``(len(names),)`` or ``(n_rows, len(names))`` (one
    row per class or equation, named by ``class_names``).
    """
    plt = _pyplot()
    coef = np.atleast_2d(np.asarray(coef, dtype=float))
    n_rows, p = coef.shape
    if len(names) != p:
        raise ValueError(f"{len(names)} names for {p} coefficients")
    if (lower is None) != (upper is None):
        raise ValueError("give both lower and upper confidence limits, or neither")
    if lower is not None:
        lower = np.atleast_2d(np.asarray(lower, dtype=float)).reshape(coef.shape)
        upper = np.atleast_2d(np.asarray(upper, dtype=float)).reshape(coef.shape)
    fig, ax = plt.subplots(figsize=(6.5, min(2 + 0.35 * p * max(1, n_rows / 2), 30)))
    positions = np.arange(p)[::-1].astype(float)
    width = 0.7 / n_rows
    for r in range(n_rows):
        offset = ((n_rows - 1) / 2 - r) * width
        label = None if class_names is None else str(class_names[r])
        xerr = None
        if lower is not None:
            xerr = np.vstack([coef[r] - lower[r], upper[r] - coef[r]]).clip(min=0)
        ax.errorbar(coef[r], positions + offset, xerr=xerr, fmt="o", color=_color(r), ecolor=_color(r),
                    elinewidth=1.5, capsize=3, label=label)
    ax.axvline(0, color="k", lw=1, alpha=0.5)
    ax.set_yticks(positions)
    ax.set_yticklabels([str(n) for n in names])
    ax.set_xlabel("coefficient" + ("" if lower is None else " (with confidence interval)"))
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    if class_names is not None:
        ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def plot_history(
    history: Sequence[Mapping[str, float]], path: str | os.PathLike[str], *,
    title: str = "Solver progress",
) -> Path:
    """The objective and ``max |gradient|`` at each solver iteration (``estimator.history_``)."""
    plt = _pyplot()
    if not history:
        raise ValueError("the history is empty: nothing to plot")
    objective = np.array([h["objective"] for h in history], dtype=float)
    grad = np.array([h["grad_max"] for h in history], dtype=float)
    steps = np.arange(len(history))
    marker = "o" if len(history) <= 50 else None
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 6), sharex=True)
    top.plot(steps, objective, marker=marker, lw=1.5, color="tab:blue")
    top.set(ylabel="objective F", title=title)
    top.grid(alpha=0.3)
    tiny = np.finfo(float).tiny
    bottom.semilogy(steps, np.maximum(grad, tiny), marker=marker, lw=1.5, color="tab:red")
    bottom.set(xlabel="iteration (0 = starting point)", ylabel="max |gradient|")
    bottom.grid(alpha=0.3, which="both")
    return _save(fig, path)


def plot_decision_regions(  # noqa: PLR0913 public plotting API, keyword options
    X: np.ndarray, y: np.ndarray, coef: np.ndarray, intercept: np.ndarray, classes: Sequence,
    path: str | os.PathLike[str], *, features: tuple[int, int] = (0, 1),
    feature_names: Sequence[str] | None = None, title: str | None = None, resolution: int = 200,
) -> Path:
    """Predicted classes over two chosen features, the other features held at their mean.

    Generalises the tutorial's 2-D figure to any number of features and classes. ``coef`` is
    ``(1, d)`` for two classes or ``(K, d)`` (scikit-learn's ``coef_``), ``intercept`` ``(1,)`` or
    ``(K,)``. Binary models shade ``P(classes[1])`` and draw the line where it is 0.5.
    """
    plt = _pyplot()
    X = np.asarray(X, dtype=float)
    coef = np.atleast_2d(np.asarray(coef, dtype=float))
    classes = np.asarray(classes)
    d = X.shape[1]
    i, j = features
    if not (0 <= i < d and 0 <= j < d) or i == j:
        raise ValueError(f"features must be two different column indices in [0, {d}), got {features}")
    if coef.shape[1] != d:
        raise ValueError(f"coef has {coef.shape[1]} columns for {d} features")
    names = [str(n) for n in feature_names] if feature_names is not None else [f"x{k + 1}" for k in range(d)]
    index = _class_index(np.asarray(y), classes)
    gx, gy, scores = _region_scores(X, coef, intercept, (i, j), resolution)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    _shade_regions(fig, ax, (gx, gy, scores), classes)
    for k, name in enumerate(classes):
        mask = index == k
        ax.scatter(X[mask, i], X[mask, j], s=12, alpha=0.7, color=_color(k), edgecolor="none",
                   label=str(name))
    ax.set(xlim=(gx.min(), gx.max()), ylim=(gy.min(), gy.max()), xlabel=names[i], ylabel=names[j])
    held = "" if d == 2 else " (other features at their mean)"
    ax.set_title(title or f"Decision regions{held}")
    ax.legend(loc="best", fontsize=8, title="true class")
    return _save(fig, path)


def _region_scores(
    X: np.ndarray, coef: np.ndarray, intercept: np.ndarray, features: tuple[int, int], resolution: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ``resolution``² grid over the two ``features`` (5 % padding) and the linear scores there,
    ``(resolution, resolution, n_outputs)``, with every other feature at its mean."""
    i, j = features
    intercept = np.atleast_1d(np.asarray(intercept, dtype=float))
    others = [k for k in range(X.shape[1]) if k not in (i, j)]
    base = intercept + (coef[:, others] @ X[:, others].mean(axis=0) if others else 0.0)
    lo, hi = X[:, [i, j]].min(axis=0), X[:, [i, j]].max(axis=0)
    pad = 0.05 * (hi - lo) + 1e-9
    gx, gy = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution),
                         np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution))
    scores = gx[..., None] * coef[:, i] + gy[..., None] * coef[:, j] + base
    return gx, gy, scores


def _shade_regions(fig, ax, grid: tuple[np.ndarray, np.ndarray, np.ndarray], classes: np.ndarray) -> None:
    """Binary: shade ``P(classes[1])`` with a colour bar and draw the 0.5 line; else colour each
    grid cell by its most probable class and outline the borders."""
    gx, gy, scores = grid
    if len(classes) == 2:
        from matplotlib.colors import LinearSegmentedColormap

        p1 = 1 / (1 + np.exp(-np.clip(scores[..., 0], -500, 500)))
        cmap = LinearSegmentedColormap.from_list("two", [_color(0), "white", _color(1)])
        shade = ax.contourf(gx, gy, p1, levels=np.linspace(0, 1, 11), cmap=cmap, alpha=0.35)
        fig.colorbar(shade, ax=ax, label=f"P({classes[1]})")
        ax.contour(gx, gy, scores[..., 0], levels=[0], colors="k", linewidths=2)
    else:
        from matplotlib.colors import ListedColormap

        region = scores.argmax(axis=-1)
        cmap = ListedColormap([_color(k) for k in range(len(classes))])
        ax.contourf(gx, gy, region, levels=np.arange(len(classes) + 1) - 0.5, cmap=cmap, alpha=0.25)
        ax.contour(gx, gy, region, levels=np.arange(len(classes)) + 0.5, colors="k", linewidths=1)


# --------------------------------------------------------------------------- regularisation paths
def plot_path(
    Cs: Any, coefs: np.ndarray | str | os.PathLike[str] | None = None,
    path: str | os.PathLike[str] | None = None, *,
    feature_names: Sequence[str] | None = None, class_names: Sequence[str] | None = None,
    title: str = "Regularisation path",
) -> Path:
    """Every coefficient against C (log scale): how features enter as the penalty weakens.

    Call it with the result of :func:`torchlogit.path` and a file, ``plot_path(result, "path.png")``
    (its ``Cs``, ``coefs``, ``feature_names`` and ``classes`` are used), or with the arrays,
    ``plot_path(Cs, coefs, "path.png")``: ``coefs`` of shape ``(n_Cs, n_outputs, n_features)``;
    with several outputs (multinomial) one panel is drawn per class. Up to 12 features are named
    in the legend (the ones largest at the weakest penalty), ``x1..xd`` without names.

    Raises
    ------
    TypeError
        When no file is given, or ``coefs`` is missing when ``Cs`` is not a path result.
    """
    if hasattr(Cs, "coefs") and hasattr(Cs, "Cs"):  # a RegularizationPath: (result, file)
        result, path = Cs, coefs if path is None else path
        Cs, coefs = result.Cs, result.coefs
        feature_names = feature_names if feature_names is not None else getattr(result, "feature_names", None)
        classes = getattr(result, "classes", None)
        if class_names is None and classes is not None:
            class_names = [str(plain(c)) for c in classes]
    if coefs is None or path is None:
        raise TypeError("plot_path takes (path_result, file) or (Cs, coefs, file)")
    plt = _pyplot()
    Cs = np.asarray(Cs, dtype=float)
    coefs = np.asarray(coefs, dtype=float)
    if coefs.ndim == 2:
        coefs = coefs[:, None, :]
    n_outputs, n_features = coefs.shape[1:]
    names = list(feature_names) if feature_names is not None else [f"x{j + 1}" for j in range(n_features)]
    fig, axes = plt.subplots(1, n_outputs, figsize=(6 + 3 * (n_outputs - 1), 4.4), squeeze=False,
                             layout="constrained")
    for k, ax in enumerate(axes[0]):
        _path_panel(ax, Cs, coefs[:, k], names, legend=n_features <= 12 or k == 0)
        if n_outputs > 1:
            ax.set_title(f"class {class_names[k] if class_names is not None else k}", fontsize=10)
    fig.suptitle(title)  # constrained layout keeps it clear of the top axis' label
    return _save(fig, path)


def _path_panel(ax: Any, Cs: np.ndarray, coefs: np.ndarray, names: list[str], legend: bool) -> None:
    """One class's coefficients (n_Cs, n_features) against C, the non-zero count on the top axis."""
    order = np.argsort(-np.abs(coefs[-1]))
    for rank, j in enumerate(order):
        ax.plot(Cs, coefs[:, j], lw=1.2, label=names[j] if rank < 12 else None)
    ax.set_xscale("log")
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_xlabel("C (inverse penalty strength)")
    ax.set_ylabel("coefficient")
    nonzero = (coefs != 0).sum(axis=1)
    every = max(1, len(Cs) // 6)
    top = ax.secondary_xaxis("top")
    top.set_xticks(Cs[::every], labels=[str(v) for v in nonzero[::every]])
    top.set_xlabel("non-zero coefficients", fontsize=8)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(loc="best", fontsize=7)


def plot_cv_curve(
    Cs: Sequence[float], mean_scores: Sequence[float], std_scores: Sequence[float], best_C: float,
    path: str | os.PathLike[str], *, score_name: str = "mean negative log-loss",
    title: str = "Cross-validated choice of C",
) -> Path:
    """Mean cross-validation score against C (log scale), a band of ± one standard deviation over
    the folds, and the chosen C marked."""
    plt = _pyplot()
    Cs = np.asarray(Cs, dtype=float)
    mean = np.asarray(mean_scores, dtype=float)
    std = np.asarray(std_scores, dtype=float)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(Cs, mean, marker="o", ms=3, lw=1.5, label="mean over folds")
    ax.fill_between(Cs, mean - std, mean + std, alpha=0.2, label="± 1 std over folds")
    ax.axvline(best_C, color="tab:red", ls="--", lw=1, label=f"chosen C = {best_C:.4g}")
    ax.set_xscale("log")
    ax.set_xlabel("C (inverse penalty strength)")
    ax.set_ylabel(score_name)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def plot_evaluation(
    estimator, X: np.ndarray, y: np.ndarray, folder: str | os.PathLike[str], *, fmt: str = "png",
    feature_names: Sequence[str] | None = None, features: tuple[int, int] | None = None,
    threshold: float | None = None,
) -> dict[str, Path]:
    """Every evaluation figure of a fitted classifier on ``X, y``, written to ``folder`` (created).

    Files: ``roc``, ``precision_recall``, ``calibration``, ``confusion_matrix``, ``coefficients``,
    ``history`` (when the estimator has a solver history) and ``decision_regions`` (two or more
    features: ``features``, default the two with the largest coefficients), with suffix ``fmt``
    (``"png"`` or ``"svg"``). The confusion matrix predicts the most probable class, or for a
    binary model with ``threshold`` the second class when its probability is >= it. Returns
    name -> path.
    """
    from sklearn.metrics import confusion_matrix

    if fmt not in ("png", "svg"):
        raise ValueError(f"fmt must be 'png' or 'svg', got {fmt!r}")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{str(folder)!r} is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    X = np.asarray(X, dtype=float)
    classes = np.asarray(estimator.classes_)
    y = np.asarray(y)
    coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=float))
    names = [str(n) for n in feature_names] if feature_names is not None else [f"x{j + 1}" for j in
                                                                               range(X.shape[1])]
    proba = np.asarray(estimator.predict_proba(X), dtype=float)
    index = _class_index(y, classes)
    predicted = proba.argmax(axis=1) if threshold is None else (proba[:, 1] >= threshold).astype(int)
    matrix = confusion_matrix(index, predicted, labels=np.arange(len(classes)))
    rows = None if len(classes) == 2 else [str(c) for c in classes]
    out = {
        "roc": plot_roc(y, proba, classes, folder / f"roc.{fmt}"),
        "precision_recall": plot_precision_recall(y, proba, classes, folder / f"precision_recall.{fmt}"),
        "calibration": plot_calibration(y, proba, classes, folder / f"calibration.{fmt}"),
        "confusion_matrix": plot_confusion_matrix(matrix, classes, folder / f"confusion_matrix.{fmt}"),
        "coefficients": plot_coefficients(coef, names, folder / f"coefficients.{fmt}", class_names=rows),
    }
    history = getattr(estimator, "history_", None)
    if history:
        out["history"] = plot_history(history, folder / f"history.{fmt}")
    if X.shape[1] >= 2:
        out["decision_regions"] = plot_decision_regions(
            X, y, coef, estimator.intercept_, classes, folder / f"decision_regions.{fmt}",
            features=features or strongest_pair(coef), feature_names=names,
        )
    return out


def strongest_pair(coef: np.ndarray) -> tuple[int, int]:
    """The two feature indices with the largest absolute coefficients (any class), in column order."""
    order = np.argsort(-np.abs(np.atleast_2d(coef)).max(axis=0), kind="stable")
    first, second = sorted(int(j) for j in order[:2])
    return first, second
