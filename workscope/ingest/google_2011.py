"""Google cluster data 2011 (clusterdata-2011-2, schema v2.1).

Files: ``task_events/part-NNNNN-of-00500.csv.gz``, ``task_usage/part-...csv.gz``,
``machine_events/part-00000-of-00001.csv.gz`` (also ``job_events``, ``machine_attributes``,
``task_constraints``). Gzipped CSV, comma-separated, **no header line**; the column order is
that of the bucket's ``schema.csv``. The table a file holds is told by its folder or file name
(``task_events`` ...), else by its number of fields (13 task_events, 20 or 19 task_usage,
6 machine_events).

Mapping:

- ``task_events`` (``time, missing info, job ID, task index, machine ID, event type, user,
  scheduling class, priority, CPU request, memory request, disk space request, different
  machines restriction``) -> ``jobs``, **one row per task** (job ID, task index). The event
  lines are parsed one by one (a broken line is rejected with its line number), then grouped
  lazily over (job, task) with the streaming engine:
  ``submit_s`` = first SUBMIT (0), ``start_s`` = first SCHEDULE (1), ``end_s`` = time of the
  task's last lifecycle event when that event is terminal (EVICT 2, FAIL 3, FINISH 4, KILL 5,
  LOST 6), else null (still pending or running at the end of the trace: censored).
  ``status`` = name of the last lifecycle event (``SUBMIT`` = pending, ``SCHEDULE`` =
  running, else the terminal name). UPDATE_PENDING / UPDATE_RUNNING (7, 8) only refresh the
  request fields. ``user``, ``priority`` and ``cpu_req`` are the latest non-empty values;
  ``attrs`` holds the memory and disk requests, scheduling class, last machine, the
  different-machines flag and counts of events, submits, schedules, evictions, failures,
  kills, losses and synthesized (``missing info``) records. A task with no SUBMIT event in
  the input is rejected (its submit time is unknown). An aggregated row has no single source
  line: its rejects' ``line`` is that of the task's first event and ``raw`` names the job,
  the task and the file of that event. job_events are not read (job
  rows add nothing the task rows lack but the job name; listed under ``skipped_files``).
- ``task_usage`` (``start time, end time, job ID, task index, machine ID, CPU rate,
  canonical memory usage, assigned memory usage, unmapped page cache, total page cache,
  maximum memory usage, disk I/O time, local disk space usage, maximum CPU rate, maximum
  disk IO time, cycles per instruction, memory accesses per instruction, sample portion,
  aggregation type, sampled CPU usage``) -> ``usage``, entity ``<job ID>/<task index>``,
  ``t_s`` = window start, one row per non-empty measurement; window end, machine, sample
  portion and aggregation type in ``attrs``.
- ``machine_events`` (``time, machine ID, event type, platform ID, CPUs, Memory``) ->
  ``machines``, one row per event (ADD / REMOVE / UPDATE and time in ``attrs``).

Units and time: times are int64 **microseconds since 600 s before the start of the trace
window** (window start = 19:00 EDT 2011-05-01), so trace time 0 is 2011-05-01T22:50:00Z: that
is the manifest's origin and ``*_s`` = µs / 1e6. Time 0 means "before the trace" and stays
0.0; 2^63-1 means "after the trace" and becomes null. CPU, memory and disk values are
**normalized** to the largest machine (0-1), so ``cpu_req`` is in normalized cores
(manifest ``cpu_unit``) and memory never goes into ``*_mb`` columns.

Source: https://github.com/google/cluster-data/blob/master/ClusterData2011_2.md (schema
v2.1 document and ``schema.csv``); licence CC-BY.
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from workscope.errors import SourceError
from workscope.ingest._google import in_codes, seq, shard_groups, task_part, task_rows, us_time
from workscope.ingest._usage import Metric, long_usage
from workscope.ingest.files import first_line, head_text, iter_files, plain_file
from workscope.ingest.parse import (
    Parsed,
    attrs_json,
    build,
    first_reason,
    parse_float,
    parse_int,
    parse_text,
    raw_row,
    scan_text_csv,
    src,
)
from workscope.ingest.reader import REASON, Reader, ScanContext, ScanResult, TablePart
from workscope.ingest.timefmt import origin_meta

log = logging.getLogger(__name__)

COLUMNS: dict[str, list[str]] = {
    "task_events": ["time", "missing_info", "job_id", "task_index", "machine_id", "event_type",
                    "user", "scheduling_class", "priority", "cpu_request", "memory_request",
                    "disk_space_request", "different_machines_restriction"],
    "task_usage": ["start_time", "end_time", "job_id", "task_index", "machine_id", "cpu_rate",
                   "canonical_memory_usage", "assigned_memory_usage", "unmapped_page_cache",
                   "total_page_cache", "maximum_memory_usage", "disk_io_time",
                   "local_disk_space_usage", "maximum_cpu_rate", "maximum_disk_io_time",
                   "cycles_per_instruction", "memory_accesses_per_instruction",
                   "sample_portion", "aggregation_type", "sampled_cpu_usage"],
    "machine_events": ["time", "machine_id", "event_type", "platform_id", "cpus", "memory"],
    "job_events": ["time", "missing_info", "job_id", "event_type", "user", "scheduling_class",
                   "job_name", "logical_job_name"],
}
SUPPORTED = ("task_events", "task_usage", "machine_events")
OTHER = ("job_events", "machine_attributes", "task_constraints")
EVENT_NAMES = {0: "SUBMIT", 1: "SCHEDULE", 2: "EVICT", 3: "FAIL", 4: "FINISH", 5: "KILL",
               6: "LOST", 7: "UPDATE_PENDING", 8: "UPDATE_RUNNING"}
MACHINE_EVENTS = {0: "ADD", 1: "REMOVE", 2: "UPDATE"}
ORIGIN = _dt.datetime(2011, 5, 1, 22, 50, tzinfo=_dt.timezone.utc)
ORIGIN_NS = int(ORIGIN.timestamp()) * 1_000_000_000
USAGE_UNITS = {
    "cpu_rate": "normalized_core_s_per_s", "maximum_cpu_rate": "normalized_core_s_per_s",
    "sampled_cpu_usage": "normalized_core_s_per_s",
    "canonical_memory_usage": "normalized", "assigned_memory_usage": "normalized",
    "unmapped_page_cache": "normalized", "total_page_cache": "normalized",
    "maximum_memory_usage": "normalized", "local_disk_space_usage": "normalized",
    "disk_io_time": "s_per_s", "maximum_disk_io_time": "s_per_s",
    "cycles_per_instruction": "cycles_per_instruction",
    "memory_accesses_per_instruction": "accesses_per_instruction",
}
_KIND = re.compile("(" + "|".join((*SUPPORTED, *OTHER)) + ")")


def kind_of(path: Path | str) -> str | None:
    """The 2011 table a file holds from its folder or file name (None if the names say nothing)."""
    for part in reversed(Path(path).parts[-2:]):
        m = _KIND.search(part)
        if m:
            return m.group(1)
    return None


def kind_from_fields(line: str) -> str | None:
    """The 2011 table a header-less line belongs to, from its shape (None if not recognised)."""
    f = line.split(",")
    ints = lambda *ix: all(i < len(f) and f[i].strip().isdigit() for i in ix)  # noqa: E731
    if len(f) == 13 and ints(0, 2, 3, 5) and int(f[5]) in EVENT_NAMES:
        return "task_events"
    if len(f) in (19, 20) and ints(0, 1, 2, 3):
        return "task_usage"
    if len(f) == 6 and ints(0, 1, 2) and int(f[2]) in MACHINE_EVENTS:
        return "machine_events"
    return None


# ---------------------------------------------------------------- the reader

class Google2011Reader(Reader):
    """Google clusterdata-2011-2: task_events -> jobs, task_usage -> usage, machine_events -> machines."""

    name = "google_2011"
    version = "1"
    description = ("Google cluster data 2011 (header-less CSV.gz): task_events -> jobs (one row per "
                   "task), task_usage -> usage, machine_events -> machines")
    tables = ("jobs", "usage", "machines")
    doc_url = "https://github.com/google/cluster-data/blob/master/ClusterData2011_2.md"

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            kids = sorted(path.iterdir())[:50]
            if any(k.is_dir() and k.name in SUPPORTED for k in kids):
                return True
            return any(k.is_file() and self.sniff(k) for k in kids[:5])
        lines = head_text(path, 8192).splitlines()
        if not lines or "," not in lines[0]:
            return False
        shape = kind_from_fields(lines[0])
        named = kind_of(path)
        return shape is not None and (named is None or named == shape)

    split = True
    split_unit = "the task_events shards together, and each other file,"

    def select(self, paths: Sequence[Path], options: dict[str, Any] | None = None
               ) -> tuple[list[list[Path]], list[Path]]:
        # The jobs are aggregated over all task_events files (a task's events span files):
        # those are one group; each task_usage and machine_events file is its own.
        by_kind, skipped = self._classify(paths)
        return shard_groups(by_kind, "task_events"), skipped

    @staticmethod
    def _classify(paths: Sequence[Path]) -> tuple[dict[str, list[Path]], list[Path]]:
        """The files under ``paths`` by table (from the folder name, else line 1's field
        count) in :data:`SUPPORTED` order, and the files skipped."""
        by_kind: dict[str, list[Path]] = {k: [] for k in SUPPORTED}
        skipped: list[Path] = []
        for f in iter_files(paths):
            if f.name.endswith((".md", ".txt", ".pdf", ".sh")) or f.name.lower() == "schema.csv":
                skipped.append(f)
                continue
            kind = kind_of(f)
            if kind in OTHER:
                skipped.append(f)
                continue
            if kind is None:
                lines = head_text(f, 65536).splitlines()
                kind = kind_from_fields(lines[0]) if lines else None
                if kind is None:
                    n = len(lines[0].split(",")) if lines else 0
                    raise SourceError(f, "not a Google 2011 task_events, task_usage or machine_events file "
                                      f"(line 1 has {n} fields)", line=1,
                                      hint="keep the published folder names (task_events/...) or pass "
                                           "another --format")
            by_kind[kind].append(f)
        return by_kind, skipped

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        staged: dict[str, list[tuple[str, Path]]] = {k: [] for k in SUPPORTED}
        by_kind, left = self._classify(paths)
        skipped = [str(f) for f in left]
        pairs = [(k, f) for k, files in by_kind.items() for f in files]  # the order of select's groups
        used = [f for _, f in pairs]
        for kind, f in pairs:
            plain = plain_file(f, ctx)
            line = first_line(plain, f)
            n = len(line.split(","))
            want = len(COLUMNS[kind])
            if not (n == want or (kind == "task_usage" and n == 19)):
                raise SourceError(f, f"expected {want} comma-separated fields of {kind} (no header), "
                                  f"line 1 has {n}", line=1, hint="is this the right file?")
            staged[kind].append((str(f), plain))
        if not used:
            raise SourceError(paths[0], "no task_events, task_usage or machine_events file found",
                              hint="pass the trace folder or its part-*.csv.gz files")

        tables: dict[str, list[TablePart]] = {}
        if staged["task_events"]:
            tables["jobs"] = _jobs(staged["task_events"])
        for display, plain in staged["task_usage"]:
            n = len(first_line(plain, display).split(","))
            lf, names = scan_text_csv(plain, display, columns=COLUMNS["task_usage"][:n],
                                      has_header=False)
            tables.setdefault("usage", []).append(TablePart(_usage(lf, names), raw_row(names), display))
        for display, plain in staged["machine_events"]:
            lf, names = scan_text_csv(plain, display, columns=COLUMNS["machine_events"], has_header=False)
            tables.setdefault("machines", []).append(TablePart(_machines(lf), raw_row(names), display))

        meta = origin_meta(ORIGIN_NS, assumed_utc=False, resolution_s=1e-6,
                           note="trace time 0 = 600 s before the window start (19:00 EDT "
                                "2011-05-01); time 0 = before the trace, 2^63-1 = after it (null)")
        meta.update({
            "cpu_unit": "normalized cores (1 = the largest machine's CPU capacity)",
            "mem_unit": "normalized (1 = the largest machine's memory); kept in attrs",
            "event_types": EVENT_NAMES,
        })
        if skipped:
            meta["skipped_files"] = skipped
        return ScanResult(tables, used, meta)


def _jobs(files: list[tuple[str, Path]]) -> list[TablePart]:
    parts: list[TablePart] = []
    good: list[pl.LazyFrame] = []
    names = COLUMNS["task_events"]
    for idx, (display, plain) in enumerate(files):
        lf, _ = scan_text_csv(plain, display, columns=names, has_header=False)
        fields = {
            "_t": us_time(src("time"), "time", required=True),
            "_missing": parse_int(src("missing_info"), "missing info"),
            "_job": parse_int(src("job_id"), "job ID", required=True),
            "_task": parse_int(src("task_index"), "task index", required=True),
            "_machine": parse_text(src("machine_id"), "machine ID"),
            "_type": in_codes(parse_int(src("event_type"), "event type", required=True),
                              EVENT_NAMES, "event type"),
            "_user": parse_text(src("user"), "user"),
            "_sched": parse_int(src("scheduling_class"), "scheduling class"),
            "_prio": parse_int(src("priority"), "priority"),
            "_cpu": parse_float(src("cpu_request"), "CPU request"),
            "_mem": parse_float(src("memory_request"), "memory request"),
            "_disk": parse_float(src("disk_space_request"), "disk space request"),
            "_diff": parse_int(src("different_machines_restriction"), "different machines restriction"),
        }
        parsed = build(lf, fields)
        # broken event lines are rejected here, line by line; they never reach the aggregation
        bad = parsed.filter(pl.col(REASON).is_not_null())
        parts.append(TablePart(bad, raw_row(names), display))
        good.append(parsed.filter(pl.col(REASON).is_null()).select(
            *fields, seq(idx).alias("_seq")))

    events = pl.concat(good, how="vertical")
    counts = {"submits": [0], "schedules": [1], "evictions": [2], "failures": [3], "kills": [5],
              "losses": [6]}
    latest = ["_machine", "_user", "_sched", "_prio", "_cpu", "_mem", "_disk", "_diff"]
    agg = task_rows(events, names=EVENT_NAMES, submit=0, schedule=1, terminal=[2, 3, 4, 5, 6],
                    lifecycle=list(range(7)), latest=latest, counts=counts)
    parts.append(task_part(
        agg, files,
        columns=[pl.col("_user").alias("user"), pl.col("_prio").alias("priority"),
                 pl.col("_status").alias("status"), pl.col("_cpu").alias("cpu_req")],
        attrs={"mem_req_norm": pl.col("_mem"), "disk_req_norm": pl.col("_disk"),
               "scheduling_class": pl.col("_sched"), "machine_id": pl.col("_machine"),
               "different_machines": pl.col("_diff")},
        counts=counts, missing_key="missing_info_records",
        missing_submit="no SUBMIT event for this task in task_events (submit time unknown)",
        noun="task_events files", raw_label="task_events of job {} task {}"))
    return parts


def _usage(lf: pl.LazyFrame, names: list[str]) -> pl.LazyFrame:
    start = us_time(src("start_time"), "start time", required=True)
    end = us_time(src("end_time"), "end time")
    job = parse_int(src("job_id"), "job ID", required=True)
    task = parse_int(src("task_index"), "task index", required=True)
    entity = Parsed(pl.format("{}/{}", job.value, task.value), first_reason(job.reason, task.reason))
    metric_cols = [c for c in names if c in USAGE_UNITS]
    metrics = [Metric(c, parse_float(src(c), c.replace("_", " ")), USAGE_UNITS[c]) for c in metric_cols]
    machine = parse_text(src("machine_id"), "machine ID")
    portion = parse_float(src("sample_portion"), "sample portion")
    agg_type = parse_int(src("aggregation_type"), "aggregation type")
    attrs = attrs_json({"end_s": end.value, "machine_id": machine.value,
                        "sample_portion": portion.value, "aggregation_type": agg_type.value})
    t_s = Parsed(start.value, first_reason(start.reason, end.reason, portion.reason, agg_type.reason))
    return long_usage(lf, t_s, entity, metrics, attrs)


def _machines(lf: pl.LazyFrame) -> pl.LazyFrame:
    t = us_time(src("time"), "time", required=True)
    ev = in_codes(parse_int(src("event_type"), "event type", required=True), MACHINE_EVENTS, "event type")
    platform = parse_text(src("platform_id"), "platform ID")
    mem = parse_float(src("memory"), "Memory")
    return build(lf, {
        "machine_id": parse_text(src("machine_id"), "machine ID", required=True),
        "cpu": parse_float(src("cpus"), "CPUs"),
        "attrs": Parsed(attrs_json({
            "time_s": t.value,
            "event": ev.value.replace_strict(MACHINE_EVENTS, default=None, return_dtype=pl.String),
            "platform_id": platform.value,
            "mem_norm": mem.value,
        }), first_reason(t.reason, ev.reason, platform.reason, mem.reason)),
    })


READER = Google2011Reader()
