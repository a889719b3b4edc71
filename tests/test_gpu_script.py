"""benchmarks/_gpu_higgs.py (issue 16's GPU checks) stays runnable without a GPU: on the CPU with
a few rows it runs every step, and its exact fit reaches the optimum its own objective reports."""

import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "_gpu_higgs.py"


def test_gpu_script_runs_every_step_on_the_cpu():
    env = {**os.environ, "PYTHONPATH": str(SCRIPT.parents[1] / "src")}
    command = [sys.executable, str(SCRIPT), "--device", "cpu", "--rows", "5000", "--features", "6"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for step in ("host-to-device copy", "torchlogit exact fit on cpu", "summary(allow_penalized=True)",
                 "exact fit on the CPU", "scikit-learn lbfgs, array API on cpu, tol 1e-10:",
                 "streamed Parquet, --device cpu"):
        assert step in out, (step, out)
    assert "streamed Parquet, --device cpu:" in out and out.rstrip().endswith(", ok")
    gradient = float(re.search(r"exact fit on cpu \(.*max\|∇F\| ([0-9.e+-]+)", out).group(1))
    assert gradient <= 1e-8
