"""The trace store: a directory of traces, each complete or absent.

Layout::

    <home>/traces/<name>/manifest.json
    <home>/traces/<name>/<table>/part-00000.parquet   (zstd, provenance in key-value metadata)
    <home>/traces/<name>/rejects/part-00000.parquet   (table, file, line, raw, reason)
    <home>/.staging/                                  (work in progress; never read as a trace)

A trace is built in ``.staging`` and renamed into ``traces/`` only when complete, so a crash
or a kill at any moment leaves ``traces/`` as it was. Replacing a trace parks the old one in
staging first; opening the store rolls back such a swap if the process died between the two
renames.

The store knows nothing of formats: the ingest pipeline (:mod:`workscope.ingest.pipeline`)
builds a trace in a directory that :meth:`Store.staging` hands it and publishes it with
:meth:`Store.commit`. ``workscope.open()`` returns a store with that pipeline attached.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from workscope.errors import (
    InvalidNameError,
    StoreError,
    TraceExistsError,
    TraceNotFoundError,
    UnknownTableError,
    WorkscopeError,
)
from workscope.pathglob import glob_escape
from workscope.schemas import REJECTS_SCHEMA

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
RESERVED_NAMES = frozenset({"main", "temp", "system", "memory", "information_schema", "pg_catalog"})
"""Schema names the SQL engine keeps for itself (compared case-insensitively): a trace so
named would shadow them and break every query over the store."""
MANIFEST = "manifest.json"
REJECTS = "rejects"


def default_home() -> Path:
    """``$WORKSCOPE_HOME`` if set, else ``./workscope-data``."""
    return Path(os.environ.get("WORKSCOPE_HOME") or "workscope-data")


def check_name(name: str) -> str:
    """Validate a trace name (it becomes a directory and an SQL schema name)."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise InvalidNameError(
            f"invalid trace name {name!r}: use letters, digits and '_', starting with a letter "
            "or '_', at most 64 characters"
        )
    if name.lower() in RESERVED_NAMES:
        raise InvalidNameError(
            f"trace name {name!r} is reserved by the SQL engine ({', '.join(sorted(RESERVED_NAMES))}); "
            "choose another name with --name"
        )
    return name


