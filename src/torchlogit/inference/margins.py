"""Marginal effects with statsmodels' options (``get_margeff``), from the fitting data, block by block.

Meanings are statsmodels' ``DiscreteResults.get_margeff``:

* ``at``: ``'overall'`` averages the effect of every row (weighted by the frequency weights);
  ``'mean'``/``'median'``/``'zero'`` evaluate it once, at the features' (weighted) mean, median
  (of the rows repeated ``sᵢ`` times; ``np.median`` unweighted) or zero (intercept 1);
* ``method``: ``'dydx'`` ∂P/∂x, ``'eyex'`` ∂log P/∂log x, ``'dyex'`` ∂P/∂log x, ``'eydx'`` ∂log P/∂x,
  each transformed row by row before averaging;
* ``dummy=True``: a 0/1 column (min 0, max 1, integer) gets the discrete change
  ``P(x = 1) − P(x = 0)`` (``log P`` differences for ``ey*``);
* ``count=True``: a non-negative integer column (not 0/1) gets ``(P(x + 1) − P(x − 1)) / 2``
  (statsmodels' centred difference);
* ``atexog``: ``{column: value}`` fixes columns before ``at`` is applied; a column is an int, the
  zero-based index into ``exog_names`` (``const`` first, as statsmodels' exog), or a feature name.

Standard errors are the delta method over the parameters' covariance, with the exact Jacobian
(autograd, summed block by block) where statsmodels differentiates numerically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch.nn import functional as F

from torchlogit.inference.sums import FitData, _design_blocks

_F64 = torch.float64
AT = ("overall", "mean", "median", "zero")
METHODS = ("dydx", "eyex", "dyex", "eydx")


@dataclass(frozen=True)
class MarginOptions:
    """``get_margeff``'s options (statsmodels' names and meanings, see the module docstring)."""

    at: str = "overall"
    method: str = "dydx"
    atexog: dict[Any, float] | None = None
    dummy: bool = False
    count: bool = False

    def checked(self) -> MarginOptions:
        """The options lower-cased, or a ValueError naming the one that is not allowed."""
        at, method = str(self.at).lower(), str(self.method).lower()
        if at not in AT:
            raise ValueError(f"at must be one of {', '.join(map(repr, AT))}; got {self.at!r}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}; got {self.method!r}")
        if (self.dummy or self.count) and (method in ("dyex", "eyex") or at in ("median", "zero")):
            raise ValueError(f"dummy=True/count=True do not allow method={method!r} or at={at!r} "
                             "(as statsmodels: elasticities and median/zero points need continuous columns)")
        if self.atexog is not None and not isinstance(self.atexog, dict):
            raise TypeError(f"atexog must be a dict {{column: value}}, got {type(self.atexog).__name__}")
        return MarginOptions(at, method, self.atexog, bool(self.dummy), bool(self.count))


@dataclass(frozen=True)
class _Plan:
    """What to evaluate: fixed columns, the discrete columns and the transform."""

    method: str
    fixed: dict[int, float]  # feature index → value (atexog)
    dummy: list[int] = field(default_factory=list)
    count: list[int] = field(default_factory=list)


def _fixed_columns(atexog: dict[Any, float] | None, exog_names: Sequence[str],
                   fit_intercept: bool) -> dict[int, float]:
    """``atexog`` keys (exog index or feature name) → feature indices; the intercept cannot be fixed."""
    fixed: dict[int, float] = {}
    for key, value in (atexog or {}).items():
        if isinstance(key, str):
            if key not in exog_names:
                raise ValueError(f"atexog names a column {key!r} that is not one of {list(exog_names)}")
            index = list(exog_names).index(key)
        elif isinstance(key, (int, np.integer)) and 0 <= key < len(exog_names):
            index = int(key)
        else:
            raise ValueError(f"atexog key {key!r} is not a column index 0..{len(exog_names) - 1} or a name")
        if fit_intercept and index == 0:
            raise ValueError("atexog cannot fix the intercept column 'const'")
        fixed[index - int(fit_intercept)] = float(value)
    return fixed


def _column_kinds(X: Any, block_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """statsmodels' dummy (0/1 integers) and count (non-negative integers, varying, not 0/1) columns."""
    d = X.shape[1]
    low, high, integral = np.full(d, np.inf), np.full(d, -np.inf), np.ones(d, dtype=bool)
    for start in range(0, X.shape[0], block_rows):
        block = X[start:start + block_rows]
        block = block.toarray() if sp.issparse(block) else np.asarray(block, dtype=np.float64)
        low, high = np.minimum(low, block.min(0)), np.maximum(high, block.max(0))
        integral &= np.all(block % 1.0 == 0, axis=0)
    dummy = integral & (low == 0) & (high == 1)
    count = integral & (low >= 0) & (high > low) & ~dummy
    return dummy, count


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The median of ``values`` repeated ``weights`` times (``np.median`` for unit weights)."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    middle = (cum[-1] - 1) / 2
    lo = np.searchsorted(cum, np.floor(middle), side="right")
    hi = np.searchsorted(cum, np.ceil(middle), side="right")
    return float((values[order][min(lo, len(cum) - 1)] + values[order][min(hi, len(cum) - 1)]) / 2)


