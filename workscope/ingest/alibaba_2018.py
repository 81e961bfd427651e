"""Alibaba cluster-trace-v2018 (alibaba/clusterdata, ``cluster-trace-v2018``).

Files: ``machine_meta``, ``machine_usage``, ``container_meta``, ``container_usage``,
``batch_task`` and ``batch_instance``, each published as ``<name>.tar.gz`` holding
``<name>.csv`` (the combined ``alibaba_clusterdata_v2018.tar.gz`` works too). The CSVs are
comma-separated with **no header line**; the column order is that of ``schema.txt``.
Plain ``<name>.csv`` and ``<name>.csv.gz`` are accepted as well. The table a file holds is
told by its name (the files carry no header, and ``batch_task`` and ``machine_usage`` both
have nine columns).

Mapping:

- ``batch_task`` (``task_name, instance_num, job_name, task_type, status, start_time,
  end_time, plan_cpu, plan_mem``) -> ``jobs``, one row per task: ``job_id`` = job_name,
  ``task_id`` = task_name, ``status`` as published, ``cpu_req`` = plan_cpu **as published
  (100 = one core)**. The trace has no submit time: ``submit_s`` = ``start_s`` = start_time
  (the manifest says so). ``end_time`` 0 (alibaba/clusterdata#167) means "not recorded" and
  becomes null. ``plan_mem`` is normalized to [0, 100], not MB, so it goes into ``attrs``
  (``plan_mem_norm``) with ``instance_num`` and ``task_type``; ``mem_req_mb`` stays null.
- ``machine_usage`` (``machine_id, time_stamp, cpu_util_percent, mem_util_percent, mem_gps,
  mkpi, net_in, net_out, disk_io_percent``) and ``container_usage`` (``container_id,
  machine_id, time_stamp, cpu_util_percent, mem_util_percent, cpi, mem_gps, mpki, net_in,
  net_out, disk_io_percent``) -> ``usage``, one row per (sample, metric), metric names as
  published (the schema spells ``mkpi`` for machines and ``mpki`` for containers; both kept).
- ``machine_meta`` (``machine_id, time_stamp, failure_domain_1, failure_domain_2, cpu_num,
  mem_size, status``) -> ``machines``, one row per source row (the file is a log of machine
  states over time; ``time_stamp``, the failure domains, ``mem_size_norm`` and ``status``
  go into ``attrs``). ``cpu`` = cpu_num (cores); ``mem_size`` is normalized, so ``mem_mb``
  is null.

Units and time: times are seconds since the beginning of the sampled period; the absolute
date and zone are not published, so the manifest's origin is null. Memory, disk, bandwidth
and network are normalized to [0, 100] and the source writes **-1 or 101 for invalid
values**: in ``usage`` such a sample is rejected with a reason naming the marker (it is a
written, invalid measurement), elsewhere it becomes null. An empty usage field is no sample.

Not ingested: ``batch_instance`` (one row per instance run, a finer grain than the tasks in
``jobs``) and ``container_meta`` (a log of container resource settings); files of these two
are listed in the manifest's ``skipped_files``.

Source: https://github.com/alibaba/clusterdata/blob/master/cluster-trace-v2018/trace_2018.md
and ``schema.txt``; issues #9, #84, #167.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from workscope.errors import SourceError
from workscope.ingest._usage import Metric, long_usage
from workscope.ingest.files import first_line, head_bytes, head_text, iter_files, plain_file, tar_members
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
from workscope.ingest.reader import Reader, ScanContext, ScanResult, TablePart, flat, one_each
from workscope.ingest.timefmt import origin_meta

log = logging.getLogger(__name__)

COLUMNS: dict[str, list[str]] = {
    "machine_meta": ["machine_id", "time_stamp", "failure_domain_1", "failure_domain_2",
                     "cpu_num", "mem_size", "status"],
    "machine_usage": ["machine_id", "time_stamp", "cpu_util_percent", "mem_util_percent",
                      "mem_gps", "mkpi", "net_in", "net_out", "disk_io_percent"],
    "container_meta": ["container_id", "machine_id", "time_stamp", "app_du", "status",
                       "cpu_request", "cpu_limit", "mem_size"],
    "container_usage": ["container_id", "machine_id", "time_stamp", "cpu_util_percent",
                        "mem_util_percent", "cpi", "mem_gps", "mpki", "net_in", "net_out",
                        "disk_io_percent"],
    "batch_task": ["task_name", "instance_num", "job_name", "task_type", "status",
                   "start_time", "end_time", "plan_cpu", "plan_mem"],
    "batch_instance": ["instance_name", "task_name", "job_name", "task_type", "status",
                       "start_time", "end_time", "machine_id", "seq_no", "total_seq_no",
                       "cpu_avg", "cpu_max", "mem_avg", "mem_max"],
}
SUPPORTED = ("machine_meta", "machine_usage", "container_usage", "batch_task")
TARS = (".tar.gz", ".tgz", ".tar")
INVALID = ("-1", "101")
# Metrics bounded to [0, 100] by the schema: the only ones where -1 / 101 mark invalid values.
BOUNDED = {"cpu_util_percent", "mem_util_percent", "mem_gps", "net_in", "net_out", "disk_io_percent"}
UNITS = {
    "cpu_util_percent": "percent", "mem_util_percent": "percent", "disk_io_percent": "percent",
    "mem_gps": "normalized_0_100", "net_in": "normalized_0_100", "net_out": "normalized_0_100",
    "mkpi": "misses_per_kilo_instruction", "mpki": "misses_per_kilo_instruction",
    "cpi": "cycles_per_instruction",
}
_NAME = re.compile("(" + "|".join(COLUMNS) + ")")


def kind_of(name: str) -> str | None:
    """Which v2018 table a file or tar member holds, from its base name (None if not one).

    The published names are ``<table>.csv`` / ``<table>.tar.gz``; a name that merely
    contains the table name (``part1_batch_task.csv.gz``) is accepted too.
    """
    base = name.rsplit("/", 1)[-1]
    if base.startswith(".") or base.endswith((".md", ".txt", ".sh")):
        return None
    m = _NAME.search(base)
    return m.group(1) if m else None


# ---------------------------------------------------------------- invalid-value markers

def bounded(raw: pl.Expr, label: str) -> Parsed:
    """A [0, 100] value where -1 and 101 are the source's invalid markers (reason given)."""
    p = parse_float(raw, label, strip=True)
    marker = raw.str.strip_chars().cast(pl.Float64, strict=False).is_in([-1.0, 101.0])
    return Parsed(
        pl.when(marker).then(pl.lit(None, pl.Float64)).otherwise(p.value),
        pl.when(marker).then(pl.lit(f"{label}: the source's invalid-value marker (-1 or 101)"))
        .otherwise(p.reason),
    )


