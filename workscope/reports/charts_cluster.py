"""Charts of the cluster analyses: utilization over time, wait / runtime CDFs, wait over
time, job sizes, status, requested vs used, shares and Jain's index over time."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import altair as alt
import polars as pl

if TYPE_CHECKING:
    from workscope.analysis.base import Result


CHART_POINTS = 400


def _data(df: pl.DataFrame) -> alt.Data:
    return alt.Data(values=df.to_dicts())


def utilization_charts(result: Result) -> list[Any]:
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
    chart = (
        alt.Chart(_data(df), title="Allocated resources / capacity over time")
        .mark_line()
        .encode(
            x=alt.X("t_s:Q", title="time (s since origin)"),
            y=alt.Y("utilization:Q", title="utilization (allocated / capacity)"),
            color=alt.Color("series:N", title="resource"),
            tooltip=[alt.Tooltip("t_s:Q", title="bin start (s)", format=".6g"), "resource:N",
                     alt.Tooltip("allocated_mean:Q", title="mean allocated", format=".4g"),
                     alt.Tooltip("allocated_max:Q", title="max allocated", format=".4g"),
                     alt.Tooltip("utilization:Q", title="mean utilization", format=".3f")],
        )
        .properties(width=560, height=240)
    )
    return [chart]


def jobs_charts(result: Result) -> list[Any]:
    """Wait and runtime CDFs, wait over time, job-size frequencies, status, requested vs used."""
    out: list[Any] = []
    cdf = result.tables.get("cdf")
    if cdf is not None and cdf.height:
        for q, label in (("wait_s", "queueing delay"), ("runtime_s", "runtime")):
            d = cdf.filter(pl.col("quantity") == q)
            if d.height:
                out.append(
                    alt.Chart(_data(d), title=f"{label}: empirical CDF")
                    .mark_line(interpolate="step-after")
                    .encode(x=alt.X("value:Q", title=f"{label} (s)"),
                            y=alt.Y("cdf:Q", title="P(X ≤ x)", scale=alt.Scale(domain=[0, 1])),
                            tooltip=[alt.Tooltip("value:Q", title=f"{label} (s)", format=".4g"),
                                     alt.Tooltip("cdf:Q", format=".2f")])
                    .properties(width=380, height=220))
    ws = result.tables.get("wait_over_time")
    if ws is not None and ws.height:
        long = ws.unpivot(index=["t_s", "jobs"], on=["mean_wait_s", "p50_wait_s", "p95_wait_s"],
                          variable_name="statistic", value_name="wait_s")
        out.append(
            alt.Chart(_data(long), title="Queueing delay over time (by submit time)")
            .mark_line(point=True)
            .encode(x=alt.X("t_s:Q", title="submit time bin (s since origin)"),
                    y=alt.Y("wait_s:Q", title="wait (s)"), color=alt.Color("statistic:N", title="statistic"),
                    tooltip=[alt.Tooltip("t_s:Q", format=".6g", title="bin start (s)"), "statistic:N",
                             alt.Tooltip("wait_s:Q", format=".4g", title="wait (s)"), "jobs:Q"])
            .properties(width=560, height=220))
    sizes = result.tables.get("sizes")
    if sizes is not None and sizes.height:
        out.append(
            alt.Chart(_data(sizes), title="Job sizes (most common values)")
            .mark_bar()
            .encode(x=alt.X("value:O", title="requested amount (source unit)"),
                    y=alt.Y("share:Q", title="share of jobs"),
                    row=alt.Row("quantity:N", title="size column"),
                    tooltip=["quantity:N", "value:Q", "jobs:Q", alt.Tooltip("share:Q", format=".3f")])
            .properties(width=480, height=140)
            .resolve_scale(x="independent"))
    status = result.tables.get("status")
    if status is not None and status.height:
        out.append(
            alt.Chart(_data(status), title="Jobs by final status")
            .mark_bar()
            .encode(x=alt.X("jobs:Q", title="jobs"), y=alt.Y("status:N", title="status", sort="-x"),
                    tooltip=["status:N", "jobs:Q", alt.Tooltip("share:Q", format=".3f")])
            .properties(width=380))
    rv = result.tables.get("requested_vs_used")
    if rv is not None and rv.height:
        out.append(
            alt.Chart(_data(rv), title="Used / requested (median, p05–p95)")
            .mark_errorbar()
            .encode(y=alt.Y("quantity:N", title="quantity"), x=alt.X("ratio_p05:Q", title="used / requested"),
                    x2="ratio_p95:Q",
                    tooltip=["quantity:N", "n:Q", alt.Tooltip("ratio_p50:Q", format=".3f", title="median ratio"),
                             alt.Tooltip("over_fraction:Q", format=".3f", title="share over request")])
            + alt.Chart(_data(rv)).mark_point(filled=True).encode(
                y="quantity:N", x="ratio_p50:Q",
                tooltip=["quantity:N", alt.Tooltip("ratio_p50:Q", format=".3f", title="median ratio")]))
    return out


def fairness_charts(result: Result) -> list[Any]:
    """Resource-time shares of the top groups and Jain's index per window."""
    out: list[Any] = []
    g = result.summary.get("group_column", "group")
    shares = result.tables.get("shares")
    if shares is not None and shares.height:
        d = shares.rename({g: "group"})
        out.append(
            alt.Chart(_data(d), title=f"Share of resource-time per {g}")
            .mark_bar()
            .encode(x=alt.X("share:Q", title="share of resource-time"), y=alt.Y("group:N", title=g, sort="-x"),
                    tooltip=["group:N", alt.Tooltip("share:Q", format=".3f"), "jobs:Q"])
            .properties(width=380))
    win = result.tables.get("jain_over_time")
    if win is not None and win.height:
        out.append(
            alt.Chart(_data(win), title=f"Jain's fairness index per {result.summary.get('window_s')} s window")
            .mark_line(point=True)
            .encode(x=alt.X("t_s:Q", title="window start (s since origin)"),
                    y=alt.Y("jain_index:Q", title="Jain's index (1 = equal shares)", scale=alt.Scale(domain=[0, 1])),
                    tooltip=[alt.Tooltip("t_s:Q", format=".6g", title="window start (s)"),
                             alt.Tooltip("jain_index:Q", format=".3f"), "active_groups:Q"])
            .properties(width=560, height=200))
    return out


CHARTS: dict[str, Callable[[Result], list[Any]]] = {
    "cluster_utilization": utilization_charts,
    "cluster_jobs": jobs_charts,
    "cluster_fairness": fairness_charts,
}
