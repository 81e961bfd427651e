"""The generic reader: any CSV / TSV / Parquet / JSON Lines file into any canonical table.

A TOML *mapping* (reader option ``mapping``, a path) names the canonical table, the input
format and, for every canonical column, the source column it comes from (or a constant),
with unit conversion by a factor. docs/mapping.md is the full reference; in short::

    table = "requests"                 # canonical table (schemas.TABLES)
    format = "csv"                     # csv | tsv | parquet | jsonl (default: file extension)
    delimiter = ","                    # csv / tsv only
    has_header = true                  # csv / tsv only; false needs names = [...]
    nulls = ["", "NA"]                 # source texts read as missing, every column

    [time]                             # how time points become seconds since the origin
    format = "%Y-%m-%d %H:%M:%S%.f"    # strptime pattern, iso8601, unix_s / unix_ms / unix_us /
                                       # unix_ns, or seconds / milliseconds / microseconds /
                                       # nanoseconds (already relative to the origin)
    timezone = "UTC"                   # zone of zone-less timestamps (IANA name)
    origin = "auto"                    # auto (earliest time in the head) | epoch | ISO timestamp

    [columns]                          # canonical column = source column, or an inline table
    arrival_s = "ts"
    latency_s = { column = "latency_ms", scale = 0.001 }
    model = { value = "llama-70b" }

    [metrics]                          # usage only: wide rows to one row per metric
    cpu_util = "cpu"

    [attrs]                            # source columns copied into the attrs JSON object
    keep = ["region", "tier"]          # or rest = true: every source column not mapped

    [meta]                             # trace-level facts for the manifest
    hash_block_tokens = 16

Files: ``.csv``, ``.tsv`` / ``.tab``, ``.parquet`` / ``.pq``, ``.jsonl`` / ``.ndjson``, each
text format optionally ``.gz`` (or a one-member ``.zip``), decompressed by streaming into
staging. A directory is read file by file: those whose names match the mapping's ``glob``, or
the extensions of its format.

Time points are the canonical ``arrival_s``, ``submit_s``, ``start_s``, ``end_s``, ``t_s``
and ``window_start_s``; every other ``*_s`` column is a duration and is converted with
``scale`` like any number. The origin is, by default, the earliest time point of the table's
time column among the first 10,000 rows of every file (the manifest records it as UTC);
``origin = "epoch"`` keeps Unix seconds, an ISO-8601 timestamp fixes it. Relative formats
(``seconds`` ...) are taken as they are, and ``origin`` then only records what zero means.
A Parquet timestamp column is used as it is (zone-less ones read in ``timezone``); a column
may override the format (``end_s = { column = "end", format = "unix_s" }``). Zone-less
text timestamps are read in ``timezone`` (default UTC, and the manifest then says the zone
was assumed); local times that a clock change skips are rejected, repeated ones take the
earlier instant. Unix nanoseconds are subtracted as integers, so no precision is lost.

Values: every source value is read as text (Parquet values are printed exactly first) and
parsed per canonical type: floats (``scale`` then ``offset``; ``inf`` / ``NaN`` rejected
unless listed in ``nulls``), integers (``12.0`` accepted), booleans (true/false, t/f,
yes/no, y/n, 1/0), text (with an optional ``map`` of source text to canonical text) and
``hash_ids`` (``[1, 2, 3]``, ``1 2 3`` or ``1;2;3``, or a Parquet list). JSON Lines keys may
reach into nested objects with dots (``res.mem``); object and array values are kept as JSON
text. Wide usage files (``[metrics]``) give one row per metric per source row, so rows_in is
their product; each metric is one pass over the file.

Every value goes through the typed parsers of ingest.parse, so a bad value rejects its row
with a reason and the source line (for Parquet the 1-based row number, for JSON Lines the
physical line). Nothing from the TOML is evaluated: it only names columns and constants.
The mapping's SHA-256 joins the options (so editing the mapping makes a re-ingest rebuild)
and the parsed mapping is kept in the manifest's meta.

The reader never sniffs: it needs an explicit ``--format mapped --option mapping=FILE``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
import tomllib
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from workscope.errors import (
    CorruptSourceError,
    EmptySourceError,
    MissingColumnError,
    OptionError,
    SourceError,
    did_you_mean,
)
from workscope.ingest.files import expect_file, iter_files, plain_file, require_rows
from workscope.ingest.parse import (
    Parsed,
    build,
    first_reason,
    parse_datetime,
    parse_float,
    parse_int,
    parse_text,
    raw_row,
    scan_text_csv,
    src,
)
from workscope.ingest.reader import FILE, LINE, RAW_PREFIX, Reader, ScanContext, ScanResult, TablePart
from workscope.ingest.timefmt import origin_meta
from workscope.options import Option
from workscope.schemas import TABLES, Table

TIME_POINTS = frozenset({"arrival_s", "submit_s", "start_s", "end_s", "t_s", "window_start_s"})
"""Canonical columns that are instants (converted with [time]); other ``*_s`` are durations."""

FORMATS: dict[str, tuple[str, ...]] = {
    "csv": (".csv",),
    "tsv": (".tsv", ".tab"),
    "parquet": (".parquet", ".pq"),
    "jsonl": (".jsonl", ".ndjson"),
}
UNIX_UNITS = {"unix_s": 10**9, "unix_ms": 10**6, "unix_us": 10**3, "unix_ns": 1}
RELATIVE_UNITS = {"seconds": 10**9, "milliseconds": 10**6, "microseconds": 10**3, "nanoseconds": 1}
ISO = "iso8601"
TIME_KEYWORDS = (ISO, *UNIX_UNITS, *RELATIVE_UNITS)

TOP_KEYS = ("table", "format", "delimiter", "quote", "has_header", "names", "comment",
            "skip_lines", "glob", "nulls", "time", "columns", "metrics", "attrs", "meta")
TIME_KEYS = ("format", "timezone", "origin", "resolution_s")
COLUMN_KEYS = ("column", "value", "scale", "offset", "nulls", "map", "format")
METRIC_KEYS = ("column", "scale", "offset", "unit", "nulls")
ATTRS_KEYS = ("keep", "rest")
RESERVED_META = ("origin_utc", "origin_epoch_ns", "origin_assumed_utc", "time_resolution_s",
                 "time_note", "mapping", "mapping_file", "source_formats")

HEAD_ROWS = 10_000
JSON_HEAD_LINES = 1000
_JSON_LINE = RAW_PREFIX + "__line__"
_JSON_CHECK = "_json_check"  # a helper column; the store keeps only canonical ones
_TRUE = ("true", "t", "yes", "y", "1", "1.0")
_FALSE = ("false", "f", "no", "n", "0", "0.0")
_INT_LIST = r"^\[?\s*(-?\d+(\s*[,;\s]\s*-?\d+)*)?\s*,?\s*\]?$"


class MappingError(OptionError):
    """The TOML mapping is invalid; the message names the file and the key."""


# ---------------------------------------------------------------- the mapping


@dataclass(frozen=True)
class ColumnSpec:
    """Where one canonical column comes from: a source column (with conversion) or a constant."""

    name: str
    source: str | None = None
    value: Any = None
    constant: bool = False
    scale: float | None = None
    offset: float | None = None
    nulls: tuple[str, ...] = ()
    map: dict[str, str] | None = None
    time_format: str | None = None


@dataclass(frozen=True)
class MetricSpec:
    """One metric of a wide usage file: the source column, its conversion and unit."""

    name: str
    source: str
    scale: float | None = None
    offset: float | None = None
    unit: str | None = None
    nulls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mapping:
    """A validated mapping file."""

    path: Path
    sha256: str
    raw: dict[str, Any]
    table: str
    format: str | None = None
    delimiter: str | None = None
    quote: str | None = '"'
    has_header: bool = True
    names: tuple[str, ...] | None = None
    comment: str | None = None
    skip_lines: int = 0
    glob: str | None = None
    nulls: tuple[str, ...] = ()
    time_format: str | None = None
    timezone: str | None = None
    origin: str = "auto"
    resolution_s: float | None = None
    columns: dict[str, ColumnSpec] = field(default_factory=dict)
    metrics: dict[str, MetricSpec] = field(default_factory=dict)
    keep: tuple[str, ...] = ()
    rest: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> Table:
        """The canonical table this mapping fills."""
        return TABLES[self.table]

    def sources(self) -> list[str]:
        """Source columns the mapping reads (columns, metrics, attrs), first use first."""
        out: list[str] = []
        for s in [c.source for c in self.columns.values()] + [m.source for m in self.metrics.values()]:
            if s is not None and s not in out:
                out.append(s)
        out += [k for k in self.keep if k not in out]
        return out


def _err(path: Path, key: str, problem: str) -> MappingError:
    return MappingError(f"mapping {path}: {key}: {problem}")


def _unknown_keys(path: Path, where: str, got: dict[str, Any], allowed: Sequence[str]) -> None:
    for k in got:
        if k not in allowed:
            prefix = f"{where}." if where else ""
            raise _err(path, f"{prefix}{k}",
                       f"unknown key{did_you_mean(k, allowed)}; allowed: {', '.join(allowed)}")


def _str_list(path: Path, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _err(path, key, f"must be a list of strings, got {value!r}")
    return tuple(value)


def _number(path: Path, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _err(path, key, f"must be a number, got {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise _err(path, key, f"must be a finite number, got {value!r}")
    return float(value)


def _check_time_format(path: Path, key: str, fmt: Any) -> str:
    if not isinstance(fmt, str) or not fmt:
        raise _err(path, key, f"must be a strptime pattern or one of {', '.join(TIME_KEYWORDS)}, got {fmt!r}")
    if fmt in TIME_KEYWORDS or "%" in fmt:
        return fmt
    raise _err(path, key, f"{fmt!r} is neither a strptime pattern (with %) nor one of "
                          f"{', '.join(TIME_KEYWORDS)}{did_you_mean(fmt, TIME_KEYWORDS)}")


def _origin_ns(path: Path, origin: str, timezone: str | None) -> Fraction | None:
    """The explicit origin as epoch ns, None for auto."""
    if origin == "auto":
        return None
    if origin == "epoch":
        return Fraction(0)
    text = origin[:-1] + "+00:00" if origin.endswith("Z") else origin
    try:
        dt = _dt.datetime.fromisoformat(text)
    except ValueError:
        raise _err(path, "time.origin", f"{origin!r} is not 'auto', 'epoch' or an ISO-8601 "
                                         "timestamp such as '2024-01-01T00:00:00Z'") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zoneinfo.ZoneInfo(timezone or "UTC"))
    delta = dt - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
    return Fraction((delta.days * 86400 + delta.seconds) * 10**6 + delta.microseconds) * 1000


def _constant(path: Path, key: str, col: str, dtype: Any, value: Any) -> Any:
    ok: bool
    if col in TIME_POINTS or dtype == pl.Float64:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        want = "a number"
    elif dtype == pl.Int64:
        ok = isinstance(value, int) and not isinstance(value, bool)
        want = "an integer"
    elif dtype == pl.Boolean:
        ok = isinstance(value, bool)
        want = "true or false"
    elif dtype == pl.String:
        ok = isinstance(value, str)
        want = "a string"
    else:
        ok = isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        want = "a list of integers"
    if not ok:
        raise _err(path, key, f"constant for {col} must be {want}, got {value!r}")
    return value


def _column_spec(path: Path, table: Table, name: str, value: Any) -> ColumnSpec:
    key = f"columns.{name}"
    dtype = table.polars_schema[name]
    if isinstance(value, str):
        if not value:
            raise _err(path, key, "source column name is empty")
        return ColumnSpec(name, source=value)
    if not isinstance(value, dict):
        raise _err(path, key, "must be a source column name or an inline table "
                              f"{{ column = ..., scale = ... }} / {{ value = ... }}, got {value!r}")
    _unknown_keys(path, key, value, COLUMN_KEYS)
    if ("column" in value) == ("value" in value):
        raise _err(path, key, "give exactly one of 'column' (a source column) or 'value' (a constant)")
    numeric = dtype == pl.Float64 and name not in TIME_POINTS
    if "value" in value:
        extra = [k for k in value if k != "value"]
        if extra:
            raise _err(path, f"{key}.{extra[0]}", "does not apply to a constant 'value'")
        return ColumnSpec(name, value=_constant(path, f"{key}.value", name, dtype, value["value"]),
                          constant=True)
    source = value["column"]
    if not isinstance(source, str) or not source:
        raise _err(path, f"{key}.column", f"must be a source column name, got {source!r}")
    scale = offset = None
    for k in ("scale", "offset"):
        if k in value and not numeric:
            why = ("time points are converted with [time] (or a per-column 'format')"
                   if name in TIME_POINTS else f"{name} is not a float column")
            raise _err(path, f"{key}.{k}", f"{k} applies to float columns only; {why}")
    if "scale" in value:
        scale = _number(path, f"{key}.scale", value["scale"])
        if scale == 0:
            raise _err(path, f"{key}.scale", "must not be 0")
    if "offset" in value:
        offset = _number(path, f"{key}.offset", value["offset"])
    nulls = _str_list(path, f"{key}.nulls", value["nulls"]) if "nulls" in value else ()
    mapping = None
    if "map" in value:
        if dtype != pl.String:
            raise _err(path, f"{key}.map", f"map applies to text columns only; {name} is {dtype}")
        mapping = value["map"]
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise _err(path, f"{key}.map", "must be an inline table of source text = canonical text")
    fmt = None
    if "format" in value:
        if name not in TIME_POINTS:
            raise _err(path, f"{key}.format", f"format applies to time points only "
                                              f"({', '.join(sorted(TIME_POINTS))})")
        fmt = _check_time_format(path, f"{key}.format", value["format"])
    return ColumnSpec(name, source=source, scale=scale, offset=offset, nulls=nulls, map=mapping,
                      time_format=fmt)


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a TOML mapping; MappingError names the file and the bad key."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MappingError(f"mapping {path}: no such file; the option mapping= must name a TOML "
                           "mapping file (see docs/mapping.md)") from None
    except IsADirectoryError:
        raise MappingError(f"mapping {path}: is a directory, expected a TOML file") from None
    except OSError as exc:
        raise MappingError(f"mapping {path}: cannot be read ({exc.strerror})") from None
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise MappingError(f"mapping {path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"mapping {path}: invalid TOML ({exc})") from None
    _unknown_keys(path, "", doc, TOP_KEYS)

    table_name = doc.get("table")
    if not isinstance(table_name, str):
        raise _err(path, "table", f"required: the canonical table to fill, one of {', '.join(TABLES)}")
    if table_name not in TABLES:
        raise _err(path, "table", f"unknown canonical table {table_name!r}"
                                  f"{did_you_mean(table_name, TABLES)}; known: {', '.join(TABLES)}")
    table = TABLES[table_name]
    kw: dict[str, Any] = {}

    fmt = doc.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise _err(path, "format", f"unknown input format {fmt!r}{did_you_mean(str(fmt), FORMATS)}; "
                                   f"one of {', '.join(FORMATS)}")
    kw["format"] = fmt
    for key in ("delimiter", "quote", "has_header", "names", "comment", "skip_lines"):
        if key in doc and fmt in ("parquet", "jsonl"):
            raise _err(path, key, f"applies to csv / tsv input only, not {fmt}")
    if "delimiter" in doc:
        d = doc["delimiter"]
        if not isinstance(d, str) or len(d.encode()) != 1 or d in "\r\n\"":
            raise _err(path, "delimiter",
                       f"must be one single-byte character such as ',' or '\\t', got {d!r}")
        kw["delimiter"] = d
    if "quote" in doc:
        q = doc["quote"]
        if not isinstance(q, str) or len(q.encode()) > 1:
            raise _err(path, "quote", f"must be one character, or '' for no quoting, got {q!r}")
        kw["quote"] = q or None
    if "has_header" in doc:
        if not isinstance(doc["has_header"], bool):
            raise _err(path, "has_header", f"must be true or false, got {doc['has_header']!r}")
        kw["has_header"] = doc["has_header"]
    if "names" in doc:
        if kw.get("has_header", True):
            raise _err(path, "names", "applies only with has_header = false (it names the columns "
                                      "of a header-less file)")
        kw["names"] = _str_list(path, "names", doc["names"])
        if len(set(kw["names"])) != len(kw["names"]):
            raise _err(path, "names", "repeats a column name")
    elif kw.get("has_header") is False:
        raise _err(path, "names", "required with has_header = false: the list of column names")
    if "comment" in doc:
        if not isinstance(doc["comment"], str) or not doc["comment"]:
            raise _err(path, "comment", f"must be a non-empty string such as '#', got {doc['comment']!r}")
        kw["comment"] = doc["comment"]
    if "skip_lines" in doc:
        n = doc["skip_lines"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise _err(path, "skip_lines", f"must be a non-negative integer, got {n!r}")
        kw["skip_lines"] = n
    if "glob" in doc:
        if not isinstance(doc["glob"], str) or not doc["glob"]:
            raise _err(path, "glob", f"must be a file name pattern such as '*.csv.gz', got {doc['glob']!r}")
        kw["glob"] = doc["glob"]
    if "nulls" in doc:
        kw["nulls"] = _str_list(path, "nulls", doc["nulls"])

    time = doc.get("time", {})
    if not isinstance(time, dict):
        raise _err(path, "time", "must be a table: [time]")
    _unknown_keys(path, "time", time, TIME_KEYS)
    if "format" in time:
        kw["time_format"] = _check_time_format(path, "time.format", time["format"])
    if "timezone" in time:
        tz = time["timezone"]
        try:
            if not isinstance(tz, str):
                raise ValueError
            zoneinfo.ZoneInfo(tz)
        except (ValueError, zoneinfo.ZoneInfoNotFoundError):
            raise _err(path, "time.timezone", f"unknown time zone {tz!r}; use an IANA name such as "
                                              "'UTC' or 'Europe/Paris'") from None
        kw["timezone"] = tz
    if isinstance(time.get("origin"), (_dt.datetime, _dt.date)):
        time["origin"] = time["origin"].isoformat()  # an unquoted TOML date-time
    if "origin" in time:
        if not isinstance(time["origin"], str):
            raise _err(path, "time.origin", "must be 'auto', 'epoch' or an ISO-8601 timestamp string")
        kw["origin"] = time["origin"]
        _origin_ns(path, time["origin"], kw.get("timezone"))
    if "resolution_s" in time:
        kw["resolution_s"] = _number(path, "time.resolution_s", time["resolution_s"])

    cols = doc.get("columns")
    if not isinstance(cols, dict) or not cols:
        raise _err(path, "columns", "required: a [columns] table mapping canonical columns of "
                                    f"{table_name} ({', '.join(table.names)}) to source columns")
    specs: dict[str, ColumnSpec] = {}
    for name, value in cols.items():
        if name == "attrs":
            raise _err(path, "columns.attrs", "attrs is built from [attrs] keep = [...] / rest = true")
        if name not in table.names:
            raise _err(path, f"columns.{name}",
                       f"{table_name} has no column {name!r}{did_you_mean(name, table.names)}; "
                       f"columns: {', '.join(n for n in table.names if n != 'attrs')}")
        specs[name] = _column_spec(path, table, name, value)
    kw["columns"] = specs

    metrics: dict[str, MetricSpec] = {}
    if "metrics" in doc:
        if table_name != "usage":
            raise _err(path, "metrics", f"applies to the usage table only, not {table_name}")
        raw_metrics = doc["metrics"]
        if not isinstance(raw_metrics, dict) or not raw_metrics:
            raise _err(path, "metrics", "must be a table of metric name = source column")
        for bad in ("metric", "value"):
            if bad in specs:
                raise _err(path, f"columns.{bad}", "cannot be mapped together with [metrics] "
                                                   "(each metric gives its own metric and value)")
        for mname, mv in raw_metrics.items():
            key = f"metrics.{mname}"
            if isinstance(mv, str):
                metrics[mname] = MetricSpec(mname, mv)
                continue
            if not isinstance(mv, dict):
                raise _err(path, key, f"must be a source column name or an inline table, got {mv!r}")
            _unknown_keys(path, key, mv, METRIC_KEYS)
            if not isinstance(mv.get("column"), str) or not mv["column"]:
                raise _err(path, f"{key}.column", "required: the source column holding the metric")
            unit = mv.get("unit")
            if unit is not None and not isinstance(unit, str):
                raise _err(path, f"{key}.unit", f"must be a string, got {unit!r}")
            scale = _number(path, f"{key}.scale", mv["scale"]) if "scale" in mv else None
            if scale == 0:
                raise _err(path, f"{key}.scale", "must not be 0")
            metrics[mname] = MetricSpec(
                mname, mv["column"], scale,
                _number(path, f"{key}.offset", mv["offset"]) if "offset" in mv else None,
                unit, _str_list(path, f"{key}.nulls", mv["nulls"]) if "nulls" in mv else ())
    kw["metrics"] = metrics

    mapped = set(specs) | ({"metric", "value"} if metrics else set())
    missing = [c for c in table.required if c not in mapped]
    if missing:
        raise _err(path, "columns", f"{table_name} requires {', '.join(missing)}, which the mapping "
                                    f"does not map; add e.g. {missing[0]} = \"<source column>\"")
    for name, s in specs.items():
        if ((s.time_format or kw.get("time_format")) == ISO and kw.get("timezone", "UTC") != "UTC"
                and name in TIME_POINTS and s.source is not None):
            raise _err(path, "time.timezone", "iso8601 reads zone-less values as UTC only; for "
                                              "another zone give a strptime pattern as the format")
        if name in TIME_POINTS and s.source is not None and not (s.time_format or kw.get("time_format")):
            raise _err(path, "time.format", f"required to convert {name} (from {s.source!r}): a strptime "
                                            f"pattern or one of {', '.join(TIME_KEYWORDS)}")

    attrs = doc.get("attrs", {})
    if not isinstance(attrs, dict):
        raise _err(path, "attrs", "must be a table: [attrs] keep = [...] / rest = true")
    _unknown_keys(path, "attrs", attrs, ATTRS_KEYS)
    if "keep" in attrs:
        kw["keep"] = _str_list(path, "attrs.keep", attrs["keep"])
    if "rest" in attrs:
        if not isinstance(attrs["rest"], bool):
            raise _err(path, "attrs.rest", f"must be true or false, got {attrs['rest']!r}")
        kw["rest"] = attrs["rest"]
    if "attrs" not in table.names and (kw.get("keep") or kw.get("rest")):
        raise _err(path, "attrs", f"{table_name} has no attrs column")

    meta = doc.get("meta", {})
    if not isinstance(meta, dict):
        raise _err(path, "meta", "must be a table: [meta]")
    for k, v in meta.items():
        if k in RESERVED_META:
            raise _err(path, f"meta.{k}", "is set by the reader; choose another name")
        if not isinstance(v, (str, int, float, bool)):
            raise _err(path, f"meta.{k}", f"must be a string, number or boolean, got {v!r}")
    kw["meta"] = dict(meta)

    return Mapping(path=path, sha256=hashlib.sha256(data).hexdigest(), raw=doc, table=table_name, **kw)


# ---------------------------------------------------------------- sources


@dataclass
class _Source:
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


def _open_delimited(f: Path, kind: str, m: Mapping, ctx: ScanContext) -> _Source:
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
    return _Source(f, display, kind, lf, names, dict.fromkeys(names, pl.String), raw_row(names, sep))


def _open_parquet(f: Path, m: Mapping) -> _Source:
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
    lf = (pl.scan_parquet(f)
          .select([pl.col(n).alias(RAW_PREFIX + n) for n in names])
          .with_row_index(LINE, offset=1)
          .with_columns(pl.col(LINE).cast(pl.Int64), pl.lit(display).alias(FILE)))
    raw = pl.struct([src(n).alias(n) for n in names]).struct.json_encode()
    return _Source(f, display, "parquet", lf, names, dict(schema), raw)


def _json_path(*keys: str) -> str:
    """A JSONPath to a (nested) key: ``$.a.b``, bracketed where a key is not an identifier."""
    return "$" + "".join("." + k if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) else "['" + k + "']"
                         for k in keys)


def _open_jsonl(f: Path, m: Mapping, ctx: ScanContext) -> _Source:
    display = str(f)
    plain = plain_file(f, ctx)
    if plain.stat().st_size == 0:
        raise EmptySourceError(display, "file is empty", line=1, hint="check that the download completed")
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
    needed = m.sources()
    _check_columns([*keys, *sorted(nested - set(keys))], needed, display, m, line=None,
                   where=f" (in its first {seen} lines)")
    for k in needed:
        if "'" in k or "\\" in k:
            raise MappingError(f"mapping {m.path}: JSON key {k!r} with a quote or backslash "
                               "cannot be addressed")
    try:
        lf = pl.scan_csv(plain, has_header=False, new_columns=[_JSON_LINE], separator="\x1f",
                         quote_char=None, infer_schema=False, encoding="utf8-lossy",
                         row_index_name=LINE, row_index_offset=1)
    except pl.exceptions.PolarsError as exc:
        raise SourceError(display, f"cannot read as JSON Lines: {exc}") from None
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
    return _Source(f, display, "jsonl", lf, names, dict.fromkeys(names, pl.String), line)


# ---------------------------------------------------------------- values


def _nulled(text: pl.Expr, nulls: Sequence[str]) -> pl.Expr:
    return pl.when(text.is_in(list(nulls))).then(pl.lit(None, pl.String)).otherwise(text) if nulls else text


def _scaled(value: pl.Expr, scale: float | None, offset: float | None) -> pl.Expr:
    if scale is not None and scale != 1:
        inv = 1 / scale
        # dividing by an exact integer (1000) rounds better than multiplying by 0.001
        if abs(inv - round(inv)) < 1e-9 * abs(inv) and 1 / round(inv) == scale:
            value = value / float(round(inv))
        else:
            value = value * scale
    if offset:
        value = value + offset
    return value


def _numeric_nulls(value: pl.Expr, nulls: Sequence[str]) -> pl.Expr:
    nums = []
    for n in nulls:
        try:
            nums.append(float(n))
        except ValueError:
            continue
    if not nums:
        return value
    return pl.when(value.cast(pl.Float64).is_in(nums)).then(None).otherwise(value)


def _float(text: pl.Expr, label: str, required: bool, nulls: Sequence[str],
           scale: float | None, offset: float | None) -> Parsed:
    """A float column: parsed, nulls applied, scaled; 'inf' and 'NaN' are rejected."""
    p = parse_float(text, label, required=required, nulls=nulls, strip=True)
    value = _scaled(_numeric_nulls(p.value, nulls), scale, offset)
    # 'inf' / 'NaN' parse as floats, but no measurement is infinite; a source that writes
    # them for "missing" lists them in nulls
    odd = pl.when(value.is_not_null() & ~value.is_finite()).then(pl.lit(f"{label}: not a finite number"))
    return Parsed(value, first_reason(p.reason, odd))


def _parse_bool(raw: pl.Expr, label: str, required: bool, nulls: Sequence[str]) -> Parsed:
    text = _nulled(raw.str.strip_chars(), nulls)
    low = text.str.to_lowercase()
    value = pl.when(low.is_in(list(_TRUE))).then(True).when(low.is_in(list(_FALSE))).then(False)
    reason = pl.when(text.is_not_null() & value.is_null()).then(pl.lit(f"{label}: not true/false"))
    if required:
        reason = pl.when(text.is_null()).then(pl.lit(f"{label} is missing")).otherwise(reason)
    return Parsed(value.cast(pl.Boolean), reason)


def _parse_int_list(raw: pl.Expr, label: str, required: bool, nulls: Sequence[str]) -> Parsed:
    text = _nulled(raw.str.strip_chars(), nulls)
    present = text.is_not_null()
    shaped = text.str.contains(_INT_LIST)
    items = text.str.extract_all(r"-?\d+").list.eval(pl.element().cast(pl.Int64, strict=False))
    overflow = items.list.eval(pl.element().is_null().any()).list.first()
    reason = (pl.when(present & ~shaped)
              .then(pl.lit(f"{label}: not a list of integers"))
              .when(present & overflow)
              .then(pl.lit(f"{label}: an integer in the list overflows int64")))
    if required:
        reason = pl.when(~present).then(pl.lit(f"{label} is missing")).otherwise(reason)
    return Parsed(pl.when(present & shaped).then(items), reason)


def _value(s: _Source, spec: ColumnSpec, dtype: Any, required: bool, m: Mapping) -> Parsed | pl.Expr:
    """A non-time canonical column from its spec."""
    if spec.constant:
        return pl.lit(spec.value, dtype)
    name = spec.source
    assert name is not None
    label = name
    nulls = ("", *m.nulls, *spec.nulls)
    sdt = s.dtypes.get(name, pl.String)
    if isinstance(sdt, pl.List) or sdt == pl.List:
        if dtype == pl.List(pl.Int64):
            return src(name).cast(pl.List(pl.Int64), strict=False)
        raise MappingError(f"mapping {m.path}: columns.{spec.name}: source column {name!r} of "
                           f"{s.display} is a list ({sdt}), which does not fit {dtype}")
    if isinstance(sdt, pl.Struct) or sdt == pl.Struct:
        raise MappingError(f"mapping {m.path}: columns.{spec.name}: source column {name!r} of "
                           f"{s.display} is a struct, which does not fit {dtype}")
    text = s.text(name)
    if dtype == pl.Float64:
        return _float(text, label, required, nulls, spec.scale, spec.offset)
    if dtype == pl.Int64:
        p = parse_int(text, label, required=required, nulls=nulls, allow_float=True, strip=True)
        return Parsed(_numeric_nulls(p.value, nulls), p.reason)
    if dtype == pl.Boolean:
        return _parse_bool(text, label, required, nulls)
    if dtype == pl.String:
        p = parse_text(text, label, required=required, nulls=nulls)
        return Parsed(p.value.replace(spec.map) if spec.map else p.value, p.reason)
    return _parse_int_list(text, label, required, nulls)


@dataclass
class _Time:
    """A time point before the origin is known: absolute epoch value or relative value."""

    absolute: bool
    unit_ns: int  # ns per unit of ``native``; 1 for datetimes (epoch ns)
    native: Parsed
    integer: bool = False


def _time(s: _Source, spec: ColumnSpec, required: bool, m: Mapping) -> _Time:
    name = spec.source
    assert name is not None
    fmt = spec.time_format or m.time_format or "seconds"
    sdt = s.dtypes.get(name, pl.String)
    if isinstance(sdt, pl.Datetime) or sdt in (pl.Datetime, pl.Date):
        v = src(name).cast(pl.Datetime("ns")) if sdt == pl.Date else src(name)
        if getattr(sdt, "time_zone", None) is None:
            v = v.dt.replace_time_zone(m.timezone or "UTC", ambiguous="earliest", non_existent="null")
        epoch = v.dt.timestamp("ns")
        reason = (pl.when(src(name).is_null()).then(pl.lit(f"{name} is missing")) if required
                  else pl.lit(None, pl.String))
        return _Time(True, 1, Parsed(epoch, reason), integer=True)
    text = s.text(name)
    nulls = ("", *m.nulls, *spec.nulls)
    if fmt in UNIX_UNITS or fmt in RELATIVE_UNITS:
        unit = UNIX_UNITS.get(fmt) or RELATIVE_UNITS[fmt]
        integer = fmt == "unix_ns"
        if integer:
            p = parse_int(text, name, required=required, nulls=nulls, allow_float=True, strip=True)
        else:
            p = parse_float(text, name, required=required, nulls=nulls, strip=True)
        return _Time(fmt in UNIX_UNITS, unit, Parsed(_numeric_nulls(p.value, nulls), p.reason), integer)
    if sdt != pl.String and sdt.is_numeric():
        raise MappingError(f"mapping {m.path}: time.format: {name!r} of {s.display} holds numbers "
                           f"({sdt}), not text for the pattern {fmt!r}; use unix_s / unix_ms / "
                           "unix_us / unix_ns or seconds")
    text = _nulled(text.str.strip_chars(), nulls)
    if fmt == ISO:
        if (m.timezone or "UTC") != "UTC":
            raise MappingError(f"mapping {m.path}: time.timezone: iso8601 reads zone-less values as "
                               "UTC only; for another zone give a strptime pattern as time.format")
        p = parse_datetime(text, name, None, required=required, time_zone="UTC")
        return _Time(True, 1, Parsed(p.value.dt.timestamp("ns"), p.reason), integer=True)
    zoned = _zoned(fmt)
    if zoned or (m.timezone or "UTC") == "UTC":
        p = parse_datetime(text, name, fmt, required=required, time_zone="UTC")
        return _Time(True, 1, Parsed(p.value.dt.timestamp("ns"), p.reason), integer=True)
    p = parse_datetime(text, name, fmt, required=required)
    local = p.value.dt.replace_time_zone(m.timezone, ambiguous="earliest", non_existent="null")
    gap = pl.when(p.value.is_not_null() & local.is_null()).then(
        pl.lit(f"{name}: a local time that does not exist in {m.timezone} (clock change)"))
    return _Time(True, 1, Parsed(local.dt.timestamp("ns"), first_reason(p.reason, gap)), integer=True)


def _zoned(fmt: str) -> bool:
    """Whether a strptime pattern reads a UTC offset (%z, %:z, %::z, %#z)."""
    return "%z" in fmt or ":z" in fmt or "#z" in fmt


def _seconds(t: _Time, origin: Fraction | None) -> Parsed:
    per_s = 10**9 // t.unit_ns
    v = t.native.value
    if t.absolute:
        o = origin or Fraction(0)
        if t.integer:
            v = (v - round(o / t.unit_ns)).cast(pl.Float64)
        else:
            v = v.cast(pl.Float64) - float(o / t.unit_ns)
    else:
        v = v.cast(pl.Float64)
    return Parsed(v / float(per_s) if per_s != 1 else v, t.native.reason)


def _head_min(s: _Source, t: _Time) -> Fraction | None:
    value = s.frame.head(HEAD_ROWS).select(t.native.value.min()).collect().item()
    if value is None:
        # no parseable time in the head: one streaming pass for the minimum (memory stays flat)
        value = s.frame.select(t.native.value.min()).collect(engine="streaming").item()
    return None if value is None else Fraction(value) * t.unit_ns


# ---------------------------------------------------------------- the reader


class MappedReader(Reader):
    """Any CSV / TSV / Parquet / JSONL file into any canonical table through a TOML mapping."""

    name = "mapped"
    version = "1"
    description = "generic: CSV / TSV / Parquet / JSONL (.gz) into any table via a TOML column mapping"
    tables = tuple(TABLES)
    doc_url = "docs/mapping.md"
    options = {
        "mapping": Option(str, "", "path of the TOML column mapping (required; see docs/mapping.md)"),
    }

    def sniff(self, path: Path) -> bool:
        """Never: this reader needs an explicit mapping."""
        return False

    def resolve_options(self, given: dict[str, Any] | None) -> dict[str, Any]:
        """Check the options and validate the mapping now, before anything is read.

        The mapping's SHA-256 joins the options, so an edited mapping changes the content key.
        """
        given = {k: v for k, v in (given or {}).items() if k != "mapping_sha256"}
        out = super().resolve_options(given)
        if not out["mapping"]:
            raise OptionError("format 'mapped' needs the option mapping=PATH, a TOML column "
                              "mapping (see docs/mapping.md)")
        out["mapping_sha256"] = load_mapping(out["mapping"]).sha256
        return out

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        """Read every file with the mapping; one part per file (per metric for wide usage)."""
        path = ctx.options.get("mapping")
        if not path:
            raise OptionError("format 'mapped' needs the option mapping=PATH (see docs/mapping.md)")
        m = load_mapping(path)
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

        sources: list[_Source] = []
        for f in files:
            kind = _kind_of(f, m)
            if kind == "parquet":
                sources.append(_open_parquet(f, m))
            elif kind == "jsonl":
                sources.append(_open_jsonl(f, m, ctx))
            else:
                sources.append(_open_delimited(f, kind, m, ctx))
        if m.rest:
            used = set(m.sources())
            # a JSON object whose member is mapped ("res.mem") is not copied again as a whole
            parents = {u.split(".", 1)[0] for u in used if "." in u}
            keep = list(m.keep) + [n for s in sources for n in s.names
                                   if n not in used and n not in parents]
            m = _with_keep(m, list(dict.fromkeys(keep)))

        table = m.spec
        schema = table.polars_schema
        per_file_times: list[dict[str, _Time]] = []
        for s in sources:
            per_file_times.append({
                c: _time(s, spec, c in table.required, m)
                for c, spec in m.columns.items() if c in TIME_POINTS and not spec.constant
            })

        origin = _origin_ns(m.path, m.origin, m.timezone)
        if origin is None:
            order = [table.time_column] + sorted(TIME_POINTS)
            primary = next((c for c in order if c in m.columns and not m.columns[c].constant
                            and all(t[c].absolute for t in per_file_times)), None)
            if primary is not None:
                mins = [v for s, t in zip(sources, per_file_times, strict=True)
                        if (v := _head_min(s, t[primary])) is not None]
                origin = min(mins) if mins else None

        parts: list[TablePart] = []
        for s, times in zip(sources, per_file_times, strict=True):
            fields: dict[str, Parsed | pl.Expr] = {}
            for c, spec in m.columns.items():
                if c in times:
                    fields[c] = _seconds(times[c], origin)
                else:
                    fields[c] = _value(s, spec, schema[c], c in table.required, m)
            if m.keep:
                fields["attrs"] = _attrs(s, m)
            if m.metrics:
                for mname, ms in m.metrics.items():
                    f2 = dict(fields)
                    f2["metric"] = pl.lit(mname, pl.String)
                    nulls = ("", *m.nulls, *ms.nulls)
                    f2["value"] = _float(s.text(ms.source), ms.source, True, nulls, ms.scale, ms.offset)
                    if ms.unit is not None:
                        f2["unit"] = pl.lit(ms.unit, pl.String)
                    parts.append(TablePart(build(s.frame, _json_guard(s, f2)), s.raw, s.display))
            else:
                parts.append(TablePart(build(s.frame, _json_guard(s, fields)), s.raw, s.display))

        meta = self._meta(m, origin, sources, per_file_times)
        return ScanResult({m.table: parts}, files, meta)

    @staticmethod
    def _meta(m: Mapping, origin: Fraction | None, sources: list[_Source],
              times: list[dict[str, _Time]]) -> dict[str, Any]:
        fmts = {(spec.time_format or m.time_format) for c, spec in m.columns.items()
                if c in TIME_POINTS and not spec.constant}
        all_times = [t for per in times for t in per.values()]
        relative = bool(all_times) and not any(t.absolute for t in all_times)
        naive = any(f == ISO or (f and "%" in f and not _zoned(f)) for f in fmts)
        assumed = (naive and m.timezone is None) or (
            relative and m.origin not in ("auto", "epoch") and m.timezone is None
            and _dt.datetime.fromisoformat(m.origin.replace("Z", "+00:00")).tzinfo is None)
        resolution = m.resolution_s
        if resolution is None and len(fmts) == 1:
            f = next(iter(fmts))
            unit = UNIX_UNITS.get(f or "") or RELATIVE_UNITS.get(f or "")
            if unit is not None and unit < 10**9:
                resolution = unit / 1e9
        note = None
        if relative and origin is None:
            note = "times are relative as given by the source; the absolute origin is unknown"
        elif naive and m.timezone is None:
            note = "timestamps carry no zone and are taken as UTC"
        meta = origin_meta(None if origin is None else round(origin), assumed_utc=bool(assumed),
                           resolution_s=resolution, note=note)
        meta.update(m.meta)
        meta["mapping_file"] = m.path.name
        meta["mapping"] = m.raw
        meta["source_formats"] = sorted({s.kind for s in sources})
        return meta


def _with_keep(m: Mapping, keep: list[str]) -> Mapping:
    return replace(m, keep=tuple(keep))


def _attrs(s: _Source, m: Mapping) -> Parsed:
    """The attrs JSON object of the kept source columns (typed for Parquet, text otherwise)."""
    values, reasons = {}, []
    for k in m.keep:
        sdt = s.dtypes.get(k, pl.String)
        if k not in s.dtypes:
            values[k] = pl.lit(None, pl.String)  # a JSON key absent from every line of this file
        elif sdt == pl.String:
            p = parse_text(src(k), k, nulls=("", *m.nulls))
            values[k] = p.value
            reasons.append(p.reason)
        else:
            values[k] = src(k)
    return Parsed(pl.struct(**values).struct.json_encode(), first_reason(*reasons))


def _json_guard(s: _Source, fields: dict[str, Parsed | pl.Expr]) -> dict[str, Parsed | pl.Expr]:
    """Put a JSON line's shape check first, so a broken line reads as such, not as 'x is missing'."""
    if s.kind != "jsonl":
        return fields
    line = pl.col(_JSON_LINE).str.strip_chars()
    bad = pl.when(~line.str.starts_with("{") | line.str.json_path_match("$").is_null()).then(
        pl.lit("line is not a JSON object"))
    return {_JSON_CHECK: Parsed(pl.lit(None, pl.Boolean), bad), **fields}


READER = MappedReader()
