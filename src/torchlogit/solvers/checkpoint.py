"""Solver checkpoints: the coefficients after every iteration, written atomically, so a killed fit resumes.

A checkpoint folder holds ``checkpoint.safetensors``: the coefficient matrix and a JSON header
(iteration, objective, ``max |∇F|`` and a description of the fit). It is rewritten after every
iteration by rank 0 alone, through a temporary file and a rename, so a kill at any moment leaves
either the previous or the new checkpoint, never a torn one. A fit started with the same
checkpoint folder and the same settings starts from the saved coefficients (rank 0 reads them
and broadcasts them, so only rank 0 needs the folder); one with other settings is refused.

What the coefficients are enough for:

* **Newton** (and proximal Newton): the whole state. Each step depends only on the current
  coefficients (F, ∇F and the Hessian are recomputed there), so a resumed fit takes exactly the
  steps the uninterrupted one would have taken and ends at the same coefficients.
* **L-BFGS**: the curvature history is not saved; the resumed fit starts a fresh history (and
  fresh preconditioning) from the best point seen. It reaches the same optimum to the tolerance,
  typically within a few more iterations than an uninterrupted run.
* **SGD/Adam**: the model's and the optimizer's state (Adam's moments included), the epoch and
  the mini-batch within it, after every epoch and every ``every`` mini-batches. Shuffling is
  seeded per epoch and chunk (:func:`~torchlogit.solvers.stochastic.stochastic`), so a resumed
  run skips the mini-batches already done and retraces the uninterrupted run step for step.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from torchlogit import distributed
from torchlogit._fileio import atomic_path
from torchlogit.solvers.stochastic import SnapshotHooks

CHECKPOINT_FILE = "checkpoint.safetensors"
_META_KEY = "torchlogit-checkpoint"


class Checkpoint:
    """A checkpoint folder for one fit.

    Parameters
    ----------
    directory : folder to write ``checkpoint.safetensors`` in (created by rank 0 if missing)
    config : JSON-able description of the fit (data, columns, classes, estimator parameters).
        A saved checkpoint is only resumed when its config is the same.
    every : SGD/Adam also save every this many mini-batches (0: after every epoch only)
    """

    def __init__(self, directory: str | os.PathLike[str], *, config: dict[str, Any] | None = None,
                 every: int = 0):
        if not isinstance(every, int) or every < 0:
            raise ValueError(f"every must be a non-negative number of mini-batches, got {every!r}")
        self.every = every
        self._solver_state: dict[str, Any] | None = None
        self.directory = Path(directory)
        self.config = json.loads(json.dumps(config or {}, default=str))
        self.path = self.directory / CHECKPOINT_FILE
        self.resumed_from: int | None = None  # the saved iteration a fit resumed from, if any
        self._iteration = 0
        self._best = float("inf")
        if distributed.rank() == 0:
            if self.directory.exists() and not self.directory.is_dir():
                raise NotADirectoryError(f"checkpoint path {str(self.directory)!r} is not a folder")
            self.directory.mkdir(parents=True, exist_ok=True)

    def read(self) -> tuple[Tensor, dict[str, Any]] | None:
        """The saved coefficients and header on this process's disk, or None when there are none."""
        saved = self._read_all()
        return None if saved is None else (saved[0]["coef"], saved[1])

    def _read_all(self) -> tuple[dict[str, Tensor], dict[str, Any]] | None:
        if not self.path.is_file():
            return None
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(self.path), framework="pt") as handle:
                header = json.loads((handle.metadata() or {})[_META_KEY])
                tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
            if "coef" not in tensors:
                raise KeyError("no coefficients")
        except (SafetensorError, KeyError, ValueError, OSError) as exc:
            raise ValueError(f"checkpoint {str(self.path)!r} is unreadable ({exc}); remove it to start "
                             "afresh") from None
        return tensors, header

    def restore(self, coef0: Tensor) -> Tensor:
        """``coef0``, or the saved coefficients when this fit's checkpoint exists (same on every rank)."""
        found = None
        if distributed.rank() == 0:
            saved = self._read_all()
            if saved is not None:
                tensors, header = saved
                coef = tensors["coef"]
                if header.get("config") != self.config:
                    diff = sorted(k for k in set(self.config) | set(header.get("config", {}))
                                  if self.config.get(k) != header.get("config", {}).get(k))
                    found = f"a different fit (settings that differ: {', '.join(diff)})"
                elif tuple(coef.shape) != tuple(coef0.shape):
                    found = f"coefficients of shape {tuple(coef.shape)}, not {tuple(coef0.shape)}"
                else:
                    found = (tensors, header)
        found = distributed.broadcast_object(found)
        if isinstance(found, str):
            raise ValueError(f"checkpoint {str(self.path)!r} was written for {found}; remove it or use "
                             "another --checkpoint folder")
        if found is None:
            return coef0
        tensors, header = found
        self.resumed_from = self._iteration = int(header["iteration"])
        self._best = float(header["objective"])
        if "stochastic" in header:
            self._solver_state = _unpack_state(tensors, header["stochastic"], coef0.device)
        return tensors["coef"].to(dtype=coef0.dtype, device=coef0.device)

    def stochastic_hooks(self) -> SnapshotHooks:
        """The ``snapshots`` of :func:`~torchlogit.solvers.stochastic.stochastic`: the state to
        resume from (if any), and saving it every ``every`` mini-batches and every epoch."""
        return SnapshotHooks(state=self._solver_state, on_state=self._save_state, every=self.every)

    def _save_state(self, state: dict[str, Any]) -> None:
        if distributed.rank() != 0:
            return
        tensors, meta = _pack_state(state)
        self._write(tensors, {"iteration": state["epoch"], "objective": state["objective"],
                              "grad_max": state["grad_max"], "stochastic": meta})

    def save(self, coef: Tensor, *, iteration: int, objective: float, grad_max: float) -> None:
        """Write ``coef`` atomically (rank 0 only)."""
        if distributed.rank() != 0:
            return
        self._write({"coef": coef}, {"iteration": iteration, "objective": objective, "grad_max": grad_max})

    def _write(self, tensors: dict[str, Tensor], header: dict[str, Any]) -> None:
        from safetensors.torch import save_file

        tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
        tensors["coef"] = tensors["coef"].to(torch.float64)
        with atomic_path(self.path) as tmp:
            save_file(tensors, str(tmp), metadata={_META_KEY: json.dumps({**header, "config": self.config})})

    def wrap(
        self, callback: Callable[[int, float, float], None] | None, objective, low_precision=None,
    ) -> Callable[[int, float, float], None]:
        """A solver callback that saves the point just evaluated when it is the best so far,
        then calls ``callback``; iterations count on from the resumed checkpoint.

        ``low_precision`` is mixed-precision Newton's float32 objective: its points are the
        iterates until the full-precision ``objective`` is first evaluated.
        """
        start = self._iteration

        def on_iteration(iteration: int, f: float, grad_max: float) -> None:
            coef = objective.last_coef
            if coef is None and low_precision is not None:
                coef = low_precision.last_coef
            if coef is not None and f <= self._best:
                self._best = f
                self.save(coef, iteration=start + iteration, objective=f, grad_max=grad_max)
            if callback is not None:
                callback(iteration, f, grad_max)

        return on_iteration


