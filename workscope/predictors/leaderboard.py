"""A leaderboard: every model x every seed, scored on the test split, then summarized.

Baselines (:data:`workscope.predictors.baselines.BASELINES`) run directly. Any other model
name is handed to an injected ``train_fn(name, ds, seed) -> predictions on ds.split.test``
(the neural trainer lives in ``workscope.predictors.train`` and is wired by the caller, so
this module works with the baselines alone and never imports torch training code).

Metrics (all on the test split, in the target's units):

* ``mae``  - mean absolute error;
* ``rmse`` - root mean squared error;
* ``mape`` - mean absolute percentage error as a *fraction* (0.1 = 10 %), like
  ``sklearn.metrics.mean_absolute_percentage_error``, but samples whose target is exactly
  zero are left out (their percentage error is undefined; sklearn would instead divide by
  machine epsilon and report an astronomically large number). NaN when every target is 0.
  ``n_mape`` says how many samples it used.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl

from workscope.predictors.baselines import BASELINES, fit_predict
from workscope.predictors.dataset import Dataset

log = logging.getLogger(__name__)

TrainFn = Callable[[str, Dataset, int], Any]
METRICS: tuple[str, ...] = ("mae", "rmse", "mape")


def _arrays(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Both as 1-D float64 arrays of equal length (torch tensors accepted)."""
    if hasattr(y_true, "detach"):
        y_true = y_true.detach().cpu().numpy()
    if hasattr(y_pred, "detach"):
        y_pred = y_pred.detach().float().cpu().numpy()
    t = np.asarray(y_true, dtype=np.float64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"{p.size} predictions for {t.size} targets")
    return t, p


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error (NaN on empty input)."""
    t, p = _arrays(y_true, y_pred)
    return float(np.abs(t - p).mean()) if t.size else math.nan


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error (NaN on empty input)."""
    t, p = _arrays(y_true, y_pred)
    return float(np.sqrt(((t - p) ** 2).mean())) if t.size else math.nan


def mape(y_true: Any, y_pred: Any) -> float:
    """Mean absolute percentage error as a fraction, ignoring zero targets (NaN if none)."""
    t, p = _arrays(y_true, y_pred)
    nz = t != 0
    if not nz.any():
        return math.nan
    return float((np.abs(t[nz] - p[nz]) / np.abs(t[nz])).mean())


def score(y_true: Any, y_pred: Any) -> dict[str, float | int]:
    """All metrics, plus ``n_test`` and ``n_mape`` (samples with a non-zero target)."""
    t, p = _arrays(y_true, y_pred)
    if not np.isfinite(p).all():
        raise ValueError("predictions contain NaN or infinity")
    return {"mae": mae(t, p), "rmse": rmse(t, p), "mape": mape(t, p),
            "n_test": int(t.size), "n_mape": int((t != 0).sum())}


def evaluate_all(ds_builder: Callable[[int], Dataset], models: Sequence[str], seeds: Sequence[int],
                 train_fn: TrainFn | None = None) -> pl.DataFrame:
    """Score every model under every seed; one row per (model, seed).

    ``ds_builder(seed)`` is called once per seed (a seed may change the split), and every
    model of that seed sees the same dataset. Baselines are fitted here; other names go to
    ``train_fn(name, ds, seed)``, which must return predictions for ``ds.split.test``.
    Columns: model, seed, mae, rmse, mape, n_test, n_mape, fit_s (wall seconds of fit and
    predict).
    """
    unknown = [m for m in models if m not in BASELINES]
    if unknown and train_fn is None:
        raise ValueError(f"models {unknown} are not baselines and no train_fn was given")
    rows: list[dict[str, Any]] = []
    for seed in seeds:
        ds = ds_builder(seed)
        y_test = ds.y[ds.split.test]
        for name in models:
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
