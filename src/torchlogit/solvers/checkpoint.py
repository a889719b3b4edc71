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
* **A solver with its own snapshots** (:meth:`Checkpoint.solver_hooks`, meant for Newton's two
  precision phases): whatever flat state it hands over (tensors and JSON values: the phase, the
  Hessian it is reusing), restored as saved, so a resumed fit retraces the uninterrupted one in
  every phase.

Every tensor is saved in its own dtype (float32 coefficients of mixed-precision Newton's float32
phase stay float32, float64 ones float64), so what a fit resumes from is exactly what was saved.
A state holding a NaN or an infinity is never written (the previous checkpoint stays), and a
checkpoint holding one is refused: a diverged fit is not resumed.
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
from torchlogit._fileio import write_bytes
from torchlogit.solvers.stochastic import SnapshotHooks

CHECKPOINT_FILE = "checkpoint.safetensors"
_META_KEY = "torchlogit-checkpoint"
_SOLVER_PREFIX = "solver/"  # tensors of a solver's own snapshot (solver_hooks)


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
        """``coef0``, or the saved coefficients when this fit's checkpoint exists (same on every rank).

        The saved values come back exactly (only moved to ``coef0``'s device; in ``coef0``'s
        dtype, which holds them exactly: a float32 checkpoint of a float64 fit's float32 phase).
        A checkpoint of other settings or shapes, or holding non-finite values, is refused.
        """
        found = self._resumable(coef0) if distributed.rank() == 0 else None
        found = distributed.broadcast_object(found)
        if isinstance(found, str):
            raise ValueError(f"checkpoint {str(self.path)!r} {found}")
        if found is None:
            return coef0
        tensors, header = found
        self.resumed_from = self._iteration = int(header["iteration"])
        self._best = float(header["objective"])
        if "stochastic" in header:
            self._solver_state = _unpack_state(tensors, header["stochastic"], coef0.device)
        elif "solver" in header:
            self._solver_state = {**header["solver"], "coef": tensors["coef"].to(coef0.device),
                                  **{key: header[key] for key in ("iteration", "objective", "grad_max")},
                                  **{key.removeprefix(_SOLVER_PREFIX): value.to(coef0.device)
                                     for key, value in tensors.items() if key.startswith(_SOLVER_PREFIX)}}
        coef = tensors["coef"].to(device=coef0.device)
        return coef if coef.dtype == coef0.dtype else coef.to(coef0.dtype)

    def _resumable(self, coef0: Tensor) -> tuple[dict[str, Tensor], dict[str, Any]] | str | None:
        """Rank 0's reading: the checkpoint to resume from, None, or why it cannot be resumed."""
        saved = self._read_all()
        if saved is None:
            return None
        tensors, header = saved
        coef = tensors["coef"]
        if header.get("config") != self.config:
            diff = sorted(k for k in set(self.config) | set(header.get("config", {}))
                          if self.config.get(k) != header.get("config", {}).get(k))
            return (f"was written for a different fit (settings that differ: {', '.join(diff)}); "
                    "remove it or use another --checkpoint folder")
        if tuple(coef.shape) != tuple(coef0.shape):
            return (f"was written for coefficients of shape {tuple(coef.shape)}, not "
                    f"{tuple(coef0.shape)}; remove it or use another --checkpoint folder")
        bad = _non_finite(tensors)
        if bad is not None:
            return (f"holds non-finite values (NaN or infinity) in {bad!r}: the fit it saved had "
                    "diverged; remove it to start afresh")
        return tensors, header

    def stochastic_hooks(self) -> SnapshotHooks:
        """The ``snapshots`` of :func:`~torchlogit.solvers.stochastic.stochastic`: the state to
        resume from (if any), and saving it every ``every`` mini-batches and every epoch."""
        return SnapshotHooks(state=self._solver_state, on_state=self._save_state, every=self.every)

    def solver_hooks(self) -> SnapshotHooks:
        """Snapshots for a solver that hands over its whole state (Newton's phases): the state to
        resume from, if any, and saving one.

        A state is a flat dict: ``coef`` (Tensor), ``iteration`` (int), ``objective`` and
        ``grad_max`` (floats), and any further entries of the solver's, each a Tensor or a JSON
        value; :attr:`SnapshotHooks.state` gives it back as saved, tensors in their own dtype on
        the device of the fit's starting coefficients.
        """
        return SnapshotHooks(state=self._solver_state, on_state=self._save_solver_state)

    def _save_state(self, state: dict[str, Any]) -> None:
        if distributed.rank() != 0:
            return
        tensors, meta = _pack_state(state)
        self._write(tensors, {"iteration": state["epoch"], "objective": state["objective"],
                              "grad_max": state["grad_max"], "stochastic": meta})

    def _save_solver_state(self, state: dict[str, Any]) -> None:
        if distributed.rank() != 0:
            return
        header = {key: state[key] for key in ("iteration", "objective", "grad_max")}
        own = {key: value for key, value in state.items() if key not in header and key != "coef"}
        tensors = {"coef": state["coef"], **{_SOLVER_PREFIX + key: value for key, value in own.items()
                                              if isinstance(value, Tensor)}}
        header["solver"] = {key: value for key, value in own.items() if not isinstance(value, Tensor)}
        self._write(tensors, header)

    def save(self, coef: Tensor, *, iteration: int, objective: float, grad_max: float) -> None:
        """Write ``coef`` atomically (rank 0 only), in its own dtype; non-finite ``coef`` is not written."""
        if distributed.rank() != 0:
            return
        self._write({"coef": coef}, {"iteration": iteration, "objective": objective, "grad_max": grad_max})

    def _write(self, tensors: dict[str, Tensor], header: dict[str, Any]) -> None:
        """Replace the checkpoint file by ``tensors`` (each in its own dtype) and ``header``,
        unless a tensor holds a NaN or an infinity: the previous checkpoint then stays."""
        from safetensors.torch import save

        tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
        if _non_finite(tensors) is not None:
            return
        data = save(tensors, metadata={_META_KEY: json.dumps({**header, "config": self.config})})
        write_bytes(self.path, data)

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


def _non_finite(tensors: dict[str, Tensor]) -> str | None:
    """The name of the first floating-point tensor holding a NaN or an infinity, or None."""
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return name
    return None


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
