"""A leaderboard: every model x every seed, scored on the test split, then summarized.

Baselines (:data:`workscope.predictors.baselines.BASELINES`) run directly. Any other model
name is handed to an injected ``train_fn(name, ds, seed) -> predictions on ds.split.test``
(the neural trainer lives in ``workscope.predictors.train`` and is wired by the caller, so
this module works with the baselines alone and never imports torch training code).

Metrics (all on the test split, in the target's units) are those of
:mod:`workscope.predictors.metrics`: MAE, RMSE and MAPE as a fraction.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from workscope.predictors.baselines import BASELINES, fit_predict
from workscope.predictors.dataset import Dataset
from workscope.predictors.metrics import mae, mape, rmse, score

__all__ = ["METRICS", "evaluate_all", "mae", "mape", "rmse", "score", "summarize", "to_dict", "to_markdown"]

log = logging.getLogger(__name__)

TrainFn = Callable[[str, Dataset, int], Any]
#: A progress report ``(message, done, total)``: ``done`` of ``total`` units of work finished.
Progress = Callable[[str, int, int], None]
METRICS: tuple[str, ...] = ("mae", "rmse", "mape")


def evaluate_all(ds_builder: Callable[[int], Dataset], models: Sequence[str], seeds: Sequence[int],
                 train_fn: TrainFn | None = None, progress: Progress | None = None) -> pl.DataFrame:
    """Score every model under every seed; one row per (model, seed).

    ``ds_builder(seed)`` is called once per seed (a seed may change the split), and every
    model of that seed sees the same dataset. Baselines are fitted here; other names go to
    ``train_fn(name, ds, seed)``, which must return predictions for ``ds.split.test``.
    Columns: model, seed, mae, rmse, mape, n_test, n_mape, fit_s (wall seconds of fit and
    predict).

    ``progress(message, done, total)``, when given, counts (model, seed) runs: it is called
    before each dataset is built and each run starts (``done`` = runs finished so far, of
    ``total = len(models) * len(seeds)``), and once at the end with ``done = total``.
    """
    unknown = [m for m in models if m not in BASELINES]
    if unknown and train_fn is None:
        raise ValueError(f"models {unknown} are not baselines and no train_fn was given")
    rows: list[dict[str, Any]] = []
    say: Progress = progress or (lambda msg, done, total: None)
    total = len(models) * len(seeds)
    for seed in seeds:
        say(f"seed {seed}: building the dataset", len(rows), total)
        ds = ds_builder(seed)
        y_test = ds.y[ds.split.test]
        for name in models:
            say(f"{name} seed {seed}: {'fitting' if name in BASELINES else 'training'}", len(rows), total)
            start = time.perf_counter()
            if name in BASELINES:
                pred = fit_predict(name, ds, seed)
            else:
                assert train_fn is not None  # checked above; narrows the type
                pred = train_fn(name, ds, seed)
            elapsed = time.perf_counter() - start
            row = {"model": name, "seed": int(seed), **score(y_test, pred), "fit_s": elapsed}
            log.info("leaderboard %s seed=%d mae=%.6g rmse=%.6g", name, seed, row["mae"], row["rmse"])
            rows.append(row)
    say(f"{len(rows)} runs scored", len(rows), total)
    schema = {"model": pl.String, "seed": pl.Int64, "mae": pl.Float64, "rmse": pl.Float64,
              "mape": pl.Float64, "n_test": pl.Int64, "n_mape": pl.Int64, "fit_s": pl.Float64}
    return pl.DataFrame(rows, schema=schema)


def summarize(df: pl.DataFrame) -> pl.DataFrame:
    """Mean and std of each metric per model over seeds, best MAE first, with a rank.

    The std is the sample std (ddof=1), null for a model run under a single seed. Rank 1 is
    the lowest mean MAE; ties share the lower rank. Columns: rank, model, n_seeds, n_test,
    then ``<metric>_mean`` and ``<metric>_std`` for mae, rmse, mape.
    """
    aggs: list[pl.Expr] = [pl.len().alias("n_seeds"), pl.col("n_test").mean().alias("n_test")]
    for m in METRICS:
        # fill_nan(None): one all-zero-target seed should not turn a mean into NaN silently,
        # but a metric NaN in every seed stays null.
        aggs += [pl.col(m).fill_nan(None).mean().alias(f"{m}_mean"),
                 pl.col(m).fill_nan(None).std(ddof=1).alias(f"{m}_std")]
    out = df.group_by("model").agg(aggs).sort(["mae_mean", "model"], nulls_last=True)
    out = out.with_columns(pl.col("mae_mean").rank(method="min").cast(pl.Int64).alias("rank"))
    return out.select(["rank", "model", "n_seeds", "n_test"]
                      + [f"{m}_{s}" for m in METRICS for s in ("mean", "std")])


def _cell(v: Any) -> str:
    """One markdown cell: floats to 4 significant digits, missing values empty."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v).replace("|", "\\|")


def to_markdown(df: pl.DataFrame) -> str:
    """A GitHub-flavoured markdown table of ``df`` (a leaderboard or its summary)."""
    header = "| " + " | ".join(df.columns) + " |"
    align = "|" + "|".join("---:" if df.schema[c].is_numeric() else "---" for c in df.columns) + "|"
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in df.iter_rows()]
    return "\n".join([header, align, *body]) + "\n"


def to_dict(df: pl.DataFrame) -> dict[str, Any]:
    """A JSON-ready dict ``{"columns": [...], "rows": [{col: value}, ...]}``; NaN -> None."""
    def clean(v: Any) -> Any:
        return None if isinstance(v, float) and not math.isfinite(v) else v
    return {"columns": list(df.columns),
            "rows": [{k: clean(v) for k, v in r.items()} for r in df.iter_rows(named=True)]}
