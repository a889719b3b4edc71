"""From a fitted :class:`~torchlogit.LogisticRegression` and its data to :class:`LogitResults`.

This is the body of ``LogisticRegression.summary``; the conventions are documented in
:mod:`torchlogit.inference.results`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from torchlogit._sklearn import check_sample_weight
from torchlogit._threads import single_thread_if_small
from torchlogit._validation import resolve_device, tensor_to_numpy
from torchlogit.inference.results import (
    _COV_DESCRIPTIONS,
    LogitResults,
    _check_alpha,
    design_rank,
    invert_information,
    null_loglik,
    resolve_cov_type,
    sandwich,
    warn_separation,
)
from torchlogit.inference.separation import find_separation
from torchlogit.inference.sums import inference_sums

# |linear predictor| beyond which an unpenalised fit is checked for separation (as the estimator)
_SEPARATION_SCORE = 15.0


def feature_names(estimator: Any, n_features: int) -> list[str]:
    """``feature_names_in_`` when fitted on a DataFrame, else statsmodels' ``x1 .. xd``."""
    names = getattr(estimator, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else [f"x{j + 1}" for j in range(n_features)]


def _check_names(names: list[str], n_features: int) -> list[str]:
    if len(names) != n_features:
        raise ValueError(f"xname has {len(names)} names for {n_features} features")
    return [str(n) for n in names]


def class_indices(classes: np.ndarray, y: Any) -> np.ndarray:
    """Labels → indices into ``classes`` (sorted, as ``np.unique``); unknown labels are an error."""
    y = column_or_1d(np.asarray(tensor_to_numpy(y)), warn=False)
    index = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
    unknown = classes[index] != y
    if np.any(unknown):
        raise ValueError(f"y contains labels the model was not fitted on: {np.unique(y[unknown])[:5]!r}")
    return index


def group_indices(groups: Any, n: int) -> tuple[np.ndarray, int]:
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


def summarize(
    estimator: Any, X: Any, y: Any, sample_weight: Any = None, *, cov_type: str = "nonrobust",
    groups: Any = None, alpha: float = 0.05, allow_penalized: bool = False,
    xname: list[str] | None = None, yname: str | None = None,
) -> LogitResults:
    """Inference for a fitted ``LogisticRegression`` on the data it was fitted on."""
    check_is_fitted(estimator)
    cov_type = resolve_cov_type(cov_type)
    alpha = _check_alpha(alpha)
    penalised = estimator._penalised
    if penalised and not allow_penalized:
        raise ValueError(
            f"summary() reports maximum-likelihood inference, but this model was fitted with "
            f"penalty={estimator.penalty!r} (C={estimator.C!r}): its coefficients are shrunk, and Wald "
            "p-values and intervals around them would be misleading. Refit with penalty=None, or (L2 "
            "only) pass allow_penalized=True for approximate Bayesian standard errors from the "
            "penalised information."
        )
    if penalised and getattr(estimator, "_l1_ratio", 0.0) > 0:
        raise ValueError(
            "summary() has no standard errors for an L1 or elastic-net fit (the lasso estimate is not a "
            "smooth function of the data; zeroed coefficients have no Wald interval). Refit with "
            "penalty=None, or penalty='l2' with allow_penalized=True."
        )
    if estimator.class_weight is not None:
        raise ValueError("summary() needs class_weight=None: class weights change the likelihood, so "
                         "frequency-weight inference would be wrong; pass weights as sample_weight instead")
    dep_variable = yname or str(getattr(y, "name", None) or "y")
    X = validate_data(estimator, tensor_to_numpy(X), accept_sparse="csr",
                      dtype=[np.float64, np.float32], reset=False)
    classes = estimator.classes_
    y_index = class_indices(classes, y)
    if len(y_index) != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {len(y_index)}")
    weights = check_sample_weight(tensor_to_numpy(sample_weight), X)
    group_index, n_groups = group_indices(groups, X.shape[0]) if cov_type == "cluster" else (None, 0)

    n_classes, n_features, fit_intercept = len(classes), X.shape[1], bool(estimator.fit_intercept)
    coef = np.asarray(estimator.coef_, dtype=np.float64)
    if fit_intercept:
        coef = np.hstack([coef, np.asarray(estimator.intercept_, dtype=np.float64)[:, None]])
    meat = {"HC0": "hc", "HC1": "hc", "cluster": "cluster"}.get(cov_type)
    p = n_features + int(fit_intercept)
    with single_thread_if_small(X.shape[0] * (p * max(n_classes - 1, 1)) ** 2):
        sums = inference_sums(
            X, y_index, weights, coef, fit_intercept=fit_intercept, n_classes=n_classes, meat=meat,
            groups=group_index, device=resolve_device(estimator.device),
        )
    rank = design_rank(sums.information[:p, :p])
    info = sums.information
    notes = []
    if n_classes > 2:
        notes.append(f"Coefficients are log-odds against the reference class {classes[0]!r} (as MNLogit).")
    if penalised:
        factor = getattr(estimator, "penalty_factor", None)
        factor = np.ones(n_features) if factor is None else np.asarray(factor, dtype=np.float64)
        info = info + penalty_hessian(n_classes, factor / estimator.C, fit_intercept)
        notes.append(
            f"L2-penalised fit (C={estimator.C:g}): standard errors use the penalised information "
            "(a Laplace/Bayesian posterior approximation), not maximum-likelihood theory; llf is the "
            "unpenalised log-likelihood at the penalised estimate."
        )
    bread = invert_information(info, full_rank=penalised or rank == p)
    cov = sandwich(bread, sums.meat, cov_type, sums.weight_sum, n_groups)
    if cov_type in _COV_DESCRIPTIONS:
        notes.append(_COV_DESCRIPTIONS[cov_type].format(G=n_groups))
    if not estimator.converged_:
        notes.append(f"The solver did not converge (max |gradient| {estimator.grad_max_:.3g}); "
                     "the estimates are not the optimum.")

    n_eq = 1 if n_classes == 2 else n_classes - 1
    flat = coef[0] if n_classes == 2 else (coef[1:] - coef[0]).ravel()
    order = presentation_order(n_eq, n_features, fit_intercept)
    names = feature_names(estimator, n_features) if xname is None else _check_names(xname, n_features)
    separation = None
    if not penalised and (sums.max_abs_score >= _SEPARATION_SCORE or not estimator.converged_):
        separation = _separation(X, y_index, weights, classes, fit_intercept, names)
    if separation is not None:
        warn_separation(separation)
        notes.append(f"Separation: {separation['what']} are (quasi-)completely separated by "
                     f"{', '.join(separation['features']) or 'the intercept'}; the MLE does not exist. "
                     "Use Firth's method (torchlogit.estimators.firth) or a penalty.")
    return LogitResults(
        model="Logit" if n_classes == 2 else "MNLogit",
        method="L2-penalised ML" if penalised else "MLE",
        params_flat=flat[order], cov=cov[np.ix_(order, order)],
        exog_names=(["const"] if fit_intercept else []) + names, classes=classes,
        dep_variable=dep_variable, cov_type=cov_type, n_groups=n_groups or None, nobs=sums.weight_sum,
        df_model=(rank - 1) * n_eq, llf=sums.loglik, llnull=null_loglik(sums.class_weights),
        converged=estimator.converged_, alpha=alpha,
        margins=(sums.ame.ravel(), sums.ame_jacobian[:, order], names), notes=notes, separation=separation,
        margins_at_mean=_margins_at_mean(flat, X, weights, n_classes, fit_intercept, order, names),
    )


def _margins_at_mean(flat: np.ndarray, X: Any, weights: np.ndarray, n_classes: int, fit_intercept: bool,
                     order: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """dP/dx at the weighted mean of the features, and its Jacobian over the parameters (autograd).

    ``flat`` is θ in the internal order (per equation: the weights, then the intercept); the
    multinomial equations are the log-odds against class 0 (its effects included, as in statsmodels).
    """
    import torch

    d = X.shape[1]
    mean = np.asarray(X.T @ weights).ravel() / weights.sum()
    x = torch.from_numpy(np.append(mean, 1.0) if fit_intercept else mean)

    def effects(theta):
        if n_classes == 2:
            prob = torch.sigmoid(theta @ x)
            return prob * (1 - prob) * theta[:d]
        rows = theta.reshape(n_classes - 1, -1)
        proba = torch.softmax(torch.cat([theta.new_zeros(1), rows @ x]), dim=0)
        slopes = torch.cat([theta.new_zeros(1, d), rows[:, :d]])  # (K, d), class 0's slopes zero
        return (proba[:, None] * (slopes - proba @ slopes)).ravel()

    theta = torch.from_numpy(np.ascontiguousarray(flat, dtype=np.float64))
    jac = torch.autograd.functional.jacobian(effects, theta)
    return effects(theta).numpy(), jac.numpy()[:, order], names


def _separation(X: Any, y_index: np.ndarray, weights: np.ndarray, classes: np.ndarray, fit_intercept: bool,
                names: list[str]) -> dict | None:
    dense = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    found = find_separation(dense, y_index, weights, len(classes), fit_intercept)
    if found is None:
        return None
    k = found.class_index
    features = _fewest_separating_features(dense, y_index == k, weights, fit_intercept)
    label = classes[k].item() if isinstance(classes[k], np.generic) else classes[k]
    return {
        "class": None if len(classes) == 2 else label,
        "what": "the two classes" if len(classes) == 2 else f"class {label!r} and the others",
        "features": [names[j] for j in (found.features if features is None else features)],
    }


def _fewest_separating_features(X: np.ndarray, positive: np.ndarray, weights: np.ndarray,
                                fit_intercept: bool) -> list[int] | None:
    """A sparse separating direction: min ‖v‖₁ over features, ``sᵢ x̃ᵢᵀv ≥ 0``, ``Σ sᵢ x̃ᵢᵀv ≥ 1``.

    ``find_separation`` returns *a* separating direction, often involving every feature when the
    separation is complete; the L1-minimal one names the features that actually separate.
    """
    from scipy.optimize import linprog

    keep = weights > 0
    design = np.hstack([X[keep], np.ones((int(keep.sum()), 1))]) if fit_intercept else X[keep]
    scale = np.abs(design).max(axis=0)
    scale[scale == 0] = 1.0
    signed = design / scale * np.where(positive[keep], 1.0, -1.0)[:, None]
    p, d = design.shape[1], X.shape[1]
    cost = np.r_[np.ones(d), np.zeros(p - d)]
    A = np.vstack([np.hstack([-signed, signed]), np.r_[-signed.sum(0), signed.sum(0)][None, :]])
    b = np.r_[np.zeros(len(signed)), -1.0]
    res = linprog(np.r_[cost, cost], A_ub=A, b_ub=b, bounds=(0, None), method="highs")
    if res.status != 0:
        return None
    v = res.x[:p] - res.x[p:]
    return [int(j) for j in np.flatnonzero(np.abs(v[:d]) > 1e-9 * max(np.abs(v).max(), 1.0))]
