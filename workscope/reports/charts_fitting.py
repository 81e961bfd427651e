"""Charts of the fitting analyses: empirical vs fitted CDFs, AIC gaps, per-window fits."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import altair as alt
import polars as pl

if TYPE_CHECKING:
    from workscope.analysis.base import Result


def _data(df: pl.DataFrame) -> alt.Data:
    return alt.Data(values=df.to_dicts())


def cdf_chart(quantity: str, unit: str, cdf: pl.DataFrame) -> alt.Chart:
    """Empirical CDF against every fitted family, log x (the tables hold positive values only)."""
    label = quantity.replace("_", " ")
    return (
        alt.Chart(_data(cdf), title=f"{label}: empirical vs fitted CDF")
        .mark_line()
        .encode(
            x=alt.X("x:Q", scale=alt.Scale(type="log"), title=f"{label} ({unit})"),
            y=alt.Y("cdf:Q", title="P(X ≤ x)", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("family:N", title="law"),
            strokeDash=alt.condition(alt.datum.family == "empirical", alt.value([1, 0]), alt.value([5, 3])),
            tooltip=[alt.Tooltip("family:N"), alt.Tooltip("x:Q", format=".4g", title=f"x ({unit})"),
                     alt.Tooltip("cdf:Q", format=".4f")],
        )
        .properties(width=420, height=260)
    )


def aic_chart(fits: pl.DataFrame) -> alt.Chart:
    """AIC of each family minus the best AIC of its quantity (0 = the chosen law)."""
    ok = fits.filter(pl.col("aic").is_not_null())
    df = ok.with_columns((pl.col("aic") - pl.col("aic").min().over("quantity")).alias("delta_aic")).select(
        "quantity", "family", "delta_aic", "best", "ks_statistic", "params")
    return (
        alt.Chart(_data(df), title="AIC gap to the best fit (lower is better)")
        .mark_bar()
        .encode(
            x=alt.X("delta_aic:Q", title="AIC − min AIC (nats × 2)", scale=alt.Scale(type="symlog")),
            y=alt.Y("family:N", title="family"),
            row=alt.Row("quantity:N", title="quantity"),
            tooltip=["quantity:N", "family:N", alt.Tooltip("delta_aic:Q", format=".4g"),
                     alt.Tooltip("ks_statistic:Q", format=".4f", title="KS D"), "params:N"],
        )
        .properties(width=380)
        .resolve_scale(y="independent")
    )


def window_charts(windows: pl.DataFrame) -> list[alt.Chart]:
    """Rate per window (points coloured by the best family) and CV of inter-arrivals per window."""
    df = windows.select("window_start_s", "arrivals", "rate_per_s", "cv_interarrival", "best_family",
                        "n_fit", "ks_statistic").with_columns(pl.col("best_family").fill_null("no fit"))
    base = alt.Chart(_data(df))
    x = alt.X("window_start_s:Q", title="window start (s since origin)")
    tips = [alt.Tooltip("window_start_s:Q", title="window start (s)"), "arrivals:Q",
            alt.Tooltip("rate_per_s:Q", format=".4g", title="rate (1/s)"),
            alt.Tooltip("cv_interarrival:Q", format=".3f", title="CV"), "best_family:N", "n_fit:Q"]
    rate = base.mark_point(filled=True).encode(
        x=x, y=alt.Y("rate_per_s:Q", title="arrival rate (1/s)"),
        color=alt.Color("best_family:N", title="best law"), tooltip=tips,
    ).properties(title="Per-window arrival rate and best inter-arrival law", width=520, height=220)
    cv = base.mark_line(point=True).encode(
        x=x, y=alt.Y("cv_interarrival:Q", title="CV of inter-arrivals (1 = Poisson)"), tooltip=tips,
    ).properties(title="Per-window CV of inter-arrival times", width=520, height=180)
    return [rate, cv]


def fitting_charts(result: Result) -> list[Any]:
    """Every chart of one fitting result."""
    out: list[Any] = []
    fits = result.tables.get("fits")
    units: dict[str, str] = {}
    if fits is not None and fits.height:
        units = dict(fits.select("quantity", "unit").unique().iter_rows())
        if fits["aic"].is_not_null().any():
            out.append(aic_chart(fits))
    for name, df in result.tables.items():
        if name.startswith("cdf_") and df.height:
            q = name.removeprefix("cdf_")
            out.append(cdf_chart(q, units.get(q, ""), df))
    windows = result.tables.get("windows")
    if windows is not None and windows.height:
        out.extend(window_charts(windows))
    return out


CHARTS: dict[str, Callable[[Result], list[Any]]] = {"fitting": fitting_charts}
