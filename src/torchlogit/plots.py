"""Figures (matplotlib, Agg backend, imported lazily): loss curve and decision boundary.

Every function writes one PNG atomically and returns its path; nothing is shown on screen.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from torchlogit._fileio import atomic_path

_COLORS = ("tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike[str]) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
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


def plot_decision_boundary(
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
