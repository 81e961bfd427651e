"""Alibaba ``openb`` pod list CSV (cluster-trace-gpu-v2023) for kubernetes-scheduler-simulator.

Format (alibaba/clusterdata ``cluster-trace-gpu-v2023/README.md``; read by
``cluster-trace-gpu-v2023/pod_csv_to_yaml.py`` of the same repo and by
hkust-adsl/kubernetes-scheduler-simulator ``data/prepare_input.sh``): a CSV with the header
``name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,
deletion_time,scheduled_time``. Units: CPU in milli-cores, memory in MiB, GPU count 0..8,
``gpu_milli`` the share of one GPU for GPU-sharing pods (``num_gpu == 1``), times in integer
seconds from the trace start. ``pod_csv_to_yaml.py`` formats ``cpu_milli`` and
``memory_mib`` with ``%d`` and reads ``gpu_spec`` with ``fillna('')``, so numbers are written
as integers and unknown GPU types as an empty field.

Mapping from ``jobs`` (the inverse of workscope's ``alibaba_openb`` reader):

- ``name`` = ``job_id`` when every id is a distinct pod name that survives the loader, else
  ``<prefix>-<n>`` (n = 1..N, 4+ digits, submit order; option ``names``), with the original
  ids in ``<stem>.ids.csv`` (the pod list has no column for them). A kept id must be a
  DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or
  digit, at most 63 characters: the Kubernetes rule for pod names) that starts with a letter:
  ``pod_csv_to_yaml.py`` reads the CSV with pandas' type inference and dumps ``row['name']``
  as it comes back, so ids such as ``1`` (all numeric: an int64 column, ``name: 1`` in the
  YAML) or ``nan`` / ``null`` (read as missing) do not come back as the same string.
- ``cpu_milli`` = round(``cpu_req`` x 1000); ``memory_mib`` = round(``mem_req_mb``). Unknown
  values are written as 0 (the simulator cannot read an empty request; the notes count them).
- GPUs: ``gpu_req`` null or 0 -> ``num_gpu`` 0, ``gpu_milli`` 0; 0 < ``gpu_req`` < 1 (a shared
  GPU) -> ``num_gpu`` 1, ``gpu_milli`` = round(gpu_req x 1000); ``gpu_req`` >= 1 -> ``num_gpu`` =
  ceil(gpu_req), ``gpu_milli`` 1000 (a non-integer count above 1 is rounded up: noted).
- ``gpu_spec`` = ``gpu_model``; ``qos`` = ``qos``; ``pod_phase`` = ``status`` (Running,
  Succeeded, Failed, Pending kept; completed -> Succeeded, failed/killed/cancelled -> Failed).
- ``creation_time`` = ``submit_s``, ``scheduled_time`` = ``start_s`` (empty when never
  scheduled), ``deletion_time`` = ``end_s``; for a censored pod (``end_s`` null) the recorded
  ``attrs.deletion_s`` when the reader kept it, else empty. A job with a run time (``run_s``)
  but no start is scheduled at its creation (wait 0, counted in the notes) and deleted
  ``run_s`` later. All rounded half-up to seconds.

Round trip: workscope's ``alibaba_openb`` reader reads the file back with the same ids,
requests, times (to the second) and censoring. Command:
``python3 pod_csv_to_yaml.py <file>`` (turns it into the pod YAML the simulator replays).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from workscope.atomic import atomic_path
from workscope.errors import OptionError
from workscope.options import Option
from workscope.replay.exporters.base import Exporter, ExportResult
from workscope.replay.workload import Workload, check

HEADER = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "gpu_spec", "qos", "pod_phase",
          "creation_time", "deletion_time", "scheduled_time")
PHASES = {"running": "Running", "succeeded": "Succeeded", "failed": "Failed", "pending": "Pending",
          "completed": "Succeeded", "complete": "Succeeded", "success": "Succeeded", "ok": "Succeeded",
          "killed": "Failed", "cancelled": "Failed", "canceled": "Failed", "evicted": "Failed",
          "error": "Failed", "lost": "Failed"}
_LABEL_RE = r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
"""A DNS-1123 label (Kubernetes pod name rule) that starts with a letter (see the module doc)."""
_NOT_TEXT = ("nan", "null", "none", "inf", "infinity", "true", "false")
"""Letter-first labels that pandas' read_csv turns into a float, a missing value or a bool."""


def _sec(expr: pl.Expr) -> pl.Expr:
    """Whole seconds, half up (null stays null and is written as an empty field)."""
    return (expr + 0.5).floor().cast(pl.Int64)


