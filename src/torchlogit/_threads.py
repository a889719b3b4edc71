"""Thread discipline: one thread for small work, and no thread on a core another process keeps busy.

torch's OpenMP pool splits every product over all its threads and then waits for the slowest.
A thread that shares its core with another busy process runs a fraction of the time, so the whole
pool waits for it: a tiny LAPACK or BLAS call with two threads can wait milliseconds for a busy
core, far longer than the work itself, and whole fits ran 4-5× slower on a busy 2-core box than
on one thread. Small work therefore runs on one thread, and larger work on at most the cores other
processes leave free (the measurements: benchmarks/README.md, "Thresholds in the code").

Other processes' use of this process's cores is read from ``/proc/stat`` (the busy ticks of the
CPUs in ``os.sched_getaffinity``) minus this process's own ticks (``/proc/self/stat``), averaged
over the time since the previous reading: no waiting, about 0.3 ms a reading, at most one reading
every ``MIN_WINDOW_S``. Where ``/proc`` is missing the load is unknown and torch's count is used.

A block never uses more threads than torch has. This module records torch's count when it is
first imported (by the first estimator used); a later ``torch.set_num_threads(n)`` to another
count is the user's choice and is kept: every block then uses exactly ``n`` threads (still one
for small work), whatever the load.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator

import torch

# below this many multiply-adds per call, one thread beats two
SMALL_WORK = 1 << 20
# other processes using more than this much of a core keep it busy; below half a core, because
# while one of our threads shares a core with a busy process the scheduler gives it only half
BUSY_MARGIN = 0.25
# /proc counts 10 ms ticks: over a shorter window the estimate is too coarse; reuse the last one
MIN_WINDOW_S = 0.5

_DEFAULT_THREADS = torch.get_num_threads()


def choose_threads(work: int, current: int, *, cores: int, others_busy: float | None,
                   explicit: bool, reserved: int = 0) -> int:
    """The number of torch threads for a block of ``work`` multiply-adds.

    Parameters
    ----------
    work : int
        Multiply-adds per call in the block (e.g. rows × coefficients for a pass).
    current : int
        torch's thread count now: never exceeded.
    cores : int
        Cores this process may run on.
    others_busy : float or None
        Cores' worth of CPU time other processes used lately on those cores; None if unknown.
    explicit : bool
        Whether the user set torch's thread count themselves: then it is kept for large work.
    reserved : int
        Cores this process's own other threads keep busy meanwhile (a file source's decoder).

    Returns
    -------
    int
        1 below ``SMALL_WORK``; else ``current``, capped by the cores neither kept busy by others
        (a core counts as busy when others use more than ``BUSY_MARGIN`` of it) nor ``reserved``,
        at least 1.
    """
    if work < SMALL_WORK or current <= 1:
        return 1
    if explicit:
        return current
    busy = 0 if others_busy is None else max(0, math.ceil(others_busy - BUSY_MARGIN))
    return max(1, min(current, cores - busy - reserved))


def busy_seconds(stat: str, cpus: set[int]) -> float:
    """Busy CPU seconds (user, nice, system, irq, softirq, steal) of ``cpus`` in /proc/stat text."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for line in stat.splitlines():
        name, _, fields = line.partition(" ")
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            f = [int(v) for v in fields.split()]
            total += f[0] + f[1] + f[2] + sum(f[5:8])
    return total / tick


def _reading(cpus: set[int]) -> tuple[float, float, float] | None:
    """(time, busy seconds of ``cpus``, this process's CPU seconds), or None without /proc."""
    try:
        with open("/proc/stat") as fh:
            busy = busy_seconds(fh.read(), cpus)
        with open("/proc/self/stat") as fh:
            own = fh.read().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    return time.perf_counter(), busy, (int(own[11]) + int(own[12])) / os.sysconf("SC_CLK_TCK")


def _cpus() -> set[int]:
    return os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))


class _OthersMonitor:
    """Other processes' CPU use on this process's cores since the previous reading, cached."""

    def __init__(self) -> None:
        self._last = _reading(_cpus())
        self._estimate: float | None = None

    def others_busy(self, cpus: set[int]) -> float | None:
        """Cores' worth of CPU time others used on ``cpus`` since the last reading (None: unknown)."""
        if self._last is None:
            return None
        if time.perf_counter() - self._last[0] < MIN_WINDOW_S:
            return self._estimate
        now = _reading(cpus)
        if now is None:
            return None
        elapsed = now[0] - self._last[0]
        self._estimate = max(0.0, ((now[1] - self._last[1]) - (now[2] - self._last[2])) / elapsed)
        self._last = now
        return self._estimate


_MONITOR = _OthersMonitor()


def single_thread_if_small(work: int, reserved: Callable[[int], int] | None = None,
                           ) -> contextlib.AbstractContextManager[None]:
    """Run the block with one torch thread below SMALL_WORK, else on the cores others leave free,
    less ``reserved(cores)`` of them (see :func:`choose_threads`).

    The thread count is restored on leaving the block (see :func:`choose_threads`). torch's count
    is read when this is called, so enter the block at once. Already on one thread (inside another
    such block, say) nothing changes, at the cost of a null context: small fits enter these blocks
    at every Newton step.
    """
    previous = torch.get_num_threads()
    if previous == 1:
        return contextlib.nullcontext()
    return _limited_threads(work, previous, reserved)


@contextlib.contextmanager
def _limited_threads(work: int, previous: int, reserved: Callable[[int], int] | None) -> Iterator[None]:
    """The block of :func:`single_thread_if_small` when torch has more than one thread."""
    threads = 1
    if work >= SMALL_WORK:
        cpus = _cpus()
        explicit = previous != _DEFAULT_THREADS
        others = None if explicit else _MONITOR.others_busy(cpus)
        threads = choose_threads(work, previous, cores=len(cpus), others_busy=others, explicit=explicit,
                                 reserved=0 if reserved is None else reserved(len(cpus)))
    if threads == previous:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
