"""Covariance matrices of the coefficients: the information's inverse and the sandwiches.

``nonrobust`` is ``I⁻¹``; ``HC0`` the sandwich ``I⁻¹ (Σ sᵢ gᵢgᵢᵀ) I⁻¹``; ``HC1`` HC0 × n/(n − k)
(as R's sandwich and Stata); ``HC1-statsmodels`` HC0 under statsmodels' name (its discrete models
apply no factor for ``cov_type='HC1'``); ``HC2``/``HC3`` divide every squared score by
``(1 − hᵢ)``/``(1 − hᵢ)²`` (R's ``sandwich::vcovHC``); ``cluster`` sums the scores within clusters
first (CRV1, one or two ways, with R's ``vcovCL(type="HC1")`` / Stata's small-sample factors).
The definitions and their sources: :mod:`torchlogit.inference.results`.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np

CovType = Literal["nonrobust", "HC0", "HC1", "HC1-statsmodels", "HC2", "HC3", "cluster"]
_COV_TYPES = {"nonrobust": "nonrobust", "classical": "nonrobust", "hc0": "HC0", "robust": "HC0",
              "hc1": "HC1", "hc1-statsmodels": "HC1-statsmodels", "hc2": "HC2", "hc3": "HC3",
              "cluster": "cluster"}
# the meat each covariance needs from the data pass: the scores' outer products, or cluster sums
MEAT = {"HC0": "hc", "HC1": "hc", "HC1-statsmodels": "hc", "cluster": "cluster"}
# the power of (1 − h) dividing the squared scores (a second pass over the rows for the hat values)
LEVERAGE_POWER = {"HC2": 1, "HC3": 2}
# a (scaled) information eigenvalue below this fraction of the largest counts as a lost rank
_RANK_RTOL = 1e-11


def resolve_cov_type(cov_type: str) -> str:
    """Normalise a covariance name ('nonrobust', 'HC0'/'robust', 'HC1', 'HC1-statsmodels', 'HC2',
    'HC3', 'cluster'), case-insensitively; anything else is a ValueError listing them."""
    key = str(cov_type).lower()
    if key not in _COV_TYPES:
        raise ValueError(f"cov_type must be one of 'nonrobust', 'HC0' ('robust'), 'HC1', 'HC1-statsmodels', "
                         f"'HC2', 'HC3', 'cluster'; got {cov_type!r}")
    return _COV_TYPES[key]


def design_rank(block: np.ndarray) -> int:
    """Rank of X̃ from one positive-weighted Gram block ``X̃ᵀ diag(h) X̃`` (h > 0)."""
    diag = np.diag(block).copy()
    keep = diag > 0
    if not keep.any():
        return 0
    scale = 1 / np.sqrt(diag[keep])
    evals = np.linalg.eigvalsh(block[np.ix_(keep, keep)] * scale[:, None] * scale[None, :])
    return int((evals > _RANK_RTOL * evals.max()).sum())


def invert_information(info: np.ndarray, full_rank: bool) -> np.ndarray:
    """``I⁻¹`` (Cholesky-based), or the pseudo-inverse with a warning when X̃ is rank deficient."""
    if full_rank:
        try:
            from scipy.linalg import cho_factor, cho_solve

            return cho_solve(cho_factor(info), np.eye(len(info)))
        except np.linalg.LinAlgError:
            pass
    warnings.warn(
        "The information matrix is singular (collinear columns, or a class never observed): "
        "standard errors use its pseudo-inverse and are not meaningful for the aliased parameters.",
        UserWarning, stacklevel=4,
    )
    return np.linalg.pinv(info, hermitian=True)


def sandwich(bread: np.ndarray, meat: np.ndarray | None, cov_type: str, nobs: float) -> np.ndarray:
    """The covariance of ``cov_type`` from ``bread = I⁻¹`` and the meat.

    The meat is ``Σ sᵢ gᵢgᵢᵀ`` (HC0, HC1, HC1-statsmodels), the leverage-weighted one (HC2, HC3)
    or, for ``cluster``, the clusters' sums already multiplied by their ``G/(G − 1)``
    (:func:`torchlogit.inference.sums.inference_sums`); here only the factor over ``nobs`` is
    applied: ``n/(n − k)`` for HC1, ``(n − 1)/(n − k)`` for cluster (CRV1), none otherwise.
    """
    if cov_type == "nonrobust":
        return bread
    cov = bread @ meat @ bread
    k = bread.shape[0]
    if cov_type == "HC1":
        cov *= nobs / (nobs - k)
    elif cov_type == "cluster":
        cov *= (nobs - 1.0) / (nobs - k)
    return 0.5 * (cov + cov.T)


def null_loglik(class_weights: np.ndarray) -> float:
    """Log-likelihood of the intercept-only model, ``Σ_k S_k log(S_k / S)`` (closed form)."""
    total = class_weights.sum()
    seen = class_weights[class_weights > 0]
    return float(np.sum(seen * np.log(seen / total)))
