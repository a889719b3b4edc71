"""Solvers: plain functions ``solver(objective, coef0, *, tol, max_iter, ...) -> SolverResult``.

They never see ``C``, labels or the estimator; the estimator translates user parameters.
"""

from torchlogit.solvers._result import SolverResult
from torchlogit.solvers.lbfgs import lbfgs
from torchlogit.solvers.newton import newton
from torchlogit.solvers.newton_cg import newton_cg
from torchlogit.solvers.prox_newton import prox_newton
from torchlogit.solvers.stochastic import SnapshotHooks, StochasticOptions, stochastic

__all__ = [
    "SnapshotHooks", "SolverResult", "StochasticOptions", "lbfgs", "newton", "newton_cg", "prox_newton",
    "stochastic",
]
