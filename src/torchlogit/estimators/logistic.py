"""``LogisticRegression``: a scikit-learn compatible classifier on torchlogit's exact solvers."""

from __future__ import annotations

import contextlib
import logging
import math
import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from torchlogit._exceptions import ConvergenceWarning, PerfectSeparationWarning
from torchlogit._sklearn import LinearClassifierMixin, SparseCoefMixin, check_sample_weight
from torchlogit._threads import single_thread_if_small
from torchlogit._validation import (
    encode_labels,
    plain,
    resolve_device,
    resolve_dtype,
    tensor_to_numpy,
)
from torchlogit.core.duality import duality_gap
from torchlogit.core.objective import Objective
from torchlogit.core.penalties import L1Penalty, L2Penalty, elastic_net
from torchlogit.data import DataSource, as_data_source
from torchlogit.estimators._callbacks import CallbackSupportMixin, FitTasks, with_callbacks
from torchlogit.estimators._shared import (
    check_finite_result,
    check_tol,
    checked_weight_sum,
    in_memory,
    join_coef,
    make_source,
    pass_work,
    penalty_factor_tensor,
    sparse_rows,
    split_coef,
)
from torchlogit.inference.naming import feature_names
from torchlogit.inference.separation import (
    SEPARATION_SCORE,
    describe_separation,
    find_separation,
    separating_features_text,
)
from torchlogit.solvers import (
    SolverResult,
    StochasticOptions,
    lbfgs,
    newton,
    newton_cg,
    prox_newton,
    stochastic,
)
from torchlogit.solvers._result import STOPPED_BY_HOOK, SolverCallbacks
from torchlogit.solvers.gap_stop import gap_certified
from torchlogit.solvers.working_set import working_set_prox_newton

logger = logging.getLogger("torchlogit")

Penalty = Literal["deprecated", "l2", "l1", "elasticnet"] | None
SolverName = Literal["auto", "newton", "newton_cg", "lbfgs", "sgd", "adam", "prox_newton",
                     "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"]

# scikit-learn 1.9's solver names, and what each runs here: the same objective, solved to `tol` by
# one of ours (sag/saga/liblinear are exact here; their random_state has nothing to shuffle)
SKLEARN_SOLVERS = {"lbfgs": "lbfgs", "newton-cg": "newton_cg", "newton-cholesky": "newton", "sag": "auto",
                   "saga": "auto", "liblinear": "auto"}
SOLVERS = ("auto", "newton", "newton_cg", "lbfgs", "sgd", "adam", "prox_newton",
           "liblinear", "newton-cg", "newton-cholesky", "sag", "saga")
PENALTIES = (None, "l2", "l1", "elasticnet")
# solvers for a non-smooth (L1 / elastic-net) penalty; every solver handles a pure L2 one and none
NONSMOOTH_SOLVERS = ("auto", "prox_newton", "saga", "liblinear")
# scikit-learn's ConvergenceWarning texts, leading ours when its solver name was asked for, so code
# that filters scikit-learn's warnings by message filters ours
SKLEARN_CONVERGENCE_TEXT = {
    "lbfgs": "lbfgs failed to converge after {n} iteration(s)",
    "newton-cg": "newton-cg failed to converge. Increase the number of iterations.",
    "newton-cholesky": "Newton solver did not converge after {n} iterations",
    "sag": "The max_iter was reached which means the coef_ did not converge",
    "saga": "The max_iter was reached which means the coef_ did not converge",
    "liblinear": "Liblinear failed to converge, increase the number of iterations.",
}

# solver='auto' weighs Newton's work against L-BFGS's, in multiply-adds per row of data:
# Newton: NEWTON_STEPS × (a Hessian, n·p² at DENSE_SPEEDUP times the rate of a pass, plus its
# factorisation p³/3, plus two passes of 2·n·p for F, the gradient and the line search);
# L-BFGS: LBFGS_PASSES × 2·n·p. Measured on scikit-learn's bundled datasets: Newton takes 8-12
# steps, L-BFGS 300-1,200 passes to reach max |∇F| <= 1e-8 (benchmarks/bench_bundled.py); a Hessian
# (matrix-matrix products, float32 Hessians on large float64 data) runs about 20 times faster per
# multiply-add than a pass (matrix-vector). For n ≫ p this chooses Newton up to about 2,300
# coefficients; for few rows the p³ term decides. Measured at n = 100,000 (benchmarks/_scaling.py
# data, 2026-12-02, load 1): d = 1,000, Newton 8.7 s, converged in 5 steps; L-BFGS 18.8 s and not
# converged at max_iter=100 (max |∇F| 2.7e-8); d = 2,000, Newton 29.4 s, L-BFGS 35.4 s, not converged.
# (DENSE_SPEEDUP was 8, which chose L-BFGS for both.)
NEWTON_STEPS = 10
LBFGS_PASSES = 600
DENSE_SPEEDUP = 20
# The multinomial Hessian was K(K+1)/2 thin Gram products (K(K−1)/2 since), measured at about a
# pass's rate per multiply-add (workload C of benchmarks/bench_solvers.py: 100k × 50, 10 classes,
# one Hessian ≈ 200 passes), not DENSE_SPEEDUP times faster; 600 L-BFGS passes overstate well-
# conditioned problems there (C needs 44). But while a multinomial Newton's Hessians cost at most
# NEWTON_ALWAYS_WORK multiply-adds in all (digits: 7.6e9), Newton runs whatever the model says: a
# second or less, converging in a handful of steps where L-BFGS can need hundreds on small ill-
# conditioned data.
MULTINOMIAL_DENSE_SPEEDUP = 1
NEWTON_ALWAYS_WORK = 1e10

# Newton on float64 data takes its Hessians from a float32 copy of X once one Hessian costs this
# many multiply-adds (rows × coefficients²): the copy costs half of X's memory once, each Hessian
# then about half to a third (benchmarks/README.md), and F and its gradient stay float64, so the
# optimum is the float64 one. Small X with many coefficients gains too: digits' 10-class fit
# (1,797 × 650 coefficients) halved, its binary one went from 10.8 to 7.1 ms.
FLOAT32_HESSIAN_MIN_WORK = 1 << 22
# ... and, for an X in memory, only while one Hessian's work (sampled rows × coefficients²) is at
# least FLOAT32_COPY_RATIO times X's size: the copy costs about four passes, a sampled Hessian's
# float32 saving a fraction of one. Workload A with 66k sampled rows (a Hessian's work 2.2
# times X's size): 0.31 s without the copy, 0.31-0.36 s with it; every full-row Hessian measured
# above is 30 or more times X's size.
FLOAT32_COPY_RATIO = 8

