"""``torchlogit predict MODEL DATA``: labels and probabilities, streamed one block at a time.

The input is a CSV or Parquet file, or a folder or pattern of them (through the streaming data
sources); the output is the format ``--out`` names: Parquet for ``.parquet``/``.pq``, CSV
otherwise, CSV on standard output without ``--out``. Rows are written as each block of the input
is predicted, so memory is bounded by the block size, not by the input. Part of the CLI layer:
:mod:`torchlogit.cli.main` dispatches here, and :mod:`torchlogit.cli._output` prints.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

from torchlogit.cli import _output

if TYPE_CHECKING:
    from torchlogit.estimators.logistic import LogisticRegression

Write = Callable[[np.ndarray, np.ndarray], None]
"""Writes one block of predictions: the best class's index per row, and every class's probability."""


def predict(args: argparse.Namespace) -> None:
    """Predict every row of ``args.data`` with the model ``args.model``; write CSV or Parquet."""
    _refuse_missing_data(str(args.data))  # before the imports below, which take seconds
    from torchlogit.data.tabular import is_parquet
    from torchlogit.serving.modelfile import load_model, read_metadata

    threshold = _output.threshold_option(args.threshold)
    _check_paths(args)
    estimator = load_model(args.model)
    if threshold is not None and len(estimator.classes_) != 2:
        raise ValueError(f"--threshold applies to binary models; this model has {len(estimator.classes_)} "
                         "classes")
    names = read_metadata(args.model)["feature_names"]
    blocks, total = _feature_blocks(args, estimator, names)
    decide = _decision(threshold)
    if args.out is None:
        _write_predictions(_csv_writer(sys.stdout, estimator.classes_, args.proba), estimator, blocks, decide)
        return
    from torchlogit._fileio import atomic_path

    writer = _parquet_file if is_parquet(args.out) else _csv_file
    with atomic_path(args.out) as tmp, \
            writer(tmp, estimator.classes_, args.proba) as write, \
            _output.row_progress(_output.bar_wanted(args.quiet, args.progress), total) as advance:
        count = _write_predictions(write, estimator, blocks, decide, advance)
    _output.out(f"wrote {count} predictions to {args.out}", err=True)


def _refuse_missing_data(text: str) -> None:
    """A data path that is no file, folder or pattern: the streaming sources' error, without their imports."""
    import glob

    if not Path(text).exists() and not glob.has_magic(text):
        raise FileNotFoundError(f"no such file: {text!r}")


def _check_paths(args: argparse.Namespace) -> None:
    """Refuse an output replacing the model or an input file, or that cannot be written, before reading."""
    from torchlogit.data.streaming import expand_paths

    inputs = [("the model file", args.model), *(("the input file", p) for p in expand_paths(args.data))]
    _output.refuse_overwrites([("--out", args.out)], inputs)
    _output.check_output(args.out)


def _feature_blocks(args: argparse.Namespace, estimator: LogisticRegression,
                    names: list[str] | None) -> tuple[Iterator[np.ndarray], int | None]:
    """The model's feature columns of ``args.data`` in blocks of rows, and the row count when known.

    One CSV file written as CSV is read by :func:`~torchlogit.data.tabular.iter_feature_batches`;
    Parquet output, or a folder or pattern of files, by the streaming data sources.
    """
    from torchlogit.data.tabular import is_parquet

    if not is_parquet(args.out or "") and Path(args.data).is_file():
        from torchlogit.data.tabular import iter_feature_batches

        blocks, total = iter_feature_batches(args.data, names), None
    else:
        from torchlogit.data.streaming import open_source

        source = open_source(args.data, features=names, rank=0, world_size=1)
        _check_width(args.data, source.n_features, estimator)
        blocks = source.feature_blocks()
        total = source.row_totals()[0] if source.format_name == "Parquet" else None
    return _checked_widths(blocks, args.data, estimator), total


def _checked_widths(blocks: Iterator[np.ndarray], data: str,
                    estimator: LogisticRegression) -> Iterator[np.ndarray]:
    """``blocks``, each checked to hold as many feature columns as the model has."""
    for X in blocks:
        _check_width(data, X.shape[1], estimator)
        yield X


def _check_width(data: str, n_features: int, estimator: LogisticRegression) -> None:
    if n_features != estimator.n_features_in_:
        raise ValueError(f"{data!r} has {n_features} feature columns; the model expects "
                         f"{estimator.n_features_in_}")


def _decision(threshold: float | None) -> Callable[[np.ndarray], np.ndarray]:
    """The predicted class index of each row from its probabilities: the most probable class, or
    (``--threshold t``, binary models) the second class when its probability is at least ``t``."""
    if threshold is None:
        return lambda proba: proba.argmax(axis=1)
    return lambda proba: (proba[:, 1] >= threshold).astype(np.int64)


def _write_predictions(write: Write, estimator: LogisticRegression, blocks: Iterator[np.ndarray],
                       decide: Callable[[np.ndarray], np.ndarray],
                       advance: Callable[[int], None] = lambda rows: None) -> int:
    """Predict each block, choose each row's class with ``decide``, write it; return the number of rows."""
    count = 0
    for X in blocks:
        proba = estimator.predict_proba(X)
        best = decide(proba)
        write(best, proba)
        count += len(best)
        advance(len(best))
    return count


def _csv_writer(handle: TextIO, classes: np.ndarray, every_class: bool) -> Write:
    """Write the CSV header to ``handle``; return the writer of each block's rows."""
    texts = [_output.label_text(c) for c in classes]
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(["prediction", "probability", *(f"proba_{t}" for t in texts if every_class)])

    def write(best: np.ndarray, proba: np.ndarray) -> None:
        top = proba[np.arange(len(best)), best]
        if every_class:
            writer.writerows([texts[b], f"{p:.10g}", *(f"{q:.10g}" for q in row)]
                             for b, p, row in zip(best, top, proba, strict=True))
        else:
            writer.writerows((texts[b], f"{p:.10g}") for b, p in zip(best, top, strict=True))

    return write


@contextlib.contextmanager
def _csv_file(path: Path, classes: np.ndarray, every_class: bool) -> Iterator[Write]:
    """A CSV file of predictions at ``path``, closed on leaving the block."""
    with open(path, "w", newline="") as handle:
        yield _csv_writer(handle, classes, every_class)


@contextlib.contextmanager
def _parquet_file(path: Path, classes: np.ndarray, every_class: bool) -> Iterator[Write]:
    """A Parquet file of predictions at ``path`` (labels typed as the model's classes), closed on leaving."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    label_type = pa.array(classes.tolist()).type
    fields = [("prediction", label_type), ("probability", pa.float64())]
    if every_class:
        fields += [(f"proba_{_output.label_text(c)}", pa.float64()) for c in classes]
    schema = pa.schema(fields)
    with pq.ParquetWriter(path, schema) as writer:

        def write(best: np.ndarray, proba: np.ndarray) -> None:
            columns = [pa.array(classes[best].tolist(), type=label_type),
                       pa.array(proba[np.arange(len(best)), best])]
            columns += [pa.array(proba[:, k]) for k in range(len(classes))] if every_class else []
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))

        yield write