def _point(data: FitData, at: str) -> np.ndarray:
    """The one row at which ``at='mean'|'median'|'zero'`` evaluates (features only)."""
    X, w = data.X, data.weights
    if at == "mean":
        return np.asarray(X.T @ w).ravel() / w.sum()
    if at == "zero":
        return np.zeros(X.shape[1])
    column = (lambda j: X[:, j].toarray().ravel()) if sp.issparse(X) else (lambda j: np.asarray(X[:, j]))
    return np.array([_weighted_median(column(j).astype(np.float64), w) for j in range(X.shape[1])])


def _log_proba(theta: Tensor, Xt: Tensor, n_classes: int) -> Tensor:
    """log P(y = k | x) for the modelled outcomes: (B, 1) P(y = classes[1]) binomial, (B, K) multinomial."""
    if n_classes == 2:
        return F.logsigmoid(Xt @ theta)[:, None]
    rows = theta.reshape(n_classes - 1, -1)
    scores = torch.cat([Xt.new_zeros(len(Xt), 1), Xt @ rows.T], dim=1)
    return torch.log_softmax(scores, dim=1)


def _derivative(theta: Tensor, Xt: Tensor, n_classes: int, d: int) -> tuple[Tensor, Tensor]:
    """(P, ∂P/∂x): P (B, K_out), ∂P/∂x (B, K_out, d), with the slopes of class 0 zero (multinomial)."""
    P = _log_proba(theta, Xt, n_classes).exp()
    if n_classes == 2:
        return P, (P * (1 - P))[:, :, None] * theta[:d]
    rows = theta.reshape(n_classes - 1, -1)
    slopes = torch.cat([theta.new_zeros(1, d), rows[:, :d]])  # (K, d)
    return P, P[:, :, None] * (slopes[None] - (P @ slopes)[:, None, :])


def _shifted(Xt: Tensor, j: int, value: Tensor | float, add: bool = False) -> Tensor:
    out = Xt.clone()
    out[:, j] = out[:, j] + value if add else value
    return out


def _effects(theta: Tensor, Xt: Tensor, plan: _Plan, n_classes: int, d: int) -> Tensor:
    """The effects of every row, (B, K_out, d), under the plan's transform and discrete columns."""
    P, dPdx = _derivative(theta, Xt, n_classes, d)
    effects = dPdx
    if "ex" in plan.method:
        effects = effects * Xt[:, None, :d]
    if plan.method.startswith("ey"):
        effects = effects / P[:, :, None]
    log = plan.method.startswith("ey")
    changes = [(j, _shifted(Xt, j, 1.0), _shifted(Xt, j, 0.0), 1.0) for j in plan.dummy]
    changes += [(j, _shifted(Xt, j, 1.0, add=True), _shifted(Xt, j, -1.0, add=True), 0.5) for j in plan.count]
    if not changes:
        return effects
    columns = list(effects.unbind(2))
    for j, up, down, scale in changes:
        hi, lo = _log_proba(theta, up, n_classes), _log_proba(theta, down, n_classes)
        columns[j] = scale * ((hi - lo) if log else (hi.exp() - lo.exp()))
    return torch.stack(columns, dim=2)


def _blocks(data: FitData, at: str, fixed: dict[int, float]):
    """Design blocks ``[X, 1]`` (all rows, or the ``at`` row) and their weights, ``atexog`` columns fixed."""
    layout = data.layout
    if at == "overall":
        w = torch.as_tensor(np.asarray(data.weights, dtype=np.float64), device=layout.device)
        blocks = ((Xt, w[start:start + len(Xt)])
                  for start, Xt in _design_blocks(data.X, layout.rows, layout.fit_intercept, layout.device))
    else:
        row = np.append(_point(data, at), 1.0) if layout.fit_intercept else _point(data, at)
        blocks = iter([(torch.as_tensor(row[None, :], device=layout.device),
                        torch.ones(1, dtype=_F64, device=layout.device))])
    for Xt, w in blocks:
        for j, value in fixed.items():
            Xt[:, j] = value
        yield Xt, w


def marginal_effects(data: FitData, options: MarginOptions,
                     exog_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Effects (flat: class by class, features within) and their Jacobian over the displayed parameters."""
    options = options.checked()
    layout = data.layout
    d = data.X.shape[1]
    plan = _Plan(options.method, _fixed_columns(options.atexog, exog_names, layout.fit_intercept))
    if options.dummy or options.count:
        dummy, count = _column_kinds(data.X, layout.rows)
        plan = _Plan(plan.method, plan.fixed, list(np.flatnonzero(dummy)) if options.dummy else [],
                     list(np.flatnonzero(count)) if options.count else [])
    theta = torch.as_tensor(np.ascontiguousarray(data.theta, dtype=np.float64), device=layout.device)
    total, jac, weight = None, None, 0.0
    for Xt, w in _blocks(data, options.at, plan.fixed):
        def summed(t: Tensor, Xt: Tensor = Xt, w: Tensor = w) -> Tensor:
            return torch.einsum("b,bkd->kd", w, _effects(t, Xt, plan, data.n_classes, d)).reshape(-1)

        value, block_jac = summed(theta), torch.func.jacrev(summed)(theta)
        total = value if total is None else total + value
        jac = block_jac if jac is None else jac + block_jac
        weight += float(w.sum())
    return (total / weight).detach().cpu().numpy(), (jac / weight).cpu().numpy()[:, data.order]
