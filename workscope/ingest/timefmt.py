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
        dt = _dt.datetime.fromtimestamp(origin_ns // 1_000_000_000, tz=_dt.timezone.utc)
        dt = dt.replace(microsecond=(origin_ns % 1_000_000_000) // 1000)
        meta["origin_utc"] = dt.isoformat()
        meta["origin_epoch_ns"] = origin_ns
    else:
        meta["origin_utc"] = None
    meta["origin_assumed_utc"] = assumed_utc
    if note:
        meta["time_note"] = note
    return meta


def head_min_ns(frame: pl.LazyFrame, parsed: Parsed, rows: int = 10_000) -> int | None:
    """Earliest parseable time among the first ``rows`` rows, as epoch ns (None if none)."""
    out = frame.head(rows).select(epoch_ns(parsed.value).min()).collect()
    return out.item()
