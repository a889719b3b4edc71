"""Model files: one safetensors file holding the coefficient tensors and a JSON metadata document.

Loading parses the safetensors header and raw tensor bytes only; nothing is unpickled or executed.
The metadata (under the header key ``"torchlogit"``) records the format version, the library
version, feature names, class labels with their type, the estimator's parameters, fit details and
a checksum of the whole.

A load checks everything before it builds an estimator; each failure is a
:class:`~torchlogit._exceptions.ModelFileError` naming the file and the field or tensor:

* the metadata is a JSON object, nested at most ``_MAX_DEPTH`` deep, of this format and of a
  version this torchlogit reads;
* its fields have their types and ranges: ``n_features`` a positive integer; ``feature_names``
  null or ``n_features`` distinct strings; ``classes`` at least two distinct labels in sorted
  order, each of ``label_type`` ('float' labels finite); ``params`` an object of flat JSON values;
  ``fit`` an object with ``solver``, ``n_iter`` (0 to 2³¹ − 1), ``converged``, ``objective``,
  ``grad_max`` and optionally ``history``; ``extra``, if present, an object;
* the tensors are ``coef``, shape (n_outputs, n_features), and ``intercept``, shape (n_outputs,),
  both float32 or both float64, all finite (n_outputs is 1 for two classes, else one per class);
  from format 2 on, optionally the solver's per-iteration history, one float32 vector per
  quantity (``history.objective``, ``history.grad_max``), all of one length;
* the checksum: SHA-256 over the metadata (canonical JSON, less the checksum) and each tensor's
  name, dtype, shape and little-endian bytes, in name order (:func:`_checksum`), so a flipped bit
  anywhere in the contents is refused. Files written before model files had checksums load with a
  :class:`~torchlogit._exceptions.ModelFileWarning`.

Saving runs the same checks on what it is about to write, so every file written can be read back.

The history: format 1 stored it as JSON, one object per iteration (a 1000-epoch SGD fit made a
125 KB file for 4 coefficients); format 2 stores it as float32 vectors in the tensor body (4
bytes per iteration and quantity) and keeps in the JSON ``fit.history`` only its first and last
steps, for a reader of the metadata alone. Both formats load.
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import json
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from torchlogit._exceptions import ModelFileError, ModelFileWarning
from torchlogit._fileio import check_writable, write_bytes
from torchlogit._validation import plain
from torchlogit.estimators.logistic import LogisticRegression

FORMAT_NAME = "torchlogit-model"
FORMAT_VERSION = 2
_META_KEY = "torchlogit"
_LABEL_TYPES = {"bool": bool, "int": int, "float": float, "str": str}
# the JSON types each label type's classes are written as
_LABEL_JSON = {"bool": (bool,), "int": (int,), "float": (float,), "str": (str,)}
_DTYPE_LABELS = {"b": "bool", "i": "int", "u": "int", "f": "float", "U": "str"}
_MAX_DEPTH = 32  # the metadata written is 4 deep; ``extra`` gets the rest
_INT64 = 1 << 63
_MAX_N_ITER = (1 << 31) - 1  # n_iter_ is int32, as scikit-learn's
_CHECKSUM = re.compile(r"sha256:[0-9a-f]{64}")
_TENSORS = ("coef", "intercept")
_HISTORY = "history."  # prefix of the history tensors (format 2)
# the metadata of files written before model files had a checksum
_UNCHECKED_FIELDS = frozenset({"format", "format_version", "torchlogit_version", "n_features",
                               "feature_names", "estimator_has_feature_names", "classes", "label_type",
                               "params", "fit", "extra"})
_JSON_KINDS = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
               int: "an integer", float: "a number", type(None): "null"}
_NUMBER = (int, float)
_SCALAR = (str, bool, int, float, type(None))


def save_model(estimator: LogisticRegression, path: str | os.PathLike[str], *,
               feature_names: list[str] | None = None, extra: dict[str, Any] | None = None) -> Path:
    """Write a fitted estimator to ``path`` atomically; returns the path.

    ``feature_names`` names the columns when the estimator was fitted on a plain array (the CLI
    reads them back to pick columns); ``extra`` is stored as is (e.g. train/test accuracy). The
    file is checked as :func:`load_model` would check it (a ``ValueError`` otherwise, e.g. for
    non-finite coefficients) and gets a checksum. A write that fails (a full disk) is an
    ``OSError`` naming ``path`` and leaves nothing behind.
    """
    if not hasattr(estimator, "coef_"):
        raise ValueError("the estimator is not fitted; call fit before saving")
    target = Path(path)
    check_writable(target)
    own_names = getattr(estimator, "feature_names_in_", None)
    names = own_names if own_names is not None else feature_names
    if names is not None and len(names) != estimator.n_features_in_:
        raise ValueError(f"{len(names)} feature names for {estimator.n_features_in_} features")
    tensors = {
        "coef": torch.from_numpy(np.ascontiguousarray(estimator.coef_)),
        "intercept": torch.from_numpy(np.ascontiguousarray(estimator.intercept_)),
        **_history_tensors(getattr(estimator, "history_", None) or []),
    }
    # the document as a reader will see it: JSON's types, then checked and summed as on load
    meta = json.loads(json.dumps(_metadata(estimator, names, own_names is not None, extra)))
    check = _Fields(f"cannot save the model to {str(target)!r}")
    if _depth(meta) > _MAX_DEPTH:
        raise check.fail("its metadata", f"would be nested more than {_MAX_DEPTH} levels deep (see extra)")
    _check_metadata(meta, check)
    _check_tensors(tensors, meta, check)
    meta["checksum"] = _checksum(meta, tensors)
    from safetensors.torch import save

    write_bytes(target, save(tensors, metadata={_META_KEY: json.dumps(meta)}))
    return target


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON metadata of a model file, validated (raises :class:`ModelFileError`)."""
    return _open(path)[1]


