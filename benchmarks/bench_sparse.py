#!/usr/bin/env python
"""Sparse benchmark: torchlogit on wide CSR data against skglm, celer, glum and scikit-learn, in one process.

Data (generated, seeded): CSR matrices shaped like the field's text benchmarks, rcv1 (20,000 ×
47,000, 0.16 % stored) and news20 (20,000 × 1,350,000, 0.03 %): row lengths log-normal, column
frequencies Zipf–Mandelbrot (P(rank k) ∝ 1/(k + 10)), term counts turned into tf-idf values and
rows scaled to unit norm (non-negative, as sklearn's TfidfVectorizer makes them); binary labels
from a sparse true model (2 % of the columns). ``dense`` is bench_l1.py's 200,000 × 500 workload.
``--quick`` divides rows and columns by 10 (density kept; dense: rows only).

Objectives, recomputed for every model by one float64 numpy function (:func:`objective`)::

    F(w, b) = (1/n) Σᵢ [log(1 + e^{zᵢ}) − yᵢ zᵢ] + λ₁‖w‖₁ + ½λ₂‖w‖²,   z = Xw + b

L1 (λ₂ = 0, λ₁ = λ): scikit-learn's and celer's ``C = 1/(λ n)`` (they minimise C·Σ loss + ‖w‖₁,
resp. Σ loss + ‖w‖₁/C), glum's ``alpha = λ, l1_ratio = 1``, skglm's ``alpha = λ`` (its objective
is the mean log-loss + α‖w‖₁). L2 (λ₁ = 0): ``C = 1``, λ₂ = 1/(C n).

Sections (``--only``):

* ``l1``: one fit at λ = 0.1, 0.01, 0.001 · λ_max (benchopt's logreg_l1). celer cannot fit an
  intercept, so the whole table is the no-intercept problem (torchlogit ``fit_intercept=False``,
  and so every peer). Each model's duality gap comes from one independent numpy function
  (:func:`duality_gap`); a fit is *accurate* when its relative gap (P − D)/P is at most 1e-8.
  torchlogit has two rows: ``tol`` (its KKT violation) and ``gap_tol`` (its own certified duality
  gap, skglm's and celer's kind of rule). Every row is timed at the loosest of its tolerances that
  gets there (:func:`tol_ladder`; a library past ``--cap`` is not tried tighter, nor at a smaller
  λ), and the ratio is against the fastest accurate peer. Target (issue 14): ≥ 1.5× the faster of
  skglm and celer at equal gap.
* ``l2``: the default fit (C = 1, with intercept) against scikit-learn's lbfgs, newton-cg and
  newton-cholesky at tol 1e-8; F − F_best and max |∇F|. Target: ≥ 2× the fastest accurate
  scikit-learn solver at the rcv1 shape.
* ``path``: 20 values of C over 2 decades from C_min (with intercept), ``torchlogit.path`` against
  glum's ``alpha_search`` and skglm refitted with warm starts over the same C's; F and the duality
  gap at every C. Targets: ≥ 2× glum and ≥ 1× skglm.
* ``memory``: a sparse fit in a fresh (spawned) process: its peak RSS above the baseline (the
  process with the CSR matrix loaded) in units of the matrix's own bytes (data + indices +
  indptr), read from /proc (see :func:`_memory_child` for why not ``getrusage``). Linux only.
  Target: ≤ 3×.

Timing: every library first fits a 500-row slice of each data set at λ_max/2 (skglm compiles with
numba on first use; thread pools start), then each implementation makes ``--repeat`` timed fits
(median; default 1, 3 with ``--quick``). Every
library gets the same CSR float64 matrix (skglm, celer and glum convert it to CSC inside their
timed fit, as they would for a user). In the L1 section skglm, celer, liblinear and saga fit in a
forked child (the matrix shared, not copied), which times its fit alone and is killed after
``--cap`` seconds even inside compiled code (:func:`fit_in_child`); every other fit runs in this
process and is abandoned past ``--cap`` where its library next returns to Python (torchlogit and
glum do every iteration); saga gets as many epochs as a probe says fit in ``--cap`` seconds, so
that it usually stops with an answer. Load: each table says the 1-minute load average when it
finished and the cores other processes used during each fit.

Usage::

    python benchmarks/bench_sparse.py --quick                 # smoke run, every section
    python benchmarks/bench_sparse.py --only l1,l2 --shapes rcv1 --markdown bench-out/sparse.md
    python benchmarks/bench_sparse.py --only l1 --shapes dense
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import math
import multiprocessing
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, xlogy

try:  # run from a checkout without installing
    import torchlogit
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch
from _load import cpu_ticks  # benchmarks/ is on sys.path when run as a script
from bench_l1 import N_FEATURES, N_ROWS, PATH_DECADES, PATH_LENGTH, make_data, others_cores

import torchlogit
from torchlogit import LogisticRegression

SEED = 0
LAMBDA_FRACTIONS = (0.1, 0.01, 0.001)  # λ / λ_max, as benchopt's logreg_l1
REL_GAP_TOL = 1e-8  # an L1 fit is accurate when (P − D)/P ≤ this
REL_F_TOL, GRAD_TOL = 1e-10, 1e-7  # an L2 fit is accurate when (F − F_best)/F_best and max|∇F| ≤ these
L2_TOL = 1e-8
WARM_ROWS = 500
SAGA_PROBE_EPOCHS = 3
CHILD_EXIT_S = 5.0  # how long a forked fit's child may take to exit before it is SIGTERMed, then SIGKILLed
ZIPF_OFFSET = 10.0  # Zipf–Mandelbrot: P(rank k) ∝ 1/(k + offset); the top column is in ~half the rows
ROW_LENGTH_SIGMA = 0.7  # log-normal spread of the stored values per row
SUPPORT_SHARE = 0.02  # columns of the true model
MARGIN_STD = 2.0  # standard deviation of the true model's scores
SECTIONS = ("l1", "l2", "path", "memory")
DEFAULT_SHAPES = {"l1": "rcv1,news20", "l2": "rcv1,news20", "path": "rcv1", "memory": "rcv1,news20"}


# --------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Shape:
    """A generated data set's size: rows, columns and the share of stored values."""

    name: str
    n: int
    d: int
    density: float


SPARSE_SHAPES = {"rcv1": Shape("rcv1", 20_000, 47_000, 0.0016),
                 "news20": Shape("news20", 20_000, 1_350_000, 0.0003)}


def _zipf_columns(rng: np.random.Generator, counts: np.ndarray, perm: np.ndarray) -> sp.csr_matrix:
    """Term counts: row i draws ``counts[i]`` columns with P(rank k) ∝ 1/(k + offset), by inverting
    the continuous CDF (no search over the columns); repeated columns add up."""
    d = perm.size
    indptr = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    span = np.log((d + 1 + ZIPF_OFFSET) / (1 + ZIPF_OFFSET))
    ranks = np.floor((1 + ZIPF_OFFSET) * np.exp(rng.random(indptr[-1]) * span) - ZIPF_OFFSET)
    cols = perm[np.clip(ranks.astype(np.int64), 1, d) - 1]
    X = sp.csr_matrix((np.ones(indptr[-1]), cols, indptr.astype(np.int32)), shape=(counts.size, d))
    X.sum_duplicates()  # sorts each row's columns and sums repeats into counts
    return X


