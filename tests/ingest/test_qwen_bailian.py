"""Qwen-Bailian reader: fixtures from FORMATS.md section 6, sniffing, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl

from tests.conftest import reconciles
from workscope.ingest import registry
from workscope.ingest.qwen_bailian import READER, block_tokens

A = "qwen_bailian/qwen_traceA_blksz_16.jsonl"
B = "qwen_bailian/qwen_traceB_blksz_16.jsonl"


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_ingest_folder(store, data_dir: Path) -> None:
    n = len(_records(data_dir / A)) + len(_records(data_dir / B))
    m = store.ingest(data_dir / "qwen_bailian", format="qwen_bailian", name="qw").manifest
    t = m["tables"]["requests"]
    assert t["rows_in"] == t["rows_ok"] == n == 14
    assert t["rows_rejected"] == 0
    assert reconciles(m)
    assert m["meta"]["hash_block_tokens"] == 16
    assert m["meta"]["origin_utc"] is None
    assert m["meta"]["time_resolution_s"] == 0.001
    assert sorted(Path(f).name for f in m["files_used"]) == [
        "qwen_traceA_blksz_16.jsonl", "qwen_traceB_blksz_16.jsonl"]


def test_values(store, data_dir: Path) -> None:
    src = _records(data_dir / A)
    store.ingest(data_dir / A, format="qwen_bailian", name="qa")
    df = store.trace("qa").read("requests")
    assert df["request_id"].to_list() == [str(r["chat_id"]) for r in src]
    assert df["arrival_s"].to_list() == [r["timestamp"] for r in src]
    assert df["turn"].to_list() == [r["turn"] for r in src]
    assert df["kind"].to_list() == [r["type"] for r in src]
    assert df["hash_ids"].to_list() == [r["hash_ids"] for r in src]
    # -1 marks a root: its parent_id is null; other parents become ids (text).
    assert df["parent_id"].to_list() == [
        None if r["parent_chat_id"] == -1 else str(r["parent_chat_id"]) for r in src]
    roots = sum(1 for r in src if r["parent_chat_id"] == -1)
    assert roots == 6 and df["parent_id"].null_count() == roots
    # The README's example record.
    ex = df.filter(pl.col("request_id") == "159").row(0, named=True)
    assert ex["parent_id"] == "55" and ex["turn"] == 2 and ex["kind"] == "text"
    assert ex["arrival_s"] == 61.114
    assert (ex["input_tokens"], ex["output_tokens"]) == (521, 132)
    assert ex["hash_ids"][:4] == [1089, 1090, 1091, 6326] and ex["hash_ids"][-1] == 13148
    assert len(ex["hash_ids"]) == math.ceil(521 / 16)
    # A follow-up turn's parent is in the trace and shares its leading blocks.
    parent = df.filter(pl.col("request_id") == ex["parent_id"]).row(0, named=True)
    assert ex["hash_ids"][:3] == parent["hash_ids"][:3]
    # No session key, model, status or latency in the source: null, never invented.
    for col in ("session_id", "model", "status", "latency_s", "attrs"):
        assert df[col].null_count() == df.height, col
    assert df.filter(pl.col("request_id") == "102")["output_tokens"].item() == 0


def test_trace_b_api_type(store, data_dir: Path) -> None:
    store.ingest(data_dir / B, format="qwen_bailian", name="qb")
    df = store.trace("qb").read("requests")
    assert df["kind"].to_list() == ["api", "api", "api", "text"]
    assert df["arrival_s"].to_list() == [0.0, 0.05, 2.903, 3.117]
    assert df["parent_id"].to_list() == [None, None, "4", None]


def test_block_size_from_name(store, data_dir: Path, tmp_path: Path) -> None:
    assert block_tokens(Path("qwen_coder_blksz_16.jsonl")) == 16
    assert block_tokens(Path("qwen_x_blksz_64.jsonl.gz")) == 64
    assert block_tokens(Path("trace.jsonl")) == 16
    f = tmp_path / "qwen_thinking_blksz_32.jsonl"
    f.write_bytes((data_dir / B).read_bytes())
    assert store.ingest(f, format="qwen_bailian", name="b32").manifest["meta"]["hash_block_tokens"] == 32


def test_sniff(data_dir: Path) -> None:
    for p in (data_dir / A, data_dir / B, data_dir / "qwen_bailian"):
        assert READER.sniff(p)
        assert registry.detect([p]).name == "qwen_bailian"
    assert not READER.sniff(data_dir / "mooncake" / "synthetic_trace.jsonl")
    assert not READER.sniff(data_dir / "burstgpt" / "BurstGPT_3.csv")
    assert not READER.sniff(data_dir / "bad" / "qwen_bailian" / "json_array.json")


BAD = Path(__file__).parents[1] / "data" / "bad" / "qwen_bailian"


def test_bad_values_detail(store) -> None:
    path = BAD / "bad_values.jsonl"
    store.ingest(path, format="qwen_bailian", name="bad")
    rej = store.trace("bad").rejects().sort("line").collect()
    assert dict(zip(rej["line"].to_list(), rej["reason"].to_list())) == {
        2: "parent_chat_id: not an integer",
        3: "parent_chat_id is negative but not -1 (root)",
        4: "turn is negative",
        5: "arrival_s is not a finite number",  # "NaN"
        6: "hash_ids: not a list of integers",
        7: "chat_id is missing",
        8: "line is not a JSON object",
        9: "timestamp is negative",
        12: "type: invalid UTF-8 bytes",
    }
    ok = store.trace("bad").read("requests")
    assert ok["request_id"].to_list() == ["12", "21", "22"]
    assert ok["parent_id"].to_list() == [None, "12", None]
