"""Everything the command line shows: lines, warnings, errors, tables and progress bars.

The one printer of the CLI: the command modules say what to show, this module decides where it
goes (results on standard output; errors, warnings, notes and the progress line on standard
error). Text is sized to the terminal: lines fold between words at its width, and the one progress
display (:func:`fit_progress`, :func:`row_progress`) keeps a usable bar on 80 columns, draws only
on a terminal unless asked (``--progress``), and prints plain lines in a log. Also holds the small
text helpers the commands share (label text, thresholds, output-path checks). ``rich`` is imported
only inside the functions that draw, so ``torchlogit --help`` starts fast.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

PROG = "torchlogit"
"""The program name at the start of every error, warning and note line."""


def out(text: str, *, err: bool = False) -> None:
    """Print one line of output (``err``: on standard error, for notes beside data on stdout)."""
    print(text, file=sys.stderr if err else sys.stdout, flush=True)


def rank_zero_printer(rank: int) -> Callable[[str], None]:
    """:func:`out` on rank 0 of a distributed run, silence on the others (one copy of each line)."""

    def say(text: str) -> None:
        if rank == 0:
            out(text)

    return say


def show(*renderables: Any, width: int | None = None, plain: bool = False) -> None:
    """Print rich tables, summaries or text on standard output, each from a new line.

    ``width`` defaults to the terminal's (80 columns when the output is not a terminal);
    ``plain`` turns off rich's markup and highlighting, for text holding user labels and paths.
    """
    from rich.console import Console

    options = {"highlight": False, "markup": False} if plain else {}
    console = Console(width=width or terminal_width(), **options)
    for renderable in renderables:
        console.print(renderable)


def show_summary(summary: Any, width: int | None = None) -> None:
    """A statsmodels-style summary table (``LogitResults.summary()``), as Python prints it.

    The table is the one ``print(results.summary())`` shows, line for line (one layout for the
    CLI and Python); its footnotes, single long lines there, are folded between words at the
    table's width, or the terminal's when that is narrower. A terminal narrower than the table
    itself wraps its rows: rich's renderer would fit them by eliding digits, which is worse.
    """
    width = width or terminal_width()
    lines = summary.as_text().splitlines()
    rules = [k for k, line in enumerate(lines) if line.startswith("=")]
    end = rules[-1] + 1 if rules else len(lines)
    table_width = len(lines[rules[0]]) if rules else max(map(len, lines))
    for line in lines[:end]:
        out(line.rstrip())
    for note in lines[end:]:
        wrapped(note, indent=4, width=min(table_width, width))


def error(exc: BaseException) -> None:
    """The one line on standard error that a failed command leaves: ``torchlogit: error: ...``."""
    print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)


def interrupted() -> None:
    """The line left on standard error by Ctrl-C."""
    print(f"{PROG}: interrupted", file=sys.stderr)


def abandon_stdout() -> None:
    """Close standard output after its reader left (``torchlogit predict ... | head``), quietly."""
    with contextlib.suppress(OSError):
        sys.stdout.close()


@contextlib.contextmanager
def warnings_to_stderr() -> Iterator[None]:
    """Show warnings (convergence, separation) as one line each on stderr, after the command."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            seen = set()
            for item in caught:
                message = _one_line(item.message)  # type: ignore[arg-type]
                if message not in seen:
                    seen.add(message)
                    if sys.stderr.isatty():  # folded between words at the terminal's width
                        wrapped(f"{PROG}: warning: {message}", err=True)
                    else:  # one line each in logs, for grep
                        print(f"{PROG}: warning: {message}", file=sys.stderr)


def label_text(label: object) -> str:
    """A class label as written in output files and tables (numpy scalars as plain Python values)."""
    from torchlogit._validation import plain

    return str(plain(label))


def threshold_option(value: float | None) -> float | None:
    """``--threshold``, checked: a probability strictly between 0 and 1, or ``None``."""
    if value is not None and not (math.isfinite(value) and 0 < value < 1):
        raise ValueError(f"--threshold must lie strictly between 0 and 1, got {value:g}")
    return value


def check_output(path: str | os.PathLike[str] | None) -> None:
    """Fail before any work when an output file cannot be created where asked.

    Refuses a folder, a missing folder, and a folder this process may not write in (found now,
    not after a long fit, and named by the output path rather than by a temporary file).
    """
    if path is not None:
        from torchlogit._fileio import check_writable

        folder = check_writable(path)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(f"cannot write {str(path)!r}: permission denied in folder {str(folder)!r}")


