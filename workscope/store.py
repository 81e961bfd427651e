"""The trace store: a directory of traces, each complete or absent, each read as one snapshot.

Layout::

    <home>/traces/<name>/manifest.json -> g-<id>/manifest.json   (symlink: the current generation)
    <home>/traces/<name>/g-<id>/manifest.json
    <home>/traces/<name>/g-<id>/<table>/part-00000.parquet         (zstd, provenance in key-value metadata)
    <home>/traces/<name>/g-<id>/rejects/<table>-00000.parquet      (table, file, line, raw, reason)
    <home>/traces/<name>/g-<id>/.inventory.json                    (every file and its size, for `check`)
    <home>/traces/<name>/g-<id>/.lock                              (readers hold a shared flock on it)
    <home>/.staging/                                               (work in progress; never read as a trace)

A trace is built in ``.staging`` and published by :meth:`Store.commit`: a new trace is
assembled with its generation and pointer and renamed into ``traces/`` in one step; a
replace moves the build in as a new generation and swaps the ``manifest.json`` symlink with
one atomic rename. Files of a generation never change, so a reader (a :class:`Trace`) that
resolved the pointer once reads one consistent version however often the trace is replaced.
An old generation is deleted only when its ``.lock`` can be locked exclusively, that is
when no reader holds it; otherwise the next commit or the next opening of the store does it.

Stores written before generations (``traces/<name>/manifest.json`` a plain file beside the
table directories) are read as they are; replacing such a trace turns it into the layout above.

Every lock is an ``flock`` on a file, which the kernel releases when its holder dies, so
recovery never guesses from process ids (which another PID namespace cannot see): a writer
holds ``.staging/<work>.lock`` for as long as it builds, and recovery removes only the
staging it can lock.

The store knows nothing of formats: the ingest pipeline (:mod:`workscope.ingest.pipeline`)
builds a trace in a directory that :meth:`Store.staging` hands it and publishes it with
:meth:`Store.commit`. ``workscope.open()`` returns a store with that pipeline attached.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import fcntl
import json
import logging
import os
import posixpath
import re
import shutil
import uuid
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import polars as pl

from workscope.atomic import try_lock, write_atomic
from workscope.errors import (
    InvalidNameError,
    StoreError,
    TraceExistsError,
    TraceNotFoundError,
    UnknownTableError,
    UsageError,
    WorkscopeError,
)
from workscope.objectstore import (
    CURRENT,
    LAYOUT_FILE,
    LAYOUTS,
    REMOTE_PARTS,
    RETAIN_S,
    ObjectStore,
    open_fs,
    parse_layout,
    read_layout,
)
from workscope.pathglob import glob_escape
from workscope.schemas import REJECTS_SCHEMA, TABLES
from workscope.urls import is_remote

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
RESERVED_NAMES = frozenset({"main", "temp", "system", "memory", "information_schema", "pg_catalog"})
"""Schema names the SQL engine keeps for itself (compared case-insensitively): a trace so
named would shadow them and break every query over the store."""
MANIFEST = "manifest.json"
REJECTS = "rejects"
GEN_PREFIX = "g-"
LOCK = ".lock"
INVENTORY = ".inventory.json"
LEGACY_LOCK = ".legacy.lock"
_OWN_FILES = frozenset({MANIFEST, LOCK, INVENTORY, LEGACY_LOCK})
"""Files of a generation that are the store's own, not table data."""
_STAGING_RE = re.compile(r"^(?P<name>.+)\.(?P<kind>new|old|rm)-(?P<tag>.+)$")


def default_home() -> Path:
    """``$WORKSCOPE_HOME`` if set, else ``./workscope-data``."""
    return home_path(os.environ.get("WORKSCOPE_HOME") or "workscope-data")


def home_path(home: str | Path) -> Path:
    """A local store's directory from a path or a ``file://`` URI (the form Spark and fsspec
    take: ``file:///data/store``). Stores at other URLs (``s3://``, ``hdfs://``) are not
    directories: :class:`Store` opens them through fsspec."""
    text = str(home)
    if "://" not in text:
        return Path(home)
    from urllib.parse import unquote, urlsplit

    url = urlsplit(text)
    if url.scheme != "file" or url.netloc not in ("", "localhost"):
        raise UsageError(f"store {text!r}: file:// URIs name a path of this machine "
                         "(file:///data/store); give the path, or the store's own URL (s3://, hdfs://)")
    return Path(unquote(url.path))


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


# ---------------------------------------------------------------------- generations and locks

def _pointer(trace_dir: Path) -> str | None:
    """The generation ``trace_dir/manifest.json`` points to: its directory name; ``""`` for
    the layout without generations (a plain manifest file); None when there is no manifest."""
    link = trace_dir / MANIFEST
    try:
        target = os.readlink(link)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.EINVAL:  # a plain file: the layout before generations
            return ""
        return None
    return Path(target).parts[0] if Path(target).parts else target


