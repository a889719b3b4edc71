"""The demo data: two linearly separable groups in 2-D (red = 0, blue = 1), generated with a seed."""

from __future__ import annotations

import numpy as np

CLASS_NAMES = ("red", "blue")
_CENTERS = np.array([[0.5, 0.5], [3.5, 3.5]])
_LINE_SUM = 4.0  # the groups sit on either side of the line x1 + x2 = 4
_MARGIN = 0.4  # minimum distance of every point from that line


def make_demo_data(n_samples: int = 1500, *, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian groups, red (label 0) around (0.5, 0.5) and blue (label 1) around (3.5, 3.5).

    Points closer than a margin to the line ``x1 + x2 = 4`` (or on its wrong side) are redrawn,
    so the groups are linearly separable (as in the tutorial) and (1, 1) lies on the red side.

    Returns
    -------
    X : float64 array (n_samples, 2)
    y : int64 array (n_samples,) of 0 (red) and 1 (blue), shuffled
    """
    if n_samples < 2:
        raise ValueError(f"n_samples must be at least 2, got {n_samples}")
    rng = np.random.default_rng(seed)
    counts = (n_samples // 2, n_samples - n_samples // 2)
    groups = []
    for label, (center, count) in enumerate(zip(_CENTERS, counts, strict=True)):
        points = np.empty((0, 2))
        while len(points) < count:
            draw = rng.normal(center, 0.9, size=(2 * count, 2))
            distance = (draw.sum(axis=1) - _LINE_SUM) / np.sqrt(2.0)
            on_own_side = distance < -_MARGIN if label == 0 else distance > _MARGIN
            points = np.vstack([points, draw[on_own_side]])
        groups.append(points[:count])
    X = np.vstack(groups)
    y = np.repeat(np.arange(2), counts)
    order = rng.permutation(n_samples)
    return X[order], y[order].astype(np.int64)
