"""vLLM `bench serve` and SGLang `bench_serving` result readers: values against the fixtures,
run settings in the manifest, detection, and garbled / truncated / incomplete files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import reconciles
from workscope.cli import app
from workscope.errors import CorruptSourceError, EmptySourceError, MissingColumnError
from workscope.ingest import registry
from workscope.ingest.sglang_results import READER as SGLANG
from workscope.ingest.vllm_results import READER as VLLM

DATA = Path(__file__).parents[1] / "data" / "bench_results"
VLLM_FILE = DATA / "vllm" / "openai-8.0qps-concurrency4-Qwen2.5-0.5B-Instruct-20261201-101502.json"
SGLANG_FILE = DATA / "sglang" / "sglang-oai_1201_4_256_16.jsonl"


def _vllm() -> dict:
    return json.loads(VLLM_FILE.read_text())


def _sglang() -> list[dict]:
    return [json.loads(line) for line in SGLANG_FILE.read_text().splitlines()]


def _itl(gaps: list[float], stat: str) -> float | None:
    if not gaps:
        return None
    return {"mean": np.mean(gaps), "p50": np.percentile(gaps, 50), "p99": np.percentile(gaps, 99),
            "max": max(gaps)}[stat]


def _check_itls(df, itls: list[list[float]]) -> None:
    for stat in ("mean", "p50", "p99", "max"):
        got = df[f"itl_{stat}_s"].to_list()
        want = [_itl(g, stat) for g in itls]
        assert [g is None for g in got] == [w is None for w in want], stat
        assert [g for g in got if g is not None] == pytest.approx(
            [w for w in want if w is not None], rel=1e-12, abs=0), stat


# ---------------------------------------------------------------- vLLM


def test_vllm_values(store) -> None:
    src = _vllm()
    m = store.ingest(VLLM_FILE, format="vllm_results", name="v").manifest
    t = m["tables"]["responses"]
    assert t["rows_in"] == t["rows_ok"] == len(src["ttfts"]) == 5
    assert reconciles(m)
    df = store.trace("v").read("responses")
    failed = [i for i, e in enumerate(src["errors"]) if e]
    assert failed == [2]
    assert df["request_id"].to_list() == ["0", "1", "2", "3", "4"]
    assert df["status"].to_list() == ["ok", "ok", "error", "ok", "ok"]
    assert df["error"].to_list() == [None, None, "Service Unavailable", None, None]
    # Already seconds in the source: taken as written; the failed request's 0.0 defaults are
    # placeholders, not measurements.
    assert df["ttft_s"].to_list() == [None if i in failed else v for i, v in enumerate(src["ttfts"])]
    assert df["latency_s"].to_list() == [None if i in failed else v for i, v in enumerate(src["latencies"])]
    assert df["ttft_s"][0] == 0.041837 and df["latency_s"][3] == 0.047903
    origin = min(src["start_times"])
    assert df["sent_s"].to_list() == [s - origin for s in src["start_times"]]
    assert df["sent_s"][1] == pytest.approx(0.123132)
    _check_itls(df, src["itls"])
    assert df["itl_max_s"][0] == 0.019876 and df["itl_mean_s"][3] is None  # one chunk, no gap
    assert df["input_tokens"].to_list() == src["input_lens"] == [512, 498, 505, 530, 517]
    assert df["output_tokens"].to_list() == [8, 6, None, 1, 7]
    assert df["model"].to_list() == ["Qwen/Qwen2.5-0.5B-Instruct"] * 5
    attrs = [json.loads(a) for a in df["attrs"]]
    assert [a["run"] for a in attrs] == [1] * 5
    assert [a["client_queue_s"] for a in attrs] == src["queue_times"]
    assert df["plan_s"].null_count() == df["output_tokens_requested"].null_count() == 5


def test_vllm_settings_in_manifest(store) -> None:
    meta = store.ingest(VLLM_FILE, format="vllm_results", name="v").manifest["meta"]
    assert meta["tool"] == "vllm bench serve"
    assert meta["model"] == "Qwen/Qwen2.5-0.5B-Instruct"
    assert (meta["request_rate"], meta["max_concurrency"]) == (8.0, 4)
    assert meta["date"] == "2026-12-01T10:15:02"  # the tool's 20261201-101502, local time
    assert meta["base_url"] is None and meta["tool_version"] is None  # vLLM records neither
    assert meta["origin_utc"] is None
    (run,) = meta["runs"]
    assert (run["requests"], run["completed"], run["failed"]) == (5, 4, 1)
    assert (run["backend"], run["burstiness"], run["num_prompts"]) == ("openai", 1.0, 5)


def test_vllm_appended_runs_and_a_truncated_run(store, tmp_path: Path) -> None:
    # --append-result writes one run per line; a run cut short in the middle is one reject.
    src = _vllm()
    second = {**src, "request_rate": 16.0, "ttfts": [t * 2 for t in src["ttfts"]]}
    broken = json.dumps(src)[:400]
    f = tmp_path / "appended.json"
    f.write_text(json.dumps(src) + "\n" + broken + "\n" + json.dumps(second))
    m = store.ingest(f, format="vllm_results", name="a").manifest
    t = m["tables"]["responses"]
    assert (t["rows_in"], t["rows_ok"], t["rows_rejected"]) == (11, 10, 1)
    rej = store.trace("a").rejects().collect()
    assert rej["line"].to_list() == [2]
    assert rej["reason"].to_list() == [
        "line is not a JSON object (a truncated or damaged vLLM benchmark result run)"]
    assert rej["raw"].to_list() == [broken]
    df = store.trace("a").read("responses")
    assert [json.loads(a)["run"] for a in df["attrs"]] == [1] * 5 + [3] * 5
    assert df["ttft_s"].to_list()[5:] == [t * 2 if i != 2 else None for i, t in enumerate(src["ttfts"])]
    assert df["ttft_s"][6] == 0.104228
    assert [r["request_rate"] for r in m["meta"]["runs"]] == [8.0, 16.0]


def test_vllm_bad_elements_are_rejects(store, tmp_path: Path) -> None:
    src = _vllm()
    src["ttfts"][0] = "fast"
    src["itls"][1] = [0.01, "x"]
    src["input_lens"][3] = -5
    src["output_lens"] = src["output_lens"][:4]  # arrays of unequal length
    src["ttfts"][2] = "0.0"  # a quoted number still reads as its value
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(src))
    store.ingest(f, format="vllm_results", name="b")
    rej = store.trace("b").rejects().collect()
    reasons = {json.loads(r)["index"]: why for r, why in zip(rej["raw"], rej["reason"])}
    assert reasons == {0: "ttfts: not a number", 1: "itls: not a list of numbers",
                       3: "input_tokens is negative", 4: "output_lens is missing"}
    ok = store.trace("b").read("responses")
    assert ok["status"].to_list() == ["error"] and ok["request_id"].to_list() == ["2"]


def test_vllm_truncated_file_is_one_clear_error(store, tmp_path: Path) -> None:
    f = tmp_path / "cut.json"
    f.write_text(VLLM_FILE.read_text()[:1500])
    with pytest.raises(CorruptSourceError, match="not valid JSON.*truncated or damaged"):
        store.ingest(f, format="vllm_results", name="cut")
    r = CliRunner().invoke(app, ["ingest", str(f), "--format", "vllm_results",
                                 "--home", str(tmp_path / "h")])
    assert r.exit_code == 1
    assert "truncated or damaged" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_vllm_without_save_detailed_is_refused(store, tmp_path: Path) -> None:
    src = _vllm()
    for k in ("input_lens", "output_lens", "start_times", "ttfts", "itls", "generated_texts", "errors"):
        del src[k]  # what the tool removes without --save-detailed
    f = tmp_path / "summary.json"
    f.write_text(json.dumps(src))
    with pytest.raises(MissingColumnError, match="--save-detailed"):
        store.ingest(f, format="vllm_results", name="s")


def test_empty_file(store, tmp_path: Path) -> None:
    f = tmp_path / "empty.json"
    f.write_text("\n")
    with pytest.raises(EmptySourceError):
        store.ingest(f, format="vllm_results", name="e")


def test_folder_skips_pytorch_twin(store, tmp_path: Path) -> None:
    # vLLM writes NAME.pytorch.json beside NAME.json; only the result is read.
    (tmp_path / VLLM_FILE.name).write_text(VLLM_FILE.read_text())
    (tmp_path / VLLM_FILE.name.replace(".json", ".pytorch.json")).write_text('[{"benchmark": {}}]')
    m = store.ingest(tmp_path, format="vllm_results", name="d").manifest
    assert [Path(p).name for p in m["files_used"]] == [VLLM_FILE.name]
    assert m["tables"]["responses"]["rows_ok"] == 5


# ---------------------------------------------------------------- SGLang


def test_sglang_values(store) -> None:
    runs = _sglang()
    m = store.ingest(SGLANG_FILE, format="sglang_results", name="s").manifest
    t = m["tables"]["responses"]
    assert t["rows_in"] == t["rows_ok"] == sum(len(r["ttfts"]) for r in runs) == 7
    df = store.trace("s").read("responses")
    assert df["status"].to_list() == ["ok", "ok", "error", "ok", "ok", "incomplete", "ok"]
    assert df["request_id"].to_list() == ["0", "1", "2", "3", "0", "1", "2"]
    assert [json.loads(a)["run"] for a in df["attrs"]] == [1, 1, 1, 1, 2, 2, 2]
    ttfts = runs[0]["ttfts"] + runs[1]["ttfts"]
    placeholder = {2, 5}  # the failed request and the one that never streamed a token
    assert df["ttft_s"].to_list() == [None if i in placeholder else v for i, v in enumerate(ttfts)]
    assert df["ttft_s"][0] == 0.0215
    _check_itls(df, runs[0]["itls"] + runs[1]["itls"])
    assert df["input_tokens"].to_list() == runs[0]["input_lens"] + runs[1]["input_lens"]
    assert df["output_tokens"].to_list() == [5, 3, None, 4, 3, None, 4]
    assert df["error"][2].startswith("Traceback (most recent call last):")
    assert df["error"][2].endswith("ServerDisconnectedError: Server disconnected")
    # SGLang writes no per-request latency, send time or model.
    for col in ("latency_s", "sent_s", "plan_s", "model"):
        assert df[col].null_count() == 7, col


def test_sglang_settings_in_manifest(store) -> None:
    meta = store.ingest(SGLANG_FILE, format="sglang_results", name="s").manifest["meta"]
    assert meta["tool"] == "sglang.bench_serving"
    assert [r["request_rate"] for r in meta["runs"]] == [4.0, "inf"]  # Infinity in the file
    assert [r["requests"] for r in meta["runs"]] == [4, 3]
    assert [r["line"] for r in meta["runs"]] == [1, 2]
    assert meta["request_rate"] == 4.0 and meta["max_concurrency"] is None
    assert (meta["runs"][0]["backend"], meta["runs"][0]["random_input_len"]) == ("sglang-oai", 256)
    assert meta["model"] is None and meta["date"] is None


def test_sglang_run_without_details_is_a_reject(store, tmp_path: Path) -> None:
    runs = _sglang()
    summary = {k: v for k, v in runs[1].items()
               if k not in ("input_lens", "output_lens", "ttfts", "itls", "generated_texts", "errors")}
    f = tmp_path / "out.jsonl"
    f.write_text(json.dumps(runs[0]) + "\n" + json.dumps(summary) + "\n")
    m = store.ingest(f, format="sglang_results", name="r").manifest
    assert (m["tables"]["responses"]["rows_ok"], m["tables"]["responses"]["rows_rejected"]) == (4, 1)
    rej = store.trace("r").rejects().collect()
    assert rej["line"].to_list() == [2]
    assert rej["reason"][0].startswith("run has no per-request array(s)")
    g = tmp_path / "summary_only.jsonl"
    g.write_text(json.dumps(summary) + "\n")
    with pytest.raises(MissingColumnError, match="--output-details"):
        store.ingest(g, format="sglang_results", name="r2")


# ---------------------------------------------------------------- detection


def test_detection(tmp_path: Path) -> None:
    assert registry.detect([VLLM_FILE]).name == "vllm_results"
    assert registry.detect([SGLANG_FILE]).name == "sglang_results"
    assert registry.detect([DATA / "vllm"]).name == "vllm_results"
    assert not VLLM.sniff(SGLANG_FILE) and not SGLANG.sniff(VLLM_FILE)
    mooncake = Path(__file__).parents[1] / "data" / "mooncake" / "synthetic_trace.jsonl"
    assert not VLLM.sniff(mooncake) and not SGLANG.sniff(mooncake)


@pytest.mark.parametrize(("path", "reader", "rows"), [(VLLM_FILE, "vllm_results", 5),
                                                      (SGLANG_FILE, "sglang_results", 7)])
def test_cli_ingest_detects_the_format(tmp_path: Path, path: Path, reader: str, rows: int) -> None:
    runner = CliRunner()
    home = str(tmp_path / "h")
    r = runner.invoke(app, ["ingest", str(path), "--name", "run", "--home", home, "--json"])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["manifest"]["tables"]["responses"]["rows_ok"] == rows
    r = runner.invoke(app, ["show", "run", "--home", home, "--json"])
    assert json.loads(r.stdout)["reader"]["name"] == reader
