"""Penalties as data: per-column strengths, not branches.

``strength[j]`` multiplies column ``j`` of ``coef`` (one entry per feature, plus a zero for the
intercept column when it is fitted), for every output row alike.
"""

from __future__ import annotations

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
        """Diagonal of the Hessian over ``coef.ravel()``."""
        return self.strength.repeat(n_outputs)


def column_strengths(
    alpha: float, n_features: int, fit_intercept: bool, penalty_factor: Tensor | None,
    *, dtype: torch.dtype, device: torch.device | str,
) -> Tensor:
    """Per-column strengths ``alpha · factor_j``, with an unpenalised intercept column appended."""
    factor = (
        torch.ones(n_features, dtype=dtype, device=device)
        if penalty_factor is None
        else penalty_factor.to(dtype=dtype, device=device)
    )
    strength = alpha * factor
    if fit_intercept:
        strength = torch.cat([strength, strength.new_zeros(1)])
    return strength
