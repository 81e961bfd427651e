"""Shared time handling: origins, epoch conversion and the manifest's origin fields."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import polars as pl

from workscope.ingest.parse import Parsed
from workscope.numeric import exact_div


def epoch_ns(ts: pl.Expr) -> pl.Expr:
    """Nanoseconds since the Unix epoch of a datetime expression (naive read as UTC)."""
    return ts.dt.timestamp("ns")


def seconds_since(ts: pl.Expr, origin_ns: int) -> pl.Expr:
    """Seconds (float64) from ``origin_ns`` to a datetime expression, exact to the ns."""
    return exact_div(epoch_ns(ts) - origin_ns, 1e9)


def origin_meta(origin_ns: int | None, *, assumed_utc: bool, resolution_s: float | None,
                note: str | None = None) -> dict[str, Any]:
    """Manifest fields describing the trace's time origin."""
    meta: dict[str, Any] = {"time_resolution_s": resolution_s}
    if origin_ns is not None:
        dt = _dt.datetime.fromtimestamp(origin_ns // 1_000_000_000, tz=_dt.UTC)
        dt = dt.replace(microsecond=(origin_ns % 1_000_000_000) // 1000)
        meta["origin_utc"] = dt.isoformat()
        meta["origin_epoch_ns"] = origin_ns
    else:
        meta["origin_utc"] = None
    meta["origin_assumed_utc"] = assumed_utc
    if note:
        meta["time_note"] = note
    return meta


ORIGIN_YEARS = (1980, 2100)
"""Years a trace's origin is looked for in. Public traces start between 1993 (the oldest
Parallel Workloads Archive logs) and now; a time outside (a 0 or a year 2300 written by a
broken logger) must not become the origin, or every real row would land decades away from it
and be rejected as implausible. It stays a row of its own, judged by the column's bounds."""

_ORIGIN_NS = tuple(int(_dt.datetime(y, 1, 1, tzinfo=_dt.UTC).timestamp()) * 10**9
                   for y in ORIGIN_YEARS)


def earliest_ns(ns: pl.Expr, unit_ns: int = 1) -> pl.Expr:
    """Aggregation: the earliest epoch time of ``ns`` (in units of ``unit_ns`` nanoseconds)
    within :data:`ORIGIN_YEARS`, or the earliest of all when none is within."""
    lo, hi = (v // unit_ns for v in _ORIGIN_NS)
    return pl.coalesce(ns.filter(ns.is_between(lo, hi, closed="left")).min(), ns.min())


def head_min_ns(frame: pl.LazyFrame, parsed: Parsed, rows: int = 10_000) -> int | None:
    """Earliest parseable time among the first ``rows`` rows, as epoch ns (None if none),
    preferring times within :data:`ORIGIN_YEARS`."""
    out = frame.head(rows).select(earliest_ns(epoch_ns(parsed.value))).collect()
    return out.item()


def calendar_bounds(origin_ns: int) -> tuple[float, float]:
    """The plausible range of times counted from ``origin_ns``: :data:`ORIGIN_YEARS`, in seconds
    since that origin (for origins a user chose, such as the Unix epoch, far from the data)."""
    lo, hi = _ORIGIN_NS
    return (lo - origin_ns) / 1e9, (hi - origin_ns) / 1e9
