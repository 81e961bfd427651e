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

import io
import json
import math
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


REC = "_rec"
"""Column of :func:`stage_json_records`: each line decoded into the caller's struct."""

WHY = "_why"
"""Column of :func:`stage_json_records`: why a line could not be decoded (null when it could)."""

NOT_AN_OBJECT = "line is not a JSON object"


_LEAVES = {int: pl.Int64(), float: pl.Float64(), str: pl.String()}


def json_shape(spec: dict[str, Any]) -> pl.Struct:
    """A struct type from a nested dict of field names: ``int``, ``float`` and ``str`` leaves,
    ``[float]`` for a list, a dict for a nested object.

    Decoding is strict (a record whose ``int`` field holds ``1.5``, ``true`` or ``"7"`` does not
    fit, and :func:`misfit` names the field), except that a ``str`` leaf takes any JSON value,
    a number or an object as its JSON text.
    """
    def one(v: Any) -> pl.DataType:
        if isinstance(v, list):
            return pl.List(one(v[0]))
        if isinstance(v, dict):
            return pl.Struct({k: one(x) for k, x in v.items()})
        return _LEAVES[v]

    return pl.Struct({k: one(v) for k, v in spec.items()})


STAGE_BLOCK_BYTES = 16 << 20
"""Bytes of JSON Lines decoded per call when staging (:func:`stage_json_records`)."""


def stage_json_records(path: Path, display: str, shape: pl.Struct, out: Path) -> pl.LazyFrame:
    """Decode each non-blank line of ``path`` once into ``shape``, staged as Parquet in ``out``.

    Returns a frame with ``_file``, ``_line`` (physical, 1-based), ``_rec`` (the decoded
    struct, null for a line that is not a JSON object fitting ``shape``), ``_why`` (the reason
    for such a line) and ``~line`` (the raw text of such a line; null for a decoded one, whose
    text the rejects table takes from the file: see ``TablePart.source_lines``).

    One parse per line, where a JSONPath per field parses each line once per field: the file
    is read in blocks of whole lines (:data:`STAGE_BLOCK_BYTES`), each decoded by the NDJSON
    reader in one call; only a block holding a bad or blank line is taken apart line by line.
    Memory stays at about one block (the NDJSON scan of a whole file holds it all).
    """
    out.mkdir(parents=True, exist_ok=True)
    first, k = 1, 0
    with open(path, "rb") as fh:
        while data := fh.read(STAGE_BLOCK_BYTES):
            cut = data.rfind(b"\n") + 1
            if cut == 0 and len(data) == STAGE_BLOCK_BYTES:
                # a line longer than a block (plain_file bounds its length): read it whole
                data += fh.readline()
                cut = len(data)
            elif 0 < cut < len(data) and len(data) == STAGE_BLOCK_BYTES:
                fh.seek(cut - len(data), io.SEEK_CUR)  # the cut line starts the next block
                data = data[:cut]
            lines = data.count(b"\n") + (not data.endswith(b"\n"))
            _decode_block(data, first, lines, shape).write_parquet(out / f"{k:06d}.parquet", compression="lz4")
            first, k = first + lines, k + 1
    if k == 0:
        _decode_block(b"", 1, 0, shape).write_parquet(out / f"{k:06d}.parquet")
    return pl.scan_parquet(out / "*.parquet").with_columns(pl.lit(display).alias(FILE))