def _nullify_markers(p: Parsed, raw: pl.Expr) -> Parsed:
    marker = raw.str.strip_chars().cast(pl.Float64, strict=False).is_in([-1.0, 101.0])
    return p.map(lambda v: pl.when(marker).then(pl.lit(None, pl.Float64)).otherwise(v))


# ---------------------------------------------------------------- the reader

class Alibaba2018Reader(Reader):
    """Alibaba cluster-trace-v2018: batch_task -> jobs, *_usage -> usage, machine_meta -> machines."""

    name = "alibaba_2018"
    version = "1"
    description = ("Alibaba cluster-trace-v2018 (header-less CSV in tar.gz): batch_task -> jobs, "
                   "machine_usage/container_usage -> usage, machine_meta -> machines")
    tables = ("jobs", "usage", "machines")
    doc_url = "https://github.com/alibaba/clusterdata/blob/master/cluster-trace-v2018/trace_2018.md"

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            return any(kind_of(f.name) and self.sniff(f) for f in sorted(path.iterdir())[:50])
        kind = kind_of(path.name)
        if kind is None:
            # the combined archive, named as published
            return path.name.startswith("alibaba_clusterdata_v2018") and path.name.endswith(".tar.gz")
        if path.name.endswith((".tar.gz", ".tgz")):
            member = head_bytes(path, 100).split(b"\x00", 1)[0].decode("utf-8", "replace")
            return kind_of(member) == kind
        lines = head_text(path, 4096).splitlines()
        if not lines:
            return False
        fields = lines[0].split(",")
        return len(fields) == len(COLUMNS[kind]) and _looks_like_data(kind, fields)

    split = True

    def select(self, paths: Sequence[Path], options: dict[str, Any] | None = None
               ) -> tuple[list[list[Path]], list[Path]]:
        # The table is told by the name: a tar named after a table read here is never opened
        # (batch_instance.tar.gz is over 100 GB), one named otherwise is opened for its members.
        files, skipped = [], []
        for f in iter_files(paths):
            kind = kind_of(f.name)
            if f.name.endswith(TARS):
                (skipped if kind is not None and kind not in SUPPORTED else files).append(f)
                continue
            if kind is None and any(str(p) == str(f) for p in paths):
                raise SourceError(f, "cannot tell which Alibaba 2018 table this file holds",
                                  hint="keep the published names: " + ", ".join(f"{k}.csv" for k in COLUMNS))
            (files if kind in SUPPORTED else skipped).append(f)
        return one_each(files), skipped

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        staged: list[tuple[str, str, Path]] = []  # (kind, display, plain path)
        groups, left = self.select(paths)
        files = flat(groups)
        skipped = [str(f) for f in left]
        for f in files:
            if f.name.endswith(TARS):
                members = tar_members(f, ctx, lambda m: kind_of(m) in SUPPORTED)
                if not members:
                    raise SourceError(f, "this tar archive holds none of the Alibaba 2018 tables read "
                                      "here (" + ", ".join(SUPPORTED) + ")",
                                      hint="pass the published <table>.tar.gz files, or leave this one out")
                for member, plain in members:
                    staged.append((kind_of(member) or "", f"{f}!{member}", plain))
            else:
                staged.append((kind_of(f.name) or "", str(f), plain_file(f, ctx)))
        if not staged:
            raise SourceError(paths[0], "no Alibaba 2018 batch_task, machine_usage, container_usage "
                              "or machine_meta file found",
                              hint="pass the published <table>.tar.gz or <table>.csv files")

        tables: dict[str, list[TablePart]] = {}
        for kind, display, plain in staged:
            cols = COLUMNS[kind]
            n = len(first_line(plain, display).split(","))
            if n != len(cols):
                raise SourceError(display, f"expected {len(cols)} comma-separated fields of {kind} "
                                  f"(no header), line 1 has {n}", line=1,
                                  hint="is this the right file? the table is told by the file name")
            lf, names = scan_text_csv(plain, display, columns=cols, has_header=False)
            if kind == "batch_task":
                table, frame = "jobs", _jobs(lf)
            elif kind == "machine_meta":
                table, frame = "machines", _machines(lf)
            else:
                table, frame = "usage", _usage(lf, kind)
            tables.setdefault(table, []).append(TablePart(frame, raw_row(names), display))

        meta = origin_meta(None, assumed_utc=False, resolution_s=1.0,
                           note="seconds since the beginning of the sampled period; "
                                "the absolute date and zone are not published")
        meta.update({
            "cpu_unit": "1/100 core (100 = one core), as published (plan_cpu)",
            "mem_unit": "normalized to [0, 100] (plan_mem, mem_size); kept in attrs",
            "submit_s_from": "start_time (batch_task has no submit time)",
            "invalid_markers": list(INVALID),
        })
        if skipped:
            meta["skipped_files"] = skipped
        return ScanResult(tables, files, meta)


