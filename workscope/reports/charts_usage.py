"""Charts of the usage analyses: per-metric distributions, mean per metric over time and the
correlation heatmap."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import altair as alt
import polars as pl

if TYPE_CHECKING:
    from workscope.analysis.base import Result


def _data(df: pl.DataFrame) -> alt.Data:
    return alt.Data(values=df.to_dicts())


def summary_charts(result: Result) -> list[Any]:
    """Quantile ranges per metric and the binned mean of each metric over time."""
    out: list[Any] = []
    m = result.tables.get("metrics")
    if m is not None and m.height:
        d = m.head(30).with_columns(pl.col("unit").fill_null(""))
        base = alt.Chart(_data(d), title="Per-metric distribution (p05–p95 bar, p25–p75 thick, median tick)")
        tips = ["metric:N", "n:Q", "unit:N", alt.Tooltip("mean:Q", format=".4g"), alt.Tooltip("std:Q", format=".4g"),
                alt.Tooltip("p50:Q", format=".4g", title="median")]
        out.append(
            (base.mark_rule().encode(y=alt.Y("metric:N", title="metric"), x=alt.X("p05:Q", title="value (metric unit)"),
                                     x2="p95:Q", tooltip=tips)
             + base.mark_bar(size=8).encode(y="metric:N", x="p25:Q", x2="p75:Q", tooltip=tips)
             + base.mark_tick(color="black").encode(y="metric:N", x="p50:Q", tooltip=tips))
            .resolve_scale(x="shared").properties(width=480))
    s = result.tables.get("series")
    if s is not None and s.height:
        out.append(
            alt.Chart(_data(s), title="Mean of each metric over time")
            .mark_line()
            .encode(x=alt.X("t_s:Q", title="time (s since origin)"), y=alt.Y("mean:Q", title="bin mean (metric unit)"),
                    color=alt.Color("metric:N", title="metric"),
                    tooltip=["metric:N", alt.Tooltip("t_s:Q", format=".6g", title="bin start (s)"),
                             alt.Tooltip("mean:Q", format=".4g"), "n:Q"])
            .properties(width=560, height=240)
            .resolve_scale(y="independent"))
    return out


def correlation_charts(result: Result) -> list[Any]:
    """Heatmap of Pearson r between metrics (pairwise-complete (entity, t_s) keys)."""
    c = result.tables.get("correlation")
    if c is None or c.height == 0:
        return []
    chart = (
        alt.Chart(_data(c), title="Correlation between metrics at shared (entity, t_s)")
        .mark_rect()
        .encode(x=alt.X("metric_x:N", title="metric"), y=alt.Y("metric_y:N", title="metric"),
                color=alt.Color("r:Q", title="Pearson r", scale=alt.Scale(domain=[-1, 1], scheme="redblue")),
                tooltip=["metric_x:N", "metric_y:N", alt.Tooltip("r:Q", format=".3f"), "n:Q"])
        .properties(width=360, height=360)
    )
    return [chart]


CHARTS: dict[str, Callable[[Result], list[Any]]] = {
    "usage_summary": summary_charts,
    "usage_correlation": correlation_charts,
}
