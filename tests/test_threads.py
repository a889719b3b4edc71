"""The thread policy: one thread for small work, large work only on the cores others leave free,
and a user's own ``torch.set_num_threads`` kept. Loads are injected; nothing here is timed."""

from __future__ import annotations

import os

import pytest
import torch

from torchlogit import _threads
from torchlogit._threads import SMALL_WORK, busy_seconds, choose_threads

LARGE = SMALL_WORK * 4


@pytest.mark.parametrize(("work", "current", "cores", "others", "expected"), [
    (SMALL_WORK - 1, 2, 2, 0.0, 1),  # small work: one thread even on an idle machine
    (LARGE, 2, 2, 0.0, 2),  # idle: torch's count
    (LARGE, 2, 2, 0.2, 2),  # background noise below the margin keeps every core
    (LARGE, 2, 2, 1.0, 1),  # one core busy of two: one thread
    (LARGE, 2, 2, 0.6, 1),  # a core mostly taken counts as busy
    (LARGE, 2, 2, 5.0, 1),  # an overloaded machine: one thread, never zero
    (LARGE, 16, 16, 3.0, 13),  # three busy of sixteen
    (LARGE, 4, 16, 3.0, 4),  # torch's count is never exceeded
    (LARGE, 1, 16, 0.0, 1),
    (LARGE, 8, 8, None, 8),  # load unknown (no /proc): torch's count
])
def test_threads_follow_the_free_cores(work, current, cores, others, expected):
    assert choose_threads(work, current, cores=cores, others_busy=others, explicit=False) == expected


@pytest.mark.parametrize(("cores", "others", "reserved", "expected"), [
    (2, 0.0, 1, 1),  # a file source's decoder on one core of two
    (16, 0.0, 8, 8),
    (16, 3.0, 8, 5),  # others' busy cores and the decoder's both left alone
    (2, 2.0, 1, 1),  # never zero
    (16, None, 8, 8),  # load unknown: the reserved cores are still known
])
def test_cores_reserved_for_the_process_own_reading_threads_are_left_free(cores, others, reserved, expected):
    assert choose_threads(LARGE, cores, cores=cores, others_busy=others, explicit=False,
                          reserved=reserved) == expected


def test_an_explicit_thread_count_is_kept_for_large_work_only():
    assert choose_threads(LARGE, 3, cores=4, others_busy=3.0, explicit=True) == 3
    assert choose_threads(SMALL_WORK - 1, 3, cores=4, others_busy=0.0, explicit=True) == 1


def test_busy_seconds_sums_the_busy_fields_of_the_chosen_cpus():
    stat = ("cpu  9 9 9 9 9 9 9 9 0 0\n"
            "cpu0 100 1 20 5000 7 3 4 6 0 0\n"
            "cpu1 200 2 30 4000 8 5 6 9 0 0\n"
            "cpu2 400 0 40 3000 0 0 0 0 0 0\n"
            "intr 12345 0 0\n")
    tick = os.sysconf("SC_CLK_TCK")
    # user + nice + system + irq + softirq + steal; idle and iowait are not busy
    assert busy_seconds(stat, {0, 1}) == pytest.approx((134 + 252) / tick)
    assert busy_seconds(stat, {2}) == pytest.approx(440 / tick)


class _FixedLoad:
    def __init__(self, others: float | None) -> None:
        self.others = others

    def others_busy(self, cpus: set[int]) -> float | None:
        return self.others


@pytest.fixture
def two_threads(monkeypatch):
    """torch at two threads, as if that were its count at import (the user chose nothing)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    monkeypatch.setattr(_threads, "_DEFAULT_THREADS", 2)
    monkeypatch.setattr(_threads, "_cpus", lambda: {0, 1})
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize(("others", "work", "inside"), [
    (1.0, LARGE, 1), (0.0, LARGE, 2), (0.0, SMALL_WORK - 1, 1), (None, LARGE, 2),
])
def test_the_block_runs_with_the_chosen_count_and_restores_it(two_threads, monkeypatch, others, work,
                                                              inside):
    monkeypatch.setattr(_threads, "_MONITOR", _FixedLoad(others))
    with _threads.single_thread_if_small(work):
        assert torch.get_num_threads() == inside
    assert torch.get_num_threads() == 2


def test_a_streamed_fit_leaves_the_decoder_a_core(two_threads, monkeypatch, tmp_path):
    from support.streaming_data import make_table, write_parquet_files

    from torchlogit import LogisticRegression
    from torchlogit.estimators.streaming import fit_files

    monkeypatch.setattr(_threads, "_MONITOR", _FixedLoad(0.0))
    table, *_ = make_table(n=3_000, seed=3)
    paths = write_parquet_files(tmp_path, table, splits=(0.5,), row_group_size=1_000)
    seen = []
    monkeypatch.setattr(LogisticRegression, "_solve",
                        lambda self, *args: seen.append(torch.get_num_threads()))
    monkeypatch.setattr(_threads, "SMALL_WORK", 1)  # the test's few rows count as large work
    fit_files(LogisticRegression(), paths, target="y")
    assert seen == [1]
    assert torch.get_num_threads() == 2


def test_a_user_set_count_ignores_the_load(two_threads, monkeypatch):
    monkeypatch.setattr(_threads, "_MONITOR", _FixedLoad(5.0))
    monkeypatch.setattr(_threads, "_DEFAULT_THREADS", 4)  # torch had 4 at import; the user chose 2
    with _threads.single_thread_if_small(LARGE):
        assert torch.get_num_threads() == 2


def test_the_count_is_restored_when_the_block_raises(two_threads, monkeypatch):
    monkeypatch.setattr(_threads, "_MONITOR", _FixedLoad(1.0))
    with pytest.raises(RuntimeError, match="inside"), _threads.single_thread_if_small(LARGE):
        raise RuntimeError("inside")
    assert torch.get_num_threads() == 2


def test_the_monitor_counts_other_processes_time_since_its_last_reading(monkeypatch):
    # (time, busy seconds of our cores, our own CPU seconds): 3 s busy in 2 s, 1 s of it ours
    readings = iter([(10.0, 100.0, 5.0), (12.0, 103.0, 6.0)])
    monkeypatch.setattr(_threads, "_reading", lambda cpus: next(readings))
    monitor = _threads._OthersMonitor()
    monkeypatch.setattr(_threads.time, "perf_counter", lambda: 12.0)
    assert monitor.others_busy({0, 1}) == pytest.approx(1.0)
    # within MIN_WINDOW_S of the last reading: the same estimate, no new reading (none is left)
    monkeypatch.setattr(_threads.time, "perf_counter", lambda: 12.0 + _threads.MIN_WINDOW_S / 2)
    assert monitor.others_busy({0, 1}) == pytest.approx(1.0)


def test_without_proc_the_load_is_unknown(monkeypatch):
    monkeypatch.setattr(_threads, "_reading", lambda cpus: None)
    assert _threads._OthersMonitor().others_busy({0}) is None