def load_model(path: str | os.PathLike[str]) -> LogisticRegression:
    """Read a model file written by :func:`save_model` into a fitted ``LogisticRegression``.

    Raises :class:`ModelFileError` for a file that is missing, not a torchlogit model, damaged
    or fails any of the module's checks; warns with ``ModelFileWarning`` for a file without a
    checksum.
    """
    tensors, meta = _open(path)
    known = LogisticRegression().get_params()
    params = {k: v for k, v in _current_params(meta["params"]).items() if k in known}
    estimator = LogisticRegression(**params)
    estimator.coef_, estimator.intercept_ = tensors["coef"].numpy(), tensors["intercept"].numpy()
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
    stored = {name.removeprefix(_HISTORY): tensor.tolist() for name, tensor in tensors.items()
              if name.startswith(_HISTORY)}
    if stored:  # format 2: vectors in the tensor body
        steps = zip(*stored.values(), strict=True)
        estimator.history_ = [dict(zip(stored, step, strict=True)) for step in steps]
    elif fit.get("history") is not None:  # format 1: every step in the JSON; absent from the oldest files
        estimator.history_ = [{k: float("nan") if v is None else float(v) for k, v in step.items()}
                              for step in fit["history"]]
    return estimator


def _current_params(params: dict[str, Any]) -> dict[str, Any]:
    """The estimator's parameters in scikit-learn 1.8's terms: files written before it store a
    ``penalty`` ('l2', 'l1', 'elasticnet' or none), now ``l1_ratio`` (0, 1, the mixing) and
    ``C = inf`` for none; passing the old ``penalty`` would warn on every load."""
    penalty = params.get("penalty", "deprecated")
    if penalty not in (None, "none", "l2", "l1", "elasticnet"):  # 'deprecated', or left to the estimator
        return params
    current = {k: v for k, v in params.items() if k != "penalty"}
    if penalty in (None, "none"):
        current["C"] = math.inf
        current["l1_ratio"] = 0.0
    else:
        current["l1_ratio"] = {"l2": 0.0, "l1": 1.0}.get(penalty, params.get("l1_ratio"))
    return current


def _history_tensors(history: list[dict[str, float]]) -> dict[str, torch.Tensor]:
    """The per-iteration history as one float32 vector per quantity (``history.objective``, ...)."""
    if not history:
        return {}
    keys = list(history[0])
    return {_HISTORY + key: torch.tensor([float(step[key]) for step in history], dtype=torch.float32)
            for key in keys}


def _metadata(estimator: LogisticRegression, names: Any, own_names: bool,
              extra: dict[str, Any] | None) -> dict[str, Any]:
    """The metadata document of a fitted estimator (before the checksum)."""
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "torchlogit_version": _version(),
        "n_features": int(estimator.n_features_in_),
        "feature_names": None if names is None else [str(n) for n in names],
        "estimator_has_feature_names": own_names,
        "classes": [_jsonable(c) for c in estimator.classes_],
        "label_type": _label_type(estimator.classes_),
        "params": _jsonable(estimator.get_params()),
        "fit": {
            "solver": estimator.solver_,
            "n_iter": int(estimator.n_iter_[0]),
            "converged": bool(estimator.converged_),
            "objective": float(estimator.objective_),
            "grad_max": float(estimator.grad_max_),
            # the first and last steps only: every step is in the history tensors
            "history": [{key: _finite_or_none(value) for key, value in step.items()}
                        for step in _ends(getattr(estimator, "history_", None) or [])],
        },
        "extra": _jsonable(extra or {}),
    }