def refuse_overwrites(outputs: Sequence[tuple[str, str | os.PathLike[str] | None]],
                      inputs: Sequence[tuple[str, str | os.PathLike[str]]]) -> None:
    """Fail before any work when an output would replace an input or another output of the command.

    ``outputs`` and ``inputs`` are ``(what, path)`` pairs, ``what`` naming the path in the message
    (``"--out"``, ``"the model file"``); outputs that are ``None`` are not written. Paths are
    compared as the files they name, not as text: ``x``, ``./x``, ``dir/../x``, a symbolic link to
    ``x``, a path through a linked folder and a hard link to ``x`` are all ``x``.

    Raises
    ------
    ValueError
        Naming the output and the file it would replace.
    """
    taken: dict[tuple, str] = {}
    for what, path in inputs:
        for key in _file_keys(path, resolve=False):  # an input exists: its inode identifies it
            taken.setdefault(key, f"{what} {str(path)!r}")
    for what, path in outputs:
        if path is None:
            continue
        keys = _file_keys(path, resolve=True)  # outputs not written yet compare by resolved path
        clash = next((taken[key] for key in keys if key in taken), None)
        if clash is not None:
            raise ValueError(f"refusing to write {what} {str(path)!r}: it is {clash}")
        for key in keys:
            taken[key] = f"also the output {what} {str(path)!r}"


def _file_keys(path: str | os.PathLike[str], *, resolve: bool) -> list[tuple]:
    """What identifies the file at ``path``: its device and inode when it exists, and (``resolve``,
    or when it does not exist) its absolute path with every link resolved."""
    keys = []
    try:
        status = os.stat(path)
        keys.append(("inode", status.st_dev, status.st_ino))
    except (OSError, ValueError):  # missing, or a name the system refuses: compared as a path
        resolve = True
    if resolve:
        keys.append(("path", os.path.normcase(os.path.realpath(path))))
    return keys


# --------------------------------------------------------------------------- terminal text
def terminal_width() -> int:
    """Columns of the terminal (``COLUMNS`` when set; 80 when the output is not a terminal)."""
    import shutil

    return max(shutil.get_terminal_size((80, 24)).columns, 20)


def wrapped(text: str, *, indent: int = 2, width: int | None = None, err: bool = False) -> None:
    """Print ``text`` folded at word boundaries to the terminal's width, continuation lines indented.

    Numbers and names never break in the middle: lines break only at spaces.
    """
    import textwrap

    lines = textwrap.wrap(text, width=width or terminal_width(), subsequent_indent=" " * indent,
                          break_long_words=False, break_on_hyphens=False)
    for line in lines or [""]:
        out(line, err=err)


def folded_names(names: Sequence[str], *, head: int = 8, tail: int = 2) -> str:
    """``names`` joined by commas; past ``head + tail + 1`` names the middle is elided (``...``)."""
    names = [str(n) for n in names]
    if len(names) <= head + tail + 1:
        return ", ".join(names)
    return ", ".join([*names[:head], f"... ({len(names) - head - tail} more)", *names[-tail:]])


def grouped(n: float) -> str:
    """An integer with thousands separators (``3,000,000``)."""
    return f"{int(n):,}"


