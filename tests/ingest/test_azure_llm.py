"""Azure LLM inference 2023 (real), 2024 and LMM 2025 (fixtures from the published examples)."""

from __future__ import annotations

from pathlib import Path

import pytest

import workscope
from tests.conftest import SAMPLES
from workscope.ingest import registry

DATA = Path(__file__).parent.parent / "data"
CODE = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv"
Y2024 = DATA / "azure_llm_fixtures" / "AzureLLMInferenceTrace_code_1week.csv"
Y2025 = DATA / "azure_llm_fixtures" / "AzureLMMInferenceTrace_multimodal.csv.gz"


def test_sniff_and_detect() -> None:
    r = registry.get("azure_llm")
    assert r.sniff(CODE) and r.sniff(Y2024) and r.sniff(Y2025)
    assert not r.sniff(DATA / "bad" / "azure_llm" / "semicolon.csv")
    assert registry.detect([CODE]).name == "azure_llm"
    assert registry.detect([Y2025]).name == "azure_llm"


def test_2023_last_row_and_crlf(store: workscope.Store) -> None:
    store.ingest(CODE, format="azure_llm", name="c")
    df = store.trace("c").read("requests")
    # the file has CRLF endings and no newline after the last row: 2023-11-16 19:14:19.2253310,...
    last_line = CODE.read_bytes().rstrip().split(b"\r\n")[-1].decode().split(",")
    assert df["input_tokens"][-1] == int(last_line[1]) and df["output_tokens"][-1] == int(last_line[2])
    assert df["arrival_s"][-1] == pytest.approx(3435.948056, abs=1e-6)


def test_2024_zoned_timestamps_with_and_without_fraction(store: workscope.Store) -> None:
    m = store.ingest(Y2024, format="azure_llm", name="y24").manifest
    assert m["origin_utc"] == "2024-05-10T00:00:00.009930+00:00"
    assert m["meta"]["origin_assumed_utc"] is False
    df = store.trace("y24").read("requests")
    assert df["arrival_s"].to_list() == pytest.approx([0.0, 0.007405, 0.012384, 0.99007], abs=1e-9)
    assert df["input_tokens"].to_list() == [2162, 2399, 76, 100]
    assert df["kind"].to_list() == ["code"] * 4


def test_2025_multimodal_gzip_with_images(store: workscope.Store) -> None:
    m = store.ingest(Y2025, format="azure_llm", name="y25").manifest
    assert m["tables"]["requests"]["rows_ok"] == 3
    assert m["origin_utc"] == "2024-10-15T12:00:00.269000+00:00"
    df = store.trace("y25").read("requests")
    assert df["arrival_s"].to_list() == pytest.approx([0.0, 5.55, 6.244], abs=1e-9)
    assert df["output_tokens"].to_list() == [491, 126, 79]
    assert df["attrs"].to_list() == ['{"num_images":0}', '{"num_images":1}', '{"num_images":1}']
    assert df["kind"].to_list() == ["multimodal"] * 3


def test_directory_reads_trace_files_and_skips_the_rest(store: workscope.Store) -> None:
    # the samples folder holds the two traces plus LICENSE and SOURCE.md
    m = store.ingest(CODE.parent, format="azure_llm", name="dir").manifest
    assert m["tables"]["requests"]["rows_ok"] == 8819 + 19366
    assert sorted(Path(f).name for f in m["meta"]["skipped_files"]) == ["LICENSE", "SOURCE.md"]
