"""Thread discipline for small work.

On a 2-core machine a tiny LAPACK or BLAS call made with two OpenMP/MKL threads can wait
milliseconds for the second thread (measured: a 3×3 Cholesky takes 8 ms with 2 threads while
the other core is busy, 5 µs with 1). Small work therefore runs on one thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

# below this many multiply-adds per call, one thread beats two (fits of 1,000 × 2 run 50× faster)
SMALL_WORK = 1 << 20


@contextlib.contextmanager
def single_thread_if_small(work: int) -> Iterator[None]:
    """Run the block with one torch thread when ``work`` (multiply-adds) is below SMALL_WORK."""
    previous = torch.get_num_threads()
    if work >= SMALL_WORK or previous == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
