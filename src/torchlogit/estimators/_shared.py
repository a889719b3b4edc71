"""Pieces every estimator needs once: in-memory sources, checked weights, penalty factors and
results, the coefficient layout.

Solvers work on one coefficient matrix of shape ``(n_outputs, n_features + fit_intercept)``, the
intercept in the last column (:mod:`torchlogit.core.objective`); scikit-learn's estimators store it
as ``coef_`` ``(n_outputs, n_features)`` and ``intercept_`` ``(n_outputs,)``. The two functions at
the bottom convert between the layouts, so no estimator slices the matrix by hand.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from torchlogit._validation import dense_rows_per_chunk, plain, to_torch
from torchlogit.core.objective import Objective, columns_too_large
from torchlogit.data import DataSource, InMemorySource, SparseRowsSource
from torchlogit.solvers import SolverResult


def make_source(
    X: Any, y_index: np.ndarray, weights: np.ndarray, dtype: torch.dtype, device: torch.device,
    feature_names: Sequence[str] | None = None, *, cache_sized: bool = True,
) -> DataSource:
    """In-memory tensors for dense ``X``; bounded dense chunks of a CSR matrix for sparse ``X``.

    Dense rows are served in cache-sized chunks (:class:`~torchlogit.data.InMemorySource`), or as
    one chunk with ``cache_sized=False``: what 'sgd' and 'adam' need, which step once per chunk and
    shuffle within it (full batches, ``batch_size=None``, must be every row).

    Raises
    ------
    ValueError
        If ``X`` holds values beyond the range of ``dtype`` (float64 data fitted in float32),
        naming the columns (``feature_names``, default ``x1..xd``).
    """
    _check_range(X, dtype, feature_names)
    if sp.issparse(X):
        return SparseRowsSource(X, y_index, weights, chunk_rows=dense_rows_per_chunk(X.shape[1]),
                                dtype=dtype, device=device)
    return InMemorySource(to_torch(X, dtype, device), torch.from_numpy(y_index.astype(np.int64)).to(device),
                          torch.from_numpy(weights).to(device=device, dtype=dtype), cache_sized=cache_sized)


def _check_range(X: Any, dtype: torch.dtype, feature_names: Sequence[str] | None) -> None:
    """Refuse values that would become ±inf when ``X`` is cast to a narrower ``dtype``."""
    values = X.data if sp.issparse(X) else X
    limit = torch.finfo(dtype).max
    if values.dtype.itemsize <= torch.finfo(dtype).bits // 8 or not values.size:
        return  # no narrowing cast: the values are already finite in dtype
    if max(float(values.max()), -float(values.min())) <= limit:  # no |X| copy on the way
        return
    column_max = (abs(X).max(axis=0).toarray().ravel() if sp.issparse(X) else np.abs(X).max(axis=0))
    columns = np.flatnonzero(column_max > limit)
    names = list(feature_names) if feature_names is not None else [f"x{j + 1}" for j in range(X.shape[1])]
    raise ValueError(columns_too_large([names[j] for j in columns], dtype))


def checked_weight_sum(weights: np.ndarray, dtype: torch.dtype, what: str = "sample_weight") -> float:
    """The sum of the (validated, non-negative) row weights, refusing weights too large for ``dtype``.

    ``what`` names the weights in the message (``"sample_weight times class_weight"``). The sum
    is formed in float64 without numpy's overflow warning, so the error is the only report.

    Raises
    ------
    ValueError
        If a weight exceeds ``dtype``'s range or the sum overflows.
    """
    dtype_name = str(dtype).removeprefix("torch.")
    with np.errstate(over="ignore"):
        total = float(np.sum(weights, dtype=np.float64))
    largest = float(np.max(weights)) if weights.size else 0.0
    if largest > torch.finfo(dtype).max:
        raise ValueError(f"{what} holds values too large for {dtype_name} (up to {largest:g}); divide the "
                         "weights by a common factor")
    if not math.isfinite(total) or total > torch.finfo(dtype).max:
        raise ValueError(f"{what} is too large: its sum overflows {dtype_name}; divide the weights by a "
                         "common factor")
    return total


def check_tol(tol: Any, name: str = "tol") -> None:
    """``tol`` must be a non-negative finite number (a NaN would stop no solver, inf every one at once)."""
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not (0 <= tol < math.inf):
        raise ValueError(f"{name} must be a non-negative finite number, got {plain(tol)!r}")


def check_finite_result(result: SolverResult, solver: str, where: str = "") -> None:
    """A fit that ends with non-finite coefficients or objective is an error, not a model.

    ``where`` says which fit of several (``" at C=0.1"``).

    Raises
    ------
    ValueError
        Naming the solver and what to try.
    """
    if bool(torch.isfinite(result.coef).all()) and math.isfinite(result.objective):
        return
    advice = ("use a smaller learning_rate, or standardise the features" if solver in ("sgd", "adam")
              else "standardise the features, or add a penalty (a finite C)")
    raise ValueError(f"solver {solver!r}{where} ended with non-finite coefficients or objective "
                     f"(F = {result.objective:g}); to fix: {advice}")


def penalty_factor_tensor(
    penalty_factor: Any, n_features: int, dtype: torch.dtype, device: torch.device,
) -> torch.Tensor | None:
    """glmnet's per-feature penalty multipliers as a tensor; ``None`` stays ``None`` (all ones).

    Raises
    ------
    ValueError
        Unless there is one finite, non-negative number per feature; says which is wrong (the
        length, or the first value that is not finite or negative).
    """
    if penalty_factor is None:
        return None
    try:
        factor = np.asarray(penalty_factor, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"penalty_factor must be {n_features} non-negative finite numbers (one per "
                         f"feature): {exc}") from exc
    _check_factor(factor, n_features)
    return torch.as_tensor(factor, dtype=dtype, device=device)


def _check_factor(factor: np.ndarray, n_features: int) -> None:
    expected = f"penalty_factor must be {n_features} non-negative finite numbers (one per feature)"
    if factor.ndim != 1:
        raise ValueError(f"{expected}: penalty_factor has shape {factor.shape}; the data have "
                         f"{n_features} features")
    if factor.shape != (n_features,):
        raise ValueError(f"{expected}: penalty_factor has {factor.size} values; the data have "
                         f"{n_features} features")
    not_finite = np.flatnonzero(~np.isfinite(factor))
    if not_finite.size:
        j = int(not_finite[0])
        raise ValueError(f"{expected}: penalty_factor[{j}] is not finite ({factor[j]})")
    negative = np.flatnonzero(factor < 0)
    if negative.size:
        j = int(negative[0])
        raise ValueError(f"{expected}: penalty_factor[{j}] is negative ({factor[j]})")


def split_coef(coef: np.ndarray, fit_intercept: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(coef_, intercept_)`` from the solvers' matrix (copies; zero intercepts without one)."""
    coef = np.asarray(coef)
    if fit_intercept:
        return coef[:, :-1].copy(), coef[:, -1].copy()
    return coef.copy(), np.zeros(coef.shape[0], dtype=coef.dtype)


def join_coef(coef_: np.ndarray, intercept_: np.ndarray, fit_intercept: bool) -> np.ndarray:
    """The solvers' matrix from ``coef_`` and ``intercept_`` (the inverse of :func:`split_coef`)."""
    return np.hstack([coef_, np.asarray(intercept_)[:, None]]) if fit_intercept else np.asarray(coef_)


def sparse_rows(objective: Objective) -> bool:
    """Whether the objective's rows are CSR (passes over stored values, no dense Hessian for free)."""
    return isinstance(objective.source, SparseRowsSource)


def in_memory(objective: Objective) -> bool:
    """Whether the objective's rows are dense and held in memory, where a pass costs no reading."""
    return isinstance(objective.source, InMemorySource)


def pass_work(objective: Objective) -> int:
    """The size of one pass, for :func:`torchlogit._threads.single_thread_if_small`: rows ×
    coefficients, or for CSR rows their stored values × outputs (the sparse products are
    single-threaded scipy; torch's own share of a pass is O(n + p))."""
    n_outputs, n_cols = objective.coef_shape
    if sparse_rows(objective):
        return objective.source.X.nnz * n_outputs
    return objective.n_rows * n_outputs * n_cols
