"""Vidur (LLM inference simulator) ``trace_replay`` request generator CSV, in either of the two
layouts Vidur reads.

Vidur's ``TraceReplayRequestGenerator`` exists in two incompatible versions, read here:

- **pypi** (``pip install vidur``, version 0.0.26, ``vidur/request_generator/
  trace_replay_request_generator.py`` and ``vidur/config/config.py`` of its wheel): columns
  ``Date,Time,PromptTokenCount,CompletionTokenCount``. It keeps only the rows whose ``Date``
  equals ``--trace_request_generator_config_date`` (default ``2023-08-21``), and its config
  *rescales by default*: ``time_scale_factor`` 0.04 (arrivals 25x closer) and
  ``prefill_scale_factor`` 0.3 (prompts cut to 30%); ``decode_scale_factor`` 1.
- **source** (microsoft/vidur main, commit 7d475133, 2024-11-19, same two files): columns
  ``arrived_at,num_prefill_tokens,num_decode_tokens``; no date filter; every scale factor
  defaults to 1.

Both multiply tokens by the scale factors, cast them to int, raise them to at least 1, cut the
prefill where ``prefill + decode`` exceeds ``--trace_request_generator_config_max_tokens``
(default 4096) and multiply the time column by the time scale factor; the simulation clock is
seconds.

Format written (option ``layout``, default ``pypi``; CSV with a header, requests in arrival
order)::

    Date,Time,PromptTokenCount,CompletionTokenCount          arrived_at,num_prefill_tokens,num_decode_tokens
    2024-01-01,0.0,374,44                                     0.0,374,44

- time (``Time`` / ``arrived_at``): arrival in **seconds**, float64 in its shortest exact form,
  rebased so the first request is at 0 by default (option ``rebase``: Vidur's clock starts at
  0, so an un-rebased trace would simulate idle time first).
- tokens: ``input_tokens`` / ``output_tokens``.
- ``Date`` (pypi only): one value on every row, option ``date``; default the UTC date of the
  workload's origin, or Vidur's own default date (2023-08-21) when the trace has no absolute
  origin. The command passes the same date, so the filter keeps every row.

Command: ``python -m vidur.main --request_generator_config_type trace_replay
--trace_request_generator_config_trace_file FILE --trace_request_generator_config_max_tokens M``
with every scale factor set to 1 (``--trace_request_generator_config_time_scale_factor 1``,
``..._prefill_scale_factor 1``, ``..._decode_scale_factor 1``), so the trace is replayed as
recorded, and for pypi ``--trace_request_generator_config_date DATE``. ``max_tokens`` = the
largest ``max(input, 1) + max(output, 1)`` of the workload, so no request is cut; the chosen
model must support that context length. Other simulator settings (model, device, scheduler)
keep Vidur's defaults and are the user's to choose.
"""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from workscope.atomic import atomic_path
from workscope.errors import OptionError
from workscope.options import Option
from workscope.origin import origin_epoch_s
from workscope.replay.exporters._llm import command, prepare, rebase_option, seconds_expr
from workscope.replay.exporters.base import Exporter, ExportResult
from workscope.replay.workload import Workload

HEADERS: dict[str, tuple[str, str, str]] = {
    "source": ("arrived_at", "num_prefill_tokens", "num_decode_tokens"),
    "pypi": ("Time", "PromptTokenCount", "CompletionTokenCount"),
}
"""Time, prefill and decode column names of each layout (pypi also has ``Date`` first)."""
HEADER = HEADERS["source"]
VIDUR_DEFAULT_DATE = "2023-08-21"
"""``TraceRequestGeneratorConfig.date`` default of vidur 0.0.26."""
_FLAG = "--trace_request_generator_config_"


def default_date(origin_utc: str | None) -> str:
    """The ``Date`` written by default: the origin's UTC date, else Vidur's default date."""
    origin = origin_epoch_s(origin_utc)
    if origin is None:
        return VIDUR_DEFAULT_DATE
    return _dt.datetime.fromtimestamp(origin, _dt.UTC).strftime("%Y-%m-%d")


class VidurExporter(Exporter):
    """Vidur ``trace_replay`` CSV (pypi 0.0.26 or source-checkout layout)."""

    name = "vidur"
    description = ("Vidur simulator trace_replay CSV (layout pypi: Date,Time,PromptTokenCount,"
                   "CompletionTokenCount; source: arrived_at,num_prefill_tokens,num_decode_tokens)")
    tables = ("requests",)
    suffix = ".csv"
    doc_url = "https://github.com/microsoft/vidur/blob/main/vidur/request_generator/trace_replay_request_generator.py"
    options: ClassVar[dict[str, Option]] = {
        **rebase_option(True),
        "layout": Option(str, "pypi", "pypi: the columns of 'pip install vidur' 0.0.26 (Date,Time,...); "
                                      "source: those of a microsoft/vidur checkout (arrived_at,...)"),
        "date": Option(str, "", "layout pypi: the Date written on every row and passed to Vidur "
                                "(default: the origin's UTC date, else 2023-08-21)"),
    }

    def write(self, wl: Workload, out: Path, options: dict[str, Any]) -> ExportResult:
        """Write the trace CSV and the ``vidur.main`` command that replays it unscaled."""
        o = self.resolve_options(options)
        layout = str(o["layout"]).lower()
        if layout not in HEADERS:
            raise OptionError(f"option 'layout' of exporter 'vidur' must be pypi or source, got {o['layout']!r}")
        date = str(o["date"] or default_date(wl.meta.get("origin_utc")))
        # Vidur compares the column, read by pandas as text, with the flag's text: a plain
        # ISO date keeps pandas from reading it as anything else and needs no shell quoting
        if layout == "pypi" and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
            raise OptionError(f"option 'date' of exporter 'vidur' must be YYYY-MM-DD, got {date!r}")
        p = prepare(wl, self.name, rebase=o["rebase"])
        t, pre, dec = HEADERS[layout]
        cols = [seconds_expr().alias(t), pl.col("input_tokens").alias(pre), pl.col("output_tokens").alias(dec)]
        if layout == "pypi":
            cols.insert(0, pl.lit(date).alias("Date"))
        with atomic_path(out) as tmp:
            p.frame.select(cols).sink_csv(tmp)
        max_tokens = max(p.max_total_min1 or 0, 2)
        notes = p.notes()
        clipped = p.zero_input + p.zero_output
        if clipped:
            notes.append(f"Vidur raises zero token counts to 1 on load ({p.zero_input} prefill, "
                         f"{p.zero_output} decode)")
        if layout == "pypi":
            notes.append(f"layout pypi (vidur 0.0.26): every row dated {date}; the command passes that date "
                         "and scale factors of 1 (its defaults would scale time by 0.04 and prompts by 0.3)")
        else:
            notes.append("layout source (microsoft/vidur checkout): for 'pip install vidur' use layout=pypi")
        words: list[Any] = ["python", "-m", "vidur.main", "--request_generator_config_type", "trace_replay",
                            _FLAG + "trace_file", out, _FLAG + "max_tokens", max_tokens]
        if layout == "pypi":
            words += [_FLAG + "date", date]
        words += [_FLAG + "time_scale_factor", "1", _FLAG + "prefill_scale_factor", "1",
                  _FLAG + "decode_scale_factor", "1"]
        return ExportResult(self.name, [out], p.rows, command(*words), notes)


EXPORTERS: dict[str, Exporter] = {"vidur": VidurExporter()}
