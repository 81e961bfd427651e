"""Fidelity compares with the source before any transform (API and CLI), and either side of
``replay fidelity`` can be a trace name or a workload file."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import workscope
from tests.conftest import DATA, SAMPLES
from workscope.cli import app
from workscope.errors import SourceError, TraceNotFoundError, UsageError
from workscope.replay import fidelity, transforms
from workscope.replay.exporters.parquet import read_workload
from workscope.replay.pipeline import TransformSpec, export
from workscope.replay.workload import Workload

runner = CliRunner()
CONV_ROWS = 19366


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> workscope.Store:
    s = workscope.open(tmp_path_factory.mktemp("fid") / "store")
    s.ingest(SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv", format="azure_llm", name="conv")
    s.ingest(DATA / "mooncake" / "synthetic_trace.jsonl", format="mooncake", name="moon")
    return s


def invoke(*args: str) -> dict:
    r = runner.invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def rows(doc: dict) -> dict[str, dict]:
    return {r["quantity"]: r for r in doc["rows"]}


def test_transformed_workload_remembers_its_source(store: workscope.Store) -> None:
    base = Workload.from_trace(store.trace("conv"))
    assert base.untransformed() is base
    scaled = transforms.scale_rate(base, 2.0, seed=1)
    faster = transforms.speed(scaled, 3.0)
    assert faster.untransformed() is base and scaled.untransformed() is base
    assert [s["name"] for s in faster.meta["transforms"]] == ["scale_rate", "speed"]


def test_api_export_of_scaled_workload_compares_with_the_trace(store: workscope.Store, tmp_path: Path) -> None:
    # the README's example: transform first, then export with fidelity
    wl = transforms.scale_rate(Workload.from_trace(store.trace("conv")), 2.0, seed=1)
    result, report = export(wl, "vllm_timed", tmp_path / "out.jsonl", fidelity=True)
    assert report is not None
    r = {row["quantity"]: row for row in report.rows.to_dicts()}
    ia = r["interarrival_s"]
    assert ia["n_source"] == CONV_ROWS - 1  # the trace's gaps, not the scaled workload's
    assert ia["n_emitted"] == result.rows - 1 and result.rows == pytest.approx(2 * CONV_ROWS, rel=0.05)
    assert ia["mean_emitted"] == pytest.approx(ia["mean_source"] / 2, rel=0.05)
    assert report.ks("interarrival_s") > 0.2  # half the gaps: far from the source's
    assert report.ks("interarrival_normalized") < 0.05  # the shape is kept
    assert report.source == "conv" and report.emitted == "conv (scale_rate)"
    assert report.notes == ()


def test_api_export_with_spec_on_a_transformed_workload(store: workscope.Store, tmp_path: Path) -> None:
    # a transform before the call and one in the spec: both are measured against the trace
    wl = transforms.window(Workload.from_trace(store.trace("conv")), 0.0, 1800.0)
    _, report = export(wl, "parquet", tmp_path / "w.parquet", spec=TransformSpec(rate_scale=0.5, seed=2),
                       fidelity=True)
    assert report is not None
    ia = {row["quantity"]: row for row in report.rows.to_dicts()}["interarrival_s"]
    assert ia["n_source"] == CONV_ROWS - 1
    assert report.emitted == "conv (window > scale_rate)"
    assert report.ks("interarrival_s") > 0


def test_untransformed_export_is_exact(store: workscope.Store, tmp_path: Path) -> None:
    _, report = export(store.trace("moon"), "parquet", tmp_path / "m.parquet", fidelity=True)
    assert report is not None
    assert all(v in (0.0, None) for v in report.rows["ks"].to_list())
    assert report.rows["n_source"].to_list() == report.rows["n_emitted"].to_list()


def test_workload_read_back_transformed_says_it_has_no_source(store: workscope.Store, tmp_path: Path) -> None:
    path = tmp_path / "scaled.parquet"
    export(store.trace("moon"), "parquet", path, spec=TransformSpec(rate_scale=2.0, seed=3))
    _, report = export(read_workload(path), "parquet", tmp_path / "again.parquet", fidelity=True)
    assert report is not None
    assert len(report.notes) == 1 and "compared with itself" in report.notes[0]
    assert "scale_rate" in report.notes[0]
    # transformed again after the read: compared with the file's rows, and said so
    _, again = export(read_workload(path), "parquet", tmp_path / "faster.parquet",
                      spec=TransformSpec(speed=2.0), fidelity=True)
    assert again is not None and "compared with that transformed form" in again.notes[0]
    ia = {row["quantity"]: row for row in again.rows.to_dicts()}["interarrival_s"]
    assert ia["n_source"] == 599 and ia["mean_emitted"] == pytest.approx(ia["mean_source"] / 2)
    _, fresh = export(store.trace("moon"), "parquet", tmp_path / "fresh.parquet",
                      spec=TransformSpec(speed=2.0), fidelity=True)
    assert fresh is not None and fresh.notes == ()


def test_cli_export_rate_scale_fidelity_is_not_zero(store: workscope.Store, tmp_path: Path) -> None:
    doc = invoke("replay", "export", "conv", "--to", "parquet", "--out", str(tmp_path / "c.parquet"),
                 "--rate-scale", "2", "--seed", "1", "--fidelity", "--home", str(store.home))
    r = rows(doc["fidelity"])
    assert r["interarrival_s"]["n_source"] == CONV_ROWS - 1
    assert r["interarrival_s"]["ks"] > 0.2
    assert r["interarrival_normalized"]["ks"] < 0.05


def test_resolve_names_and_files(store: workscope.Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "moon_fast.parquet"
    export(store.trace("moon"), "parquet", path, spec=TransformSpec(speed=2.0))
    by_name = fidelity.resolve("moon", store)
    assert by_name.meta["source_trace"] == "moon" and by_name.collect().height == 300
    for ref in (path, str(path)):
        wl = fidelity.resolve(ref, store)
        assert wl.collect()["arrival_s"].max() == pytest.approx(86.79 / 2)
    # a bare file name in the working directory, when no trace has that name
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fast").write_bytes(path.read_bytes())
    assert fidelity.resolve("fast", store).collect().height == 300
    with pytest.raises(TraceNotFoundError, match="moo"):
        fidelity.resolve("moo", store)
    with pytest.raises(SourceError, match=r"nothere\.parquet"):
        fidelity.resolve("nothere.parquet", store)
    plain = tmp_path / "plain.parquet"
    pl.DataFrame({"a": [1]}).write_parquet(plain)
    with pytest.raises(SourceError, match=r"plain\.parquet.*not a workscope workload file"):
        fidelity.resolve(plain, store)
    with pytest.raises(UsageError, match="holds requests, not jobs"):
        fidelity.resolve(path, store, table="jobs")
    # two files need no store at all
    assert fidelity.resolve(path, None).table == "requests"


def test_cli_fidelity_trace_and_file_either_side(store: workscope.Store, tmp_path: Path) -> None:
    path = tmp_path / "moon_fast.parquet"
    export(store.trace("moon"), "parquet", path, spec=TransformSpec(speed=2.0))
    home = str(store.home)
    ab = invoke("replay", "fidelity", "moon", str(path), "--home", home)
    ba = invoke("replay", "fidelity", str(path), "moon", "--home", home)
    ia_ab, ia_ba = rows(ab)["interarrival_s"], rows(ba)["interarrival_s"]
    assert ia_ab["mean_emitted"] == pytest.approx(ia_ab["mean_source"] / 2)
    assert ia_ba["mean_source"] == pytest.approx(ia_ab["mean_emitted"])
    assert ia_ab["ks"] == ia_ba["ks"] > 0.2
    assert rows(ab)["interarrival_normalized"]["ks"] == 0.0  # a speed-up keeps the shape exactly
    assert ab["source"] == "moon" and ab["emitted"] == "moon (speed)"
    assert ba["source"] == "moon (speed)" and ba["emitted"] == "moon"
    # two files, with a home that does not exist: no store is opened or created
    nowhere = tmp_path / "no-store"
    same = invoke("replay", "fidelity", str(path), str(path), "--home", str(nowhere))
    assert all(r["ks"] in (0.0, None) for r in same["rows"]) and not nowhere.exists()
    r = runner.invoke(app, ["replay", "fidelity", "moon", str(tmp_path / "missing.parquet"), "--home", home])
    assert r.exit_code != 0 and "missing.parquet" in r.output
