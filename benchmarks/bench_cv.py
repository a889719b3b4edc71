#!/usr/bin/env python
"""LogisticRegressionCV with its defaults: ours against scikit-learn's on digits (issue 13).

Both choose ``C_`` from the same default grid by 5-fold accuracy; the script prints each one's
``C_``, fit time, warnings and training score, raw and standardised, for the README's claim that
the defaults give scikit-learn's answers.

    python benchmarks/bench_cv.py [--variants std,raw]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegressionCV as SkLogisticRegressionCV
from sklearn.preprocessing import StandardScaler

from torchlogit import LogisticRegressionCV


def fit_once(cls: type, X: np.ndarray, y: np.ndarray) -> tuple[object, float, list[str]]:
    """A default fit: the estimator, its wall time and the warning categories it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        estimator = cls().fit(X, y)
        seconds = time.perf_counter() - start
    return estimator, seconds, sorted({type(w.message).__name__ for w in caught})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="std,raw", help="comma-separated subset of std,raw")
    args = parser.parse_args()
    X_raw, y = load_digits(return_X_y=True)
    for variant in args.variants.split(","):
        X = StandardScaler().fit_transform(X_raw) if variant == "std" else X_raw
        for name, cls in (("torchlogit", LogisticRegressionCV), ("scikit-learn", SkLogisticRegressionCV)):
            estimator, seconds, kinds = fit_once(cls, X, y)
            print(f"digits {variant:3s} {name:12s} C_ {np.unique(estimator.C_)} {seconds:6.1f} s "
                  f"score {estimator.score(X, y):.6f} warnings {kinds}", flush=True)


if __name__ == "__main__":
    main()
