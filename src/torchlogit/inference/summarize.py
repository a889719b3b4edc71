"""From a fitted :class:`~torchlogit.LogisticRegression` and its data to :class:`LogitResults`.

This is the body of ``LogisticRegression.summary``; the conventions are documented in
:mod:`torchlogit.inference.results`. The steps: check that the model admits this inference
(:func:`penalty_strength`), validate the data, accumulate the sums in one pass
(:mod:`torchlogit.inference.sums`), then the covariance, the notes and the separation check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from torchlogit._sklearn import check_sample_weight
from torchlogit._threads import single_thread_if_small
from torchlogit._validation import resolve_device, tensor_to_numpy
from torchlogit.inference.covariance import (
    design_rank,
    invert_information,
    null_loglik,
    resolve_cov_type,
    sandwich,
)
from torchlogit.inference.naming import feature_names
from torchlogit.inference.results import (
    _COV_DESCRIPTIONS,
    Covariance,
    DataDescription,
    FitOutcome,
    LogitResults,
    Margins,
    _check_alpha,
)
from torchlogit.inference.separation import (
    SEPARATION_SCORE,
    describe_separation,
    find_separation,
    separating_features_text,
    warn_separation,
)
from torchlogit.inference.sums import InferenceSums, SumsLayout, inference_sums

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11


class SummaryOptions(TypedDict, total=False):
    """The keywords of ``LogisticRegression.summary`` (documented there)."""

    cov_type: str
    groups: Any
    alpha: float
    allow_penalized: bool
    xname: list[str] | None
    yname: str | None


@dataclass(frozen=True)
class _Data:
    """The fitting data, validated: X (dense or CSR), class indices, weights and cluster indices."""

    X: Any
    y_index: np.ndarray
    weights: np.ndarray
    group_index: np.ndarray | None
    n_groups: int


@dataclass(frozen=True)
class _Model:
    """The estimator's coefficients in the internal layout (intercept last) and their shape."""

    coef: np.ndarray  # (n_outputs, d + fit_intercept)
    classes: np.ndarray
    fit_intercept: bool
    C: float  # math.inf when unpenalised

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def n_eq(self) -> int:
        return 1 if self.n_classes == 2 else self.n_classes - 1

    @property
    def n_features(self) -> int:
        return self.coef.shape[1] - int(self.fit_intercept)

    @property
    def penalised(self) -> bool:
        return math.isfinite(self.C)

    @property
    def theta(self) -> np.ndarray:
        """The flat parameters: contrasts against class 0 for 3+ classes, intercept last per equation."""
        return self.coef[0] if self.n_classes == 2 else (self.coef[1:] - self.coef[0]).ravel()


def class_indices(classes: np.ndarray, y: Any) -> np.ndarray:
    """Labels → indices into ``classes`` (sorted, as ``np.unique``); unknown labels are an error."""
    y = column_or_1d(np.asarray(tensor_to_numpy(y)), warn=False)
    index = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
    unknown = classes[index] != y
    if np.any(unknown):
        raise ValueError(f"y contains labels the model was not fitted on: {np.unique(y[unknown])[:5]!r}")
    return index


def group_indices(groups: Any, n: int) -> tuple[np.ndarray, int]:
    """Cluster labels → indices 0..G-1 and G; at least 2 clusters, one label per row."""
    if groups is None:
        raise ValueError("cov_type='cluster' needs groups=: one cluster label per row")
    groups = column_or_1d(np.asarray(tensor_to_numpy(groups)), warn=False)
    if len(groups) != n:
        raise ValueError(f"groups has {len(groups)} entries but X has {n} rows")
    labels, index = np.unique(groups, return_inverse=True)
    if len(labels) < 2:
        raise ValueError("cluster-robust standard errors need at least 2 clusters")
    return index, len(labels)


def presentation_order(n_eq: int, n_features: int, fit_intercept: bool) -> np.ndarray:
    """Internal (intercept last per equation) → displayed (``const`` first) parameter order."""
    block = [n_features, *range(n_features)] if fit_intercept else list(range(n_features))
    p = n_features + int(fit_intercept)
    return np.concatenate([np.asarray(block) + k * p for k in range(n_eq)])


def penalty_hessian(n_classes: int, strengths: np.ndarray, fit_intercept: bool) -> np.ndarray:
    """Hessian of ``Σ_j λ_j/2 · Σ_k W_kj²`` (centred K rows, intercept free) over the contrasts θ."""
    diag = np.diag(np.r_[strengths, np.zeros(int(fit_intercept))])
    if n_classes == 2:
        return diag
    k = n_classes - 1
    # Σ_k W_kj² with W centred equals Σ_{k≥1} θ_kj² − (Σ_k θ_kj)² / K
    return np.kron(np.eye(k) - np.ones((k, k)) / n_classes, diag)


