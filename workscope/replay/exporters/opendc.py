"""OpenDC workload traces (``tasks.parquet`` + ``fragments.parquet``) from a jobs workload.

Format: OpenDC's current parquet workload schema, read at atlarge-research/opendc main (commit
691036de, 2026-07-20): ``opendc-trace/opendc-trace-api/src/main/kotlin/org/opendc/trace/
formats/workload/parquet/TaskSchemas.kt`` (``TASK_SCHEMA = TASK_SCHEMA_V3``) and
``FragmentSchemas.kt`` (``FRAGMENT_SCHEMA = FRAGMENT_SCHEMA_v2``). ``TaskReadSupport.kt``
requests exactly ``TASK_SCHEMA`` and ``TaskRecordMaterializer.kt`` fails on any other column
("Unknown column"), so exactly these columns are written, with these physical types:

``tasks.parquet`` (message ``resource``)
  ``id`` int32 required; ``name`` string; ``submission_time`` int64 required, logical
  TIMESTAMP(MILLIS, UTC) (epoch ms); ``duration`` int64 required (ms); ``cpu_count`` int32
  required; ``cpu_capacity`` double required (MHz); ``mem_capacity`` int64 required (**KB**);
  ``gpu_count`` int32; ``gpu_capacity`` double; ``parents`` / ``children`` list<int32>;
  ``deferrable`` boolean; ``deadline`` int64. (V3 replaced V2's ``nature`` string by
  ``deferrable``.)
``fragments.parquet`` (message ``resource_state``)
  ``id`` int32 required; ``duration`` int64 required (ms); ``cpu_usage`` double required
  (MHz); ``gpu_usage`` double.

Units: ``opendc-compute-workload/.../ComputeWorkloadLoader.kt`` reads ``mem_capacity`` and
divides it by 1000 ("Convert from KB to MB"); ``TaskColumns.kt`` documents it as KB. A task
whose id has no fragment is skipped by that loader, so every task gets one.

Mapping from ``jobs``:

- ``id`` = 0..N-1 in submit order; ``name`` = ``job_id`` (``/task_id`` appended when set).
- ``submission_time`` = origin + ``submit_s`` in epoch ms (the workload's ``origin_utc``; a
  trace without an absolute origin starts at the Unix epoch). ``duration`` = round(runtime x
  1000) ms, runtime = ``end_s - start_s`` (the source's ``run_s`` where the start is
  unknown), or ``runtime_req_s`` when the runtime is unknown; a job with neither is left out
  (noted).
- ``cpu_count`` = ceil(``cpu_req``) (at least 1); ``cpu_capacity`` = ``cpu_req`` x option
  ``core_mhz`` (OpenDC demands CPU in MHz; the trace has cores, so a per-core clock must be
  assumed: default 2900 MHz, the order of the example topologies' ``coreSpeed``).
  ``mem_capacity`` = round(``mem_req_mb`` x 1000) KB, the inverse of the loader's / 1000 (0
  when unknown, noted). ``gpu_count`` = ceil(``gpu_req``) and ``gpu_capacity`` = ``gpu_req`` x
  option ``gpu_mhz`` where the job has GPUs, else null.
- no workflow: ``parents``, ``children`` null (the loader reads them as empty);
  ``deferrable`` false (the trace's jobs ran when they ran; OpenDC's own default);
  ``deadline`` null (the loader's default, -1).
- one fragment per task covering its whole duration: ``cpu_usage`` = ``cpu_capacity`` x
  utilisation, utilisation = ``cpu_used / cpu_req`` (clipped to [0, 1]) where measured, else 1
  (the job uses what it asked for); ``gpu_usage`` = ``gpu_capacity``.

``experiment.json`` names the workload directory (``"type": "ComputeWorkload"``) and a
topology (option ``topology``, the user's file). Command:
``OpenDCExperimentRunner/bin/OpenDCExperimentRunner.sh --experiment-path <dir>/experiment.json``
(OpenDC docs, ``site/docs/getting-started/1-first-experiment.md``).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from workscope.atomic import atomic_path
from workscope.errors import OptionError, UsageError
from workscope.options import Option
from workscope.origin import origin_epoch_s
from workscope.replay.exporters._text import run_time
from workscope.replay.exporters.base import Exporter, ExportResult
from workscope.replay.workload import Workload, check

TASK_SCHEMA = pa.schema([
    pa.field("id", pa.int32(), nullable=False),
    pa.field("name", pa.string()),
    pa.field("submission_time", pa.timestamp("ms", tz="UTC"), nullable=False),
    pa.field("duration", pa.int64(), nullable=False),
    pa.field("cpu_count", pa.int32(), nullable=False),
    pa.field("cpu_capacity", pa.float64(), nullable=False),
    pa.field("mem_capacity", pa.int64(), nullable=False),  # KB
    pa.field("gpu_count", pa.int32()),
    pa.field("gpu_capacity", pa.float64()),
    pa.field("parents", pa.list_(pa.field("element", pa.int32()))),
    pa.field("children", pa.list_(pa.field("element", pa.int32()))),
    pa.field("deferrable", pa.bool_()),
    pa.field("deadline", pa.int64()),
])
"""OpenDC TASK_SCHEMA_V3 (its current TASK_SCHEMA) as an arrow schema (required = not nullable)."""

KB_PER_MB = 1000
"""OpenDC's loader turns mem_capacity into MB by dividing by 1000 (ComputeWorkloadLoader.kt)."""

