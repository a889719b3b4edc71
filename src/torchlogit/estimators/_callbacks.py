"""scikit-learn 1.9's callbacks (``set_callbacks``, :mod:`sklearn.callback`) on torchlogit's fits.

A fit is one task of the callbacks' task tree, with one subtask per solver iteration, laid out as
scikit-learn 1.9's ``LogisticRegression`` lays out its 'lbfgs' iterations: subtask k begins with
the coefficients after k iterations and ends with those after k + 1 (as ``fitted_estimator``,
the model a fit with ``max_iter=k + 1`` returns), and a last, empty subtask closes the list. A
fit without any iteration still has one iteration subtask (scikit-learn's L-BFGS always takes a
step), which ends at the fit's coefficients. When a callback's ``on_fit_task_end`` returns True
for an iteration, the solver stops there: the callbacks' documented early stop, which
scikit-learn 1.9 leaves to a later release for its own solver.

The solvers hand over each iterate through their iterate hook
(:data:`torchlogit.solvers._result.IterateHook`); the estimator maps it to ``coef_`` and
``intercept_`` with the same function that stores the fit.

Without :mod:`sklearn.callback` (scikit-learn < 1.9) there is no ``set_callbacks``, as there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from torch import Tensor

try:
    from sklearn.callback import CallbackSupportMixin, with_callbacks
except ImportError:  # scikit-learn < 1.9: no callback API

    class CallbackSupportMixin:  # type: ignore[no-redef]
        """Stand-in for scikit-learn 1.9's mixin: no ``set_callbacks``."""

    def with_callbacks(method: Callable) -> Callable:  # type: ignore[no-redef]
        """Stand-in for scikit-learn 1.9's decorator: the method itself."""
        return method


# (coef, the solvers' matrix) -> (coef_, intercept_)
ToPublic = Callable[[Tensor], tuple[np.ndarray, np.ndarray]]


class FitTasks:
    """One fit's tasks for scikit-learn's callbacks: the fit task, one subtask per iteration.

    Created by :meth:`begin` (None where no callback can observe the fit); :meth:`iterations`
    gives the solver's iterate hook, :meth:`end_iterations` closes the subtasks after the
    solver, :meth:`end` the fit task once ``coef_`` is stored.
    """

    def __init__(self, estimator: Any, context: Any, data: dict[str, Any], to_public: ToPublic):
        self._estimator = estimator
        self._context = context
        self._data = data  # X, y and metadata, handed to every hook
        self._to_public = to_public
        self._iteration: Any = None  # the open iteration subtask's context
        self._task_name = "iter"
        self._n_reported = 0

    @classmethod
    def begin(
        cls, estimator: Any, X: Any, y: Any, sample_weight: Any, to_public: ToPublic,
    ) -> FitTasks | None:
        """The fit task, begun (``on_fit_task_begin``), or None without callbacks on the estimator
        or a meta-estimator's task above it. Its subtasks are at most those of scikit-learn's
        'lbfgs': ``max(max_iter, 1) + 1``."""
        if not (hasattr(estimator, "_skl_callbacks") or hasattr(estimator, "_parent_callback_ctx")):
            return None
        context = estimator._init_callback_context(max_subtasks=max(estimator.max_iter, 1) + 1)
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        data = {"X": X, "y": y, "metadata": metadata}
        context.call_on_fit_task_begin(estimator=estimator, **data)
        return cls(estimator, context, data, to_public)

    def iterations(self, coef0: Tensor, solver: str) -> Callable[[int, Tensor], bool]:
        """Begin the first iteration subtask at ``coef0``; returns the solver's iterate hook.

        The subtasks are named ``"<solver>-iter"`` (scikit-learn's are ``"lbfgs-iter"``)."""
        self._task_name = f"{solver}-iter"
        self._iteration = self._begin_iteration(coef0)
        return self._on_iterate

    def end_iterations(self, coef: Tensor) -> None:
        """After the solver (``coef``: its result): at least one iteration subtask, then the
        empty last one."""
        if self._n_reported == 0 and self._iteration is not None:
            self._on_iterate(0, coef)
        if self._iteration is not None:
            self._iteration.call_on_fit_task_end(estimator=self._estimator)
            self._iteration = None

    def end(self) -> None:
        """End the fit task (``fitted_estimator``: the fitted estimator)."""
        self._context.call_on_fit_task_end(estimator=self._estimator, **self._data,
                                           reconstruction_attributes={})

    def _on_iterate(self, iteration: int, coef: Tensor) -> bool:
        """The iterate hook: end the open subtask at ``coef``, begin the next there unless a callback
        asked to stop (then the solver stops: the return value)."""
        stop = self._iteration.call_on_fit_task_end(estimator=self._estimator, **self._data,
                                                    reconstruction_attributes=self._attributes(coef))
        self._n_reported += 1
        self._iteration = None if stop else self._begin_iteration(coef)
        return stop

    def _begin_iteration(self, coef: Tensor) -> Any:
        iteration = self._context.subcontext(task_name=self._task_name)
        iteration.call_on_fit_task_begin(estimator=self._estimator, **self._data,
                                         reconstruction_attributes=self._attributes(coef))
        return iteration

    def _attributes(self, coef: Tensor) -> Callable[[], dict[str, np.ndarray]]:
        """``coef_`` and ``intercept_`` at ``coef``, formed only if a callback asks for a
        ``fitted_estimator``."""

        def attributes() -> dict[str, np.ndarray]:
            coef_, intercept_ = self._to_public(coef)
            return {"coef_": coef_, "intercept_": intercept_}

        return attributes
