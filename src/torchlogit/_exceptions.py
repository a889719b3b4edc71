"""Warnings and errors torchlogit raises."""

from __future__ import annotations

from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning


class ConvergenceWarning(_SklearnConvergenceWarning):
    """A solver stopped before ``max |∇F| <= tol``; the message says how far it got and what to do."""


class PerfectSeparationWarning(UserWarning):
    """Unpenalised fit on separated classes: the maximum-likelihood estimate does not exist."""


class ModelFileError(ValueError):
    """A model file is missing, corrupt, or not a torchlogit model."""


class ModelFileWarning(UserWarning):
    """A model file loaded but could not be fully verified.

    Files written before model files carried a checksum of their contents load with this warning:
    damage to their coefficients or metadata would go unnoticed. Saving the model again adds one.
    """
