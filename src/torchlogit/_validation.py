"""Input checks and conversions shared by the estimator and the CLI."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def resolve_dtype(dtype: object) -> torch.dtype:
    """Accept 'float64'/'float32', numpy or torch float dtypes; return the torch dtype."""
    if isinstance(dtype, torch.dtype):
        name = str(dtype).removeprefix("torch.")
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = str(dtype)
    if name not in _DTYPES:
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    return _DTYPES[name]


def resolve_device(device: object) -> torch.device:
    """Accept 'cpu', 'cuda', 'cuda:N', 'auto' (CUDA when available) or a torch.device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'cpu', 'cuda' or 'auto', got {device!r}") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but no CUDA device is available")
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'auto', got {device!r}")
    return resolved


def tensor_to_numpy(X: object) -> object:
    """Torch tensors become numpy arrays (copied to the host), sparse ones scipy sparse matrices
    (:func:`torch_sparse_to_scipy`); anything else is returned as is."""
    if isinstance(X, torch.Tensor):
        if X.layout != torch.strided:
            return torch_sparse_to_scipy(X)
        return X.detach().cpu().numpy()
    return X


def torch_sparse_to_scipy(X: torch.Tensor) -> sp.spmatrix:
    """A 2-D torch sparse COO, CSR or CSC tensor as the scipy matrix of the same stored values.

    On the host the scipy matrix is a view of the tensor's arrays (a COO tensor is coalesced
    first, summing duplicates as torch does); scikit-learn's validation then converts it to CSR
    and checks its values, as for any scipy matrix, so torch and scipy sparse input behave alike.

    Raises
    ------
    TypeError
        If ``X`` is batched, has dense value dimensions, or is block-sparse (BSR/BSC), naming why.
    """
    X = X.detach().cpu()
    if X.ndim != 2 or X.dense_dim() != 0:
        raise TypeError(f"a torch sparse X must be 2-D with one value per entry, got shape {tuple(X.shape)} "
                        f"with {X.dense_dim()} dense dimension(s)")
    shape = tuple(X.shape)
    if X.layout == torch.sparse_coo:
        X = X.coalesce()
        rows, cols = X.indices().numpy()
        return sp.coo_matrix((X.values().numpy(), (rows, cols)), shape=shape)
    if X.layout == torch.sparse_csr:
        index, pointers = X.col_indices().numpy(), X.crow_indices().numpy()
        return sp.csr_matrix((X.values().numpy(), index, pointers), shape=shape)
    if X.layout == torch.sparse_csc:
        index, pointers = X.row_indices().numpy(), X.ccol_indices().numpy()
        return sp.csc_matrix((X.values().numpy(), index, pointers), shape=shape)
    raise TypeError(f"torch sparse layout {X.layout} is not supported; pass a sparse COO, CSR or CSC "
                    "tensor (X.to_sparse_csr()) or a scipy.sparse matrix")


def to_torch(X: np.ndarray, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Dense numpy → torch without a copy when dtype, device and writability allow."""
    array = np.ascontiguousarray(X)
    if not array.flags.writeable:
        array = array.copy()
    return torch.from_numpy(array).to(device=device, dtype=dtype)


def dense_rows_per_chunk(n_features: int, max_elements: int = 1 << 22) -> int:
    """Rows per chunk when sparse input is densified chunk by chunk (bounded memory)."""
    return max(1, max_elements // max(n_features, 1))


def is_sparse(X: object) -> bool:
    return sp.issparse(X)


def encode_labels(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(y, return_inverse=True)``, with a counting fast path for small-range integers.

    Sorting labels costs as much as several passes over the data; counting them costs one.
    """
    y = np.asarray(y)
    if y.dtype.kind in "iu" and y.size:
        low, high = int(y.min()), int(y.max())
        if high - low <= 4 * y.size:
            shifted = (y - low).astype(np.intp, copy=False)
            present = np.bincount(shifted, minlength=high - low + 1) > 0
            lookup = np.cumsum(present) - 1
            return (np.flatnonzero(present) + low).astype(y.dtype), lookup[shifted]
    return np.unique(y, return_inverse=True)


def plain(value: Any) -> Any:
    """A numpy scalar as the plain Python value it holds (for JSON, messages and tables).

    ``repr(np.float64(1.0))`` is ``'np.float64(1.0)'`` since numpy 2; users should read ``1.0``.
    Anything that is not a numpy scalar is returned unchanged.
    """
    return value.item() if isinstance(value, np.generic) else value
