"""Fitting data streamed from files, on one process or many: the exact solvers over a data source.

::

    files ──► data.streaming source ──► chunks (X, y, w) ──► Objective sums ──► all_reduce ──► solver
    (Parquet / CSV, this rank's shard)    at most chunk_rows     loss, ∇F, Hessian     (no-op in       step
                                                                                         one process)

:func:`fit_streamed` fits a :class:`~torchlogit.estimators.logistic.LogisticRegression` to a streamed source
(:meth:`~torchlogit.estimators.logistic.LogisticRegression.fit_source`: same solvers, same optimum as the
in-memory :meth:`fit` on the same rows), optionally with a checkpoint folder to resume after a kill.
:func:`fit_files` opens the files first. Under ``torchrun`` both join the process group from the
environment; every rank reads its shard and ends with the same model.

Examples
--------
>>> from torchlogit import LogisticRegression
>>> from torchlogit.estimators.streaming import fit_files
>>> clf = fit_files(LogisticRegression(C=1.0), "data/*.parquet", target="y",
...                 chunk_rows=100_000, checkpoint="ckpt/")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from torchlogit import distributed
from torchlogit._validation import resolve_device, resolve_dtype
from torchlogit.data.streaming import DEFAULT_CHUNK_ROWS, open_source
from torchlogit.estimators.logistic import LogisticRegression
from torchlogit.solvers.checkpoint import Checkpoint


def fit_streamed(
    estimator: LogisticRegression, source, *, checkpoint: str | os.PathLike[str] | Checkpoint | None = None,
    checkpoint_every: int = 0, callback: Callable[[int, float, float], None] | None = None,
) -> LogisticRegression:
    """Fit ``estimator`` to a streamed ``source`` (its ``classes`` found in a first pass if needed).

    Parameters
    ----------
    estimator : LogisticRegression, its ``dtype`` and ``device`` those of the source's chunks
    source : a :mod:`torchlogit.data.streaming` source with a target column
    checkpoint : folder (or :class:`~torchlogit.solvers.checkpoint.Checkpoint`): resume from the
        state saved there by the same fit, and save it after every iteration
    checkpoint_every : SGD/Adam: also save every this many mini-batches
    callback : ``callback(iteration, objective, max_abs_gradient)`` after every iteration

    Returns
    -------
    the fitted estimator (``checkpoint_resumed_from_`` is the iteration it resumed from, or None)
    """
    if source.target is None:
        raise ValueError("the source has no target column: name one to fit")
    classes = source.classes
    if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
        checkpoint = Checkpoint(checkpoint, config=describe_fit(estimator, source), every=checkpoint_every)
    estimator.fit_source(source, classes, callback=callback, checkpoint=checkpoint,
                         feature_names=source.feature_names)
    estimator.checkpoint_resumed_from_ = None if checkpoint is None else checkpoint.resumed_from
    return estimator


def fit_files(  # noqa: PLR0913  the documented keyword API (README)
    estimator: LogisticRegression, paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *,
    target: str, features: Sequence[str] | None = None, weight: str | None = None, classes: Any = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS, checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 0, callback: Callable[[int, float, float], None] | None = None,
    memory_map: bool = False,
) -> LogisticRegression:
    """Open ``paths`` as a streamed source (see :func:`~torchlogit.data.streaming.open_source`) and
    fit ``estimator`` to it with :func:`fit_streamed`.

    Joins the process group described by torchrun's environment, if any (and leaves it alone
    otherwise); every rank reads its own shard.
    """
    device = resolve_device(estimator.device)
    distributed.init_from_env(device)
    source = open_source(paths, target=target, features=features, weight=weight, classes=classes,
                         chunk_rows=chunk_rows, dtype=resolve_dtype(estimator.dtype), device=device,
                         memory_map=memory_map)
    return fit_streamed(estimator, source, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                        callback=callback)


def describe_fit(estimator: LogisticRegression, source) -> dict[str, Any]:
    """What makes two fits the same one (a checkpoint is resumed only by the same fit)."""
    files = [{"name": str(p), "bytes": p.stat().st_size} for p in source.files]
    if estimator.solver in ("sgd", "adam"):  # the mini-batches depend on the chunks and the shards
        files.append({"chunk_rows": source.chunk_rows, "world_size": source.shard()[1]})
    return {
        "files": files, "target": source.target, "features": list(source.feature_names),
        "weight": source.weight, "classes": [str(c) for c in source.classes],
        # tol, max_iter and verbose may change between runs: the saved coefficients suit any of them
        "params": {k: v for k, v in estimator.get_params().items()
                   if k not in ("verbose", "max_iter", "tol", "warm_start")},
    }
