"""Newton/IRLS: analytic gradient and Hessian, Cholesky solve, backtracking line search.

Stopping rule (what ``tol`` means): stop when ``max |∇F(coef)| <= tol``, with F the mean objective
of :mod:`torchlogit.core.objective`. Near the optimum Newton converges quadratically, so one more
iteration takes the gradient from ``1e-4`` to rounding level; each iteration is one pass over the
data (loss, gradient and Hessian are formed together).

The multinomial model keeps one coefficient row per class, so shifting a column by the same amount
in every class leaves F unchanged wherever that column is unpenalised (always the intercept). The
Hessian is singular along those shifts; we add a *gauge* term ``μ 𝟙𝟙ᵀ`` on them, which only fixes
the free direction: starting from zero the iterates stay centred (Σ_k W_kj = 0), the convention
scikit-learn's solvers end in too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch
from torch import Tensor

from torchlogit._threads import single_thread_if_small
from torchlogit.core.objective import FeatureScaleError, Objective, all_finite
from torchlogit.solvers._linesearch import LINE_SEARCH_FAILED, Trial, backtrack
from torchlogit.solvers._result import SolverResult, StoppingRule, Trace, rounding_floor
from torchlogit.solvers.stochastic import SnapshotHooks

# with a separate low-precision Hessian, keep it once a full step shrinks max |∇F| at least 100-fold
_REUSE_RATIO = 0.01
# why Newton stops when a step at the rounding floor of F no longer halves max |∇F|
NO_PROGRESS_AT_ROUNDING = "Newton steps no longer reduce max |gradient| at the rounding level of F"
# with fused passes (F, ∇F and Hessian together), skip forming the next Hessian after a full step
# that shrank max |∇F| at least 20-fold: Newton is then in its quadratic phase
_FUSED_REUSE_RATIO = 0.05
# a step with a sampled Hessian that is damped or shrinks max |∇F| less than this: back to all rows
_SAMPLED_HESSIAN_MAX_SHRINK = 0.5
# the float32 phase of mixed-precision Newton stops once max |∇F| has dropped by this factor
_LOW_PRECISION_REDUCTION = 1e-4


def _gauge_pattern(objective: Objective) -> Tensor | None:
    """``𝟙𝟙ᵀ ⊗ diag(free)`` over the multinomial model's unpenalised columns, else None.

    It depends on the objective alone, so a phase forms it once (:attr:`_Phase.gauge_pattern`);
    each step scales it by its Hessian's mean diagonal (:func:`_gauged`)."""
    free = _free_columns(objective)
    if free is None:
        return None
    n_outputs = objective.coef_shape[0]
    ones = torch.ones(n_outputs, n_outputs, dtype=objective.dtype, device=objective.device)
    return torch.kron(ones, torch.diag(free.to(objective.dtype)))


def _free_columns(objective: Objective) -> Tensor | None:
    """The multinomial model's unpenalised columns (bool, one per column), where a shift common to
    every class leaves F unchanged; None for the binomial model or without such a column."""
    n_outputs, n_cols = objective.coef_shape
    if n_outputs == 1:
        return None
    if objective.l2 is None:
        free = torch.ones(n_cols, dtype=torch.bool, device=objective.device)
    else:
        free = objective.l2.strength == 0
    return free if bool(free.any()) else None


def _recentred(objective: Objective, coef: Tensor) -> Tensor:
    """``coef`` with each unpenalised column of a multinomial model shifted to sum to zero over the
    classes: the gauge Newton's iterates keep (module docstring), which float32 steps hold only to
    float32 rounding (a common shift of ~1e-7 in the intercepts). F does not change."""
    free = _free_columns(objective)
    if free is None:
        return coef
    centred = coef.clone()
    centred[:, free] -= coef[:, free].mean(0)
    return centred


def _gauged(hess: Tensor, pattern: Tensor | None) -> Tensor:
    """``hess + μ pattern``, μ the mean of the Hessian's diagonal (``hess`` itself without a pattern)."""
    if pattern is None:
        return hess
    mu = max(float(hess.diagonal().mean()), torch.finfo(hess.dtype).tiny)
    return torch.add(hess, pattern, alpha=mu)


def newton_direction(hess: Tensor, grad: Tensor) -> Tensor:
    """Solve ``hess · d = -grad`` by Cholesky, falling back to an eigen-pseudo-inverse.

    Raises
    ------
    ValueError
        If the Hessian is not finite or cannot be decomposed (never torch's LinAlgError).
    """
    if not all_finite(hess):
        raise ValueError("Newton's Hessian is not finite: the features are too large for the dtype; "
                         "rescale them, e.g. standardise the features")
    with single_thread_if_small(hess.shape[0] ** 3):
        return _solve(hess, grad)


