"""Checkpoints: a fit killed mid-way and started again resumes and reaches the same coefficients."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
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


def _rewrite_checkpoint(folder, **replaced):
    """The checkpoint file with some tensors replaced, its header kept."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    path = folder / CHECKPOINT_FILE
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    save_file({**tensors, **replaced}, str(path), metadata=metadata)


def test_a_checkpoint_with_non_finite_coefficients_is_not_resumed(data, tmp_path):
    with pytest.warns(ConvergenceWarning):
        _fit(data, checkpoint=tmp_path, max_iter=2)
    coef, _ = Checkpoint(tmp_path).read()
    _rewrite_checkpoint(tmp_path, coef=torch.full_like(coef, float("nan")))
    with pytest.raises(ValueError, match=r"checkpoint '.*checkpoint\.safetensors' holds non-finite values "
                                         r"\(NaN or infinity\) in 'coef'.*remove it to start afresh"):
        _fit(data, checkpoint=tmp_path, max_iter=2)  # it resumed and saved a NaN model
    command = ["fit", str(data), "--target", "y", "--weight", "w", "--quiet", "--max-iter", "2",
               "--checkpoint", str(tmp_path), "--out", str(tmp_path / "m.safetensors")]
    assert main(command) == 1
    assert not (tmp_path / "m.safetensors").exists()


def test_non_finite_coefficients_are_never_saved(tmp_path):
    checkpoint = Checkpoint(tmp_path)
    good = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    checkpoint.save(good, iteration=1, objective=0.6, grad_max=0.1)
    for bad in (float("nan"), float("inf")):
        checkpoint.save(torch.tensor([[bad, 0.0, 0.0]], dtype=torch.float64), iteration=2, objective=0.5,
                        grad_max=0.1)
    coef, header = Checkpoint(tmp_path).read()
    assert header["iteration"] == 1 and torch.equal(coef, good)  # the last finite one stays
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_FILE]


def test_solver_snapshots_come_back_exactly_in_their_own_dtypes(tmp_path):
    coef = torch.tensor([[0.1, 0.2, 1 / 3]], dtype=torch.float64)
    state = {"coef": coef, "iteration": 4, "objective": 0.25, "grad_max": 1e-9, "phase": "full",
             "target": 2.5e-7, "hess": torch.rand(3, 3, dtype=torch.float64),
             "low": torch.rand(3, dtype=torch.float32), "keep_hessian": True}
    Checkpoint(tmp_path, config={"a": 1}).solver_hooks().on_state(state)
    resumed = Checkpoint(tmp_path, config={"a": 1})
    assert resumed.solver_hooks().state is None  # nothing read before restore
    start = resumed.restore(torch.zeros(1, 3, dtype=torch.float64))
    assert torch.equal(start, coef) and resumed.resumed_from == 4
    restored = resumed.solver_hooks().state
    assert restored.keys() == state.keys()
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            assert restored[key].dtype == value.dtype and torch.equal(restored[key], value), key
        else:
            assert restored[key] == value, key


def _mixed_precision_fit(data, monkeypatch, checkpoint=None, callback=None):
    import torchlogit.estimators.logistic as logistic

    monkeypatch.setattr(logistic, "FLOAT32_HESSIAN_MIN_WORK", 1)  # float32 Hessians from 1 value on
    monkeypatch.setattr(logistic, "FLOAT32_COPY_RATIO", 0)  # however small X is
    return _fit(data, checkpoint=checkpoint, callback=callback)


def _saved_dtypes(data, monkeypatch, folder):
    """The dtype of each iteration's checkpoint in a mixed-precision Newton fit."""
    dtypes = {}

    def record(iteration, f, grad_max):
        dtypes[iteration] = Checkpoint(folder).read()[0].dtype

    _mixed_precision_fit(data, monkeypatch, folder, record)
    return dtypes


def test_mixed_precision_checkpoints_keep_each_phase_dtype(data, tmp_path, monkeypatch):
    dtypes = _saved_dtypes(data, monkeypatch, tmp_path)
    phases = [dtypes[i] for i in sorted(dtypes)]
    assert phases[0] == torch.float32 and phases[-1] == torch.float64  # were all float64
    assert phases == sorted(phases, key=lambda d: d == torch.float64)  # float32 phase, then float64


def test_mixed_precision_newton_resumed_in_the_float64_phase_is_bit_for_bit(data, tmp_path, monkeypatch):
    dtypes = _saved_dtypes(data, monkeypatch, tmp_path / "probe")
    stop = min(i for i, dtype in dtypes.items() if dtype == torch.float64)
    assert stop < max(dtypes)  # an iteration of the float64 phase that is not the last one

    def interrupt(iteration, f, grad_max):
        if iteration == stop:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _mixed_precision_fit(data, monkeypatch, tmp_path / "ck", interrupt)
    assert Checkpoint(tmp_path / "ck").read()[0].dtype == torch.float64
    resumed = _mixed_precision_fit(data, monkeypatch, tmp_path / "ck")
    fresh = _mixed_precision_fit(data, monkeypatch)
    assert resumed.checkpoint_resumed_from_ == stop
    np.testing.assert_array_equal(resumed.coef_, fresh.coef_)  # was 2.9e-8 off
    np.testing.assert_array_equal(resumed.intercept_, fresh.intercept_)
    assert resumed.n_iter_[0] + stop == fresh.n_iter_[0]
