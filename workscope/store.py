"""The trace store: a directory of traces, each complete or absent.

Layout::

    <home>/traces/<name>/manifest.json
    <home>/traces/<name>/<table>/part-00000.parquet   (zstd, provenance in key-value metadata)
    <home>/traces/<name>/rejects/part-00000.parquet   (table, file, line, raw, reason)
    <home>/.staging/                                  (work in progress; never read as a trace)

A trace is built in ``.staging`` and renamed into ``traces/`` only when complete, so a crash
or a kill at any moment leaves ``traces/`` as it was. Replacing a trace (``force``) parks the
old one in staging first; opening the store rolls back such a swap if the process died
between the two renames. Re-ingesting the same source bytes with the same reader and options
is a no-op (the manifest's content key).
"""

from __future__ import annotations

import builtins
import datetime as _dt
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workscope import __version__
from workscope.atomic import write_atomic
from workscope.errors import (
    DataError,
    InvalidNameError,
    SourceError,
    StoreError,
    TraceNotFoundError,
    UnknownTableError,
    WorkscopeError,
)
from workscope.ingest import registry
from workscope.ingest.files import iter_files
from workscope.ingest.parse import checked
from workscope.ingest.reader import FILE, LINE, RAW_PREFIX, REASON, Reader, ScanContext, TablePart
from workscope.schemas import REJECTS_SCHEMA, SCHEMA_VERSION, TABLES

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MANIFEST = "manifest.json"
REJECTS = "rejects"

ProgressFn = Callable[[str, int, int], None]


def default_home() -> Path:
    """``$WORKSCOPE_HOME`` if set, else ``./workscope-data``."""
    return Path(os.environ.get("WORKSCOPE_HOME") or "workscope-data")