def penalty_strength(estimator: Any, allow_penalized: bool) -> float:
    """The fit's C (``math.inf`` when unpenalised), once the model is known to admit Wald inference.

    ``LogisticRegressionCV`` fits at its chosen ``C_`` (it has no ``C``); ``l1_ratio`` (and the
    penalty) are shared by both. Raises ValueError for a penalised fit unless ``allow_penalized``,
    for any L1 part, for class weights, and for a CV model whose coefficients were not refitted.
    """
    C = float(estimator.C_ if hasattr(estimator, "C_") else estimator.C)
    penalised = estimator.penalty is not None and math.isfinite(C)
    if penalised and not allow_penalized:
        raise ValueError(
            f"summary() reports maximum-likelihood inference, but this model was fitted with "
            f"penalty={estimator.penalty!r} (C={C!r}): its coefficients are shrunk, and Wald "
            "p-values and intervals around them would be misleading. Refit with penalty=None, or (L2 "
            "only) pass allow_penalized=True for approximate Bayesian standard errors from the "
            "penalised information."
        )
    if penalised and estimator._l1_ratio > 0:
        raise ValueError(
            "summary() has no standard errors for an L1 or elastic-net fit (the lasso estimate is not a "
            "smooth function of the data; zeroed coefficients have no Wald interval). Refit with "
            "penalty=None, or penalty='l2' with allow_penalized=True."
        )
    if estimator.class_weight is not None:
        raise ValueError("summary() needs class_weight=None: class weights change the likelihood, so "
                         "frequency-weight inference would be wrong; pass weights as sample_weight instead")
    if not hasattr(estimator, "converged_"):
        raise ValueError("summary() needs coefficients fitted on all the data; the cross-validated model's "
                         "are an average over the folds: use LogisticRegressionCV(refit=True)")
    return C if penalised else math.inf


def _validated_data(estimator: Any, X: Any, y: Any, sample_weight: Any, groups: Any,
                    clustered: bool) -> _Data:
    """The data as the estimator saw it; ``groups`` are read only for a clustered covariance."""
    X = validate_data(estimator, tensor_to_numpy(X), accept_sparse="csr",
                      dtype=[np.float64, np.float32], reset=False)
    y_index = class_indices(estimator.classes_, y)
    if len(y_index) != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {len(y_index)}")
    weights = check_sample_weight(tensor_to_numpy(sample_weight), X)
    group_index, n_groups = group_indices(groups, X.shape[0]) if clustered else (None, 0)
    return _Data(X, y_index, weights, group_index, n_groups)


def _model(estimator: Any, C: float) -> _Model:
    coef = np.asarray(estimator.coef_, dtype=np.float64)
    fit_intercept = bool(estimator.fit_intercept)
    if fit_intercept:
        coef = np.hstack([coef, np.asarray(estimator.intercept_, dtype=np.float64)[:, None]])
    return _Model(coef, estimator.classes_, fit_intercept, C)


def _sums(model: _Model, data: _Data, cov_type: str, device: Any) -> InferenceSums:
    meat = {"HC0": "hc", "HC1": "hc", "cluster": "cluster"}.get(cov_type)
    layout = SumsLayout(model.n_classes, model.fit_intercept, resolve_device(device), meat=meat)
    with single_thread_if_small(data.X.shape[0] * (model.coef.shape[1] * model.n_eq) ** 2):
        return inference_sums(data.X, data.y_index, data.weights, model.coef, layout, data.group_index)


def _covariance(model: _Model, sums: InferenceSums, penalty_factor: Any, cov_type: str,
                n_groups: int) -> tuple[np.ndarray, int]:
    """The covariance of ``cov_type`` over the internal θ, and rank(X̃)."""
    p = model.coef.shape[1]
    rank = design_rank(sums.information[:p, :p])
    info = sums.information
    if model.penalised:
        factor = np.ones(model.n_features) if penalty_factor is None \
            else np.asarray(penalty_factor, dtype=np.float64)
        info = info + penalty_hessian(model.n_classes, factor / model.C, model.fit_intercept)
    bread = invert_information(info, full_rank=model.penalised or rank == p)
    return sandwich(bread, sums.meat, cov_type, sums.weight_sum, n_groups), rank


