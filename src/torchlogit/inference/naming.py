"""Feature names: one convention for every summary table, warning and export.

A feature is named after the estimator's ``feature_names_in_`` (fitted on a DataFrame), else
``x1 .. xd``, 1-based, as statsmodels names the columns after ``sm.add_constant``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def feature_names(estimator: Any, n_features: int, xname: Sequence[str] | None = None) -> list[str]:
    """The names of the ``n_features`` columns: ``xname`` when given, else the estimator's, else x1..xd.

    Raises
    ------
    ValueError
        When ``xname`` does not hold exactly one name per feature.
    """
    if xname is not None:
        if len(xname) != n_features:
            raise ValueError(f"xname has {len(xname)} names for {n_features} features")
        return [str(n) for n in xname]
    names = getattr(estimator, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else [f"x{j + 1}" for j in range(n_features)]


def names_given(estimator: Any, xname: Sequence[str] | None = None) -> bool:
    """Whether the features have names of their own (``xname=`` or ``feature_names_in_``).

    Results then return pandas objects indexed by name (as statsmodels with a DataFrame), and
    plain numpy arrays otherwise (as statsmodels with arrays).
    """
    return xname is not None or getattr(estimator, "feature_names_in_", None) is not None
