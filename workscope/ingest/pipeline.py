"""The one ingest pipeline: resolve a reader, scan, check, sink, write the manifest.

Every way of reading sources goes through here:

- :func:`ingest` builds a trace in the store (``Store.ingest`` and ``workscope ingest``):
  scan -> check (parse reasons, then the table's rules) -> sink good rows to Parquet and bad
  rows to the rejects table in one streaming pass -> count -> manifest -> atomic commit;
- :func:`scan_sources` gives the checked good rows as lazy frames without a store
  (``workscope.scan``).

Both share :func:`open_reader` (which reader, which options) and :func:`checked_parts` (a
reader's parts with every row's reason). The store itself only lays out, stages and commits.

A source may be a URL (:mod:`workscope.ingest.remote`): it is downloaded into the staging
directory first (its bytes decide the reader, and whether the trace is unchanged), the
readers read the download, and the manifest, the rejects and the errors name the URL.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as _dt
import hashlib
import itertools
import json
import logging
import math
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import polars as pl

from workscope.atomic import write_atomic
from workscope.errors import (
    DataError,
    OptionError,
    SourceError,
    StoreError,
    TraceExistsError,
    WorkscopeError,
    write_error,
)
from workscope.ingest import registry, remote
from workscope.ingest.files import iter_files
from workscope.ingest.parse import checked
from workscope.ingest.reader import FILE, LINE, RAW_PREFIX, REASON, Reader, ScanContext, ScanResult, TablePart
from workscope.limits import MAX_REJECT_SHARE, MAX_REJECTS, MIN_LINES_FOR_SHARE
from workscope.schemas import SCHEMA_VERSION, TABLES, Bound, check_bounds
from workscope.store import MANIFEST, REJECTS, Store, check_name, name_from_path
from workscope.version import __version__

if TYPE_CHECKING:
    from workscope.ingest.cluster import SparkBuilder

log = logging.getLogger(__name__)

_T = TypeVar("_T")

ProgressFn = Callable[[str, int, int], None]
"""Progress callback: (message, done, total)."""

Sources = str | Path | Sequence[str | Path]
"""Files, folders or URLs (``str``: ``https://``, ``file://``, ``s3://``... see :mod:`.remote`)."""

DOWNLOADS = "download"
"""The folder of a build's staging directory that URL sources are downloaded into."""


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




@dataclass(frozen=True)
class RejectLimits:
    """When an ingest gives up on rejected rows: a count over the trace, a share per file."""

    count: int | None = MAX_REJECTS
    share: float | None = MAX_REJECT_SHARE

    def __post_init__(self) -> None:
        if self.count is not None and (isinstance(self.count, bool) or not isinstance(self.count, int)
                                       or self.count < 0):
            raise OptionError(f"max_rejects must be a whole number >= 0 or None, got {self.count!r}")
        if self.share is not None and not (isinstance(self.share, (int, float)) and 0 <= self.share <= 1):
            raise OptionError(f"max_reject_share must be between 0 and 1 or None, got {self.share!r}")


# ---------------------------------------------------------------- shared by both paths

def source_paths(paths: Sources) -> list[Path | str]:
    """The sources, checked before anything is read or downloaded: local paths (``file://``
    URIs mapped to them) as Path, each of which must exist, and remote URLs as str, each of
    which must name a file; a clear error for none or a missing one."""
    items = remote.plan(paths)
    for p in items:
        if isinstance(p, Path) and not p.exists():
            raise SourceError(p, "no such file or directory", hint=remote.mangled_url_hint(p) or "check the path")
    return items


def distinct_sources(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """The sources with each file read once: a path given twice (or through a symlink) and a
    path inside a folder also given are dropped, since the folder's walk reaches it.

    Returns the kept paths, in the order given, and one line per dropped path saying why
    (for the manifest and a warning).
    """
    real = [p.resolve() for p in paths]
    folders = [r for r in real if r.is_dir()]
    kept: list[Path] = []
    seen: dict[Path, Path] = {}
    dropped: list[str] = []
    for p, r in zip(paths, real, strict=True):
        if r in seen:
            dropped.append(f"{p}: the same file or folder as {seen[r]}")
            continue
        outer = next((f for f in folders if f != r and r.is_relative_to(f)), None)
        if outer is not None:
            dropped.append(f"{p}: inside the folder {outer}, which is read whole")
            continue
        seen[r] = p
        kept.append(p)
    for line in dropped:
        log.warning("source read once: %s", line)
    return kept, dropped


def open_reader(paths: list[Path], format: str | None, options: dict[str, Any] | None
                ) -> tuple[Reader, dict[str, Any]]:
    """The reader (``format``, else detected from the first path) and its checked options."""
    reader = registry.get(format) if format else registry.detect(paths)
    return reader, reader.resolve_options(options)


def scan_with(reader: Reader, paths: list[Path], ctx: ScanContext) -> ScanResult:
    """``reader.scan``, with polars' refusals of a source (a malformed CSV met while a reader
    samples it) turned into one SourceError naming the sources."""
    return _reading(reader, paths, lambda: reader.scan(paths, ctx))


def facts_with(reader: Reader, paths: list[Path], ctx: ScanContext) -> dict[str, Any]:
    """``reader.facts``, with polars' refusals turned into a SourceError as in :func:`scan_with`."""
    return _reading(reader, paths, lambda: reader.facts(paths, ctx))


def _reading(reader: Reader, paths: list[Path], read: Callable[[], _T]) -> _T:
    try:
        return read()
    except pl.exceptions.PolarsError as exc:
        msg = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        where = paths[0] if len(paths) == 1 else f"{paths[0]} (and {len(paths) - 1} more)"
        raise SourceError(where, f"cannot be read as {reader.name}: {msg}",
                          hint="check that the file is complete text of this format, or pass "
                               "another --format") from None


def checked_parts(result: ScanResult, keep_raw: bool = True,
                  bounds: dict[str, Bound] | None = None,
                  ) -> list[tuple[str, int, TablePart, pl.LazyFrame]]:
    """Each part of a scan as (table, index in table, part, checked frame).

    The checked frame has the table's canonical columns, ``_reason`` (the parse failure, the
    broken table rule or the value outside its plausible range (``bounds`` overriding
    :data:`~workscope.schemas.PLAUSIBLE`), null for a good row) and, with ``keep_raw``, the
    line, file and raw text columns that rebuild a rejected row.
    """
    out = []
    for table, parts in result.tables.items():
        for i, part in enumerate(parts):
            frame = part.frame
            keep: list[str] = []
            if keep_raw:
                have = frame.collect_schema()
                if LINE not in have:
                    frame = frame.with_columns(pl.lit(None, pl.Int64).alias(LINE))
                keep = [LINE, FILE, *(c for c in have if c.startswith(RAW_PREFIX))]
            out.append((table, i, part, checked(table, frame, keep, bounds)))
    return out


# ---------------------------------------------------------------- without a store

def scan_sources(paths: Sources, *, format: str | None = None, options: dict[str, Any] | None = None,
                 bounds: dict[str, Any] | None = None) -> dict[str, pl.LazyFrame]:
    """Lazy frames of the good rows of each canonical table the sources fill (``bounds``: as
    for :func:`ingest`).

    Compressed inputs are decompressed, and URL sources downloaded, into a private temporary
    directory removed at interpreter exit (the frames read from it lazily).
    """
    items = source_paths(paths)
    if format and any(isinstance(i, str) for i in items):
        open_reader([], format, options)  # a wrong format or option fails before a download
    staging = Path(tempfile.mkdtemp(prefix="workscope-scan-"))
    atexit.register(shutil.rmtree, staging, ignore_errors=True)
    fetched = remote.fetch(items, staging / DOWNLOADS)
    try:
        plist, _ = distinct_sources(fetched.paths)
        reader, opts = open_reader(plist, format, options)
        limits = check_bounds(bounds)
        result = scan_with(reader, plist, ScanContext(options=opts, staging=staging))
        frames: dict[str, list[pl.LazyFrame]] = {}
        for table, _, _, frame in checked_parts(result, keep_raw=False, bounds={**result.bounds, **limits}):
            frames.setdefault(table, []).append(frame.filter(pl.col(REASON).is_null()).select(TABLES[table].names))
    except WorkscopeError as exc:
        fetched.relabel_error(exc)
        raise
    return {t: pl.concat(fs) if len(fs) > 1 else fs[0] for t, fs in frames.items()}


# ---------------------------------------------------------------- into the store

def ingest(
    store: Store,
    paths: Sources,
    *,
    format: str | None = None,
    name: str | None = None,
    options: dict[str, Any] | None = None,
    bounds: dict[str, Any] | None = None,
    max_rejects: int | None = MAX_REJECTS,
    max_reject_share: float | None = MAX_REJECT_SHARE,
    force: bool = False,
    progress: ProgressFn | None = None,
    engine: Any = None,
) -> IngestResult:
    """Ingest source files into ``store`` as a trace called ``name`` (default: from the first path).

    A source is a file, a folder or the URL of one file (``https://``, ``file://``, and with
    fsspec ``s3://``, ``gs://``...): a URL is downloaded into the build's staging directory
    and recorded in the manifest as the source, with the size and sha256 of what came.
    The reader is ``format`` or detected from the first path. A value outside its column's
    plausible range (:data:`workscope.schemas.PLAUSIBLE`) is a reject; ``bounds`` changes
    ranges for this trace, e.g. ``{"arrival_s": (0, 5e9)}`` (``None`` leaves a side open).
    The ingest stops with a DataError, nothing written, after ``max_rejects`` rejected rows
    or when more than ``max_reject_share`` of a file's rows are rejected
    (:data:`MAX_REJECTS`, :data:`MAX_REJECT_SHARE`; None lifts a limit). Re-ingesting the same source
    bytes with the same reader and options is a no-op (the manifest's content key), whether
    they come from a file or a URL; other sources under an existing name need ``force``.
    Raises a WorkscopeError subclass, with nothing written, if a source cannot be read or
    downloaded (:class:`~workscope.ingest.remote.RemoteSourceError`).

    ``engine``: None or ``"duckdb"`` reads the sources here; ``"spark"`` or a
    :class:`~workscope.spark.SparkEngine` reads them in Spark tasks, one per file for readers
    that read files one by one (:mod:`workscope.ingest.cluster`): the same trace either way.
    """
    t0 = time.perf_counter()
    builder = _builder(engine)
    items = source_paths(paths)
    say = progress or (lambda msg, done, total: None)

    def run(fetched: remote.Fetched, work: Path | None) -> IngestResult:
        return _ingest(store, fetched, work, format=format, name=name, options=options, bounds=bounds,
                       caps=(max_rejects, max_reject_share), force=force, say=say, t0=t0, builder=builder)

    if not any(isinstance(i, str) for i in items):
        return run(remote.Fetched([Path(i) for i in items]), None)
    # What can fail without the bytes fails before the download: format, options, bounds, name.
    if format:
        open_reader([], format, options)
    check_bounds(bounds)
    RejectLimits(max_rejects, max_reject_share)
    first = check_name(name if name is not None else name_from_path(remote.default_name_path(items[0])))
    store.check_unique(first)
    # The download's bytes decide the reader and whether the trace is unchanged, so it comes
    # first, into the build's own staging directory (removed on every way out).
    with store.staging(first) as work:
        return run(remote.fetch(items, work / DOWNLOADS, say), work)


def _ingest(store: Store, fetched: remote.Fetched, work: Path | None, *, format: str | None,
            name: str | None, options: dict[str, Any] | None, bounds: dict[str, Any] | None,
            caps: tuple[int | None, float | None], force: bool, say: ProgressFn, t0: float,
            builder: SparkBuilder | None = None) -> IngestResult:
    """:func:`ingest` once every source is local (``work``: the staging directory the
    downloads are in, to build in too; None: open one)."""
    try:
        plist, dropped = distinct_sources(fetched.paths)
        dropped = fetched.dropped + dropped
        reader, opts = open_reader(plist, format, options)
        limits = check_bounds(bounds)
        caps_ = RejectLimits(*caps)
        name = check_name(name if name is not None else name_from_path(plist[0]))

        hasher = SourceHasher(plist, fetched.urls)  # lists the files now, so a bad path fails before any write
        store.check_unique(name)
        if store.has_trace(name) and not force:
            say("hashing sources", 0, 1)
            if builder is not None:
                builder.hash_sources(hasher, fetched)
            return _unchanged(store, name, content_key(reader, opts, hasher.result(), limits), t0)
        # Otherwise the sources are hashed in a thread while the tables are written: the hashes
        # are needed only in the Parquet footers and the manifest, written last.
        if builder is None:  # the cluster's tasks hash the files they read
            hasher.start()
        try:
            with contextlib.nullcontext(work) if work is not None else store.staging(name) as w:
                build, scratch = w / "trace", w / "scratch"
                scratch.mkdir(parents=True)
                if builder is None:
                    manifest = build_trace(reader, opts, plist, hasher, name, build, scratch, say, dropped,
                                           limits, caps_, fetched)
                else:
                    manifest = builder(reader, opts, plist, hasher, name, build, scratch, say, dropped, limits,
                                       caps_, fetched, upload=store.task_target(w))
                for copies in (scratch, w / DOWNLOADS):  # decompressed and downloaded: free the disk first
                    shutil.rmtree(copies, ignore_errors=True)
                try:
                    status = store.commit(name, build, replace=force)
                except TraceExistsError:
                    # Another writer created the trace while this one was building.
                    return _unchanged(store, name, manifest["content_key"], t0)
        except BaseException:
            hasher.cancel()
            raise
    except WorkscopeError as exc:
        fetched.relabel_error(exc)  # the user knows the URL, not the staging copy
        raise
    return IngestResult(name, status, manifest, time.perf_counter() - t0)


def _builder(engine: Any) -> SparkBuilder | None:
    """The builder for ``engine`` (None: :func:`build_trace`), checked before any work."""
    from workscope.spark import spark_engine

    eng = spark_engine(engine)
    if eng is None:
        return None
    from workscope.ingest import cluster

    return cluster.SparkBuilder(eng)


def _unchanged(store: Store, name: str, key: str, t0: float) -> IngestResult:
    """The existing trace ``name`` if it holds these sources (same content key); else
    TraceExistsError, since replacing it was not asked for."""
    with store.trace(name) as trace:
        old = trace.manifest
    if old.get("content_key") != key:
        raise TraceExistsError(name)
    return IngestResult(name, "unchanged", old, time.perf_counter() - t0)


def content_key(reader: Reader, opts: dict[str, Any], sources: list[dict[str, Any]],
                bounds: dict[str, Bound] | None = None) -> str:
    """The identity of an ingest: reader and version, schema version, options, changed
    bounds, source hashes."""
    ident = {
        "reader": reader.name, "version": reader.version, "schema": SCHEMA_VERSION,
        "options": opts, "sources": sorted(s["sha256"] for s in sources),
    }
    if bounds:  # absent when unchanged, so traces ingested before bounds existed keep their key
        ident["bounds"] = {c: [str(lo), str(hi)] for c, (lo, hi) in sorted(bounds.items())}
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()


def build_trace(
    reader: Reader, opts: dict[str, Any], paths: list[Path], hasher: SourceHasher,
    name: str, build: Path, scratch: Path, say: ProgressFn, dropped: list[str] | None = None,
    bounds: dict[str, Bound] | None = None, caps: RejectLimits = RejectLimits(),
    fetched: remote.Fetched | None = None,
) -> dict[str, Any]:
    """Scan the sources, sink every part into ``build`` and write the manifest; returns it.

    ``dropped``: sources left out as repeats (:func:`distinct_sources`), recorded in the
    manifest's ``meta.duplicate_sources``; ``bounds``: changed plausibility bounds, recorded
    in ``bounds``; ``caps``: when to give up on rejected rows; ``fetched``: the downloads
    among ``paths`` and their URLs, which the manifest and the rejects name instead.
    """
    fetched = fetched or remote.Fetched(list(paths))
    labels = fetched.by_text
    say(f"scanning with {reader.name}", 0, 1)
    result = scan_with(reader, paths, ScanContext(options=opts, staging=scratch))
    provenance = trace_provenance(name, reader, opts, result.meta, bounds)
    parts = checked_parts(result, bounds={**result.bounds, **(bounds or {})})
    if not parts:
        raise DataError(f"{paths[0]}: the {reader.name} reader found nothing to ingest")
    (build / REJECTS).mkdir(parents=True)
    write_parts(parts, build, FooterMetadata(provenance, hasher), caps, labels, say)
    return finish_trace(build, reader, opts, provenance, result, hasher, paths[0], dropped, bounds, fetched, say)


def trace_provenance(name: str, reader: Reader, opts: dict[str, Any], meta: dict[str, Any],
                     bounds: dict[str, Bound] | None) -> dict[str, Any]:
    """What the manifest and every Parquet footer of a trace say about how it was made."""
    provenance = {
        "trace": name,
        "workscope_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "reader": {"name": reader.name, "version": reader.version},
        "options": opts,
        "origin_utc": meta.get("origin_utc"),
    }
    if bounds:
        # JSON has no infinity: an open side is null.
        provenance["bounds"] = {c: [v if math.isfinite(v) else None for v in b]
                                for c, b in bounds.items()}
    return provenance


def part_paths(table: str, i: int) -> tuple[str, str]:
    """Where part ``i`` of ``table`` lies in a generation (relative paths): its good rows
    (``<table>/part-NNNNN.parquet``) and its rejects (``rejects/<table>-NNNNN.parquet``)."""
    return f"{table}/part-{i:05d}.parquet", f"{REJECTS}/{table}-{i:05d}.parquet"


def write_parts(parts: list[tuple[str, int, TablePart, pl.LazyFrame]], build: Path,
                kv: Callable[[Any], dict[str, str]], caps: RejectLimits, labels: Mapping[str, str],
                say: ProgressFn) -> int:
    """Sink checked parts into ``build`` (at :func:`part_paths`), each reject's text exact
    from its file; returns the rows rejected. DataError as soon as the rejects pass ``caps``."""
    rejected = 0
    for n, (table, i, part, frame) in enumerate(parts):
        say(f"{table} ← {labels.get(part.file, part.file)}", n, len(parts))
        (build / table).mkdir(parents=True, exist_ok=True)
        left = None if caps.count is None else caps.count - rejected
        ok_path, rej_path = (build / p for p in part_paths(table, i))
        sink_part(table, part, frame, ok_path, rej_path, kv, max_rejects=left, labels=labels)
        bad = _check_rejects(part, ok_path, rej_path, caps, rejected)
        rejected += bad
        if bad:  # the source is reread only for a part that has rejects
            exact_raw(rej_path, kv, trust_lines=part.source_lines,
                      files={url: Path(local) for local, url in labels.items()})
    return rejected


@dataclass
class Figures:
    """What :func:`finish_trace` counts, computed where the parts were written: each table's
    :func:`part_stats`, in part order, and the rejects' :func:`reason_counts`."""

    parts: dict[str, list[dict[str, Any]]]
    reasons: list[dict[str, Any]]


def finish_trace(build: Path, reader: Reader, opts: dict[str, Any], provenance: dict[str, Any],
                 result: ScanResult, hasher: SourceHasher, first: Path, dropped: list[str] | None,
                 bounds: dict[str, Bound] | None, fetched: remote.Fetched, say: ProgressFn,
                 figures: Figures | None = None) -> dict[str, Any]:
    """Count the tables written into ``build`` and write its manifest; returns the manifest.

    ``result``: the scan's tables (only their names are used here), files and meta;
    ``figures``: each table's :func:`part_stats` in part order and the :func:`reason_counts`,
    where they were computed elsewhere (a cluster ingest's tasks); else they are read from
    ``build``."""
    if dropped:
        result.meta["duplicate_sources"] = dropped
    unread = fetched.relabel(unread_files(hasher.files, result.files))
    if unread:
        # a folder of mixed formats: say which files this reader did not take
        result.meta["skipped_files"] = sorted({*map(str, result.meta.get("skipped_files", [])), *unread})
        log.warning("the %s reader read %d file(s) and skipped %d (listed in the manifest's "
                    "meta.skipped_files): %s", reader.name, len(result.files), len(unread),
                    ", ".join(unread[:5]) + (f" and {len(unread) - 5} more" if len(unread) > 5 else ""))
    say("counting", 1, 1)
    if figures is None:
        tables_meta = {t: table_stats(build, t) for t in result.tables}
        reasons = reason_counts(build / REJECTS)
    else:
        tables_meta = {t: merge_stats(t, figures.parts.get(t, [])) for t in result.tables}
        reasons = figures.reasons
    _require_good_rows(first, tables_meta, reasons)
    sources = hasher.result()
    hasher.check_unchanged()
    manifest = {
        **provenance,
        "sources": sources,
        "content_key": content_key(reader, opts, sources, bounds),
        "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "meta": fetched.relabel(result.meta),
        "files_used": [str(fetched.relabel(Path(f))) for f in result.files],
        "tables": tables_meta,
        "rejects": {"rows": sum(m["rows_rejected"] for m in tables_meta.values()),
                    "top_reasons": top_of(reasons, 10)},
    }
    write_atomic(build / MANIFEST, json.dumps(manifest, indent=2, sort_keys=False, default=str))
    return manifest


def unread_files(listed: list[Path], used: list[Path]) -> list[str]:
    """The files under the sources that the reader did not read (a file inside a folder the
    reader took whole counts as read)."""
    taken = {Path(u).resolve() for u in used}
    folders = [t for t in taken if t.is_dir()]
    return [str(f) for f in listed
            if (r := f.resolve()) not in taken and not any(r.is_relative_to(d) for d in folders)]


def sink_part(table: str, part: TablePart, frame: pl.LazyFrame, ok_path: Path, rej_path: Path,
              kv: Callable[[Any], dict[str, str]], max_rejects: int | None = None,
              labels: Mapping[str, str] | None = None) -> None:
    """Write a checked part's good rows to ``ok_path`` and its rejects to ``rej_path``, in one
    streaming pass over the source; with ``max_rejects``, at most one reject more than that
    is written (enough to tell that the limit was passed); ``labels``: the name the rejects'
    ``file`` column gives a file instead of its path (a download's URL)."""
    # A part read from many files (one scan over a directory) names each row's file.
    if FILE in part.frame.collect_schema():
        file_col = pl.col(FILE).cast(pl.String)
        if labels:
            file_col = file_col.replace(dict(labels))
    else:
        file_col = pl.lit((labels or {}).get(part.file, part.file))
    ok = frame.filter(pl.col(REASON).is_null()).select(TABLES[table].names)
    rej = frame.filter(pl.col(REASON).is_not_null()).select(
        pl.lit(table).alias("table"),
        file_col.cast(pl.String).alias("file"),
        pl.col(LINE).alias("line"),
        part.raw.alias("raw"),
        pl.col(REASON).alias("reason"),
    )
    if max_rejects is not None:
        rej = rej.head(max_rejects + 1)
    try:
        pl.collect_all([
            ok.sink_parquet(ok_path, compression="zstd", metadata=kv, lazy=True),
            rej.sink_parquet(rej_path, compression="zstd", metadata=kv, lazy=True),
        ], engine="streaming")
    except (pl.exceptions.PolarsError, OSError) as exc:
        if (refused := write_error(exc, f"the store at {ok_path.parents[4]}")) is not None:
            raise refused from None  # the store's disk, not the source
        msg = str(exc).strip().splitlines()[0][:300]
        raise SourceError(part.file, f"cannot be read: {msg}",
                          hint="check the file's format and delimiter, or pass --format") from None


def exact_raw(rej_path: Path, kv: Callable[[Any], dict[str, str]] | None = None, *,
              trust_lines: bool = False, files: Mapping[str, Path] | None = None) -> int:
    """Put each rejected row's source line, as it is in the file, into ``raw``; returns how
    many were replaced.

    Readers rebuild ``raw`` from parsed fields, which loses quoting (``"1,2"`` comes back as
    ``1,2``). Where the reject's file is a readable file (gzip or plain) and its line, with
    quotes removed, is the rebuilt text, the line replaces it; bytes that are not UTF-8 show
    as ``\\xNN``. Other rows keep the rebuilt text: a line it does not match (a reader whose
    line numbers are not physical lines) never replaces it. With ``trust_lines`` (a part whose
    line numbers are physical lines: ``TablePart.source_lines``), the line replaces the text
    whatever it holds. ``files`` maps a ``file`` value that is not a path (a URL) to the
    file to read.
    """
    rej = pl.read_parquet(rej_path, glob=False)
    if rej.height == 0:
        return 0
    raws = rej["raw"].to_list()
    changed = 0
    for file, rows, lines in rej.with_row_index("_i").group_by("file").agg("_i", "line").iter_rows():
        path = (files or {}).get(file) or (Path(file) if file else None)
        if path is None or not path.is_file():
            continue
        wanted: dict[int, list[int]] = {}
        for i, line in zip(rows, lines, strict=True):
            if line is not None and line > 0:
                wanted.setdefault(int(line), []).append(int(i))
        if not wanted:
            continue
        for line, data in _lines(path, wanted):
            for i in wanted[line]:
                rebuilt = raws[i]
                if trust_lines or (rebuilt is not None and _same_row(data.decode("utf-8", "replace"), rebuilt)):
                    exact = data.decode("utf-8", "backslashreplace")
                    if exact != rebuilt:
                        raws[i] = exact
                        changed += 1
    if changed:
        out = rej.with_columns(pl.Series("raw", raws, dtype=pl.String))
        out.write_parquet(rej_path, compression="zstd", metadata=kv(None) if kv else None)
    return changed


def _lines(path: Path, wanted: dict[int, list[int]]) -> Iterator[tuple[int, bytes]]:
    """The lines numbered in ``wanted`` (1-based, physical) of a plain or gzip file, without
    their line ending."""
    import gzip

    last = max(wanted)
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    try:
        with gzip.open(path, "rb") if gz else open(path, "rb") as fh:
            for n, raw in enumerate(fh, start=1):
                if n in wanted:
                    yield n, raw.rstrip(b"\r\n")
                if n >= last:
                    return
    except (OSError, EOFError):
        return  # a damaged tail: the rows found so far are replaced, the rest keep their text


def _same_row(line: str, rebuilt: str) -> bool:
    """Whether the file's ``line`` is the row the reader rebuilt, quotes aside (a ragged
    row's rebuilt text ends with its first surplus field and ``...``)."""
    a, b = line.replace('"', ""), rebuilt.replace('"', "")
    if b.endswith("..."):
        return a.startswith(b[:-3])
    return a == b


def _check_rejects(part: TablePart, ok_path: Path, rej_path: Path, caps: RejectLimits, before: int) -> int:
    """The part's rejected rows; DataError when they pass the count or share of ``caps``."""
    bad = count_rows([rej_path])
    good = count_rows([ok_path])
    total = before + bad
    over_count = caps.count is not None and total > caps.count
    share = bad / (good + bad) if good + bad else 0.0
    over_share = caps.share is not None and bad >= MIN_LINES_FOR_SHARE and share > caps.share
    if over_share:
        # Wide formats make many rows of one line (a day of minutes): one cut line is damage
        # to report as rejects, not a file of another format. Judge the share on lines.
        lines = pl.scan_parquet(rej_path, glob=False).select(pl.col("line").n_unique()).collect().item()
        over_share = lines >= MIN_LINES_FOR_SHARE
    if not (over_count or over_share):
        return bad
    first = (pl.scan_parquet(rej_path, glob=False).select("line", "reason").head(1).collect().row(0)
             if bad else (None, ""))
    where = f" at line {first[0]}" if first[0] is not None else ""
    if over_count:
        what = (f"more than {caps.count:,} rows rejected (first reason here{where}: {first[1]}); "
                "stopped there")
        lift = f"--max-rejects (now {caps.count:,})"
    else:
        what = (f"{bad:,} of {good + bad:,} rows rejected ({share:.0%}; first reason{where}: {first[1]})")
        lift = f"--max-reject-share (now {caps.share:g})"
    raise DataError(f"{part.file}: {what}; this is not a file of the format read, or it is damaged; "
                    f"check the file and --format, or raise {lift}; nothing was written")


def _require_good_rows(first: Path, tables_meta: dict[str, dict[str, Any]], reasons: list[dict[str, Any]]) -> None:
    if sum(m["rows_ok"] for m in tables_meta.values()) > 0:
        return
    top = top_of(reasons, 1)
    reason = f" (first reason: {top[0]['reason']})" if top else ""
    raise DataError(
        f"{first}: no valid rows; all {sum(m['rows_in'] for m in tables_meta.values())} "
        f"rows were rejected{reason}; check the format (--format) and the file"
    )


# ---------------------------------------------------------------- the manifest's figures

def count_rows(files: list[Path]) -> int:
    """Rows in Parquet files, from their footers (no data is read)."""
    if not files:
        return 0
    return int(pl.scan_parquet(files, glob=False).select(pl.len()).collect().item())


def part_stats(table: str, build: Path, i: int) -> dict[str, Any]:
    """Part ``i`` of ``table`` in ``build``: its figures for the manifest: its rows, rejected
    rows and, for a table with a time column, that column's min, max, inversions (a value
    below the one before), first and last value. :func:`merge_stats` makes a table's figures
    of its parts' (a cluster ingest's tasks compute them where the parts are written, so the
    driver reads no data)."""
    ok_path, rej_path = (build / p for p in part_paths(table, i))
    out: dict[str, Any] = {"rows": count_rows([ok_path]),
                           "rejected": count_rows([rej_path]) if rej_path.exists() else 0}
    tcol = TABLES[table].time_column
    if tcol and out["rows"]:
        c = pl.col(tcol)
        out.update(pl.scan_parquet(ok_path, glob=False).select(
            c.min().alias("min"), c.max().alias("max"), (c.diff() < 0).sum().alias("inversions"),
            c.first().alias("first"), c.last().alias("last"),
        ).collect(engine="streaming").row(0, named=True))
    return out


def merge_stats(table: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """A table's manifest figures from its parts' :func:`part_stats`, in part order:
    rows_in = rows_ok + rows_rejected, file count, and the time column's range and order (as
    one pass over the parts in a row would count them: an inversion may span two parts)."""
    rows_ok = sum(p["rows"] for p in parts)
    rows_rej = sum(p["rejected"] for p in parts)
    stats: dict[str, Any] = {"rows_in": rows_ok + rows_rej, "rows_ok": rows_ok,
                             "rows_rejected": rows_rej, "files": len(parts)}
    tcol = TABLES[table].time_column
    if tcol and rows_ok:
        timed = [p for p in parts if p["rows"]]
        lows = [p["min"] for p in timed if p["min"] is not None]
        highs = [p["max"] for p in timed if p["max"] is not None]
        inversions = sum(p["inversions"] for p in timed) + sum(
            1 for a, b in itertools.pairwise(timed)
            if a["last"] is not None and b["first"] is not None and b["first"] < a["last"])
        stats["time"] = {"column": tcol, "min_s": min(lows) if lows else None,
                         "max_s": max(highs) if highs else None,
                         "sorted": inversions == 0, "inversions": inversions}
    return stats


def table_stats(build: Path, table: str) -> dict[str, Any]:
    """A table's manifest figures from the parts written into ``build``."""
    ok_files = sorted((build / table).glob("part-*.parquet"))
    return merge_stats(table, [part_stats(table, build, int(f.stem.removeprefix("part-"))) for f in ok_files])


def reason_counts(rejects_dir: Path) -> list[dict[str, Any]]:
    """Every (table, reason) pair of the rejects in ``rejects_dir``, with its rows and first
    line (:func:`top_of` merges the counts of several folders)."""
    files = sorted(rejects_dir.glob("*.parquet"))
    if count_rows(files) == 0:
        return []
    return (pl.scan_parquet(files, glob=False)
            .group_by("table", "reason").agg(pl.len().alias("rows"), pl.col("line").min().alias("first_line"))
            .collect().to_dicts())


def top_of(counts: Iterable[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """The ``n`` commonest (table, reason) pairs of :func:`reason_counts` (of one folder or
    several), with rows and first line."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for c in counts:
        key = (c["table"], c["reason"])
        if key in merged:
            m = merged[key]
            m["rows"] += c["rows"]
            if c["first_line"] is not None and (m["first_line"] is None or c["first_line"] < m["first_line"]):
                m["first_line"] = c["first_line"]
        else:
            merged[key] = dict(c)
    return sorted(merged.values(), key=lambda c: (-c["rows"], c["table"], c["reason"]))[:n]



class SourceHasher:
    """sha256 and size of every source file, computed now or in a background thread, and a
    check that no source changed between listing and the end of the ingest."""

    def __init__(self, paths: list[Path], labels: Mapping[Path, str] | None = None) -> None:
        # No data files is the reader's to report: it knows what it expected to find.
        self.files = list(iter_files(paths))
        # A download is recorded as its URL: the staging copy is gone once the ingest ends.
        self.labels = dict(labels or {})
        self.stamps = {f: _stamp(f) for f in self.files}
        self.roots = [p.parent if p.is_file() else p for p in paths]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._result: list[dict[str, Any]] | None = None
        self._error: BaseException | None = None
        self._given: dict[Path, str] = {}

    def use_digests(self, digests: Mapping[str, str]) -> None:
        """Take the sha256 of these files (path -> hex digest) as computed elsewhere: the
        cluster ingest's tasks hash the files they read; the rest are hashed here."""
        self._given.update({Path(f): d for f, d in digests.items()})

    def label(self, f: Path) -> str:
        """The name the manifest gives a source file: its URL, else its path under the source
        folder given, else its name."""
        return self.labels.get(f) or next((str(f.relative_to(r)) for r in self.roots if f.is_relative_to(r)),
                                          f.name)

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

    def check_unchanged(self) -> None:
        """Raise SourceError if a source's size or modification time is not what it was when
        the files were listed: the rows read and the hash would then describe different bytes."""
        for f, before in self.stamps.items():
            if _stamp(f) != before:
                raise SourceError(f, "changed while it was being ingested (its size or modification "
                                     "time differs from the start)",
                                  hint="ingest again once the file is complete; nothing was written")

    def _run(self) -> None:
        try:
            self._result = [self._one(f) for f in self.files]
        except Exception as exc:  # noqa: BLE001 - re-raised in result(), in the caller's thread
            self._error = exc

    def _one(self, f: Path) -> dict[str, Any]:
        digest = self._given.get(f) or file_sha256(f, self._stop)
        return {"path": self.label(f), "bytes": self.stamps[f][0], "sha256": digest}


def file_sha256(f: Path, stop: threading.Event | None = None) -> str:
    """The sha256 of a file, read in 1 MiB chunks (StoreError when ``stop`` is set meanwhile)."""
    h = hashlib.sha256()
    with open(f, "rb") as fh:
        while chunk := fh.read(1 << 20):
            if stop is not None and stop.is_set():
                raise StoreError("ingest cancelled")
            h.update(chunk)
    return h.hexdigest()


def _stamp(f: Path) -> tuple[int, int]:
    st = f.stat()
    return st.st_size, st.st_mtime_ns


class FooterMetadata:
    """Parquet key-value metadata, built when polars writes a file's footer (after the data),
    so the source hashes computed meanwhile can be included."""

    def __init__(self, provenance: dict[str, Any], hasher: SourceHasher) -> None:
        self.provenance, self.hasher = provenance, hasher
        self._text: str | None = None

    def __call__(self, ctx: Any) -> dict[str, str]:
        if self._text is None:
            doc = {**self.provenance, "sources": self.hasher.result()}
            self._text = json.dumps(doc, sort_keys=True, default=str)
        return {"workscope": self._text}
