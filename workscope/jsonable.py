"""Plain JSON values from what workscope computes (numpy / polars scalars, DuckDB decimals,
dates, NaN), so every ``--json`` document and ``to_dict()`` is strict JSON."""

from __future__ import annotations

import datetime
import decimal
import math
from collections.abc import Mapping
from typing import Any


def json_ready(value: Any) -> Any:
    """``value`` as plain JSON: containers recursed, NaN and infinities as null, numpy and
    polars scalars unwrapped, decimals as int or float, dates as ISO-8601, the rest as str."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, decimal.Decimal):
        # DuckDB sums are 128-bit decimals; JSON readers expect plain numbers.
        value = int(value) if value == value.to_integral_value() else float(value)
    elif isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    elif isinstance(value, datetime.timedelta):
        return value.total_seconds()
    elif hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (int, str, bool)) or value is None:
        return value
    return str(value)
