"""What every solver shares at its end: the result type, the stopping rule, the trace of iterates."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor


def rounding_floor(objective_value: float, dtype: torch.dtype) -> float:
    """The smallest ``max |∇F|`` a line search can certify, given F's rounding error.

    A step with gradient g and curvature h ≲ 1 changes F by about g²/(2h); once that falls
    below the rounding error ``eps·|F|``, F can no longer tell better points from worse ones.
    A solver that stalls there with ``max |∇F| <= 10·sqrt(eps·max(|F|, 1))`` is as accurate as
    evaluating F in ``dtype`` allows, and we report it as converged (saying so in the message).
    """
    return 10.0 * math.sqrt(torch.finfo(dtype).eps * max(abs(objective_value), 1.0))


@dataclass
class SolverResult:
    """Outcome of a solver run.

    Attributes
    ----------
    coef : Tensor of shape ``(n_outputs, n_features + fit_intercept)``, intercept last.
    n_iter : iterations (Newton steps, L-BFGS iterations or epochs).
    converged : whether ``max |∇F| <= tol`` was reached.
    grad_max : final ``max |∇F|`` (the quantity ``tol`` bounds).
    objective : final ``F(coef)``.
    n_passes : passes over the data the solver asked for.
    history : per iteration ``{"objective": F, "grad_max": max |∇F|}`` (starting point first).
    message : why the solver stopped, in words.
    grad : gradient of the smooth objective at ``coef`` (proximal Newton; paths reuse it), or None.
    hessian : proximal Newton's last ``(index, Hessian block)``, which a path's next fit starts from.
    duality_gap : the duality gap at ``coef``, where the solver checked it (``gap_tol``), or None.
    proba : every chunk's class-major probabilities at ``coef`` from the solver's final pass, where
        it kept them (the duality gap's entropies then need no pass of their own), or None.
    """

    coef: Tensor
    n_iter: int
    converged: bool
    grad_max: float
    objective: float
    n_passes: int
    history: list[dict[str, float]] = field(default_factory=list)
    message: str = ""
    grad: Tensor | None = None  # the smooth part's final gradient, where the solver keeps it
    hessian: tuple | None = None  # (flat index, Hessian block) to warm-start a later solve with
    duality_gap: float | None = None  # the final duality gap, where the solver stopped on it
    proba: list[Tensor] | None = None  # the final pass's probabilities, chunk by chunk


@dataclass(frozen=True)
class StoppingRule:
    """When Newton and proximal Newton stop, and how they say why: the one convergence check.

    A solver stops as soon as its optimality measure (``measure``: max |∇F| or the KKT
    violation) is ``<= tol``, after ``max_iter`` steps, or when it stalls (no acceptable step:
    ``stall`` is then why). A stall at the rounding floor of F counts as converged.
    """

    tol: float
    max_iter: int
    measure: str = "max |gradient|"
    steps: str = "Newton steps"

    def should_stop(self, progress: float, n_iter: int, stall: str | None) -> bool:
        return progress <= self.tol or n_iter >= self.max_iter or stall is not None

    def outcome(
        self, progress: float, objective_value: float, dtype: torch.dtype, n_iter: int, stall: str | None,
    ) -> tuple[bool, str]:
        """``(converged, message)`` for a solver that stopped after ``n_iter`` steps."""
        if progress <= self.tol:
            return True, f"{self.measure} {progress:.3g} <= tol {self.tol:g} after {n_iter} {self.steps}"
        if stall is None:
            return False, f"reached max_iter={self.max_iter}"
        if progress <= rounding_floor(objective_value, dtype):
            return True, (f"stopped at the rounding floor of F after {n_iter} {self.steps}: "
                          f"{self.measure} {progress:.3g} is as {dtype} can certify")
        return False, stall


# A solver's iterate hook: called as ``on_iterate(iteration, coef)`` after each iteration, with the
# coefficients the solver returns if it stops there (its objective's layout and coordinates, intercept
# last); a true return value asks the solver to stop there (scikit-learn's callbacks' early stop).
IterateHook = Callable[[int, Tensor], bool | None]
# the message of a solver its iterate hook stopped
STOPPED_BY_HOOK = "stopped at the request of a callback"


@dataclass(frozen=True)
class SolverCallbacks:
    """A solver ``callback`` that also carries an iterate hook (:data:`IterateHook`).

    Called as a plain callback, ``(iteration, F, measure)``, it calls ``progress``; the solvers
    find ``on_iterate`` through :func:`iterate_hook`. Every solver's ``callback`` takes one.
    """

    progress: Callable[[int, float, float], None] | None = None
    on_iterate: IterateHook | None = None

    def __call__(self, iteration: int, objective_value: float, progress: float) -> None:
        if self.progress is not None:
            self.progress(iteration, objective_value, progress)


def iterate_hook(callback: Callable[[int, float, float], None] | None) -> IterateHook | None:
    """The iterate hook a solver's ``callback`` carries (a :class:`SolverCallbacks`), or None."""
    return callback.on_iterate if isinstance(callback, SolverCallbacks) else None


@dataclass
class Trace:
    """The solver's ``history`` (starting point first), the user's per-iteration callback, and
    the iterate hook (:data:`IterateHook`; by default the one ``callback`` carries), which may
    ask the solver to stop (``stopped``)."""

    callback: Callable[[int, float, float], None] | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    on_iterate: IterateHook | None = None
    stopped: str | None = None  # why the solver stops early, once its hook asked it to

    def __post_init__(self) -> None:
        if self.on_iterate is None:
            self.on_iterate = iterate_hook(self.callback)

    def start(self, objective_value: float, progress: float) -> None:
        """The starting point: history only, no callback."""
        self.history.append({"objective": objective_value, "grad_max": progress})

    def record(
        self, iteration: int, objective_value: float, progress: float,
        coef: Tensor | Callable[[], Tensor] | None = None,
    ) -> None:
        """An iteration's F and optimality measure; with ``coef``, its iterate too (:meth:`report`)."""
        self.history.append({"objective": objective_value, "grad_max": progress})
        if self.callback is not None:
            self.callback(iteration, objective_value, progress)
        if coef is not None:
            self.report(iteration, coef)

    def report(self, iteration: int, coef: Tensor | Callable[[], Tensor]) -> bool:
        """Hand the iterate to the hook; whether the solver should stop now.

        ``coef`` may be a function forming the iterate (a change of coordinates), called only
        when there is a hook. After a stop, nothing more is handed on.
        """
        if self.on_iterate is None or self.stopped is not None:
            return self.stopped is not None
        if self.on_iterate(iteration, coef() if callable(coef) else coef):
            self.stopped = STOPPED_BY_HOOK
        return self.stopped is not None
