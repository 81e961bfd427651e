"""Honest baselines on the shared :class:`~workscope.predictors.dataset.Dataset`.

Every baseline is fitted on ``ds.split.train`` only (the validation split is used where a
model has a knob to choose: Ridge's penalty, gradient boosting's early stopping) and can
then predict for any index set. Test targets are never read while fitting.

Baselines (registry :data:`BASELINES`):

``persistence``
    The target's last observed value: the last real (unmasked) step of a designated metric
    column, ``ds.meta["target_index"]`` (an int index into ``ds.metrics`` or a metric name);
    without it, the column named ``ds.target`` when the target is also an input metric (as
    the task builder makes it). Windows with no real step, and datasets with no such column,
    get the train-target mean instead. This is only meaningful on raw (not :meth:`Dataset.normalized`) inputs,
    because the metric column is then in the target's units.
``group_median``
    Median train target per group. Groups come from ``ds.meta["groups"]`` (either one label
    per sample, or a mapping entity -> group), else ``ds.meta["group"]`` (the per-sample
    labels the task builder writes); without either every entity is its own group.
    Groups unseen in training (e.g. unseen entities under an entity split) get the global
    train median.
``linear``
    Ridge regression on per-window aggregates (mean, std, min, max, last of each metric over
    the real steps), standardized with training statistics; the penalty is picked on the
    validation split from a small grid.
``random_forest`` / ``gradient_boosting``
    Random forest and histogram gradient boosting on the same aggregates; seeded and kept
    small so CPU tests stay fast. Gradient boosting early-stops on the validation split.

For ratio targets (``ds.ratio_target``) predictions are clipped to [0, 1], the range the
target lives in, so a baseline is not penalised for an out-of-range extrapolation that a
sigmoid head could never make.

Usage::

    model = fit("random_forest", ds, seed=0)
    pred = model.predict(ds.split.test)          # np.ndarray [len(test)]
    pred = fit_predict("linear", ds, seed=0)     # shortcut for the test split
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

from workscope.errors import TaskDataError, UnknownNameError
from workscope.predictors.dataset import Dataset
from workscope.predictors.names import BASELINE_MODELS

log = logging.getLogger(__name__)

AGGREGATES: tuple[str, ...] = ("mean", "std", "min", "max", "last")
RIDGE_ALPHAS: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
RF_TREES = 100
RF_MIN_LEAF = 2
GB_MAX_ITER = 200
GB_LEARNING_RATE = 0.1


class Baseline(Protocol):
    """A fitted baseline: predicts the target for any sample indices of its dataset."""

    def predict(self, idx: torch.Tensor | np.ndarray | Sequence[int]) -> np.ndarray:
        """Predictions (float64) for the samples ``idx``."""
        ...


def _as_index(idx: torch.Tensor | np.ndarray | Sequence[int]) -> np.ndarray:
    """Sample indices as a 1-D int64 numpy array."""
    if isinstance(idx, torch.Tensor):
        idx = idx.detach().cpu().numpy()
    return np.asarray(idx, dtype=np.int64).reshape(-1)


def _targets(ds: Dataset, idx: np.ndarray) -> np.ndarray:
    """Targets of ``idx`` as float64 (only ever called with training/validation indices)."""
    return ds.y.detach().cpu().numpy().astype(np.float64)[idx]


def _finish(ds: Dataset, pred: np.ndarray) -> np.ndarray:
    """Clip ratio targets to [0, 1]; always return float64."""
    pred = np.asarray(pred, dtype=np.float64)
    return np.clip(pred, 0.0, 1.0) if ds.ratio_target else pred


def window_features(ds: Dataset) -> tuple[np.ndarray, list[str]]:
    """Per-window aggregates of every metric over the real (unmasked) steps.

    Returns ``X`` [N, 5*M] (float64) and the feature names ``"<agg>:<metric>"`` in the
    order of :data:`AGGREGATES` then metrics. ``std`` is the population std. Windows with
    no real step get zeros (there is nothing to aggregate; zero is also what the masked
    neural inputs see).
    """
    seq = ds.x_seq.detach().cpu().numpy().astype(np.float64)  # [N, T, M]
    mask = ds.mask.detach().cpu().numpy().astype(bool)  # [N, T]
    n, t, _ = seq.shape
    count = mask.sum(axis=1)  # [N]
    has = count > 0
    w = mask[:, :, None]
    safe = np.maximum(count, 1)[:, None]
    mean = np.where(w, seq, 0.0).sum(axis=1) / safe
    var = np.where(w, (seq - mean[:, None, :]) ** 2, 0.0).sum(axis=1) / safe
    mn = np.where(w, seq, np.inf).min(axis=1)
    mx = np.where(w, seq, -np.inf).max(axis=1)
    # The last real step need not be the last position (padding may sit at either end).
    last_pos = np.where(has, t - 1 - np.argmax(mask[:, ::-1], axis=1), 0)
    last = seq[np.arange(n), last_pos]
    feats = np.concatenate([mean, np.sqrt(var), mn, mx, last], axis=1)
    feats[~has] = 0.0
    names = [f"{a}:{name}" for a in AGGREGATES for name in ds.metrics]
    return feats, names


def _target_column(ds: Dataset) -> int | None:
    """The metric column persistence reads: ``meta["target_index"]`` (int or name), else
    the column named like the target, else None."""
    ti = ds.meta.get("target_index")
    if ti is None:
        return ds.metrics.index(ds.target) if ds.target in ds.metrics else None
    if isinstance(ti, str):
        if ti not in ds.metrics:
            raise ValueError(f"target_index {ti!r} is not one of the metrics {ds.metrics}")
        return ds.metrics.index(ti)
    col = int(ti)
    if not -len(ds.metrics) <= col < len(ds.metrics):
        raise ValueError(f"target_index {col} out of range for {len(ds.metrics)} metrics")
    return col % len(ds.metrics)


@dataclass
class Persistence:
    """Last real value of the designated metric column; train mean where there is none."""

    ds: Dataset
    column: int | None
    fallback: float

    def predict(self, idx: torch.Tensor | np.ndarray | Sequence[int]) -> np.ndarray:
        """See :class:`Baseline`."""
        i = _as_index(idx)
        out = np.full(i.shape[0], self.fallback, dtype=np.float64)
        if self.column is None or i.size == 0:
            return _finish(self.ds, out)
        mask = self.ds.mask.detach().cpu().numpy().astype(bool)[i]
        col = self.ds.x_seq[:, :, self.column].detach().cpu().numpy().astype(np.float64)[i]
        has = mask.any(axis=1)
        last_pos = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)
        out[has] = col[np.arange(i.size), last_pos][has]
        return _finish(self.ds, out)


def fit_persistence(ds: Dataset, seed: int = 0) -> Persistence:
    """Fit :class:`Persistence` (``seed`` unused: the baseline is deterministic)."""
    del seed
    col = _target_column(ds)
    tr = _as_index(ds.split.train)
    fallback = float(_targets(ds, tr).mean()) if tr.size else 0.0
    if col is None:
        log.info("persistence: no target column; predicting the train mean %.6g", fallback)
    elif ds.meta.get("normalized"):
        log.warning("persistence on normalized inputs: metric column is not in target units")
    return Persistence(ds=ds, column=col, fallback=fallback)


def _group_labels(ds: Dataset) -> list[str]:
    """One group label per sample (see the module docstring for ``meta['groups']``)."""
    groups = ds.meta.get("groups")
    if groups is None:
        groups = ds.meta.get("group")
    if groups is None:
        return [str(e) for e in ds.entity]
    if isinstance(groups, Mapping):
        # Entities missing from the mapping stay their own group rather than failing.
        return [str(groups.get(e, e)) for e in ds.entity]
    labels = list(groups)
    if len(labels) != ds.n:
        raise ValueError(f"meta['groups'] has {len(labels)} labels for {ds.n} samples")
    return [str(g) for g in labels]


@dataclass
class GroupMedian:
    """Median train target per group; global train median for groups unseen in training."""

    ds: Dataset
    labels: list[str]
    medians: dict[str, float]
    fallback: float

    def predict(self, idx: torch.Tensor | np.ndarray | Sequence[int]) -> np.ndarray:
        """See :class:`Baseline`."""
        i = _as_index(idx)
        out = np.array([self.medians.get(self.labels[k], self.fallback) for k in i], dtype=np.float64)
        return _finish(self.ds, out)


def fit_group_median(ds: Dataset, seed: int = 0) -> GroupMedian:
    """Fit :class:`GroupMedian` (``seed`` unused: the baseline is deterministic)."""
    del seed
    labels = _group_labels(ds)
    tr = _as_index(ds.split.train)
    y = _targets(ds, tr)
    by: dict[str, list[float]] = {}
    for k, v in zip(tr.tolist(), y.tolist(), strict=True):
        by.setdefault(labels[k], []).append(v)
    medians = {g: float(np.median(v)) for g, v in by.items()}
    fallback = float(np.median(y)) if y.size else 0.0
    return GroupMedian(ds=ds, labels=labels, medians=medians, fallback=fallback)


@dataclass
class FeatureModel:
    """A scikit-learn regressor on :func:`window_features` (optionally standardized)."""

    ds: Dataset
    features: np.ndarray
    scaler: StandardScaler | None
    model: Any
    info: dict[str, Any]

    def predict(self, idx: torch.Tensor | np.ndarray | Sequence[int]) -> np.ndarray:
        """See :class:`Baseline`."""
        i = _as_index(idx)
        if i.size == 0:
            return np.zeros(0, dtype=np.float64)
        x = self.features[i]
        if self.scaler is not None:
            x = self.scaler.transform(x)
        return _finish(self.ds, self.model.predict(x))


def _train_val(ds: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features of all samples, and train/val features and targets."""
    feats, _ = window_features(ds)
    tr, va = _as_index(ds.split.train), _as_index(ds.split.val)
    if tr.size == 0:
        raise TaskDataError("cannot fit a baseline on an empty training split")
    return feats, feats[tr], _targets(ds, tr), feats[va], _targets(ds, va)


