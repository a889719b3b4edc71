"""``LogisticRegressionCV``: scikit-learn 1.9's estimator, on warm-started regularisation paths.

The parameters, defaults, warnings, errors and fitted attributes are scikit-learn 1.9.1's
(``sklearn.linear_model.LogisticRegressionCV``): ``Cs`` × ``l1_ratios`` are cross-validated on
stratified 5-fold splits, scored by accuracy unless ``scoring`` says otherwise, and the best pair
is refitted (``refit=True``) or the folds' best coefficients are averaged (``refit=False``). What
differs is how each fold is fitted: one warm-started path over the ``Cs``
(:func:`torchlogit.estimators.paths.fit_path`: Newton / L-BFGS for L2, proximal Newton on a
working set for an L1 part), so every fit is the optimum of scikit-learn's objective to ``tol``,
whichever ``solver`` is named.
"""

from __future__ import annotations

import logging
import math
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.metrics import get_scorer
from sklearn.model_selection import check_cv
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from torchlogit._sklearn import check_sample_weight, scorer_with_labels
from torchlogit._threads import single_thread_if_small
from torchlogit._validation import encode_labels, plain, resolve_device, resolve_dtype, tensor_to_numpy
from torchlogit.core.objective import Objective
from torchlogit.estimators._shared import (
    check_tol,
    checked_weight_sum,
    make_source,
    penalty_factor_tensor,
    split_coef,
)
from torchlogit.estimators.logistic import LogisticRegression, select_solver
from torchlogit.estimators.paths import fit_path

logger = logging.getLogger("torchlogit")

# scikit-learn's solver names, then ours; all run the same exact path solvers here
SKLEARN_SOLVERS = ("lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga")
CV_SOLVERS = (*SKLEARN_SOLVERS, "auto", "newton", "prox_newton")
# the solvers scikit-learn (and we) allow an L1 part with; elastic net needs one of the last three
L1_SOLVERS = ("liblinear", "saga", "auto", "prox_newton")
PENALTIES = ("deprecated", "l2", "l1", "elasticnet")


@dataclass(frozen=True)
class _Options:
    """The parameters resolved as scikit-learn 1.9.1's ``fit`` resolves them (after its warnings)."""

    penalty: str  # 'l2', 'l1' or 'elasticnet'
    l1_ratios: list  # ``l1_ratios_``: the user's values, or [None]
    shares: tuple[float, ...]  # the L1 share each entry of l1_ratios fits with
    drop_l1_axis: bool  # l1_ratios=None: the legacy attributes have no l1_ratios axis
    scoring: Any  # None: accuracy
    legacy: bool  # use_legacy_attributes


