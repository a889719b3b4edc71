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

import numpy as np

from torchlogit.cli import _output, columns

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
            or args.chunk_rows is not None or args.checkpoint is not None
            or args.checkpoint_every is not None or args.memory_map
            or distributed.env_world_size() > 1)


def fit(args: argparse.Namespace, estimator: LogisticRegression) -> None:
    """``torchlogit fit FILES... --target y [--chunk-rows N] [--checkpoint DIR]`` streamed."""
    from torchlogit import distributed
    from torchlogit._validation import resolve_device
    from torchlogit.estimators.streaming import fit_streamed

    _check_streaming_options(args)
    _check_paths(args)
    device = resolve_device(estimator.device)
    created = distributed.init_from_env(device, timeout_s=args.dist_timeout)
    try:
        rank, world = distributed.rank(), distributed.world_size()
        say = _output.rank_zero_printer(rank)
        source = _open_training_source(args, estimator, device, rank == 0)
        started = time.perf_counter()
        shown = _output.bar_wanted(args.quiet, args.progress) and rank == 0
        with _output.fit_progress(shown, rows_per_pass=source.row_totals()[0]) as bar, \
                _chunks_reported_to(source, bar.on_chunk):
            fit_streamed(estimator, source, checkpoint=args.checkpoint,
                         checkpoint_every=args.checkpoint_every or 0, callback=bar.on_iteration)
            bar.finish(bool(estimator.converged_), int(estimator.n_iter_[0]))
        seconds = time.perf_counter() - started
        if estimator.checkpoint_resumed_from_ is not None:
            say(f"resumed from the checkpoint in {args.checkpoint} (iteration "
                f"{estimator.checkpoint_resumed_from_})")
        n_rows = _all_ranks_sum(source.row_totals()[0])
        _print_streamed_fit(say, args, estimator, source, n_rows, world, seconds)
        accuracy = _streamed_accuracy(estimator, source)
        say(f"accuracy: train {accuracy:.4f} (all {_output.grouped(n_rows)} rows; no held-out split "
            "when streaming)")
        if rank == 0:
            from torchlogit.serving.modelfile import save_model

            save_model(estimator, args.out, feature_names=source.feature_names,
                       extra={"source": [str(p) for p in source.files], "target": args.target,
                              "train_accuracy": accuracy, "rows": n_rows, "ranks": world})
            say(f"wrote {args.out}")
    finally:
        if created:
            distributed.shutdown()


def check_labels(target: str, labels: np.ndarray) -> None:
    """Refuse a target column that is not two or more class labels; ``labels`` its distinct values.

    A continuous target (scikit-learn's ``type_of_target``: floats that are not all integers) is
    named as such up front: fitted as classes, it would fail on a class missing from the training
    split, or become a model with one class per distinct value.
    """
    from sklearn.utils.multiclass import type_of_target

    from torchlogit._validation import plain

    if len(labels) == 0:
        raise ValueError(f"target {target!r} has no labels: there are no data rows")
    if len(labels) == 1:
        raise ValueError(f"target {target!r} has a single class ({plain(labels[0])!r}); need at least 2")
    if type_of_target(labels) == "continuous":
        example = plain(labels[labels != np.round(labels)][0])
        raise ValueError(f"target {target!r} is continuous ({len(labels)} distinct values such as "
                         f"{example!r}), not class labels; logistic regression needs a column of classes")


# --------------------------------------------------------------------------- helpers
def _check_streaming_options(args: argparse.Namespace) -> None:
    """Refuse the in-memory-only options before any pass (none of them is silently ignored)."""
    if args.cv is not None:
        raise ValueError("--cv needs the data in memory; it is not available when streaming")
    if args.test_size:
        raise ValueError("--test-size is not available when streaming; evaluate the model on separate "
                         "files with `torchlogit evaluate`")
    in_memory = (("--summary", args.summary), ("--firth", args.firth), ("--cov", args.cov != "nonrobust"))
    for flag, given in in_memory:
        if given:
            raise ValueError(f"{flag} needs the data in memory (one CSV file, no streaming options); "
                             "it is not available when streaming")


def _check_paths(args: argparse.Namespace) -> None:
    """Refuse a model file or checkpoint that would replace an input file, or each other; check
    that the model file can be written (under torchrun only when checkpointing, whose folder all
    ranks share), before any pass."""
    from torchlogit import distributed
    from torchlogit.data.streaming import expand_paths
    from torchlogit.solvers.checkpoint import CHECKPOINT_FILE

    checkpoint = None if args.checkpoint is None else Path(args.checkpoint) / CHECKPOINT_FILE
    _output.refuse_overwrites([("--out", args.out), ("the checkpoint", checkpoint)],
                              [("the input file", path) for path in expand_paths(args.data)])
    if args.checkpoint is not None or distributed.env_world_size() <= 1:  # fail now, not after the fit
        _output.check_output(args.out)


def _open_training_source(args: argparse.Namespace, estimator: LogisticRegression, device: torch.device,
                          describe: bool) -> ParquetSource | CSVSource:
    """This rank's shard of the files, in the estimator's dtype on ``device``, with two classes or more.

    The columns are chosen as for in-memory fits (:func:`torchlogit.cli.columns.choose`) and,
    with ``describe``, printed.
    """
    from torchlogit import distributed
    from torchlogit._validation import resolve_dtype
    from torchlogit.data.streaming import DEFAULT_CHUNK_ROWS, open_source

    def opened(features: list[str] | None) -> ParquetSource | CSVSource:
        return open_source(args.data, target=args.target, features=features, weight=args.weight,
                           chunk_rows=args.chunk_rows or DEFAULT_CHUNK_ROWS,
                           dtype=resolve_dtype(estimator.dtype), device=device, memory_map=args.memory_map)

    every = opened(None)  # every column but the target and the weight
    chosen = columns.choose([*every.feature_names, args.target, *([args.weight] if args.weight else [])],
                            args)
    source = every if chosen.features == every.feature_names else opened(chosen.features)
    check_labels(args.target, source.classes)
    estimator.set_params(class_weight=columns.matched_class_weight(estimator.class_weight, source.classes))
    if describe:
        files = len(source.files)
        where = str(source.files[0]) if files == 1 else f"{files} files"
        if distributed.env_world_size() <= 1:  # one process: the rows, counted by the classes' pass
            where += f", {_output.grouped(source.row_totals()[0])} rows"
        columns.describe(chosen, where, source.classes)
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
    """The fit's summary lines, each short enough for an 80-column terminal: ``n_rows`` on all
    ``world`` ranks, fitted in ``seconds``."""
    status = "converged" if estimator.converged_ else "NOT converged"
    where = f"{len(source.files)} file{'s' if len(source.files) > 1 else ''}"
    if world > 1:
        where += f", {world} ranks"
    n_iter = int(estimator.n_iter_[0])
    say(f"fit: {len(source.classes)} classes, {_output.grouped(n_rows)} rows ({where}), "
        f"{source.n_features} features")
    say(f"  solver {estimator.solver_}, {n_iter} iteration{'s' if n_iter != 1 else ''}, {status}: "
        f"max |gradient| {estimator.grad_max_:.2e} (tol {args.tol:g})")
    say(f"  objective {estimator.objective_:.10g}")
    say(f"passes: {estimator.n_passes_} in {seconds:.2f} s ({seconds / max(estimator.n_passes_, 1):.3f} s "
        f"per pass, chunks of {_output.grouped(source.chunk_rows)} rows)")


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
