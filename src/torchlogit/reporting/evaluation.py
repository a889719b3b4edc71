"""Evaluation of a fitted classifier: scikit-learn's metrics, and the best decision threshold.

Every number comes from :mod:`sklearn.metrics` applied to the model's predictions, so it equals
what scikit-learn reports for the same labels and probabilities; nothing is re-derived by hand.

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
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from torchlogit._validation import plain as _scalar

__all__ = ["Evaluation", "best_thresholds", "check_labels", "evaluate", "evaluate_proba"]

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
    y_pred : the predicted labels the metrics were computed from
    """

    classes: np.ndarray
    n_samples: int
    class_counts: np.ndarray
    threshold: float | None
    metrics: dict[str, float | None]
    confusion_matrix: np.ndarray
    best_thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
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
