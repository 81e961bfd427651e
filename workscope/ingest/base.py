"""What every reader is made of: the Reader base class, the scan context, and helpers.

A reader turns source files into lazy polars frames, one list of *parts* per canonical table.
Each part carries:

- the canonical columns it can fill (others are filled with nulls by the store),
- ``_file`` and ``_line``: where each row came from,
- ``_reason``: why the row cannot be parsed (null when it can),
- ``raw``: an expression rebuilding the source row's text, evaluated only for rejected rows.

The store appends the table's own rules (schemas.Table.reason), sinks good rows to Parquet and
bad rows to the rejects table, in one streaming pass. Readers never collect a whole source.

Helpers here cover what most formats share: streaming decompression of ``.gz`` / ``.zip`` /
``.tar.gz`` members into the staging directory, header checks with clear errors, reading a
delimited file as text with line numbers, and typed parsing that records a reason instead of
failing.
"""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from workscope.numeric import exact_div  # noqa: F401 - readers' parse helpers use it
from workscope.options import Option, describe_options, resolve_options
from workscope.errors import (
    CorruptSourceError,
    EmptySourceError,
    MissingColumnError,
    SourceError,
    did_you_mean,
)

RAW_PREFIX = "~"
"""Prefix of the text columns a reader keeps from its source (so they never clash)."""

EXTRA = RAW_PREFIX + "__extra__"
"""Overflow column of scan_text_csv: non-null when a row has more fields than the header."""

REASON = "_reason"
FILE = "_file"
LINE = "_line"


def src(name: str) -> pl.Expr:
    """The raw text column ``name`` of the source, as read by :func:`scan_text_csv`."""
    return pl.col(RAW_PREFIX + name)


@dataclass
class TablePart:
    """One lazily read piece of one canonical table (usually one source file)."""

    frame: pl.LazyFrame
    raw: pl.Expr
    file: str


@dataclass
class ScanResult:
    """What a reader's scan returns: parts per table, files used, trace-level facts.

    ``meta`` goes into the manifest: ``origin_utc`` (ISO-8601), ``origin_assumed_utc``,
    ``time_resolution_s``, ``hash_block_tokens``, ``cpu_unit`` and anything format-specific
    (SWF header comments, ...).
    """

    tables: dict[str, list[TablePart]]
    files: list[Path]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class ScanContext:
    """What the store hands a reader: options and a private staging directory."""

    options: dict[str, Any]
    staging: Path
    _counter: int = 0

    def temp_path(self, stem: str) -> Path:
        """A fresh path inside staging (for decompressed copies)."""
        self._counter += 1
        safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in stem)[-80:]
        return self.staging / f"{self._counter:05d}-{safe}"


class Reader:
    """Base class of readers. Subclasses set the class attributes and implement scan."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    tables: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[dict[str, Option]] = {}
    doc_url: ClassVar[str] = ""

    def sniff(self, path: Path) -> bool:
        """Cheaply decide (first bytes, header, names) whether ``path`` is this format."""
        return False

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        """Return lazy parts for every table this reader fills."""
        raise NotImplementedError

    def resolve_options(self, given: dict[str, Any] | None) -> dict[str, Any]:
        """Check ``given`` against the declared options, convert types, add defaults."""
        return resolve_options(f"format {self.name!r}", self.options, given)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (for `workscope formats`)."""
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "tables": list(self.tables),
            "options": describe_options(self.options),
            "doc_url": self.doc_url,
        }


# ---------------------------------------------------------------- files and compression

SIDE_NAMES = ("LICENSE", "LICENCE", "COPYING", "NOTICE", "README", "SOURCE", "FIXTURE", "CHANGELOG", "CITATION")
SIDE_SUFFIXES = (".md", ".rst", ".txt", ".pdf", ".ipynb", ".png", ".jpg", ".jpeg", ".svg", ".html",
                 ".jsonld", ".toml", ".yaml", ".yml", ".sh", ".py")


def is_side_file(path: Path) -> bool:
    """True for documentation, licences and scripts that trace releases ship beside the data."""
    name = path.name
    return name.upper().startswith(SIDE_NAMES) or name.lower().endswith(SIDE_SUFFIXES)


