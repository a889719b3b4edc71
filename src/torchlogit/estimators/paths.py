"""Regularisation paths: one penalised fit per C, from strong to weak penalty, with warm starts.

Each fit starts from the previous solution. With an L1 term it works on a narrow copy of the
columns that matter (:mod:`torchlogit.solvers.working_set`): the non-zero ones and the
*sequential strong rule* set (Tibshirani et al. 2012: zero coefficients with ``|∂F/∂W_j| ≥
2λ₁(new) − λ₁(old)``); one pass over all columns then certifies the KKT conditions everywhere,
so every fit is still the exact optimum of the full problem.

Examples
--------
>>> import torchlogit
>>> result = torchlogit.path(X, y, Cs=20, l1_ratio=1.0)  # doctest: +SKIP
>>> result.Cs, result.n_nonzero  # doctest: +SKIP
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_consistent_length

from torchlogit._exceptions import ConvergenceWarning
from torchlogit._sklearn import check_sample_weight
from torchlogit._threads import single_thread_if_small
from torchlogit._validation import encode_labels, plain, resolve_device, resolve_dtype, tensor_to_numpy
from torchlogit.core.objective import Objective
from torchlogit.core.penalties import elastic_net
from torchlogit.estimators._shared import (
    check_finite_result,
    check_tol,
    checked_weight_sum,
    make_source,
    pass_work,
    penalty_factor_tensor,
    sparse_rows,
)
from torchlogit.estimators.logistic import select_solver
from torchlogit.solvers import SolverResult, lbfgs, newton, newton_cg, prox_newton
from torchlogit.solvers.working_set import PathHint, working_set_prox_newton

# Cs=int: the grid spans this many decades above the smallest C with a non-zero coefficient
# (glmnet's lambda.min.ratio = 1e-3), or scikit-learn's 1e-4 .. 1e4 for a pure ridge path.
PATH_DECADES = 3.0


@dataclass
class RegularizationPath:
    """Coefficients along a path of C values (ascending: from the strongest penalty).

    Attributes
    ----------
    Cs : array of shape (n_Cs,), ascending
    coefs : array of shape (n_Cs, n_outputs, n_features)
    intercepts : array of shape (n_Cs, n_outputs)
    n_nonzero : array of shape (n_Cs,), non-zero entries of each ``coefs[i]``
    objectives : array of shape (n_Cs,), the penalised objective F (mean loss + penalty) at each C
    n_iter, converged : per C, the solver's iterations and whether it met ``tol``
    classes : the class labels (``n_outputs`` is 1 for two classes)
    l1_ratio : the elastic-net mixing of the path
    n_passes : passes over the data for the whole path
    """

    Cs: np.ndarray
    coefs: np.ndarray
    intercepts: np.ndarray
    n_nonzero: np.ndarray
    objectives: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    classes: np.ndarray
    l1_ratio: float
    n_passes: int = 0
    results: list[SolverResult] = field(default_factory=list, repr=False)


def path(  # noqa: PLR0913  the documented keyword API, as glmnet's
    X: Any, y: Any, *, Cs: int | Sequence[float] = 20, l1_ratio: float = 1.0, sample_weight: Any = None,
    fit_intercept: bool = True, penalty_factor: Any = None, tol: float = 1e-8, max_iter: int = 100,
    dtype: str = "float64", device: str = "cpu",
) -> RegularizationPath:
    """Fit penalised logistic regressions for a sequence of C values, with warm starts.

    Parameters
    ----------
    X : array-like or scipy CSR matrix of shape (n_samples, n_features)
    y : array-like of shape (n_samples,), class labels (2 or more classes)
    Cs : int or sequence of float
        The C values (fitted in ascending order, i.e. decreasing penalty), or how many: a
        log-spaced grid from the smallest C at which a coefficient leaves zero, over
        ``PATH_DECADES`` decades (for ``l1_ratio=0``: scikit-learn's ``logspace(-4, 4)``).
    l1_ratio : float in [0, 1], default=1.0
        Elastic-net mixing: 1 is the lasso, 0 the ridge (scikit-learn's convention).
    sample_weight, fit_intercept, penalty_factor, tol, max_iter, dtype, device :
        as for :class:`~torchlogit.LogisticRegression`.

    Returns
    -------
    RegularizationPath

    Raises
    ------
    ValueError
        For a bad parameter or data (weights that overflow, features too large for ``dtype``), and
        when a fit along the path ends with non-finite coefficients.
    """
    _check_path_params(l1_ratio, tol, max_iter)
    torch_dtype, torch_device = resolve_dtype(dtype), resolve_device(device)
    X = check_array(tensor_to_numpy(X), accept_sparse="csr", dtype=[np.float64, np.float32])
    y = np.asarray(tensor_to_numpy(y))
    check_consistent_length(X, y)
    check_classification_targets(y)
    classes, y_index = encode_labels(y)
    if len(classes) < 2:
        raise ValueError(f"a path needs at least 2 classes in y, got {len(classes)}")
    source = make_source(X, y_index, _weights(sample_weight, X, torch_dtype), torch_dtype, torch_device)
    n_outputs = 1 if len(classes) == 2 else len(classes)
    objective = Objective(source, n_outputs=n_outputs, fit_intercept=fit_intercept, l2=None,
                          dtype=torch_dtype, device=torch_device)
    factor = penalty_factor_tensor(penalty_factor, X.shape[1], torch_dtype, torch_device)
    grid = c_grid(objective, Cs, l1_ratio, factor) if isinstance(Cs, int) else _checked_grid(Cs)
    results = fit_path(objective, grid, l1_ratio=l1_ratio, penalty_factor=factor, tol=tol,
                       max_iter=max_iter)
    coefs = np.stack([r.coef.detach().cpu().numpy() for r in results])
    n_features = X.shape[1]
    return RegularizationPath(
        Cs=grid, coefs=coefs[:, :, :n_features].copy(),
        intercepts=coefs[:, :, n_features].copy() if fit_intercept else np.zeros(coefs.shape[:2]),
        n_nonzero=(coefs[:, :, :n_features] != 0).sum(axis=(1, 2)),
        objectives=np.array([r.objective for r in results]),
        n_iter=np.array([r.n_iter for r in results]),
        converged=np.array([r.converged for r in results]),
        classes=classes, l1_ratio=float(l1_ratio), n_passes=sum(r.n_passes for r in results),
        results=results,
    )


def _weights(sample_weight: Any, X: Any, dtype: torch.dtype) -> np.ndarray:
    """The checked row weights (their sum must not overflow), as the fit's numpy dtype."""
    weights = check_sample_weight(tensor_to_numpy(sample_weight), X)
    checked_weight_sum(weights, dtype)
    return weights.astype(np.float64 if dtype == torch.float64 else np.float32)


def _check_path_params(l1_ratio: Any, tol: Any, max_iter: Any) -> None:
    if isinstance(l1_ratio, bool) or not isinstance(l1_ratio, numbers.Real) or not 0 <= l1_ratio <= 1:
        raise ValueError(f"l1_ratio must be in [0, 1], got {plain(l1_ratio)!r}")
    check_tol(tol)
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 0:
        raise ValueError(f"max_iter must be a non-negative integer, got {plain(max_iter)!r}")


def fit_path(
    objective: Objective, Cs: np.ndarray, *, l1_ratio: float, penalty_factor: torch.Tensor | None = None,
    tol: float = 1e-8, max_iter: int = 100, coef0: torch.Tensor | None = None,
) -> list[SolverResult]:
    """The path on an :class:`~torchlogit.core.objective.Objective`: one solver result per C (ascending).

    Each C is fitted on ``objective.with_l2(...)`` (``objective`` itself is left unchanged);
    ``C`` is scikit-learn's, so the strengths are ``1/(C·Σsᵢ)`` split by ``l1_ratio``. A fit that
    ends with non-finite coefficients raises ValueError (naming the solver and C).
    """
    import warnings

    n_outputs, n_cols = objective.coef_shape
    n_features = n_cols - int(objective.fit_intercept)
    coef = objective.zeros() if coef0 is None else coef0.clone()
    results: list[SolverResult] = []
    previous_l1: torch.Tensor | None = None
    grad: torch.Tensor | None = None
    smooth: float | None = None  # the smooth part's value at ``coef``, with ``grad``
    hint = PathHint()  # the working set's columns, kept along the path, and the next fit's guesses
    with single_thread_if_small(pass_work(objective)):  # the set-up and checks between fits too
        for C in np.sort(np.asarray(Cs, dtype=np.float64)):
            alpha = 1.0 / (C * objective.weight_sum)
            l2, l1 = elastic_net(alpha, l1_ratio, n_features, objective.fit_intercept, penalty_factor,
                                 dtype=objective.dtype, device=objective.device)
            at_c = objective.with_l2(l2)
            if l1 is not None:
                guess = coef != 0
                if grad is not None and previous_l1 is not None:  # sequential strong rule
                    guess |= grad.abs() >= 2 * l1.strength - previous_l1
                solver = "prox_newton"
                # pure L1: the smooth part is the same at every C, so the last fit's F and ∇F hold
                hint.working_set, hint.grad = guess, grad
                hint.value = smooth if at_c.l2 is None else None
                result = working_set_prox_newton(at_c, coef, l1=l1, tol=tol, max_iter=max_iter, hint=hint)
                previous_l1, grad = l1.strength, result.grad
                smooth = result.objective - float(l1.value(result.coef))
            else:
                solver = select_solver("auto", n_outputs * n_cols, n_rows=objective.n_rows,
                                       n_outputs=n_outputs, sparse=sparse_rows(objective))
                run = {"newton": newton, "newton_cg": newton_cg}.get(solver, lbfgs)
                result = run(at_c, coef, tol=tol, max_iter=max_iter)
            check_finite_result(result, solver, f" at C={C:.6g}")
            if not result.converged:
                warnings.warn(f"the path's fit at C={C:.6g} did not converge: {result.message}",
                              ConvergenceWarning, stacklevel=3)
            result.proba = None  # n values per fit, kept for a duality gap the path does not report
            results.append(result)
            coef = result.coef
    return results


def c_grid(
    objective: Objective, n_Cs: int, l1_ratio: float, penalty_factor: torch.Tensor | None,
) -> np.ndarray:
    """``n_Cs`` log-spaced values of C, from the smallest with a non-zero penalised coefficient."""
    if n_Cs < 1:
        raise ValueError(f"Cs must be a positive integer or a sequence of C values, got {n_Cs}")
    if l1_ratio == 0:
        return np.logspace(-4, 4, n_Cs)
    # just below the threshold, so that rounding cannot let a coefficient in at the first C
    start = smallest_c(objective, l1_ratio, penalty_factor) * (1 - 1e-6)
    return start * np.logspace(0, PATH_DECADES, n_Cs)


def smallest_c(objective: Objective, l1_ratio: float, penalty_factor: torch.Tensor | None) -> float:
    """The C below which every penalised coefficient is zero (the lasso's ``λ_max``, as C).

    The unpenalised coefficients (intercept, features with factor 0) are fitted first; then a
    penalised coefficient is zero while ``|∂F/∂W_kj| ≤ l1_ratio·factor_j/(C·Σsᵢ)``.
    """
    n_features = objective.coef_shape[1] - int(objective.fit_intercept)
    # the null model: an infinite L1 strength on the penalised columns keeps them at zero
    _, l1 = elastic_net(1.0, 1.0, n_features, objective.fit_intercept, penalty_factor,
                        dtype=objective.dtype, device=objective.device)
    unpenalised = objective.with_l2(None)
    huge = type(l1)(torch.where(l1.strength > 0, torch.full_like(l1.strength, 1e300), l1.strength))
    null = prox_newton(unpenalised, objective.zeros(), l1=huge, tol=1e-10)
    _, grad = unpenalised.value_grad(null.coef)
    factor = l1.strength  # penalty_factor per column, 0 for unpenalised ones
    penalised = factor > 0
    ratio = (grad.abs() / torch.where(penalised, factor, torch.ones_like(factor)))[:, penalised]
    top = float(ratio.max()) if ratio.numel() else 0.0
    if not top > 0:
        raise ValueError("every penalised coefficient is zero for any C: no path to fit")
    return l1_ratio / (objective.weight_sum * top)


def _checked_grid(Cs: Sequence[float]) -> np.ndarray:
    grid = np.sort(np.asarray(Cs, dtype=np.float64).ravel())
    if grid.size == 0 or not (np.isfinite(grid).all() and (grid > 0).all()):
        raise ValueError(f"Cs must be positive finite numbers, got {Cs!r}")
    return grid
