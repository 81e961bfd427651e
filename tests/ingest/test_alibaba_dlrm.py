"""Alibaba GPU 2025 disaggregated DLRM reader: real slice, censoring, sniffing, bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.conftest import reconciles
from workscope.ingest import registry
from workscope.ingest.alibaba_dlrm import READER

FILE = "alibaba_dlrm/disaggregated_DLRM_trace.csv"


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_slice_censoring(store, data_dir: Path) -> None:
    src = _rows(data_dir / FILE)
    assert len(src) == 320
    m = store.ingest(data_dir / FILE, format="alibaba_dlrm", name="dlrm").manifest
    t = m["tables"]["jobs"]
    # Empty times are censoring, not broken rows: nothing is rejected.
    assert t["rows_in"] == t["rows_ok"] == 320 and t["rows_rejected"] == 0
    assert reconciles(m)
    assert m["meta"]["origin_utc"] is None

    df = store.trace("dlrm").read("jobs")
    assert df["job_id"].to_list() == [r["instance_sn"] for r in src]
    before = [r["creation_time"] == "" for r in src]
    assert sum(before) == 171
    assert df["submit_s"].to_list() == [0.0 if b else float(r["creation_time"]) for b, r in zip(before, src)]
    assert df["start_s"].null_count() == sum(r["scheduled_time"] == "" for r in src)
    assert df["end_s"].null_count() == sum(r["deletion_time"] == "" for r in src) == 181
    assert [json.loads(a)["created_before_trace"] for a in df["attrs"]] == before

    # instance_0,HN,app_0,12,12,1,1,25,25,120.0,120.0,640.0,800.0,8,,,
    r0 = df.row(0, named=True)
    assert (r0["submit_s"], r0["start_s"], r0["end_s"]) == (0.0, None, None)
    assert r0["group"] == "app_0" and r0["partition"] == "HN"
    assert r0["cpu_req"] == 12.0 and r0["gpu_req"] == 1.0 and r0["mem_req_mb"] == 120.0 * 1024
    a0 = json.loads(r0["attrs"])
    assert a0["disk_request_gib"] == 640.0 and a0["max_instance_per_node"] == 8 and a0["rdma_request"] == 25.0
    # instance_7428,...,40022.0,40051.0,994046.0000000001
    r = df.filter(df["job_id"] == "instance_7428").row(0, named=True)
    assert (r["submit_s"], r["start_s"]) == (40022.0, 40051.0)
    assert r["end_s"] == pytest.approx(994046.0)
    assert r["cpu_req"] == 64.0 and r["gpu_req"] == 0.0 and r["partition"] == "CN"
    # instance_7426: created in the trace, alive at its end
    r = df.filter(df["job_id"] == "instance_7426").row(0, named=True)
    assert r["submit_s"] == 40020.0 and r["end_s"] is None
    # instance_2454: existed before the trace, deleted at 85 s
    r = df.filter(df["job_id"] == "instance_2454").row(0, named=True)
    assert (r["submit_s"], r["start_s"], r["end_s"]) == (0.0, None, 85.0)


def test_sniff_and_detect(data_dir: Path) -> None:
    assert READER.sniff(data_dir / FILE)
    assert READER.sniff(data_dir / "alibaba_dlrm")
    assert not READER.sniff(data_dir / "alibaba_openb" / "openb_pod_list_default.csv")
    assert not READER.sniff(data_dir / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv")
    assert registry.detect([data_dir / FILE]).name == "alibaba_dlrm"


BAD = Path(__file__).resolve().parents[1] / "data" / "bad" / "alibaba_dlrm"


