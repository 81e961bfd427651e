"""Resource-usage metrics (``usage`` table: one sample of one metric of one entity).

Analyses:

``usage_metrics`` (kind ``usage_summary``)
    Summary: ``metrics``, ``samples`` and ``entities`` count the whole table (distinct metric
    names, rows, distinct entity ids); ``entities_shown`` is how many are in the per-entity
    table. Per metric (the largest ``METRIC_ROWS`` by sample count): n, distinct entities, mean,
    sample standard deviation s = sqrt(Σ(v − mean)² / (n − 1)), min, max, time range and
    unit (exact), and quantiles (linear interpolation between order statistics, numpy's
    default) over a seeded sample of ``Options.max_sample`` rows on large tables.
    Per entity: the same figures per (entity, metric) for the ``top_groups`` entities with
    the most samples. Time series: the mean of each of the ``top_groups`` largest metrics in
    equal time bins (at most ``SERIES_POINTS`` points in all), with the bin's min and max;
    a bin mean is over every sample of the metric in the bin, all entities together.

``usage_correlation`` (kind ``usage_correlation``)
    Pearson correlation r between the ``top_groups`` largest metrics on the pivot
    (entity_id, t_s) → one column per metric (several samples of one key averaged). It only
    applies when at least two metrics are sampled at the same (entity, t_s); only such keys
    are pivoted. Above 4 × ``Options.max_sample`` rows the keys are first thinned by a seeded
    hash filter (hash(entity, t_s, seed) mod M = 0, whole keys kept), then capped by a seeded
    reservoir sample of ``Options.max_sample`` keys. Each r is over the keys where both metrics have a value
    (pairwise-complete); ``n`` says how many. Metrics sampled at different instants do not
    correlate here: resample them first.

All aggregation runs in DuckDB; only the summaries come into Python.
"""

from __future__ import annotations

import logging
import math
import weakref
from typing import Any

import polars as pl

from workscope.analysis.base import Analysis, Context, Result

log = logging.getLogger(__name__)

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
METRIC_ROWS = 200
SERIES_POINTS = 2000

_span_cache: weakref.WeakKeyDictionary[Context, dict[str, Any]] = weakref.WeakKeyDictionary()


def span(ctx: Context) -> dict[str, Any]:
    """t0, t1 and the numbers of metrics and of entities of the usage table, once per context."""
    if ctx not in _span_cache:
        _span_cache[ctx] = ctx.sql("usage_span", {"usage": "usage"}).row(0, named=True)
    return _span_cache[ctx]


def key_modulus(ctx: Context) -> int:
    """The hash-filter modulus that thins (entity, t_s) keys before the pivot: 1 (every key)
    up to 4 x max_sample rows, else about 4 x max_sample rows kept."""
    return max(1, math.ceil(ctx.rows("usage") / (4 * int(ctx.options.max_sample))))


def shared(ctx: Context) -> dict[str, Any]:
    """Keys and shared keys (usage_shared.sql) among the hash-kept keys, once per context."""
    cache = _span_cache.setdefault(ctx, dict(span(ctx)))
    if "shared" not in cache:
        row = ctx.sql("usage_shared", {"usage": "usage"}, ints={"MOD": key_modulus(ctx)},
                   top=int(ctx.options.top_groups)).row(0, named=True)
        cache.update(row)
    return cache


# ====================================================================== summaries
def _metrics_applies(ctx: Context) -> bool:
    return ctx.has("usage")


