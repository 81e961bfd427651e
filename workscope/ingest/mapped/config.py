"""The TOML mapping of the ``mapped`` reader: loading and validation.

:func:`load_mapping` reads the file and checks it section by section, in the order the
reference (docs/mapping.md) describes them; the first problem found raises a
:class:`MappingError` naming the file and the key.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import tomllib
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl

from workscope.errors import OptionError, did_you_mean
from workscope.schemas import TABLES, Table

TIME_POINTS = frozenset({"arrival_s", "submit_s", "start_s", "end_s", "t_s", "window_start_s", "plan_s", "sent_s"})
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
TEXT_ONLY_KEYS = ("delimiter", "quote", "has_header", "names", "comment", "skip_lines")
"""Top-level keys that apply to csv / tsv input only."""


class MappingError(OptionError):
    """The TOML mapping is invalid; the message names the file and the key."""


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


# ---------------------------------------------------------------- loading


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a TOML mapping; MappingError names the file and the bad key."""
    path = Path(path)
    data, doc = _read_toml(path)
    _unknown_keys(path, "", doc, TOP_KEYS)
    table = _table(path, doc)
    kw: dict[str, Any] = {}
    kw.update(_input_options(path, doc))
    kw.update(_time_options(path, doc))
    specs = _columns(path, doc, table)
    metrics = _metrics(path, doc, table, specs)
    _check_required(path, table, specs, metrics)
    _check_time_columns(path, specs, kw.get("time_format"), kw.get("timezone"))
    kw.update(_attrs_options(path, doc, table))
    meta = _meta(path, doc)
    return Mapping(path=path, sha256=hashlib.sha256(data).hexdigest(), raw=doc, table=table.name,
                   columns=specs, metrics=metrics, meta=meta, **kw)


def _read_toml(path: Path) -> tuple[bytes, dict[str, Any]]:
    """The file's bytes (for its SHA-256) and the parsed TOML document."""
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
    except RecursionError:
        raise MappingError(f"mapping {path}: arrays or tables nested too deep to read; a mapping "
                           "is a few flat tables (see docs/mapping.md)") from None
    return data, doc


def _table(path: Path, doc: dict[str, Any]) -> Table:
    """``table``: the canonical table to fill."""
    table_name = doc.get("table")
    if not isinstance(table_name, str):
        raise _err(path, "table", f"required: the canonical table to fill, one of {', '.join(TABLES)}")
    if table_name not in TABLES:
        raise _err(path, "table", f"unknown canonical table {table_name!r}"
                                  f"{did_you_mean(table_name, TABLES)}; known: {', '.join(TABLES)}")
    return TABLES[table_name]


def _input_options(path: Path, doc: dict[str, Any]) -> dict[str, Any]:
    """``format``, the csv / tsv reading options, ``glob`` and ``nulls``."""
    kw: dict[str, Any] = {}
    fmt = doc.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise _err(path, "format", f"unknown input format {fmt!r}{did_you_mean(str(fmt), FORMATS)}; "
                                   f"one of {', '.join(FORMATS)}")
    kw["format"] = fmt
    for key in TEXT_ONLY_KEYS:
        if key in doc and fmt in ("parquet", "jsonl"):
            raise _err(path, key, f"applies to csv / tsv input only, not {fmt}")
    kw.update(_text_options(path, doc))
    if "glob" in doc:
        if not isinstance(doc["glob"], str) or not doc["glob"]:
            raise _err(path, "glob", f"must be a file name pattern such as '*.csv.gz', got {doc['glob']!r}")
        kw["glob"] = doc["glob"]
    if "nulls" in doc:
        kw["nulls"] = _str_list(path, "nulls", doc["nulls"])
    return kw


def _text_options(path: Path, doc: dict[str, Any]) -> dict[str, Any]:
    """How a csv / tsv file is split: delimiter, quote, header or names, comments, skipped lines."""
    kw: dict[str, Any] = {}
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
    return kw


def _time_options(path: Path, doc: dict[str, Any]) -> dict[str, Any]:
    """The ``[time]`` table: format, zone, origin and resolution."""
    time = _subtable(path, doc, "time", "[time]", TIME_KEYS)
    kw: dict[str, Any] = {}
    if "format" in time:
        kw["time_format"] = check_time_format(path, "time.format", time["format"])
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
        # an unquoted TOML date-time; the text form also goes into the manifest's mapping
        time["origin"] = time["origin"].isoformat()
    if "origin" in time:
        if not isinstance(time["origin"], str):
            raise _err(path, "time.origin", "must be 'auto', 'epoch' or an ISO-8601 timestamp string")
        kw["origin"] = time["origin"]
        origin_ns(path, time["origin"], kw.get("timezone"))
    if "resolution_s" in time:
        kw["resolution_s"] = _number(path, "time.resolution_s", time["resolution_s"])
    return kw


