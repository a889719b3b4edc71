"""Summary tables laid out like statsmodels' ``Logit.summary()``: plain text and ``rich``.

The results objects of :mod:`torchlogit.inference.results` hand over a :class:`Table` of plain
numbers and header lines; this module only formats and lays them out, so it knows nothing of how
the numbers were computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

_NUM_WIDTHS = (11, 11, 11, 11, 12, 12)  # coef, std err, stat, p, lower, upper (statsmodels' 78 columns)

HeaderLines = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Section:
    """One block of table rows, the whole table or one equation of a multinomial model.

    Every array has one entry per name; ``ci`` has shape ``(len(names), 2)``.
    """

    label: str | None
    names: tuple[str, ...]
    estimates: np.ndarray
    std_errors: np.ndarray
    statistics: np.ndarray
    pvalues: np.ndarray
    ci: np.ndarray


@dataclass(frozen=True)
class Table:
    """Everything a summary table shows: title, the two header columns, the rows and footnotes.

    ``left`` and ``right`` are (label, value) pairs of equal length; ``test`` is ``'z'`` or
    ``'chi2'`` (the statistic's column), ``estimate`` the name of the estimates' column.
    """

    title: str
    left: HeaderLines
    right: HeaderLines
    sections: tuple[Section, ...]
    alpha: float
    estimate: str = "coef"
    test: str = "z"
    notes: tuple[str, ...] = ()


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


def _columns(table: Table) -> list[str]:
    stat, p = ("chi2", "P>chi2") if table.test == "chi2" else ("z", "P>|z|")
    return [table.estimate, "std err", stat, p, *_ci_labels(table.alpha)]


def _cells(section: Section) -> list[tuple[str, list[str]]]:
    """(name, formatted cells) for every row of ``section``."""
    return [
        (name, [forg(section.estimates[i], 4), forg(section.std_errors[i]), forg(section.statistics[i]),
                _pvalue(section.pvalues[i]), forg(section.ci[i, 0]), forg(section.ci[i, 1])])
        for i, name in enumerate(section.names)
    ]


def _aligned(first: str, cells: list[str], name_width: int, align: str) -> str:
    return f"{first:{align}{name_width}}" + "".join(
        f"{c:>{w}}" for c, w in zip(cells, _NUM_WIDTHS, strict=True))


def table_text(table: Table) -> str:
    """The table as statsmodels prints it: fixed-width text, header pairs in two columns."""
    terms = [name for s in table.sections for name in s.names] + [s.label or "" for s in table.sections]
    name_w = max(10, *(len(t) + 1 for t in terms))
    width = name_w + sum(_NUM_WIDTHS)
    half = (width - 3) // 2
    lines = [table.title.center(width), "=" * width]
    for (lk, lv), (rk, rv) in zip(table.left, table.right, strict=True):
        lcell = f"{lk}{lv:>{half - len(lk)}}"
        rcell = f"{rk}{rv:>{width - half - 3 - len(rk)}}" if rk else ""
        lines.append(f"{lcell}   {rcell}".rstrip())
    columns = _columns(table)
    for k, section in enumerate(table.sections):
        lines.append("=" * width if k == 0 else "-" * width)
        lines.append(_aligned(section.label or "", columns, name_w, ">"))
        lines.append("-" * width)
        lines.extend(_aligned(term, cells, name_w, "<") for term, cells in _cells(section))
    lines.append("=" * width)
    lines.extend(f"[{i + 1}] {note}" for i, note in enumerate(table.notes))
    return "\n".join(lines)


def table_renderable(table: Table) -> Any:
    """The table as a ``rich`` renderable: a header grid, one table per section, dimmed notes."""
    from rich import box
    from rich.console import Group
    from rich.table import Table as RichTable
    from rich.text import Text

    header = RichTable.grid(padding=(0, 3))
    for justify in ("left", "right", "left", "right"):
        header.add_column(justify=justify)
    for (lk, lv), (rk, rv) in zip(table.left, table.right, strict=True):
        header.add_row(lk, lv, rk, rv)
    parts: list[Any] = [Text(table.title, style="bold", justify="center"), header]
    columns = _columns(table)
    for section in table.sections:
        rows = RichTable(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        rows.add_column(section.label or "", style="bold")
        for col in columns:
            rows.add_column(col, justify="right")
        for term, cells in _cells(section):
            rows.add_row(term, *cells)
        parts.append(rows)
    parts.extend(Text(f"[{i + 1}] {note}", style="dim") for i, note in enumerate(table.notes))
    return Group(*parts)
