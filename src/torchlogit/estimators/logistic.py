"""``LogisticRegression``: a scikit-learn compatible classifier on torchlogit's exact solvers."""

from __future__ import annotations

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
from torchlogit._sklearn import LinearClassifierMixin, check_sample_weight
from torchlogit._threads import single_thread_if_small
from torchlogit._validation import (
    encode_labels,
    plain,
    resolve_device,
    resolve_dtype,
    tensor_to_numpy,
)
from torchlogit.core.objective import Objective
from torchlogit.core.penalties import L1Penalty, L2Penalty, elastic_net
from torchlogit.data import DataSource, as_data_source
from torchlogit.estimators._shared import (
    check_finite_result,
    check_tol,
    checked_weight_sum,
    join_coef,
    make_source,
    penalty_factor_tensor,
    split_coef,
)
from torchlogit.inference.naming import feature_names
from torchlogit.inference.separation import (
    SEPARATION_SCORE,
    describe_separation,
    find_separation,
    separating_features_text,
)
from torchlogit.solvers import SolverResult, StochasticOptions, lbfgs, newton, prox_newton, stochastic

logger = logging.getLogger("torchlogit")

Penalty = Literal["l2", "l1", "elasticnet"] | None
SolverName = Literal["auto", "newton", "lbfgs", "sgd", "adam", "prox_newton"]

SOLVERS = ("auto", "newton", "lbfgs", "sgd", "adam", "prox_newton")
PENALTIES = (None, "l2", "l1", "elasticnet")
# solvers for a non-smooth (L1 / elastic-net) penalty; every solver handles 'l2' and None
NONSMOOTH_SOLVERS = ("auto", "prox_newton")

# solver='auto' uses Newton while the Hessian has at most this many rows (coefficients incl.
# intercepts); above it, forming and factorising the Hessian costs more than L-BFGS's extra passes.
AUTO_NEWTON_MAX_PARAMS = 500

# Newton on float64 data takes its Hessians from a float32 copy of X once X has this many values:
# the copy costs half of X's memory once, each Hessian then costs about a third (benchmarks/README.md),
# and F and its gradient stay float64, so the optimum is the float64 one.
FLOAT32_HESSIAN_MIN_VALUES = 1 << 22

# Newton forms its Hessians from about this many rows (newton's hessian_rows): with 2M rows
# they are accurate to a few parts in a thousand, and on 20M rows they cost a tenth
HESSIAN_SAMPLE_ROWS = 1 << 21


def float32_hessian_objective(objective: Objective, l2: L2Penalty | None) -> Objective | None:
    """The same problem over float32 rows, for Newton's Hessians on large float64 data, or None.

    In memory the float32 copy is made once; a streamed source re-reads its files as float32
    chunks instead, so its float32 passes need no copy at all. None for small or float32 data,
    and for sources that cannot serve float32 (``DataSource.astype`` returns None).
    """
    source = objective.source
    if objective.dtype != torch.float64 or objective.n_rows * source.n_features < FLOAT32_HESSIAN_MIN_VALUES:
        return None
    rows32 = source.astype(torch.float32)
    if rows32 is None:
        return None
    return Objective(rows32, n_outputs=objective.n_outputs, fit_intercept=objective.fit_intercept,
                     l2=None if l2 is None else L2Penalty(l2.strength.float()), dtype=torch.float32,
                     device=objective.device, feature_names=objective.feature_names)


def select_solver(solver: str, n_params: int, nonsmooth: bool = False) -> str:
    """Resolve ``solver='auto'``: proximal Newton for an L1 term, else Newton for at most
    ``AUTO_NEWTON_MAX_PARAMS`` coefficients, else L-BFGS."""
    if solver != "auto":
        return solver
    if nonsmooth:
        return "prox_newton"
    return "newton" if n_params <= AUTO_NEWTON_MAX_PARAMS else "lbfgs"


