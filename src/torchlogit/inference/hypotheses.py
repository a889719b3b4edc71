"""Hypothesis tests and predictions on fitted results: Wald and z tests of linear restrictions,
nested-model likelihood-ratio tests and predictions with standard errors (statsmodels' names).

Restrictions ``R θ = q`` are over the flat parameters in the displayed order (equation by
equation, ``const`` first in each), the order of ``cov_params()``. They are given as a matrix
(one row per restriction), a ``(R, q)`` pair, or statsmodels-style text: ``"x1 = x2"``,
``"x1 = 0, x2 = 0"``, ``"2*x1 + x2 = 1"``, ``"(x1 + x2)/2 = x3"``; a restriction without ``=``
means ``= 0``. Multinomial parameters are named as statsmodels' ``MNLogit`` names them in
``wald_test``/``t_test``: ``y{class}_{term}``, e.g. ``"y1_x1 = y2_x1"`` (the letter ``y``, the
modelled class, an underscore, the term), whatever the dependent variable is called.

The text is read by a small parser of linear expressions in this module (numbers, parameter names,
``+ - * /`` and parentheses), so no formula package is needed; a name is matched against the
model's parameter names, longest first, so names holding spaces or symbols work as written
(but not ``=``, ``,`` or parentheses, which separate the text: use a matrix for such names).

Every statistic uses the results' own covariance (``cov_type``), with normal/χ² reference
distributions, as statsmodels' discrete models (``use_t=False``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from scipy import stats

from torchlogit.inference.prediction import PredictionResults, predict_linear
from torchlogit.inference.tables import Section, Table, table_text

__all__ = ["ContrastResults", "LRTestResult", "ResultsTestsMixin", "linear_restrictions", "lr_test"]


# ---------------------------------------------------------------------- restrictions from text
_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_OPERATORS = "+-*/()"
_NAME_CHAR = re.compile(r"[A-Za-z0-9_.]")


class _Linear(NamedTuple):
    """A linear form ``coef · θ + const`` over the parameters."""

    coef: np.ndarray
    const: float

    @property
    def is_constant(self) -> bool:
        return not np.any(self.coef)


def _name_at(text: str, pos: int, names: Sequence[str], by_length: Sequence[int]) -> int | None:
    """The index of the longest parameter name written at ``pos`` (not followed by a name character)."""
    for i in by_length:
        end = pos + len(names[i])
        if text.startswith(names[i], pos) and (end == len(text) or not _NAME_CHAR.match(text[end])):
            return i
    return None


def _tokens(text: str, names: Sequence[str], restriction: str) -> list[str | float | int]:
    """Numbers (float), parameter indices (int) and operators (str) of one side of ``restriction``."""
    by_length = sorted(range(len(names)), key=lambda i: -len(names[i]))
    out: list[str | float | int] = []
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        if text[pos] in _OPERATORS:
            out.append(text[pos])
            pos += 1
            continue
        name = _name_at(text, pos, names, by_length)
        if name is not None:
            out.append(name)
            pos += len(names[name])
            continue
        number = _NUMBER.match(text, pos)
        if number is None:
            word = _IDENTIFIER.match(text, pos)
            unknown = word.group() if word else text[pos:].split()[0]
            raise ValueError(f"unknown parameter name {unknown!r} in restriction {restriction!r}; "
                             f"the parameters are {list(names)}")
        out.append(float(number.group()))
        pos = number.end()
    return out


class _Parser:
    """Recursive descent over ``expr := term (±term)*``, ``term := unary (*|/ unary)*``,
    ``unary := ±unary | number | name | (expr)``, keeping every value linear in θ."""

    def __init__(self, tokens: list[str | float | int], n_params: int, text: str):
        self.tokens, self.pos, self.n, self.text = tokens, 0, n_params, text

    def _error(self, what: str) -> ValueError:
        return ValueError(f"cannot read restriction {self.text!r}: {what}")

    def _peek(self) -> str | float | int | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> str | float | int:
        token = self._peek()
        if token is None:
            raise self._error("it ends early")
        self.pos += 1
        return token

    def parse(self) -> _Linear:
        if not self.tokens:
            raise self._error("one side is empty")
        value = self.expr()
        if self._peek() is not None:
            raise self._error(f"unexpected {self._peek()!r}")
        return value

    def expr(self) -> _Linear:
        value = self.term()
        while self._peek() in ("+", "-"):
            sign = 1.0 if self._take() == "+" else -1.0
            other = self.term()
            value = _Linear(value.coef + sign * other.coef, value.const + sign * other.const)
        return value

    def term(self) -> _Linear:
        value = self.unary()
        while self._peek() in ("*", "/"):
            op, other = self._take(), self.unary()
            if op == "/":
                if not other.is_constant or other.const == 0:
                    raise self._error("division by a parameter or by zero")
                value = _Linear(value.coef / other.const, value.const / other.const)
            elif value.is_constant or other.is_constant:
                scale, form = (value.const, other) if value.is_constant else (other.const, value)
                value = _Linear(scale * form.coef, scale * form.const)
            else:
                raise self._error("a product of two parameters is not linear")
        return value

    def unary(self) -> _Linear:
        token = self._take()
        if token in ("+", "-"):
            inner = self.unary()
            return inner if token == "+" else _Linear(-inner.coef, -inner.const)
        if token == "(":
            inner = self.expr()
            if self._take() != ")":
                raise self._error("a parenthesis is not closed")
            return inner
        if isinstance(token, str):
            raise self._error(f"unexpected {token!r}")
        if isinstance(token, int):
            return _Linear(np.eye(self.n)[token], 0.0)
        return _Linear(np.zeros(self.n), token)


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _restriction_row(text: str, names: Sequence[str]) -> tuple[np.ndarray, float]:
    """One restriction ``lhs = rhs`` (or ``lhs``, meaning ``= 0``) as ``(row of R, q)``."""
    sides = text.split("=")
    if len(sides) > 2 or not text:
        raise ValueError(f"cannot read restriction {text!r}: it needs one '=' at most")
    lhs, rhs = (_Parser(_tokens(side, names, text), len(names), text).parse() for side in (*sides, "0")[:2])
    row = lhs.coef - rhs.coef
    if not np.any(row):
        raise ValueError(f"restriction {text!r} involves no parameter")
    return row, rhs.const - lhs.const


def linear_restrictions(r_matrix: Any, q: Any, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The restrictions ``R θ = q`` as a ``(m, p)`` matrix and an ``(m,)`` vector.

    Parameters
    ----------
    r_matrix : str, sequence of str, ``(R, q)`` tuple, or array of shape ``(m, p)`` or ``(p,)``
        the restrictions (see the module docstring for the text form)
    q : scalar or ``(m,)``, optional
        the right-hand side for a matrix (zero when omitted); text carries its own
    names : the ``p`` parameter names, in the flat order

    Raises
    ------
    ValueError
        A matrix with the wrong number of columns, a ``q`` of the wrong length, text that cannot
        be read or that names an unknown parameter.
    """
    if isinstance(r_matrix, tuple) and len(r_matrix) == 2 and q is None:
        r_matrix, q = r_matrix
    if isinstance(r_matrix, str) or (isinstance(r_matrix, Sequence) and r_matrix
                                     and all(isinstance(r, str) for r in r_matrix)):
        if q is not None:
            raise ValueError("q must be omitted when the restrictions are text (they carry their own)")
        texts = [r_matrix] if isinstance(r_matrix, str) else list(r_matrix)
        rows = [_restriction_row(part, names) for text in texts for part in _split_top_level(text)]
        return np.array([r for r, _ in rows]), np.array([c for _, c in rows])
    R = np.atleast_2d(np.asarray(r_matrix, dtype=np.float64))
    if R.ndim != 2 or R.shape[1] != len(names):
        raise ValueError(f"the restriction matrix has shape {np.shape(r_matrix)}; expected "
                         f"(m, {len(names)}): one column per parameter {list(names)}")
    q = np.zeros(R.shape[0]) if q is None else np.asarray(q, dtype=np.float64).ravel()
    if q.size == 1:
        q = np.full(R.shape[0], float(q[0]))
    if q.shape != (R.shape[0],):
        raise ValueError(f"q has {q.size} values for {R.shape[0]} restrictions")
    if not (np.all(np.isfinite(R)) and np.all(np.isfinite(q))):
        raise ValueError("the restriction matrix and q must be finite")
    return R, q


