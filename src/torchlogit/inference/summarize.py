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
from torchlogit._validation import plain, resolve_device, tensor_to_numpy
from torchlogit.inference.covariance import (
    LEVERAGE_POWER,
    MEAT,
    design_rank,
    invert_information,
    null_loglik,
    resolve_cov_type,
    sandwich,
)
from torchlogit.inference.naming import feature_names, names_given
from torchlogit.inference.results import (
    _COV_DESCRIPTIONS,
    Covariance,
    DataDescription,
    FitOutcome,
    LogitResults,
    _check_alpha,
)
from torchlogit.inference.separation import (
    SEPARATION_SCORE,
    describe_separation,
    find_separation,
    separating_features_text,
    warn_separation,
)
from torchlogit.inference.sums import FitData, InferenceSums, SumsLayout, inference_sums, leverage_meat

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
    """The fitting data, validated: X (dense or CSR), class indices, weights and cluster indices.

    ``group_index`` is (n, m): one column per grouping (A; or A, B and A∩B for two-way
    clustering), ``n_groups`` the clusters of the user's groupings, ``signs`` each column's sign.
    """

    X: Any
    y_index: np.ndarray
    weights: np.ndarray
    group_index: np.ndarray | None
    n_groups: tuple[int, ...]
    signs: tuple[int, ...] = (1,)


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


