"""Mini-batch SGD / Adam: the tutorial's training loop, on the same objective as every solver.

A :class:`~torchlogit.core.model.LogisticModel` is trained with ``torch.optim`` and autograd. Each
mini-batch ``B`` estimates the objective without bias,
``Σ_B sᵢℓᵢ / (|B|·s̄) + ½ Σ λ_j W_kj²`` (``s̄`` the mean weight), so with ``batch_size=None``
(full batch, as in the tutorial) a step is plain gradient descent on F. After every epoch the
exact F and ``max |∇F|`` are computed (one extra pass); the run stops when that is ``<= tol``
or after ``max_iter`` epochs.

Under torch.distributed the model is wrapped in :class:`~torch.nn.parallel.DistributedDataParallel`:
each rank draws mini-batches from its own shard, and DDP averages the gradients across ranks in
every backward pass, so all ranks take the same steps (``join()`` covers shards with unequal
numbers of mini-batches).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from torchlogit.core.loss import logits_loss
from torchlogit.core.model import LogisticModel
from torchlogit.core.objective import Objective
from torchlogit.distributed import is_distributed
from torchlogit.solvers._result import SolverResult, Trace, iterate_hook

Optimizer = Literal["sgd", "adam"]


def _live_coef(model: LogisticModel) -> Tensor:
    """``[W, b]`` built from the module's parameters, keeping the autograd graph."""
    if model.linear.bias is None:
        return model.linear.weight
    return torch.cat([model.linear.weight, model.linear.bias[:, None]], dim=1)


def _make_optimizer(name: str, params, learning_rate: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=learning_rate)
    if name == "adam":
        return torch.optim.Adam(params, lr=learning_rate)
    raise ValueError(f"optimizer must be 'sgd' or 'adam', got {name!r}")


def _data_parallel(model: LogisticModel) -> torch.nn.Module:
    """``model`` wrapped in DistributedDataParallel under torch.distributed, else ``model`` itself."""
    if not is_distributed():
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [model.linear.weight.device.index] if model.linear.weight.is_cuda else None
    return DistributedDataParallel(model, device_ids=device_ids)


@dataclass(frozen=True)
class StochasticOptions:
    """How :func:`stochastic` steps.

    Attributes
    ----------
    optimizer : ``"sgd"`` or ``"adam"`` (``torch.optim``)
    learning_rate : the optimizer's step size (positive)
    batch_size : rows per mini-batch; None: a chunk at a time (full batch for in-memory data)
    generator : draws the run's shuffling seed, once
    """

    optimizer: Optimizer = "sgd"
    learning_rate: float = 0.1
    batch_size: int | None = None
    generator: torch.Generator | None = None

    def __post_init__(self) -> None:
        if not 0 < self.learning_rate < math.inf:  # NaN fails too
            raise ValueError(f"learning_rate must be positive and finite, got {self.learning_rate}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer or None, got {self.batch_size}")


@dataclass(frozen=True)
class SnapshotHooks:
    """Resuming a run and saving its state, as a checkpoint does
    (:meth:`~torchlogit.solvers.checkpoint.Checkpoint.stochastic_hooks`).

    Attributes
    ----------
    state : a snapshot to resume from, as ``on_state`` was given it; None: start afresh
    on_state : called with a snapshot after every epoch and every ``every`` mini-batches
    every : mini-batches between snapshots within an epoch (0: after every epoch only)
    """

    state: dict[str, Any] | None = None
    on_state: Callable[[dict[str, Any]], None] | None = None
    every: int = 0


def stochastic(
    objective: Objective, coef0: Tensor, options: StochasticOptions | None = None, *, tol: float = 1e-8,
    max_iter: int = 100, callback: Callable[[int, float, float], None] | None = None,
    model: LogisticModel | None = None, snapshots: SnapshotHooks | None = None,
) -> SolverResult:
    """Minimise ``objective`` with mini-batch SGD or Adam (``options``); ``max_iter`` counts epochs.

    ``model``, when given, is trained in place (its parameters are the coefficients), which is
    what the tutorial-style :func:`torchlogit.tutorial.training.train` relies on.

    Each chunk's rows are shuffled by a generator seeded from ``options.generator`` (drawn once),
    the epoch and the chunk's index, so a run can be resumed exactly: ``snapshots.on_state(snapshot)``
    is called every ``snapshots.every`` mini-batches (when > 0) and after every epoch, with the
    model's and the optimizer's state, the epoch and the mini-batch within it;
    ``snapshots.state=snapshot`` resumes there and retraces the uninterrupted run step for step
    (:mod:`torchlogit.solvers.checkpoint` stores it). ``callback`` is called after every epoch,
    and so is its iterate hook (:class:`~torchlogit.solvers._result.SolverCallbacks`), which may
    stop the run.

    Raises
    ------
    ValueError
        When an epoch ends with a non-finite F or coefficients: the steps diverged (too large a
        learning rate for the features' scale), and no later epoch can recover.
    """
    options = options if options is not None else StochasticOptions()
    if options.learning_rate > torch.finfo(objective.dtype).max:  # torch.optim would fail on the cast
        raise ValueError(f"learning_rate={options.learning_rate:g} is beyond the range of "
                         f"{str(objective.dtype).removeprefix('torch.')}; use a smaller learning_rate")
    snapshots = snapshots if snapshots is not None else SnapshotHooks()
    passes_before = objective.n_passes
    run = _begin(objective, coef0, options, model, snapshots.state)
    iterates = Trace(on_iterate=iterate_hook(callback))
    while run.grad_max > tol and run.epoch < max_iter and iterates.stopped is None:
        run.epoch += 1
        _epoch(objective, run, options.batch_size, snapshots)
        run.skip = 0
        coef = run.model.coef_matrix()
        f, grad = objective.value_grad(coef)
        _check_finite(run, options, f, coef)
        run.f, run.grad_max = f, float(grad.abs().max())
        run.history.append({"objective": run.f, "grad_max": run.grad_max})
        if snapshots.on_state is not None:
            snapshots.on_state(_snapshot(run, 0))
        if callback is not None:
            callback(run.epoch, run.f, run.grad_max)
        iterates.report(run.epoch, run.model.coef_matrix)
    converged = run.grad_max <= tol
    message = (
        f"max |gradient| {run.grad_max:.3g} <= tol {tol:g} after {run.epoch} epochs"
        if converged else iterates.stopped or f"reached max_iter={max_iter} epochs"
    )
    return SolverResult(
        coef=run.model.coef_matrix(), n_iter=run.epoch, converged=converged, grad_max=run.grad_max,
        objective=run.f, n_passes=objective.n_passes - passes_before, history=run.history, message=message,
    )


