"""Firth's method: a fit with penalised-LR p-values and profile intervals for every coefficient.

Ours (``FirthLogisticRegression().fit(X, y).summary(X, y)``) against firthmodels
(``fit(X, y).lrt()`` and ``conf_int(method="pl")``, numba backend when numba is installed), on
the same data in one run: wall and CPU seconds, their ratio, and the largest differences of
coefficients, p-values and interval limits. firthmodels is an optional peer: skipped with a
message when it is not installed.

    .venv/bin/python benchmarks/bench_firth.py --rows 1000 --features 50

Measured (busy 2-core box, issue 17): torchlogit 6.9 CPU-s / 17.7 s wall, firthmodels (numba)
17.1 CPU-s / 41.1 s wall; at ``--features 20``: 1.08 vs 1.34 CPU-s.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from torchlogit.estimators.firth import FirthLogisticRegression


def make_data(rows: int, features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Standard normal features, coefficients N(0, 0.3²), intercept −1 (about 30% events)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features))
    eta = X @ (0.3 * rng.normal(size=features)) - 1.0
    return X, (rng.uniform(size=rows) < 1 / (1 + np.exp(-eta))).astype(int)


def timed(run):
    """``(result, wall seconds, CPU seconds of this process)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def ours(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coefficients, p-values and 95% limits, intercept last (firthmodels' order)."""
    res = FirthLogisticRegression().fit(X, y).summary(X, y)
    last = np.r_[np.arange(1, X.shape[1] + 1), 0]
    return np.asarray(res.params)[last], np.asarray(res.pvalues)[last], np.asarray(res.conf_int())[last]


def peer(X: np.ndarray, y: np.ndarray, backend: str):
    """firthmodels' fit + LRT p-values + profile intervals, or None when it is not installed."""
    try:
        from firthmodels import FirthLogisticRegression as Peer
    except ImportError:
        return None
    model = Peer(backend=backend).fit(X, y)
    model.lrt()
    ci = model.conf_int(method="pl")
    return np.r_[model.coef_, model.intercept_], model.lrt_pvalues_, ci


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="auto", help="firthmodels' backend: auto, numba or numpy")
    args = parser.parse_args()
    X, y = make_data(args.rows, args.features, args.seed)
    print(f"n = {args.rows}, d = {args.features}, events = {y.mean():.1%}")
    if peer(X[:50, :3], y[:50], args.backend) is None:  # warm-up: numba compiles on first use
        print("firthmodels is not installed: peer skipped (pip install firthmodels numba)")
    ours(X[:50, :3], y[:50])
    mine, wall, cpu = timed(lambda: ours(X, y))
    print(f"torchlogit  : {wall:8.2f} s wall, {cpu:8.2f} s CPU")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, peer_wall, peer_cpu = timed(lambda: peer(X, y, args.backend))
    if theirs is None:
        return
    print(f"firthmodels : {peer_wall:8.2f} s wall, {peer_cpu:8.2f} s CPU ({args.backend} backend)")
    print(f"ratio (firthmodels / torchlogit): wall {peer_wall / wall:.2f}, CPU {peer_cpu / cpu:.2f}")
    for name, a, b in zip(("coefficients", "p-values", "interval limits"), mine, theirs, strict=True):
        print(f"max |difference| of {name:16s}: {np.nanmax(np.abs(a - b)):.3g}")


if __name__ == "__main__":
    main()
