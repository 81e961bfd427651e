"""Kubernetes: one suspended ``batch/v1`` Job per job, plus a submit schedule and its driver.

Written into the output directory:

- ``jobs.yaml``: a multi-document YAML stream (``---`` between documents), one Job per
  workload row in submit order. Kubernetes Job API (kubernetes.io/docs/concepts/workloads/
  controllers/job/, API reference ``batch/v1 Job``): ``spec.suspend: true`` creates the Job
  without starting pods (the "Suspending a Job" section); un-suspending it is the submit.
  ``spec.backoffLimit: 0`` and ``restartPolicy: Never`` run each job once, as in the trace.
  ``spec.activeDeadlineSeconds`` = ceil(``runtime_req_s``) where known (the walltime; the
  timer is reset while a Job is suspended). The one container runs ``sleep <runtime>`` with
  runtime = ceil(``end_s - start_s``) (the source's ``run_s`` where the start is unknown), or
  ceil(``runtime_req_s``) when the runtime is not known; a job with neither is left out
  (counted in the notes).
- resources: ``requests.cpu`` = ceil(``cpu_req`` x 1000) millicores; ``requests.memory`` =
  ceil(``mem_req_mb``) ``Mi`` (the canonical MB taken as MiB); ``nvidia.com/gpu`` (an extended
  resource: integer only, set in requests and limits alike, as the device-plugin docs require)
  = ceil(``gpu_req``). **Fractional GPUs** (shared GPUs, e.g. openb's gpu_milli) cannot be
  requested from the NVIDIA device plugin, so they are rounded up to one whole GPU and the
  fraction is kept in the annotation ``workscope.io/gpu-fraction`` (the notes count the Jobs
  written with one, not the jobs left out); ``gpu_model`` goes into
  ``workscope.io/gpu-model`` (its names are the trace's, not node labels).
- names: ``<prefix>-<n>`` (n = 1..N, zero-padded, in submit order; DNS-1123 labels), the
  original id in ``workscope.io/job-id`` and the submit time in ``workscope.io/submit-s``.
- ``schedule.csv``: ``name,submit_offset_s`` — when to un-suspend each Job, seconds after the
  replay starts (= ``submit_s``, so the workload's own origin is the replay start).
- ``replay.sh``: the driver. It applies ``jobs.yaml`` and, for each schedule row, sleeps until
  its offset and patches ``{"spec":{"suspend":false}}`` with kubectl. The command printed
  runs it.

YAML is written directly (every string double-quoted with JSON escapes, which YAML 1.2 reads
as the same string), vectorised with polars, streamed in submit order.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from workscope.atomic import atomic_path
from workscope.errors import OptionError
from workscope.options import Option
from workscope.replay.exporters._text import header_safe, json_string, number_text, run_time, stream_lines
from workscope.replay.exporters.base import Exporter, ExportResult
from workscope.replay.workload import Workload, check

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

DRIVER = """#!/usr/bin/env bash
# Replays the schedule: creates the suspended Jobs, then un-suspends each at its offset.
# Written by workscope (replay export 'kubernetes'). Needs kubectl, awk and GNU date.
set -euo pipefail
cd "$(dirname "$0")"
kubectl apply -n {ns} -f jobs.yaml
t0=$(date +%s.%N)
tail -n +2 schedule.csv | while IFS=, read -r name at; do
  d=$(awk -v a="$at" -v t="$t0" -v n="$(date +%s.%N)" 'BEGIN {{ d = t + a - n; print (d > 0 ? d : 0) }}')
  sleep "$d"
  kubectl patch job -n {ns} "$name" --type=merge -p '{{"spec":{{"suspend":false}}}}'
done
"""


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON string syntax)."""
    return json.dumps(text)


def _line(cond: pl.Expr, *parts: pl.Expr | str) -> pl.Expr:
    """The concatenated ``parts`` where ``cond`` holds, else the empty string."""
    text = pl.concat_str([pl.lit(p) if isinstance(p, str) else p for p in parts])
    return pl.when(cond).then(text).otherwise(pl.lit(""))


def _job_yaml(ns: str, image: str) -> pl.Expr:
    """One ``---`` Job document per row (columns ``_name`` and ``_run`` set), as text."""
    cpu_m = (pl.col("cpu_req") * 1000.0).ceil().cast(pl.Int64)
    mem = pl.col("mem_req_mb").ceil().cast(pl.Int64)
    gpu = pl.col("gpu_req").ceil().cast(pl.Int64)
    has_gpu = gpu.is_not_null() & (gpu > 0)
    has_res = pl.col("cpu_req").is_not_null() | pl.col("mem_req_mb").is_not_null() | has_gpu
    return pl.concat_str([
        pl.lit("---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: \""), pl.col("_name"),
        pl.lit(f"\"\n  namespace: {_q(ns)}\n  labels:\n    app.kubernetes.io/managed-by: \"workscope\"\n"
               "  annotations:\n    workscope.io/job-id: "), json_string(pl.col("job_id")),
        _line(pl.col("task_id").is_not_null(), "\n    workscope.io/task-id: ", json_string(pl.col("task_id"))),
        # names and numbers need no escaping; ids and models from the trace do
        pl.lit("\n    workscope.io/submit-s: \""), number_text(pl.col("submit_s")), pl.lit("\""),
        _line(pl.col("gpu_req") != pl.col("gpu_req").ceil(),
              "\n    workscope.io/gpu-fraction: \"", number_text(pl.col("gpu_req")), "\""),
        _line(pl.col("gpu_model").is_not_null(), "\n    workscope.io/gpu-model: ",
              json_string(pl.col("gpu_model"))),
        pl.lit("\nspec:\n  suspend: true\n  backoffLimit: 0"),
        _line(pl.col("runtime_req_s").is_not_null(), "\n  activeDeadlineSeconds: ",
              pl.max_horizontal(pl.col("runtime_req_s").ceil(), pl.lit(1.0)).cast(pl.Int64).cast(pl.String)),
        pl.lit("\n  template:\n    metadata:\n      labels:\n        app.kubernetes.io/managed-by: \"workscope\""
               "\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: \"job\"\n        image: "
               + _q(image) + "\n        command: [\"sleep\", \""),
        pl.col("_run").cast(pl.String),
        pl.lit("\"]\n        resources:"),
        _line(~has_res, " {}"),
        _line(has_res, "\n          requests:"),
        _line(pl.col("cpu_req").is_not_null(), "\n            cpu: \"", cpu_m.cast(pl.String), "m\""),
        _line(pl.col("mem_req_mb").is_not_null(), "\n            memory: \"", mem.cast(pl.String), "Mi\""),
        _line(has_gpu, "\n            nvidia.com/gpu: \"", gpu.cast(pl.String), "\""),
        _line(has_gpu, "\n          limits:\n            nvidia.com/gpu: \"", gpu.cast(pl.String), "\""),
    ]).alias("doc")


