"""Export a fitted model for serving: ONNX, TorchScript, ``torch.export``, or scikit-learn.

The exported graph is a :class:`ServingModule`: the tutorial's :class:`~torchlogit.LogisticModel`
(one ``Linear`` layer) followed by the sigmoid (two classes) or softmax (three or more). It takes

* ``features``: float64 (or float32, with ``dtype="float32"``) of shape ``(n_rows, n_features)``,
  columns in the order of the model's feature names,

and returns two outputs,

* ``probabilities``: shape ``(n_rows, n_classes)``, columns in the order of the classes, and
* ``label``: shape ``(n_rows,)``, the predicted class: the class value itself when the classes are
  numbers (int64, float64 or bool), the class *index* when they are text (tensors cannot hold text;
  the file's metadata lists the classes).

Every file carries a JSON document (key ``"torchlogit"``) with the classes, the feature names,
what ``label`` holds, and the input dtype: in ONNX ``metadata_props``, in TorchScript and
``torch.export`` archives an extra file ``torchlogit.json``.

ONNX export uses PyTorch's ``torch.export``-based exporter and needs the ``onnx`` and
``onnxscript`` packages (``pip install 'torchlogit[export]'``); running the file needs only an ONNX
runtime. TorchScript is deprecated by PyTorch in favour of ``torch.export`` (``format="pt2"``),
but remains the format that ``torch.jit.load`` and older C++ servers read.

Examples
--------
>>> export_onnx(clf, "model.onnx")  # doctest: +SKIP
>>> import onnxruntime as ort  # doctest: +SKIP
>>> proba, label = ort.InferenceSession("model.onnx").run(None, {"features": X})  # doctest: +SKIP
>>> to_sklearn(clf).predict_proba(X)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from torchlogit._fileio import atomic_path
from torchlogit._validation import plain
from torchlogit.core.model import LogisticModel

__all__ = [
    "FORMATS",
    "ServingModule",
    "export_model",
    "export_onnx",
    "export_program",
    "export_torchscript",
    "serving_module",
    "to_sklearn",
]

ExportFormat = Literal["onnx", "torchscript", "pt2"]
FORMATS: tuple[str, ...] = ("onnx", "torchscript", "pt2")
INPUT_NAME = "features"
OUTPUT_NAMES = ("probabilities", "label")
_META_KEY = "torchlogit"
_DTYPES = {"float64": torch.float64, "float32": torch.float32}


class ServingModule(nn.Module):
    """A :class:`~torchlogit.LogisticModel` that returns ``(probabilities, label)``.

    Parameters
    ----------
    model : the fitted logits model (``output_dim`` 1 for two classes, else the number of classes)
    class_values : tensor of shape ``(n_classes,)``; ``label`` is ``class_values[predicted index]``

    Shape
    -----
    ``forward``: ``(n, d) -> ((n, n_classes), (n,))``
    """

    def __init__(self, model: LogisticModel, class_values: Tensor):
        super().__init__()
        self.model = model
        self.binary: bool = model.linear.out_features == 1
        self.register_buffer("class_values", class_values)

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        logits = self.model(features)
        if self.binary:
            z = logits[:, 0]
            proba = torch.stack([torch.sigmoid(-z), torch.sigmoid(z)], dim=1)
            index = (z > 0).long()
        else:
            proba = torch.softmax(logits, dim=1)
            index = torch.argmax(logits, dim=1)
        return proba, self.class_values[index]


def serving_module(estimator: Any, *, dtype: str = "float64") -> ServingModule:
    """The fitted estimator as a :class:`ServingModule` in eval mode (CPU, ``dtype``)."""
    torch_dtype = _torch_dtype(dtype)
    model = estimator.to_model().to(torch_dtype).train(False).requires_grad_(False)  # inference mode
    values, _ = _class_values(np.asarray(estimator.classes_))
    return ServingModule(model, values).train(False)


def export_onnx(estimator: Any, path: str | os.PathLike[str], *, dtype: str = "float64",
                feature_names: list[str] | None = None) -> Path:
    """Write the model as an ONNX graph (inputs/outputs in the module docstring); returns the path.

    Raises
    ------
    ImportError
        Without the ``onnx`` and ``onnxscript`` packages.
    """
    return export_model(estimator, path, "onnx", dtype=dtype, feature_names=feature_names)


def export_torchscript(estimator: Any, path: str | os.PathLike[str], *, dtype: str = "float64",
                       feature_names: list[str] | None = None) -> Path:
    """Write the model as a TorchScript archive (``torch.jit.load``); returns the path."""
    return export_model(estimator, path, "torchscript", dtype=dtype, feature_names=feature_names)


def export_program(estimator: Any, path: str | os.PathLike[str], *, dtype: str = "float64",
                   feature_names: list[str] | None = None) -> Path:
    """Write the model as a ``torch.export`` program (``.pt2``, ``torch.export.load``); returns the path."""
    return export_model(estimator, path, "pt2", dtype=dtype, feature_names=feature_names)


def export_model(
    estimator: Any, path: str | os.PathLike[str], format: ExportFormat, *, dtype: str = "float64",
    feature_names: list[str] | None = None,
) -> Path:
    """Write ``estimator`` to ``path`` in ``format`` (``"onnx"``, ``"torchscript"`` or ``"pt2"``).

    The graph is built in memory first, then written atomically (no partial file on failure).
    """
    if format not in _BUILDERS:
        raise ValueError(f"unknown export format {format!r}; choose from {list(_BUILDERS)}")
    write = _BUILDERS[format](_Prepared(
        module=serving_module(estimator, dtype=dtype), example=_example(estimator, dtype),
        metadata=_metadata(estimator, dtype, feature_names, format),
    ))
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


@dataclass(frozen=True)
class _Prepared:
    """What every format exports: the serving module, an example input, the metadata JSON."""

    module: ServingModule
    example: Tensor
    metadata: str


_Writer = Callable[[Path], None]  # writes the built graph to a (temporary) path


def _build_onnx(prepared: _Prepared) -> _Writer:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"ONNX export needs the onnx and onnxscript packages ({exc}); "
            "install them with: pip install 'torchlogit[export]'"
        ) from None
    with _quiet_exporter():
        program = torch.onnx.export(
            prepared.module, (prepared.example,), None, input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES), dynamic_shapes=_dynamic_rows(), verbose=False,
        )
    program.model.metadata_props[_META_KEY] = prepared.metadata
    return program.save


def _build_torchscript(prepared: _Prepared) -> _Writer:
    extra = {f"{_META_KEY}.json": prepared.metadata}
    with _torchscript_allowed():
        scripted = torch.jit.script(prepared.module)

    def write(tmp: Path) -> None:
        with _torchscript_allowed():
            torch.jit.save(scripted, str(tmp), _extra_files=extra)

    return write


def _build_program(prepared: _Prepared) -> _Writer:
    with _quiet_exporter():
        program = torch.export.export(prepared.module, (prepared.example,), dynamic_shapes=_dynamic_rows())
    buffer = io.BytesIO()  # torch.export.save wants a name ending in .pt2; the temporary one does not
    torch.export.save(program, buffer, extra_files={f"{_META_KEY}.json": prepared.metadata})
    return lambda tmp: tmp.write_bytes(buffer.getvalue())


_BUILDERS: dict[str, Callable[[_Prepared], _Writer]] = {
    "onnx": _build_onnx, "torchscript": _build_torchscript, "pt2": _build_program,
}


def to_sklearn(estimator: Any):
    """A fitted scikit-learn ``LogisticRegression`` with the same coefficients and classes.

    Coefficients follow scikit-learn's convention, which torchlogit shares: ``coef_`` has one row
    for two classes and one row per class (symmetric multinomial) for three or more, so
    ``predict``, ``predict_proba`` and ``decision_function`` agree with the torchlogit model. The
    returned estimator's hyper-parameters (``C``, ``l1_ratio`` for L1/elastic-net, with the
    ``saga`` solver, ``fit_intercept``, ``class_weight``, ``tol``, ``max_iter``) are those of the
    torchlogit model, so refitting it fits the same objective (per-feature ``penalty_factor``
    has no scikit-learn counterpart and is not carried over). For a
    :class:`~torchlogit.LogisticRegressionCV` they are the ones it chose (``C_``, and
    ``l1_ratio_`` where it has one).
    """
    from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    C, l1_ratio = _fitted_penalty(estimator)
    converted = SklearnLogisticRegression(
        C=C, l1_ratio=l1_ratio, solver="lbfgs" if not l1_ratio else "saga",
        fit_intercept=estimator.fit_intercept, class_weight=estimator.class_weight, tol=estimator.tol,
        max_iter=estimator.max_iter,
    )
    converted.classes_ = np.asarray(estimator.classes_).copy()
    converted.coef_ = np.asarray(estimator.coef_, dtype=np.float64).copy()
    converted.intercept_ = np.asarray(estimator.intercept_, dtype=np.float64).copy()
    converted.n_features_in_ = int(estimator.n_features_in_)
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        converted.feature_names_in_ = np.asarray(names, dtype=object).copy()
    converted.n_iter_ = np.asarray(getattr(estimator, "n_iter_", [0]), dtype=np.int32).copy()
    return converted


def _fitted_penalty(estimator: Any) -> tuple[float, float]:
    """``(C, l1_ratio)`` of the fitted model in scikit-learn's terms.

    ``C`` is infinite without a penalty; a cross-validated model (``C_``, ``l1_ratio_``) gives the
    values it chose, a plain one its parameters. ``l1_ratio`` is the L1 share: 0 for 'l2', 1 for
    'l1'.
    """
    C = float(np.ravel(estimator.C_)[0]) if hasattr(estimator, "C_") else getattr(estimator, "C", np.inf)
    if getattr(estimator, "penalty", "deprecated") is None or not np.isfinite(C):
        return np.inf, 0.0
    if hasattr(estimator, "l1_ratio_"):
        l1_ratio = np.ravel(estimator.l1_ratio_)[0]  # scikit-learn's CV keeps one per class
    else:
        l1_ratio = getattr(estimator, "_l1_ratio", 0.0)  # from l1_ratio, or the deprecated penalty
    return float(C), 0.0 if l1_ratio is None else float(l1_ratio)


# --------------------------------------------------------------------------- helpers
def _torch_dtype(dtype: str) -> torch.dtype:
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {list(_DTYPES)}, got {dtype!r}")
    return _DTYPES[dtype]


def _class_values(classes: np.ndarray) -> tuple[Tensor, str]:
    """The ``label`` output's lookup table, and what it holds ('class value' or 'class index')."""
    kind = classes.dtype.kind
    if kind == "b":
        return torch.from_numpy(classes.astype(bool)), "class value"
    if kind in "iu":
        return torch.from_numpy(classes.astype(np.int64)), "class value"
    if kind == "f":
        return torch.from_numpy(classes.astype(np.float64)), "class value"
    return torch.arange(len(classes), dtype=torch.int64), "class index"


