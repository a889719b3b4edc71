"""Binomial L1 / elastic-net fits on sparse columns: proximal Newton with Hessian-free coordinate descent.

:func:`~torchlogit.solvers.prox_newton.prox_newton` forms a dense Hessian block over its working
set. On wide sparse data (text, one-hot codes) the support of a weak penalty holds thousands of
columns: the block then costs ``|A|²`` memory and every coordinate-descent sweep ``|A|²``
operations, where a sweep over the *columns* costs only their stored values. This solver does
that (newGLMNET, the scheme of liblinear's and glmnet's L1 solvers, and of skglm's ProxNewton):
each outer step forms the gradient and the diagonal curvature from the stored values, and
minimises the L1-penalised quadratic model coordinate by coordinate, keeping ``Xδ`` exact, so the
Hessian is never formed (:mod:`torchlogit.solvers._sparse_cd_kernel`, compiled by numba).

It serves binomial fits of sparse rows held in memory on the CPU (sources with
:meth:`~torchlogit.data.base.DataSource.stored_columns`); the answer is then certified like any
other: F, ∇F and the KKT violation over every column from one pass of the objective.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from torchlogit.core.objective import Objective
from torchlogit.core.penalties import L1Penalty
from torchlogit.solvers._result import SolverResult, StoppingRule, iterate_hook

# coordinate-descent sweeps per quadratic model, at most
_MAX_SWEEPS = 1000
# sparse rows this wide or narrower keep proximal Newton's dense Hessian blocks (at most 500² values),
# the rule of solver='auto' for Newton on sparse rows (estimators/_shared.py: SPARSE_NEWTON_MAX_PARAMS)
SPARSE_CD_MIN_FEATURES = 500


def sparse_cd_applies(objective: Objective) -> bool:
    """Whether :func:`sparse_cd` fits this objective: binomial, sparse rows in memory, on the CPU,
    and wider than ``SPARSE_CD_MIN_FEATURES`` (narrower, a dense Hessian block is cheap and the
    fit takes the same path as dense rows of the same data)."""
    return (objective.coef_shape[0] == 1 and objective.device.type == "cpu"
            and objective.source.n_features > SPARSE_CD_MIN_FEATURES
            and objective.source.stored_columns() is not None)


def sparse_cd(
    objective: Objective, coef0: Tensor, *, l1: L1Penalty, tol: float = 1e-8, max_iter: int = 100,
    callback: Callable[[int, float, float], None] | None = None,
) -> SolverResult:
    """Minimise ``objective + l1`` from ``coef0`` (module docstring); needs :func:`sparse_cd_applies`.

    Parameters
    ----------
    objective, coef0, l1, tol, max_iter : as for :func:`~torchlogit.solvers.prox_newton.prox_newton`
    callback : called once, as ``callback(n_iter, objective, kkt_violation)``, at the end (the
        compiled loop reports nothing on the way); so is its iterate hook
        (:class:`~torchlogit.solvers._result.SolverCallbacks`), with the final point

    Returns
    -------
    SolverResult
        ``grad_max`` is the KKT violation from the objective's own final pass.
    """
    from torchlogit.solvers._sparse_cd_kernel import prox_newton_cd

    X, y, weights = objective.source.stored_columns()
    d, fit_intercept = X.shape[1], objective.fit_intercept
    start = coef0.detach().cpu().to(torch.float64).numpy()[0]
    coef = start[:d].copy()  # the kernel moves it in place
    intercept = float(start[d]) if fit_intercept else 0.0
    lam1 = _strengths(l1.strength, d)
    lam2 = np.zeros(d) if objective.l2 is None else _strengths(objective.l2.strength, d)
    margins = X @ coef + intercept
    passes_before = objective.n_passes
    f_start, grad_start = objective.value_grad(coef0)
    kkt_start = float(l1.min_norm_subgradient(coef0, grad_start).abs().max())
    intercept, n_iter, _, _, stalled = prox_newton_cd(
        X.indptr, X.indices, X.data, y.astype(np.float64), weights / objective.weight_sum, lam1, lam2,
        coef, intercept, margins, fit_intercept, tol, max_iter, _MAX_SWEEPS)
    fitted = np.r_[coef, [intercept]] if fit_intercept else coef
    point = torch.as_tensor(fitted, dtype=objective.dtype, device=objective.device)[None].contiguous()
    f_smooth, grad, proba = objective.value_grad_proba(point)  # the gap's entropies come from proba
    kkt = float(l1.min_norm_subgradient(point, grad).abs().max())
    f = f_smooth + float(l1.value(point))
    rule = StoppingRule(tol, max_iter, "KKT violation", "proximal Newton steps")
    converged, message = rule.outcome(kkt, f, objective.dtype, n_iter,
                                      "the line search found no decrease" if stalled else None)
    if callback is not None:
        callback(n_iter, f, kkt)
    if (on_iterate := iterate_hook(callback)) is not None:
        on_iterate(n_iter, point)
    return SolverResult(
        coef=point, n_iter=n_iter, converged=converged, grad_max=kkt, objective=f,
        # one pass of the data per Newton step (its gradient and curvature), plus the two checks
        n_passes=objective.n_passes - passes_before + n_iter,
        history=[{"objective": f_start + float(l1.value(coef0)), "grad_max": kkt_start},
                 {"objective": f, "grad_max": kkt}],
        message=message, grad=grad, proba=proba,
    )


def _strengths(strength: Tensor, d: int) -> np.ndarray:
    return np.ascontiguousarray(strength[:d].detach().cpu().to(torch.float64).numpy())