class LogisticRegression(LinearClassifierMixin, BaseEstimator):
    """Logistic regression (binomial and multinomial) with exact solvers on PyTorch.

    Minimises scikit-learn's objective ``C · Σᵢ sᵢ ℓ(yᵢ, xᵢ) + ½‖W‖²`` (intercept unpenalised),
    internally divided by ``C · Σᵢ sᵢ`` (see :mod:`torchlogit.core.objective`), so ``coef_`` and
    ``intercept_`` agree with scikit-learn's ``LogisticRegression`` one to one.

    Parameters
    ----------
    penalty : {'l2', 'l1', 'elasticnet', None}, default='l2'
        ``None`` (or ``C=np.inf``) fits the unpenalised maximum-likelihood model. 'l1' and
        'elasticnet' (scikit-learn's ``C·Σ sᵢℓᵢ + (1−r)/2‖W‖² + r‖W‖₁``, elementwise on the
        class-by-feature matrix for 3+ classes) are solved by proximal Newton.
    C : float, default=1.0
        Inverse regularisation strength, as in scikit-learn.
    l1_ratio : float in [0, 1] or None, default=None
        The elastic-net mixing ``r``; required for penalty='elasticnet', ignored otherwise.
    penalty_factor : array of shape (n_features,) or None, default=None
        Non-negative per-feature multipliers of the penalty (glmnet's ``penalty.factor``):
        0 leaves a feature unpenalised. Applies to every penalty.
    fit_intercept : bool, default=True
    solver : {'auto', 'newton', 'lbfgs', 'sgd', 'adam', 'prox_newton'}, default='auto'
        'auto' picks 'prox_newton' for 'l1'/'elasticnet', else 'newton' when there are at most
        ``AUTO_NEWTON_MAX_PARAMS`` (500) coefficients (features + intercept, times classes for 3+
        classes), else 'lbfgs'. Only 'auto' and 'prox_newton' handle an L1 term; with it, ``tol``
        bounds the KKT violation (minimum-norm subgradient) instead of ``max |∇F|``.
        'sgd'/'adam' run the tutorial's mini-batch loop on the same objective.
    tol : float, default=1e-8
        Stop when ``max |∇F| <= tol``, F the mean objective (loss averaged over the sample
        weights plus ``‖W‖²/(2·C·Σsᵢ)``). Newton reaches 1e-8 at about the cost of 1e-4.
    max_iter : int, default=100
        Newton steps, L-BFGS iterations or SGD/Adam epochs.
    class_weight : dict, 'balanced' or None
        Multiplies each row's weight by its class's weight (as scikit-learn).
    warm_start : bool, default=False
        Start from the previous ``coef_``/``intercept_`` when their shape fits.
    dtype : {'float64', 'float32'}, default='float64'
    device : {'cpu', 'cuda', 'auto'}, default='cpu'
    random_state : int, RandomState or None
        Seeds the shuffling of the SGD/Adam solvers.
    verbose : int, default=0
        Log per-iteration progress on the ``torchlogit`` logger when > 0.
    learning_rate : float, default=0.1
        Step size of 'sgd' and 'adam'.
    batch_size : int or None, default=None
        Mini-batch size of 'sgd' and 'adam'; None uses full batches, like the tutorial.

    Notes
    -----
    Inputs: numpy arrays, pandas DataFrames (feature names kept), torch tensors and scipy
    sparse matrices. Sparse input is densified one bounded chunk at a time (at most ~4M values)
    during each pass, which is cheap for moderate widths.
    """

    def __init__(  # noqa: PLR0913  scikit-learn: hyperparameters are __init__ keywords
        self, penalty: Penalty = "l2", *, C: float = 1.0, fit_intercept: bool = True,
        solver: SolverName = "auto", tol: float = 1e-8, max_iter: int = 100,
        class_weight: dict | str | None = None, warm_start: bool = False,
        dtype: str = "float64", device: str = "cpu", random_state: Any = None,
        verbose: int = 0, learning_rate: float = 0.1, batch_size: int | None = None,
        l1_ratio: float | None = None, penalty_factor: Any = None,
    ):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.penalty_factor = penalty_factor
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.dtype = dtype
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.learning_rate = learning_rate
        self.batch_size = batch_size

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> None:
        self._check_penalty_params()
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        if self._l1_ratio > 0 and self.solver not in NONSMOOTH_SOLVERS:
            raise ValueError(
                f"solver={self.solver!r} handles only smooth penalties ('l2', None); "
                f"penalty={self.penalty!r} needs solver='auto' or solver='prox_newton'"
            )
        check_tol(self.tol)
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

    def _check_penalty_params(self) -> None:
        """The penalty, C, l1_ratio and penalty_factor, alone and together."""
        if self.penalty not in PENALTIES:
            raise ValueError(f"penalty must be one of {PENALTIES}, got {self.penalty!r}")
        if self.penalty == "elasticnet" and not (
            isinstance(self.l1_ratio, numbers.Real) and 0 <= self.l1_ratio <= 1
        ):
            raise ValueError(f"penalty='elasticnet' needs l1_ratio in [0, 1], got {plain(self.l1_ratio)!r}")
        # an l1_ratio that agrees with the penalty (0 for 'l2', 1 for 'l1') says the same thing twice
        agrees = {"l2": 0, "l1": 1}.get(self.penalty)
        if self.penalty != "elasticnet" and self.l1_ratio is not None and self.l1_ratio != agrees:
            raise ValueError(
                f"l1_ratio={plain(self.l1_ratio)!r} applies only to penalty='elasticnet' "
                f"(penalty={self.penalty!r} would ignore it): drop it, or use penalty='elasticnet'"
            )
        if self.penalty is None and self.penalty_factor is not None:
            raise ValueError("penalty_factor has no effect with penalty=None: drop it, or choose a penalty")
        if not isinstance(self.C, numbers.Real) or not self.C > 0:
            raise ValueError(f"C must be a positive number (np.inf for no penalty), got {plain(self.C)!r}")

    @property
    def _penalised(self) -> bool:
        return self.penalty is not None and math.isfinite(self.C)

    @property
    def _l1_ratio(self) -> float:
        """The share of the penalty that is L1: 1 for 'l1', ``l1_ratio`` for 'elasticnet'."""
        if self.penalty == "l1":
            return 1.0
        return float(self.l1_ratio) if self.penalty == "elasticnet" else 0.0

    def fit(
        self, X: Any, y: Any, sample_weight: Any = None, *,
        callback: Callable[[int, float, float], None] | None = None,
    ) -> LogisticRegression:
        """Fit the model to ``X`` (n_samples, n_features) and labels ``y``.

        ``callback(iteration, objective, max_abs_gradient)``, when given, is called after each
        iteration (Newton step, L-BFGS evaluation or epoch), e.g. to drive a progress bar.

        Returns
        -------
        self
        """
        self._check_params()
        dtype = resolve_dtype(self.dtype)
        device = resolve_device(self.device)
        np_dtype = np.float64 if dtype == torch.float64 else np.float32
        X, y = validate_data(
            self, tensor_to_numpy(X), tensor_to_numpy(y), accept_sparse="csr",
            dtype=[np.float64, np.float32], y_numeric=False,
        )
        check_classification_targets(y)
        self.classes_, y_index = encode_labels(y)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, but the data "
                f"contains only one class: {plain(self.classes_[0])!r}"
            )
        weights = check_sample_weight(tensor_to_numpy(sample_weight), X)
        checked_weight_sum(weights, dtype)
        if self.class_weight is not None:
            per_class = compute_class_weight(
                self.class_weight, classes=self.classes_, y=y, sample_weight=weights
            )
            with np.errstate(over="ignore"):
                weights = weights * per_class[y_index]
        weight_sum = checked_weight_sum(weights, dtype, "sample_weight times class_weight")
        weighted_classes = np.bincount(y_index, weights=weights, minlength=n_classes) > 0
        if weighted_classes.sum() < 2:
            raise ValueError(
                "sample_weight (times class_weight) leaves fewer than 2 classes with positive "
                "weight; at least 2 classes are needed"
            )

        names = list(self.feature_names_in_) if hasattr(self, "feature_names_in_") else None
        source = make_source(X, y_index, weights.astype(np_dtype), dtype, device, names)
        self._fit_objective(source, n_classes, weight_sum, callback, feature_names=names)
        if not self._penalised:
            self._warn_if_separated(X, y_index, weights, n_classes)
        return self

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
        """
        self._check_params()
        if self.class_weight is not None:
            raise ValueError("fit_source does not apply class_weight; multiply it into the source's "
                             "sample weights")
        self.classes_ = np.asarray(classes)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least 2 classes, got {self.classes_.tolist()}")
        source = as_data_source(source)
        self.n_features_in_ = source.n_features
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        # the objective's sums finish with each chunk before taking the next: buffers may be reused
        self._fit_objective(source.reusing_buffers(), len(self.classes_), None, callback, checkpoint,
                            feature_names)
        return self

    def _fit_objective(
        self, source: DataSource, n_classes: int, weight_sum: float | None,
        callback: Callable[[int, float, float], None] | None, checkpoint: Any = None,
        feature_names: Sequence[str] | None = None,
    ) -> None:
        """Build the objective over ``source`` (``weight_sum`` None: from a pass), run the solver, store.

        A result with non-finite coefficients or objective raises instead of being stored."""
        dtype = resolve_dtype(self.dtype)
        device = resolve_device(self.device)
        np_dtype = np.float64 if dtype == torch.float64 else np.float32
        n_outputs = 1 if n_classes == 2 else n_classes
        n_features = source.n_features
        objective = Objective(
            source, n_outputs=n_outputs, fit_intercept=self.fit_intercept, l2=None,
            dtype=dtype, device=device, feature_names=feature_names,
        )
        strength, l1 = None, None
        factor = penalty_factor_tensor(self.penalty_factor, n_features, dtype, device)
        if self._penalised:
            alpha = 1.0 / (self.C * (objective.weight_sum if weight_sum is None else weight_sum))
            if not math.isfinite(alpha):
                raise ValueError(f"C={plain(self.C)!r} is too small: the penalty strength "
                                 "1/(C * sum of sample_weight) overflows; use a larger C")
            strength, l1 = elastic_net(alpha, self._l1_ratio, n_features, self.fit_intercept, factor,
                                       dtype=dtype, device=device)
            objective = objective.with_l2(strength)
        coef0 = self._starting_point(objective)
        n_params = objective.coef_shape[0] * objective.coef_shape[1]
        solver = select_solver(self.solver, n_params, nonsmooth=l1 is not None)
        hessian_objective = float32_hessian_objective(objective, strength) if solver == "newton" else None
        if checkpoint is not None:
            coef0 = checkpoint.restore(coef0)
            if solver not in ("sgd", "adam", "newton"):  # those save their own state (checkpoint.*_hooks)
                callback = checkpoint.wrap(callback, objective, hessian_objective)
        with single_thread_if_small(objective.n_rows * n_params):
            result = self._run_solver(solver, objective, coef0, callback, l1=l1,
                                      hessian_objective=hessian_objective, checkpoint=checkpoint)
        check_finite_result(result, solver)
        coef = result.coef.detach().cpu().numpy().astype(np_dtype, copy=False)
        self.coef_, self.intercept_ = split_coef(coef, self.fit_intercept)
        self.n_iter_ = np.array([result.n_iter], dtype=np.int32)
        self.solver_ = solver
        self.converged_ = result.converged
        self.objective_ = result.objective
        self.grad_max_ = result.grad_max
        self.n_passes_ = result.n_passes
        self.history_ = result.history
        if not result.converged:
            warnings.warn(self._convergence_message(solver, result), ConvergenceWarning, stacklevel=3)

    def _starting_point(self, objective: Objective) -> torch.Tensor:
        coef0 = objective.zeros()
        if self.warm_start and hasattr(self, "coef_"):
            previous = join_coef(self.coef_, self.intercept_, self.fit_intercept)
            if previous.shape == tuple(objective.coef_shape):
                coef0 = torch.as_tensor(previous, dtype=objective.dtype, device=objective.device)
        return coef0

    def _run_solver(
        self, solver: str, objective: Objective, coef0: torch.Tensor,
        user_callback: Callable[[int, float, float], None] | None, l1: L1Penalty | None = None,
        hessian_objective: Objective | None = None, checkpoint: Any = None,
    ) -> SolverResult:
        def callback(iteration: int, f: float, grad_max: float) -> None:
            if self.verbose:
                logger.info("%s iteration %d: objective %.12g, max |gradient| %.3g", solver,
                            iteration, f, grad_max)
            if user_callback is not None:
                user_callback(iteration, f, grad_max)

        common = {"tol": self.tol, "max_iter": self.max_iter, "callback": callback}
        if solver == "prox_newton":
            return prox_newton(objective, coef0, l1=l1, **common)
        if solver == "newton":
            return newton(objective, coef0, hessian_objective=hessian_objective,
                          hessian_rows=HESSIAN_SAMPLE_ROWS, **common,
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
        return (
            f"solver {solver!r} did not converge: {result.message}; final max |gradient| "
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
            "Use a penalty (penalty='l2' with finite C) or Firth's bias-reduced method.",
            PerfectSeparationWarning, stacklevel=3,
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
        scores = torch.from_numpy(np.asarray(self.decision_function(X), dtype=np.float64))
        if scores.ndim == 1:
            log_p = torch.stack([torch.nn.functional.logsigmoid(-scores),
                                 torch.nn.functional.logsigmoid(scores)], dim=1)
        else:
            log_p = torch.log_softmax(scores, dim=1)
        return log_p.numpy()

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        return np.exp(self.predict_log_proba(X))

    def to_model(self):
        """The fitted coefficients as a :class:`~torchlogit.core.model.LogisticModel` (float64, CPU)."""
        from torchlogit.core.model import LogisticModel

        check_is_fitted(self)
        model = LogisticModel(self.coef_.shape[1], self.coef_.shape[0], bias=self.fit_intercept,
                              dtype=torch.float64)
        coef = join_coef(self.coef_, self.intercept_, self.fit_intercept)
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
