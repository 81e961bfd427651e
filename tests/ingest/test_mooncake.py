"""Mooncake reader: a real slice of the FAST'25 synthetic trace, sniffing, bad input."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from tests.conftest import reconciles
from workscope.ingest import registry
from workscope.ingest.mooncake import READER

SLICE = "mooncake/synthetic_trace.jsonl"


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_ingest_real_slice(store, data_dir: Path) -> None:
    src = _records(data_dir / SLICE)
    assert len(src) == 300
    m = store.ingest(data_dir / "mooncake", format="mooncake", name="mc").manifest
    t = m["tables"]["requests"]
    assert t["rows_in"] == t["rows_ok"] == len(src)
    assert t["rows_rejected"] == 0
    assert reconciles(m)
    assert m["meta"]["hash_block_tokens"] == 512
    assert m["meta"]["origin_utc"] is None
    assert m["meta"]["time_resolution_s"] == 0.001
    assert t["time"]["min_s"] == 0.0
    assert t["time"]["max_s"] == src[-1]["timestamp"] / 1000 == 86.79
    assert t["time"]["sorted"] is True
    assert [Path(f).name for f in m["files_used"]] == ["synthetic_trace.jsonl"]  # no LICENSE/SOURCE.md


def test_values(store, data_dir: Path) -> None:
    src = _records(data_dir / SLICE)
    store.ingest(data_dir / SLICE, format="mooncake", name="mc")
    df = store.trace("mc").read("requests")
    # ms -> s, lengths and block ids exactly as published, in file order.
    assert df["arrival_s"].to_list() == [r["timestamp"] / 1000 for r in src]
    assert df["input_tokens"].to_list() == [r["input_length"] for r in src]
    assert df["output_tokens"].to_list() == [r["output_length"] for r in src]
    assert df["hash_ids"].to_list() == [r["hash_ids"] for r in src]
    row = df.row(3, named=True)  # {"timestamp": 277, "input_length": 32140, "output_length": 92, ...}
    assert row["arrival_s"] == pytest.approx(0.277)
    assert (row["input_tokens"], row["output_tokens"]) == (32140, 92)
    assert row["hash_ids"][:3] == [198, 199, 200]
    assert len(row["hash_ids"]) == math.ceil(32140 / 512)
    assert df.row(5, named=True)["hash_ids"] == [298]
    assert set(df["kind"].to_list()) == {"synthetic"}
    for col in ("request_id", "session_id", "turn", "parent_id", "model", "status", "latency_s", "attrs"):
        assert df[col].null_count() == df.height, col


def test_gzip_input(store, data_dir: Path, tmp_path: Path) -> None:
    gz = tmp_path / "conversation_trace.jsonl.gz"
    gz.write_bytes(gzip.compress((data_dir / SLICE).read_bytes()))
    m = store.ingest(gz, format="mooncake", name="gz").manifest
    assert m["tables"]["requests"]["rows_ok"] == 300
    assert registry.detect([gz]).name == "mooncake"
    assert set(store.trace("gz").read("requests")["kind"].to_list()) == {"conversation"}


def test_extra_keys_go_to_attrs(store, tmp_path: Path) -> None:
    f = tmp_path / "mooncake_trace.jsonl"
    f.write_text('{"timestamp": 0, "input_length": 6758, "output_length": 500, '
                 '"hash_ids": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], "tenant": "t1"}\n'
                 '{"timestamp": 3000, "input_length": 10, "output_length": 5, "hash_ids": [0], '
                 '"tenant": "t2"}\n')
    store.ingest(f, format="mooncake", name="extra")
    df = store.trace("extra").read("requests")
    assert [json.loads(a) for a in df["attrs"]] == [{"tenant": "t1"}, {"tenant": "t2"}]
    assert df["arrival_s"].to_list() == [0.0, 3.0]
    assert df["kind"].to_list() == [None, None]  # the arXiv trace's name carries no kind


def test_sniff(data_dir: Path) -> None:
    for p in (data_dir / SLICE, data_dir / "mooncake"):
        assert READER.sniff(p)
        assert registry.detect([p]).name == "mooncake"
    assert not READER.sniff(data_dir / "qwen_bailian" / "qwen_traceA_blksz_16.jsonl")
    assert not READER.sniff(data_dir / "burstgpt" / "BurstGPT_1.csv")
    assert not READER.sniff(data_dir / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv")
    assert not READER.sniff(data_dir / "bad" / "mooncake" / "missing_key.jsonl")


BAD = Path(__file__).parents[1] / "data" / "bad" / "mooncake"


def test_bad_lines_detail(store) -> None:
    path = BAD / "bad_lines.jsonl"
    lines = path.read_text().splitlines()
    store.ingest(path, format="mooncake", name="bad")
    rej = store.trace("bad").rejects().sort("line").collect()
    assert dict(zip(rej["line"].to_list(), rej["reason"].to_list())) == {
        3: "line is not a JSON object",  # truncated record
        5: "input_length: not an integer",
        6: "output_tokens is negative",
        7: "hash_ids: not a list of integers",
        8: "timestamp is negative",
        10: "hash_ids: not a list of integers",  # 46.5
        11: "line is not a JSON object",  # a JSON array
        12: "input_length: not an integer",  # overflows int64
        13: "hash_ids is missing",
    }
    # The raw text of each rejected line is kept verbatim; line 9 is blank and is no record.
    assert rej["raw"].to_list() == [lines[n - 1] for n in rej["line"].to_list()]
    assert lines[8] == ""
    ok = store.trace("bad").read("requests")
    assert ok["arrival_s"].to_list() == [0.0, 27.482, 30.6, 36.0]
    assert ok["input_tokens"].to_list()[2] == 6472  # a quoted number still reads as its value
