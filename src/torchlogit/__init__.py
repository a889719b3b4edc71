"""torchlogit: logistic regression on PyTorch, from the tutorial's loop to exact, fast solvers.

The public names are imported on first use (PEP 562 module ``__getattr__``): torch and
scikit-learn take seconds to import, and ``torchlogit --help`` or a mistyped command line should
not wait for them. ``from torchlogit import LogisticRegression`` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from torchlogit._version import __version__

if TYPE_CHECKING:
    from torchlogit._exceptions import (
        ConvergenceWarning,
        ModelFileError,
        ModelFileWarning,
        PerfectSeparationWarning,
    )
    from torchlogit.core.model import LogisticModel
    from torchlogit.estimators.cv import LogisticRegressionCV
    from torchlogit.estimators.firth import FirthLogisticRegression
    from torchlogit.estimators.logistic import LogisticRegression
    from torchlogit.estimators.paths import RegularizationPath, path
    from torchlogit.inference.results import LogitResults, MarginalEffects
    from torchlogit.tutorial.training import predict, predict_proba, train

# public name -> the module that defines it
_HOMES = {
    "ConvergenceWarning": "torchlogit._exceptions",
    "ModelFileError": "torchlogit._exceptions",
    "ModelFileWarning": "torchlogit._exceptions",
    "PerfectSeparationWarning": "torchlogit._exceptions",
    "LogisticModel": "torchlogit.core.model",
    "LogisticRegressionCV": "torchlogit.estimators.cv",
    "FirthLogisticRegression": "torchlogit.estimators.firth",
    "LogisticRegression": "torchlogit.estimators.logistic",
    "RegularizationPath": "torchlogit.estimators.paths",
    "path": "torchlogit.estimators.paths",
    "LogitResults": "torchlogit.inference.results",
    "MarginalEffects": "torchlogit.inference.results",
    "predict": "torchlogit.tutorial.training",
    "predict_proba": "torchlogit.tutorial.training",
    "train": "torchlogit.tutorial.training",
}

__all__ = [
    "ConvergenceWarning",
    "FirthLogisticRegression",
    "LogisticModel",
    "LogisticRegression",
    "LogisticRegressionCV",
    "LogitResults",
    "MarginalEffects",
    "ModelFileError",
    "ModelFileWarning",
    "PerfectSeparationWarning",
    "RegularizationPath",
    "__version__",
    "path",
    "predict",
    "predict_proba",
    "train",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access and cache the name here."""
    if name not in _HOMES:
        raise AttributeError(f"module 'torchlogit' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