def _looks_like_data(kind: str, fields: list[str]) -> bool:
    numeric = {"machine_meta": [1, 4], "machine_usage": [1, 2, 3], "container_usage": [2, 3, 4],
               "batch_task": [5, 6], "batch_instance": [5, 6], "container_meta": [2]}[kind]
    try:
        for i in numeric:
            if fields[i].strip():
                float(fields[i])
    except ValueError:
        return False
    return True


def _jobs(lf: pl.LazyFrame) -> pl.LazyFrame:
    # bigint in the schema; whole floats are tolerated, overflowing values are not
    start_i = parse_int(src("start_time"), "start_time", required=True, allow_float=True, strip=True)
    end_i = parse_int(src("end_time"), "end_time", allow_float=True, strip=True)
    start = start_i.map(lambda v: v.cast(pl.Float64))
    end = end_i.map(lambda v: v.cast(pl.Float64))
    instances = parse_int(src("instance_num"), "instance_num", allow_float=True, strip=True)
    plan_mem = parse_float(src("plan_mem"), "plan_mem")
    task_type = parse_text(src("task_type"), "task_type")
    return build(lf, {
        "job_id": parse_text(src("job_name"), "job_name", required=True),
        "task_id": parse_text(src("task_name"), "task_name"),
        "submit_s": start,
        "start_s": Parsed(start.value, pl.lit(None, pl.String)),
        # end_time 0 is "not recorded" (issue #167), not an end at the trace's first second
        "end_s": end.map(lambda v: pl.when(v != 0).then(v)),
        "status": parse_text(src("status"), "status"),
        "cpu_req": parse_float(src("plan_cpu"), "plan_cpu"),
        "attrs": Parsed(attrs_json({
            "instance_num": instances.value,
            "task_type": task_type.value,
            "plan_mem_norm": _nullify_markers(plan_mem, src("plan_mem")).value,
        }), first_reason(instances.reason, plan_mem.reason, task_type.reason)),
    })


