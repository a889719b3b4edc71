"""Default fits on scikit-learn's bundled classification datasets: ours against scikit-learn's.

For iris, wine, breast_cancer and digits, raw and standardised, binary (y == first class) and
multiclass, both libraries fit with their default parameters. One table: the wall time of the fit
(best of ``--repeat``), iterations, whether it converged (no ConvergenceWarning), the time ratio
ours / scikit-learn's, and each fit's distance to the optimum, F − F*, where F is scikit-learn's
objective divided by C·n (mean log-loss + ‖W‖²/(2·C·n)) evaluated here in numpy, and F* the lower of
two tight fits (scikit-learn's newton-cholesky at tol=1e-12 and our Newton at tol=1e-12).

    python benchmarks/bench_bundled.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy.special import log_expit, logsumexp
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.preprocessing import StandardScaler

from torchlogit import LogisticRegression

LOADERS = {"iris": datasets.load_iris, "wine": datasets.load_wine,
           "breast_cancer": datasets.load_breast_cancer, "digits": datasets.load_digits}


def objective(coef: np.ndarray, intercept: np.ndarray, X: np.ndarray, y: np.ndarray, C: float = 1.0) -> float:
    """Mean log-loss plus ‖W‖²/(2·C·n), with stable log-sigmoid / log-sum-exp."""
    scores = X @ coef.T + intercept
    if coef.shape[0] == 1:
        loss = -np.mean(log_expit(np.where(y == 1, 1.0, -1.0) * scores[:, 0]))
    else:
        loss = np.mean(logsumexp(scores, axis=1) - scores[np.arange(len(y)), y])
    return float(loss + np.sum(coef**2) / (2.0 * C * len(y)))


def timed_fit(make, X: np.ndarray, y: np.ndarray, repeat: int):
    """The fitted estimator, the best wall time of ``repeat`` fits, and whether it converged."""
    best, converged = np.inf, True
    for _ in range(repeat):
        est = make()
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            start = time.perf_counter()
            est.fit(X, y)
            best = min(best, time.perf_counter() - start)
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in record)
    return est, best, converged


def optimum(X: np.ndarray, y: np.ndarray) -> float:
    """F* from two tight fits (their warnings are irrelevant: the lower F is what counts)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = [SkLogisticRegression(solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y),
                LogisticRegression(solver="newton", tol=1e-12, max_iter=1000).fit(X, y)]
    return min(objective(f.coef_, f.intercept_, X, y) for f in fits)


def cases():
    """(dataset, variant, X, y): raw and standardised, binary and multiclass."""
    for name, load in LOADERS.items():
        X, y = load(return_X_y=True)
        for scale in ("raw", "std"):
            Xv = StandardScaler().fit_transform(X) if scale == "std" else X.astype(np.float64)
            yield name, f"{scale}/binary", Xv, (y == y[0]).astype(np.int64)
            yield name, f"{scale}/multi", Xv, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fits per timing (the best counts)")
    args = parser.parse_args()
    header = (f"{'dataset':<14}{'variant':<12}{'ours s':>9}{'it':>5}{'conv':>6}{'solver':>11}"
              f"{'sklearn s':>11}{'it':>5}{'conv':>6}{'ratio':>7}{'ours F-F*':>11}{'sk F-F*':>11}")
    print(header)
    print("-" * len(header))
    for name, variant, X, y in cases():
        ours, t_ours, ok_ours = timed_fit(LogisticRegression, X, y, args.repeat)
        theirs, t_sk, ok_sk = timed_fit(SkLogisticRegression, X, y, args.repeat)
        f_star = optimum(X, y)
        gap_ours = objective(ours.coef_, ours.intercept_, X, y) - f_star
        gap_sk = objective(theirs.coef_, theirs.intercept_, X, y) - f_star
        print(f"{name:<14}{variant:<12}{t_ours:>9.4f}{int(ours.n_iter_[0]):>5}{ok_ours!s:>6}"
              f"{ours.solver_:>11}{t_sk:>11.4f}{int(theirs.n_iter_[0]):>5}{ok_sk!s:>6}"
              f"{t_ours / t_sk:>7.2f}{gap_ours:>11.1e}{gap_sk:>11.1e}")


if __name__ == "__main__":
    main()
