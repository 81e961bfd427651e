"""Charts of the LLM-serving analyses: token CDFs and joint histogram, sessions, failures,
prefix-cache hit-ratio curves. Every chart reads a Result's small aggregated tables only."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import altair as alt
import polars as pl

from workscope.reports.charts import (
    BAR_WIDTH,
    HEIGHT,
    STATUS_COLORS,
    WIDTH,
    cdf_x,
    chart_data,
    descending,
    legend,
    small_multiples,
    status_class,
    status_color,
    text_labels,
    time_x,
    titled,
    without_names,
)

if TYPE_CHECKING:
    from workscope.analysis.base import Result

W, H = WIDTH, HEIGHT

_data = chart_data


def _cdf(df: pl.DataFrame, x: str, x_title: str, title: str, color: str | None = None) -> alt.Chart:
    """Step CDF; log x when the tail is heavy (:func:`~workscope.reports.charts.cdf_x`: the
    x = 0 point cannot sit on a log axis and is left out, the curve still starts at P(X = 0))."""
    df, xenc, note = cdf_x(df, x, x_title, p="cdf", by=color)
    enc: dict[str, Any] = {
        "x": xenc,
        "y": alt.Y("cdf:Q", title="P(X ≤ x)", scale=alt.Scale(domain=[0, 1])),
        "tooltip": ([alt.Tooltip(f"{color}:N")] if color else [])
        + [alt.Tooltip(f"{x}:Q", format=",.4~r", title=x_title), alt.Tooltip("cdf:Q", format=".4f")],
    }
    if color:
        enc["color"] = alt.Color(f"{color}:N", title=color, legend=legend(color, df[color].unique()))
    return (alt.Chart(_data(df), title=titled(title, note))
            .mark_line(interpolate="step-after").encode(**enc).properties(width=W, height=H))


# ====================================================================== tokens
def _quantile_panel(long: pl.DataFrame, _label: str) -> alt.LayerChart:
    bars = (alt.Chart(_data(long)).mark_bar()
            .encode(x=alt.X("tokens:Q", title="tokens"),
                    y=alt.Y("group:N", title="group"),
                    # a sequential ramp: quantiles are ordered, and red means "failed" elsewhere
                    color=alt.Color("quantile:O", title="quantile", scale=alt.Scale(scheme="blues", reverse=False),
                                    legend=legend("quantile", ["p50"])),
                    yOffset="quantile:O",
                    tooltip=["group:N", "quantity:N", "quantile:N", alt.Tooltip("tokens:Q", format=",.4~r")]))
    return text_labels(bars, "tokens", ",.0f")


def token_charts(result: Result) -> list[tuple[str, Any]]:
    """Token CDFs per quantity (one line per group), quantile bars and the joint heatmap."""
    out: list[tuple[str, Any]] = []
    cdf = result.tables.get("cdf")
    if cdf is not None and cdf.height:
        for q in cdf["quantity"].unique(maintain_order=True).to_list():
            out.append((f"{q}-tokens-cdf", _cdf(cdf.filter(pl.col("quantity") == q), "tokens", f"{q} tokens",
                                               f"CDF of {q} tokens per request", color="group")))
    st = result.tables.get("stats")
    if st is not None and st.height:
        qcols = [c for c in st.columns if c.startswith("p") and c[1:].isdigit()]
        long = st.unpivot(index=["group", "quantity"], on=qcols, variable_name="quantile", value_name="tokens")
        # input and output lengths differ by ~10x: one panel each, linear bars with their values
        out.append(("token-quantiles", small_multiples(
            long, "quantity", _quantile_panel, title="Token quantiles per group", columns=2, share=("y",),
            width=220, height=max(80, 14 * len(qcols) * long["group"].n_unique()))))
    joint = result.tables.get("joint")
    if joint is not None and joint.height:
        df = joint.filter(pl.col("group") == "(all)")
        out.append(("token-joint-histogram",
            alt.Chart(_data(df), title=titled("Joint histogram of input and output tokens (all requests)",
                                              "symlog axes: bins double in width"))
            .mark_rect()
            .encode(
                x=alt.X("input_lo:Q", scale=alt.Scale(type="symlog"), title="input tokens (bin start)"),
                x2="input_hi:Q",
                y=alt.Y("output_lo:Q", scale=alt.Scale(type="symlog"), title="output tokens (bin start)"),
                y2="output_hi:Q",
                color=alt.Color("requests:Q", scale=alt.Scale(type="log"), title="requests",
                                legend=alt.Legend(orient="right", format="~s")),
                tooltip=[alt.Tooltip("input_lo:Q", format=",.0f", title="input from"),
                         alt.Tooltip("input_hi:Q", format=",.0f", title="input to"),
                         alt.Tooltip("output_lo:Q", format=",.0f", title="output from"),
                         alt.Tooltip("output_hi:Q", format=",.0f", title="output to"),
                         alt.Tooltip("requests:Q", format=","), alt.Tooltip("share:Q", format=".3%")],
            )
            .properties(width=420, height=360)))
    corr = result.tables.get("correlation")
    if corr is not None and corr.height:
        long = corr.unpivot(index=["group"], on=["pearson_log1p", "spearman"], variable_name="measure",
                            value_name="correlation").drop_nulls("correlation")
        out.append(("token-correlation",
            alt.Chart(_data(long), title="Input–output token correlation per group")
            .mark_bar()
            .encode(
                x=alt.X("correlation:Q", title="correlation (−1 … 1)", scale=alt.Scale(domain=[-1, 1])),
                y=alt.Y("group:N", title="group"),
                color=alt.Color("measure:N", title="measure", legend=legend("measure", ["pearson_log1p"])),
                yOffset="measure:N",
                tooltip=["group:N", "measure:N", alt.Tooltip("correlation:Q", format=".3f")],
            )
            .properties(width=BAR_WIDTH)))
    return out


# ====================================================================== sessions
def _bucket_bars(df: pl.DataFrame, bucket: str, lower: str, x_title: str, value: str, y_title: str,
                 title: str) -> alt.LayerChart:
    """Counts per bucket (label ``bucket``, ordered by its lower bound ``lower``) as linear
    bars with their values printed; the tooltip adds the bucket's ``share``."""
    bars = (alt.Chart(_data(df)).mark_bar()
            .encode(x=alt.X(f"{bucket}:N", sort=alt.SortField(lower), title=x_title, axis=alt.Axis(labelAngle=0)),
                    y=alt.Y(f"{value}:Q", title=y_title),
                    tooltip=[f"{bucket}:N", alt.Tooltip(f"{value}:Q", format=","),
                             alt.Tooltip("share:Q", format=".2%")]))
    return text_labels(bars, value, ",", horizontal=False).properties(title=title, width=W, height=H)


