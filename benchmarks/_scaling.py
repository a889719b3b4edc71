#!/usr/bin/env python
"""Scaling: fit time against rows n and against features d, ours and scikit-learn's, log-log.

Two series of binary problems from bench_solvers.py's generator (correlated, standardised
Gaussian features; scores with a standard deviation of about 1.5):

- against n: n = 10³ … 10⁷ (``--max-n`` caps it) at d = 32;
- against d: d = 2 … 2,000 at n = 10⁵ (or ``--max-n`` if smaller).

Timed: ``torchlogit.LogisticRegression()`` and ``sklearn.linear_model.LogisticRegression()`` at
their defaults (ours solves to max |∇F| ≤ 1e-8, scikit-learn's lbfgs stops at its tol 1e-4), and
scikit-learn's newton-cholesky, its fastest accurate solver on these tall problems, up to
``NEWTON_CHOLESKY_MAX_D`` features (beyond, its d² Gram and d³ factorisation take minutes). Each
point is the median of ``--repeat`` fits, after a warm-up fit when a fit takes under a second.
The slope is the least-squares fit of log time on log size: 1 is linear; the "top 3" slope uses
the three largest sizes only, where start-up costs no longer hide the growth.

Usage::

    python benchmarks/_scaling.py --max-n 1000000            # ≈ minutes on 2 cores
    python benchmarks/_scaling.py --plot docs/scaling.png    # the full range, for the README
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

N_SIZES = (1_000, 10_000, 100_000, 1_000_000, 10_000_000)
N_SERIES_D = 32
D_SIZES = (2, 5, 20, 50, 200, 500, 1000, 2000)
D_SERIES_N = 100_000
NEWTON_CHOLESKY_MAX_D = 500
WARM_UP_BELOW_S = 1.0
DEFAULT_PLOT = Path(__file__).resolve().parents[1] / "docs" / "scaling.png"

Fit = Callable[[np.ndarray, np.ndarray], Any]


def _fits() -> dict[str, Fit]:
    """The timed implementations by label: ours, scikit-learn's default, newton-cholesky."""
    from sklearn.linear_model import LogisticRegression as SkLogit

    from torchlogit import LogisticRegression as TorchLogit

    return {
        "torchlogit default": lambda X, y: TorchLogit().fit(X, y),
        "scikit-learn default (lbfgs)": lambda X, y: SkLogit().fit(X, y),
        "scikit-learn newton-cholesky": lambda X, y: SkLogit(solver="newton-cholesky").fit(X, y),
    }


