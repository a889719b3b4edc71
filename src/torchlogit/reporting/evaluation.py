"""Evaluation of a fitted classifier: scikit-learn's metrics, the best decision threshold, and the
goodness of fit and calibration of binary probabilities.

Every metric comes from :mod:`sklearn.metrics` applied to the model's predictions, so it equals
what scikit-learn reports for the same labels and probabilities; nothing is re-derived by hand.
scikit-learn has no goodness-of-fit tests, so these are computed here and tested against R:
:func:`hosmer_lemeshow` (as ``ResourceSelection::hoslem.test``), :func:`le_cessie_van_houwelingen`
(as ``rms``' ``residuals(fit, type="gof")``) and :func:`logistic_calibration` (the calibration
intercept and slope, as ``rms::val.prob``). ``evaluate`` reports the first and the last for binary
models (``Evaluation.goodness_of_fit``); the sum-of-squares test needs the fitting design matrix
and is called directly.

Conventions
-----------
* Binary models: the positive class is ``classes[1]`` and ``proba[:, 1]`` its probability. With a
  ``threshold`` t, a row is predicted positive when ``proba[:, 1] >= t`` (the convention of
  ``roc_curve`` / ``precision_recall_curve``, so a threshold found by :func:`best_thresholds`
  reproduces the F1 / J it reports); without one, the prediction is the model's own
  (``classes[argmax proba]``, i.e. positive when ``proba[:, 1] > 0.5``).
* Three or more classes: precision, recall, F1, ROC AUC (one-vs-rest) and average precision are
  given with ``macro`` and ``weighted`` averaging; log-loss and the Brier score use the full
  probability matrix.
* ``zero_division=0`` for precision/recall/F1 (scikit-learn's default value, without its warning).
  ROC AUC and average precision are ``None`` when a class is absent from the labels (undefined).

Examples
--------
>>> ev = evaluate(clf, X_test, y_test)  # doctest: +SKIP
>>> ev.metrics["roc_auc"], ev.confusion_matrix, ev.best_thresholds["f1"]["threshold"]  # doctest: +SKIP
>>> gof = ev.goodness_of_fit  # doctest: +SKIP
>>> gof["calibration"]["slope"], gof["hosmer_lemeshow"]["pvalue"]  # doctest: +SKIP
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from torchlogit._validation import plain as _scalar

__all__ = ["Calibration", "Evaluation", "HosmerLemeshow", "SumOfSquaresTest", "best_thresholds",
           "check_labels", "evaluate", "evaluate_proba", "hosmer_lemeshow", "le_cessie_van_houwelingen",
           "logistic_calibration"]

_AVERAGES = ("macro", "weighted")  # the averages reported for three or more classes


@dataclass
class Evaluation:
    """Metrics of a classifier on one data set.

    Attributes
    ----------
    classes : the model's class labels, in the order of the probability columns
    n_samples : rows evaluated
    class_counts : rows per class (same order as ``classes``)
    threshold : the binary decision threshold used, or ``None`` (the model's own argmax)
    metrics : name -> value (``None`` where undefined); see the module docstring
    confusion_matrix : ``(K, K)`` counts, rows = true class, columns = predicted class
    best_thresholds : binary only: ``{"f1": {...}, "youden_j": {...}}``, else empty
    goodness_of_fit : binary only, else empty: ``{"hosmer_lemeshow": {"statistic", "df", "pvalue",
        "groups"}, "calibration": {"intercept", "slope", "recalibration_intercept"}}`` of
        ``proba[:, 1]`` (see :func:`hosmer_lemeshow`, :class:`Calibration`); an entry is ``None``
        where undefined: Hosmer-Lemeshow with ``sample_weight`` (its grouping is for unweighted
        rows) or with fewer than 3 distinct risk groups, the calibration with one class only
    y_pred : the predicted labels the metrics were computed from
    """

    classes: np.ndarray
    n_samples: int
    class_counts: np.ndarray
    threshold: float | None
    metrics: dict[str, float | None]
    confusion_matrix: np.ndarray
    best_thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
    goodness_of_fit: dict[str, dict[str, float] | None] = field(default_factory=dict)
    y_pred: np.ndarray | None = field(default=None, repr=False)

    @property
    def is_binary(self) -> bool:
        return len(self.classes) == 2

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready Python (labels as Python scalars, non-finite numbers as ``None``)."""
        return {
            "n_samples": self.n_samples,
            "classes": [_scalar(c) for c in self.classes],
            "class_counts": [int(c) for c in self.class_counts],
            "threshold": self.threshold,
            "metrics": {k: _finite(v) for k, v in self.metrics.items()},
            "confusion_matrix": self.confusion_matrix.astype(int).tolist(),
            "best_thresholds": {k: {kk: _finite(vv) for kk, vv in v.items()}
                                for k, v in self.best_thresholds.items()},
            "goodness_of_fit": {k: None if v is None else {kk: _finite(vv) for kk, vv in v.items()}
                                for k, v in self.goodness_of_fit.items()},
        }


def evaluate(
    estimator: Any, X: Any, y: Any, *, threshold: float | None = None, sample_weight: Any = None,
) -> Evaluation:
    """Evaluate a fitted classifier (anything with ``classes_`` and ``predict_proba``) on ``X, y``.

    Parameters
    ----------
    estimator : a fitted :class:`~torchlogit.LogisticRegression` (or scikit-learn classifier)
    X, y : features and true labels
    threshold : binary only, in (0, 1): predict ``classes_[1]`` when its probability is >= it
    sample_weight : optional weights, passed to every metric

    Raises
    ------
    ValueError
        ``y`` holds a label the model does not know (e.g. a third label for a binary model), a
        threshold outside (0, 1), or a threshold for a model with three or more classes.
    """
    classes = np.asarray(estimator.classes_)
    y = check_labels(y, classes)
    _check_threshold(threshold, len(classes))
    proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    if threshold is None:
        y_pred = np.asarray(estimator.predict(X))
    else:
        y_pred = classes[(proba[:, 1] >= threshold).astype(int)]
    return evaluate_proba(y, proba, classes, y_pred=y_pred, threshold=threshold,
                          sample_weight=sample_weight)


def evaluate_proba(
    y: Any, proba: np.ndarray, classes: Any, *, y_pred: Any = None, threshold: float | None = None,
    sample_weight: Any = None,
) -> Evaluation:
    """Metrics from true labels and a probability matrix (columns in the order of ``classes``).

    ``y_pred`` defaults to ``classes[argmax proba]``, or the thresholded prediction for a binary
    ``threshold``. Errors as :func:`evaluate`.
    """
    from sklearn import metrics

    classes = _as_labels(np.asarray(classes))
    y = check_labels(y, classes)
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape != (len(y), len(classes)):
        raise ValueError(f"proba has shape {proba.shape}; expected ({len(y)}, {len(classes)})")
    _check_threshold(threshold, len(classes))
    if y_pred is None:
        y_pred = (classes[(proba[:, 1] >= threshold).astype(int)] if threshold is not None
                  else classes[proba.argmax(axis=1)])
    y_pred = _as_labels(np.asarray(y_pred)) if classes.dtype.kind == "U" else np.asarray(y_pred)
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    scored = _Scored(y=y, y_pred=y_pred, proba=proba, classes=classes, sample_weight=sw)
    binary = len(classes) == 2
    values = {
        **_accuracies(scored),
        **(_binary_scores(scored) if binary else _multiclass_scores(scored)),
        **_probability_losses(scored),
    }
    return Evaluation(
        classes=classes, n_samples=len(y),
        class_counts=np.array([(y == c).sum() for c in classes], dtype=np.int64), threshold=threshold,
        metrics={k: None if v is None else float(v) for k, v in values.items()},
        confusion_matrix=metrics.confusion_matrix(y, y_pred, labels=list(classes), sample_weight=sw),
        best_thresholds=best_thresholds(y, proba, classes, sample_weight=sw) if binary else {},
        goodness_of_fit=_goodness_of_fit(scored) if binary else {},
        y_pred=y_pred,
    )


@dataclass(frozen=True)
class _Scored:
    """What every metric reads: true and predicted labels, probabilities, classes, row weights."""

    y: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray
    classes: np.ndarray
    sample_weight: np.ndarray | None

    @property
    def labels(self) -> list[Any]:
        return list(self.classes)

    @property
    def all_classes_present(self) -> bool:
        """Whether every class occurs in ``y`` (ROC AUC and average precision need it)."""
        return bool(np.isin(self.classes, self.y).all())


def _accuracies(s: _Scored) -> dict[str, float]:
    from sklearn import metrics

    return {
        "accuracy": metrics.accuracy_score(s.y, s.y_pred, sample_weight=s.sample_weight),
        "balanced_accuracy": _balanced_accuracy(s.y, s.y_pred, s.sample_weight),
    }


def _binary_scores(s: _Scored) -> dict[str, float | None]:
    """Precision, recall, F1 of the positive class ``classes[1]``; ROC AUC and average precision."""
    from sklearn import metrics

    pos = s.classes[1]
    prf = {"labels": s.labels, "pos_label": pos, "average": "binary", "sample_weight": s.sample_weight,
           "zero_division": 0.0}
    out: dict[str, float | None] = {
        "precision": metrics.precision_score(s.y, s.y_pred, **prf),
        "recall": metrics.recall_score(s.y, s.y_pred, **prf),
        "f1": metrics.f1_score(s.y, s.y_pred, **prf),
        "roc_auc": None,
        "average_precision": None,
    }
    if s.all_classes_present:
        y_pos, score = (s.y == pos).astype(int), s.proba[:, 1]
        out["roc_auc"] = metrics.roc_auc_score(y_pos, score, sample_weight=s.sample_weight)
        out["average_precision"] = metrics.average_precision_score(y_pos, score,
                                                                   sample_weight=s.sample_weight)
    return out


def _multiclass_scores(s: _Scored) -> dict[str, float | None]:
    """Macro and weighted precision, recall, F1, one-vs-rest ROC AUC and average precision."""
    from sklearn import metrics

    out: dict[str, float | None] = {}
    for average in _AVERAGES:
        prf = {"labels": s.labels, "average": average, "sample_weight": s.sample_weight,
               "zero_division": 0.0}
        out[f"precision_{average}"] = metrics.precision_score(s.y, s.y_pred, **prf)
        out[f"recall_{average}"] = metrics.recall_score(s.y, s.y_pred, **prf)
        out[f"f1_{average}"] = metrics.f1_score(s.y, s.y_pred, **prf)
    present = s.all_classes_present
    for average in _AVERAGES:
        out[f"roc_auc_ovr_{average}"] = (
            metrics.roc_auc_score(s.y, s.proba, multi_class="ovr", average=average, labels=s.labels,
                                  sample_weight=s.sample_weight) if present else None
        )
    indicator = (s.y[:, None] == s.classes[None, :]).astype(int)
    for average in _AVERAGES:
        out[f"average_precision_{average}"] = (
            metrics.average_precision_score(indicator, s.proba, average=average,
                                            sample_weight=s.sample_weight) if present else None
        )
    return out


def _goodness_of_fit(s: _Scored) -> dict[str, dict[str, float] | None]:
    """Hosmer-Lemeshow (unweighted rows only) and the logistic calibration of ``proba[:, 1]``."""
    y_pos, p = (s.y == s.classes[1]).astype(np.float64), s.proba[:, 1]
    hl = _hosmer_lemeshow(y_pos, p, 10) if s.sample_weight is None else None
    cal = logistic_calibration(y_pos, p, s.sample_weight)
    return {"hosmer_lemeshow": None if hl is None else hl.to_dict(),
            "calibration": None if cal is None else cal.to_dict()}


def _probability_losses(s: _Scored) -> dict[str, float]:
    """Log-loss and the Brier score (binary: of ``proba[:, 1]``; else of the full matrix)."""
    from sklearn import metrics

    if len(s.classes) == 2:
        brier = metrics.brier_score_loss(s.y, s.proba[:, 1], pos_label=s.classes[1],
                                         sample_weight=s.sample_weight)
    else:
        brier = metrics.brier_score_loss(s.y, s.proba, labels=s.labels, sample_weight=s.sample_weight)
    return {
        "log_loss": metrics.log_loss(s.y, s.proba, labels=s.labels, sample_weight=s.sample_weight),
        "brier_score": brier,
    }


def best_thresholds(
    y: Any, proba: np.ndarray, classes: Any, *, sample_weight: Any = None,
) -> dict[str, dict[str, float]]:
    """The binary thresholds that maximise F1 and Youden's J (``TPR − FPR``).

    A row is predicted positive when ``proba[:, 1] >= threshold``. Returns
    ``{"f1": {"threshold", "f1", "precision", "recall"}, "youden_j": {"threshold", "youden_j",
    "tpr", "fpr"}}``; empty when ``y`` has only one class (both are undefined then).
    """
    from sklearn import metrics

    classes = np.asarray(classes)
    if len(classes) != 2:
        raise ValueError(f"threshold search needs a binary model; this one has {len(classes)} classes")
    y = check_labels(y, classes)
    score = np.asarray(proba, dtype=np.float64)
    score = score[:, 1] if score.ndim == 2 else score
    y_pos = (y == classes[1]).astype(int)
    if y_pos.min() == y_pos.max():
        return {}
    precision, recall, pr_thresholds = metrics.precision_recall_curve(
        y_pos, score, sample_weight=sample_weight,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)[:-1]
    i = int(np.argmax(f1))
    fpr, tpr, roc_thresholds = metrics.roc_curve(y_pos, score, sample_weight=sample_weight,
                                                drop_intermediate=False)
    finite = np.isfinite(roc_thresholds)  # the first threshold is +inf (nothing predicted positive)
    j = tpr - fpr
    k = int(np.flatnonzero(finite)[np.argmax(j[finite])])
    return {
        "f1": {"threshold": float(pr_thresholds[i]), "f1": float(f1[i]),
               "precision": float(precision[i]), "recall": float(recall[i])},
        "youden_j": {"threshold": float(roc_thresholds[k]), "youden_j": float(j[k]),
                     "tpr": float(tpr[k]), "fpr": float(fpr[k])},
    }


def check_labels(y: Any, classes: Any) -> np.ndarray:
    """``y`` as an array of the model's label type; ValueError for labels the model does not know."""
    classes = np.asarray(classes)
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {y.shape}")
    if len(y) == 0:
        raise ValueError("no rows to evaluate")
    if classes.dtype.kind in "OUS":
        y = y.astype(str)
        classes = classes.astype(str)
    elif y.dtype.kind not in "biuf":
        raise ValueError(f"the data's labels are text but the model's classes are numbers {list(classes)}")
    unknown = np.setdiff1d(np.unique(y), classes)
    if len(unknown):
        kind = "binary model" if len(classes) == 2 else f"{len(classes)}-class model"
        shown = [_scalar(u) for u in unknown[:5]]
        raise ValueError(
            f"the data has label(s) {shown}{' ...' if len(unknown) > 5 else ''} that the {kind} "
            f"does not know (its classes are {[_scalar(c) for c in classes]}); evaluate it on data "
            "with the labels it was fitted on"
        )
    return y


def _check_threshold(threshold: float | None, n_classes: int) -> None:
    if threshold is None:
        return
    if n_classes != 2:
        raise ValueError(f"a decision threshold applies to binary models; this one has {n_classes} classes")
    if not (isinstance(threshold, numbers.Real) and 0 < threshold < 1):
        raise ValueError(f"the threshold must lie strictly between 0 and 1, got {threshold!r}")


def _as_labels(values: np.ndarray) -> np.ndarray:
    """Text labels (object or bytes arrays) as a numpy unicode array; numbers unchanged."""
    return values.astype(str) if values.dtype.kind in "OUS" else values


def _balanced_accuracy(y: np.ndarray, y_pred: np.ndarray, sw: np.ndarray | None) -> float:
    import warnings

    from sklearn import metrics
    from sklearn.exceptions import UndefinedMetricWarning

    # scikit-learn warns when a predicted class never occurs in y; the value is still defined
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        return metrics.balanced_accuracy_score(y, y_pred, sample_weight=sw)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------------- goodness of fit, calibration
@dataclass(frozen=True)
class HosmerLemeshow:
    """The Hosmer-Lemeshow test: ``Σ_groups (O − E)² / E`` over both outcomes, χ² on ``groups − 2`` df.

    ``counts``, ``observed`` and ``expected`` hold, per group (lowest risk first), the rows, the
    observed positives and the summed probabilities.
    """

    statistic: float
    df: int
    pvalue: float
    groups: int
    counts: np.ndarray = field(repr=False)
    observed: np.ndarray = field(repr=False)
    expected: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, float]:
        return {"statistic": self.statistic, "df": self.df, "pvalue": self.pvalue, "groups": self.groups}


