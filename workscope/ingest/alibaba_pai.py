"""Alibaba cluster-trace-gpu-v2020 (PAI, NSDI'22 "MLaaS in the Wild") into jobs, machines, usage.

Files: ``pai_<table>.tar.gz`` each holding ``pai_<table>.csv`` (plain ``.csv`` and ``.csv.gz``
are read too), for the seven tables below. The CSVs have **no header line**; the column names
live in separate one-line ``pai_<table>.header`` files. The reader takes a directory (or the
files themselves); it uses ``.header`` files found beside the data and otherwise the published
headers kept in :data:`HEADERS`, so it works without them. A CSV whose first line *is* its
header (some re-packagings add it) is accepted too.

Mapped tables:

- ``pai_task_table`` -> ``jobs`` (one row per task): ``job_id`` = job_name, ``task_id`` =
  task_name, ``submit_s`` = ``start_s`` = start_time (task launch; tasks have no separate
  submit time), ``end_s`` = end_time, ``status``, ``gpu_model`` = gpu_type. Requests are per
  instance in the source (percent of one core / GB / percent of one GPU); the task totals are
  ``cpu_req`` = plan_cpu / 100 x inst_num (cores), ``mem_req_mb`` = plan_mem x 1024 x inst_num,
  ``gpu_req`` = plan_gpu / 100 x inst_num (fractional GPUs). ``attrs``: inst_num, plan_cpu,
  plan_mem_gb, plan_gpu (per instance, as published).
- ``pai_job_table`` -> ``jobs``: ``job_id`` = job_name, ``user``, ``status``, ``submit_s`` =
  start_time (job submission), ``end_s`` = end_time; ``attrs.inst_id``.
- ``pai_instance_table`` -> ``jobs``: ``job_id`` = job_name, ``task_id`` = task_name,
  ``submit_s`` = ``start_s`` = start_time, ``end_s`` = end_time, ``status``; ``attrs``:
  inst_name, worker_name, inst_id, machine.

  Job, task and instance rows describe the same work at three levels, so one of them fills
  ``jobs`` (option ``jobs_from``: ``auto`` takes the task table, else the job table, else the
  instance table); the others are listed in the manifest as not used, and not opened.
- ``pai_machine_spec`` -> ``machines``: ``machine_id`` = machine, ``cpu`` = cap_cpu (cores),
  ``mem_mb`` = cap_mem x 1024, ``gpu`` = cap_gpu, ``gpu_model`` = gpu_type (null for ``CPU``
  machines; ``attrs.gpu_type`` keeps the raw value; MISC = K40m/K80/M60).
- ``pai_machine_metric`` -> ``usage``: each row gives 8 machine-level averages over one
  instance's lifetime; each non-empty one becomes a sample with ``t_s`` = start_time,
  ``entity_id`` = machine, ``metric`` = the column name (machine_cpu_iowait, machine_cpu_kernel,
  machine_cpu_usr, machine_gpu, machine_load_1, machine_net_receive, machine_num_worker,
  machine_cpu), ``attrs``: worker_name, end_s. An empty metric is no sample (not a reject).

Not mapped (listed in the manifest): ``pai_sensor_table`` (per-instance lifetime averages
without any timestamp: they need a join with the instance table) and ``pai_group_tag_table``
(semantic tags, no canonical table).

Quirks: numbers are often written as floats (``inst_num`` ``1.0``); ``start_time`` /
``end_time`` = 0 means unknown and becomes null (official analysis, utils.py), so a task/job
whose start is 0 is rejected for a missing ``submit_s``; empty ``end_time`` = still running
(censored). Status values: Running, Terminated (success), Failed, Waiting.

Time: seconds, shifted by a constant for anonymisation; read as Unix time in UTC+8
(Asia/Shanghai) they keep the true time of day and weekday with fake dates. The ``*_s``
columns keep those shifted seconds (origin = the shifted epoch; ``origin_utc`` null, manifest
``time_zone`` Asia/Shanghai). Licence CC-BY-4.0. Source: alibaba/clusterdata,
``cluster-trace-gpu-v2020/README.md``; cite Weng et al., NSDI 2022.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from workscope.errors import OptionError, SourceError
from workscope.ingest.files import first_line, head_text, iter_files, plain_file, require_rows, tar_members
from workscope.ingest.parse import (
    Parsed,
    attrs_json,
    build,
    check_header,
    parse_float,
    parse_text,
    raw_row,
    scan_text_csv,
    src,
)
from workscope.ingest.reader import Reader, ScanContext, ScanResult, TablePart
from workscope.ingest.timefmt import origin_meta
from workscope.options import Option

HEADERS: dict[str, str] = {
    "pai_job_table": "job_name,inst_id,user,status,start_time,end_time",
    "pai_task_table": "job_name,task_name,inst_num,status,start_time,end_time,plan_cpu,plan_mem,plan_gpu,gpu_type",
    "pai_instance_table": "job_name,task_name,inst_name,worker_name,inst_id,status,start_time,end_time,machine",
    "pai_sensor_table": "job_name,task_name,worker_name,inst_id,machine,gpu_name,cpu_usage,gpu_wrk_util,avg_mem,max_mem,avg_gpu_wrk_mem,max_gpu_wrk_mem,read,write,read_count,write_count",
    "pai_group_tag_table": "inst_id,user,gpu_type_spec,group,workload",
    "pai_machine_spec": "machine,gpu_type,cap_cpu,cap_mem,cap_gpu",
    "pai_machine_metric": "worker_name,machine,start_time,end_time,machine_cpu_iowait,machine_cpu_kernel,machine_cpu_usr,machine_gpu,machine_load_1,machine_net_receive,machine_num_worker,machine_cpu",
}
"""The published one-line ``.header`` files (alibaba/clusterdata, cluster-trace-gpu-v2020/data)."""

METRICS: dict[str, str | None] = {
    "machine_cpu_iowait": "percent",
    "machine_cpu_kernel": "percent",
    "machine_cpu_usr": "percent",
    "machine_gpu": "percent",
    "machine_load_1": None,
    "machine_net_receive": "bytes",
    "machine_num_worker": "count",
    "machine_cpu": "percent",
}
"""machine_metric columns -> unit (None where the README gives none)."""

JOB_LEVELS = ("pai_task_table", "pai_job_table", "pai_instance_table")
UNMAPPED = ("pai_sensor_table", "pai_group_tag_table")
_NAME_RE = re.compile(r"^(pai_[a-z_]+?)(\.csv)?(\.tar)?(\.gz|\.tgz)?$")


def _tables_of(data: list[Path]) -> dict[str, Any]:
    """The facts of data files: the tables they hold, told by their names."""
    return {"tables": sorted({t for f in data if (t := table_of(f.name))})}


def _data_files(groups: list[list[Path]]) -> list[Path]:
    """The data file of each group of :meth:`AlibabaPAIReader.select` (the rest are headers)."""
    return [g[0] for g in groups]


def table_of(name: str) -> str | None:
    """The PAI table a file or archive member name belongs to, or None."""
    base = name.rsplit("/", 1)[-1].lower()
    m = _NAME_RE.match(base)
    if not m or m.group(1) not in HEADERS:
        return None
    return m.group(1)


def _time(name: str) -> Parsed:
    """A start/end time; 0 means unknown (null), as in the official analysis."""
    p = parse_float(src(name), name)
    return p.map(lambda v: pl.when(v == 0).then(None).otherwise(v))


def _submit(start: Parsed) -> Parsed:
    """start_time as the (required) submit time, with a clear reason when it is 0."""
    raw = parse_float(src("start_time"), "start_time").value
    zero = pl.when(raw == 0).then(pl.lit("start_time is 0 (unknown), so the submit time is missing"))
    return Parsed(start.value, pl.coalesce(start.reason, zero))


class AlibabaPAIReader(Reader):
    """Alibaba PAI GPU 2020 tables into ``jobs``, ``machines`` and ``usage``."""

    name = "alibaba_pai"
    version = "1"
    description = ("Alibaba cluster-trace-gpu-v2020 (PAI): task/job/instance -> jobs, "
                   "machine_spec -> machines, machine_metric -> usage")
    tables = ("jobs", "machines", "usage")
    doc_url = "https://github.com/alibaba/clusterdata/blob/master/cluster-trace-gpu-v2020/README.md"
    options = {
        "jobs_from": Option(str, "auto",
                            "which table fills jobs: auto (task, else job, else instance), "
                            "task, job or instance"),
    }

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            return any(table_of(f.name) and not f.name.endswith(".header") for f in path.iterdir())
        table = table_of(path.name)
        if table is None or path.name.endswith(".header"):
            return False
        if path.name.lower().endswith((".tar.gz", ".tgz", ".tar")):
            return True
        lines = head_text(path, 4096).splitlines()
        return bool(lines) and len(lines[0].split(",")) == len(HEADERS[table].split(","))

    split = True
    split_unit = "each table file (with the .header files)"

    def select(self, paths: Sequence[Path], options: dict[str, Any] | None = None
               ) -> tuple[list[list[Path]], list[Path]]:
        # The tables never join: a task per data file, the .header files with each.
        files = list(iter_files(paths))
        headers = [f for f in files if f.name.endswith(".header") and table_of(f.name[: -len(".header")])]
        data = [f for f in files if not f.name.endswith(".header") and table_of(f.name)]
        if not data:
            raise SourceError(paths[0], "no pai_<table>.csv / .tar.gz files found",
                              hint="pass the directory holding the PAI 2020 files")
        return [[f, *headers] for f in data], []

    def facts(self, paths: Sequence[Path], ctx: ScanContext) -> dict[str, Any]:
        """The tables these files hold, told by their names (nothing is read)."""
        return _tables_of(_data_files(self.select(paths, ctx.options)[0]))

    def shared_facts(self, metas: list[dict[str, Any]]) -> dict[str, Any]:
        """The tables of all the files: which one fills ``jobs`` is chosen among them."""
        return {"tables": sorted({t for m in metas for t in m["tables"]})}

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        want = str(ctx.options.get("jobs_from") or "auto").lower()
        if want not in ("auto", "task", "job", "instance"):
            raise OptionError(f"option 'jobs_from' of format 'alibaba_pai' must be auto, task, job "
                              f"or instance, got {want!r}")
        groups, _ = self.select(paths, ctx.options)
        headers = dict(HEADERS)
        for f in dict.fromkeys(f for g in groups for f in g[1:]):
            text = first_line(f).strip()
            if text:
                headers[table_of(f.name[: -len(".header")]) or ""] = text
        data = _data_files(groups)
        # the tables of all the files: given to each task of a cluster ingest, else these
        present = (ctx.shared or self.shared_facts([_tables_of(data)]))["tables"]
        level = self._level(want, present, paths[0])
        read = {"pai_machine_spec": "machines", "pai_machine_metric": "usage"}
        if level:
            read[level] = "jobs"

        tables: dict[str, list[TablePart]] = {}
        for f in data:
            # the other tables are not opened (pai_sensor_table.tar.gz alone is over 1 GB)
            if table_of(f.name) not in read:
                continue
            if f.name.lower().endswith((".tar.gz", ".tgz", ".tar")):
                members = tar_members(f, ctx, keep=lambda m: m.lower().endswith((".csv", ".csv.gz")))
                if not members:
                    raise SourceError(f, "archive holds no .csv member", hint="check the download")
                staged = [(table_of(member) or table_of(f.name), plain_file(path, ctx))
                          for member, path in members]
            else:
                staged = [(table_of(f.name), plain_file(f, ctx))]
            for table, plain in staged:
                target = read.get(table or "")
                if target is None:
                    continue
                lf, names, display = self._frame(plain, f, table, headers[table])
                for frame in self._map(table, lf, names):
                    tables.setdefault(target, []).append(TablePart(frame, raw_row(names), display))

        meta = origin_meta(None, assumed_utc=False, resolution_s=1.0,
                           note="times are seconds shifted by a constant; read as Unix time in "
                                "Asia/Shanghai (UTC+8) they keep the time of day and weekday")
        meta.update({
            "time_zone": "Asia/Shanghai",
            "cpu_unit": "cores (plan_cpu / 100)",
            "mem_unit": "MiB (GB x 1024)",
            "jobs_from": level,
            "tables_present": present,
            "tables_not_used": [t for t in present if t not in read],
            "headers": {t: headers[t] for t in present},
        })
        return ScanResult(tables, data, meta)

    @staticmethod
    def _level(want: str, present: list[str], first: Path) -> str | None:
        if want != "auto":
            table = f"pai_{want}_table"
            if table not in present:
                raise SourceError(first, f"option jobs_from={want} but no {table} file was given",
                                  hint="add the file or choose another jobs_from")
            return table
        return next((t for t in JOB_LEVELS if t in present), None)

    @staticmethod
    def _frame(plain: Path, f: Path, table: str, header_text: str) -> tuple[pl.LazyFrame, list[str], str]:
        display = str(f) if plain == f else f"{f}:{table}.csv"
        names = [h.strip() for h in header_text.split(",")]
        check_header(names, [c.strip() for c in HEADERS[table].split(",")], f"{table}.header",
                     what=f"{table} header")
        head = first_line(plain, display).strip()
        has_header = head == ",".join(names)
        if len(head.split(",")) != len(names):
            raise SourceError(display, f"expected {len(names)} comma-separated fields ({header_text}), "
                                       f"the first line has {len(head.split(','))} (wrong delimiter "
                                       "or wrong file?)", line=1,
                              hint="PAI 2020 files are header-less CSV; check the file name and delimiter")
        require_rows(plain, display, skip=1 if has_header else 0)
        lf, _ = scan_text_csv(plain, display, columns=names, has_header=False,
                              skip_lines=1 if has_header else 0,
                              line_offset=2 if has_header else 1)
        return lf, names, display

    @staticmethod
    def _map(table: str, lf: pl.LazyFrame, names: list[str]) -> list[pl.LazyFrame]:
        if table == "pai_machine_spec":
            gpu_type = parse_text(src("gpu_type"), "gpu_type")
            mem = parse_float(src("cap_mem"), "cap_mem")
            return [build(lf, {
                "machine_id": parse_text(src("machine"), "machine", required=True),
                "cpu": parse_float(src("cap_cpu"), "cap_cpu"),
                "mem_mb": mem.map(lambda v: v * 1024.0),
                "gpu": parse_float(src("cap_gpu"), "cap_gpu"),
                "gpu_model": gpu_type.map(lambda v: pl.when(v != "CPU").then(v)),
                "attrs": attrs_json({"gpu_type": gpu_type.value}),
            })]
        if table == "pai_machine_metric":
            start, end = _time("start_time"), _time("end_time")
            worker = parse_text(src("worker_name"), "worker_name")
            machine = parse_text(src("machine"), "machine", required=True)
            out = []
            for metric, unit in METRICS.items():
                value = parse_float(src(metric), metric)
                frame = build(lf, {
                    "t_s": start,
                    "entity_id": machine,
                    "metric": pl.lit(metric),
                    "value": value,
                    "unit": pl.lit(unit, pl.String),
                    "attrs": Parsed(attrs_json({"worker_name": worker.value, "end_s": end.value}),
                                    pl.coalesce(worker.reason, end.reason)),
                })
                # An empty metric is no sample; an unparseable one still goes to rejects.
                out.append(frame.filter(pl.col("value").is_not_null() | pl.col("_reason").is_not_null()))
            return out
        start, end = _time("start_time"), _time("end_time")
        status = parse_text(src("status"), "status")
        if table == "pai_job_table":
            return [build(lf, {
                "job_id": parse_text(src("job_name"), "job_name", required=True),
                "user": parse_text(src("user"), "user"),
                "status": status,
                "submit_s": _submit(start),
                "end_s": end,
                "attrs": attrs_json({"inst_id": parse_text(src("inst_id"), "inst_id").value}),
            })]
        if table == "pai_instance_table":
            text = {c: parse_text(src(c), c) for c in ("inst_name", "worker_name", "inst_id", "machine")}
            return [build(lf, {
                "job_id": parse_text(src("job_name"), "job_name", required=True),
                "task_id": parse_text(src("task_name"), "task_name"),
                "status": status,
                "submit_s": _submit(start),
                "start_s": start.value,
                "end_s": end,
                "attrs": Parsed(attrs_json({k: p.value for k, p in text.items()}),
                                pl.coalesce([p.reason for p in text.values()])),
            })]
        # pai_task_table
        inst = parse_float(src("inst_num"), "inst_num")
        cpu = parse_float(src("plan_cpu"), "plan_cpu")
        mem = parse_float(src("plan_mem"), "plan_mem")
        gpu = parse_float(src("plan_gpu"), "plan_gpu")
        return [build(lf, {
            "job_id": parse_text(src("job_name"), "job_name", required=True),
            "task_id": parse_text(src("task_name"), "task_name"),
            "status": status,
            "submit_s": _submit(start),
            "start_s": start.value,
            "end_s": end,
            "cpu_req": Parsed(cpu.value / 100.0 * inst.value, cpu.reason),
            "mem_req_mb": Parsed(mem.value * 1024.0 * inst.value, mem.reason),
            "gpu_req": Parsed(gpu.value / 100.0 * inst.value, gpu.reason),
            "gpu_model": parse_text(src("gpu_type"), "gpu_type"),
            "attrs": Parsed(attrs_json({"inst_num": inst.value, "plan_cpu": cpu.value,
                                        "plan_mem_gb": mem.value, "plan_gpu": gpu.value}),
                            inst.reason),
        })]


READER = AlibabaPAIReader()
