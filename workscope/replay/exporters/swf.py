"""Standard Workload Format (SWF) v2.2 of the Parallel Workloads Archive, from a jobs workload.

Format (Feitelson et al., https://www.cs.huji.ac.il/labs/parallel/workload/swf.html, v2.2):
header comment lines ``; Key: value`` then one line per job of 18 whitespace-separated
fields, ``-1`` for "unknown". Lines are sorted by submit time. What is written:

 1 Job Number: the workload's ``job_id`` when every id is a distinct positive integer (option
   ``job_numbers=auto``, e.g. a workload read from SWF), otherwise 1..N in submit order
   (``renumber``); the original ids are then listed in ``<out>.ids.csv``.
 2 Submit Time, 3 Wait Time, 4 Run Time: integer seconds. Times are rounded half-up to whole
   seconds *before* differences are taken (submit = round(submit_s), start = round(start_s),
   end = round(end_s); wait = start - submit, run = end - start), so a reader that adds them
   back gets exactly the rounded start and end. Unknown start -> wait -1; a start that
   workscope's SWF reader *assumed* because the source's wait was -1 (``attrs`` holds
   ``"wait_s":null``; e.g. the NASA log, read with ``unknown_wait=auto``) -> wait -1 too, as in
   the source. Run: end - start where both are known, else the source's ``run_s`` (a log that
   records run times but no starts), else -1 (censored or unknown). A start before the submit
   (possible after rounding or in odd sources) is written as wait 0, never as -1 (which would
   mean "unknown"); the notes count them.
 5 Allocated Processors = ``nodes``; 8 Requested Processors = ceil(``cpu_req``), or -1 where the
   SWF source had -1 (``attrs`` ``"req_procs":null``: the reader filled ``cpu_req`` from the
   allocation).
 6 Average CPU Time Used = ``attrs.avg_cpu_time_s`` (kept by workscope's SWF reader) or -1.
 7 Used Memory (KB per processor) = ``mem_used_mb`` x 1024 / allocated processors;
10 Requested Memory (KB per processor) = ``mem_req_mb`` x 1024 / ceil(``cpu_req``): the
   inverse of the reader's whole-job MiB totals, rounded to integers.
   Every field with no value in the workload is written as -1, never as 0.
 9 Requested Time = ``runtime_req_s`` rounded. 11 Status: completed/succeeded -> 1,
   failed -> 0, cancelled/killed -> 5, partial* -> 2/3/4, anything else -> -1.
12 User, 13 Group, 15 Queue, 16 Partition: the value when every value of the column is a
   non-negative integer, else a dense 1-based rank of the distinct names (sorted), so names
   such as "alice" become numbers as SWF requires (the notes say which were mapped).
14 Executable, 17 Preceding Job, 18 Think Time: from ``attrs`` (executable, preceding_job,
   think_time_s) when present, else -1.

Header: Version 2.2, Computer (option), Conversion (workscope), MaxJobs, MaxRecords,
Preemption: No, UnixStartTime / TimeZoneString: UTC / StartTime / EndTime from the workload's
origin (only when the origin is known), MaxNodes, MaxProcs, and ``Note`` lines with the
provenance (source trace, content key, every transform with its seed as JSON).

Round trip: workscope's own ``swf`` reader gives back the same submit/start/end (rounded),
nodes, processors and status (for a source whose waits were -1, read back with the same
``unknown_wait`` rule); evalys (``evalys.workload.Workload.from_csv``, PyPI ``evalys``)
reads the file too -- note that evalys takes the first job line as its CSV header row (it
reads with ``header=0`` after skipping comments), so it sees every job but the first, and it
drops records with status > 1. The command printed loads the file with evalys; any
PWA-compatible simulator reads the same file.
"""

from __future__ import annotations

import datetime as _dt
import json
import shlex
import shutil
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from workscope.atomic import atomic_path
from workscope.errors import OptionError
from workscope.options import Option
from workscope.origin import origin_epoch_s
from workscope.replay.exporters._text import header_safe, scratch_file
from workscope.replay.exporters.base import Exporter, ExportResult
from workscope.replay.workload import Workload, check
from workscope.version import __version__

