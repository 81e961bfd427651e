"""Ingest on a Spark cluster: the one pipeline, with the sources read in Spark tasks.

``workscope ingest --engine spark`` and ``ingest(..., engine=SparkEngine(...))`` build the
same trace as an ingest on this machine (same rows in the same order, same rejects, same
manifest but for its creation time and the number of Parquet files): only
:func:`~workscope.ingest.pipeline.build_trace` is replaced, by :class:`SparkBuilder`.

- A reader that reads files one by one (``Reader.split``) gets one task per group of its
  ``select`` (a file, or files that join: a day's files, a job's event shards), given by
  ``mapInArrow`` over the list of groups. ``select`` sees the reader's options, so which
  files are read is decided over all of them on the driver. If the reader derives a fact
  from all the files (the origin: the earliest of the files' own), a first, light job reads
  each group's ``Reader.facts`` (by default its scan's ``meta``) and the driver derives the
  facts (``Reader.shared_facts``) that every task of the second job then uses.
- Any other reader (single-file formats, mostly) is read whole, in one task.

Each task scans its files with the reader, checks every row (the same
:func:`~workscope.ingest.pipeline.checked_parts`), sinks good rows and rejects as Parquet
into a directory of its own under the build directory (its task attempt's: a retried or
speculative attempt never writes over another), puts each reject's exact source line in,
hashes its files, and returns a small JSON document: its parts, row counts, the scan's meta
and the files' digests. The driver then moves the parts into the store's layout in file
order, counts, writes the manifest and commits the build atomically, as a local ingest
does; any error of a task (a SourceError naming the file and line, too many rejects) is
raised on the driver as the same exception, and nothing is written.

Spark's own DataFrame writer is not used for the tables: it names files its own way,
cannot carry workscope's Parquet footer, and has no unsigned integer types. The tasks write
the parts themselves: into the build directory, for a local store, which every executor must
then mount at the same path (NFS, a cluster file system's FUSE mount such as ``/dbfs``; in
``local[*]`` mode any path does); or, for a store at a URL (``s3://``, ``hdfs://``), into a
scratch folder of the store, uploaded through fsspec, for the commit to move into the new
generation. Either way each task also counts its parts (rows, rejects, the time column's
range and order: ``pipeline.part_stats``) and its rejects' reasons, so the driver writes the
manifest without reading a part. The sources must be at paths every executor mounts.
"""

from __future__ import annotations

import importlib
import json
import shutil
import tempfile
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workscope.errors import DataError, InternalError, WorkscopeError
from workscope.ingest import registry
from workscope.ingest.files import iter_files
from workscope.ingest.reader import Reader, ScanContext, ScanResult
from workscope.schemas import Bound
from workscope.store import REJECTS

if TYPE_CHECKING:
    from workscope.ingest.pipeline import Figures, RejectLimits, SourceHasher
    from workscope.ingest.remote import Fetched
    from workscope.spark import SparkEngine

UNITS = "_units"
"""The folder of the build directory that the tasks write into before the driver moves
their parts into place."""

RESULT_SCHEMA = "unit long, result string"


class SparkBuilder:
    """What the ingest pipeline calls instead of :func:`~workscope.ingest.pipeline.build_trace`
    (and instead of hashing the sources here) to do its reading in Spark tasks of ``engine``."""

    def __init__(self, engine: SparkEngine) -> None:
        self.spark = engine.spark

    def __call__(self, reader: Reader, opts: dict[str, Any], paths: list[Path], hasher: SourceHasher,
                 name: str, build: Path, scratch: Path, say: Callable[[str, int, int], None],
                 dropped: list[str] | None = None, bounds: dict[str, Bound] | None = None,
                 caps: RejectLimits | None = None, fetched: Fetched | None = None,
                 upload: dict[str, Any] | None = None) -> dict[str, Any]:
        """Build the trace into ``build`` (``scratch`` is unused: each task has its own);
        ``upload``: where the tasks put their parts for a store in the object layout
        (:meth:`workscope.store.Store.task_target`), None to write them into ``build``."""
        return build_on_spark(self.spark, reader, opts, paths, hasher, name, build, say, dropped, bounds,
                              caps, fetched, upload)

    def hash_sources(self, hasher: SourceHasher, fetched: Fetched | None = None) -> None:
        """Hash every source file in a Spark task of its own (a re-ingest's check that the
        sources are unchanged must not read a cluster's trace through this one machine)."""
        if hasher.files:
            results = _run_job(self.spark, {"phase": "hash", "units": [[str(f)] for f in hasher.files],
                                            "downloads": _downloads(fetched)})
            hasher.use_digests({f: d for r in results for f, d in r["digests"].items()})