FRAGMENT_SCHEMA = pa.schema([
    pa.field("id", pa.int32(), nullable=False),
    pa.field("duration", pa.int64(), nullable=False),
    pa.field("cpu_usage", pa.float64(), nullable=False),
    pa.field("gpu_usage", pa.float64()),
])
"""OpenDC FRAGMENT_SCHEMA_v2 as an arrow schema."""

_BATCH = 262_144


def _write(frame: pl.LazyFrame, schema: pa.Schema, path: Path) -> None:
    """Stream ``frame`` into a parquet file with exactly ``schema`` (batch by batch)."""
    with atomic_path(path) as tmp:
        writer = pq.ParquetWriter(tmp, schema, compression="zstd")
        try:
            for batch in frame.collect_batches(chunk_size=_BATCH):
                writer.write_table(batch.to_arrow().cast(schema))
        finally:
            writer.close()


class OpenDCExporter(Exporter):
    """jobs -> OpenDC tasks.parquet + fragments.parquet + experiment.json."""

    name = "opendc"
    description = "OpenDC workload trace (tasks.parquet, fragments.parquet) + experiment.json"
    tables = ("jobs",)
    suffix = ""
    doc_url = "https://atlarge-research.github.io/opendc/docs/documentation/Input/Workload"
    options: ClassVar[dict[str, Option]] = {
        "core_mhz": Option(float, 2900.0, "MHz of one requested core (cpu_capacity = cpu_req x core_mhz)"),
        "gpu_mhz": Option(float, 1000.0, "capacity of one requested GPU (gpu_capacity = gpu_req x gpu_mhz)"),
        "topology": Option(str, "topologies/topology.json", "topology file named in experiment.json"),
    }

    def write(self, wl: Workload, out: Path, options: dict[str, Any]) -> ExportResult:
        self.require_table(wl)
        core_mhz, gpu_mhz = float(options.get("core_mhz") or 0), float(options.get("gpu_mhz") or 0)
        if core_mhz <= 0 or gpu_mhz <= 0:
            raise OptionError("options 'core_mhz' and 'gpu_mhz' of exporter 'opendc' must be > 0")
        check(wl)
        out = Path(out)
        origin = origin_epoch_s(wl.meta.get("origin_utc"))
        origin_ms = round(origin * 1000) if origin is not None else 0
        runtime = run_time(wl.frame)
        dur_ms = (pl.coalesce(runtime, pl.col("runtime_req_s")) * 1000.0).round(0).cast(pl.Int64)
        lf = wl.frame.with_columns(dur_ms.alias("_dur"))
        stats = lf.select(
            pl.len().alias("n"),
            pl.col("_dur").is_null().sum().alias("no_runtime"),
            (runtime.is_null() & pl.col("runtime_req_s").is_not_null()).sum().alias("from_walltime"),
            pl.col("cpu_req").is_null().sum().alias("no_cpu"),
            (pl.col("_dur").is_not_null() & pl.col("mem_req_mb").is_null()).sum().alias("no_mem"),
        ).collect().row(0, named=True)
        if stats["n"] - stats["no_runtime"] > 2**31 - 1:
            raise UsageError("OpenDC task ids are int32: the workload has too many jobs; sample it first")
        cpu = pl.col("cpu_req")
        has_gpu = pl.col("gpu_req").is_not_null() & (pl.col("gpu_req") > 0)
        util = pl.when(cpu > 0).then((pl.col("cpu_used") / cpu).clip(0.0, 1.0)).fill_null(1.0)
        cpu_capacity = (cpu.fill_null(1.0) * core_mhz)
        tasks = lf.filter(pl.col("_dur").is_not_null()).select(
            pl.int_range(pl.len(), dtype=pl.Int32).alias("id"),
            pl.when(pl.col("task_id").is_not_null()).then(pl.col("job_id") + "/" + pl.col("task_id"))
            .otherwise(pl.col("job_id")).alias("name"),
            (pl.lit(origin_ms, pl.Int64) + (pl.col("submit_s") * 1000.0).round(0).cast(pl.Int64))
            .cast(pl.Datetime("ms", "UTC")).alias("submission_time"),
            pl.col("_dur").alias("duration"),
            pl.max_horizontal(cpu.ceil(), pl.lit(1.0)).fill_null(1.0).cast(pl.Int32).alias("cpu_count"),
            cpu_capacity.alias("cpu_capacity"),
            (pl.col("mem_req_mb") * KB_PER_MB).round(0).cast(pl.Int64).fill_null(0).alias("mem_capacity"),
            pl.when(has_gpu).then(pl.col("gpu_req").ceil()).cast(pl.Int32).alias("gpu_count"),
            pl.when(has_gpu).then(pl.col("gpu_req") * gpu_mhz).alias("gpu_capacity"),
            pl.lit(None, pl.List(pl.Int32)).alias("parents"),
            pl.lit(None, pl.List(pl.Int32)).alias("children"),
            pl.lit(False).alias("deferrable"),
            pl.lit(None, pl.Int64).alias("deadline"),
            (cpu_capacity * util).alias("_cpu_usage"),
        )
        fragments = tasks.select("id", "duration", pl.col("_cpu_usage").alias("cpu_usage"),
                                 pl.col("gpu_capacity").alias("gpu_usage"))
        out.mkdir(parents=True, exist_ok=True)
        tasks_path, frags_path, exp_path = out / "tasks.parquet", out / "fragments.parquet", out / "experiment.json"
        _write(tasks.drop("_cpu_usage"), TASK_SCHEMA, tasks_path)
        _write(fragments, FRAGMENT_SCHEMA, frags_path)
        experiment = {
            "name": f"workscope-{wl.meta.get('source_trace') or 'workload'}",
            "topologies": [{"pathToFile": str(options.get("topology") or "topologies/topology.json")}],
            "workloads": [{"pathToFile": str(out), "type": "ComputeWorkload"}],
        }
        with atomic_path(exp_path) as tmp:
            tmp.write_text(json.dumps(experiment, indent=2) + "\n", encoding="utf-8")
        rows = int(stats["n"]) - int(stats["no_runtime"])
        notes = [(f"{rows} tasks, one fragment each; cpu_capacity = cpu_req x {core_mhz:g} MHz; "
                  f"mem_capacity in KB (mem_req_mb x {KB_PER_MB}); "
                  f"submission_time origin {'the Unix epoch' if origin is None else wl.meta.get('origin_utc')}"),
                 f"edit the topology path in {exp_path.name} ({experiment['topologies'][0]['pathToFile']})"]
        if stats["no_cpu"]:
            notes.append(f"{stats['no_cpu']} jobs without cpu_req are given 1 core")
        if stats["no_mem"]:
            notes.append(f"{stats['no_mem']} tasks without mem_req_mb get mem_capacity 0")
        if stats["from_walltime"]:
            notes.append(f"{stats['from_walltime']} jobs without a known runtime use runtime_req_s as duration")
        if stats["no_runtime"]:
            notes.append(f"{stats['no_runtime']} jobs without runtime or runtime_req_s were left out")
        command = shlex.join(["OpenDCExperimentRunner/bin/OpenDCExperimentRunner.sh", "--experiment-path",
                              str(exp_path)])
        return ExportResult("opendc", [tasks_path, frags_path, exp_path], rows, command, notes)


EXPORTERS: dict[str, Exporter] = {"opendc": OpenDCExporter()}