STATUS_CODES: dict[str, int] = {
    "completed": 1, "complete": 1, "succeeded": 1, "success": 1, "finished": 1, "ok": 1,
    "failed": 0, "fail": 0, "error": 0, "lost": 0,
    "cancelled": 5, "canceled": 5, "killed": 5, "evicted": 5,
    "partial": 2, "partial_completed": 3, "partial_failed": 4,
}
"""Canonical (lower-cased) status -> SWF status code; anything else is -1."""

ID_FIELDS = ("user", "group", "queue", "partition")


def _half_up(expr: pl.Expr) -> pl.Expr:
    """Round to whole seconds, half up (the SWF convention for times: 0.5 s -> 1 s)."""
    return (expr + 0.5).floor().cast(pl.Int64)


def _attr_int(key: str) -> pl.Expr:
    """An integer from the ``attrs`` JSON (null when missing or not a number)."""
    return (pl.col("attrs").str.json_path_match(f"$.{key}")
            .cast(pl.Float64, strict=False).round(0).cast(pl.Int64, strict=False))


def _job_int() -> pl.Expr:
    """``job_id`` as an integer (null when it is not one)."""
    return pl.col("job_id").str.strip_chars().cast(pl.Int64, strict=False)


def _facts(lf: pl.LazyFrame) -> dict[str, Any]:
    """One pass over the jobs: counts and extremes the header, the job numbers and the notes need."""
    job_int = _job_int()
    aggs = [
        pl.len().alias("n"),
        (job_int.is_not_null() & (job_int > 0)).sum().alias("n_int_jobs"),
        job_int.n_unique().alias("n_unique_jobs"),
        pl.col("job_id").n_unique().alias("n_distinct_ids"),
        pl.col("nodes").max().alias("max_nodes"),
        pl.col("cpu_req").ceil().max().alias("max_req"),
        pl.col("submit_s").min().alias("t0"),
        pl.max_horizontal(pl.col("submit_s"), pl.col("start_s"), pl.col("end_s")).max().alias("t1"),
        ((_half_up(pl.col("start_s")) - _half_up(pl.col("submit_s"))) < 0).sum().alias("neg_wait"),
        (_half_up(pl.col("start_s")).is_not_null() & _source_unknown("wait_s")).sum().alias("assumed_wait"),
        _source_unknown("req_procs").sum().alias("unknown_req"),
    ]
    for c in ID_FIELDS:
        as_int = pl.col(c).str.strip_chars().cast(pl.Int64, strict=False)
        aggs.append((pl.col(c).is_not_null() & (as_int.is_null() | (as_int < 0))).sum().alias(f"bad_{c}"))
    return lf.select(aggs).collect().row(0, named=True)


def _id_fields(stats: dict[str, Any]) -> tuple[dict[str, pl.Expr], list[str]]:
    """User, group, queue and partition as SWF numbers, and a note for each one given as ranks."""
    ids: dict[str, pl.Expr] = {}
    notes: list[str] = []
    for c in ID_FIELDS:
        if stats[f"bad_{c}"]:
            ids[c] = pl.col(c).rank("dense").cast(pl.Int64)
            notes.append(f"{c} names are not SWF numbers: written as their dense rank (1..K, sorted by name)")
        else:
            ids[c] = pl.col(c).str.strip_chars().cast(pl.Int64, strict=False)
    return ids, notes


def _source_unknown(key: str) -> pl.Expr:
    """True where ``attrs`` records the SWF source field ``key`` as -1 (unknown).

    workscope's SWF reader keeps every raw field in ``attrs`` with null for -1; the literal
    member ``"key":null`` can only be a member (a quote inside a JSON string is escaped), so
    the text test is exact. False for rows from other formats (no such member).
    """
    return pl.col("attrs").str.contains(f'"{key}":null', literal=True).fill_null(False)


