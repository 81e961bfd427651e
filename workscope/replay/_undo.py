"""Undo a failed export: the output path is left exactly as it was before the export began.

Each file an exporter writes is atomic on its own (workscope.atomic), but a multi-file
export (a directory target, or a file plus its ``.ids.csv`` mapping) that fails part-way
would leave some files new and some old, or new files beside an old directory. So before
an export the files it may touch are hard-linked into a hidden backup folder beside the
output; if the export raises (an error, Ctrl-C), files it created are removed, files it
replaced are put back from their links, directories it created are removed; on success the
backup is dropped. The backup folder holds a lock while in use: one left by a killed export
is removed by the next export to the same path.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from workscope.atomic import try_lock
from workscope.pathglob import glob_escape


def _watched(out: Path, directory: bool) -> tuple[dict[Path, tuple[int, int]], set[Path]]:
    """The files an export to ``out`` may touch, with their (device, inode), and the directories."""
    files: dict[Path, tuple[int, int]] = {}
    dirs: set[Path] = set()
    if directory:
        # exporters write into ``out`` and one level of sub-folders (invitro's trace/); a
        # deeper walk could cost a lot when --out is a large existing folder
        if out.is_dir():
            dirs.add(out)
            for level in (out, *(d for d in _children(out) if d.is_dir() and not d.is_symlink())):
                if level != out:
                    dirs.add(level)
                for p in _children(level):
                    with contextlib.suppress(OSError):
                        st = p.lstat()
                        if not p.is_dir() or p.is_symlink():
                            files[p] = (st.st_dev, st.st_ino)
        return files, dirs
    # a file target writes ``out`` and siblings named after it: ``<out>.ids.csv`` (swf),
    # ``<stem>.ids.csv`` (openb)
    if out.parent.is_dir():
        for p in [*out.parent.glob(f"{glob_escape(out.name)}*"), out.with_name(out.stem + ".ids.csv")]:
            with contextlib.suppress(OSError):
                st = p.lstat()
                if not p.is_dir():
                    files[p] = (st.st_dev, st.st_ino)
    return files, dirs


def _children(d: Path) -> list[Path]:
    """The entries of folder ``d`` (none when it cannot be listed)."""
    try:
        return list(d.iterdir())
    except OSError:
        return []


def _remove_stale(out: Path) -> None:
    """Delete backup folders of ``out`` that no live export holds (a killed export's)."""
    if not out.parent.is_dir():
        return
    for d in out.parent.glob(f".{glob_escape(out.name)}.undo.*"):
        fd = try_lock(d / ".lock")
        if fd is not None:  # else a live export holds it
            shutil.rmtree(d, ignore_errors=True)
            os.close(fd)


@contextlib.contextmanager
def undo_on_failure(out: Path, *, directory: bool) -> Iterator[None]:
    """Run the block; if it raises, put ``out`` (a file or, with ``directory``, a folder) back as it was."""
    out = Path(out)
    _remove_stale(out)
    existed = out.exists()
    # folders that the export's mkdir(parents=True) would create: removed again on failure
    missing = [a for a in out.parents if not a.exists()]
    before, dirs_before = _watched(out, directory)
    backup: Path | None = None
    lock_fd: int | None = None
    links: dict[Path, Path] = {}
    if before:
        backup = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.undo."))
        lock_fd = os.open(backup / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        for i, p in enumerate(before):
            link = backup / str(i)
            try:
                os.link(p, link)
            except OSError:
                continue  # a file system without hard links: that file cannot be put back
            links[p] = link
    try:
        yield
    except BaseException:
        _restore(out, directory, existed, before, dirs_before, links)
        for a in missing:  # deepest first
            with contextlib.suppress(OSError):
                a.rmdir()
        raise
    finally:
        if lock_fd is not None:
            os.close(lock_fd)
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)


def _restore(out: Path, directory: bool, existed: bool, before: dict[Path, tuple[int, int]],
             dirs_before: set[Path], links: dict[Path, Path]) -> None:
    """Remove what the failed export created and put back what it replaced (best effort)."""
    after, dirs_after = _watched(out, directory)
    for p, ident in after.items():
        if p not in before:
            with contextlib.suppress(OSError):
                p.unlink()
        elif ident != before[p] and p in links:
            with contextlib.suppress(OSError):
                os.replace(links[p], p)
    for p in before:
        if p not in after and p in links:
            with contextlib.suppress(OSError):
                os.link(links[p], p)
    for d in sorted(dirs_after - dirs_before, key=lambda d: len(d.parts), reverse=True):
        with contextlib.suppress(OSError):
            d.rmdir()
    if not existed and out.is_dir():
        with contextlib.suppress(OSError):
            out.rmdir()
