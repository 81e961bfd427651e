"""Alibaba GenAI 2026 (GenTD26) reader: real slices of the request trace and metric archives."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from pathlib import Path

import polars as pl

from tests.conftest import reconciles
from workscope.ingest import registry
from workscope.ingest.alibaba_genai import READER

DIR = "alibaba_genai_2026"
REQ = "alibaba_genai_2026/lora_request_trace.csv"
BAD = "bad/alibaba_genai"
ARCHIVES = ("lora_update_latency_anon.tar.gz", "pod_gpu_duty_cycle_anon.tar.gz", "qps.tar.gz",
            "queue_rt_raw_anon.tar.gz", "queue_size_raw_anon.tar.gz")
ORIGIN_ANON = 1662858720.0  # earliest timestamp_anon of the slice (pod_gpu_duty_cycle, queue_size)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _member_rows(archive: Path) -> list[dict[str, str]]:
    """Rows of the archive's real CSV member, read with tarfile + csv (``._`` junk skipped)."""
    with tarfile.open(archive) as tf:
        members = [m for m in tf.getmembers() if not m.name.rsplit("/", 1)[-1].startswith("._")]
        assert len(members) == 1
        text = tf.extractfile(members[0]).read().decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_ingest_directory(store, data_dir: Path) -> None:
    n_req = len(_rows(data_dir / REQ))
    n_usage = sum(len(_member_rows(data_dir / DIR / a)) for a in ARCHIVES)
    assert (n_req, n_usage) == (211, 550)
    m = store.ingest(data_dir / DIR, format="alibaba_genai", name="genai").manifest
    req, usage = m["tables"]["requests"], m["tables"]["usage"]
    assert req["rows_in"] == req["rows_ok"] == n_req and req["rows_rejected"] == 0
    assert usage["rows_in"] == usage["rows_ok"] == n_usage and usage["rows_rejected"] == 0
    assert reconciles(m)
    meta = m["meta"]
    assert meta["origin_utc"] == "2024-11-15T16:57:50+00:00"
    assert meta["origin_assumed_utc"] is True
    assert meta["usage_origin_timestamp_anon"] == ORIGIN_ANON
    assert meta["input_tokens_unit"].startswith("characters")
    # The timestamp-less request table is skipped and said so; its ._ junk member never read.
    assert [s["file"].rsplit("[", 1)[1] for s in meta["skipped"]] == ["data_trace_processed.csv]"]
    assert req["time"]["sorted"] is True


def test_request_values(store, data_dir: Path) -> None:
    src = _rows(data_dir / REQ)
    store.ingest(data_dir / REQ, format="alibaba_genai", name="req")
    trace = store.trace("req")
    assert trace.tables == ["requests"]
    df = trace.read("requests")
    assert df.height == len(src)
    first = df.row(0, named=True)
    # 2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,32.0,G0000,63.0,26.0,1.0,30.0,M0000,0
    assert first["arrival_s"] == 0.0
    assert (first["kind"], first["status"], first["model"]) == ("TXT_2_IMG", "SUCCEED", "M0000")
    assert first["latency_s"] == 32.0 and first["input_tokens"] == 63
    assert json.loads(first["attrs"]) == {"group_id": "G0000", "negative_prompt_length": 26,
                                          "num_images": 1, "num_inference_steps": 30, "num_lora": 0}
    # 2024-11-15 18:16:14,...,G0001,93.0,,1.0,40.0,M0001,0 : 1 h 18 min 24 s later, no negative prompt
    second = df.row(1, named=True)
    assert second["arrival_s"] == 4704.0 and second["input_tokens"] == 93
    assert json.loads(second["attrs"])["negative_prompt_length"] is None
    assert df["status"].value_counts().sort("status").rows() == [
        ("FAILED", 5), ("PENDING", 3), ("PROCESSING", 3), ("SUCCEED", 200)]
    assert df["latency_s"].to_list() == [float(r["exec_time_seconds"]) for r in src]
    images = [json.loads(a)["num_images"] for a in df["attrs"]]
    assert images.count(None) == sum(r["num_images_per_prompt"] == "" for r in src) == 3
    # No token output, ids or sessions in the source: null, never invented.
    for col in ("output_tokens", "request_id", "session_id", "hash_ids"):
        assert df[col].null_count() == df.height


