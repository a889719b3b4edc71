#!/usr/bin/env python
"""Solver benchmark: torchlogit against scikit-learn and glum on one objective, in one process.

Every model minimises the same objective (intercept unpenalised)::

    F(W, b) = (1/n) Σᵢ log-loss(yᵢ, xᵢWᵀ + b) + ‖W‖² / (2·C·n)

scikit-learn's ``C·Σ loss + ½‖W‖²`` divided by ``C·n``; glum's ``alpha = 1/(C·n)`` (binomial only).
For every fitted model this script recomputes F and max |∇F| itself, in float64 numpy, so the
columns do not depend on what each library reports about itself.

Timing: each implementation is fitted once as a warm-up, then ``--repeat`` times (median reported);
one implementation at a time, never interleaving libraries inside a timed region. A *pass* is the
median time of one numpy float64 ``X @ w`` over the workload's X, measured in the same run; fit
times are also reported in passes, which makes numbers comparable across machines.

Workloads (see peer-baselines.md): A n=1,000,000 d=32 binary; B n=200,000 d=200 binary;
C n=100,000 d=50 10-class multinomial; D the tutorial's 2-D demo data (33 % test split, fit on train).

Sections after the workloads (``--sections``): small fits in a loop of 1,000 (``_small_fits.py``),
time against n and d with the slopes and ``docs/scaling.png`` (``_scaling.py``), and A and digits
idle and with one core kept busy by a loop the benchmark starts and stops (``_busy.py``).

Usage::

    python benchmarks/bench_solvers.py                          # every section, CPU (~30 min)
    python benchmarks/bench_solvers.py --sections workloads     # the A-D table only
    python benchmarks/bench_solvers.py --quick --workloads A,D  # smoke run
    python benchmarks/bench_solvers.py --device cuda --peers fast --markdown bench-out/cuda.md
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

try:  # run from a checkout without installing
    import torchlogit
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch
from _load import cpu_ticks  # benchmarks/ is on sys.path when run as a script

import torchlogit
from torchlogit import LogisticRegression as TorchLogit
from torchlogit.tutorial.datasets import make_demo_data

C_REG = 1.0
REL_F_TOL = 1e-12  # "accurate": (F − F_best) / |F_best| <= this ...
GRAD_TOL = 1e-8  # ... and max |∇F| <= this
SEED = 0
CONTENDED = 0.25  # other processes using more than this many cores make a row "LOADED"
MIN_JUDGED_S = 0.2  # fits shorter than this are too short to measure other processes' CPU use

TARGETS = {
    "A": "≥ 3× faster than scikit-learn newton-cholesky and ≤ 30 passes",
    "B": "≥ 2× faster than scikit-learn newton-cholesky, accurate",
    "C": "≥ 2× faster than scikit-learn lbfgs (default tol), accurate",
    "D": "exact (accurate) optimum in < 10 ms",
}


# --------------------------------------------------------------------------- data
@dataclass
class Workload:
    key: str
    title: str
    X: np.ndarray
    y: np.ndarray
    n_classes: int


def correlated_features(rng: np.random.Generator, n: int, d: int, cond: float = 10.0) -> np.ndarray:
    """Gaussian rows with a random covariance whose square root has condition number ``cond``
    (singular values of the mixing matrix geometric in [1, cond]), then standardised."""
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    mixing = (Q * np.geomspace(1.0, cond, d)).T  # rows of Z @ mixing have covariance Q S² Qᵀ
    X = np.empty((n, d))
    step = 1 << 17
    for start in range(0, n, step):
        stop = min(n, start + step)
        X[start:stop] = rng.standard_normal((stop - start, d)) @ mixing
    X -= X.mean(axis=0)
    X /= X.std(axis=0)
    return X


def synthetic(key: str, n: int, d: int, n_classes: int, seed: int) -> Workload:
    rng = np.random.default_rng(seed)
    X = correlated_features(rng, n, d)
    scale = 1.5 / np.sqrt(d)  # scores have a standard deviation of about 1.5
    if n_classes == 2:
        w, b = rng.normal(0.0, scale, d), 0.25
        p = 1.0 / (1.0 + np.exp(-(X @ w + b)))
        y = (rng.random(n) < p).astype(np.int64)
        kind = "binary"
    else:
        W, b = rng.normal(0.0, scale, (n_classes, d)), rng.normal(0.0, 0.3, n_classes)
        scores = X @ W.T + b
        P = np.exp(scores - scores.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        cdf = np.cumsum(P, axis=1)
        y = np.minimum((rng.random(n)[:, None] > cdf).sum(axis=1), n_classes - 1).astype(np.int64)
        kind = f"{n_classes} classes, multinomial"
    return Workload(key, f"{key}: n = {n:,}, d = {d}, {kind}, C = {C_REG:g}", X, y, n_classes)


def demo() -> Workload:
    from sklearn.model_selection import train_test_split

    X, y = make_demo_data()
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.33, random_state=42)
    X_train = np.ascontiguousarray(X_train, dtype=np.float64)
    return Workload(
        "D", f"D: the tutorial's 2-D demo data, {len(y_train):,} training rows, binary, C = {C_REG:g}",
        X_train, y_train, 2,
    )


def make_workload(key: str, quick: bool, seed: int) -> Workload:
    sizes = {"A": (1_000_000, 32, 2), "B": (200_000, 200, 2), "C": (100_000, 50, 10)}
    if key == "D":
        return demo()
    n, d, k = sizes[key]
    if quick:
        n //= 10
    return synthetic(key, n, d, k, seed)


# ---------------------------------------------------------------- objective (float64 numpy)
def _pack(coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """Coefficients as one (n_outputs, d + 1) float64 matrix, intercept last."""
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(intercept, dtype=np.float64))
    return np.hstack([coef, intercept[:, None]])


def objective(X: np.ndarray, y: np.ndarray, theta: np.ndarray, C: float = C_REG,
              hessian: bool = False) -> tuple[float, np.ndarray, np.ndarray | None]:
    """F, ∇F (shape of theta) and, optionally, the Hessian over ``theta.ravel()``."""
    n = X.shape[0]
    lam = 1.0 / (C * n)
    W, b = theta[:, :-1], theta[:, -1]
    if theta.shape[0] == 1:
        z = X @ W[0] + b[0]
        loss = np.mean(np.logaddexp(0.0, z) - y * z)
        p = 0.5 * (1.0 + np.tanh(0.5 * z))  # stable sigmoid
        r = (p - y) / n
        grad = np.concatenate([X.T @ r + lam * W[0], [r.sum()]])[None, :]
        hess = None
        if hessian:
            Xt = np.hstack([X, np.ones((n, 1))])
            hess = Xt.T @ (Xt * (p * (1.0 - p) / n)[:, None])
            hess[np.arange(X.shape[1]), np.arange(X.shape[1])] += lam
    else:
        Z = X @ W.T + b
        zmax = Z.max(axis=1, keepdims=True)
        lse = zmax[:, 0] + np.log(np.exp(Z - zmax).sum(axis=1))
        rows = np.arange(n)
        loss = np.mean(lse - Z[rows, y])
        P = np.exp(Z - lse[:, None])
        R = P.copy()
        R[rows, y] -= 1.0
        R /= n
        grad = np.hstack([R.T @ X + lam * W, R.sum(axis=0)[:, None]])
        hess = None
        if hessian:
            K, d1 = theta.shape
            Xt = np.hstack([X, np.ones((n, 1))])
            hess = np.zeros((K, d1, K, d1))
            for k in range(K):
                for l in range(k, K):  # noqa: E741
                    h = P[:, k] * (float(k == l) - P[:, l]) / n
                    block = Xt.T @ (Xt * h[:, None])
                    hess[k, :, l, :] = block
                    hess[l, :, k, :] = block
            hess = hess.reshape(K * d1, K * d1)
            idx = np.arange(K * d1)
            hess[idx, idx] += np.tile(np.r_[np.full(d1 - 1, lam), 0.0], K)
    F = float(loss + 0.5 * lam * np.sum(W * W))
    return F, grad, hess


def polish(X: np.ndarray, y: np.ndarray, theta: np.ndarray, steps: int = 2) -> tuple[float, np.ndarray]:
    """A reference optimum: float64 numpy Newton steps (min-norm) from the best fitted point."""
    F, grad, hess = objective(X, y, theta, hessian=True)
    for _ in range(steps):
        step = np.linalg.lstsq(hess, -grad.ravel(), rcond=None)[0].reshape(theta.shape)
        F_new, grad_new, hess_new = objective(X, y, theta + step, hessian=True)
        if not F_new <= F:
            break
        theta, F, grad, hess = theta + step, F_new, grad_new, hess_new
    return F, theta


# ------------------------------------------------------------------------- fitting
@dataclass
class Impl:
    name: str
    ours: bool
    fit: Callable[[np.ndarray, np.ndarray], Any]  # returns a fitted estimator
    extract: Callable[[Any], tuple[np.ndarray, int, str]]  # -> (theta, iterations, notes)


@dataclass
class Result:
    name: str
    ours: bool
    seconds: float = float("nan")
    times: list[float] = field(default_factory=list)
    F: float = float("nan")
    grad_max: float = float("nan")
    n_iter: int = -1
    notes: str = ""
    error: str = ""
    rel_gap: float = float("nan")
    accurate: bool = False
    others_cpu: float = 0.0  # cores used by other processes during the timed fits
    notes_extra: list[str] = field(default_factory=list)


def _torchlogit_extract(est: Any) -> tuple[np.ndarray, int, str]:
    notes = [f"solver {est.solver_}", f"{est.n_passes_} data passes"]
    if not est.converged_:
        notes.append("NOT converged")
    return _pack(est.coef_, est.intercept_), int(np.max(est.n_iter_)), ", ".join(notes)


def _sklearn_extract(est: Any) -> tuple[np.ndarray, int, str]:
    return _pack(est.coef_, est.intercept_), int(np.max(est.n_iter_)), ""


def _glum_extract(est: Any) -> tuple[np.ndarray, int, str]:
    return _pack(est.coef_, est.intercept_), int(np.max(est.n_iter_)), ""


def implementations(wl: Workload, device: str, peers: str) -> list[Impl]:
    def ours(**kw: Any) -> Callable[[np.ndarray, np.ndarray], Any]:
        return lambda X, y: TorchLogit(C=C_REG, device=device, **kw).fit(X, y)

    on = "" if device == "cpu" else f", {device}"
    impls = [
        Impl(f"torchlogit newton{on}", True, ours(solver="newton"), _torchlogit_extract),
        Impl(f"torchlogit lbfgs{on}", True, ours(solver="lbfgs"), _torchlogit_extract),
        Impl(f"torchlogit auto (default){on}", True, ours(solver="auto"), _torchlogit_extract),
        Impl(f"torchlogit newton float32{on}", True, ours(solver="newton", dtype="float32"),
             _torchlogit_extract),
    ]
    if peers == "none":
        return impls
    from sklearn.linear_model import LogisticRegression as SkLogit

    def sk(**kw: Any) -> Callable[[np.ndarray, np.ndarray], Any]:
        return lambda X, y: SkLogit(C=C_REG, **kw).fit(X, y)

    impls += [
        Impl("scikit-learn lbfgs, default tol", False, sk(), _sklearn_extract),
        Impl("scikit-learn newton-cholesky, default tol", False, sk(solver="newton-cholesky"),
             _sklearn_extract),
    ]
    if peers == "fast":
        return impls
    impls.insert(-1, Impl("scikit-learn lbfgs, tol 1e-10", False, sk(tol=1e-10, max_iter=100_000),
                          _sklearn_extract))
    if wl.n_classes == 2:
        try:
            from glum import GeneralizedLinearRegressor
        except ImportError:
            print("glum is not installed: skipping it", file=sys.stderr)
        else:
            alpha = 1.0 / (C_REG * wl.X.shape[0])
            impls.append(Impl(
                "glum (irls), default tol", False,
                lambda X, y: GeneralizedLinearRegressor(
                    family="binomial", alpha=alpha, l1_ratio=0.0, fit_intercept=True,
                ).fit(X, y),
                _glum_extract,
            ))
    return impls


class CpuMonitor:
    """CPU time used by *other* processes (in cores) between ``start()`` and ``stop()``.

    Reads /proc/stat (all busy ticks) minus this process's ticks; None where /proc is missing.
    The machine may be shared: other work running during a timed fit makes BLAS thread pools
    wait for each other and inflates times several-fold, so rows measured under load are flagged.
    """

    def __init__(self) -> None:
        self._t0: tuple[float, float, float] | None = None

    @staticmethod
    def _read() -> tuple[float, float, float] | None:
        ticks = cpu_ticks()
        return None if ticks is None else (*ticks, time.perf_counter())

    def start(self) -> None:
        self._t0 = self._read()

    def stop(self) -> float | None:
        t1 = self._read()
        if self._t0 is None or t1 is None or t1[2] <= self._t0[2]:
            return None
        others = (t1[0] - self._t0[0]) - (t1[1] - self._t0[1])
        return max(0.0, others / (t1[2] - self._t0[2]))


def others_cpu(seconds: float = 1.0) -> float | None:
    mon = CpuMonitor()
    mon.start()
    time.sleep(seconds)
    return mon.stop()


def wait_quiet(limit_s: float, threshold: float) -> float | None:
    """Wait (up to ``limit_s``) until other processes use less than ``threshold`` cores."""
    deadline = time.perf_counter() + limit_s
    load = others_cpu()
    while load is not None and load > threshold and time.perf_counter() < deadline:
        load = others_cpu(2.0)
    return load


def time_fits(impl: Impl, X: np.ndarray, y: np.ndarray, repeat: int, *, retries: int = 0,
              wait_quiet_s: float = 0.0) -> Result:
    """One warm-up fit, then ``repeat`` timed fits; median time.

    Each timed fit is watched for other processes' CPU use; with ``retries`` > 0 a fit that ran
    while others used more than ``CONTENDED`` cores does not count, and up to ``repeat·retries``
    extra fits are made (each after waiting up to ``wait_quiet_s`` for the machine to go idle).
    """
    res = Result(impl.name, impl.ours)
    clean: list[float] = []
    loaded: list[float] = []
    busy: list[float] = []
    monitor = CpuMonitor()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            est = impl.fit(X, y)  # warm-up (also: thread pools of this library spin up)
            for _ in range(repeat * (1 + retries)):
                if len(clean) >= repeat or (retries == 0 and len(clean) + len(loaded) >= repeat):
                    break
                if wait_quiet_s > 0:
                    wait_quiet(wait_quiet_s, CONTENDED)
                gc.collect()
                monitor.start()
                t0 = time.perf_counter()
                est = impl.fit(X, y)
                elapsed = time.perf_counter() - t0
                load = monitor.stop() or 0.0
                busy.append(load)
                # /proc counts in 10 ms ticks: shorter fits cannot be judged, count them as clean
                idle = load <= CONTENDED or elapsed < MIN_JUDGED_S
                (clean if idle else loaded).append(elapsed)
        except Exception as exc:  # a peer that cannot do this workload: report, don't abort
            res.error = f"{type(exc).__name__}: {exc}"
            return res
    # without retries every fit counts; with them, only fits on an idle machine (if any were had)
    use_loaded = not (retries > 0 and clean)
    res.times = clean + loaded if use_loaded else clean
    res.seconds = statistics.median(res.times)
    res.others_cpu = statistics.median(busy)
    n_loaded_used = len(loaded) if use_loaded else 0
    if n_loaded_used:
        res.notes_extra.append(
            f"LOADED: {n_loaded_used} of {len(res.times)} timed fits ran while other processes used "
            f"> {CONTENDED} cores"
        )
    if retries > 0 and clean and loaded:
        res.notes_extra.append(f"{len(loaded)} fit(s) under load discarded")
    if retries > 0 and 0 < len(clean) < repeat:
        res.notes_extra.append(f"median of {len(clean)} idle fits")
    if len(res.times) > 1 and max(res.times) > 1.25 * min(res.times):
        res.notes_extra.append(f"spread {_fmt_s(min(res.times))}–{_fmt_s(max(res.times))}")
    theta, res.n_iter, res.notes = impl.extract(est)
    res.F, grad, _ = objective(X, y, theta)
    res.grad_max = float(np.abs(grad).max())
    kinds = sorted({w.category.__name__ for w in caught})
    if kinds:
        res.notes_extra.append("warned: " + "/".join(kinds))
    res.notes = ", ".join(filter(None, [res.notes, *res.notes_extra]))
    res.theta = theta  # type: ignore[attr-defined]
    return res


def pass_time(X: np.ndarray, reps: int = 25) -> float:
    w = np.random.default_rng(1).standard_normal(X.shape[1])
    for _ in range(3):
        X @ w
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        X @ w
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# ------------------------------------------------------------------------ reporting
def _fmt_s(s: float) -> str:
    if not np.isfinite(s):
        return "–"
    return f"{s * 1e3:.2f} ms" if s < 0.1 else f"{s:.3f} s"


def _fmt_e(v: float) -> str:
    if not np.isfinite(v):
        return "–"
    return "0" if v <= 0 else f"{v:.1e}"


def target_check(key: str, r: Result, by_name: dict[str, Result], t_pass: float) -> str:
    def peer_time(name: str) -> float | None:
        p = by_name.get(name)
        return p.seconds if p is not None and not p.error else None

    acc = "accurate" if r.accurate else "NOT accurate"
    if key == "A":
        t = peer_time("scikit-learn newton-cholesky, default tol")
        passes = r.seconds / t_pass
        if t is None:
            return f"{passes:.0f} passes (no peer run)"
        ok = t / r.seconds >= 3 and passes <= 30
        return f"{t / r.seconds:.2f}× vs n-c, {passes:.0f} passes {'✓' if ok else '✗'}"
    if key in ("B", "C"):
        name = ("scikit-learn newton-cholesky, default tol" if key == "B"
                else "scikit-learn lbfgs, default tol")
        t = peer_time(name)
        if t is None:
            return f"{acc} (no peer run)"
        ok = t / r.seconds >= 2 and r.accurate
        short = "n-c" if key == "B" else "lbfgs-default"
        return f"{t / r.seconds:.2f}× vs {short}, {acc} {'✓' if ok else '✗'}"
    ok = r.seconds < 0.010 and r.accurate
    return f"{r.seconds * 1e3:.2f} ms, {acc} {'✓' if ok else '✗'}"


def table(wl: Workload, results: list[Result], t_pass: float, F_best: float) -> list[str]:
    by_name = {r.name: r for r in results}
    peers = [r for r in results if not r.ours and not r.error]
    accurate_peers = [r.seconds for r in peers if r.accurate]
    # fallback when no peer meets the gradient bound: the fastest peer at the optimal F
    close_peers = [r.seconds for r in peers if r.rel_gap <= REL_F_TOL]
    best_peer = min(accurate_peers) if accurate_peers else min(close_peers, default=None)
    mark = "" if accurate_peers or best_peer is None else "†"
    lines = [
        f"### {wl.title} (one pass = {t_pass * 1e3:.3f} ms)",
        "",
        f"Target: {TARGETS[wl.key]}. F_best = {F_best:.15g}. ratio = (fastest accurate peer) / time"
        + ("; † no peer is accurate: ratio against the fastest peer with (F − F_best)/|F_best| ≤ "
           f"{REL_F_TOL:g} (gradient bound waived)." if mark else "."),
        "",
        "| implementation | time | passes | F − F_best | max abs grad | iters | accurate | ratio | target "
        "| notes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.error:
            lines.append(f"| {r.name} | – | – | – | – | – | – | – | – | failed: {r.error[:80]} |")
            continue
        ratio = "–"
        target = "–"
        if r.ours:
            ratio = f"{best_peer / r.seconds:.2f}×{mark}" if best_peer else "no accurate peer"
            target = target_check(wl.key, r, by_name, t_pass)
        lines.append(
            f"| {r.name} | {_fmt_s(r.seconds)} | {r.seconds / t_pass:.0f} | {_fmt_e(r.F - F_best)} "
            f"| {r.grad_max:.1e} | {r.n_iter} | {'yes' if r.accurate else 'no'} | {ratio} | {target} "
            f"| {r.notes} |"
        )
    return [*lines, ""]


def environment(args: argparse.Namespace) -> list[str]:
    import sklearn

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = [f"torchlogit {torchlogit.__version__}", f"torch {torch.__version__}",
                f"numpy {np.__version__}", f"scikit-learn {sklearn.__version__}"]
    try:
        import glum

        versions.append(f"glum {glum.__version__}")
    except ImportError:
        pass
    device = args.device
    if device.startswith("cuda") and torch.cuda.is_available():
        device += f" ({torch.cuda.get_device_name(0)})"
    return [
        f"Machine: {cpu}, {os.cpu_count()} logical CPUs; threads: torch {torch.get_num_threads()}, "
        f"BLAS limited to {args.threads}. torchlogit device: {device} (peers on CPU).",
        f"Versions: {', '.join(versions)}. Python {platform.python_version()}.",
        f"Median of {args.repeat} fits after one warm-up each; accurate = (F − F_best)/|F_best| ≤ "
        f"{REL_F_TOL:g} and max |∇F| ≤ {GRAD_TOL:g}; F and ∇F recomputed in float64 numpy; F_best = "
        "min over all fits and a float64 numpy Newton polish of the best one. LOADED: other processes "
        f"used more than {CONTENDED} cores during the timed fits (times inflated)."
        + (" QUICK run (n / 10)." if args.quick else ""),
        "",
    ]


def run_workload(key: str, args: argparse.Namespace) -> list[str]:
    t0 = time.perf_counter()
    wl = make_workload(key, args.quick, args.seed)
    if args.wait_quiet > 0:
        wait_quiet(args.wait_quiet, CONTENDED)
    monitor = CpuMonitor()
    monitor.start()
    t_pass = pass_time(wl.X)
    pass_load = monitor.stop() or 0.0
    results = []
    for impl in implementations(wl, args.device, args.peers):
        r = time_fits(impl, wl.X, wl.y, args.repeat, retries=args.retries, wait_quiet_s=args.wait_quiet)
        results.append(r)
        status = r.error or f"{_fmt_s(r.seconds)}, F {r.F:.15g}, max|grad| {r.grad_max:.1e}"
        print(f"  [{key}] {r.name}: {status}", file=sys.stderr, flush=True)
    done = [r for r in results if not r.error]
    best = min(done, key=lambda r: r.F)
    F_ref, _ = polish(wl.X, wl.y, best.theta)  # type: ignore[attr-defined]
    F_best = min(F_ref, best.F)
    for r in done:
        r.rel_gap = (r.F - F_best) / max(abs(F_best), np.finfo(float).tiny)
        r.accurate = r.rel_gap <= REL_F_TOL and r.grad_max <= GRAD_TOL
    lines = table(wl, results, t_pass, F_best)
    if pass_load > CONTENDED:
        lines.insert(1, f"\nLOADED pass: other processes used {pass_load:.1f} cores while the pass was "
                        "timed, so every 'passes' figure below is too low.")
    print(f"  [{key}] done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return lines


def _sections(keys: list[str], args: argparse.Namespace) -> Iterator[list[str]]:
    """The tables ``--sections`` asks for, one block of markdown lines each, in order."""
    sections = {name.strip() for name in args.sections.split(",")}
    if "workloads" in sections:
        for key in keys:
            yield run_workload(key, args)
    if "small" in sections:
        from _small_fits import small_fit_table

        yield ["### Small fits", "", *small_fit_table(args.small_loops)]
    if "scaling" in sections:
        from _scaling import scaling_table

        yield ["### Scaling", "", *scaling_table(args.max_n, args.plot, repeat=args.repeat)]
    if "busy" in sections:
        from _busy import busy_table

        rows = 1_000_000 if not args.quick else 100_000
        yield ["### A busy machine", "", *busy_table(rows=rows, repeat=args.repeat, seed=args.seed)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default="A,B,C,D", help="comma-separated subset of A,B,C,D")
    parser.add_argument("--repeat", type=int, default=3, help="timed fits per implementation (median)")
    parser.add_argument("--quick", action="store_true", help="n / 10 for A, B, C: a smoke run")
    parser.add_argument("--device", default="cpu",
                        help="torchlogit's device ('cpu', 'cuda'); peers stay on CPU")
    parser.add_argument("--peers", choices=("all", "fast", "none"), default="all",
                        help="'fast': only scikit-learn lbfgs (default tol) and newton-cholesky")
    parser.add_argument("--threads", type=int, default=2, help="torch threads and BLAS thread limit")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="on a shared machine: before each implementation wait up to SECONDS for "
                        "other processes to go idle")
    parser.add_argument("--retries", type=int, default=0,
                        help="on a shared machine: discard timed fits during which other processes "
                        f"used more than {CONTENDED} cores, making up to repeat·RETRIES extra fits")
    parser.add_argument("--markdown", type=Path, help="also write the tables to this markdown file")
    parser.add_argument("--sections", default="workloads,small,scaling,busy",
                        help="comma-separated subset of workloads (A-D), small (small fits in a loop), "
                        "scaling (time against n and d, with a PNG), busy (one core kept busy)")
    parser.add_argument("--small-loops", type=int, default=1000, help="fits per case in the small-fit table")
    parser.add_argument("--max-n", type=int, default=10_000_000, help="largest n of the scaling table")
    parser.add_argument("--plot", type=Path, default=Path(__file__).resolve().parents[1] / "docs/scaling.png",
                        help="where the scaling plot goes")
    args = parser.parse_args(argv)
    keys = [k.strip().upper() for k in args.workloads.split(",") if k.strip()]
    unknown = set(keys) - set("ABCD")
    if unknown:
        parser.error(f"unknown workloads {sorted(unknown)}; choose from A, B, C, D")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    torch.set_num_threads(args.threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)  # numpy/scipy BLAS as torch: comparable on bigger machines
    except ImportError:
        pass

    start = time.perf_counter()
    lines = ["## Solver benchmark", "", *environment(args)]
    print("\n".join(lines), flush=True)
    for block in _sections(keys, args):
        print("\n".join(block), flush=True)
        lines += block
    total = time.perf_counter() - start
    footer = f"Total benchmark time: {total:.0f} s."
    print(footer, flush=True)
    lines.append(footer)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
