"""Charts of the serverless analyses: popularity skew, execution time / memory CDFs, cold starts,
keep-alive trade-off. Every chart reads a Result's small aggregated tables only."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import altair as alt
import polars as pl

if TYPE_CHECKING:
    from workscope.analysis.base import Result


def _data(df: pl.DataFrame) -> alt.Data:
    return alt.Data(values=df.to_dicts())


def _ok(result: Result, name: str) -> pl.DataFrame | None:
    df = result.tables.get(name)
    return df if df is not None and df.height else None


def popularity_charts(result: Result) -> list[Any]:
    """Concentration curve (share of invocations vs share of functions), rank-frequency, triggers."""
    out: list[Any] = []
    rank = _ok(result, "rank_frequency")
    if rank is not None:
        tips = ["rank:Q", alt.Tooltip("invocations:Q", format=",.0f"),
                alt.Tooltip("function_share:Q", format=".2%", title="top functions"),
                alt.Tooltip("cum_invocation_share:Q", format=".2%", title="their invocations")]
        out.append(alt.Chart(_data(rank), title="Concentration: invocations of the most popular functions")
                   .mark_line(point=True)
                   .encode(x=alt.X("function_share:Q", title="share of functions (most invoked first)",
                                   scale=alt.Scale(domain=[0, 1])),
                           y=alt.Y("cum_invocation_share:Q", title="share of invocations",
                                   scale=alt.Scale(domain=[0, 1])),
                           tooltip=tips)
                   .properties(width=380, height=260))
        out.append(alt.Chart(_data(rank.filter(pl.col("invocations") > 0)), title="Rank-frequency of functions")
                   .mark_line(point=True)
                   .encode(x=alt.X("rank:Q", scale=alt.Scale(type="log"), title="function rank (1 = most invoked)"),
                           y=alt.Y("invocations:Q", scale=alt.Scale(type="log"), title="invocations (count)"),
                           tooltip=tips)
                   .properties(width=380, height=260))
    trig = _ok(result, "by_trigger")
    if trig is not None:
        long = pl.concat([
            trig.select("trigger", pl.lit("invocations").alias("measure"), pl.col("invocation_share").alias("share")),
            trig.select("trigger", pl.lit("functions").alias("measure"), pl.col("function_share").alias("share")),
        ])
        out.append(alt.Chart(_data(long), title="Invocations and functions per trigger")
                   .mark_bar()
                   .encode(y=alt.Y("trigger:N", sort="-x", title="trigger"),
                           x=alt.X("share:Q", title="share (fraction)", axis=alt.Axis(format="%")),
                           color=alt.Color("measure:N", title="share of"),
                           yOffset="measure:N",
                           tooltip=["trigger:N", "measure:N", alt.Tooltip("share:Q", format=".2%")])
                   .properties(width=380))
    return out


def durations_charts(result: Result) -> list[Any]:
    """One CDF chart per quantity (execution time, memory), log x."""
    cdf = _ok(result, "cdf")
    out: list[Any] = []
    if cdf is None:
        return out
    for (q, unit), part in cdf.filter(pl.col("value") > 0).group_by(["quantity", "unit"], maintain_order=True):
        label = "execution time" if q == "duration" else "memory"
        df = part.with_columns(pl.concat_str("statistic", pl.lit(" by "), "weighting").alias("series"))
        out.append(alt.Chart(_data(df), title=f"CDF of {label}")
                   .mark_line()
                   .encode(x=alt.X("value:Q", scale=alt.Scale(type="log"), title=f"{label} ({unit.upper() if unit == 'mb' else unit})"),
                           y=alt.Y("p:Q", title="P(X ≤ x)", scale=alt.Scale(domain=[0, 1])),
                           color=alt.Color("series:N", title="series"),
                           tooltip=["series:N", alt.Tooltip("value:Q", format=".4g", title=f"x ({unit})"),
                                    alt.Tooltip("p:Q", format=".3f", title="P")])
                   .properties(width=420, height=260))
    return out


def cold_start_charts(result: Result) -> list[Any]:
    """Cold starts per dimension, component shares and CDFs, pod utility CDF."""
    out: list[Any] = []
    dims = _ok(result, "by_dimension")
    if dims is not None:
        tips = ["dimension:N", "value:N", "cold_starts:Q", alt.Tooltip("cold_start_rate:Q", format=".4f"),
                alt.Tooltip("cold_start_p50_s:Q", format=".3g", title="p50 (s)"),
                alt.Tooltip("cold_start_p99_s:Q", format=".3g", title="p99 (s)")]
        out.append(alt.Chart(_data(dims), title="Cold starts by trigger, runtime and memory size")
                   .mark_bar()
                   .encode(y=alt.Y("value:N", sort="-x", title=None),
                           x=alt.X("cold_starts:Q", title="cold starts (count)"),
                           row=alt.Row("dimension:N", title=None), tooltip=tips)
                   .properties(width=360)
                   .resolve_scale(y="independent"))
        if dims["cold_start_rate"].is_not_null().any():
            out.append(alt.Chart(_data(dims.filter(pl.col("cold_start_rate").is_not_null())),
                                 title="Cold-start rate by trigger, runtime and memory size")
                       .mark_bar()
                       .encode(y=alt.Y("value:N", sort="-x", title=None),
                               x=alt.X("cold_start_rate:Q", title="cold starts per invocation"),
                               row=alt.Row("dimension:N", title=None), tooltip=tips)
                       .properties(width=360)
                       .resolve_scale(y="independent"))
    comp = _ok(result, "components")
    if comp is not None:
        out.append(alt.Chart(_data(comp), title="Share of cold-start time per component")
                   .mark_bar()
                   .encode(x=alt.X("share:Q", title="share of total cold-start time", axis=alt.Axis(format="%")),
                           y=alt.Y("component:N", sort="-x", title="component"),
                           tooltip=["component:N", alt.Tooltip("share:Q", format=".2%"),
                                    alt.Tooltip("total_s:Q", format=".4g", title="total (s)"),
                                    alt.Tooltip("mean_s:Q", format=".4g", title="mean (s)")])
                   .properties(width=380))
    ccdf = _ok(result, "component_cdf")
    if ccdf is not None:
        sec = ccdf.filter((pl.col("measure") == "seconds") & (pl.col("value") > 0))
        if sec.height:
            out.append(alt.Chart(_data(sec), title="CDF of cold-start components")
                       .mark_line()
                       .encode(x=alt.X("value:Q", scale=alt.Scale(type="log"), title="component time (s)"),
                               y=alt.Y("p:Q", title="P(X ≤ x)", scale=alt.Scale(domain=[0, 1])),
                               color=alt.Color("component:N", title="component"),
                               tooltip=["component:N", alt.Tooltip("value:Q", format=".4g", title="x (s)"),
                                        alt.Tooltip("p:Q", format=".3f")])
                       .properties(width=420, height=260))
    pu = _ok(result, "pod_utility_cdf")
    if pu is not None:
        out.append(alt.Chart(_data(pu.filter(pl.col("value").is_not_null())),
                             title="Pod utility ratio and busy fraction")
                   .mark_line()
                   .encode(x=alt.X("value:Q", scale=alt.Scale(type="symlog"), title="ratio (dimensionless)"),
                           y=alt.Y("p:Q", title="P(X ≤ x)", scale=alt.Scale(domain=[0, 1])),
                           color=alt.Color("metric:N", title="metric"),
                           tooltip=["metric:N", alt.Tooltip("value:Q", format=".4g"), alt.Tooltip("p:Q", format=".3f")])
                   .properties(width=420, height=260))
    return out


def keepalive_charts(result: Result) -> list[Any]:
    """Cold-start rate and idle memory-time against the keep-alive window, and their trade-off."""
    sweep = _ok(result, "sweep")
    if sweep is None:
        return []
    mem = sweep["idle_gb_s"].is_not_null().any()
    idle_col, idle_title = ("idle_gb_s", "idle memory-time (GB·s)") if mem else ("idle_instance_s",
                                                                               "idle instance-time (s)")
    tips = [alt.Tooltip("keepalive_min:Q", title="keep-alive (min)"),
            alt.Tooltip("cold_start_rate:Q", format=".4f", title="cold-start rate"),
            alt.Tooltip(f"{idle_col}:Q", format=",.4g", title=idle_title)]
    base = alt.Chart(_data(sweep.select("keepalive_min", "cold_start_rate", idle_col)))
    x = alt.X("keepalive_min:Q", title="keep-alive window (min)")
    rate = base.mark_line(point=True).encode(
        x=x, y=alt.Y("cold_start_rate:Q", title="cold-start rate (fraction)"), tooltip=tips,
    ).properties(title="Cold-start rate vs keep-alive window", width=380, height=220)
    idle = base.mark_line(point=True, color="#d62728").encode(
        x=x, y=alt.Y(f"{idle_col}:Q", title=idle_title), tooltip=tips,
    ).properties(title="Idle warm-instance cost vs keep-alive window", width=380, height=220)
    trade = base.mark_line(point=True).encode(
        x=alt.X(f"{idle_col}:Q", title=idle_title), y=alt.Y("cold_start_rate:Q", title="cold-start rate (fraction)"),
        order="keepalive_min:Q", tooltip=tips,
    ).properties(title="Keep-alive trade-off: cold starts vs idle cost", width=380, height=220)
    return [rate, idle, trade]


CHARTS: dict[str, Callable[[Result], list[Any]]] = {
    "serverless_popularity": popularity_charts,
    "serverless_durations": durations_charts,
    "serverless_cold_starts": cold_start_charts,
    "serverless_keepalive": keepalive_charts,
}