def iter_files(paths: Iterable[Path], pattern: str = "*", skipped: list[Path] | None = None) -> Iterator[Path]:
    """Regular files under ``paths``: named files as given; directories walked (sorted), with
    dotfiles and side files (:func:`is_side_file`: README, LICENSE, notebooks...) skipped;
    skipped side files are appended to ``skipped`` when given (for the manifest)."""
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(p.rglob(pattern)):
                if not f.is_file() or any(part.startswith(".") for part in f.relative_to(p).parts):
                    continue
                if is_side_file(f):
                    if skipped is not None:
                        skipped.append(f)
                    continue
                yield f
        elif p.exists():
            yield p
        else:
            raise SourceError(p, "no such file or directory", hint="check the path")


def expect_file(path: Path) -> Path:
    """Raise a clear SourceError unless ``path`` is a readable regular file."""
    if path.is_dir():
        raise SourceError(path, "is a directory, expected a file",
                          hint="pass the trace file itself, or a format that reads directories")
    if not path.exists():
        raise SourceError(path, "no such file", hint="check the path")
    return path


def head_bytes(path: Path, n: int = 65536) -> bytes:
    """The first ``n`` bytes of ``path``, decompressed if gzip; b'' on any error (for sniffing)."""
    try:
        if path.is_dir():
            return b""
        with open(path, "rb") as fh:
            magic = fh.read(2)
        if magic == b"\x1f\x8b":
            with gzip.open(path, "rb") as fh:
                return fh.read(n)
        with open(path, "rb") as fh:
            return fh.read(n)
    except (OSError, EOFError, zlib.error):
        return b""


def head_text(path: Path, n: int = 65536) -> str:
    """Decoded start of a file (lossy), for sniffing."""
    return head_bytes(path, n).decode("utf-8", errors="replace")


