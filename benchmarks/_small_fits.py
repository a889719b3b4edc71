#!/usr/bin/env python
"""Small fits: the per-fit overhead of torchlogit against scikit-learn on 1,000 rows or fewer.

Model selection (``GridSearchCV``, ``cross_val_score``) fits small models thousands of times, so
there the fixed cost of a fit (validation, set-up, a solver's Python-level work) decides, not the
arithmetic. Four cases: 100 × 5 and 1,000 × 20, binary and 3 classes, standardised Gaussian
features with labels drawn from a logistic model. Each is fitted ``--loops`` times by

* ``torchlogit.LogisticRegression()`` and ``sklearn.linear_model.LogisticRegression()``, both at
  their defaults (ours: exact to max |∇F| ≤ 1e-8; scikit-learn's lbfgs: tol 1e-4), and
* ``solver='newton'`` against scikit-learn's ``solver='newton-cholesky'``.

The fits interleave: ``ROUNDS`` rounds, each fitting every implementation ``loops / ROUNDS``
times in turn, and the per-fit time is the median over rounds of a round's mean, so a burst of
load on a shared machine hits every implementation alike. ratio = scikit-learn's time / ours
(> 1: torchlogit is faster). F = C·Σ log-loss + ½‖W‖² (intercept unpenalised) is recomputed in
float64 numpy for every fitted model; F_best is the least F over all fits and a numpy Newton
polish of the best one. accurate: (F − F_best) ≤ 1e-12·|F_best| and max |∇F| / (C·n) ≤ 1e-8
(the mean objective's gradient, the quantity ``tol`` bounds). ``predict_proba`` on 100 rows is
timed on each default model (µs per call).

Usage::

    python benchmarks/_small_fits.py              # 1,000 fits per implementation and case
    python benchmarks/_small_fits.py --loops 100  # a quicker run

From another benchmark: ``from _small_fits import small_fit_table; lines = small_fit_table(1000)``.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

try:  # run from a checkout without installing
    import torchlogit
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import torchlogit

C_REG = 1.0
SEED = 0
ROUNDS = 5  # interleaved rounds per case (see the module docstring)
PREDICT_ROWS = 100
REL_F_TOL = 1e-12
GRAD_TOL = 1e-8
CASES = ((100, 5, 2), (100, 5, 3), (1000, 20, 2), (1000, 20, 3))  # (rows, features, classes)


@dataclass
class Timed:
    """One implementation's result on one case."""

    name: str
    seconds: float  # per fit
    F: float
    grad_max: float  # max |∇F| of the mean objective (F / (C·n))
    n_iter: int
    model: Any


def make_data(n: int, d: int, n_classes: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Standardised Gaussian features and labels from a logistic model (every class present)."""
    rng = np.random.default_rng([seed, n, d, n_classes])
    X = rng.standard_normal((n, d))
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    n_out = 1 if n_classes == 2 else n_classes
    W = rng.standard_normal((n_out, d)) * (2.0 / np.sqrt(d))
    scores = X @ W.T + rng.standard_normal(n_out) * 0.5
    if n_classes == 2:
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-scores[:, 0]))).astype(np.int64)
    else:  # Gumbel-max: a draw from the softmax of the scores
        y = np.argmax(scores - np.log(-np.log(rng.random(scores.shape))), axis=1)
    y[:n_classes] = np.arange(n_classes)
    return X, y


def objective(X: np.ndarray, y: np.ndarray, theta: np.ndarray, hessian: bool = False,
              C: float = C_REG) -> tuple[float, np.ndarray, np.ndarray | None]:
    """scikit-learn's F = C·Σ log-loss + ½‖W‖², its gradient and (optionally) Hessian over ``theta``.

    ``theta`` is (n_outputs, d + 1), intercept last (unpenalised); float64 numpy, log-sum-exp form.
    """
    n, d = X.shape
    Xt = np.hstack([X, np.ones((n, 1))])
    Z = Xt @ theta.T
    if theta.shape[0] == 1:  # binomial as a 2-class softmax with one score fixed at 0
        Z = np.hstack([np.zeros((n, 1)), Z])
    lse = np.logaddexp.reduce(Z, axis=1)
    rows = np.arange(n)
    P = np.exp(Z - lse[:, None])
    R = P.copy()
    R[rows, y] -= 1.0
    if theta.shape[0] == 1:
        P, R = P[:, 1:], R[:, 1:]
    penalised = np.r_[np.ones(d), 0.0]
    F = float(C * np.sum(lse - Z[rows, y]) + 0.5 * np.sum(theta * theta * penalised))
    grad = C * (R.T @ Xt) + theta * penalised
    if not hessian:
        return F, grad, None
    K, d1 = theta.shape
    H = np.zeros((K, d1, K, d1))
    for k in range(K):
        for m in range(K):
            h = P[:, k] * (float(k == m) - P[:, m])
            H[k, :, m, :] = C * (Xt.T @ (Xt * h[:, None]))
    H = H.reshape(K * d1, K * d1) + np.diag(np.tile(penalised, K))
    return F, grad, H


def polish(X: np.ndarray, y: np.ndarray, theta: np.ndarray, steps: int = 3) -> float:
    """F after float64 numpy Newton steps (least-norm, for the multinomial gauge) from ``theta``."""
    F, grad, H = objective(X, y, theta, hessian=True)
    for _ in range(steps):
        step = np.linalg.lstsq(H, -grad.ravel(), rcond=None)[0].reshape(theta.shape)
        F_new, grad_new, H_new = objective(X, y, theta + step, hessian=True)
        if not F_new <= F:
            break
        theta, F, grad, H = theta + step, F_new, grad_new, H_new
    return F


def implementations() -> list[tuple[str, Callable[[], Any]]]:
    """(name, estimator factory): the defaults, then the Newton solvers."""
    from sklearn.linear_model import LogisticRegression as SkLogit

    from torchlogit import LogisticRegression as TorchLogit

    return [
        ("torchlogit default", lambda: TorchLogit()),
        ("scikit-learn default (lbfgs)", lambda: SkLogit()),
        ("torchlogit newton", lambda: TorchLogit(solver="newton")),
        ("scikit-learn newton-cholesky", lambda: SkLogit(solver="newton-cholesky")),
    ]


def _theta(model: Any) -> np.ndarray:
    coef = np.atleast_2d(np.asarray(model.coef_, dtype=np.float64))
    return np.hstack([coef, np.asarray(model.intercept_, dtype=np.float64).reshape(-1, 1)])


def time_case(X: np.ndarray, y: np.ndarray, loops: int) -> list[Timed]:
    """Every implementation fitted ``loops`` times, interleaved in ``ROUNDS`` rounds."""
    impls = implementations()
    per_round = max(1, loops // ROUNDS)
    rounds: dict[str, list[float]] = {name: [] for name, _ in impls}
    models = {name: make().fit(X, y) for name, make in impls}  # warm-up
    for _ in range(ROUNDS):
        for name, make in impls:
            gc.collect()
            start = time.perf_counter()
            for _ in range(per_round):
                models[name] = make().fit(X, y)
            rounds[name].append((time.perf_counter() - start) / per_round)
    timed = []
    for name, _ in impls:
        model = models[name]
        F, grad, _ = objective(X, y, _theta(model))
        grad_max = float(np.abs(grad).max()) / (C_REG * len(y))
        seconds = statistics.median(rounds[name])
        timed.append(Timed(name, seconds, F, grad_max, int(np.max(model.n_iter_)), model))
    return timed


def time_predict(model: Any, X: np.ndarray, loops: int) -> float:
    """Seconds per ``predict_proba`` call on ``X`` (median of ``ROUNDS`` rounds)."""
    model.predict_proba(X)
    per_round = max(1, loops // ROUNDS)
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(per_round):
            model.predict_proba(X)
        times.append((time.perf_counter() - start) / per_round)
    return statistics.median(times)


def _load() -> str:
    try:
        with open("/proc/loadavg") as fh:
            return " ".join(fh.read().split()[:3])
    except OSError:
        return "n/a"


def _blas_threads() -> str:
    """numpy/scipy's BLAS thread counts (scikit-learn's side), from threadpoolctl where installed."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown"
    pools = [pool for pool in threadpool_info() if pool.get("user_api") == "blas"]
    counts = sorted({str(pool["num_threads"]) for pool in pools})
    return "/".join(counts) or "unknown"


