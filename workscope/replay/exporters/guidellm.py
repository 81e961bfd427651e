"""GuideLLM trace replay (``--profile kind=replay``) JSON Lines.

Format written (JSON Lines, one compact object per request, in arrival order)::

    {"timestamp":0.0,"input_length":655,"output_length":52,"hash_ids":[46,47]}

- ``timestamp``: arrival in **seconds** (GuideLLM: "numbers expressed in seconds on a shared
  timeline with any consistent zero point"; it sorts rows and replays offsets from the first),
  rebased so the first request is at 0 by default (option ``rebase``).
- ``input_length`` / ``output_length``: prompt / output tokens, GuideLLM's default
  ``prompt_tokens_column`` / ``output_tokens_column`` names, so no column flags are needed.
  GuideLLM synthesizes prompts of exactly ``input_length`` tokens with the model's tokenizer.
- ``hash_ids`` (only with the ``mooncake`` trace kind): GuideLLM's mooncake format checks
  ``len(hash_ids) == ceil(input_length / hash_id_block_size)``, ids non-negative and read as
  int32, and makes equal ids equal token blocks. The ``mooncake`` kind is used when every row
  has hash_ids within [0, 2^31); the command passes ``hash_id_block_size`` = the workload's block
  size. Otherwise the file has no ``hash_ids`` and the ``trace_synthetic`` kind is used (no
  prefix sharing), and the export notes say why.

Command (GuideLLM 0.8)::

    guidellm run --backend kind=openai_http,target=URL,model=MODEL --profile kind=replay
      --data kind=mooncake,source.kind=json_file,source.path=FILE,hash_id_block_size=B

Sources followed: vllm-project/guidellm ``docs/guides/trace_replay.md`` (trace formats
``trace_synthetic`` / ``mooncake``, format-agnostic columns and their defaults,
``hash_id_block_size`` default 512), ``docs/guides/datasets.md`` (trace timestamps in seconds,
offsets from the first event), ``src/guidellm/data/deserializers/trace_mooncake.py``
(block-count and non-negative id checks; ids typed int32) in the 0.8.1 release.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from workscope.options import Option
from workscope.replay.exporters._llm import (
    Verbatim,
    block_for,
    command,
    prepare,
    rebase_option,
    seconds_expr,
    server_options,
    write_ndjson,
)
from workscope.replay.exporters.base import Exporter, ExportResult
from workscope.replay.workload import Workload

INT32_MAX = 2**31 - 1


class GuideLLMExporter(Exporter):
    """GuideLLM replay-profile trace JSONL (timestamp s; mooncake kind when hash_ids fit)."""

    name = "guidellm"
    description = "GuideLLM replay trace JSONL (timestamp s, input/output_length[, hash_ids])"
    tables = ("requests",)
    suffix = ".jsonl"
    doc_url = "https://github.com/vllm-project/guidellm/blob/main/docs/guides/trace_replay.md"
    options: ClassVar[dict[str, Option]] = {**server_options(), **rebase_option(True)}

    def write(self, wl: Workload, out: Path, options: dict[str, Any]) -> ExportResult:
        """Write the replay JSONL and the ``guidellm run`` command."""
        o = self.resolve_options(options)
        p = prepare(wl, self.name, rebase=o["rebase"])
        notes = p.notes()
        cols = [seconds_expr().alias("timestamp"), pl.col("input_tokens").alias("input_length"),
                pl.col("output_tokens").alias("output_length")]
        ids_fit = p.hash_rows and (p.hash_min or 0) >= 0 and (p.hash_max or 0) <= INT32_MAX
        if p.rows and p.hash_rows == p.rows and ids_fit:
            block = block_for(p, self.name)
            cols.append(pl.col("hash_ids"))
            data = Verbatim(f"kind=mooncake,source.kind=json_file,source.path={out},hash_id_block_size={block}")
        else:
            if p.hash_rows:
                why = ("some rows have no hash_ids" if p.hash_rows < p.rows
                       else "hash ids fall outside GuideLLM's int32 range [0, 2^31)")
                notes.append(f"hash_ids dropped ({why}): trace_synthetic kind, no prefix sharing")
            data = Verbatim(f"kind=trace_synthetic,source.kind=json_file,source.path={out}")
        write_ndjson(p.frame.select(cols), out)
        backend = f"kind=openai_http,target={o['base_url']},model={o['model']}"
        cmd = command("guidellm", "run", "--backend", backend, "--profile", "kind=replay", "--data", data)
        return ExportResult(self.name, [out], p.rows, cmd, notes)


EXPORTERS: dict[str, Exporter] = {"guidellm": GuideLLMExporter()}