def _notes(estimator: Any, model: _Model, cov_type: str, n_groups: int) -> list[str]:
    """The footnotes: reference class, penalty, covariance type, convergence."""
    notes = []
    if model.n_classes > 2:
        notes.append(f"Coefficients are log-odds against the reference class {model.classes[0]!r} "
                     "(as MNLogit).")
    if model.penalised:
        notes.append(
            f"L2-penalised fit (C={model.C:g}): standard errors use the penalised information "
            "(a Laplace/Bayesian posterior approximation), not maximum-likelihood theory; llf is the "
            "unpenalised log-likelihood at the penalised estimate."
        )
    if cov_type in _COV_DESCRIPTIONS:
        notes.append(_COV_DESCRIPTIONS[cov_type].format(G=n_groups))
    if not estimator.converged_:
        notes.append(f"The solver did not converge (max |gradient| {estimator.grad_max_:.3g}); "
                     "the estimates are not the optimum.")
    return notes


def _separation(model: _Model, data: _Data, names: list[str]) -> dict | None:
    """The separating class and features, or None when the MLE exists."""
    dense = data.X.toarray() if sp.issparse(data.X) else np.asarray(data.X, dtype=np.float64)
    found = find_separation(dense, data.y_index, data.weights, model.n_classes, model.fit_intercept)
    if found is None:
        return None
    return describe_separation(found, dense, data.y_index, data.weights, model.classes, model.fit_intercept,
                               names)


def summarize(estimator: Any, X: Any, y: Any, sample_weight: Any = None,
              **options: Unpack[SummaryOptions]) -> LogitResults:
    """Inference for a fitted ``LogisticRegression`` (or ``LogisticRegressionCV``) on its fitting data."""
    check_is_fitted(estimator)
    cov_type = resolve_cov_type(options.get("cov_type", "nonrobust"))
    alpha = _check_alpha(options.get("alpha", 0.05))
    model = _model(estimator, penalty_strength(estimator, options.get("allow_penalized", False)))
    data = _validated_data(estimator, X, y, sample_weight, options.get("groups"), cov_type == "cluster")
    sums = _sums(model, data, cov_type, estimator.device)
    cov, rank = _covariance(model, sums, estimator.penalty_factor, cov_type, data.n_groups)
    notes = _notes(estimator, model, cov_type, data.n_groups)
    names = feature_names(estimator, model.n_features, options.get("xname"))
    separation = None
    if not model.penalised and (sums.max_abs_score >= SEPARATION_SCORE or not estimator.converged_):
        separation = _separation(model, data, names)
    if separation is not None:
        warn_separation(separation)
        notes.append(f"Separation: {separation['what']} are (quasi-)completely separated by "
                     f"{separating_features_text(separation)}; the MLE does not exist. "
                     "Use Firth's method (torchlogit.estimators.firth) or a penalty.")
    order = presentation_order(model.n_eq, model.n_features, model.fit_intercept)
    fit = FitOutcome(model="Logit" if model.n_classes == 2 else "MNLogit",
                     method="L2-penalised ML" if model.penalised else "MLE", params=model.theta[order],
                     llf=sums.loglik, llnull=null_loglik(sums.class_weights), converged=estimator.converged_)
    described = DataDescription(
        dep_variable=options.get("yname") or str(getattr(y, "name", None) or "y"),
        exog_names=(["const"] if model.fit_intercept else []) + names, classes=model.classes,
        nobs=sums.weight_sum, df_model=(rank - 1) * model.n_eq)
    margins = Margins(names, (sums.ame.ravel(), sums.ame_jacobian[:, order]),
                      _margins_at_mean(model, data, order))
    covariance = Covariance(cov[np.ix_(order, order)], cov_type, data.n_groups or None)
    return LogitResults(fit, described, covariance, alpha=alpha, margins=margins, notes=notes,
                        separation=separation)


def _margins_at_mean(model: _Model, data: _Data, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """dP/dx at the weighted mean of the features, and its Jacobian over the parameters (autograd).

    θ is in the internal order (per equation: the weights, then the intercept); the multinomial
    equations are the log-odds against class 0 (its effects included, as in statsmodels).
    """
    import torch

    d, n_classes, weights = model.n_features, model.n_classes, data.weights
    mean = np.asarray(data.X.T @ weights).ravel() / weights.sum()
    x = torch.from_numpy(np.append(mean, 1.0) if model.fit_intercept else mean)

    def effects(theta):
        if n_classes == 2:
            prob = torch.sigmoid(theta @ x)
            return prob * (1 - prob) * theta[:d]
        rows = theta.reshape(n_classes - 1, -1)
        proba = torch.softmax(torch.cat([theta.new_zeros(1), rows @ x]), dim=0)
        slopes = torch.cat([theta.new_zeros(1, d), rows[:, :d]])  # (K, d), class 0's slopes zero
        return (proba[:, None] * (slopes - proba @ slopes)).ravel()

    theta = torch.from_numpy(np.ascontiguousarray(model.theta, dtype=np.float64))
    jac = torch.autograd.functional.jacobian(effects, theta)
    return effects(theta).numpy(), jac.numpy()[:, order]