def _open_generation(trace_dir: Path) -> tuple[Path, int | None, str | None]:
    """The directory of the trace's current generation, an fd holding a shared lock on it,
    and, for the layout before generations, the manifest's text.

    The pointer is read again once the lock is held: a cleaner deletes only generations that
    are not current and that it can lock exclusively, so a generation that is still current
    after the shared lock was taken stays on disk until the lock is released. Without
    generations the manifest is a plain file that a replace turns into a link to the new
    generation's, so it is read before that second look, not later.
    """
    for _ in range(100):
        gen = _pointer(trace_dir)
        if gen is None:
            return trace_dir, None, None  # damaged (no manifest): nothing to hold, reported on use
        root = trace_dir / gen if gen else trace_dir
        # A store on a read-only file system gets no lock file; nobody can replace it then.
        fd = try_lock(root / LOCK if gen else trace_dir / LEGACY_LOCK, shared=True, create=not gen)
        text = None
        if not gen:
            with contextlib.suppress(OSError, UnicodeDecodeError):
                text = (trace_dir / MANIFEST).read_text(encoding="utf-8")
        if fd is None:
            if gen and not root.is_dir() and _pointer(trace_dir) != gen:
                continue  # swept between the two reads: the pointer has moved on
            return root, None, text  # damaged (a link to nothing), or a store nobody can write
        if _pointer(trace_dir) == gen:
            return root, fd, text
        os.close(fd)
    raise StoreError(f"{trace_dir}: the trace is being replaced over and over; try again")


