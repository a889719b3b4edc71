"""Which columns ``torchlogit fit`` uses: the target, the features, the weight and the clusters.

One rule for in-memory and streamed fits: ``--features`` names the features (in its order);
otherwise every column but the target, the weight, the cluster columns of ``--cov cluster:`` and
those named by ``--exclude``. The choice is printed before the fit (:func:`describe`), so an id
column that slipped in is seen at once. Part of the CLI layer: :mod:`.fit` and :mod:`.stream` call
it, :mod:`._output` prints.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from torchlogit.cli import _output


@dataclass(frozen=True)
class Columns:
    """The roles of a data file's columns.

    Attributes
    ----------
    target : the label column
    features : the feature columns, in the order of the model's coefficients
    weight : the sample-weight column, or ``None``
    clusters : the cluster columns of ``--cov cluster:A[,B]`` (none otherwise)
    unused : the file's other columns (``--exclude``, or left out of ``--features``)
    """

    target: str
    features: list[str]
    weight: str | None
    clusters: list[str]
    unused: list[str]


def names_option(text: str | None, flag: str) -> list[str]:
    """The column names of a comma-separated option (``--features a,b``); ``[]`` when not given."""
    if text is None:
        return []
    names = [part.strip() for part in text.split(",")]
    if not all(names) or len(set(names)) != len(names):
        raise ValueError(f"{flag} takes distinct column names separated by commas, got {text!r}")
    return names


def choose(header: Sequence[str], args: argparse.Namespace, clusters: Sequence[str] = ()) -> Columns:
    """The columns' roles from the file's ``header`` and the options in ``args``.

    Raises
    ------
    ValueError
        For a name that is no column of the file, for ``--features`` with ``--exclude``, for a
        feature that is also the target, weight or a cluster column, and when no feature is left.
    """
    header = list(header)
    features, excluded = names_option(args.features, "--features"), names_option(args.exclude, "--exclude")
    if features and excluded:
        raise ValueError("give --features (the columns to use) or --exclude (the columns to leave out), "
                         "not both")
    roles = {args.target: "the target", **dict.fromkeys(clusters, "a cluster column")}
    if args.weight:
        roles[args.weight] = "the weight"
    for flag, names in (("--features", features), ("--exclude", excluded)):
        unknown = [n for n in names if n not in header]  # the target, weight and clusters: by the readers
        if unknown:
            raise ValueError(f"{flag}: no column {_quoted(unknown)} in the data; its columns are "
                             f"{_quoted(header, limit=12)}")
    clash = [f"{n!r} is {roles[n]}" for n in features if n in roles]
    if clash:
        raise ValueError(f"--features: {'; '.join(clash)}, not a feature")
    if not features:
        features = [n for n in header if n not in roles and n not in excluded]
    if not features:
        raise ValueError("no feature column is left: the data holds only the target, weight, cluster "
                         "and excluded columns")
    unused = [n for n in header if n not in features and n not in roles]
    return Columns(args.target, features, args.weight, list(clusters), unused)


def describe(columns: Columns, where: str, labels: Sequence[object]) -> None:
    """Print the data's roles: where the rows come from, the target and its classes, the weight,
    the features (folded when many) and the columns left out."""
    classes = ", ".join(_output.label_text(c) for c in labels[:6]) + (", ..." if len(labels) > 6 else "")
    _output.wrapped(f"data: {where}")
    _output.wrapped(f"target {columns.target} ({len(labels)} classes: {classes}); "
                    f"weight {columns.weight or 'none (every row weighs 1)'}")
    _output.wrapped(f"features ({len(columns.features)}): {_output.folded_names(columns.features)}")
    if columns.clusters:
        _output.wrapped(f"clusters: {', '.join(columns.clusters)}")
    if columns.unused:
        _output.wrapped(f"not used: {_output.folded_names(columns.unused)}")


def identifier_columns(X: np.ndarray, names: Sequence[str]) -> list[str]:
    """The feature columns that look like row identifiers: whole numbers, a different one on every
    row (20 rows or more). A model fitted on an id learns the order the rows were written in."""
    if X.shape[0] < 20:
        return []
    whole = np.all(np.round(X) == X, axis=0)
    return [names[j] for j in np.flatnonzero(whole) if len(np.unique(X[:, j])) == X.shape[0]]


def class_weight_option(text: str | None) -> Any:
    """``--class-weight``: ``None``, ``'balanced'``, or the JSON object's ``{label: weight}``.

    Labels are JSON keys, so always text; :func:`matched_class_weight` matches them to the
    data's labels once these are known.
    """
    if text is None or text == "balanced":
        return text
    import json

    try:
        weights = json.loads(text)
    except ValueError:
        weights = None
    if not isinstance(weights, dict) or not weights or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
            for v in weights.values()):
        raise ValueError(f"--class-weight takes 'balanced' or a JSON object of non-negative numbers such as "
                         f"'{{\"yes\": 3}}', got {text!r}")
    return weights


def matched_class_weight(class_weight: Any, labels: np.ndarray) -> Any:
    """A ``--class-weight`` object keyed by the data's own labels (``"1"`` becomes the label ``1``).

    Raises
    ------
    ValueError
        Naming a key that is none of the labels.
    """
    if not isinstance(class_weight, dict):
        return class_weight
    by_text = {_output.label_text(label): label for label in labels}
    unknown = [key for key in class_weight if key not in by_text]
    if unknown:
        raise ValueError(f"--class-weight: {unknown[0]!r} is not a class of the target; its classes are "
                         f"{list(by_text)[:10]}")
    return {by_text[key]: float(value) for key, value in class_weight.items()}


def _quoted(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
