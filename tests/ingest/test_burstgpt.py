"""BurstGPT reader: v1 (6 columns) and v3 (8 columns) fixtures, sniffing, bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl

from tests.conftest import reconciles
from workscope.ingest import registry
from workscope.ingest.burstgpt import READER

V1 = "burstgpt/BurstGPT_1.csv"
V3 = "burstgpt/BurstGPT_3.csv"


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_ingest_both_layouts(store, data_dir: Path) -> None:
    v1, v3 = _rows(data_dir / V1), _rows(data_dir / V3)
    result = store.ingest(data_dir / "burstgpt", format="burstgpt", name="burst")
    m = result.manifest
    t = m["tables"]["requests"]
    assert t["rows_in"] == t["rows_ok"] == len(v1) + len(v3) == 20
    assert t["rows_rejected"] == 0
    assert reconciles(m)
    assert m["reader"]["name"] == "burstgpt"
    # No absolute date is published: the origin stays unknown and times are not rebased.
    assert m["meta"]["origin_utc"] is None
    assert m["meta"]["time_resolution_s"] == 1.0
    assert "first day" in m["meta"]["time_note"]
    assert t["time"]["min_s"] == 5.0 and t["time"]["max_s"] == 19440201.0
    assert sorted(Path(f).name for f in m["files_used"]) == ["BurstGPT_1.csv", "BurstGPT_3.csv"]


def test_values_v1(store, data_dir: Path) -> None:
    store.ingest(data_dir / V1, format="burstgpt", name="b1")
    df = store.trace("b1").read("requests")
    src = _rows(data_dir / V1)
    assert df.height == len(src)
    assert df["arrival_s"].to_list() == [float(r["Timestamp"]) for r in src]
    assert df["input_tokens"].to_list() == [int(r["Request tokens"]) for r in src]
    assert df["model"].to_list() == [r["Model"] for r in src]
    row = df.row(1, named=True)  # 45,ChatGPT,1087,0,1087,Conversation log
    assert row["arrival_s"] == 45.0
    assert row["output_tokens"] == 0 and row["status"] == "failed"
    assert row["kind"] == "conversation"
    assert json.loads(row["attrs"]) == {"total_tokens": 1087}
    # The v1 layout has no sessions and no latency: null, never invented.
    assert df["session_id"].null_count() == df.height
    assert df["latency_s"].null_count() == df.height
    assert df["request_id"].null_count() == df.height
    # Failed requests (Response tokens 0) are kept and marked.
    failed = sum(1 for r in src if r["Response tokens"] == "0")
    assert failed == 3
    assert df.filter(pl.col("status") == "failed").height == failed
    assert df.filter(pl.col("status") == "ok").height == len(src) - failed
    assert df.row(3, named=True)["kind"] == "api"


def test_values_v3(store, data_dir: Path) -> None:
    store.ingest(data_dir / V3, format="burstgpt", name="b3")
    df = store.trace("b3").read("requests")
    first = df.row(0, named=True)
    assert first["arrival_s"] == 19440110.0
    assert first["session_id"] == "3f2b8c1e-6a4d-4e2b-9c71-0d5e8a9b1f23"
    assert first["latency_s"] == 12.0
    assert first["kind"] == "conversation" and first["status"] == "ok"
    assert (first["input_tokens"], first["output_tokens"]) == (812, 243)
    api = df.row(1, named=True)
    assert api["kind"] == "api" and api["session_id"] is None and api["latency_s"] == 4.0
    # API-log rows have no session id; conversation rows share theirs across turns.
    assert df.filter(pl.col("kind") == "api")["session_id"].null_count() == 4
    sessions = df.filter(pl.col("kind") == "conversation").group_by("session_id").len()
    assert sorted(sessions["len"].to_list()) == [2, 2]
    failed = df.filter(pl.col("status") == "failed")
    assert failed["arrival_s"].to_list() == [19440127.0, 19440166.0]
    assert failed["model"].to_list() == ["GPT-4", "GPT-4"]


def test_columns_read_by_name(store, tmp_path: Path) -> None:
    # Same v3 row with the columns in another order must give the same values.
    f = tmp_path / "reordered.csv"
    f.write_text("Log Type,Model,Response tokens,Request tokens,Elapsed time,Session ID,Timestamp\n"
                 "API log,GPT-4,7,11,3,,19440300.0\n")
    store.ingest(f, format="burstgpt", name="re")
    row = store.trace("re").read("requests").row(0, named=True)
    assert (row["arrival_s"], row["model"], row["input_tokens"], row["output_tokens"]) == (
        19440300.0, "GPT-4", 11, 7)
    assert row["latency_s"] == 3.0 and row["kind"] == "api" and row["attrs"] is None


def test_sniff(data_dir: Path) -> None:
    for p in (data_dir / V1, data_dir / V3, data_dir / "burstgpt"):
        assert READER.sniff(p)
        assert registry.detect([p]).name == "burstgpt"
    assert not READER.sniff(data_dir / "mooncake" / "synthetic_trace.jsonl")
    assert not READER.sniff(data_dir / "qwen_bailian" / "qwen_traceA_blksz_16.jsonl")
    assert not READER.sniff(data_dir / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv")
    assert not READER.sniff(data_dir / "bad" / "burstgpt" / "semicolon.csv")


BAD = Path(__file__).parents[1] / "data" / "bad" / "burstgpt"


def test_bad_values_rejects_detail(store) -> None:
    store.ingest(BAD / "bad_values.csv", format="burstgpt", name="bad")
    rej = store.trace("bad").rejects().sort("line").collect()
    by_line = dict(zip(rej["line"].to_list(), rej["reason"].to_list()))
    assert by_line == {
        3: "Timestamp: not a number",
        4: "input_tokens is negative",
        5: "Response tokens: not an integer",
        6: "Timestamp: not a number",  # the header line repeated mid-file
        7: "latency_s is NaN",
        8: "Timestamp is negative",
        10: "Response tokens: not an integer",  # 1e30 overflows int64
        12: "Request tokens is missing",
    }
    lines = (BAD / "bad_values.csv").read_text().splitlines()
    raw = dict(zip(rej["line"].to_list(), rej["raw"].to_list()))
    assert raw[4] == lines[3]
    ok = store.trace("bad").read("requests")
    assert ok["arrival_s"].to_list() == [19440110.0, 19440166.0, 19440201.0]