def _accuracy(t: Timed, F_best: float) -> str:
    gap = t.F - F_best
    ok = gap <= REL_F_TOL * abs(F_best) and t.grad_max <= GRAD_TOL
    return f"{max(gap, 0.0):.1e} | {t.grad_max:.1e} | {'yes' if ok else 'no'}"


def _case_rows(n: int, d: int, k: int, loops: int) -> list[str]:
    X, y = make_data(n, d, k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a ConvergenceWarning would cost both sides alike; shown by accurate
        timed = time_case(X, y, loops)
        best = min(timed, key=lambda t: t.F)
        F_best = min(best.F, polish(X, y, _theta(best.model)))
        predict = [time_predict(t.model, X[:PREDICT_ROWS], loops) for t in timed[:2]]
    rows = []
    for ours, theirs in ((timed[0], timed[1]), (timed[2], timed[3])):
        ratio = theirs.seconds / ours.seconds
        for t in (ours, theirs):
            shown = f"**{ratio:.2f}×**" if t is ours else ""
            rows.append(f"| {n} × {d}, {k} classes | {t.name} | {t.seconds * 1e3:.2f} | {shown} | {t.n_iter} "
                        f"| {_accuracy(t, F_best)} |")
    rows.append(f"| {n} × {d}, {k} classes | predict_proba, {PREDICT_ROWS} rows | torchlogit "
                f"{predict[0] * 1e6:.0f} µs, scikit-learn {predict[1] * 1e6:.0f} µs | "
                f"**{predict[1] / predict[0]:.2f}×** | | | | |")
    return rows


def small_fit_table(loops: int) -> list[str]:
    """The small-fit table as markdown lines: per-fit ms, ratio, iterations, F − F_best, accuracy."""
    import sklearn
    import torch

    before = _load()
    start = time.perf_counter()
    lines = [
        "### Small fits",
        "",
        f"{loops} fits per implementation and case, interleaved in {ROUNDS} rounds (median round); "
        f"torchlogit {torchlogit.__version__}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), "
        f"scikit-learn {sklearn.__version__}, BLAS threads {_blas_threads()}. ratio = scikit-learn / "
        "torchlogit (> 1: torchlogit faster). "
        "F = C·Σ log-loss + ½‖W‖² in float64 numpy; accurate: F − F_best ≤ 1e-12·|F_best| and "
        "max |∇F|/(C·n) ≤ 1e-8.",
        "",
        "| case | implementation | ms per fit | ratio | iterations | F − F_best | max \\|∇F\\|/(C·n) "
        "| accurate |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, d, k in CASES:
        lines += _case_rows(n, d, k, loops)
    elapsed = time.perf_counter() - start
    lines += ["", f"Load average {before} before, {_load()} after; {elapsed:.0f} s in all."]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loops", type=int, default=1000, help="fits per implementation and case")
    args = parser.parse_args(argv)
    if args.loops < 1:
        parser.error("--loops must be at least 1")
    print("\n".join(small_fit_table(args.loops)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
