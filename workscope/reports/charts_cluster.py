"""Charts of the cluster analyses: utilization over time, wait / runtime CDFs, wait over
time, job sizes, status, requested vs used, shares and Jain's index over time."""

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
    log_if_spread,
    number_label,
    status_class,
    status_color,
    text_labels,
    time_x,
    titled,
    without_names,
)

if TYPE_CHECKING:
    from workscope.analysis.base import Result


CHART_POINTS = 400

_data = chart_data


def utilization_charts(result: Result) -> list[tuple[str, Any]]:
    """Time-weighted mean utilization per bin, one line per resource (fraction of capacity)."""
    df = result.tables.get("utilization")
    if df is None or df.height == 0:
        return []
    # ≤ CHART_POINTS points per resource: groups of equal bins, whose mean of means is the
    # exact mean of the merged bin (and max of maxima its maximum)
    step = max(1, -(-df.filter(pl.col("resource") == df["resource"][0]).height // CHART_POINTS))
    if step > 1:
        df = (df.with_columns((pl.int_range(pl.len()).over("resource") // step).alias("_k"))
              .group_by("resource", "_k", maintain_order=True)
              .agg(pl.col("t_s").first(), pl.col("allocated_mean").mean(), pl.col("allocated_max").max(),
                   pl.col("utilization").mean(), pl.col("utilization_max").max())
              .drop("_k"))
    src = {r: result.summary.get(f"{r}_capacity_source", "") for r in ("cpu", "mem", "gpu")}
    df = df.with_columns(pl.col("resource").replace_strict(
        {r: f"{r} (capacity: {s})" for r, s in src.items()}, default=pl.col("resource")).alias("series"))
    df, x, t = time_x(df, "t_s", result.origin_utc, "time", "bin start")
    chart = (
        alt.Chart(_data(df), title="Allocated resources / capacity over time")
        .mark_line()
        .encode(
            x=x,
            y=alt.Y("utilization:Q", title="utilization (allocated / capacity)", axis=alt.Axis(format="%")),
            color=alt.Color("series:N", title="resource", legend=legend("resource", df["series"].unique())),
            tooltip=[t, "resource:N",
                     alt.Tooltip("allocated_mean:Q", title="mean allocated", format=",.4~r"),
                     alt.Tooltip("allocated_max:Q", title="max allocated", format=",.4~r"),
                     alt.Tooltip("utilization:Q", title="mean utilization", format=".1%")],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )
    return [("utilization", chart)]


def _cdf_chart(d: pl.DataFrame, label: str) -> alt.Chart:
    d, x, note = cdf_x(d, "value", f"{label} (s)")
    return (alt.Chart(_data(d), title=titled(f"{label}: empirical CDF", note))
            .mark_line(interpolate="step-after")
            .encode(x=x,
                    y=alt.Y("cdf:Q", title="P(X ≤ x)", scale=alt.Scale(domain=[0, 1])),
                    tooltip=[alt.Tooltip("value:Q", title=f"{label} (s)", format=",.4~r"),
                             alt.Tooltip("cdf:Q", format=".2f")])
            .properties(width=WIDTH, height=HEIGHT))


def jobs_charts(result: Result) -> list[tuple[str, Any]]:
    """Wait and runtime CDFs, wait over time, job-size frequencies, status, requested vs used."""
    out: list[tuple[str, Any]] = []
    cdf = result.tables.get("cdf")
    if cdf is not None and cdf.height:
        for q, label, name in (("wait_s", "queueing delay", "wait-cdf"), ("runtime_s", "runtime", "runtime-cdf")):
            d = cdf.filter(pl.col("quantity") == q)
            if d.height:
                out.append((name, _cdf_chart(d, label)))
    ws = result.tables.get("wait_over_time")
    if ws is not None and ws.height:
        long = ws.unpivot(index=["t_s", "jobs"], on=["mean_wait_s", "p50_wait_s", "p95_wait_s"],
                          variable_name="statistic", value_name="wait_s").with_columns(
            pl.col("statistic").str.replace("_wait_s", ""))
        long, x, t = time_x(long, "t_s", result.origin_utc, "submit time", "bin start")
        spread = log_if_spread(long, "wait_s", "statistic")
        y = alt.Y("wait_s:Q", title="wait (s)", scale=alt.Scale(type="symlog") if spread else alt.Undefined)
        note = "symlog y axis: the statistics differ by more than 1000×" if spread else None
        out.append(("wait-over-time",
            alt.Chart(_data(long), title=titled("Queueing delay over time (by submit time)", note))
            .mark_line(point=True)
            .encode(x=x, y=y,
                    color=alt.Color("statistic:N", title="statistic", sort=["mean", "p50", "p95"],
                                    legend=legend("statistic", ["mean"])),
                    tooltip=[t, "statistic:N", alt.Tooltip("wait_s:Q", format=",.4~r", title="wait (s)"),
                             alt.Tooltip("jobs:Q", format=",")])
            .properties(width=WIDTH, height=HEIGHT)))
    sizes = result.tables.get("sizes")
    if sizes is not None and sizes.height:
        d = sizes.with_columns(pl.col("value").map_elements(number_label, return_dtype=pl.String).alias("size"))
        out.append(("job-sizes",
            alt.Chart(_data(d), title="Job sizes (most common values)")
            .mark_bar()
            .encode(x=alt.X("size:O", title="requested amount (source unit)", sort=alt.SortField("value")),
                    y=alt.Y("share:Q", title="share of jobs", axis=alt.Axis(format="%")),
                    row=alt.Row("quantity:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
                    tooltip=["quantity:N", alt.Tooltip("size:N", title="value"), alt.Tooltip("jobs:Q", format=","),
                             alt.Tooltip("share:Q", format=".2%")])
            .properties(width=WIDTH - 60, height=110)
            .resolve_scale(x="independent")))
    status = result.tables.get("status")
    if status is not None and status.height:
        d = status.with_columns(pl.col("status").map_elements(status_class, return_dtype=pl.String).alias("outcome"))
        bars = (alt.Chart(_data(d)).mark_bar()
                .encode(x=alt.X("jobs:Q", title="jobs"), y=alt.Y("status:N", title="status", sort=descending(d, "status", "jobs")),
                        color=status_color(),
                        tooltip=["status:N", "outcome:N", alt.Tooltip("jobs:Q", format=","),
                                 alt.Tooltip("share:Q", format=".2%")]))
        out.append(("job-status", text_labels(bars, "jobs", ",").properties(
            title="Jobs by final status", width=BAR_WIDTH)))
    rv = result.tables.get("requested_vs_used")
    if rv is not None and rv.height:
        tips = ["quantity:N", alt.Tooltip("n:Q", format=","), alt.Tooltip("ratio_p50:Q", format=".3f", title="median ratio"),
                alt.Tooltip("ratio_p05:Q", format=".3f", title="p05"), alt.Tooltip("ratio_p95:Q", format=".3f", title="p95"),
                alt.Tooltip("over_fraction:Q", format=".1%", title="share over request")]
        out.append(("used-vs-requested",
            (alt.Chart(_data(rv)).mark_errorbar()
             .encode(y=alt.Y("quantity:N", title="quantity"), x=alt.X("ratio_p05:Q", title="used / requested"),
                     x2="ratio_p95:Q", tooltip=tips)
             + alt.Chart(_data(rv)).mark_point(filled=True).encode(y="quantity:N", x="ratio_p50:Q", tooltip=tips))
            .properties(title="Used / requested (median, p05–p95)", width=BAR_WIDTH)))
    return out


def fairness_charts(result: Result) -> list[tuple[str, Any]]:
    """Resource-time shares of the top groups and Jain's index per window."""
    out: list[tuple[str, Any]] = []
    g = result.summary.get("group_column", "group")
    shares = result.tables.get("shares")
    if shares is not None and shares.height:
        d = shares.rename({g: "group"})
        bars = (alt.Chart(_data(d)).mark_bar()
                .encode(x=alt.X("share:Q", title="share of resource-time", axis=alt.Axis(format="%")),
                        y=alt.Y("group:N", title=g, sort=descending(d, "group", "share")),
                        tooltip=["group:N", alt.Tooltip("share:Q", format=".2%"), alt.Tooltip("jobs:Q", format=",")]))
        out.append(("resource-shares", text_labels(bars, "share", ".1%").properties(
            title=f"Share of resource-time per {g}", width=BAR_WIDTH)))
    win = result.tables.get("jain_over_time")
    if win is not None and win.height:
        win, x, t = time_x(win, "t_s", result.origin_utc, "window start")
        out.append(("jain-index",
            alt.Chart(_data(win), title=f"Jain's fairness index per {number_label(result.summary.get('window_s'))} s window")
            .mark_line(point=True)
            .encode(x=x,
                    y=alt.Y("jain_index:Q", title="Jain's index (1 = equal shares)", scale=alt.Scale(domain=[0, 1])),
                    tooltip=[t, alt.Tooltip("jain_index:Q", format=".3f"), "active_groups:Q"])
            .properties(width=WIDTH, height=HEIGHT)))
    return out


NAMED_CHARTS: dict[str, Callable[[Result], list[tuple[str, Any]]]] = {
    "cluster_utilization": utilization_charts,
    "cluster_jobs": jobs_charts,
    "cluster_fairness": fairness_charts,
}
CHARTS: dict[str, Callable[[Result], list[Any]]] = without_names(NAMED_CHARTS)
