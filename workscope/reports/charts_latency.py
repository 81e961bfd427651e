"""Charts of the latency analysis: CDFs of TTFT / TPOT / latency, latency over time next to the
offered load and the error share, latency against input length; and the overlaid CDFs of a
two-trace latency comparison."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import altair as alt
import polars as pl

from workscope.reports.charts import (
    STATUS_COLORS,
    WIDTH,
    cdf_x,
    chart_data,
    legend,
    log_if_spread,
    small_multiples,
    time_x,
    titled,
    without_names,
)

if TYPE_CHECKING:
    from workscope.analysis.base import Result

_data = chart_data
_METRICS = ("ttft", "tpot", "latency")


def _cdf(df: pl.DataFrame, title: str, color: str | None) -> Any:
    """One panel per metric (TTFT, TPOT and latency differ by orders of magnitude), each with
    a log x axis when its tail is heavy."""
    notes: list[str] = []

    def panel(sub: pl.DataFrame, metric: str) -> alt.Chart:
        sub, x, note = cdf_x(sub, "x", f"{metric} (s)", p="p", by=color)
        if note:
            notes.append(f"{metric}: {note[0]}")
        enc: dict[str, Any] = {
            "x": x, "y": alt.Y("p:Q", title="CDF", scale=alt.Scale(domain=[0, 1])),
            "tooltip": ([f"{color}:N"] if color else []) + [
                "metric:N", alt.Tooltip("x:Q", format=",.4~r", title="seconds"), alt.Tooltip("p:Q", format=".3f")],
        }
        if color:
            enc["color"] = alt.Color(f"{color}:N", title=color, legend=legend(color, df[color].unique()))
        return alt.Chart(_data(sub)).mark_line(interpolate="step-after").encode(**enc)

    order = [m for m in _METRICS if m in df["metric"].unique().to_list()]
    order += [m for m in df["metric"].unique(maintain_order=True).to_list() if m not in order]
    chart = small_multiples(df, "metric", panel, title=title, order=order, share=("y",), width=150, height=160)
    return chart.properties(title=titled(title, notes or None))


def latency_charts(result: Result) -> list[tuple[str, Any]]:
    """Empirical CDFs, latency and load per window, error share per window, latency by input length."""
    out: list[tuple[str, Any]] = []
    cdf = result.tables.get("cdf")
    if cdf is not None and cdf.height:
        out.append(("latency-cdf", _cdf(cdf, "CDF of TTFT, TPOT and end-to-end latency (ok requests)", None)))
    w = result.tables.get("windows")
    if w is not None and w.height:
        w, x, t = time_x(w, "start_s", result.origin_utc, "send time", "window start")
        lat = w.unpivot(index=[c for c in w.columns if c in ("start_s", "start_s_utc")],
                        on=["ttft_mean_s", "ttft_p99_s", "latency_mean_s", "latency_p99_s"],
                        variable_name="figure", value_name="seconds").drop_nulls("seconds")
        spread = log_if_spread(lat, "seconds", "figure")
        y = alt.Y("seconds:Q", title="seconds", scale=alt.Scale(type="log") if spread else alt.Undefined)
        top = (alt.Chart(_data(lat.filter(pl.col("seconds") > 0) if spread else lat),
                         title=titled(f"Latency per {result.summary.get('window_s')} s window of send time",
                                      "log y axis: the figures differ by more than 1000×" if spread else None))
               .mark_line(point=True).encode(x=x, y=y,
                                             color=alt.Color("figure:N", legend=legend("figure", ["latency_mean_s"])),
                                             tooltip=[t, "figure:N", alt.Tooltip("seconds:Q", format=",.4~r")])
               .properties(width=WIDTH, height=180))
        load = (alt.Chart(_data(w), title="Offered load")
                .mark_bar().encode(x=x, y=alt.Y("rate_per_s:Q", title="requests / s"),
                                   tooltip=[t, alt.Tooltip("rate_per_s:Q", format=",.4~r", title="requests / s")])
                .properties(width=WIDTH, height=100))
        err = (alt.Chart(_data(w), title="Error share")
               .mark_line(point=alt.OverlayMarkDef(color=STATUS_COLORS["failed"]), color=STATUS_COLORS["failed"])
               .encode(x=x, y=alt.Y("error_share:Q", title="failed / sent", axis=alt.Axis(format="%")),
                       tooltip=[t, alt.Tooltip("failed:Q", format=","), alt.Tooltip("error_share:Q", format=".2%")])
               .properties(width=WIDTH, height=100))
        out.append(("latency-over-time", alt.vconcat(top, load, err).resolve_scale(x="shared")))
    b = result.tables.get("by_input")
    if b is not None and b.height:
        d = b.unpivot(index="to_tokens", on=["ttft_p50_s", "ttft_p99_s", "latency_p50_s", "latency_p99_s"],
                      variable_name="figure", value_name="seconds").drop_nulls("seconds")
        spread = log_if_spread(d, "seconds", "figure")
        out.append(("latency-by-input",
                    alt.Chart(_data(d.filter(pl.col("seconds") > 0) if spread else d),
                              title=titled("Latency by input length (power-of-two buckets)",
                                           "log y axis: the figures differ by more than 1000×" if spread else None))
                   .mark_line(point=True)
                   .encode(x=alt.X("to_tokens:Q", title="input tokens (bucket upper bound)",
                                   scale=alt.Scale(type="log", base=2)),
                           y=alt.Y("seconds:Q", title="seconds", scale=alt.Scale(type="log") if spread else alt.Undefined),
                           color=alt.Color("figure:N", legend=legend("figure", ["latency_p50_s"])),
                           tooltip=[alt.Tooltip("to_tokens:Q", format=",", title="tokens up to"), "figure:N",
                                    alt.Tooltip("seconds:Q", format=",.4~r")])
                   .properties(width=WIDTH, height=200)))
    return out


def compare_charts(result: Result) -> list[tuple[str, Any]]:
    """The two traces' CDFs overlaid, one panel per metric."""
    cdf = result.tables.get("cdf")
    if cdf is None or not cdf.height:
        return []
    return [("latency-cdf", _cdf(cdf, result.title, "trace"))]


NAMED_CHARTS: dict[str, Callable[[Result], list[tuple[str, Any]]]] = {
    "latency": latency_charts,
    "latency_compare": compare_charts,
}
CHARTS: dict[str, Callable[[Result], list[Any]]] = without_names(NAMED_CHARTS)
