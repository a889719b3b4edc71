"""Thread discipline for small work.

A tiny LAPACK or BLAS call made with several OpenMP/MKL threads can wait milliseconds for a
thread whose core is busy, far longer than the work itself; small work therefore runs on one
thread (the measurements behind the threshold: benchmarks/README.md, "Thresholds in the code").
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

# below this many multiply-adds per call, one thread beats two
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
