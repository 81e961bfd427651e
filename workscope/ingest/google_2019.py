"""Google cluster data 2019 (clusterdata-2019, trace v3), newline-delimited JSON export.

Files: the GCS export of each cell's BigQuery tables, sharded as
``<table>-NNNNNNNNNNNN.json.gz`` (12-digit shard index), one JSON object per line in the
BigQuery export style: INT64 values (times, ids, enums, priority, indexes) are JSON
**strings**, FLOAT values are numbers, records are nested objects, repeated fields are arrays,
and NULL fields are **omitted** (an absent key is null). Plain ``.json`` / ``.jsonl`` work too.
The table is told by the file name, else by the keys of the first object.

Every line is read as text and decoded on its own with an explicit struct type (all scalar
leaves as text, parsed afterwards with reasons), so a malformed line — broken JSON, a string
where an object belongs, a bad number — is rejected with its line number instead of failing
the file. Blank lines are skipped.

Mapping (field names are the proto's):

- ``instance_events`` (``time, type, collection_id, scheduling_class, missing_type,
  collection_type, priority, alloc_collection_id, instance_index, machine_id,
  alloc_instance_index, resource_request {cpus, memory}, constraint[]``) -> ``jobs``, **one
  row per instance** (collection_id, instance_index), grouped lazily like Google 2011 (see the
  ``google_2011`` format, same code) with the v3 numbering: ``submit_s`` = first
  SUBMIT (0), ``start_s`` = first SCHEDULE (3), ``end_s`` = last lifecycle event if terminal
  (EVICT 4, FAIL 5, FINISH 6, KILL 7, LOST 8) else null (censored); ``status`` = its name
  (QUEUE 1 / ENABLE 2 count as lifecycle states, UPDATE_* 9/10 do not). ``priority`` and
  ``cpu_req`` (``resource_request.cpus``) are the latest present values; memory request,
  scheduling class, collection type, machine, alloc collection and event counts go into
  ``attrs``. Constraints are not kept.
- ``instance_usage`` (``start_time, end_time, collection_id, instance_index, machine_id,
  alloc_collection_id, alloc_instance_index, collection_type, average_usage {cpus, memory},
  maximum_usage {cpus, memory}, random_sample_usage {cpus}, assigned_memory,
  page_cache_memory, cycles_per_instruction, memory_accesses_per_instruction, sample_rate,
  cpu_usage_distribution[], tail_cpu_usage_distribution[]``) -> ``usage``: entity
  ``<collection_id>/<instance_index>``, ``t_s`` = window start, one row per present value
  (metrics ``average_usage_cpus``, ``average_usage_memory``, ``maximum_usage_cpus``,
  ``maximum_usage_memory``, ``random_sample_usage_cpus``, ``assigned_memory``,
  ``page_cache_memory``, ``cycles_per_instruction``, ``memory_accesses_per_instruction``);
  window end, machine, sample rate and both CPU distributions (11 and 9 values) in ``attrs``.
- ``machine_events`` (``time, machine_id, type, switch_id, capacity {cpus, memory},
  platform_id, missing_data_reason``) -> ``machines``, one row per event.
- ``collection_events`` and ``machine_attributes`` are not read (listed in ``skipped_files``).

Units and time: times are int64 **microseconds since the start of the trace**; ``*_s`` =
µs / 1e6. The 2011 sentinels are kept (0 = before the trace, 2^63-1 = after: null). The
absolute start is in the v3 PDF, not available here; third-party tools map trace time 0 to
2019-04-30T23:50:00Z (a 600 s lead-in before 2019-05-01T00:00Z): the manifest uses that
origin and says it is unverified. CPU is in normalized Google Compute Units (NCU) and memory
in normalized bytes (manifest ``cpu_unit`` / ``mem_unit``); memory never goes into ``*_mb``.

Source: https://github.com/google/cluster-data/blob/master/ClusterData2019.md and
``clusterdata_trace_format_v3.proto``; licence CC-BY.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from workscope.errors import SourceError
from workscope.ingest._google import in_codes, seq, shard_groups, task_part, task_rows, us_time
from workscope.ingest._jsonl import decode_lines
from workscope.ingest._usage import Metric, long_usage
from workscope.ingest.files import head_text, iter_files, plain_file
from workscope.ingest.parse import (
    Parsed,
    attrs_json,
    build,
    first_reason,
    parse_float,
    parse_int,
    parse_text,
    scan_text_csv,
    src,
)
from workscope.ingest.reader import REASON, Reader, ScanContext, ScanResult, TablePart
from workscope.ingest.timefmt import origin_meta

log = logging.getLogger(__name__)

S = pl.String
_RES = pl.Struct({"cpus": S, "memory": S})
DTYPES: dict[str, pl.Struct] = {
    "instance_events": pl.Struct({
        "time": S, "type": S, "collection_id": S, "scheduling_class": S, "missing_type": S,
        "collection_type": S, "priority": S, "alloc_collection_id": S, "instance_index": S,
        "machine_id": S, "alloc_instance_index": S, "resource_request": _RES,
    }),
    "instance_usage": pl.Struct({
        "start_time": S, "end_time": S, "collection_id": S, "instance_index": S, "machine_id": S,
        "alloc_collection_id": S, "alloc_instance_index": S, "collection_type": S,
        "average_usage": _RES, "maximum_usage": _RES, "random_sample_usage": pl.Struct({"cpus": S}),
        "assigned_memory": S, "page_cache_memory": S, "cycles_per_instruction": S,
        "memory_accesses_per_instruction": S, "sample_rate": S,
        "cpu_usage_distribution": pl.List(pl.Float64),
        "tail_cpu_usage_distribution": pl.List(pl.Float64),
    }),
    "machine_events": pl.Struct({
        "time": S, "machine_id": S, "type": S, "switch_id": S, "capacity": _RES,
        "platform_id": S, "missing_data_reason": S,
    }),
}
SUPPORTED = tuple(DTYPES)
OTHER = ("collection_events", "machine_attributes")
EVENT_NAMES = {0: "SUBMIT", 1: "QUEUE", 2: "ENABLE", 3: "SCHEDULE", 4: "EVICT", 5: "FAIL",
               6: "FINISH", 7: "KILL", 8: "LOST", 9: "UPDATE_PENDING", 10: "UPDATE_RUNNING"}
MACHINE_EVENTS = {0: "EVENT_TYPE_UNKNOWN", 1: "ADD", 2: "REMOVE", 3: "UPDATE"}
ORIGIN = _dt.datetime(2019, 4, 30, 23, 50, tzinfo=_dt.timezone.utc)
ORIGIN_NS = int(ORIGIN.timestamp()) * 1_000_000_000
USAGE_METRICS = (
    ("average_usage_cpus", ("average_usage", "cpus"), "ncu"),
    ("average_usage_memory", ("average_usage", "memory"), "normalized_bytes"),
    ("maximum_usage_cpus", ("maximum_usage", "cpus"), "ncu"),
    ("maximum_usage_memory", ("maximum_usage", "memory"), "normalized_bytes"),
    ("random_sample_usage_cpus", ("random_sample_usage", "cpus"), "ncu"),
    ("assigned_memory", ("assigned_memory",), "normalized_bytes"),
    ("page_cache_memory", ("page_cache_memory",), "normalized_bytes"),
    ("cycles_per_instruction", ("cycles_per_instruction",), "cycles_per_instruction"),
    ("memory_accesses_per_instruction", ("memory_accesses_per_instruction",), "accesses_per_instruction"),
)
_KIND = re.compile("(" + "|".join((*SUPPORTED, *OTHER)) + ")")
JSON_COL = "json"
BAD_JSON = "line is not a JSON object of the expected shape"


def kind_of(path: Path | str) -> str | None:
    """The v3 table a shard holds, from its file name (None if the name says nothing)."""
    m = _KIND.search(Path(path).name)
    return m.group(1) if m else None


def kind_from_keys(line: str) -> str | None:
    """The v3 table a JSON line belongs to, from its keys (None if not recognised)."""
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    keys = set(obj)
    if "instance_index" in keys and "collection_id" in keys:
        return "instance_usage" if "start_time" in keys else "instance_events"
    if "machine_id" in keys and "capacity" in keys or {"machine_id", "switch_id"} <= keys:
        return "machine_events"
    if "collection_id" in keys and ("collection_type" in keys or "collection_name" in keys):
        return "collection_events"
    if {"machine_id", "name", "time"} <= keys:
        return "machine_attributes"
    return None


def _field(*path: str) -> pl.Expr:
    e = pl.col("_obj")
    for p in path:
        e = e.struct.field(p)
    return e


# ---------------------------------------------------------------- the reader

class Google2019Reader(Reader):
    """Google clusterdata-2019 (v3) JSON: instance_events -> jobs, instance_usage -> usage."""

    name = "google_2019"
    version = "1"
    description = ("Google cluster data 2019 / trace v3 (newline JSON .json.gz): instance_events -> "
                   "jobs (one row per instance), instance_usage -> usage, machine_events -> machines")
    tables = ("jobs", "usage", "machines")
    doc_url = "https://github.com/google/cluster-data/blob/master/ClusterData2019.md"

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            return any(k.is_file() and self.sniff(k) for k in sorted(path.iterdir())[:20])
        lines = [ln for ln in head_text(path, 16384).splitlines() if ln.strip()]
        if not lines or not lines[0].lstrip().startswith("{"):
            return False
        shape = kind_from_keys(lines[0])
        named = kind_of(path)
        return shape is not None and (named is None or named == shape)

    split = True
    split_unit = "the instance_events shards together, and each other file,"

    def select(self, paths: Sequence[Path], options: dict[str, Any] | None = None
               ) -> tuple[list[list[Path]], list[Path]]:
        # The jobs are aggregated over all instance_events shards (a task's events span
        # shards): those are one group; each usage and machine_events shard is its own.
        by_kind, skipped = self._classify(paths)
        return shard_groups(by_kind, "instance_events"), skipped

    @staticmethod
    def _classify(paths: Sequence[Path]) -> tuple[dict[str, list[Path]], list[Path]]:
        """The shards under ``paths`` by table (from the name, else the first JSON line's keys)
        in :data:`SUPPORTED` order, and the files skipped."""
        by_kind: dict[str, list[Path]] = {k: [] for k in SUPPORTED}
        skipped: list[Path] = []
        for f in iter_files(paths):
            if f.name.endswith((".md", ".txt", ".proto", ".ipynb")):
                skipped.append(f)
                continue
            kind = kind_of(f)
            if kind is None:
                first = [ln for ln in head_text(f, 65536).splitlines() if ln.strip()]
                kind = kind_from_keys(first[0]) if first else None
                if kind is None:
                    raise SourceError(f, "not a Google 2019 instance_events, instance_usage or "
                                      "machine_events JSON shard", line=1,
                                      hint="keep the published shard names (<table>-NNNNNNNNNNNN.json.gz) "
                                           "or pass another --format")
            if kind in OTHER:
                skipped.append(f)
                continue
            by_kind[kind].append(f)
        return by_kind, skipped

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        staged: dict[str, list[tuple[str, pl.LazyFrame]]] = {k: [] for k in SUPPORTED}
        by_kind, left = self._classify(paths)
        skipped = [str(f) for f in left]
        pairs = [(k, f) for k, files in by_kind.items() for f in files]  # the order of select's groups
        used = [f for _, f in pairs]
        for kind, f in pairs:
            plain = plain_file(f, ctx)
            # One text column per line: \x1f never appears unescaped in valid JSON.
            lf, _ = scan_text_csv(plain, str(f), columns=[JSON_COL], has_header=False,
                                  separator="\x1f", quote_char=None)
            lf = lf.filter(src(JSON_COL).is_not_null() & (src(JSON_COL).str.strip_chars() != ""))
            lf = lf.with_columns(decode_lines(src(JSON_COL), DTYPES[kind]).alias("_obj"))
            staged[kind].append((str(f), lf))
        if not used:
            raise SourceError(paths[0], "no instance_events, instance_usage or machine_events shard found",
                              hint="pass the exported <table>-*.json.gz shards")

        tables: dict[str, list[TablePart]] = {}
        raw = src(JSON_COL)
        if staged["instance_events"]:
            tables["jobs"] = _jobs(staged["instance_events"])
        for display, lf in staged["instance_usage"]:
            tables.setdefault("usage", []).append(TablePart(_usage(lf), raw, display))
        for display, lf in staged["machine_events"]:
            tables.setdefault("machines", []).append(TablePart(_machines(lf), raw, display))

        meta = origin_meta(ORIGIN_NS, assumed_utc=False, resolution_s=1e-6,
                           note="µs since the trace start; origin 2019-04-30T23:50:00Z is the "
                                "third-party mapping (600 s lead-in), unverified against the v3 "
                                "document; 0 = before the trace, 2^63-1 = after it (null)")
        meta.update({
            "origin_verified": False,
            "cpu_unit": "NCU (normalized Google Compute Units)",
            "mem_unit": "normalized bytes; kept in attrs",
            "event_types": EVENT_NAMES,
        })
        if skipped:
            meta["skipped_files"] = skipped
        return ScanResult(tables, used, meta)


def _obj_reason() -> pl.Expr:
    return pl.when(pl.col("_obj").is_null()).then(pl.lit(BAD_JSON))


def _jobs(files: list[tuple[str, pl.LazyFrame]]) -> list[TablePart]:
    parts: list[TablePart] = []
    good: list[pl.LazyFrame] = []
    for idx, (display, lf) in enumerate(files):
        fields = {
            "_t": us_time(_field("time"), "time", required=True),
            "_type": in_codes(parse_int(_field("type"), "type", required=True), EVENT_NAMES, "type"),
            "_job": parse_int(_field("collection_id"), "collection_id", required=True),
            "_task": parse_int(_field("instance_index"), "instance_index", required=True),
            "_missing": parse_int(_field("missing_type"), "missing_type"),
            "_sched": parse_int(_field("scheduling_class"), "scheduling_class"),
            "_ctype": parse_int(_field("collection_type"), "collection_type"),
            "_prio": parse_int(_field("priority"), "priority"),
            "_alloc": parse_int(_field("alloc_collection_id"), "alloc_collection_id"),
            "_machine": parse_int(_field("machine_id"), "machine_id"),
            "_cpu": parse_float(_field("resource_request", "cpus"), "resource_request.cpus"),
            "_mem": parse_float(_field("resource_request", "memory"), "resource_request.memory"),
        }
        parsed = build(lf, fields).with_columns(
            pl.coalesce(_obj_reason(), pl.col(REASON)).alias(REASON))
        parts.append(TablePart(parsed.filter(pl.col(REASON).is_not_null()), src(JSON_COL), display))
        good.append(parsed.filter(pl.col(REASON).is_null()).select(
            *(c for c in fields if c != "_missing"),
            # missing_type 0 is NONE: only other codes mark synthesized records
            pl.when(pl.col("_missing") != 0).then(pl.col("_missing")).alias("_missing"),
            seq(idx).alias("_seq")))

    events = pl.concat(good, how="vertical")
    counts = {"submits": [0], "schedules": [3], "evictions": [4], "failures": [5], "kills": [7],
              "losses": [8]}
    latest = ["_sched", "_ctype", "_prio", "_alloc", "_machine", "_cpu", "_mem"]
    agg = task_rows(events, names=EVENT_NAMES, submit=0, schedule=3, terminal=[4, 5, 6, 7, 8],
                    lifecycle=list(range(9)), latest=latest, counts=counts)
    parts.append(task_part(
        agg, files,
        columns=[pl.col("_prio").alias("priority"), pl.col("_status").alias("status"),
                 pl.col("_cpu").alias("cpu_req")],
        attrs={"mem_req_norm": pl.col("_mem"), "scheduling_class": pl.col("_sched"),
               "collection_type": pl.col("_ctype"), "machine_id": pl.col("_machine"),
               "alloc_collection_id": pl.col("_alloc")},
        counts=counts, missing_key="missing_records",
        missing_submit="no SUBMIT event for this instance in instance_events (submit time unknown)",
        noun="instance_events shards",
        raw_label="instance_events of collection {} instance {}"))
    return parts


def _usage(lf: pl.LazyFrame) -> pl.LazyFrame:
    start = us_time(_field("start_time"), "start_time", required=True)
    end = us_time(_field("end_time"), "end_time")
    coll = parse_int(_field("collection_id"), "collection_id", required=True)
    inst = parse_int(_field("instance_index"), "instance_index", required=True)
    machine = parse_int(_field("machine_id"), "machine_id")
    rate = parse_float(_field("sample_rate"), "sample_rate")
    entity = Parsed(pl.concat_str([coll.value, inst.value], separator="/"),
                    first_reason(_obj_reason(), coll.reason, inst.reason))
    metrics = [Metric(name, parse_float(_field(*path), ".".join(path)), unit)
               for name, path, unit in USAGE_METRICS]
    attrs = attrs_json({
        "end_s": end.value, "machine_id": machine.value, "sample_rate": rate.value,
        "cpu_usage_distribution": _field("cpu_usage_distribution"),
        "tail_cpu_usage_distribution": _field("tail_cpu_usage_distribution"),
    })
    t_s = Parsed(start.value, first_reason(_obj_reason(), start.reason, end.reason,
                                           machine.reason, rate.reason))
    return long_usage(lf, t_s, entity, metrics, attrs)


def _machines(lf: pl.LazyFrame) -> pl.LazyFrame:
    t = us_time(_field("time"), "time", required=True)
    ev = in_codes(parse_int(_field("type"), "type"), MACHINE_EVENTS, "type")
    switch = parse_text(_field("switch_id"), "switch_id")
    platform = parse_text(_field("platform_id"), "platform_id")
    mem = parse_float(_field("capacity", "memory"), "capacity.memory")
    why = parse_int(_field("missing_data_reason"), "missing_data_reason")
    return build(lf, {
        "machine_id": parse_text(_field("machine_id"), "machine_id", required=True),
        "cpu": parse_float(_field("capacity", "cpus"), "capacity.cpus"),
        "attrs": Parsed(attrs_json({
            "time_s": t.value,
            "event": ev.value.replace_strict(MACHINE_EVENTS, default=None, return_dtype=pl.String),
            "switch_id": switch.value, "platform_id": platform.value, "mem_norm": mem.value,
            "missing_data_reason": why.value,
        }), first_reason(t.reason, ev.reason, switch.reason, platform.reason, mem.reason, why.reason)),
    }).with_columns(pl.coalesce(_obj_reason(), pl.col(REASON)).alias(REASON))


READER = Google2019Reader()
