"""Warnings and errors torchlogit raises.

``ConvergenceWarning`` derives from scikit-learn's, so code that filters scikit-learn's warning
also filters ours. It is created on first use (PEP 562 module ``__getattr__``): importing
scikit-learn takes seconds, and the CLI imports this module before it knows whether it will fit.
"""

from __future__ import annotations

from typing import Any


def _convergence_warning() -> type[Warning]:
    from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning

    class ConvergenceWarning(SklearnConvergenceWarning):
        """A solver stopped before ``max |∇F| <= tol``; the message says how far it got and what to do."""

    ConvergenceWarning.__module__ = __name__
    ConvergenceWarning.__qualname__ = "ConvergenceWarning"
    return ConvergenceWarning


def __getattr__(name: str) -> Any:
    if name == "ConvergenceWarning":
        globals()[name] = _convergence_warning()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class PerfectSeparationWarning(UserWarning):
    """Unpenalised fit on separated classes: the maximum-likelihood estimate does not exist."""


class ModelFileError(ValueError):
    """A model file is missing, corrupt, or not a torchlogit model."""


class ModelFileWarning(UserWarning):
    """A model file loaded but could not be fully verified.

    Files written before model files carried a checksum of their contents load with this warning:
    damage to their coefficients or metadata would go unnoticed. Saving the model again adds one.
    """