def session_charts(result: Result) -> list[tuple[str, Any]]:
    """Sessions per turns bin, CDFs of inter-turn gaps and session durations."""
    out: list[tuple[str, Any]] = []
    turns = result.tables.get("turns")
    if turns is not None and turns.height:
        df = turns.with_columns(
            pl.when(pl.col("turns_lo") == pl.col("turns_hi")).then(pl.col("turns_lo").cast(pl.String))
            .otherwise(pl.format("{}–{}", "turns_lo", "turns_hi")).alias("turns"))
        out.append(("session-turns", _bucket_bars(df, "turns", "turns_lo", "turns (requests per session)",
                                                  "sessions", "sessions", "Turns per session")))
    for name, col, label, slug_ in (("cdf_inter_turn_gap", "inter_turn_gap_s", "inter-turn gap (s)", "inter-turn-gap-cdf"),
                                    ("cdf_session_duration", "session_duration_s", "session duration (s)",
                                     "session-duration-cdf")):
        df = result.tables.get(name)
        if df is not None and df.filter(pl.col(col) > 0).height:
            out.append((slug_, _cdf(df, col, label, f"CDF of {label.split(' (')[0]}")))
    return out


# ====================================================================== failures
def failure_charts(result: Result) -> list[tuple[str, Any]]:
    """Failure share over time and per group, and the status values."""
    out: list[tuple[str, Any]] = []
    red = STATUS_COLORS["failed"]
    ot = result.tables.get("over_time")
    if ot is not None and ot.height:
        ot, x, t = time_x(ot, "window_start_s", result.origin_utc, "time", "window start")
        out.append(("failure-share-over-time",
            alt.Chart(_data(ot), title="Failure share over time")
            .mark_line(point=alt.OverlayMarkDef(color=red), color=red)
            .encode(
                x=x,
                y=alt.Y("failure_share:Q", title="failed / requests", axis=alt.Axis(format="%")),
                tooltip=[t, alt.Tooltip("requests:Q", format=","), alt.Tooltip("failed:Q", format=","),
                         alt.Tooltip("failure_share:Q", format=".2%")],
            )
            .properties(width=W, height=H)))
    bg = result.tables.get("by_group")
    if bg is not None and bg.height:
        bars = (alt.Chart(_data(bg)).mark_bar(color=red)
                .encode(x=alt.X("failure_share:Q", title="failed / requests", axis=alt.Axis(format="%")),
                        y=alt.Y("group:N", sort=descending(bg, "group", "failure_share"), title="group"),
                        tooltip=["group:N", alt.Tooltip("requests:Q", format=","), alt.Tooltip("failed:Q", format=","),
                                 alt.Tooltip("failure_share:Q", format=".2%")]))
        out.append(("failure-share-by-group", text_labels(bars, "failure_share", ".1%").properties(
            title="Failure share per group", width=BAR_WIDTH)))
    st = result.tables.get("status")
    if st is not None and st.height:
        # the analysis' ok / failed class wins; its "other" is split by the recorded value
        df = st.with_columns(pl.when(pl.col("class").is_in(["ok", "failed"])).then(pl.col("class"))
                             .otherwise(pl.col("status").map_elements(status_class, return_dtype=pl.String))
                             .alias("outcome"))
        bars = (alt.Chart(_data(df)).mark_bar()
                .encode(x=alt.X("requests:Q", title="requests"),
                        y=alt.Y("status:N", sort=descending(df, "status", "requests"), title="status (as recorded)"),
                        color=status_color(),
                        tooltip=["status:N", "outcome:N", alt.Tooltip("requests:Q", format=","),
                                 alt.Tooltip("share:Q", format=".2%")]))
        out.append(("request-status", text_labels(bars, "requests", ",").properties(
            title="Requests per status value", width=BAR_WIDTH)))
    return out


