"""Charts of the LLM-serving analyses: token CDFs and joint histogram, sessions, failures,
prefix-cache hit-ratio curves. Every chart reads a Result's small aggregated tables only."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import altair as alt
import polars as pl

if TYPE_CHECKING:
    from workscope.analysis.base import Result

W, H = 420, 240


def _data(df: pl.DataFrame) -> alt.Data:
    return alt.Data(values=df.to_dicts())


def _log_cdf(df: pl.DataFrame, x: str, x_title: str, title: str, color: str | None = None) -> alt.Chart:
    """Step CDF on a log x axis (the x = 0 point cannot sit on a log axis and is left out;
    the curve still starts at P(X = 0))."""
    enc: dict[str, Any] = {
        "x": alt.X(f"{x}:Q", scale=alt.Scale(type="log"), title=x_title),
        "y": alt.Y("cdf:Q", title="P(X ≤ x)", scale=alt.Scale(domain=[0, 1])),
        "tooltip": ([alt.Tooltip(f"{color}:N")] if color else [])
        + [alt.Tooltip(f"{x}:Q", format=".4g", title=x_title), alt.Tooltip("cdf:Q", format=".4f")],
    }
    if color:
        enc["color"] = alt.Color(f"{color}:N", title=color)
    return (alt.Chart(_data(df.filter(pl.col(x) > 0)), title=title)
            .mark_line(interpolate="step-after").encode(**enc).properties(width=W, height=H))


# ====================================================================== tokens
def token_charts(result: Result) -> list[Any]:
    """Token CDFs per quantity (one line per group), quantile bars and the joint heatmap."""
    out: list[Any] = []
    cdf = result.tables.get("cdf")
    if cdf is not None and cdf.height:
        for q in cdf["quantity"].unique(maintain_order=True).to_list():
            out.append(_log_cdf(cdf.filter(pl.col("quantity") == q), "tokens", f"{q} tokens",
                                f"CDF of {q} tokens per request", color="group"))
    st = result.tables.get("stats")
    if st is not None and st.height:
        qcols = [c for c in st.columns if c.startswith("p") and c[1:].isdigit()]
        long = st.unpivot(index=["group", "quantity"], on=qcols, variable_name="quantile", value_name="tokens")
        out.append(
            alt.Chart(_data(long), title="Token quantiles per group")
            .mark_bar()
            .encode(
                x=alt.X("tokens:Q", title="tokens", scale=alt.Scale(type="symlog")),
                y=alt.Y("group:N", title="group"),
                color=alt.Color("quantile:N", title="quantile"),
                yOffset="quantile:N",
                column=alt.Column("quantity:N", title="quantity"),
                tooltip=["group:N", "quantity:N", "quantile:N", alt.Tooltip("tokens:Q", format=".4g")],
            )
            .properties(width=260)
        )
    joint = result.tables.get("joint")
    if joint is not None and joint.height:
        df = joint.filter(pl.col("group") == "(all)")
        out.append(
            alt.Chart(_data(df), title="Joint histogram of input and output tokens (all requests)")
            .mark_rect()
            .encode(
                x=alt.X("input_lo:Q", scale=alt.Scale(type="symlog"), title="input tokens (bin start)"),
                x2="input_hi:Q",
                y=alt.Y("output_lo:Q", scale=alt.Scale(type="symlog"), title="output tokens (bin start)"),
                y2="output_hi:Q",
                color=alt.Color("requests:Q", scale=alt.Scale(type="log"), title="requests"),
                tooltip=[alt.Tooltip("input_lo:Q", format=".0f", title="input from"),
                         alt.Tooltip("input_hi:Q", format=".0f", title="input to"),
                         alt.Tooltip("output_lo:Q", format=".0f", title="output from"),
                         alt.Tooltip("output_hi:Q", format=".0f", title="output to"),
                         "requests:Q", alt.Tooltip("share:Q", format=".3%")],
            )
            .properties(width=W, height=W)
        )
    corr = result.tables.get("correlation")
    if corr is not None and corr.height:
        long = corr.unpivot(index=["group"], on=["pearson_log1p", "spearman"], variable_name="measure",
                            value_name="correlation").drop_nulls("correlation")
        out.append(
            alt.Chart(_data(long), title="Input–output token correlation per group")
            .mark_bar()
            .encode(
                x=alt.X("correlation:Q", title="correlation (−1 … 1)", scale=alt.Scale(domain=[-1, 1])),
                y=alt.Y("group:N", title="group"),
                color=alt.Color("measure:N", title="measure"),
                yOffset="measure:N",
                tooltip=["group:N", "measure:N", alt.Tooltip("correlation:Q", format=".3f")],
            )
            .properties(width=W)
        )
    return out


# ====================================================================== sessions
def session_charts(result: Result) -> list[Any]:
    """Sessions per turns bin, CDFs of inter-turn gaps and session durations."""
    out: list[Any] = []
    turns = result.tables.get("turns")
    if turns is not None and turns.height:
        df = turns.with_columns(
            pl.when(pl.col("turns_lo") == pl.col("turns_hi")).then(pl.col("turns_lo").cast(pl.String))
            .otherwise(pl.format("{}–{}", "turns_lo", "turns_hi")).alias("turns"))
        out.append(
            alt.Chart(_data(df), title="Turns per session")
            .mark_bar()
            .encode(
                x=alt.X("turns:N", sort=alt.SortField("turns_lo"), title="turns (requests per session)"),
                y=alt.Y("sessions:Q", title="sessions", scale=alt.Scale(type="symlog")),
                tooltip=["turns:N", "sessions:Q", alt.Tooltip("share:Q", format=".3%")],
            )
            .properties(width=W, height=H)
        )
    for name, col, label in (("cdf_inter_turn_gap", "inter_turn_gap_s", "inter-turn gap (s)"),
                             ("cdf_session_duration", "session_duration_s", "session duration (s)")):
        df = result.tables.get(name)
        if df is not None and df.filter(pl.col(col) > 0).height:
            out.append(_log_cdf(df, col, label, f"CDF of {label.split(' (')[0]}"))
    return out


# ====================================================================== failures
def failure_charts(result: Result) -> list[Any]:
    """Failure share over time and per group, and the status values."""
    out: list[Any] = []
    ot = result.tables.get("over_time")
    if ot is not None and ot.height:
        out.append(
            alt.Chart(_data(ot), title="Failure share over time")
            .mark_line(point=True)
            .encode(
                x=alt.X("window_start_s:Q", title="window start (s since origin)"),
                y=alt.Y("failure_share:Q", title="failed / requests", axis=alt.Axis(format="%")),
                tooltip=[alt.Tooltip("window_start_s:Q", title="window start (s)"), "requests:Q", "failed:Q",
                         alt.Tooltip("failure_share:Q", format=".3%")],
            )
            .properties(width=W, height=H)
        )
    bg = result.tables.get("by_group")
    if bg is not None and bg.height:
        out.append(
            alt.Chart(_data(bg), title="Failure share per group")
            .mark_bar()
            .encode(
                x=alt.X("failure_share:Q", title="failed / requests", axis=alt.Axis(format="%")),
                y=alt.Y("group:N", sort="-x", title="group"),
                tooltip=["group:N", "requests:Q", "failed:Q", alt.Tooltip("failure_share:Q", format=".3%")],
            )
            .properties(width=W)
        )
    st = result.tables.get("status")
    if st is not None and st.height:
        out.append(
            alt.Chart(_data(st), title="Requests per status value")
            .mark_bar()
            .encode(
                x=alt.X("requests:Q", title="requests", scale=alt.Scale(type="symlog")),
                y=alt.Y("status:N", sort="-x", title="status (as recorded)"),
                color=alt.Color("class:N", title="class"),
                tooltip=["status:N", "class:N", "requests:Q", alt.Tooltip("share:Q", format=".3%")],
            )
            .properties(width=W)
        )
    return out


# ====================================================================== prefix reuse
def prefix_charts(result: Result) -> list[Any]:
    """LRU hit ratio against cache size (curve and the sweep) and request reuse distances."""
    out: list[Any] = []
    mrc = result.tables.get("mrc")
    lru = result.tables.get("lru")
    if mrc is not None and mrc.height:
        tips = ["cache_blocks:Q", "cache_tokens:Q", alt.Tooltip("hit_ratio:Q", format=".4f")]
        line = alt.Chart(_data(mrc)).mark_line(interpolate="step-after").encode(
            x=alt.X("cache_blocks:Q", scale=alt.Scale(type="log"), title="LRU cache size (blocks)"),
            y=alt.Y("hit_ratio:Q", title="block hit ratio", scale=alt.Scale(domain=[0, 1])),
            tooltip=tips)
        layers = [line]
        if lru is not None and lru.height:
            layers.append(alt.Chart(_data(lru)).mark_point(filled=True, size=60, color="firebrick").encode(
                x="cache_blocks:Q", y="hit_ratio:Q", tooltip=tips))
        out.append(alt.layer(*layers, title="LRU prefix-cache hit ratio vs cache size (exact)")
                   .properties(width=W, height=H))
    rd = result.tables.get("reuse_distance")
    if rd is not None and rd.height:
        df = rd.with_columns(pl.format("{}–{}", "requests_lo", "requests_hi").alias("distance"))
        out.append(
            alt.Chart(_data(df), title="Reuse distance of blocks (requests since last use)")
            .mark_bar()
            .encode(
                x=alt.X("distance:N", sort=alt.SortField("requests_lo"), title="reuse distance (requests)"),
                y=alt.Y("reuses:Q", title="block reuses"),
                tooltip=["distance:N", "reuses:Q", alt.Tooltip("share:Q", format=".3%")],
            )
            .properties(width=W, height=H)
        )
    return out


CHARTS: dict[str, Callable[[Result], list[Any]]] = {
    "llm_tokens": token_charts,
    "llm_sessions": session_charts,
    "llm_failures": failure_charts,
    "llm_prefix": prefix_charts,
}