class LogisticRegressionCV(LogisticRegression):
    """Logistic regression with C (and l1_ratio) chosen by cross-validation, as scikit-learn 1.9.

    A drop-in for ``sklearn.linear_model.LogisticRegressionCV`` (scikit-learn 1.9.1): the same
    parameters with the same defaults, deprecation warnings and errors, the same grid, folds,
    scores, choice, refit and fitted attributes in both layouts (``use_legacy_attributes``). Every
    (fold, l1_ratio) is one warm-started path over the Cs, fitted to ``tol`` (``max |∇F|`` of the
    mean objective, scikit-learn's ``gtol`` for 'lbfgs') by torchlogit's exact solvers.

    Parameters
    ----------
    Cs : int or array-like of float, default=10
        The candidate C values (kept in the given order), or how many: ``np.logspace(-4, 4, Cs)``.
    l1_ratios : array-like of float in [0, 1] or None, default='warn'
        The elastic-net mixings to cross-validate (0: L2, 1: L1). The default warns as
        scikit-learn 1.9 does and means None (L2, and no l1_ratios axis in the legacy attributes).
    fit_intercept : bool, default=True
    cv : int, cross-validation splitter or iterable, default=None
        None is 5 stratified folds, an int that many (``sklearn.model_selection.check_cv``).
    dual : bool, default=False
        Only with solver='liblinear' and an L2 penalty (the dual has the same optimum).
    penalty : {'l1', 'l2', 'elasticnet'}, default='deprecated'
        Deprecated by scikit-learn 1.8 (warns); the default derives it from ``l1_ratios``.
    scoring : str, callable or None, default='warn'
        A scorer name or callable for the held-out folds; None (and the default, which warns as
        scikit-learn 1.9) is accuracy. Scorers with ``labels`` get all classes, so a fold missing
        a class still scores. ``score()`` uses the same scorer.
    solver : {'lbfgs', 'liblinear', 'newton-cg', 'newton-cholesky', 'sag', 'saga', 'auto', \
'newton', 'prox_newton'}, default='lbfgs'
        Checked against the penalty as scikit-learn checks it (an L1 part needs 'liblinear',
        'saga', 'auto' or 'prox_newton'; elastic net not 'liblinear'; 'liblinear' two classes
        only). 'liblinear' also penalises the intercept as liblinear does, through a constant
        feature of value ``intercept_scaling``. Every name fits the same exact optimum.
    tol : float, default=1e-8
        ``max |∇F|`` of the mean objective, as for :class:`~torchlogit.LogisticRegression` (whose
        default this is; scikit-learn's is 1e-4, which on small ill-conditioned folds leaves
        coefficients ~1e-4 from the optimum, and costs Newton about as much as 1e-8).
    max_iter : int, default=100
        Per fit along a path (Newton or proximal Newton steps, L-BFGS iterations).
    class_weight : dict, 'balanced' or None
        'balanced' is computed once on all of ``y`` (and ``sample_weight``), as scikit-learn.
    n_jobs : int or None, default=None
        Accepted for compatibility; the folds run in turn, each using torch's threads (parallel
        folds would fight over torch's process-wide thread count).
    verbose : int, default=0
        Log one line per fold path on the ``torchlogit`` logger when > 0.
    refit : bool, default=True
        Refit on all the data at the best (C, l1_ratio), warm-started from the folds' mean;
        otherwise average every fold's best coefficients, C and l1_ratio.
    intercept_scaling : float, default=1.0
        The constant feature of solver='liblinear' (intercept = intercept_scaling × its weight).
    random_state : int, RandomState or None
        Accepted for compatibility: it seeds scikit-learn's stochastic solvers, and ours are exact.
    use_legacy_attributes : bool, default='warn'
        The attribute layout (see Attributes); the default warns and means True, as 1.9.
    penalty_factor, dtype, device :
        torchlogit's, as for :class:`~torchlogit.LogisticRegression`.

    Attributes
    ----------
    Cs_ : array of shape (n_Cs,), the grid in the given order
    l1_ratios_ : array of shape (n_l1_ratios,), ``[None]`` without l1_ratios
    C_, l1_ratio_ : the choice: floats, or (legacy) arrays of shape (1,) for two classes and
        (n_classes,) else, repeated. With ``refit=False``, the means of the folds' choices.
    coefs_paths_ : (n_folds, n_l1_ratios, n_Cs, n_outputs, n_dof), or (legacy) a dict over
        ``classes_`` (the positive class only for two) of (n_folds, n_Cs[, n_l1_ratios], n_dof);
        the intercept is the last of the ``n_dof = n_features + fit_intercept`` values.
    scores_ : (n_folds, n_l1_ratios, n_Cs), or (legacy) the same dict of (n_folds, n_Cs[, n_l1_ratios])
    n_iter_ : (n_folds, n_l1_ratios, n_Cs), or (legacy) (1, n_folds, n_Cs[, n_l1_ratios])
    mean_scores_, std_scores_ : the folds' mean and spread, (n_Cs,) for one l1_ratio, else
        (n_l1_ratios, n_Cs) (torchlogit's, for the CV curve)
    coef_, intercept_, classes_, n_features_in_, feature_names_in_ : as scikit-learn's
    best_estimator_ : a fitted :class:`~torchlogit.LogisticRegression` at the choice (``refit=True``)
    solver_, converged_, objective_, grad_max_ : of the refit (``refit=True``)
    """

    def __init__(  # noqa: PLR0913  scikit-learn: hyperparameters are __init__ keywords
        self, *, Cs: int | Sequence[float] = 10, l1_ratios: Any = "warn", fit_intercept: bool = True,
        cv: Any = None, dual: bool = False, penalty: str = "deprecated", scoring: Any = "warn",
        solver: str = "lbfgs", tol: float = 1e-8, max_iter: int = 100, class_weight: Any = None,
        n_jobs: int | None = None, verbose: int = 0, refit: bool = True, intercept_scaling: float = 1.0,
        random_state: Any = None, use_legacy_attributes: bool | str = "warn", penalty_factor: Any = None,
        dtype: str = "float64", device: str = "cpu",
    ):
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.dual = dual
        self.penalty = penalty
        self.scoring = scoring
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.refit = refit
        self.intercept_scaling = intercept_scaling
        self.random_state = random_state
        self.use_legacy_attributes = use_legacy_attributes
        self.penalty_factor = penalty_factor
        self.dtype = dtype
        self.device = device

    @property
    def _l1_ratio(self) -> float:
        """The L1 share of the fitted model (for ``summary()``'s checks)."""
        check_is_fitted(self)
        return self._l1_share_

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any, sample_weight: Any = None, **params: Any) -> LogisticRegressionCV:  # type: ignore[override]
        """Cross-validate every (C, l1_ratio) on ``X``, ``y``; then refit or average at the best.

        Returns
        -------
        self
        """
        _refuse_metadata(params, "fit")
        self._check_cv_params()
        options = self._options()
        data = self._validated(X, y, sample_weight)
        if self.solver == "liblinear" and data.n_outputs > 1:
            raise ValueError(
                "The 'liblinear' solver does not support multiclass classification (n_classes >= 3). "
                "Either use another solver or wrap the estimator in a OneVsRestClassifier to keep "
                "applying a one-versus-rest scheme."
            )
        self.Cs_ = self._grid()
        folds = list(check_cv(self.cv, data.y, classifier=True).split(data.X, data.y))
        coefs, scores, n_iter = self._cross_validate(data, folds, options)
        self.classes_ = data.classes
        self.l1_ratios_ = np.asarray(options.l1_ratios)
        mean = scores.mean(axis=0)
        self.mean_scores_ = mean[0] if len(options.l1_ratios) == 1 else mean
        std = scores.std(axis=0)
        self.std_scores_ = std[0] if len(options.l1_ratios) == 1 else std
        if self.refit:
            coef, C, l1_ratio = self._refit(data, options, coefs, scores)
        else:
            coef, C, l1_ratio = self._average(options, coefs, scores)
        coef = np.asarray(coef, dtype=data.np_dtype)
        self.coef_, self.intercept_ = split_coef(coef, self.fit_intercept)
        self._store_layout(options, C, l1_ratio, coefs, scores, n_iter)
        return self

    def _check_cv_params(self) -> None:
        """The checks of scikit-learn's parameter constraints that no later step makes."""
        if isinstance(self.Cs, bool) or not (isinstance(self.Cs, numbers.Integral) or np.ndim(self.Cs) == 1):
            raise ValueError(f"Cs must be an int >= 1 or an array-like of C values, got {self.Cs!r}")
        if self.penalty not in PENALTIES:
            raise ValueError(f"penalty must be one of {PENALTIES[1:]}, got {self.penalty!r}")
        if self.solver not in CV_SOLVERS:
            raise ValueError(f"solver must be one of {CV_SOLVERS}, got {self.solver!r}")
        check_tol(self.tol)
        if isinstance(self.max_iter, bool) or not (isinstance(self.max_iter, numbers.Integral)
                                                   and self.max_iter >= 0):
            raise ValueError(f"max_iter must be a non-negative integer, got {plain(self.max_iter)!r}")
        if not (self.class_weight is None or self.class_weight == "balanced"
                or isinstance(self.class_weight, dict)):
            raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {self.class_weight!r}")
        if not (isinstance(self.intercept_scaling, numbers.Real) and 0 < self.intercept_scaling < math.inf):
            raise ValueError(
                f"intercept_scaling must be a positive finite number, got {plain(self.intercept_scaling)!r}"
            )
        for name in ("refit", "dual", "fit_intercept"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        legacy = self.use_legacy_attributes
        if not (isinstance(legacy, bool | np.bool_) or legacy == "warn"):
            raise ValueError(f"use_legacy_attributes must be a bool, got {self.use_legacy_attributes!r}")

    def _options(self) -> _Options:
        """scikit-learn 1.9.1's resolution of l1_ratios, penalty, scoring, layout and solver, its
        warnings in its order."""
        penalty, l1_ratios = self._penalty_and_l1_ratios()
        scoring = self.scoring
        if scoring == "warn":
            warnings.warn(
                "The default value of the parameter 'scoring' will change from None, i.e. accuracy, to "
                "'neg_log_loss' in version 1.11. To silence this warning, explicitly set the scoring "
                "parameter: scoring='neg_log_loss' for the new, scoring='accuracy' or scoring=None for "
                "the old default.", FutureWarning, stacklevel=3,
            )
            scoring = None
        legacy = self.use_legacy_attributes
        if legacy == "warn":
            name = type(self).__name__
            warnings.warn(
                f"The fitted attributes of {name} will be simplified in scikit-learn 1.10 to remove "
                "redundancy. Set`use_legacy_attributes=False` to enable the new behavior now, or set it to "
                "`True` to silence this warning during the transition period while keeping the deprecated "
                "behavior for the time being. The default value of use_legacy_attributes will change from "
                f"True to False in scikit-learn 1.10. See the docstring of {name} for more details.",
                FutureWarning, stacklevel=3,
            )
            legacy = True
        _check_solver(self.solver, penalty, self.dual)
        grid = self._l1_grid(penalty, l1_ratios)
        shares = tuple({"l2": 0.0, "l1": 1.0}.get(penalty, r) for r in grid)
        return _Options(penalty=penalty, l1_ratios=grid, shares=tuple(float(s) for s in shares),
                        drop_l1_axis=l1_ratios is None, scoring=scoring, legacy=bool(legacy))

    def _penalty_and_l1_ratios(self) -> tuple[str, Any]:
        """The penalty scikit-learn 1.9.1 fits and the l1_ratios it reads, with its FutureWarnings."""
        l1_ratios = self.l1_ratios
        if isinstance(l1_ratios, str) and l1_ratios == "warn":
            l1_ratios = None
            warnings.warn(
                "The default value for l1_ratios will change from None to (0.0,) in version 1.10. From "
                "version 1.10 onwards, only array-like with values in [0, 1] will be allowed, None will be "
                "forbidden. To avoid this warning, explicitly set a value, e.g. l1_ratios=(0,).",
                FutureWarning, stacklevel=4,
            )
        if self.penalty != "deprecated":
            warnings.warn(
                "'penalty' was deprecated in version 1.8 and will be removed in 1.10. To avoid this "
                "warning, leave 'penalty' set to its default value and use 'l1_ratios' and 'Cs' instead. "
                "Use l1_ratios=(0,) instead of penalty='l2', l1_ratios=(1,) instead of penalty='l1', "
                "l1_ratios set to floats between 0 and 1 instead of penalty='elasticnet', and "
                "Cs=(np.inf,) instead of penalty=None.", FutureWarning, stacklevel=4,
            )
            return self.penalty, l1_ratios
        if self.l1_ratios is None:
            warnings.warn(
                "'l1_ratios=None' was deprecated in version 1.8 and will trigger an error in 1.10. Use an "
                "array-like with valuesin [0, 1] instead.", FutureWarning, stacklevel=4,  # sic, as 1.9.1
            )
        if l1_ratios is None or np.all(np.asarray(l1_ratios) == 0):
            return "l2", l1_ratios
        return ("l1" if np.all(np.asarray(l1_ratios) == 1) else "elasticnet"), l1_ratios

    def _l1_grid(self, penalty: str, l1_ratios: Any) -> list:
        """``l1_ratios_``: checked values for elastic net; otherwise as given, or ``[None]``."""
        if penalty == "elasticnet":
            values = [] if l1_ratios is None else list(np.ravel(np.asarray(l1_ratios, dtype=object)))
            if not values or any(isinstance(r, bool) or not isinstance(r, numbers.Number)
                                 or not 0 <= r <= 1 for r in values):
                raise ValueError(
                    "l1_ratios must be an array-like of numbers between 0 and 1; "
                    f"got (l1_ratios={l1_ratios!r})"
                )
            return values
        if l1_ratios is None:
            return [None]
        if self.penalty != "deprecated":
            warnings.warn("l1_ratios parameter is only used when penalty is 'elasticnet'. "
                          f"Got (penalty={penalty})", UserWarning, stacklevel=4)
        return list(np.ravel(np.asarray(l1_ratios)))

    def _validated(self, X: Any, y: Any, sample_weight: Any) -> _CVData:
        """Checked arrays, encoded labels, fitting and scoring weights, the penalty's factor."""
        dtype, device = resolve_dtype(self.dtype), resolve_device(self.device)
        X, y = validate_data(self, tensor_to_numpy(X), tensor_to_numpy(y), accept_sparse="csr",
                             dtype=[np.float64, np.float32], y_numeric=False)
        check_classification_targets(y)
        classes, y_index = encode_labels(y)
        if len(classes) < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, but the data "
                f"contains only one class: {plain(classes[0])!r}"
            )
        weights = check_sample_weight(tensor_to_numpy(sample_weight), X)
        checked_weight_sum(weights, dtype)
        score_weights = None if sample_weight is None else weights.copy()
        if self.class_weight is not None:
            with np.errstate(over="ignore"):
                weights = weights * compute_class_weight(self.class_weight, classes=classes, y=y,
                                                         sample_weight=weights)[y_index]
            checked_weight_sum(weights, dtype, "sample_weight times class_weight")
        data = _CVData(
            X=X, X_fit=X, y=y, y_index=y_index, classes=classes, weights=weights,
            score_weights=score_weights, dtype=dtype, device=device,
            factor=penalty_factor_tensor(self.penalty_factor, X.shape[1], dtype, device), scaling=None,
            names=list(self.feature_names_in_) if hasattr(self, "feature_names_in_") else None,
        )
        if self.solver == "liblinear" and self.fit_intercept:
            return data.with_constant_feature(float(self.intercept_scaling))
        return data

    def _grid(self) -> np.ndarray:
        """``Cs_``: ``logspace(-4, 4, Cs)`` for an int, else the user's values in their order."""
        if isinstance(self.Cs, numbers.Integral):
            if self.Cs < 1:
                raise ValueError(f"Cs must be an int >= 1 or an array-like of C values, got {self.Cs!r}")
            return np.logspace(-4, 4, int(self.Cs))
        grid = np.asarray(self.Cs)
        values = grid.astype(np.float64)
        if grid.size == 0 or np.isnan(values).any() or not (values > 0).all():
            raise ValueError(f"Cs must hold positive numbers (np.inf: no penalty), got {self.Cs!r}")
        return grid

    def _objective_on(self, data: _CVData, rows: np.ndarray | None) -> Objective:
        """The unpenalised objective over ``rows`` (all rows for None) of the fitting design."""
        X = data.X_fit if rows is None else data.X_fit[rows]
        y_index = data.y_index if rows is None else data.y_index[rows]
        weights = data.weights if rows is None else data.weights[rows]
        source = make_source(X, y_index, weights.astype(data.np_dtype), data.dtype, data.device, data.names)
        return Objective(source, n_outputs=data.n_outputs, fit_intercept=data.objective_intercept(self),
                         l2=None, dtype=data.dtype, device=data.device, feature_names=data.names)

    def _cross_validate(self, data: _CVData, folds: list, options: _Options) -> tuple[np.ndarray, ...]:
        """One warm-started path per (fold, l1_ratio), each C scored on the held-out rows.

        Returns the coefficients (n_folds, n_l1_ratios, n_Cs, n_outputs, n_dof) in scikit-learn's
        layout (intercept last), the scores and the iterations (n_folds, n_l1_ratios, n_Cs).
        """
        Cs = self.Cs_.astype(np.float64)
        order = np.argsort(Cs, kind="stable")  # fit_path runs the Cs ascending
        n_dof = data.X.shape[1] + int(self.fit_intercept)
        shape = (len(folds), len(options.shares), len(Cs))
        coefs = np.empty((*shape, data.n_outputs, n_dof))
        scores, n_iter = np.empty(shape), np.zeros(shape, dtype=np.int32)
        scorer = _fold_scorer(options.scoring, data.classes)
        for i, (train, test) in enumerate(folds):
            objective = self._objective_on(data, train)
            for j, share in enumerate(options.shares):
                results = fit_path(objective, Cs[order], l1_ratio=share, penalty_factor=data.factor,
                                   tol=self.tol, max_iter=self.max_iter)
                for k, result in zip(order, results, strict=True):
                    coefs[i, j, k] = data.as_sklearn(result.coef.detach().cpu().numpy())
                    n_iter[i, j, k] = result.n_iter
                    scores[i, j, k] = self._held_out_score(scorer, data, coefs[i, j, k], test)
                if self.verbose:
                    logger.info("fold %d, l1 share %g: %d fits, %d passes", i, share, len(results),
                                sum(r.n_passes for r in results))
        return coefs, scores, n_iter

    def _held_out_score(self, scorer: Any, data: _CVData, coef: np.ndarray, test: np.ndarray) -> float:
        """The scorer on the held-out rows, for a LogisticRegression holding ``coef`` (no fitting)."""
        model = LogisticRegression()
        model.classes_ = data.classes
        model.n_features_in_ = data.X.shape[1]
        model.coef_, model.intercept_ = split_coef(np.asarray(coef, dtype=data.np_dtype), self.fit_intercept)
        weights = {} if data.score_weights is None else {"sample_weight": data.score_weights[test]}
        with single_thread_if_small(len(test) * coef.size):
            return float(scorer(model, data.X[test], data.y[test], **weights))

    def _refit(self, data: _CVData, options: _Options, coefs: np.ndarray,
               scores: np.ndarray) -> tuple[np.ndarray, Any, Any]:
        """The fit on all rows at the best summed score, warm-started from the folds' mean there
        (as scikit-learn; from zero for 'liblinear', which scikit-learn cannot warm-start)."""
        summed = scores.sum(axis=0)  # (n_l1_ratios, n_Cs)
        j, k = np.unravel_index(np.argmax(summed.T), summed.T.shape)[::-1]  # first best in (C, l1) order
        C, l1_ratio, share = self.Cs_[k], options.l1_ratios[j], options.shares[j]
        if data.scaling is not None:  # scikit-learn 1.9.1 refits liblinear with intercept_scaling=1
            data = data.with_constant_feature(1.0)
        # liblinear takes no starting point, so scikit-learn's liblinear refit is a cold fit
        coef0 = None if self.solver == "liblinear" else torch.as_tensor(
            data.as_solver(coefs[:, j, k].mean(axis=0)), dtype=data.dtype, device=data.device)
        (result,) = fit_path(self._objective_on(data, None), np.array([float(C)]), l1_ratio=share,
                             penalty_factor=data.factor, tol=self.tol, max_iter=self.max_iter, coef0=coef0)
        coef = data.as_sklearn(result.coef.detach().cpu().numpy())
        self._l1_share_ = share
        n_params = coef.shape[0] * coef.shape[1]
        self.solver_ = select_solver("auto", n_params, nonsmooth=share > 0, n_rows=data.X.shape[0],
                                     n_outputs=coef.shape[0], sparse=sp.issparse(data.X))  # as fit_path chose
        self.converged_ = result.converged
        self.objective_, self.grad_max_ = result.objective, result.grad_max
        self.best_estimator_ = self._best_estimator(coef, float(C), share, data)
        return coef, C, l1_ratio

    def _average(self, options: _Options, coefs: np.ndarray,
                 scores: np.ndarray) -> tuple[np.ndarray, Any, Any]:
        """``refit=False``: the mean of every fold's best coefficients, C and l1_ratio."""
        n_folds, n_l1, n_cs = scores.shape
        flat = np.swapaxes(scores, 1, 2).reshape(n_folds, -1)  # scikit-learn's (C, l1_ratio) order
        best_c, best_l1 = np.unravel_index(np.argmax(flat, axis=1), (n_cs, n_l1))
        coef = np.mean([coefs[i, best_l1[i], best_c[i]] for i in range(n_folds)], axis=0)
        C = np.mean(self.Cs_[best_c])
        l1_ratio = np.mean(np.asarray(options.l1_ratios)[best_l1]) if options.penalty == "elasticnet" else 0.0
        self._l1_share_ = float(np.mean(np.asarray(options.shares)[best_l1]))
        for name in ("best_estimator_", "solver_", "converged_", "objective_", "grad_max_"):
            if hasattr(self, name):
                delattr(self, name)
        return coef, C, l1_ratio

    def _best_estimator(self, coef: np.ndarray, C: float, share: float, data: _CVData) -> LogisticRegression:
        """A :class:`LogisticRegression` at the choice, holding the refit (for model files, summaries)."""
        single = LogisticRegression()
        shared = set(single.get_params()) & set(self.get_params())
        single.set_params(**{name: getattr(self, name) for name in shared if name != "penalty"})
        single.set_params(C=C, l1_ratio=share, penalty={0.0: "l2", 1.0: "l1"}.get(share, "elasticnet"))
        single.classes_ = data.classes
        single.n_features_in_ = self.n_features_in_
        if hasattr(self, "feature_names_in_"):
            single.feature_names_in_ = self.feature_names_in_
        single.coef_, single.intercept_ = split_coef(np.asarray(coef, dtype=data.np_dtype),
                                                     self.fit_intercept)
        for name in ("solver_", "converged_", "objective_", "grad_max_"):
            setattr(single, name, getattr(self, name))
        single.n_iter_ = np.array([0], dtype=np.int32)
        return single

    def _store_layout(self, options: _Options, C: Any, l1_ratio: Any, coefs: np.ndarray,
                      scores: np.ndarray, n_iter: np.ndarray) -> None:
        """``C_``, ``l1_ratio_``, ``coefs_paths_``, ``scores_``, ``n_iter_`` in the chosen layout."""
        if not options.legacy:
            self.C_ = float(C)
            if options.drop_l1_axis:
                self.l1_ratio_ = 1.0 if self.penalty == "l1" else 0.0
            else:
                self.l1_ratio_ = float(l1_ratio)
            self.coefs_paths_, self.scores_, self.n_iter_ = coefs, scores, n_iter
            return
        keys = self.classes_[1:] if len(self.classes_) == 2 else self.classes_
        repeats = len(keys)
        self.C_ = np.tile(np.asarray([C]), repeats)
        self.l1_ratio_ = np.tile(np.asarray([l1_ratio]), repeats)
        paths = np.swapaxes(coefs, 1, 2)  # (n_folds, n_Cs, n_l1_ratios, n_outputs, n_dof)
        legacy_scores, legacy_iter = np.swapaxes(scores, 1, 2), np.swapaxes(n_iter, 1, 2)[None]
        if options.drop_l1_axis:
            paths, legacy_scores, legacy_iter = paths[:, :, 0], legacy_scores[:, :, 0], legacy_iter[..., 0]
        self.coefs_paths_ = {key: paths[..., m, :].copy() for m, key in enumerate(keys)}
        self.scores_ = {key: legacy_scores.copy() for key in keys}
        self.n_iter_ = legacy_iter

    def summary(self, X: Any, y: Any, sample_weight: Any = None, **options: Any):
        """The refit's :meth:`LogisticRegression.summary` (``best_estimator_``, at ``C_``/``l1_ratio_``).

        Raises
        ------
        ValueError
            For ``refit=False``: averaged fold coefficients are no fit to draw inference from.
        """
        check_is_fitted(self)
        if not hasattr(self, "best_estimator_"):
            raise ValueError("summary() needs coefficients fitted on all the data; the cross-validated "
                             "model's are an average over the folds: use LogisticRegressionCV(refit=True)")
        return self.best_estimator_.summary(X, y, sample_weight, **options)

    # --------------------------------------------------------------- scoring
    def score(self, X: Any, y: Any, *, sample_weight: Any = None, **score_params: Any) -> float:
        """The ``scoring`` scorer on ``X``, ``y`` (accuracy for None and the default), as scikit-learn.

        Returns
        -------
        float
        """
        _refuse_metadata(score_params, "score")
        weights = {} if sample_weight is None else {"sample_weight": sample_weight}
        return self._get_scorer()(self, X, y, **weights)

    def _get_scorer(self) -> Any:
        """The scorer of ``scoring``: accuracy for None and the default 'warn' (scikit-learn 1.9)."""
        return get_scorer("accuracy" if self.scoring in (None, "warn") else self.scoring)


