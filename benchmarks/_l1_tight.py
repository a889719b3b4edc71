#!/usr/bin/env python
"""One torchlogit L1 fit on a bench_sparse shape at a fraction of λ_max, with the benchmark's gap.

What the README's news20 weak-penalty rows were measured with: no intercept, λ = FRACTION·λ_max,
``tol=TOL`` (its KKT violation) or, with ``--gap``, ``gap_tol=TOL``; the relative duality gap is
:func:`bench_sparse.duality_gap`'s, the one every library's row in ``bench_sparse.py`` is scored by.

    python benchmarks/_l1_tight.py news20 0.01 1e-15
    python benchmarks/_l1_tight.py news20 0.01 2e-9 --gap
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_sparse as bs

from torchlogit import LogisticRegression


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shape", choices=["rcv1", "news20"])
    parser.add_argument("fraction", type=float, help="λ as a fraction of λ_max")
    parser.add_argument("tol", type=float)
    parser.add_argument("--gap", action="store_true", help="stop on gap_tol=TOL instead of tol=TOL")
    args = parser.parse_args()
    X, y, _ = bs.load_shape(args.shape, False, 0)
    lam = args.fraction * bs.lambda_max(X, y, False)
    options = {"gap_tol": args.tol} if args.gap else {"tol": args.tol}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model = LogisticRegression(l1_ratio=1.0, C=1 / (lam * X.shape[0]), fit_intercept=False, max_iter=200,
                                   **options).fit(X, y)
        seconds = time.perf_counter() - start
    P, D = bs.duality_gap(X, y, model.coef_[0], 0.0, lam, False)
    print(f"{args.shape} {args.fraction}·λ_max (λ {lam:.3e}), {options}: {seconds:.1f} s, "
          f"{int(model.n_iter_[0])} steps, KKT {model.grad_max_:.2e}, F {P:.10f}, "
          f"relative gap {(P - D) / P:.2e}, "
          f"{np.count_nonzero(model.coef_)} non-zeros, warnings: {[str(w.message)[:80] for w in caught]}")


if __name__ == "__main__":
    main()