def check_name(name: str) -> str:
    """Validate a trace name (it becomes a directory and an SQL schema name)."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidNameError(
            f"invalid trace name {name!r}: use letters, digits and '_', starting with a letter "
            "or '_', at most 64 characters"
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


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class IngestResult:
    """What an ingest did: the trace's manifest and whether anything was written."""

    name: str
    status: str  # "created", "replaced" or "unchanged"
    manifest: dict[str, Any]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"name": self.name, "status": self.status, "seconds": round(self.seconds, 3),
                "manifest": self.manifest}


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
        """A glob of the table's Parquet files, for DuckDB or any Parquet reader."""
        self.files(table)
        return str(self.path / table / "*.parquet")

    def scan(self, table: str) -> pl.LazyFrame:
        """The table as a polars LazyFrame (nothing is read until collected)."""
        return pl.scan_parquet(self.files(table))

    def read(self, table: str) -> pl.DataFrame:
        """The table as a polars DataFrame (eager; prefer :meth:`scan` for big traces)."""
        return self.scan(table).collect()

    def rejects(self) -> pl.LazyFrame:
        """The rejected rows: table, file, line, raw text, reason."""
        return pl.scan_parquet(self.files(REJECTS))

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

    # ------------------------------------------------------------------ ingest
    def ingest(
        self,
        paths: str | Path | Sequence[str | Path],
        *,
        format: str | None = None,
        name: str | None = None,
        options: dict[str, Any] | None = None,
        force: bool = False,
        progress: ProgressFn | None = None,
    ) -> IngestResult:
        """Ingest source files into a trace called ``name`` (default: from the first path).

        The reader is ``format`` or detected from the first path. Returns the manifest;
        raises a WorkscopeError subclass (nothing written) if a source cannot be read.
        """
        t0 = time.perf_counter()
        if isinstance(paths, (str, Path)):
            paths = [paths]
        plist = [Path(p) for p in paths]
        if not plist:
            raise InvalidNameError("no input paths given")
        for p in plist:
            if not p.exists():
                raise SourceError(p, "no such file or directory", hint="check the path")
        reader = registry.get(format) if format else registry.detect(plist)
        opts = reader.resolve_options(options)
        name = check_name(name if name is not None else name_from_path(plist[0]))
        say = progress or (lambda msg, done, total: None)

        hasher = _SourceHasher(plist)  # lists the files now, so a bad path fails before any write
        existing = self.traces_dir / name / MANIFEST
        if existing.is_file() and not force:
            say("hashing sources", 0, 1)
            key = self._content_key(reader, opts, hasher.result())
            old = Trace(self, name).manifest
            if old.get("content_key") == key:
                return IngestResult(name, "unchanged", old, time.perf_counter() - t0)
            raise InvalidNameError(
                f"trace {name!r} already exists with other sources or options; "
                "pass --force to replace it, or --name to choose another name"
            )
        # Otherwise the sources are hashed in a thread while the tables are written: the
        # hashes are needed only in the Parquet footers and the manifest, written last.
        hasher.start()

        self.staging_dir.mkdir(parents=True, exist_ok=True)
        self.traces_dir.mkdir(parents=True, exist_ok=True)
        work = self.staging_dir / f"{name}.new-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        build = work / "trace"
        scratch = work / "scratch"
        scratch.mkdir(parents=True)
        try:
            manifest = self._build(reader, opts, plist, hasher, name, build, scratch, say)
            shutil.rmtree(scratch, ignore_errors=True)
            status = self._commit(name, build)
        except BaseException:
            hasher.cancel()
            shutil.rmtree(work, ignore_errors=True)
            raise
        shutil.rmtree(work, ignore_errors=True)
        return IngestResult(name, status, manifest, time.perf_counter() - t0)

    @staticmethod
    def _content_key(reader: Reader, opts: dict[str, Any], sources: list[dict[str, Any]]) -> str:
        ident = {
            "reader": reader.name, "version": reader.version, "schema": SCHEMA_VERSION,
            "options": opts, "sources": sorted(s["sha256"] for s in sources),
        }
        return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()

    def _build(
        self, reader: Reader, opts: dict[str, Any], paths: list[Path], hasher: _SourceHasher,
        name: str, build: Path, scratch: Path, say: ProgressFn,
    ) -> dict[str, Any]:
        say(f"scanning with {reader.name}", 0, 1)
        result = reader.scan(paths, ScanContext(options=opts, staging=scratch))
        provenance = {
            "trace": name,
            "workscope_version": __version__,
            "schema_version": SCHEMA_VERSION,
            "reader": {"name": reader.name, "version": reader.version},
            "options": opts,
            "origin_utc": result.meta.get("origin_utc"),
        }
        kv = _FooterMetadata(provenance, hasher)
        parts = [(t, i, p) for t, plist in result.tables.items() for i, p in enumerate(plist)]
        if not parts:
            raise DataError(f"{paths[0]}: the {reader.name} reader found nothing to ingest")
        rejects_dir = build / REJECTS
        rejects_dir.mkdir(parents=True)
        for n, (table, i, part) in enumerate(parts):
            say(f"{table} ← {part.file}", n, len(parts))
            out_dir = build / table
            out_dir.mkdir(parents=True, exist_ok=True)
            self._sink_part(table, part, out_dir / f"part-{i:05d}.parquet",
                            rejects_dir / f"{table}-{i:05d}.parquet", kv)
        say("counting", len(parts), len(parts))
        tables_meta = {t: self._table_stats(build, t) for t in result.tables}
        total_ok = sum(m["rows_ok"] for m in tables_meta.values())
        if total_ok == 0:
            top = self._top_reasons(rejects_dir, 1)
            first = f" (first reason: {top[0]['reason']})" if top else ""
            raise DataError(
                f"{paths[0]}: no valid rows; all {sum(m['rows_in'] for m in tables_meta.values())} "
                f"rows were rejected{first}; check the format (--format) and the file"
            )
        sources = hasher.result()
        manifest = {
            **provenance,
            "sources": sources,
            "content_key": self._content_key(reader, opts, sources),
            "created_utc": _now(),
            "meta": result.meta,
            "files_used": [str(f) for f in result.files],
            "tables": tables_meta,
            "rejects": {"rows": sum(m["rows_rejected"] for m in tables_meta.values()),
                        "top_reasons": self._top_reasons(rejects_dir, 10)},
        }
        write_atomic(build / MANIFEST, json.dumps(manifest, indent=2, sort_keys=False, default=str))
        return manifest

    def _sink_part(self, table: str, part: TablePart, ok_path: Path, rej_path: Path,
                   kv: Callable[[Any], dict[str, str]]) -> None:
        spec = TABLES[table]
        frame = part.frame
        have = frame.collect_schema()
        if LINE not in have:
            frame = frame.with_columns(pl.lit(None, pl.Int64).alias(LINE))
        # The raw text columns ride along so that rejected rows can be rebuilt.
        keep = [LINE, FILE, *(c for c in have if c.startswith(RAW_PREFIX))]
        full = checked(table, frame, keep)
        # A part read from many files (one scan over a directory) names each row's file.
        file_col = pl.col(FILE) if FILE in have else pl.lit(part.file)
        ok = full.filter(pl.col(REASON).is_null()).select(spec.names)
        rej = full.filter(pl.col(REASON).is_not_null()).select(
            pl.lit(table).alias("table"),
            file_col.cast(pl.String).alias("file"),
            pl.col(LINE).alias("line"),
            part.raw.alias("raw"),
            pl.col(REASON).alias("reason"),
        )
        try:
            pl.collect_all([
                ok.sink_parquet(ok_path, compression="zstd", metadata=kv, lazy=True),
                rej.sink_parquet(rej_path, compression="zstd", metadata=kv, lazy=True),
            ], engine="streaming")
        except pl.exceptions.PolarsError as exc:
            msg = str(exc).strip().splitlines()[0][:300]
            raise SourceError(part.file, f"cannot be read: {msg}",
                              hint="check the file's format and delimiter, or pass --format") from None

    @staticmethod
    def _table_stats(build: Path, table: str) -> dict[str, Any]:
        ok_files = sorted((build / table).glob("*.parquet"))
        rej_files = sorted((build / REJECTS).glob(f"{table}-*.parquet"))
        rows_ok = _count_rows(ok_files)
        rows_rej = _count_rows(rej_files)
        stats: dict[str, Any] = {"rows_in": rows_ok + rows_rej, "rows_ok": rows_ok,
                                 "rows_rejected": rows_rej, "files": len(ok_files)}
        tcol = TABLES[table].time_column
        if tcol and rows_ok:
            lf = pl.scan_parquet(ok_files).select(pl.col(tcol))
            s = lf.select(
                pl.col(tcol).min().alias("min"), pl.col(tcol).max().alias("max"),
                (pl.col(tcol).diff() < 0).sum().alias("inversions"),
            ).collect(engine="streaming").row(0, named=True)
            stats["time"] = {"column": tcol, "min_s": s["min"], "max_s": s["max"],
                             "sorted": s["inversions"] == 0, "inversions": s["inversions"]}
        return stats

    @staticmethod
    def _top_reasons(rejects_dir: Path, n: int) -> list[dict[str, Any]]:
        files = sorted(rejects_dir.glob("*.parquet"))
        if _count_rows(files) == 0:
            return []
        df = (pl.scan_parquet(files)
              .group_by("table", "reason").agg(pl.len().alias("rows"), pl.col("line").min().alias("first_line"))
              .sort("rows", "table", "reason", descending=[True, False, False]).head(n).collect())
        return df.to_dicts()

    def _commit(self, name: str, build: Path) -> str:
        target = self.traces_dir / name
        with self._lock():
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


