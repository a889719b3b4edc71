"""``torchlogit fit`` over Parquet/CSV files read in chunks, in one process or many (``torchrun``).

Part of the CLI layer: :mod:`torchlogit.cli.fit` hands streamed fits here, and
:mod:`torchlogit.cli._output` prints. Under ``torchrun`` every rank runs the same command: each
reads its shard, all take the same solver steps, and rank 0 alone prints, draws the progress bar
and writes the model.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from torchlogit.cli import _output

if TYPE_CHECKING:
    import torch

    from torchlogit.data.base import DataSource
    from torchlogit.data.streaming import CSVSource, ParquetSource
    from torchlogit.estimators.logistic import LogisticRegression


def wants_streaming(args: argparse.Namespace) -> bool:
    """Whether ``fit`` streams: Parquet, several files, a folder or pattern, streaming options, torchrun."""
    from torchlogit import distributed
    from torchlogit.data.tabular import is_parquet

    data = args.data
    return (len(data) > 1 or not Path(data[0]).is_file() or is_parquet(data[0])
            or args.chunk_rows is not None or args.checkpoint is not None or args.weight is not None
            or args.features is not None or args.checkpoint_every is not None or args.memory_map
            or distributed.env_world_size() > 1)


def fit(args: argparse.Namespace, estimator: LogisticRegression) -> None:
    """``torchlogit fit FILES... --target y [--chunk-rows N] [--checkpoint DIR]`` streamed."""
    from torchlogit import distributed
    from torchlogit._validation import resolve_device
    from torchlogit.estimators.streaming import fit_streamed

    _check_streaming_options(args)
    device = resolve_device(estimator.device)
    created = distributed.init_from_env(device, timeout_s=args.dist_timeout)
    try:
        rank, world = distributed.rank(), distributed.world_size()
        say = _output.rank_zero_printer(rank)
        source = _open_training_source(args, estimator, device)
        started = time.perf_counter()
        with _output.pass_progress(args.quiet or rank != 0, source.row_totals()[0]) as bar, \
                _chunks_reported_to(source, bar.on_chunk):
            fit_streamed(estimator, source, checkpoint=args.checkpoint,
                         checkpoint_every=args.checkpoint_every or 0, callback=bar.on_iteration)
        seconds = time.perf_counter() - started
        if estimator.checkpoint_resumed_from_ is not None:
            say(f"resumed from the checkpoint in {args.checkpoint} (iteration "
                f"{estimator.checkpoint_resumed_from_})")
        n_rows = _all_ranks_sum(source.row_totals()[0])
        _print_streamed_fit(say, args, estimator, source, n_rows, world, seconds)
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


# --------------------------------------------------------------------------- helpers
def _check_streaming_options(args: argparse.Namespace) -> None:
    """Refuse the in-memory-only options, and a model file that could not be written, before any pass."""
    if args.cv is not None:
        raise ValueError("--cv needs the data in memory; it is not available when streaming")
    if args.test_size:
        raise ValueError("--test-size is not available when streaming; evaluate the model on separate "
                         "files with `torchlogit evaluate`")
    if args.checkpoint is not None:  # fail now, not after a long checkpointed fit
        _output.check_output(args.out)


def _open_training_source(args: argparse.Namespace, estimator: LogisticRegression,
                          device: torch.device) -> ParquetSource | CSVSource:
    """This rank's shard of the files, in the estimator's dtype on ``device``, with two classes or more."""
    from torchlogit._validation import resolve_dtype
    from torchlogit.data.streaming import DEFAULT_CHUNK_ROWS, open_source

    features = None if args.features is None else [f.strip() for f in args.features.split(",")]
    source = open_source(args.data, target=args.target, features=features, weight=args.weight,
                         chunk_rows=args.chunk_rows or DEFAULT_CHUNK_ROWS,
                         dtype=resolve_dtype(estimator.dtype), device=device,
                         memory_map=args.memory_map)
    classes = source.classes
    if len(classes) < 2:
        raise ValueError(f"target {args.target!r} has a single class ({classes[0]!r}); need at least 2")
    return source


@contextlib.contextmanager
def _chunks_reported_to(source: DataSource, on_chunk: Callable[[int], None] | None) -> Iterator[None]:
    """Have ``source`` call ``on_chunk`` with each chunk's row count inside the block; always undone."""
    previous = source.on_chunk
    source.on_chunk = on_chunk
    try:
        yield
    finally:
        source.on_chunk = previous


def _print_streamed_fit(say: Callable[[str], None], args: argparse.Namespace, estimator: LogisticRegression,
                        source: ParquetSource | CSVSource, n_rows: int, world: int, seconds: float) -> None:
    """The fit's summary lines: ``n_rows`` on all ``world`` ranks, fitted in ``seconds``."""
    status = "converged" if estimator.converged_ else "NOT converged"
    where = f"{len(source.files)} file{'s' if len(source.files) > 1 else ''}"
    if world > 1:
        where += f", {world} ranks"
    say(f"fit: {len(source.classes)} classes, {n_rows} rows ({where}), {source.n_features} features; "
        f"solver {estimator.solver_}, {int(estimator.n_iter_[0])} iterations, {status}: "
        f"max |gradient| {estimator.grad_max_:.2e} (tol {args.tol:g}), "
        f"objective {estimator.objective_:.10g}")
    say(f"passes: {estimator.n_passes_} in {seconds:.2f} s "
        f"({seconds / max(estimator.n_passes_, 1):.3f} s per pass, chunks of {source.chunk_rows} rows)")


def _all_ranks_sum(count: int) -> int:
    """``count`` summed over the ranks of a distributed run (itself in a single process)."""
    import torch

    from torchlogit import distributed

    return int(distributed.all_reduce_sum(torch.tensor([count], dtype=torch.float64))[0])


def _streamed_accuracy(estimator: LogisticRegression, source: ParquetSource | CSVSource) -> float:
    """Training accuracy over every rank's shard (as ``score``, unweighted): one more pass."""
    import torch

    from torchlogit import distributed

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
