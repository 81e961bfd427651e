"""Charts of the fitting analyses: empirical vs fitted CDFs, AIC gaps, per-window fits."""

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
    legend,
    small_multiples,
    text_labels,
    time_x,
    titled,
    without_names,
)

if TYPE_CHECKING:
    from workscope.analysis.base import Result

_data = chart_data


def cdf_chart(quantity: str, unit: str, cdf: pl.DataFrame) -> alt.Chart:
    """Empirical CDF against every fitted family; log x when the empirical tail is heavy."""
    label = quantity.replace("_", " ")
    emp = cdf.filter(pl.col("family") == "empirical")
    cdf, x, note = cdf_x(cdf, "x", f"{label} ({unit})", p="cdf", decide_on=emp if emp.height else None)
    return (
        alt.Chart(_data(cdf), title=titled(f"{label}: empirical vs fitted CDF", note))
        .mark_line()
        .encode(
            x=x,
            y=alt.Y("cdf:Q", title="P(X ≤ x)", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("family:N", title="law", legend=legend("law", cdf["family"].unique())),
            strokeDash=alt.condition(alt.datum.family == "empirical", alt.value([1, 0]), alt.value([5, 3])),
            tooltip=[alt.Tooltip("family:N"), alt.Tooltip("x:Q", format=",.4~r", title=f"x ({unit})"),
                     alt.Tooltip("cdf:Q", format=".4f")],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )


def _aic_panel(df: pl.DataFrame, _label: str) -> alt.LayerChart:
    bars = (alt.Chart(_data(df)).mark_bar()
            .encode(x=alt.X("delta_aic:Q", title="AIC − min AIC"),
                    y=alt.Y("family:N", title=None, sort=df.sort("delta_aic")["family"].to_list()),
                    tooltip=["quantity:N", "family:N", alt.Tooltip("delta_aic:Q", format=",.4~r"),
                             alt.Tooltip("ks_statistic:Q", format=".4f", title="KS D"), "params:N"]))
    return text_labels(bars, "delta_aic", ",.4~r")


def aic_chart(fits: pl.DataFrame) -> alt.ConcatChart:
    """AIC of each family minus the best AIC of its quantity (0 = the chosen law): one panel
    per quantity, linear bars with their values (gaps of one quantity can span 1 to 10^5)."""
    ok = fits.filter(pl.col("aic").is_not_null())
    df = ok.with_columns((pl.col("aic") - pl.col("aic").min().over("quantity")).alias("delta_aic")).select(
        "quantity", "family", "delta_aic", "best", "ks_statistic", "params")
    return small_multiples(df, "quantity", _aic_panel, title="AIC gap to the best fit (lower is better)",
                           columns=1, width=BAR_WIDTH, height=max(40, 16 * df["family"].n_unique()))


def _family_scale(families: pl.Series) -> alt.Scale:
    # windows without a fit are most of a sparse trace: grey, so the fitted laws stand out
    named = sorted(f for f in families.unique().to_list() if f != "no fit")
    palette = ["#4c78a8", "#f58518", "#54a24b", "#b279a2", "#ff9da6", "#9d755d", "#eeca3b", "#72b7b2"]
    return alt.Scale(domain=[*named, "no fit"], range=[*(palette * 4)[:len(named)], "#c7c7c7"])


def window_charts(windows: pl.DataFrame, origin_utc: str | None = None) -> list[alt.Chart]:
    """Rate per window (points coloured by the best family) and CV of inter-arrivals per window."""
    df = windows.select("window_start_s", "arrivals", "rate_per_s", "cv_interarrival", "best_family",
                        "n_fit", "ks_statistic").with_columns(pl.col("best_family").fill_null("no fit"))
    df, x, t = time_x(df, "window_start_s", origin_utc, "window start")
    base = alt.Chart(_data(df))
    tips = [t, alt.Tooltip("arrivals:Q", format=","),
            alt.Tooltip("rate_per_s:Q", format=",.4~r", title="rate (1/s)"),
            alt.Tooltip("cv_interarrival:Q", format=".3f", title="CV"), "best_family:N", "n_fit:Q"]
    rate = base.mark_point(filled=True).encode(
        x=x, y=alt.Y("rate_per_s:Q", title="arrival rate (1/s)"),
        color=alt.Color("best_family:N", title="best law", scale=_family_scale(df["best_family"]),
                        legend=legend("best law", df["best_family"].unique())),
        tooltip=tips,
    ).properties(title="Per-window arrival rate and best inter-arrival law", width=WIDTH, height=HEIGHT)
    cv = base.mark_line(point=True).encode(
        x=x, y=alt.Y("cv_interarrival:Q", title="CV of inter-arrivals (1 = Poisson)"), tooltip=tips,
    ).properties(title="Per-window CV of inter-arrival times", width=WIDTH, height=180)
    return [rate, cv]


def fitting_charts(result: Result) -> list[tuple[str, Any]]:
    """Every chart of one fitting result, named."""
    out: list[tuple[str, Any]] = []
    fits = result.tables.get("fits")
    units: dict[str, str] = {}
    if fits is not None and fits.height:
        units = dict(fits.select("quantity", "unit").unique().iter_rows())
        if fits["aic"].is_not_null().any():
            out.append(("aic-gap", aic_chart(fits)))
    for name, df in result.tables.items():
        if name.startswith("cdf_") and df.height:
            q = name.removeprefix("cdf_")
            out.append((f"{q}-cdf", cdf_chart(q, units.get(q, ""), df)))
    windows = result.tables.get("windows")
    if windows is not None and windows.height:
        rate, cv = window_charts(windows, result.origin_utc)
        out += [("window-rate", rate), ("window-cv", cv)]
    return out


NAMED_CHARTS: dict[str, Callable[[Result], list[tuple[str, Any]]]] = {"fitting": fitting_charts}
CHARTS: dict[str, Callable[[Result], list[Any]]] = without_names(NAMED_CHARTS)
