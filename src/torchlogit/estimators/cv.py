"""``LogisticRegressionCV``: C chosen by cross-validation along warm-started regularisation paths."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from torchlogit._sklearn import check_sample_weight
from torchlogit._threads import single_thread_if_small
from torchlogit._validation import encode_labels, plain, resolve_device, resolve_dtype, tensor_to_numpy
from torchlogit.core.objective import Objective
from torchlogit.estimators._shared import (
    checked_weight_sum,
    join_coef,
    make_source,
    penalty_factor_tensor,
    split_coef,
)
from torchlogit.estimators.logistic import PENALTIES, LogisticRegression
from torchlogit.estimators.paths import c_grid, fit_path


class LogisticRegressionCV(LogisticRegression):
    """Logistic regression with C chosen by K-fold cross-validation (scikit-learn compatible).

    For every fold the whole grid of C values is fitted as one warm-started path
    (:func:`torchlogit.path.fit_path`: strong to weak penalty, each fit starting from the last),
    scored on the held-out fold; the C with the best mean score is refitted on all the data.

    Parameters
    ----------
    Cs : int or sequence of float, default=10
        The candidate C values, or how many: for a penalty with an L1 part, a log grid over
        ``PATH_DECADES`` (3) decades from the smallest C with a non-zero coefficient on all the
        data; for 'l2', scikit-learn's ``logspace(-4, 4, Cs)``.
    cv : int, cross-validation splitter or iterable, default=5
        As scikit-learn's ``cv`` (an int means stratified K folds, unshuffled).
    scoring : str, callable or None, default=None
        A scikit-learn scorer name or callable; None is the negative log-loss.
    refit : bool, default=True
        Refit on all the data at the best C; otherwise average the folds' coefficients there.
    penalty, l1_ratio, penalty_factor, fit_intercept, tol, max_iter, class_weight, dtype, device :
        As for :class:`~torchlogit.LogisticRegression` (penalty None is not allowed here).

    Attributes
    ----------
    C_ : float, the chosen C
    Cs_ : array of shape (n_Cs,), the grid (ascending)
    scores_ : array of shape (n_folds, n_Cs), the held-out score of every fold and C
    mean_scores_, std_scores_ : arrays of shape (n_Cs,)
    coef_, intercept_, classes_, n_iter_ : as for LogisticRegression (from the refit)
    best_estimator_ : the refitted :class:`~torchlogit.LogisticRegression` (``refit=True`` only)
    """

    def __init__(  # noqa: PLR0913  scikit-learn: hyperparameters are __init__ keywords
        self, *, Cs: int | Sequence[float] = 10, cv: Any = 5, scoring: Any = None,
        penalty: str = "l2", l1_ratio: float | None = None, penalty_factor: Any = None,
        fit_intercept: bool = True, tol: float = 1e-8, max_iter: int = 100,
        class_weight: dict | str | None = None, refit: bool = True, dtype: str = "float64",
        device: str = "cpu", verbose: int = 0,
    ):
        self.Cs = Cs
        self.cv = cv
        self.scoring = scoring
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.penalty_factor = penalty_factor
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.refit = refit
        self.dtype = dtype
        self.device = device
        self.verbose = verbose

    def _single(self, C: float) -> LogisticRegression:
        return LogisticRegression(
            penalty=self.penalty, C=C, l1_ratio=self.l1_ratio, penalty_factor=self.penalty_factor,
            fit_intercept=self.fit_intercept, tol=self.tol, max_iter=self.max_iter,
            class_weight=self.class_weight, dtype=self.dtype, device=self.device, verbose=self.verbose,
        )

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LogisticRegressionCV:  # type: ignore[override]
        """Cross-validate the grid of C on ``X``, ``y``, then refit at the best C.

        Returns
        -------
        self
        """
        self._check_cv_params()
        data = self._validated(X, y, sample_weight)
        self.Cs_ = self._grid(data)
        fold_coefs = self._score_folds(data)
        self.mean_scores_ = self.scores_.mean(axis=0)
        self.std_scores_ = self.scores_.std(axis=0)
        best = int(np.argmax(self.mean_scores_))
        self.C_ = float(self.Cs_[best])
        if self.refit:
            final = self._single(self.C_).fit(X, y, sample_weight=sample_weight)
            coef = join_coef(final.coef_, final.intercept_, self.fit_intercept)
            self.best_estimator_ = final
            self.n_iter_ = final.n_iter_
            self.solver_, self.converged_ = final.solver_, final.converged_
            self.objective_, self.grad_max_ = final.objective_, final.grad_max_
        else:
            coef = fold_coefs[:, best].mean(axis=0)
            self.n_iter_ = np.array([0], dtype=np.int32)
        self.classes_ = data.classes
        self.coef_, self.intercept_ = split_coef(np.asarray(coef, dtype=data.np_dtype), self.fit_intercept)
        return self

    def _check_cv_params(self) -> None:
        if self.penalty is None or self.penalty not in PENALTIES:
            raise ValueError(f"penalty must be one of 'l2', 'l1', 'elasticnet', got {self.penalty!r}")
        if not isinstance(self.Cs, numbers.Integral) and np.ndim(self.Cs) != 1:
            raise ValueError(f"Cs must be an int or a sequence of C values, got {self.Cs!r}")
        self._single(1.0)._check_params()

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
        return _CVData(
            X=X, y=y, y_index=y_index, classes=classes, weights=weights, score_weights=score_weights,
            dtype=dtype, device=device, l1_ratio=self._single(1.0)._l1_ratio,
            factor=penalty_factor_tensor(self.penalty_factor, X.shape[1], dtype, device),
            names=list(self.feature_names_in_) if hasattr(self, "feature_names_in_") else None,
        )

    def _objective_on(self, data: _CVData, rows: np.ndarray) -> Objective:
        source = make_source(data.X[rows], data.y_index[rows], data.weights[rows].astype(data.np_dtype),
                             data.dtype, data.device, data.names)
        return Objective(source, n_outputs=data.n_outputs, fit_intercept=self.fit_intercept, l2=None,
                         dtype=data.dtype, device=data.device, feature_names=data.names)

    def _grid(self, data: _CVData) -> np.ndarray:
        """The candidate Cs, ascending: a path grid on all the data for an int, else the user's."""
        if isinstance(self.Cs, numbers.Integral):
            return c_grid(self._objective_on(data, np.arange(data.X.shape[0])), int(self.Cs),
                          data.l1_ratio, data.factor)
        grid = np.sort(np.asarray(self.Cs, dtype=np.float64))
        if not (np.isfinite(grid).all() and (grid > 0).all()):
            raise ValueError(f"Cs must be positive finite numbers, got {self.Cs!r}")
        return grid

    def _score_folds(self, data: _CVData) -> np.ndarray:
        """One warm-started path per fold, scored on its held-out rows into ``scores_``.

        Returns the folds' coefficient matrices, shape (n_folds, n_Cs, n_outputs, n_columns).
        """
        folds = list(check_cv(self.cv, data.y, classifier=True).split(data.X, data.y))
        scorer = _neg_log_loss if self.scoring is None else check_scoring(self, scoring=self.scoring)
        n_columns = data.X.shape[1] + int(self.fit_intercept)
        self.scores_ = np.empty((len(folds), len(self.Cs_)))
        fold_coefs = np.empty((len(folds), len(self.Cs_), data.n_outputs, n_columns))
        for i, (train, test) in enumerate(folds):
            results = fit_path(self._objective_on(data, train), self.Cs_, l1_ratio=data.l1_ratio,
                               penalty_factor=data.factor, tol=self.tol, max_iter=self.max_iter)
            held_out_y = data.y_index[test] if self.scoring is None else data.y[test]
            held_out_weights = None if data.score_weights is None else data.score_weights[test]
            for j, result in enumerate(results):
                fold_coefs[i, j] = result.coef.detach().cpu().numpy()
                model = self._fitted_copy(fold_coefs[i, j], data.classes, data.np_dtype)
                with single_thread_if_small(len(test) * fold_coefs[i, j].size):
                    self.scores_[i, j] = scorer(model, data.X[test], held_out_y,
                                                sample_weight=held_out_weights)
        return fold_coefs

    def _fitted_copy(self, coef: np.ndarray, classes: np.ndarray, np_dtype: type) -> LogisticRegression:
        """A LogisticRegression holding ``coef``, for a scorer to call (no fitting)."""
        model = self._single(1.0)
        model.classes_ = classes
        model.n_features_in_ = self.n_features_in_
        model.coef_, model.intercept_ = split_coef(np.asarray(coef, dtype=np_dtype), self.fit_intercept)
        return model


@dataclass(frozen=True)
class _CVData:
    """The validated training data of one cross-validated fit, shared by its folds."""

    X: Any
    y: np.ndarray
    y_index: np.ndarray
    classes: np.ndarray
    weights: np.ndarray
    score_weights: np.ndarray | None
    dtype: torch.dtype
    device: torch.device
    l1_ratio: float
    factor: torch.Tensor | None
    names: list[str] | None  # the DataFrame's column names, for error messages

    @property
    def np_dtype(self) -> type:
        return np.float64 if self.dtype == torch.float64 else np.float32

    @property
    def n_outputs(self) -> int:
        return 1 if len(self.classes) == 2 else len(self.classes)


def _neg_log_loss(model: LogisticRegression, X: Any, y_index: np.ndarray, sample_weight: Any = None) -> float:
    """Mean (weighted) log-likelihood of held-out rows; unlike scikit-learn's scorer it accepts a
    fold that holds a single class (the probabilities cover every class of the whole data)."""
    log_proba = model.predict_log_proba(X)[np.arange(len(y_index)), y_index]
    return float(np.average(log_proba, weights=sample_weight))