# ====================================================================== prefix reuse
def prefix_charts(result: Result) -> list[tuple[str, Any]]:
    """LRU hit ratio against cache size (curve and the sweep) and request reuse distances."""
    out: list[tuple[str, Any]] = []
    mrc = result.tables.get("mrc")
    lru = result.tables.get("lru")
    if mrc is not None and mrc.height:
        tips = [alt.Tooltip("cache_blocks:Q", format=","), alt.Tooltip("cache_tokens:Q", format=","),
                alt.Tooltip("hit_ratio:Q", format=".2%")]
        line = alt.Chart(_data(mrc)).mark_line(interpolate="step-after").encode(
            x=alt.X("cache_blocks:Q", scale=alt.Scale(type="log"), title="LRU cache size (blocks)"),
            y=alt.Y("hit_ratio:Q", title="block hit ratio", scale=alt.Scale(domain=[0, 1]),
                    axis=alt.Axis(format="%")),
            tooltip=tips)
        layers = [line]
        if lru is not None and lru.height:
            layers.append(alt.Chart(_data(lru)).mark_point(filled=True, size=60, color="firebrick").encode(
                x="cache_blocks:Q", y="hit_ratio:Q", tooltip=tips))
        out.append(("prefix-hit-ratio",
                    alt.layer(*layers, title=titled("LRU prefix-cache hit ratio vs cache size (exact)",
                                                    "points: the simulated cache sizes"))
                    .properties(width=W, height=H)))
    rd = result.tables.get("reuse_distance")
    if rd is not None and rd.height:
        df = rd.with_columns(pl.format("{}–{}", "requests_lo", "requests_hi").alias("distance"))
        out.append(("reuse-distance", _bucket_bars(df, "distance", "requests_lo", "reuse distance (requests)",
                                                   "reuses", "block reuses",
                                                   "Reuse distance of blocks (requests since last use)")))
    return out


NAMED_CHARTS: dict[str, Callable[[Result], list[tuple[str, Any]]]] = {
    "llm_tokens": token_charts,
    "llm_sessions": session_charts,
    "llm_failures": failure_charts,
    "llm_prefix": prefix_charts,
}
CHARTS: dict[str, Callable[[Result], list[Any]]] = without_names(NAMED_CHARTS)
