"""Detect (quasi-)complete separation, when the unpenalised maximum-likelihood estimate does not exist.

The binomial MLE is finite if and only if no non-zero direction ``v`` satisfies
``(2yᵢ − 1)·x̃ᵢᵀv ≥ 0`` for every row with positive weight (Albert & Anderson 1984). We look for
such a direction with the linear programme of Konis (2007, R package safeBinaryRegression):
maximise ``Σᵢ (2yᵢ − 1) x̃ᵢᵀv`` subject to those inequalities and ``−1 ≤ v ≤ 1``; a positive
optimum means separation, and the features with non-zero ``v`` are the ones that separate.
For several classes we check each class against the rest: if one class can be cut off by a
hyperplane, the multinomial MLE does not exist either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

_LP_TOL = 1e-7


@dataclass
class Separation:
    """A separating direction: which class is cut off, and the features involved."""

    class_index: int
    direction: np.ndarray  # over features, then the intercept when fitted
    features: list[int]


def find_separation(
    X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray, n_classes: int, fit_intercept: bool,
) -> Separation | None:
    """Return a separating direction if the classes are (quasi-)completely separated, else None.

    ``X`` is dense, ``y`` holds class indices. Rows with zero weight are ignored.
    """
    keep = sample_weight > 0
    X, y = X[keep], y[keep]
    design = np.hstack([X, np.ones((len(X), 1))]) if fit_intercept else X
    scale = np.abs(design).max(axis=0)
    scale[scale == 0] = 1.0
    design = design / scale
    targets = [1] if n_classes == 2 else range(n_classes)
    for k in targets:
        sign = np.where(y == k, 1.0, -1.0)
        signed = design * sign[:, None]
        res = linprog(
            c=-signed.sum(axis=0), A_ub=-signed, b_ub=np.zeros(len(signed)),
            bounds=[(-1.0, 1.0)] * design.shape[1], method="highs",
        )
        if res.status == 0 and -res.fun > _LP_TOL * len(signed):
            direction = res.x / scale
            n_feat = X.shape[1]
            big = np.abs(res.x[:n_feat]) > _LP_TOL
            return Separation(class_index=k, direction=direction, features=list(np.flatnonzero(big)))
    return None
