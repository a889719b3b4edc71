"""torchlogit: logistic regression on PyTorch, from the tutorial's loop to exact, fast solvers."""

from torchlogit._exceptions import ConvergenceWarning, ModelFileError, PerfectSeparationWarning
from torchlogit.cv import LogisticRegressionCV
from torchlogit.estimator import LogisticRegression
from torchlogit.firth import FirthLogisticRegression
from torchlogit.inference import LogitResults, MarginalEffects
from torchlogit.model import LogisticModel
from torchlogit.path import RegularizationPath, path
from torchlogit.training import predict, predict_proba, train

__version__ = "0.1.0"

__all__ = [
    "ConvergenceWarning",
    "FirthLogisticRegression",
    "LogisticModel",
    "LogisticRegression",
    "LogisticRegressionCV",
    "LogitResults",
    "MarginalEffects",
    "ModelFileError",
    "PerfectSeparationWarning",
    "RegularizationPath",
    "__version__",
    "path",
    "predict",
    "predict_proba",
    "train",
]
