#!/usr/bin/env python
"""Where the time of a Newton fit goes on workload A (n=1,000,000, d=32, binary), CPU; and C.

Times each building block of one Newton iteration (torchlogit's own functions and alternatives)
as the minimum over ``--repeat`` runs (robust to other processes on a shared machine), then
profiles whole ``LogisticRegression(solver='newton').fit`` calls with cProfile.

    python benchmarks/profile_newton.py [--n 1000000] [--d 32] [--repeat 7]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_solvers as bench

from torchlogit import LogisticRegression
from torchlogit.core import loss as L


def best_of(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure_torch(X, y, w_np, r_np, dtype, add) -> None:
    """torchlogit's per-chunk building blocks (and alternatives) in one dtype."""
    n, d = X.shape
    tag = "f64" if dtype == torch.float64 else "f32"
    Xt = torch.from_numpy(X).to(dtype)
    yt = torch.from_numpy(y).to(dtype)
    wt = torch.ones(n, dtype=dtype)
    coef = torch.zeros(1, d + 1, dtype=dtype)
    coef[0, :d] = torch.from_numpy(w_np)
    h = torch.from_numpy(r_np).to(dtype)
    if dtype == torch.float32:
        add("torch X f64 -> f32 copy", lambda: torch.from_numpy(X).to(torch.float32))
    add(f"torch {tag} scores addmm (X @ w + b)", lambda: L.linear_predictor(Xt, coef, True))
    z = L.linear_predictor(Xt, coef, True)
    add(f"torch {tag} logits_loss (logsigmoid, dot)", lambda: L.logits_loss(z, yt, wt))
    add(f"torch {tag} sigmoid + residual r + h", lambda: (torch.sigmoid(z[:, 0]) - yt) * wt)
    add(f"torch {tag} X.T @ r", lambda: Xt.T @ h)
    add(f"torch {tag} torchlogit _weighted_gram",
        lambda: L._weighted_gram(Xt, h, True))
    add(f"torch {tag} Gram one shot X.T @ (X * h)", lambda: Xt.T @ (Xt * h[:, None]))

    def gram_blocks(rows_per: int) -> torch.Tensor:  # no intercept column copy
        out = Xt.new_zeros(d, d)
        for s in range(0, n, rows_per):
            Xb = Xt[s:s + rows_per]
            out.addmm_(Xb.T, Xb * h[s:s + rows_per, None])
        return out

    for rows_per in (4096, 16384, 65536):
        add(f"torch {tag} Gram {rows_per}-row blocks, no cat", lambda rp=rows_per: gram_blocks(rp))
    add(f"torch {tag} binomial_sums grad only", lambda: L.binomial_sums(Xt, yt, wt, coef, True))
    add(f"torch {tag} binomial_sums grad + Hessian",
        lambda: L.binomial_sums(Xt, yt, wt, coef, True, need_hess=True))


def multinomial(repeat: int) -> None:
    """Workload C (n=100,000, d=50, 10 classes): gradient pass vs Hessian pass, torch vs numpy."""
    wl = bench.synthetic("C", 100_000, 50, 10, bench.SEED)
    X, y = wl.X, wl.y
    n, d = X.shape
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    wt = torch.ones(n, dtype=torch.float64)
    coef = torch.from_numpy(np.random.default_rng(3).standard_normal((10, d + 1)) * 0.1)
    proba = torch.softmax(L.linear_predictor(Xt, coef, True), dim=1)
    P = proba.numpy()
    Xtil = np.hstack([X, np.ones((n, 1))])

    def numpy_hessian() -> np.ndarray:  # blockdiag(X̃ᵀ diag(p_k) X̃) − AᵀA, A = [p_k x̃]_k
        A = (P[:, :, None] * Xtil[:, None, :]).reshape(n, -1)
        H = -(A.T @ A)
        for k in range(10):
            sl = slice(k * (d + 1), (k + 1) * (d + 1))
            H[sl, sl] += Xtil.T @ (Xtil * P[:, k:k + 1])
        return H

    rows = [
        ("numpy f64 X @ w (= 1 pass)", best_of(lambda: X @ np.ones(d), repeat)),
        ("torch multinomial_sums, loss + grad", best_of(lambda: L.multinomial_sums(Xt, yt, wt, coef, True),
                                                        repeat)),
        ("torch _multinomial_hessian (55 weighted Grams)",
         best_of(lambda: L._multinomial_hessian(Xt, proba, wt, True), 2)),
        ("numpy Hessian: blockdiag − AᵀA (one 510-wide GEMM)", best_of(numpy_hessian, 2)),
    ]
    print(f"\nWorkload C building blocks, n={n:,}, d={d}, 10 classes; min of runs\n")
    print("| operation | ms | passes |\n|---|---|---|")
    for name, t in rows:
        print(f"| {name} | {t * 1e3:.1f} | {t / rows[0][1]:.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    wl = bench.synthetic("A", args.n, args.d, 2, bench.SEED)
    X, y = wl.X, wl.y
    n, d = X.shape
    rows: list[tuple[str, float]] = []

    def add(name: str, fn) -> None:
        rows.append((name, best_of(fn, args.repeat)))

    w_np = np.random.default_rng(1).standard_normal(d) * 0.1
    add("numpy f64 X @ w  (= 1 pass)", lambda: X @ w_np)
    r_np = np.random.default_rng(2).random(n)
    add("numpy f64 X.T @ r", lambda: X.T @ r_np)
    add("numpy f64 X.T @ (X * h)", lambda: X.T @ (X * r_np[:, None]))

    for dtype in (torch.float64, torch.float32):
        measure_torch(X, y, w_np, r_np, dtype, add)
    add("numpy Gram in 16384-row blocks (f64)",
        lambda: sum(X[s:s + 16384].T @ (X[s:s + 16384] * r_np[s:s + 16384, None])
                    for s in range(0, n, 16384)))
    add("estimator overhead: np.unique(y, return_inverse)", lambda: np.unique(y, return_inverse=True))
    from sklearn.utils.validation import check_array

    add("estimator overhead: sklearn check_array(X)", lambda: check_array(X, dtype=[np.float64]))

    for dtype in ("float64", "float32"):
        est = LogisticRegression(solver="newton", dtype=dtype)
        add(f"LogisticRegression(newton, {dtype}).fit", lambda e=est: e.fit(X, y))
        rows.append((f"  (its data passes: {est.n_passes_}, iterations: {est.n_iter_[0]})", float("nan")))

    t_pass = rows[0][1]
    print(f"Workload A building blocks, n={n:,}, d={d}, {args.threads} threads; min of {args.repeat}\n")
    print("| operation | ms | passes |\n|---|---|---|")
    for name, t in rows:
        print(f"| {name} | {t * 1e3:.1f} | {t / t_pass:.1f} |" if np.isfinite(t) else f"| {name} | | |")

    multinomial(args.repeat)

    prof = cProfile.Profile()
    est = LogisticRegression(solver="newton")
    est.fit(X, y)
    prof.enable()
    for _ in range(3):
        est.fit(X, y)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(18)
    print("\ncProfile of 3 fits (newton, float64), by own time:\n")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:6000])


if __name__ == "__main__":
    main()
