"""Atomic file writes: a file appears complete under its name, or not at all.

Everything workscope writes for a user (manifests, reports, exports, models, query results)
goes through here: the data is written to a temporary file beside the target, flushed to
disk, and renamed over it, so a crash or Ctrl-C never leaves a half-written file.

The file gets the permissions of any file the user creates (0666 less the umask), not the
0600 of a temporary file. A writer holds an advisory lock on its temporary file while it
writes; a temporary file that nobody holds was left by a killed writer and is removed by the
next write to the same target.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from workscope.errors import OutputPathError, write_error
from workscope.pathglob import glob_escape


def _umask() -> int:
    """The process umask, read without changing it where the system tells it."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def try_lock(path: Path, shared: bool = False, create: bool = False) -> int | None:
    """An fd holding an flock on ``path`` (blocking if ``shared``, else non-blocking), or None
    if the file is absent, cannot be opened, or (exclusive) someone else holds it.

    How workscope tells a live writer's or reader's file from one a killed process left: the
    kernel drops a dead process's locks, whatever PID namespace it ran in.
    """
    try:
        fd = os.open(path, os.O_RDONLY | (os.O_CREAT if create else 0), 0o666)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _remove_stale(path: Path) -> None:
    """Delete temporary files of ``path`` that no live writer holds (a killed writer's)."""
    for tmp in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
        fd = try_lock(tmp)
        if fd is not None:  # else a live writer holds it
            tmp.unlink(missing_ok=True)
            os.close(fd)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces it only if the block succeeds."""
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{path} is a directory; give the path of the file to write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise (write_error(exc, path) or exc) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.fchmod(fd, 0o666 & ~_umask())
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise (write_error(exc, path) or exc) from None
    finally:
        os.close(fd)
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)
