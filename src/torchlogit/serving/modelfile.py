"""Model files: one safetensors file holding the coefficient tensors and a JSON metadata document.

Loading parses the safetensors header and raw tensor bytes only; nothing is unpickled or executed.
The metadata (under the header key ``"torchlogit"``) records the format version, the library
version, feature names, class labels with their type, the estimator's parameters and fit details.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from torchlogit._exceptions import ModelFileError
from torchlogit._fileio import atomic_path
from torchlogit._validation import plain
from torchlogit.estimators.logistic import LogisticRegression

FORMAT_NAME = "torchlogit-model"
FORMAT_VERSION = 1
_META_KEY = "torchlogit"
_LABEL_TYPES = {"bool": bool, "int": int, "float": float, "str": str}


def _label_type(classes: np.ndarray) -> str:
    kind = np.asarray(classes).dtype.kind
    return {"b": "bool", "i": "int", "u": "int", "f": "float"}.get(kind, "str")


def _jsonable(value: Any) -> Any:
    value = plain(value)
    if isinstance(value, np.ndarray):  # e.g. penalty_factor
        return _jsonable(value.tolist())
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def save_model(estimator: LogisticRegression, path: str | os.PathLike[str], *,
               feature_names: list[str] | None = None, extra: dict[str, Any] | None = None) -> Path:
    """Write a fitted estimator to ``path`` atomically; returns the path.

    ``feature_names`` names the columns when the estimator was fitted on a plain array (the CLI
    reads them back to pick columns); ``extra`` is stored as is (e.g. train/test accuracy).
    """
    if not hasattr(estimator, "coef_"):
        raise ValueError("the estimator is not fitted; call fit before saving")
    label_type = _label_type(estimator.classes_)
    own_names = getattr(estimator, "feature_names_in_", None)
    names = own_names if own_names is not None else feature_names
    if names is not None and len(names) != estimator.n_features_in_:
        raise ValueError(f"{len(names)} feature names for {estimator.n_features_in_} features")
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "torchlogit_version": _version(),
        "n_features": int(estimator.n_features_in_),
        "feature_names": None if names is None else [str(n) for n in names],
        "estimator_has_feature_names": own_names is not None,
        "classes": [_jsonable(c) for c in estimator.classes_],
        "label_type": label_type,
        "params": _jsonable(estimator.get_params()),
        "fit": {
            "solver": estimator.solver_,
            "n_iter": int(estimator.n_iter_[0]),
            "converged": bool(estimator.converged_),
            "objective": float(estimator.objective_),
            "grad_max": float(estimator.grad_max_),
            # per iteration {objective, grad_max}: reports from the file show the convergence
            "history": [{key: _finite_or_none(value) for key, value in step.items()}
                        for step in getattr(estimator, "history_", None) or []],
        },
        "extra": _jsonable(extra or {}),
    }
    tensors = {
        "coef": torch.from_numpy(np.ascontiguousarray(estimator.coef_)),
        "intercept": torch.from_numpy(np.ascontiguousarray(estimator.intercept_)),
    }
    target = Path(path)
    with atomic_path(target) as tmp:
        save_file(tensors, str(tmp), metadata={_META_KEY: json.dumps(metadata)})
    return target


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON metadata of a model file, validated (raises :class:`ModelFileError`)."""
    return _open(path)[1]


def load_model(path: str | os.PathLike[str]) -> LogisticRegression:
    """Read a model file written by :func:`save_model` into a fitted ``LogisticRegression``."""
    tensors, meta = _open(path)
    coef, intercept = tensors["coef"].numpy(), tensors["intercept"].numpy()
    n_classes = len(meta["classes"])
    n_outputs = 1 if n_classes == 2 else n_classes
    if coef.shape != (n_outputs, meta["n_features"]) or intercept.shape != (n_outputs,):
        raise ModelFileError(f"{path}: tensor shapes do not match the metadata")
    params = {k: v for k, v in meta["params"].items() if k in LogisticRegression().get_params()}
    estimator = LogisticRegression(**params)
    estimator.coef_, estimator.intercept_ = coef, intercept
    cast = _LABEL_TYPES[meta["label_type"]]
    estimator.classes_ = np.array([cast(c) for c in meta["classes"]])
    estimator.n_features_in_ = meta["n_features"]
    if meta["estimator_has_feature_names"]:
        estimator.feature_names_in_ = np.array(meta["feature_names"], dtype=object)
    fit = meta["fit"]
    estimator.solver_ = fit["solver"]
    estimator.n_iter_ = np.array([fit["n_iter"]], dtype=np.int32)
    estimator.converged_ = fit["converged"]
    estimator.objective_ = fit["objective"]
    estimator.grad_max_ = fit["grad_max"]
    history = fit.get("history")  # absent from files of earlier versions
    if isinstance(history, list) and all(isinstance(step, dict) for step in history):
        estimator.history_ = [{str(k): float("nan") if v is None else float(v) for k, v in step.items()}
                              for step in history]
    return estimator


def _finite_or_none(value: Any) -> float | None:
    """JSON has no NaN or infinity: those become null."""
    value = float(value)
    return value if np.isfinite(value) else None


def _open(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {str(path)!r} does not exist")
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises several types for malformed files
        raise ModelFileError(
            f"{str(path)!r} is not a torchlogit model file (not a valid safetensors file: {exc})"
        ) from None
    try:
        meta = json.loads(header[_META_KEY])
    except (KeyError, json.JSONDecodeError):
        raise ModelFileError(f"{str(path)!r} is a safetensors file but not a torchlogit model") from None
    if meta.get("format") != FORMAT_NAME or not isinstance(meta.get("format_version"), int):
        raise ModelFileError(f"{str(path)!r} is not a torchlogit model file")
    if meta["format_version"] > FORMAT_VERSION:
        raise ModelFileError(
            f"{str(path)!r} was written by a newer torchlogit (format {meta['format_version']}); "
            "upgrade torchlogit to read it"
        )
    required = {"coef", "intercept"}
    fields = {"n_features", "feature_names", "estimator_has_feature_names", "classes", "params", "fit"}
    if (not required <= tensors.keys() or meta.get("label_type") not in _LABEL_TYPES
            or not fields <= meta.keys()):
        raise ModelFileError(f"{str(path)!r} is a damaged torchlogit model file")
    return tensors, meta


def _version() -> str:
    from torchlogit._version import __version__

    return __version__