def _usage(lf: pl.LazyFrame, kind: str) -> pl.LazyFrame:
    cols = COLUMNS[kind]
    entity_col = "machine_id" if kind == "machine_usage" else "container_id"
    metric_cols = cols[cols.index("time_stamp") + 1:]
    metrics = [
        Metric(c, bounded(src(c), c) if c in BOUNDED else parse_float(src(c), c), UNITS.get(c))
        for c in metric_cols
    ]
    attrs = None
    if kind == "container_usage":
        machine = parse_text(src("machine_id"), "machine_id")
        attrs = attrs_json({"machine_id": machine.value})
    return long_usage(
        lf,
        parse_float(src("time_stamp"), "time_stamp", required=True),
        parse_text(src(entity_col), entity_col, required=True),
        metrics,
        attrs,
    )


def _machines(lf: pl.LazyFrame) -> pl.LazyFrame:
    ts = parse_float(src("time_stamp"), "time_stamp")
    fd1 = parse_int(src("failure_domain_1"), "failure_domain_1")
    fd2 = parse_text(src("failure_domain_2"), "failure_domain_2")
    mem = parse_float(src("mem_size"), "mem_size")
    status = parse_text(src("status"), "status")
    return build(lf, {
        "machine_id": parse_text(src("machine_id"), "machine_id", required=True),
        "cpu": parse_float(src("cpu_num"), "cpu_num"),
        "attrs": Parsed(attrs_json({
            "time_stamp": ts.value,
            "failure_domain_1": fd1.value,
            "failure_domain_2": fd2.value,
            "mem_size_norm": _nullify_markers(mem, src("mem_size")).value,
            "status": status.value,
        }), first_reason(ts.reason, fd1.reason, fd2.reason, mem.reason, status.reason)),
    })


READER = Alibaba2018Reader()
