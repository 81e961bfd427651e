"""Charts of the arrivals analyses: rate series, Fano curve, variance-time plot, peak-to-mean,
inter-arrival CV per group, daily and weekly profiles (aggregated tables only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import altair as alt
import polars as pl

from workscope.reports.charts import (
    BAR_WIDTH,
    HEIGHT,
    WIDTH,
    chart_data,
    legend,
    log_if_spread,
    time_x,
    titled,
    without_names,
)

if TYPE_CHECKING:
    from workscope.analysis.base import Result

_data = chart_data


CHART_MAX_POINTS = 1000  # points per drawn series: more makes the SVG / browser render slow


def rate_chart(rates: pl.DataFrame, origin_utc: str | None = None) -> alt.Chart:
    """Arrival rate over time, one line per window length (windows with at most
    ``CHART_MAX_POINTS`` points, or the coarsest window when every series is longer)."""
    sizes = rates.group_by("window_s").len()
    small = sizes.filter(pl.col("len") <= CHART_MAX_POINTS)["window_s"]
    keep = small if small.len() else sizes.sort("len").head(1)["window_s"]
    df = rates.filter(pl.col("window_s").is_in(keep.implode())).with_columns(
        pl.col("window_s").map_elements(lambda w: f"{w:g} s", return_dtype=pl.String).alias("window"))
    df, x, t = time_x(df, "window_start_s", origin_utc, "time", "window start")
    return (
        alt.Chart(_data(df), title="Arrival rate over time")
        .mark_line(interpolate="step-after")
        .encode(
            x=x,
            y=alt.Y("rate_per_s:Q", title="arrival rate (events/s)"),
            color=alt.Color("window:N", title="window", sort=alt.SortField("window_s"),
                            legend=legend("window", df["window"].unique())),
            tooltip=[alt.Tooltip("window:N"), t, alt.Tooltip("events:Q", format=","),
                     alt.Tooltip("rate_per_s:Q", format=",.4~r", title="rate (1/s)")],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )


def group_rate_chart(by_group: pl.DataFrame, origin_utc: str | None = None) -> alt.Chart:
    """Arrival rate of the top groups at the coarsest window that has per-group series."""
    w = by_group["window_s"].max()
    df = by_group.filter(pl.col("window_s") == w)
    n = df.height // max(1, df["group"].n_unique())
    if n > CHART_MAX_POINTS:  # thin to every k-th window: a chart, not the data (the table has all)
        step = -(-n // CHART_MAX_POINTS)
        df = df.filter(((pl.col("window_start_s") / w).round(0).cast(pl.Int64) % step) == 0)
    df, x, t = time_x(df, "window_start_s", origin_utc, "time", "window start")
    title: Any = f"Arrival rate of the top groups ({w:g} s windows)"
    y = alt.Y("rate_per_s:Q", title="arrival rate (events/s)")
    if log_if_spread(df, "rate_per_s", "group"):
        # one linear axis would flatten the quiet groups to a line at 0
        df = df.filter(pl.col("rate_per_s") > 0)
        title = titled(title, "log y axis: the groups' peak rates differ by more than 1000×; "
                              "windows without arrivals are not drawn")
        y = alt.Y("rate_per_s:Q", title="arrival rate (events/s)", scale=alt.Scale(type="log"))
    return (
        alt.Chart(_data(df), title=title)
        .mark_line(interpolate="step-after")
        .encode(
            x=x,
            y=y,
            color=alt.Color("group:N", title="group", legend=legend("group", df["group"].unique())),
            tooltip=["group:N", t, alt.Tooltip("events:Q", format=","),
                     alt.Tooltip("rate_per_s:Q", format=",.4~r", title="rate (1/s)")],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )


def fano_chart(fano: pl.DataFrame) -> alt.LayerChart:
    """IDC (Var/Mean of counts) against the window length, log-log, with the Poisson level 1."""
    df = fano.filter(pl.col("idc") > 0)
    base = alt.Chart(_data(df))
    x = alt.X("scale_s:Q", scale=alt.Scale(type="log"), title="window length (s)")
    line = base.mark_line(point=True).encode(
        x=x, y=alt.Y("idc:Q", scale=alt.Scale(type="log"), title="IDC = Var[N] / E[N]"),
        tooltip=[alt.Tooltip("scale_s:Q", format=",.4~r", title="window (s)"), alt.Tooltip("windows:Q", format=","),
                 alt.Tooltip("mean_count:Q", format=",.4~r", title="mean count"),
                 alt.Tooltip("idc:Q", format=",.4~r", title="IDC")])
    poisson = alt.Chart(alt.Data(values=[{"y": 1.0}])).mark_rule(strokeDash=[4, 4], color="gray").encode(
        y="y:Q", tooltip=[alt.Tooltip("y:Q", title="Poisson IDC")])
    return alt.layer(line, poisson).properties(
        title=titled("Fano curve (index of dispersion for counts)", "dashed: Poisson (IDC = 1)"),
        width=WIDTH, height=HEIGHT)


def variance_time_chart(fano: pl.DataFrame, hurst: float | None) -> alt.Chart:
    """log Var[N(s)] against log s; the scales used for the Hurst fit are filled."""
    df = fano.filter(pl.col("var_count") > 0).with_columns(
        pl.when(pl.col("used_in_hurst")).then(pl.lit("fitted")).otherwise(pl.lit("not fitted")).alias("fit"))
    title = "Variance-time plot" + (f" (aggregated-variance H = {hurst:.3f})" if hurst is not None else "")
    pts = alt.Chart(_data(df)).mark_point(filled=True).encode(
        x=alt.X("scale_s:Q", scale=alt.Scale(type="log"), title="window length (s)"),
        y=alt.Y("var_count:Q", scale=alt.Scale(type="log"), title="Var[N(s)] (events²)"),
        color=alt.Color("fit:N", title="Hurst fit", legend=legend("Hurst fit", ["not fitted"])),
        tooltip=[alt.Tooltip("scale_s:Q", format=",.4~r", title="window (s)"),
                 alt.Tooltip("var_count:Q", format=",.4~r", title="variance"), "fit:N"])
    return pts.properties(title=title, width=WIDTH, height=HEIGHT)


def peak_chart(fano: pl.DataFrame) -> alt.Chart:
    """Peak-to-mean ratio of counts against the window length."""
    return (
        alt.Chart(_data(fano.filter(pl.col("peak_to_mean").is_not_null())), title="Peak-to-mean ratio by time scale")
        .mark_line(point=True)
        .encode(
            x=alt.X("scale_s:Q", scale=alt.Scale(type="log"), title="window length (s)"),
            y=alt.Y("peak_to_mean:Q", scale=alt.Scale(type="log"), title="max count / mean count"),
            tooltip=[alt.Tooltip("scale_s:Q", format=",.4~r", title="window (s)"),
                     alt.Tooltip("peak_count:Q", format=","),
                     alt.Tooltip("mean_count:Q", format=",.4~r", title="mean count"),
                     alt.Tooltip("peak_to_mean:Q", format=",.4~r", title="peak / mean")],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )


def cv_chart(inter: pl.DataFrame) -> alt.LayerChart:
    """CV of inter-arrival times, overall and per top group (1 = Poisson), linear bars."""
    df = inter.filter(pl.col("cv_interarrival").is_not_null())
    bars = (
        alt.Chart(_data(df))
        .mark_bar()
        .encode(
            x=alt.X("cv_interarrival:Q", title="CV of inter-arrival times", axis=alt.Axis(format="~g")),
            y=alt.Y("group:N", title="group", sort="-x"),
            color=alt.Color("scope:N", title="scope", legend=legend("scope", ["group"])),
            tooltip=["group:N", alt.Tooltip("events:Q", format=","),
                     alt.Tooltip("mean_gap_s:Q", format=",.4~r", title="mean gap (s)"),
                     alt.Tooltip("cv_interarrival:Q", format=".3f", title="CV"),
                     alt.Tooltip("zero_gap_fraction:Q", format=".3f", title="zero gaps")],
        )
    )
    poisson = alt.Chart(alt.Data(values=[{"cv": 1.0}])).mark_rule(strokeDash=[4, 4], color="gray").encode(x="cv:Q")
    return alt.layer(bars, poisson).properties(
        title=titled("Inter-arrival CV per group", "dashed: Poisson (CV = 1)"), width=BAR_WIDTH)


def profile_chart(df: pl.DataFrame, x: str, title: str, x_title: str) -> alt.Chart:
    """Mean rate per hour of day or per day of week."""
    clock = df["clock"][0] if df.height else ""
    return (
        alt.Chart(_data(df), title=f"{title} ({clock})")
        .mark_bar()
        .encode(
            x=alt.X(f"{x}:O", title=x_title, sort=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("mean_rate_per_s:Q", title="mean arrival rate (events/s)"),
            tooltip=[f"{x}:O", alt.Tooltip("mean_rate_per_s:Q", format=",.4~r", title="rate (1/s)"),
                     alt.Tooltip("relative_rate:Q", format=".3f", title="rate / mean rate")],
        )
        .properties(width=WIDTH, height=180)
    )


def arrivals_charts(result: Result) -> list[tuple[str, Any]]:
    """Every chart of one arrivals result, named."""
    t = result.tables
    out: list[tuple[str, Any]] = []
    if "rates" in t and t["rates"].height:
        out.append(("arrival-rate", rate_chart(t["rates"], result.origin_utc)))
    if "rates_by_group" in t and t["rates_by_group"].height:
        out.append(("group-arrival-rate", group_rate_chart(t["rates_by_group"], result.origin_utc)))
    if "fano" in t and t["fano"].height:
        out.append(("fano-curve", fano_chart(t["fano"])))
        out.append(("variance-time", variance_time_chart(t["fano"], result.summary.get("hurst_aggvar"))))
        out.append(("peak-to-mean", peak_chart(t["fano"])))
    if "interarrival" in t and t["interarrival"]["cv_interarrival"].is_not_null().any():
        out.append(("interarrival-cv", cv_chart(t["interarrival"])))
    if "daily_profile" in t and t["daily_profile"].height:
        out.append(("daily-profile", profile_chart(t["daily_profile"], "hour", "Daily profile", "hour of day")))
    if "weekly_profile" in t and t["weekly_profile"].height:
        out.append(("weekly-profile", profile_chart(t["weekly_profile"], "day_name", "Weekly profile", "day of week")))
    return out


NAMED_CHARTS: dict[str, Callable[[Result], list[tuple[str, Any]]]] = {"arrivals": arrivals_charts}
CHARTS: dict[str, Callable[[Result], list[Any]]] = without_names(NAMED_CHARTS)
