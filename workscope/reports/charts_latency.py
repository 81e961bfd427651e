"""Charts of the latency analysis: CDFs of TTFT / TPOT / latency, latency over time next to the
offered load and the error share, latency against input length; and the overlaid CDFs of a
two-trace latency comparison."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import altair as alt
import polars as pl

if TYPE_CHECKING:
    from workscope.analysis.base import Result


def _data(df: pl.DataFrame) -> alt.Data:
    return alt.Data(values=df.to_dicts())


def _cdf(df: pl.DataFrame, title: str, color: str | None) -> Any:
    enc: dict[str, Any] = {
        "x": alt.X("x:Q", title="seconds", scale=alt.Scale(type="log")),
        "y": alt.Y("p:Q", title="CDF"),
        "tooltip": ["metric:N", alt.Tooltip("x:Q", format=".4g"), alt.Tooltip("p:Q", format=".3f")],
    }
    if color:
        enc["color"] = alt.Color(f"{color}:N")
    # One panel per metric: TTFT, TPOT and latency differ by orders of magnitude.
    return (alt.Chart(_data(df.filter(pl.col("x") > 0)), title=title)
            .mark_line(interpolate="step-after").encode(**enc)
            .properties(width=220, height=180).facet(column=alt.Column("metric:N", title=None))
            .resolve_scale(x="independent"))


def latency_charts(result: Result) -> list[Any]:
    """Empirical CDFs, latency and load per window, error share per window, latency by input length."""
    out: list[Any] = []
    cdf = result.tables.get("cdf")
    if cdf is not None and cdf.height:
        out.append(_cdf(cdf, "CDF of TTFT, TPOT and end-to-end latency (ok requests)", None))
    w = result.tables.get("windows")
    if w is not None and w.height:
        lat = w.unpivot(index="start_s", on=["ttft_mean_s", "ttft_p99_s", "latency_mean_s", "latency_p99_s"],
                        variable_name="figure", value_name="seconds").drop_nulls("seconds")
        top = (alt.Chart(_data(lat), title=f"Latency per {result.summary.get('window_s')} s window of send time")
               .mark_line(point=True).encode(x=alt.X("start_s:Q", title="send time (s)"),
                                             y=alt.Y("seconds:Q", title="seconds"), color="figure:N")
               .properties(width=600, height=180))
        load = (alt.Chart(_data(w.select("start_s", "rate_per_s")), title="Offered load")
                .mark_bar().encode(x=alt.X("start_s:Q", title="send time (s)"),
                                   y=alt.Y("rate_per_s:Q", title="requests / s"))
                .properties(width=600, height=100))
        err = (alt.Chart(_data(w.select("start_s", "error_share", "failed")), title="Error share")
               .mark_line(point=True).encode(x=alt.X("start_s:Q", title="send time (s)"),
                                             y=alt.Y("error_share:Q", title="failed / sent"),
                                             tooltip=["start_s:Q", "failed:Q", "error_share:Q"])
               .properties(width=600, height=100))
        out.append(alt.vconcat(top, load, err))
    b = result.tables.get("by_input")
    if b is not None and b.height:
        d = b.unpivot(index="to_tokens", on=["ttft_p50_s", "ttft_p99_s", "latency_p50_s", "latency_p99_s"],
                      variable_name="figure", value_name="seconds")
        out.append(alt.Chart(_data(d), title="Latency by input length (power-of-two buckets)")
                   .mark_line(point=True)
                   .encode(x=alt.X("to_tokens:Q", title="input tokens (bucket upper bound)",
                                   scale=alt.Scale(type="log", base=2)),
                           y=alt.Y("seconds:Q", title="seconds"), color="figure:N")
                   .properties(width=600, height=200))
    return out


def compare_charts(result: Result) -> list[Any]:
    """The two traces' CDFs overlaid, one panel per metric."""
    cdf = result.tables.get("cdf")
    if cdf is None or not cdf.height:
        return []
    return [_cdf(cdf, result.title, "trace")]


CHARTS: dict[str, Callable[[Result], list[Any]]] = {
    "latency": latency_charts,
    "latency_compare": compare_charts,
}
