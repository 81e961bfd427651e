"""Text parsing with reject reasons: header checks with clear errors, reading a delimited file
as text with line numbers, typed parsing that records a reason per row instead of failing,
and the table rules applied on top (:func:`checked`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from workscope.errors import (
    EmptySourceError,
    MissingColumnError,
    SourceError,
    did_you_mean,
)
from workscope.ingest.files import expect_file, first_line, nth_line
from workscope.ingest.reader import EXTRA, FILE, LINE, RAW_PREFIX, REASON


def src(name: str) -> pl.Expr:
    """The raw text column ``name`` of the source, as read by :func:`scan_text_csv`."""
    return pl.col(RAW_PREFIX + name)


def cut(value: str, limit: int = 60) -> str:
    """``value`` shortened to ``limit`` characters for a message (a header field of a file
    without newlines can be a megabyte)."""
    return value if len(value) <= limit else value[: limit - 3] + "..."


def check_header(
    header: Sequence[str],
    required: Iterable[str],
    display: str | Path,
    *,
    separator: str = ",",
    what: str = "",
) -> None:
    """Raise MissingColumnError naming the file and the absent columns."""
    have = set(header)
    missing = [c for c in required if c not in have]
    if not missing:
        return
    hints = [f"{m!r}{did_you_mean(m, header)}" for m in missing]
    detail = ""
    if len(header) == 1 and any(d in header[0] for d in ",;\t|" if d != separator):
        detail = f" (the header is one field {header[0][:60]!r}: wrong delimiter?)"
    shown = [cut(h) for h in list(header)[:20]] + (["..."] if len(header) > 20 else [])
    raise MissingColumnError(
        display,
        f"missing required column(s) {', '.join(hints)}{detail}; header has {shown}",
        line=1,
        hint=f"expected {what or 'a file of this format'}; pass --format to choose another reader",
    )


def scan_text_csv(
    path: Path,
    display: str,
    *,
    columns: Sequence[str] | None = None,
    has_header: bool = True,
    separator: str = ",",
    comment_prefix: str | None = None,
    skip_lines: int = 0,
    quote_char: str | None = '"',
    line_offset: int | None = None,
) -> tuple[pl.LazyFrame, list[str]]:
    """Read a delimited text file with every column as text (prefixed ``~``), plus line numbers.

    Nothing is parsed here, so no value can fail the whole file: typed parsing happens in
    :func:`parse_int`, :func:`parse_float`, ... which record a reason per row instead.
    Returns the frame and the source column names. ``_line`` is the 1-based physical line
    (assuming no quoted newlines); ``line_offset`` overrides the first data line's number.
    """
    expect_file(path)
    if path.stat().st_size == 0:
        raise EmptySourceError(display, "file is empty", line=1,
                               hint="check that the download completed")
    if has_header:
        header_text = first_line(path, display) if not skip_lines else nth_line(path, skip_lines, display)
        names = [h.strip().strip('"') for h in header_text.split(separator)]
        if columns is not None and len(columns) != len(names):
            raise SourceError(display, f"expected {len(columns)} columns, header has {len(names)}",
                              line=skip_lines + 1)
    else:
        if columns is None:
            raise ValueError("columns are required for a header-less file")
        names = list(columns)
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise SourceError(display, f"header repeats column(s) {dup}", line=skip_lines + 1,
                          hint="rename the duplicated columns")
    first = (line_offset if line_offset is not None
             else skip_lines + (2 if has_header else 1))
    # The header is skipped rather than parsed, and one overflow column is declared: a row
    # with too many fields then lands in EXTRA (and is rejected by build) instead of
    # failing the whole file.
    try:
        lf = pl.scan_csv(
            path,
            glob=False,
            has_header=False,
            schema={**{RAW_PREFIX + n: pl.String for n in names}, EXTRA: pl.String},
            separator=separator,
            comment_prefix=comment_prefix,
            skip_lines=skip_lines + (1 if has_header else 0),
            quote_char=quote_char,
            encoding="utf8-lossy",
            empty_string_is_null=True,
            row_index_name=LINE,
            row_index_offset=first,
            missing_columns="insert",
            truncate_ragged_lines=True,
        )
    except pl.exceptions.PolarsError as exc:
        raise SourceError(display, f"cannot read as delimited text: {exc}") from None
    return lf.with_columns(pl.lit(display).alias(FILE), pl.col(LINE).cast(pl.Int64)), names


LINE_SEPARATOR = "\x1f"
"""The delimiter that reads a file one physical line per row: the ASCII unit separator, which
text traces never use (a stray one ends its line's text there; the row is kept)."""


def scan_lines(path: Path, display: str, column: str, *, what: str = "text lines") -> pl.LazyFrame:
    """Each physical line of ``path`` as one text column ``column``, with ``_line`` (1-based).

    Nothing is split or parsed, and blank and comment lines keep their place, so ``_line``
    is the physical line number; the caller parses the text and records reasons.
    """
    try:
        return pl.scan_csv(
            path,
            glob=False,
            has_header=False,
            new_columns=[column],
            separator=LINE_SEPARATOR,
            quote_char=None,
            infer_schema=False,
            encoding="utf8-lossy",
            row_index_name=LINE,
            row_index_offset=1,
            truncate_ragged_lines=True,
        )
    except pl.exceptions.PolarsError as exc:
        raise SourceError(display, f"cannot read as {what}: {exc}") from None


def raw_row(names: Sequence[str], separator: str = ",", extra: bool = True) -> pl.Expr:
    """Expression rebuilding a source row's text from its ``~`` columns.

    With ``extra`` (frames from :func:`scan_text_csv`), the first surplus field of a ragged
    row is appended, so the rejects table shows why it was rejected.
    """
    text = pl.concat_str([src(n).fill_null("") for n in names], separator=separator)
    if not extra:
        return text
    return pl.when(pl.col(EXTRA).is_null()).then(text).otherwise(
        pl.concat_str([text, pl.col(EXTRA)], separator=separator) + pl.lit(separator + "...")
    )


@dataclass
class Parsed:
    """A parsed value and the reason it failed (null when it did not)."""

    value: pl.Expr
    reason: pl.Expr

    def map(self, fn: Callable[[pl.Expr], pl.Expr]) -> Parsed:
        """The value transformed by ``fn`` (seconds from a timestamp, MB from GB...), same reason."""
        return Parsed(fn(self.value), self.reason)


def _parse(text: pl.Expr, value: pl.Expr, label: str, what: str, required: bool) -> Parsed:
    # Reasons are literals: building a message per row (pl.format) would cost as much as the
    # parse itself, and the rejects table keeps the raw row next to the reason anyway.
    # Empty fields arrive as null (scan_text_csv reads them so), which keeps this check cheap.
    failed = pl.when(text.is_not_null() & value.is_null()).then(pl.lit(f"{label}: not {what}"))
    if required:
        failed = pl.when(text.is_null()).then(pl.lit(f"{label} is missing")).otherwise(failed)
    return Parsed(value, failed)


def _prep(raw: pl.Expr, nulls: Sequence[str], strip: bool) -> pl.Expr:
    return _nullify(raw.str.strip_chars() if strip else raw, nulls)


def parse_int(
    raw: pl.Expr, label: str, *, required: bool = False, nulls: Sequence[str] = (),
    allow_float: bool = False, strip: bool = False,
) -> Parsed:
    """Parse text as int64. ``allow_float`` also accepts whole floats ('12.0'), which some
    traces write for counts; '1.5' and 'abc' are always rejected. ``strip`` trims blanks."""
    text = _prep(raw, nulls, strip)
    value = text.cast(pl.Int64, strict=False)
    if allow_float:
        as_float = text.cast(pl.Float64, strict=False)
        whole = pl.when(as_float.is_finite() & (as_float == as_float.floor())
                        & (as_float.abs() < 9.2e18)).then(as_float.cast(pl.Int64, strict=False))
        value = pl.coalesce(value, whole)
    return _parse(text, value, label, "an integer", required)


def parse_float(
    raw: pl.Expr, label: str, *, required: bool = False, nulls: Sequence[str] = (), strip: bool = False,
) -> Parsed:
    """Parse text as float64 ('nan' and 'inf' parse; table rules reject them where they matter)."""
    text = _prep(raw, nulls, strip)
    return _parse(text, text.cast(pl.Float64, strict=False), label, "a number", required)


NS_YEAR_RANGE = (1678, 2261)
"""The whole years a nanosecond timestamp (int64) holds: 1677-09-21 .. 2262-04-11."""

NS_YEARS = f"{NS_YEAR_RANGE[0]}..{NS_YEAR_RANGE[1]}"

_NS_LIMIT_US = (2**63 - 1) // 1000


def strptime_ns(text: pl.Expr, fmt: str | None, time_zone: str | None = None) -> tuple[pl.Expr, pl.Expr]:
    """Text as a datetime (ns), and a flag for text that is a valid time a nanosecond
    timestamp cannot hold (the value is then null).

    polars wraps such times around silently (``2300-01-01`` reads as ``1715-06-13``). Where
    the format starts with the year (``%Y``, ISO 8601), the text's year must be within
    :data:`NS_YEAR_RANGE`; otherwise the text is parsed a second time at microseconds
    (±290,000 years) and the time must fit.
    """
    value = text.str.strptime(pl.Datetime("ns", time_zone), fmt, strict=False, exact=True)
    if fmt is None or fmt.startswith("%Y"):
        # The year leads the text: judge it there, from the text alone. Twenty times cheaper
        # than a second parse, and polars computes the parse once only when the reasons built
        # on this flag do not refer to the parsed value.
        year = text.str.slice(0, 4).cast(pl.Int32, strict=False)
        overflow = year.is_not_null() & ~year.is_between(*NS_YEAR_RANGE)
    else:
        wide = text.str.strptime(pl.Datetime("us", time_zone), fmt, strict=False, exact=True)
        overflow = wide.is_not_null() & ~wide.dt.timestamp("us").is_between(-_NS_LIMIT_US, _NS_LIMIT_US)
    return pl.when(~overflow).then(value), overflow


def parse_datetime(
    raw: pl.Expr, label: str, fmt: str | None, *, required: bool = False,
    time_zone: str | None = None, strip: bool = False,
) -> Parsed:
    """Parse text as a datetime (ns) with a strptime format; unparseable text, and times
    outside the years a nanosecond timestamp holds, get a reason."""
    text = raw.str.strip_chars() if strip else raw
    value, overflow = strptime_ns(text, fmt, time_zone)
    parsed = _parse(text, value, label, f"a timestamp ({fmt or 'ISO 8601'})", required)
    return Parsed(value, pl.when(overflow).then(pl.lit(f"{label}: a time outside the years {NS_YEARS}"))
                  .otherwise(parsed.reason))


def parse_json_list(raw: pl.Expr, label: str, dtype: pl.DataType, pattern: str, what: str, *,
                    required: bool = False) -> Parsed:
    """Parse compact JSON list text into ``list<dtype>``; text that does not match ``pattern``
    (checked before decoding, so one odd row cannot fail the batch) gets ``<label>: not <what>``."""
    ok = raw.str.contains(pattern)
    value = pl.when(ok).then(raw).str.json_decode(pl.List(dtype))
    reason = pl.when(raw.is_not_null() & ~ok).then(pl.lit(f"{label}: not {what}"))
    if required:
        reason = pl.when(raw.is_null()).then(pl.lit(f"{label} is missing")).otherwise(reason)
    return Parsed(value, reason)


def parse_text(
    raw: pl.Expr, label: str, *, required: bool = False, nulls: Sequence[str] = (), strip: bool = True,
) -> Parsed:
    """Keep text (trimmed); reject replacement characters (the source held invalid UTF-8)."""
    text = _prep(raw, nulls, strip)
    bad = pl.when(text.str.contains("\ufffd", literal=True)).then(
        pl.lit(f"{label}: invalid UTF-8 bytes")
    )
    if required:
        bad = pl.when(text.is_null() | (text == "")).then(pl.lit(f"{label} is missing")).otherwise(bad)
    return Parsed(pl.when(text != "").then(text), bad)


def _nullify(text: pl.Expr, nulls: Sequence[str]) -> pl.Expr:
    if not nulls:
        return text
    return pl.when(text.is_in(list(nulls))).then(pl.lit(None, pl.String)).otherwise(text)


def first_reason(*reasons: pl.Expr) -> pl.Expr:
    """The first non-null reason of a row."""
    return pl.coalesce(list(reasons)) if reasons else pl.lit(None, pl.String)


def build(frame: pl.LazyFrame, fields: dict[str, Parsed | pl.Expr], extra_reasons: Sequence[pl.Expr] = ()) -> pl.LazyFrame:
    """Add the parsed canonical columns and ``_reason`` to a raw frame.

    ``fields`` maps canonical column names to Parsed results (value + reason) or plain
    expressions. The raw ``~`` columns stay so that rejected rows can be rebuilt.
    """
    values: list[pl.Expr] = []
    reasons: list[pl.Expr] = []
    if EXTRA in frame.collect_schema():
        reasons.append(pl.when(pl.col(EXTRA).is_not_null()).then(pl.lit("row has more fields than the header")))
    else:
        # raw_row() reads EXTRA; frames not made by scan_text_csv get a null one.
        frame = frame.with_columns(pl.lit(None, pl.String).alias(EXTRA))
    for name, p in fields.items():
        if isinstance(p, Parsed):
            values.append(p.value.alias(name))
            reasons.append(p.reason)
        else:
            values.append(p.alias(name))
    reasons.extend(extra_reasons)
    return frame.with_columns(*values, first_reason(*reasons).alias(REASON))


def attrs_json(fields: dict[str, pl.Expr]) -> pl.Expr:
    """A JSON object string from named expressions (nulls omitted by keeping them null)."""
    return pl.struct(**fields).struct.json_encode()


def checked(table: str, frame: pl.LazyFrame, keep: Sequence[str] = (),
            bounds: Mapping[str, tuple[float, float]] | None = None) -> pl.LazyFrame:
    """Canonical columns of ``table`` plus ``keep``, with ``_reason`` = parse failure or broken rule.

    Rules run on the conformed columns, so rows broken by parsing and rows breaking a table
    rule share one reason column (the parse failure wins: it is the first cause). ``bounds``
    overrides the plausibility bounds of :data:`workscope.schemas.PLAUSIBLE`.
    """
    from workscope.schemas import TABLES, conform_exprs

    have = frame.collect_schema()
    reason = pl.col(REASON) if REASON in have else pl.lit(None, pl.String)
    extra = [pl.col(c) for c in keep if c in have and c != REASON]
    out = frame.select(*conform_exprs(table, have), *extra, reason.alias(REASON))
    present = {c.name for c in TABLES[table].columns if c.name in have}
    rules = TABLES[table].reason(present, bounds)
    return out.with_columns(pl.coalesce(pl.col(REASON), rules).alias(REASON))
