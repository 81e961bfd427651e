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

The JSON Lines helpers here (:func:`scan_json_lines`, :func:`json_field`, :func:`parse_int_list`,
:func:`first_json_record`, :func:`check_keys`, ...) are shared with the Qwen-Bailian reader.

Source: https://github.com/kvcache-ai/Mooncake/tree/main/FAST25-release (Apache-2.0);
Qin et al., "Mooncake: Trading More Storage for Less Computation", FAST 2025.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from workscope.errors import EmptySourceError, MissingColumnError, SourceError, did_you_mean
from workscope.ingest.files import head_bytes, iter_files, plain_file
from workscope.ingest.parse import Parsed, attrs_json, build, parse_float, parse_int
from workscope.ingest.reader import (
    FILE,
    LINE,
    RAW_PREFIX,
    REASON,
    Reader,
    ScanContext,
    ScanResult,
    TablePart,
)
from workscope.ingest.timefmt import origin_meta
from workscope.numeric import exact_div

LINE_COL = "line"
"""Name of the single raw text column of a JSON Lines source (``~line``)."""

_OBJ = "_obj"
# A separator byte that cannot occur unescaped in valid JSON, so each physical line is one field.
_NO_SEP = "\x1f"
# hash_ids as normalised by json_path_match: compact, integers only, int64-safe (<= 18 digits).
_INT_LIST_RE = r"^\[(-?\d{1,18}(,-?\d{1,18})*)?\]$"

KEYS = ("timestamp", "input_length", "output_length", "hash_ids")
BLOCK_TOKENS = 512
_DOC_NAMES = (".md", ".txt", ".toml", ".py")
_MAX_LINE = 1 << 24


# ---------------------------------------------------------------- JSON Lines helpers


def source_files(paths: Sequence[Path]) -> list[Path]:
    """Data files under ``paths``: documentation and licence files of a folder are skipped."""
    return [f for f in iter_files(paths)
            if not f.name.lower().endswith(_DOC_NAMES) and not f.name.upper().startswith(("LICENSE", "COPYING"))]


def first_json_record(path: Path, display: str | Path, *, what: str, max_lines: int = 20) -> tuple[dict[str, Any], int]:
    """The first JSON object of a JSON Lines file and its line number.

    Raises EmptySourceError for an empty (or blank) file, and SourceError when the file is a
    JSON array or pretty-printed JSON (records over several lines) or when none of the first
    ``max_lines`` non-blank lines is a JSON object. Lines after the first object are checked
    per row later, so a single bad line early on does not refuse the file.
    """
    seen = 0
    with open(path, "rb") as fh:
        for number in range(1, max_lines * 50):
            # Bounded: a whole file written as one line (a JSON array) must not fill memory.
            raw = fh.readline(_MAX_LINE)
            if not raw:
                break
            text = raw.decode("utf-8", errors="replace").strip().lstrip("\ufeff")
            if not text:
                continue
            seen += 1
            if seen == 1 and text in ("{", "["):
                raise SourceError(display, "records span several lines (pretty-printed JSON); "
                                  f"a {what} has one JSON object per line", line=number,
                                  hint="convert it to JSON Lines, e.g. `jq -c '.' FILE > FILE.jsonl`")
            if seen == 1 and text.startswith("["):
                raise SourceError(display, f"is a JSON array; a {what} has one JSON object per line",
                                  line=number, hint="convert it to JSON Lines, e.g. `jq -c '.[]'`")
            try:
                record = json.loads(text)
            except ValueError:
                record = None
            if isinstance(record, dict):
                return record, number
            if seen >= max_lines:
                break
    if seen == 0:
        raise EmptySourceError(display, "file is empty (no JSON lines)", line=1,
                               hint="check that the download completed")
    raise SourceError(display, f"none of the first {seen} lines is a JSON object; not JSON Lines",
                      line=1, hint=f"is this a {what}? pass --format to choose another reader")


def check_keys(record: dict[str, Any], required: Sequence[str], display: str | Path, line: int,
               *, what: str) -> None:
    """Raise MissingColumnError when the first record lacks keys the format always has."""
    missing = [k for k in required if k not in record]
    if missing:
        hints = ", ".join(f"{k!r}{did_you_mean(k, record)}" for k in missing)
        raise MissingColumnError(display, f"missing required key(s) {hints} in the first record; "
                                 f"it has {list(record)[:20]}", line=line,
                                 hint=f"is this a {what}? pass --format to choose another reader")


