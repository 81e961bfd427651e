"""Error metrics shared by the leaderboard, training and the CLI.

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

import math
from typing import Any

import numpy as np


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