def metrics(ctx: Context) -> Result:
    """Per-metric and per-entity summaries and the mean of each metric over time."""
    top = int(ctx.options.top_groups)
    sp = span(ctx)
    m = ctx.sql("usage_metrics", {"usage": "usage"}, qs=list(QUANTILES), limit=METRIC_ROWS)
    qcols = [f"p{round(q * 100):02d}" for q in QUANTILES]
    per_metric = m.with_columns(
        [pl.col("quantiles").list.get(i).alias(c) for i, c in enumerate(qcols)]).drop("quantiles")
    notes: list[str] = []
    if ctx.rows("usage") > ctx.options.max_sample:
        notes.append(f"quantiles are over a seeded sample of {ctx.options.max_sample} rows (seed {ctx.options.seed});"
                     " counts, means, std, min and max are exact")
    if sp["metrics"] > METRIC_ROWS:
        notes.append(f"{sp['metrics']} metrics: the {METRIC_ROWS} with the most samples are summarised")
    entities = ctx.sql("usage_entities", {"usage": "usage"}, top=top)
    tables: dict[str, pl.DataFrame] = {"metrics": per_metric, "entities": entities}
    t0, t1 = sp["t0"], sp["t1"]
    shown = min(top, int(sp["metrics"]))
    bins = max(1, SERIES_POINTS // max(shown, 1))
    width = (t1 - t0) / bins if t1 > t0 else 1.0
    series = ctx.sql("usage_series", {"usage": "usage"}, t0=float(t0), width=float(width), bins=bins, top=top)
    tables["series"] = series.with_columns((t0 + pl.col("i") * width).alias("t_s")).drop("i")
    summary: dict[str, Any] = {
        "metrics": int(sp["metrics"]), "samples": ctx.rows("usage"),
        # every distinct entity of the table, not the rows of the top-entities table (which
        # holds at most top_groups of them)
        "entities": int(sp["entities"]), "entities_shown": int(entities["entity_id"].n_unique()),
        "span_start_s": t0, "span_end_s": t1, "series_bin_s": width,
    }
    if per_metric.height:
        first = per_metric.row(0, named=True)
        summary["largest_metric"] = first["metric"]
        summary["largest_metric_samples"] = first["n"]
        summary["largest_metric_mean"] = first["mean"]
    if per_metric.height <= top:
        # small traces: each metric's mean in the summary (metric names carry their units)
        for row in per_metric.iter_rows(named=True):
            summary[f"mean_{row['metric']}"] = row["mean"]
    return Result("usage_metrics", "Usage metrics", summary, tables, tuple(notes), "usage_summary")


# ====================================================================== correlation
def _correlation_applies(ctx: Context) -> bool:
    return ctx.has("usage") and span(ctx)["metrics"] >= 2 and shared(ctx)["shared"] > 0


def correlation(ctx: Context) -> Result:
    """Pearson correlation matrix of the largest metrics on the (entity, t_s) pivot."""
    sp = shared(ctx)
    top = int(ctx.options.top_groups)
    mod = key_modulus(ctx)
    # r is undefined (NaN) for constant metrics or a single shared key: report it as null
    df = ctx.sql("usage_corr", {"usage": "usage"}, ints={"MOD": mod}, top=top).with_columns(pl.col("r").fill_nan(None))
    sampled = mod > 1 or sp["shared"] > ctx.options.max_sample
    notes = [(f"a seeded sample of the shared (entity, t_s) keys is pivoted: hash filter 1/{mod}, then at most "
              f"{ctx.options.max_sample} keys (seed {ctx.options.seed})")] if sampled else []
    off = df.filter(pl.col("metric_x") != pl.col("metric_y"))
    # each pair is there twice (x, y and y, x; their r may differ in the last bit): rank each
    # pair once, ties broken by name, so the choice depends on the data, not on row order
    strongest = off.filter(pl.col("r").is_not_null() & (pl.col("metric_x") < pl.col("metric_y"))).sort(
        [pl.col("r").abs(), "metric_x", "metric_y"], descending=[True, False, False])
    summary: dict[str, Any] = {
        "metrics": int(df["metric_x"].n_unique()) if df.height else 0,
        "shared_keys": int(sp["shared"]) * mod if mod > 1 else int(sp["shared"]),
        "shared_keys_estimated": mod > 1, "sampled": sampled,
        "pairs": off.height // 2,
    }
    if strongest.height:
        s = strongest.row(0, named=True)
        summary.update({"strongest_pair": [s["metric_x"], s["metric_y"]], "strongest_r": s["r"],
                        "strongest_pair_n": s["n"]})
        summary["mean_abs_r"] = float(strongest["r"].abs().mean())  # type: ignore[arg-type]
    return Result("usage_correlation", "Usage metric correlation", summary, {"correlation": df}, tuple(notes),
                  "usage_correlation")


ANALYSES: tuple[Analysis, ...] = (
    Analysis("usage_metrics", "Usage metrics", _metrics_applies, metrics,
             "per-metric and per-entity summaries, mean per metric over time"),
    Analysis("usage_correlation", "Usage metric correlation", _correlation_applies, correlation,
             "Pearson correlation between metrics sampled at the same (entity, t_s)"),
)
