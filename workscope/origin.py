"""A trace's time origin as the manifest keeps it (``origin_utc``, ISO 8601, UTC)."""

from __future__ import annotations

import datetime as _dt


def origin_epoch_s(origin_utc: str | None) -> float | None:
    """The origin as Unix seconds; None when the trace has no absolute origin or the text is
    not ISO 8601. A time without a zone is UTC (readers record origins in UTC)."""
    if not origin_utc:
        return None
    try:
        dt = _dt.datetime.fromisoformat(str(origin_utc))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_dt.UTC)
    return dt.timestamp()
