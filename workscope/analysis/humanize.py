"""Figures in words a reader takes in at once: durations, counts, rates, shares, sizes, dates.

Three significant digits, no float noise (``14.200000000000001`` reads ``14.2``), and the unit
chosen from the magnitude (``1.98937e+06 s`` reads ``23.0 days``). Used by the headlines, the
reports' figure tables and the CLI; never for JSON, which keeps the exact values.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

_DURATIONS = ((86400.0, "days"), (3600.0, "h"), (60.0, "min"), (1.0, "s"), (1e-3, "ms"), (1e-6, "µs"),
              (1e-9, "ns"))
_SIZES = ((1e6, "TB"), (1e3, "GB"), (1.0, "MB"), (1e-3, "KB"))
_RATES = ((1.0, "/s"), (1 / 60, "/min"), (1 / 3600, "/h"), (1 / 86400, "/day"))


def number(x: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, thousands separated, no trailing zeros
    after the point for whole values (``26798``, ``0.00123``, ``1.09``)."""
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    v = float(x)
    if not math.isfinite(v):
        return "∞" if v > 0 else ("-∞" if v < 0 else "NaN")
    if v == 0:
        return "0"
    if abs(v) >= 10 ** digits:
        return f"{round(v):,}"
    if abs(v) < 1e-4:
        return f"{v:.{digits - 1}e}"
    text = f"{v:.{max(digits - 1 - math.floor(math.log10(abs(v))), 0)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def count(x: Any) -> str:
    """A count with thousands separators (``26,798``)."""
    if x is None:
        return "–"
    v = float(x)
    return f"{round(v):,}" if math.isfinite(v) and v == round(v) else number(v)


def duration(seconds: Any) -> str:
    """Seconds in the largest unit that keeps the figure at 1 or more (``23.0 days``,
    ``850 ms``); three significant digits."""
    if seconds is None:
        return "–"
    s = float(seconds)
    if not math.isfinite(s):
        return number(s)
    if s == 0:
        return "0 s"
    for scale, unit in _DURATIONS:
        if abs(s) >= scale:
            return f"{number(s / scale)} {unit}"
    return f"{number(s)} s"


def rate(per_second: Any, what: str = "") -> str:
    """Events per second, per minute, hour or day, whichever reads at 1 or more
    (``5.5 req/s``, ``2.3 req/h``)."""
    if per_second is None:
        return "–"
    r = float(per_second)
    label = f" {what}" if what else ""
    if not math.isfinite(r) or r == 0:
        return f"{number(r)}{label}/s"
    scale, unit = next(((k, u) for k, u in _RATES if abs(r) >= k), _RATES[-1])
    return f"{number(r / scale)}{label}{unit}"


def share(fraction: Any) -> str:
    """A fraction in 0..1 as a percentage (``3.2%``, ``<0.1%``, ``100%``)."""
    if fraction is None:
        return "–"
    f = float(fraction)
    if not math.isfinite(f):
        return number(f)
    pct = 100 * f
    if 0 < abs(pct) < 0.1:
        return "<0.1%"
    return f"{number(pct, 3 if abs(pct) >= 10 else 2)}%"


def megabytes(mb: Any) -> str:
    """Megabytes as KB, MB, GB or TB (decimal units), three significant digits."""
    if mb is None:
        return "–"
    v = float(mb)
    if not math.isfinite(v) or v == 0:
        return f"{number(v)} MB"
    for scale, unit in _SIZES:
        if abs(v) >= scale:
            return f"{number(v / scale)} {unit}"
    return f"{number(v * 1e6)} bytes"


def when(origin_utc: str | None, seconds: Any) -> str:
    """A time as a UTC date and time when the origin is known (``2023-11-16 18:15 UTC``),
    else as seconds since the origin."""
    if seconds is None:
        return "–"
    if origin_utc:
        try:
            t0 = _dt.datetime.fromisoformat(origin_utc)
            at = t0 + _dt.timedelta(seconds=float(seconds))
            return at.astimezone(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        except (ValueError, OverflowError):
            pass
    return f"{duration(seconds)} after the start"


__all__ = ["count", "duration", "megabytes", "number", "rate", "share", "when"]
