"""Charts of the serverless analyses: popularity skew, execution time / memory CDFs, cold starts,
keep-alive trade-off. Every chart reads a Result's small aggregated tables only."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import altair as alt
import polars as pl

from workscope.reports.charts import (
    BAR_WIDTH,
    HEIGHT,
    WIDTH,
    cdf_x,
    chart_data,
    descending,
    legend,
    small_multiples,
    text_labels,
    titled,
    without_names,
)

if TYPE_CHECKING:
    from workscope.analysis.base import Result

_data = chart_data


def _ok(result: Result, name: str) -> pl.DataFrame | None:
    df = result.tables.get(name)
    return df if df is not None and df.height else None


def popularity_charts(result: Result) -> list[tuple[str, Any]]:
    """Concentration curve (share of invocations vs share of functions), rank-frequency, triggers."""
    out: list[tuple[str, Any]] = []
    rank = _ok(result, "rank_frequency")
    if rank is not None:
        tips = ["rank:Q", alt.Tooltip("invocations:Q", format=",.0f"),
                alt.Tooltip("function_share:Q", format=".2%", title="top functions"),
                alt.Tooltip("cum_invocation_share:Q", format=".2%", title="their invocations")]
        out.append(("concentration", alt.Chart(_data(rank), title="Concentration: invocations of the most popular functions")
                   .mark_line(point=True)
                   .encode(x=alt.X("function_share:Q", title="share of functions (most invoked first)",
                                   scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
                           y=alt.Y("cum_invocation_share:Q", title="share of invocations",
                                   scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
                           tooltip=tips)
                   .properties(width=WIDTH, height=HEIGHT)))
        out.append(("rank-frequency", alt.Chart(_data(rank.filter(pl.col("invocations") > 0)),
                                                title="Rank-frequency of functions (log-log)")
                   .mark_line(point=True)
                   .encode(x=alt.X("rank:Q", scale=alt.Scale(type="log"), title="function rank (1 = most invoked)"),
                           y=alt.Y("invocations:Q", scale=alt.Scale(type="log"), title="invocations (count)"),
                           tooltip=tips)
                   .properties(width=WIDTH, height=HEIGHT)))
    trig = _ok(result, "by_trigger")
    if trig is not None:
        long = pl.concat([
            trig.select("trigger", pl.lit("invocations").alias("measure"), pl.col("invocation_share").alias("share")),
            trig.select("trigger", pl.lit("functions").alias("measure"), pl.col("function_share").alias("share")),
        ])
        bars = (alt.Chart(_data(long)).mark_bar()
                .encode(y=alt.Y("trigger:N", sort=descending(trig, "trigger", "invocation_share"), title="trigger"),
                        x=alt.X("share:Q", title="share (fraction)", axis=alt.Axis(format="%"), stack=None),
                        color=alt.Color("measure:N", title="share of", legend=legend("share of", ["invocations"])),
                        yOffset="measure:N",
                        tooltip=["trigger:N", "measure:N", alt.Tooltip("share:Q", format=".2%")]))
        out.append(("triggers", text_labels(bars, "share", ".1%").properties(
            title="Invocations and functions per trigger", width=BAR_WIDTH)))
    return out


def durations_charts(result: Result) -> list[tuple[str, Any]]:
    """One CDF chart per quantity (execution time, memory); log x for heavy tails."""
    cdf = _ok(result, "cdf")
    out: list[tuple[str, Any]] = []
    if cdf is None:
        return out
    for (q, unit), part in cdf.group_by(["quantity", "unit"], maintain_order=True):
        label = "execution time" if q == "duration" else "memory"
        df = part.with_columns(pl.concat_str("statistic", pl.lit(" by "), "weighting").alias("series"))
        unit_label = unit.upper() if unit == "mb" else unit
        df, x, note = cdf_x(df, "value", f"{label} ({unit_label})", p="p", by="series")
        out.append((f"{'execution-time' if q == 'duration' else 'memory'}-cdf",
                    alt.Chart(_data(df), title=titled(f"CDF of {label}", note))
                   .mark_line()
                   .encode(x=x,
                           y=alt.Y("p:Q", title="P(X ≤ x)", scale=alt.Scale(domain=[0, 1])),
                           color=alt.Color("series:N", title="series", legend=legend("series", df["series"].unique())),
                           tooltip=["series:N", alt.Tooltip("value:Q", format=",.4~r", title=f"x ({unit})"),
                                    alt.Tooltip("p:Q", format=".3f", title="P")])
                   .properties(width=WIDTH, height=HEIGHT)))
    return out


def _dimension_panel(value: str, title: str, fmt: str) -> Callable[[pl.DataFrame, str], alt.LayerChart]:
    def panel(df: pl.DataFrame, _label: str) -> alt.LayerChart:
        tips = ["dimension:N", "value:N", alt.Tooltip("cold_starts:Q", format=","),
                alt.Tooltip("cold_start_rate:Q", format=".2%", title="cold starts per invocation"),
                alt.Tooltip("cold_start_p50_s:Q", format=",.3~r", title="p50 (s)"),
                alt.Tooltip("cold_start_p99_s:Q", format=",.3~r", title="p99 (s)")]
        bars = (alt.Chart(_data(df)).mark_bar()
                .encode(y=alt.Y("value:N", sort=descending(df, "value", value), title=None),
                        x=alt.X(f"{value}:Q", title=title), tooltip=tips))
        return text_labels(bars, value, fmt)
    return panel


def _bars_height(d: pl.DataFrame) -> int:
    """Panel height with one bar row per value."""
    return max(40, 16 * d["value"].n_unique())


def cold_start_charts(result: Result) -> list[tuple[str, Any]]:
    """Cold starts per dimension, component shares and CDFs, pod utility CDF."""
    out: list[tuple[str, Any]] = []
    dims = _ok(result, "by_dimension")
    if dims is not None:
        out.append(("cold-starts-by-dimension", small_multiples(
            dims, "dimension", _dimension_panel("cold_starts", "cold starts (count)", ","),
            title="Cold starts by trigger, runtime and memory size", columns=1, share=("x",),
            width=BAR_WIDTH, height=_bars_height(dims))))
        rated = dims.filter(pl.col("cold_start_rate").is_not_null())
        if rated.height:
            out.append(("cold-start-rate-by-dimension", small_multiples(
                rated, "dimension", _dimension_panel("cold_start_rate", "cold starts per invocation", ".1%"),
                title="Cold-start rate by trigger, runtime and memory size", columns=1, share=("x",),
                width=BAR_WIDTH, height=_bars_height(rated))))
    comp = _ok(result, "components")
    if comp is not None:
        bars = (alt.Chart(_data(comp)).mark_bar()
                .encode(x=alt.X("share:Q", title="share of total cold-start time", axis=alt.Axis(format="%")),
                        y=alt.Y("component:N", sort=descending(comp, "component", "share"), title="component"),
                        tooltip=["component:N", alt.Tooltip("share:Q", format=".2%"),
                                 alt.Tooltip("total_s:Q", format=",.4~r", title="total (s)"),
                                 alt.Tooltip("mean_s:Q", format=",.4~r", title="mean (s)")]))
        out.append(("cold-start-components", text_labels(bars, "share", ".1%").properties(
            title="Share of cold-start time per component", width=BAR_WIDTH)))
    ccdf = _ok(result, "component_cdf")
    if ccdf is not None:
        sec = ccdf.filter(pl.col("measure") == "seconds")
        if sec.filter(pl.col("value") > 0).height:
            sec, x, note = cdf_x(sec, "value", "component time (s)", p="p", by="component")
            out.append(("cold-start-component-cdf", alt.Chart(_data(sec), title=titled("CDF of cold-start components", note))
                       .mark_line()
                       .encode(x=x,
                               y=alt.Y("p:Q", title="P(X ≤ x)", scale=alt.Scale(domain=[0, 1])),
                               color=alt.Color("component:N", title="component",
                                               legend=legend("component", sec["component"].unique())),
                               tooltip=["component:N", alt.Tooltip("value:Q", format=",.4~r", title="x (s)"),
                                        alt.Tooltip("p:Q", format=".3f")])
                       .properties(width=WIDTH, height=HEIGHT)))
    pu = _ok(result, "pod_utility_cdf")
    if pu is not None:
        pu = pu.filter(pl.col("value").is_not_null())
        out.append(("pod-utility-cdf", alt.Chart(_data(pu),
                             title=titled("Pod utility ratio and busy fraction", "symlog x axis (shows 0)"))
                   .mark_line()
                   .encode(x=alt.X("value:Q", scale=alt.Scale(type="symlog"), title="ratio (dimensionless)"),
                           y=alt.Y("p:Q", title="P(X ≤ x)", scale=alt.Scale(domain=[0, 1])),
                           color=alt.Color("metric:N", title="metric", legend=legend("metric", pu["metric"].unique())),
                           tooltip=["metric:N", alt.Tooltip("value:Q", format=",.4~r"), alt.Tooltip("p:Q", format=".3f")])
                   .properties(width=WIDTH, height=HEIGHT)))
    return out


def keepalive_charts(result: Result) -> list[tuple[str, Any]]:
    """Cold-start rate and idle memory-time against the keep-alive window, and their trade-off."""
    sweep = _ok(result, "sweep")
    if sweep is None:
        return []
    mem = sweep["idle_gb_s"].is_not_null().any()
    idle_col, idle_title = ("idle_gb_s", "idle memory-time (GB·s)") if mem else ("idle_instance_s",
                                                                               "idle instance-time (s)")
    tips = [alt.Tooltip("keepalive_min:Q", title="keep-alive (min)"),
            alt.Tooltip("cold_start_rate:Q", format=".2%", title="cold-start rate"),
            alt.Tooltip(f"{idle_col}:Q", format=",.4~r", title=idle_title)]
    base = alt.Chart(_data(sweep.select("keepalive_min", "cold_start_rate", idle_col)))
    x = alt.X("keepalive_min:Q", title="keep-alive window (min)")
    rate_y = alt.Y("cold_start_rate:Q", title="cold-start rate", axis=alt.Axis(format="%"))
    rate = base.mark_line(point=True).encode(x=x, y=rate_y, tooltip=tips).properties(
        title="Cold-start rate vs keep-alive window", width=WIDTH, height=HEIGHT)
    # not red: red means "failed" in every chart
    idle = base.mark_line(point=alt.OverlayMarkDef(color="#76b7b2"), color="#76b7b2").encode(
        x=x, y=alt.Y(f"{idle_col}:Q", title=idle_title), tooltip=tips,
    ).properties(title="Idle warm-instance cost vs keep-alive window", width=WIDTH, height=HEIGHT)
    trade = base.mark_line(point=True).encode(
        x=alt.X(f"{idle_col}:Q", title=idle_title), y=rate_y, order="keepalive_min:Q", tooltip=tips,
    ).properties(title="Keep-alive trade-off: cold starts vs idle cost", width=WIDTH, height=HEIGHT)
    return [("keepalive-cold-start-rate", rate), ("keepalive-idle-cost", idle), ("keepalive-tradeoff", trade)]


NAMED_CHARTS: dict[str, Callable[[Result], list[tuple[str, Any]]]] = {
    "serverless_popularity": popularity_charts,
    "serverless_durations": durations_charts,
    "serverless_cold_starts": cold_start_charts,
    "serverless_keepalive": keepalive_charts,
}
CHARTS: dict[str, Callable[[Result], list[Any]]] = without_names(NAMED_CHARTS)
