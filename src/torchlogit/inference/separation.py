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

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from torchlogit._exceptions import PerfectSeparationWarning
from torchlogit._validation import plain

_LP_TOL = 1e-7

# A separated unpenalised fit drives some |linear predictor| up without bound; past this, the
# estimator (after fit) and summary() look for separation.
SEPARATION_SCORE = 15.0


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


def describe_separation(found: Separation, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray,
                        classes: np.ndarray, fit_intercept: bool, names: Sequence[str]) -> dict:
    """The separation ``found`` in words: which class is cut off, and by which named features.

    ``find_separation`` returns *a* separating direction, often involving every feature when the
    separation is complete; we name the features of the L1-smallest one, those that actually
    separate. ``X`` is dense, ``y`` holds class indices, ``names`` has one entry per feature.
    Returns ``{'class': label or None (binary), 'what': ..., 'features': [name, ...]}``.
    """
    k = found.class_index
    features = _fewest_separating_features(X, y == k, sample_weight, fit_intercept)
    label = plain(classes[k])
    return {
        "class": None if len(classes) == 2 else label,
        "what": "the two classes" if len(classes) == 2 else f"class {label!r} and the others",
        "features": [names[j] for j in (found.features if features is None else features)],
    }


def _fewest_separating_features(X: np.ndarray, positive: np.ndarray, weights: np.ndarray,
                                fit_intercept: bool) -> list[int] | None:
    """A sparse separating direction: min ‖v‖₁ over features, ``sᵢ x̃ᵢᵀv ≥ 0``, ``Σ sᵢ x̃ᵢᵀv ≥ 1``."""
    keep = weights > 0
    design = np.hstack([X[keep], np.ones((int(keep.sum()), 1))]) if fit_intercept else X[keep]
    scale = np.abs(design).max(axis=0)
    scale[scale == 0] = 1.0
    signed = design / scale * np.where(positive[keep], 1.0, -1.0)[:, None]
    p, d = design.shape[1], X.shape[1]
    cost = np.r_[np.ones(d), np.zeros(p - d)]
    A = np.vstack([np.hstack([-signed, signed]), np.r_[-signed.sum(0), signed.sum(0)][None, :]])
    b = np.r_[np.zeros(len(signed)), -1.0]
    res = linprog(np.r_[cost, cost], A_ub=A, b_ub=b, bounds=(0, None), method="highs")
    if res.status != 0:
        return None
    v = res.x[:p] - res.x[p:]
    return [int(j) for j in np.flatnonzero(np.abs(v[:d]) > 1e-9 * max(np.abs(v).max(), 1.0))]


def separating_features_text(separation: dict) -> str:
    """The separating features of a :func:`describe_separation` result, for a message."""
    return ", ".join(separation["features"]) or "the intercept"


def warn_separation(separation: dict) -> None:
    """PerfectSeparationWarning from ``summary()``, naming the separating features and the remedies."""
    hint = " Use torchlogit.estimators.firth.FirthLogisticRegression (Firth's method) or a penalty."
    warnings.warn(
        f"Separation: {separation['what']} are (quasi-)completely separated by "
        f"{separating_features_text(separation)}; the maximum-likelihood estimate does "
        f"not exist and the reported coefficients and standard errors are meaningless.{hint}",
        PerfectSeparationWarning, stacklevel=4,
    )