@dataclass
class _Run:
    """A stochastic run's state: what a snapshot holds, and the module and optimizer stepping it."""

    model: LogisticModel
    net: torch.nn.Module  # ``model``, wrapped for data parallelism under torch.distributed
    opt: torch.optim.Optimizer
    seed: int
    f: float  # F after the last finished epoch
    grad_max: float
    history: list[dict[str, float]]
    mean_weight: float
    epoch: int = 0
    skip: int = 0  # mini-batches of the current epoch done before the snapshot resumed from


def _begin(
    objective: Objective, coef0: Tensor, options: StochasticOptions, model: LogisticModel | None,
    resume: dict[str, Any] | None,
) -> _Run:
    """A fresh run from ``coef0`` (one pass for F), or one resumed from the snapshot ``resume``."""
    n_outputs, n_cols = objective.coef_shape
    if model is None:
        model = LogisticModel(n_cols - int(objective.fit_intercept), n_outputs, bias=objective.fit_intercept,
                              dtype=objective.dtype, device=objective.device)
    model.load_coef_matrix(coef0)
    opt = _make_optimizer(options.optimizer, model.parameters(), options.learning_rate)
    mean_weight = objective.weight_sum / objective.n_rows
    if resume is None:
        seed = int(torch.randint(0, 1 << 62, (1,), generator=options.generator))
        f, grad = objective.value_grad(model.coef_matrix())
        grad_max = float(grad.abs().max())
        return _Run(model=model, net=_data_parallel(model), opt=opt, seed=seed, f=f, grad_max=grad_max,
                    history=[{"objective": f, "grad_max": grad_max}], mean_weight=mean_weight)
    model.load_state_dict(resume["model"])
    opt.load_state_dict(resume["optimizer"])
    skip = resume["batch"]
    return _Run(model=model, net=_data_parallel(model), opt=opt, seed=resume["seed"], f=resume["objective"],
                grad_max=resume["grad_max"], history=list(resume["history"]), mean_weight=mean_weight,
                epoch=resume["epoch"] - 1 if skip else resume["epoch"],  # re-enter the unfinished epoch
                skip=skip)


def _epoch(objective: Objective, run: _Run, batch_size: int | None, snapshots: SnapshotHooks) -> None:
    """One epoch: every chunk's rows in a seeded shuffled order, a step per mini-batch (skipping
    the ``run.skip`` done before a resumed snapshot); a snapshot every ``snapshots.every`` of them."""
    batch = 0
    distributed = run.net is not run.model
    with run.net.join(divide_by_initial_world_size=False) if distributed else contextlib.nullcontext():
        for index, (X, y, w) in enumerate(objective.chunks()):
            shuffle = torch.Generator().manual_seed(run.seed + 1_000_003 * run.epoch + index)
            order = torch.randperm(len(y), generator=shuffle, device="cpu").to(X.device)
            step = batch_size or len(y)
            for start in range(0, len(y), step):
                batch += 1
                if batch <= run.skip:
                    continue
                idx = order[start : start + step]
                _minibatch_step(objective, run, X[idx], y[idx], w[idx])
                if snapshots.on_state is not None and snapshots.every and batch % snapshots.every == 0:
                    snapshots.on_state(_snapshot(run, batch))


def _minibatch_step(objective: Objective, run: _Run, X: Tensor, y: Tensor, w: Tensor) -> None:
    """One optimizer step on the mini-batch's unbiased estimate of F."""
    run.opt.zero_grad(set_to_none=True)
    loss = logits_loss(run.net(X), y, w) / (len(y) * run.mean_weight)
    if objective.l2 is not None:
        loss = loss + objective.l2.value(_live_coef(run.model))
    loss.backward()
    run.opt.step()


def _check_finite(run: _Run, options: StochasticOptions, f: float, coef: Tensor) -> None:
    """Stop a diverged run with an error: its coefficients would be no model."""
    if math.isfinite(f) and bool(torch.isfinite(coef).all()):
        return
    raise ValueError(
        f"solver {options.optimizer!r} diverged: F = {f:g} after epoch {run.epoch} with learning_rate="
        f"{options.learning_rate:g}; use a smaller learning_rate, or standardise the features"
    )


def _snapshot(run: _Run, batch: int) -> dict[str, Any]:
    """What resumes the run after mini-batch ``batch`` of its current epoch (0: after the epoch)."""
    return {"model": run.model.state_dict(), "optimizer": run.opt.state_dict(), "seed": run.seed,
            "epoch": run.epoch, "batch": batch, "objective": run.f, "grad_max": run.grad_max,
            "history": run.history}