@dataclass(frozen=True)
class _CVData:
    """The validated training data of one cross-validated fit, shared by its folds.

    ``X_fit`` is the design the solvers see: ``X`` itself, or for solver='liblinear' with an
    intercept ``X`` with a constant column ``scaling`` whose (penalised) weight times ``scaling``
    is the intercept.
    """

    X: Any
    X_fit: Any
    y: np.ndarray
    y_index: np.ndarray
    classes: np.ndarray
    weights: np.ndarray
    score_weights: np.ndarray | None
    dtype: torch.dtype
    device: torch.device
    factor: torch.Tensor | None
    scaling: float | None
    names: list[str] | None  # the DataFrame's column names, for error messages

    @property
    def np_dtype(self) -> type:
        return np.float64 if self.dtype == torch.float64 else np.float32

    @property
    def n_outputs(self) -> int:
        return 1 if len(self.classes) == 2 else len(self.classes)

    def with_constant_feature(self, scaling: float) -> _CVData:
        """liblinear's design: ``X`` and a constant, penalised feature ``scaling`` for the intercept."""
        constant = np.full((self.X.shape[0], 1), scaling, dtype=self.X.dtype)
        X_fit = (sp.hstack([self.X, constant], format="csr") if sp.issparse(self.X)
                 else np.hstack([self.X, constant]))
        factor = self.factor if self.scaling is not None or self.factor is None else torch.cat(
            [self.factor, torch.ones(1, dtype=self.dtype, device=self.device)])
        return replace(self, X_fit=X_fit, factor=factor, scaling=scaling)

    def objective_intercept(self, estimator: LogisticRegressionCV) -> bool:
        """Whether the objective fits a separate (unpenalised) intercept column."""
        return bool(estimator.fit_intercept) and self.scaling is None

    def as_sklearn(self, coef: np.ndarray) -> np.ndarray:
        """The solver's matrix as scikit-learn's (intercept last, in the units of ``intercept_``)."""
        coef = np.array(coef, dtype=np.float64)
        if self.scaling is not None:
            coef[:, -1] *= self.scaling
        return coef

    def as_solver(self, coef: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`as_sklearn`."""
        coef = np.array(coef, dtype=np.float64)
        if self.scaling is not None:
            coef[:, -1] /= self.scaling
        return coef


def _check_solver(solver: str, penalty: str, dual: bool) -> None:
    """scikit-learn 1.9.1's ``_check_solver`` (messages included), with our names allowed."""
    if solver not in L1_SOLVERS and penalty != "l2":
        raise ValueError(f"Solver {solver} supports only 'l2' or None penalties, got {penalty} penalty.")
    if solver != "liblinear" and dual:
        raise ValueError(f"Solver {solver} supports only dual=False, got dual={dual}")
    if penalty == "elasticnet" and solver == "liblinear":
        raise ValueError(f"Only 'saga' solver supports elasticnet penalty, got solver={solver}.")
    if solver == "liblinear" and penalty == "l1" and dual:
        raise ValueError("Unsupported set of arguments: The combination of penalty='l1' and "
                         "loss='logistic_regression' are not supported when dual=True, Parameters: "
                         "penalty='l1', loss='logistic_regression', dual=True")


def _fold_scorer(scoring: Any, classes: np.ndarray) -> Any:
    """The held-out scorer as scikit-learn's ``_log_reg_scoring_path`` builds it: accuracy for
    None, and a metric taking ``labels`` given every class (``_sklearn.scorer_with_labels``)."""
    return get_scorer("accuracy") if scoring is None else scorer_with_labels(scoring, classes)


def _refuse_metadata(params: dict, method: str) -> None:
    """scikit-learn routes extra ``fit``/``score`` keywords only with metadata routing; we never do."""
    if params:
        raise ValueError(
            f"LogisticRegressionCV.{method} got {sorted(params)}: passing extra parameters is only "
            "supported if enable_metadata_routing=True in scikit-learn, and torchlogit routes no metadata; "
            "pass sample_weight directly"
        )
