"""Alibaba cluster-trace-gpu-v2025 (disaggregated DLRM serving, NSDI'25 Prism) into ``jobs``.

File: ``disaggregated_DLRM_trace.csv`` with the header
``instance_sn,role,app_name,cpu_request,cpu_limit,gpu_request,gpu_limit,rdma_request,
rdma_limit,memory_request,memory_limit,disk_request,disk_limit,max_instance_per_node,
creation_time,scheduled_time,deletion_time``; one row per inference instance (23,871
instances of 156 services).

Units [README]: cpu in vCPUs, gpu in GPUs, rdma in percent of one RNIC's bandwidth, memory and
disk in GiB, times in seconds from the trace start. ``max_instance_per_node`` -1 = unlimited.

Censoring: an **empty time is censored, not missing**. Empty ``creation_time`` /
``scheduled_time`` mean the instance already existed (was scheduled) before the trace start;
empty ``deletion_time`` means it was still alive at the trace end. So:

- ``submit_s`` = creation_time, or 0.0 (the trace start) when empty, with
  ``attrs.created_before_trace`` true (``submit_s`` is required; 0 is the left edge of the
  observation window, not a claimed creation time);
- ``start_s`` = scheduled_time, null when empty (the real start is before the window);
- ``end_s`` = deletion_time, null when empty (right-censored).

Mapping: ``job_id`` = instance_sn; ``group`` = app_name (the README's "application group");
``partition`` = role (``CN`` CPU node, ``HN`` heterogeneous GPU node: the node pool the
instance runs in); ``cpu_req`` = cpu_request (cores); ``mem_req_mb`` = memory_request x 1024;
``gpu_req`` = gpu_request. ``attrs``: cpu_limit, gpu_limit, rdma_request, rdma_limit,
memory_limit_gib, disk_request_gib, disk_limit_gib, max_instance_per_node,
created_before_trace. All instances are latency-sensitive (LS) per the README; the file has no
qos column, so ``qos`` stays null and the manifest notes it.

Time: no absolute date is published (``origin_utc`` null). Source: alibaba/clusterdata,
``cluster-trace-gpu-v2025/README.md``; cite Yang et al., "GPU-Disaggregated Serving for Deep
Learning Recommendation Models at Scale", NSDI 2025.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from workscope.ingest.files import first_line, head_text, iter_files, plain_file, require_rows
from workscope.ingest.parse import (
    Parsed,
    attrs_json,
    build,
    check_header,
    parse_float,
    parse_int,
    parse_text,
    raw_row,
    scan_text_csv,
    src,
)
from workscope.ingest.reader import Reader, ScanContext, ScanResult, TablePart
from workscope.ingest.timefmt import origin_meta

HEADER = ["instance_sn", "role", "app_name", "cpu_request", "cpu_limit", "gpu_request",
          "gpu_limit", "rdma_request", "rdma_limit", "memory_request", "memory_limit",
          "disk_request", "disk_limit", "max_instance_per_node", "creation_time",
          "scheduled_time", "deletion_time"]
REQUIRED = ["instance_sn", "role", "app_name", "cpu_request", "gpu_request", "memory_request",
            "creation_time", "scheduled_time", "deletion_time"]


class AlibabaDLRMReader(Reader):
    """Alibaba GPU 2025 disaggregated DLRM instances into ``jobs``."""

    name = "alibaba_dlrm"
    version = "1"
    description = "Alibaba cluster-trace-gpu-v2025 disaggregated DLRM serving instances -> jobs"
    tables = ("jobs",)
    doc_url = "https://github.com/alibaba/clusterdata/tree/master/cluster-trace-gpu-v2025"

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            return any(self.sniff(f) for f in sorted(path.glob("*.csv*"))[:3])
        lines = head_text(path, 4096).lstrip("\ufeff").splitlines()
        return bool(lines) and [c.strip() for c in lines[0].split(",")] == HEADER

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        files = list(iter_files(paths))
        parts = []
        for f in files:
            plain = plain_file(f, ctx)
            header = [c.strip() for c in first_line(plain, f).split(",")]
            check_header(header, REQUIRED, f, what="Alibaba DLRM 2025 trace")
            require_rows(plain, str(f))
            lf, names = scan_text_csv(plain, str(f))
            parts.append(TablePart(build(lf, self._fields(names)), raw_row(names), str(f)))
        meta = origin_meta(None, assumed_utc=False, resolution_s=None,
                           note="seconds from the trace start; no absolute date is published")
        meta.update({
            "cpu_unit": "cores (vCPU)",
            "mem_unit": "MiB (memory_request GiB x 1024)",
            "censoring": "empty creation_time -> submit_s 0 with attrs.created_before_trace; "
                         "empty scheduled_time -> start_s null; empty deletion_time -> end_s null",
            "qos_note": "all instances are latency-sensitive (LS) per the README; qos left null",
        })
        return ScanResult({"jobs": parts}, files, meta)

    @staticmethod
    def _fields(names: Sequence[str]) -> dict[str, Parsed | pl.Expr]:
        def opt(name: str) -> pl.Expr:
            return src(name) if name in names else pl.lit(None, pl.String)

        created = parse_float(src("creation_time"), "creation_time")
        before = created.value.is_null() & created.reason.is_null()
        mem = parse_float(src("memory_request"), "memory_request")
        extras = {
            "cpu_limit": parse_float(opt("cpu_limit"), "cpu_limit"),
            "gpu_limit": parse_float(opt("gpu_limit"), "gpu_limit"),
            "rdma_request": parse_float(opt("rdma_request"), "rdma_request"),
            "rdma_limit": parse_float(opt("rdma_limit"), "rdma_limit"),
            "memory_limit_gib": parse_float(opt("memory_limit"), "memory_limit"),
            "disk_request_gib": parse_float(opt("disk_request"), "disk_request"),
            "disk_limit_gib": parse_float(opt("disk_limit"), "disk_limit"),
            "max_instance_per_node": parse_int(opt("max_instance_per_node"), "max_instance_per_node"),
        }
        attrs = attrs_json({**{k: p.value for k, p in extras.items()},
                            "created_before_trace": before})
        return {
            "job_id": parse_text(src("instance_sn"), "instance_sn", required=True),
            "submit_s": created.map(lambda v: pl.when(before).then(pl.lit(0.0)).otherwise(v)),
            "start_s": parse_float(src("scheduled_time"), "scheduled_time"),
            "end_s": parse_float(src("deletion_time"), "deletion_time"),
            "group": parse_text(src("app_name"), "app_name"),
            "partition": parse_text(src("role"), "role"),
            "cpu_req": parse_float(src("cpu_request"), "cpu_request"),
            "mem_req_mb": mem.map(lambda v: v * 1024.0),
            "gpu_req": parse_float(src("gpu_request"), "gpu_request"),
            "attrs": Parsed(attrs, pl.coalesce([p.reason for p in extras.values()])),
        }


READER = AlibabaDLRMReader()
