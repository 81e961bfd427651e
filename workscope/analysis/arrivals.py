"""Arrivals and burstiness: rates across time scales, inter-arrival variability, self-similarity.

One analysis per event table (kind ``arrivals``): ``requests`` and ``invocations``
(``arrival_s``), ``jobs`` (``submit_s``) and ``invocation_counts`` (already counted per
window: ``count`` events in ``[window_start_s, window_start_s + window_s)``). Every count
is computed in DuckDB (``sql/arrivals_*.sql``); Python only sees per-window and per-scale
aggregates. Notation: N(s) is the number of events in a window of s seconds, λ the mean
rate (events / span, span = last event − first event, or end of the last counted window −
first window start).

* **Rate series** at each ``Options.windows_s`` window w (windows aligned at the trace
  origin, k-th window = [k·w, (k+1)·w)): events per window and rate = events / w, overall
  and for the top ``Options.top_groups`` groups (``Context.group_column``). A window is
  skipped when it is longer than the span or would give more than
  ``MAX_SERIES_POINTS`` points (per-group series: that many over all groups); for counted
  windows, windows shorter than the source's window are skipped too.
* **Inter-arrival CV** (event tables): gaps gᵢ = t₍ᵢ₎ − t₍ᵢ₋₁₎ of the time-sorted events
  (``lag`` over ``ORDER BY t``; files may be unsorted), CV = σ_g / μ_g with the population
  σ. Equal timestamps give gaps of 0 and count (their share is ``zero_gap_fraction``).
  CV = 1 for a Poisson process, 1/√k for a gamma(k) renewal process, > 1 for bursty
  arrivals. Per group: gaps between consecutive events of that group. Not computable from
  ``invocation_counts`` (the times inside a window are gone).
* **Index of dispersion for counts** (IDC, the Fano factor; Cox & Lewis 1966;
  Gusella, IEEE JSAC 1991): IDC(s) = Var[N(s)] / E[N(s)] over the complete windows of s
  seconds aligned at the first event, with the sample variance (N − 1 denominator, so a
  Poisson process has E[IDC] = 1 at every scale). Scales are dyadic, s_j = b₀·2ʲ with
  b₀ = ``FANO_MIN_SCALE_S`` (the source window for counted windows), doubled until the
  trace has at most ``FANO_MAX_WINDOWS`` windows of b₀, and go up to span / 10 (at least
  10 windows). For a renewal process IDC(s) → CV² as s grows.
* **Peak-to-mean ratio** per scale: max N(s) / mean N(s) over the same complete windows.
* **Hurst exponent, aggregated-variance method** (Beran 1994, §4.4; Taqqu, Teverovsky &
  Willinger 1995): for a (second-order) self-similar count process Var[N(s)] ∝ s^{2H}, so
  H = slope / 2 of the least-squares line of log₁₀ Var[N(s)] against log₁₀ s (equivalently
  IDC(s) ∝ s^{2H−1}). Fitted over the scales with at least one event per window on average
  (and at least the trace's time resolution); H = 0.5 for Poisson or any short-range
  dependent process, 0.5 < H < 1 for long-range dependence. Non-stationarity (daily
  cycles, trends) also raises the estimate: read H together with the profiles. R/S is not
  computed.
* **Daily / weekly profiles**: mean rate per hour of day and per day of week over the
  complete hours inside the trace, with a zero for hours without events. With a wall-clock
  origin (``Context.origin_utc``) hours and days are UTC; without one they count from the
  origin (hour 0 = the origin's first hour). The daily profile needs a span of 2 days, the
  weekly one 14 days.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from workscope.analysis.base import Analysis, Context, Findings, Result, time_column
from workscope.errors import UsageError
from workscope.limits import SPAN_S
from workscope.origin import origin_epoch_s

log = logging.getLogger(__name__)

FANO_MIN_SCALE_S = 0.1
FANO_MAX_WINDOWS = 2**19  # windows at the finest Fano scale: bounds the level-0 binning
MIN_FANO_WINDOWS = 10  # the largest Fano scale is span / 10
MAX_SERIES_POINTS = 5000

PROFILE_MAX_SPAN_S = 2 * SPAN_S
"""Longest span given hour-by-hour profiles: the widest a trace within the time columns'
plausible bounds can be (a wider one was ingested with ``--bound``; its hours would not fit
in memory)."""
MIN_HURST_SCALES = 3
DAILY_MIN_SPAN_S = 2 * 86400.0
WEEKLY_MIN_SPAN_S = 14 * 86400.0
_MONDAY_EPOCH_S = 4 * 86400  # 1970-01-05 00:00 UTC, a Monday
_WEEK_S = 7 * 86400
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ALL = "(all)"
TABLES = ("requests", "invocations", "jobs", "invocation_counts")


@dataclass(frozen=True)
class _Spec:
    """Where one table keeps its events: time column, and count / window columns if counted."""

    table: str
    t: str
    count: str | None = None  # invocation_counts: events per row
    window: str | None = None  # invocation_counts: the row's window length

    @property
    def weighted(self) -> bool:
        return self.count is not None

    def idents(self, group: str | None) -> dict[str, str]:
        # unused slots repeat the time column: the SQL never reads them when not weighted / grouped
        return {"table": self.table, "t": self.t, "c": self.count or self.t, "w": self.window or self.t,
                "g": group or self.t}


def _spec(table: str) -> _Spec:
    if table == "invocation_counts":
        return _Spec(table, "window_start_s", "count", "window_s")
    if table not in TABLES:
        raise UsageError(f"arrivals: no event time for table {table!r}; known: {', '.join(TABLES)}")
    return _Spec(table, time_column(table))


# ====================================================================== pure helpers
def hurst_aggregated_variance(scale_s: np.ndarray, var_count: np.ndarray) -> tuple[float, float, float]:
    """Hurst exponent from a variance-time plot: (H, slope, r²).

    Least-squares line of log₁₀ Var[N(s)] against log₁₀ s; H = slope / 2 (Var[N(s)] ∝ s^{2H}).
    Scales with a non-positive or non-finite variance are left out; fewer than two points
    give NaNs.
    """
    s = np.asarray(scale_s, dtype=np.float64)
    v = np.asarray(var_count, dtype=np.float64)
    ok = np.isfinite(s) & np.isfinite(v) & (s > 0) & (v > 0)
    if ok.sum() < 2:
        return math.nan, math.nan, math.nan
    x, y = np.log10(s[ok]), np.log10(v[ok])
    slope, icpt = np.polyfit(x, y, 1)
    resid = y - (slope * x + icpt)
    ss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / ss if ss > 0 else math.nan
    return float(slope) / 2.0, float(slope), r2


def fano_base_scale(span_s: float, unit_s: float = FANO_MIN_SCALE_S, max_windows: int | None = None) -> float:
    """The finest Fano scale: ``unit_s`` · 2ᵏ (k ≥ 0), the smallest with span / scale ≤ ``max_windows``
    (default :data:`FANO_MAX_WINDOWS`)."""
    max_windows = max_windows or FANO_MAX_WINDOWS
    if span_s <= unit_s * max_windows:
        return unit_s
    return unit_s * 2.0 ** math.ceil(math.log2(span_s / (unit_s * max_windows)))


def _fnum(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _families(windows: list[float]) -> list[tuple[float, list[int]]]:
    """Group ascending windows into (base window, integer multiples) so each group is one scan."""
    out: list[tuple[float, list[int]]] = []
    left = sorted(set(windows))
    while left:
        w0 = left[0]
        fam = [w for w in left if abs(w / w0 - round(w / w0)) <= 1e-9 * (w / w0)]
        out.append((w0, [round(w / w0) for w in fam]))
        left = [w for w in left if w not in fam]
    return out


# ====================================================================== the pieces
def _totals(ctx: Context, spec: _Spec, group: str | None) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    raw = ctx.sql("arrivals_groups", spec.idents(group), grouped=group is not None, weighted=spec.weighted,
                  top=int(ctx.options.top_groups))
    total = raw.filter(pl.col("part") == "total").row(0, named=True)
    tops = [(str(r["g"]), int(r["events"])) for r in raw.filter(pl.col("part") == "top").iter_rows(named=True)]
    return total, tops


def _fano(ctx: Context, spec: _Spec, t0: float, span: float, unit: float, min_scale: float) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Per dyadic scale: windows, events, mean, variance, IDC, peak, peak-to-mean; and the Hurst fit."""
    b0 = fano_base_scale(span, unit)
    empty = pl.DataFrame(schema={"scale_s": pl.Float64, "windows": pl.Int64, "events": pl.Int64,
                                 "mean_count": pl.Float64, "var_count": pl.Float64, "idc": pl.Float64,
                                 "peak_count": pl.Int64, "peak_to_mean": pl.Float64,
                                 "used_in_hurst": pl.Boolean})
    info: dict[str, Any] = {"fano_base_scale_s": b0}
    if not span / MIN_FANO_WINDOWS >= b0:
        return empty, info
    levels = math.floor(math.log2(span / MIN_FANO_WINDOWS / b0))
    raw = ctx.sql("arrivals_fano", spec.idents(None), weighted=spec.weighted, t0=float(t0), b0=float(b0),
                  span=float(span), levels=levels)
    if raw.height == 0:
        return empty, info
    j = raw["j"].to_numpy().astype(np.int64)
    n = raw["n_windows"].to_numpy().astype(np.float64)
    ev = raw["events"].to_numpy().astype(np.float64)
    ssq = raw["sum_sq"].to_numpy().astype(np.float64)
    mean = ev / n
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(n > 1, (ssq - ev * mean) / (n - 1), np.nan)
        var = np.maximum(var, 0.0)  # rounding of Σc² − (Σc)²/N can dip below 0 for constant counts
        idc = np.where(mean > 0, var / mean, np.nan)
        peak = raw["peak"].to_numpy().astype(np.float64)
        ptm = np.where(mean > 0, peak / mean, np.nan)
    scale = b0 * 2.0 ** j
    use = (mean >= 1.0) & (scale >= min_scale) & (var > 0) & (n >= MIN_FANO_WINDOWS)
    table = pl.DataFrame({
        "scale_s": scale, "windows": n.astype(np.int64), "events": ev.astype(np.int64), "mean_count": mean,
        "var_count": var, "idc": idc, "peak_count": peak.astype(np.int64), "peak_to_mean": ptm,
        "used_in_hurst": use,
    }).with_columns(pl.col(c).fill_nan(None) for c in ("var_count", "idc", "peak_to_mean"))
    if use.sum() >= MIN_HURST_SCALES:
        h, slope, r2 = hurst_aggregated_variance(scale[use], var[use])
        info.update(hurst_aggvar=_fnum(h), hurst_variance_slope=_fnum(slope), hurst_fit_r2=_fnum(r2),
                    hurst_fit_min_scale_s=float(scale[use].min()), hurst_fit_max_scale_s=float(scale[use].max()),
                    hurst_fit_scales=int(use.sum()))
    return table, info


