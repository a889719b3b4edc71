#!/usr/bin/env python
"""A busy machine: our default fit against scikit-learn's, idle and with one core kept busy.

Real users fit beside other work (GridSearchCV with ``n_jobs``, a notebook next to a training
job). On a small machine a thread pool that spreads each product over every core then waits for
the core the other process holds. This script starts a fixed busy loop itself (a separate,
fresh Python process running a pure-Python ``while True`` loop, pinned to core 0 where the
platform allows), times both libraries idle and busy, stops the loop (also on error), and prints the
ratio scikit-learn / ours in both conditions. Issue 16's target: the busy ratio is at least the
idle one.

Workloads: A of bench_solvers.py (1,000,000 × 32 binary; ``--rows`` for fewer under load) against
scikit-learn's default (lbfgs) and newton-cholesky, its fastest accurate solver there; and
scikit-learn's digits (1,797 × 64, standardised, 10 classes) against scikit-learn's default.
Every fit uses its library's defaults.

Usage::

    python benchmarks/_busy.py                  # A at 1M rows, digits; median of 3
    python benchmarks/_busy.py --rows 200000 --repeat 5
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

BUSY_CORE = 0
A_ROWS = 1_000_000


# the busy loop's own program: no import of this script, of torch or of the parent's data
_SPIN = f"""
import os, sys
if hasattr(os, "sched_setaffinity"):
    try:
        os.sched_setaffinity(0, {{{BUSY_CORE}}})
    except OSError:
        pass
sys.stdout.write("spinning\\n")
sys.stdout.flush()
while True:
    pass
"""


@contextlib.contextmanager
def busy_core() -> Iterator[int]:
    """Keep one core busy for the duration of the block; yields the loop's process id.

    The loop is a fresh Python process running only ``_SPIN`` (not multiprocessing's spawn,
    which would re-import the parent's main script, torch included); it is terminated on
    leaving the block, whether the block finished or raised.
    """
    proc = subprocess.Popen([sys.executable, "-c", _SPIN], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "spinning":
            raise RuntimeError(f"the busy loop did not start (exit status {proc.poll()})")
        time.sleep(0.2)  # let the scheduler see it run
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def loadavg() -> str:
    """The first four fields of /proc/loadavg (1, 5, 15-minute load, running/total), or '?'."""
    try:
        with open("/proc/loadavg") as fh:
            return " ".join(fh.read().split()[:4])
    except OSError:
        return "?"


@dataclass
class Case:
    """One workload: its data and the implementations to time on it (ours first)."""

    name: str
    X: np.ndarray
    y: np.ndarray
    impls: list[Any]  # bench_solvers.Impl


def _impl(name: str, ours: bool, make: Callable[[], Any]) -> Any:
    import bench_solvers as bs

    extract = bs._torchlogit_extract if ours else bs._sklearn_extract
    return bs.Impl(name, ours, lambda X, y: make().fit(X, y), extract)


def cases(rows: int, seed: int) -> list[Case]:
    """Workload A with ``rows`` rows and standardised digits, each with its implementations."""
    import bench_solvers as bs
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression as SkLogit
    from sklearn.preprocessing import StandardScaler

    from torchlogit import LogisticRegression as TorchLogit

    a = bs.synthetic("A", rows, 32, 2, seed)
    X_digits, y_digits = load_digits(return_X_y=True)
    X_digits = StandardScaler().fit_transform(X_digits)
    ours = _impl("torchlogit default", True, TorchLogit)
    return [
        Case(f"A: {rows:,} × 32, binary", a.X, a.y, [
            ours,
            _impl("scikit-learn default (lbfgs)", False, SkLogit),
            _impl("scikit-learn newton-cholesky", False, lambda: SkLogit(solver="newton-cholesky")),
        ]),
        Case("digits: 1,797 × 64, standardised, 10 classes", X_digits, y_digits, [
            ours,
            _impl("scikit-learn default (lbfgs)", False, SkLogit),
        ]),
    ]


def _measure(case: Case, repeat: int) -> tuple[list[float], str]:
    """Median seconds of every implementation of ``case`` and the load before the first one."""
    import bench_solvers as bs

    load = loadavg()
    seconds = []
    for impl in case.impls:
        result = bs.time_fits(impl, case.X, case.y, repeat)
        if result.error:
            raise RuntimeError(f"{impl.name} failed on {case.name}: {result.error}")
        seconds.append(result.seconds)
        print(f"  [{case.name}] {impl.name}: {result.seconds:.4f} s, max|grad| "
              f"{result.grad_max:.1e}, others used {result.others_cpu:.2f} cores", file=sys.stderr,
              flush=True)
    return seconds, load


def busy_table(rows: int = A_ROWS, repeat: int = 3, seed: int = 0) -> list[str]:
    """Time every case idle, then with one core busy; the markdown table of times and ratios.

    Parameters
    ----------
    rows : int
        Rows of workload A (1,000,000 as in bench_solvers.py; fewer for a quicker run).
    repeat : int
        Timed fits per implementation and condition (median, after one warm-up fit).
    seed : int
        Seed of workload A's data.

    Returns
    -------
    list of str
        Markdown lines: a heading, the method, and one row per (workload, scikit-learn solver).
    """
    lines = [
        "### A busy machine: one other process keeps one core busy",
        "",
        f"Each library's default fit (and scikit-learn's newton-cholesky on A); median of {repeat} "
        "fits after a warm-up; ratio = scikit-learn / ours (above 1: ours is faster). Busy: a "
        f"separate pure-Python loop pinned to core {BUSY_CORE}, started and stopped by the script. "
        f"Machine: {os.cpu_count()} logical CPUs. Target: busy ratio ≥ idle ratio.",
        "",
        "| workload | scikit-learn | ours idle | theirs idle | ratio idle | ours busy | theirs busy "
        "| ratio busy | busy ≥ idle | load before (idle; busy) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case in cases(rows, seed):
        idle, load_idle = _measure(case, repeat)
        with busy_core():
            busy, load_busy = _measure(case, repeat)
        for k, impl in enumerate(case.impls[1:], start=1):
            r_idle, r_busy = idle[k] / idle[0], busy[k] / busy[0]
            lines.append(
                f"| {case.name} | {impl.name.removeprefix('scikit-learn ')} | {idle[0]:.3f} s "
                f"| {idle[k]:.3f} s | {r_idle:.2f}× | {busy[0]:.3f} s | {busy[k]:.3f} s "
                f"| {r_busy:.2f}× | {'✓' if r_busy >= r_idle else '✗'} | {load_idle}; {load_busy} |"
            )
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run :func:`busy_table` and print it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=A_ROWS, help="rows of workload A (default 1M)")
    parser.add_argument("--repeat", type=int, default=3, help="timed fits per condition (median)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.rows < 100 or args.repeat < 1:
        parser.error("--rows must be at least 100 and --repeat at least 1")
    print("\n".join(busy_table(args.rows, args.repeat, args.seed)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
