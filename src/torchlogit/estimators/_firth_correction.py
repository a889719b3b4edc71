"""FLIC and FLAC: Firth's slopes with an intercept that makes the predicted probabilities unbiased.

Firth's penalty pulls predicted probabilities towards ½, so their mean exceeds the event rate
when events are rare. Puhr, Heinze, Nold, Lusa & Geroldinger (2017, Stat Med 36:2302), as R's
logistf ``flic()`` / ``flac()``:

* **FLIC** keeps Firth's slopes and refits the intercept by maximum likelihood with Firth's
  linear predictor without intercept, ``η̃ᵢ = xᵢᵀβ̂``, as offset: ``Σ sᵢ(yᵢ − σ(β₀ + η̃ᵢ)) = 0``,
  so the weighted mean predicted probability equals the event rate. The intercept's standard
  error is logistf's: ``√[(X̃ᵀŴX̃)⁻¹]₀₀`` with ``Ŵ = diag(sᵢp̂ᵢ(1 − p̂ᵢ))`` at FLIC's probabilities
  (it allows for the slopes' uncertainty); its test and interval are Wald ones.
* **FLAC** augments the data with two pseudo-copies of every row, one with ``y = 1`` and one with
  ``y = 0``, each weighted ``hᵢ/2`` (``h`` the hat values of the Firth fit), adds an indicator
  ``g`` of the pseudo rows, and fits plain maximum likelihood on the augmented data; the
  coefficients without ``g``'s are FLAC's, and so is its inference (ML standard errors, profile
  likelihood intervals and likelihood-ratio tests on the augmented data, as logistf's ``flac``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import expit, log_expit

from torchlogit.estimators._firth_problem import FirthProblem, FirthSettings

_MAX_NEWTON = 100


def flic_intercept(offset: np.ndarray, y: np.ndarray, weights: np.ndarray, start: float) -> float:
    """The ML intercept with ``offset`` fixed: Newton with step halving on the (concave) log-likelihood.

    ``y`` is 0/1 and both classes carry weight, so the maximiser is finite.
    """
    def loglik(b0: float) -> float:
        eta = b0 + offset
        return float(np.dot(weights, y * log_expit(eta) + (1 - y) * log_expit(-eta)))

    b0, value = float(start), loglik(start)
    for _ in range(_MAX_NEWTON):
        p = expit(b0 + offset)
        score, curvature = float(np.dot(weights, y - p)), float(np.dot(weights, p * (1 - p)))
        if abs(score) <= 1e-12 * max(1.0, float(weights.sum())) or curvature <= 0:
            break
        step, new = score / curvature, -math.inf
        while b0 + step != b0:
            new = loglik(b0 + step)
            if new >= value:
                break
            step /= 2
        if not new >= value or b0 + step == b0:  # no ascent left: the maximum to rounding level
            break
        b0, value = b0 + step, new
    return b0


def flic_intercept_variance(X: np.ndarray, weights: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """``(X̃ᵀŴX̃)⁻¹`` at FLIC's probabilities (intercept last), whose intercept row logistf reports."""
    X1 = np.column_stack([X, np.ones(len(X))])
    p = expit(X1 @ coef)
    info = X1.T @ (X1 * (weights * p * (1 - p))[:, None])
    try:
        return np.linalg.inv(info)
    except np.linalg.LinAlgError as exc:
        raise ValueError(f"FLIC: the Fisher information at the corrected coefficients is singular "
                         f"({exc})") from exc


def flac_data(X: np.ndarray, y: np.ndarray, weights: np.ndarray, hat: np.ndarray,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FLAC's augmented data: the rows, then two pseudo-copies (y = 1, y = 0) weighted ``h/2``.

    The returned design has the pseudo-row indicator ``g`` as its last column.
    """
    n = len(y)
    Xa = np.vstack([X, X, X])
    g = np.r_[np.zeros(n), np.ones(2 * n)]
    ya = np.r_[y, np.ones(n), np.zeros(n)]
    wa = np.r_[weights, hat / 2, hat / 2]
    return np.column_stack([Xa, g]), ya, wa


def flac_problem(X: np.ndarray, y: np.ndarray, weights: np.ndarray, hat: np.ndarray, *,
                 device: torch.device, settings: FirthSettings) -> FirthProblem:
    """The unpenalised (τ = 0) problem on FLAC's augmented data; coefficients ``(x…, g, intercept)``."""
    Xa, ya, wa = flac_data(X, y, weights, hat)
    return FirthProblem(Xa, ya, wa, fit_intercept=True, device=device, settings=settings, penalty=0.0)


def flac_fit(problem: FirthProblem, firth_beta: torch.Tensor) -> torch.Tensor:
    """FLAC's ML fit on the augmented data, started from Firth's coefficients (``g`` at 0)."""
    d = problem.n_params - 2
    start = torch.cat([firth_beta[:d], firth_beta.new_zeros(1), firth_beta[d:]])
    result = problem.fit(start)
    beta = result.point.beta
    if not (result.converged and bool(torch.isfinite(beta).all()) and math.isfinite(result.point.pen)):
        raise ValueError("FLAC's maximum-likelihood fit on the augmented data did not converge")
    return beta


def without_indicator(values: np.ndarray, d: int) -> np.ndarray:
    """Drop the pseudo-row indicator (internal index ``d``): a vector's entry, a matrix's row and column."""
    keep = np.r_[0:d, d + 1 : values.shape[0]]
    return values[np.ix_(keep, keep)] if values.ndim == 2 else values[keep]
