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
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import Tensor

from torchlogit.core.loss import logits_loss
from torchlogit.core.model import LogisticModel
from torchlogit.core.objective import Objective
from torchlogit.distributed import is_distributed
from torchlogit.solvers._result import SolverResult

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


def stochastic(
    objective: Objective, coef0: Tensor, *, optimizer: Optimizer = "sgd",
    learning_rate: float = 0.1, batch_size: int | None = None, tol: float = 1e-8,
    max_iter: int = 100, generator: torch.Generator | None = None,
    model: LogisticModel | None = None,
    callback: Callable[[int, float, float], None] | None = None,
    state: dict[str, Any] | None = None, on_state: Callable[[dict[str, Any]], None] | None = None,
    state_every: int = 0,
) -> SolverResult:
    """Minimise ``objective`` with mini-batch SGD or Adam; ``max_iter`` counts epochs.

    ``model``, when given, is trained in place (its parameters are the coefficients), which is
    what the tutorial-style :func:`torchlogit.tutorial.training.train` relies on.

    Each chunk's rows are shuffled by a generator seeded from ``generator`` (drawn once), the
    epoch and the chunk's index, so a run can be resumed exactly: ``on_state(snapshot)`` is called
    every ``state_every`` mini-batches (when > 0) and after every epoch, with the model's and the
    optimizer's state, the epoch and the mini-batch within it; ``state=snapshot`` resumes there
    and retraces the uninterrupted run step for step (:mod:`torchlogit.solvers.checkpoint` stores it).
    """
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size}")
    passes_before = objective.n_passes
    n_outputs, n_cols = objective.coef_shape
    if model is None:
        n_features = n_cols - int(objective.fit_intercept)
        model = LogisticModel(
            n_features, n_outputs, bias=objective.fit_intercept,
            dtype=objective.dtype, device=objective.device,
        )
    model.load_coef_matrix(coef0)
    opt = _make_optimizer(optimizer, model.parameters(), learning_rate)
    if state is None:
        seed = int(torch.randint(0, 1 << 62, (1,), generator=generator))
        f, grad = objective.value_grad(model.coef_matrix())
        grad_max = float(grad.abs().max())
        history = [{"objective": f, "grad_max": grad_max}]
        epoch, skip = 0, 0
    else:  # resume: the epoch's first ``skip`` mini-batches were done before the snapshot
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        seed, f, grad_max = state["seed"], state["objective"], state["grad_max"]
        history, epoch, skip = list(state["history"]), state["epoch"], state["batch"]
        if skip:
            epoch -= 1  # the loop re-enters the unfinished epoch
    mean_weight = objective.weight_sum / objective.n_rows
    net = _data_parallel(model)

    def snapshot(batch: int) -> dict[str, Any]:
        return {"model": model.state_dict(), "optimizer": opt.state_dict(), "seed": seed, "epoch": epoch,
                "batch": batch, "objective": f, "grad_max": grad_max, "history": history}

    while grad_max > tol and epoch < max_iter:
        epoch += 1
        batch = 0
        with net.join(divide_by_initial_world_size=False) if net is not model else contextlib.nullcontext():
            for index, (X, y, w) in enumerate(objective.chunks()):
                shuffle = torch.Generator().manual_seed(seed + 1_000_003 * epoch + index)
                order = torch.randperm(len(y), generator=shuffle, device="cpu").to(X.device)
                step = batch_size or len(y)
                for start in range(0, len(y), step):
                    batch += 1
                    if batch <= skip:
                        continue
                    idx = order[start : start + step]
                    opt.zero_grad(set_to_none=True)
                    data_term = logits_loss(net(X[idx]), y[idx], w[idx]) / (len(idx) * mean_weight)
                    loss = data_term
                    if objective.l2 is not None:
                        loss = loss + objective.l2.value(_live_coef(model))
                    loss.backward()
                    opt.step()
                    if on_state is not None and state_every and batch % state_every == 0:
                        on_state(snapshot(batch))
        skip = 0
        f, grad = objective.value_grad(model.coef_matrix())
        grad_max = float(grad.abs().max())
        history.append({"objective": f, "grad_max": grad_max})
        if on_state is not None:
            on_state(snapshot(0))
        if callback is not None:
            callback(epoch, f, grad_max)
    converged = grad_max <= tol
    message = (
        f"max |gradient| {grad_max:.3g} <= tol {tol:g} after {epoch} epochs"
        if converged else f"reached max_iter={max_iter} epochs"
    )
    return SolverResult(
        coef=model.coef_matrix(), n_iter=epoch, converged=converged, grad_max=grad_max,
        objective=f, n_passes=objective.n_passes - passes_before, history=history, message=message,
    )
