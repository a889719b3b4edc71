"""Summary tables laid out like statsmodels' ``Logit.summary()``: plain text and ``rich``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torchlogit.inference.results import LogitResults, MarginalEffects

_NUM_WIDTHS = (11, 11, 11, 11, 12, 12)  # coef, std err, stat, p, lower, upper (statsmodels' 78 columns)


def forg(x: float, prec: int = 3) -> str:
    """statsmodels' number format: fixed decimals, ``g`` for very large or small magnitudes."""
    if not np.isfinite(x):
        return "nan" if np.isnan(x) else ("inf" if x > 0 else "-inf")
    width = 9 if prec == 3 else 10
    if abs(x) >= 1e4 or abs(x) < 1e-4:
        return f"{x:{width}.{prec}g}".strip()
    return f"{x:{width}.{prec}f}".strip()


def _pvalue(p: float) -> str:
    return "nan" if np.isnan(p) else f"{p:#6.3f}".strip()


def _ci_labels(alpha: float) -> tuple[str, str]:
    lo, hi = f"{alpha / 2:.3f}".rstrip("0"), f"{1 - alpha / 2:.3f}".rstrip("0")
    return f"[{lo}", f"{hi}]"


def _header_pairs(res: LogitResults) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    now = time.localtime()
    left = [
        ("Dep. Variable:", res.dep_variable), ("Model:", res.model), ("Method:", res.method),
        ("Date:", time.strftime("%a, %d %b %Y", now)), ("Time:", time.strftime("%H:%M:%S", now)),
        ("converged:", str(res.converged)), ("Covariance Type:", res.cov_type),
    ]
    nobs = f"{res.nobs}" if isinstance(res.nobs, int) else f"{res.nobs:#.6g}"
    right = [
        ("No. Observations:", nobs), ("Df Residuals:", f"{res.df_resid:g}"),
        ("Df Model:", f"{res.df_model:g}"), ("Pseudo R-squ.:", f"{res.prsquared:#6.4g}"),
        ("Log-Likelihood:", f"{res.llf:#8.5g}"), ("LL-Null:", f"{res.llnull:#8.5g}"),
        ("LLR p-value:", f"{res.llr_pvalue:#6.4g}"),
    ]
    if res.n_groups:
        left.append(("No. Clusters:", str(res.n_groups)))
        right.append(("", ""))
    return left, right


def _coef_rows(res: LogitResults, alpha: float) -> list[tuple[str | None, list[tuple[str, list[str]]]]]:
    """Sections (equation label or None) of (term, formatted cells)."""
    ci, se, p = res._ci_flat(alpha), res._bse_flat, res._p_flat()
    stat = res._statistic_flat()
    p_len = len(res.exog_names)
    sections = []
    for eq in range(res.k_eq):
        label = None if res.k_eq == 1 else f"{res.dep_variable}={res.eq_names[eq]}"
        rows = []
        for j, name in enumerate(res.exog_names):
            i = eq * p_len + j
            rows.append((name, [forg(res._flat[i], 4), forg(se[i]), forg(stat[i]), _pvalue(p[i]),
                                forg(ci[i, 0]), forg(ci[i, 1])]))
        sections.append((label, rows))
    return sections


def _columns(res_test: str, alpha: float, estimate: str = "coef") -> list[str]:
    stat, p = ("chi2", "P>chi2") if res_test == "chi2" else ("z", "P>|z|")
    return [estimate, "std err", stat, p, *_ci_labels(alpha)]


