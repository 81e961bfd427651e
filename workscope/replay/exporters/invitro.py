"""InVitro (vhive-serverless/invitro) trace: the Azure Functions 2019 triple of CSVs.

What the InVitro loader reads (vhive-serverless/invitro ``pkg/trace/azure_trace_parser.go``,
``pkg/common/trace_types.go``, ``docs/configuration.md``): a directory (config ``TracePath``)
holding ``invocations.csv``, ``durations.csv`` and ``memory.csv`` in the layout of the Azure
Functions 2019 dataset (Azure/AzurePublicDataset ``AzureFunctionsDataset2019.md``):

``invocations.csv``
  ``HashOwner,HashApp,HashFunction,Trigger,1,2,...,N``: one row per function, column ``k`` =
  invocations in the k-th minute (or second, with ``"Granularity": "second"``). The parser
  reads every one of the first ``ExperimentDuration`` (+ warm-up) columns with ``strconv.Atoi``
  and caps them at 1440, so all cells are written (0 included) and at most 1440 columns.
``durations.csv``
  ``HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_{0,1,25,
  50,75,99,100}``: execution time in **milliseconds**.
``memory.csv``
  ``HashOwner,HashApp,HashFunction,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct{1,5,
  25,50,75,95,99,100}`` in MB. InVitro joins durations and memory to invocations **by
  HashFunction** (``createRuntimeMap`` / ``createMemoryMap``), so the memory file carries
  ``HashFunction`` too (the Azure original is per app) and the three files use the same hashes.

Layout written: ``<out>/trace/{invocations,durations,memory}.csv`` plus
``<out>/loader_config.json`` (the fields of InVitro's ``cmd/config_knative_trace.json`` with
``TracePath`` = that directory, ``Granularity`` and ``ExperimentDuration`` = the number of
columns). The CSVs alone are in ``trace/`` so the directory can be ingested again.

Mapping:

- Column k counts the events with ``floor(t / g) = k - 1`` where t = ``arrival_s`` (or
  ``window_start_s`` of an ``invocation_counts`` workload) and g = 60 s (``granularity=minute``)
  or 1 s (``second``); column 1 starts at the workload origin (t = 0). A count window wider
  than one column, or crossing a column boundary, cannot be split and is an error.
- HashFunction = ``function_id`` when it is unique across (owner, app) and at least 18
  characters long (the loader names functions by ``HashFunction[0:18]``); otherwise every
  function gets the SHA-256 hex of ``owner \\x1f app \\x1f function`` and the mapping goes to
  ``<out>/functions.csv``. HashOwner / HashApp = ``owner_id`` / ``app_id`` (empty if null),
  Trigger = ``trigger``. Rows are sorted by (HashOwner, HashApp, HashFunction).
- durations: per function, from ``duration_s`` x 1000: mean, min, max and the linear-
  interpolated percentiles; ``Count`` = the function's invocations. memory: from ``memory_mb``:
  ``SampleCount`` = values seen, mean and percentiles. A function with no duration (or memory)
  values -- always so for ``invocation_counts`` -- gets option ``default_duration_ms`` (or
  ``default_memory_mb``) for every statistic; the notes count them.

Round trip: ``<out>/trace`` read by workscope's ``azure_functions_2019`` reader gives
``invocation_counts`` with the same per-minute counts per function (minute granularity).
Command: ``go run cmd/loader.go --config <out>/loader_config.json`` in an InVitro checkout.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np
import polars as pl

from workscope.atomic import atomic_path
from workscope.errors import DataError, OptionError
from workscope.options import Option
from workscope.replay.exporters.base import Exporter, ExportResult
from workscope.replay.workload import Workload, check_any

MAX_COLUMNS = 1440
KEYS = ("HashOwner", "HashApp", "HashFunction")
DUR_PCTS = (0, 1, 25, 50, 75, 99, 100)
MEM_PCTS = (1, 5, 25, 50, 75, 95, 99, 100)
_SEP = "\x1f"
_DENSE_CELLS = 1 << 24  # cells of one dense block of invocations.csv (128 MiB of int64)

LOADER_CONFIG: dict[str, Any] = {
    "Seed": 42,
    "Platform": "Knative",
    "InvokeProtocol": "grpc",
    "YAMLSelector": "container",
    "EndpointPort": 80,
    "BusyLoopOnSandboxStartup": False,
    "TracePath": "",
    "Granularity": "minute",
    "OutputPathPrefix": "data/out/experiment",
    "IATDistribution": "exponential",
    "CPULimit": "1vCPU",
    "ExperimentDuration": 1,
    "WarmupDuration": 0,
    "IsPartiallyPanic": False,
    "EnableZipkinTracing": False,
    "EnableMetricsScrapping": False,
    "MetricScrapingPeriodSeconds": 15,
    "AutoscalingMetric": "concurrency",
    "GRPCConnectionTimeoutSeconds": 15,
    "GRPCFunctionTimeoutSeconds": 900,
    "DAGMode": False,
}
"""InVitro cmd/config_knative_trace.json (trace mode); TracePath, Granularity and
ExperimentDuration are set per export."""


def _sha(owner: str | None, app: str | None, func: str) -> str:
    return hashlib.sha256(_SEP.join((owner or "", app or "", func)).encode("utf-8")).hexdigest()


def _write_dense(keys: pl.DataFrame, cells: pl.DataFrame, n_cols: int, fh: IO[bytes]) -> None:
    """Write the per-function rows of invocations.csv: the key columns, then one count per column.

    ``cells`` holds the non-zero (``_fidx``, ``bin``, ``n``) cells sorted by function index; they
    are scattered into a dense numpy block of functions x columns (zeros elsewhere), a block of
    rows at a time so memory stays bounded whatever the number of functions.
    """
    fidx = cells["_fidx"].to_numpy()
    bins = cells["bin"].to_numpy()
    counts = cells["n"].to_numpy()
    names = [str(i) for i in range(1, n_cols + 1)]
    step = max(1, _DENSE_CELLS // max(n_cols, 1))
    for a in range(0, keys.height, step):
        b = min(a + step, keys.height)
        lo, hi = np.searchsorted(fidx, [a, b])
        block = np.zeros((b - a, n_cols), dtype=np.int64)
        block[fidx[lo:hi] - a, bins[lo:hi]] = counts[lo:hi]
        frame = pl.concat([keys.slice(a, b - a), pl.DataFrame(block, schema=names, orient="row")],
                          how="horizontal")
        frame.write_csv(fh, include_header=a == 0)


_JOIN = ["owner_id", "app_id", "function_id"]  # a function's identity in the workload


def _per_column_counts(wl: Workload, gran: str, g: float) -> tuple[pl.DataFrame, int]:
    """Non-zero invocation counts per (function, column) and the number of columns.

    Refuses count windows that straddle a column, an empty workload, and more columns than
    InVitro reads.
    """
    key = [pl.col(c) for c in _JOIN]
    lf = wl.frame
    if wl.table == "invocations":
        per_bin = (lf.group_by([*key, (pl.col("arrival_s") / g).floor().cast(pl.Int64).alias("bin")])
                   .agg(pl.len().cast(pl.Int64).alias("n")))
    else:
        first = (pl.col("window_start_s") / g).floor()
        last = ((pl.col("window_start_s") + pl.col("window_s")) / g).ceil() - 1
        bad = lf.select(((last > first) | (pl.col("window_s") > g)).sum()).collect().item()
        if bad:
            raise DataError(f"{bad} count windows are wider than one {gran} column or cross a column "
                            f"boundary; use granularity 'minute' or re-window the counts")
        per_bin = (lf.group_by([*key, first.cast(pl.Int64).alias("bin")])
                   .agg(pl.col("count").sum().cast(pl.Int64).alias("n")))
    per_bin = per_bin.filter(pl.col("n") > 0).collect()
    if per_bin.height == 0:
        raise DataError("the workload has no invocations to write")
    n_cols = int(per_bin["bin"].max()) + 1
    if n_cols > MAX_COLUMNS:
        raise DataError(f"the workload spans {n_cols} {gran}s; InVitro reads at most {MAX_COLUMNS} "
                        f"columns (one day of minutes); export a window (e.g. --window 0 {MAX_COLUMNS * g:g})")
    return per_bin, n_cols


def _functions(lf: pl.LazyFrame, per_bin: pl.DataFrame, ids_mode: str) -> tuple[pl.DataFrame, bool]:
    """One row per function: its InVitro keys and Trigger, invocation total and row index ``_fidx``.

    Rows are in (HashOwner, HashApp, HashFunction) order. The flag says whether HashFunction is
    a SHA-256 (function ids not usable as they are) rather than the function id.
    """
    triggers = lf.group_by(_JOIN).agg(pl.col("trigger").drop_nulls().first())
    funcs = (per_bin.group_by(_JOIN).agg(pl.col("n").sum().alias("total"))
             .join(triggers.collect(), on=_JOIN, how="left", nulls_equal=True))
    unique_ids = funcs["function_id"].n_unique() == funcs.height
    long_ids = bool((funcs["function_id"].str.len_chars() >= 18).all())
    hashed = ids_mode == "hash" or not (unique_ids and long_ids)
    if hashed:
        # one hash per function, not per row (tens of thousands of functions at most)
        rows = funcs.select(*_JOIN).rows()
        funcs = funcs.with_columns(pl.Series("HashFunction", [_sha(o, a, f) for o, a, f in rows]))
    else:
        funcs = funcs.with_columns(pl.col("function_id").alias("HashFunction"))
    funcs = funcs.with_columns(pl.col("owner_id").alias("HashOwner"), pl.col("app_id").alias("HashApp"),
                               pl.col("trigger").alias("Trigger")).sort(list(KEYS), nulls_last=False)
    return funcs.with_row_index("_fidx"), hashed


def _stats(wl: Workload) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per-function duration (ms) and memory (MB) statistics; empty frames for counts."""
    if wl.table != "invocations":
        empty_d = pl.DataFrame(schema={**dict.fromkeys(_JOIN, pl.String), "Average": pl.Float64,
                                       "Minimum": pl.Float64, "Maximum": pl.Float64,
                                       **{f"percentile_Average_{p}": pl.Float64 for p in DUR_PCTS}})
        empty_m = pl.DataFrame(schema={**dict.fromkeys(_JOIN, pl.String), "SampleCount": pl.Int64,
                                       "AverageAllocatedMb": pl.Float64,
                                       **{f"AverageAllocatedMb_pct{p}": pl.Float64 for p in MEM_PCTS}})
        return empty_d, empty_m
    key = [pl.col(c) for c in _JOIN]
    ms = pl.col("duration_s") * 1000.0
    mb = pl.col("memory_mb")
    dur = wl.frame.group_by(key).agg(
        ms.mean().alias("Average"), ms.min().alias("Minimum"), ms.max().alias("Maximum"),
        *(ms.quantile(p / 100, "linear").alias(f"percentile_Average_{p}") for p in DUR_PCTS))
    mem = wl.frame.group_by(key).agg(
        mb.count().cast(pl.Int64).alias("SampleCount"), mb.mean().alias("AverageAllocatedMb"),
        *(mb.quantile(p / 100, "linear").alias(f"AverageAllocatedMb_pct{p}") for p in MEM_PCTS))
    mem = mem.with_columns(pl.when(pl.col("SampleCount") > 0).then(pl.col("SampleCount")))
    return dur.collect(), mem.collect()