def test_usage_columns_read_by_name(store, data_dir: Path) -> None:
    store.ingest(data_dir / DIR, format="alibaba_genai", name="genai")
    df = store.trace("genai").read("usage")
    assert sorted(set(df["metric"])) == [
        "gpu_duty_cycle_pct", "lora_update_latency_s", "qps_api", "qps_generative",
        "queue_size", "queue_time_s"]

    def sample(metric: str, row: dict[str, str], value: float) -> None:
        hit = df.filter((pl.col("metric") == metric) & (pl.col("entity_id") == row["container_ip"])
                        & (pl.col("t_s") == float(row["timestamp_anon"]) - ORIGIN_ANON))
        assert value in hit["value"].to_list(), (metric, row)

    # value,timestamp_anon,container_ip order: a non-zero duty cycle lands in the right columns.
    duty = next(r for r in _member_rows(data_dir / DIR / "pod_gpu_duty_cycle_anon.tar.gz")
                if float(r["value"]) > 0)
    sample("gpu_duty_cycle_pct", duty, float(duty["value"]))
    # value,container_ip,timestamp_anon order, ms -> s: 196.0,dfe00e98...,1662859347.0
    rt = _member_rows(data_dir / DIR / "queue_rt_raw_anon.tar.gz")[0]
    assert rt["container_ip"] == "dfe00e981377fa8e0a9aefbc9b2e9369"
    sample("queue_time_s", rt, 0.196)
    first_rt = df.filter(pl.col("metric") == "queue_time_s").row(0, named=True)
    assert first_rt["t_s"] == 627.0 and first_rt["unit"] == "s"
    # lora_update_latency: 1662859176.0,7109.0,7c921d2b... -> 7.109 s at t_s 456
    lora = df.filter(pl.col("metric") == "lora_update_latency_s").row(0, named=True)
    assert (lora["t_s"], lora["value"], lora["entity_id"]) == (
        456.0, 7.109, "7c921d2bb994a9d8b5300708a519c46d")
    # qps: request_type splits the metric and stays in attrs; API QPS has no container.
    qps = _member_rows(data_dir / DIR / "qps.tar.gz")
    api = df.filter(pl.col("metric") == "qps_api")
    assert api.height == sum(r["request_type"] == "API Requests" for r in qps) == 39
    assert set(api["entity_id"]) == {"_unattributed"}
    assert json.loads(api["attrs"][0]) == {"request_type": "API Requests"}
    gen = df.filter(pl.col("metric") == "qps_generative")
    assert gen.height == 111 and "_unattributed" not in set(gen["entity_id"])
    assert df.filter(pl.col("metric") == "queue_size")["unit"].unique().to_list() == ["tasks"]


def test_missing_entity_option_rejects(store, data_dir: Path) -> None:
    paths = [data_dir / DIR / "qps.tar.gz", data_dir / DIR / "queue_size_raw_anon.tar.gz"]
    m = store.ingest(paths, format="alibaba_genai", name="strict",
                     options={"missing_entity": ""}).manifest
    u = m["tables"]["usage"]
    assert (u["rows_ok"], u["rows_rejected"]) == (111, 39 + 50)
    assert reconciles(m)
    assert m["rejects"]["top_reasons"][0]["reason"] == "entity_id is missing"
    # With only metric archives, no request origin exists: the usage origin is in the meta.
    assert m["meta"]["origin_utc"] is None
    assert m["meta"]["usage_origin_timestamp_anon"] == ORIGIN_ANON


def test_sniff(data_dir: Path) -> None:
    assert READER.sniff(data_dir / REQ)
    assert READER.sniff(data_dir / DIR)
    for a in ARCHIVES:
        assert READER.sniff(data_dir / DIR / a), a
    assert registry.detect([data_dir / DIR]).name == "alibaba_genai"
    assert registry.detect([data_dir / REQ]).name == "alibaba_genai"
    assert registry.detect([data_dir / DIR / "queue_rt_raw_anon.tar.gz"]).name == "alibaba_genai"
    assert not READER.sniff(data_dir / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv")
    assert not READER.sniff(data_dir / "azure_functions_2021" / "Azure2021_200.csv")
    assert not READER.sniff(data_dir / "azure_functions_2019" / "fixture")


def test_duplicate_request_copy_skipped(store, data_dir: Path, tmp_path: Path) -> None:
    # The publisher ships lora_request_trace both as .csv and as .tar.gz: read it once.
    (tmp_path / "lora_request_trace.csv").write_bytes((data_dir / REQ).read_bytes())
    with tarfile.open(tmp_path / "lora_request_trace.tar.gz", "w:gz") as tf:
        tf.add(data_dir / REQ, arcname="lora_request_trace.csv")
    m = store.ingest(tmp_path, format="alibaba_genai", name="dup").manifest
    assert m["tables"]["requests"]["rows_ok"] == 211
    assert [s["why"] for s in m["meta"]["skipped"]] == ["second copy of lora_request_trace.csv"]