# ---------------------------------------------------------------------- test results
class ContrastResults:
    """The result of a Wald or z test of ``R θ = q``, named as statsmodels' ``ContrastResults``.

    Attributes
    ----------
    distribution : ``'chi2'`` (joint Wald test) or ``'norm'`` (one z test per restriction)
    statistic : the χ² statistic (float, or a ``(1, 1)`` array with ``scalar=False``), or the z values
    pvalue : its p-value (float), or one per restriction
    df_num : the number of restrictions
    df_denom : statsmodels' value: the number of restrictions for the χ² test, ``df_resid`` for z
    effect, sd : z tests only: ``R θ`` and its standard errors (``None`` for the χ² test)
    """

    def __init__(self, *, distribution: str, statistic: Any, df_num: int, df_denom: float,
                 effect: np.ndarray | None = None, sd: np.ndarray | None = None):
        self.distribution, self.statistic = distribution, statistic
        self.df_num, self.df_denom = df_num, df_denom
        self.effect, self.sd = effect, sd
        if distribution == "chi2":
            self.pvalue = float(stats.chi2.sf(np.squeeze(statistic), df_num))
        else:
            self.tvalue = statistic  # statsmodels' alias
            self.pvalue = 2 * stats.norm.sf(np.abs(statistic))
        self.c_names = None if effect is None else [f"c{i}" for i in range(len(effect))]

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        """``(m, 2)`` normal intervals around ``effect`` (z tests only, as statsmodels)."""
        if self.effect is None:
            raise ValueError("a joint Wald (chi2) test has no confidence interval; use t_test")
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        half = stats.norm.ppf(1 - alpha / 2) * self.sd
        return np.column_stack([self.effect - half, self.effect + half])

    def _names(self, xname: Sequence[str] | None) -> list[str]:
        names = list(self.c_names if xname is None else xname)
        if len(names) != len(self.c_names):
            raise ValueError(f"xname has {len(names)} names for {len(self.c_names)} restrictions")
        return names

    def summary(self, xname: Sequence[str] | None = None, alpha: float = 0.05) -> str:
        """The z tests as statsmodels' "Test for Constraints" table; the χ² test as one line."""
        if self.effect is None:
            return (f"<Wald test (chi2): statistic={float(np.squeeze(self.statistic))}, "
                    f"p-value={self.pvalue}, df_denom={self.df_denom:.3g}>")
        section = Section(None, tuple(self._names(xname)), self.effect, self.sd, self.statistic,
                          self.pvalue, self.conf_int(alpha))
        text = table_text(Table("Test for Constraints", (), (), (section,), alpha))
        lines = text.splitlines()
        return "\n".join(lines[:1] + lines[2:])  # no header pairs: one rule under the title

    def summary_frame(self, xname: Sequence[str] | None = None, alpha: float = 0.05):
        """The z tests as a pandas DataFrame with statsmodels' columns (index ``c0, c1, ..``)."""
        import pandas as pd

        if self.effect is None:
            raise ValueError("a joint Wald (chi2) test has no table; use t_test")
        ci = self.conf_int(alpha)
        return pd.DataFrame({"coef": self.effect, "std err": self.sd, "z": self.statistic,
                             "P>|z|": self.pvalue, "Conf. Int. Low": ci[:, 0], "Conf. Int. Upp.": ci[:, 1]},
                            index=self._names(xname))

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"<ContrastResults {self.distribution}: statistic={self.statistic!r}, pvalue={self.pvalue!r}>"