def _solve(hess: Tensor, grad: Tensor) -> Tensor:
    rhs = -grad.reshape(-1, 1)
    factor, info = torch.linalg.cholesky_ex(hess)
    if int(info) == 0:  # L Lᵀ d = rhs as two triangular solves: cholesky_solve's, without its copies
        half = torch.linalg.solve_triangular(factor, rhs, upper=False)
        return torch.linalg.solve_triangular(factor.mT, half, upper=True).reshape(grad.shape)
    # singular or indefinite by rounding (collinear columns, no penalty): least-norm step
    try:
        evals, evecs = torch.linalg.eigh(hess)
    except torch.linalg.LinAlgError as exc:
        raise ValueError(f"Newton could not solve for its step: the Hessian's eigendecomposition failed "
                         f"({exc}); the features are too badly scaled: standardise them") from exc
    cutoff = evals.abs().max() * hess.shape[0] * torch.finfo(hess.dtype).eps
    inv = torch.where(evals > cutoff, 1.0 / evals, torch.zeros_like(evals))
    return (evecs @ (inv[:, None] * (evecs.T @ rhs))).reshape(grad.shape)


def newton(
    objective: Objective, coef0: Tensor, *, tol: float = 1e-8, max_iter: int = 100,
    callback: Callable[[int, float, float], None] | None = None,
    hessian_objective: Objective | None = None, hessian_rows: int | None = None,
    snapshots: SnapshotHooks | None = None,
) -> SolverResult:
    """Minimise ``objective`` from ``coef0`` with damped Newton steps.

    Parameters
    ----------
    objective : Objective
    coef0 : Tensor, starting coefficients (shape ``objective.coef_shape``)
    tol : stop when ``max |∇F| <= tol``
    max_iter : most Newton steps (both phases together, see below)
    callback : called as ``callback(iteration, F, max |∇F|)`` after each step; its iterate hook
        (:class:`~torchlogit.solvers._result.SolverCallbacks`), if any, too, and may stop Newton there
    hessian_objective : the same objective over a float32 copy of the data. When given, Newton
        runs in two phases (mixed-precision iterative refinement): first entirely in float32,
        where passes and Hessians are cheaper, until ``max |∇F|`` has dropped by
        ``_LOW_PRECISION_REDUCTION``; then in full precision for F and ∇F with float32 Hessians,
        recomputed only while a step shrinks ``max |∇F|`` less than ``_REUSE_RATIO``-fold.
        The optimum is exactly the full-precision one. Where float32 cannot hold the sums at the
        start (features too large for it), Newton runs in full precision throughout.
    hessian_rows : form Hessians from about this many rows (evenly spaced blocks,
        :meth:`~torchlogit.core.objective.Objective.hessian_stride_for`) instead of all of them;
        after a step that needs damping or shrinks ``max |∇F|`` less than
        ``_SAMPLED_HESSIAN_MAX_SHRINK``-fold, Newton goes back to all rows. None: all rows.

    Returns
    -------
    SolverResult
    """
    hessians = hessian_objective or objective
    stride = 1 if hessian_rows is None else hessians.hessian_stride_for(hessian_rows)
    passes_before = _passes(objective, hessian_objective)
    trace = Trace(callback)
    rule = StoppingRule(tol, max_iter)
    snapshots = snapshots or SnapshotHooks()
    saved = snapshots.state  # resume exactly where a checkpoint's snapshot was taken
    state = None
    if saved is not None and saved["phase"] == "full":
        state = _restored(saved)
        hessians = objective if saved["fused"] else hessians
        trace.start(state.f, state.grad_max)
    elif hessian_objective is not None:
        state = _low_precision_phase(objective, hessian_objective, coef0, rule, stride, trace,
                                     saved, snapshots.on_state)
    if state is None:  # no float32 phase, or float32 cannot hold the data's sums: full precision
        hessians = objective
        state = _first_pass(objective, coef0.clone(), stride)
        trace.start(state.f, state.grad_max)
    start = 0 if saved is None else saved["iteration"]
    _iterate(_Phase(objective, hessians, rule), state, trace, snapshots.on_state)
    converged, message = rule.outcome(state.grad_max, state.f, state.coef.dtype, state.n_iter,
                                      state.stall or trace.stopped)
    return SolverResult(
        coef=state.coef, n_iter=state.n_iter - start, converged=converged, grad_max=state.grad_max,
        objective=state.f, n_passes=_passes(objective, hessian_objective) - passes_before,
        history=trace.history, message=message,
    )


