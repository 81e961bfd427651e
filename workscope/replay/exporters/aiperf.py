"""NVIDIA AIPerf ``mooncake_trace`` custom dataset, replayed on a fixed schedule.

Format written (JSON Lines, one compact object per request, in arrival order)::

    {"timestamp":0,"input_length":655,"output_length":52,"hash_ids":[46,47]}

- ``timestamp``: arrival in **milliseconds** (AIPerf: "timestamp of a request in milliseconds";
  int or float, scheduled at ms accuracy), rounded to the microsecond; integers when every row
  is a whole millisecond. Rebased so the first request is at 0 by default (option ``rebase``);
  the command also passes ``--fixed-schedule-auto-offset``, which does the same.
- ``input_length`` / ``output_length``: tokens. AIPerf synthesizes a prompt of ``input_length``
  tokens with its own tokenizer (``--tokenizer``, default: the model's), so lengths are exact.
- ``hash_ids``: written only when the workload has prefix ids (a block size in its manifest);
  AIPerf makes equal ids produce equal token blocks of ``--isl-block-size`` tokens, and the
  command passes the workload's block size (512 Mooncake, 16 Qwen-Bailian; AIPerf's default is
  512). Rows without ids in a workload that has some are written with ``"hash_ids":null``
  (the field is optional). A workload with no prefix ids omits the field entirely.

Command: ``aiperf profile --model M --url U --endpoint-type chat --streaming --input-file FILE
--custom-dataset-type mooncake_trace --fixed-schedule --fixed-schedule-auto-offset
[--isl-block-size B] --extra-inputs ignore_eos:true`` (``ignore_eos`` so each request generates
exactly ``output_length`` tokens on servers that honour it, e.g. vLLM and SGLang).

Sources followed: ai-dynamo/aiperf ``docs/benchmark-modes/trace-replay.md`` (Mooncake trace
format, ``--fixed-schedule``), ``src/aiperf/dataset/loader/models.py`` (``MooncakeTrace``:
``timestamp: int | float`` ms, optional ``hash_ids``), ``docs/cli-options.md``
(``--isl-block-size``, default 512; ``--fixed-schedule-auto-offset``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from workscope.options import Option
from workscope.replay.exporters._llm import (
    block_for,
    command,
    ms_expr,
    prepare,
    rebase_option,
    server_options,
    write_ndjson,
)
from workscope.replay.exporters.base import Exporter, ExportResult
from workscope.replay.workload import Workload


class AIPerfExporter(Exporter):
    """AIPerf ``--custom-dataset-type mooncake_trace`` JSONL (timestamp ms) with a fixed schedule."""

    name = "aiperf"
    description = "NVIDIA AIPerf mooncake_trace JSONL (timestamp ms) replayed with --fixed-schedule"
    tables = ("requests",)
    suffix = ".jsonl"
    doc_url = "https://github.com/ai-dynamo/aiperf/blob/main/docs/benchmark-modes/trace-replay.md"
    options: ClassVar[dict[str, Option]] = {**server_options(), **rebase_option(True)}

    def write(self, wl: Workload, out: Path, options: dict[str, Any]) -> ExportResult:
        """Write the mooncake_trace JSONL and the ``aiperf profile`` command."""
        o = self.resolve_options(options)
        p = prepare(wl, self.name, rebase=o["rebase"])
        with_ids = bool(p.hash_rows)
        block = block_for(p, self.name) if with_ids else None
        cols = [ms_expr(p).alias("timestamp"), pl.col("input_tokens").alias("input_length"),
                pl.col("output_tokens").alias("output_length")]
        notes = []
        if with_ids:
            # The field is optional in AIPerf: rows without ids are written as null (AIPerf then
            # generates an unshared prompt) rather than with invented ids.
            cols.append(pl.col("hash_ids"))
            if p.hash_rows < p.rows:
                notes.append(f"{p.rows - p.hash_rows} rows have no hash_ids: written as null "
                             "(unshared prompts)")
        frame = p.frame.select(cols)
        write_ndjson(frame, out)
        words: list[Any] = ["aiperf", "profile", "--model", o["model"], "--url", o["base_url"],
                            "--endpoint-type", "chat", "--streaming", "--input-file", out,
                            "--custom-dataset-type", "mooncake_trace", "--fixed-schedule",
                            "--fixed-schedule-auto-offset"]
        if block:
            words += ["--isl-block-size", block]
        words += ["--extra-inputs", "ignore_eos:true"]
        return ExportResult(self.name, [out], p.rows, command(*words), p.notes() + notes)


EXPORTERS: dict[str, Exporter] = {"aiperf": AIPerfExporter()}
