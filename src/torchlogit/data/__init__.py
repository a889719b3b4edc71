"""Data sources: anything that yields row chunks ``(X, y, sample_weight)`` as tensors.

Solvers never see where rows come from; they only ask an :class:`~torchlogit.core.objective.Objective`
for sums over chunks. ``y`` is always a vector of class indices (``int64``).
"""

from torchlogit.data.base import DataSource, as_data_source
from torchlogit.data.memory import InMemorySource
from torchlogit.data.sparse import SparseRowsSource

__all__ = ["DataSource", "InMemorySource", "SparseRowsSource", "as_data_source"]
