"""``torchlogit predict MODEL DATA``: labels and probabilities, streamed one block at a time.

CSV output (a file, or standard output) is written as each block of the input is predicted;
Parquet output, or a folder or pattern of input files, goes through the streaming data sources.
Either way memory is bounded by the block size, not by the input. Part of the CLI layer:
:mod:`torchlogit.cli.main` dispatches here, and :mod:`torchlogit.cli._output` prints.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from torchlogit.cli import _output


def predict(args: argparse.Namespace) -> None:
    """Predict every row of ``args.data`` with the model ``args.model``; write CSV or Parquet."""
    if _wants_parquet_path(args):
        _predict_to_parquet(args)
    else:
        _predict_to_csv(args)


def _wants_parquet_path(args: argparse.Namespace) -> bool:
    """Parquet output, or a folder/pattern as input: the streaming sources' path."""
    return str(args.out or "").lower().endswith((".parquet", ".pq")) or not Path(args.data).is_file()


def _predict_to_csv(args: argparse.Namespace) -> None:
    """One input file read block by block; CSV on standard output, or in ``args.out`` atomically."""
    from torchlogit.serving.modelfile import load_model, read_metadata

    estimator = load_model(args.model)
    names = read_metadata(args.model)["feature_names"]
    if args.out is None:
        _write_csv_predictions(sys.stdout, estimator, names, args)
        return
    from torchlogit._fileio import atomic_path

    with atomic_path(args.out) as tmp, open(tmp, "w", newline="") as handle:
        count = _write_csv_predictions(handle, estimator, names, args)
    _output.out(f"wrote {count} predictions to {args.out}", err=True)


def _write_csv_predictions(handle: TextIO, estimator, names: list[str], args: argparse.Namespace) -> int:
    """Write the header and one row per input row to ``handle``; return the number of rows."""
    from torchlogit.data.tabular import iter_feature_batches

    header = ["prediction", "probability"]
    if args.proba:
        header += [f"proba_{_output.label_text(c)}" for c in estimator.classes_]
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(header)
    count = 0
    for X in iter_feature_batches(args.data, names):
        if X.shape[1] != estimator.n_features_in_:
            raise ValueError(f"{args.data!r} has {X.shape[1]} feature columns; the model expects "
                             f"{estimator.n_features_in_}")
        proba = estimator.predict_proba(X)
        best = proba.argmax(axis=1)
        labels = [_output.label_text(label) for label in estimator.classes_[best]]
        top = proba[np.arange(len(best)), best]
        if args.proba:
            writer.writerows([label, f"{p:.10g}", *(f"{q:.10g}" for q in row)]
                             for label, p, row in zip(labels, top, proba, strict=True))
        else:
            writer.writerows((label, f"{p:.10g}") for label, p in zip(labels, top, strict=True))
        count += len(best)
    return count


def _predict_to_parquet(args: argparse.Namespace) -> None:
    """``torchlogit predict MODEL DATA --out preds.parquet``: a Parquet file, written block by block."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from torchlogit._fileio import atomic_path
    from torchlogit.data.streaming import open_source
    from torchlogit.serving.modelfile import load_model, read_metadata

    estimator = load_model(args.model)
    names = read_metadata(args.model)["feature_names"]
    source = open_source(args.data, features=names, rank=0, world_size=1)
    if source.n_features != estimator.n_features_in_:
        raise ValueError(f"{args.data!r} has {source.n_features} feature columns; the model expects "
                         f"{estimator.n_features_in_}")
    classes = estimator.classes_
    label_type = pa.array(classes.tolist()).type
    fields = [("prediction", label_type), ("probability", pa.float64())]
    if args.proba:
        fields += [(f"proba_{_output.label_text(c)}", pa.float64()) for c in classes]
    schema = pa.schema(fields)
    total = source.row_totals()[0] if source.format_name == "Parquet" else None
    count = 0
    with atomic_path(args.out) as tmp, pq.ParquetWriter(tmp, schema) as writer, \
            _output.row_progress(args.quiet, total) as advance:
        for X in source.feature_blocks():
            proba = estimator.predict_proba(X)
            best = proba.argmax(axis=1)
            columns = [pa.array(classes[best].tolist(), type=label_type),
                       pa.array(proba[np.arange(len(best)), best])]
            columns += [pa.array(proba[:, k]) for k in range(len(classes))] if args.proba else []
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
            count += len(best)
            advance(len(best))
    _output.out(f"wrote {count} predictions to {args.out}", err=True)
