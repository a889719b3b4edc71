"""Atomic file output: write to a temporary file beside the target, then rename over it.

A failed write leaves no partial output: the temporary file is removed and the target keeps its
old contents. Three details every output shares:

* **Names**: the temporary file is ``.<target name>.torchlogit-<host>-<pid>-<random>.tmp``, so
  one a killed process left behind (SIGKILL and power loss skip every clean-up) is recognisable.
  Each write first removes, in its own folder, the temporary files of processes of this host that
  no longer run; files of live processes, of other hosts (a shared folder) and every other name
  are left alone.
* **Modes**: the output gets the mode a plain ``open()`` would give it, ``0o666 & ~umask``,
  whatever the writer did to the temporary file (``mkstemp`` creates it ``0o600``).
* **Errors**: an ``OSError`` about the temporary file (a full disk, a read-only folder) names the
  output instead, keeping its errno: the temporary name means nothing to the user.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

# errors of writing that concern the file being written even when they name no file
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
# longest part of the target's name kept in the temporary one (file names are at most 255 bytes)
_NAME_BYTES = 120
_TEMP_NAME = re.compile(r"\..*\.torchlogit-(?P<host>[A-Za-z0-9]*)-(?P<pid>[0-9]+)-[A-Za-z0-9_]+\.tmp",
                        re.DOTALL)


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Fail early when ``path`` cannot become a file (a folder, or in a missing folder).

    Returns the folder the file goes in.
    """
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"output path {str(target)!r} is a directory")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"output folder {str(folder)!r} does not exist")
    return folder


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it to ``path``.

    On any exception the temporary file is removed, so a failed write leaves no partial output;
    an ``OSError`` about the temporary file is raised again naming ``path``.
    """
    target = Path(path)
    folder = check_writable(target)
    remove_stale_temp_files(folder)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=".tmp", dir=folder)
    except OSError as exc:  # e.g. a read-only folder: nothing was created
        raise _naming(exc, target) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        tmp.chmod(output_mode())  # last: a writer may have replaced the file with one of its own
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and _about(exc, tmp):
            raise _naming(exc, target, tmp) from exc
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_path`); returns the path.

    A full disk is an ``OSError`` with errno ``ENOSPC`` naming ``path``, and leaves nothing behind.
    """
    target = Path(path)
    with atomic_path(target) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    return target


def output_mode() -> int:
    """The mode ``open()`` gives a new file: ``0o666`` less the process's umask."""
    return 0o666 & ~_umask()


def remove_stale_temp_files(folder: str | os.PathLike[str]) -> None:
    """Remove the temporary files of :func:`atomic_path` in ``folder`` whose writer is gone.

    Only names of the pattern, written on this host by a process that no longer runs, are removed;
    the clean-up is best effort (an unreadable folder or a file removed meanwhile is no error).
    """
    host = _host()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        match = _TEMP_NAME.fullmatch(entry.name)
        if match is None or match["host"] != host or _alive(int(match["pid"])):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)


def _temp_prefix(target: Path) -> str:
    name = os.fsdecode(os.fsencode(target.name)[:_NAME_BYTES])
    return f".{name}.torchlogit-{_host()}-{os.getpid()}-"


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32]


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (on this host); True when that cannot be told."""
    if os.name != "posix" or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: it runs, as another user
        return True
    return True


def _umask() -> int:
    """The process's umask, from /proc where Linux shows it (setting it to read it is a race
    with threads creating files meanwhile), else by setting and restoring it."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _about(exc: OSError, tmp: Path) -> bool:
    """Whether ``exc`` concerns the temporary file: it names it, or it is a write error naming none."""
    if exc.filename is not None:
        return os.fspath(exc.filename) == str(tmp)
    return exc.errno in _WRITE_ERRNOS or str(tmp) in str(exc)


def _naming(exc: OSError, target: Path, tmp: Path | None = None) -> OSError:
    """``exc`` said of ``target``: the same errno (so the same ``OSError`` subclass) and reason."""
    if exc.errno is not None and exc.strerror:
        return OSError(exc.errno, exc.strerror, str(target))
    text = str(exc) if tmp is None else str(exc).replace(str(tmp), str(target))
    return OSError(f"{text} (writing {str(target)!r})" if str(target) not in text else text)