def time_fit(fit: Fit, X: np.ndarray, y: np.ndarray, repeat: int) -> float:
    """Median seconds of ``repeat`` fits; a first, untimed fit when one takes under a second."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's ConvergenceWarning at max_iter: still timed
        t0 = time.perf_counter()
        fit(X, y)
        first = time.perf_counter() - t0
        times = [] if first < WARM_UP_BELOW_S else [first]
        while len(times) < repeat:
            t0 = time.perf_counter()
            fit(X, y)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def slope(sizes: list[int], seconds: list[float]) -> float:
    """Least-squares slope of log10(seconds) on log10(sizes); NaN with fewer than two points."""
    if len(sizes) < 2:
        return float("nan")
    return float(np.polyfit(np.log10(sizes), np.log10(seconds), 1)[0])


def _loadavg() -> str:
    try:
        with open("/proc/loadavg") as fh:
            return fh.read().split()[0]
    except OSError:
        return "?"


def run_series(axis: str, sizes: list[int], fixed: int, *, repeat: int,
               seed: int) -> dict[str, dict[int, float]]:
    """Times by implementation and size: sizes of n at d = ``fixed`` (``axis='n'``), or of d at
    n = ``fixed`` (``axis='d'``)."""
    import bench_solvers as bs

    times: dict[str, dict[int, float]] = {name: {} for name in _fits()}
    for size in sizes:
        n, d = (size, fixed) if axis == "n" else (fixed, size)
        wl = bs.synthetic("S", n, d, 2, seed)
        for name, fit in _fits().items():
            if "newton-cholesky" in name and d > NEWTON_CHOLESKY_MAX_D:
                continue
            load = _loadavg()
            times[name][size] = time_fit(fit, wl.X, wl.y, repeat)
            print(f"  [scaling {axis}] n={n:,} d={d}: {name} {times[name][size]:.4g} s (load {load})",
                  file=sys.stderr, flush=True)
        del wl
    return times


def _markdown(axis: str, fixed: str, times: dict[str, dict[int, float]]) -> list[str]:
    sizes = sorted({s for series in times.values() for s in series})
    names = list(times)
    lines = [f"| {axis} ({fixed}) | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for s in sizes:
        cells = [f"{times[k][s]:.4g} s" if s in times[k] else "–" for k in names]
        lines.append(f"| {s:,} | " + " | ".join(cells) + " |")
    for label, keep in (("slope", slice(None)), ("slope, top 3", slice(-3, None))):
        cells = []
        for k in names:
            pts = sorted(times[k].items())[keep]
            cells.append(f"{slope([p[0] for p in pts], [p[1] for p in pts]):.2f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def plot_scaling(by_n: dict[str, dict[int, float]], by_d: dict[str, dict[int, float]], n_for_d: int,
                 path: Path) -> None:
    """Two log-log panels (time against n, time against d), written atomically to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    panels = ((axes[0], by_n, f"rows n (d = {N_SERIES_D})"), (axes[1], by_d, f"features d (n = {n_for_d:,})"))
    for ax, times, xlabel in panels:
        for (name, series), marker in zip(times.items(), "osD", strict=True):
            if series:
                sizes = sorted(series)
                ax.loglog(sizes, [series[s] for s in sizes], marker=marker, label=name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("fit time (s)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    fig.suptitle("Binary logistic regression, default fits, time against size (log-log)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)


def scaling_table(max_n: int, plot: Path | None, *, max_d: int = D_SIZES[-1], repeat: int = 3,
                  seed: int = 0) -> list[str]:
    """Time against n and against d, ours and scikit-learn's, as markdown; optionally the plot.

    Parameters
    ----------
    max_n : int
        Largest n of the n series (10⁷ for the full run); the d series runs at min(10⁵, max_n).
    plot : Path or None
        Where to write the two-panel PNG; None: no plot.
    max_d : int
        Largest d of the d series (2,000 for the full run).
    repeat : int
        Timed fits per point (median).
    seed : int
        Seed of the generated data.

    Returns
    -------
    list of str
        Markdown lines: heading, method, the two tables with slopes.
    """
    n_sizes = [n for n in N_SIZES if n <= max_n]
    d_sizes = [d for d in D_SIZES if d <= max_d]
    n_for_d = min(D_SERIES_N, max_n)
    by_n = run_series("n", n_sizes, N_SERIES_D, repeat=repeat, seed=seed)
    by_d = run_series("d", d_sizes, n_for_d, repeat=repeat, seed=seed)
    lines = [
        "### Scaling: time against n and against d (binary)",
        "",
        f"Default fits (ours to max |∇F| ≤ 1e-8; scikit-learn's lbfgs to its tol 1e-4) and "
        f"scikit-learn's newton-cholesky (up to d = {NEWTON_CHOLESKY_MAX_D}); median of {repeat} fit(s); "
        f"slope = d log(time) / d log(size) by least squares. {os.cpu_count()} logical CPUs, "
        f"load {_loadavg()} at the end.",
        "",
        *_markdown("n", f"d = {N_SERIES_D}", by_n),
        *_markdown("d", f"n = {n_for_d:,}", by_d),
    ]
    if plot is not None:
        plot_scaling(by_n, by_d, n_for_d, plot)
        lines.append(f"Plot: `{plot}`.")
        lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run :func:`scaling_table` and print it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-n", type=int, default=N_SIZES[-1], help="largest n (default 1e7)")
    parser.add_argument("--max-d", type=int, default=D_SIZES[-1], help="largest d (default 2000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed fits per point (median)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT, help="PNG path (default docs/scaling.png)")
    parser.add_argument("--no-plot", action="store_true", help="print the tables only")
    args = parser.parse_args(argv)
    if args.max_n < N_SIZES[0] or args.max_d < D_SIZES[0] or args.repeat < 1:
        parser.error(f"--max-n must be at least {N_SIZES[0]}, --max-d at least {D_SIZES[0]}, "
                     "--repeat at least 1")
    lines = scaling_table(args.max_n, None if args.no_plot else args.plot, max_d=args.max_d,
                          repeat=args.repeat, seed=args.seed)
    print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