def _columns(path: Path, doc: dict[str, Any], table: Table) -> dict[str, ColumnSpec]:
    """The ``[columns]`` table: one spec per canonical column."""
    cols = doc.get("columns")
    if not isinstance(cols, dict) or not cols:
        raise _err(path, "columns", "required: a [columns] table mapping canonical columns of "
                                    f"{table.name} ({', '.join(table.names)}) to source columns")
    specs: dict[str, ColumnSpec] = {}
    for name, value in cols.items():
        if name == "attrs":
            raise _err(path, "columns.attrs", "attrs is built from [attrs] keep = [...] / rest = true")
        if name not in table.names:
            raise _err(path, f"columns.{name}",
                       f"{table.name} has no column {name!r}{did_you_mean(name, table.names)}; "
                       f"columns: {', '.join(n for n in table.names if n != 'attrs')}")
        specs[name] = _column_spec(path, table, name, value)
    return specs


def _column_spec(path: Path, table: Table, name: str, value: Any) -> ColumnSpec:
    """One ``[columns]`` entry: a source column name, ``{ column = ... }`` or ``{ value = ... }``."""
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
    if "value" in value:
        extra = [k for k in value if k != "value"]
        if extra:
            raise _err(path, f"{key}.{extra[0]}", "does not apply to a constant 'value'")
        return ColumnSpec(name, value=_constant(path, f"{key}.value", name, dtype, value["value"]),
                          constant=True)
    source = value["column"]
    if not isinstance(source, str) or not source:
        raise _err(path, f"{key}.column", f"must be a source column name, got {source!r}")
    scale, offset = _scale_offset(path, key, name, dtype, value)
    nulls = _str_list(path, f"{key}.nulls", value["nulls"]) if "nulls" in value else ()
    return ColumnSpec(name, source=source, scale=scale, offset=offset, nulls=nulls,
                      map=_text_map(path, key, name, dtype, value),
                      time_format=_column_time_format(path, key, name, value))


def _scale_offset(path: Path, key: str, name: str, dtype: Any,
                  value: dict[str, Any]) -> tuple[float | None, float | None]:
    """A column's ``scale`` and ``offset``, allowed on float columns that are not time points."""
    numeric = dtype == pl.Float64 and name not in TIME_POINTS
    for k in ("scale", "offset"):
        if k in value and not numeric:
            why = ("time points are converted with [time] (or a per-column 'format')"
                   if name in TIME_POINTS else f"{name} is not a float column")
            raise _err(path, f"{key}.{k}", f"{k} applies to float columns only; {why}")
    scale = offset = None
    if "scale" in value:
        scale = _number(path, f"{key}.scale", value["scale"])
        if scale == 0:
            raise _err(path, f"{key}.scale", "must not be 0")
    if "offset" in value:
        offset = _number(path, f"{key}.offset", value["offset"])
    return scale, offset


def _text_map(path: Path, key: str, name: str, dtype: Any, value: dict[str, Any]) -> dict[str, str] | None:
    """A text column's ``map`` of source text to canonical text."""
    if "map" not in value:
        return None
    if dtype != pl.String:
        raise _err(path, f"{key}.map", f"map applies to text columns only; {name} is {dtype}")
    mapping = value["map"]
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise _err(path, f"{key}.map", "must be an inline table of source text = canonical text")
    return mapping


def _column_time_format(path: Path, key: str, name: str, value: dict[str, Any]) -> str | None:
    """A time point's own ``format``, overriding ``[time] format``."""
    if "format" not in value:
        return None
    if name not in TIME_POINTS:
        raise _err(path, f"{key}.format", f"format applies to time points only "
                                          f"({', '.join(sorted(TIME_POINTS))})")
    return check_time_format(path, f"{key}.format", value["format"])


def _metrics(path: Path, doc: dict[str, Any], table: Table,
             specs: dict[str, ColumnSpec]) -> dict[str, MetricSpec]:
    """The ``[metrics]`` table of a wide usage file (empty when absent)."""
    metrics: dict[str, MetricSpec] = {}
    if "metrics" not in doc:
        return metrics
    if table.name != "usage":
        raise _err(path, "metrics", f"applies to the usage table only, not {table.name}")
    raw_metrics = doc["metrics"]
    if not isinstance(raw_metrics, dict) or not raw_metrics:
        raise _err(path, "metrics", "must be a table of metric name = source column")
    for bad in ("metric", "value"):
        if bad in specs:
            raise _err(path, f"columns.{bad}", "cannot be mapped together with [metrics] "
                                               "(each metric gives its own metric and value)")
    for mname, mv in raw_metrics.items():
        metrics[mname] = _metric_spec(path, mname, mv)
    return metrics


