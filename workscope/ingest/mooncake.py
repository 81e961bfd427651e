"""Mooncake request traces (kvcache-ai/Mooncake, FAST'25 release and the earlier arXiv trace).

Files: ``FAST25-release/traces/{conversation,toolagent,synthetic}_trace.jsonl`` and the
historical ``mooncake_trace.jsonl`` (July 2024). JSON Lines, one compact object per line, keys
in this order::

    {"timestamp": 0, "input_length": 6758, "output_length": 500, "hash_ids": [0, 1, 2, ...]}

- ``timestamp``: int, arrival in **milliseconds** since the start of the trace (first record
  0); ``arrival_s = timestamp / 1000``. The trace publishes no wall-clock origin, so the
  manifest's ``origin_utc`` is null and times are kept as published (not rebased).
- ``input_length`` / ``output_length``: tokens -> ``input_tokens`` / ``output_tokens``.
- ``hash_ids``: remapped prefix block hashes, one per **512-token** block (manifest
  ``hash_block_tokens = 512``); equal leading ids mean a reusable prefix KV cache.

``kind`` is ``conversation``, ``toolagent`` or ``synthetic`` from the file name (null for the
arXiv trace). Conversation timestamps are coarse (about a 3 s grid) with many ties: file order
is kept. Keys other than the four above (none are published) go into ``attrs`` as text when
they appear in the file's first record.

Each line is read as text and decoded on its own, so a malformed line becomes a reject with
its line number instead of failing the file. The documentation shows records pretty-printed
over several lines; such a file is refused with a clear error (the real files are compact).

Source: https://github.com/kvcache-ai/Mooncake/tree/main/FAST25-release (Apache-2.0);
Qin et al., "Mooncake: Trading More Storage for Less Computation", FAST 2025.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from workscope.ingest._jsonl import (
    check_keys,
    extra_attrs,
    first_json_record,
    json_field,
    nonneg_reason,
    not_json_reason,
    parse_int_list,
    raw_line,
    scan_json_lines,
    sniff_json_keys,
    source_files,
)
from workscope.ingest.files import plain_file
from workscope.ingest.parse import Parsed, build, parse_float, parse_int
from workscope.ingest.reader import REASON, Reader, ScanContext, ScanResult, TablePart, flat, one_each
from workscope.ingest.timefmt import origin_meta
from workscope.numeric import exact_div

KEYS = ("timestamp", "input_length", "output_length", "hash_ids")
BLOCK_TOKENS = 512


def kind_from_name(path: Path, kinds: Sequence[str]) -> str | None:
    """The first of ``kinds`` that occurs in the file name (lower-cased), or None."""
    low = path.name.lower()
    return next((k for k in kinds if k in low), None)



# ---------------------------------------------------------------- the reader


class MooncakeReader(Reader):
    """Mooncake FAST'25 / arXiv request traces (JSONL, ms, 512-token hash blocks) into ``requests``."""

    name = "mooncake"
    version = "1"
    description = "Mooncake FAST'25 traces (JSONL: timestamp ms, input_length, output_length, hash_ids/512 tokens)"
    tables = ("requests",)
    doc_url = "https://github.com/kvcache-ai/Mooncake/blob/main/FAST25-release/README.md"

    def sniff(self, path: Path) -> bool:
        return sniff_json_keys(path, must=("timestamp", "input_length", "output_length"),
                               never=("chat_id", "parent_chat_id"), late=("hash_ids",))

    split = True

    def select(self, paths: Sequence[Path], options: dict[str, Any] | None = None
               ) -> tuple[list[list[Path]], list[Path]]:
        return one_each(source_files(paths)), []

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        files = flat(self.select(paths)[0])
        staged = []
        for f in files:
            plain = plain_file(f, ctx)
            record, number = first_json_record(plain, f, what="Mooncake trace")
            check_keys(record, KEYS, f, number, what="Mooncake trace")
            staged.append((f, plain, record))

        parts = []
        for f, plain, record in staged:
            lf = scan_json_lines(plain, str(f))
            ts = parse_float(json_field("timestamp"), "timestamp", required=True)
            fields: dict[str, Parsed | pl.Expr] = {
                "arrival_s": ts.map(lambda v: exact_div(v, 1000.0)),
                "input_tokens": parse_int(json_field("input_length"), "input_length", required=True),
                "output_tokens": parse_int(json_field("output_length"), "output_length", required=True),
                "hash_ids": parse_int_list(json_field("hash_ids"), "hash_ids", required=True),
                "kind": pl.lit(kind_from_name(f, ("conversation", "toolagent", "synthetic")), pl.String),
            }
            attrs = extra_attrs(record, KEYS)
            if attrs is not None:
                fields["attrs"] = attrs
            frame = build(lf, fields, extra_reasons=[nonneg_reason(ts, "timestamp")])
            # A line that is not JSON has every field null; say so instead of "timestamp is missing".
            frame = frame.with_columns(pl.coalesce(not_json_reason(), pl.col(REASON)).alias(REASON))
            parts.append(TablePart(frame, raw_line(), str(f)))

        meta = origin_meta(None, assumed_utc=False, resolution_s=1e-3,
                           note="timestamps are ms since the start of each trace file; no wall-clock "
                                "origin is published")
        meta["hash_block_tokens"] = BLOCK_TOKENS
        return ScanResult({"requests": parts}, files, meta)


READER = MooncakeReader()
