"""Checkpoints: a fit killed mid-way and started again resumes and reaches the same coefficients."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from support.streaming_data import make_table, write_parquet_files

from torchlogit import ConvergenceWarning, LogisticRegression
from torchlogit.cli.main import main
from torchlogit.data.streaming import open_source
from torchlogit.estimators.streaming import fit_files, fit_streamed
from torchlogit.solvers.checkpoint import CHECKPOINT_FILE, Checkpoint


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    table, *_ = make_table(n=301, n_classes=3, seed=7)
    write_parquet_files(folder, table, splits=(0.5,), row_group_size=40)
    return folder


def _fit(data, checkpoint=None, callback=None, tol=1e-10, **params):
    return fit_files(LogisticRegression(tol=tol, **params), data, target="y", weight="w", chunk_rows=33,
                     checkpoint=checkpoint, callback=callback)


def test_newton_resumes_after_a_kill_and_ends_at_the_same_coefficients(data, tmp_path):
    folder = tmp_path / "ck"
    script = textwrap.dedent(f"""
        import os, signal
        from torchlogit import LogisticRegression
        from torchlogit.estimators.streaming import fit_files

        def kill(iteration, f, grad_max):
            if iteration == 3:
                os.kill(os.getpid(), signal.SIGKILL)  # no clean-up, as a crash or an OOM kill

        fit_files(LogisticRegression(tol=1e-10), {str(data)!r}, target="y", weight="w", chunk_rows=33,
                  checkpoint={str(folder)!r}, callback=kill)
    """)
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    assert sorted(p.name for p in folder.iterdir()) == [CHECKPOINT_FILE]  # no temporary file left
    _, header = Checkpoint(folder).read()
    assert header["iteration"] == 3

    resumed = _fit(data, checkpoint=folder)
    fresh = _fit(data)
    assert resumed.checkpoint_resumed_from_ == 3
    assert resumed.n_iter_[0] + 3 == fresh.n_iter_[0]
    np.testing.assert_array_equal(resumed.coef_, fresh.coef_)  # the same Newton steps, bit for bit
    np.testing.assert_array_equal(resumed.intercept_, fresh.intercept_)
    again = _fit(data, checkpoint=folder)  # a finished fit's checkpoint: nothing left to do
    assert again.n_iter_[0] == 0 and again.checkpoint_resumed_from_ == fresh.n_iter_[0]


def test_adam_resumes_mid_epoch_and_retraces_the_run(data, tmp_path):
    def adam():
        return LogisticRegression(solver="adam", max_iter=4, batch_size=16, learning_rate=0.05,
                                  random_state=3)

    source = open_source(data, target="y", weight="w", chunk_rows=33)
    seen = []

    def interrupt(rows):  # 14 chunks a pass (F, epoch 1, F, epoch 2, ...): the 8th chunk of epoch 2
        seen.append(rows)
        if len(seen) == 50:
            raise KeyboardInterrupt  # in-process stand-in for the SIGKILL above: only the file survives

    source.on_chunk = interrupt
    with pytest.raises(KeyboardInterrupt):
        fit_streamed(adam(), source, checkpoint=tmp_path, checkpoint_every=5)
    state = Checkpoint(tmp_path).read()[1]["stochastic"]
    assert (state["epoch"], state["batch"]) == (2, 10)  # 14 mini-batches done before it, saved every 5
    assert state["optimizer"]["param_groups"][0]["betas"] == [0.9, 0.999]

    def run(checkpoint=None):
        with pytest.warns(ConvergenceWarning):
            return fit_files(adam(), data, target="y", weight="w", chunk_rows=33, checkpoint=checkpoint,
                             checkpoint_every=5)

    resumed, fresh = run(tmp_path), run()
    assert resumed.checkpoint_resumed_from_ == 2
    np.testing.assert_array_equal(resumed.coef_, fresh.coef_)  # the same Adam steps, bit for bit
    np.testing.assert_array_equal(resumed.intercept_, fresh.intercept_)
    assert resumed.n_iter_[0] == fresh.n_iter_[0] == 4


def test_lbfgs_resumes_with_a_fresh_history_and_reaches_the_optimum(data, tmp_path):
    def interrupt(iteration, f, grad_max):
        if iteration == 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _fit(data, checkpoint=tmp_path, callback=interrupt, solver="lbfgs")
    saved = Checkpoint(tmp_path).read()[1]
    assert 1 <= saved["iteration"] <= 6
    resumed = _fit(data, checkpoint=tmp_path, solver="lbfgs", tol=1e-9)  # tol may change on resume
    assert resumed.checkpoint_resumed_from_ == saved["iteration"]
    newton = _fit(data)
    np.testing.assert_allclose(resumed.coef_, newton.coef_, rtol=0, atol=1e-6)


def test_a_checkpoint_of_another_fit_is_refused(data, tmp_path):
    with pytest.warns(ConvergenceWarning):
        _fit(data, checkpoint=tmp_path, max_iter=2)
    with pytest.raises(ValueError, match=r"was written for a different fit \(settings that differ: params\)"):
        _fit(data, checkpoint=tmp_path, C=0.5)
    (tmp_path / CHECKPOINT_FILE).write_bytes(b"garbage")
    with pytest.raises(ValueError, match="is unreadable"):
        _fit(data, checkpoint=tmp_path)


def test_cli_checkpoint_resumes(data, tmp_path, capsys):
    command = ["fit", str(data), "--target", "y", "--weight", "w", "--quiet", "--checkpoint",
               str(tmp_path / "ck"), "--out", str(tmp_path / "m.safetensors")]
    assert main(command) == 0
    assert "resumed" not in capsys.readouterr().out
    assert main(command) == 0
    out = capsys.readouterr().out
    assert "resumed from the checkpoint" in out and ", 0 iterations" in out
    config = Checkpoint(tmp_path / "ck").read()[1]["config"]
    assert config["target"] == "y" and config["classes"] == ["ant", "bee", "cat"]
    assert json.dumps(config)  # plain JSON in the file's header