# Newton forms its Hessians from about this many rows (newton's hessian_rows): with 2M rows
# they are accurate to a few parts in a thousand, and on 20M rows they cost a tenth
HESSIAN_SAMPLE_ROWS = 1 << 21
# In memory a pass is cheap next to a Hessian of every row, so Newton samples fewer: about
# HESSIAN_ROWS_PER_COEF rows per coefficient (the sampled Hessian's relative error shrinks as
# √(coefficients / rows), and Newton's steps converge about that fast), at least
# HESSIAN_MIN_SAMPLE_ROWS. Measured on workload A (1M × 32, benchmarks/bench_solvers.py, Intel
# Xeon 2-core, 2026-12-02): 0.41-0.44 s with 2M rows (every row) against 0.31 s with 66k rows
# and full float64 Hessians, 6 Newton steps instead of 5. A streamed pass reads the files, which
# costs more than any Hessian: there one fewer step is worth more, and the 2M rows stay.
HESSIAN_ROWS_PER_COEF = 2000
HESSIAN_MIN_SAMPLE_ROWS = 1 << 16


# the tutorial's loop: it records autograd graphs and steps once per chunk. Every other fit runs
# under torch.inference_mode, which skips autograd's bookkeeping on every torch call (a 100 × 5
# default fit 2.0 → 1.6 ms, benchmarks/README.md), on cache-sized chunks of in-memory rows
STOCHASTIC_SOLVERS = ("sgd", "adam")


def _without_autograd(solver: str) -> contextlib.AbstractContextManager:
    """``torch.inference_mode()`` for a solver outside ``STOCHASTIC_SOLVERS``, else no change."""
    return contextlib.nullcontext() if solver in STOCHASTIC_SOLVERS else torch.inference_mode()


def hessian_sample_rows(objective: Objective) -> int:
    """How many rows Newton's Hessians are formed from (the rules above ``HESSIAN_ROWS_PER_COEF``)."""
    if not in_memory(objective):
        return HESSIAN_SAMPLE_ROWS
    n_coef = math.prod(objective.coef_shape)
    return min(HESSIAN_SAMPLE_ROWS, max(HESSIAN_MIN_SAMPLE_ROWS, HESSIAN_ROWS_PER_COEF * n_coef))


def float32_hessian_objective(objective: Objective, l2: L2Penalty | None) -> Objective | None:
    """The same problem over float32 rows, for Newton's costly Hessians on float64 data, or None.

    In memory the float32 copy is made once; a streamed source re-reads its files as float32
    chunks instead, so its float32 passes need no copy at all. None for cheap Hessians or float32 data,
    and for sources that cannot serve float32 (``DataSource.astype`` returns None).
    """
    source = objective.source
    n_coef = math.prod(objective.coef_shape)
    hessian_work = min(objective.n_rows, hessian_sample_rows(objective)) * n_coef * n_coef
    if objective.dtype != torch.float64 or hessian_work < FLOAT32_HESSIAN_MIN_WORK:
        return None
    if in_memory(objective) and hessian_work < FLOAT32_COPY_RATIO * objective.n_rows * source.n_features:
        return None  # the copy of X costs more than the float32 Hessians save (FLOAT32_COPY_RATIO)
    rows32 = source.astype(torch.float32)
    if rows32 is None:
        return None
    return Objective(rows32, n_outputs=objective.n_outputs, fit_intercept=objective.fit_intercept,
                     l2=None if l2 is None else L2Penalty(l2.strength.float()), dtype=torch.float32,
                     device=objective.device, feature_names=objective.feature_names)


# solver='auto' on sparse input: Newton while its dense Hessian has at most this many rows (the
# sparse Gram of the stored values is cheap; a p x p dense matrix and its factorisation are not)
SPARSE_NEWTON_MAX_PARAMS = 500


def newton_is_cheaper(n_rows: int | None, n_params: int, n_outputs: int = 1) -> bool:
    """Whether Newton's expected work is at most L-BFGS's (the model above ``NEWTON_STEPS``).

    ``n_rows`` None (not known yet) leaves out the factorisation, which matters only for few rows;
    ``n_outputs`` > 1 (multinomial) rates the Hessian at ``MULTINOMIAL_DENSE_SPEEDUP``.
    """
    p = float(n_params)
    if n_rows is None:
        hessian_share, factorisation = 1.0, 0.0
    else:
        rows = max(int(n_rows), 1)
        hessian_share, factorisation = min(1.0, HESSIAN_SAMPLE_ROWS / rows), p**3 / (3.0 * rows)
        if n_outputs > 1 and NEWTON_STEPS * hessian_share * rows * p * p <= NEWTON_ALWAYS_WORK:
            return True
    speedup = DENSE_SPEEDUP if n_outputs == 1 else MULTINOMIAL_DENSE_SPEEDUP
    newton_work = NEWTON_STEPS * ((hessian_share * p * p + factorisation) / speedup + 2.0 * 2.0 * p)
    return newton_work <= LBFGS_PASSES * 2.0 * p


# solver='auto' takes Newton-CG for a multinomial model with at least NEWTON_CG_MIN_PARAMS
# coefficients over an X of at most NEWTON_CG_MAX_VALUES values: its block Hessian then costs
# n·(K·d)²/2 multiply-adds per step while X stays in cache, so the Hessian-vector products of
# CG (two passes each) are cheap. Measured (2026-12-02, load 1.3, tol 1e-8): digits, 1,797 × 650
# coefficients, standardised 122 ms (217 passes) against Newton's 828 ms in float64 (~200 ms with
# float32 Hessians), raw 407 against 1,095 ms. Out of cache a pass is bound by memory while a Gram
# runs at matrix-matrix speed: on workload C (100k × 50, 10 classes) Newton-CG took 3.9 s, against
# 2.5 s for L-BFGS; on binary 200k × 200, 9.2 s against Newton's 2.2 s.
NEWTON_CG_MIN_PARAMS = 200
NEWTON_CG_MAX_VALUES = 1 << 20