class LRTestResult(NamedTuple):
    """A likelihood-ratio test of nested models; unpacks as statsmodels' ``(lr_stat, p_value, df_diff)``."""

    statistic: float
    pvalue: float
    df_diff: float


# ---------------------------------------------------------------------- likelihood-ratio tests
def _check_nested(restricted: ResultsTestsMixin, full: ResultsTestsMixin) -> None:
    """ValueError unless ``restricted`` is ``full`` with terms removed, fitted by ML on the same rows."""
    for label, res in (("restricted", restricted), ("full", full)):
        if res.method != "MLE":
            raise ValueError(f"a likelihood-ratio test needs maximum-likelihood fits; the {label} model is "
                             f"{res.method!r}")
    same_classes = [str(c) for c in restricted.classes] == [str(c) for c in full.classes]
    if restricted.model != full.model or not same_classes:
        raise ValueError(f"the models differ in their classes ({list(restricted.classes)} against "
                         f"{list(full.classes)}): they were fitted on different labels")
    if not np.isclose(restricted.nobs, full.nobs, rtol=1e-12, atol=0):
        raise ValueError(f"the models were fitted on different rows: nobs {restricted.nobs} against "
                         f"{full.nobs}")
    if not np.isclose(restricted.llnull, full.llnull, rtol=1e-9, atol=0):
        raise ValueError(f"the models were fitted on different rows: their intercept-only log-likelihoods "
                         f"differ ({restricted.llnull!r} against {full.llnull!r}), so the labels or "
                         "weights differ")
    extra = [name for name in restricted.exog_names if name not in full.exog_names]
    if extra:
        raise ValueError(f"the models are not nested: the restricted model has terms {extra} that the full "
                         f"model {list(full.exog_names)} lacks")
    if full.df_model - restricted.df_model <= 0:
        raise ValueError("the restricted model has as many free parameters as the full one: nothing to test")