def _fields(number: pl.Expr, ids: dict[str, pl.Expr], has_run_s: bool) -> list[pl.Expr]:
    """The 18 SWF fields of a job, in order (null where unknown, written as -1)."""
    submit = _half_up(pl.col("submit_s"))
    start = _half_up(pl.col("start_s"))
    end = _half_up(pl.col("end_s"))
    # a start the SWF reader assumed (wait -1 taken as 0) was not observed: the wait stays unknown
    wait = (pl.when(start.is_null() | _source_unknown("wait_s")).then(-1)
            .otherwise(pl.max_horizontal(start - submit, pl.lit(0))))
    # the source's own run time where the start (so the end) is unknown
    fallback = _half_up(pl.col("run_s")) if has_run_s else pl.lit(None, pl.Int64)
    run = pl.when(start.is_not_null() & end.is_not_null()).then(end - start).otherwise(fallback)
    alloc = pl.col("nodes")
    per_proc = pl.col("cpu_req").ceil().cast(pl.Int64)
    # the SWF reader fills cpu_req from the allocation where Requested Processors was -1
    req = pl.when(_source_unknown("req_procs")).then(None).otherwise(per_proc)
    used_kb = pl.when(alloc > 0).then((pl.col("mem_used_mb") * 1024.0 / alloc).round(0).cast(pl.Int64))
    req_kb = pl.when(per_proc > 0).then((pl.col("mem_req_mb") * 1024.0 / per_proc).round(0).cast(pl.Int64))
    status = (pl.col("status").str.to_lowercase().str.strip_chars()
              .replace_strict(list(STATUS_CODES), list(STATUS_CODES.values()), default=-1,
                              return_dtype=pl.Int64))
    return [
        number, submit, wait, run, alloc, _attr_int("avg_cpu_time_s"), used_kb, req,
        _half_up(pl.col("runtime_req_s")), req_kb, status, ids["user"], ids["group"],
        _attr_int("executable"), ids["queue"], ids["partition"], _attr_int("preceding_job"),
        _attr_int("think_time_s"),
    ]


def _write_swf(out: Path, header: list[str], body: pl.LazyFrame) -> None:
    """Write the ``; `` header lines, then the job lines of ``body`` (streamed), atomically."""
    # the job lines are streamed to a side file, then appended after the header
    with atomic_path(out) as tmp, scratch_file(tmp) as body_tmp:
        body.sink_csv(body_tmp, include_header=False, separator=" ", quote_style="never")
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write("".join(f"; {h}\n" for h in header))
            with open(body_tmp, encoding="utf-8") as src:
                shutil.copyfileobj(src, fh)


def provenance_notes(meta: dict[str, Any]) -> list[str]:
    """Short provenance lines (source trace, content key, transforms as JSON)."""
    lines = [f"exported by workscope {__version__} from trace {meta.get('source_trace')!r}"]
    if meta.get("source_content_key"):
        lines.append(f"source content key {meta['source_content_key']}")
    lines.append("transforms: " + json.dumps(meta.get("transforms", []), sort_keys=True,
                                             separators=(",", ":"), default=str))
    return lines