def _copy_stream(fin: io.BufferedIOBase, dest: Path, origin: Path, what: str) -> Path:
    try:
        with open(dest, "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
    except (EOFError, gzip.BadGzipFile, zlib.error, tarfile.TarError, zipfile.BadZipFile, OSError) as exc:
        done = dest.stat().st_size if dest.exists() else 0
        dest.unlink(missing_ok=True)
        size = origin.stat().st_size
        raise CorruptSourceError(
            origin,
            f"{what} is truncated or damaged: {exc} (file size {size} bytes, "
            f"{done} bytes decompressed before the fault)",
            offset=size if isinstance(exc, EOFError) else None,
            hint="download the file again and check its checksum",
        ) from None
    return dest


def plain_file(path: Path, ctx: ScanContext) -> Path:
    """Return a plain-text path for ``path``: itself, or a streamed decompressed copy in staging.

    ``.gz`` and single-member ``.zip`` are decompressed chunk by chunk, so memory stays flat.
    """
    expect_file(path)
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic[:2] == b"\x1f\x8b":
        with gzip.open(path, "rb") as fin:
            return _copy_stream(fin, ctx.temp_path(path.stem), path, "gzip stream")
    if magic == b"PK\x03\x04":
        try:
            zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise CorruptSourceError(path, f"damaged zip archive ({exc})",
                                     hint="download the file again") from None
        with zf:
            members = [m for m in zf.namelist() if not m.endswith("/") and not _junk(m)]
            if len(members) != 1:
                raise SourceError(path, f"zip archive holds {len(members)} files, expected one",
                                  hint="unpack it and pass the files")
            with zf.open(members[0]) as fin:
                return _copy_stream(fin, ctx.temp_path(members[0]), path, f"zip member {members[0]}")
    return path


def _junk(member: str) -> bool:
    base = member.rsplit("/", 1)[-1]
    return base.startswith("._") or base.startswith(".") or "__MACOSX" in member


def tar_members(path: Path, ctx: ScanContext, keep: Callable[[str], bool] = lambda m: True) -> list[tuple[str, Path]]:
    """Extract the regular members of a (gzipped) tar that ``keep`` accepts into staging.

    macOS AppleDouble (``._x``) and other dot-members are skipped. Returns (member, path) pairs.
    """
    expect_file(path)
    out: list[tuple[str, Path]] = []
    try:
        with tarfile.open(path, "r:*") as tf:
            for m in tf:
                if not m.isfile() or _junk(m.name) or not keep(m.name):
                    continue
                fin = tf.extractfile(m)
                if fin is None:
                    continue
                out.append((m.name, _copy_stream(fin, ctx.temp_path(m.name), path, f"tar member {m.name}")))
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise CorruptSourceError(path, f"tar archive is truncated or damaged ({exc})",
                                 hint="download the archive again") from None
    return out


# ---------------------------------------------------------------- headers and text CSV

def first_line(path: Path, display: str | Path | None = None) -> str:
    """The first line of a plain file, decoded; EmptySourceError if the file is empty."""
    with open(path, "rb") as fh:
        line = fh.readline(1 << 20)
    if not line.strip():
        raise EmptySourceError(display or path, "file is empty", line=1,
                               hint="check that the download completed")
    return line.decode("utf-8", errors="replace").rstrip("\r\n").lstrip("\ufeff")


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
    raise MissingColumnError(
        display,
        f"missing required column(s) {', '.join(hints)}{detail}; header has {list(header)[:20]}",
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
        header_text = first_line(path, display) if not skip_lines else _nth_line(path, skip_lines, display)
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


def _nth_line(path: Path, n: int, display: str) -> str:
    with open(path, "rb") as fh:
        for _ in range(n):
            fh.readline(1 << 20)
        line = fh.readline(1 << 20)
    if not line.strip():
        raise EmptySourceError(display, "no header line", line=n + 1)
    return line.decode("utf-8", errors="replace").rstrip("\r\n")


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


def has_data_rows(path: Path, skip: int = 1, comment_prefix: str | None = None) -> bool:
    """True if the plain file has a non-blank line after its first ``skip`` lines."""
    with open(path, "rb") as fh:
        for i, line in enumerate(fh):
            if i < skip:
                continue
            s = line.strip()
            if s and not (comment_prefix and s.startswith(comment_prefix.encode())):
                return True
    return False


def require_rows(path: Path, display: str, skip: int = 1, comment_prefix: str | None = None) -> None:
    """Raise EmptySourceError if the file has a header but no data rows."""
    if not has_data_rows(path, skip, comment_prefix):
        raise EmptySourceError(display, "no data rows (header only)", line=skip + 1,
                               hint="check that the download completed")


# ---------------------------------------------------------------- typed parsing with reasons

@dataclass
class Parsed:
    """A parsed value and the reason it failed (null when it did not)."""

    value: pl.Expr
    reason: pl.Expr


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


def parse_datetime(
    raw: pl.Expr, label: str, fmt: str | None, *, required: bool = False,
    time_zone: str | None = None, strip: bool = False,
) -> Parsed:
    """Parse text as a datetime (ns) with a strptime format; unparseable text gets a reason."""
    text = raw.str.strip_chars() if strip else raw
    value = text.str.strptime(pl.Datetime("ns", time_zone), fmt, strict=False, exact=True)
    return _parse(text, value, label, f"a timestamp ({fmt or 'ISO 8601'})", required)


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


def checked(table: str, frame: pl.LazyFrame, keep: Sequence[str] = ()) -> pl.LazyFrame:
    """Canonical columns of ``table`` plus ``keep``, with ``_reason`` = parse failure or broken rule.

    Rules run on the conformed columns, so rows broken by parsing and rows breaking a table
    rule share one reason column (the parse failure wins: it is the first cause).
    """
    from workscope.schemas import TABLES, conform_exprs

    have = frame.collect_schema()
    reason = pl.col(REASON) if REASON in have else pl.lit(None, pl.String)
    extra = [pl.col(c) for c in keep if c in have and c != REASON]
    out = frame.select(*conform_exprs(table, have), *extra, reason.alias(REASON))
    present = {c.name for c in TABLES[table].columns if c.name in have}
    rules = TABLES[table].reason(present)
    return out.with_columns(pl.coalesce(pl.col(REASON), rules).alias(REASON))
