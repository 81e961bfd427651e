"""Running predictor tasks end to end: build the dataset, train or fit, evaluate, rank.

Model names are those of :mod:`workscope.predictors.names`: the neural models of
:mod:`~workscope.predictors.models` and the baselines of :mod:`~workscope.predictors.baselines`.
``size="tiny"`` shrinks the neural models so a task
trains in seconds on a CPU; ``"paper"`` uses the CloudFormer paper's sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import torch

from workscope.errors import UnknownNameError
from workscope.predictors import catalog, leaderboard, tasks
from workscope.predictors.dataset import Dataset
from workscope.predictors.names import ALL_MODELS, NEURAL_MODELS

if TYPE_CHECKING:
    from workscope.predictors.models import ModelConfig, Regressor
    from workscope.predictors.train import TrainConfig, TrainResult
    from workscope.store import Store

SIZES = ("tiny", "paper")

#: A progress report ``(message, done, total)``: ``done`` of ``total`` units of work finished.
Progress = Callable[[str, int, int], None]


def task(name: str, trace: str | None = None) -> tasks.TaskSpec:
    """The built-in task called ``name`` (or the TOML spec file at that path, see
    :func:`~workscope.predictors.catalog.load_spec`), its source trace optionally renamed."""
    if name.endswith(".toml") or (name not in catalog.BUILTIN and Path(name).is_file()):
        spec = catalog.load_spec(name)
    elif name not in catalog.BUILTIN:
        raise UnknownNameError("task", name, catalog.BUILTIN)
    else:
        spec = catalog.BUILTIN[name]
    return replace(spec, source=trace) if trace else spec


def configs(size: str, epochs: int | None, seed: int,
            overrides: dict[str, Any] | None = None) -> tuple[ModelConfig, TrainConfig]:
    """Model and training configs for a size preset; ``overrides`` replaces TrainConfig fields."""
    from dataclasses import fields

    from workscope.predictors.models import ModelConfig
    from workscope.predictors.train import TrainConfig

    if size not in SIZES:
        raise UnknownNameError("model size", size, SIZES)
    check_seed(seed)
    mcfg = ModelConfig() if size == "paper" else ModelConfig(d_model=16, heads=2, layers=1, ff=32,
                                                               fusion_hidden=32)
    tcfg = TrainConfig(epochs=epochs or (100 if size == "paper" else 30), seed=seed,
                       patience=10 if size == "paper" else 5)
    if overrides:
        known = {f.name for f in fields(TrainConfig)}
        for key in overrides:
            if key not in known:
                raise UnknownNameError("training setting", key, known)
        tcfg = replace(tcfg, **overrides)
    from workscope.predictors.train import resolve_device

    resolve_device(tcfg.device)  # an unusable device fails here, before any data is read
    return mcfg, tcfg


#: Seeds go to torch and numpy, which both take 0 <= seed < 2**63 (numpy refuses negatives).
MAX_SEED = (1 << 63) - 1


def check_seed(seed: int) -> int:
    """``seed`` if torch and numpy can both take it, else :class:`TaskSpecError`."""
    from workscope.errors import TaskSpecError

    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise TaskSpecError(f"seed must be an integer in [0, 2**63 - 1], got {seed!r}")
    return seed


def train_model(store: Store, spec: tasks.TaskSpec, model: str, *, seed: int = 0, size: str = "tiny",
                epochs: int | None = None, overrides: dict[str, Any] | None = None,
                progress: Progress | None = None) -> tuple[TrainResult, Dataset]:
    """Train one neural model on a task (entity or time split as the task says).

    ``progress(message, done, total)``, when given, counts epochs: ``done = 0`` while the
    dataset is built, then once per epoch as :func:`~workscope.predictors.train.train` says,
    ending at ``done = total`` (the epoch limit, early stop or not).
    """
    from workscope.predictors.train import train

    if model not in NEURAL_MODELS:
        raise UnknownNameError("neural model", model, NEURAL_MODELS)
    mcfg, tcfg = configs(size, epochs, seed, overrides)
    if progress is not None:
        progress(f"{model} seed {seed}: building the dataset", 0, tcfg.epochs)
    ds = tasks.build(store, spec, seed)
    return train(model, ds, mcfg, tcfg, progress), ds


def evaluate(store: Store, spec: tasks.TaskSpec, models: list[str], seeds: list[int], *,
             size: str = "tiny", epochs: int | None = None, overrides: dict[str, Any] | None = None,
             progress: Progress | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(per-seed results, summary ranked by MAE) of ``models`` on the task's test split.

    ``progress(message, done, total)``, when given, counts units of work over the whole
    leaderboard: one per epoch of each neural run (the epoch limit, early stop or not) and one
    per baseline fit, under every seed. ``done`` never decreases and the last call has
    ``done = total``; messages name the run, e.g. ``"cloudformer seed 0: epoch 3/20"``.
    """
    from workscope.predictors.train import predict, train

    for m in models:
        if m not in ALL_MODELS:
            raise UnknownNameError("model", m, ALL_MODELS)
    _, tcfg0 = configs(size, epochs, 0, overrides)  # reject bad settings before any work
    for seed in seeds:
        check_seed(seed)
    say = _EvalProgress(progress, models, len(seeds), tcfg0.epochs)

    def train_fn(name: str, ds: Dataset, seed: int) -> np.ndarray:
        mcfg, tcfg = configs(size, epochs, seed, overrides)
        result = train(name, ds, mcfg, tcfg, say.epoch if progress is not None else None)
        return predict(result, ds, ds.split.test).detach().cpu().numpy().astype(np.float64)

    per_seed = leaderboard.evaluate_all(lambda s: tasks.build(store, spec, s), models, seeds, train_fn,
                                        say.run if progress is not None else None)
    return per_seed, leaderboard.summarize(per_seed)


