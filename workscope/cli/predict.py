"""``workscope predict``: train and evaluate models on tasks built from traces.

torch is imported only by the commands that train, so ``--help`` and ``predict tasks`` stay fast;
the model names come from the torch-free :mod:`workscope.predictors.names`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workscope.cli.params import Home, JsonFlag, Quiet, open_store, parse_ints, split_names
from workscope.cli.render import (
    cell,
    emit,
    emit_json,
    emit_raw,
    fitted_table,
    handle_errors,
    out,
    progress,
    progress_enabled,
    rows_table,
)
from workscope.errors import TaskDataError, UnknownNameError, UsageError
from workscope.predictors.names import ALL_MODELS, NEURAL_MODELS

if TYPE_CHECKING:
    import polars as pl
    from rich.table import Table

    from workscope.predictors.train import TrainResult

app = typer.Typer(help="Predictors: train and evaluate models on tasks built from traces.",
                  no_args_is_help=True)
TraceOpt = Annotated[str | None, typer.Option("--trace", help="Trace to read (default: the task's source name).")]
SizeOpt = Annotated[str, typer.Option("--size", help="tiny (seconds on a CPU) or paper (CloudFormer's sizes).")]
TaskArg = Annotated[str, typer.Argument(help="Task name (see `workscope predict tasks`) or a .toml task spec.")]
EpochsOpt = Annotated[int | None, typer.Option(
    "--epochs", help="Maximum passes over the training split, >= 1 (default: 30 with --size tiny, 100 with "
                     "paper); training stops earlier after 5 (tiny) or 10 (paper) epochs without a better "
                     "validation loss.", show_default=False)]
SeedOpt = Annotated[int, typer.Option(
    "--seed", help="Seed of the train/val/test split, the initial weights and the batch order, "
                   "0 to 2**63-1; the same seed gives the same model on a CPU.")]
DeviceOpt = Annotated[str | None, typer.Option(
    "--device", help="auto (CUDA when present), cpu, cuda, cuda:1, ... (default: auto).", show_default=False)]
CompileOpt = Annotated[bool | None, typer.Option(
    "--compile/--no-compile", help="torch.compile the model for training (default: off).", show_default=False)]
Bf16Opt = Annotated[bool | None, typer.Option("--bf16/--no-bf16", help="bf16 autocast on CUDA (default: on).")]
BatchOpt = Annotated[int | None, typer.Option("--batch-size", help="Windows per optimizer step (default: 256).")]
LrOpt = Annotated[float | None, typer.Option(
    "--lr", help="Peak learning rate, reached after a 5% warm-up (default: 1e-3).")]
LossScaleOpt = Annotated[float | None, typer.Option(
    "--loss-scale", help="log-cosh transition, in training-target stds (default: 1; small values approach MAE).")]
ModelOpt = Annotated[str, typer.Option(
    "--model", help=f"{', '.join(NEURAL_MODELS[:-1])} or {NEURAL_MODELS[-1]}.")]
ModelsOpt = Annotated[str, typer.Option(
    "--models", help=f"Comma-separated models (default: all): {', '.join(ALL_MODELS)}.")]


def _train_overrides(epochs: int | None = None, **given: Any) -> dict[str, Any]:
    """The TrainConfig fields set on the command line (None = keep the preset's value), checked.

    Ranges are checked here rather than by the option parser so that a bad value is reported
    like any other error: one line, or one JSON document with ``--json``.
    """
    import math

    from workscope.predictors.train import resolve_device

    for option, value in (("--epochs", epochs), ("--batch-size", given.get("batch_size"))):
        if value is not None and value < 1:
            raise UsageError(f"{option} must be >= 1, got {value}")
    lr, scale = given.get("lr"), given.get("loss_scale")
    if lr is not None and not (math.isfinite(lr) and lr >= 0):
        raise UsageError(f"--lr: lr must be a finite number >= 0, got {lr}")
    if scale is not None and not (math.isfinite(scale) and scale > 0):
        raise UsageError(f"--loss-scale: loss_scale must be a positive number, got {scale}")
    if given.get("device") is not None:
        resolve_device(given["device"])  # before any data is read: unknown or absent devices fail now
    return {k: v for k, v in given.items() if v is not None}


@app.command("tasks")
@handle_errors
def predict_tasks(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the reference page (docs/predictors.md).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """List the built-in prediction tasks."""
    from workscope.predictors.run import describe_tasks

    items = describe_tasks()
    if markdown and not as_json:
        from workscope.predictors.reference import reference_markdown

        emit_raw(reference_markdown())
        return
    emit(as_json, lambda: {"tasks": items}, lambda: out.print(rows_table(
        ("task", "source trace", "target", "window", "horizon", "split", "description"),
        ((d["name"], d["source"], d["target"], str(d["window"]), str(d["horizon"]), d["split"],
          d["description"]) for d in items))))


@app.command("train")
@handle_errors
def predict_train(
    task: TaskArg,
    model: ModelOpt = "cloudformer",
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Directory for model.safetensors + config.json (default: no checkpoint is saved).")] = None,
    trace: TraceOpt = None,
    size: SizeOpt = "tiny",
    epochs: EpochsOpt = None,
    seed: SeedOpt = 0,
    device: DeviceOpt = None,
    compile_: CompileOpt = None,
    bf16: Bf16Opt = None,
    batch_size: BatchOpt = None,
    lr: LrOpt = None,
    loss_scale: LossScaleOpt = None,
    home: Home = None,
    quiet: Quiet = False,
    as_json: JsonFlag = False,
) -> None:
    """Train a neural model on a task; report its test metrics and save a checkpoint."""
    from workscope.predictors.run import task as get_task
    from workscope.predictors.run import train_model
    from workscope.predictors.train import save

    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        # found before training, not after minutes of it
        raise UsageError(f"--out {out_dir}: is a file; a checkpoint is a directory (give a new or existing directory)")
    overrides = _train_overrides(epochs, device=device, compile=compile_, bf16=bf16, batch_size=batch_size,
                                 lr=lr, loss_scale=loss_scale)
    with progress(progress_enabled(as_json, quiet)) as say:
        result, _ = train_model(open_store(home), get_task(task, trace), model, seed=seed, size=size,
                                epochs=epochs, overrides=overrides, progress=say)
    try:
        saved = str(save(result, out_dir)) if out_dir else None
    except OSError as exc:
        # each file is written atomically: a failed save leaves any previous checkpoint intact
        raise TaskDataError(f"{out_dir}: cannot write the checkpoint ({exc.strerror or exc}); "
                            "choose another --out directory") from None
    emit(as_json, lambda: {"task": task, "model": model, "seed": seed, "test": result.test, "val": result.val,
                           "best_epoch": result.best_epoch, "device": result.device,
                           "train_windows_per_s": result.train_windows_per_s, "checkpoint": saved},
         lambda: _print_trained(task, model, result, saved))


def _print_trained(task: str, model: str, result: TrainResult, saved: str | None) -> None:
    out.print(f"{model} on {task}: test MAE {result.test['mae']:.4g}, RMSE {result.test['rmse']:.4g} "
              f"(best epoch {result.best_epoch}, {result.device})" + (f"; saved to {saved}" if saved else ""))


@app.command("eval")
@handle_errors
def predict_eval(
    task: TaskArg,
    models: ModelsOpt = "",
    seeds: Annotated[str, typer.Option("--seeds", help="Comma-separated seeds (splits and inits).")] = "0,1,2",
    trace: TraceOpt = None,
    size: SizeOpt = "tiny",
    epochs: EpochsOpt = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the leaderboard as Markdown.")] = False,
    device: DeviceOpt = None,
    compile_: CompileOpt = None,
    bf16: Bf16Opt = None,
    batch_size: BatchOpt = None,
    lr: LrOpt = None,
    loss_scale: LossScaleOpt = None,
    home: Home = None,
    quiet: Quiet = False,
    as_json: JsonFlag = False,
) -> None:
    """A leaderboard: MAE, RMSE, MAPE per model on the task's test split, over seeds."""
    from workscope.predictors import leaderboard
    from workscope.predictors.run import evaluate
    from workscope.predictors.run import task as get_task

    names = split_names(models) or list(ALL_MODELS)
    seed_list = parse_ints(seeds, "--seeds")
    if not seed_list:
        raise UsageError("--seeds needs at least one seed")
    overrides = _train_overrides(epochs, device=device, compile=compile_, bf16=bf16, batch_size=batch_size,
                                 lr=lr, loss_scale=loss_scale)
    with progress(progress_enabled(as_json, quiet)) as say:
        per_seed, summary = evaluate(open_store(home), get_task(task, trace), names, seed_list, size=size,
                                     epochs=epochs, overrides=overrides, progress=say)
    if as_json:
        emit_json({"task": task, "summary": leaderboard.to_dict(summary)["rows"],
                   "runs": leaderboard.to_dict(per_seed)["rows"]})
    elif markdown:
        emit_raw(leaderboard.to_markdown(summary) + "\n")
    else:
        seeds_text = f"{len(seed_list)} seed{'' if len(seed_list) == 1 else 's'}"
        _print_leaderboard(summary, f"leaderboard: {task} (test split, {seeds_text})")


#: Leaderboard columns left out, in this order, while the table is wider than the terminal:
#: counts first, then spreads, then secondary means; rank, model and mae_mean always stay.
_NARROW_DROP = ("n_test", "n_seeds", "mape_std", "rmse_std", "mae_std", "mape_mean", "rmse_mean")


def _print_leaderboard(summary: pl.DataFrame, title: str) -> None:
    # soft_wrap off: the console's default would let the caption run past the terminal's edge
    out.print(leaderboard_table(summary, title, out.width), soft_wrap=False)


def leaderboard_table(summary: pl.DataFrame, title: str, width: int) -> Table:
    """The leaderboard ``summary`` as a table fitting ``width`` columns, model names whole."""
    return fitted_table(summary.columns, ([cell(v) for v in row] for row in summary.iter_rows()), width,
                        whole=("model",), drop=_NARROW_DROP, title=title)


@app.command("run")
@handle_errors
def predict_run(
    task: TaskArg,
    out_path: Annotated[Path, typer.Option("--out", help="Parquet file of predictions.")],
    checkpoint: Annotated[Path | None, typer.Option(
        "--checkpoint", help="Predict with this saved model (from `predict train --out`) instead of training.")] = None,
    split: Annotated[str, typer.Option("--split", help="test (unseen windows) or all.")] = "test",
    model: ModelOpt = "cloudformer",
    trace: TraceOpt = None,
    size: SizeOpt = "tiny",
    epochs: EpochsOpt = None,
    seed: SeedOpt = 0,
    device: DeviceOpt = None,
    compile_: CompileOpt = None,
    bf16: Bf16Opt = None,
    home: Home = None,
    quiet: Quiet = False,
    as_json: JsonFlag = False,
) -> None:
    """Write a model's predictions (test split, or all windows) to Parquet: trained here, or
    loaded from --checkpoint."""
    from workscope.predictors.run import SPLITS, from_checkpoint, predictions, score_predictions, train_model
    from workscope.predictors.run import task as get_task

    if split not in SPLITS:
        raise UnknownNameError("prediction split", split, SPLITS)
    if out_path.is_dir():
        raise UsageError(f"--out {out_path}: is a directory; give the Parquet file to write")
    overrides = _train_overrides(epochs, device=device, compile=compile_, bf16=bf16)
    store, spec = open_store(home), get_task(task, trace)
    if checkpoint is not None:
        # --device places the loaded model; without it CPU, where predictions match training's exactly
        predictor, ds, _ = from_checkpoint(store, spec, checkpoint, device or "cpu")
    else:
        with progress(progress_enabled(as_json, quiet)) as say:
            predictor, ds = train_model(store, spec, model, seed=seed, size=size, epochs=epochs,
                                        overrides=overrides, progress=say)
    try:
        path = predictions(predictor, ds, out_path, split=split)
    except OSError as exc:
        # written atomically: nothing is left behind, and a previous file stays as it was
        raise TaskDataError(f"{out_path}: cannot write the predictions ({exc.strerror or exc}); "
                            "choose another --out file") from None
    rows, test = score_predictions(path)
    emit(as_json, lambda: {"out": str(path), "rows": rows, "split": split, "test": test},
         lambda: out.print(f"wrote {rows:,} predictions to {path}"
                           + (f" (test MAE {test['mae']:.4g})" if test else "")))