def group_indices(groups: Any, n: int) -> tuple[np.ndarray, tuple[int, ...], tuple[int, ...]]:
    """Cluster labels → index columns, cluster counts and signs (one-way, or two-way CGM).

    ``groups`` is one label per row, shape (n,), or two labels per row, shape (n, 2): two-way
    clustering (Cameron, Gelbach & Miller 2011), ``V = V_A + V_B − V_{A∩B}``, where A∩B are the
    pairs of labels that occur. Returns the (n, 1) or (n, 3) indices (A; A, B, A∩B), the numbers of
    clusters of A (and B) and the signs ``(1,)`` or ``(1, 1, -1)``.
    """
    if groups is None:
        raise ValueError("cov_type='cluster' needs groups=: one cluster label per row (or two, for "
                         "two-way clustering)")
    labels = np.asarray(tensor_to_numpy(groups))
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim not in (1, 2) or (labels.ndim == 2 and labels.shape[1] != 2):
        raise ValueError(f"groups must have shape (n,) or (n, 2) (two-way clustering); got {labels.shape}")
    if labels.shape[0] != n:
        raise ValueError(f"groups has {labels.shape[0]} entries but X has {n} rows")
    columns = [labels] if labels.ndim == 1 else [labels[:, 0], labels[:, 1]]
    index = [np.unique(c, return_inverse=True)[1].ravel() for c in columns]
    counts = tuple(int(i.max()) + 1 for i in index)
    if min(counts) < 2:
        raise ValueError("cluster-robust standard errors need at least 2 clusters in every grouping")
    if len(index) == 1:
        return index[0][:, None], counts, (1,)
    both = np.unique(index[0] * counts[1] + index[1], return_inverse=True)[1].ravel()
    return np.column_stack([*index, both]), counts, (1, 1, -1)


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
    C = float(np.ravel(estimator.C_)[0] if hasattr(estimator, "C_") else estimator.C)  # legacy C_ is an array
    penalised = estimator.penalty is not None and math.isfinite(C)
    l1_share = estimator._l1_ratio if penalised else 0.0
    if penalised and not allow_penalized:
        kind = "an L2" if l1_share == 0 else f"an l1_ratio={l1_share!r}"
        raise ValueError(
            f"summary() reports maximum-likelihood inference, but this model was fitted with "
            f"{kind} penalty (C={C!r}): its coefficients are shrunk, and Wald p-values and intervals "
            "around them would be misleading. Refit with C=np.inf, or (L2 only) pass "
            "allow_penalized=True for approximate Bayesian standard errors from the penalised "
            "information."
        )
    if penalised and l1_share > 0:
        raise ValueError(
            "summary() has no standard errors for an L1 or elastic-net fit (the lasso estimate is not a "
            "smooth function of the data; zeroed coefficients have no Wald interval). Refit with "
            "C=np.inf, or l1_ratio=0 with allow_penalized=True."
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
    if not clustered:
        return _Data(X, y_index, weights, None, ())
    return _Data(X, y_index, weights, *group_indices(groups, X.shape[0]))


def _model(estimator: Any, C: float) -> _Model:
    coef = np.asarray(estimator.coef_, dtype=np.float64)
    fit_intercept = bool(estimator.fit_intercept)
    if fit_intercept:
        coef = np.hstack([coef, np.asarray(estimator.intercept_, dtype=np.float64)[:, None]])
    return _Model(coef, estimator.classes_, fit_intercept, C)


def _layout(model: _Model, device: Any, cov_type: str, signs: tuple[int, ...] = (1,)) -> SumsLayout:
    return SumsLayout(model.n_classes, model.fit_intercept, resolve_device(device), meat=MEAT.get(cov_type),
                      cluster_signs=signs, margins=False)


def _sums(model: _Model, data: _Data, layout: SumsLayout) -> InferenceSums:
    with single_thread_if_small(data.X.shape[0] * (model.coef.shape[1] * model.n_eq) ** 2):
        return inference_sums(data.X, data.y_index, data.weights, model.coef, layout, data.group_index)


def _check_leverage(model: _Model, cov_type: str) -> None:
    """HC2/HC3 are defined (R's sandwich) for an unpenalised binomial GLM only."""
    if cov_type not in LEVERAGE_POWER:
        return
    if model.n_classes > 2:
        raise ValueError(f"cov_type={cov_type!r} is defined for two classes only (R's sandwich::vcovHC on a "
                         "binomial glm); for 3+ classes use 'HC0', 'HC1' or 'cluster'")
    if model.penalised:
        raise ValueError(f"cov_type={cov_type!r} needs the maximum-likelihood hat values; this fit is "
                         "penalised: use 'HC0' or 'HC1'")


def _covariance(model: _Model, sums: InferenceSums, penalty_factor: Any, cov_type: str,
                data: _Data, layout: SumsLayout) -> tuple[np.ndarray, np.ndarray, int]:
    """The covariance of ``cov_type``, the inverse information (both over the internal θ) and rank(X̃)."""
    p = model.coef.shape[1]
    rank = design_rank(sums.information[:p, :p])
    info = sums.information
    if model.penalised:
        factor = np.ones(model.n_features) if penalty_factor is None \
            else np.asarray(penalty_factor, dtype=np.float64)
        info = info + penalty_hessian(model.n_classes, factor / model.C, model.fit_intercept)
    bread = invert_information(info, full_rank=model.penalised or rank == p)
    meat = sums.meat
    if cov_type in LEVERAGE_POWER:
        with single_thread_if_small(data.X.shape[0] * p * p):
            meat = leverage_meat(data.X, data.y_index, data.weights, model.theta, bread, layout,
                                 LEVERAGE_POWER[cov_type])
    return sandwich(bread, meat, cov_type, sums.weight_sum), bread, rank


def _notes(estimator: Any, model: _Model, cov_type: str, n_groups: tuple[int, ...]) -> list[str]:
    """The footnotes: reference class, penalty, covariance type, convergence."""
    notes = []
    if model.n_classes > 2:
        notes.append(f"Coefficients are log-odds against the reference class {plain(model.classes[0])!r} "
                     "(as MNLogit).")
    if model.penalised:
        notes.append(
            f"L2-penalised fit (C={model.C:g}): standard errors use the penalised information "
            "(a Laplace/Bayesian posterior approximation), not maximum-likelihood theory; llf is the "
            "unpenalised log-likelihood at the penalised estimate."
        )
    if cov_type in _COV_DESCRIPTIONS:
        key = "cluster2" if len(n_groups) == 2 else cov_type
        notes.append(_COV_DESCRIPTIONS[key].format(G=" × ".join(map(str, n_groups))))
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
    """Inference for a fitted ``LogisticRegression`` (or ``LogisticRegressionCV``) on its fitting data.

    The results keep a reference to the validated data (``X`` itself when it is already a float
    array, otherwise the converted copy), the class indices and the weights, for
    ``get_influence()``, ``conf_int(method='profile')`` and ``get_margeff()``: the memory stays
    alive as long as the results do.
    """
    check_is_fitted(estimator)
    cov_type = resolve_cov_type(options.get("cov_type", "nonrobust"))
    alpha = _check_alpha(options.get("alpha", 0.05))
    model = _model(estimator, penalty_strength(estimator, options.get("allow_penalized", False)))
    _check_leverage(model, cov_type)
    data = _validated_data(estimator, X, y, sample_weight, options.get("groups"), cov_type == "cluster")
    layout = _layout(model, estimator.device, cov_type, data.signs)
    sums = _sums(model, data, layout)
    cov, bread, rank = _covariance(model, sums, estimator.penalty_factor, cov_type, data, layout)
    names = feature_names(estimator, model.n_features, options.get("xname"))
    separation = _separation_found(estimator, model, data, sums, names)
    notes = _notes(estimator, model, cov_type, data.n_groups)
    if separation is not None:
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
        nobs=sums.weight_sum, df_model=(rank - 1) * model.n_eq,
        named=names_given(estimator, options.get("xname")), k_constant=int(model.fit_intercept),
        fit_data=FitData(X=data.X, y_index=data.y_index, weights=data.weights, coef=model.coef,
                         layout=_layout(model, estimator.device, "nonrobust"), order=order,
                         penalised=model.penalised, bread=bread))
    covariance = Covariance(cov[np.ix_(order, order)], cov_type, _groups_shown(data.n_groups))
    return LogitResults(fit, described, covariance, alpha=alpha, notes=notes, separation=separation)


def _groups_shown(n_groups: tuple[int, ...]) -> int | tuple[int, ...] | None:
    """The clusters shown: None (not clustered), G (one way) or (G_A, G_B) (two ways)."""
    if not n_groups:
        return None
    return n_groups[0] if len(n_groups) == 1 else n_groups


def _separation_found(estimator: Any, model: _Model, data: _Data, sums: InferenceSums,
                      names: list[str]) -> dict | None:
    """The separation found (warned about), checked only when the scores or the fit suggest it."""
    if model.penalised or (sums.max_abs_score < SEPARATION_SCORE and estimator.converged_):
        return None
    separation = _separation(model, data, names)
    if separation is not None:
        warn_separation(separation)
    return separation