def _rate(per_second: float) -> str:
    """A speed in rows per second, in three significant digits with k/M/G (``2.41M``)."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if per_second >= scale:
            return f"{per_second / scale:.3g}{suffix}"
    return f"{per_second:.0f}"


# --------------------------------------------------------------------------- progress display
BAR_MIN, BAR_MAX = 16, 40
"""Width of the progress bar: never narrower than ``BAR_MIN`` (it gives way to the optional fields
first), at most ``BAR_MAX`` (the rest of a wide terminal stays empty)."""


@dataclass
class ProgressState:
    """What one progress line shows; the display redraws it from these fields.

    Attributes
    ----------
    label : what advances (``pass 3``, ``iteration 6``, ``epoch 12/1000``, ``predict``)
    done, total : the bar's position; ``total=None`` draws an indeterminate (moving) bar
    counter : a count beside the bar (``1,234,567/3,000,000 rows``)
    info : the latest solver figures (``max |gradient| 1.2e-05``) or how the fit ended
    speed : rows per second (``2.41M rows/s``)
    started : ``time.perf_counter()`` at the start, for the elapsed time
    """

    label: str
    done: float = 0.0
    total: float | None = None
    counter: str = ""
    info: str = ""
    speed: str = ""
    started: float = field(default_factory=time.perf_counter)


def progress_line(state: ProgressState, width: int, now: float | None = None) -> Any:
    """The progress line as ``rich`` Text at most ``width`` columns wide.

    The label and a bar of at least ``BAR_MIN`` columns always show; then, while they fit, the
    counter, the info, the elapsed time and the speed, in that order of priority (a narrow
    terminal drops the speed first). The bar takes what is left, up to ``BAR_MAX``.
    """
    from rich.text import Text

    now = time.perf_counter() if now is None else now
    elapsed = _clock(now - state.started)
    optional = [state.counter, state.info, elapsed, state.speed]
    used = len(state.label) + 1 + BAR_MIN
    shown = []
    for part in optional:
        if part and used + 2 + len(part) <= width:
            shown.append(part)
            used += 2 + len(part)
    bar_width = max(min(BAR_MAX, width - used + BAR_MIN), 1)
    line = Text(state.label + " ", no_wrap=True, overflow="ellipsis")
    line.append_text(_bar(state, bar_width, now))
    for part in (p for p in optional if p in shown):
        line.append("  " + part)
    line.truncate(width)
    return line


def _bar(state: ProgressState, width: int, now: float) -> Any:
    """The bar: filled in proportion to done/total, or a block sweeping back and forth."""
    from rich.text import Text

    if state.total is None:  # indeterminate: a quarter-width block moving 10 columns a second
        block = max(width // 4, 1)
        travel = max(width - block, 1)
        step = int((now - state.started) * 10) % (2 * travel)
        start = step if step < travel else 2 * travel - step
        return Text.assemble(("━" * start, "grey23"), ("━" * block, "magenta"),
                             ("━" * (width - start - block), "grey23"))
    fraction = 1.0 if state.total <= 0 else min(max(state.done / state.total, 0.0), 1.0)
    filled = round(fraction * width)
    return Text.assemble(("━" * filled, "green" if fraction >= 1 else "magenta"),
                         ("━" * (width - filled), "grey23"))


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class _Line:
    """A rich renderable redrawing a :class:`ProgressState` at the console's current width."""

    def __init__(self, state: ProgressState):
        self.state = state

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        yield progress_line(self.state, options.max_width)


def bar_wanted(quiet: bool, forced: bool = False) -> bool:
    """Whether to draw progress: ``--progress`` always, ``--quiet`` never, else only when standard
    error is a terminal (so logs and CI output stay clean)."""
    if forced:
        return True
    return not quiet and sys.stderr.isatty()


@contextlib.contextmanager
def progress_display(enabled: bool, state: ProgressState, *,
                     console: Any = None) -> Iterator[Callable[[], None]]:
    """Show ``state`` on standard error while the block runs; yields ``refresh()``.

    On a terminal the line is redrawn in place (rich ``Live``) and left showing its final state;
    ``--progress`` on something else (a log file) prints the line as plain text at most once a
    second and once at the end, without control codes. Disabled, ``refresh`` does nothing.
    """
    if not enabled:
        yield lambda: None
        return
    from rich.console import Console

    console = console or Console(stderr=True, highlight=False)
    if not console.is_terminal:
        yield from _logged_progress(console, state)
        return
    from rich.live import Live

    with Live(_Line(state), console=console, refresh_per_second=8, transient=False) as live:
        yield live.refresh


def _logged_progress(console: Any, state: ProgressState) -> Iterator[Callable[[], None]]:
    """The progress line printed as log text: at most once a second, and once at the end."""
    last = [0.0]

    def refresh() -> None:
        now = time.perf_counter()
        if now - last[0] >= 1.0:
            last[0] = now
            console.print(progress_line(state, console.width, now))

    try:
        yield refresh
    finally:
        console.print(progress_line(state, console.width))