def _series(ctx: Context, spec: _Spec, group: str | None, tops: list[str],
            windows: list[float]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(overall rate series, per-group rate series) at ``windows``, empty windows filled with 0."""
    overall: list[pl.DataFrame] = []
    grouped: list[pl.DataFrame] = []
    group_points = MAX_SERIES_POINTS // max(1, len(tops))
    for w0, mults in _families(windows):
        raw = ctx.sql("arrivals_bins", spec.idents(group), grouped=group is not None and bool(tops),
                      weighted=spec.weighted, tops=tops or [""], offset=0.0, w0=float(w0), mults=mults)
        for m in mults:
            w = w0 * m
            part = raw.filter(pl.col("m") == m)
            tot = part.filter(pl.col("is_total"))
            if tot.height == 0:
                continue
            k_lo, k_hi = int(tot["k"].min()), int(tot["k"].max())  # type: ignore[arg-type]
            ks = pl.DataFrame({"k": np.arange(k_lo, k_hi + 1, dtype=np.int64)})
            s = ks.join(tot.select("k", "events"), on="k", how="left").with_columns(pl.col("events").fill_null(0))
            overall.append(s.select(pl.lit(w).alias("window_s"), (pl.col("k") * w).alias("window_start_s"),
                                    "events", (pl.col("events") / w).alias("rate_per_s")))
            if tops and ks.height <= group_points:
                gp = part.filter(~pl.col("is_total")).with_columns(
                    _names(tops))
                grid = pl.DataFrame({"group": tops}).join(ks, how="cross")
                gs = grid.join(gp.select(pl.col("g").alias("group"), "k", "events"), on=["group", "k"], how="left")
                grouped.append(gs.with_columns(pl.col("events").fill_null(0)).select(
                    "group", pl.lit(w).alias("window_s"), (pl.col("k") * w).alias("window_start_s"), "events",
                    (pl.col("events") / w).alias("rate_per_s")))
    schema = {"window_s": pl.Float64, "window_start_s": pl.Float64, "events": pl.Int64, "rate_per_s": pl.Float64}
    o = pl.concat(overall) if overall else pl.DataFrame(schema=schema)
    g = pl.concat(grouped) if grouped else pl.DataFrame(schema={"group": pl.String, **schema})
    return o.sort("window_s", "window_start_s"), g.sort("group", "window_s", "window_start_s")


def _names(tops: list[str]) -> pl.Expr:
    """Group names from the 1-based positions in ``tops`` the SQL groups on."""
    return pl.col("g").replace_strict({i + 1: g for i, g in enumerate(tops)}, default=None, return_dtype=pl.String)


def _gaps(ctx: Context, spec: _Spec, group: str | None, tops: list[str]) -> pl.DataFrame:
    raw = ctx.sql("arrivals_gaps", spec.idents(group), grouped=group is not None and bool(tops),
                  tops=tops or [""])
    raw = raw.with_columns(_names(tops))
    return raw.with_columns(
        pl.when(pl.col("mean_gap_s") > 0).then(pl.col("std_gap_s") / pl.col("mean_gap_s")).alias("cv_interarrival"),
        pl.when(pl.col("gaps") > 0).then(pl.col("zero_gaps") / pl.col("gaps")).alias("zero_gap_fraction"),
    )


def _profiles(ctx: Context, spec: _Spec, t_min: float, t_end: float, offset: float, utc: bool,
              weekly: bool) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Mean rate per hour of day (and per day of week) over the complete hours of the trace."""
    raw = ctx.sql("arrivals_bins", spec.idents(None), grouped=False, weighted=spec.weighted, tops=[""],
                  offset=float(offset), w0=3600.0, mults=[1])
    tot = raw.filter(pl.col("is_total")).select("k", "events")
    k_lo = math.ceil((t_min + offset) / 3600.0)
    k_hi = math.floor((t_end + offset) / 3600.0) - 1  # the last complete hour
    hours = pl.DataFrame({"k": np.arange(k_lo, k_hi + 1, dtype=np.int64)})
    h = hours.join(tot, on="k", how="left").with_columns(
        pl.col("events").fill_null(0),
        (pl.col("k") % 24).alias("hour"),
        ((pl.col("k") // 24) % 7).alias("day"),
    )
    overall = float(h["events"].mean()) / 3600.0 if h.height else math.nan  # type: ignore[arg-type]
    daily = h.group_by("hour").agg(pl.len().alias("hours"), pl.col("events").mean().alias("mean_events_per_hour")).sort("hour")
    daily = daily.with_columns((pl.col("mean_events_per_hour") / 3600.0).alias("mean_rate_per_s"),
                               (pl.col("mean_events_per_hour") / 3600.0 / overall).alias("relative_rate"),
                               pl.lit("UTC" if utc else "since origin").alias("clock"))
    wk = None
    if weekly:
        names = DAY_NAMES if utc else tuple(f"day {i}" for i in range(7))
        wk = h.group_by("day").agg((pl.len() / 24.0).alias("days"), pl.col("events").mean().alias("m")).sort("day")
        wk = wk.select("day", pl.col("day").replace_strict(dict(enumerate(names)), return_dtype=pl.String).alias("day_name"),
                       "days", (pl.col("m") / 3600.0).alias("mean_rate_per_s"),
                       (pl.col("m") / 3600.0 / overall).alias("relative_rate"),
                       pl.lit("UTC" if utc else "since origin").alias("clock"))
    return daily, wk


# ====================================================================== the analysis
@dataclass(frozen=True)
class _Extent:
    """What the first scan found about a table's events, and the scales the steps start from."""

    events: int
    t_min: float
    t_end: float
    group: str | None
    top_rows: list[tuple[str, int]]  # (group, events) of the top groups, busiest first
    unit: float  # finest time scale: FANO_MIN_SCALE_S, or the source window of counted tables
    resolution: float  # the trace's clock resolution (0 when unknown)

    @property
    def span(self) -> float:
        return self.t_end - self.t_min

    @property
    def tops(self) -> list[str]:
        return [g for g, _ in self.top_rows]


def _windows(ctx: Context) -> list[float]:
    """The rate-series windows of the options, checked."""
    windows = [float(w) for w in ctx.options.windows_s]
    if any(not (w > 0 and math.isfinite(w)) for w in windows):
        raise UsageError(f"windows_s must be positive seconds, not {ctx.options.windows_s}")
    return windows


def _add_overview(spec: _Spec, total: dict[str, Any], ext: _Extent, found: Findings) -> None:
    """Span and mean rate, the source window of counted tables, and the group breakdown."""
    span = ext.span
    found.summary.update(t_first_s=ext.t_min, t_end_s=ext.t_end, span_s=span,
                         mean_rate_per_s=ext.events / span if span > 0 else None)
    if spec.weighted:
        found.summary["source_window_s"] = ext.unit
        if total["w_min"] != total["w_max"]:
            found.notes.append(f"counted windows have lengths from {total['w_min']:g} to {total['w_max']:g} s; "
                               f"scales start at the longest, and a window's count is placed at its start")
        found.notes.append("inter-arrival CV is not computable from invocation_counts: the times inside a "
                           "window are gone; burstiness is read from the IDC and Hurst figures")
    found.summary["group_column"] = ext.group
    if ext.group is not None:
        found.summary["groups"] = int(total["n_groups"] or 0)
        found.summary["top_group"] = ext.tops[0] if ext.tops else None
        found.summary["top_group_share"] = ext.top_rows[0][1] / ext.events if ext.top_rows else None


def _add_rate_series(ctx: Context, spec: _Spec, ext: _Extent, windows: list[float], found: Findings) -> None:
    """Rate series at the windows that fit the span, and the peak-to-mean of each."""
    span = ext.span
    too_fine = [w for w in windows if spec.weighted and w < ext.unit]
    too_long = [w for w in windows if w > span and w not in too_fine]
    too_many = [w for w in windows if w <= span and span / w > MAX_SERIES_POINTS and w not in too_fine]
    valid = [w for w in windows if w not in too_long and w not in too_many and w not in too_fine]
    if too_long:
        found.notes.append(f"no rate series at {', '.join(f'{w:g}' for w in too_long)} s: longer than the span "
                           f"({span:g} s)")
    if too_many:
        found.notes.append(f"no rate series at {', '.join(f'{w:g}' for w in too_many)} s: more than "
                           f"{MAX_SERIES_POINTS} windows (the Fano table covers these scales)")
    if too_fine:
        found.notes.append(f"no rate series at {', '.join(f'{w:g}' for w in too_fine)} s: shorter than the "
                           f"source window")
    if not valid:
        return
    rates, by_group = _series(ctx, spec, ext.group, ext.tops, valid)
    found.tables["rates"] = rates
    if by_group.height:
        found.tables["rates_by_group"] = by_group
    for w in valid:
        s = rates.filter((pl.col("window_s") == w) & (pl.col("window_start_s") >= ext.t_min)
                         & (pl.col("window_start_s") + w <= ext.t_end))
        mean = float(s["events"].mean()) if s.height else math.nan  # type: ignore[arg-type]
        found.summary[f"peak_to_mean_{w:g}s"] = (float(s["events"].max()) / mean  # type: ignore[arg-type]
                                                 if s.height and mean > 0 else None)
    found.summary["peak_rate_per_s"] = float(rates.filter(pl.col("window_s") == min(valid))["rate_per_s"].max())  # type: ignore[arg-type]
    found.summary["peak_rate_window_s"] = min(valid)


def _add_interarrival(ctx: Context, spec: _Spec, ext: _Extent, found: Findings) -> None:
    """Inter-arrival gaps and their CV, overall and per top group (event tables only)."""
    # one group holding every event: its gaps are the overall ones (skip a second sort)
    single = len(ext.top_rows) == 1 and ext.top_rows[0][1] == ext.events
    gaps = _gaps(ctx, spec, ext.group, [] if single else ext.tops)
    ov = gaps.filter(pl.col("g").is_null()).row(0, named=True)
    if single:
        gaps = pl.concat([gaps, gaps.with_columns(pl.lit(ext.tops[0]).alias("g"))])
    found.summary.update(gaps=int(ov["gaps"]), interarrival_mean_s=_fnum(ov["mean_gap_s"]),
                         interarrival_std_s=_fnum(ov["std_gap_s"]), cv_interarrival=_fnum(ov["cv_interarrival"]),
                         zero_gap_fraction=_fnum(ov["zero_gap_fraction"]))
    counts = dict(ext.top_rows)
    found.tables["interarrival"] = gaps.select(
        pl.when(pl.col("g").is_null()).then(pl.lit("all")).otherwise(pl.lit("group")).alias("scope"),
        pl.col("g").fill_null(ALL).alias("group"),
        (pl.col("gaps") + 1).alias("events"), "gaps", "mean_gap_s", "std_gap_s", "cv_interarrival",
        "zero_gap_fraction",
    ).with_columns(pl.when(pl.col("scope") == "all").then(pl.lit(ext.events))
                   .otherwise(pl.col("group").replace_strict(counts, default=None, return_dtype=pl.Int64))
                   .alias("events")).sort("scope", "events", descending=[False, True])
    if ov["zero_gaps"] and ext.resolution >= 1e-3:
        found.notes.append(f"{ov['zero_gaps']} gaps are 0 (equal timestamps; the clock resolution is "
                           f"{ext.resolution:g} s): they count in the CV and raise the IDC below that scale")


def _add_groups(ext: _Extent, found: Findings) -> None:
    """Events, share and mean rate of the top groups."""
    if ext.group is None or not ext.tops:
        return
    span = ext.span
    found.tables["groups"] = pl.DataFrame({"group": ext.tops, "events": [c for _, c in ext.top_rows]}).with_columns(
        (pl.col("events") / ext.events).alias("share"),
        (pl.col("events") / span if span > 0 else pl.lit(None, pl.Float64)).alias("mean_rate_per_s"))


def _add_fano(ctx: Context, spec: _Spec, ext: _Extent, found: Findings) -> None:
    """Fano curve, peak-to-mean per scale and the Hurst exponent."""
    unit = ext.unit
    fano, info = _fano(ctx, spec, ext.t_min, ext.span, unit,
                       min_scale=max(ext.resolution, unit if spec.weighted else 0.0))
    summary = found.summary
    summary.update(info)
    if not fano.height:
        found.notes.append("no Fano curve: the span is shorter than 10 windows of the finest scale")
        return
    found.tables["fano"] = fano
    summary["fano_scales"] = fano.height
    summary["fano_max_scale_s"] = float(fano["scale_s"].max())  # type: ignore[arg-type]
    summary["idc_min_scale"] = _fnum(fano["idc"][0])
    summary["idc_max_scale"] = _fnum(fano["idc"][-1])
    summary["idc_max"] = _fnum(fano["idc"].max())
    summary["peak_to_mean_max_scale"] = _fnum(fano["peak_to_mean"][-1])
    summary["hurst_method"] = "aggregated variance (slope of log Var[N(s)] vs log s, H = slope / 2)"
    if "hurst_aggvar" not in info:
        summary["hurst_aggvar"] = None
        found.notes.append(f"no Hurst estimate: fewer than {MIN_HURST_SCALES} scales with ≥ 1 event per window")
    if info["fano_base_scale_s"] > unit:
        found.notes.append(f"Fano scales start at {info['fano_base_scale_s']:g} s, not {unit:g} s: the trace is "
                           f"long and the finest scale is capped at {FANO_MAX_WINDOWS} windows")


def _add_profiles(ctx: Context, spec: _Spec, ext: _Extent, found: Findings) -> None:
    """Daily and weekly profiles, when the span and the source windows allow them."""
    if spec.weighted and ext.unit > 3600:
        found.notes.append("no daily / weekly profiles: the source windows are longer than an hour")
        return
    if ext.span < DAILY_MIN_SPAN_S:
        found.notes.append("no daily / weekly profiles: the span is under 2 days")
        return
    if ext.span > PROFILE_MAX_SPAN_S:
        found.notes.append(f"no daily / weekly profiles: the span ({ext.span:.3g} s) is longer than any "
                           f"plausible trace ({PROFILE_MAX_SPAN_S:.3g} s); look for implausible times")
        return
    summary, notes = found.summary, found.notes
    origin = origin_epoch_s(ctx.origin_utc)
    if ctx.origin_utc and origin is None:
        log.warning("arrivals: origin_utc %r is not ISO-8601; profiles count from the origin", ctx.origin_utc)
    utc = origin is not None
    offset = ((origin - _MONDAY_EPOCH_S) % _WEEK_S) if origin is not None else 0.0
    daily, weekly = _profiles(ctx, spec, ext.t_min, ext.t_end, offset, utc, ext.span >= WEEKLY_MIN_SPAN_S)
    found.tables["daily_profile"] = daily
    summary["profile_clock"] = "UTC" if utc else "since origin"
    r = daily["mean_rate_per_s"]
    summary["peak_hour"] = int(daily["hour"][int(r.arg_max())])  # type: ignore[arg-type]
    summary["trough_hour"] = int(daily["hour"][int(r.arg_min())])  # type: ignore[arg-type]
    lo = float(r.min())  # type: ignore[arg-type]
    summary["daily_peak_to_trough"] = float(r.max()) / lo if lo > 0 else None  # type: ignore[arg-type]
    if not utc:
        notes.append("the trace has no wall-clock origin: hours and days count from its origin, "
                     "not from UTC midnight / Monday")
    else:
        notes.append("hours and weekdays are UTC; local time may differ")
    if weekly is None:
        notes.append("no weekly profile: the span is under 14 days")
        return
    found.tables["weekly_profile"] = weekly
    wr = weekly["mean_rate_per_s"]
    summary["busiest_day"] = str(weekly["day_name"][int(wr.arg_max())])  # type: ignore[arg-type]
    if utc:
        we = weekly.filter(pl.col("day") >= 5)["mean_rate_per_s"].mean()
        wd = weekly.filter(pl.col("day") < 5)["mean_rate_per_s"].mean()
        summary["weekend_to_weekday_rate"] = (float(we) / float(wd)  # type: ignore[arg-type]
                                              if we is not None and wd else None)


def run_table(ctx: Context, table: str) -> Result:
    """Rates, inter-arrival CV, Fano curve, Hurst exponent, peak-to-mean and profiles of ``table``."""
    spec = _spec(table)
    name, title = f"arrivals_{table}", f"Arrivals and burstiness ({table})"
    windows = _windows(ctx)
    group = ctx.group_column(table)
    total, top_rows = _totals(ctx, spec, group)
    events = int(total["events"] or 0)
    found = Findings({"events": events})
    if events == 0:
        found.notes.append("the table has no events")
        return found.result(name, title, "arrivals")
    meta = ctx.trace.manifest.get("meta", {}) or {}
    ext = _Extent(events, float(total["t_min"]), float(total["t_end"]), group, top_rows,
                  unit=float(total["w_max"]) if spec.weighted else FANO_MIN_SCALE_S,
                  resolution=_fnum(meta.get("time_resolution_s")) or 0.0)
    _add_overview(spec, total, ext, found)
    _add_rate_series(ctx, spec, ext, windows, found)
    if not spec.weighted:
        _add_interarrival(ctx, spec, ext, found)
    _add_groups(ext, found)
    _add_fano(ctx, spec, ext, found)
    _add_profiles(ctx, spec, ext, found)
    return found.result(name, title, "arrivals")


def _applies(table: str) -> Any:
    spec = _spec(table)
    cols = (spec.t, spec.count, spec.window) if spec.weighted else (spec.t,)
    return lambda ctx: ctx.has(table, *[c for c in cols if c])


def _analysis(table: str) -> Analysis:
    return Analysis(
        name=f"arrivals_{table}",
        title=f"Arrivals and burstiness ({table})",
        applies=_applies(table),
        run=lambda ctx: run_table(ctx, table),
        doc=f"Rate series, inter-arrival CV, Fano curve (IDC), Hurst exponent (aggregated variance), "
            f"peak-to-mean and daily / weekly profiles of the {table} table.",
    )


ANALYSES: tuple[Analysis, ...] = tuple(_analysis(t) for t in TABLES)
