"""vLLM benchmark suite inputs: the ``timed_trace`` replay dataset and the ``custom`` dataset.

``vllm_timed`` -- JSONL for ``vllm bench serve --dataset-name timed_trace`` (one compact object
per line, requests in arrival order)::

    {"timestamp":12.4,"input_length":42,"output_length":8,"hash_ids":[981,4412,7]}

- ``timestamp``: arrival in **seconds** (float64, shortest exact text), rebased so the first
  request is at 0 by default (option ``rebase``): vLLM waits ``timestamp * multiplier`` seconds
  from the start of the run before sending each request, it does not subtract the first one.
  The command passes ``--timed-trace-sec-multiplier 1``.
- ``input_length`` / ``output_length``: tokens.
- ``hash_ids``: one id per block of ``--timed-trace-chunk-hash-size`` tokens (the command passes
  the workload's block size: 512 Mooncake, 16 Qwen-Bailian). vLLM expands each id to a fixed
  pseudo-random token chunk (the last chunk partial) and **stops when the ids run out**, so the
  ids must cover ``input_length``: rows without hash_ids get ``ceil(input_length / block)``
  fresh ids, unique in the file (no prefix sharing). Prompts then have exactly
  ``input_length`` tokens, built from token ids (no tokenizer round trip).

``vllm_custom`` -- JSONL for ``vllm bench serve --dataset-name custom`` (``CustomDataset``)::

    {"prompt":"17 hi hi hi ...","output_tokens":8}

No tokenizer is available here, so a prompt of exactly N tokens cannot be written as text.
Approach: the row number, then ``input_tokens - 1`` times " hi" (option ``word``); " hi" is a
single token in the common BPE vocabularies (Llama 3, Qwen, GPT-2 family), so the prompt is
``input_tokens`` tokens give or take the row number's digits. The leading row number makes every
prompt distinct from its first token, so prompts share no cached prefix (a file of identical
"hi hi hi" prompts would turn the replay into a prefix-cache benchmark). vLLM tokenizes the
prompt itself and reports the real prompt length. Flags that make vLLM honour the file:
``--custom-output-len -1`` (use ``output_tokens``; the default 256 overrides it),
``--skip-chat-template`` (no template tokens added), ``--disable-shuffle`` (keep file order),
``--ignore-eos`` (generate exactly ``output_tokens``). The custom dataset carries no times: the
command sets ``--request-rate`` to the workload's mean rate ((rows - 1) / span), Poisson arrivals.
The file name must end in ``.jsonl`` (vLLM refuses other suffixes).

Sources followed: vllm-project/vllm ``vllm/benchmarks/datasets/datasets.py`` (``TimedTrace``:
``_expand_prompt``, ``float(timestamp) * sec_multiplier``, the ``--timed-trace-*`` arguments with
chunk size default 16; ``CustomDataset``: ``prompt`` and optional ``output_tokens`` columns,
``.jsonl`` only, ``--custom-output-len``) and ``docs/benchmarking/cli.md`` ("Replay timed traces").
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from workscope.errors import UsageError
from workscope.options import Option
from workscope.replay.exporters._llm import (
    block_for,
    command,
    mooncake_lines,
    prepare,
    rebase_option,
    seconds_expr,
    server_options,
    write_ndjson,
)
from workscope.replay.exporters.base import Exporter, ExportResult
from workscope.replay.workload import Workload


class VLLMTimedTraceExporter(Exporter):
    """``vllm bench serve --dataset-name timed_trace`` JSONL (seconds, hash_ids per chunk)."""

    name = "vllm_timed"
    description = "vLLM bench serve timed_trace JSONL (timestamp s, input/output_length, hash_ids)"
    tables = ("requests",)
    suffix = ".jsonl"
    doc_url = "https://github.com/vllm-project/vllm/blob/main/vllm/benchmarks/datasets/datasets.py"
    options: ClassVar[dict[str, Option]] = {
        **server_options(),
        **rebase_option(True),
        "block_tokens": Option(int, 0, "tokens per synthesized hash id when the workload has no hash_ids "
                                       "(0: 512); a workload with hash_ids keeps its manifest block size"),
    }

    def write(self, wl: Workload, out: Path, options: dict[str, Any]) -> ExportResult:
        """Write the timed_trace JSONL and the ``vllm bench serve`` command."""
        o = self.resolve_options(options)
        p = prepare(wl, self.name, rebase=o["rebase"])
        block = block_for(p, self.name, o["block_tokens"])
        frame, notes = mooncake_lines(p, self.name, block=block, to_block=None, reblock_ok=False,
                                      time=seconds_expr())
        write_ndjson(frame, out)
        cmd = command("vllm", "bench", "serve", "--backend", "vllm", "--base-url", o["base_url"],
                      "--model", o["model"], "--dataset-name", "timed_trace", "--dataset-path", out,
                      "--num-prompts", p.rows, "--self-timed", "--timed-trace-chunk-hash-size", block,
                      "--timed-trace-sec-multiplier", "1", "--ignore-eos")
        return ExportResult(self.name, [out], p.rows, cmd, p.notes() + notes)


def mean_rate(rows: int, span_s: float) -> str:
    """Requests per second over the workload's span, as the text passed to --request-rate."""
    if rows < 2 or span_s <= 0:
        return "inf"
    return f"{(rows - 1) / span_s:.6g}"