class SWFExporter(Exporter):
    """jobs -> one SWF v2.2 file (header comments + 18 integer fields per job)."""

    name = "swf"
    description = "Parallel Workloads Archive Standard Workload Format v2.2 (.swf)"
    tables = ("jobs",)
    suffix = ".swf"
    doc_url = "https://www.cs.huji.ac.il/labs/parallel/workload/swf.html"
    options: ClassVar[dict[str, Option]] = {
        "computer": Option(str, "", "value of the 'Computer' header line (default: the source trace name)"),
        "job_numbers": Option(str, "auto", "'auto' keeps job_id when all are distinct positive integers, "
                                           "'renumber' always writes 1..N in submit order"),
    }

    def write(self, wl: Workload, out: Path, options: dict[str, Any]) -> ExportResult:
        """Write the SWF file (and, when jobs are renumbered, the id mapping)."""
        self.require_table(wl)
        mode = str(options.get("job_numbers", "auto")).lower()
        if mode not in ("auto", "renumber"):
            raise OptionError(f"option 'job_numbers' of exporter 'swf' must be auto or renumber, got {mode!r}")
        check(wl)
        out = Path(out)
        lf = wl.frame
        stats = _facts(lf)
        n = int(stats["n"])
        keep_ids = (mode == "auto" and n > 0 and stats["n_int_jobs"] == n and stats["n_unique_jobs"] == n)
        ids, notes = _id_fields(stats)
        number = _job_int() if keep_ids else pl.int_range(1, pl.len() + 1, dtype=pl.Int64)
        # 18 integer columns written by the CSV writer with a space separator: no per-field
        # string building, and -1 for every unknown
        body = lf.select([f.cast(pl.Int64).fill_null(-1).alias(f"f{i}")
                          for i, f in enumerate(_fields(number, ids, "run_s" in lf.collect_schema().names()))])
        _write_swf(out, self._header(wl, options, stats, n), body)
        files = [out]
        if not keep_ids:
            ids_path = out.with_name(out.name + ".ids.csv")
            with atomic_path(ids_path) as tmp:
                lf.select(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("swf_job_number"),
                          "job_id", "task_id").sink_csv(tmp)
            files.append(ids_path)
            notes.append(f"job ids renumbered 1..{n} in submit order; the mapping is in {ids_path.name}")
        if stats["assumed_wait"]:
            notes.append(f"{stats['assumed_wait']} jobs had an unknown wait in their SWF source (start "
                         "assumed by the reader): Wait Time written as -1")
        if stats["unknown_req"]:
            notes.append(f"{stats['unknown_req']} jobs had no Requested Processors in their SWF source: written as -1")
        if stats["neg_wait"]:
            notes.append(f"{stats['neg_wait']} jobs start before their (rounded) submit time: wait written as 0")
        notes.append("times rounded half-up to whole seconds before wait/run were taken")
        # the path is a JSON string literal (valid Python for any path), the code one shell word
        code = (f"from evalys.workload import Workload; w = Workload.from_csv({json.dumps(str(out))}); "
                "print(len(w.df), \"jobs\")")
        command = shlex.join(["python", "-c", code])
        return ExportResult("swf", files, n, command, notes)

    @staticmethod
    def _header(wl: Workload, options: dict[str, Any], stats: dict[str, Any], n: int) -> list[str]:
        meta = wl.meta
        # the option is refused with control characters (Exporter.resolve_options); escaping
        # here also covers a caller that passes raw options, and a trace name from metadata
        computer = header_safe(str(options.get("computer") or meta.get("source_trace") or "unknown"))
        lines = [
            "Version: 2.2",
            f"Computer: {computer}",
            f"Conversion: workscope {__version__} (replay export 'swf')",
            f"MaxJobs: {n}",
            f"MaxRecords: {n}",
            "Preemption: No",
        ]
        origin = origin_epoch_s(meta.get("origin_utc"))
        if origin is not None:
            start = int(origin + (stats["t0"] or 0.0))
            end = int(origin + (stats["t1"] or 0.0))
            fmt = "%a %b %d %H:%M:%S UTC %Y"
            lines += [
                f"UnixStartTime: {int(origin)}",
                "TimeZoneString: UTC",
                "StartTime: " + _dt.datetime.fromtimestamp(start, _dt.UTC).strftime(fmt),
                "EndTime:   " + _dt.datetime.fromtimestamp(end, _dt.UTC).strftime(fmt),
            ]
        max_nodes = stats["max_nodes"]
        max_procs = max(int(max_nodes or 0), int(stats["max_req"] or 0))
        if max_nodes is not None:
            lines.append(f"MaxNodes: {int(max_nodes)}")
        if max_procs:
            lines.append(f"MaxProcs: {max_procs}")
        lines += [f"Note: {header_safe(text)}" for text in provenance_notes(meta)]
        if origin is None:
            lines.append("Note: the source trace has no absolute time origin; times are seconds "
                         "since the trace start")
        return lines


EXPORTERS: dict[str, Exporter] = {"swf": SWFExporter()}