@dataclass(frozen=True)
class SumOfSquaresTest:
    """le Cessie-van Houwelingen's unweighted sum-of-squares test (rms' ``residuals(fit, type="gof")``).

    ``sse = Σ (y − p)²``, its expectation ``Σ p(1 − p)`` and standard deviation under the model,
    ``statistic = (sse − expected) / sd`` (standard normal) and the two-sided ``pvalue``.
    """

    sse: float
    expected: float
    sd: float
    statistic: float
    pvalue: float


@dataclass(frozen=True)
class Calibration:
    """Logistic calibration of predicted probabilities p against outcomes y.

    ``slope``: the coefficient b of ``logit P(y) = a + b·logit(p)``, with ``recalibration_intercept``
    its a (rms' ``val.prob`` "Slope" and "Intercept"); ``intercept``: calibration-in-the-large,
    the a of ``logit P(y) = a + logit(p)`` (logit(p) as an offset). A well-calibrated model has
    intercept 0 and slope 1; a slope below 1 means predictions too extreme (overfitting).
    """

    intercept: float
    slope: float
    recalibration_intercept: float

    def to_dict(self) -> dict[str, float]:
        return {"intercept": self.intercept, "slope": self.slope,
                "recalibration_intercept": self.recalibration_intercept}


def _binary_outcome(y: Any, p: Any) -> tuple[np.ndarray, np.ndarray]:
    """``y`` as 0/1 floats and ``p`` as probabilities, both 1-D of one length; ValueError otherwise."""
    y, p = np.asarray(y), np.asarray(p, dtype=np.float64)
    if y.ndim != 1 or p.ndim != 1 or len(y) != len(p) or len(y) == 0:
        raise ValueError(f"y and p must be one-dimensional and of one length, got shapes {y.shape} and "
                         f"{p.shape}")
    if y.dtype.kind not in "biuf" or not np.isin(y, (0, 1)).all():
        raise ValueError("y must hold the outcomes as 0/1 (1 for the positive class)")
    if not (np.all(np.isfinite(p)) and p.min() >= 0 and p.max() <= 1):
        raise ValueError("p must hold probabilities in [0, 1]")
    return y.astype(np.float64), p


