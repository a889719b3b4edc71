"""``torchlogit evaluate | report | export``: metrics, the HTML report, serving formats.

Part of the CLI layer: :mod:`torchlogit.cli.main` parses the arguments and dispatches here, and
:mod:`torchlogit.cli._output` prints.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from torchlogit.cli import _output

if TYPE_CHECKING:
    from torchlogit.reporting.evaluation import Evaluation


def evaluate(args: argparse.Namespace) -> None:
    """Print a model's metrics on labelled data; optionally write them as JSON and draw the figures."""
    from torchlogit.reporting.evaluation import evaluate

    threshold = _output.threshold_option(args.threshold)
    _check_paths(args, [("--json", args.json), *(("the figure", path) for path in _figure_paths(args))])
    _output.check_output(args.json)
    estimator, _, table = _model_and_data(args.model, args.data, args.target)
    pair = _feature_pair(args.region_features, table.feature_names)
    result = evaluate(estimator, table.X, table.y, threshold=threshold)
    _print_evaluation(result, args.data)
    if args.json is not None:
        import json

        from torchlogit._fileio import atomic_path

        document = {"model": str(args.model), "data": str(args.data), "target": args.target,
                    **result.to_dict()}
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(document, indent=2) + "\n")
        _output.out(f"wrote {args.json}")
    if args.plots is not None:
        from torchlogit.reporting.plots import plot_evaluation

        written = plot_evaluation(
            estimator, table.X, table.y, args.plots, fmt=args.plot_format,
            feature_names=table.feature_names, features=pair, threshold=threshold,
        )
        for path in written.values():
            _output.out(f"wrote {path}")


def report(args: argparse.Namespace) -> None:
    """Write the self-contained HTML report of a model on labelled data."""
    from torchlogit.reporting.report import write_report

    threshold = _output.threshold_option(args.threshold)
    _check_paths(args, [("--out", args.out)])
    _output.check_output(args.out)
    estimator, metadata, table = _model_and_data(args.model, args.data, args.target)
    pair = _feature_pair(args.region_features, table.feature_names)
    inference = None
    if args.ci:
        try:
            inference = estimator.summary(table.X, table.y, allow_penalized=True)
        except ImportError as exc:
            raise ValueError(f"--ci: statistical inference is not available ({exc})") from None
    info = {"model file": str(args.model), "torchlogit version": metadata.get("torchlogit_version")}
    info.update({k.replace("_", " "): v for k, v in (metadata.get("extra") or {}).items()})
    write_report(
        estimator, table.X, table.y, args.out, feature_names=table.feature_names,
        title=args.title, data_name=str(args.data),
        target=args.target, threshold=threshold, boundary_features=pair, inference=inference,
        model_info=info,
    )
    _output.out(f"wrote {args.out}")


def export(args: argparse.Namespace) -> None:
    """Write a model as ONNX, TorchScript or torch.export for serving, and describe its inputs."""
    from torchlogit.serving.export import export_model
    from torchlogit.serving.modelfile import load_model, read_metadata

    _output.refuse_overwrites([("--out", args.out)], [("the model file", args.model)])
    _output.check_output(args.out)
    estimator = load_model(args.model)
    names = read_metadata(args.model)["feature_names"]
    try:
        export_model(estimator, args.out, args.format, dtype=args.dtype, feature_names=names)
    except ImportError as exc:
        raise ValueError(str(exc)) from None
    n_classes = len(estimator.classes_)
    _output.out(f"wrote {args.out} ({args.format}): input 'features' ({args.dtype}, rows x "
         f"{estimator.n_features_in_}: {', '.join(names or [])}); outputs 'probabilities' "
         f"(rows x {n_classes}) and 'label'")


# --------------------------------------------------------------------------- helpers
PLOT_NAMES = ("roc", "precision_recall", "calibration", "confusion_matrix", "coefficients", "history",
              "decision_regions")
"""The files ``evaluate --plots DIR`` may write (``DIR/NAME.FORMAT``): those of
:func:`torchlogit.reporting.plots.plot_evaluation`, which a test keeps in step."""


def _figure_paths(args: argparse.Namespace) -> list[Path]:
    """The files ``--plots DIR`` may write; refuses a ``DIR`` that is a file, before any work."""
    if args.plots is None:
        return []
    folder = Path(args.plots)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"--plots {args.plots!r} is a file, not a folder")
    return [folder / f"{name}.{args.plot_format}" for name in PLOT_NAMES]


def _check_paths(args: argparse.Namespace, outputs: list[tuple[str, str | Path | None]]) -> None:
    """Refuse ``outputs`` replacing the model file, the data file or each other, before any work."""
    _output.refuse_overwrites(outputs, [("the model file", args.model), ("the input file", args.data)])


def _model_and_data(model: str, data: str, target: str):
    """The model, its metadata, and the data's model features and labels."""
    from torchlogit.data.tabular import read_table
    from torchlogit.serving.modelfile import load_model, read_metadata

    estimator = load_model(model)
    metadata = read_metadata(model)
    table = read_table(data, target=target, features=metadata["feature_names"])
    if table.X.shape[1] != estimator.n_features_in_:
        raise ValueError(f"{data!r} has {table.X.shape[1]} feature columns; the model expects "
                         f"{estimator.n_features_in_}")
    return estimator, metadata, table


def _feature_pair(text: str | None, names: list[str]) -> tuple[int, int] | None:
    """The column indices of ``--region-features A,B`` (the decision-region figure's axes), or ``None``."""
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or parts[0] == parts[1]:
        raise ValueError(f"--region-features takes two different feature names separated by a comma, "
                         f"got {text!r}")
    unknown = [p for p in parts if p not in names]
    if unknown:
        raise ValueError(f"--region-features: unknown feature(s) {unknown}; the model's features are {names}")
    return names.index(parts[0]), names.index(parts[1])


def _print_evaluation(result: Evaluation, data: str) -> None:
    """The decision rule, the metrics and confusion-matrix tables, and the best thresholds."""
    from rich.table import Table

    labels = [_output.label_text(c) for c in result.classes]
    rule = ("most probable class" if result.threshold is None
            else f"{labels[1]} when its probability >= {result.threshold:g}")
    header = (f"evaluate: {result.n_samples} rows of {data}, {len(labels)} classes; "
              f"decision rule: {rule}")
    metrics = Table(title="Metrics (scikit-learn)", title_justify="left")
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    for name, value in result.metrics.items():
        metrics.add_row(name, "n/a" if value is None else f"{value:.6f}")
    matrix = Table(title="Confusion matrix", title_justify="left")
    matrix.add_column("true \\ predicted")
    for label in labels:
        matrix.add_column(label, justify="right")
    for label, row in zip(labels, result.confusion_matrix, strict=True):
        matrix.add_row(label, *(f"{int(v)}" for v in row))
    parts = [header, metrics, matrix]
    if result.best_thresholds:
        f1, j = result.best_thresholds["f1"], result.best_thresholds["youden_j"]
        parts.append(f"best threshold: F1 {f1['f1']:.4f} at {f1['threshold']:.6g}; "
                     f"Youden's J {j['youden_j']:.4f} at {j['threshold']:.6g}")
    _output.show(*parts, plain=True)  # labels and paths are plain text