def _durations_csv(funcs: pl.DataFrame, dur_ms: pl.DataFrame, default: float) -> tuple[pl.DataFrame, int]:
    """The rows of durations.csv, and how many functions got ``default`` for want of durations."""
    base = funcs.select(*_JOIN, *KEYS, "total")
    durations = base.join(dur_ms, on=_JOIN, how="left", nulls_equal=True, maintain_order="left")
    missing = int(durations["Average"].is_null().sum())
    dur_cols = ["Average", "Minimum", "Maximum", *(f"percentile_Average_{p}" for p in DUR_PCTS)]
    return durations.select(
        *KEYS, pl.col("Average").fill_null(default), pl.col("total").alias("Count"),
        *(pl.col(c).fill_null(default) for c in dur_cols[1:])), missing


def _memory_csv(funcs: pl.DataFrame, mem_mb: pl.DataFrame, default: float) -> tuple[pl.DataFrame, int]:
    """The rows of memory.csv, and how many functions got ``default`` for want of memory values."""
    base = funcs.select(*_JOIN, *KEYS, "total")
    memory = base.join(mem_mb, on=_JOIN, how="left", nulls_equal=True, maintain_order="left")
    missing = int(memory["AverageAllocatedMb"].is_null().sum())
    return memory.select(
        *KEYS, pl.col("SampleCount").fill_null(pl.col("total")).cast(pl.Int64),
        pl.col("AverageAllocatedMb").fill_null(default),
        *(pl.col(f"AverageAllocatedMb_pct{p}").fill_null(default) for p in MEM_PCTS)), missing