def _close_fd(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


def _read_manifest(root: Path, text: str | None = None) -> tuple[dict[str, Any] | None, str | None]:
    """The manifest in ``root`` (or parsed from ``text``, read earlier) and None, or None and
    what is wrong with it."""
    try:
        if text is None:
            text = (root / MANIFEST).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, f"{MANIFEST} is missing"
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"{MANIFEST} cannot be read ({exc})"
    try:
        m = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"{MANIFEST} is not valid JSON ({exc})"
    if not isinstance(m, dict) or not isinstance(m.get("tables"), dict) or not all(
            isinstance(t, dict) for t in m["tables"].values()):
        return None, f"{MANIFEST} lacks its 'tables' section"
    return m, None


def _parquet_looks_whole(opener: Any, path: str | Path) -> bool:
    """True if the file that ``opener(path, "rb")`` opens (``open``, or an fsspec file
    system's ``open``) starts and ends with Parquet's magic bytes (a truncated file does not
    end with them); reads 8 bytes, so listing a big store stays cheap."""
    try:
        with opener(path, "rb") as fh:
            head = fh.read(4)
            if fh.seek(0, os.SEEK_END) < 12:
                return False
            fh.seek(-4, os.SEEK_END)
            return head == b"PAR1" and fh.read(4) == b"PAR1"
    except OSError:
        return False


def _data_files(root: Path) -> dict[str, int]:
    """Every file under a generation (the store's own files aside): relative path -> bytes."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if rel in _OWN_FILES or not p.is_file():
            continue
        if p.parent == root and p.name.startswith(f".{MANIFEST}."):
            continue  # a temporary of write_atomic
        out[rel] = p.stat().st_size
    return out


def _parse_inventory(text: str | None) -> dict[str, int] | None:
    """An inventory's files (relative path -> bytes), or None when absent or unreadable."""
    try:
        return {str(k): int(v) for k, v in json.loads(text)["files"].items()} if text is not None else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


@dataclass(frozen=True)
class TraceCheck:
    """What :meth:`Trace.check` found for one trace: its generation directory and problems."""

    name: str
    path: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True if nothing is wrong."""
        return not self.problems

    @property
    def status(self) -> str:
        """``ok``, or ``damaged: <first problem>`` (and how many more)."""
        if self.ok:
            return "ok"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"damaged: {self.problems[0]}{more}"


@dataclass(frozen=True)
class CheckReport:
    """What :meth:`Store.check` found: one :class:`TraceCheck` per trace checked."""

    traces: list[TraceCheck]

    @property
    def ok(self) -> bool:
        """True if every trace checked is intact."""
        return all(t.ok for t in self.traces)

    def to_frame(self) -> pl.DataFrame:
        """One row per problem (one ``ok`` row for an intact trace): name, status, problem, path."""
        rows = [{"name": t.name, "status": "ok" if t.ok else "damaged", "problem": p, "path": t.path}
                for t in self.traces for p in (t.problems or [None])]
        return pl.DataFrame(rows, schema={"name": pl.String, "status": pl.String, "problem": pl.String,
                                          "path": pl.String})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``ok`` and each trace's path, status and problems."""
        return {"ok": self.ok, "traces": [{"name": t.name, "ok": t.ok, "status": t.status, "path": t.path,
                                           "problems": t.problems} for t in self.traces]}


class Trace:
    """One ingested trace, as one snapshot: its manifest, its tables as lazy frames, SQL over them.

    The trace's current generation is resolved once, when the object is made, and held with a
    shared lock until :meth:`close` (or until the object is garbage-collected): a concurrent
    ``ingest --force`` of the same name publishes a new generation and leaves this one intact.
    """

    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.name = name
        self.dir = store.traces_dir / name
        self.path, fd, self._manifest_text = _open_generation(self.dir)
        self.generation = self.path.name if self.path != self.dir else None
        self._manifest: dict[str, Any] | None = None
        self._release = weakref.finalize(self, _close_fd, fd) if fd is not None else None

    def close(self) -> None:
        """Release the snapshot (an old generation can then be deleted)."""
        if self._release is not None:
            self._release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def manifest(self) -> dict[str, Any]:
        """The trace's manifest (provenance, options, row counts)."""
        if self._manifest is None:
            m, problem = self._read_manifest()
            if m is None:
                raise StoreError(f"{self.path / MANIFEST}: trace {self.name!r} is damaged: {problem}; "
                                 f"remove it with `workscope rm {self.name}` and ingest again")
            self._manifest = m
        return self._manifest

    @property
    def tables(self) -> list[str]:
        """Canonical tables this trace holds."""
        return list(self.manifest["tables"])

    def _inventory(self) -> dict[str, int] | None:
        """The files the ingest wrote (relative path -> bytes), or None for a trace written
        before inventories or with an unreadable one."""
        try:
            return _parse_inventory((self.path / INVENTORY).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return None

    def files(self, table: str) -> list[Path]:
        """The Parquet files of ``table`` (``rejects`` included).

        Where the ingest recorded its files, only those count: a stray file dropped into
        the trace later is not read (``workscope check`` reports it).
        """
        if table != REJECTS and table not in self.tables:
            raise UnknownTableError(table, [*self.tables, REJECTS])
        found = sorted((self.path / table).glob("*.parquet"))
        inv = self._inventory()
        if inv is None:
            return found
        return [f for f in found if f.relative_to(self.path).as_posix() in inv]

    def glob(self, table: str) -> str:
        """A glob of the table's Parquet files, for DuckDB or any Parquet reader.

        Glob characters in the store's own path (``st*re``, ``data [v1]``) are escaped, so
        the glob never reaches another directory's files.
        """
        self.files(table)
        return glob_escape(str(self.path / table)) + "/*.parquet"

    def scan(self, table: str) -> pl.LazyFrame:
        """The table as a polars LazyFrame (nothing is read until collected).

        A canonical column that the trace's files lack (a trace ingested before the column
        existed, e.g. jobs ``run_s`` of schema 2) is there, all null.
        """
        lf = self._lazy(table)
        if table not in TABLES:
            return lf
        have = lf.collect_schema()
        missing = [pl.lit(None, c.dtype).alias(c.name) for c in TABLES[table].columns if c.name not in have]
        return lf.with_columns(missing).select(TABLES[table].names) if missing else lf

    def read(self, table: str) -> pl.DataFrame:
        """The table as a polars DataFrame (eager; prefer :meth:`scan` for big traces)."""
        return self.scan(table).collect()

    def rejects(self) -> pl.LazyFrame:
        """The rejected rows: table, file, line, raw text, reason."""
        return self._lazy(REJECTS)

    def _lazy(self, table: str) -> pl.LazyFrame:
        return pl.scan_parquet(self.files(table), glob=False)

    def engine(self) -> Any:
        """A DuckDB engine with this trace's tables registered as views."""
        from workscope.engine import DuckDBEngine

        eng = DuckDBEngine()
        eng.register_trace(self, default=True)
        return eng

    def sql(self, query: str) -> pl.DataFrame:
        """Run SQL over this trace's tables (views named after the tables)."""
        return self.engine().sql_polars(query)

    def check(self, full: bool = True) -> TraceCheck:
        """Verify the trace's files against its manifest and the ingest's inventory.

        Finds a missing or unreadable manifest, missing, extra and resized files, and Parquet
        files that cannot be read. ``full`` also reads every Parquet footer and compares the
        row counts of each table with the manifest's ``rows_ok`` and ``rows_rejected``;
        without it only the first and last bytes of each file are read (what ``ls`` does).
        """
        problems: list[str] = []
        gone = self._gone()
        if gone:
            return TraceCheck(self.name, str(self.path), [gone])
        m, bad_manifest = self._read_manifest()
        if bad_manifest:
            problems.append(bad_manifest)
        have = self._have()
        if self.generation is None:
            # no generations here: any g-* directory is a replace that did not finish
            have = {k: v for k, v in have.items() if not k.startswith(GEN_PREFIX)}
        inv = self._inventory()
        expected: set[str]
        if inv is not None:
            expected = set(inv)
            problems += [f"{f} is missing" for f in sorted(expected - set(have))]
            problems += [f"{f} is an extra file the ingest did not write" for f in sorted(set(have) - expected)]
            problems += [f"{f} {'is truncated' if have[f] < inv[f] else 'has changed'}: {have[f]:,} bytes, "
                         f"the ingest wrote {inv[f]:,}" for f in sorted(expected & set(have)) if have[f] != inv[f]]
        else:
            expected = set(have)
            if m is not None:
                dirs = {*m["tables"], REJECTS}
                strays = sorted(f for f in have if f.split("/")[0] not in dirs or not f.endswith(".parquet"))
                problems += [f"{f} is an extra file the ingest did not write" for f in strays]
                expected -= set(strays)
                for t, meta in m["tables"].items():
                    n = sum(1 for f in have if f.startswith(f"{t}/"))
                    if isinstance(meta.get("files"), int) and n != meta["files"]:
                        problems.append(f"{t}/ holds {n} Parquet files, the manifest says {meta['files']}")
        rows: dict[str, int | None] = {}
        for f in sorted(expected & set(have)):
            if not f.endswith(".parquet"):
                continue
            if not full:
                if not self._looks_whole(f):
                    problems.append(f"{f} is truncated or not a Parquet file")
                continue
            try:
                rows[f] = self._footer_rows(f)
            except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds for a bad file
                rows[f] = None
                problems.append(f"{f} is not a readable Parquet file ({' '.join(str(exc).split())[:160]})")
        if full and m is not None:
            problems += _row_problems(m, rows, expected)
        return TraceCheck(self.name, str(self.path), problems)

    # What check reads, overridden by ObjectTrace: paths are relative to the generation.
    def _gone(self) -> str | None:
        if self.path.is_dir():
            return None
        return f"{MANIFEST} points to {self.generation}/, which is missing" if self.generation else \
            "the trace's directory is gone (removed meanwhile?)"

    def _read_manifest(self) -> tuple[dict[str, Any] | None, str | None]:
        return _read_manifest(self.path, self._manifest_text)

    def _have(self) -> dict[str, int]:
        return _data_files(self.path)

    def _looks_whole(self, rel: str) -> bool:
        return _parquet_looks_whole(builtins.open, self.path / rel)

    def _footer_rows(self, rel: str) -> int:
        import pyarrow.parquet as pq

        return pq.read_metadata(self.path / rel).num_rows

    def bytes(self) -> int:
        """The size of the trace's Parquet files."""
        return sum(f.stat().st_size for f in self.path.rglob("*.parquet")) if self.path.is_dir() else 0

    @property
    def filesystem(self) -> Any:
        """The fsspec file system that :meth:`uris` are read through; None for paths of
        this machine."""
        return None

    def uris(self, table: str) -> list[str]:
        """The table's files as engines read them: absolute paths here, or URLs on a store at
        a URL (read them through :attr:`filesystem`)."""
        return [os.path.abspath(f) for f in self.files(table)]

    def __repr__(self) -> str:
        try:
            return f"Trace({self.name!r}, tables={self.tables})"
        except StoreError:
            return f"Trace({self.name!r}, damaged)"


class ObjectTrace(Trace):
    """A trace of a store in the object layout (:mod:`workscope.objectstore`): the same
    snapshot, resolved through ``CURRENT.json``; its files are read through the store's
    fsspec file system. ``path`` is the generation's URL (a path on the local file system)."""

    def __init__(self, store: Store, name: str) -> None:
        obj = store.object
        if obj is None:
            raise StoreError(f"{store.home}: not a store in the object layout")
        self.store = store
        self.name = name
        self._obj = obj
        self.dir = obj.trace_dir(name)  # type: ignore[assignment]
        cur = obj.current(name)
        if cur is None:
            raise TraceNotFoundError(name, store.names())
        self.generation = cur["generation"]
        self._root = posixpath.join(self.dir, self.generation)
        self.path = obj.uri(self._root)  # type: ignore[assignment]
        self._manifest_text = None
        self._manifest = None
        self._release = None
        # a generation never changes: one listing and one read of the inventory serve every call
        self._listing: dict[str, int] | None = None
        self._inv: tuple[dict[str, int] | None] | None = None

    def _listed(self) -> dict[str, int]:
        if self._listing is None:
            self._listing = self._obj.listing(self._root)
        return self._listing

    def _read_manifest(self) -> tuple[dict[str, Any] | None, str | None]:
        if self._manifest_text is None:
            try:
                self._manifest_text = self._obj.read_text(posixpath.join(self._root, MANIFEST))
            except FileNotFoundError:
                return None, f"{MANIFEST} is missing"
            except (OSError, UnicodeDecodeError) as exc:
                return None, f"{MANIFEST} cannot be read ({exc})"
        return _read_manifest(Path(), self._manifest_text)

    def _inventory(self) -> dict[str, int] | None:
        if self._inv is None:
            try:
                text = self._obj.read_text(posixpath.join(self._root, INVENTORY))
            except (OSError, UnicodeDecodeError):
                text = None
            self._inv = (_parse_inventory(text),)
        return self._inv[0]

    def files(self, table: str) -> list[str]:  # type: ignore[override]
        """The URLs (paths, on the local file system) of ``table``'s Parquet files."""
        if table != REJECTS and table not in self.tables:
            raise UnknownTableError(table, [*self.tables, REJECTS])
        inv = self._inventory()
        found = [rel for rel in self._listed() if posixpath.dirname(rel) == table and rel.endswith(".parquet")]
        return [self._obj.uri(posixpath.join(self._root, rel)) for rel in found if inv is None or rel in inv]

    def uris(self, table: str) -> list[str]:
        """The table's files as engines read them (through :attr:`filesystem`)."""
        return self.files(table)

    @property
    def filesystem(self) -> Any:
        """The store's fsspec file system; None when it is this machine's."""
        return None if self._obj.local else self._obj.fs

    def glob(self, table: str) -> str:
        """A glob of the table's Parquet files (read it through :attr:`filesystem`)."""
        self.files(table)
        return glob_escape(self._obj.uri(posixpath.join(self._root, table))) + "/*.parquet"

    def _lazy(self, table: str) -> pl.LazyFrame:
        if self._obj.local:
            return super()._lazy(table)
        import pyarrow.dataset as ds

        paths = [self._obj.fs._strip_protocol(f) for f in self.files(table)]
        return pl.scan_pyarrow_dataset(ds.dataset(paths, filesystem=self._obj.fs, format="parquet"))


    def _gone(self) -> str | None:
        if self._listed():
            return None
        return f"{CURRENT} points to {self.generation}/, which is missing"

    def _have(self) -> dict[str, int]:
        return {k: v for k, v in self._listed().items() if k not in _OWN_FILES}

    def _looks_whole(self, rel: str) -> bool:
        return _parquet_looks_whole(self._obj.fs.open, posixpath.join(self._root, rel))

    def _footer_rows(self, rel: str) -> int:
        import pyarrow.parquet as pq

        return pq.read_metadata(posixpath.join(self._root, rel), filesystem=self._obj.fs).num_rows

    def bytes(self) -> int:
        """The size of the trace's Parquet files."""
        return sum(v for k, v in self._listed().items() if k.endswith(".parquet"))


def _row_problems(m: dict[str, Any], rows: dict[str, int | None], expected: set[str]) -> list[str]:
    """Row counts of each table's files against the manifest's (tables with an unreadable or
    missing file are skipped: that file is already reported)."""
    problems = []
    for t, meta in m["tables"].items():
        for key, prefix, what in (("rows_ok", f"{t}/", "rows"), ("rows_rejected", f"{REJECTS}/{t}-", "rejected rows")):
            want = meta.get(key)
            mine = [f for f in expected if f.startswith(prefix) and f.endswith(".parquet")]
            if not isinstance(want, int) or any(f not in rows or rows[f] is None for f in mine):
                continue
            got = sum(rows[f] or 0 for f in mine)
            if got != want:
                problems.append(f"{t}: {got:,} {what} in its files, the manifest says {key} = {want:,}")
    return problems


class Store:
    """A directory of ingested traces, on this machine or at a URL.

    ``home`` is a path, a ``file://`` URI, or the URL of a store on other storage
    (``s3://bucket/store``, ``hdfs://nn/store``, any scheme fsspec has a package for), which
    is kept in the object layout (:mod:`workscope.objectstore`): no symlinks, renames or locks.
    ``layout="object"`` keeps a local (or FUSE-mounted object storage) store in that layout
    too; a store records its layout when the first trace is written, and is always read in it.
    ``storage_options`` go to fsspec (credentials, ``endpoint_url``); ``retain_s`` is how
    long a replaced generation stays readable in the object layout.
    """

    def __init__(self, home: str | Path | None = None, *, layout: str | None = None,
                 storage_options: dict[str, Any] | None = None, retain_s: float = RETAIN_S) -> None:
        if layout is not None and layout not in LAYOUTS:
            raise UsageError(f"unknown store layout {layout!r}: use one of {', '.join(LAYOUTS)}")
        self.object: ObjectStore | None = None
        if home is not None and is_remote(home):
            if layout == "local":
                raise UsageError(f"store {home}: a store at a URL is kept in the object layout, not the local one")
            fs, root = open_fs(str(home), storage_options)
            found = read_layout(fs, root)
            if found == "local":
                raise StoreError(f"{home}: this store is marked as a local one; open it by its path")
            self.home: Path = Path(root)  # fsspec's path; see `location` for the URL
            self.object = ObjectStore(fs, root, str(home), retain_s, storage_options)
        else:
            self.home = home_path(home) if home is not None else default_home()
            marker = self.home / LAYOUT_FILE
            try:
                found = parse_layout(marker.read_bytes(), str(marker)) if marker.is_file() else None
            except OSError as exc:
                raise StoreError(f"{marker}: the store's marker cannot be read ({exc})") from None
            if layout is not None and found is not None and layout != found:
                raise UsageError(f"store {self.home} is in the {found} layout; open it without layout={layout!r}")
            if layout == "object" and found is None and self._holds_traces():
                raise UsageError(f"store {self.home} is in the local layout (it holds traces and no "
                                 f"{LAYOUT_FILE}); open it without layout='object'")
            if (found or layout) == "object":
                import fsspec.implementations.local as fsl  # only here: a local store needs no fsspec

                where = str(self.home.absolute())
                self.object = ObjectStore(fsl.LocalFileSystem(), where, where, retain_s)
        self.traces_dir = self.home / "traces"
        self.staging_dir = self.home / ".staging"
        if self.object is None:
            self._recover()

    def _holds_traces(self) -> bool:
        traces = self.home / "traces"
        return traces.is_dir() and any(traces.iterdir())

    @property
    def layout(self) -> str:
        """``local`` (symlinks and locks) or ``object`` (see :mod:`workscope.objectstore`)."""
        return "object" if self.object is not None else "local"

    @property
    def location(self) -> str:
        """Where the store is: its directory, or its URL."""
        return self.object.url if self.object is not None else str(self.home.absolute())

    def exists(self) -> bool:
        """True if the store's directory (or its root at the URL) is there."""
        if self.object is not None:
            try:
                return bool(self.object.fs.exists(self.object.root))
            except Exception:  # noqa: BLE001 - asked for a message; the listing said what it could
                return False
        return self.home.is_dir()

    def trace_location(self, name: str) -> str:
        """Where trace ``name``'s files are (its folder or URL)."""
        if self.object is not None:
            return self.object.uri(self.object.trace_dir(name))
        return str(self.traces_dir.absolute() / name)

    def task_target(self, work: Path) -> dict[str, Any] | None:
        """Where a Spark ingest's tasks put their parts for the build in ``work``: None when
        they write into ``work`` itself (a local store, which every executor must mount), else
        the store's URL and a scratch folder in it (see ``ObjectStore.task_target``)."""
        return self.object.task_target(work) if self.object is not None else None

    def has_trace(self, name: str) -> bool:
        """True if trace ``name`` is in the store with its manifest (cheaper than ``names``)."""
        if self.object is not None:
            return self.object.current(name) is not None
        return (self.traces_dir / name / MANIFEST).is_file()

    # ------------------------------------------------------------------ catalog
    def names(self) -> list[str]:
        """Names of the traces in the store (damaged ones included: ``ls`` and ``check`` show
        what is wrong with them, ``rm`` removes them)."""
        if self.object is not None:
            found = self.object.names()
        elif self.traces_dir.is_dir():
            found = [p.name for p in self.traces_dir.iterdir() if p.is_dir()]
        else:
            found = []
        return sorted(n for n in found if NAME_RE.fullmatch(n))

    def trace(self, name: str) -> Trace:
        """The trace called ``name`` (a snapshot: see :class:`Trace`); TraceNotFoundError with
        close names if absent."""
        if name not in self.names():
            raise TraceNotFoundError(name, self.names())
        return self._open(name)

    def _open(self, name: str) -> Trace:
        return ObjectTrace(self, name) if self.object is not None else Trace(self, name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    def catalog(self) -> pl.DataFrame:
        """One row per trace: name, status (``ok`` or ``damaged: ...``), format, tables, rows,
        rejects, size, ingest time. A damaged trace is listed with what its manifest still
        tells (nulls where it tells nothing)."""
        rows = []
        for n in self.names():
            with self._open(n) as t:
                status = t.check(full=False).status
                m, _ = t._read_manifest()
                size = t.bytes()
            tables = m["tables"] if m else {}
            rows.append({
                "name": n,
                "status": status,
                "format": (m.get("reader") or {}).get("name") if m else None,
                "tables": ",".join(tables) if m else None,
                "rows": sum(_int(s.get("rows_ok")) for s in tables.values()) if m else None,
                "rejected": sum(_int(s.get("rows_rejected")) for s in tables.values()) if m else None,
                "bytes": size,
                "created_utc": m.get("created_utc") if m else None,
            })
        schema = {"name": pl.String, "status": pl.String, "format": pl.String, "tables": pl.String,
                  "rows": pl.Int64, "rejected": pl.Int64, "bytes": pl.Int64, "created_utc": pl.String}
        return pl.DataFrame(rows, schema=schema)

    def check(self, names: Iterable[str] | None = None) -> CheckReport:
        """Verify traces (all, or ``names``) against their manifests: see :meth:`Trace.check`."""
        chosen = list(names) if names else self.names()
        for n in chosen:
            if n not in self.names():
                raise TraceNotFoundError(n, self.names())
        results = []
        for n in chosen:
            with self._open(n) as t:
                results.append(t.check(full=True))
        return CheckReport(results)

    def remove(self, name: str) -> None:
        """Delete a trace (atomically: it disappears at once, files are removed after).

        A reader still holding the trace loses its files: unlike a replace, removal does not
        wait for readers.
        """
        if self.object is not None:
            self.object.remove(name)
            return
        if name not in self.names():
            raise TraceNotFoundError(name, self.names())
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        with self._lock():
            trash = self.staging_dir / f"{name}.rm-{uuid.uuid4().hex[:12]}"
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
        the block; whatever is left (the whole directory, on an error too) is deleted. The
        block holds an flock on ``<work>.lock``; a process killed inside it loses the lock,
        and the next :meth:`_recover` removes what it left.
        """
        check_name(name)
        if self.object is not None:
            with self.object.staging(name) as work:
                yield work
            return
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        self.traces_dir.mkdir(parents=True, exist_ok=True)
        work = self.staging_dir / f"{name}.new-{uuid.uuid4().hex[:12]}"
        lock = Path(f"{work}.lock")
        # Created under the store lock, which recovery holds too: recovery never sees the
        # directory before its lock is held.
        with self._lock():
            work.mkdir()
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield work
        finally:
            shutil.rmtree(work, ignore_errors=True)
            with contextlib.suppress(OSError):
                lock.unlink()
            os.close(fd)

    def commit(self, name: str, build: Path, *, replace: bool = False) -> str:
        """Publish the complete trace directory ``build`` as trace ``name``.

        The check for an existing trace and the publication are one locked step, so of two
        writers of one new name the second gets TraceExistsError instead of silently
        replacing the first, unless ``replace``. Returns "created" (the trace, with ``build``
        as its first generation, appears in one rename) or "replaced" (``build`` becomes a
        new generation and the manifest link is swapped in one rename; readers of the old
        generation keep it until they close it).
        """
        target = self.traces_dir / check_name(name)
        if self.object is not None:
            self.check_unique(name)
            _seal(build, lock=False)
            return self.object.commit(name, build, replace=replace)
        gen = f"{GEN_PREFIX}{uuid.uuid4().hex[:12]}"
        _seal(build)
        trash: list[Path] = []
        with self._lock():
            self.check_unique(name)
            exists = os.path.lexists(target)
            if exists and not replace:
                raise TraceExistsError(name)
            if not exists:
                shell = build.with_name(f"{build.name}.{gen}")
                shell.mkdir()
                os.rename(build, shell / gen)
                os.symlink(f"{gen}/{MANIFEST}", shell / MANIFEST)
                os.rename(shell, target)
                return "created"
            os.rename(build, target / gen)
            link = target / f".{MANIFEST}.{gen}.tmp"
            os.symlink(f"{gen}/{MANIFEST}", link)
            os.replace(link, target / MANIFEST)
            trash = self._sweep(name)
        _empty(trash)
        return "replaced"

    # ------------------------------------------------------------------ safety
    def _lock(self) -> Any:
        self.home.mkdir(parents=True, exist_ok=True)
        return _FileLock(self.home / ".lock")

    def _sweep(self, name: str) -> list[Path]:
        """Move what no reader holds of trace ``name`` and is not current (old generations,
        an unfinished replace, the tables of the layout before generations) into staging;
        returns those paths, for the caller to delete once the store lock is released.

        Call with the store lock held: a commit moves a generation in and points at it
        under that lock, so no generation is ever seen between the two steps.
        """
        d = self.traces_dir / name
        current = _pointer(d)
        if current is None or not d.is_dir():
            return []  # no manifest: the trace is damaged; `rm` or `ingest --force` decides
        moved = []

        def bury(entries: list[Path]) -> None:
            bin_ = self.staging_dir / f"{name}.rm-{uuid.uuid4().hex[:12]}"
            bin_.mkdir(parents=True)
            for e in entries:
                os.rename(e, bin_ / e.name)
            moved.append(bin_)

        legacy = []
        for e in sorted(d.iterdir()):
            if e.name in (MANIFEST, current):
                continue
            if e.name.startswith(f".{MANIFEST}.") and e.name.endswith(".tmp") and e.is_symlink():
                e.unlink()  # a link a killed commit made but did not swap in
            elif e.name.startswith(GEN_PREFIX) and e.is_dir() and not e.is_symlink():
                fd = try_lock(e / LOCK)
                if fd is not None or not (e / LOCK).exists():
                    try:
                        bury([e])
                    finally:
                        if fd is not None:
                            os.close(fd)
            elif current and e.is_dir() and not e.is_symlink() and (e.name in TABLES or e.name == REJECTS):
                legacy.append(e)
        if legacy:
            # the tables of the layout before generations, left by the first replace
            fd = try_lock(d / LEGACY_LOCK)
            if fd is not None or not (d / LEGACY_LOCK).exists():
                try:
                    bury(legacy)
                    with contextlib.suppress(OSError):
                        (d / LEGACY_LOCK).unlink()
                finally:
                    if fd is not None:
                        os.close(fd)
        return moved

    def _needs_recovery(self) -> bool:
        """True if staging holds anything or a trace holds more than its current generation
        (checked without the lock, so that opening a clean store never writes to it)."""
        if self.staging_dir.is_dir() and any(self.staging_dir.iterdir()):
            return True
        if not self.traces_dir.is_dir():
            return False
        for d in self.traces_dir.iterdir():
            current = _pointer(d) if d.is_dir() else None
            if current is None:
                continue
            with contextlib.suppress(OSError):
                for e in d.iterdir():
                    # beside a plain manifest the tables are the trace: only g-* are left-overs
                    if e.name not in (MANIFEST, current) and (current or e.name.startswith(GEN_PREFIX)):
                        return True
        return False

    def _recover(self) -> None:
        """Undo what killed processes left, judged by locks alone (never by process ids):

        - ``<name>.new-*`` (a build): removed if its ``.lock`` can be locked, i.e. its writer
          is dead; a live writer, in whatever PID namespace, holds it;
        - ``<name>.old-*`` (a trace parked by a replace of an older workscope, which held the
          store lock across both renames): restored if ``traces/<name>`` is absent, else removed;
        - ``<name>.rm-*`` (a removal or swept generations): removed;
        - generations no reader holds and no pointer names: removed.
        """
        if not self._needs_recovery():
            return
        try:
            lock = self._lock()
            lock.__enter__()
        except OSError as exc:  # a read-only store: nothing can be left half-done by us
            log.debug("store %s not recovered: %s", self.home, exc)
            return
        trash: list[Path] = []
        try:
            if self.staging_dir.is_dir():
                trash += self._recover_staging()
            if self.traces_dir.is_dir():
                for d in sorted(self.traces_dir.iterdir()):
                    if NAME_RE.fullmatch(d.name) and d.is_dir():
                        trash += self._sweep(d.name)
        finally:
            lock.__exit__()
        _empty(trash)

    def _recover_staging(self) -> list[Path]:
        trash = []
        for entry in sorted(self.staging_dir.iterdir()):
            if entry.name.endswith(".lock"):
                if not entry.with_name(entry.name[:-5]).exists():
                    fd = try_lock(entry)
                    if fd is not None:  # the lock of a build already gone
                        entry.unlink(missing_ok=True)
                        os.close(fd)
                continue
            m = _STAGING_RE.match(entry.name)
            if not m:
                continue
            if m["kind"] == "new":
                lock = Path(f"{entry}.lock")
                fd = try_lock(lock)
                if fd is None and lock.exists():
                    continue  # a live writer holds it
                log.info("removing %s, left by a killed ingest", entry)
                trash.append(entry)
                if fd is not None:
                    lock.unlink(missing_ok=True)
                    os.close(fd)
            elif m["kind"] == "old" and not os.path.lexists(self.traces_dir / m["name"]):
                log.warning("restoring trace %s after an interrupted replace", m["name"])
                self.traces_dir.mkdir(parents=True, exist_ok=True)
                os.rename(entry, self.traces_dir / m["name"])
            else:
                trash.append(entry)
        return trash


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _seal(build: Path, lock: bool = True) -> None:
    """Give a finished build what a generation needs: the inventory of the files the ingest
    wrote (``check`` compares against it) and, in the local layout, its lock file."""
    files = _data_files(build)
    if (build / REMOTE_PARTS).exists():  # parts a cluster ingest's tasks left in the store
        moved = json.loads((build / REMOTE_PARTS).read_text(encoding="utf-8"))
        files.pop(REMOTE_PARTS, None)
        files = dict(sorted({**files, **{rel: int(size) for rel, (_src, size) in moved.items()}}.items()))
    write_atomic(build / INVENTORY, json.dumps({"files": files}, indent=1, sort_keys=True))
    if lock:
        os.close(os.open(build / LOCK, os.O_RDWR | os.O_CREAT, 0o666))


def _empty(paths: list[Path]) -> None:
    for p in paths:
        shutil.rmtree(p, ignore_errors=True)


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


__all__ = [
    "MANIFEST",
    "REJECTS",
    "REJECTS_SCHEMA",
    "CheckReport",
    "ObjectTrace",
    "Store",
    "Trace",
    "TraceCheck",
    "WorkscopeError",
    "check_name",
    "default_home",
    "name_from_path",
]
