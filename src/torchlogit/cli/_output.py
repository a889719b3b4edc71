"""Everything the command line shows: lines, warnings, errors, tables and progress bars.

The one printer of the CLI: the command modules say what to show, this module decides where it
goes (results on standard output; errors, warnings and notes on standard error). Also holds the
small text helpers the commands share (label text, output-path checks). ``rich`` is imported only
inside the functions that draw, so ``torchlogit --help`` starts fast.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
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

    ``plain`` turns off rich's markup and highlighting, for text holding user labels and paths.
    """
    from rich.console import Console

    options = {"highlight": False, "markup": False} if plain else {}
    console = Console(width=width, **options)
    for renderable in renderables:
        console.print(renderable)


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
                    print(f"{PROG}: warning: {message}", file=sys.stderr)


def label_text(label: object) -> str:
    """A class label as written in output files and tables (numpy scalars as plain Python values)."""
    from torchlogit._validation import plain

    return str(plain(label))


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


# --------------------------------------------------------------------------- progress bars
@contextlib.contextmanager
def progress(disabled: bool, total: int, label: str) -> Iterator[Callable[..., None]]:
    """A rich progress bar over ``total`` steps; yields ``advance(text)``."""
    if disabled or total <= 0:
        yield lambda text="": None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[info]}"))
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(label, total=total, info="")

        def advance(text: str = "") -> None:
            bar.update(task, advance=1, info=text)

        yield advance


@dataclass(frozen=True)
class PassCallbacks:
    """What a streamed fit reports to its progress bar; ``None`` where nothing is drawn.

    Attributes
    ----------
    on_chunk : callable or None
        Called with the row count of every chunk the data source serves.
    on_iteration : callable or None
        The solver's ``callback(iteration, objective, max_abs_gradient)``.
    """

    on_chunk: Callable[[int], None] | None = None
    on_iteration: Callable[[int, float, float], None] | None = None


@contextlib.contextmanager
def pass_progress(disabled: bool, rows_per_pass: int) -> Iterator[PassCallbacks]:
    """A progress bar over the passes of a streamed fit: rows, rows/s, passes, max |gradient|.

    The bar advances as chunks are served (``on_chunk``): a pass is ``rows_per_pass`` rows.
    """
    if disabled:
        yield PassCallbacks()
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    total = max(rows_per_pass, 1)
    columns = (TextColumn("pass {task.fields[passes]}"), BarColumn(),
               TextColumn("{task.fields[rows]} rows, {task.fields[speed]} rows/s"), TimeElapsedColumn(),
               TextColumn("{task.fields[info]}"))
    state = {"done": 0, "started": time.perf_counter()}
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("fit", total=total, passes=1, rows=0, speed="-", info="")

        def on_chunk(rows: int) -> None:
            state["done"] += rows
            passes, within = divmod(state["done"], total)
            speed = state["done"] / max(time.perf_counter() - state["started"], 1e-9)
            bar.update(task, completed=within, passes=passes + 1, rows=state["done"], speed=f"{speed:,.0f}")

        def on_iteration(iteration: int, f: float, grad_max: float) -> None:
            bar.update(task, info=f"iteration {iteration}: max |gradient| {grad_max:.1e}")

        yield PassCallbacks(on_chunk, on_iteration)


@contextlib.contextmanager
def row_progress(disabled: bool, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (a terminal only) over rows predicted; yields ``advance(rows)``."""
    if disabled or not sys.stderr.isatty():
        yield lambda rows: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    started = time.perf_counter()
    columns = (TextColumn("predict"), BarColumn(),
               TextColumn("{task.completed} rows, {task.fields[speed]} rows/s"), TimeElapsedColumn())
    with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("predict", total=total, speed="-")

        def advance(rows: int) -> None:
            done = bar.tasks[0].completed + rows
            speed = done / max(time.perf_counter() - started, 1e-9)
            bar.update(task, completed=done, speed=f"{speed:,.0f}")

        yield advance


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        text = f"{exc.strerror}: {exc.filename!r}"
    return " ".join(text.split())
