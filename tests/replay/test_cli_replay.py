"""The replay CLI: every command's --json parses, and its figures are the library's."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import workscope
from tests.conftest import DATA, SAMPLES
from workscope.cli import app
from workscope.replay.exporters import registry

runner = CliRunner()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> str:
    h = tmp_path_factory.mktemp("replay-cli") / "store"
    store = workscope.open(h)
    store.ingest(SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv", format="azure_llm", name="conv")
    store.ingest(SAMPLES / "azure_functions_2021" / "Azure2021_200.csv", format="azure_functions_2021", name="az21")
    store.ingest(DATA / "mooncake" / "synthetic_trace.jsonl", format="mooncake", name="moon")
    return str(h)


def invoke(*args: str) -> dict:
    r = runner.invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_targets(home: str) -> None:
    doc = invoke("replay", "targets")
    assert [t["name"] for t in doc["targets"]] == registry.names()


def test_export_identity_has_zero_distance(home: str, tmp_path: Path) -> None:
    doc = invoke("replay", "export", "moon", "--to", "sglang_mooncake", "--out", str(tmp_path / "m.jsonl"),
                 "--fidelity", "--home", home)
    assert doc["rows"] == 300 and doc["command"].startswith("python3 -m sglang.bench_serving")
    rows = {r["quantity"]: r for r in doc["fidelity"]["rows"]}
    assert all(r["ks"] in (0.0, None) for r in rows.values())
    assert rows["prefix_reuse_ratio"]["wasserstein"] == 0.0
    first = json.loads((tmp_path / "m.jsonl").read_text().splitlines()[0])
    assert set(first) >= {"timestamp", "input_length", "output_length", "hash_ids"}


def test_export_transformed_rate_keeps_shape(home: str, tmp_path: Path) -> None:
    doc = invoke("replay", "export", "conv", "--to", "vllm_timed", "--out", str(tmp_path / "c.jsonl"),
                 "--rate-scale", "0.5", "--seed", "4", "--fidelity", "--home", home)
    rows = {r["quantity"]: r for r in doc["fidelity"]["rows"]}
    assert rows["interarrival_normalized"]["ks"] < 0.05
    assert doc["rows"] == pytest.approx(19366 / 2, rel=0.05)
    again = invoke("replay", "export", "conv", "--to", "vllm_timed", "--out", str(tmp_path / "d.jsonl"),
                   "--rate-scale", "0.5", "--seed", "4", "--home", home)
    assert again["rows"] == doc["rows"]
    assert (tmp_path / "c.jsonl").read_bytes() == (tmp_path / "d.jsonl").read_bytes()


def test_print_command_and_usage_errors(home: str, tmp_path: Path) -> None:
    r = runner.invoke(app, ["replay", "export", "conv", "--to", "vidur", "--out", str(tmp_path / "v.csv"),
                            "--print-command", "--home", home])
    assert r.exit_code == 0 and r.stdout.startswith("python -m vidur.main") and r.stdout.count("\n") == 1
    r = runner.invoke(app, ["replay", "export", "conv", "--to", "vlm_timed", "--out", str(tmp_path / "x"),
                            "--home", home])
    assert r.exit_code == 2 and "did you mean 'vllm_timed'" in r.stderr
    r = runner.invoke(app, ["replay", "export", "conv", "--to", "swf", "--out", str(tmp_path / "x"), "--home", home])
    assert r.exit_code == 2 and "jobs" in r.stderr
    r = runner.invoke(app, ["replay", "export", "conv", "--to", "vllm_timed", "--out", str(tmp_path / "x"),
                            "--window", "bad", "--home", home])
    assert r.exit_code == 2 and "START:END" in r.stderr


def test_fit_then_synth(home: str, tmp_path: Path) -> None:
    model = tmp_path / "conv.model.json"
    doc = invoke("replay", "fit", "conv", "--out", str(model), "--home", home)
    assert doc["groups"] == 1 and doc["windows"] == 6 and model.is_file()
    out = tmp_path / "synth.parquet"
    doc = invoke("replay", "synth", str(model), "--to", "parquet", "--out", str(out), "--seed", "2")
    n = pl.read_parquet(out).height
    assert doc["rows"] == n and n == pytest.approx(19366, rel=0.05)
    sg = invoke("replay", "synth", str(DATA / "servegen" / "mm-image"), "--to", "parquet",
                "--out", str(tmp_path / "sg.parquet"), "--duration", "3600")
    assert sg["rows"] > 0


def test_sample_nested_functions(home: str, tmp_path: Path) -> None:
    doc = invoke("replay", "sample", "az21", "--functions", "3,6", "--to", "invitro", "--out",
                 str(tmp_path / "s"), "--tries", "5", "--seed", "1", "--home", home)
    sizes = [d["functions"] for d in doc["samples"]]
    assert sizes == [3, 6]
    small = pl.read_csv(tmp_path / "s" / "sample_3" / "trace" / "invocations.csv")["HashFunction"].to_list()
    large = pl.read_csv(tmp_path / "s" / "sample_6" / "trace" / "invocations.csv")["HashFunction"].to_list()
    assert len(small) == 3 and len(large) == 6 and set(small) <= set(large)


def test_fidelity_between_traces(home: str) -> None:
    doc = invoke("replay", "fidelity", "conv", "conv", "--home", home)
    assert {r["quantity"] for r in doc["rows"]} >= {"interarrival_s", "input_tokens", "output_tokens"}
    assert all(r["ks"] in (0.0, None) for r in doc["rows"])


def test_docs_targets_md_is_current() -> None:
    doc = Path(__file__).parent.parent.parent / "docs" / "targets.md"
    assert doc.read_text() == registry.targets_markdown(), (
        "docs/targets.md is stale: run `workscope replay targets --markdown > docs/targets.md`")
