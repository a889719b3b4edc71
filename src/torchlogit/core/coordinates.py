"""Preconditioning coordinates for first-order solvers: the same objective, better conditioned.

A coordinates object maps coefficients between the original space and a transformed one in which
the Hessian is close to a multiple of the identity; L-BFGS iterates there, the objective is always
evaluated in the original coordinates (:class:`~torchlogit.core.objective.Objective`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from torchlogit.core.loss import _weighted_gram
from torchlogit.core.objective import Objective
from torchlogit.distributed import all_reduce_sum


class StandardisedCoordinates:
    """F in the coordinates of standardised features, without copying the data.

    With column means μ and scales σ, the coefficients ``(W̃, b̃)`` of ``(X − μ)/σ`` map to
    ``W = W̃/σ`` and ``b = b̃ − W̃·(μ/σ)``: the same model, so the same optimum, but a far better
    conditioned problem for first-order methods (L-BFGS on uncentred data otherwise crawls).
    Centring needs an intercept; without one only the scaling applies. The centring is implicit
    (folded into the intercept), so sparse columns are never densified.

    The scale of column j is ``sqrt(σⱼ² + λⱼ/c)``, the square root of the Hessian's diagonal at the
    start (curvature c = 1/4 for the binomial model, 1/K for K classes): where the ridge
    dominates a column's curvature (rare columns of wide sparse data, ``σⱼ² ≪ λⱼ``) dividing by
    σⱼ alone would blow its ridge curvature up to ``λⱼ/σⱼ²`` and L-BFGS would crawl.
    """

    def __init__(self, objective: Objective):
        self.objective = objective
        mean, std = objective.column_moments()
        n_outputs, d = objective.coef_shape[0], std.numel()
        if objective.l2 is not None:
            curvature = 0.25 if n_outputs == 1 else 1.0 / n_outputs
            std = torch.sqrt(std * std + objective.l2.strength[:d].to(std.dtype) / curvature)
        self.scale = torch.where(std > 0, std, torch.ones_like(std))
        self.shift = mean / self.scale if objective.fit_intercept else torch.zeros_like(mean)

    def to_original(self, coef_std: Tensor) -> Tensor:
        d = self.scale.numel()
        weights = coef_std[:, :d] / self.scale
        if not self.objective.fit_intercept:
            return weights
        intercept = coef_std[:, d] - coef_std[:, :d] @ self.shift
        return torch.cat([weights, intercept[:, None]], dim=1)

    def to_standardised(self, coef: Tensor) -> Tensor:
        d = self.scale.numel()
        weights = coef[:, :d] * self.scale
        if not self.objective.fit_intercept:
            return weights
        intercept = coef[:, d] + weights @ self.shift
        return torch.cat([weights, intercept[:, None]], dim=1)

    def gradient_to_standardised(self, grad: Tensor) -> Tensor:
        """Chain rule: the gradient in standardised coordinates from the original one."""
        d = self.scale.numel()
        g_weights = grad[:, :d] / self.scale
        if not self.objective.fit_intercept:
            return g_weights
        g_weights = g_weights - grad[:, d : d + 1] * self.shift[None, :]
        return torch.cat([g_weights, grad[:, d:]], dim=1)

    def value_grad(self, coef_std: Tensor) -> tuple[float, Tensor, Tensor]:
        """F, its gradient in standardised coordinates, and the original gradient."""
        f, grad = self.objective.value_grad(self.to_original(coef_std))
        return f, self.gradient_to_standardised(grad), grad


class WhitenedCoordinates:
    """F in coordinates where the features (with the intercept column) are decorrelated.

    ``P = c·X̃ᵀSX̃/ΣS + diag(λ)`` approximates the Hessian at the start (exactly at zero for the
    binomial model, c = 1/4); with ``P = LLᵀ`` each output row maps as ``w = L⁻ᵀ w̃``, so the
    Hessian in ``w̃`` is close to the identity and L-BFGS needs far fewer iterations on
    correlated features. Costs one pass forming the ``(d+1)²`` Gram matrix, so it is used only
    for narrow problems (see :func:`precondition`).
    """

    def __init__(self, objective: Objective, factor: Tensor):
        self.objective = objective
        self.factor = factor  # lower-triangular L

    def to_original(self, coef_w: Tensor) -> Tensor:
        # w_k = L⁻ᵀ w̃_k for every output row: solve Lᵀ W.T = W̃.T
        return torch.linalg.solve_triangular(self.factor.T, coef_w.T, upper=True).T

    def to_standardised(self, coef: Tensor) -> Tensor:
        return coef @ self.factor

    def gradient_to_standardised(self, grad: Tensor) -> Tensor:
        # ∂F/∂w̃_k = L⁻¹ ∂F/∂w_k
        return torch.linalg.solve_triangular(self.factor, grad.T, upper=False).T

    def value_grad(self, coef_w: Tensor) -> tuple[float, Tensor, Tensor]:
        f, grad = self.objective.value_grad(self.to_original(coef_w))
        return f, self.gradient_to_standardised(grad), grad


# whitening pays for its Gram pass while (d+1) <= this many times the number of output rows
_WHITEN_MAX_COLUMNS_PER_OUTPUT = 20


def precondition(objective: Objective) -> StandardisedCoordinates | WhitenedCoordinates:
    """Coordinates for first-order solvers: whitened when narrow enough, else standardised.

    Raises
    ------
    ValueError
        (:class:`~torchlogit.core.objective.FeatureScaleError`) naming the feature columns whose
        values are too large for the objective's dtype.
    """
    n_outputs, n_cols = objective.coef_shape
    if n_cols > _WHITEN_MAX_COLUMNS_PER_OUTPUT * n_outputs:
        return StandardisedCoordinates(objective)
    gram = None
    for X, _, w in objective.stored_chunks():
        part = _weighted_gram(X.to(torch.float64), w.to(torch.float64), objective.fit_intercept)
        gram = part if gram is None else gram + part
    gram = all_reduce_sum(gram) / objective.weight_sum
    if not bool(torch.isfinite(gram).all()):  # a column's Σ sᵢxᵢⱼ² overflowed: name it
        bad = ~torch.isfinite(gram.diagonal())
        raise objective.scale_error(bad if bool(bad.any()) else ~torch.isfinite(gram).all(1))
    curvature = 0.25 if n_outputs == 1 else 1.0 / n_outputs
    precond = curvature * gram
    if objective.l2 is not None:
        precond = precond + torch.diag(objective.l2.strength.to(torch.float64))
    factor, info = torch.linalg.cholesky_ex(precond)
    if int(info) != 0:  # collinear or constant columns: fall back to the diagonal version
        return StandardisedCoordinates(objective)
    return WhitenedCoordinates(objective, factor.to(objective.dtype))
