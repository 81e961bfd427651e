"""Shared pieces of the load-generator result readers (the ``responses`` table).

Load generators (vLLM ``bench serve``, SGLang ``bench_serving``, AIPerf, GuideLLM) each write
times in their own unit; the helpers here convert once, to float64 seconds, with exact
division (see :func:`workscope.numeric.exact_div`). :func:`run_settings` and
:func:`bench_meta` put a run's settings into the manifest under the same keys for every tool,
so traces from different tools compare.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import polars as pl

from workscope.ingest.parse import Parsed, parse_json_list
from workscope.ingest.timefmt import origin_meta
from workscope.numeric import exact_div

SETTINGS_KEYS = ("tool", "tool_version", "base_url", "model", "request_rate", "max_concurrency",
                 "date")
"""The run settings every load-generator reader records (null where the tool does not)."""


def seconds_from_ms(expr: pl.Expr) -> pl.Expr:
    """Milliseconds as float64 seconds, correctly rounded."""
    return exact_div(expr, 1e3)


def seconds_from_us(expr: pl.Expr) -> pl.Expr:
    """Microseconds as float64 seconds, correctly rounded."""
    return exact_div(expr, 1e6)


def seconds_from_ns(expr: pl.Expr) -> pl.Expr:
    """Nanoseconds as float64 seconds, correctly rounded."""
    return exact_div(expr, 1e9)


def json_number(value: Any) -> Any:
    """A number made safe for the manifest (JSON): infinity and NaN become ``"inf"`` / ``"nan"``.

    Python's json module writes ``Infinity`` for an unlimited request rate (SGLang does), which
    strict JSON readers refuse; the text keeps the meaning.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def run_settings(*, tool: str, tool_version: str | None = None, base_url: str | None = None,
                 model: str | None = None, request_rate: Any = None,
                 max_concurrency: Any = None, date: str | None = None,
                 **extra: Any) -> dict[str, Any]:
    """One run's settings under the shared keys (:data:`SETTINGS_KEYS`), then tool-specific ones.

    ``request_rate`` is requests per second as the tool wrote it (``"inf"`` for "all at once").
    """
    out: dict[str, Any] = {"tool": tool, "tool_version": tool_version, "base_url": base_url,
                           "model": model, "request_rate": json_number(request_rate),
                           "max_concurrency": json_number(max_concurrency), "date": date}
    out.update({k: json_number(v) for k, v in extra.items()})
    return out


def bench_meta(runs: Sequence[dict[str, Any]], *, resolution_s: float | None,
               note: str) -> dict[str, Any]:
    """Manifest meta of a load-generator source: the time origin, the first run's settings as
    top-level keys, and every run's settings under ``runs`` (a file may hold several runs)."""
    meta = origin_meta(None, assumed_utc=False, resolution_s=resolution_s, note=note)
    if runs:
        meta.update({k: runs[0].get(k) for k in SETTINGS_KEYS})
    meta["runs"] = list(runs)
    return meta


# Compact JSON numbers, as json.dumps writes them; NaN / Infinity are not numbers here.
_NUM = r"-?\d+(\.\d+)?([eE][-+]?\d+)?"
_FLOAT_LIST_RE = rf"^\[({_NUM}(,{_NUM})*)?\]$"


def parse_float_list(raw: pl.Expr, label: str, *, required: bool = False) -> Parsed:
    """Parse a compact JSON list of numbers (``[0.01,0.02]``) into list<float64>.

    Anything else (a string, NaN, a nested list) gets the reason ``<label>: not a list of
    numbers`` rather than failing the batch: the text is checked before it is decoded.
    """
    return parse_json_list(raw, label, pl.Float64(), _FLOAT_LIST_RE, "a list of numbers", required=required)


def itl_stats(gaps: pl.Expr) -> dict[str, pl.Expr]:
    """``itl_mean_s``, ``itl_p50_s``, ``itl_p99_s``, ``itl_max_s`` of a list<float64> of
    inter-token gaps in seconds; null for a request with no gap (one token or none).

    Percentiles interpolate linearly between ranks, as numpy's default (which the tools use
    for their own summaries).
    """
    has = gaps.list.len() > 0
    return {
        "itl_mean_s": pl.when(has).then(gaps.list.mean()),
        "itl_p50_s": pl.when(has).then(gaps.list.eval(pl.element().quantile(0.5, "linear")).list.first()),
        "itl_p99_s": pl.when(has).then(gaps.list.eval(pl.element().quantile(0.99, "linear")).list.first()),
        "itl_max_s": pl.when(has).then(gaps.list.max()),
    }


def exact_float(text: pl.Expr, decoded: pl.Expr, label: str, *, required: bool = False) -> Parsed:
    """A JSON number with its full precision: the value from ``decoded`` (a struct field read
    by ``str.json_decode``), the reason from ``text`` (the same field by ``json_path_match``).

    ``json_path_match`` prints a number again with about seven decimals (Unix seconds
    1796533453.1238027 come back as 1796533453.123803, 27.333161999999998 ms as 27.333162), so
    it is fine for telling whether a value is there and numeric but not for the value itself.
    """
    # The reason comes from the text alone: a struct decode fails for the whole record when any
    # one field is mistyped, and that field's own check names it. So the struct should hold
    # only fields that are checked this way.
    reason = pl.when(text.is_not_null() & text.cast(pl.Float64, strict=False).is_null()).then(
        pl.lit(f"{label}: not a number"))
    if required:
        reason = pl.when(text.is_null()).then(pl.lit(f"{label} is missing")).otherwise(reason)
    return Parsed(decoded.cast(pl.Float64), reason)
