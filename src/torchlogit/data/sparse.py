"""scipy.sparse CSR rows served as dense tensor chunks of bounded size.

Each pass densifies one chunk at a time (at most ``chunk_rows × n_features`` values), so memory
stays bounded; this is cheap when ``n_features`` is moderate, which is the case for the Newton
solver. Very wide sparse data is better served by the proximal/first-order solvers.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
import torch

from torchlogit._validation import dense_rows_per_chunk
from torchlogit.data.base import Chunk, DataSource


class SparseRowsSource(DataSource):
    """CSR matrix + labels + weights, yielding dense ``(X, y, w)`` chunks.

    Parameters
    ----------
    X : scipy.sparse matrix of shape (n_samples, n_features), stored as CSR
    y : array of shape (n_samples,), int64 class indices
    sample_weight : array of shape (n_samples,)
    chunk_rows : rows per dense chunk
    dtype, device : of the tensors yielded
    """

    def __init__(
        self, X: sp.csr_matrix, y: np.ndarray, sample_weight: np.ndarray, *, chunk_rows: int,
        dtype: torch.dtype, device: torch.device,
    ):
        self.X = sp.csr_matrix(X)
        self.y = torch.as_tensor(np.asarray(y, dtype=np.int64), device=device)
        self.sample_weight = torch.as_tensor(np.asarray(sample_weight), device=device, dtype=dtype)
        self.chunk_rows = chunk_rows
        self.dtype = dtype
        self.device = device
        self.n_features = X.shape[1]

    def select_columns(self, columns: np.ndarray) -> SparseRowsSource:
        """The same rows with only ``columns``, chunked for the narrower width."""
        return SparseRowsSource(
            self.X[:, columns], self.y.cpu().numpy(), self.sample_weight.cpu().numpy(),
            chunk_rows=dense_rows_per_chunk(len(columns)), dtype=self.dtype, device=self.device,
        )

    def chunks(self) -> Iterator[Chunk]:
        """Dense ``(X, y, sample_weight)`` chunks of ``chunk_rows`` rows (the last one shorter)."""
        n_rows = self.X.shape[0]
        for start in range(0, n_rows, self.chunk_rows):
            stop = min(start + self.chunk_rows, n_rows)
            if self.on_chunk is not None:
                self.on_chunk(stop - start)
            dense = torch.from_numpy(self.X[start:stop].toarray())
            yield (
                dense.to(device=self.device, dtype=self.dtype),
                self.y[start:stop],
                self.sample_weight[start:stop],
            )