def _dynamic_rows() -> dict[str, dict[int, Any]]:
    """The exported graphs take any number of rows."""
    return {INPUT_NAME: {0: torch.export.Dim("rows")}}


def _example(estimator: Any, dtype: str) -> Tensor:
    return torch.zeros(2, int(estimator.n_features_in_), dtype=_torch_dtype(dtype))


def _metadata(estimator: Any, dtype: str, feature_names: list[str] | None, fmt: str) -> str:
    from torchlogit._version import __version__

    classes = np.asarray(estimator.classes_)
    _, label_holds = _class_values(classes)
    names = getattr(estimator, "feature_names_in_", None)
    names = feature_names if names is None else names
    return json.dumps({
        "format": f"torchlogit-{fmt}",
        "torchlogit_version": __version__,
        "classes": [plain(c) for c in classes],
        "label": label_holds,
        "feature_names": None if names is None else [str(n) for n in names],
        "input": {"name": INPUT_NAME, "dtype": dtype, "shape": ["rows", int(estimator.n_features_in_)]},
        "outputs": list(OUTPUT_NAMES),
    })


@contextlib.contextmanager
def _torchscript_allowed() -> Iterator[None]:
    """PyTorch deprecates TorchScript itself; the user asked for this format explicitly."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.\w+.* is deprecated",
                                category=DeprecationWarning)
        yield


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence notices from PyTorch's exporter internals that a user cannot act on.

    (Deprecations inside torch.export / torch.onnx, and log lines about optional packages such
    as torchvision that a logistic model never uses.)
    """
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._export")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)