def _count_rows(files: list[Path]) -> int:
    """Rows in Parquet files, from their footers (no data is read)."""
    if not files:
        return 0
    return int(pl.scan_parquet(files).select(pl.len()).collect().item())


class _SourceHasher:
    """sha256 and size of every source file, computed now or in a background thread."""

    def __init__(self, paths: list[Path]) -> None:
        # No data files is the reader's to report: it knows what it expected to find.
        self.files = list(iter_files(paths))
        self.roots = [p.parent if p.is_file() else p for p in paths]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._result: list[dict[str, Any]] | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        """Hash in a daemon thread (hashlib releases the GIL while it digests)."""
        self._thread = threading.Thread(target=self._run, name="workscope-hash", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        """Stop hashing at the next chunk (the ingest failed)."""
        self._stop.set()

    def result(self) -> list[dict[str, Any]]:
        """The per-file records, hashing synchronously if no thread was started."""
        if self._thread is None and self._result is None:
            self._run()
        elif self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result or []

    def _run(self) -> None:
        try:
            self._result = [self._one(f) for f in self.files]
        except Exception as exc:  # re-raised in result(), in the caller's thread
            self._error = exc

    def _one(self, f: Path) -> dict[str, Any]:
        rel = next((str(f.relative_to(r)) for r in self.roots if f.is_relative_to(r)), f.name)
        h = hashlib.sha256()
        with builtins.open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                if self._stop.is_set():
                    raise StoreError("ingest cancelled")
                h.update(chunk)
        return {"path": rel, "bytes": f.stat().st_size, "sha256": h.hexdigest()}


class _FooterMetadata:
    """Parquet key-value metadata, built when polars writes a file's footer (after the data),
    so the source hashes computed meanwhile can be included."""

    def __init__(self, provenance: dict[str, Any], hasher: _SourceHasher) -> None:
        self.provenance, self.hasher = provenance, hasher
        self._text: str | None = None

    def __call__(self, ctx: Any) -> dict[str, str]:
        if self._text is None:
            doc = {**self.provenance, "sources": self.hasher.result()}
            self._text = json.dumps(doc, sort_keys=True, default=str)
        return {"workscope": self._text}


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


def open(home: str | Path | None = None) -> Store:
    """Open (or create on first write) the store at ``home``."""
    return Store(home)


__all__ = ["IngestResult", "Store", "Trace", "WorkscopeError", "open", "default_home", "REJECTS_SCHEMA"]
