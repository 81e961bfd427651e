"""SGLang ``bench_serving`` Mooncake trace (JSONL).

Format written (one compact JSON object per line, requests in arrival order)::

    {"timestamp":0,"input_length":6758,"output_length":500,"hash_ids":[0,1,2,...]}

- ``timestamp``: arrival in **milliseconds**, rounded to the microsecond (``round(s * 1000, 3)``);
  written as an integer when every row is a whole millisecond (as in the published Mooncake
  traces), as a float otherwise. By default times are rebased so the first request is at 0
  (option ``rebase``); SGLang subtracts the first timestamp anyway.
- ``input_length`` / ``output_length``: tokens (``input_tokens`` / ``output_tokens``).
- ``hash_ids``: prefix-cache block ids, one per **512-token** block (the Mooncake convention;
  the last block may be partial), ``len == ceil(input_length / 512)``.

Block size. A workload whose manifest block size is not 512 is **re-blocked** when its block
divides 512 (Qwen-Bailian's 16-token blocks: 32 small blocks make one 512 block): each new
block id is a dense id of the (whole prefix up to that block, block extent), so two requests
get the same new id exactly when their small-block prefixes agree up to that block's end --
prefix sharing is preserved, never invented. Identity is a 64-bit polynomial hash of the
prefix (collisions negligible). Re-blocking collects the workload (it is not streamed).
Other block sizes (larger than 512, or not a divisor of 512) are refused with a LintError;
so is re-blocking when option ``reblock`` is false.

Rows without ``hash_ids`` (a workload with no prefix information, e.g. Azure LLM) get
synthesized ids: ``ceil(input_length / 512)`` fresh ids per request, unique across the file, so
the replay has no prefix sharing at all (SGLang builds prompts from ``hash_ids`` only).

Prompts. SGLang's loader ignores ``input_length``: it builds each prompt as, per hash id, the id
followed by 128 "hi" words, so the replayed prompt length is about 129 tokens per block, not
512 (a limitation of the target, recorded in the export notes). ``output_length`` is honoured.

Command: ``python3 -m sglang.bench_serving --backend sglang --dataset-name mooncake
--dataset-path FILE --num-prompts N --mooncake-slowdown-factor 1.0 --mooncake-num-rounds 1``.
The trace-timestamp schedule is used only with ``--backend sglang`` (``--request-rate`` is
ignored in mooncake mode).

Source followed: sgl-project/sglang ``python/sglang/benchmark/datasets/mooncake.py``
(``MooncakeDatasetLoader``, ``get_mooncake_request_over_time``: ``(timestamp - first) / 1000``
seconds, prompt from ``hash_ids``) and ``python/sglang/bench_serving.py`` (mooncake arguments);
the record layout from kvcache-ai/Mooncake ``FAST25-release/README.md`` (timestamp ms,
512-token hash blocks). Checked against workscope's own ``mooncake`` reader (round trip).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from workscope.options import Option
from workscope.replay.exporters._llm import (
    MOONCAKE_BLOCK,
    block_for,
    command,
    mooncake_lines,
    ms_expr,
    prepare,
    rebase_option,
    server_options,
    write_ndjson,
)
from workscope.replay.exporters.base import Exporter, ExportResult
from workscope.replay.workload import Workload


class SGLangMooncakeExporter(Exporter):
    """SGLang bench_serving ``--dataset-name mooncake`` JSONL (ms timestamps, 512-token blocks)."""

    name = "sglang_mooncake"
    description = ("SGLang bench_serving mooncake JSONL (timestamp ms, input/output_length, "
                   "hash_ids per 512 tokens)")
    tables = ("requests",)
    suffix = ".jsonl"
    doc_url = "https://github.com/sgl-project/sglang/blob/main/python/sglang/benchmark/datasets/mooncake.py"
    options: ClassVar[dict[str, Option]] = {
        **server_options(),
        **rebase_option(True),
        "reblock": Option(bool, True, "re-block hash_ids to 512-token blocks when the workload's "
                                      "block divides 512"),
    }

    def write(self, wl: Workload, out: Path, options: dict[str, Any]) -> ExportResult:
        """Write the Mooncake JSONL and the bench_serving command."""
        o = self.resolve_options(options)
        p = prepare(wl, self.name, rebase=o["rebase"])
        block = block_for(p, self.name)
        frame, notes = mooncake_lines(p, self.name, block=block, to_block=MOONCAKE_BLOCK,
                                      reblock_ok=o["reblock"], time=ms_expr(p))
        write_ndjson(frame, out)
        notes = p.notes() + notes + [
            ("SGLang builds each prompt from hash_ids alone (the id and 128 'hi' words per block) and "
             "ignores input_length, so replayed prompt lengths approximate the trace's"),
        ]
        cmd = command("python3", "-m", "sglang.bench_serving", "--backend", "sglang",
                      "--base-url", o["base_url"], "--model", o["model"], "--dataset-name", "mooncake",
                      "--dataset-path", out, "--num-prompts", p.rows, "--mooncake-slowdown-factor", "1.0",
                      "--mooncake-num-rounds", "1")
        return ExportResult(self.name, [out], p.rows, cmd, notes)


EXPORTERS: dict[str, Exporter] = {"sglang_mooncake": SGLangMooncakeExporter()}
