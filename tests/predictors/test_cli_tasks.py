"""Every built-in task trains and evaluates from the CLI on a real slice (CloudPerfTrace on
its fixture): the issue's five tasks end to end, as a user runs them."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

import workscope
from tests.conftest import DATA, SAMPLES
from tests.predictors.conftest import invoke
from tests.predictors.test_tasks import _noise_three_vms
from workscope.cli import app
from workscope.predictors import catalog

runner = CliRunner()

#: trace name (the task's source) -> (format, slice)
SLICES = {
    "alibaba_genai": ("alibaba_genai", DATA / "alibaba_genai_2026_pods"),
    "planetlab": ("planetlab", DATA / "planetlab" / "20110303"),
    "azure_llm_2023": ("azure_llm", SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv"),
    "mooncake": ("mooncake", DATA / "mooncake" / "synthetic_trace.jsonl"),
    "cloudperftrace": ("cloudperftrace", DATA / "cloudperftrace"),
    "datacenter_alibaba2018": ("datacenter_aggregates", DATA / "datacenter_aggregates" / "alibaba2018"
                               / "machine_usage_days_1_to_8_grouped_300_seconds.csv"),
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("tasks-cli")
    store = workscope.open(root / "store")
    for name, (fmt, path) in SLICES.items():
        store.ingest(path, format=fmt, name=name)
    store.ingest(_noise_three_vms(root), format="azure_vm_noise", name="azure_vm_noise")
    return str(root / "store")


def test_every_builtin_task_has_a_slice() -> None:
    assert {s.source for s in catalog.BUILTIN.values()} <= set(SLICES) | {"azure_vm_noise"}


@pytest.mark.parametrize("task", list(catalog.BUILTIN))
def test_task_trains_and_evaluates_from_the_cli(task: str, home: str, tmp_path: Path) -> None:
    doc = invoke("predict", "eval", task, "--models", "persistence,gradient_boosting,cloudformer",
                 "--seeds", "0", "--epochs", "2", "--home", home)
    assert {r["model"] for r in doc["summary"]} == {"persistence", "gradient_boosting", "cloudformer"}
    for r in doc["runs"]:
        assert r["n_test"] > 0 and math.isfinite(r["mae"]) and r["mae"] >= 0
    trained = invoke("predict", "train", task, "--model", "cloudformer", "--epochs", "1",
                     "--out", str(tmp_path / "ck"), "--home", home)
    assert math.isfinite(trained["test"]["mae"]) and (tmp_path / "ck" / "model.safetensors").is_file()
    # the CLI's train and eval agree on the same seed (same split, same model, same epochs)
    again = invoke("predict", "eval", task, "--models", "cloudformer", "--seeds", "0", "--epochs", "1",
                   "--home", home)
    assert again["runs"][0]["mae"] == pytest.approx(trained["test"]["mae"], rel=1e-4)


def test_docs_predictors_md_is_current() -> None:
    from workscope.predictors.reference import reference_markdown

    doc = Path(__file__).resolve().parents[2] / "docs" / "predictors.md"
    assert doc.read_text() == reference_markdown(), (
        "docs/predictors.md is stale: run `workscope predict tasks --markdown > docs/predictors.md`")
    r = runner.invoke(app, ["predict", "tasks", "--markdown"])
    assert r.exit_code == 0 and r.stdout == doc.read_text()
    for name in catalog.BUILTIN:
        assert f"| `{name}` |" in r.stdout