@dataclass(frozen=True)
class FitCallbacks:
    """What a fit reports to its progress display; every member is safe to call when nothing is drawn.

    Attributes
    ----------
    on_chunk : called with the row count of every chunk a streamed source serves, or ``None``
        (in-memory fits: nothing to count)
    on_iteration : the solver's ``callback(iteration, objective, max_abs_gradient)``
    finish : ``finish(converged, n_iter)`` once the fit has returned, so the line shows how it ended
        (``converged=None``: a loop without a convergence test, the tutorial's epochs)
    """

    on_chunk: Callable[[int], None] | None
    on_iteration: Callable[[int, float, float], None]
    finish: Callable[[bool | None, int], None]


@contextlib.contextmanager
def fit_progress(enabled: bool, *, rows_per_pass: int | None = None, epochs: int | None = None,
                 console: Any = None) -> Iterator[FitCallbacks]:
    """The progress of a fit: passes over the rows of a streamed fit, or iterations in memory.

    Streamed (``rows_per_pass`` given): ``pass k`` counts the passes begun, the bar and counter the
    rows of the current pass. In memory: ``iteration k`` over an indeterminate bar (a solver stops
    when it converges, so ``max_iter`` is no honest total), or ``epoch k/N`` over ``epochs`` for
    the tutorial's loop. ``finish`` fills the bar and says whether and when the fit converged.
    """
    state = ProgressState(label="pass 1" if rows_per_pass else ("epoch 0" if epochs else "iteration 0"),
                          total=rows_per_pass or epochs)
    with progress_display(enabled, state, console=console) as refresh:
        yield _fit_callbacks(state, refresh, rows_per_pass, epochs, enabled)


def _fit_callbacks(state: ProgressState, refresh: Callable[[], None], rows_per_pass: int | None,
                   epochs: int | None, enabled: bool) -> FitCallbacks:
    """The callbacks of :func:`fit_progress` updating ``state``."""
    rows = [0]

    def on_chunk(count: int) -> None:
        rows[0] += count
        passes = -(-rows[0] // rows_per_pass)  # the passes begun: the last row of pass k is still pass k
        state.label, state.done = f"pass {passes}", rows[0] - (passes - 1) * rows_per_pass
        state.counter = f"{grouped(state.done)}/{grouped(rows_per_pass)} rows"
        state.speed = f"{_rate(rows[0] / max(time.perf_counter() - state.started, 1e-9))} rows/s"
        refresh()

    def on_iteration(iteration: int, objective: float, grad_max: float) -> None:
        if rows_per_pass:
            state.info = f"iter {iteration}: |grad| {grad_max:.1e}"
        else:
            state.label = f"epoch {iteration}/{epochs}" if epochs else f"iteration {iteration}"
            state.done, state.info = iteration, f"max |gradient| {grad_max:.1e}"
        refresh()

    def finish(converged: bool | None, n_iter: int) -> None:
        state.total, state.done = 1.0, 1.0
        how = "done" if converged is None else "converged" if converged else "NOT converged"
        state.info = f"{how}: {n_iter} {'epoch' if epochs else 'iteration'}{'s' if n_iter != 1 else ''}"
        refresh()

    return FitCallbacks(on_chunk if rows_per_pass and enabled else None, on_iteration, finish)


@contextlib.contextmanager
def row_progress(enabled: bool, total: int | None) -> Iterator[Callable[[int], None]]:
    """Progress over rows predicted (determinate when ``total`` is known); yields ``advance(rows)``."""
    state = ProgressState(label="predict", total=total)
    with progress_display(enabled, state) as refresh:

        def advance(rows: int) -> None:
            state.done += rows
            state.counter = f"{grouped(state.done)}{'' if total is None else '/' + grouped(total)} rows"
            state.speed = f"{_rate(state.done / max(time.perf_counter() - state.started, 1e-9))} rows/s"
            refresh()

        yield advance
        if total is None:
            state.total = state.done  # the end: a full bar
            refresh()


# --------------------------------------------------------------------------- warnings
def warning(text: str) -> None:
    """A warning line on standard error, now (a choice the user should see before a long fit)."""
    print(f"{PROG}: warning: {' '.join(text.split())}", file=sys.stderr, flush=True)


def deprecated(old: str, new: str) -> None:
    """The line telling that option ``old`` was renamed ``new`` (kept for one release)."""
    print(f"{PROG}: warning: {old} is deprecated and will be removed in the next release; use {new}",
          file=sys.stderr)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        text = f"{exc.strerror}: {exc.filename!r}"
    return " ".join(text.split())