def make_sparse(shape: Shape, seed: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """A tf-idf-like CSR matrix (rows of unit norm, int32 indices) and labels from a sparse model.

    Row lengths are log-normal around ``density · d``; a pilot of 1,000 rows measures how many draws
    collapse into repeats, and every row draws that many more, so the stored share is ``density``.
    Values: (1 + log tf) · idf with scikit-learn's smooth idf, then each row scaled to unit norm.
    Labels: Bernoulli(σ(z)) for z = Xw* centred and scaled to standard deviation ``MARGIN_STD``, w*
    Gaussian on ``SUPPORT_SHARE`` of the columns seen in at least 5 rows (fewer where
    fewer are; about half the labels positive).
    """
    rng = np.random.default_rng(seed)
    n, d = shape.n, shape.d
    mean = shape.density * d
    lengths = np.maximum(1.0, rng.lognormal(np.log(mean) - ROW_LENGTH_SIGMA**2 / 2, ROW_LENGTH_SIGMA, n))
    perm = rng.permutation(d).astype(np.int32)  # popular columns spread over the index range
    pilot = np.rint(lengths[:1000]).astype(np.int64)
    kept = _zipf_columns(rng, pilot, perm).nnz / pilot.sum()
    X = _zipf_columns(rng, np.rint(lengths / kept).astype(np.int64), perm)
    df = np.bincount(X.indices, minlength=d)
    idf = np.log((1 + n) / (1 + df)) + 1
    X.data = (1 + np.log(X.data)) * idf[X.indices]
    X.data /= np.repeat(np.sqrt(np.add.reduceat(X.data**2, X.indptr[:-1])), np.diff(X.indptr))
    candidates = np.flatnonzero(df >= 5)
    support = rng.choice(candidates, min(candidates.size, max(10, int(SUPPORT_SHARE * d))), replace=False)
    w = np.zeros(d)
    w[support] = rng.standard_normal(support.size)
    z = X @ w
    z = MARGIN_STD * (z - z.mean()) / z.std()
    y = (rng.random(n) < expit(z)).astype(np.int64)
    return X, y


def load_shape(name: str, quick: bool, seed: int) -> tuple[Any, np.ndarray, str]:
    """(X, y, a caption) of the shape ``name``; ``quick`` divides rows and columns by 10."""
    if name == "dense":
        n = N_ROWS // 10 if quick else N_ROWS
        X, y = make_data(n, N_FEATURES, seed)
        return X, y, f"dense (bench_l1.py): {n:,} × {N_FEATURES}, float64"
    shape = SPARSE_SHAPES[name]
    if quick:
        shape = Shape(name, shape.n // 10, shape.d // 10, shape.density)
    t0 = time.perf_counter()
    X, y = make_sparse(shape, seed)
    seconds = time.perf_counter() - t0
    caption = (f"{name}-like: {X.shape[0]:,} × {X.shape[1]:,} CSR, {X.nnz:,} stored "
               f"({100 * X.nnz / (X.shape[0] * X.shape[1]):.3f} %), {csr_bytes(X) / 2**20:.1f} MiB, "
               f"{y.mean():.0%} positive; generated in {seconds:.1f} s")
    return X, y, caption


def csr_bytes(X: sp.csr_matrix) -> int:
    """The matrix's own memory: data + indices + indptr."""
    return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes


# ---------------------------------------------------------------- objective and duality gap
def objective(X: Any, y: np.ndarray, w: np.ndarray, b: float, *, l1: float = 0.0,
              l2: float = 0.0) -> float:
    """F(w, b) = mean log-loss + l1·‖w‖₁ + ½·l2·‖w‖² in float64 (stable log(1 + e^z))."""
    z = X @ w + b
    return float(np.mean(np.logaddexp(0.0, z) - y * z) + l1 * np.abs(w).sum() + 0.5 * l2 * (w @ w))


def l2_grad_max(X: Any, y: np.ndarray, w: np.ndarray, b: float, l2: float, fit_intercept: bool) -> float:
    """max |∇F| of the L2 objective over the coefficients (and the intercept when fitted)."""
    r = (expit(X @ w + b) - y) / X.shape[0]
    g = np.abs(X.T @ r + l2 * w).max()
    return float(max(g, abs(r.sum())) if fit_intercept else g)


def _balanced_intercept(z: np.ndarray, y: np.ndarray, b: float) -> float:
    """The c with Σ σ(zᵢ + c) = Σ yᵢ (the optimal intercept for fixed w), by Newton from ``b``."""
    target = float(y.sum())
    for _ in range(100):
        p = expit(z + b)
        step = float(np.clip((p.sum() - target) / max((p * (1 - p)).sum(), 1e-300), -1.0, 1.0))
        b -= step
        if abs(step) <= 1e-15 * max(1.0, abs(b)):
            break
    return b


def duality_gap(X: Any, y: np.ndarray, w: np.ndarray, b: float, lam: float,
                fit_intercept: bool) -> tuple[float, float]:
    """The primal value P = F(w, b) and a dual value D ≤ min F for the L1 problem (y in {0, 1}).

    Fenchel dual of min f(Xw + b) + λ‖w‖₁ with f(z) = (1/n) Σ log(1 + e^{zᵢ}) − yᵢzᵢ::

        D(θ) = −(1/n) Σᵢ [uᵢ log uᵢ + (1 − uᵢ) log(1 − uᵢ)],   uᵢ = yᵢ + n θᵢ,
        subject to ‖Xᵀθ‖_∞ ≤ λ (and Σθ = 0 with an intercept).

    The dual point is the rescaled residual θ = s·(σ(z) − y)/n, s = min(1, λn / ‖Xᵀ(σ(z) − y)‖_∞),
    so every uᵢ lies between yᵢ and σ(zᵢ), inside (0, 1). With an intercept, z = Xw + c uses the
    intercept c re-optimised for w (Σσ(z) = Σy to rounding), which makes Σθ = 0; scaling keeps it.
    u and 1 − u are both formed from σ(±z), so neither loses digits. At the optimum s = 1 and
    P − D = 0 (the KKT conditions); any feasible θ gives D ≤ min F, so P − D bounds P − min F.
    """
    n = X.shape[0]
    P = objective(X, y, w, b, l1=lam)
    z = X @ w
    z = z + (_balanced_intercept(z, y, b) if fit_intercept else 0.0)
    p, q = expit(z), expit(-z)
    correlation = float(np.abs(X.T @ (p - y)).max())
    s = min(1.0, lam * n / correlation) if correlation > 0 else 1.0
    u = np.where(y == 1, 1.0 - s * q, s * p)
    v = np.where(y == 1, s * q, 1.0 - s * p)
    D = -float(np.mean(xlogy(u, u) + xlogy(v, v)))
    return P, D


def lambda_max(X: Any, y: np.ndarray, fit_intercept: bool) -> float:
    """The smallest λ with w = 0 optimal: ‖Xᵀ(y − ȳ)‖_∞/n (ȳ = ½ without an intercept)."""
    centre = y.mean() if fit_intercept else 0.5
    return float(np.abs(X.T @ (y - centre)).max() / X.shape[0])


# ------------------------------------------------------------------------- timing
Fitter = Callable[[Any, np.ndarray], Any]  # fit(X, y) -> a fitted model


class FitTimeoutError(Exception):
    """A fit ran past ``--cap`` seconds."""


@dataclass
class Alarm:
    """Whether a :func:`time_limit` went off (numba turns the exception into a SystemError)."""

    fired: bool = False


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[Alarm]:
    """Raise :class:`FitTimeoutError` after ``seconds``, when the running library next runs Python code."""
    alarm = Alarm()

    def ring(signum: int, frame: Any) -> None:
        alarm.fired = True
        raise FitTimeoutError

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield alarm
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Run:
    """A timed implementation: the last fitted model, the median time and what happened (``capped``:
    it ran past ``--cap``)."""

    name: str
    ours: bool
    model: Any = None
    seconds: float = float("nan")
    notes: list[str] = field(default_factory=list)
    error: str = ""
    capped: bool = False


@dataclass
class Outcome:
    """One timed fit: the model (or what a child sent of it), its seconds, the cores other processes
    used meanwhile, the warnings' categories, and what went wrong."""

    model: Any = None
    seconds: float = float("nan")
    others: float | None = None
    warned: frozenset[str] = frozenset()
    error: str = ""
    capped: bool = False


@dataclass
class ForkedFit:
    """What a child sends back of a fitted estimator: coefficients and notes, not the estimator
    itself (skglm's may hold numba objects, which do not pickle, and the pipe need carry no more)."""

    coef_: np.ndarray
    intercept_: np.ndarray
    notes: list[str]


def fit_here(fit: Fitter, data: tuple[Any, np.ndarray], cap: float) -> Outcome:
    """One timed fit in this process, abandoned at ``cap`` seconds where the library next runs Python
    code (SIGALRM: compiled code runs on until it returns)."""
    X, y = data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ticks, t0 = cpu_ticks(), time.perf_counter()
        try:
            with time_limit(cap) as alarm:
                model = fit(X, y)
        except Exception as exc:  # a peer that cannot do this problem: report it, don't abort
            if alarm.fired:
                return Outcome(error=f"past the cap: abandoned after {cap:g} s (--cap)", capped=True)
            return Outcome(error=f"failed: {type(exc).__name__}: {str(exc)[:80]}")
        seconds = time.perf_counter() - t0
    warned = frozenset(w.category.__name__ for w in caught)
    return Outcome(model, seconds, others_cores(ticks, seconds), warned)


def _child_fit(fit: Fitter, data: tuple[Any, np.ndarray], cap: float, conn: Any) -> None:
    """The forked child's side of :func:`fit_in_child`: the fit, timed here (so the fork's cost is not
    counted), its estimator reduced to a :class:`ForkedFit` and sent up the pipe."""
    outcome = fit_here(fit, data, cap)
    if outcome.model is not None:
        w, b = coef_of(outcome.model)
        outcome.model = ForkedFit(w, np.array([b]), model_notes(outcome.model))
    conn.send(outcome)
    conn.close()


def fit_in_child(fit: Fitter, data: tuple[Any, np.ndarray], cap: float) -> Outcome:
    """One timed fit in a forked child, killed after ``cap`` seconds even inside compiled code.

    'fork' shares the CSR matrix copy-on-write (nothing copied or pickled) and the parent's warm-up
    (numba's compiled code included). Only libraries without OpenMP may run here: torch binds its
    libgomp globally, and a child inherits its thread pool's bookkeeping but not its threads, so
    once torch has run parallel work in the parent an OpenMP region in a child waits forever (glum's
    did); see :data:`FORKED_LIBRARIES`.
    """
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child_fit, args=(fit, data, cap, send))
    child.start()
    send.close()
    outcome = None
    try:
        if receive.poll(cap):
            outcome = receive.recv()
        else:
            outcome = Outcome(error=f"past the cap: killed after {cap:g} s (--cap)", capped=True)
            child.terminate()
    except EOFError:  # the child died without an answer
        pass
    finally:
        receive.close()
        reap(child)
    return outcome or Outcome(error=f"failed: the child died (exit code {child.exitcode})")


def reap(child: Any) -> None:
    """Wait for ``child`` to exit, SIGTERM then SIGKILL it if it lingers, and reap it: none is left."""
    child.join(CHILD_EXIT_S)
    if child.is_alive():
        child.terminate()
        child.join(CHILD_EXIT_S)
    if child.is_alive():
        child.kill()
        child.join()


def measure(name: str, ours: bool, fit: Fitter, data: tuple[Any, np.ndarray], repeat: int, cap: float,
            forked: bool = False) -> Run:
    """``repeat`` timed fits of ``data`` (the libraries were warmed up by :func:`warm_up`), each in a
    forked child (:func:`fit_in_child`) when ``forked``, else here (:func:`fit_here`); the median."""
    run = Run(name, ours)
    times, loads, warned = [], [], set()
    for _ in range(repeat):
        outcome = (fit_in_child if forked else fit_here)(fit, data, cap)
        if outcome.error:
            run.error, run.capped = outcome.error, outcome.capped
            break
        run.model = outcome.model
        times.append(outcome.seconds)
        loads += [] if outcome.others is None else [outcome.others]
        warned |= outcome.warned
    if times and not run.error:
        run.seconds = statistics.median(times)
        if loads:
            run.notes.append(f"others {max(loads):.1f} cores")
        if warned:
            run.notes.append("warned: " + "/".join(sorted(warned)))
    status = run.error or f"{run.seconds:.3f} s"
    print(f"    {name}: {status}", file=sys.stderr, flush=True)
    return run


def warm_up(X: Any, y: np.ndarray) -> None:
    """Fit every library once on a 500-row slice of this kind of matrix at λ = λ_max/2, loosely:
    skglm compiles its numba kernels on first use (tens of seconds), thread pools start."""
    from glum import GeneralizedLinearRegressor
    from skglm import SparseLogisticRegression
    from sklearn.linear_model import LogisticRegression as SkLogit

    Xs, ys = X[:WARM_ROWS], y[:WARM_ROWS]
    lam = 0.5 * lambda_max(Xs, ys, fit_intercept=False)
    glum = not dense_hessian_skip("glum", X.shape[1])
    fits = [l1_fitter(library, lam, WARM_ROWS, 1e-4, 5) for library in L1_LIBRARIES
            if glum or library != "glum"]
    fits += [lambda X, y: SparseLogisticRegression(alpha=lam, fit_intercept=True).fit(X, y),
             lambda X, y: torchlogit.path(X, y, Cs=3, l1_ratio=1.0),
             lambda X, y: LogisticRegression().fit(X, y),
             lambda X, y: SkLogit(max_iter=1000).fit(X, y),
             lambda X, y: SkLogit(solver="newton-cg").fit(X, y)]
    if glum:
        fits.append(lambda X, y: GeneralizedLinearRegressor(family="binomial", alpha=lam,
                                                            l1_ratio=1.0).fit(X, y))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fit in fits:
            try:
                fit(Xs, ys)
            except Exception as exc:  # measure() reports it where it matters
                print(f"    warm-up: {type(exc).__name__}: {str(exc)[:80]}", file=sys.stderr, flush=True)
    print(f"  warm-up: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)


def fmt_s(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "–"
    return f"{seconds * 1e3:.1f} ms" if seconds < 0.1 else f"{seconds:.2f} s"


def fmt_e(value: float) -> str:
    if not np.isfinite(value):
        return "–"
    return "0" if value <= 0 else f"{value:.1e}"


def load_note() -> str:
    return f"load average {os.getloadavg()[0]:.2f}"


# ----------------------------------------------------------------------- L1 single fits
def l1_fitter(library: str, lam: float, n: int, tol: float, saga_epochs: int) -> Fitter:
    """A no-intercept L1 fit at λ = ``lam`` on ``n`` rows by ``library``, stopping at ``tol`` in
    that library's own rule (see :func:`tol_ladder`; ``torchlogit_gap``: ``gap_tol=tol``)."""
    from celer import LogisticRegression as CelerLogit
    from glum import GeneralizedLinearRegressor
    from skglm import SparseLogisticRegression
    from sklearn.linear_model import LogisticRegression as SkLogit

    C = 1.0 / (lam * n)
    fits: dict[str, Fitter] = {
        "torchlogit": lambda X, y: LogisticRegression(l1_ratio=1.0, C=C, tol=tol,
                                                      fit_intercept=False).fit(X, y),
        "torchlogit_gap": lambda X, y: LogisticRegression(l1_ratio=1.0, C=C, gap_tol=tol,
                                                          fit_intercept=False).fit(X, y),
        "skglm": lambda X, y: SparseLogisticRegression(alpha=lam, tol=tol, max_iter=100,
                                                       fit_intercept=False).fit(X, y),
        "celer": lambda X, y: CelerLogit(C=C, tol=tol, max_iter=100).fit(X, y),
        "glum": lambda X, y: GeneralizedLinearRegressor(family="binomial", alpha=lam, l1_ratio=1.0,
                                                        gradient_tol=tol, max_iter=1000,
                                                        fit_intercept=False).fit(X, y),
        "liblinear": lambda X, y: SkLogit(l1_ratio=1.0, C=C, solver="liblinear", tol=tol, max_iter=1000,
                                          fit_intercept=False).fit(X, y),
        "saga": lambda X, y: SkLogit(l1_ratio=1.0, C=C, solver="saga", tol=tol, max_iter=saga_epochs,
                                     fit_intercept=False).fit(X, y),
    }
    return fits[library]


def tol_ladder(library: str, lam: float, lam_max: float) -> list[float]:
    """The tolerances a library is tried at, loosest first; the first whose fit reaches
    (P − D)/P ≤ ``REL_GAP_TOL`` is the one timed (an oracle choice, generous to every library).

    The rungs are 100×, 1× and 1/100× a base that should just reach the target. With the dual point
    of :func:`duality_gap`, a fit whose KKT violation is ε has a gap of about ε‖w‖₁ ≤ εF/λ (since
    λ‖w‖₁ ≤ F), so for the libraries that stop on the KKT violation of the mean objective
    (torchlogit's ``tol``, skglm, glum's sum over coordinates) the base is ``REL_GAP_TOL·λ``.
    liblinear's tol is relative to the starting subgradient (about λ_max): base
    ``REL_GAP_TOL·λ/λ_max``. saga's tol bounds the relative change of w per epoch: ``REL_GAP_TOL``
    only. Two stop on a duality gap: celer (Σ-scale gap ≤ tol·n·log 2, i.e. P − D ≤ tol·log 2),
    base ``REL_GAP_TOL``, and torchlogit's ``gap_tol`` (P − D of the mean objective, from the same
    dual point as :func:`duality_gap`, so the same number to rounding), base ``REL_GAP_TOL·log 2``:
    celer's rule. As P ≤ F(0) = log 2, that base reaches the target only where P is near log 2, so
    these two get a 1/10× rung as well, before 1/100×.
    """
    if library == "saga":
        return [REL_GAP_TOL]
    if library in ("celer", "torchlogit_gap"):
        base = REL_GAP_TOL * (math.log(2) if library == "torchlogit_gap" else 1.0)
        return [100 * base, base, base / 10, base / 100]
    base = REL_GAP_TOL * lam / lam_max if library == "liblinear" else REL_GAP_TOL * lam
    return [100 * base, base, base / 100]


L1_LIBRARIES = {"torchlogit": "torchlogit LogisticRegression (tol)",
                "torchlogit_gap": "torchlogit LogisticRegression (gap_tol)",
                "skglm": "skglm SparseLogisticRegression", "celer": "celer LogisticRegression (celer-pn)",
                "glum": "glum irls-cd", "liblinear": "scikit-learn liblinear", "saga": "scikit-learn saga"}
TOL_NAMES = {"torchlogit_gap": "gap_tol", "glum": "gradient_tol"}  # the others call theirs tol
# Fitted in a forked child killed at --cap (fit_in_child): they can spend longer than the cap inside
# compiled code, where SIGALRM cannot stop them, and use no OpenMP. torchlogit and glum stay in this
# process: both return to Python every iteration, and glum's OpenMP would hang in a child once torch
# has run parallel work here (fit_in_child).
FORKED_LIBRARIES = frozenset({"skglm", "celer", "liblinear", "saga"})


def saga_epochs_for(X: Any, y: np.ndarray, C: float, cap: float) -> tuple[int, float]:
    """How many saga epochs fit in ``cap`` seconds, from a probe of a few epochs on the data."""
    from sklearn.linear_model import LogisticRegression as SkLogit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        SkLogit(l1_ratio=1.0, C=C, solver="saga", max_iter=SAGA_PROBE_EPOCHS, fit_intercept=False).fit(X, y)
    epoch_s = (time.perf_counter() - t0) / SAGA_PROBE_EPOCHS
    return max(SAGA_PROBE_EPOCHS, int(0.8 * cap / epoch_s)), epoch_s


def coef_of(model: Any) -> tuple[np.ndarray, float]:
    """(w, b) of any peer's fitted estimator, in float64 (b = 0 where it has none)."""
    w = np.ravel(np.asarray(model.coef_, dtype=np.float64))
    b = np.ravel(np.asarray(getattr(model, "intercept_", 0.0), dtype=np.float64))
    return w, float(b[0]) if b.size else 0.0


def model_notes(model: Any) -> list[str]:
    """What a fitted estimator says about itself: torchlogit's solver, iterations, passes and verdict;
    a peer's iterations (a capped saga's epochs); a :class:`ForkedFit`'s notes, made in its child."""
    if isinstance(model, ForkedFit):
        return model.notes
    if hasattr(model, "solver_"):
        notes = [f"{model.solver_}, {int(np.max(model.n_iter_))} iter, {model.n_passes_} passes"]
        return notes if model.converged_ else [*notes, "NOT converged"]
    if not hasattr(model, "n_iter_"):
        return []
    n_iter = int(np.max(model.n_iter_))
    if getattr(model, "solver", "") == "saga" and n_iter >= model.max_iter:
        return [f"stopped at its {model.max_iter} epochs (--cap)"]
    return [f"{n_iter} iter"]


@dataclass
class L1Row:
    """A library's row in an L1 table: its run, the numpy primal and dual values, its non-zeros, and
    whether some tolerance of its ladder ran past ``--cap``."""

    run: Run
    P: float = float("nan")
    D: float = float("nan")
    nnz: int = -1
    capped: bool = False

    @property
    def rel_gap(self) -> float:
        return (self.P - self.D) / self.P

    @property
    def accurate(self) -> bool:
        return bool(self.rel_gap <= REL_GAP_TOL)


def gap_row(run: Run, data: tuple[Any, np.ndarray], lam: float, setting: str) -> L1Row:
    """The row of a finished no-intercept fit at λ = ``lam``: its gap by :func:`duality_gap`, its
    non-zeros, and notes led by ``setting`` (its tolerance) and, for torchlogit, its own relative gap."""
    X, y = data
    w, b = coef_of(run.model)
    row = L1Row(run)
    row.P, row.D = duality_gap(X, y, w, b, lam, fit_intercept=False)
    row.nnz = int(np.count_nonzero(w))
    own = getattr(run.model, "duality_gap_", None)
    own_note = [] if own is None else [f"own gap {own / row.P:.1e}·P"]
    run.notes = [setting, *model_notes(run.model), *own_note, *run.notes]
    return row


def l1_row(library: str, data: tuple[Any, np.ndarray], lam: float, lam_max: float,
           args: argparse.Namespace) -> L1Row:
    """Time ``library`` down its tolerance ladder until a fit's relative gap is ≤ REL_GAP_TOL.

    The ladder also stops when a tighter tolerance gains less than the square root of the rungs'
    ratio (10× between 100×-apart rungs: tightening does not help), and when a fit fails or runs
    past ``--cap``: a tighter one would only run longer. The row is the last fit that finished
    (noting the tighter one that did not), or the failure when none did.
    """
    X = data[0]
    label, ours = L1_LIBRARIES[library], library.startswith("torchlogit")
    skip = dense_hessian_skip("glum", X.shape[1]) if library == "glum" else ""
    if skip:
        return L1Row(Run(label, ours, error=skip))
    row, tried, looser_tol = None, [], float("nan")
    for tol in tol_ladder(library, lam, lam_max):
        fit = l1_fitter(library, lam, X.shape[0], tol, args.saga_epochs)
        run = measure(label, ours, fit, data, args.repeat, args.cap, forked=library in FORKED_LIBRARIES)
        setting = f"{TOL_NAMES.get(library, 'tol')} {tol:.1e}"
        if run.error:
            if row is None:
                return L1Row(run, capped=run.capped)
            row.capped = run.capped
            row.run.notes.append(f"{setting}: {run.error}")
            break
        looser, row = row, gap_row(run, data, lam, setting)
        tried.append(f"{tol:.1e} → {fmt_e(row.rel_gap)} in {fmt_s(row.run.seconds)}")
        if row.accurate or (looser is not None
                            and not row.rel_gap * math.sqrt(looser_tol / tol) < looser.rel_gap):
            break
        looser_tol = tol
    if len(tried) > 1:
        row.run.notes.append("looser: " + ", ".join(tried[:-1]))
    return row


def speedup(peer_s: float, ours_s: float) -> str:
    return f"{peer_s / ours_s:.2f}×" if np.isfinite(peer_s) and np.isfinite(ours_s) else "–"


def l1_table(rows: list[L1Row], title: str) -> tuple[list[str], dict[str, Any]]:
    """The markdown table of one λ, and a summary of torchlogit's rows against skglm/celer."""
    done = [r for r in rows if not r.run.error and np.isfinite(r.P)]
    F_best = min((r.P for r in done), default=float("nan"))
    D_best = max((r.D for r in done), default=float("nan"))
    accurate = [r for r in done if not r.run.ours and r.accurate]
    best = min(accurate, key=lambda r: r.run.seconds, default=None)
    ours = min((r for r in done if r.run.ours and r.accurate), key=lambda r: r.run.seconds, default=rows[0])
    lines = [title, "", f"F* ∈ [max D, min F] = [{D_best:.12f}, {F_best:.12f}]; torchlogit's ratio against "
             f"the fastest accurate peer ({best.run.name if best else 'none'}), each peer's against the "
             f"faster accurate torchlogit row ({ours.run.name}); accurate: (P − D)/P ≤ {REL_GAP_TOL:g}.",
             "", "| implementation | time | F − F_best | (P − D)/P | non-zero | speed-up of torchlogit "
             "| notes |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.run.error or not np.isfinite(r.P):
            lines.append(f"| {r.run.name} | – | – | – | – | – | {r.run.error} |")
            continue
        ratio = (speedup(best.run.seconds, r.run.seconds) if best else "no accurate peer") if r.run.ours \
            else speedup(r.run.seconds, ours.run.seconds)
        lines.append(f"| {r.run.name} | {fmt_s(r.run.seconds)} | {fmt_e(r.P - F_best)} | {fmt_e(r.rel_gap)} "
                     f"| {r.nnz} | {ratio} | {'; '.join(r.run.notes)} |")
    rivals = [r for r in accurate if r.run.name.startswith(("skglm", "celer"))]
    rival = min(rivals, key=lambda r: r.run.seconds, default=None)
    summary = {"ours": [r for r in rows if r.run.ours], "rival": rival,
               "nnz": min(done, key=lambda r: r.P).nnz if done else -1}
    return [*lines, "", f"({load_note()})", ""], summary


def l1_summary_line(fraction: float, nnz: int, ours: L1Row, rival: L1Row | None) -> str:
    """One torchlogit row at one λ against the faster accurate one of skglm and celer."""
    ran = not ours.run.error and np.isfinite(ours.P)
    head = f"| {fraction:g} | {nnz} | {ours.run.name}: {fmt_s(ours.run.seconds)} | " \
           f"{fmt_e(ours.rel_gap) if ran else '–'}"
    if rival is None:
        return head + " | none accurate | – | – | – |"
    ratio = rival.run.seconds / ours.run.seconds if ran and ours.accurate else float("nan")
    return (head + f" | {rival.run.name}: {fmt_s(rival.run.seconds)} | {fmt_e(rival.rel_gap)} "
            f"| {'–' if np.isnan(ratio) else f'{ratio:.2f}×'} | {'✓' if ratio >= 1.5 else '✗'} |")


def l1_summary(caption: str, summaries: list[tuple[float, dict[str, Any]]]) -> list[str]:
    """One line per λ and torchlogit row: against the faster accurate one of skglm and celer."""
    lines = [f"#### L1 summary, {caption}: target ≥ 1.5× the faster of skglm and celer, both at "
             f"(P − D)/P ≤ {REL_GAP_TOL:g}", "",
             "| λ / λ_max | non-zero | torchlogit | its gap | faster of skglm, celer | its gap | ratio "
             "| target |", "|---|---|---|---|---|---|---|---|"]
    for fraction, s in summaries:
        lines += [l1_summary_line(fraction, s["nnz"], ours, s["rival"]) for ours in s["ours"]]
    return [*lines, ""]


def section_l1(name: str, data: tuple[Any, np.ndarray], caption: str,
               args: argparse.Namespace) -> list[str]:
    """L1 single fits without intercept at three λ, one table each, then the summary."""
    X, y = data
    lam_max = lambda_max(X, y, fit_intercept=False)
    args.saga_epochs, epoch_s = saga_epochs_for(X, y, 1.0 / (0.1 * lam_max * X.shape[0]), args.cap)
    lines = [f"### L1 single fits, {caption}", "",
             "No intercept (celer cannot fit one): every implementation solves min (1/n) Σ log-loss + "
             f"λ‖w‖₁ with fit_intercept=False; λ_max = {lam_max:.4g}. Each library is timed at the "
             "loosest of its tolerances (100×, 1×, 1/100× a base; celer and torchlogit's gap_tol also "
             f"1/10×; notes) that reaches (P − D)/P ≤ {REL_GAP_TOL:g}; a library past --cap is not tried "
             f"tighter, nor at smaller λ. {', '.join(sorted(FORKED_LIBRARIES))} fit in a forked child "
             "killed at --cap; torchlogit and glum in this process, abandoned where they next run Python. "
             f"saga: one epoch ≈ {fmt_s(epoch_s)}, so at most {args.saga_epochs} epochs "
             f"(--cap {args.cap:g} s).",
             ""]
    summaries, gave_up = [], {}
    for fraction in args.fractions:
        lam = fraction * lam_max
        print(f"  [l1 {name}] λ = {fraction:g}·λ_max", file=sys.stderr, flush=True)
        rows = []
        for library, label in L1_LIBRARIES.items():
            if library in gave_up:  # a smaller λ is harder: it would run past the cap again
                rows.append(L1Row(Run(label, library.startswith("torchlogit"), error=gave_up[library])))
                continue
            rows.append(l1_row(library, data, lam, lam_max, args))
            if rows[-1].capped:
                gave_up[library] = f"skipped: ran past --cap at λ = {fraction:g}·λ_max"
        title = f"#### λ = {fraction:g}·λ_max = {lam:.4g} (C = {1 / (lam * X.shape[0]):.4g})"
        table, summary = l1_table(rows, title)
        lines += table
        summaries.append((fraction, summary))
    return lines + l1_summary(caption, summaries)


# ------------------------------------------------------------------------------- L2
def l2_fitters(d: int) -> tuple[list[tuple[str, bool, Fitter]], list[str]]:
    """torchlogit's default against scikit-learn's solvers at C = 1; newton-cholesky only where its
    dense d × d Hessian takes under a quarter of the available memory."""
    from sklearn.linear_model import LogisticRegression as SkLogit

    fitters = [
        ("torchlogit default (auto, tol 1e-8)", True, lambda X, y: LogisticRegression(C=1.0).fit(X, y)),
        (f"scikit-learn lbfgs (tol {L2_TOL:g})", False,
         lambda X, y: SkLogit(C=1.0, tol=L2_TOL, max_iter=100_000).fit(X, y)),
        (f"scikit-learn newton-cg (tol {L2_TOL:g})", False,
         lambda X, y: SkLogit(C=1.0, solver="newton-cg", tol=L2_TOL, max_iter=1000).fit(X, y)),
        ("scikit-learn lbfgs (default tol 1e-4)", False, lambda X, y: SkLogit(C=1.0).fit(X, y)),
    ]
    skip = dense_hessian_skip("newton-cholesky", d)
    if not skip:
        fitters.insert(3, (f"scikit-learn newton-cholesky (tol {L2_TOL:g})", False, lambda X, y: SkLogit(
            C=1.0, solver="newton-cholesky", tol=L2_TOL, max_iter=1000).fit(X, y)))
        return fitters, []
    return fitters, [f"scikit-learn newton-cholesky (tol {L2_TOL:g}) | – | – | – | – | – | {skip}"]


def dense_hessian_skip(library: str, d: int) -> str:
    """Why ``library`` is skipped on ``d`` columns ('' if it is not): glum and scikit-learn's
    newton-cholesky allocate a dense (d + 1)² float64 Hessian, refused above a quarter of MemAvailable."""
    need = 8.0 * (d + 1) ** 2
    if need < available_bytes() / 4:
        return ""
    return (f"skipped: {library} allocates a dense {d + 1:,}² Hessian, {need / 2**30:.1f} GiB "
            f"(available {available_bytes() / 2**30:.1f} GiB)")


def available_bytes() -> float:
    """MemAvailable from /proc/meminfo (infinite where it is missing)."""
    try:
        with open("/proc/meminfo") as fh:
            return next(float(line.split()[1]) * 1024 for line in fh if line.startswith("MemAvailable"))
    except (OSError, StopIteration):
        return float("inf")


def section_l2(name: str, data: tuple[Any, np.ndarray], caption: str,
               args: argparse.Namespace) -> list[str]:
    """The default L2 fit (C = 1, intercept) against scikit-learn; F − F_best and max |∇F|."""
    X, y = data
    l2 = 1.0 / X.shape[0]  # λ₂ = 1/(C n), C = 1
    fitters, skipped = l2_fitters(X.shape[1])
    rows = []
    print(f"  [l2 {name}]", file=sys.stderr, flush=True)
    for impl, ours, fit in fitters:
        run = measure(impl, ours, fit, data, args.repeat, args.cap)
        F = g = float("nan")
        if run.model is not None and not run.error:
            w, b = coef_of(run.model)
            F, g = objective(X, y, w, b, l2=l2), l2_grad_max(X, y, w, b, l2, fit_intercept=True)
            run.notes = model_notes(run.model) + run.notes
        rows.append((run, F, g))
    F_best = min(F for _, F, _ in rows if np.isfinite(F))
    accurate = {r.name for r, F, g in rows if (F - F_best) / F_best <= REL_F_TOL and g <= GRAD_TOL}
    peers = [r for r, _, _ in rows if not r.ours and r.name in accurate]
    best = min(peers, key=lambda r: r.seconds, default=None)
    ours = rows[0][0]
    lines = [f"### L2, C = 1 with intercept, {caption}", "",
             f"F_best = {F_best:.15g}; accurate: (F − F_best)/F_best ≤ {REL_F_TOL:g} and max |∇F| ≤ "
             f"{GRAD_TOL:g}; ratio against the fastest accurate scikit-learn solver "
             f"({best.name if best else 'none'}).", "",
             "| implementation | time | F − F_best | max abs ∇F | accurate | speed-up of torchlogit "
             "| notes |",
             "|---|---|---|---|---|---|---|"]
    for run, F, g in rows:
        if not np.isfinite(F):
            lines.append(f"| {run.name} | – | – | – | – | – | {run.error} |")
            continue
        ratio = (speedup(best.seconds, run.seconds) if best else "no accurate peer") if run.ours \
            else speedup(run.seconds, ours.seconds)
        lines.append(f"| {run.name} | {fmt_s(run.seconds)} | {fmt_e(F - F_best)} | {g:.1e} "
                     f"| {'yes' if run.name in accurate else 'no'} | {ratio} | {'; '.join(run.notes)} |")
    ok = best is not None and ours.name in accurate and best.seconds / ours.seconds >= 2
    verdict = f"{best.seconds / ours.seconds:.2f}× {'✓' if ok else '✗'}" if best and ours.model else "–"
    return [*lines, *[f"| {s} |" for s in skipped], "",
            f"{'Target' if name == 'rcv1' else 'The rcv1 target, for comparison'}: ≥ 2× the fastest "
            f"accurate scikit-learn solver: {verdict}. ({load_note()})", ""]


# ------------------------------------------------------------------------------ path
def path_fitters(lams: np.ndarray, Cs: np.ndarray) -> list[tuple[str, bool, Fitter]]:
    """Each fit returns (coefs (m, d), intercepts (m,), notes), in the order of ``Cs`` (ascending).

    Tolerances as :func:`tol_ladder`'s base: skglm, refitted per C, gets ``REL_GAP_TOL·λ`` at each C;
    torchlogit and glum take one tolerance for the whole path, that of the smallest λ; torchlogit
    also at its default tolerance (what a user gets)."""
    from glum import GeneralizedLinearRegressor
    from skglm import SparseLogisticRegression

    tol = REL_GAP_TOL * float(lams.min())

    def ours(tol: float) -> Fitter:
        def fit(X: Any, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
            result = torchlogit.path(X, y, Cs=Cs, l1_ratio=1.0, tol=tol)
            notes = [f"{result.n_passes} passes"] + ([] if result.converged.all() else
                                                     [f"{int((~result.converged).sum())} C NOT converged"])
            return result.coefs[:, 0], result.intercepts[:, 0], notes
        return fit

    def glum(X: Any, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
        model = GeneralizedLinearRegressor(family="binomial", l1_ratio=1.0, alpha_search=True,
                                           alphas=lams[::-1], gradient_tol=tol, max_iter=1000).fit(X, y)
        return model.coef_path_[::-1], np.ravel(model.intercept_path_)[::-1], []

    def skglm(X: Any, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
        model = SparseLogisticRegression(alpha=lams[0], max_iter=100, warm_start=True)
        coefs, intercepts = [], []
        for lam in lams:
            model.set_params(alpha=lam, tol=REL_GAP_TOL * lam)
            model.fit(X, y)
            w, b = coef_of(model)
            coefs.append(w)
            intercepts.append(b)
        return np.array(coefs), np.array(intercepts), []

    return [(f"torchlogit.path (tol {tol:.0e})", True, ours(tol)),
            ("torchlogit.path (default tol 1e-8)", True, ours(1e-8)),
            (f"glum alpha_search (gradient_tol {tol:.0e})", False, glum),
            (f"skglm, warm-started loop (tol {REL_GAP_TOL:g}·λ at each C)", False, skglm)]


def section_path(name: str, data: tuple[Any, np.ndarray], caption: str,
                 args: argparse.Namespace) -> list[str]:
    """A 20-value L1 path with intercept; F and the duality gap compared at every C."""
    X, y = data
    n = X.shape[0]
    lam_max = lambda_max(X, y, fit_intercept=True)
    Cs = np.logspace(0, PATH_DECADES, PATH_LENGTH) / (n * lam_max)
    lams = 1.0 / (Cs * n)  # descending
    print(f"  [path {name}]", file=sys.stderr, flush=True)
    results = []
    for impl, ours, fit in path_fitters(lams, Cs):
        skip = dense_hessian_skip("glum", X.shape[1]) if impl.startswith("glum") else ""
        run = Run(impl, ours, error=skip) if skip else measure(impl, ours, fit, data, args.repeat, args.cap)
        PD = None
        if run.model is not None and not run.error:
            coefs, intercepts, notes = run.model
            PD = np.array([duality_gap(X, y, coefs[i], intercepts[i], lam, fit_intercept=True)
                           for i, lam in enumerate(lams)])
            run.notes = notes + run.notes
            run.model = coefs  # keep only what the table needs
        results.append((run, PD))
    F_min = np.min([PD[:, 0] for _, PD in results if PD is not None], axis=0)
    return path_table(results, F_min, caption, lams / lam_max)


def _ratio_mark(ratio: float, target: float) -> str:
    return f"{ratio:.2f}× {'✓' if ratio >= target else '✗'}" if np.isfinite(ratio) else "– ✗"


def path_table(results: list[tuple[Run, np.ndarray | None]], F_min: np.ndarray, caption: str,
               fractions: np.ndarray) -> list[str]:
    """One row per implementation (worst F and gap over the C's); the targets for each torchlogit row."""
    ours = results[0][0]
    lines = [f"### A {PATH_LENGTH}-value L1 path with intercept, {caption}", "",
             f"λ from λ_max to {fractions[-1]:g}·λ_max (C = 1/(λn) log-spaced over {PATH_DECADES:g} "
             "decades); F and the duality gap (P − D)/P recomputed at every C; speed-up against the first "
             "row.", "",
             "| implementation | time | max (F − F_min)/F_min | max (P − D)/P | non-zero at the last C "
             "| speed-up of torchlogit | notes |", "|---|---|---|---|---|---|---|"]
    for run, PD in results:
        if PD is None:
            lines.append(f"| {run.name} | – | – | – | – | – | {run.error} |")
            continue
        rel_F = float(np.max((PD[:, 0] - F_min) / F_min))
        rel_gap = float(np.max((PD[:, 0] - PD[:, 1]) / PD[:, 0]))
        ratio = "–" if run.ours else speedup(run.seconds, ours.seconds)
        lines.append(f"| {run.name} | {fmt_s(run.seconds)} | {fmt_e(rel_F)} | {fmt_e(rel_gap)} "
                     f"| {int(np.count_nonzero(run.model[-1]))} | {ratio} | {'; '.join(run.notes)} |")
    peer_s = {run.name.split(" ")[0]: run.seconds for run, PD in results if not run.ours and PD is not None}
    verdicts = []
    for run, _ in results:
        if run.ours:
            glum, skglm = (peer_s.get(k, float("nan")) / run.seconds for k in ("glum", "skglm,"))
            verdicts.append(f"{run.name}: {_ratio_mark(glum, 2)} glum, {_ratio_mark(skglm, 1)} skglm")
    return [*lines, "", f"Targets ≥ 2× glum and ≥ 1× skglm (times only; compare the gaps): "
            f"{'; '.join(verdicts)}. ({load_note()})", ""]


# ---------------------------------------------------------------------------- memory
MEMORY_FITS = ("torchlogit L2 (default)", "torchlogit L1 (0.01·λ_max)", "scikit-learn lbfgs L2 (reference)")


def _status_kib(field_name: str) -> int:
    """A ``Vm…`` field of /proc/self/status in KiB."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field_name + ":"))


def _memory_child(folder: str, kind: str, C: float, args: tuple[int, float], conn: Any) -> None:
    """In a fresh process (``args`` = threads, cap): load the CSR arrays, fit 50 rows once, reset the
    RSS high-water mark, fit, and send (baseline RSS KiB, peak RSS KiB, seconds, what went wrong).

    Why /proc and not ``getrusage``: a spawned child's ``ru_maxrss`` (and so the parent's
    RUSAGE_CHILDREN) starts at the *parent's* high-water mark, which Linux carries over the
    fork + exec, so it measures the parent. VmHWM belongs to the child's own address space, and
    writing 5 to /proc/self/clear_refs resets it to the current RSS just before the fit, so neither
    the imports' nor the loading's transient peaks hide the fit's.
    """
    from sklearn.linear_model import LogisticRegression as SkLogit
    from threadpoolctl import threadpool_limits

    threads, cap = args
    torch.set_num_threads(threads)
    threadpool_limits(threads)
    parts = {key: np.load(Path(folder) / f"{key}.npy") for key in ("data", "indices", "indptr", "y", "shape")}
    X = sp.csr_matrix((parts["data"], parts["indices"], parts["indptr"]), shape=tuple(parts["shape"]))
    y = parts["y"]
    del parts
    fits = {MEMORY_FITS[0]: lambda X, y: LogisticRegression().fit(X, y),
            MEMORY_FITS[1]: lambda X, y: LogisticRegression(l1_ratio=1.0, C=C).fit(X, y),
            MEMORY_FITS[2]: lambda X, y: SkLogit(max_iter=1000).fit(X, y)}
    error = ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits[kind](X[:50], y[:50])  # the runtime's one-time set-up (thread pools, kernels), not the data's
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        baseline, t0 = _status_kib("VmRSS"), time.perf_counter()
        try:
            with time_limit(cap):
                fits[kind](X, y)
        except FitTimeoutError:
            error = f"abandoned after {cap:.0f} s (--cap): the peak so far"
    conn.send((baseline, _status_kib("VmHWM"), time.perf_counter() - t0, error))
    conn.close()


def child_peak(folder: str, kind: str, C: float, args: argparse.Namespace) -> tuple[int, int, float, str]:
    """(baseline, peak) RSS in KiB, the fit's seconds and any error, from one spawned child."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_memory_child, args=(folder, kind, C, (args.threads, args.cap), send))
    child.start()
    send.close()
    try:
        return receive.recv()
    except EOFError:
        return 0, 0, float("nan"), "the child died"
    finally:
        child.join()


def section_memory(name: str, data: tuple[Any, np.ndarray], caption: str,
                   args: argparse.Namespace) -> list[str]:
    """Peak RSS of sparse fits above a baseline that already holds the matrix, in matrix bytes."""
    X, y = data
    if not sp.issparse(X):
        return [f"### Memory, {caption}: skipped (not sparse)", ""]
    nbytes = csr_bytes(X)
    C = 1.0 / (0.01 * lambda_max(X, y, fit_intercept=True) * X.shape[0])
    lines = [f"### Memory of a sparse fit, {caption}", "",
             f"CSR bytes (data + indices + indptr) = {nbytes / 2**20:.1f} MiB. Each fit runs in a fresh "
             "spawned process; baseline = its RSS with torch, scikit-learn and the matrix loaded and a "
             "50-row fit done (the runtime's one-time set-up), "
             "peak = its VmHWM (reset just before the fit); extra = peak − baseline. Target: torchlogit's "
             "extra ≤ 3× the CSR bytes." + (" QUICK: matrices this small make the ratio noise." if args.quick
                                           else ""), "",
             "| fit | time | baseline | peak | extra | extra / CSR bytes | target | notes |",
             "|---|---|---|---|---|---|---|---|"]
    print(f"  [memory {name}]", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as folder:
        for key, value in (("data", X.data), ("indices", X.indices), ("indptr", X.indptr), ("y", y),
                           ("shape", np.array(X.shape))):
            np.save(Path(folder) / f"{key}.npy", value)
        for kind in MEMORY_FITS:
            baseline, peak, seconds, error = child_peak(folder, kind, C, args)
            extra = (peak - baseline) * 1024 / nbytes
            target = ("✓" if extra <= 3 else "✗") if kind.startswith("torchlogit") else "–"
            lines.append(f"| {kind} | {fmt_s(seconds)} | {baseline / 1024:.1f} MiB | {peak / 1024:.1f} MiB "
                         f"| {(peak - baseline) / 1024:.1f} MiB | {extra:.2f}× | {target} | {error} |")
            print(f"    {kind}: extra {extra:.2f}× CSR bytes", file=sys.stderr, flush=True)
    return [*lines, "", f"({load_note()})", ""]


# ------------------------------------------------------------------------------ main
def environment(args: argparse.Namespace) -> list[str]:
    """Date, machine, threads and library versions."""
    import celer
    import glum
    import scipy
    import skglm
    import sklearn

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo") as fh:
        cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    versions = (f"torchlogit {torchlogit.__version__}, torch {torch.__version__}, numpy {np.__version__}, "
                f"scipy {scipy.__version__}, scikit-learn {sklearn.__version__}, skglm {skglm.__version__}, "
                f"celer {celer.__version__}, glum {glum.__version__}, Python {platform.python_version()}")
    return [f"Date: {datetime.datetime.now().isoformat(timespec='minutes')}. Machine: {cpu}, "
            f"{os.cpu_count()} logical CPUs; threads: torch {args.threads}, BLAS/OpenMP limited to "
            f"{args.threads}; {load_note()} at the start.", f"Versions: {versions}.",
            f"Median of {args.repeat} timed fit(s); every library warmed up on {WARM_ROWS} rows of each data "
            "set; "
            f"--cap {args.cap:g} s."
            + (" QUICK run (rows and columns / 10)." if args.quick else ""), ""]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--shapes", help="comma-separated shapes (rcv1, news20, dense) for every chosen "
                        f"section; default per section: {DEFAULT_SHAPES}")
    parser.add_argument("--quick", action="store_true", help="rows and columns / 10: a smoke run")
    parser.add_argument("--repeat", type=int, help="timed fits per implementation (median); "
                        "default 1, 3 with --quick")
    parser.add_argument("--threads", type=int, default=2, help="torch threads and BLAS/OpenMP thread limit")
    parser.add_argument("--cap", type=float, default=120.0, help="seconds before a fit is abandoned")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--fractions", type=lambda text: tuple(float(v) for v in text.split(",")),
                        default=LAMBDA_FRACTIONS, help="comma-separated λ / λ_max of the L1 section "
                        f"(default {','.join(map(str, LAMBDA_FRACTIONS))})")
    parser.add_argument("--markdown", type=Path, help="also write the tables to this markdown file")
    args = parser.parse_args(argv)
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    shapes = [s.strip() for s in (args.shapes or "").split(",") if s.strip()]
    bad = (set(args.sections) - set(SECTIONS)) | (set(shapes) - {*SPARSE_SHAPES, "dense"})
    if bad:
        parser.error(f"unknown sections or shapes {sorted(bad)}")
    args.shape_lists = {s: shapes or DEFAULT_SHAPES[s].split(",") for s in args.sections}
    args.repeat = args.repeat or (3 if args.quick else 1)
    return args


SECTION_RUNNERS = {"l1": section_l1, "l2": section_l2, "path": section_path, "memory": section_memory}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    start = time.perf_counter()
    lines = ["## Sparse benchmark", "", *environment(args)]
    print("\n".join(lines), flush=True)
    cache: dict[str, tuple[Any, np.ndarray, str]] = {}
    for section in args.sections:
        for shape in args.shape_lists[section]:
            if shape not in cache:
                cache[shape] = load_shape(shape, args.quick, args.seed)
                if section != "memory" or len(args.sections) > 1:
                    warm_up(*cache[shape][:2])
            X, y, caption = cache[shape]
            block = SECTION_RUNNERS[section](shape, (X, y), caption, args)
            print("\n".join(block), flush=True)
            lines += block
    footer = f"Total benchmark time: {time.perf_counter() - start:.0f} s ({load_note()})."
    print(footer, flush=True)
    lines.append(footer)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