def _decode_block(block: bytes, first: int, lines: int, shape: pl.Struct) -> pl.DataFrame:
    """One block of whole lines, numbered from ``first``, as the staged columns."""
    raw_col = RAW_PREFIX + LINE_COL
    try:
        rec = pl.read_ndjson(io.BytesIO(block), schema=dict(shape.to_schema())) if block else None
    except pl.exceptions.PolarsError:
        rec = None
    if rec is not None and rec.height == lines:  # every line a record (the reader skips blanks)
        return pl.DataFrame({
            LINE: pl.int_range(first, first + lines, dtype=pl.Int64, eager=True),
            REC: rec.to_struct(REC),
            WHY: pl.Series([None] * lines, dtype=pl.String),
            raw_col: pl.Series([None] * lines, dtype=pl.String),
        })
    numbers, texts, whys = [], [], []
    for i, raw in enumerate(block.split(b"\n")[:lines]):
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        if first + i == 1:
            text = text.lstrip("\ufeff")
        if not text.strip():
            continue  # a blank line holds no record
        try:
            obj = _strict_json(text)
        except ValueError:
            obj = None
        numbers.append(first + i)
        texts.append(text)
        whys.append(NOT_AN_OBJECT if not isinstance(obj, dict) else misfit(obj, shape))
    rec_s = _read_lines([None if w else t for t, w in zip(texts, whys, strict=True)], shape, whys)
    return pl.DataFrame({
        LINE: pl.Series(numbers, dtype=pl.Int64),
        REC: rec_s,
        WHY: pl.Series(whys, dtype=pl.String),
        raw_col: pl.Series([t if w else None for t, w in zip(texts, whys, strict=True)], dtype=pl.String),
    })


def record_field(dotted: str) -> pl.Expr:
    """A field of ``_rec`` by its dotted path (``metadata.request_start_ns``)."""
    expr = pl.col(REC)
    for part in dotted.split("."):
        expr = expr.struct.field(part)
    return expr


def _strict_json(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(name)
    # NaN / Infinity are not JSON, and the vectorised decoder refuses them too.
    return json.loads(text, parse_constant=refuse)


def _finite_number(value: Any) -> bool:
    """A JSON number a float64 holds (``1e400`` and a 400-digit integer do not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def misfit(value: Any, dtype: pl.DataType, path: str = "") -> str | None:
    """Why a decoded JSON value does not fit ``dtype`` (see :func:`json_shape`), as a reject
    reason naming the field (``metadata.request_start_ns: not an integer``); None if it fits."""
    if value is None:
        return None
    where = path or "the record"
    if isinstance(dtype, pl.Struct):
        if not isinstance(value, dict):
            return f"{where}: not an object"
        for f in dtype.fields:
            why = misfit(value.get(f.name), f.dtype, f"{path}.{f.name}" if path else f.name)
            if why:
                return why
        return None
    if isinstance(dtype, pl.List):
        inner = dtype.inner
        if not isinstance(value, list) or any(misfit(v, inner, where) for v in value):
            return f"{where}: not a list of {'numbers' if inner.is_numeric() else 'values'}"
        return None
    if dtype == pl.Int64:
        ok = isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63
        return None if ok else f"{where}: not an integer"
    if dtype == pl.Float64:
        return None if _finite_number(value) else f"{where}: not a number"
    return None  # a text leaf takes any value


def _read_ndjson(lines: list[str], shape: pl.Struct) -> pl.Series | None:
    """Lines decoded by the NDJSON reader, or None when one of them fails it."""
    try:
        frame = pl.read_ndjson(io.BytesIO("\n".join(lines).encode()), schema=dict(shape.to_schema()))
    except pl.exceptions.PolarsError:
        return None
    # The reader skips blank lines; callers drop them first, so a short frame is a surprise.
    return frame.to_struct(REC) if frame.height == len(lines) else None


def _read_lines(lines: list[str | None], shape: pl.Struct, whys: list[str | None]) -> pl.Series:
    """Lines (None for a line already rejected) decoded into ``shape``: all at once when
    they pass, else line by line, a line the reader refuses getting a reason in ``whys``."""
    good = [v for v in lines if v is not None]
    rec = _read_ndjson(good, shape) if good else None
    if rec is not None:
        it = iter(rec.to_list())
        return pl.Series([next(it) if v is not None else None for v in lines], dtype=shape)
    vals: list[Any] = []
    for i, v in enumerate(lines):
        one = _read_ndjson([v], shape) if v is not None else None
        if v is not None and one is None:  # a quirk the Python check does not know
            whys[i] = "a value has a JSON type the reader cannot hold"
        vals.append(one[0] if one is not None else None)
    return pl.Series(vals, dtype=shape)
