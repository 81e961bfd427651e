"""Finding and opening the data files of the ``mapped`` reader: CSV / TSV, Parquet, JSON Lines.

Each file becomes a :class:`Source`: a lazy frame whose source columns carry the raw
``~`` prefix (text for CSV and JSON Lines, typed for Parquet), with line numbers and a way
to rebuild the raw row for the rejects table. The columns the mapping uses are checked
here, before anything is scanned, so a missing one names the data file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from workscope.errors import (
    CorruptSourceError,
    EmptySourceError,
    MissingColumnError,
    SourceError,
    did_you_mean,
)
from workscope.ingest.files import expect_file, iter_files, plain_file, require_rows
from workscope.ingest.mapped.config import FORMATS, Mapping, MappingError
from workscope.ingest.parse import Parsed, raw_row, scan_lines, scan_text_csv, src
from workscope.ingest.reader import FILE, LINE, RAW_PREFIX, ScanContext

JSON_HEAD_LINES = 1000
"""Lines of a JSON Lines file whose keys name its columns."""

_JSON_LINE = RAW_PREFIX + "__line__"
_JSON_CHECK = "_json_check"  # a helper column; the store keeps only canonical ones


@dataclass
class Source:
    """One opened data file: text-or-typed ``~`` columns, line numbers, how to rebuild a row."""

    path: Path
    display: str
    kind: str
    frame: pl.LazyFrame
    names: list[str]
    dtypes: dict[str, Any]
    raw: pl.Expr

    def text(self, name: str) -> pl.Expr:
        """The source column as text (typed Parquet values are printed, exactly)."""
        d = self.dtypes.get(name, pl.String)
        return src(name) if d == pl.String else src(name).cast(pl.String)


def find_files(paths: Sequence[Path], m: Mapping) -> list[Path]:
    """The files to read: given files as they are, directories walked for the mapping's files."""
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files += [f for f in iter_files([p]) if _wanted(f, m)]
        else:
            files.append(expect_file(p))
    if not files:
        raise SourceError(paths[0], "no files to read in this directory",
                          hint=f"set glob = \"*.csv\" (or similar) in the mapping {m.path}")
    return files


def open_source(f: Path, m: Mapping, ctx: ScanContext) -> Source:
    """Open one data file in the format the mapping (or its name) says."""
    kind = _kind_of(f, m)
    if kind == "parquet":
        return _open_parquet(f, m)
    if kind == "jsonl":
        return _open_jsonl(f, m, ctx)
    return _open_delimited(f, kind, m, ctx)


def json_guard(s: Source, fields: dict[str, Parsed | pl.Expr]) -> dict[str, Parsed | pl.Expr]:
    """Put a JSON line's shape check first, so a broken line reads as such, not as 'x is missing'."""
    if s.kind != "jsonl":
        return fields
    line = pl.col(_JSON_LINE).str.strip_chars()
    bad = pl.when(~line.str.starts_with("{") | line.str.json_path_match("$").is_null()).then(
        pl.lit("line is not a JSON object"))
    return {_JSON_CHECK: Parsed(pl.lit(None, pl.Boolean), bad), **fields}