def units_of(reader: Reader, paths: list[Path], options: dict[str, Any] | None = None
             ) -> tuple[list[list[Path]], list[Path]]:
    """What each task reads (the groups of a split reader's ``select`` under ``options``: one
    file each, most often; else all the sources at once), and the files that a scan of all of
    them lists as skipped in its meta."""
    if not reader.split:
        return [list(paths)], []
    groups, skipped = reader.select(paths, options)
    if len(groups) < 2:  # none: the reader's scan says why
        return [list(paths)], []
    return groups, skipped


def build_on_spark(spark: Any, reader: Reader, opts: dict[str, Any], paths: list[Path],
                   hasher: SourceHasher, name: str, build: Path, say: Callable[[str, int, int], None],
                   dropped: list[str] | None, bounds: dict[str, Bound] | None, caps: RejectLimits | None,
                   fetched: Fetched | None, upload: dict[str, Any] | None = None) -> dict[str, Any]:
    """:func:`~workscope.ingest.pipeline.build_trace` with the scans and writes in Spark tasks."""
    from workscope.ingest import pipeline, remote

    fetched = fetched or remote.Fetched(list(paths))
    caps = caps or pipeline.RejectLimits()
    units, skipped = units_of(reader, paths, opts)
    spec: dict[str, Any] = {
        "reader": reader.name, "options": opts,
        "bounds": {c: list(b) for c, b in (bounds or {}).items()},
        "caps": [caps.count, caps.share], "labels": fetched.by_text,
        "names": {str(f): hasher.label(f) for f in hasher.files},
        "units": [[str(p) for p in u] for u in units],
        "downloads": _downloads(fetched),
    }
    shared = None
    if len(units) > 1 and reader.shares_facts:
        say(f"reading what the {len(units)} files share", 0, 1)
        metas = [r["meta"] for r in _run_job(spark, {**spec, "phase": "facts"})]
        shared = reader.shared_facts(metas)
    say(f"reading {len(units)} unit(s) in Spark tasks", 0, 1)
    spec.update(phase="write", shared=shared, build=str(build), trace=name, upload=upload)
    results = _run_job(spark, spec)
    meta = merge_meta(reader, [r["meta"] for r in results])
    if skipped:
        meta["skipped_files"] = sorted({*meta.get("skipped_files", []), *map(str, skipped)})
    provenance = pipeline.trace_provenance(name, reader, opts, meta, bounds)
    rejected = sum(r["rejected"] for r in results)
    if caps.count is not None and rejected > caps.count:
        first = next(r["first_reject"] for r in results if r["rejected"])
        raise DataError(f"{first['file']}: more than {caps.count:,} rows rejected over the trace "
                        f"(first reason at line {first['line']}: {first['reason']}); this is not a file "
                        f"of the format read, or it is damaged; check the files and --format, or raise "
                        f"--max-rejects (now {caps.count:,}); nothing was written")
    figures = _place_parts(build, results, remote=upload is not None)
    if not figures.parts:
        raise DataError(f"{paths[0]}: the {reader.name} reader found nothing to ingest")
    hasher.use_digests({f: d for r in results for f, d in r["digests"].items()})
    result = ScanResult({t: [] for t in figures.parts}, [Path(f) for r in results for f in r["files"]], meta)
    return pipeline.finish_trace(build, reader, opts, provenance, result, hasher, paths[0], dropped,
                                 bounds, fetched, say, figures)


def merge_meta(reader: Reader, metas: list[dict[str, Any]]) -> dict[str, Any]:
    """The trace's ``meta`` from its tasks' (in file order): the keys that add up
    (``Reader.meta_merged``) added up, the files a folder's scan skipped listed once, and
    every other key the same in all of them. A difference means the reader is not split as it
    claims: an InternalError, before anything is written."""
    merged: dict[str, Any] = {}
    for m in metas:
        for key, value in m.items():
            if key == "skipped_files":
                merged[key] = sorted({*merged.get(key, []), *map(str, value)})
            elif key not in merged:
                merged[key] = value
            elif key in reader.meta_merged:
                merged[key] = _add(merged[key], value)
            elif merged[key] != value:
                raise InternalError(f"the {reader.name} reader's files disagree on meta {key!r} "
                                    f"({merged[key]!r} and {value!r}); ingest without --engine spark "
                                    "and report this")
    return merged


