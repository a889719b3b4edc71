#!/usr/bin/env python
"""Streaming benchmark (issue 6): a Parquet data set larger than the memory budget, fitted exactly.

1. Writes a synthetic data set (default 20,000,000 rows × 30 float32 features, labels from a
   logistic model) in chunks of 1,000,000 rows, never all in memory: 10 files of 4 row groups
   under ``--data`` (default ``/tmp/torchlogit-bench-streaming``; reused when already there).
2. Times pyarrow alone reading and decoding every file to numpy (the floor of any pass).
3. Fits it streaming in a fresh process (1 process × 2 threads), the files memory-mapped
   (``memory_map=True``; ``--no-memory-map`` for the library's default, reading them): peak
   resident memory (``ru_maxrss``, mapped file pages included), wall time, passes, time per pass.
4. Fits it streaming with 2 gloo ranks × 1 thread each (torchrun's environment on loopback),
   and compares time and coefficients with step 3.
5. Fits the same rows in memory as float64 (``LogisticRegression.fit``, 4.8 GB) in another fresh
   process, and compares the coefficients.

Targets: peak RSS ≤ 1.5 GB; time per pass ≤ 1.5 × the pyarrow read; coefficients equal to the
in-memory fit to 1e-8; 2 ranks × 1 thread within 1.3× of 1 process × 2 threads, same result.

Usage::

    python benchmarks/bench_streaming.py                    # the full run (about 2 minutes once written)
    python benchmarks/bench_streaming.py --rows 2000000     # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

try:  # run from a checkout without installing
    import torchlogit  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

ROWS_PER_WRITE = 1_000_000
ROW_GROUP = 500_000
WRITES_PER_FILE = 2
TOL = 1e-10


# --------------------------------------------------------------------------- data
def generate(folder: Path, rows: int, d: int, seed: int = 0) -> list[Path]:
    """Write the data set in chunks; reuse it when the marker says it is already there."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    marker = folder / "_dataset.json"
    spec = {"rows": rows, "features": d, "seed": seed, "rows_per_write": ROWS_PER_WRITE,
            "row_group": ROW_GROUP}
    if marker.is_file() and json.loads(marker.read_text()) == spec:
        return sorted(folder.glob("*.parquet"))
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.parquet"):
        old.unlink()
    rng = np.random.default_rng(seed)
    beta = rng.normal(0.0, 0.3, d)
    shift, scale = rng.normal(0.0, 1.0, d), rng.uniform(0.5, 2.0, d)
    names = [f"x{j}" for j in range(d)]
    writes = -(-rows // ROWS_PER_WRITE)
    writer, paths = None, []
    for i in range(writes):
        n = min(ROWS_PER_WRITE, rows - i * ROWS_PER_WRITE)
        Z = rng.standard_normal((n, d), dtype=np.float32)
        X = Z * scale.astype(np.float32) + shift.astype(np.float32)
        p = 1.0 / (1.0 + np.exp(-(Z.astype(np.float64) @ beta - 0.5)))
        y = (rng.uniform(size=n) < p).astype(np.int64)
        table = pa.table({**{name: X[:, j] for j, name in enumerate(names)}, "y": y})
        if i % WRITES_PER_FILE == 0:
            if writer is not None:
                writer.close()
            paths.append(folder / f"part-{i // WRITES_PER_FILE:04d}.parquet")
            writer = pq.ParquetWriter(paths[-1], table.schema)
        writer.write_table(table, row_group_size=ROW_GROUP)
    writer.close()
    marker.write_text(json.dumps(spec))
    return paths


# --------------------------------------------------------------------------- phases (children)
def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _threads(n: int) -> None:
    import pyarrow as pa
    import torch

    torch.set_num_threads(n)
    pa.set_cpu_count(n)


def phase_floor(paths: list[Path], chunk_rows: int, threads: int) -> dict:
    """pyarrow alone: read and decode every column of every file to numpy, batch by batch.

    Three ways, each timed twice, the fastest counts: the plain ``iter_batches`` loop over each
    file; row group by row group in batches of ~270,000 rows, which pyarrow decodes faster; and
    the same from memory-mapped files (no kernel copy of the bytes), which is how the streamed
    source reads. So the floor is the fastest pyarrow read we know, never a slower one.
    """
    import pyarrow.parquet as pq

    from torchlogit.data.parquet_source import _READ_BYTES

    _threads(threads)
    read_rows = max(chunk_rows, _READ_BYTES // (8 * 31))
    times = {}
    ways = ("iter_batches", "by row group", "by row group, mapped")
    for way in ways + ways:
        start = time.perf_counter()
        rows = 0
        for path in paths:
            with pq.ParquetFile(path, memory_map=way.endswith("mapped")) as handle:
                if way == "iter_batches":
                    batches = handle.iter_batches(batch_size=chunk_rows, use_threads=True)
                else:
                    batches = (batch for group in range(handle.num_row_groups)
                               for batch in handle.iter_batches(batch_size=read_rows, row_groups=[group],
                                                                use_threads=True))
                for batch in batches:
                    arrays = [column.to_numpy(zero_copy_only=False) for column in batch.columns]
                    rows += len(arrays[0])
        times[way] = min(times.get(way, float("inf")), time.perf_counter() - start)
    way = min(times, key=times.get)
    return {"seconds": times[way], "way": way, "times": times, "rows": rows, "peak_rss_mb": _peak_rss_mb()}


def phase_stream(paths: list[Path], chunk_rows: int, threads: int, memory_map: bool) -> dict:
    """The streaming fit, as a user runs it (distributed when launched with torchrun's environment)."""
    from torchlogit import LogisticRegression, distributed
    from torchlogit.data.streaming import open_source
    from torchlogit.estimators.streaming import fit_streamed

    _threads(threads)
    distributed.init_from_env()
    if distributed.is_distributed():
        import torch.distributed as dist

        dist.barrier()
    start = time.perf_counter()
    source = open_source(paths, target="y", chunk_rows=chunk_rows, memory_map=memory_map)
    _ = source.classes  # the target-only pass
    classes_at = time.perf_counter()
    est = fit_streamed(LogisticRegression(tol=TOL), source)
    done = time.perf_counter()
    # one more pass on its own: reading, decoding and converting as the fit does, without the sums
    rows = sum(len(y) for _, y, _ in source.reusing_buffers().chunks())
    read_only = time.perf_counter() - done
    coef = np.hstack([est.coef_, est.intercept_[:, None]])
    result = {"fit_seconds": done - start, "classes_seconds": classes_at - start, "passes": est.n_passes_,
              "iterations": int(est.n_iter_[0]), "grad_max": est.grad_max_, "coef": coef.tolist(),
              "read_convert_seconds": read_only, "rows_read": rows, "peak_rss_mb": _peak_rss_mb(),
              "rank": distributed.rank(), "world": distributed.world_size()}
    distributed.shutdown()
    return result


def phase_memory(paths: list[Path], threads: int) -> dict:
    """The same rows in memory as float64, fitted with ``LogisticRegression.fit``."""
    import pyarrow.parquet as pq

    from torchlogit import LogisticRegression

    _threads(threads)
    meta = [pq.read_metadata(p) for p in paths]
    n = sum(m.num_rows for m in meta)
    names = [c for c in meta[0].schema.names if c != "y"]
    X = np.empty((n, len(names)), dtype=np.float64)
    y = np.empty(n, dtype=np.int64)
    start = 0
    for path in paths:
        with pq.ParquetFile(path) as handle:
            for batch in handle.iter_batches(batch_size=ROW_GROUP):
                stop = start + batch.num_rows
                for j, name in enumerate(names):
                    X[start:stop, j] = batch.column(name).to_numpy()
                y[start:stop] = batch.column("y").to_numpy()
                start = stop
    began = time.perf_counter()
    est = LogisticRegression(tol=TOL).fit(X, y)
    seconds = time.perf_counter() - began
    coef = np.hstack([est.coef_, est.intercept_[:, None]])
    return {"fit_seconds": seconds, "iterations": int(est.n_iter_[0]), "coef": coef.tolist(),
            "grad_max": est.grad_max_, "peak_rss_mb": _peak_rss_mb()}


# --------------------------------------------------------------------------- driver
def _child(phase: str, args: argparse.Namespace, paths: list[Path], threads: int,
           env: dict | None = None) -> subprocess.Popen:
    command = [sys.executable, __file__, "--phase", phase, "--threads", str(threads),
               "--chunk-rows", str(args.chunk_rows), "--data", str(args.data),
               *([] if args.memory_map else ["--no-memory-map"]), *map(str, paths)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": str(threads), **(env or {})})


def _result(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"a benchmark phase failed (exit {proc.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def _run(phase: str, args, paths, threads: int) -> dict:
    return _result(_child(phase, args, paths, threads))


def _two_ranks(args, paths) -> list[dict]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [_child("stream", args, paths, 1, env={"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
                                                     "WORLD_SIZE": "2", "RANK": str(r), "LOCAL_RANK": str(r)})
             for r in range(2)]
    return [_result(p) for p in procs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--chunk-rows", type=int, default=65_536)
    parser.add_argument("--data", type=Path, default=Path("/tmp/torchlogit-bench-streaming"))
    parser.add_argument("--skip-memory", action="store_true", help="skip the in-memory float64 reference fit")
    parser.add_argument("--no-memory-map", dest="memory_map", action="store_false",
                        help="read the Parquet files instead of mapping them (the library's default)")
    parser.add_argument("--phase", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase is not None:
        run = {"floor": lambda: phase_floor(args.paths, args.chunk_rows, args.threads),
               "stream": lambda: phase_stream(args.paths, args.chunk_rows, args.threads, args.memory_map),
               "memory": lambda: phase_memory(args.paths, args.threads)}[args.phase]
        print(json.dumps(run()))
        return

    started = time.perf_counter()
    paths = generate(args.data, args.rows, args.features)
    size = sum(p.stat().st_size for p in paths) / 1e9
    print(f"data: {args.rows:,} rows x {args.features} float32 features + int64 label, {len(paths)} Parquet "
          f"files, {size:.2f} GB on disk ({args.rows * args.features * 4 / 1e9:.1f} GB of float32 values), "
          f"in {args.data} (ready after {time.perf_counter() - started:.0f} s)")
    print(f"machine: {os.cpu_count()} cores; chunks of {args.chunk_rows:,} rows; Newton, tol {TOL:g}; "
          f"files {'memory-mapped (memory_map=True)' if args.memory_map else 'read (not mapped)'}")

    floor = _run("floor", args, paths, 2)
    stream = _run("stream", args, paths, 2)
    per_pass = (stream["fit_seconds"] - stream["classes_seconds"]) / stream["passes"]  # the label pass apart
    print(f"pyarrow read + decode to numpy (floor): {floor['seconds']:.2f} s per pass (fastest of: "
          + ", ".join(f"{way} {seconds:.2f} s" for way, seconds in floor["times"].items()) + ")")
    print(f"streaming fit, 1 process x 2 threads: {stream['fit_seconds']:.1f} s = label pass "
          f"{stream['classes_seconds']:.1f} s + {stream['passes']} full passes "
          f"({stream['iterations']} Newton iterations, max |gradient| {stream['grad_max']:.1e})")
    print(f"  time per pass {per_pass:.2f} s = {per_pass / floor['seconds']:.2f} x the pyarrow floor "
          f"(target <= 1.5); read+convert alone {stream['read_convert_seconds']:.2f} s "
          f"({stream['read_convert_seconds'] / floor['seconds']:.2f} x)")
    print(f"  peak resident memory {stream['peak_rss_mb']:.0f} MB (target <= 1500 MB; the float32 data "
          f"alone is {args.rows * args.features * 4 / 1e6:,.0f} MB)")
    coef = np.array(stream["coef"])

    # the ranks run right after the 1-process fit, before the 9 GB in-memory fit (which slowed
    # the ranks that followed it by up to 30%)
    ranks = _two_ranks(args, paths)
    rank0 = next(r for r in ranks if r["rank"] == 0)
    diff = np.abs(coef - np.array(rank0["coef"])).max()
    same = all(r["coef"] == rank0["coef"] for r in ranks)
    ratio = rank0["fit_seconds"] / stream["fit_seconds"]
    print(f"2 gloo ranks x 1 thread: {rank0['fit_seconds']:.1f} s ({rank0['passes']} passes, "
          f"{rank0['fit_seconds'] / rank0['passes']:.2f} s per pass), {ratio:.2f} x the 1 process x 2 "
          f"threads time (target within 1.3 x); peak RSS per rank "
          f"{max(r['peak_rss_mb'] for r in ranks):.0f} MB; "
          f"ranks identical: {same}; max |coef difference| vs 1 process {diff:.1e}")

    if not args.skip_memory:
        memory = _run("memory", args, paths, 2)
        diff = np.abs(coef - np.array(memory["coef"])).max()
        print(f"in-memory float64 fit (LogisticRegression.fit, {memory['peak_rss_mb'] / 1e3:.1f} GB peak): "
              f"{memory['fit_seconds']:.1f} s, {memory['iterations']} iterations, max |gradient| "
              f"{memory['grad_max']:.1e}; max |coef difference| vs streaming {diff:.1e} (target <= 1e-8)")
    print(f"total benchmark time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