def lr_test(restricted: ResultsTestsMixin, full: ResultsTestsMixin) -> LRTestResult:
    """Likelihood-ratio test of a restricted model against the full model it is nested in.

    ``restricted`` and ``full`` are :class:`~torchlogit.inference.results.LogitResults` (their
    ``summary()``), e.g. ``lr_test(m0.summary(X[["x1"]], y), m1.summary(X, y))``.

    ``statistic = 2 (llf_full − llf_restricted)``, χ² on ``df_full − df_restricted`` degrees of
    freedom (``df_model``, the ranks of the designs), as R's ``anova(m0, m1, test="LRT")`` and
    statsmodels' ``compare_lr_test``. The likelihood does not depend on ``cov_type``.

    Raises
    ------
    ValueError
        A model that is not a maximum-likelihood fit (L2-penalised or Firth), models fitted on
        different labels, classes or numbers of rows (``nobs`` and the intercept-only
        log-likelihood ``llnull`` are compared: a cheap fingerprint of the labels and weights,
        which does not see the features), a restricted model with a term the full model lacks,
        or one with as many free parameters.
    """
    _check_nested(restricted, full)
    statistic = 2.0 * (full.llf - restricted.llf)
    df_diff = float(full.df_model - restricted.df_model)
    return LRTestResult(float(statistic), float(stats.chi2.sf(statistic, df_diff)), df_diff)


# ---------------------------------------------------------------------- the mixin
@dataclass(frozen=True)
class _Restricted:
    """``R θ − q`` and its covariance ``R Σ Rᵀ``."""

    R: np.ndarray
    difference: np.ndarray
    cov: np.ndarray


