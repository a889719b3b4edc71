"""One rank of the 2-process test in test_distributed.py, launched with torchrun's environment.

``python dist_worker.py DATA OUT``: joins the group, fits with the CLI (rank 0 writes the model),
with the Python API on CSV, and with SGD (DistributedDataParallel), saving each rank's
coefficients; stops that SGD fit mid-epoch and resumes it from its checkpoint; then starts one
more CLI fit in which rank 1 dies at iteration 2, and rank 0 records its exit status, error line
and how long it took to fail.
"""

import contextlib
import io
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch.distributed

from torchlogit import LogisticRegression, distributed
from torchlogit.cli.main import main
from torchlogit.data.streaming import open_source
from torchlogit.estimators.streaming import fit_files, fit_streamed


def run(data: Path, out: Path) -> None:
    assert distributed.init_from_env()  # the CLI below finds the group and leaves it to us
    rank = distributed.rank()
    assert main(["fit", str(data / "pq"), "--target", "y", "--weight", "w", "--tol", "1e-10", "--quiet",
                 "--out", str(out / "cli.safetensors"), "--chunk-rows", "40"]) == 0
    csv = fit_files(LogisticRegression(tol=1e-10), [data / "a.csv", data / "b.csv"], target="y", weight="w",
                    chunk_rows=41)
    np.save(out / f"csv-{rank}.npy", np.hstack([csv.coef_, csv.intercept_[:, None]]))
    cg = fit_files(LogisticRegression(solver="newton_cg", tol=1e-10), data / "pq", target="y", weight="w",
                   chunk_rows=40)  # its preconditioner and products sum every rank's rows
    np.save(out / f"newton-cg-{rank}.npy", np.hstack([cg.coef_, cg.intercept_[:, None]]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 3 epochs do not converge, and need not
        sgd = fit_files(LogisticRegression(solver="sgd", max_iter=3, batch_size=16, random_state=0),
                        data / "pq", target="y", weight="w", chunk_rows=40)
    np.save(out / f"sgd-{rank}.npy", np.hstack([sgd.coef_, sgd.intercept_[:, None]]))
    np.save(out / f"sgd-resumed-{rank}.npy", _interrupted_and_resumed_sgd(data, out / "sgd-checkpoint"))
    if rank == 1:  # a rank that dies mid-fit
        def die(iteration, f, grad_max):
            if iteration == 2:
                sys.stdout.flush()
                os._exit(3)

        fit_files(LogisticRegression(tol=1e-12), data / "pq", target="y", weight="w", chunk_rows=40,
                  callback=die)
    started, stderr = time.perf_counter(), io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = main(["fit", str(data / "pq"), "--target", "y", "--weight", "w", "--tol", "1e-12", "--quiet",
                     "--chunk-rows", "40", "--out", str(out / "never.safetensors")])
    report = {"code": code, "stderr": stderr.getvalue(), "seconds": time.perf_counter() - started,
              "group_broken": distributed.group_broken()}
    (out / "dead.json").write_text(json.dumps(report))


def _interrupted_and_resumed_sgd(data: Path, checkpoint: Path) -> np.ndarray:
    """The SGD fit above, stopped on every rank as its 2nd epoch starts, run again from the checkpoint.

    (The ranks' shards hold different numbers of chunks and mini-batches, so the only point where
    all of them stand still together is between passes; mid-epoch resumption is tested in one
    process in test_checkpoint.py.)
    """
    def sgd():
        return LogisticRegression(solver="sgd", max_iter=3, batch_size=16, random_state=0)

    source = open_source(data / "pq", target="y", weight="w", chunk_rows=40)
    per_pass = sum(1 for _ in source.chunks())
    seen = []

    def interrupt(rows):  # passes: F, epoch 1, F, epoch 2, ...: stop at the first chunk of epoch 2
        seen.append(rows)
        if len(seen) == 3 * per_pass + 1:
            raise KeyboardInterrupt  # every rank at the same point, as when the whole job is killed

    source.on_chunk = interrupt
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit_streamed(sgd(), source, checkpoint=checkpoint, checkpoint_every=2)
        except KeyboardInterrupt:
            pass
        else:
            raise AssertionError("the SGD fit was not interrupted")
        torch.distributed.barrier()  # rank 0 has written the checkpoint
        resumed = fit_files(sgd(), data / "pq", target="y", weight="w", chunk_rows=40, checkpoint=checkpoint,
                            checkpoint_every=2)
    assert resumed.checkpoint_resumed_from_ == 1, resumed.checkpoint_resumed_from_
    return np.hstack([resumed.coef_, resumed.intercept_[:, None]])


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]))
    # Rank 0 survives a dead peer with its process group broken; the group's destructors at
    # interpreter exit then abort now and then ("terminate called without an active exception").
    # Everything is written: leave without them, as the CLI's entry point does
    # (torchlogit.cli.main.entrypoint).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
