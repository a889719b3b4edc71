"""torchlogit: logistic regression on PyTorch, from the tutorial's loop to exact, fast solvers."""

from torchlogit._exceptions import (
    ConvergenceWarning,
    ModelFileError,
    ModelFileWarning,
    PerfectSeparationWarning,
)
from torchlogit._version import __version__
from torchlogit.core.model import LogisticModel
from torchlogit.estimators.cv import LogisticRegressionCV
from torchlogit.estimators.firth import FirthLogisticRegression
from torchlogit.estimators.logistic import LogisticRegression
from torchlogit.estimators.paths import RegularizationPath, path
from torchlogit.inference.results import LogitResults, MarginalEffects
from torchlogit.tutorial.training import predict, predict_proba, train

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
