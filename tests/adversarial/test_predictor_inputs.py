"""Hostile predictor inputs (issue 14, hardening): checkpoint configs and weights, task TOML
files, devices and output paths. Each must end in one clear WorkscopeError naming the file and
the key (never a traceback, never a huge allocation), and with ``--json`` in exactly one JSON
document on stdout; a failed run leaves no partial output behind."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

import workscope
from tests.conftest import DATA
from workscope.cli import app
from workscope.errors import TaskDataError, TaskSpecError, UnknownNameError, UsageError
from workscope.predictors import catalog, run, tasks, train
from workscope.predictors import windowing as W

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, train.TrainResult]:
    """(store home holding PlanetLab as trace 'pl', a dlinear checkpoint trained 1 epoch, its result)."""
    base = tmp_path_factory.mktemp("inputs")
    home = base / "store"
    store = workscope.open(home)
    store.ingest(DATA / "planetlab" / "20110303", format="planetlab", name="pl")
    result, _ = run.train_model(store, run.task("planetlab_cpu", "pl"), "dlinear", seed=0, epochs=1)
    return str(home), train.save(result, base / "ck"), result


def _copy(ckpt: Path, tmp_path: Path) -> Path:
    d = tmp_path / "ck"
    shutil.copytree(ckpt, d)
    return d


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _edit_config(d: Path, change: Callable[[dict[str, Any]], None]) -> None:
    config = json.loads((d / "config.json").read_text())
    change(config)
    (d / "config.json").write_text(json.dumps(config))


def _edit_weights(d: Path, change: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]) -> None:
    """Rewrite the weights and record their new hash, so only the change itself is wrong."""
    state = change(load_file(str(d / "model.safetensors")))
    save_file(state, str(d / "model.safetensors"))
    _edit_config(d, lambda c: c.__setitem__("weights_sha256", _sha(d / "model.safetensors")))


def _set(*path_and_value: Any) -> Callable[[dict[str, Any]], None]:
    *keys, value = path_and_value

    def change(config: dict[str, Any]) -> None:
        node = config
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return change


def _drop(*keys: str) -> Callable[[dict[str, Any]], None]:
    def change(config: dict[str, Any]) -> None:
        node = config
        for k in keys[:-1]:
            node = node[k]
        del node[keys[-1]]
    return change


def _huge_cloudformer(config: dict[str, Any]) -> None:
    # every size within its own bound, the product a 77 GB model
    config["model"] = "cloudformer"
    config["model_config"].update(d_model=4096, heads=64, layers=48, ff=16384)


CONFIG_CASES = [
    pytest.param(_drop("model_config"), "missing key 'model_config'", id="no-model_config"),
    pytest.param(_drop("n_metrics"), "missing key 'n_metrics'", id="no-n_metrics"),
    pytest.param(_drop("model"), "missing key 'model'", id="no-model"),
    pytest.param(_drop("seed"), "missing key 'seed'", id="no-seed"),
    pytest.param(_drop("metrics"), "missing key 'metrics'", id="no-metrics"),
    pytest.param(_drop("weights_sha256"), "missing key 'weights_sha256'", id="no-sha"),
    pytest.param(_drop("model_config", "d_model"), "missing key 'model_config.d_model'", id="no-d_model"),
    pytest.param(_set("model_config", "d_modle", 16), "unknown key 'model_config.d_modle' (did you mean 'd_model'?)",
                 id="unknown-sub-key"),
    pytest.param(_set("model_config", []), "key 'model_config' must be an object", id="model_config-list"),
    pytest.param(_set("model_config", None), "key 'model_config' must be an object", id="model_config-null"),
    pytest.param(_set("model_config", "d_model", "16"), "'model_config.d_model' must be an integer, got '16'",
                 id="d_model-str"),
    pytest.param(_set("model_config", "d_model", None), "'model_config.d_model' must be an integer, got None",
                 id="d_model-null"),
    pytest.param(_set("model_config", "layers", True), "'model_config.layers' must be an integer, got True",
                 id="layers-bool"),
    pytest.param(_set("model_config", "heads", 2.0), "'model_config.heads' must be an integer, got 2.0",
                 id="heads-float"),
    pytest.param(_set("model_config", "dropout", "0.1"), "'model_config.dropout' must be a finite number",
                 id="dropout-str"),
    pytest.param(_set("model_config", "dropout", 1.5), "model_config.dropout must lie in [0, 0.99], got 1.5",
                 id="dropout-range"),
    pytest.param(_set("model_config", "d_model", 10**6), "model_config.d_model must lie in [1, 4096]",
                 id="d_model-huge"),
    pytest.param(_set("model_config", "d_model", 0), "model_config.d_model must lie in [1, 4096], got 0",
                 id="d_model-zero"),
    pytest.param(_set("model_config", "layers", 10**5), "model_config.layers must lie in [1, 48]",
                 id="layers-huge"),
    pytest.param(_set("model_config", "heads", 10**3), "model_config.heads must lie in [1, 64]", id="heads-huge"),
    pytest.param(_set("model_config", "heads", 3), "model_config.heads must divide d_model (16), got 3",
                 id="heads-not-divisor"),
    pytest.param(_set("model_config", "ff", 10**7), "model_config.ff must lie in [1, 16384]", id="ff-huge"),
    pytest.param(_set("model_config", "max_len", 10**9), "model_config.max_len must lie in [1, 100000]",
                 id="window-huge"),
    pytest.param(_set("model_config", "ma_kernel", -1), "model_config.ma_kernel must lie in [1, 100000]",
                 id="kernel-negative"),
    pytest.param(_set("model_config", "fusion_hidden", 2**40), "model_config.fusion_hidden must lie in",
                 id="fusion-huge"),
    pytest.param(_huge_cloudformer, "more than the limit of 100,000,000", id="51GB-model"),
    pytest.param(_set("n_metrics", 10**6), "n_metrics must be an integer in [1, 1024]", id="n_metrics-huge"),
    pytest.param(_set("n_metrics", "1"), "key 'n_metrics' must be an integer, got '1'", id="n_metrics-str"),
    pytest.param(_set("n_metrics", True), "key 'n_metrics' must be an integer, got True", id="n_metrics-bool"),
    pytest.param(_set("n_metrics", None), "key 'n_metrics' must be an integer, got None", id="n_metrics-null"),
    pytest.param(_set("metrics", "cpu_util_pct"), "key 'metrics' must be a list of metric names", id="metrics-str"),
    pytest.param(_set("metrics", ["a", "b"]), "key 'metrics' lists 2 metrics but n_metrics is 1",
                 id="metrics-count"),
    pytest.param(_set("ratio_target", 0), "key 'ratio_target' must be true or false, got 0", id="ratio-int"),
    pytest.param(_set("seed", 1.5), "key 'seed' must be an integer, got 1.5", id="seed-float"),
    pytest.param(_set("model", "gpt"), "key 'model' names no known model ('gpt'", id="model-unknown"),
    pytest.param(_set("model", ["dlinear"]), "key 'model' must be a model name", id="model-list"),
    pytest.param(_set("version", "2"), "unsupported checkpoint version '2'", id="version-str"),
    pytest.param(_set("version", True), "unsupported checkpoint version True", id="version-bool"),
    pytest.param(_set("model_config", "max_len", 256), "damaged checkpoint: config.json implies",
                 id="count-mismatch"),
    pytest.param(_set("model_config", "heads", 4), "damaged checkpoint: config.json implies",
                 id="count-mismatch-heads"),
]


@pytest.mark.parametrize(("change", "message"), CONFIG_CASES)
def test_malformed_checkpoint_configs_name_the_file_and_key(trained, tmp_path: Path, change, message) -> None:
    d = _copy(trained[1], tmp_path)
    _edit_config(d, change)
    with pytest.raises(TaskDataError) as exc:
        train.load(d)
    text = str(exc.value)
    assert message in text
    assert str(d) in text and "\n" not in text


RAW_CONFIGS = [
    pytest.param(lambda good: b"\xff\xfe{\x00", "not UTF-8 text (byte 0)", id="not-utf8"),
    pytest.param(lambda good: good[: len(good) // 2], "not valid JSON (line", id="truncated"),
    pytest.param(lambda good: b"", "not valid JSON (line 1 column 1", id="empty"),
    pytest.param(lambda good: b"[" * 100_000, "JSON nested too deeply", id="deep"),
    pytest.param(lambda good: b" " * (5 << 20) + good, "more than a checkpoint config can be", id="huge"),
    pytest.param(lambda good: good.replace(b'"dropout": 0.1', b'"dropout": NaN'), "NaN is not a JSON value",
                 id="nan"),
    pytest.param(lambda good: good.replace(b'"d_model": 16', b'"d_model": Infinity'),
                 "Infinity is not a JSON value", id="inf"),
    pytest.param(lambda good: good.replace(b'"d_model": 16', b'"d_model": 1' + b"0" * 5000),
                 "Exceeds the limit", id="int-too-long"),
    pytest.param(lambda good: b"[1, 2]", "unsupported checkpoint version None", id="list"),
    pytest.param(lambda good: b"null", "unsupported checkpoint version None", id="null"),
]


@pytest.mark.parametrize(("make", "message"), RAW_CONFIGS)
def test_unreadable_checkpoint_configs(trained, tmp_path: Path, make, message) -> None:
    d = _copy(trained[1], tmp_path)
    good = json.dumps(json.loads((d / "config.json").read_text()), indent=2).encode()
    (d / "config.json").write_bytes(make(good))
    with pytest.raises(TaskDataError) as exc:
        train.load(d)
    assert message in str(exc.value) and str(d) in str(exc.value)


def _poison(value: float) -> Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]:
    def change(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        state["trend.weight"] = state["trend.weight"].clone()
        state["trend.weight"][0, 0] = value
        return state
    return change


WEIGHT_CASES = [
    pytest.param(_poison(float("nan")), "tensor 'trend.weight' holds NaN or infinite values", id="nan"),
    pytest.param(_poison(float("inf")), "tensor 'trend.weight' holds NaN or infinite values", id="inf"),
    pytest.param(lambda s: {k: v for k, v in s.items() if k != "head.bias"}, "config.json implies",
                 id="missing-tensor"),
    pytest.param(lambda s: {("renamed" if k == "head.bias" else k): v for k, v in s.items()},
                 "tensor names do not match config.json (missing ['head.bias'], unexpected ['renamed'])",
                 id="renamed-tensor"),
    pytest.param(lambda s: {k: v.double() for k, v in s.items()}, "is F64", id="float64"),
    pytest.param(lambda s: {**s, "trend.weight": s["trend.weight"].reshape(-1)}, "config.json implies F32 [2, 512]",
                 id="reshaped"),
    pytest.param(lambda s: {**s, "trend.weight": torch.zeros(2000, 512)}, "config.json implies",
                 id="bigger-tensor"),
]


@pytest.mark.parametrize(("change", "message"), WEIGHT_CASES)
def test_damaged_weights_are_refused_before_use(trained, tmp_path: Path, change, message) -> None:
    d = _copy(trained[1], tmp_path)
    _edit_weights(d, change)
    with pytest.raises(TaskDataError) as exc:
        train.load(d)
    assert "damaged checkpoint" in str(exc.value) and message in str(exc.value)
    assert str(d / "model.safetensors") in str(exc.value)


def test_weights_that_are_not_safetensors(trained, tmp_path: Path) -> None:
    d = _copy(trained[1], tmp_path)
    (d / "model.safetensors").write_bytes(b"\x00" * 64)
    _edit_config(d, _set("weights_sha256", _sha(d / "model.safetensors")))
    with pytest.raises(TaskDataError, match="damaged checkpoint: not a readable safetensors file"):
        train.load(d)


def test_the_config_bounds_are_checked_before_the_model_is_built(trained, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    d = _copy(trained[1], tmp_path)
    _edit_config(d, _huge_cloudformer)

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was built from an out-of-bounds config")

    monkeypatch.setattr(train, "build", never)
    monkeypatch.setattr(train, "_sha256", never)  # not even the weights are read
    with pytest.raises(TaskDataError, match="more than the limit"):
        train.load(d)


def test_an_intact_checkpoint_still_loads_and_reports_its_config(trained) -> None:
    model, config = train.load_checkpoint(trained[1])
    assert config["model"] == "dlinear" and not model.training
    assert train.checkpoint_config(trained[1]) == config


def test_training_checks_model_sizes_before_building() -> None:
    from workscope.predictors.models import ModelConfig

    with pytest.raises(TaskSpecError, match="model setting d_model must lie in"):
        train.check_model_config("cloudformer", ModelConfig(d_model=10**6), 3)
    with pytest.raises(TaskSpecError, match="would hold .* values, more than the limit"):
        train.check_model_config("cloudformer", ModelConfig(d_model=4096, heads=64, layers=48, ff=16384), 3)
    assert train.check_model_config("cloudformer", ModelConfig(), 3) > 0


# ---------------------------------------------------------------- devices


@pytest.mark.parametrize("device", ["tpu", "meta", "xla", "CPU", "", "cuda:x", "cpu:-1"])
def test_unknown_devices_list_the_choices(device: str) -> None:
    with pytest.raises(UnknownNameError) as exc:
        train.resolve_device(device)
    assert isinstance(exc.value, UsageError)
    assert f"unknown device {device!r}" in str(exc.value) and "known: auto, cpu, cuda, mps, xpu" in str(exc.value)


@pytest.mark.parametrize(("device", "kind"), [("cuda", "CUDA"), ("cuda:1", "CUDA"), ("mps", "MPS"), ("xpu", "XPU")])
def test_absent_accelerators_say_so(device: str, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    if hasattr(torch, "xpu"):
        monkeypatch.setattr(torch.xpu, "is_available", lambda: False)
    with pytest.raises(TaskSpecError) as exc:
        train.resolve_device(device)
    assert str(exc.value) == (f"device {device!r}: {kind} is not available here; "
                              "use --device cpu or --device auto")
    assert train.resolve_device("auto") == torch.device("cpu")


def test_a_cuda_index_past_the_last_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(TaskSpecError, match="this machine has 1 CUDA device"):
        train.resolve_device("cuda:3")


# ---------------------------------------------------------------- task specs (TOML)

BASE = 'name = "x"\nsource = "pl"\ntarget = "cpu_util_pct"\n'

SPEC_CASES = [
    pytest.param(BASE + "step_s = 1e-6\n", "step_s must be > 0 seconds, between 0.001 and", id="step-tiny"),
    pytest.param(BASE + "step_s = inf\n", "step_s must be a finite number, got inf", id="step-inf"),
    pytest.param(BASE + "step_s = -inf\n", "step_s must be a finite number", id="step-minus-inf"),
    pytest.param(BASE + "step_s = nan\n", "step_s must be a finite number, got nan", id="step-nan"),
    pytest.param(BASE + "step_s = 0\n", "step_s must be > 0 seconds", id="step-zero"),
    pytest.param(BASE + "step_s = -300\n", "step_s must be > 0 seconds", id="step-negative"),
    pytest.param(BASE + "step_s = 1e12\n", "step_s must be > 0 seconds, between", id="step-huge"),
    pytest.param(BASE + 'step_s = "300"\n', "step_s must be a number, got '300'", id="step-str"),
    pytest.param(BASE + "step_s = true\n", "step_s must be a number, got True", id="step-bool"),
    pytest.param(BASE + "window = 1000000000000\n", "window must be >= 1 step and at most 100,000 steps",
                 id="window-1e12"),
    pytest.param(BASE + "window = 100001\n", "window must be >= 1 step and at most 100,000", id="window-just-over"),
    pytest.param(BASE + "window = 0\n", "window must be >= 1 step", id="window-zero"),
    pytest.param(BASE + "window = -5\n", "window must be >= 1 step", id="window-negative"),
    pytest.param(BASE + "window = 1.5\n", "window must be an integer, got 1.5", id="window-float"),
    pytest.param(BASE + "window = nan\n", "window must be an integer, got nan", id="window-nan"),
    pytest.param(BASE + "window = 1" + "0" * 400 + "\n", "window must be a finite number", id="window-400-digits"),
    pytest.param(BASE + "window = 1" + "0" * 5000 + "\n", "not a valid TOML task spec", id="window-5000-digits"),
    pytest.param(BASE + "[window]\nsize = 3\n", "window must be an integer, got {'size': 3}", id="window-table"),
    pytest.param(BASE + "horizon = 1000000000000\n", "horizon must be at most 100,000 steps", id="horizon-1e12"),
    pytest.param(BASE + "horizon = -1\n", "horizon must be >= 1", id="horizon-negative"),
    pytest.param(BASE + "test_fraction = nan\n", "test_fraction must be a finite number", id="fraction-nan"),
    pytest.param(BASE + "test_fraction = inf\n", "test_fraction must be a finite number", id="fraction-inf"),
    pytest.param(BASE + "test_fraction = 1.5\n", "test_fraction must lie in [0, 1)", id="fraction-big"),
    pytest.param(BASE + "test_fraction = 0.6\nval_fraction = 0.5\n", "test_fraction + val_fraction must be below 1",
                 id="fractions-sum"),
    pytest.param(BASE + "metrics = []\n", "metrics must list 1 to 1024 metrics, got 0", id="metrics-empty"),
    pytest.param(BASE + "metrics = [" + ", ".join(f'"m{i}"' for i in range(2000)) + "]\n",
                 "metrics must list 1 to 1024 metrics, got 2000", id="metrics-many"),
    pytest.param(BASE + "metrics = [1, 2]\n", "metrics must be a list of strings", id="metrics-ints"),
    pytest.param(BASE + "test_groups = [" + ", ".join(f'"g{i}"' for i in range(20_000)) + "]\n",
                 "test_groups lists 20,000 names, more than 10,000", id="groups-many"),
    pytest.param(BASE + "stepp_s = 300\n", "unknown key 'stepp_s' (did you mean 'step_s'?)", id="unknown-step"),
    pytest.param(BASE + "horizn = 2\n", "unknown key 'horizn' (did you mean 'horizon'", id="unknown-horizon"),
    pytest.param(BASE + "[model]\nd_model = 8\n", "unknown key 'model'", id="unknown-table"),
    pytest.param(BASE + "metrics = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply", id="deep"),
    pytest.param(BASE + "metrics = [[[[[]]]]]\n", "metrics must be a list of strings", id="nested"),
    pytest.param(BASE + "x" * (2 << 20) + " = 1\n", "more than a task spec may be", id="huge-file"),
    pytest.param('extends = 3\n', "extends must be the name of a built-in task, got 3", id="extends-int"),
    pytest.param(BASE + "group_key = 3\n", "group_key must be a string, got 3", id="group-int"),
    pytest.param(BASE + "whole_run = 1\n", "whole_run must be true or false, got 1", id="bool-int"),
]


@pytest.mark.parametrize(("text", "message"), SPEC_CASES)
def test_malformed_task_specs_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "task.toml"
    p.write_text(text)
    with pytest.raises(TaskSpecError) as exc:
        catalog.load_spec(p)
    assert message in str(exc.value)
    assert str(exc.value).startswith(f"{p}: ") and "\n" not in str(exc.value)


def test_a_task_spec_that_is_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "task.toml"
    p.write_bytes(BASE.encode() + b'description = "\xff"\n')
    with pytest.raises(TaskSpecError, match=r"task\.toml: not UTF-8 text \(byte 64\)"):
        catalog.load_spec(p)


@pytest.mark.parametrize(("change", "message"), [
    ({"window": 10**12}, "window must be >= 1 step and at most 100,000"),
    ({"window": 2.5}, "window must be int, got 2.5"),
    ({"step_s": float("nan")}, "step_s must be > 0 seconds"),
    ({"step_s": "300"}, "step_s must be a number of seconds, got '300'"),
    ({"test_fraction": None}, "test_fraction must be int or float, got None"),
    ({"metrics": "cpu"}, "metrics must be a list of strings, got 'cpu'"),
])
def test_specs_built_in_code_are_checked_too(change: dict[str, Any], message: str) -> None:
    from dataclasses import replace

    with pytest.raises(TaskSpecError) as exc:
        tasks.validate(replace(catalog.PLANETLAB_CPU, **change))
    assert message in str(exc.value)


@pytest.mark.parametrize(("change", "message"), [
    ({"step_s": 0.001}, "set a larger step_s"),  # a 1-day trace on a 1 ms grid: 4e8 cells
    ({"window": 100_000}, "lower window or read a shorter trace slice"),  # 1,435 windows x 1e5 steps: ~5 GiB
])
def test_data_dependent_sizes_are_bounded_before_allocation(trained, change: dict[str, Any], message: str) -> None:
    from dataclasses import replace

    store = workscope.open(trained[0])
    with pytest.raises(TaskSpecError) as exc:
        tasks.build(store, replace(run.task("planetlab_cpu", "pl"), **change))
    assert str(exc.value).startswith("task planetlab_cpu on trace 'pl': ") and message in str(exc.value)


def test_rate_bins_are_bounded() -> None:
    events = pl.DataFrame({"arrival_s": [0.0, 1e7]})
    with pytest.raises(TaskSpecError, match="cuts the 1e\\+07 s of arrival_s into more than"):
        W.rate_series(events, 1e-3)
    assert W.rate_series(events, 1e5).height == 101


# ---------------------------------------------------------------- the CLI: exit codes, one JSON document


def _invoke_json(args: list[str]) -> tuple[int, dict[str, Any], str]:
    r = runner.invoke(app, [*args, "--json"])
    assert "Traceback" not in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    doc = json.loads(r.stdout)  # exactly one document: json.loads refuses trailing data
    return r.exit_code, doc, r.stderr


def _spec_file(tmp_path: Path, extra: str) -> str:
    p = tmp_path / "task.toml"
    p.write_text('extends = "planetlab_cpu"\nsource = "pl"\n' + extra)
    return str(p)


CLI_CASES: list[Any] = [
    pytest.param(lambda h, ck, t: ["predict", "train", "planetlab_cpu", "--trace", "pl", "--device", "tpu"],
                 2, "unknown device 'tpu'", id="train-device-tpu"),
    pytest.param(lambda h, ck, t: ["predict", "eval", "planetlab_cpu", "--trace", "pl", "--device", "meta"],
                 2, "unknown device 'meta'", id="eval-device-meta"),
    pytest.param(lambda h, ck, t: ["predict", "run", "planetlab_cpu", "--trace", "pl", "--checkpoint", ck,
                                   "--device", "tpu", "--out", str(t / "p.parquet")],
                 2, "unknown device 'tpu'", id="run-checkpoint-device-tpu"),
    pytest.param(lambda h, ck, t: ["predict", "train", "planetlab_cpu", "--trace", "pl", "--epochs", "0"],
                 2, "--epochs must be >= 1, got 0", id="epochs-zero"),
    pytest.param(lambda h, ck, t: ["predict", "eval", "planetlab_cpu", "--trace", "pl", "--batch-size", "0"],
                 2, "--batch-size must be >= 1, got 0", id="batch-zero"),
    pytest.param(lambda h, ck, t: ["predict", "train", "planetlab_cpu", "--trace", "pl", "--lr", "nan"],
                 2, "--lr: lr must be a finite number >= 0, got nan", id="lr-nan"),
    pytest.param(lambda h, ck, t: ["predict", "train", "planetlab_cpu", "--trace", "pl", "--loss-scale", "-1"],
                 2, "--loss-scale: loss_scale must be a positive number, got -1.0", id="loss-scale-negative"),
    pytest.param(lambda h, ck, t: ["predict", "train", "planetlab_cpu", "--trace", "pl", "--seed", "-1"],
                 2, "seed must be an integer in [0, 2**63 - 1], got -1", id="seed-negative"),
    pytest.param(lambda h, ck, t: ["predict", "eval", "planetlab_cpu", "--trace", "pl", "--seeds", "0,-3"],
                 2, "seed must be an integer in [0, 2**63 - 1], got -3", id="seeds-negative"),
    pytest.param(lambda h, ck, t: ["predict", "train", _spec_file(t, "step_s = 1e-6\n")],
                 2, "step_s must be > 0 seconds", id="train-step-tiny"),
    pytest.param(lambda h, ck, t: ["predict", "eval", _spec_file(t, "window = 1000000000000\n")],
                 2, "window must be >= 1 step and at most", id="eval-window-huge"),
    pytest.param(lambda h, ck, t: ["predict", "run", _spec_file(t, "step_s = nan\n"), "--out", str(t / "p.parquet")],
                 2, "step_s must be a finite number", id="run-step-nan"),
    pytest.param(lambda h, ck, t: ["predict", "run", _spec_file(t, "stepp_s = 3\n"), "--out", str(t / "p.parquet")],
                 2, "did you mean 'step_s'", id="run-unknown-key"),
    pytest.param(lambda h, ck, t: ["predict", "eval", _spec_file(t, "step_s = 0.001\n"), "--models", "persistence",
                                   "--seeds", "0"],
                 2, "set a larger step_s", id="eval-grid-explodes"),
    pytest.param(lambda h, ck, t: ["predict", "run", "planetlab_cpu", "--trace", "pl", "--out", str(t)],
                 2, "is a directory", id="run-out-is-dir"),
    pytest.param(lambda h, ck, t: ["predict", "train", "planetlab_cpu", "--trace", "pl", "--out",
                                   str(Path(ck) / "config.json")],
                 2, "is a file", id="train-out-is-file"),
    pytest.param(lambda h, ck, t: ["predict", "run", "planetlab_cpu", "--trace", "pl", "--checkpoint", str(t),
                                   "--out", str(t / "p.parquet")],
                 1, "not a checkpoint directory", id="run-not-a-checkpoint"),
]


@pytest.mark.parametrize(("make", "code", "message"), CLI_CASES)
def test_cli_failures_print_one_json_document(trained, tmp_path: Path, make, code: int, message: str) -> None:
    home, ckpt, _ = trained
    exit_code, doc, stderr = _invoke_json([*make(home, str(ckpt), tmp_path), "--home", home])
    assert exit_code == code and doc["exit_code"] == code
    assert message in doc["error"] and message in " ".join(stderr.split())
    assert set(doc) == {"error", "type", "exit_code"}
    assert not (tmp_path / "p.parquet").exists()


def test_cli_damaged_checkpoint_without_json_is_one_line(trained, tmp_path: Path) -> None:
    home, ckpt, _ = trained
    d = _copy(ckpt, tmp_path)
    _edit_config(d, _set("model_config", "d_model", 10**6))
    r = runner.invoke(app, ["predict", "run", "planetlab_cpu", "--trace", "pl", "--checkpoint", str(d),
                            "--out", str(tmp_path / "p.parquet"), "--home", home])
    assert r.exit_code == 1 and "Traceback" not in r.output and r.stdout == ""
    assert r.stderr.startswith("error: ") and "model_config.d_model must lie in [1, 4096]" in r.stderr
    code, doc, _ = _invoke_json(["predict", "run", "planetlab_cpu", "--trace", "pl", "--checkpoint", str(d),
                                 "--out", str(tmp_path / "p.parquet"), "--home", home])
    assert code == 1 and doc["type"] == "TaskDataError" and str(d / "config.json") in doc["error"]


def test_cli_cuda_absent(trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, ckpt, _ = trained
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for args in (["train", "planetlab_cpu", "--trace", "pl"],
                 ["run", "planetlab_cpu", "--trace", "pl", "--checkpoint", str(ckpt), "--out", str(tmp_path / "p.parquet")]):
        code, doc, _ = _invoke_json(["predict", *args, "--device", "cuda", "--home", home])
        assert code == 2 and "device 'cuda': CUDA is not available here; use --device cpu or --device auto" == doc["error"]
    assert not (tmp_path / "p.parquet").exists()


# ---------------------------------------------------------------- no partial outputs


def test_a_failed_run_leaves_an_existing_output_untouched(trained, tmp_path: Path) -> None:
    home, ckpt, _ = trained
    d = _copy(ckpt, tmp_path)
    _edit_weights(d, _poison(float("nan")))
    out = tmp_path / "p.parquet"
    out.write_bytes(b"previous predictions")
    code, doc, _ = _invoke_json(["predict", "run", "planetlab_cpu", "--trace", "pl", "--checkpoint", str(d),
                                 "--out", str(out), "--home", home])
    assert code == 1 and "holds NaN or infinite values" in doc["error"]
    assert out.read_bytes() == b"previous predictions"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck", "p.parquet"]


def test_a_write_that_fails_midway_leaves_no_file(trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, ckpt, _ = trained

    def half_written(self: pl.DataFrame, path: Path, **kwargs: object) -> None:
        Path(path).write_bytes(b"PAR1 half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", half_written)
    out = tmp_path / "p.parquet"
    code, doc, _ = _invoke_json(["predict", "run", "planetlab_cpu", "--trace", "pl", "--checkpoint", str(ckpt),
                                 "--out", str(out), "--home", home])
    assert code == 1
    assert doc["error"].startswith(f"{out}: the disk is full (no space left on device)")
    assert list(tmp_path.iterdir()) == []


def test_a_checkpoint_that_cannot_be_written(trained, tmp_path: Path) -> None:
    home, _, _ = trained
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = blocker / "ck"  # a file where a directory must go: found only when saving
    code, doc, _ = _invoke_json(["predict", "train", "planetlab_cpu", "--trace", "pl", "--model", "dlinear",
                                 "--epochs", "1", "--out", str(out), "--home", home])
    assert code == 1 and doc["type"] == "TaskDataError"
    assert doc["error"].startswith(f"{out}: cannot write the checkpoint (")
    assert doc["error"].endswith("choose another --out directory")
    assert blocker.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["file"]