class VLLMCustomExporter(Exporter):
    """``vllm bench serve --dataset-name custom`` JSONL (placeholder prompts + output_tokens)."""

    name = "vllm_custom"
    description = "vLLM bench serve custom JSONL (prompt of ~input_tokens words, output_tokens)"
    tables = ("requests",)
    suffix = ".jsonl"
    doc_url = "https://github.com/vllm-project/vllm/blob/main/vllm/benchmarks/datasets/datasets.py"
    options: ClassVar[dict[str, Option]] = {
        **server_options(),
        "word": Option(str, "hi", "placeholder word repeated to make the prompt "
                                  "(one token in common vocabularies)"),
    }

    def write(self, wl: Workload, out: Path, options: dict[str, Any]) -> ExportResult:
        """Write the custom-dataset JSONL and the ``vllm bench serve`` command."""
        o = self.resolve_options(options)
        if not str(out).endswith(".jsonl"):
            raise UsageError(f"vllm_custom: the output file must end in .jsonl (vLLM's CustomDataset "
                             f"refuses other names), got {out}")
        word = o["word"].strip()
        if not word or any(c.isspace() for c in word):
            raise UsageError(f"vllm_custom: option word must be one non-empty word, got {o['word']!r}")
        p = prepare(wl, self.name, rebase=False)
        unit = " " + word
        longest = max((p.max_input or 1) - 1, 0)
        n = pl.col("input_tokens")
        # Slicing one long literal keeps prompt building vectorised (no per-row Python).
        body = pl.lit(unit * longest).str.head(((n - 1).clip(lower_bound=0) * len(unit)).cast(pl.Int64))
        prompt = pl.concat_str([pl.col("_row").cast(pl.String), body])
        frame = (p.frame.with_row_index("_row")
                 .select(prompt.alias("prompt"), pl.col("output_tokens").alias("output_tokens")))
        write_ndjson(frame, out)
        rate = mean_rate(p.rows, p.span_s)
        cmd = command("vllm", "bench", "serve", "--backend", "vllm", "--base-url", o["base_url"],
                      "--model", o["model"], "--dataset-name", "custom", "--dataset-path", out,
                      "--num-prompts", p.rows, "--custom-output-len", "-1", "--skip-chat-template",
                      "--disable-shuffle", "--ignore-eos", "--request-rate", rate)
        notes = [
            *p.notes(),
            (f"prompts are the row number then {word!r} repeated: about input_tokens tokens each "
             "(exact counts depend on the model's tokenizer); no prefix sharing is reproduced"),
            (f"the custom dataset has no timestamps: arrivals are Poisson at the workload's mean rate "
             f"({rate} requests/s)"),
        ]
        if math.isinf(float(rate)):
            notes.append("the workload spans no time: requests are sent all at once (--request-rate inf)")
        return ExportResult(self.name, [out], p.rows, cmd, notes)


EXPORTERS: dict[str, Exporter] = {
    "vllm_timed": VLLMTimedTraceExporter(),
    "vllm_custom": VLLMCustomExporter(),
}