def _facts(lf: pl.LazyFrame) -> dict[str, Any]:
    """Row counts for the notes: all jobs, those without a runtime, those using their walltime,
    and the Jobs written that ask for a fraction of a GPU."""
    return lf.select(
        pl.len().alias("n"),
        pl.col("_run").is_null().sum().alias("no_runtime"),
        (pl.col("_observed").is_null() & pl.col("runtime_req_s").is_not_null()).sum().alias("from_walltime"),
        # counted among the Jobs written: a job left out (no runtime) has no annotation to count
        (pl.col("_run").is_not_null() & (pl.col("gpu_req") != pl.col("gpu_req").ceil())).sum().alias("frac_gpu"),
    ).collect().row(0, named=True)


class KubernetesExporter(Exporter):
    """jobs -> suspended batch/v1 Jobs (jobs.yaml), schedule.csv and the replay.sh driver."""

    name = "kubernetes"
    description = "Kubernetes batch/v1 Jobs (suspended) + submit schedule + kubectl driver"
    tables = ("jobs",)
    suffix = ""
    doc_url = "https://kubernetes.io/docs/concepts/workloads/controllers/job/#suspending-a-job"
    options: ClassVar[dict[str, Option]] = {
        "image": Option(str, "busybox:1.36", "container image that runs 'sleep <runtime>'"),
        "namespace": Option(str, "default", "namespace of the Jobs"),
        "prefix": Option(str, "ws", "Job name prefix (names are <prefix>-<n>)"),
    }

    def write(self, wl: Workload, out: Path, options: dict[str, Any]) -> ExportResult:
        """Write jobs.yaml, schedule.csv and replay.sh into the directory ``out``."""
        self.require_table(wl)
        prefix = str(options.get("prefix") or "ws")
        ns = str(options.get("namespace") or "default")
        for key, value in (("prefix", prefix), ("namespace", ns)):
            if not _NAME_RE.match(value) or len(value) > 40:
                raise OptionError(f"option {key!r} of exporter 'kubernetes' must be a DNS-1123 label "
                                  f"(lower-case letters, digits, '-'; at most 40 characters), got {value!r}")
        check(wl)
        out = Path(out)
        observed = run_time(wl.frame)
        runtime = pl.coalesce(observed, pl.col("runtime_req_s"))
        lf = wl.frame.with_columns(observed.alias("_observed"), runtime.ceil().cast(pl.Int64).alias("_run"))
        stats = _facts(lf)
        width = max(6, len(str(int(stats["n"]))))
        name = (pl.lit(prefix + "-") + (pl.int_range(pl.len()) + 1).cast(pl.String).str.zfill(width)).alias("_name")
        jobs = lf.filter(pl.col("_run").is_not_null()).with_columns(name)
        doc = _job_yaml(ns, str(options.get("image") or "busybox:1.36"))
        schedule = jobs.select(pl.col("_name").alias("name"), pl.col("submit_s").alias("submit_offset_s"))

        out.mkdir(parents=True, exist_ok=True)
        yaml_path, sched_path, driver_path = out / "jobs.yaml", out / "schedule.csv", out / "replay.sh"
        with atomic_path(yaml_path) as tmp, open(tmp, "wb") as fh:
            fh.write(f"# {header_safe(str(wl.meta.get('source_trace')))}: exported by workscope "
                     "(replay export 'kubernetes')\n".encode())
            stream_lines(jobs.select(doc), fh, tmp)
        with atomic_path(sched_path) as tmp:
            schedule.sink_csv(tmp)
        with atomic_path(driver_path) as tmp:
            tmp.write_text(DRIVER.format(ns=ns), encoding="utf-8")
            tmp.chmod(0o755)
        rows = int(stats["n"]) - int(stats["no_runtime"])
        notes = [f"{rows} Jobs in {yaml_path.name} (suspended); un-suspend times in {sched_path.name}"]
        if stats["frac_gpu"]:
            notes.append(f"{stats['frac_gpu']} jobs ask for a fraction of a GPU: rounded up to whole "
                         "nvidia.com/gpu, the fraction kept in workscope.io/gpu-fraction")
        if stats["from_walltime"]:
            notes.append(f"{stats['from_walltime']} jobs without a known runtime sleep for their runtime_req_s")
        if stats["no_runtime"]:
            notes.append(f"{stats['no_runtime']} jobs without runtime or runtime_req_s were left out")
        return ExportResult("kubernetes", [yaml_path, sched_path, driver_path], rows,
                            shlex.join(["bash", str(driver_path)]), notes)


EXPORTERS: dict[str, Exporter] = {"kubernetes": KubernetesExporter()}