def _add(a: Any, b: Any) -> Any:
    """Two groups' values of a key that adds up: numbers summed, mappings of numbers summed
    per key (in order of first use), lists joined (sorted, each item once)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: a.get(k, 0) + b.get(k, 0) for k in [*a, *(k for k in b if k not in a)]}
    if isinstance(a, list) and isinstance(b, list):
        return sorted({*a, *b})
    return a + b


def _run_job(spark: Any, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Run every unit of ``spec`` in its own Spark task; each task's JSON result, in unit
    order. A task's WorkscopeError is raised here as the same exception."""
    n = len(spec["units"])
    text = json.dumps(spec, default=str)
    # spark.range with n slices puts exactly one unit in each task.
    from workscope.spark import spark_errors, spark_message

    try:
        with warnings.catch_warnings():
            # pyspark warns about the pandas release; mapInArrow passes Arrow, not pandas
            warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
            rows = spark.range(0, n, 1, n).mapInArrow(_task(text), RESULT_SCHEMA).collect()
    except spark_errors() as exc:  # an executor lost, a worker that cannot import workscope
        raise DataError(f"the Spark job reading {spec['units'][0][0]} (and {n - 1} more) failed: "
                        f"{spark_message(exc)}; check that every executor has workscope installed "
                        "and mounts the sources (and a local store) at the same paths; nothing was written"
                        ) from None
    results = sorted(((r["unit"], json.loads(r["result"])) for r in rows), key=lambda x: x[0])
    for _, res in results:
        if "error" in res:
            _raise(res["error"])
    return [res for _, res in results]


def _task(spec_text: str) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """The function each task runs over its batch of unit numbers (a closure over the job's
    JSON spec, which Spark ships to the executors)."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        spec = json.loads(spec_text)
        for batch in batches:
            for unit in batch.column(0).to_pylist():
                out = run_unit(spec, unit)
                yield pa.RecordBatch.from_pydict({"unit": [unit], "result": [json.dumps(out, default=str)]})

    return run


def run_unit(spec: dict[str, Any], unit: int) -> dict[str, Any]:
    """Read one unit of ``spec`` (on an executor): its scan's meta, or, in the write phase,
    its parts written under the build directory's :data:`UNITS` folder; a WorkscopeError is
    returned as data, for the driver to raise."""
    try:
        return _run_unit(spec, unit)
    except WorkscopeError as exc:
        return {"error": {"module": type(exc).__module__, "class": type(exc).__name__,
                          "message": str(exc), "attrs": _jsonable(vars(exc))}}
    except Exception as exc:  # noqa: BLE001 - a fault of ours: the driver raises it as InternalError
        where = "".join(traceback.format_exception(exc)[-3:]).strip().replace("\n", " | ")
        return {"error": {"module": "workscope.errors", "class": "InternalError",
                          "message": f"a Spark task failed on {spec['units'][unit][0]}: "
                                     f"{type(exc).__name__}: {exc} ({where[-400:]})", "attrs": {}}}


def _downloads(fetched: Fetched | None) -> dict[str, str]:
    """The sources the driver downloaded (its staging copy -> the URL), for a task that lacks
    the copy to fetch the file again (:func:`_materialize`)."""
    return {str(p): url for p, url in fetched.origins.items()} if fetched is not None else {}


def _materialize(spec: dict[str, Any], paths: list[Path]) -> list[Path]:
    """Fetch again, from its URL and into the same path, each download of the unit that this
    machine lacks: the driver downloaded the sources given by URL into its own staging folder,
    which executors on other machines do not see. Returns the files fetched, for the task to
    delete when done."""
    from workscope.ingest import remote

    fetched = []
    for p in paths:
        url = spec.get("downloads", {}).get(str(p))
        if url is not None and not p.exists():
            remote.download(url, p.parent)
            fetched.append(p)
    return fetched


def _run_unit(spec: dict[str, Any], unit: int) -> dict[str, Any]:
    paths = [Path(p) for p in spec["units"][unit]]
    fetched = _materialize(spec, paths)
    try:
        return _read_unit(spec, unit, paths)
    finally:
        for p in fetched:
            p.unlink(missing_ok=True)


def _read_unit(spec: dict[str, Any], unit: int, paths: list[Path]) -> dict[str, Any]:
    from workscope.ingest import pipeline

    if spec["phase"] == "hash":
        return {"digests": {str(f): pipeline.file_sha256(f) for f in paths}}
    reader = registry.get(spec["reader"])
    with tempfile.TemporaryDirectory(prefix="workscope-task-") as tmp:
        ctx = ScanContext(options=spec["options"], staging=Path(tmp), shared=spec.get("shared") or {})
        if spec["phase"] == "facts":
            return {"meta": pipeline.facts_with(reader, paths, ctx)}
        result = pipeline.scan_with(reader, paths, ctx)
        bounds = {c: (float(lo), float(hi)) for c, (lo, hi) in spec["bounds"].items()}
        parts = pipeline.checked_parts(result, bounds={**result.bounds, **bounds})
        # a store at a URL gets the parts uploaded: they are written in the task's own folder
        folder = f"{unit:05d}-{_attempt()}"
        out = (Path(tmp) if spec.get("upload") else Path(spec["build"])) / UNITS / folder
        (out / REJECTS).mkdir(parents=True)
        files = list(iter_files(paths))
        digests = {str(f): pipeline.file_sha256(f) for f in files}
        sources = [{"path": spec["names"].get(str(f), f.name), "bytes": f.stat().st_size,
                    "sha256": digests[str(f)]} for f in files]
        provenance = pipeline.trace_provenance(spec["trace"], reader, spec["options"], result.meta,
                                               bounds or None)
        text = json.dumps({**provenance, "sources": sources}, sort_keys=True, default=str)
        caps = pipeline.RejectLimits(*spec["caps"])
        rejected = pipeline.write_parts(parts, out, lambda _ctx: {"workscope": text}, caps, spec["labels"],
                                        lambda *_: None)
        reasons = pipeline.reason_counts(out / REJECTS)
        first = None
        if rejected:
            first = pipeline.top_of(reasons, 1)[0]
            first["file"] = spec["labels"].get(str(paths[0]), str(paths[0]))  # a download: its URL
            first["line"] = first.pop("first_line")
        # the manifest's figures, counted here: the driver reads no part
        stats = [pipeline.part_stats(t, out, i) for t, i, _, _ in parts]
        where, sizes = str(out), {}
        if spec.get("upload"):
            where, sizes = _upload(spec["upload"], out, folder)
        return {"meta": result.meta, "files": [str(f) for f in result.files],
                "parts": [[t, i] for t, i, _, _ in parts], "stats": stats, "reasons": reasons,
                "dir": where, "sizes": sizes, "rejected": rejected, "first_reject": first, "digests": digests}


def _upload(target: dict[str, Any], out: Path, folder: str) -> tuple[str, dict[str, int]]:
    """Put a task's parts under the store's scratch folder (a store in the object layout, which
    executors do not mount); returns that folder and the files' sizes."""
    from workscope.objectstore import ObjectStore

    store = ObjectStore.connect(target["url"], target.get("storage_options"))
    dest = f"{target['scratch']}/{folder}"
    return dest, store.upload_tree(out, dest)