def _kind_of(path: Path, m: Mapping) -> str:
    if m.format:
        return m.format
    name = path.name.lower()
    for suffix in (".gz", ".zip"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    for kind, exts in FORMATS.items():
        if name.endswith(exts):
            return kind
    raise SourceError(path, "cannot tell the input format from the file name",
                      hint=f"add format = \"csv\" (or tsv, parquet, jsonl) to the mapping {m.path}")


def _wanted(path: Path, m: Mapping) -> bool:
    if m.glob:
        return path.match(m.glob)
    name = path.name.lower()
    exts = FORMATS[m.format] if m.format else tuple(e for v in FORMATS.values() for e in v)
    return name.endswith(exts) or name.endswith(tuple(e + s for e in exts for s in (".gz", ".zip")))


def _check_columns(have: Sequence[str], needed: Sequence[str], display: str, m: Mapping, *,
                   line: int | None, separator: str | None = None, where: str = "") -> None:
    missing = [c for c in needed if c not in set(have)]
    if not missing:
        return
    hints = ", ".join(f"{c!r}{did_you_mean(c, have)}" for c in missing)
    detail = ""
    if separator and len(have) == 1 and any(d in have[0] for d in ",;\t|" if d != separator):
        detail = f" (the header is one field {have[0][:60]!r}: wrong delimiter?)"
    raise MissingColumnError(
        display,
        f"lacks column(s) {hints} that the mapping {m.path.name} uses{detail}{where}; "
        f"it has {list(have)[:20]}",
        line=line,
        hint=f"fix the source column names in {m.path}",
    )


# ---------------------------------------------------------------- CSV / TSV


def _open_delimited(f: Path, kind: str, m: Mapping, ctx: ScanContext) -> Source:
    display = str(f)
    plain = plain_file(f, ctx)
    sep = m.delimiter or ("\t" if kind == "tsv" else ",")
    lf, names = scan_text_csv(
        plain, display, columns=list(m.names) if m.names else None, has_header=m.has_header,
        separator=sep, comment_prefix=m.comment, skip_lines=m.skip_lines, quote_char=m.quote,
    )
    _check_columns(names, m.sources(), display, m, separator=sep,
                   line=m.skip_lines + 1 if m.has_header else None)
    require_rows(plain, display, skip=m.skip_lines + (1 if m.has_header else 0), comment_prefix=m.comment)
    return Source(f, display, kind, lf, names, dict.fromkeys(names, pl.String), raw_row(names, sep))


# ---------------------------------------------------------------- Parquet


def _open_parquet(f: Path, m: Mapping) -> Source:
    display = str(expect_file(f))
    try:
        meta = pq.read_metadata(f)
        schema = pl.read_parquet_schema(f)
    except Exception as exc:  # pyarrow and polars raise several types for a damaged footer
        raise CorruptSourceError(
            display, f"not a readable Parquet file ({type(exc).__name__}: {str(exc)[:200]})",
            hint=f"check the file, or the format in the mapping {m.path}") from None
    if meta.num_rows == 0:
        raise EmptySourceError(display, "Parquet file has no rows", hint="check that the export completed")
    names = list(schema)
    _check_columns(names, m.sources(), display, m, line=None)
    lf = (pl.scan_parquet(f, glob=False)
          .select([pl.col(n).alias(RAW_PREFIX + n) for n in names])
          .with_row_index(LINE, offset=1)
          .with_columns(pl.col(LINE).cast(pl.Int64), pl.lit(display).alias(FILE)))
    raw = pl.struct([src(n).alias(n) for n in names]).struct.json_encode()
    return Source(f, display, "parquet", lf, names, dict(schema), raw)


# ---------------------------------------------------------------- JSON Lines


def _open_jsonl(f: Path, m: Mapping, ctx: ScanContext) -> Source:
    display = str(f)
    plain = plain_file(f, ctx)
    if plain.stat().st_size == 0:
        raise EmptySourceError(display, "file is empty", line=1, hint="check that the download completed")
    keys, nested, seen = _json_head_keys(plain, display, m)
    needed = m.sources()
    _check_columns([*keys, *sorted(nested - set(keys))], needed, display, m, line=None,
                   where=f" (in its first {seen} lines)")
    for k in needed:
        if "'" in k or "\\" in k:
            raise MappingError(f"mapping {m.path}: JSON key {k!r} with a quote or backslash "
                               "cannot be addressed")
    lf = scan_lines(plain, display, _JSON_LINE, what="JSON Lines")
    line = pl.col(_JSON_LINE)
    fields = []
    for k in keys + [n for n in needed if n not in keys]:
        # a dotted name reaches into a nested object unless a top-level key has that name
        path = _json_path(k) if k in keys else _json_path(*k.split("."))
        fields.append(line.str.json_path_match(path).alias(RAW_PREFIX + k))
    names = keys + [n for n in needed if n not in keys]
    lf = (lf.with_columns(line.str.strip_chars_start("\ufeff").str.strip_chars_end("\r"))
          .filter(line.is_not_null() & (line.str.strip_chars() != ""))
          .with_columns(*fields, pl.col(LINE).cast(pl.Int64), pl.lit(display).alias(FILE)))
    return Source(f, display, "jsonl", lf, names, dict.fromkeys(names, pl.String), line)


def _json_head_keys(plain: Path, display: str, m: Mapping) -> tuple[list[str], set[str], int]:
    """Keys of the objects in the first lines (in first-seen order), their ``a.b`` members, and
    how many non-blank lines were looked at; a head without any object refuses the file."""
    keys: list[str] = []
    nested: set[str] = set()
    seen = objects = 0
    first_bad: tuple[int, str] | None = None
    with open(plain, "rb") as fh:
        for lineno, line in enumerate(fh, 1):
            text = line.strip()
            if lineno == 1:
                text = text.removeprefix(b"\xef\xbb\xbf")
            if not text:
                continue
            seen += 1
            try:
                obj = json.loads(text)
            except (ValueError, UnicodeDecodeError):
                obj = None
            if isinstance(obj, dict):
                objects += 1
                for k, v in obj.items():
                    if k not in keys:
                        keys.append(k)
                    if isinstance(v, dict):
                        nested.update(f"{k}.{sub}" for sub in v)
            elif first_bad is None:
                first_bad = (lineno, text[:60].decode("utf-8", errors="replace"))
            if seen >= JSON_HEAD_LINES:
                break
    if seen == 0:
        raise EmptySourceError(display, "no data lines (only blank lines)", line=1,
                               hint="check that the download completed")
    if objects == 0 and first_bad is not None:
        raise SourceError(display, f"not JSON Lines: {first_bad[1]!r} is not a JSON object",
                          line=first_bad[0], hint=f"check the file, or the format in the mapping {m.path}")
    return keys, nested, seen


def _json_path(*keys: str) -> str:
    """A JSONPath to a (nested) key: ``$.a.b``, bracketed where a key is not an identifier."""
    return "$" + "".join("." + k if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) else "['" + k + "']"
                         for k in keys)