def _metric_spec(path: Path, mname: str, mv: Any) -> MetricSpec:
    """One ``[metrics]`` entry: a source column name or ``{ column = ..., unit = ... }``."""
    key = f"metrics.{mname}"
    if isinstance(mv, str):
        return MetricSpec(mname, mv)
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
    return MetricSpec(
        mname, mv["column"], scale,
        _number(path, f"{key}.offset", mv["offset"]) if "offset" in mv else None,
        unit, _str_list(path, f"{key}.nulls", mv["nulls"]) if "nulls" in mv else ())


def _check_required(path: Path, table: Table, specs: dict[str, ColumnSpec],
                    metrics: dict[str, MetricSpec]) -> None:
    """Every required column of the table is mapped ([metrics] gives metric and value)."""
    mapped = set(specs) | ({"metric", "value"} if metrics else set())
    missing = [c for c in table.required if c not in mapped]
    if missing:
        raise _err(path, "columns", f"{table.name} requires {', '.join(missing)}, which the mapping "
                                    f"does not map; add e.g. {missing[0]} = \"<source column>\"")


def _check_time_columns(path: Path, specs: dict[str, ColumnSpec], time_format: str | None,
                        timezone: str | None) -> None:
    """Every time point read from a source column has a format that fits the zone."""
    for name, s in specs.items():
        if name not in TIME_POINTS or s.source is None:
            continue
        fmt = s.time_format or time_format
        if fmt == ISO and (timezone or "UTC") != "UTC":
            raise _err(path, "time.timezone", "iso8601 reads zone-less values as UTC only; for "
                                              "another zone give a strptime pattern as the format")
        if not fmt:
            raise _err(path, "time.format", f"required to convert {name} (from {s.source!r}): a strptime "
                                            f"pattern or one of {', '.join(TIME_KEYWORDS)}")


def _attrs_options(path: Path, doc: dict[str, Any], table: Table) -> dict[str, Any]:
    """The ``[attrs]`` table: source columns kept in the attrs JSON object."""
    attrs = _subtable(path, doc, "attrs", "[attrs] keep = [...] / rest = true", ATTRS_KEYS)
    kw: dict[str, Any] = {}
    if "keep" in attrs:
        kw["keep"] = _str_list(path, "attrs.keep", attrs["keep"])
    if "rest" in attrs:
        if not isinstance(attrs["rest"], bool):
            raise _err(path, "attrs.rest", f"must be true or false, got {attrs['rest']!r}")
        kw["rest"] = attrs["rest"]
    if "attrs" not in table.names and (kw.get("keep") or kw.get("rest")):
        raise _err(path, "attrs", f"{table.name} has no attrs column")
    return kw


def _meta(path: Path, doc: dict[str, Any]) -> dict[str, Any]:
    """The ``[meta]`` table: trace-level facts for the manifest, none the reader sets itself."""
    meta = _subtable(path, doc, "meta", "[meta]")
    for k, v in meta.items():
        if k in RESERVED_META:
            raise _err(path, f"meta.{k}", "is set by the reader; choose another name")
        if not isinstance(v, (str, int, float, bool)):
            raise _err(path, f"meta.{k}", f"must be a string, number or boolean, got {v!r}")
    return dict(meta)


# ---------------------------------------------------------------- single values


def origin_ns(path: Path, origin: str, timezone: str | None) -> Fraction | None:
    """The explicit ``[time] origin`` as epoch ns, None for auto."""
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


def check_time_format(path: Path, key: str, fmt: Any) -> str:
    """A time format: a strptime pattern (with %) or one of :data:`TIME_KEYWORDS`."""
    if not isinstance(fmt, str) or not fmt:
        raise _err(path, key, f"must be a strptime pattern or one of {', '.join(TIME_KEYWORDS)}, got {fmt!r}")
    if fmt in TIME_KEYWORDS or "%" in fmt:
        return fmt
    raise _err(path, key, f"{fmt!r} is neither a strptime pattern (with %) nor one of "
                          f"{', '.join(TIME_KEYWORDS)}{did_you_mean(fmt, TIME_KEYWORDS)}")


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


def _subtable(path: Path, doc: dict[str, Any], key: str, example: str,
              allowed: Sequence[str] | None = None) -> dict[str, Any]:
    """The mapping's ``[key]`` table (empty when absent), with its keys checked against ``allowed``."""
    sub = doc.get(key, {})
    if not isinstance(sub, dict):
        raise _err(path, key, f"must be a table: {example}")
    if allowed is not None:
        _unknown_keys(path, key, sub, allowed)
    return sub


def _unknown_keys(path: Path, where: str, got: dict[str, Any], allowed: Sequence[str]) -> None:
    for k in got:
        if k not in allowed:
            prefix = f"{where}." if where else ""
            raise _err(path, f"{prefix}{k}",
                       f"unknown key{did_you_mean(k, allowed)}; allowed: {', '.join(allowed)}")


def _err(path: Path, key: str, problem: str) -> MappingError:
    return MappingError(f"mapping {path}: {key}: {problem}")