def _attempt() -> int:
    """This task attempt's id (0 outside Spark)."""
    try:
        from pyspark import TaskContext
    except ImportError:  # pragma: no cover - the task runs under pyspark
        return 0
    ctx = TaskContext.get()
    return ctx.taskAttemptId() if ctx is not None else 0


def _place_parts(build: Path, results: list[dict[str, Any]], remote: bool = False) -> Figures:
    """Number each task's parts per table in file order (the order a local ingest writes them
    in), as ``<table>/part-NNNNN.parquet`` and ``rejects/<table>-NNNNN.parquet``: move them
    into ``build``, or, for parts a task uploaded (``remote``), list where they are for the
    store's commit to move (:data:`~workscope.objectstore.REMOTE_PARTS`). Returns the tasks'
    figures of the parts in that order, the tables in the order first met."""
    from workscope.ingest.pipeline import Figures, part_paths
    from workscope.objectstore import REMOTE_PARTS

    figures = Figures({}, [])
    moves: dict[str, list[Any]] = {}
    (build / REJECTS).mkdir(parents=True, exist_ok=True)
    for res in results:
        figures.reasons += res["reasons"]
        for (table, i), stats in zip(res["parts"], res["stats"], strict=True):
            done = figures.parts.setdefault(table, [])
            n = len(done)
            done.append(stats)
            for src, dst in zip(part_paths(table, i), part_paths(table, n), strict=True):
                if remote:
                    moves[dst] = [f"{res['dir']}/{src}", res["sizes"][src]]
                else:
                    (build / dst).parent.mkdir(exist_ok=True)
                    (Path(res["dir"]) / src).rename(build / dst)
    if remote:
        (build / REMOTE_PARTS).write_text(json.dumps(moves, indent=1), encoding="utf-8")
    shutil.rmtree(build / UNITS, ignore_errors=True)
    return figures


def _raise(err: dict[str, Any]) -> None:
    """Raise a task's error on the driver as the exception the task raised."""
    cls: type[BaseException] = InternalError
    try:
        found = getattr(importlib.import_module(err["module"]), err["class"])
        if isinstance(found, type) and issubclass(found, WorkscopeError) and err["module"].startswith("workscope."):
            cls = found
    except (ImportError, AttributeError):
        pass
    exc = cls.__new__(cls)
    Exception.__init__(exc, err["message"])
    exc.__dict__.update(err["attrs"])
    raise exc


def _jsonable(attrs: dict[str, Any]) -> dict[str, Any]:
    """An exception's attributes that survive JSON (paths as text)."""
    out = {}
    for k, v in attrs.items():
        if isinstance(v, (str, int, float, bool, type(None))):
            out[k] = v
        elif isinstance(v, Path):
            out[k] = str(v)
        elif isinstance(v, (list, tuple)) and all(isinstance(x, (str, int, float)) for x in v):
            out[k] = list(v)
    return out
