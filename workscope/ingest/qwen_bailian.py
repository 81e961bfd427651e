"""Qwen-Bailian usage traces (alibaba-edu/qwen-bailian-usagetraces-anon).

Files: ``qwen_traceA_blksz_16.jsonl`` (to-C chat), ``qwen_traceB_blksz_16.jsonl`` (to-B API
task automation), ``qwen_thinking_blksz_16.jsonl`` (reasoning), ``qwen_coder_blksz_16.jsonl``
(code generation); each a two-hour sample of one Qwen serving cluster. JSON Lines, one
request per line, keys (README order) ``chat_id, parent_chat_id, timestamp, input_length,
output_length, type, turn, hash_ids``.

Mapping into ``requests``:

- ``chat_id`` (int) -> ``request_id`` (as text);
- ``parent_chat_id`` (int, **-1** for a root request) -> ``parent_id`` (null for roots);
- ``timestamp``: seconds since the start of the file (3 decimals) -> ``arrival_s`` as
  published; no wall-clock origin is published, so the manifest's ``origin_utc`` is null;
- ``input_length`` / ``output_length`` -> ``input_tokens`` / ``output_tokens``;
- ``type`` (``text``, ``search``, ``image``, ``file``; ``api`` in trace B) -> ``kind``;
- ``turn`` (1 = first) -> ``turn``;
- ``hash_ids``: salted SipHash of each **16-token** block, remapped to integers. The block
  size is taken from the file name (``blksz_16``; 16 when absent) into the manifest's
  ``hash_block_tokens``.

``session_id`` stays null: a session is the tree reachable through ``parent_chat_id`` and the
source stores no session key (a parent may also fall outside the two-hour sample). Unknown
keys found in a file's first record go into ``attrs`` as text. A malformed line is rejected
with its line number; the file goes on.

Source: https://github.com/alibaba-edu/qwen-bailian-usagetraces-anon (Apache-2.0).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from workscope.errors import SourceError
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
from workscope.ingest.parse import Parsed, build, parse_float, parse_int, parse_text
from workscope.ingest.reader import REASON, Reader, ScanContext, ScanResult, TablePart, flat, one_each
from workscope.ingest.timefmt import origin_meta

KEYS = ("chat_id", "parent_chat_id", "timestamp", "input_length", "output_length", "type", "turn",
        "hash_ids")
REQUIRED = ("chat_id", "parent_chat_id", "timestamp", "input_length", "output_length", "hash_ids")
DEFAULT_BLOCK_TOKENS = 16
ROOT_PARENT = -1
_BLKSZ = re.compile(r"blksz_(\d+)", re.IGNORECASE)


def block_tokens(path: Path) -> int:
    """Hash block size in tokens from a file name such as ``qwen_traceA_blksz_16.jsonl``."""
    m = _BLKSZ.search(path.name)
    return int(m.group(1)) if m else DEFAULT_BLOCK_TOKENS


class QwenBailianReader(Reader):
    """Qwen-Bailian usage traces (JSONL, chat trees, 16-token hash blocks) into ``requests``."""

    name = "qwen_bailian"
    version = "1"
    description = "Qwen-Bailian usage traces (JSONL: chat_id, parent_chat_id, timestamp s, hash_ids/16 tokens)"
    tables = ("requests",)
    doc_url = "https://github.com/alibaba-edu/qwen-bailian-usagetraces-anon"

    def sniff(self, path: Path) -> bool:
        return sniff_json_keys(path, must=("chat_id", "parent_chat_id", "timestamp"), late=("hash_ids",))

    split = True

    def select(self, paths: Sequence[Path], options: dict[str, Any] | None = None
               ) -> tuple[list[list[Path]], list[Path]]:
        files = source_files(paths)
        # Checked here, on the names, so that an ingest reading each file alone refuses it too.
        blocks = {block_tokens(f) for f in files}
        if len(blocks) > 1:
            raise SourceError(files[0], f"files mix hash block sizes {sorted(blocks)} (from their "
                              "names); hash_ids of different block sizes cannot share a trace",
                              hint="ingest each block size as its own trace")
        return one_each(files), []

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        files = flat(self.select(paths)[0])
        staged = []
        for f in files:
            plain = plain_file(f, ctx)
            record, number = first_json_record(plain, f, what="Qwen-Bailian trace")
            check_keys(record, REQUIRED, f, number, what="Qwen-Bailian trace")
            staged.append((f, plain, record))

        blocks = {block_tokens(f) for f in files}

        parts = []
        for f, plain, record in staged:
            lf = scan_json_lines(plain, str(f))
            ts = parse_float(json_field("timestamp"), "timestamp", required=True)
            chat = parse_int(json_field("chat_id"), "chat_id", required=True)
            parent = parse_int(json_field("parent_chat_id"), "parent_chat_id", required=True)
            fields: dict[str, Parsed | pl.Expr] = {
                "arrival_s": ts,
                "request_id": chat.map(lambda v: v.cast(pl.String)),
                # -1 marks a root request: it has no parent.
                "parent_id": Parsed(
                    pl.when(parent.value != ROOT_PARENT).then(parent.value.cast(pl.String)),
                    parent.reason),
                "turn": parse_int(json_field("turn"), "turn"),
                "input_tokens": parse_int(json_field("input_length"), "input_length", required=True),
                "output_tokens": parse_int(json_field("output_length"), "output_length", required=True),
                "hash_ids": parse_int_list(json_field("hash_ids"), "hash_ids", required=True),
                "kind": parse_text(json_field("type"), "type"),
            }
            attrs = extra_attrs(record, KEYS)
            if attrs is not None:
                fields["attrs"] = attrs
            bad_parent = pl.when((parent.value < 0) & (parent.value != ROOT_PARENT)).then(
                pl.lit("parent_chat_id is negative but not -1 (root)"))
            frame = build(lf, fields, extra_reasons=[nonneg_reason(ts, "timestamp"), bad_parent])
            frame = frame.with_columns(pl.coalesce(not_json_reason(), pl.col(REASON)).alias(REASON))
            parts.append(TablePart(frame, raw_line(), str(f)))

        meta = origin_meta(None, assumed_utc=False, resolution_s=1e-3,
                           note="timestamps are seconds since the start of each file; no wall-clock "
                                "origin is published")
        meta["hash_block_tokens"] = blocks.pop() if blocks else DEFAULT_BLOCK_TOKENS
        meta["session_rule"] = "a session is the tree reachable through parent_id; turn orders it"
        return ScanResult({"requests": parts}, files, meta)


READER = QwenBailianReader()
