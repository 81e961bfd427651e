"""Sources with one JSON text per row: JSON Lines files and re-encoded JSON arrays.

Every line is read as text and decoded on its own, so a malformed line becomes a reject with
its line number instead of failing the file. Two ways are offered: :func:`scan_json_lines` with
:func:`json_field` pulls single fields out of each line by JSONPath (the Mooncake and
Qwen-Bailian request traces), and :func:`decode_lines` decodes each row into an explicit struct
type (the Google 2019 shards, the Philly job array). The first-record checks
(:func:`first_json_record`, :func:`check_keys`) refuse a file that is not JSON Lines at all
with a clear error before anything is scanned.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from workscope.errors import EmptySourceError, MissingColumnError, SourceError, did_you_mean
from workscope.ingest.files import head_bytes, iter_files
from workscope.ingest.parse import Parsed, attrs_json, parse_json_list, scan_lines
from workscope.ingest.reader import FILE, LINE, RAW_PREFIX

LINE_COL = "line"
"""Name of the single raw text column of a JSON Lines source (``~line``)."""

_OBJ = "_obj"
# hash_ids as normalised by json_path_match: compact, integers only, int64-safe (<= 18 digits).
_INT_LIST_RE = r"^\[(-?\d{1,18}(,-?\d{1,18})*)?\]$"
_DOC_NAMES = (".md", ".txt", ".toml", ".py")
_MAX_LINE = 1 << 24


def source_files(paths: Sequence[Path]) -> list[Path]:
    """Data files under ``paths``: documentation and licence files of a folder are skipped."""
    return [f for f in iter_files(paths)
            if not f.name.lower().endswith(_DOC_NAMES)
            and not f.name.upper().startswith(("LICENSE", "COPYING"))]


def first_json_record(path: Path, display: str | Path, *, what: str,
                      max_lines: int = 20) -> tuple[dict[str, Any], int]:
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
    lf = scan_lines(path, display, RAW_PREFIX + LINE_COL, what="JSON Lines")
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
    return parse_json_list(raw, label, pl.Int64(), _INT_LIST_RE, "a list of integers", required=required)


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


def decode_lines(text: pl.Expr, dtype: pl.Struct) -> pl.Expr:
    """Decode one JSON object per row into ``dtype``; rows that cannot be decoded become null.

    The vectorised decoder fails a whole batch on one bad line, so a failing batch is decoded
    again with the bad lines (invalid JSON, not an object, a type the struct cannot hold)
    masked out. Runs batch by batch, so streaming is kept.
    """

    def run(s: pl.Series) -> pl.Series:
        try:
            return s.str.json_decode(dtype)
        except pl.exceptions.PolarsError:
            pass
        keep = []
        for v in s.to_list():
            ok = False
            if v is not None:
                try:
                    ok = isinstance(json.loads(v), dict)
                except ValueError:
                    ok = False
            keep.append(v if ok else None)
        masked = pl.Series(s.name, keep, dtype=pl.String)
        try:
            return masked.str.json_decode(dtype)
        except pl.exceptions.PolarsError:
            pass
        out = []
        for v in keep:
            try:
                out.append(pl.Series([v], dtype=pl.String).str.json_decode(dtype)[0] if v else None)
            except pl.exceptions.PolarsError:
                out.append(None)
        return pl.Series(s.name, out, dtype=dtype)

    return text.map_batches(run, return_dtype=dtype, is_elementwise=True)