def _ends(history: list[dict[str, float]]) -> list[dict[str, float]]:
    """The first and last steps of a history (the one step of a history of one)."""
    return history[:1] + history[-1:] if len(history) > 1 else list(history)


def _label_type(classes: np.ndarray) -> str:
    """'bool', 'int', 'float' or 'str': from the dtype, or from the labels of an object array
    (labels of mixed or other types cannot be written so that they read back the same)."""
    classes = np.asarray(classes)
    if classes.dtype.kind == "O":
        found = {_DTYPE_LABELS.get(np.asarray(plain(c)).dtype.kind) for c in classes}
    else:
        found = {_DTYPE_LABELS.get(classes.dtype.kind)}
    if len(found) != 1 or None in found:
        raise ValueError(f"class labels must be all booleans, all integers, all numbers or all "
                         f"strings to be saved, got {[plain(c) for c in classes][:5]}")
    return found.pop()


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


def _finite_or_none(value: Any) -> float | None:
    """JSON has no NaN or infinity: those become null."""
    value = float(value)
    return value if np.isfinite(value) else None


# ---------------------------------------------------------------------------------- reading

def _open(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and metadata of a model file, every check of the module's docstring passed."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {str(path)!r} does not exist")
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises several types for malformed files
        raise ModelFileError(
            f"{str(path)!r} is not a torchlogit model file (not a valid safetensors file: {exc})"
        ) from None
    meta = _parse(header, path)
    check = _Fields(f"{str(path)!r} is a damaged torchlogit model file")
    _check_metadata(meta, check)
    _check_tensors(tensors, meta, check)
    _verify(meta, tensors, path, check)
    return tensors, meta


def _parse(header: dict[str, str], path: Path) -> dict[str, Any]:
    """The metadata document: a JSON object of this format, nested at most ``_MAX_DEPTH`` deep,
    of a version this torchlogit reads."""
    if _META_KEY not in header:
        raise ModelFileError(f"{str(path)!r} is a safetensors file but not a torchlogit model")
    try:
        meta = json.loads(header[_META_KEY])
    except RecursionError:
        meta = None  # nested deeper than the interpreter recurses: refused below as too deep
    except ValueError:  # not JSON, or integers of more digits than Python converts
        raise ModelFileError(f"{str(path)!r} is a safetensors file but not a torchlogit model") from None
    if meta is None or _depth(meta) > _MAX_DEPTH:
        raise ModelFileError(f"{str(path)!r} is a damaged torchlogit model file: its metadata is "
                             f"nested more than {_MAX_DEPTH} levels deep")
    if not isinstance(meta, dict):
        raise ModelFileError(f"{str(path)!r} is not a torchlogit model file (its metadata is "
                             f"{_kind(meta)}, not a JSON object)")
    version = meta.get("format_version")
    if meta.get("format") != FORMAT_NAME or type(version) is not int:
        raise ModelFileError(f"{str(path)!r} is not a torchlogit model file")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{str(path)!r} was written by a newer torchlogit (format {version}); "
            "upgrade torchlogit to read it"
        )
    if version < 1:
        raise ModelFileError(f"{str(path)!r} is a damaged torchlogit model file: metadata field "
                             f"'format_version' must be at least 1, got {version}")
    return meta


