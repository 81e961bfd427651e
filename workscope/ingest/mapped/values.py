"""Value conversion of the ``mapped`` reader: source text (or typed Parquet values) to canonical.

Every value goes through the typed parsers of ingest.parse, so a bad value rejects its row
with a reason. Numbers take ``nulls``, ``scale`` and ``offset``; text takes a ``map``; time
points become a :class:`TimePoint` (epoch or relative, in its native unit) first and seconds
since the origin once the origin is known (:func:`seconds`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import polars as pl

from workscope.ingest.mapped.config import ISO, RELATIVE_UNITS, UNIX_UNITS, ColumnSpec, Mapping, MappingError
from workscope.ingest.mapped.sources import Source
from workscope.ingest.parse import (
    Parsed,
    first_reason,
    parse_datetime,
    parse_float,
    parse_int,
    parse_text,
    src,
)
from workscope.ingest.timefmt import earliest_ns

HEAD_ROWS = 10_000
"""Rows of each file whose earliest time point makes the automatic origin."""

_TRUE = ("true", "t", "yes", "y", "1", "1.0")
_FALSE = ("false", "f", "no", "n", "0", "0.0")
_INT_LIST = r"^\[?\s*(-?\d+(\s*[,;\s]\s*-?\d+)*)?\s*,?\s*\]?$"


# ---------------------------------------------------------------- plain columns


def column_value(s: Source, spec: ColumnSpec, dtype: Any, required: bool, m: Mapping) -> Parsed | pl.Expr:
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
        return float_value(text, label, required, nulls, spec.scale, spec.offset)
    if dtype == pl.Int64:
        p = parse_int(text, label, required=required, nulls=nulls, allow_float=True, strip=True)
        return p.map(lambda v: _numeric_nulls(v, nulls))
    if dtype == pl.Boolean:
        return _parse_bool(text, label, required, nulls)
    if dtype == pl.String:
        p = parse_text(text, label, required=required, nulls=nulls)
        return p.map(lambda v: v.replace(spec.map) if spec.map else v)
    return _parse_int_list(text, label, required, nulls)


def float_value(text: pl.Expr, label: str, required: bool, nulls: Sequence[str],
                scale: float | None, offset: float | None) -> Parsed:
    """A float column: parsed, nulls applied, scaled; 'inf' and 'NaN' are rejected."""
    p = parse_float(text, label, required=required, nulls=nulls, strip=True)
    value = _scaled(_numeric_nulls(p.value, nulls), scale, offset)
    # 'inf' / 'NaN' parse as floats, but no measurement is infinite; a source that writes
    # them for "missing" lists them in nulls
    odd = pl.when(value.is_not_null() & ~value.is_finite()).then(pl.lit(f"{label}: not a finite number"))
    return Parsed(value, first_reason(p.reason, odd))


def attrs(s: Source, m: Mapping) -> Parsed:
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


# ---------------------------------------------------------------- time points


@dataclass
class TimePoint:
    """A time point before the origin is known: absolute epoch value or relative value."""

    absolute: bool
    unit_ns: int  # ns per unit of ``native``; 1 for datetimes (epoch ns)
    native: Parsed
    integer: bool = False


def time_point(s: Source, spec: ColumnSpec, required: bool, m: Mapping) -> TimePoint:
    """A time point column in its native unit: typed Parquet times, numbers, or text timestamps."""
    name = spec.source
    assert name is not None
    fmt = spec.time_format or m.time_format or "seconds"
    sdt = s.dtypes.get(name, pl.String)
    if isinstance(sdt, pl.Datetime) or sdt in (pl.Datetime, pl.Date):
        return _typed_time(name, sdt, required, m)
    text = s.text(name)
    nulls = ("", *m.nulls, *spec.nulls)
    if fmt in UNIX_UNITS or fmt in RELATIVE_UNITS:
        return _numeric_time(text, name, fmt, required, nulls)
    if sdt != pl.String and sdt.is_numeric():
        raise MappingError(f"mapping {m.path}: time.format: {name!r} of {s.display} holds numbers "
                           f"({sdt}), not text for the pattern {fmt!r}; use unix_s / unix_ms / "
                           "unix_us / unix_ns or seconds")
    return _text_time(_nulled(text.str.strip_chars(), nulls), name, fmt, required, m)


def zoned(fmt: str) -> bool:
    """Whether a strptime pattern reads a UTC offset (%z, %:z, %::z, %#z)."""
    return "%z" in fmt or ":z" in fmt or "#z" in fmt


def seconds(t: TimePoint, origin: Fraction | None) -> Parsed:
    """Seconds since ``origin`` (epoch ns) of an absolute time point; a relative one as it is."""
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


def head_min(s: Source, t: TimePoint) -> Fraction | None:
    """The earliest time point of the file's first rows as epoch ns (None if it has none)."""
    v = t.native.value
    first = earliest_ns(v, t.unit_ns) if t.absolute else v.min()
    value = s.frame.head(HEAD_ROWS).select(first).collect().item()
    if value is None:
        # no parseable time in the head: one streaming pass for the minimum (memory stays flat)
        value = s.frame.select(first).collect(engine="streaming").item()
    return None if value is None else Fraction(value) * t.unit_ns


def _typed_time(name: str, sdt: Any, required: bool, m: Mapping) -> TimePoint:
    """A Parquet date or timestamp column, used as it is (zone-less ones read in the zone)."""
    v = src(name).cast(pl.Datetime("ns")) if sdt == pl.Date else src(name)
    if getattr(sdt, "time_zone", None) is None:
        v = v.dt.replace_time_zone(m.timezone or "UTC", ambiguous="earliest", non_existent="null")
    epoch = v.dt.timestamp("ns")
    reason = (pl.when(src(name).is_null()).then(pl.lit(f"{name} is missing")) if required
              else pl.lit(None, pl.String))
    return TimePoint(True, 1, Parsed(epoch, reason), integer=True)


def _numeric_time(text: pl.Expr, name: str, fmt: str, required: bool, nulls: Sequence[str]) -> TimePoint:
    """Unix or relative numbers; Unix nanoseconds stay integers so no precision is lost."""
    unit = UNIX_UNITS.get(fmt) or RELATIVE_UNITS[fmt]
    integer = fmt == "unix_ns"
    if integer:
        p = parse_int(text, name, required=required, nulls=nulls, allow_float=True, strip=True)
    else:
        p = parse_float(text, name, required=required, nulls=nulls, strip=True)
    return TimePoint(fmt in UNIX_UNITS, unit, p.map(lambda v: _numeric_nulls(v, nulls)), integer)


def _text_time(text: pl.Expr, name: str, fmt: str, required: bool, m: Mapping) -> TimePoint:
    """Text timestamps: ISO-8601 or a strptime pattern, zone-less ones read in the zone."""
    if fmt == ISO:
        if (m.timezone or "UTC") != "UTC":
            raise MappingError(f"mapping {m.path}: time.timezone: iso8601 reads zone-less values as "
                               "UTC only; for another zone give a strptime pattern as time.format")
        p = parse_datetime(text, name, None, required=required, time_zone="UTC")
        return TimePoint(True, 1, p.map(lambda v: v.dt.timestamp("ns")), integer=True)
    if zoned(fmt) or (m.timezone or "UTC") == "UTC":
        p = parse_datetime(text, name, fmt, required=required, time_zone="UTC")
        return TimePoint(True, 1, p.map(lambda v: v.dt.timestamp("ns")), integer=True)
    p = parse_datetime(text, name, fmt, required=required)
    local = p.value.dt.replace_time_zone(m.timezone, ambiguous="earliest", non_existent="null")
    gap = pl.when(p.value.is_not_null() & local.is_null()).then(
        pl.lit(f"{name}: a local time that does not exist in {m.timezone} (clock change)"))
    return TimePoint(True, 1, Parsed(local.dt.timestamp("ns"), first_reason(p.reason, gap)), integer=True)
