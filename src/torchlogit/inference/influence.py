"""Regression diagnostics of an unpenalised binomial fit: leverage, residuals, Cook's distance, DFBETAS.

``LogitResults.get_influence()`` returns a :class:`LogitInfluence`, named after statsmodels'
``GLMInfluence``; every measure is computed in one pass over row blocks
(:func:`torchlogit.inference.sums.binomial_rows`), so memory is ``n × (n_params + 7)`` floats for
the outputs and one block for the work: no n × n hat matrix, also for a million rows.

Definitions (``pᵢ`` fitted, ``sᵢ`` the weight, ``I`` the information, ``k`` the parameters)
--------------------------------------------------------------------------------------------
Weights are R's *prior* weights here (a row with ``sᵢ = 3`` is one case carrying three
observations, dropped as a whole), as ``glm(..., weights=s)``; unweighted, both conventions agree.

* ``hat_matrix_diag``: ``hᵢ = sᵢ pᵢ(1 − pᵢ) x̃ᵢᵀ I⁻¹ x̃ᵢ`` (R's ``hatvalues``, statsmodels).
* ``resid_pearson``: ``√sᵢ (yᵢ − pᵢ) / √(pᵢ(1 − pᵢ))`` (R's ``residuals(type="pearson")``).
* ``resid_deviance``: ``sign(yᵢ − pᵢ) √(2 sᵢ ℓᵢ)``, ``ℓᵢ`` the row's negative log-likelihood, from
  log-sigmoids (R's ``residuals(type="deviance")``).
* ``resid_studentized``: ``r_Pᵢ / √(1 − hᵢ)`` (statsmodels; R's ``rstandard(type="pearson")``).
* ``resid_studentized_deviance``: ``r_Dᵢ / √(1 − hᵢ)`` (R's ``rstandard``, its default).
* ``resid_likelihood``: ``sign(r_D) √(r_D² + hᵢ r_P² / (1 − hᵢ))``, Williams' likelihood residual
  (R's ``rstudent`` for a binomial glm).
* ``cooks_distance``: ``r_Pᵢ² hᵢ / (k (1 − hᵢ)²)`` (R's ``cooks.distance``; statsmodels returns
  the same numbers as the first element of a (distance, p-value) pair, here the array alone).
* ``d_params``: the one-step (Pregibon) change ``β̂ − β̂₍₋ᵢ₎ = I⁻¹ x̃ᵢ sᵢ (yᵢ − pᵢ) / (1 − hᵢ)``,
  statsmodels' ``d_params``, columns in the displayed order (``const`` first). R's ``dfbeta``
  puts the deviance residual in place of the Pearson one (``lm.influence`` reads
  ``weighted.residuals``): it equals ``d_params · r_Dᵢ / r_Pᵢ``.
* ``dfbetas``: ``d_params`` over the standard errors ``√diag(I⁻¹)`` (statsmodels). R's
  ``dfbetas`` is its ``dfbeta`` over ``σ₍₋ᵢ₎ √diag(I⁻¹)``, with a leave-one-out "sigma" from the
  deviance residuals that has no meaning for a binomial model (dispersion 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.nn import functional as F

from torchlogit.inference.sums import FitData, binomial_rows


class LogitInfluence:
    """Influence and outlier measures of every row of a binomial fit (see the module for definitions).

    Attributes
    ----------
    hat_matrix_diag, cooks_distance, resid_pearson, resid_deviance, resid_studentized,
    resid_studentized_deviance, resid_likelihood : (n,) float64
    d_params, dfbetas : (n, k), one column per parameter (``exog_names``)
    """

    def __init__(self, data: FitData, exog_names: Sequence[str]):
        self.exog_names = list(exog_names)
        columns = _row_measures(data)
        self.hat_matrix_diag = columns["hat"]
        self.resid_pearson = columns["pearson"]
        self.resid_deviance = columns["deviance"]
        self.d_params = columns["d_params"][:, data.order]
        k = self.d_params.shape[1]
        one_minus = 1.0 - self.hat_matrix_diag
        with np.errstate(divide="ignore", invalid="ignore"):
            self.resid_studentized = self.resid_pearson / np.sqrt(one_minus)
            self.resid_studentized_deviance = self.resid_deviance / np.sqrt(one_minus)
            self.cooks_distance = self.resid_pearson ** 2 * self.hat_matrix_diag / (k * one_minus ** 2)
            self.resid_likelihood = np.sign(self.resid_deviance) * np.sqrt(
                self.resid_deviance ** 2 + self.hat_matrix_diag * self.resid_pearson ** 2 / one_minus)
            self.dffits_internal = self.resid_studentized * np.sqrt(self.hat_matrix_diag / one_minus)
        se = np.sqrt(np.diag(data.bread))[data.order]
        self.dfbetas = self.d_params / se

    def summary_frame(self):
        """A pandas DataFrame of the measures, one row per observation (statsmodels' columns).

        Columns: ``dfb_<name>`` for every parameter, ``cooks_d``, ``standard_resid``
        (``resid_studentized``), ``hat_diag`` and ``dffits_internal``
        (``resid_studentized · √(h / (1 − h))``).
        """
        import pandas as pd

        frame = pd.DataFrame(self.dfbetas, columns=[f"dfb_{name}" for name in self.exog_names])
        frame["cooks_d"] = self.cooks_distance
        frame["standard_resid"] = self.resid_studentized
        frame["hat_diag"] = self.hat_matrix_diag
        frame["dffits_internal"] = self.dffits_internal
        return frame

    def __repr__(self) -> str:
        return f"<LogitInfluence: {len(self.hat_matrix_diag)} rows, {len(self.exog_names)} parameters>"


def _row_measures(data: FitData) -> dict[str, np.ndarray]:
    """Hat values, Pearson and deviance residuals and the one-step coefficient changes, block by block."""
    n, k = data.X.shape[0], data.bread.shape[0]
    out = {"hat": np.empty(n), "pearson": np.empty(n), "deviance": np.empty(n), "d_params": np.empty((n, k))}
    for rows in binomial_rows(data.X, data.y_index, data.weights, data.theta, data.bread, data.layout):
        stop = rows.start + rows.Xt.shape[0]
        hat = rows.w * rows.leverage
        y = rows.resid + rows.p
        # the row's negative log-likelihood, −log σ(η) for y = 1 and −log σ(−η) for y = 0
        nll = -torch.where(y > 0.5, F.logsigmoid(rows.eta), F.logsigmoid(-rows.eta))
        pieces = {
            "hat": hat,
            "pearson": rows.w.sqrt() * rows.resid / (rows.p * (1 - rows.p)).sqrt(),
            "deviance": torch.sign(rows.resid) * (2 * rows.w * nll).sqrt(),
            "d_params": rows.XB * (rows.w * rows.resid / (1 - hat))[:, None],
        }
        for name, values in pieces.items():
            out[name][rows.start:stop] = values.cpu().numpy()
    return out
