"""Two gloo ranks on loopback, launched as torchrun would: the 1-process answer; no hang on a dead rank."""

import json
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from support.streaming_data import make_table, write_csv_file, write_parquet_files

from torchlogit import LogisticRegression
from torchlogit.estimators.streaming import fit_files
from torchlogit.serving.modelfile import load_model

WORKER = Path(__file__).with_name("support") / "dist_worker.py"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dist")
    table, *_ = make_table(n=401, n_classes=3, seed=5)
    write_parquet_files(folder / "pq", table, splits=(0.5,), row_group_size=50)
    write_csv_file(folder / "a.csv", table.slice(0, 150))
    write_csv_file(folder / "b.csv", table.slice(150))
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(command, world=2, timeout=180):
    """Start ``world`` processes with torchrun's environment variables; wait for all."""
    port, procs = _free_port(), []
    for rank in range(world):
        env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": str(world),
               "RANK": str(rank), "LOCAL_RANK": str(rank), "OMP_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join([str(WORKER.parent.parent), os.environ.get("PYTHONPATH", "")])}
        procs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    outputs = [proc.communicate(timeout=timeout) for proc in procs]
    return [(proc.returncode, *output) for proc, output in zip(procs, outputs, strict=True)]


def test_two_gloo_ranks_give_the_one_process_coefficients_and_fail_cleanly(data, tmp_path):
    ranks = _launch([sys.executable, str(WORKER), str(data), str(tmp_path)])
    (code0, out0, err0), (code1, out1, err1) = ranks
    assert code1 == 3, err1  # rank 1 died on purpose in the last fit
    assert code0 == 0, err0
    assert "2 ranks" in out0 and "wrote" in out0
    assert out1 == ""  # rank 0 alone prints and writes

    single = fit_files(LogisticRegression(tol=1e-10), data / "pq", target="y", weight="w", chunk_rows=40)
    cli = load_model(tmp_path / "cli.safetensors")
    np.testing.assert_allclose(cli.coef_, single.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(cli.intercept_, single.intercept_, rtol=0, atol=1e-10)
    csv = [np.load(tmp_path / f"csv-{r}.npy") for r in (0, 1)]
    np.testing.assert_array_equal(csv[0], csv[1])  # every rank takes the identical steps
    np.testing.assert_allclose(csv[0][:, :-1], single.coef_, rtol=0, atol=1e-10)
    cg = [np.load(tmp_path / f"newton-cg-{r}.npy") for r in (0, 1)]
    np.testing.assert_array_equal(cg[0], cg[1])  # Hessian-vector products all-reduced: ranks in step
    np.testing.assert_allclose(cg[0][:, :-1], single.coef_, rtol=0, atol=1e-9)
    sgd = [np.load(tmp_path / f"sgd-{r}.npy") for r in (0, 1)]
    np.testing.assert_array_equal(sgd[0], sgd[1])  # DDP averages the gradients: the ranks stay in step
    for r in (0, 1):  # stopped mid-epoch and resumed from the checkpoint: the same steps, bit for bit
        np.testing.assert_array_equal(np.load(tmp_path / f"sgd-resumed-{r}.npy"), sgd[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = fit_files(LogisticRegression(solver="sgd", max_iter=3, batch_size=16), data / "pq",
                        target="y", weight="w", chunk_rows=40)
    assert np.abs(sgd[0][:, :-1] - one.coef_).max() < 0.5  # the same objective, other mini-batches

    dead = json.loads((tmp_path / "dead.json").read_text())
    assert dead["code"] == 1 and dead["group_broken"]  # so the CLI's entry point skips its destructors
    assert dead["stderr"].startswith("torchlogit: error: rank 0 of 2: all_reduce failed; another rank has "
                                     "probably died")
    assert dead["stderr"].count("\n") == 1
    assert dead["seconds"] < 60  # at once, not after the 600 s timeout: the dead rank's sockets closed
    assert not (tmp_path / "never.safetensors").exists()


@pytest.mark.parametrize("broken", [False, True])
def test_cli_entry_point_leaves_a_broken_process_group_without_its_destructors(monkeypatch, broken):
    from torchlogit import distributed
    from torchlogit.cli import main as _cli

    monkeypatch.setattr(_cli, "main", lambda: 1)
    monkeypatch.setattr(distributed, "group_broken", lambda: broken)
    exits = []

    def fake_exit(code):
        exits.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(_cli.os, "_exit", fake_exit)
    with pytest.raises(SystemExit) as stopped:
        _cli.entrypoint()
    assert stopped.value.code == 1
    assert exits == ([1] if broken else [])
