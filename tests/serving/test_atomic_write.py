"""Atomic output files (torchlogit._fileio): the umask's mode, stale temporary files removed,
write errors naming the output."""

import errno
import os
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap

import pytest
import torch
from support.synthetic import make_classification_data

from torchlogit import LogisticRegression, _fileio
from torchlogit.serving.modelfile import save_model
from torchlogit.solvers.checkpoint import CHECKPOINT_FILE, Checkpoint

HOST = "".join(c for c in socket.gethostname() if c.isascii() and c.isalnum())[:32]


@pytest.fixture(scope="module")
def estimator():
    X, y, _ = make_classification_data(n=60, seed=4)
    return LogisticRegression().fit(X, y)


@pytest.fixture
def umask():
    """Set the process's umask for one test, then restore it."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield os.umask
    os.umask(saved)


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002], ids=oct)
def test_every_output_gets_the_umask_mode(tmp_path, estimator, umask, mask):
    umask(mask)
    model = save_model(estimator, tmp_path / "m.safetensors")
    Checkpoint(tmp_path / "ck").save(torch.zeros(1, 5, dtype=torch.float64), iteration=1, objective=0.5,
                                     grad_max=0.1)
    with _fileio.atomic_path(tmp_path / "p.csv") as tmp, open(tmp, "w") as handle:  # as predict writes
        handle.write("p\n0.5\n")
    expected = 0o666 & ~mask
    assert _mode(model) == expected  # was 0o600: safetensors' own temporary file and rename
    assert _mode(tmp_path / "ck" / CHECKPOINT_FILE) == expected
    assert _mode(tmp_path / "p.csv") == expected
    assert _mode(_fileio.write_bytes(tmp_path / "b.bin", b"x")) == expected


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporary_files_of_dead_writers_are_removed_and_only_those(tmp_path, estimator):
    dead, alive = _dead_pid(), os.getppid()
    stale = [f".m.safetensors.torchlogit-{HOST}-{dead}-k3j_x9ab.tmp",
             f".p.csv.torchlogit-{HOST}-{dead}-a1b2c3d4.tmp"]
    kept = [f".m.safetensors.torchlogit-{HOST}-{alive}-a1b2c3d4.tmp",  # a live writer
            f".m.safetensors.torchlogit-{HOST}x-{dead}-a1b2c3d4.tmp",  # another host's (a shared folder)
            f".m.safetensors.torchlogit-{HOST}-{dead}-a1b2c3d4.tmp.keep", ".tmpAbC123", "notes.tmp",
            f"m.safetensors.torchlogit-{HOST}-{dead}-a1b2c3d4.tmp"]  # not hidden: not our pattern
    for name in stale + kept:
        (tmp_path / name).write_text("partial")
    (tmp_path / f".d.torchlogit-{HOST}-{dead}-a1b2c3d4.tmp").mkdir()  # a folder is never removed
    save_model(estimator, tmp_path / "m.safetensors")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([*kept, "m.safetensors", f".d.torchlogit-{HOST}-{dead}-a1b2c3d4.tmp"])


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(tmp_path, estimator):
    target = tmp_path / "p.csv"
    script = textwrap.dedent(f"""
        import os, signal
        from torchlogit._fileio import atomic_path
        with atomic_path({str(target)!r}) as tmp:
            tmp.write_text("half a file")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    (leftover,) = tmp_path.iterdir()
    assert leftover.name.startswith(f".p.csv.torchlogit-{HOST}-") and leftover.name.endswith(".tmp")
    save_model(estimator, tmp_path / "m.safetensors")  # another output, same folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_clean_up_of_an_unreadable_or_missing_folder_is_no_error(tmp_path):
    _fileio.remove_stale_temp_files(tmp_path / "missing")


def test_a_long_output_name_still_gets_a_temporary_file(tmp_path):
    target = tmp_path / ("é" * 120 + ".csv")  # 244 bytes: the temporary name keeps a prefix of it
    _fileio.write_bytes(target, b"ok")
    assert target.read_bytes() == b"ok" and sorted(tmp_path.iterdir()) == [target]


def test_a_folder_refusing_new_files_names_the_output_not_the_temporary_file(tmp_path, monkeypatch):
    def refuse(**kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", os.path.join(kwargs["dir"], ".x.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    target = tmp_path / "p.csv"
    with pytest.raises(PermissionError, match=r"Permission denied: '.*p\.csv'") as info:
        _fileio.write_bytes(target, b"x")
    assert info.value.filename == str(target) and info.value.errno == errno.EACCES


def test_write_errors_in_the_body_name_the_output_and_others_pass_unchanged(tmp_path):
    target = tmp_path / "p.csv"
    full = r"No space left on device: '.*p\.csv'"
    with pytest.raises(OSError, match=full) as info, _fileio.atomic_path(target):
        raise OSError(errno.ENOSPC, "No space left on device")  # as a write on an open file says
    assert info.value.errno == errno.ENOSPC
    with pytest.raises(OSError, match=r"Permission denied: '.*p\.csv'"), _fileio.atomic_path(target) as tmp:
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp))
    with pytest.raises(OSError, match=r"cannot open '.*p\.csv'"), _fileio.atomic_path(target) as tmp:
        raise OSError(f"cannot open {str(tmp)!r}")  # e.g. pyarrow's messages, with no errno
    with pytest.raises(FileNotFoundError, match=r"'input\.csv'$"), _fileio.atomic_path(target):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "input.csv")  # an input's
    with pytest.raises(ValueError, match="bad row"), _fileio.atomic_path(target):
        raise ValueError("bad row")
    assert list(tmp_path.iterdir()) == []