@dataclass
class _NewtonState:
    """What Newton carries from one step to the next."""

    coef: Tensor
    f: float
    grad: Tensor
    grad_max: float
    hess: Tensor
    hessian_stride: int = 1  # Hessians from every this-many-th block of rows (1: all rows)
    keep_hessian: bool = False  # the next full step's pass may skip forming a Hessian
    formed_hess: Tensor | None = None  # the Hessian this step's line search formed (at its full step)
    n_iter: int = 0  # Newton steps taken, both phases together
    stall: str | None = None  # why no step was acceptable, once none was


@dataclass(frozen=True)
class _Phase:
    """Where one phase takes F and ∇F (``objective``) and its Hessians (``hessians``), and when it stops."""

    objective: Objective
    hessians: Objective
    rule: StoppingRule
    name: str = "full"  # "low": the float32 phase of mixed precision

    @cached_property
    def gauge_pattern(self) -> Tensor | None:
        """The multinomial gauge's fixed pattern (:func:`_gauge_pattern`), formed once per phase."""
        return _gauge_pattern(self.objective)

    @property
    def fused(self) -> bool:
        """Whether one pass can give F, ∇F and the Hessian together (the same objective forms all)."""
        return self.hessians is self.objective


def _passes(objective: Objective, hessian_objective: Objective | None) -> int:
    return objective.n_passes + (0 if hessian_objective is None else hessian_objective.n_passes)


def _first_pass(objective: Objective, coef: Tensor, stride: int) -> _NewtonState:
    """F, ∇F and the Hessian at the starting point (one pass)."""
    f, grad, hess = objective.value_grad_hess(coef, hessian_stride=stride)
    return _NewtonState(coef=coef, f=f, grad=grad, grad_max=float(grad.abs().max()), hess=hess,
                        hessian_stride=stride)


def _low_precision_phase(
    objective: Objective, low: Objective, coef0: Tensor, rule: StoppingRule, stride: int, trace: Trace,
    saved: dict[str, Any] | None = None, on_state: Callable[[dict[str, Any]], None] | None = None,
) -> _NewtonState | None:
    """Phase one of mixed precision: Newton entirely on ``low`` (float32) until ``max |∇F|`` has
    dropped by ``_LOW_PRECISION_REDUCTION``; returns phase two's start, F and ∇F in full precision
    and the float32 phase's last Hessian. None when float32 cannot hold the start's sums (features
    too large for float32, though not for the objective's own dtype): no float32 phase then."""
    if saved is not None:  # resumed within this phase: its state and its own target
        state, target = _restored(saved), saved["target"]
    else:
        try:
            state = _first_pass(low, coef0.clone().to(low.dtype), stride)
        except FeatureScaleError:
            return None
        if not (math.isfinite(state.f) and math.isfinite(state.grad_max)
                and all_finite(state.hess)):
            return None
        target = max(rule.tol, _LOW_PRECISION_REDUCTION * state.grad_max)
    trace.start(state.f, state.grad_max)
    _iterate(_Phase(low, low, StoppingRule(target, rule.max_iter), "low"), state, trace, on_state)
    coef = _recentred(objective, state.coef.to(coef0.dtype))
    f, grad = objective.value_grad(coef)
    return _NewtonState(coef=coef, f=f, grad=grad, grad_max=float(grad.abs().max()),
                        hess=state.hess.to(coef0.dtype), hessian_stride=state.hessian_stride,
                        n_iter=state.n_iter)


def _snapshot(phase: _Phase, state: _NewtonState) -> dict[str, Any]:
    """Everything the next step depends on (Checkpoint.solver_hooks): a resumed fit retraces this one."""
    return {"coef": state.coef, "iteration": state.n_iter, "objective": state.f, "grad_max": state.grad_max,
            "phase": phase.name, "target": phase.rule.tol, "fused": phase.fused, "grad": state.grad,
            "hess": state.hess, "hessian_stride": state.hessian_stride, "keep_hessian": state.keep_hessian}


def _restored(saved: dict[str, Any]) -> _NewtonState:
    """The state a snapshot of :func:`_snapshot` describes."""
    return _NewtonState(coef=saved["coef"].clone(), f=saved["objective"], grad=saved["grad"],
                        grad_max=saved["grad_max"], hess=saved["hess"],
                        hessian_stride=saved["hessian_stride"], keep_hessian=saved["keep_hessian"],
                        n_iter=saved["iteration"])