def _depth(value: Any) -> int:
    """How deep JSON arrays and objects nest in ``value`` (iteratively: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if deepest > _MAX_DEPTH:
                break
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _verify(meta: dict[str, Any], tensors: dict[str, torch.Tensor], path: Path, check: _Fields) -> None:
    """Compare the checksum; warn (``ModelFileWarning``) when the file has none, as files of
    earlier versions (whose fields are ``_UNCHECKED_FIELDS``: any other means a damaged one)."""
    if "checksum" not in meta:
        unknown = sorted(set(meta) - _UNCHECKED_FIELDS)
        if unknown:
            raise check.fail("metadata", f"has no checksum but fields no earlier torchlogit wrote: "
                             f"{_short(unknown)}")
        warnings.warn(f"model file {str(path)!r} has no checksum (written by an earlier torchlogit): "
                      "damage to it cannot be detected; save the model again to add one",
                      ModelFileWarning, stacklevel=4)
        return
    saved = meta["checksum"]
    if type(saved) is not str or not _CHECKSUM.fullmatch(saved):
        raise check.fail("metadata field 'checksum'",
                         f"must be 'sha256:' and 64 hex digits, got {_short(saved)}")
    if _checksum(meta, tensors) != saved:
        raise check.fail("checksum", "does not match the contents: the file was changed or corrupted "
                         "after it was written")


def _checksum(meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the metadata (canonical JSON: sorted keys, no spaces, less ``checksum``) and
    each tensor's name, dtype, shape and little-endian bytes, in name order."""
    digest = hashlib.sha256(b"torchlogit-model\0")
    body = {key: value for key, value in meta.items() if key != "checksum"}
    digest.update(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(tensors):
        array = tensors[name].numpy()
        array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
        digest.update(f"\0{name}\0{array.dtype.name}\0{list(array.shape)}\0".encode())
        digest.update(array.reshape(-1).view(np.uint8))
    return "sha256:" + digest.hexdigest()


# ---------------------------------------------------------------------------------- checks

class _Fields:
    """Checks of one metadata document; a failure is a ``ModelFileError`` saying ``where`` first."""

    def __init__(self, where: str):
        self.where = where

    def fail(self, subject: str, problem: str) -> ModelFileError:
        return ModelFileError(f"{self.where}: {subject} {problem}")

    def get(self, doc: dict[str, Any], key: str, kinds: tuple[type, ...], what: str,
            prefix: str = "") -> Any:
        """``doc[key]``, present and of one of the JSON types ``kinds`` (described as ``what``)."""
        if key not in doc:
            raise self.fail(f"metadata field {prefix + key!r}", "is missing")
        value = doc[key]
        if type(value) not in kinds:
            raise self.fail(f"metadata field {prefix + key!r}", f"must be {what}, not {_kind(value)}")
        return value

    def integer(self, doc: dict[str, Any], key: str, low: int, high: int, prefix: str = "") -> int:
        value = self.get(doc, key, (int,), "an integer", prefix)
        if not low <= value <= high:
            raise self.fail(f"metadata field {prefix + key!r}", f"must lie in [{low}, {high}], got {value}")
        return value


def _check_metadata(meta: dict[str, Any], check: _Fields) -> None:
    """Every field's type and range (the module's docstring); ``format`` was checked by ``_parse``."""
    check.get(meta, "torchlogit_version", (str,), "a string")
    n_features = check.integer(meta, "n_features", 1, _INT64 - 1)
    names = check.get(meta, "feature_names", (list, type(None)), "an array of strings or null")
    if names is not None:
        if len(names) != n_features:
            raise check.fail("metadata field 'feature_names'",
                             f"holds {len(names)} names for n_features = {n_features}")
        _strings(names, "feature_names", check)
    own = check.get(meta, "estimator_has_feature_names", (bool,), "a boolean")
    if own and names is None:
        raise check.fail("metadata field 'feature_names'", "is null but estimator_has_feature_names is true")
    _check_classes(meta, check)
    params = check.get(meta, "params", (dict,), "an object")
    for key, value in params.items():
        if not _flat(value):
            raise check.fail(f"metadata field {'params.' + key!r}",
                             f"must be a scalar or an array or object of scalars, not {_short(value)}")
    _check_fit(check.get(meta, "fit", (dict,), "an object"), check)
    if "extra" in meta:
        check.get(meta, "extra", (dict,), "an object")


def _strings(values: list[Any], field: str, check: _Fields) -> None:
    """``values`` are distinct strings."""
    for index, value in enumerate(values):
        if type(value) is not str:
            raise check.fail(f"metadata field '{field}[{index}]'", f"must be a string, not {_kind(value)}")
    if len(set(values)) != len(values):
        repeated = sorted(value for value, count in collections.Counter(values).items() if count > 1)
        raise check.fail(f"metadata field {field!r}", f"repeats {repeated[:5]}")


def _check_classes(meta: dict[str, Any], check: _Fields) -> None:
    """At least two labels of ``label_type``, distinct and sorted (as ``numpy.unique`` gives them)."""
    label_type = check.get(meta, "label_type", (str,), "a string")
    if label_type not in _LABEL_TYPES:
        raise check.fail("metadata field 'label_type'",
                         f"must be one of {sorted(_LABEL_TYPES)}, got {_short(label_type)}")
    classes = check.get(meta, "classes", (list,), "an array")
    if len(classes) < 2:
        raise check.fail("metadata field 'classes'", f"must hold at least 2 labels, got {len(classes)}")
    for index, label in enumerate(classes):
        if type(label) not in _LABEL_JSON[label_type]:
            raise check.fail(f"metadata field 'classes[{index}]'",
                             f"must be of label_type {label_type!r}, not {_kind(label)} ({_short(label)})")
        if label_type == "int" and not -_INT64 <= label < _INT64:
            raise check.fail(f"metadata field 'classes[{index}]'", f"is outside int64: {_short(label)}")
        if label_type == "float" and not math.isfinite(label):
            raise check.fail(f"metadata field 'classes[{index}]'", f"must be finite, got {label}")
    for a, b in itertools.pairwise(classes):
        if not a < b:
            problem = f"repeats {_short(a)}" if a == b else f"must be sorted ({_short(a)} before {_short(b)})"
            raise check.fail("metadata field 'classes'", problem)


def _check_fit(fit: dict[str, Any], check: _Fields) -> None:
    check.get(fit, "solver", (str,), "a string", "fit.")
    check.integer(fit, "n_iter", 0, _MAX_N_ITER, "fit.")
    check.get(fit, "converged", (bool,), "a boolean", "fit.")
    for key in ("objective", "grad_max"):
        value = check.get(fit, key, _NUMBER, "a number", "fit.")
        if not _real(value):
            raise check.fail(f"metadata field {'fit.' + key!r}", f"is out of range: {_short(value)}")
    history = fit.get("history")
    if history is None:
        return
    if type(history) is not list:
        raise check.fail("metadata field 'fit.history'", f"must be an array, not {_kind(history)}")
    for index, step in enumerate(history):
        if type(step) is not dict or not all(v is None or _real(v) for v in step.values()):
            raise check.fail(f"metadata field 'fit.history[{index}]'",
                             f"must be an object of numbers or nulls, not {_short(step)}")


def _check_tensors(tensors: dict[str, torch.Tensor], meta: dict[str, Any], check: _Fields) -> None:
    """``coef`` and ``intercept``, float32 or float64 alike, finite, shaped as the metadata says; from
    format 2 on, optionally the history's float32 vectors, all of one length."""
    history = [name for name in tensors if name.startswith(_HISTORY) and meta["format_version"] >= 2]
    if sorted(set(tensors) - set(history)) != list(_TENSORS):
        raise check.fail("the file", f"holds the tensors {sorted(tensors)[:5]}, not {list(_TENSORS)}")
    for name in _TENSORS:
        if tensors[name].dtype not in (torch.float32, torch.float64):
            raise check.fail(f"tensor {name!r}", f"is {str(tensors[name].dtype).removeprefix('torch.')}, "
                             "not float32 or float64")
    coef, intercept = tensors["coef"], tensors["intercept"]
    if coef.dtype != intercept.dtype:
        raise check.fail("tensor 'intercept'", f"is {intercept.dtype} but 'coef' is {coef.dtype}")
    n_classes = len(meta["classes"])
    n_outputs = 1 if n_classes == 2 else n_classes
    expected = ((n_outputs, meta["n_features"]), (n_outputs,))
    if (tuple(coef.shape), tuple(intercept.shape)) != expected:
        raise check.fail("tensor shapes", f"do not match the metadata: coef "
                         f"{tuple(coef.shape)} and intercept {tuple(intercept.shape)}, expected "
                         f"{expected[0]} and {expected[1]} for {n_classes} classes and "
                         f"{meta['n_features']} features")
    for name in _TENSORS:
        if not bool(torch.isfinite(tensors[name]).all()):
            raise check.fail(f"tensor {name!r}", "holds non-finite values (NaN or infinity)")
    lengths = {tuple(tensors[name].shape) for name in history}
    for name in history:
        if tensors[name].dtype != torch.float32 or tensors[name].dim() != 1:
            raise check.fail(f"tensor {name!r}", "must be a float32 vector")
    if len(lengths) > 1:
        raise check.fail("the history tensors", f"differ in length: {sorted(lengths)}")


def _flat(value: Any) -> bool:
    """A JSON scalar, or an array or object of scalars (what the estimator's parameters are)."""
    if type(value) is list:
        return all(type(v) in _SCALAR for v in value)
    if type(value) is dict:
        return all(type(v) in _SCALAR for v in value.values())
    return type(value) in _SCALAR


def _real(value: Any) -> bool:
    """A JSON number a float holds: any float (NaN, infinity), an integer within int64."""
    return type(value) is float or (type(value) is int and -_INT64 <= value < _INT64)


def _kind(value: Any) -> str:
    return _JSON_KINDS.get(type(value), type(value).__name__)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _version() -> str:
    from torchlogit._version import __version__

    return __version__