def fit_linear(ds: Dataset, seed: int = 0) -> FeatureModel:
    """Ridge on standardized window aggregates; alpha chosen by validation MAE.

    Without validation samples the middle of the grid (alpha=1) is used.
    """
    del seed  # Ridge with the default solver is deterministic
    feats, xtr, ytr, xva, yva = _train_val(ds)
    scaler = StandardScaler().fit(xtr)
    xtr_s = scaler.transform(xtr)
    best_alpha, best_mae = 1.0, np.inf
    if yva.size:
        xva_s = scaler.transform(xva)
        for alpha in RIDGE_ALPHAS:
            mae = float(np.abs(Ridge(alpha=alpha).fit(xtr_s, ytr).predict(xva_s) - yva).mean())
            if mae < best_mae:
                best_alpha, best_mae = alpha, mae
    model = Ridge(alpha=best_alpha).fit(xtr_s, ytr)
    return FeatureModel(ds=ds, features=feats, scaler=scaler, model=model,
                        info={"alpha": best_alpha, "val_mae": best_mae if yva.size else None})


def fit_random_forest(ds: Dataset, seed: int = 0) -> FeatureModel:
    """Seeded random forest on window aggregates (``RF_TREES`` trees, min leaf ``RF_MIN_LEAF``)."""
    feats, xtr, ytr, _, _ = _train_val(ds)
    # n_jobs=1: deterministic and cheap on the small CI machines; trees are few.
    model = RandomForestRegressor(n_estimators=RF_TREES, min_samples_leaf=RF_MIN_LEAF,
                                  random_state=seed, n_jobs=1).fit(xtr, ytr)
    return FeatureModel(ds=ds, features=feats, scaler=None, model=model, info={})


