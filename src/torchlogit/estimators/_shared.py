"""Pieces every estimator needs once: in-memory sources, penalty factors, the coefficient layout.

Solvers work on one coefficient matrix of shape ``(n_outputs, n_features + fit_intercept)``, the
intercept in the last column (:mod:`torchlogit.core.objective`); scikit-learn's estimators store it
as ``coef_`` ``(n_outputs, n_features)`` and ``intercept_`` ``(n_outputs,)``. The two functions at
the bottom convert between the layouts, so no estimator slices the matrix by hand.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from torchlogit._validation import dense_rows_per_chunk, to_torch
from torchlogit.data import DataSource, InMemorySource, SparseRowsSource


def make_source(
    X: Any, y_index: np.ndarray, weights: np.ndarray, dtype: torch.dtype, device: torch.device,
) -> DataSource:
    """In-memory tensors for dense ``X``; bounded dense chunks of a CSR matrix for sparse ``X``."""
    if sp.issparse(X):
        return SparseRowsSource(X, y_index, weights, chunk_rows=dense_rows_per_chunk(X.shape[1]),
                                dtype=dtype, device=device)
    return InMemorySource(to_torch(X, dtype, device), torch.from_numpy(y_index.astype(np.int64)).to(device),
                          torch.from_numpy(weights).to(device=device, dtype=dtype))


def penalty_factor_tensor(
    penalty_factor: Any, n_features: int, dtype: torch.dtype, device: torch.device,
) -> torch.Tensor | None:
    """glmnet's per-feature penalty multipliers as a tensor; ``None`` stays ``None`` (all ones).

    Raises
    ------
    ValueError
        Unless there is one finite, non-negative number per feature.
    """
    if penalty_factor is None:
        return None
    factor = np.asarray(penalty_factor, dtype=np.float64)
    if factor.shape != (n_features,) or not (np.isfinite(factor).all() and (factor >= 0).all()):
        raise ValueError(
            f"penalty_factor must be {n_features} non-negative finite numbers (one per feature), "
            f"got shape {factor.shape}"
        )
    return torch.as_tensor(factor, dtype=dtype, device=device)


def split_coef(coef: np.ndarray, fit_intercept: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(coef_, intercept_)`` from the solvers' matrix (copies; zero intercepts without one)."""
    coef = np.asarray(coef)
    if fit_intercept:
        return coef[:, :-1].copy(), coef[:, -1].copy()
    return coef.copy(), np.zeros(coef.shape[0], dtype=coef.dtype)


def join_coef(coef_: np.ndarray, intercept_: np.ndarray, fit_intercept: bool) -> np.ndarray:
    """The solvers' matrix from ``coef_`` and ``intercept_`` (the inverse of :func:`split_coef`)."""
    return np.hstack([coef_, np.asarray(intercept_)[:, None]]) if fit_intercept else np.asarray(coef_)
