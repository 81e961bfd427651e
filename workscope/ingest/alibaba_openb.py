"""Alibaba cluster-trace-gpu-v2023 ("openb", ATC'23 Beware of Fragmentation) into jobs and machines.

Files (CSV with a header line):

- ``openb_pod_list_<variant>.csv``: ``name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,
  qos,pod_phase,creation_time,deletion_time,scheduled_time``. ``default`` is the production
  list (8,152 pods); the other variants (cpu050, gpushare40, multigpu20, gpuspec33, ...) are
  re-samplings of it, so only one pod list is read per trace (option ``pod_list``).
- ``openb_node_list_all_node.csv`` / ``openb_node_list_gpu_node.csv``:
  ``sn,cpu_milli,memory_mib,gpu,model`` (``model`` empty for CPU nodes; G1/G2/G3 are
  undisclosed internal GPU codes). The GPU-node list numbers its nodes on its own (its
  ``openb-node-0000`` is not the all-node list's), so when both are given only the all-node
  list is read and the manifest says so.

Pods -> ``jobs``: ``job_id`` = name; ``submit_s`` = creation_time; ``start_s`` =
scheduled_time (empty for pods that never left Pending); ``end_s`` = deletion_time, except for
**censored** pods: a Running or Pending pod whose deletion_time is at (or after) the trace end
was still alive when the trace stopped, so its ``end_s`` is null (``attrs.censored`` true,
``attrs.deletion_s`` keeps the recorded value). The trace end is the latest deletion_time in the
pod list (12,902,960 s in ``default``) unless the option ``trace_end_s`` gives it. An empty
deletion_time is also censored. ``cpu_req`` = cpu_milli / 1000 (cores); ``mem_req_mb`` =
memory_mib (MiB); ``gpu_req`` = gpu_milli / 1000 for single-GPU pods (``num_gpu`` = 1, where
gpu_milli is the shared fraction) and ``num_gpu`` otherwise (whole GPUs; 0 for CPU pods);
``gpu_model`` = gpu_spec (the allowed GPU types, e.g. ``V100M16|V100M32``; empty = any);
``qos`` = qos (LS, BE, Burstable, Guaranteed); ``status`` = pod_phase (Running, Succeeded,
Failed, Pending). ``attrs``: num_gpu, gpu_milli, deletion_s, censored.

Nodes -> ``machines``: ``machine_id`` = sn, ``cpu`` = cpu_milli / 1000, ``mem_mb`` =
memory_mib, ``gpu`` = gpu, ``gpu_model`` = model.

Time: seconds from the trace start; no absolute date is published, so the origin is unknown
(``origin_utc`` null). Source: alibaba/clusterdata, ``cluster-trace-gpu-v2023/README.md``;
cite Weng et al., "Beware of Fragmentation", USENIX ATC 2023.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from workscope.errors import SourceError
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
from workscope.options import Option

POD_HEADER = ["name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "gpu_spec", "qos",
              "pod_phase", "creation_time", "deletion_time", "scheduled_time"]
NODE_HEADER = ["sn", "cpu_milli", "memory_mib", "gpu", "model"]
_VARIANT_RE = re.compile(r"openb_pod_list_(?P<variant>[A-Za-z0-9_]+)\.csv", re.I)


def _header(path: Path) -> list[str]:
    lines = head_text(path, 4096).lstrip("\ufeff").splitlines()
    return [c.strip() for c in lines[0].split(",")] if lines else []


def _kind(header: Sequence[str]) -> str | None:
    if list(header) == POD_HEADER:
        return "pods"
    if list(header) == NODE_HEADER:
        return "nodes"
    return None


class AlibabaOpenbReader(Reader):
    """Alibaba GPU 2023 (openb) pod and node lists into ``jobs`` and ``machines``."""

    name = "alibaba_openb"
    version = "1"
    description = "Alibaba cluster-trace-gpu-v2023 (openb): pod list -> jobs, node list -> machines"
    tables = ("jobs", "machines")
    doc_url = "https://github.com/alibaba/clusterdata/tree/master/cluster-trace-gpu-v2023"
    options = {
        "pod_list": Option(str, "default",
                           "which openb_pod_list_<variant>.csv to read when several are given"),
        "trace_end_s": Option(float, 0.0,
                              "trace end in s (pods alive then are censored); 0 = latest deletion_time"),
    }

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            return any(self.sniff(f) for f in sorted(path.glob("openb_*.csv*"))[:3])
        return _kind(_header(path)) is not None

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        pods: list[tuple[Path, Path]] = []
        nodes: list[tuple[Path, Path]] = []
        dirs = [Path(p) for p in paths if Path(p).is_dir()]
        for f in iter_files(paths):
            # Inside a directory only the CSV lists count (the release also ships YAML, scripts).
            if any(f.is_relative_to(d) for d in dirs) and ".csv" not in f.name.lower():
                continue
            plain = plain_file(f, ctx)
            header = [c.strip() for c in first_line(plain, f).split(",")]
            kind = _kind(header)
            if kind is None:
                need = NODE_HEADER if header and header[0] == "sn" else POD_HEADER
                check_header(header, need, f, what="openb pod or node list")
                raise SourceError(f, f"header {header} is not an openb pod list {POD_HEADER} "
                                     f"or node list {NODE_HEADER}", line=1,
                                  hint="pass --format to choose another reader")
            require_rows(plain, str(f))
            (pods if kind == "pods" else nodes).append((f, plain))

        meta: dict[str, object] = {}
        if len(pods) > 1:
            want = str(ctx.options.get("pod_list") or "default")
            chosen = [p for p in pods if (m := _VARIANT_RE.search(p[0].name)) and m["variant"] == want]
            if len(chosen) != 1:
                raise SourceError(pods[0][0], f"{len(pods)} openb pod lists given and none is "
                                              f"openb_pod_list_{want}.csv",
                                  hint="pass one pod list, or choose one with the option pod_list")
            meta["pod_lists_skipped"] = sorted(str(p[0]) for p in pods if p not in chosen)
            pods = chosen
        names = {n[0].name.lower(): n for n in nodes}
        if "openb_node_list_all_node.csv" in names and "openb_node_list_gpu_node.csv" in names:
            skipped = names["openb_node_list_gpu_node.csv"]
            nodes = [n for n in nodes if n is not skipped]
            meta["node_lists_skipped"] = [str(skipped[0])]
            meta["node_list_note"] = ("the GPU-node list numbers nodes on its own; the all-node "
                                      "list (a superset) was read instead")

        tables: dict[str, list[TablePart]] = {}
        trace_end = float(ctx.options.get("trace_end_s") or 0.0)
        if pods:
            tables["jobs"] = []
            for f, plain in pods:
                lf, names_ = scan_text_csv(plain, str(f))
                deletion = parse_float(src("deletion_time"), "deletion_time")
                end = trace_end or lf.select(deletion.value.max()).collect(engine="streaming").item()
                meta["trace_end_s"] = end
                tables["jobs"].append(TablePart(build(lf, self._pod_fields(deletion, end)),
                                                raw_row(names_), str(f)))
        if nodes:
            tables["machines"] = []
            for f, plain in nodes:
                lf, names_ = scan_text_csv(plain, str(f))
                cpu = parse_float(src("cpu_milli"), "cpu_milli")
                fields = {
                    "machine_id": parse_text(src("sn"), "sn", required=True),
                    "cpu": cpu.map(lambda v: v / 1000.0),
                    "mem_mb": parse_float(src("memory_mib"), "memory_mib"),
                    "gpu": parse_float(src("gpu"), "gpu"),
                    "gpu_model": parse_text(src("model"), "model"),
                }
                tables["machines"].append(TablePart(build(lf, fields), raw_row(names_), str(f)))

        meta.update(origin_meta(None, assumed_utc=False, resolution_s=1.0,
                                note="seconds from the trace start; no absolute date is published"))
        meta.update({
            "cpu_unit": "cores (cpu_milli / 1000)",
            "mem_unit": "MiB",
            "gpu_req_rule": "gpu_milli/1000 when num_gpu == 1 (GPU sharing), else num_gpu",
            "censoring": "Running/Pending pods with deletion_time >= trace_end_s (or empty) have end_s null",
        })
        files = [f for f, _ in pods + nodes]
        return ScanResult(tables, files, meta)

    @staticmethod
    def _pod_fields(deletion: Parsed, trace_end: float | None) -> dict[str, Parsed | pl.Expr]:
        cpu = parse_float(src("cpu_milli"), "cpu_milli")
        num_gpu = parse_int(src("num_gpu"), "num_gpu")
        milli = parse_float(src("gpu_milli"), "gpu_milli")
        milli_reason = pl.coalesce(milli.reason, pl.when(
            milli.value.is_not_null() & ((milli.value < 0) | (milli.value > 1000))).then(
            pl.format("gpu_milli out of range 0..1000 ({})", milli.value)))
        gpu = pl.when(num_gpu.value == 1).then(milli.value / 1000.0).otherwise(num_gpu.value.cast(pl.Float64))
        phase = parse_text(src("pod_phase"), "pod_phase")
        alive = phase.value.is_in(["Running", "Pending"])
        censored = deletion.value.is_null() | (
            alive & (deletion.value >= trace_end) if trace_end is not None else pl.lit(False))
        created = parse_float(src("creation_time"), "creation_time", required=True)
        scheduled = parse_float(src("scheduled_time"), "scheduled_time")
        return {
            "job_id": parse_text(src("name"), "name", required=True),
            "submit_s": created,
            "start_s": scheduled,
            "end_s": deletion.map(lambda v: pl.when(censored).then(None).otherwise(v)),
            "qos": parse_text(src("qos"), "qos"),
            "status": phase,
            "cpu_req": cpu.map(lambda v: v / 1000.0),
            "mem_req_mb": parse_float(src("memory_mib"), "memory_mib"),
            "gpu_req": Parsed(gpu, pl.coalesce(num_gpu.reason, milli_reason)),
            "gpu_model": parse_text(src("gpu_spec"), "gpu_spec"),
            "attrs": attrs_json({
                "num_gpu": num_gpu.value,
                "gpu_milli": milli.value,
                "deletion_s": deletion.value,
                "censored": censored,
            }),
        }


READER = AlibabaOpenbReader()