def scan_json_lines(path: Path, display: str) -> pl.LazyFrame:
    """Each physical line of ``path`` as text (``~line``) with ``_file`` and ``_line``.

    Blank lines are dropped (they hold no record); every other line becomes a row, and
    ``_obj`` holds its compact JSON text when it is a JSON object, null otherwise, so a
    malformed line is rejected on its own rather than failing the file.
    """
    try:
        lf = pl.scan_csv(
            path,
            has_header=False,
            new_columns=[RAW_PREFIX + LINE_COL],
            separator=_NO_SEP,
            quote_char=None,
            infer_schema=False,
            encoding="utf8-lossy",
            row_index_name=LINE,
            row_index_offset=1,
            # A stray separator byte is invalid JSON anyway: keep the line so it is rejected.
            truncate_ragged_lines=True,
        )
    except pl.exceptions.PolarsError as exc:
        raise SourceError(display, f"cannot read as JSON Lines: {exc}") from None
    text = pl.col(RAW_PREFIX + LINE_COL).str.strip_chars_end("\r")
    obj = text.str.json_path_match("$")
    return (
        lf.with_columns(text.alias(RAW_PREFIX + LINE_COL))
        .filter(pl.col(RAW_PREFIX + LINE_COL).str.strip_chars().str.len_chars() > 0)
        .with_columns(
            pl.when(obj.str.starts_with("{")).then(obj).alias(_OBJ),
            pl.lit(display).alias(FILE),
            pl.col(LINE).cast(pl.Int64),
        )
    )


def json_field(key: str) -> pl.Expr:
    """The value of top-level ``key`` as text (numbers normalised, strings unquoted), or null."""
    path = f"$.{key}" if key.isidentifier() else f"$['{key}']"
    return pl.col(_OBJ).str.json_path_match(path)


def not_json_reason() -> pl.Expr:
    """Reason for a line that is not a JSON object (null for a good line)."""
    # A literal: the rejects table keeps the raw line beside the reason.
    return pl.when(pl.col(_OBJ).is_null()).then(pl.lit("line is not a JSON object"))


def raw_line() -> pl.Expr:
    """The raw text of a JSON Lines row, for the rejects table."""
    return pl.col(RAW_PREFIX + LINE_COL)


def parse_int_list(raw: pl.Expr, label: str, *, required: bool = False) -> Parsed:
    """Parse a JSON list of integers (``[1, 2, 3]``, as normalised text) into list<int64>."""
    ok = raw.str.contains(_INT_LIST_RE)
    value = pl.when(ok).then(raw).str.json_decode(pl.List(pl.Int64))
    reason = pl.when(raw.is_not_null() & ~ok).then(pl.lit(f"{label}: not a list of integers"))
    if required:
        reason = pl.when(raw.is_null()).then(pl.lit(f"{label} is missing")).otherwise(reason)
    return Parsed(value, reason)


def nonneg_reason(parsed: Parsed, label: str) -> pl.Expr:
    """Reason for a negative parsed number (a time before the trace's start, say)."""
    return pl.when(parsed.value < 0).then(pl.lit(f"{label} is negative"))


def extra_attrs(record: dict[str, Any], known: Sequence[str]) -> pl.Expr | None:
    """``attrs`` holding the record's unknown keys as text, or None if it has none."""
    # Keys that cannot be written in a JSONPath bracket are left out (none are published).
    extra = [k for k in record if k not in known and not any(c in k for c in "'\\")]
    if not extra:
        return None
    return attrs_json({k: json_field(k) for k in extra})


def kind_from_name(path: Path, kinds: Sequence[str]) -> str | None:
    """The first of ``kinds`` that occurs in the file name (lower-cased), or None."""
    low = path.name.lower()
    return next((k for k in kinds if k in low), None)


def sniff_json_keys(path: Path, must: Sequence[str], never: Sequence[str] = (),
                    late: Sequence[str] = ()) -> bool:
    """Cheap JSON Lines sniff on the first line: keys it must have and keys it must not.

    ``late`` keys (such as a long ``hash_ids`` list written last) are required only when the
    whole first line fits in the sniffed head. A directory is sniffed by its ``*.jsonl*`` files.
    """
    if path.is_dir():
        files = [f for f in sorted(path.glob("*.jsonl*")) if f.is_file()][:3]
        return bool(files) and any(sniff_json_keys(f, must, never, late) for f in files)
    head = head_bytes(path, 65536).decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()
    if not head.startswith("{"):
        return False
    complete = "\n" in head
    first = head.split("\n", 1)[0]
    present = {k for k in (*must, *never, *late) if f'"{k}":' in first.replace('" :', '":')}
    return (all(k in present for k in must) and not any(k in present for k in never)
            and (not complete or all(k in present for k in late)))


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

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        files = source_files(paths)
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
                "arrival_s": Parsed(exact_div(ts.value, 1000.0), ts.reason),
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
