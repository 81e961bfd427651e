"""Charts of the usage analyses: per-metric distributions, mean per metric over time and the
correlation heatmap.

Metrics come in different units and magnitudes (GPU memory in bytes next to a duty cycle in
percent): every metric gets its own small panel with its own value axis, never one shared axis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import altair as alt
import polars as pl

from workscope.reports.charts import chart_data, small_multiples, time_x, titled, without_names

if TYPE_CHECKING:
    from workscope.analysis.base import Result

_data = chart_data
MAX_METRICS = 30  # panels drawn; the table lists every metric


def _label(metric: pl.Expr, unit: pl.Expr) -> pl.Expr:
    return pl.when(unit.is_null() | (unit == "")).then(metric).otherwise(pl.format("{} ({})", metric, unit))


def _axis(values: pl.Series) -> alt.Axis:
    # SI prefixes only for large values: "150m" would read as 150 minutes or metres
    top = values.abs().max()
    big = top is not None and float(top) >= 1e5  # type: ignore[arg-type]
    return alt.Axis(format=".4~s" if big else ",.4~r", tickCount=4)


def _distribution_panel(df: pl.DataFrame, _label: str) -> alt.LayerChart:
    tips = ["metric:N", "unit:N", alt.Tooltip("n:Q", format=","), alt.Tooltip("mean:Q", format=",.4~r"),
            alt.Tooltip("std:Q", format=",.4~r"), alt.Tooltip("p05:Q", format=",.4~r"),
            alt.Tooltip("p25:Q", format=",.4~r"), alt.Tooltip("p50:Q", format=",.4~r", title="median"),
            alt.Tooltip("p75:Q", format=",.4~r"), alt.Tooltip("p95:Q", format=",.4~r")]
    base = alt.Chart(_data(df))
    x = alt.X("p05:Q", title=None, scale=alt.Scale(zero=False), axis=_axis(df["p95"]))
    return alt.layer(
        base.mark_rule(strokeWidth=2).encode(x=x, x2="p95:Q", tooltip=tips),
        base.mark_bar(size=12).encode(x="p25:Q", x2="p75:Q", tooltip=tips),
        base.mark_tick(color="black", thickness=2, size=18).encode(x="p50:Q", tooltip=tips),
    )


def _series_panel(x: alt.X, t: alt.Tooltip) -> Callable[[pl.DataFrame, str], alt.Chart]:
    def panel(df: pl.DataFrame, _label: str) -> alt.Chart:
        # points as well: a metric sampled in one or two bins has no line to draw
        return (alt.Chart(_data(df)).mark_line(point=alt.OverlayMarkDef(size=12))
                .encode(x=x, y=alt.Y("mean:Q", title=None, axis=_axis(df["mean"])),
                        tooltip=["metric:N", t, alt.Tooltip("mean:Q", format=",.4~r", title="bin mean"),
                                 alt.Tooltip("n:Q", format=",")]))
    return panel


def summary_charts(result: Result) -> list[tuple[str, Any]]:
    """Quantile ranges per metric and the binned mean of each metric over time, one panel
    per metric (each with its own value axis)."""
    out: list[tuple[str, Any]] = []
    m = result.tables.get("metrics")
    units: dict[str, str] = {}
    if m is not None and m.height:
        d = m.head(MAX_METRICS).with_columns(pl.col("unit").fill_null(""))
        d = d.with_columns(_label(pl.col("metric"), pl.col("unit")).alias("panel"))
        units = dict(zip(d["metric"].to_list(), d["unit"].to_list(), strict=True))
        more = f"; the first {MAX_METRICS} of {m.height} metrics" if m.height > MAX_METRICS else ""
        out.append(("metric-distribution", small_multiples(
            d, "panel", _distribution_panel, height=22,
            title=titled("Per-metric distribution", "line p05–p95, bar p25–p75, tick median; "
                                                     f"each metric on its own axis{more}"))))
    s = result.tables.get("series")
    if s is not None and s.height:
        keep = list(units) or s["metric"].unique(maintain_order=True).to_list()[:MAX_METRICS]
        d = s.filter(pl.col("metric").is_in(keep)).with_columns(
            pl.col("metric").replace_strict(units, default="").alias("unit"))
        d = d.with_columns(_label(pl.col("metric"), pl.col("unit")).alias("panel"))
        d, x, t = time_x(d, "t_s", result.origin_utc, "time")  # one time axis for every panel
        out.append(("metric-over-time", small_multiples(
            d, "panel", _series_panel(x.title(None), t), share=("x",), height=70,
            title=titled("Mean of each metric over time", f"x: {x.to_dict()['title']}; each metric on its own y axis"))))
    return out


def correlation_charts(result: Result) -> list[tuple[str, Any]]:
    """Heatmap of Pearson r between metrics (pairwise-complete (entity, t_s) keys)."""
    c = result.tables.get("correlation")
    if c is None or c.height == 0:
        return []
    n = c["metric_x"].n_unique()
    side = max(160, min(400, 26 * n))
    base = alt.Chart(_data(c)).encode(x=alt.X("metric_x:N", title="metric"), y=alt.Y("metric_y:N", title="metric"))
    cells = base.mark_rect().encode(
        color=alt.Color("r:Q", title="Pearson r", scale=alt.Scale(domain=[-1, 1], scheme="redblue")),
        tooltip=["metric_x:N", "metric_y:N", alt.Tooltip("r:Q", format=".3f"), alt.Tooltip("n:Q", format=",")])
    layers: list[Any] = [cells]
    if n <= 12:  # the value in each cell while cells are large enough to hold it
        layers.append(base.transform_filter("isValid(datum.r)").mark_text(fontSize=9).encode(
            text=alt.Text("r:Q", format=".2f"),
            color=alt.condition("abs(datum.r) > 0.6", alt.value("white"), alt.value("#222"))))
    chart = alt.layer(*layers).properties(
        title="Correlation between metrics at shared (entity, t_s)", width=side, height=side)
    return [("metric-correlation", chart)]


NAMED_CHARTS: dict[str, Callable[[Result], list[tuple[str, Any]]]] = {
    "usage_summary": summary_charts,
    "usage_correlation": correlation_charts,
}
CHARTS: dict[str, Callable[[Result], list[Any]]] = without_names(NAMED_CHARTS)
