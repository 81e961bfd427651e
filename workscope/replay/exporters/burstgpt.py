"""BurstGPT trace CSV, the legacy 6-column layout of releases v1.0 / v1.1 (or the 8-column one).

Format written (CSV, one header line, comma-separated, requests in arrival order)::

    Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type
    5,ChatGPT,472,18,490,Conversation log

- ``Timestamp``: arrival in **seconds** since the trace's origin (BurstGPT: seconds from
  00:00:00 of the first day), written as an integer when whole (as the published parts 1 and 2
  are) and as the shortest exact float otherwise. Not rebased by default (option ``rebase``):
  the published parts share one origin, and the consumers below offset by the first row.
- ``Model``: option ``model_column``. Default (empty) keeps each row's ``model`` and writes
  ``GPT-4`` where it is unknown; any other value is written on every row. ``GPT-4`` is one of
  the two released values (``ChatGPT``, ``GPT-4``) and the only one vLLM's
  ``--dataset-name burstgpt`` samples, so an export of a trace without model names is usable
  there; the notes count the rows filled.
- ``Request tokens`` / ``Response tokens``: ``input_tokens`` / ``output_tokens``; BurstGPT marks a
  failed request by ``Response tokens`` = 0, which is what the workload holds for failures.
- ``Total tokens``: request + response.
- ``Log Type``: only the released values. ``kind`` ``conversation`` / ``conv`` (Azure LLM) /
  ``chat`` -> ``Conversation log``, ``api`` -> ``API log``; any other or unknown kind gets option
  ``other_log_type`` (default ``Conversation log``; the notes count them).

Option ``layout = "v3"`` writes the 8-column layout of part 3 instead, adding ``Session ID``
(``session_id``) and ``Elapsed time`` (``latency_s``, seconds) after ``Timestamp``.

The file reads back through workscope's own ``burstgpt`` reader to the same arrival_s, model,
token counts, status, kind and total tokens (tested).

Command: AIPerf replays it on its timestamps -- ``aiperf profile ... --input-file FILE
--custom-dataset-type burst_gpt_trace --fixed-schedule --fixed-schedule-auto-offset`` (AIPerf
reads ``Timestamp`` in seconds, ``Request tokens``, ``Response tokens``; other columns ignored).
vLLM's ``--dataset-name burstgpt`` also reads this layout but samples only ``Model == "GPT-4"``
rows with ``Response tokens`` > 0 and ignores the timestamps (arrivals from ``--request-rate``)
(``BurstGPTDataset.load_data`` in ``vllm/benchmarks/datasets.py``, vllm-project/vllm commit
0056b87f); the notes say how many rows it keeps.

Sources followed: HPMLL/BurstGPT ``README.md`` (column names and meaning, failure marking);
ai-dynamo/aiperf ``src/aiperf/dataset/loader/burst_gpt.py`` and ``models.py``
(``BurstGPTTrace``: timestamp seconds -> ms); vllm-project/vllm
``vllm/benchmarks/datasets/datasets.py`` (``BurstGPTDataset``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from workscope.atomic import atomic_path
from workscope.errors import UsageError
from workscope.options import Option
from workscope.replay.exporters._llm import command, prepare, rebase_option, seconds_expr, server_options
from workscope.replay.exporters.base import Exporter, ExportResult
from workscope.replay.workload import Workload

V1 = ("Timestamp", "Model", "Request tokens", "Response tokens", "Total tokens", "Log Type")
V3 = ("Timestamp", "Session ID", "Elapsed time", "Model", "Request tokens", "Response tokens",
      "Total tokens", "Log Type")
LOG_TYPES = {"conversation": "Conversation log", "conv": "Conversation log", "chat": "Conversation log",
             "api": "API log"}
"""Canonical kinds (lower case) -> the released ``Log Type`` values."""
RELEASED_LOG_TYPES = ("Conversation log", "API log")
DEFAULT_MODEL = "GPT-4"
"""Model written where the trace has none: a released value, the one vLLM samples."""


def _seconds_text(x: pl.Expr) -> pl.Expr:
    """Seconds as text: ``5`` for whole values (the published layout), else the shortest float."""
    whole = (x == x.floor()) & (x.abs() < 2.0**53)
    return pl.when(whole).then(x.cast(pl.Int64).cast(pl.String)).otherwise(x.cast(pl.String))


class BurstGPTExporter(Exporter):
    """BurstGPT CSV (Timestamp s, Model, Request/Response/Total tokens, Log Type)."""

    name = "burstgpt"
    description = "BurstGPT trace CSV, legacy 6-column layout (Timestamp s, Model, token counts, Log Type)"
    tables = ("requests",)
    suffix = ".csv"
    doc_url = "https://github.com/HPMLL/BurstGPT"
    options: ClassVar[dict[str, Option]] = {
        **server_options(),
        **rebase_option(False),
        "model_column": Option(str, "", "Model written on every row ('' keeps each row's model, "
                                        "GPT-4 where unknown)"),
        "other_log_type": Option(str, RELEASED_LOG_TYPES[0], "Log Type of rows whose kind is neither "
                                                             "conversation nor api: 'Conversation log' or 'API log'"),
        "layout": Option(str, "v1", "v1: the 6-column layout (parts 1-2); v3: 8 columns with Session ID "
                                    "and Elapsed time (part 3)"),
    }

    def write(self, wl: Workload, out: Path, options: dict[str, Any]) -> ExportResult:
        """Write the BurstGPT CSV and an AIPerf fixed-schedule command that replays it."""
        o = self.resolve_options(options)
        if o["layout"] not in ("v1", "v3"):
            raise UsageError(f"burstgpt: option layout must be 'v1' or 'v3', got {o['layout']!r}")
        if o["other_log_type"] not in RELEASED_LOG_TYPES:
            raise UsageError(f"burstgpt: option other_log_type must be 'Conversation log' or 'API log', "
                             f"got {o['other_log_type']!r}")
        p = prepare(wl, self.name, rebase=o["rebase"])
        tin, tout = pl.col("input_tokens"), pl.col("output_tokens")
        kind = (pl.col("kind").str.strip_chars().str.to_lowercase()
                .replace_strict(LOG_TYPES, default=None, return_dtype=pl.String))
        other = kind.is_null()
        kind = kind.fill_null(pl.lit(o["other_log_type"]))
        model = pl.lit(o["model_column"]) if o["model_column"] else pl.col("model").fill_null(DEFAULT_MODEL)
        facts = p.frame.select(
            pl.col("model").is_null().sum().alias("no_model"),
            other.sum().alias("other"),
            ((model == "GPT-4") & (tout > 0)).sum().alias("vllm_rows"),
        ).collect().row(0, named=True)
        values = {
            "Timestamp": _seconds_text(seconds_expr()),
            "Session ID": pl.col("session_id"),
            "Elapsed time": _seconds_text(pl.col("latency_s")),
            "Model": model,
            "Request tokens": tin,
            "Response tokens": tout,
            "Total tokens": tin + tout,
            "Log Type": kind.cast(pl.String),
        }
        header = V1 if o["layout"] == "v1" else V3
        frame = p.frame.select([values[c].alias(c) for c in header])
        with atomic_path(out) as tmp:
            frame.sink_csv(tmp)
        cmd = command("aiperf", "profile", "--model", o["model"], "--url", o["base_url"],
                      "--endpoint-type", "chat", "--streaming", "--input-file", out,
                      "--custom-dataset-type", "burst_gpt_trace", "--fixed-schedule",
                      "--fixed-schedule-auto-offset", "--extra-inputs", "ignore_eos:true")
        notes = p.notes()
        if o["model_column"]:
            notes.append(f"Model is {o['model_column']!r} on every row (option model_column)")
        elif facts["no_model"]:
            notes.append(f"{facts['no_model']} rows without a model written as {DEFAULT_MODEL!r}")
        if facts["other"]:
            notes.append(f"{facts['other']} rows whose kind is neither conversation nor api written as "
                         f"{o['other_log_type']!r}")
        notes.append(f"vLLM's --dataset-name burstgpt samples {facts['vllm_rows']} of {p.rows} rows "
                     "(Model GPT-4, Response tokens > 0) and ignores the timestamps")
        if o["layout"] == "v1":
            notes.append("the 6-column layout has no session ids or latencies; use layout=v3 to keep them")
        return ExportResult(self.name, [out], p.rows, cmd, notes)


EXPORTERS: dict[str, Exporter] = {"burstgpt": BurstGPTExporter()}