def _iterate(phase: _Phase, state: _NewtonState, trace: Trace,
             on_state: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Damped Newton steps on ``state`` until the phase's stopping rule holds."""
    while not phase.rule.should_stop(state.grad_max, state.n_iter, state.stall or trace.stopped):
        # 1. the Newton direction from the current Hessian
        direction, slope = _direction(phase, state)
        # 2. backtracking along it, each trial one pass (a full step's usually forms the next Hessian)
        trial = backtrack(state.coef, direction, state.f, slope, state.grad_max,
                          lambda point, step: _evaluate(phase, state, point, step),
                          n_terms=phase.objective.n_rows)
        if trial is None:
            state.stall = LINE_SEARCH_FAILED
            continue
        # 3. move there and settle the Hessian for the next step
        previous = state.grad_max
        _accept(phase, state, trial)
        if state.grad_max > previous / 2 and state.grad_max <= rounding_floor(state.f, phase.objective.dtype):
            state.stall = NO_PROGRESS_AT_ROUNDING  # a tol below F's rounding level: no step can help
        if on_state is not None:  # before the callback: a callback that kills finds it saved
            on_state(_snapshot(phase, state))
        trace.record(state.n_iter, state.f, state.grad_max, state.coef)


def _direction(phase: _Phase, state: _NewtonState) -> tuple[Tensor, float]:
    """The (gauged) Newton direction and its slope ∇Fᵀd; the steepest descent one if that is no descent."""
    direction = newton_direction(_gauged(state.hess, phase.gauge_pattern), state.grad)
    slope = float(torch.sum(state.grad * direction))
    if not slope < 0:  # not a descent direction (numerical trouble): fall back to the gradient
        direction = -state.grad
        slope = -float(torch.sum(state.grad * state.grad))
    return direction, slope


def _evaluate(phase: _Phase, state: _NewtonState, point: Tensor, step: float) -> tuple[float, float, Tensor]:
    """F, max |∇F| and ∇F at a trial point, in one pass. A full step's pass usually forms the next
    Hessian too (fused, into ``state.formed_hess``), unless the current one is being kept; that
    Hessian serves even if a shorter step is accepted: formed nearby, it saves a pass."""
    if step == 1.0 and phase.fused and not state.keep_hessian:
        stride = state.hessian_stride
        f, grad, state.formed_hess = phase.objective.value_grad_hess(point, hessian_stride=stride)
    else:
        f, grad = phase.objective.value_grad(point)
    return f, float(grad.abs().max()), grad


def _accept(phase: _Phase, state: _NewtonState, trial: Trial) -> None:
    """Move to the accepted point and settle the Hessian for the next step.

    A sampled Hessian that made this step need damping or shrink max |∇F| less than
    ``_SAMPLED_HESSIAN_MAX_SHRINK``-fold misled it: all rows from now on. In the quadratic phase
    (a full step shrinking max |∇F| ``_FUSED_REUSE_RATIO``-fold, or ``_REUSE_RATIO``-fold with a
    separate low-precision Hessian) a one-step-old Hessian is as good and is kept.
    """
    hess_new, state.formed_hess = state.formed_hess, None
    shrink = trial.progress / state.grad_max if state.grad_max > 0 else 0.0
    state.n_iter += 1
    state.coef, state.f, state.grad, state.grad_max = trial.point, trial.f, trial.evaluation, trial.progress
    reuse_ratio = _FUSED_REUSE_RATIO if phase.fused else _REUSE_RATIO
    lazy_ok = trial.step == 1.0 and shrink <= reuse_ratio
    if state.hessian_stride > 1 and (trial.step < 1.0 or shrink > _SAMPLED_HESSIAN_MAX_SHRINK):
        state.hessian_stride = 1
        hess_new = None
    if hess_new is not None:
        state.hess = hess_new
    elif state.grad_max > phase.rule.tol and not (lazy_ok and (state.keep_hessian or not phase.fused)):
        state.hess = _hessian_at(phase.hessians, state)
    state.keep_hessian = phase.fused and lazy_ok


def _hessian_at(hessians: Objective, state: _NewtonState) -> Tensor:
    """The Hessian alone at ``state.coef``, from a pass of ``hessians`` (formed in its dtype,
    returned in the iterate's)."""
    _, _, hess = hessians.value_grad_hess(state.coef.to(hessians.dtype), hessian_stride=state.hessian_stride)
    return hess.to(state.coef.dtype)
