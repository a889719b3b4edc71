"""Penalties as data: per-column strengths, not branches.

``strength[j]`` multiplies column ``j`` of ``coef`` (one entry per feature, plus a zero for the
intercept column when it is fitted), for every output row alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class L2Penalty:
    """½ Σ_k Σ_j strength_j · W_kj², the smooth ridge term of the objective."""

    strength: Tensor  # shape (n_columns,)

    def value(self, coef: Tensor) -> Tensor:
        return 0.5 * torch.sum(self.strength * coef * coef)

    def grad(self, coef: Tensor) -> Tensor:
        return self.strength * coef

    def hess_diag(self, n_outputs: int) -> Tensor:
        """Diagonal of the Hessian over ``coef.ravel()`` (``strength`` itself for one output row)."""
        return self.strength if n_outputs == 1 else self.strength.repeat(n_outputs)


def column_strengths(
    alpha: float, n_features: int, fit_intercept: bool, penalty_factor: Tensor | None,
    *, dtype: torch.dtype, device: torch.device | str,
) -> Tensor:
    """Per-column strengths ``alpha · factor_j``, with an unpenalised intercept column appended.

    Raises
    ------
    ValueError
        If ``alpha`` is not a finite non-negative number (``1/(C·Σsᵢ)`` overflows for a tiny C).
    """
    if not 0 <= alpha < math.inf:
        raise ValueError(f"the penalty strength must be a finite non-negative number, got {alpha!r}: C is "
                         "too small for these sample weights (the strength is 1/(C * sum of sample_weight))")
    factor = (
        torch.ones(n_features, dtype=dtype, device=device)
        if penalty_factor is None
        else penalty_factor.to(dtype=dtype, device=device)
    )
    strength = alpha * factor
    if fit_intercept:
        strength = torch.cat([strength, strength.new_zeros(1)])
    return strength


@dataclass(frozen=True)
class L1Penalty:
    """Σ_k Σ_j strength_j · |W_kj|, the non-smooth lasso term, elementwise on the coefficient matrix.

    For the multinomial model this is scikit-learn's (saga) convention: every class's coefficient
    is penalised on its own. Solvers use it through :meth:`prox` and :meth:`min_norm_subgradient`;
    it never enters :class:`~torchlogit.core.objective.Objective`, whose F stays smooth.
    """

    strength: Tensor  # shape (n_columns,)

    def value(self, coef: Tensor) -> Tensor:
        return torch.sum(self.strength * coef.abs())

    def prox(self, coef: Tensor, step: float) -> Tensor:
        """``argmin_V ½‖V − coef‖² + step · Σ strength_j |V_kj|``: soft thresholding."""
        threshold = step * self.strength
        return torch.sign(coef) * (coef.abs() - threshold).clamp_min(0)

    def min_norm_subgradient(self, coef: Tensor, smooth_grad: Tensor) -> Tensor:
        """The element of least magnitude in ``∇smooth + ∂(L1)`` at ``coef``, elementwise.

        Zero everywhere exactly at the optimum (the KKT conditions); its largest magnitude is
        what ``tol`` bounds for the proximal solvers.
        """
        lam = self.strength.expand_as(coef)
        at_zero = (smooth_grad.abs() - lam).clamp_min(0) * torch.sign(smooth_grad)
        return torch.where(coef != 0, smooth_grad + lam * torch.sign(coef), at_zero)


def elastic_net(
    alpha: float, l1_ratio: float, n_features: int, fit_intercept: bool,
    penalty_factor: Tensor | None, *, dtype: torch.dtype, device: torch.device | str,
) -> tuple[L2Penalty | None, L1Penalty | None]:
    """Split ``alpha · factor_j · (l1_ratio·|w| + (1 − l1_ratio)·w²/2)`` into its two terms.

    ``alpha = 1/(C·Σsᵢ)`` gives scikit-learn's ``C·Σ sᵢℓᵢ + (1−r)/2‖W‖² + r‖W‖₁`` (divided by
    ``C·Σsᵢ``) and glum's ``alpha``. A term whose weight is zero is returned as ``None``.
    """
    base = column_strengths(alpha, n_features, fit_intercept, penalty_factor, dtype=dtype, device=device)
    l2 = L2Penalty((1.0 - l1_ratio) * base) if l1_ratio < 1 else None
    l1 = L1Penalty(l1_ratio * base) if l1_ratio > 0 else None
    return l2, l1