class ResultsTestsMixin:
    """Tests and predictions of :class:`~torchlogit.inference.results.LogitResults`.

    Reads only the results' flat parameters ``_flat``, their covariance ``_cov`` and the names.
    """

    _flat: np.ndarray
    _cov: np.ndarray
    exog_names: list[str]
    classes: np.ndarray
    k_eq: int
    model: str
    method: str
    nobs: float
    llf: float
    llnull: float
    df_model: float
    df_resid: float

    def _restriction_names(self) -> list[str]:
        """The flat parameter names restrictions use: the terms, or ``y{class}_{term}`` (multinomial)."""
        if self.k_eq == 1:
            return list(self.exog_names)
        return [f"y{c}_{term}" for c in self.classes[1:] for term in self.exog_names]

    def _restricted(self, r_matrix: Any, q: Any) -> _Restricted:
        R, q = linear_restrictions(r_matrix, q, self._restriction_names())
        return _Restricted(R, R @ self._flat - q, R @ self._cov @ R.T)

    def t_test(self, r_matrix: Any, q: Any = None) -> ContrastResults:
        """One z test per restriction ``(R θ)_i = q_i`` (statsmodels' ``t_test`` with ``use_t=False``).

        ``r_matrix`` as in :func:`linear_restrictions`. ``summary()``/``summary_frame()`` show
        ``R θ`` with its standard error, z, p-value and interval; ``conf_int(alpha)`` the intervals.
        """
        r = self._restricted(r_matrix, q)
        sd = np.sqrt(np.clip(np.diag(r.cov), 0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            z = r.difference / sd
        return ContrastResults(distribution="norm", statistic=z, df_num=len(z), df_denom=self.df_resid,
                               effect=r.R @ self._flat, sd=sd)

    def wald_test(self, r_matrix: Any, q: Any = None, scalar: bool = True) -> ContrastResults:
        """Joint Wald χ² test of ``R θ = q``: ``(Rθ − q)ᵀ (R Σ Rᵀ)⁻¹ (Rθ − q)`` on ``m`` degrees of freedom.

        As statsmodels' ``wald_test(..., scalar=True)`` on a discrete model; ``scalar=False``
        gives the statistic as a ``(1, 1)`` array, as statsmodels does.

        Raises
        ------
        ValueError
            Restrictions that cannot be read (see :func:`linear_restrictions`), or that are
            linearly dependent under the covariance (``R Σ Rᵀ`` singular): drop the redundant ones.
        """
        r = self._restricted(r_matrix, q)
        m = r.R.shape[0]
        rank = np.linalg.matrix_rank(r.cov)
        if rank < m:
            raise ValueError(f"the {m} restrictions are linearly dependent under the covariance "
                             f"(rank {rank}): drop the redundant ones")
        statistic = float(r.difference @ np.linalg.solve(r.cov, r.difference))
        return ContrastResults(distribution="chi2", df_num=m, df_denom=m,
                               statistic=statistic if scalar else np.array([[statistic]]))

    def compare_lr_test(self, restricted: ResultsTestsMixin) -> LRTestResult:
        """Likelihood-ratio test of ``restricted`` against these results (statsmodels' name).

        See :func:`lr_test`; returns ``(statistic, pvalue, df_diff)``.
        """
        return lr_test(restricted, self)

    def get_prediction(self, X_new: Any, which: str = "mean") -> PredictionResults:
        """Predictions at new rows with delta-method standard errors and intervals (binomial models).

        ``X_new`` holds the features as for ``predict_proba`` (no constant column), as an array
        or a DataFrame whose columns are matched by name. ``which='mean'``: the probability of
        ``classes[1]``; ``which='linear'``: the linear predictor. See
        :class:`~torchlogit.inference.prediction.PredictionResults`.
        """
        if self.k_eq != 1:
            raise ValueError("get_prediction supports binomial models only (statsmodels' MNLogit has none "
                             "either); use predict_proba for the class probabilities")
        has_const = bool(self.k_constant)
        features = self.exog_names[1:] if has_const else self.exog_names
        return predict_linear(X_new, self._flat, self._cov, features, has_const, which=which)
