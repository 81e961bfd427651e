"""BurstGPT LLM serving traces (HPMLL/BurstGPT): Azure OpenAI GPT usage at a regional provider.

Files (release assets): ``BurstGPT_1.csv``, ``BurstGPT_2.csv`` (2 months each),
``BurstGPT_3.csv`` (110 days) and their ``BurstGPT_without_fails_*.csv`` twins, which drop the
failed rows. One header line; two layouts, so columns are located **by name**:

- v1 (parts 1 and 2): ``Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type``
- v3 (part 3): ``Timestamp,Session ID,Elapsed time,Model,Request tokens,Response tokens,
  Total tokens,Log Type``

Mapping into ``requests``:

- ``Timestamp``: seconds from 00:00:00 of the trace's first day, "calibrated to the local time
  zone" (zone not named), 1 s resolution -> ``arrival_s`` **as published**: part 3 starts at
  about 19,440,110 s because it shares part 1's origin, so nothing is rebased. No absolute
  date is published: the manifest's ``origin_utc`` is null.
- ``Session ID`` -> ``session_id`` (empty for API-log rows);
- ``Elapsed time``: submission to final token, s -> ``latency_s`` (not TTFT);
- ``Model`` (``ChatGPT`` = GPT-3.5, ``GPT-4``) -> ``model``;
- ``Request tokens`` / ``Response tokens`` -> ``input_tokens`` / ``output_tokens``;
- ``Response tokens`` = 0 marks a **failed** request: ``status`` is ``failed`` (the row is
  kept, output_tokens 0 as published), otherwise ``ok``;
- ``Log Type``: ``Conversation log`` -> ``kind`` ``conversation``, ``API log`` -> ``api``
  (other values kept verbatim);
- ``Total tokens`` (request + response) -> ``attrs.total_tokens``.

Source: https://github.com/HPMLL/BurstGPT (README; example/profile_server/server.py reads the
columns by name; issue #2 on timestamp resolution). Wang et al., "BurstGPT: A Real-world
Workload Dataset to Optimize LLM Serving Systems", 2024.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from workscope.ingest.files import first_line, head_text, iter_files, plain_file, require_rows
from workscope.ingest.parse import (
    Parsed,
    attrs_json,
    build,
    check_header,
    parse_float,
    parse_int,
    parse_text,
    raw_row,
    scan_text_csv,
    src,
)
from workscope.ingest.reader import Reader, ScanContext, ScanResult, TablePart, flat, one_each
from workscope.ingest.timefmt import origin_meta

V1 = ["Timestamp", "Model", "Request tokens", "Response tokens", "Total tokens", "Log Type"]
V3 = ["Timestamp", "Session ID", "Elapsed time", "Model", "Request tokens", "Response tokens",
      "Total tokens", "Log Type"]
REQUIRED = ["Timestamp", "Model", "Request tokens", "Response tokens", "Log Type"]
KINDS = {"Conversation log": "conversation", "API log": "api"}
_SKIP = (".md", ".txt", ".toml", ".py")


def _header(line: str) -> list[str]:
    return [c.strip().strip('"') for c in line.lstrip("\ufeff").split(",")]


class BurstGPTReader(Reader):
    """BurstGPT v1 (6 columns) and v3 (8 columns, sessions and latency) into ``requests``."""

    name = "burstgpt"
    version = "1"
    description = "BurstGPT LLM traces (Timestamp,[Session ID,Elapsed time,]Model,Request tokens,...)"
    tables = ("requests",)
    doc_url = "https://github.com/HPMLL/BurstGPT"

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            return any(self.sniff(f) for f in sorted(path.glob("*.csv*"))[:3])
        lines = head_text(path, 4096).splitlines()
        if not lines:
            return False
        cols = _header(lines[0])
        # The two published layouts, or any order of the same names (columns are read by name).
        return cols in (V1, V3) or (set(REQUIRED) <= set(cols) and set(cols) <= set(V3))

    split = True

    def select(self, paths: Sequence[Path], options: dict[str, Any] | None = None
               ) -> tuple[list[list[Path]], list[Path]]:
        return one_each([f for f in iter_files(paths)
                         if not f.name.lower().endswith(_SKIP) and not f.name.upper().startswith("LICENSE")]), []

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        files = flat(self.select(paths)[0])
        staged = []
        for f in files:
            plain = plain_file(f, ctx)
            header = _header(first_line(plain, f))
            check_header(header, REQUIRED, f, what="BurstGPT trace")
            require_rows(plain, str(f))
            staged.append((f, plain))

        parts = []
        for f, plain in staged:
            lf, names = scan_text_csv(plain, str(f))
            ts = parse_float(src("Timestamp"), "Timestamp", required=True)
            # Part 3 was written through a float path (timestamps end in ".0"), so whole
            # floats are accepted for counts; "1.5" is still rejected.
            out_tok = parse_int(src("Response tokens"), "Response tokens", required=True,
                                allow_float=True)
            log_type = parse_text(src("Log Type"), "Log Type")
            fields: dict[str, Parsed | pl.Expr] = {
                "arrival_s": ts,
                "model": parse_text(src("Model"), "Model"),
                "input_tokens": parse_int(src("Request tokens"), "Request tokens", required=True,
                                          allow_float=True),
                "output_tokens": out_tok,
                # Zero response tokens is how the trace marks a failed request.
                "status": pl.when(out_tok.value == 0).then(pl.lit("failed"))
                            .when(out_tok.value > 0).then(pl.lit("ok")),
                "kind": log_type.map(lambda v: v.replace(KINDS)),
            }
            if "Session ID" in names:
                fields["session_id"] = parse_text(src("Session ID"), "Session ID")
            if "Elapsed time" in names:
                fields["latency_s"] = parse_float(src("Elapsed time"), "Elapsed time")
            extra: list[pl.Expr] = []
            if "Total tokens" in names:
                total = parse_int(src("Total tokens"), "Total tokens", allow_float=True)
                fields["attrs"] = pl.when(total.value.is_not_null()).then(
                    attrs_json({"total_tokens": total.value}))
                extra.append(total.reason)
            extra.append(pl.when(ts.value < 0).then(pl.lit("Timestamp is negative")))
            parts.append(TablePart(build(lf, fields, extra), raw_row(names), str(f)))

        meta = origin_meta(
            None, assumed_utc=False, resolution_s=1.0,
            note="Timestamp is seconds from 00:00:00 of the trace's first day in the provider's "
                 "local time zone (not named); no absolute date is published; all parts share "
                 "that origin and are kept as published (part 3 starts near 19,440,110 s)",
        )
        return ScanResult({"requests": parts}, files, meta)


READER = BurstGPTReader()
