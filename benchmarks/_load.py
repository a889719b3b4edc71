"""What the benchmarks share to notice a busy machine: CPU ticks from /proc."""

from __future__ import annotations

import os


def cpu_ticks() -> tuple[float, float] | None:
    """(all busy CPU seconds, this process's CPU seconds) from /proc; None where it is missing."""
    try:
        with open("/proc/stat") as fh:
            f = [int(v) for v in fh.readline().split()[1:]]
        with open("/proc/self/stat") as fh:
            own = fh.read().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    busy = f[0] + f[1] + f[2] + sum(f[5:8])  # user nice system irq softirq steal
    return busy / tick, (int(own[11]) + int(own[12])) / tick
