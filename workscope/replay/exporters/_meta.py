"""Facts about a workload's provenance (its ``meta``) that several exporters write."""

from __future__ import annotations

import datetime as _dt
from typing import Any


def origin_epoch_s(meta: dict[str, Any]) -> float | None:
    """The workload origin as Unix seconds, or None when the trace has no absolute origin."""
    text = meta.get("origin_utc")
    if not text:
        return None
    dt = _dt.datetime.fromisoformat(str(text))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_dt.UTC)
    return dt.timestamp()
