"""torch.distributed helpers: process group set-up from torchrun's environment, sums across ranks.

Everything is a no-op in a single process, so the same code runs with and without ``torchrun``.

A fit under torch.distributed works like this: every rank reads its own shard of the data
(:mod:`torchlogit.data.streaming`), sums loss, gradient and Hessian over its chunks, and one
``all_reduce`` per pass adds the sums of all ranks (:class:`~torchlogit.core.objective.Objective`).
Every rank then holds the same sums and takes the identical solver step, so all ranks end with
the same coefficients; rank 0 alone writes files and prints.

A collective that fails (a rank died: its sockets close; or stalled past the timeout given to
:func:`init_from_env`) raises :class:`DistributedError` on the surviving ranks instead of hanging.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

import torch
import torch.distributed as dist

from torchlogit._messages import first_line

# seconds a collective waits for the other ranks before failing (a rank that died is usually
# noticed at once, when its connections close; this bounds the wait for a rank that stalls)
DEFAULT_TIMEOUT_S = 600.0


class DistributedError(ConnectionError):
    """A collective operation failed: another rank died, stalled past the timeout, or is unreachable."""


def is_distributed() -> bool:
    """True when a process group is initialised with more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """The number of ranks (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def env_world_size() -> int:
    """``WORLD_SIZE`` from the environment that torchrun sets (1 when absent)."""
    try:
        return max(int(os.environ.get("WORLD_SIZE", "1")), 1)
    except ValueError:
        return 1


def backend_for(device: torch.device | str) -> str:
    """``'nccl'`` for CUDA devices, ``'gloo'`` for the CPU."""
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def init_from_env(
    device: torch.device | str = "cpu", *, backend: str = "auto", timeout_s: float = DEFAULT_TIMEOUT_S,
) -> bool:
    """Join the process group described by torchrun's environment variables.

    ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` (``torchrun`` sets them; so can
    any launcher). Does nothing and returns False when ``WORLD_SIZE`` is unset or 1, or when a
    process group already exists. ``backend='auto'`` picks nccl for a CUDA ``device`` (and
    selects the GPU ``LOCAL_RANK``), gloo otherwise.

    Returns
    -------
    bool
        Whether this call created the process group (then :func:`shutdown` should end it).
    """
    if env_world_size() == 1 or (dist.is_available() and dist.is_initialized()):
        return False
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    missing = [v for v in ("RANK", "MASTER_ADDR", "MASTER_PORT") if v not in os.environ]
    if missing:
        raise ValueError(f"WORLD_SIZE is set but {', '.join(missing)} is not: launch with torchrun, "
                         "or set RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT for every process")
    device = torch.device(device)
    if backend == "auto":
        backend = backend_for(device)
    if device.type == "cuda" and device.index is None:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    try:
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(seconds=timeout_s))
    except (RuntimeError, ValueError) as exc:
        raise DistributedError(
            f"rank {os.environ.get('RANK')} of {os.environ.get('WORLD_SIZE')}: could not join the process "
            f"group at {os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')} within "
            f"{timeout_s:g} s ({first_line(exc)})"
        ) from None
    return True


# set once a collective has failed: the process group is then unusable (see group_broken)
_group_broken = False


def group_broken() -> bool:
    """Whether a collective of this process has failed (a peer died or stalled).

    Such a group's C++ destructors can abort the process at interpreter exit ("terminate called
    without an active exception"), so the CLI then leaves with ``os._exit``.
    """
    return _group_broken


def shutdown() -> None:
    """Leave the process group (if any)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` in place over all ranks and return it (unchanged in a single process)."""
    if is_distributed():
        with _collective("all_reduce"):
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def broadcast(tensor: torch.Tensor, src: int = 0) -> torch.Tensor:
    """Overwrite ``tensor`` on every rank with rank ``src``'s (in place; no-op in one process)."""
    if is_distributed():
        with _collective("broadcast"):
            dist.broadcast(tensor, src=src)
    return tensor


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order; ``[obj]`` in one process."""
    if not is_distributed():
        return [obj]
    gathered: list[Any] = [None] * dist.get_world_size()
    with _collective("all_gather_object"):
        dist.all_gather_object(gathered, obj)
    return gathered


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank."""
    if not is_distributed():
        return obj
    box = [obj]
    with _collective("broadcast_object"):
        dist.broadcast_object_list(box, src=src)
    return box[0]


class _collective:  # noqa: N801 - used like a function, as a context manager
    """Turn a failed collective into a :class:`DistributedError` that says what probably happened."""

    def __init__(self, name: str):
        self.name = name

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        global _group_broken
        if exc is None or not isinstance(exc, RuntimeError):
            return False
        _group_broken = True
        raise DistributedError(
            f"rank {dist.get_rank()} of {dist.get_world_size()}: {self.name} failed; another rank has "
            f"probably died or stalled past the timeout ({first_line(exc)})"
        ) from None