def fit_gradient_boosting(ds: Dataset, seed: int = 0) -> FeatureModel:
    """Seeded histogram gradient boosting on window aggregates, early-stopped on validation."""
    feats, xtr, ytr, xva, yva = _train_val(ds)
    use_val = yva.size > 0
    model = HistGradientBoostingRegressor(max_iter=GB_MAX_ITER, learning_rate=GB_LEARNING_RATE,
                                          early_stopping=use_val, random_state=seed)
    if use_val:
        model.fit(xtr, ytr, X_val=xva, y_val=yva)
    else:
        model.fit(xtr, ytr)
    return FeatureModel(ds=ds, features=feats, scaler=None, model=model,
                        info={"n_iter": int(model.n_iter_)})


#: Baseline name -> fitter, keyed from :data:`~workscope.predictors.names.BASELINE_MODELS`
#: (same order).
BASELINES: dict[str, Callable[[Dataset, int], Baseline]] = dict(zip(
    BASELINE_MODELS,
    (fit_persistence, fit_group_median, fit_linear, fit_random_forest, fit_gradient_boosting),
    strict=True))

#: One line per baseline (in :data:`BASELINES` order), for the reference page.
DESCRIPTIONS: dict[str, str] = dict(zip(BASELINE_MODELS, (
    "the target's last observed value in the window",
    "median training target of the entity's group (global median for unseen groups)",
    "ridge regression on per-window mean/std/min/max/last of each metric; penalty chosen on validation",
    f"scikit-learn random forest ({RF_TREES} trees) on the same aggregates",
    "scikit-learn histogram gradient boosting on the same aggregates, early-stopped on validation",
), strict=True))


def fit(name: str, ds: Dataset, seed: int = 0) -> Baseline:
    """Fit baseline ``name`` on ``ds.split.train``; the result predicts for any indices.

    An unknown name raises :class:`~workscope.errors.UnknownNameError`.
    """
    if name not in BASELINES:
        raise UnknownNameError("baseline", name, BASELINES)
    return BASELINES[name](ds, seed)


def fit_predict(name: str, ds: Dataset, seed: int = 0) -> np.ndarray:
    """Fit baseline ``name`` and return its predictions for ``ds.split.test`` (float64)."""
    return fit(name, ds, seed).predict(ds.split.test)
