#!/usr/bin/env python
"""Inference benchmark: unpenalised fit + full summary, torchlogit against statsmodels, one process.

Workload (issue 5): n = 1,000,000 rows, d = 50 standard-normal features, labels drawn from a
logistic model. Timed, each once after a small warm-up of both libraries:

* torchlogit: ``LogisticRegression(C=np.inf).fit(X, y)``, then ``.summary(X, y)`` and rendering
  the table to text (``str(res.summary())``);
* statsmodels: ``sm.Logit(y, sm.add_constant(X)).fit(disp=0)``, then ``.summary()`` rendered to text
  (which computes ``llnull`` by refitting the null model).

Then the numbers are compared (parameters absolute, everything else relative) and the ratio of the
two wall times is printed. ``--cov HC0|cluster`` times a robust summary on both sides.

Usage::

    python benchmarks/bench_inference.py                 # n=1e6, d=50, CPU
    python benchmarks/bench_inference.py --n 100000      # quicker
    python benchmarks/bench_inference.py --device cuda   # torchlogit on the GPU (statsmodels on CPU)
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

try:  # run from a checkout without installing
    import torchlogit  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch

from torchlogit import LogisticRegression


def make_data(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    beta = rng.normal(0.0, 0.3, d)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(X @ beta - 0.5)))).astype(np.float64)
    groups = rng.integers(0, 200, size=n)
    return X, y, groups


def run_torchlogit(X, y, groups, cov_type, device):
    start = time.perf_counter()
    est = LogisticRegression(C=np.inf, device=device).fit(X, y)
    fitted = time.perf_counter()
    res = est.summary(X, y, cov_type=cov_type, groups=groups)
    text = str(res.summary())
    done = time.perf_counter()
    return res, text, fitted - start, done - fitted


def run_statsmodels(X, y, groups, cov_type):
    import statsmodels.api as sm

    kwargs = {"cov_type": cov_type}
    if cov_type == "cluster":
        kwargs["cov_kwds"] = {"groups": groups}
    start = time.perf_counter()
    res = sm.Logit(y, sm.add_constant(X)).fit(disp=0, **kwargs)
    fitted = time.perf_counter()
    text = str(res.summary())
    done = time.perf_counter()
    return res, text, fitted - start, done - fitted


def compare(ours, ref) -> list[tuple[str, float]]:
    def rel(a, b):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))

    return [
        ("params (max abs diff)", float(np.max(np.abs(ours.params - ref.params)))),
        ("bse (max rel diff)", rel(ours.bse, ref.bse)),
        ("z", rel(ours.zvalues, ref.tvalues)),
        ("p-values |Δp|/(p + 1e-6)", float(np.max(np.abs(ours.pvalues - ref.pvalues)
                                                          / (np.abs(ref.pvalues) + 1e-6)))),
        ("conf_int", rel(ours.conf_int(), ref.conf_int())),
        ("llf", rel(ours.llf, ref.llf)),
        ("llnull", rel(ours.llnull, ref.llnull)),
        ("llr", rel(ours.llr, ref.llr)),
        ("prsquared", rel(ours.prsquared, ref.prsquared)),
        ("aic", rel(ours.aic, ref.aic)),
        ("bic", rel(ours.bic, ref.bic)),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cov", default="nonrobust", choices=["nonrobust", "HC0", "cluster"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=1,
                        help="time each library this many times and keep the fastest (noisy machines)")
    args = parser.parse_args(argv)

    cpu = platform.processor() or platform.machine()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {cpu}, device {args.device}")
    X, y, groups = make_data(args.n, args.d, args.seed)
    print(f"data: n={args.n:,}, d={args.d}, cov_type={args.cov}")
    small = slice(0, 20_000)  # warm-up: imports, kernels, allocator
    run_torchlogit(X[small], y[small], groups[small], args.cov, args.device)
    run_statsmodels(X[small], y[small], groups[small], args.cov)

    ours_runs = [run_torchlogit(X, y, groups, args.cov, args.device) for _ in range(args.repeat)]
    ref_runs = [run_statsmodels(X, y, groups, args.cov) for _ in range(args.repeat)]
    ours, _, ours_fit, ours_summary = min(ours_runs, key=lambda r: r[2] + r[3])
    ref, _, ref_fit, ref_summary = min(ref_runs, key=lambda r: r[2] + r[3])
    if args.repeat > 1:
        totals = [[round(r[2] + r[3], 2) for r in runs] for runs in (ours_runs, ref_runs)]
        print(f"fastest of {args.repeat} runs each; totals: torchlogit {totals[0]}, statsmodels {totals[1]}")
    ours_total, ref_total = ours_fit + ours_summary, ref_fit + ref_summary
    print(f"{'':28s}{'fit':>10s}{'summary':>10s}{'total':>10s}")
    print(f"{'torchlogit':28s}{ours_fit:10.2f}{ours_summary:10.2f}{ours_total:10.2f}  s")
    print(f"{'statsmodels':28s}{ref_fit:10.2f}{ref_summary:10.2f}{ref_total:10.2f}  s")
    print(f"speed-up (statsmodels / torchlogit): total {ref_total / ours_total:.2f}x, "
          f"fit {ref_fit / ours_fit:.2f}x, summary {ref_summary / ours_summary:.2f}x")
    print("agreement with statsmodels:")
    diffs = compare(ours, ref)
    for name, value in diffs:
        print(f"  {name:24s} {value:.2e}")
    match = diffs[0][1] <= 1e-8 and all(value <= 1e-6 for _, value in diffs[1:])
    print(f"numbers match (params 1e-8 absolute, p-values allclose(rtol=1e-6, atol=1e-12), the rest 1e-6 "
          f"relative): {match}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
