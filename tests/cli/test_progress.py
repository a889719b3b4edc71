"""The progress line on an 80-column terminal: a usable bar, the rows of the current pass with
separators, honest pass numbers, completion when the fit converges, and no bar in logs."""

from __future__ import annotations

import io
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from torchlogit.cli import _output
from torchlogit.cli.main import main

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _plain(state: _output.ProgressState, width: int = 80, now: float | None = None) -> str:
    return _output.progress_line(state, width, now=state.started + 12.5 if now is None else now).plain


def _bar_width(line: str) -> int:
    return max(len(run) for run in re.findall("━+", line))


def test_a_streamed_pass_on_80_columns_keeps_a_wide_bar_and_counts_the_current_pass():
    rows = 3_000_000
    console = Console(width=80, file=io.StringIO(), force_terminal=True)
    with _output.fit_progress(True, rows_per_pass=rows, console=console) as bar:
        for _ in range(8):  # two passes and a third, in chunks of 500,000 rows
            bar.on_chunk(500_000)
        bar.on_iteration(2, 0.31, 1.234e-5)
    text = ANSI.sub("", console.file.getvalue())
    last = [line for line in text.splitlines() if line.strip()][-1]
    assert "4,000,000" not in text  # never the cumulative count
    assert "1,000,000/3,000,000 rows" in last  # the rows of the current (second) pass
    assert last.startswith("pass 2 ")
    assert len(last.rstrip()) <= 80 and _bar_width(last) >= _output.BAR_MIN
    assert "iter 2: |grad| 1.2e-05" in last


def test_the_pass_number_at_the_end_of_a_pass_is_that_pass():
    state = _output.ProgressState(label="")
    callbacks = _output._fit_callbacks(state, lambda: None, 1000, None, True)
    for _ in range(3):
        callbacks.on_chunk(500)  # the last row of pass 2 has been read after 4 chunks...
    callbacks.on_chunk(500)
    assert state.label == "pass 2" and state.counter == "1,000/1,000 rows"
    callbacks.on_chunk(1)
    assert state.label == "pass 3" and state.counter == "1/1,000 rows"


@pytest.mark.parametrize("width", [40, 60, 80, 120, 200])
def test_the_line_fits_every_width_and_the_bar_never_shrinks_below_its_minimum(width):
    state = _output.ProgressState(label="pass 12", done=1_500_000, total=3_000_000,
                                  counter="1,500,000/3,000,000 rows", info="iter 11: |grad| 3.4e-07",
                                  speed="2.41M rows/s")
    line = _plain(state, width)
    assert len(line) <= width
    assert _output.BAR_MIN <= _bar_width(line) <= _output.BAR_MAX
    assert line.startswith("pass 12 ")
    assert ("1,500,000/3,000,000 rows" in line) == (width >= 50)  # the counter goes in before the rest
    if width >= 120:
        assert "2.41M rows/s" in line and "0:00:12" in line


def test_the_bar_is_half_full_half_way():
    state = _output.ProgressState(label="pass 1", done=50, total=100)
    line = _output.progress_line(state, 80, now=state.started)
    styles = [(line.plain[span.start:span.end], span.style) for span in line.spans]
    done = sum(len(text) for text, style in styles if style == "magenta")
    assert done == _bar_width(line.plain) // 2


def test_an_in_memory_fit_that_converges_early_shows_a_full_bar_and_says_so():
    console = Console(width=80, file=io.StringIO(), force_terminal=True)
    with _output.fit_progress(True, console=console) as bar:
        for k in range(1, 7):
            bar.on_iteration(k, 0.5 / k, 10.0 ** -k)
        bar.finish(True, 6)
    last = [line for line in ANSI.sub("", console.file.getvalue()).splitlines() if line.strip()][-1]
    assert last.startswith("iteration 6 ") and "converged: 6 iterations" in last
    assert "/100" not in last  # no max_iter total the fit never reaches


def test_an_indeterminate_bar_moves():
    state = _output.ProgressState(label="iteration 3")
    first = _output.progress_line(state, 80, now=state.started)
    later = _output.progress_line(state, 80, now=state.started + 0.7)
    moving = [[span.start for span in line.spans if span.style == "magenta"] for line in (first, later)]
    assert moving[0] != moving[1]


def test_no_bar_when_standard_error_is_not_a_terminal(capsys):
    assert not _output.bar_wanted(quiet=False)  # pytest's captured stderr is no terminal
    assert _output.bar_wanted(quiet=True, forced=True)
    assert not _output.bar_wanted(quiet=True)


@pytest.fixture
def parquet(tmp_path):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(3000, 3))
    y = (X[:, 0] + rng.normal(size=3000) > 0).astype(int)
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y}), path)
    return path


def test_a_streamed_fit_without_a_terminal_prints_no_bar(parquet, tmp_path, capsys):
    assert main(["fit", str(parquet), "--target", "y", "--out", str(tmp_path / "m.safetensors")]) == 0
    assert "━" not in capsys.readouterr().err


def test_progress_in_a_log_is_plain_text_and_its_last_pass_is_the_summarys(parquet, tmp_path, capsys):
    assert main(["fit", str(parquet), "--target", "y", "--chunk-rows", "500", "--progress",
                 "--out", str(tmp_path / "m.safetensors")]) == 0
    captured = capsys.readouterr()
    assert "\x1b" not in captured.err  # no control codes in a log
    last = captured.err.strip().splitlines()[-1]
    passes = int(re.search(r"passes: (\d+)", captured.out).group(1))
    assert last.startswith(f"pass {passes} ") and "3,000/3,000 rows" in last and "converged" in last
    assert all(len(line) <= 80 for line in captured.err.splitlines())