class OpenbExporter(Exporter):
    """jobs -> openb_pod_list CSV (kubernetes-scheduler-simulator input)."""

    name = "openb"
    description = "Alibaba openb pod list CSV for kubernetes-scheduler-simulator"
    tables = ("jobs",)
    suffix = ".csv"
    doc_url = "https://github.com/alibaba/clusterdata/tree/master/cluster-trace-gpu-v2023"
    options: ClassVar[dict[str, Option]] = {
        "names": Option(str, "auto", "'auto' keeps job_id when all are distinct DNS-1123 names, "
                                     "'renumber' always writes <prefix>-<n>"),
        "prefix": Option(str, "openb-pod", "name prefix when renumbering"),
    }

    def write(self, wl: Workload, out: Path, options: dict[str, Any]) -> ExportResult:
        self.require_table(wl)
        mode = str(options.get("names", "auto")).lower()
        if mode not in ("auto", "renumber"):
            raise OptionError(f"option 'names' of exporter 'openb' must be auto or renumber, got {mode!r}")
        prefix = str(options.get("prefix") or "openb-pod")
        if not re.match(_LABEL_RE, prefix) or len(prefix) > 40:
            raise OptionError("option 'prefix' of exporter 'openb' must start with a lower-case letter and hold "
                              f"only lower-case letters, digits and '-' (at most 40 characters), got {prefix!r}")
        check(wl)
        out = Path(out)
        lf = wl.frame
        g = pl.col("gpu_req")
        # a log that records run times but no starts (SWF with unknown waits): the pod is placed
        # at its submit time, as the cluster analyses do, and the notes count it
        has_run = "run_s" in lf.collect_schema().names()
        run = pl.col("run_s") if has_run else pl.lit(None, pl.Float64)
        start = pl.coalesce(pl.col("start_s"), pl.when(run.is_not_null()).then(pl.col("submit_s")))
        end = pl.coalesce(pl.col("end_s"), start + run)
        stats = lf.select(
            pl.len().alias("n"),
            pl.col("job_id").n_unique().alias("distinct"),
            (pl.col("job_id").str.contains(_LABEL_RE) & ~pl.col("job_id").is_in(_NOT_TEXT))
            .fill_null(False).sum().alias("dns"),
            pl.col("cpu_req").is_null().sum().alias("no_cpu"),
            pl.col("mem_req_mb").is_null().sum().alias("no_mem"),
            ((g > 1) & (g != g.ceil())).sum().alias("frac_multi"),
            (pl.col("start_s").is_null() & run.is_not_null()).sum().alias("placed"),
        ).collect().row(0, named=True)
        n = int(stats["n"])
        keep = mode == "auto" and stats["distinct"] == n and stats["dns"] == n
        width = max(4, len(str(n)))
        name = (pl.col("job_id") if keep else
                pl.lit(prefix + "-") + (pl.int_range(pl.len()) + 1).cast(pl.String).str.zfill(width))
        num_gpu = (pl.when(g.is_null() | (g <= 0)).then(0).when(g < 1).then(1)
                   .otherwise(g.ceil()).cast(pl.Int64))
        gpu_milli = (pl.when(g.is_null() | (g <= 0)).then(0).when(g < 1).then((g * 1000.0).round(0))
                     .otherwise(1000).cast(pl.Int64))
        phase = (pl.col("status").str.to_lowercase().str.strip_chars()
                 .replace_strict(list(PHASES), list(PHASES.values()), default=pl.col("status"),
                                 return_dtype=pl.String))
        recorded = pl.col("attrs").str.json_path_match("$.deletion_s").cast(pl.Float64, strict=False)
        frame = lf.select(
            name.alias("name"),
            (pl.col("cpu_req") * 1000.0).round(0).cast(pl.Int64).fill_null(0).alias("cpu_milli"),
            pl.col("mem_req_mb").round(0).cast(pl.Int64).fill_null(0).alias("memory_mib"),
            num_gpu.alias("num_gpu"),
            gpu_milli.alias("gpu_milli"),
            # nulls, not "": polars quotes empty strings, and an empty field is what the format has
            pl.col("gpu_model").replace("", None).alias("gpu_spec"),
            pl.col("qos").replace("", None).alias("qos"),
            phase.alias("pod_phase"),
            _sec(pl.col("submit_s")).alias("creation_time"),
            _sec(pl.coalesce(end, recorded)).alias("deletion_time"),
            _sec(start).alias("scheduled_time"),
        )
        with atomic_path(out) as tmp:
            frame.sink_csv(tmp)
        files = [out]
        notes: list[str] = []
        if not keep:
            ids_path = out.with_name(out.stem + ".ids.csv")
            with atomic_path(ids_path) as tmp:
                lf.select(name.alias("name"), "job_id", "task_id").sink_csv(tmp)
            files.append(ids_path)
            why = ("renumbering asked for" if mode == "renumber" else
                   "job ids are not distinct DNS-1123 labels that start with a letter")
            notes.append(f"pod names are {prefix}-<n> ({why}); mapping in {ids_path.name}")
        if stats["no_cpu"] or stats["no_mem"]:
            notes.append(f"unknown requests written as 0: cpu {stats['no_cpu']} pods, memory {stats['no_mem']} pods")
        if stats["frac_multi"]:
            notes.append(f"{stats['frac_multi']} pods ask for a non-integer count of GPUs above 1: rounded up")
        if stats["placed"]:
            notes.append(f"{stats['placed']} pods have a run time but no start: scheduled at their "
                         "creation (wait taken as 0), deleted a run time later")
        notes.append("times rounded half-up to whole seconds")
        return ExportResult("openb", files, n, shlex.join(["python3", "pod_csv_to_yaml.py", str(out)]), notes)


EXPORTERS: dict[str, Exporter] = {"openb": OpenbExporter()}