def _text_table(title: str, left: list[tuple[str, str]], right: list[tuple[str, str]],
                sections: list[tuple[str | None, list[tuple[str, list[str]]]]], columns: list[str],
                notes: list[str]) -> str:
    terms = [t for _, rows in sections for t, _ in rows] + [lab or "" for lab, _ in sections]
    name_w = max(10, *(len(t) + 1 for t in terms))
    width = name_w + sum(_NUM_WIDTHS)
    half = (width - 3) // 2
    lines = [title.center(width), "=" * width]
    for (lk, lv), (rk, rv) in zip(left, right, strict=True):
        lcell = f"{lk}{lv:>{half - len(lk)}}"
        rcell = f"{rk}{rv:>{width - half - 3 - len(rk)}}" if rk else ""
        lines.append(f"{lcell}   {rcell}".rstrip())
    for k, (label, rows) in enumerate(sections):
        lines.append("=" * width if k == 0 else "-" * width)
        head = f"{label:>{name_w}}" if label else " " * name_w
        lines.append(head + "".join(f"{c:>{w}}" for c, w in zip(columns, _NUM_WIDTHS, strict=True)))
        lines.append("-" * width)
        for term, cells in rows:
            lines.append(f"{term:<{name_w}}" + "".join(f"{c:>{w}}" for c, w in zip(cells, _NUM_WIDTHS,
                                                                                   strict=True)))
    lines.append("=" * width)
    lines.extend(f"[{i + 1}] {note}" for i, note in enumerate(notes))
    return "\n".join(lines)


def results_text(res: LogitResults, alpha: float) -> str:
    left, right = _header_pairs(res)
    title = f"{res.model} Regression Results" if res.method != "Firth (penalised ML)" \
        else "Firth Logistic Regression Results"
    return _text_table(title, left, right, _coef_rows(res, alpha), _columns(res.test_label, alpha),
                       res.notes)


def _rich_tables(title: str, left: list[tuple[str, str]], right: list[tuple[str, str]],
                 sections: list[tuple[str | None, list[tuple[str, list[str]]]]], columns: list[str],
                 notes: list[str]) -> Any:
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    header = Table.grid(padding=(0, 3))
    for justify in ("left", "right", "left", "right"):
        header.add_column(justify=justify)
    for (lk, lv), (rk, rv) in zip(left, right, strict=True):
        header.add_row(lk, lv, rk, rv)
    parts: list[Any] = [Text(title, style="bold", justify="center"), header]
    for label, rows in sections:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        table.add_column(label or "", style="bold")
        for col in columns:
            table.add_column(col, justify="right")
        for term, cells in rows:
            table.add_row(term, *cells)
        parts.append(table)
    parts.extend(Text(f"[{i + 1}] {note}", style="dim") for i, note in enumerate(notes))
    return Group(*parts)


def results_renderable(res: LogitResults, alpha: float) -> Any:
    left, right = _header_pairs(res)
    title = f"{res.model} Regression Results" if res.method != "Firth (penalised ML)" \
        else "Firth Logistic Regression Results"
    return _rich_tables(title, left, right, _coef_rows(res, alpha), _columns(res.test_label, alpha),
                        res.notes)


def _margin_parts(me: MarginalEffects, alpha: float):
    ci, se, p, z = me._ci_flat(alpha), me._bse_flat, me._p_flat(), me._statistic_flat()
    d = len(me.names)
    outcomes = me.outcomes or [None]
    sections = []
    for k, outcome in enumerate(outcomes):
        rows = []
        for j, name in enumerate(me.names):
            i = k * d + j
            rows.append((name, [forg(me._flat[i], 4), forg(se[i]), forg(z[i]), _pvalue(p[i]),
                                forg(ci[i, 0]), forg(ci[i, 1])]))
        sections.append((None if outcome is None else f"{me.dep_variable}={outcome}", rows))
    left = [("Dep. Variable:", me.dep_variable), ("Method:", "dydx"), ("At:", me.at)]
    right = [("", "")] * len(left)
    return f"{me.model} Marginal Effects", left, right, sections, _columns("z", alpha, "dy/dx")


def margins_text(me: MarginalEffects, alpha: float) -> str:
    return _text_table(*_margin_parts(me, alpha), [])


def margins_renderable(me: MarginalEffects, alpha: float) -> Any:
    return _rich_tables(*_margin_parts(me, alpha), [])
