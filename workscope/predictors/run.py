"""Running predictor tasks end to end: build the dataset, train or fit, evaluate, rank.

Model names: the neural models of :mod:`models` (cloudformer, temporal, system, lstm,
dlinear) and the baselines of :mod:`baselines` (persistence, group_median, linear,
random_forest, gradient_boosting). ``size="tiny"`` shrinks the neural models so a task
trains in seconds on a CPU; ``"paper"`` uses the CloudFormer paper's sizes.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from workscope.errors import UnknownNameError
from workscope.predictors import baselines, leaderboard, tasks
from workscope.predictors.dataset import Dataset

if TYPE_CHECKING:
    from workscope.predictors.models import ModelConfig
    from workscope.predictors.train import TrainConfig, TrainResult
    from workscope.store import Store

NEURAL = ("cloudformer", "temporal", "system", "lstm", "dlinear")
SIZES = ("tiny", "paper")


def model_names() -> list[str]:
    """Every model a task can be evaluated with."""
    return [*NEURAL, *baselines.BASELINES]


def task(name: str, trace: str | None = None) -> tasks.TaskSpec:
    """The built-in task called ``name``, its source trace optionally renamed."""
    if name not in tasks.BUILTIN:
        raise UnknownNameError("task", name, tasks.BUILTIN)
    spec = tasks.BUILTIN[name]
    return replace(spec, source=trace) if trace else spec


def configs(size: str, epochs: int | None, seed: int) -> tuple[ModelConfig, TrainConfig]:
    """Model and training configs for a size preset."""
    from workscope.predictors.models import ModelConfig
    from workscope.predictors.train import TrainConfig

    if size not in SIZES:
        raise UnknownNameError("model size", size, SIZES)
    mcfg = ModelConfig() if size == "paper" else ModelConfig(d_model=16, heads=2, layers=1, ff=32,
                                                               fusion_hidden=32)
    tcfg = TrainConfig(epochs=epochs or (100 if size == "paper" else 30), seed=seed,
                       patience=10 if size == "paper" else 5)
    return mcfg, tcfg


def train_model(store: Store, spec: tasks.TaskSpec, model: str, *, seed: int = 0, size: str = "tiny",
                epochs: int | None = None) -> tuple[TrainResult, Dataset]:
    """Train one neural model on a task (entity or time split as the task says)."""
    from workscope.predictors.train import train

    if model not in NEURAL:
        raise UnknownNameError("neural model", model, NEURAL)
    ds = tasks.build(store, spec, seed)
    mcfg, tcfg = configs(size, epochs, seed)
    return train(model, ds, mcfg, tcfg), ds


def evaluate(store: Store, spec: tasks.TaskSpec, models: list[str], seeds: list[int], *,
             size: str = "tiny", epochs: int | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(per-seed results, summary ranked by MAE) of ``models`` on the task's test split."""
    from workscope.predictors.train import predict, train

    for m in models:
        if m not in model_names():
            raise UnknownNameError("model", m, model_names())

    def train_fn(name: str, ds: Dataset, seed: int) -> np.ndarray:
        mcfg, tcfg = configs(size, epochs, seed)
        result = train(name, ds, mcfg, tcfg)
        return predict(result, ds, ds.split.test).detach().cpu().numpy().astype(np.float64)

    per_seed = leaderboard.evaluate_all(lambda s: tasks.build(store, spec, s), models, seeds, train_fn)
    return per_seed, leaderboard.summarize(per_seed)


def predictions(result: TrainResult, ds: Dataset, out: str | Path) -> Path:
    """Write the test-split predictions of a trained model to Parquet (atomically)."""
    from workscope.predictors.train import predict
    from workscope.atomic import atomic_path

    idx = ds.split.test
    y_hat = predict(result, ds, idx).detach().cpu().numpy()
    df = pl.DataFrame({
        "entity": [ds.entity[i] for i in idx.tolist()],
        "t_end_s": ds.t_end[idx].cpu().numpy(),
        "y_true": ds.y[idx].cpu().numpy().astype(np.float64),
        "y_pred": y_hat.astype(np.float64),
    })
    out = Path(out)
    with atomic_path(out) as tmp:
        df.write_parquet(tmp, compression="zstd")
    return out


def describe_tasks() -> list[dict[str, Any]]:
    """JSON-ready descriptions of the built-in tasks."""
    return [{"name": s.name, "description": s.description, "source": s.source, "target": s.target,
             "window": s.window, "horizon": s.horizon, "split": s.split} for s in tasks.BUILTIN.values()]