class _EvalProgress:
    """Turns the leaderboard's count of runs and the trainer's count of epochs into one count
    of units over the whole evaluation (runs go seed by seed, models in order within a seed)."""

    def __init__(self, progress: Progress | None, models: list[str], n_seeds: int, epochs: int) -> None:
        self.progress = progress
        self.n_models = len(models)
        units = [epochs if m in NEURAL_MODELS else 1 for m in models]
        self.start = [sum(units[:i]) for i in range(len(units))]  # a run's offset within its seed
        self.per_seed = sum(units)
        self.total = self.per_seed * n_seeds
        self.base = 0  # units finished before the run in flight

    def run(self, message: str, done_runs: int, total_runs: int) -> None:
        """The leaderboard's report: ``done_runs`` of ``total_runs`` (model, seed) runs."""
        if done_runs >= total_runs:
            self.base = self.total
        else:
            seed_i, model_i = divmod(done_runs, self.n_models)
            self.base = seed_i * self.per_seed + self.start[model_i]
        self._say(message, self.base)

    def epoch(self, message: str, done_epochs: int, total_epochs: int) -> None:
        """The trainer's report for the run in flight: ``done_epochs`` of its epochs."""
        self._say(message, self.base + done_epochs)

    def _say(self, message: str, done: int) -> None:
        if self.progress is not None:
            self.progress(message, done, self.total)


SPLITS = ("test", "all")


def predictions(model: TrainResult | Regressor, ds: Dataset, out: str | Path, split: str = "test") -> Path:
    """Write a trained model's predictions to Parquet (atomically): the test windows, or
    ``split="all"`` for every window. Columns: entity, t_end_s, split, y_true, y_pred."""
    from workscope.atomic import atomic_path
    from workscope.predictors.train import predict

    if split not in SPLITS:
        raise UnknownNameError("prediction split", split, SPLITS)
    part = np.full(ds.n, "", dtype=object)
    for name, rows in (("train", ds.split.train), ("val", ds.split.val), ("test", ds.split.test)):
        part[rows.cpu().numpy()] = name
    idx = ds.split.test if split == "test" else torch.arange(ds.n)
    y_hat = predict(model, ds, idx).detach().cpu().numpy()
    rows = idx.cpu().numpy()
    df = pl.DataFrame({
        "entity": [ds.entity[i] for i in rows.tolist()],
        "t_end_s": ds.t_end[idx].cpu().numpy(),
        "split": part[rows].tolist(),
        "y_true": ds.y[idx].cpu().numpy().astype(np.float64),
        "y_pred": y_hat.astype(np.float64),
    })
    out = Path(out)
    # a write that fails (OSError) leaves nothing behind, and any previous file untouched
    with atomic_path(out) as tmp:
        df.write_parquet(tmp, compression="zstd")
    return out


def from_checkpoint(store: Store, spec: tasks.TaskSpec, directory: str | Path, device: str = "cpu"
                    ) -> tuple[Regressor, Dataset, dict[str, Any]]:
    """(model, dataset, checkpoint config): a saved model and the task's windows it predicts.

    The dataset is built with the checkpoint's seed, so its split is the one the model was
    trained on; its input metrics must be the checkpoint's, in order. The model is placed on
    ``device`` (default CPU, where predictions match the trained model's exactly).
    """
    from workscope.errors import TaskSpecError
    from workscope.predictors.train import load_checkpoint

    model, config = load_checkpoint(directory, device)
    ds = tasks.build(store, spec, config["seed"])
    if list(config["metrics"]) != list(ds.metrics) or config["target"] != ds.target:
        raise TaskSpecError(f"{directory}: the checkpoint reads {config['metrics']} -> {config['target']}, "
                            f"task {spec.name} gives {ds.metrics} -> {ds.target}; use the task it was "
                            "trained on")
    return model, ds, config


def describe_tasks() -> list[dict[str, Any]]:
    """JSON-ready descriptions of the built-in tasks."""
    return [{"name": s.name, "description": s.description, "source": s.source, "target": s.target,
             "window": s.window, "horizon": s.horizon, "split": s.split} for s in catalog.BUILTIN.values()]


def score_predictions(path: str | Path) -> tuple[int, dict[str, float | int]]:
    """(rows, test metrics) of a file written by :func:`predictions`: every row is counted; the
    metrics are over its test-split rows ({} when it has none)."""
    from workscope.predictors.metrics import score

    every = pl.read_parquet(path, glob=False, columns=["split", "y_true", "y_pred"])
    test = every.filter(pl.col("split") == "test")
    metrics = score(test["y_true"].to_numpy(), test["y_pred"].to_numpy()) if test.height else {}
    return every.height, metrics
