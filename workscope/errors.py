"""The workscope exception tree.

Every error that workscope raises on purpose derives from :class:`WorkscopeError`, so a
caller can catch one root. Errors split by who must act: :class:`UsageError` (the caller
asked for something that cannot be, CLI exit code 2) and :class:`DataError` (the data or
the run failed, CLI exit code 1). Messages are one line and name the file, the line or byte
offset where known, and what to do.
"""

from __future__ import annotations

import difflib
import errno
from collections.abc import Iterable
from pathlib import Path


class WorkscopeError(Exception):
    """Root of every error that workscope raises on purpose."""

    exit_code: int = 1


class UsageError(WorkscopeError):
    """The request itself is wrong (unknown name, bad option); exit code 2."""

    exit_code = 2


class DataError(WorkscopeError):
    """The data or the run failed; exit code 1."""

    exit_code = 1


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean X?)' for the closest of ``choices``, or ''."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


class UnknownNameError(UsageError):
    """A name (format, table, option, trace) that does not exist."""

    def __init__(self, kind: str, name: str, choices: Iterable[str]) -> None:
        choices = sorted(choices)
        self.kind, self.name, self.choices = kind, name, choices
        hint = did_you_mean(name, choices)
        listing = ", ".join(choices) if len(choices) <= 40 else f"{len(choices)} choices"
        super().__init__(f"unknown {kind} {name!r}{hint}; known: {listing}")


class UnknownFormatError(UnknownNameError):
    """A reader name that is not registered."""

    def __init__(self, name: str, choices: Iterable[str]) -> None:
        super().__init__("format", name, choices)


class UnknownTableError(UnknownNameError):
    """A table name that is not canonical or not present in a trace."""

    def __init__(self, name: str, choices: Iterable[str]) -> None:
        super().__init__("table", name, choices)


class TraceNotFoundError(UnknownNameError):
    """No trace of that name in the store."""

    def __init__(self, name: str, choices: Iterable[str]) -> None:
        super().__init__("trace", name, choices)


class InvalidNameError(UsageError):
    """A user-given name (trace, option) that is not allowed."""


class TraceExistsError(InvalidNameError):
    """A trace of that name is already in the store (and replacing it was not asked for)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"trace {name!r} already exists with other sources or options; "
                         "pass --force to replace it, or --name to choose another name")
        self.name = name


class OptionError(UsageError):
    """A reader option that is unknown or has the wrong type."""


class FormatDetectionError(UsageError):
    """No registered reader recognises the input; pass --format."""


class SourceError(DataError):
    """A source file that cannot be read at all.

    Carries the file, a line or byte offset where known, and a hint saying what to do.
    """

    def __init__(
        self,
        path: str | Path,
        problem: str,
        *,
        line: int | None = None,
        offset: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.path, self.problem, self.line, self.offset, self.hint = (
            str(path),
            problem,
            line,
            offset,
            hint,
        )
        where = str(path)
        if line is not None:
            where += f":{line}"
        elif offset is not None:
            where += f" (byte {offset})"
        msg = f"{where}: {shorten(problem)}"
        if hint:
            msg += f"; {hint}"
        super().__init__(msg)


MAX_PROBLEM_CHARS = 600


def shorten(text: str, limit: int = MAX_PROBLEM_CHARS) -> str:
    """``text`` cut in the middle to ``limit`` characters: a message quoting a source's header
    or value stays one readable line when the file has no newlines (a megabyte 'header')."""
    if len(text) <= limit:
        return text
    keep = (limit - 5) // 2
    return f"{text[:keep]} ... {text[-keep:]}"


class EmptySourceError(SourceError):
    """The source holds no data rows (empty file or header only)."""


class MissingColumnError(SourceError):
    """The source lacks a column that its format requires."""


class CorruptSourceError(SourceError):
    """A compressed source or archive is truncated or damaged."""


class StoreError(DataError):
    """The trace store is damaged or locked."""


class QueryError(DataError):
    """An SQL query failed."""


class TaskSpecError(UsageError, ValueError):
    """A prediction task, model or training setting that cannot be (a ValueError too)."""


class TaskDataError(DataError, ValueError):
    """The trace cannot give a task's windows, or a checkpoint cannot be read (a ValueError too)."""


class OutputPathError(UsageError):
    """An output path that cannot be one: a directory where a file is to be written."""


class InternalError(DataError):
    """Something workscope did not expect: a bug, reported as one line (exit code 1)."""


class WriteError(DataError):
    """The system refused a write: the disk is full, the place is not writable, or the
    output path is taken by something else."""


_DISK_FULL = ("no space left on device", "os error 28", "disk quota exceeded", "os error 122",
              '"errno":"28"')


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (an OSError, or a polars / DuckDB error carrying one as text) says the
    disk is full."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return any(s in str(exc).lower() for s in _DISK_FULL)


def write_error(exc: BaseException, target: str | Path | None = None) -> WorkscopeError | None:
    """The WriteError that ``exc`` means for the output ``target``, or None when it is not a
    refused write (a bug, or a failure of another kind)."""
    name = str(target or getattr(exc, "filename", None) or "the output")
    if is_disk_full(exc):
        return WriteError(f"{name}: the disk is full (no space left on device); free space or "
                          "write elsewhere (--out, --home) and run again; nothing was replaced")
    if isinstance(exc, OSError):
        what = {errno.EACCES: "permission denied", errno.EPERM: "not permitted",
                errno.EROFS: "the file system is read-only", errno.EISDIR: "is a directory",
                errno.ENOTDIR: "a part of the path is a file, not a folder",
                errno.ENAMETOOLONG: "the name is too long"}.get(exc.errno or 0)
        if what is not None:
            return WriteError(f"{name}: cannot write: {what}; choose another place (--out, --home)")
        if exc.strerror:
            return WriteError(f"{name}: {exc.strerror.lower()}")
    return None