def _quantiles_type7(sorted_p: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """R's ``quantile(type = 7)``, computed as R does (1-based index, no interpolation between ties)."""
    index = 1 + (len(sorted_p) - 1) * probs
    lo, hi = np.floor(index).astype(np.int64), np.ceil(index).astype(np.int64)
    qs, upper = sorted_p[lo - 1], sorted_p[hi - 1]
    h = index - lo
    return np.where((index > lo) & (upper != qs), (1 - h) * qs + h * upper, qs)


def hosmer_lemeshow(y: Any, p: Any, groups: int = 10) -> HosmerLemeshow:
    """Hosmer-Lemeshow goodness-of-fit test over deciles (``groups``-tiles) of risk.

    Grouping, as R's ``ResourceSelection::hoslem.test``: the break points are R's type-7
    quantiles of ``p`` at ``0, 1/g, .., 1`` with duplicates dropped, and a row falls in the group
    ``(b_i, b_{i+1}]`` (the lowest break included), so tied probabilities always share a group.
    The statistic sums ``(O − E)²/E`` over both outcomes of every group; it equals hoslem.test's.
    Degrees of freedom: the number of groups formed minus 2. hoslem.test keeps ``g − 2`` even when
    tied probabilities leave fewer distinct breaks (fewer groups); we count the groups formed, so
    the two p-values differ only then. Rows are unweighted.

    Parameters
    ----------
    y : 0/1 outcomes
    p : predicted probabilities of the outcome 1
    groups : the number of risk groups asked for (at least 3)

    Raises
    ------
    ValueError
        Bad ``y``/``p`` (see :func:`logistic_calibration`), ``groups < 3``, or ties leaving fewer
        than 3 groups.
    """
    if not (isinstance(groups, numbers.Integral) and groups >= 3):
        raise ValueError(f"groups must be an integer of at least 3, got {groups!r}")
    result = _hosmer_lemeshow(*_binary_outcome(y, p), groups)
    if result is None:
        raise ValueError("the probabilities take too few distinct values to form 3 risk groups")
    return result


def _hosmer_lemeshow(y: np.ndarray, p: np.ndarray, groups: int) -> HosmerLemeshow | None:
    """:func:`hosmer_lemeshow` on checked 0/1 ``y`` and probabilities ``p``; None below 3 groups."""
    from scipy.special import chdtrc  # the χ² survival function, without importing scipy.stats

    probs = np.minimum(np.arange(groups + 1) * (1 / groups), 1.0)  # R's seq(0, 1, 1/g)
    breaks = np.unique(_quantiles_type7(np.sort(p), probs))
    group = np.maximum(np.searchsorted(breaks, p, side="left") - 1, 0)
    counts = np.bincount(group, minlength=len(breaks) - 1).astype(np.float64)
    observed = np.bincount(group, weights=y, minlength=len(breaks) - 1)
    expected = np.bincount(group, weights=p, minlength=len(breaks) - 1)
    keep = counts > 0  # an interval between two adjacent rows can be empty when rows are fewer than groups
    counts, observed, expected = counts[keep], observed[keep], expected[keep]
    with np.errstate(divide="ignore", invalid="ignore"):  # E = 0 only for p exactly 0 or 1 in a group
        cells = (observed - expected) ** 2 * (1 / expected + 1 / (counts - expected))
    if len(counts) < 3:
        return None
    statistic, df = float(cells.sum()), len(counts) - 2
    return HosmerLemeshow(statistic, df, float(chdtrc(df, statistic)), len(counts), counts, observed,
                          expected)


def le_cessie_van_houwelingen(y: Any, p: Any, X: Any, *, fit_intercept: bool = True) -> SumOfSquaresTest:
    """le Cessie-van Houwelingen's unweighted sum-of-squares goodness-of-fit test on the fitting data.

    The form of Hosmer, Hosmer, le Cessie & Lemeshow (1997) that R's ``rms`` prints with
    ``residuals(lrm(..., x=TRUE, y=TRUE), type="gof")``: ``sse = Σ (y − p)²`` has expectation
    ``Σ v`` with ``v = p(1 − p)``; its variance, corrected for the estimated coefficients, is the
    residual sum of squares of the weighted (weights v) least-squares regression of ``1 − 2p`` on
    the design ``[1, X]``; ``z = (sse − Σ v)/sd`` is standard normal under the model.

    Parameters
    ----------
    y : 0/1 outcomes of the rows the model was fitted on
    p : the model's fitted probabilities of the outcome 1
    X : the features the model was fitted on, dense or sparse (a column of ones is added
        when ``fit_intercept``)
    fit_intercept : whether the model has an intercept

    Raises
    ------
    ValueError
        Bad ``y``/``p``, or ``X`` with another number of rows.
    """
    import scipy.sparse as sp
    from scipy.special import ndtr

    y, p = _binary_outcome(y, p)
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    X = X.reshape(len(X), -1)
    if X.shape[0] != len(y):
        raise ValueError(f"X has {X.shape[0]} rows but y has {len(y)}")
    if fit_intercept:
        X = np.column_stack([np.ones(len(y)), X])
    v = p * (1 - p)
    root = np.sqrt(v)
    d = 1 - 2 * p
    coef = np.linalg.lstsq(X * root[:, None], d * root, rcond=None)[0]
    sd = float(np.sqrt(np.sum(v * (d - X @ coef) ** 2)))
    sse, expected = float(np.sum((y - p) ** 2)), float(v.sum())
    z = (sse - expected) / sd
    return SumOfSquaresTest(sse, expected, sd, z, float(2 * ndtr(-abs(z))))


def _logistic_fit(Z: np.ndarray, y: np.ndarray, w: np.ndarray, offset: np.ndarray,
                  start: np.ndarray) -> np.ndarray | None:
    """The weighted logistic MLE of ``y`` on ``Z`` with an offset (Newton, step halving); None if none.

    None when the information is singular (e.g. constant ``logit(p)``) or Newton does not settle
    (separated outcomes: the MLE is infinite). A step is kept when the gradient at its end still
    points along it (the log-likelihood is concave, so it rose all the way); only otherwise are
    log-likelihoods compared, so a typical iteration costs one sigmoid pass over the rows.
    """
    from scipy.special import expit

    def loglik(eta: np.ndarray) -> float:
        return float(np.dot(w, y * eta - np.logaddexp(0, eta)))

    beta = start.astype(np.float64)
    eta = offset + Z @ beta
    mu = expit(eta)
    grad = Z.T @ (w * (y - mu))
    for _ in range(100):
        info = (Z * (w * mu * (1 - mu))[:, None]).T @ Z
        if np.linalg.cond(info) > 1e12:
            return None
        step, floor = np.linalg.solve(info, grad), None
        for _ in range(30):
            moved = eta + Z @ step
            moved_mu = expit(moved)
            moved_grad = Z.T @ (w * (y - moved_mu))
            if moved_grad @ step >= 0:
                break
            floor = loglik(eta) if floor is None else floor
            if loglik(moved) >= floor - 1e-12 * abs(floor):
                break
            step = step / 2
        beta, eta, mu, grad = beta + step, moved, moved_mu, moved_grad
        if np.max(np.abs(step)) < 1e-9 * (1 + np.max(np.abs(beta))):
            return beta if np.all(np.isfinite(beta)) else None
    return None


def logistic_calibration(y: Any, p: Any, sample_weight: Any = None) -> Calibration | None:
    """Calibration intercept (in the large) and slope of probabilities ``p`` for outcomes ``y``.

    See :class:`Calibration` for the definitions (they equal R's ``rms::val.prob`` "Slope" and
    "Intercept", and ``glm(y ~ 1, offset = qlogis(p), family = binomial)`` for the intercept).
    Rows with ``p`` exactly 0 or 1 (infinite logit) are left out, as ``val.prob`` does;
    ``sample_weight`` weights the rows of both logistic fits. Returns None when either is undefined:
    one outcome only, or a single distinct probability.

    Raises
    ------
    ValueError
        ``y`` not 0/1, ``p`` outside [0, 1], or different lengths.
    """
    from scipy import special

    y, p = _binary_outcome(y, p)
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if w.shape != y.shape or not np.all(np.isfinite(w)) or w.min() < 0:
        raise ValueError(f"sample_weight must hold {len(y)} finite non-negative weights")
    finite = (p > 0) & (p < 1) & (w > 0)
    y, w, logit = y[finite], w[finite], special.logit(p[finite])
    if len(y) == 0 or y.min() == y.max():
        return None
    ones = np.ones((len(y), 1))
    in_the_large = _logistic_fit(ones, y, w, logit, np.zeros(1))
    recalibrated = _logistic_fit(np.column_stack([ones, logit]), y, w, np.zeros(len(y)), np.array([0.0, 1.0]))
    if in_the_large is None or recalibrated is None:
        return None
    return Calibration(float(in_the_large[0]), float(recalibrated[1]), float(recalibrated[0]))