def _pack_state(state: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """A stochastic solver snapshot as safetensors tensors plus a JSON document (no pickle)."""
    model = state["model"]
    weight = model["linear.weight"]
    coef = torch.cat([weight, model["linear.bias"][:, None]], dim=1) if "linear.bias" in model else weight
    tensors = {"coef": coef, **{f"model/{k}": v for k, v in model.items()}}
    optimizer: dict[str, Any] = {"param_groups": state["optimizer"]["param_groups"], "state": {}}
    for index, values in state["optimizer"]["state"].items():
        plain = {}
        for key, value in values.items():
            if isinstance(value, Tensor):
                tensors[f"optimizer/{index}/{key}"] = value
            else:
                plain[key] = value
        optimizer["state"][str(index)] = plain
    meta = {k: state[k] for k in ("seed", "epoch", "batch", "objective", "grad_max", "history")}
    return tensors, {**meta, "optimizer": optimizer}


def _unpack_state(tensors: dict[str, Tensor], meta: dict[str, Any], device: torch.device) -> dict[str, Any]:
    optimizer = meta["optimizer"]
    state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in optimizer["state"].items()}
    model = {}
    for key, value in tensors.items():
        parts = key.split("/")
        if parts[0] == "model":
            model[parts[1]] = value.to(device)
        elif parts[0] == "optimizer":
            state.setdefault(int(parts[1]), {})[parts[2]] = value if parts[2] == "step" else value.to(device)
    groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in optimizer["param_groups"]]
    return {**{k: v for k, v in meta.items() if k != "optimizer"}, "model": model,
            "optimizer": {"state": state, "param_groups": groups}}
