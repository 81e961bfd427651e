"""Azure Functions 2021 reader: the real 199-row invitro excerpt, the shipped sample, bad input."""

from __future__ import annotations

import csv
import gzip
import shutil
from pathlib import Path

import pytest

import workscope
from tests.conftest import reconciles
from workscope.ingest import registry
from workscope.ingest.azure_functions_2021 import READER

SAMPLE = "azure_functions_2021/Azure2021_200.csv"
BAD = "bad/azure_functions_2021"


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_ingest_real_excerpt(store, data_dir: Path) -> None:
    src = _rows(data_dir / SAMPLE)
    m = store.ingest(data_dir / "azure_functions_2021", format="azure_functions_2021", name="az21").manifest
    t = m["tables"]["invocations"]
    assert t["rows_in"] == t["rows_ok"] == len(src) == 199
    assert t["rows_rejected"] == 0
    assert reconciles(m)
    # LICENSE / SOURCE.md in the folder are not data.
    assert [Path(f).name for f in m["files_used"]] == ["Azure2021_200.csv"]
    # Timestamps are shifted by the publisher: no absolute origin is claimed.
    assert m["meta"]["origin_utc"] is None
    assert m["meta"]["origin_assumed_utc"] is False
    assert "end_timestamp - duration" in m["meta"]["time_note"]
    assert m["meta"]["function_key"] == ["app_id", "function_id"]
    # Rows are published in start-time order, so arrivals come out sorted.
    assert t["time"]["sorted"] is True


def test_values(store, data_dir: Path) -> None:
    src = _rows(data_dir / SAMPLE)
    store.ingest(data_dir / SAMPLE, format="azure_functions_2021", name="az21")
    df = store.trace("az21").read("invocations")
    first = df.row(0, named=True)
    # 7b2c43a2...,e3cdb488...,0.07949090003967285,0.078
    assert first["app_id"] == "7b2c43a2bc30f6bb438074df88b603d2cb982d3e7961de05270735055950a568"
    assert first["function_id"] == "e3cdb48830f66eb8689cc0223514569a69812b77e6611e3d59814fac0747bd2f"
    assert first["duration_s"] == 0.078
    assert first["arrival_s"] == pytest.approx(0.07949090003967285 - 0.078, abs=1e-12)
    assert df["arrival_s"].to_list() == pytest.approx(
        [float(r["end_timestamp"]) - float(r["duration"]) for r in src], abs=1e-9)
    assert df["duration_s"].to_list() == [float(r["duration"]) for r in src]
    # Columns the source lacks stay null.
    for col in ("owner_id", "trigger", "memory_mb", "cold_start"):
        assert df[col].null_count() == df.height


def test_negative_arrival_is_kept(store, tmp_path: Path) -> None:
    f = tmp_path / "early.csv"
    f.write_text("app,func,end_timestamp,duration\nA,F,0.05,0.1\nA,F,1.0,0.25\n")
    m = store.ingest(f, format="azure_functions_2021", name="early").manifest
    assert m["tables"]["invocations"]["rows_ok"] == 2
    arr = store.trace("early").read("invocations")["arrival_s"].to_list()
    assert arr == pytest.approx([-0.05, 0.75])


def test_gzip_copy_read_in_place(store, data_dir: Path, tmp_path: Path) -> None:
    gz = tmp_path / "AzureFunctionsInvocationTraceForTwoWeeksJan2021.txt.gz"
    with open(data_dir / SAMPLE, "rb") as fin, gzip.open(gz, "wb") as fout:
        shutil.copyfileobj(fin, fout)
    m = store.ingest(gz, name="gz").manifest
    assert m["reader"]["name"] == "azure_functions_2021"
    assert m["tables"]["invocations"]["rows_ok"] == 199


def test_shipped_sample_matches(store, data_dir: Path) -> None:
    sample = Path(workscope.__file__).parent / "samples" / "azure_functions_2021"
    assert (sample / "LICENSE").is_file() and (sample / "SOURCE.md").is_file()
    assert (sample / "Azure2021_200.csv").read_bytes() == (data_dir / SAMPLE).read_bytes()
    m = store.ingest(sample, name="demo").manifest
    assert m["tables"]["invocations"]["rows_ok"] == 199


def test_sniff(data_dir: Path) -> None:
    assert READER.sniff(data_dir / SAMPLE)
    assert READER.sniff(data_dir / "azure_functions_2021")
    assert registry.detect([data_dir / SAMPLE]).name == "azure_functions_2021"
    assert not READER.sniff(data_dir / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv")
    assert not READER.sniff(data_dir / "alibaba_genai_2026" / "lora_request_trace.csv")
    assert not READER.sniff(data_dir / "azure_functions_2019" / "fixture"
                            / "function_durations_percentiles.anon.d01.csv")