def name_from_path(path: Path) -> str:
    """A default trace name from a file or directory name."""
    stem = path.name
    for suffix in (".gz", ".zip", ".tar", ".csv", ".jsonl", ".json", ".swf", ".txt", ".parquet"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    name = re.sub(r"[^A-Za-z0-9_]+", "_", stem).strip("_").lower() or "trace"
    if not (name[0].isalpha() or name[0] == "_"):
        name = "t_" + name
    return name[:64]



def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Trace:
    """One ingested trace: its manifest, its tables as lazy frames, SQL over them."""

    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.name = name
        self.path = store.traces_dir / name
        self._manifest: dict[str, Any] | None = None

    @property
    def manifest(self) -> dict[str, Any]:
        """The trace's manifest (provenance, options, row counts)."""
        if self._manifest is None:
            try:
                self._manifest = json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise StoreError(f"{self.path / MANIFEST}: unreadable manifest ({exc}); "
                                 f"remove the trace with `workscope rm {self.name}` and ingest again") from None
        return self._manifest

    @property
    def tables(self) -> list[str]:
        """Canonical tables this trace holds."""
        return list(self.manifest["tables"])

    def files(self, table: str) -> list[Path]:
        """The Parquet files of ``table`` (``rejects`` included)."""
        if table != REJECTS and table not in self.tables:
            raise UnknownTableError(table, [*self.tables, REJECTS])
        return sorted((self.path / table).glob("*.parquet"))

    def glob(self, table: str) -> str:
        """A glob of the table's Parquet files, for DuckDB or any Parquet reader.

        Glob characters in the store's own path (``st*re``, ``data [v1]``) are escaped, so
        the glob never reaches another directory's files.
        """
        self.files(table)
        return glob_escape(str(self.path / table)) + "/*.parquet"

    def scan(self, table: str) -> pl.LazyFrame:
        """The table as a polars LazyFrame (nothing is read until collected)."""
        return pl.scan_parquet(self.files(table), glob=False)

    def read(self, table: str) -> pl.DataFrame:
        """The table as a polars DataFrame (eager; prefer :meth:`scan` for big traces)."""
        return self.scan(table).collect()

    def rejects(self) -> pl.LazyFrame:
        """The rejected rows: table, file, line, raw text, reason."""
        return pl.scan_parquet(self.files(REJECTS), glob=False)

    def engine(self) -> Any:
        """A DuckDB engine with this trace's tables registered as views."""
        from workscope.engine import DuckDBEngine

        eng = DuckDBEngine()
        eng.register_trace(self, default=True)
        return eng

    def sql(self, query: str) -> pl.DataFrame:
        """Run SQL over this trace's tables (views named after the tables)."""
        return self.engine().sql_polars(query)

    def __repr__(self) -> str:
        return f"Trace({self.name!r}, tables={self.tables})"


class Store:
    """A directory of ingested traces."""

    def __init__(self, home: str | Path | None = None) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.traces_dir = self.home / "traces"
        self.staging_dir = self.home / ".staging"
        self._recover()

    # ------------------------------------------------------------------ catalog
    def names(self) -> list[str]:
        """Names of the traces in the store."""
        if not self.traces_dir.is_dir():
            return []
        return sorted(p.name for p in self.traces_dir.iterdir()
                      if p.is_dir() and (p / MANIFEST).is_file())

    def trace(self, name: str) -> Trace:
        """The trace called ``name``; TraceNotFoundError with close names if absent."""
        if name not in self.names():
            raise TraceNotFoundError(name, self.names())
        return Trace(self, name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    def catalog(self) -> pl.DataFrame:
        """One row per trace: name, format, tables, rows, rejects, size, ingest time."""
        rows = []
        for n in self.names():
            m = Trace(self, n).manifest
            rows.append({
                "name": n,
                "format": m["reader"]["name"],
                "tables": ",".join(m["tables"]),
                "rows": sum(t["rows_ok"] for t in m["tables"].values()),
                "rejected": sum(t["rows_rejected"] for t in m["tables"].values()),
                "bytes": sum(f.stat().st_size for f in (self.traces_dir / n).rglob("*.parquet")),
                "created_utc": m["created_utc"],
            })
        schema = {"name": pl.String, "format": pl.String, "tables": pl.String, "rows": pl.Int64,
                  "rejected": pl.Int64, "bytes": pl.Int64, "created_utc": pl.String}
        return pl.DataFrame(rows, schema=schema)

    def remove(self, name: str) -> None:
        """Delete a trace (atomically: it disappears at once, files are removed after)."""
        self.trace(name)
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        with self._lock():
            trash = self.staging_dir / f"{name}.rm-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            os.rename(self.traces_dir / name, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def check_unique(self, name: str) -> None:
        """Raise InvalidNameError if another trace's name differs from ``name`` only in case
        (SQL names are case-insensitive, so ``Conv`` and ``conv`` would resolve to one)."""
        clash = next((n for n in self.names() if n != name and n.lower() == name.lower()), None)
        if clash is not None:
            raise InvalidNameError(f"trace name {name!r} differs only in case from the trace {clash!r}, "
                                   "and SQL names ignore case; choose another name with --name")

    # ------------------------------------------------------------------ building a trace
    @contextlib.contextmanager
    def staging(self, name: str) -> Iterator[Path]:
        """A private, empty work directory for building trace ``name``; removed on exit.

        Build the trace in a subdirectory and publish it with :meth:`commit` before leaving
        the block; whatever is left (the whole directory, on an error too) is deleted, and a
        process killed inside the block leaves it for the next :meth:`_recover` to remove.
        """
        check_name(name)
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        self.traces_dir.mkdir(parents=True, exist_ok=True)
        work = self.staging_dir / f"{name}.new-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        work.mkdir()
        try:
            yield work
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def commit(self, name: str, build: Path, *, replace: bool = False) -> str:
        """Publish the complete trace directory ``build`` as trace ``name`` (atomic rename).

        The check for an existing trace and the rename are one locked step, so of two
        writers of one new name the second gets TraceExistsError instead of silently
        replacing the first, unless ``replace``. Returns "created", or "replaced" (the old
        trace is parked in staging first, so a crash between the two renames is rolled back).
        """
        target = self.traces_dir / check_name(name)
        with self._lock():
            self.check_unique(name)
            if target.exists() and not replace:
                raise TraceExistsError(name)
            if not target.exists():
                os.rename(build, target)
                return "created"
            parked = self.staging_dir / f"{name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            os.rename(target, parked)
            os.rename(build, target)
        shutil.rmtree(parked, ignore_errors=True)
        return "replaced"

    # ------------------------------------------------------------------ safety
    def _lock(self) -> Any:
        self.home.mkdir(parents=True, exist_ok=True)
        return _FileLock(self.home / ".lock")

    def _recover(self) -> None:
        """Undo what a killed process left: roll back half-done swaps, drop dead staging."""
        if not self.staging_dir.is_dir():
            return
        for entry in self.staging_dir.iterdir():
            m = re.match(r"^(?P<name>.+)\.(?P<kind>new|old|rm)-(?P<pid>\d+)-[0-9a-f]+$", entry.name)
            if not m or _pid_alive(int(m["pid"])):
                continue
            target = self.traces_dir / m["name"]
            if m["kind"] == "old" and not target.exists():
                log.warning("restoring trace %s after an interrupted replace", m["name"])
                os.rename(entry, target)
            else:
                shutil.rmtree(entry, ignore_errors=True)



class _FileLock:
    """An exclusive advisory lock on a file, released when the process dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh: Any = None

    def __enter__(self) -> _FileLock:
        self.fh = builtins.open(self.path, "a+")
        fcntl.flock(self.fh, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()



__all__ = ["REJECTS_SCHEMA", "MANIFEST", "REJECTS", "Store", "Trace", "WorkscopeError", "check_name", "default_home",
           "name_from_path"]
