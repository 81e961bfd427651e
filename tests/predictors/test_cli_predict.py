"""The predict CLI: tasks, train with a checkpoint, a leaderboard, predictions to Parquet."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import workscope
from tests.predictors.conftest import invoke
from workscope.cli import app
from workscope.predictors import catalog
from workscope.predictors.names import ALL_MODELS
from workscope.predictors.train import load

runner = CliRunner()


def test_tasks_lists_the_builtin_specs() -> None:
    assert [t["name"] for t in invoke("predict", "tasks")["tasks"]] == list(catalog.BUILTIN)


def test_train_saves_a_checkpoint_that_loads(home: str, tmp_path: Path) -> None:
    doc = invoke("predict", "train", "planetlab_cpu", "--trace", "pl", "--model", "dlinear", "--epochs", "5",
                 "--out", str(tmp_path / "ck"), "--home", home)
    assert doc["test"]["mae"] > 0 and Path(doc["checkpoint"]).is_dir()
    assert (tmp_path / "ck" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "ck" / "config.json").read_text())["model"] == "dlinear"
    load(tmp_path / "ck")


def test_eval_leaderboard_ranks_by_mae(home: str) -> None:
    doc = invoke("predict", "eval", "planetlab_cpu", "--trace", "pl", "--models", "persistence,group_median",
                 "--seeds", "0,1", "--home", home)
    maes = [r["mae_mean"] for r in doc["summary"]]
    assert maes == sorted(maes) and len(doc["runs"]) == 4
    assert {r["model"] for r in doc["runs"]} == {"persistence", "group_median"}


def test_run_writes_test_predictions(home: str, tmp_path: Path) -> None:
    out = tmp_path / "p.parquet"
    doc = invoke("predict", "run", "planetlab_cpu", "--trace", "pl", "--model", "dlinear", "--epochs", "3",
                 "--out", str(out), "--home", home)
    df = pl.read_parquet(out)
    assert df.height == doc["rows"] > 0 and df.columns == ["entity", "t_end_s", "split", "y_true", "y_pred"]
    assert set(df["split"]) == {"test"}
    mae = (df["y_true"] - df["y_pred"]).abs().mean()
    assert mae == pytest.approx(doc["test"]["mae"], rel=1e-4)


def test_unknown_task_and_model_exit_2(home: str) -> None:
    r = runner.invoke(app, ["predict", "train", "planetlab_cpuu", "--home", home])
    assert r.exit_code == 2 and "did you mean 'planetlab_cpu'" in r.stderr
    r = runner.invoke(app, ["predict", "eval", "planetlab_cpu", "--trace", "pl", "--models", "xgb", "--home", home])
    assert r.exit_code == 2 and "unknown model" in r.stderr


def test_every_model_runs_on_a_real_task(home: str) -> None:
    from workscope.predictors import run

    store = workscope.open(home)
    spec = run.task("planetlab_cpu", "pl")
    per_seed, _ = run.evaluate(store, spec, list(ALL_MODELS), [0], size="tiny", epochs=2)
    assert set(per_seed["model"]) == set(ALL_MODELS)
    assert per_seed["mae"].is_finite().all() and (per_seed["n_test"] > 0).all()