class InVitroExporter(Exporter):
    """invocations / invocation_counts -> InVitro invocations.csv + durations.csv + memory.csv."""

    name = "invitro"
    description = "InVitro loader trace (Azure Functions 2019 layout: invocations/durations/memory CSV)"
    tables = ("invocations", "invocation_counts")
    suffix = ""
    doc_url = "https://github.com/vhive-serverless/invitro/blob/main/docs/configuration.md"
    options: ClassVar[dict[str, Option]] = {
        "granularity": Option(str, "minute", "column width: 'minute' (60 s) or 'second' (1 s; InVitro "
                                             "Granularity 'second')"),
        "default_duration_ms": Option(float, 1000.0, "duration statistics (ms) of functions without durations"),
        "default_memory_mb": Option(float, 128.0, "memory statistics (MB) of functions without memory values"),
        "function_ids": Option(str, "auto", "'auto' keeps function_id when unique and >= 18 characters, "
                                            "'hash' always writes SHA-256 hashes"),
    }

    def write(self, wl: Workload, out: Path, options: dict[str, Any]) -> ExportResult:
        """Write the three CSVs, the loader config and (with hashed ids) the id mapping."""
        gran, ids_mode = self._modes(wl, options)
        check_any(wl)
        g = 60.0 if gran == "minute" else 1.0
        out = Path(out)
        per_bin, n_cols = _per_column_counts(wl, gran, g)
        funcs, hashed = _functions(wl.frame, per_bin, ids_mode)
        cells = per_bin.join(funcs.select(*_JOIN, "_fidx"), on=_JOIN, how="left", nulls_equal=True).sort("_fidx")
        dur_ms, mem_mb = _stats(wl)
        d_def, m_def = float(options.get("default_duration_ms") or 0.0), float(options.get("default_memory_mb") or 0.0)
        if d_def <= 0 or m_def <= 0:
            raise OptionError("options 'default_duration_ms' and 'default_memory_mb' of exporter 'invitro' must be > 0")
        durations, no_dur = _durations_csv(funcs, dur_ms, d_def)
        memory, no_mem = _memory_csv(funcs, mem_mb, m_def)

        files = self._write_trace(out / "trace", funcs, cells, n_cols, durations, memory)
        cfg_path = self._write_config(out, gran, n_cols)
        files.append(cfg_path)
        invocations = int(per_bin["n"].sum())
        notes = [f"{funcs.height} functions x {n_cols} {gran} columns, {invocations} invocations"]
        if hashed:
            map_path = out / "functions.csv"
            with atomic_path(map_path) as tmp:
                funcs.select("HashFunction", "function_id", "app_id", "owner_id").write_csv(tmp)
            files.append(map_path)
            notes.append("HashFunction is the SHA-256 of owner/app/function (function_id not unique or "
                         f"shorter than 18 characters); mapping in {map_path.name}")
        if no_dur:
            notes.append(f"{no_dur} functions without durations use default_duration_ms = {d_def:g}")
        if no_mem:
            notes.append(f"{no_mem} functions without memory values use default_memory_mb = {m_def:g}")
        command = shlex.join(["go", "run", "cmd/loader.go", "--config", str(cfg_path.resolve())])
        return ExportResult("invitro", files, invocations, command, notes)

    def _modes(self, wl: Workload, options: dict[str, Any]) -> tuple[str, str]:
        """The granularity and function-id mode, after checking the table and both options."""
        self.require_table(wl)
        gran = str(options.get("granularity", "minute")).lower()
        if gran not in ("minute", "second"):
            raise OptionError(f"option 'granularity' of exporter 'invitro' must be minute or second, got {gran!r}")
        ids_mode = str(options.get("function_ids", "auto")).lower()
        if ids_mode not in ("auto", "hash"):
            raise OptionError(f"option 'function_ids' of exporter 'invitro' must be auto or hash, got {ids_mode!r}")
        return gran, ids_mode

    @staticmethod
    def _write_trace(trace_dir: Path, funcs: pl.DataFrame, cells: pl.DataFrame, n_cols: int,
                     durations: pl.DataFrame, memory: pl.DataFrame) -> list[Path]:
        """Write invocations.csv, durations.csv and memory.csv into ``trace_dir``; their paths."""
        trace_dir.mkdir(parents=True, exist_ok=True)
        inv_path = trace_dir / "invocations.csv"
        with atomic_path(inv_path) as tmp, open(tmp, "wb") as fh:
            _write_dense(funcs.select(*KEYS, "Trigger"), cells, n_cols, fh)
        files = [inv_path]
        for name, frame in (("durations.csv", durations), ("memory.csv", memory)):
            path = trace_dir / name
            with atomic_path(path) as tmp:
                frame.write_csv(tmp)
            files.append(path)
        return files

    @staticmethod
    def _write_config(out: Path, gran: str, n_cols: int) -> Path:
        """Write loader_config.json for the trace in ``out/trace``; its path."""
        config = {**LOADER_CONFIG, "TracePath": str((out / "trace").resolve()), "Granularity": gran,
                  "ExperimentDuration": n_cols}
        cfg_path = out / "loader_config.json"
        with atomic_path(cfg_path) as tmp:
            tmp.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        return cfg_path


EXPORTERS: dict[str, Exporter] = {"invitro": InVitroExporter()}
