#!/usr/bin/env bash
# CUDA checks in one call, for a machine with an NVIDIA GPU (about 7-8 minutes):
#   1. the CUDA tests:     python -m pytest -q -m cuda tests/
#   2. the solver benchmark with torchlogit on the GPU (peers stay on the CPU, 2 BLAS threads);
#   3. HIGGS-size data (11M x 28) in GPU memory (benchmarks/_gpu_higgs.py): exact fit and summary()
#      against the machine's CPU cores and scikit-learn's array-API L-BFGS on the same tensors,
#      host-to-device copy timed apart, and a streamed Parquet fit with --device cuda.
# Run from anywhere:  bash benchmarks/gpu.sh [extra bench_solvers.py options, e.g. --workloads A,B]
# Uses src/ directly (PYTHONPATH), no install, so it also works where nothing can be downloaded.
# Logs and the markdown table go to $OUT (if set, e.g. on the device machine) or bench-out/.
set -uo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
command -v "$PY" >/dev/null || PY=python
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
LOGDIR=${OUT:-bench-out}
mkdir -p "$LOGDIR"

echo "== GPU"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "nvidia-smi failed"
"$PY" - <<'EOF'
import importlib, torch
print("torch", torch.__version__, "| CUDA available:", torch.cuda.is_available(),
      "|", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no device")
for name in ("numpy", "scipy", "sklearn", "glum", "pytest"):
    try:
        print(f"{name} {importlib.import_module(name).__version__}")
    except ImportError:
        print(f"{name}: not installed")
EOF

echo "== CUDA tests (pytest -m cuda)"
timeout 150 "$PY" -m pytest -q -m cuda tests/ -p no:cacheprovider 2>&1 | tee "$LOGDIR/pytest-cuda.log"
rc_tests=${PIPESTATUS[0]}
[ "$rc_tests" -eq 5 ] && echo "(pytest: no CUDA tests were collected)"

echo "== benchmark, torchlogit on cuda"
# --peers fast: scikit-learn lbfgs (default tol) and newton-cholesky only, the references of the
# targets; the slow peers (lbfgs tol 1e-10, glum) add minutes and are covered by the CPU run.
timeout 300 "$PY" benchmarks/bench_solvers.py --device cuda --peers fast --repeat 3 \
    --markdown "$LOGDIR/bench-cuda.md" "$@" 2>&1 | tee "$LOGDIR/bench-cuda.log"
rc_bench=${PIPESTATUS[0]}

echo "== HIGGS-size data in GPU memory"
timeout 240 "$PY" benchmarks/_gpu_higgs.py --device cuda 2>&1 | tee "$LOGDIR/higgs-cuda.log"
rc_higgs=${PIPESTATUS[0]}

echo "== summary: pytest exit $rc_tests (5 = no tests collected), benchmark exit $rc_bench," \
     "HIGGS exit $rc_higgs (124 = timeout)"
[ "$rc_tests" -eq 0 ] || [ "$rc_tests" -eq 5 ] || exit "$rc_tests"
[ "$rc_bench" -eq 0 ] || exit "$rc_bench"
exit "$rc_higgs"
