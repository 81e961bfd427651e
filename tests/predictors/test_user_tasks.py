"""User-defined tasks from TOML, predicting from a saved checkpoint, training settings from
the CLI, and clear errors (exit 1 for data, 2 for usage; never a traceback)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import workscope
from tests.predictors.conftest import invoke
from workscope.cli import app
from workscope.errors import TaskDataError, TaskSpecError
from workscope.predictors import catalog, tasks

runner = CliRunner()


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "task.toml"
    p.write_text(text)
    return p


def test_toml_spec_with_every_kind_of_field(tmp_path: Path) -> None:
    p = write(tmp_path, 'name = "mine"\nsource = "pl"\ntarget = "cpu_util_pct"\nmetrics = ["cpu_util_pct"]\n'
                        'window = 6\nhorizon = 2\nstep_s = 300\nsplit = "time"\ntest_fraction = 0.25\n'
                        'whole_run = false\n')
    spec = catalog.load_spec(p)
    assert spec == tasks.TaskSpec(name="mine", description="user task from task.toml", source="pl",
                                  target="cpu_util_pct", metrics=("cpu_util_pct",), window=6, horizon=2,
                                  step_s=300.0, split="time", test_fraction=0.25)


def test_toml_spec_extends_a_builtin(tmp_path: Path) -> None:
    spec = catalog.load_spec(write(tmp_path, 'extends = "planetlab_cpu"\nname = "pl6"\nwindow = 6\n'))
    assert spec.window == 6 and spec.name == "pl6"
    assert spec.target == catalog.PLANETLAB_CPU.target and spec.step_s == 300.0


@pytest.mark.parametrize(("text", "message"), [
    ('name = "x"\nsource = "pl"\ntarget = "t"\nwindw = 3\n', "unknown key 'windw' (did you mean 'window'?)"),
    ('name = "x"\nsource = "pl"\ntarget = "t"\nwindow = "12"\n', "window must be an integer, got '12'"),
    ('name = "x"\nsource = "pl"\ntarget = "t"\nmetrics = "cpu"\n', "metrics must be a list of strings"),
    ('name = "x"\nsource = "pl"\ntarget = "t"\nsplit = "random"\n', "split must be one of entity, time"),
    ('name = "x"\nsource = "pl"\n', "missing target"),
    ('name = "x"\nsource = "pl"\ntarget = "t"\nhorizon = 0\n', "horizon must be >= 1"),
    ('extends = "planetlab_cpuu"\n', "did you mean 'planetlab_cpu'"),
    ('name = "x"\nsource = "pl"\n\ntarget = = 3\n', "line 4"),
    ('name = "x"\nsource = "pl"\ntarget = "t"\ntable = "requests"\n', "needs step_s"),
])
def test_bad_toml_specs_name_the_file_and_the_problem(tmp_path: Path, text: str, message: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(TaskSpecError) as exc:
        catalog.load_spec(p)
    assert message in str(exc.value) and str(p) in str(exc.value)


def test_cli_trains_a_user_task_from_toml(home: str, tmp_path: Path) -> None:
    p = write(tmp_path, 'extends = "planetlab_cpu"\nname = "mine"\nsource = "pl"\nwindow = 4\n')
    doc = invoke("predict", "eval", str(p), "--models", "persistence,linear", "--seeds", "0", "--home", home)
    assert {r["model"] for r in doc["summary"]} == {"persistence", "linear"}
    r = runner.invoke(app, ["predict", "eval", str(tmp_path / "nope.toml"), "--home", home])
    assert r.exit_code == 2 and "cannot read the task spec" in r.stderr


def test_run_from_checkpoint_reproduces_the_trained_predictions(home: str, tmp_path: Path) -> None:
    trained = invoke("predict", "train", "planetlab_cpu", "--trace", "pl", "--model", "cloudformer",
                     "--epochs", "2", "--seed", "3", "--out", str(tmp_path / "ck"), "--home", home)
    a = invoke("predict", "run", "planetlab_cpu", "--trace", "pl", "--checkpoint", str(tmp_path / "ck"),
               "--out", str(tmp_path / "test.parquet"), "--home", home)
    # the checkpoint's seed rebuilds the split it was trained on: same test windows, same MAE
    assert a["test"]["mae"] == pytest.approx(trained["test"]["mae"], rel=1e-5)
    b = invoke("predict", "run", "planetlab_cpu", "--trace", "pl", "--checkpoint", str(tmp_path / "ck"),
               "--split", "all", "--out", str(tmp_path / "all.parquet"), "--home", home)
    every = pl.read_parquet(tmp_path / "all.parquet")
    test = pl.read_parquet(tmp_path / "test.parquet")
    assert every.height == b["rows"] > test.height == a["rows"]
    assert set(every["split"]) == {"train", "val", "test"}
    same = every.filter(pl.col("split") == "test").sort("entity", "t_end_s")
    assert same["y_pred"].to_list() == pytest.approx(test.sort("entity", "t_end_s")["y_pred"].to_list())


def test_checkpoint_of_another_task_or_damaged_is_refused(home: str, tmp_path: Path) -> None:
    invoke("predict", "train", "planetlab_cpu", "--trace", "pl", "--model", "dlinear", "--epochs", "1",
           "--out", str(tmp_path / "ck"), "--home", home)
    other = write(tmp_path, 'extends = "planetlab_cpu"\nname = "two"\nsource = "pl"\n'
                            'metrics = ["cpu_util_pct", "cpu_util_pct_copy"]\n')
    r = runner.invoke(app, ["predict", "run", str(other), "--checkpoint", str(tmp_path / "ck"),
                            "--out", str(tmp_path / "x.parquet"), "--home", home])
    assert r.exit_code == 2 and "the checkpoint reads" in r.stderr, r.output
    (tmp_path / "ck" / "model.safetensors").write_bytes(b"not a safetensors file")
    r = runner.invoke(app, ["predict", "run", "planetlab_cpu", "--trace", "pl", "--checkpoint", str(tmp_path / "ck"),
                            "--out", str(tmp_path / "x.parquet"), "--home", home])
    assert r.exit_code == 1 and "damaged checkpoint" in r.stderr
    r = runner.invoke(app, ["predict", "run", "planetlab_cpu", "--trace", "pl", "--checkpoint", str(tmp_path),
                            "--out", str(tmp_path / "x.parquet"), "--home", home])
    assert r.exit_code == 1 and "not a checkpoint directory" in r.stderr
    assert not (tmp_path / "x.parquet").exists()


def test_task_on_the_wrong_trace_is_a_data_error_not_a_traceback(home: str) -> None:
    r = runner.invoke(app, ["predict", "eval", "genai_pod_latency", "--trace", "pl", "--home", home])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "task genai_pod_latency on trace 'pl': no usage rows" in r.stderr
    with pytest.raises(TaskDataError):
        tasks.build(workscope.open(home), replace(catalog.GENAI_POD_LATENCY, source="pl"))


def test_training_settings_from_the_cli(home: str) -> None:
    doc = invoke("predict", "train", "planetlab_cpu", "--trace", "pl", "--epochs", "1", "--device", "cpu",
                 "--batch-size", "32", "--lr", "0.003", "--loss-scale", "0.1", "--no-bf16", "--home", home)
    assert doc["device"] == "cpu"
    r = runner.invoke(app, ["predict", "train", "planetlab_cpu", "--trace", "pl", "--loss-scale", "0",
                            "--home", home])
    assert r.exit_code == 2 and "loss_scale must be a positive number" in r.stderr


def test_bad_split_is_refused_before_training(home: str, tmp_path: Path) -> None:
    r = runner.invoke(app, ["predict", "run", "planetlab_cpu", "--trace", "pl", "--split", "tset",
                            "--out", str(tmp_path / "p.parquet"), "--home", home])
    assert r.exit_code == 2 and "did you mean 'test'" in r.stderr
    assert not (tmp_path / "p.parquet").exists()


def test_interrupted_save_keeps_the_previous_checkpoint(home: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from workscope.predictors import run, train

    res, ds = run.train_model(workscope.open(home), run.task("planetlab_cpu", "pl"), "dlinear", epochs=1)
    train.save(res, tmp_path / "ck")
    before = {p.name: p.read_bytes() for p in (tmp_path / "ck").iterdir()}

    def crash(state, path):  # the weights writer dies half way through
        Path(path).write_bytes(b"torn")
        raise OSError("disk full")

    monkeypatch.setattr(train, "save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        train.save(res, tmp_path / "ck")
    assert {p.name: p.read_bytes() for p in (tmp_path / "ck").iterdir()} == before
    json.loads((tmp_path / "ck" / "config.json").read_text())  # strict JSON (NaN as null)
    torch_equal = train.predict(train.load(tmp_path / "ck"), ds, ds.split.test)
    assert torch_equal.shape == (ds.split.test.numel(),)
