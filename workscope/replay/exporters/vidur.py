"""Vidur (LLM inference simulator) ``trace_replay`` request generator CSV.

Format written (CSV with a header, comma-separated, requests in arrival order)::

    arrived_at,num_prefill_tokens,num_decode_tokens
    0.0,374,44
    0.512,396,109

- ``arrived_at``: arrival time in **seconds** (Vidur's simulation clock is seconds; it scales
  the column by ``--trace_request_generator_config_time_scale_factor``), float64 written in its
  shortest exact form, rebased so the first request is at 0 by default (option ``rebase``:
  Vidur's clock starts at 0, so an un-rebased trace would simulate idle time first).
- ``num_prefill_tokens`` / ``num_decode_tokens``: prompt / output tokens.

What Vidur does on load (so the export notes say when it applies): token counts are clipped to
at least 1, and where ``prefill + decode`` exceeds ``--trace_request_generator_config_max_tokens``
(default 4096) the prefill is cut. The command therefore passes ``max_tokens`` = the largest
``max(input, 1) + max(output, 1)`` of the workload, so no
request is cut; the chosen model must support that context length.

Command: ``python -m vidur.main --request_generator_config_type trace_replay
--trace_request_generator_config_trace_file FILE --trace_request_generator_config_max_tokens M
--trace_request_generator_config_time_scale_factor 1`` (other simulator settings -- model,
device, scheduler -- keep Vidur's defaults and are the user's to choose).

Source followed: microsoft/vidur ``vidur/request_generator/trace_replay_request_generator.py``
(``TraceReplayRequestGenerator``: ``pd.read_csv``, columns ``arrived_at``,
``num_prefill_tokens``, ``num_decode_tokens``, scale factors, clip to >= 1, max-token trimming)
and ``vidur/config/config.py`` (``TraceRequestGeneratorConfig``: ``trace_file``,
``time_scale_factor``, ``max_tokens`` default 4096); ``data/processed_traces/*.csv`` for the
header.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from workscope.atomic import atomic_path
from workscope.options import Option
from workscope.replay.exporters._llm import command, prepare, rebase_option, seconds_expr
from workscope.replay.exporters.base import Exporter, ExportResult
from workscope.replay.workload import Workload

HEADER = ("arrived_at", "num_prefill_tokens", "num_decode_tokens")


class VidurExporter(Exporter):
    """Vidur ``trace_replay`` CSV (arrived_at s, num_prefill_tokens, num_decode_tokens)."""

    name = "vidur"
    description = "Vidur simulator trace_replay CSV (arrived_at s, num_prefill_tokens, num_decode_tokens)"
    tables = ("requests",)
    suffix = ".csv"
    doc_url = "https://github.com/microsoft/vidur/blob/main/vidur/request_generator/trace_replay_request_generator.py"
    options: ClassVar[dict[str, Option]] = {**rebase_option(True)}

    def write(self, wl: Workload, out: Path, options: dict[str, Any]) -> ExportResult:
        """Write the trace CSV and the ``vidur.main`` command."""
        o = self.resolve_options(options)
        p = prepare(wl, self.name, rebase=o["rebase"])
        frame = p.frame.select(seconds_expr().alias(HEADER[0]), pl.col("input_tokens").alias(HEADER[1]),
                               pl.col("output_tokens").alias(HEADER[2]))
        with atomic_path(out) as tmp:
            frame.sink_csv(tmp)
        max_tokens = max(p.max_total_min1 or 0, 2)
        notes = p.notes()
        clipped = p.zero_input + p.zero_output
        if clipped:
            notes.append(f"Vidur raises zero token counts to 1 on load ({p.zero_input} prefill, "
                         f"{p.zero_output} decode)")
        cmd = command("python", "-m", "vidur.main", "--request_generator_config_type", "trace_replay",
                      "--trace_request_generator_config_trace_file", out,
                      "--trace_request_generator_config_max_tokens", max_tokens,
                      "--trace_request_generator_config_time_scale_factor", "1")
        return ExportResult(self.name, [out], p.rows, cmd, notes)


EXPORTERS: dict[str, Exporter] = {"vidur": VidurExporter()}
