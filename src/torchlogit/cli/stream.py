"""The command line's streaming paths: ``fit`` over Parquet/CSV files (one or many processes) and
``predict`` to Parquet. Part of the CLI layer (it prints); :mod:`torchlogit.cli.main` dispatches here.

Under ``torchrun`` every rank runs the same command: each reads its shard, all take the same
solver steps, and rank 0 alone prints, draws the progress bar and writes the model.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from torchlogit import distributed


def wants_streaming(args: argparse.Namespace) -> bool:
    """Whether ``fit`` streams: Parquet, several files, a folder or pattern, streaming options, torchrun."""
    from torchlogit.data.tabular import is_parquet

    data = args.data
    return (len(data) > 1 or not Path(data[0]).is_file() or is_parquet(data[0])
            or args.chunk_rows is not None or args.checkpoint is not None or args.weight is not None
            or args.features is not None or args.checkpoint_every is not None or args.memory_map
            or distributed.env_world_size() > 1)


def fit(args: argparse.Namespace, estimator) -> None:
    """``torchlogit fit FILES... --target y [--chunk-rows N] [--checkpoint DIR]`` streamed."""
    from torchlogit._validation import resolve_device, resolve_dtype
    from torchlogit.data.streaming import DEFAULT_CHUNK_ROWS, open_source
    from torchlogit.estimators.streaming import fit_streamed

    if args.cv is not None:
        raise ValueError("--cv needs the data in memory; it is not available when streaming")
    if args.test_size:
        raise ValueError("--test-size is not available when streaming; evaluate the model on separate "
                         "files with `torchlogit evaluate`")
    if args.checkpoint is not None:
        from torchlogit.cli.main import _check_output

        _check_output(args.out)
    device = resolve_device(estimator.device)
    created = distributed.init_from_env(device, timeout_s=args.dist_timeout)
    try:
        rank, world = distributed.rank(), distributed.world_size()
        say = _printer(rank)
        features = None if args.features is None else [f.strip() for f in args.features.split(",")]
        source = open_source(args.data, target=args.target, features=features, weight=args.weight,
                             chunk_rows=args.chunk_rows or DEFAULT_CHUNK_ROWS,
                             dtype=resolve_dtype(estimator.dtype), device=device,
                             memory_map=args.memory_map)
        classes = source.classes
        if len(classes) < 2:
            raise ValueError(f"target {args.target!r} has a single class ({classes[0]!r}); need at least 2")
        started = time.perf_counter()
        with _pass_progress(args.quiet or rank != 0, source) as on_iteration:
            fit_streamed(estimator, source, checkpoint=args.checkpoint,
                         checkpoint_every=args.checkpoint_every or 0, callback=on_iteration)
        seconds = time.perf_counter() - started
        if estimator.checkpoint_resumed_from_ is not None:
            say(f"resumed from the checkpoint in {args.checkpoint} (iteration "
                f"{estimator.checkpoint_resumed_from_})")
        n_rows = int(distributed.all_reduce_sum(_tensor([source.row_totals()[0]]))[0])
        status = "converged" if estimator.converged_ else "NOT converged"
        where = f"{len(source.files)} file{'s' if len(source.files) > 1 else ''}"
        if world > 1:
            where += f", {world} ranks"
        say(f"fit: {len(classes)} classes, {n_rows} rows ({where}), {source.n_features} features; "
            f"solver {estimator.solver_}, {int(estimator.n_iter_[0])} iterations, {status}: "
            f"max |gradient| {estimator.grad_max_:.2e} (tol {args.tol:g}), "
            f"objective {estimator.objective_:.10g}")
        say(f"passes: {estimator.n_passes_} in {seconds:.2f} s "
            f"({seconds / max(estimator.n_passes_, 1):.3f} s per pass, chunks of {source.chunk_rows} rows)")
        accuracy = _streamed_accuracy(estimator, source)
        say(f"accuracy: train {accuracy:.4f} (all {n_rows} rows; no held-out split when streaming)")
        if rank == 0:
            from torchlogit.serving.modelfile import save_model

            save_model(estimator, args.out, feature_names=source.feature_names,
                       extra={"source": [str(p) for p in source.files], "target": args.target,
                              "train_accuracy": accuracy, "rows": n_rows, "ranks": world})
            say(f"wrote {args.out}")
    finally:
        if created:
            distributed.shutdown()


def predict_wanted(args: argparse.Namespace) -> bool:
    """Whether ``predict`` takes the streaming path here: Parquet output, or a folder/pattern as input."""
    return str(args.out or "").lower().endswith((".parquet", ".pq")) or not Path(args.data).is_file()


def predict(args: argparse.Namespace) -> None:
    """``torchlogit predict MODEL DATA --out preds.parquet``: streamed, one block at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from torchlogit._fileio import atomic_path
    from torchlogit.cli.main import _label_text
    from torchlogit.data.streaming import open_source
    from torchlogit.serving.modelfile import load_model, read_metadata

    estimator = load_model(args.model)
    names = read_metadata(args.model)["feature_names"]
    source = open_source(args.data, features=names, rank=0, world_size=1)
    if source.n_features != estimator.n_features_in_:
        raise ValueError(f"{args.data!r} has {source.n_features} feature columns; the model expects "
                         f"{estimator.n_features_in_}")
    classes = estimator.classes_
    with_proba = bool(getattr(args, "proba", False))
    label_type = pa.array(classes.tolist()).type
    fields = [("prediction", label_type), ("probability", pa.float64())]
    if with_proba:
        fields += [(f"proba_{_label_text(c)}", pa.float64()) for c in classes]
    schema = pa.schema(fields)
    total = source.row_totals()[0] if source.format_name == "Parquet" else None
    count = 0
    with atomic_path(args.out) as tmp, pq.ParquetWriter(tmp, schema) as writer, \
            _row_progress(args.quiet if hasattr(args, "quiet") else False, total) as advance:
        for X in source.feature_blocks():
            proba = estimator.predict_proba(X)
            best = proba.argmax(axis=1)
            columns = [pa.array(classes[best].tolist(), type=label_type),
                       pa.array(proba[np.arange(len(best)), best])]
            columns += [pa.array(proba[:, k]) for k in range(len(classes))] if with_proba else []
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
            count += len(best)
            advance(len(best))
    print(f"wrote {count} predictions to {args.out}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- helpers
def _printer(rank: int):
    def say(text: str) -> None:
        if rank == 0:
            print(text, flush=True)

    return say


def _tensor(values):
    import torch

    return torch.tensor(values, dtype=torch.float64)


def _streamed_accuracy(estimator, source) -> float:
    """Training accuracy over every rank's shard (as ``score``, unweighted): one more pass."""
    import torch

    weights = torch.as_tensor(estimator.coef_, dtype=torch.float64)
    intercept = torch.as_tensor(estimator.intercept_, dtype=torch.float64)
    sums = torch.zeros(2, dtype=torch.float64)
    for X, y, _ in source.chunks():
        scores = torch.addmm(intercept, X.cpu().to(torch.float64), weights.T)
        predicted = (scores[:, 0] > 0).long() if scores.shape[1] == 1 else scores.argmax(dim=1)
        sums[0] += (predicted == y.cpu()).sum()
        sums[1] += len(y)
    sums = distributed.all_reduce_sum(sums)
    return float(sums[0] / sums[1]) if sums[1] > 0 else float("nan")


@contextlib.contextmanager
def _pass_progress(disabled: bool, source) -> Iterator:
    """A progress bar over the passes of a streamed fit: rows, rows/s, passes, max |gradient|.

    Yields the solver callback; the bar advances as the source yields chunks (rank 0's shard).
    """
    if disabled:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    total = max(source.row_totals()[0], 1)
    columns = (TextColumn("pass {task.fields[passes]}"), BarColumn(),
               TextColumn("{task.fields[rows]} rows, {task.fields[speed]} rows/s"), TimeElapsedColumn(),
               TextColumn("{task.fields[info]}"))
    state = {"done": 0, "started": time.perf_counter()}
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("fit", total=total, passes=1, rows=0, speed="-", info="")

        def on_chunk(rows: int) -> None:
            state["done"] += rows
            passes, within = divmod(state["done"], total)
            speed = state["done"] / max(time.perf_counter() - state["started"], 1e-9)
            bar.update(task, completed=within, passes=passes + 1, rows=state["done"], speed=f"{speed:,.0f}")

        def on_iteration(iteration: int, f: float, grad_max: float) -> None:
            bar.update(task, info=f"iteration {iteration}: max |gradient| {grad_max:.1e}")

        source.on_chunk = on_chunk
        try:
            yield on_iteration
        finally:
            source.on_chunk = None


@contextlib.contextmanager
def _row_progress(disabled: bool, total: int | None) -> Iterator:
    if disabled or not sys.stderr.isatty():
        yield lambda rows: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    started = time.perf_counter()
    columns = (TextColumn("predict"), BarColumn(),
               TextColumn("{task.completed} rows, {task.fields[speed]} rows/s"), TimeElapsedColumn())
    with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("predict", total=total, speed="-")

        def advance(rows: int) -> None:
            done = bar.tasks[0].completed + rows
            speed = done / max(time.perf_counter() - started, 1e-9)
            bar.update(task, completed=done, speed=f"{speed:,.0f}")

        yield advance
