"""Warnings and errors torchlogit raises."""

from __future__ import annotations

from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning


class ConvergenceWarning(_SklearnConvergenceWarning):
    """A solver stopped before ``max |∇F| <= tol``; the message says how far it got and what to do."""


class PerfectSeparationWarning(UserWarning):
    """Unpenalised fit on separated classes: the maximum-likelihood estimate does not exist."""


class ModelFileError(ValueError):
    """A model file is missing, corrupt, or not a torchlogit model."""