def newton_cg_is_cheaper(n_rows: int | None, n_params: int, n_outputs: int = 1) -> bool:
    """Whether 'auto' should run Newton-CG (the rule above ``NEWTON_CG_MIN_PARAMS``)."""
    if n_outputs == 1 or n_rows is None or n_params < NEWTON_CG_MIN_PARAMS:
        return False
    return n_rows * (n_params // n_outputs) <= NEWTON_CG_MAX_VALUES


def select_solver(solver: str, n_params: int, nonsmooth: bool = False, n_rows: int | None = None,
                  n_outputs: int = 1, sparse: bool = False) -> str:
    """The solver that runs: scikit-learn's names mapped to ours (``SKLEARN_SOLVERS``), then 'auto'
    resolved: proximal Newton for an L1 term, else Newton-CG by :func:`newton_cg_is_cheaper`, Newton
    or L-BFGS by :func:`newton_is_cheaper`, and L-BFGS for sparse rows with more than
    ``SPARSE_NEWTON_MAX_PARAMS`` coefficients."""
    solver = SKLEARN_SOLVERS.get(solver, solver)
    if solver != "auto":
        return solver
    if nonsmooth:
        return "prox_newton"
    if sparse and n_params > SPARSE_NEWTON_MAX_PARAMS:
        return "lbfgs"  # the sparse Gram is cheap, but a dense p x p Hessian and its factorisation are not
    if newton_cg_is_cheaper(n_rows, n_params, n_outputs):
        return "newton_cg"
    return "newton" if newton_is_cheaper(n_rows, n_params, n_outputs) else "lbfgs"


def _penalty_name(l1_ratio: float | None) -> str | None:
    """scikit-learn's name of the penalty an effective ``l1_ratio`` gives (None: no penalty)."""
    if l1_ratio is None:
        return None
    return {0.0: "l2", 1.0: "l1"}.get(float(l1_ratio), "elasticnet")


def _deprecation_warnings(penalty: Any, l1_ratio: Any, C: float) -> None:
    """scikit-learn 1.9's warnings about ``penalty`` and ``l1_ratio`` (same categories and texts)."""
    if penalty == "deprecated":
        if l1_ratio is None:
            warnings.warn("'l1_ratio=None' was deprecated in version 1.8 and will trigger an error in 1.10. "
                          "Use 0<=l1_ratio<=1 instead.", FutureWarning, stacklevel=5)
        return
    warnings.warn(
        "'penalty' was deprecated in version 1.8 and will be removed in 1.10. To avoid this warning, "
        "leave 'penalty' set to its default value and use 'l1_ratio' or 'C' instead. Use l1_ratio=0 "
        "instead of penalty='l2', l1_ratio=1 instead of penalty='l1', l1_ratio set to a float between "
        "0 and 1 instead of penalty='elasticnet', and C=np.inf instead of penalty=None.",
        FutureWarning, stacklevel=5,
    )
    if (penalty == "l2" and l1_ratio != 0) or (penalty == "l1" and l1_ratio != 1):
        warnings.warn(f"Inconsistent values: penalty={penalty} with l1_ratio={l1_ratio}. penalty is "
                      "deprecated. Please use l1_ratio only.", UserWarning, stacklevel=5)
    if penalty is None and C != 1.0:
        warnings.warn("Setting penalty=None will ignore the C and l1_ratio parameters", UserWarning,
                      stacklevel=5)


def _asks_for_another_penalty(penalty: Any, l1_ratio: Any) -> bool:
    """An explicit ``penalty`` with an ``l1_ratio`` that asks for a different one.

    scikit-learn 1.9 warns and fits ``penalty``, ignoring ``l1_ratio`` (a silently different
    model); here that is an error. ``l1_ratio`` 0 (its default) or None with penalty='l1' is not
    a conflict: it is how ``LogisticRegression(penalty='l1')`` reads, and fits L1 (with
    scikit-learn's "Inconsistent values" warning).
    """
    if penalty in ("deprecated", "elasticnet") or l1_ratio is None:
        return False
    if penalty == "l1":
        return 0 < l1_ratio < 1
    return l1_ratio > 0


def _encode_targets(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's ``check_classification_targets`` on validated (1-D) labels, then
    :func:`encode_labels`: the sorted classes and every row's class index.

    Integer and boolean labels are always classes: for them scikit-learn's check (which sorts
    the labels twice to say so, about half a millisecond of a small fit) is replaced by its one
    other effect, the UserWarning for more distinct classes than half of 20+ rows, counted from
    the encoding. Any other dtype goes through the check first, with its errors and warnings.
    """
    if y.dtype.kind not in "biu":
        check_classification_targets(y)
        return encode_labels(y)
    classes, y_index = encode_labels(y)
    if len(classes) > 2 and y.shape[0] > 20 and len(classes) > round(0.5 * y.shape[0]):
        warnings.warn("The number of unique classes is greater than 50% of the number of samples. `y` "
                      "could represent a regression problem, not a classification problem.",
                      UserWarning, stacklevel=4)
    return classes, y_index


class LogisticRegression(CallbackSupportMixin, SparseCoefMixin, LinearClassifierMixin, BaseEstimator):
    """Logistic regression (binomial and multinomial) with exact solvers on PyTorch.

    A drop-in for scikit-learn 1.9's ``LogisticRegression``: the same parameters, defaults (but
    ``solver`` and ``tol``, see below), warnings and errors, and the same optimum. Minimises
    ``C · Σᵢ sᵢ ℓ(yᵢ, xᵢ) + (1−r)/2 ‖W‖² + r ‖W‖₁`` (``r`` = ``l1_ratio``, intercept unpenalised),
    internally divided by ``C · Σᵢ sᵢ`` (see :mod:`torchlogit.core.objective`), so ``coef_`` and
    ``intercept_`` agree with scikit-learn's one to one.

    Parameters
    ----------
    penalty : {'l2', 'l1', 'elasticnet', None}, default='deprecated'
        Deprecated in scikit-learn 1.8 (removed in 1.10), as here: any value but the default warns
        with scikit-learn's FutureWarning. Use ``l1_ratio`` and ``C``. An ``l1_ratio`` that asks
        for a different penalty than ``penalty`` (``penalty='l2', l1_ratio=0.5``) is a ValueError
        (scikit-learn warns and ignores ``l1_ratio``).
    C : float, default=1.0
        Inverse regularisation strength; ``np.inf`` fits the unpenalised maximum-likelihood model.
    l1_ratio : float in [0, 1], default=0.0
        The penalty: 0 is L2, 1 is L1 (lasso), in between the elastic net, elementwise on the
        class-by-feature matrix for 3+ classes. L1 parts are solved by proximal Newton.
        None is deprecated (scikit-learn's FutureWarning) and means 0.
    dual : bool, default=False
        As scikit-learn: only solver='liblinear' with an L2 penalty takes ``dual=True``; the dual
        problem has the primal's optimum, which is solved instead.
    tol : float, default=1e-8
        Stop when ``max |∇F| <= tol``, F the mean objective (loss averaged over the sample
        weights plus the penalty divided by ``C·Σsᵢ``): scikit-learn's rule for 'lbfgs', whose
        default is 1e-4. Newton reaches 1e-8 at about the cost of 1e-4. With an L1 part ``tol``
        bounds the KKT violation (minimum-norm subgradient).
    gap_tol : float or None, default=None
        With an L1 part, also stop once the duality gap (``duality_gap_``) is at most ``gap_tol``:
        a certificate that ``objective_`` is within ``gap_tol`` of the optimum, the stopping rule
        of skglm and celer. The working-set solver then runs with KKT targets falling 20-fold from
        ``gap_tol / 10`` (:mod:`torchlogit.solvers.gap_stop`) until the gap certifies or ``tol``
        holds. None: ``tol`` alone. No effect without an L1 part or with a checkpoint.
    fit_intercept : bool, default=True
    intercept_scaling : float > 0, default=1
        As scikit-learn, used by solver='liblinear' only: that solver appends a constant column of
        this value, whose coefficient (times it) is the intercept, and penalises it like any other.
    class_weight : dict, 'balanced' or None
        Multiplies each row's weight by its class's weight (as scikit-learn).
    random_state : int, RandomState or None
        Seeds the shuffling of the 'sgd'/'adam' solvers; no effect on the exact ones.
    solver : str, default='auto'
        Ours: 'auto' (proximal Newton with an L1 part, else Newton, Newton-CG or L-BFGS, whichever
        the cost models of :func:`newton_cg_is_cheaper` and :func:`newton_is_cheaper` expect to be
        cheaper), 'newton', 'newton_cg' (Newton steps by conjugate gradients on Hessian-vector
        products, no Hessian matrix), 'lbfgs', 'prox_newton', and 'sgd'/'adam' (the tutorial's
        mini-batch loop on the same objective).
        scikit-learn's, all reaching the exact optimum of scikit-learn's objective:
        'lbfgs' → our L-BFGS; 'newton-cg' → Newton-CG; 'newton-cholesky' → Newton; 'sag' → 'auto' (L2
        only, as there); 'saga' → 'auto' (every penalty); 'liblinear' → 'auto' on liblinear's own
        objective, which penalises the intercept (see ``intercept_scaling``), binary only and
        always penalised, as there. Their penalty restrictions and error messages are
        scikit-learn's.
    max_iter : int, default=100
        Newton steps, L-BFGS iterations or SGD/Adam epochs.
    verbose : int, default=0
        Log per-iteration progress on the ``torchlogit`` logger when > 0.
    warm_start : bool, default=False
        Start from the previous ``coef_``/``intercept_`` when their shape fits.
    n_jobs : None
        As scikit-learn 1.9: no effect, and deprecated (any value but None warns).
    dtype : {'float64', 'float32'}, default='float64'
        The precision of the fit. ``coef_`` and ``intercept_`` are float32 when this is float32 or
        ``X`` is float32 (as scikit-learn; 'liblinear' always gives float64, as there).
    device : {'cpu', 'cuda', 'auto'}, default='cpu'
    learning_rate : float, default=0.1
        Step size of 'sgd' and 'adam'.
    batch_size : int or None, default=None
        Mini-batch size of 'sgd' and 'adam'; None uses full batches, like the tutorial.
    penalty_factor : array of shape (n_features,) or None, default=None
        Non-negative per-feature multipliers of the penalty (glmnet's ``penalty.factor``):
        0 leaves a feature unpenalised.

    Attributes
    ----------
    coef_, intercept_, classes_, n_features_in_, feature_names_in_, n_iter_ : as scikit-learn
    solver_ : the solver that ran (what 'auto' chose)
    converged_, objective_, grad_max_, n_passes_, history_ : the fit's record: converged, the final
        mean objective F, its max |∇F| (KKT violation with an L1 part), passes over the data,
        and per iteration F and max |∇F|
    duality_gap_ : float or None
        With an L1 part, the duality gap of the mean objective at the fit
        (:mod:`torchlogit.core.duality`): a certificate that ``objective_`` is at most this far
        above the optimum (NaN when a feature is unpenalised by ``penalty_factor``). None without
        an L1 part.

    Notes
    -----
    Inputs: numpy arrays, pandas DataFrames (feature names kept), torch tensors and scipy
    sparse matrices. Sparse rows are never densified: every pass reads the stored values only.
    L1 fits solve on working sets of columns, grown from the worst KKT violators, and certify the
    answer on every column. ``sparsify()``/``densify()`` turn ``coef_`` into a CSR matrix and back,
    as scikit-learn's.
    """

    def __init__(  # noqa: PLR0913  scikit-learn: hyperparameters are __init__ keywords
        self, penalty: Penalty = "deprecated", *, C: float = 1.0, l1_ratio: float | None = 0.0,
        dual: bool = False, tol: float = 1e-8, fit_intercept: bool = True, intercept_scaling: float = 1,
        class_weight: dict | str | None = None, random_state: Any = None, solver: SolverName = "auto",
        max_iter: int = 100, verbose: int = 0, warm_start: bool = False, n_jobs: int | None = None,
        dtype: str = "float64", device: str = "cpu", learning_rate: float = 0.1,
        batch_size: int | None = None, penalty_factor: Any = None, gap_tol: float | None = None,
    ):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.dual = dual
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.class_weight = class_weight
        self.random_state = random_state
        self.solver = solver
        self.max_iter = max_iter
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.dtype = dtype
        self.device = device
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.penalty_factor = penalty_factor
        self.gap_tol = gap_tol

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        if self.solver == "liblinear":
            tags.classifier_tags.multi_class = False
        return tags

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> None:
        """Every parameter alone and with the others; raises ValueError naming the problem."""
        self._check_penalty_params()
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        self._check_solver_params()
        check_tol(self.tol)
        if self.gap_tol is not None:
            check_tol(self.gap_tol, "gap_tol")
        if not isinstance(self.max_iter, numbers.Integral) or self.max_iter < 0:
            raise ValueError(f"max_iter must be a non-negative integer, got {plain(self.max_iter)!r}")
        if not isinstance(self.learning_rate, numbers.Real) or not 0 < self.learning_rate < math.inf:
            raise ValueError(
                f"learning_rate must be a positive finite number, got {plain(self.learning_rate)!r}"
            )
        if self.batch_size is not None and (
            not isinstance(self.batch_size, numbers.Integral) or self.batch_size < 1
        ):
            raise ValueError(f"batch_size must be a positive integer or None, got {plain(self.batch_size)!r}")
        if not (self.class_weight is None or self.class_weight == "balanced"
                or isinstance(self.class_weight, dict)):
            raise ValueError(
                f"class_weight must be None, 'balanced' or a dict, got {self.class_weight!r}"
            )
        if not (isinstance(self.intercept_scaling, numbers.Real) and 0 < self.intercept_scaling < math.inf):
            raise ValueError("intercept_scaling must be a positive finite number, got "
                             f"{plain(self.intercept_scaling)!r}")
        if self.n_jobs is not None and not isinstance(self.n_jobs, numbers.Integral):
            raise ValueError(f"n_jobs must be None or an integer, got {plain(self.n_jobs)!r}")

    def _check_penalty_params(self) -> None:
        """The penalty, C, l1_ratio and penalty_factor, alone and together."""
        if self.penalty not in ("deprecated", *PENALTIES):
            raise ValueError(f"penalty must be one of {PENALTIES} (deprecated: use l1_ratio and C), "
                             f"got {self.penalty!r}")
        ratio = self.l1_ratio
        if ratio is not None and not (isinstance(ratio, numbers.Real) and not isinstance(ratio, bool)
                                      and 0 <= ratio <= 1):
            raise ValueError(f"l1_ratio must be a number in [0, 1] (0: L2, 1: L1, between: elastic net), "
                             f"got {plain(ratio)!r}")
        if self.penalty == "elasticnet" and ratio is None:
            raise ValueError("l1_ratio must be specified when penalty is elasticnet.")
        if _asks_for_another_penalty(self.penalty, ratio):
            raise ValueError(
                f"l1_ratio={plain(ratio)!r} applies only to penalty='elasticnet' (penalty={self.penalty!r} "
                "would ignore it): leave penalty out (deprecated since scikit-learn 1.8) and let l1_ratio "
                "choose the penalty (0: L2, 1: L1, between: elastic net; C=np.inf: none)"
            )
        if not isinstance(self.C, numbers.Real) or not self.C > 0:
            raise ValueError(f"C must be a positive number (np.inf for no penalty), got {plain(self.C)!r}")
        if not self._penalised and self.penalty_factor is not None:
            raise ValueError("penalty_factor has no effect with penalty=None (or C=np.inf): drop it, "
                             "or choose a penalty")
        if self.dual not in (True, False):
            raise ValueError(f"dual must be a boolean, got {plain(self.dual)!r}")

    def _check_solver_params(self) -> None:
        """The solver against the penalty, ``dual`` and ``fit_source``: scikit-learn's messages."""
        solver, ratio = self.solver, self._effective_l1_ratio()
        if ratio not in (None, 0.0) and solver not in NONSMOOTH_SOLVERS:
            raise ValueError(
                f"Solver {solver} supports only 'l2' or None penalties, got {_penalty_name(ratio)} penalty. "
                "An L1 part needs solver='auto', 'saga' or 'prox_newton' (proximal Newton)"
            )
        if self.dual and solver != "liblinear":
            raise ValueError(f"Solver {solver} supports only dual=False, got dual={self.dual}")
        if solver != "liblinear":
            return
        if ratio is not None and 0 < ratio < 1:
            raise ValueError(f"Only 'saga' solver supports elasticnet penalty, got solver={solver}.")
        if ratio is None:
            raise ValueError("C=np.inf as well as penalty=None is not supported for the liblinear solver")
        if self.dual and ratio == 1:
            raise ValueError(
                "Unsupported set of arguments: The combination of penalty='l1' and "
                "loss='logistic_regression' are not supported when dual=True, Parameters: penalty='l1', "
                "loss='logistic_regression', dual=True"
            )

    def _effective_l1_ratio(self) -> float | None:
        """The L1 share of the penalty the fit uses, None for no penalty (scikit-learn 1.9's rules:
        ``penalty``, when given, wins; then ``C=np.inf`` means none; then ``l1_ratio``)."""
        if self.penalty is None or math.isinf(self.C):
            return None
        if self.penalty == "l2":
            return 0.0
        if self.penalty == "l1":
            return 1.0
        return float(self.l1_ratio or 0.0)

    @property
    def _penalised(self) -> bool:
        return self._effective_l1_ratio() is not None

    @property
    def _l1_ratio(self) -> float:
        """The share of the penalty that is L1 (0 without a penalty)."""
        return self._effective_l1_ratio() or 0.0

    @property
    def _liblinear_intercept(self) -> bool:
        """Whether the intercept is fitted as liblinear's penalised column of ``intercept_scaling``."""
        return self.solver == "liblinear" and bool(self.fit_intercept)

    @with_callbacks  # scikit-learn's callbacks' teardown; a frame the warnings' stacklevels count
    def fit(
        self, X: Any, y: Any, sample_weight: Any = None, *,
        callback: Callable[[int, float, float], None] | None = None,
    ) -> LogisticRegression:
        """Fit the model to ``X`` (n_samples, n_features) and labels ``y``.

        ``callback(iteration, objective, max_abs_gradient)``, when given, is called after each
        iteration (Newton step, L-BFGS evaluation or epoch), e.g. to drive a progress bar.
        scikit-learn 1.9's callbacks (``set_callbacks``, :mod:`sklearn.callback`) see the fit
        and every solver iteration with its coefficients, whatever the solver (scikit-learn 1.9:
        'lbfgs' only); see :mod:`torchlogit.estimators._callbacks`. The one exception: L1 fits
        on wide sparse binomial data run a compiled loop that reports only its final point.

        Returns
        -------
        self
        """
        self._check_params()
        self._warn_like_sklearn()
        dtype = resolve_dtype(self.dtype)
        X, y = validate_data(
            self, tensor_to_numpy(X), tensor_to_numpy(y), accept_sparse="csr",
            dtype=[np.float64, np.float32], y_numeric=False,
        )
        self.classes_, y_index = _encode_targets(y)
        n_classes = len(self.classes_)
        self._check_classes(X, n_classes)
        weights, weight_sum = self._row_weights(sample_weight, X, y, y_index, dtype)
        weighted_classes = np.bincount(y_index, weights=weights, minlength=n_classes) > 0
        if weighted_classes.sum() < 2:
            raise ValueError(
                "sample_weight (times class_weight) leaves fewer than 2 classes with positive "
                "weight; at least 2 classes are needed"
            )

        names = list(self.feature_names_in_) if hasattr(self, "feature_names_in_") else None
        np_dtype = np.float64 if dtype == torch.float64 else np.float32
        rows = self._with_intercept_column(X) if self._liblinear_intercept else X
        source = make_source(rows, y_index, weights.astype(np_dtype), dtype, resolve_device(self.device),
                             None if names is None or rows is X else [*names, "intercept_scaling"],
                             cache_sized=self.solver not in STOCHASTIC_SOLVERS)
        float32 = X.dtype == np.float32 and self.solver != "liblinear"  # scikit-learn keeps float32
        tasks = FitTasks.begin(self, X, y, sample_weight, lambda coef: self._public_coef(coef, float32))
        self._fit_objective(source, n_classes, weight_sum, callback, feature_names=names, tasks=tasks)
        if float32:
            self.coef_, self.intercept_ = self.coef_.astype(np.float32), self.intercept_.astype(np.float32)
        if not self._penalised:
            self._warn_if_separated(X, y_index, weights, n_classes)
        if tasks is not None:
            tasks.end()
        return self

    def _row_weights(self, sample_weight: Any, X: Any, y: np.ndarray, y_index: np.ndarray,
                     dtype: torch.dtype) -> tuple[np.ndarray, float]:
        """Each row's weight (``sample_weight`` times its class's ``class_weight``) and their sum,
        both checked against ``dtype``'s range. No ``sample_weight`` gives ones without a pass
        through scikit-learn's validation (what it returns for None)."""
        if sample_weight is None:
            weights = np.ones(X.shape[0], dtype=np.float64)
        else:
            weights = check_sample_weight(tensor_to_numpy(sample_weight), X)
        weight_sum = checked_weight_sum(weights, dtype)
        if self.class_weight is None:
            return weights, weight_sum
        per_class = compute_class_weight(self.class_weight, classes=self.classes_, y=y, sample_weight=weights)
        with np.errstate(over="ignore"):
            weights = weights * per_class[y_index]
        return weights, checked_weight_sum(weights, dtype, "sample_weight times class_weight")

    def _warn_like_sklearn(self) -> None:
        """scikit-learn 1.9's FutureWarnings and UserWarnings about deprecated or ignored parameters."""
        _deprecation_warnings(self.penalty, self.l1_ratio, self.C)
        if self.n_jobs is not None:
            warnings.warn("'n_jobs' has no effect since 1.8 and will be removed in 1.10. You provided "
                          f"'n_jobs={self.n_jobs}', please leave it unspecified.", FutureWarning,
                          stacklevel=4)

    def _check_classes(self, X: Any, n_classes: int) -> None:
        """At least two classes; for liblinear, two exactly and no value it cannot handle (as there)."""
        if self.solver == "liblinear" and n_classes > 2:
            raise ValueError(
                "The 'liblinear' solver does not support multiclass classification (n_classes >= 3). "
                "Either use another solver or wrap the estimator in a OneVsRestClassifier to keep "
                "applying a one-versus-rest scheme."
            )
        if self.solver == "liblinear" and X.size and X.max() > 1e30:
            raise ValueError("Using the 'liblinear' solver while X contains a maximum value > 1e30 results "
                             "in a frozen fit. Please choose another solver or rescale the input X.")
        if n_classes < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, but the data "
                f"contains only one class: {plain(self.classes_[0])!r}"
            )

    def _with_intercept_column(self, X: Any) -> Any:
        """``X`` with liblinear's synthetic column of ``intercept_scaling`` appended (a copy)."""
        column = np.full((X.shape[0], 1), float(self.intercept_scaling), dtype=X.dtype)
        if sp.issparse(X):
            return sp.hstack([X, sp.csr_matrix(column)], format="csr", dtype=X.dtype)
        return np.hstack([X, column])

    @with_callbacks
    def fit_source(
        self, source: DataSource, classes: Any, *,
        callback: Callable[[int, float, float], None] | None = None, checkpoint: Any = None,
        feature_names: Sequence[str] | None = None,
    ) -> LogisticRegression:
        """Fit to the rows of a :class:`~torchlogit.data.DataSource`, whose ``y`` index ``classes``.

        For data that does not fit in memory or is spread over processes: every pass streams the
        source's chunks (:mod:`torchlogit.data.streaming`), and under torch.distributed each
        rank's source holds its own shard and the sums are all-reduced, so every rank ends with
        the same coefficients. The solvers are those of :meth:`fit` and reach the same optimum on
        the same rows. Sample weights come with the chunks; ``class_weight`` must be None (put it
        into the weights). :func:`torchlogit.estimators.streaming.fit_streamed` wraps this for files.

        Parameters
        ----------
        source : yields ``(X, y, sample_weight)`` chunks of the estimator's ``dtype``/``device``
        classes : the labels, sorted; ``y == k`` means ``classes[k]``
        callback : as for :meth:`fit`
        checkpoint : :class:`~torchlogit.solvers.checkpoint.Checkpoint` or None; the fit starts from its
            saved coefficients, if any, and saves them after every iteration
        feature_names : the source's column names, for error messages (default ``x1..xd``)

        scikit-learn's callbacks (``set_callbacks``) see the fit as in :meth:`fit`, with
        ``X``, ``y`` and ``metadata`` None: the rows are the source's.
        """
        self._check_params()
        self._warn_like_sklearn()
        if self.class_weight is not None:
            raise ValueError("fit_source does not apply class_weight; multiply it into the source's "
                             "sample weights")
        if self._liblinear_intercept:
            raise ValueError("solver='liblinear' fits the intercept as a penalised extra column of "
                             "intercept_scaling, which fit_source cannot append to a source; use "
                             "solver='auto' (unpenalised intercept) or fit_intercept=False")
        self.classes_ = np.asarray(classes)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least 2 classes, got {self.classes_.tolist()}")
        source = as_data_source(source)
        self.n_features_in_ = source.n_features
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        tasks = FitTasks.begin(self, None, None, None, self._public_coef)
        # the objective's sums finish with each chunk before taking the next: buffers may be reused
        self._fit_objective(source.reusing_buffers(), len(self.classes_), None, callback, checkpoint,
                            feature_names, tasks)
        if tasks is not None:
            tasks.end()
        return self

    def _fit_objective(
        self, source: DataSource, n_classes: int, weight_sum: float | None,
        callback: Callable[[int, float, float], None] | None, checkpoint: Any = None,
        feature_names: Sequence[str] | None = None, tasks: FitTasks | None = None,
    ) -> None:
        """Build the objective over ``source`` (``weight_sum`` None: from a pass), run the solver, store.

        For liblinear's intercept the source's last column is the synthetic one (:meth:`fit`).
        ``tasks`` (scikit-learn's callbacks) get the solver's iterates.
        A result with non-finite coefficients or objective raises instead of being stored."""
        with _without_autograd(self.solver):  # from the objective's first pass to the stored result
            dtype = resolve_dtype(self.dtype)
            device = resolve_device(self.device)
            synthetic = self._liblinear_intercept
            if synthetic and feature_names is not None:
                feature_names = [*feature_names, "intercept_scaling"]
            objective = Objective(
                source, n_outputs=1 if n_classes == 2 else n_classes,
                fit_intercept=self.fit_intercept and not synthetic, l2=None, dtype=dtype, device=device,
                feature_names=feature_names,
            )
            # one thread for small work from here to the stored result: on a busy machine even the
            # p-long vectors of the set-up and the checks wait for a second thread (_threads.py)
            with single_thread_if_small(pass_work(objective), reserved=source.reading_cores):
                self._solve(objective, weight_sum, callback, checkpoint, tasks)

    def _solve(
        self, objective: Objective, weight_sum: float | None,
        callback: Callable[[int, float, float], None] | None, checkpoint: Any, tasks: FitTasks | None,
    ) -> None:
        """Penalty, solver and starting point for ``objective``; the solver's run; the result stored."""
        strength, l1 = None, None
        if self._penalised:
            strength, l1 = self._penalty_terms(objective, weight_sum)
            objective = objective.with_l2(strength)
        coef0 = self._starting_point(objective)
        n_params = objective.coef_shape[0] * objective.coef_shape[1]
        solver = select_solver(self.solver, n_params, nonsmooth=l1 is not None, n_rows=objective.n_rows,
                               n_outputs=objective.coef_shape[0], sparse=sparse_rows(objective))
        hessian_objective = float32_hessian_objective(objective, strength) if solver == "newton" else None
        if checkpoint is not None:
            coef0 = checkpoint.restore(coef0)
            if solver not in ("sgd", "adam", "newton"):  # those save their own state (checkpoint.*_hooks)
                callback = checkpoint.wrap(callback, objective, hessian_objective)
        on_iterate = None if tasks is None else tasks.iterations(coef0, solver)
        callback = self._solver_callback(solver, callback, on_iterate)
        result = self._run_solver(solver, objective, coef0, callback, l1=l1,
                                  hessian_objective=hessian_objective, checkpoint=checkpoint)
        if tasks is not None:
            tasks.end_iterations(result.coef)
        check_finite_result(result, solver)
        self._store(result, solver)
        self.duality_gap_ = None if l1 is None else self._duality_gap(objective, result, l1)
        result.proba = None  # n values: needed for the gap only

    def _penalty_terms(self, objective: Objective, weight_sum: float | None) -> tuple[Any, Any]:
        """The L2 and L1 terms ``1/(C·Σsᵢ) · factor · ((1−r)/2 W² + r|W|)`` over the objective's columns
        (liblinear's synthetic intercept column is one of them, with factor 1)."""
        dtype, device = objective.dtype, objective.device
        alpha = 1.0 / (self.C * (objective.weight_sum if weight_sum is None else weight_sum))
        if not math.isfinite(alpha):
            raise ValueError(f"C={plain(self.C)!r} is too small: the penalty strength "
                             "1/(C * sum of sample_weight) overflows; use a larger C")
        n_columns = objective.source.n_features
        n_features = n_columns - int(self._liblinear_intercept)
        factor = penalty_factor_tensor(self.penalty_factor, n_features, dtype, device)
        if factor is not None and self._liblinear_intercept:
            factor = torch.cat([factor, factor.new_ones(1)])
        return elastic_net(alpha, self._l1_ratio, n_columns, objective.fit_intercept, factor,
                           dtype=dtype, device=device)

    def _store(self, result: SolverResult, solver: str) -> None:
        """``coef_``, ``intercept_`` and the fit's record from the solver's result; warns if it did not
        converge (unless a callback stopped it: scikit-learn's callbacks' early stop)."""
        self.coef_, self.intercept_ = self._public_coef(result.coef)
        self.n_iter_ = np.array([result.n_iter], dtype=np.int32)
        self.solver_ = solver
        self.converged_ = result.converged
        self.objective_ = result.objective
        self.grad_max_ = result.grad_max
        self.n_passes_ = result.n_passes
        self.history_ = result.history
        if not result.converged and result.message != STOPPED_BY_HOOK:
            warnings.warn(self._convergence_message(solver, result), ConvergenceWarning, stacklevel=6)

    def _public_coef(self, coef: torch.Tensor, float32: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``(coef_, intercept_)`` from the solvers' matrix (new arrays, in the fit's precision;
        float32 too when ``float32``): liblinear's synthetic column times ``intercept_scaling`` is
        the intercept. Stores every fit, and maps the iterates scikit-learn's callbacks see."""
        np_dtype = np.float64 if resolve_dtype(self.dtype) == torch.float64 else np.float32
        coef = coef.detach().cpu().numpy().astype(np_dtype, copy=False)
        if self._liblinear_intercept:  # the synthetic column's weight times its value is the intercept
            coef_, intercept_ = coef[:, :-1].copy(), coef[:, -1] * np_dtype(self.intercept_scaling)
        else:
            coef_, intercept_ = split_coef(coef, self.fit_intercept)
        if float32:
            return coef_.astype(np.float32), intercept_.astype(np.float32)
        return coef_, intercept_

    @staticmethod
    def _duality_gap(objective: Objective, result: SolverResult, l1: L1Penalty) -> float:
        """The fit's duality gap (:mod:`torchlogit.core.duality`), for L1 fits only: up to two
        passes (none when the solver stopped on it, one less when it kept its probabilities)."""
        if result.duality_gap is not None:
            return result.duality_gap
        smooth = result.objective - float(l1.value(result.coef))
        return duality_gap(objective, result.coef, l1, value_grad=(smooth, result.grad),
                           proba=result.proba).gap

    def _starting_point(self, objective: Objective) -> torch.Tensor:
        coef0 = objective.zeros()
        if self.warm_start and hasattr(self, "coef_"):
            coef = self.coef_.toarray() if sp.issparse(self.coef_) else np.asarray(self.coef_)
            if self._liblinear_intercept:
                previous = np.hstack([coef, np.asarray(self.intercept_)[:, None] / self.intercept_scaling])
            else:
                previous = join_coef(coef, self.intercept_, self.fit_intercept)
            if previous.shape == tuple(objective.coef_shape):
                coef0 = torch.as_tensor(previous, dtype=objective.dtype, device=objective.device)
        return coef0

    def _solver_callback(
        self, solver: str, user_callback: Callable[[int, float, float], None] | None,
        on_iterate: Callable[[int, torch.Tensor], bool] | None,
    ) -> Callable[[int, float, float], None]:
        """The solver's ``callback``: the user's, after a log line per iteration when ``verbose``,
        carrying ``on_iterate`` (scikit-learn's callbacks, :class:`FitTasks`) when given."""

        def callback(iteration: int, f: float, grad_max: float) -> None:
            if self.verbose:
                logger.info("%s iteration %d: objective %.12g, max |gradient| %.3g", solver,
                            iteration, f, grad_max)
            if user_callback is not None:
                user_callback(iteration, f, grad_max)

        return callback if on_iterate is None else SolverCallbacks(callback, on_iterate)

    def _run_solver(
        self, solver: str, objective: Objective, coef0: torch.Tensor,
        callback: Callable[[int, float, float], None], l1: L1Penalty | None = None,
        hessian_objective: Objective | None = None, checkpoint: Any = None,
    ) -> SolverResult:
        """Run ``solver`` from ``coef0`` (``callback`` from :meth:`_solver_callback`)."""
        common = {"tol": self.tol, "max_iter": self.max_iter, "callback": callback}
        if solver == "prox_newton" and l1 is not None and checkpoint is None:
            if self.gap_tol is not None:
                return gap_certified(objective, coef0, l1=l1, gap_tol=self.gap_tol, **common)
            return working_set_prox_newton(objective, coef0, l1=l1, **common)
        if solver == "prox_newton":  # smooth, or a checkpoint saving the full problem's iterates
            return prox_newton(objective, coef0, l1=l1, **common)
        if solver == "newton_cg":
            return newton_cg(objective, coef0, **common)
        if solver == "newton":
            return newton(objective, coef0, hessian_objective=hessian_objective,
                          hessian_rows=hessian_sample_rows(objective), **common,
                          snapshots=checkpoint.solver_hooks() if checkpoint is not None else None)
        if solver == "lbfgs":
            return lbfgs(objective, coef0, **common)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        options = StochasticOptions(optimizer=solver, learning_rate=self.learning_rate,
                                    batch_size=self.batch_size,
                                    generator=torch.Generator().manual_seed(int(seed)))
        return stochastic(objective, coef0, options, **common,
                          snapshots=checkpoint.stochastic_hooks() if checkpoint is not None else None)

    def _convergence_message(self, solver: str, result: SolverResult) -> str:
        advice = (
            "use solver='newton' for the exact optimum, or raise max_iter / tune learning_rate"
            if solver in ("sgd", "adam")
            else "raise max_iter, standardise the features, or loosen tol"
        )
        sklearn_text = SKLEARN_CONVERGENCE_TEXT.get(self.solver)
        lead = "" if sklearn_text is None else sklearn_text.format(n=result.n_iter) + " "
        return (
            f"{lead}solver {solver!r} did not converge: {result.message}; final max |gradient| "
            f"{result.grad_max:.3g} > tol {self.tol:g} after {result.n_iter} iterations. To fix: "
            f"{advice}."
        )

    def _warn_if_separated(self, X: Any, y_index: np.ndarray, weights: np.ndarray, n_classes: int) -> None:
        # X is already validated (a plain array): score it directly, not through
        # decision_function, which would warn about missing feature names
        scores = safe_sparse_dot(X, self.coef_.T) + self.intercept_
        if np.abs(scores).max() < SEPARATION_SCORE and self.converged_:
            return
        dense = X.toarray() if sp.issparse(X) else np.asarray(X)
        found = find_separation(dense, y_index, weights, n_classes, self.fit_intercept)
        self.separation_ = found
        if found is None:
            return
        # the features named as summary() names them (feature_names_in_, else x1..xd)
        described = describe_separation(found, dense, y_index, weights, self.classes_, self.fit_intercept,
                                        feature_names(self, X.shape[1]))
        warnings.warn(
            f"The maximum-likelihood estimate does not exist: {described['what']} are (quasi-)completely "
            f"separated by a linear combination of {separating_features_text(described)}. "
            "The unpenalised coefficients grow without bound (the reported ones are arbitrary). "
            "Use a penalty (a finite C, e.g. the default C=1.0) or Firth's bias-reduced method.",
            PerfectSeparationWarning, stacklevel=4,
        )

    # --------------------------------------------------------------- prediction
    def decision_function(self, X: Any) -> np.ndarray:
        """Scores ``X @ coef_.T + intercept_``: shape (n,) for two classes, (n, n_classes) else."""
        return super().decision_function(tensor_to_numpy(X))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels."""
        return super().predict(tensor_to_numpy(X))

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log class probabilities, via log-sigmoid / log-softmax (no log of a rounded probability)."""
        from scipy.special import log_expit, log_softmax

        scores = np.asarray(self.decision_function(X), dtype=np.float64)
        if scores.ndim == 1:
            return np.stack([log_expit(-scores), log_expit(scores)], axis=1)
        return log_softmax(scores, axis=1)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``: the sigmoid of both signs of
        the score (each accurate where it is tiny, unlike ``1 − p``) or the stable softmax. numpy
        and scipy, as scikit-learn: a few rows cost microseconds, not torch's calls."""
        from scipy.special import expit, softmax

        scores = np.asarray(self.decision_function(X), dtype=np.float64)
        if scores.ndim == 1:
            return np.stack([expit(-scores), expit(scores)], axis=1)
        return softmax(scores, axis=1)

    def to_model(self):
        """The fitted coefficients as a :class:`~torchlogit.core.model.LogisticModel` (float64, CPU)."""
        from torchlogit.core.model import LogisticModel

        check_is_fitted(self)
        model = LogisticModel(self.coef_.shape[1], self.coef_.shape[0], bias=self.fit_intercept,
                              dtype=torch.float64)
        dense = self.coef_.toarray() if sp.issparse(self.coef_) else self.coef_
        coef = join_coef(dense, self.intercept_, self.fit_intercept)
        model.load_coef_matrix(torch.as_tensor(coef, dtype=torch.float64))
        return model

    # ---------------------------------------------------------------- inference
    def summary(  # noqa: PLR0913  statsmodels' summary keywords, documented API
        self, X: Any, y: Any, sample_weight: Any = None, *, cov_type: str = "nonrobust",
        groups: Any = None, alpha: float = 0.05, allow_penalized: bool = False,
        xname: list[str] | None = None, yname: str | None = None,
    ):
        """Standard errors, tests, intervals and fit statistics, as statsmodels' ``Logit``/``MNLogit``.

        Pass the data the model was fitted on. Returns a
        :class:`~torchlogit.inference.results.LogitResults` (``params``, ``bse``, ``pvalues``,
        ``conf_int()``, ``llf``, ``aic``, ``get_margeff()``, ...); ``print(res.summary())`` prints
        statsmodels' table. Conventions and covariance corrections: :mod:`torchlogit.inference.results`.

        Parameters
        ----------
        X, y, sample_weight : the fitting data; weights are treated as frequency weights
        cov_type : {'nonrobust', 'HC0' (alias 'robust'), 'HC1', 'cluster'}
        groups : array of shape (n_samples,), cluster labels for ``cov_type='cluster'``
        alpha : confidence intervals at level ``1 - alpha``
        xname, yname : names for the features and the target in the table (as statsmodels'
            ``summary(xname=, yname=)``); by default ``feature_names_in_`` or x1..xd, and y
        allow_penalized : with an L2 penalty, summary() refuses (ValueError) unless this is True;
            then standard errors come from the penalised information (a Bayesian/Laplace
            approximation, flagged in the table), not maximum-likelihood theory.

        Examples
        --------
        >>> res = LogisticRegression(penalty=None).fit(X, y).summary(X, y)  # doctest: +SKIP
        >>> print(res.summary())  # doctest: +SKIP
        """
        from torchlogit.inference.summarize import summarize

        return summarize(self, X, y, sample_weight, cov_type=cov_type, groups=groups, alpha=alpha,
                         allow_penalized=allow_penalized, xname=xname, yname=yname)
