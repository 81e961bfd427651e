"""AIPerf and GuideLLM result readers (issue 11): real result files of live replays, read back.

Fixtures (tests/data/bench_results/{aiperf,guidellm}/FIXTURE.md): the 20-request replay that
conformance/test_live.py runs against ``guidellm mock-server``, plus runs of the same replay
that really failed (per-request timeouts, a server stopped mid-run, a run cut short). Every
expected value below is read from the tool's own file, never typed in by hand.
"""

from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import reconciles
from workscope.cli import app
from workscope.errors import CorruptSourceError, SourceError
from workscope.ingest import registry

AIPERF = Path(__file__).parents[1] / "data" / "bench_results" / "aiperf"
GUIDELLM = Path(__file__).parents[1] / "data" / "bench_results" / "guidellm"
N = 20


def _aiperf_records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "profile_export.jsonl").read_text().splitlines()]


def _metric(rec: dict, name: str) -> float | None:
    m = rec["metrics"].get(name)
    return None if m is None else m["value"]


def _by_id(df: pl.DataFrame) -> dict[str, dict]:
    return {r["request_id"]: r for r in df.iter_rows(named=True)}


def _check_aiperf_requests(recs: list[dict], rows: dict[str, dict]) -> None:
    """Every successful AIPerf record against its row: the tool's own per-request values."""
    assert set(rows) == {r["metadata"]["x_request_id"] for r in recs}
    origin = min(r["metadata"]["credit_issued_ns"] for r in recs)
    for r in recs:
        row, md = rows[r["metadata"]["x_request_id"]], r["metadata"]
        assert row["sent_s"] == (md["request_start_ns"] - origin) / 1e9
        assert row["plan_s"] == (md["credit_issued_ns"] - origin) / 1e9
        assert row["ttft_s"] == _metric(r, "time_to_first_token") / 1e3
        assert row["itl_mean_s"] == _metric(r, "inter_token_latency") / 1e3
        assert row["latency_s"] == _metric(r, "request_latency") / 1e3
        gaps = _metric(r, "inter_chunk_latency")
        assert row["itl_max_s"] == max(gaps) / 1e3
        assert row["itl_p50_s"] == pytest.approx(statistics.median(gaps) / 1e3, rel=1e-12)
        assert row["input_tokens"] == _metric(r, "input_sequence_length")
        assert row["output_tokens"] == _metric(r, "output_sequence_length")
        assert json.loads(row["attrs"])["usage_completion_tokens"] == _metric(r, "usage_completion_tokens")
        assert (row["status"], row["error"], row["model"]) == ("ok", None, "mock")


# ---------------------------------------------------------------- AIPerf


def test_aiperf_replay_values(store) -> None:
    recs = _aiperf_records(AIPERF / "replay")
    summary = json.loads((AIPERF / "replay" / "profile_export_aiperf.json").read_text())
    assert len(recs) == N and all(r["metrics"]["time_to_first_token"]["unit"] == "ms" for r in recs)
    m = store.ingest(AIPERF / "replay", format="aiperf_results", name="ap").manifest
    t = m["tables"]["responses"]
    assert (t["rows_in"], t["rows_ok"], t["rows_rejected"]) == (N, N, 0)
    assert reconciles(m)
    df = store.trace("ap").read("responses")
    _check_aiperf_requests(recs, _by_id(df))
    # origin: the run's first credit issue, exact in epoch ns
    assert m["meta"]["origin_epoch_ns"] == min(r["metadata"]["credit_issued_ns"] for r in recs)
    assert m["meta"]["origin_utc"].startswith(summary["start_time"][:19])  # the run's start (s)
    # the first request: its credit is the origin, and it left 1.27 ms later
    assert df["plan_s"].min() == 0.0 and 0 < df["sent_s"].min() < 0.01
    # mean TTFT = the mean of AIPerf's own per-request values = its summary's average
    ttft_ms = [_metric(r, "time_to_first_token") for r in recs]
    assert df["ttft_s"].mean() == pytest.approx(statistics.fmean(ttft_ms) / 1e3, rel=1e-12)
    assert df["ttft_s"].mean() * 1e3 == pytest.approx(summary["time_to_first_token"]["avg"], rel=1e-9)
    assert df["output_tokens"].sum() == summary["total_osl"]["avg"]
    assert df["output_tokens_requested"].null_count() == N  # AIPerf does not record max_tokens

    meta = m["meta"]
    assert (meta["tool"], meta["tool_version"], meta["model"]) == ("aiperf", "0.13.0", "mock")
    assert meta["base_url"] == summary["input_config"]["endpoint"]["urls"][0]
    run = meta["runs"][0]
    assert run["schedule"] == "fixed_schedule" and run["streaming"] is True
    assert run["cli_command"].startswith("aiperf profile") and run["start_time_local"] == summary["start_time"]
    assert [Path(f).name for f in m["files_used"]] == ["profile_export.jsonl", "profile_export_aiperf.json"]


def test_aiperf_request_rate_run(store) -> None:
    # not a replay: 6 synthetic requests at --request-rate 10 (AIPerf's poisson arrivals)
    folder = AIPERF / "request_rate"
    recs = _aiperf_records(folder)
    summary = json.loads((folder / "profile_export_aiperf.json").read_text())
    phase = summary["input_config"]["phases"][0]
    assert (phase["type"], phase["rate"], len(recs)) == ("poisson", 10.0, 6)
    m = store.ingest(folder, name="rate").manifest  # detected
    assert m["tables"]["responses"]["rows_ok"] == 6
    _check_aiperf_requests(recs, _by_id(store.trace("rate").read("responses")))
    assert (m["meta"]["request_rate"], m["meta"]["max_concurrency"]) == (10.0, None)
    assert m["meta"]["runs"][0]["schedule"] == "poisson"


@pytest.mark.parametrize("name", ["", "profile_export.jsonl", "profile_export_aiperf.json"])
def test_aiperf_folder_or_either_file(store, name: str) -> None:
    path = AIPERF / "replay" / name
    assert registry.detect([path]).name == "aiperf_results"
    m = store.ingest(path, name="x").manifest  # detected, settings read from the summary
    assert m["tables"]["responses"]["rows_ok"] == N
    assert m["meta"]["model"] == "mock" and m["meta"]["tool_version"] == "0.13.0"


def test_aiperf_records_without_summary(store, tmp_path: Path) -> None:
    shutil.copy(AIPERF / "replay" / "profile_export.jsonl", tmp_path)
    m = store.ingest(tmp_path / "profile_export.jsonl", format="aiperf_results", name="x").manifest
    assert m["tables"]["responses"]["rows_ok"] == N
    assert (m["meta"]["tool"], m["meta"]["model"]) == ("aiperf", None)


def test_aiperf_summary_alone_is_refused(store, tmp_path: Path) -> None:
    shutil.copy(AIPERF / "replay" / "profile_export_aiperf.json", tmp_path)
    with pytest.raises(SourceError, match="no per-request record"):
        store.ingest(tmp_path / "profile_export_aiperf.json", format="aiperf_results", name="x")


def test_aiperf_timeouts_are_errors(store) -> None:
    recs = _aiperf_records(AIPERF / "timeouts")
    summary = json.loads((AIPERF / "timeouts" / "profile_export_aiperf.json").read_text())
    failed = {r["metadata"]["x_request_id"]: r for r in recs if r.get("error")}
    assert len(failed) == summary["error_summary"][0]["count"] == 11
    m = store.ingest(AIPERF / "timeouts", format="aiperf_results", name="to").manifest
    assert m["tables"]["responses"]["rows_ok"] == N  # a failed request is a row, not a reject
    rows = _by_id(store.trace("to").read("responses"))
    origin = min(r["metadata"]["credit_issued_ns"] for r in recs)
    for rid, r in failed.items():
        row = rows[rid]
        assert (row["status"], row["error"]) == ("error", r["error"]["message"]) == ("error", "TimeoutError()")
        assert json.loads(row["attrs"])["error_type"] == r["error"]["type"]
        assert row["sent_s"] == (r["metadata"]["request_start_ns"] - origin) / 1e9
        assert row["input_tokens"] == _metric(r, "error_isl")
        assert (row["ttft_s"], row["latency_s"], row["output_tokens"]) == (None, None, None)
    ok = [row for rid, row in rows.items() if rid not in failed]
    assert [row["status"] for row in ok] == ["ok"] * (N - 11)
    assert statistics.fmean(row["ttft_s"] for row in ok) * 1e3 == pytest.approx(
        summary["time_to_first_token"]["avg"], rel=1e-9)


def test_aiperf_truncated_and_garbled_lines(store, tmp_path: Path) -> None:
    lines = (AIPERF / "replay" / "profile_export.jsonl").read_text().splitlines()
    bad = json.loads(lines[4])
    bad["metadata"]["request_start_ns"] = "soon"
    lines[4] = json.dumps(bad)
    lines[7] = lines[7][: len(lines[7]) // 2]  # a record cut in the middle
    lines.append('{"metadata": {"session_num": 99')  # the run killed while writing its last line
    (tmp_path / "profile_export.jsonl").write_text("\n".join(lines) + "\n")
    m = store.ingest(tmp_path / "profile_export.jsonl", format="aiperf_results", name="bad").manifest
    t = m["tables"]["responses"]
    assert (t["rows_ok"], t["rows_rejected"]) == (N - 2, 3)
    rej = store.trace("bad").rejects().sort("line").collect()
    assert dict(zip(rej["line"].to_list(), rej["reason"].to_list(), strict=True)) == {
        5: "metadata.request_start_ns: not an integer",
        8: "line is not a JSON object",
        21: "line is not a JSON object",
    }
    assert rej["raw"].to_list() == [lines[4], lines[7], lines[20]]  # each line as in the file


def test_aiperf_rule_rejects_keep_the_files_line(store, tmp_path: Path) -> None:
    # A record that decodes but breaks a table rule (a negative TTFT) after a blank line: the
    # reject names the physical line and carries its text as AIPerf wrote it.
    lines = (AIPERF / "replay" / "profile_export.jsonl").read_text().splitlines()
    bad = json.loads(lines[2])
    bad["metrics"]["time_to_first_token"]["value"] = -1.0
    lines[2] = json.dumps(bad)
    worse = json.loads(lines[3])
    worse["metrics"]["output_sequence_length"]["value"] = 2.5  # a count written as a float
    lines[3] = json.dumps(worse)
    lines.insert(1, "")
    (tmp_path / "profile_export.jsonl").write_text("\n".join(lines) + "\n")
    m = store.ingest(tmp_path / "profile_export.jsonl", format="aiperf_results", name="r").manifest
    t = m["tables"]["responses"]
    assert (t["rows_in"], t["rows_ok"], t["rows_rejected"]) == (N, N - 2, 2)
    rej = store.trace("r").rejects().sort("line").collect()
    assert rej["line"].to_list() == [4, 5]
    assert rej["reason"][0].startswith("ttft_s")
    assert rej["reason"][1] == "metrics.output_sequence_length.value: not an integer"
    assert rej["raw"].to_list() == [lines[3], lines[4]]


def test_aiperf_other_time_units(store, tmp_path: Path) -> None:
    # The unit is read per value: the same TTFT written in ns and in s gives the same seconds.
    lines = (AIPERF / "replay" / "profile_export.jsonl").read_text().splitlines()
    recs = [json.loads(line) for line in lines[:2]]
    ttft = [r["metrics"]["time_to_first_token"]["value"] for r in recs]
    recs[0]["metrics"]["time_to_first_token"] = {"value": ttft[0] * 1e6, "unit": "ns"}
    recs[1]["metrics"]["time_to_first_token"] = {"value": 1.5, "unit": "tokens"}
    (tmp_path / "profile_export.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    store.ingest(tmp_path / "profile_export.jsonl", format="aiperf_results", name="u")
    df = store.trace("u").read("responses")
    assert df["ttft_s"].to_list() == [pytest.approx(ttft[0] / 1e3, rel=1e-12)]
    rej = store.trace("u").rejects().collect()
    assert rej["reason"].to_list() == ["time_to_first_token: unit is not a time unit"]


# ---------------------------------------------------------------- GuideLLM


def _guidellm(path: Path) -> dict:
    text = path.read_text()
    return yaml.safe_load(text) if path.suffix == ".yaml" else json.loads(text)


def _check_guidellm_requests(doc: dict, rows: dict[str, dict]) -> None:
    """Every request of the report against its row: the tool's own per-request values."""
    origin = min(b["scheduler_metrics"]["start_time"] for b in doc["benchmarks"])
    todo = [(i, b, bucket, status, r) for i, b in enumerate(doc["benchmarks"])
            for bucket, status in (("successful", "ok"), ("errored", "error"), ("incomplete", "incomplete"))
            for r in b["requests"][bucket]]
    assert len(rows) == len(todo)
    for i, bench, _, status, r in todo:
        row, t = rows[r["request_id"]], r["info"]["timings"]
        # a request that never reached the server has no request_args: the backend's model
        body = json.loads(r["request_args"])["body"] if r["request_args"] else {}
        assert row["status"] == status
        assert row["plan_s"] == t["targeted_start"] - origin
        assert row["sent_s"] == (t["request_start"] or t["resolve_start"]) - origin
        ttft = r["time_to_first_token_ms"]
        assert row["ttft_s"] == (None if ttft is None else ttft / 1e3)
        itl = r["inter_token_latency_ms"]
        assert row["itl_mean_s"] == (None if itl is None else itl / 1e3)
        assert row["latency_s"] == r["request_latency"]
        assert (row["input_tokens"], row["output_tokens"]) == (r["prompt_tokens"], r["output_tokens"])
        assert row["output_tokens_requested"] == body.get("max_completion_tokens")
        assert row["model"] == body.get("model", doc["config"]["spec"]["backend"]["model"]) == "mock"
        assert row["error"] == r["info"]["error"]
        attrs = json.loads(row["attrs"])
        assert attrs["info_status"] == r["info"]["status"]
        assert (attrs["benchmark"], attrs["strategy"]) == (i, bench["config"]["strategy"]["type_"])


def test_guidellm_replay_values(store) -> None:
    doc = _guidellm(GUIDELLM / "replay" / "benchmarks.json")
    bench = doc["benchmarks"][0]
    ok = bench["requests"]["successful"]
    assert (len(ok), len(bench["requests"]["errored"]), len(bench["requests"]["incomplete"])) == (N, 0, 0)
    m = store.ingest(GUIDELLM / "replay" / "benchmarks.json", format="guidellm_results", name="g").manifest
    t = m["tables"]["responses"]
    assert (t["rows_in"], t["rows_ok"], t["rows_rejected"]) == (N, N, 0)
    assert reconciles(m)
    df = store.trace("g").read("responses")
    _check_guidellm_requests(doc, _by_id(df))
    # the schedule starts at 0 (the scheduler's start); the first request left later (start-up)
    assert df["plan_s"].min() == 0.0 and df["sent_s"].min() > 0
    # mean TTFT = mean of GuideLLM's own per-request values = its summary (kept as float32)
    assert df["ttft_s"].mean() == pytest.approx(statistics.fmean(r["time_to_first_token_ms"] for r in ok) / 1e3,
                                                rel=1e-12)
    assert df["ttft_s"].mean() * 1e3 == pytest.approx(
        bench["metrics"]["time_to_first_token_ms"]["successful"]["mean"], rel=1e-6)
    assert df["output_tokens"].sum() == pytest.approx(
        bench["metrics"]["output_token_count"]["successful"]["total_sum"], rel=1e-12)
    for col in ("itl_p50_s", "itl_p99_s", "itl_max_s"):  # GuideLLM keeps first/last token times only
        assert df[col].null_count() == N

    meta = m["meta"]
    spec = doc["config"]["spec"]["backend"]
    assert (meta["tool"], meta["tool_version"], meta["model"]) == ("guidellm", "0.8.1", "mock")
    assert meta["base_url"] == spec["target"]
    assert meta["origin_epoch_ns"] == round(bench["scheduler_metrics"]["start_time"] * 1e9)
    run = meta["runs"][0]
    assert (run["profile"], run["strategy"]) == ("replay", "trace")
    assert run["max_concurrency"] == bench["config"]["strategy"]["max_concurrency"]


def test_guidellm_yaml_report(store) -> None:
    path = GUIDELLM / "replay_yaml" / "benchmarks.yaml"
    assert registry.detect([path]).name == "guidellm_results"
    m = store.ingest(path, name="gy").manifest  # detected
    assert m["tables"]["responses"]["rows_ok"] == N
    _check_guidellm_requests(_guidellm(path), _by_id(store.trace("gy").read("responses")))


def test_guidellm_cut_short_has_incomplete(store) -> None:
    path = GUIDELLM / "cut_short" / "benchmarks.json"
    doc = _guidellm(path)
    reqs = doc["benchmarks"][0]["requests"]
    assert (len(reqs["successful"]), len(reqs["errored"]), len(reqs["incomplete"])) == (9, 0, 2)
    store.ingest(path, format="guidellm_results", name="cut")
    df = store.trace("cut").read("responses")
    _check_guidellm_requests(doc, _by_id(df))
    inc = df.filter(status="incomplete")
    assert inc.height == 2 and inc["error"].to_list() == ["Request was cancelled"] * 2
    assert inc["latency_s"].null_count() == 2 and inc["sent_s"].null_count() == 0


def test_guidellm_server_down_is_errors(store) -> None:
    path = GUIDELLM / "server_down" / "benchmarks.json"
    doc = _guidellm(path)
    m = store.ingest(path, format="guidellm_results", name="down").manifest
    assert m["tables"]["responses"]["rows_ok"] == N
    df = store.trace("down").read("responses")
    _check_guidellm_requests(doc, _by_id(df))
    assert df["status"].to_list() == ["error"] * N
    assert set(df["error"].to_list()) == {"ConnectError('All connection attempts failed')"}
    assert df["ttft_s"].null_count() == N and df["sent_s"].null_count() == 0
    assert df["output_tokens_requested"].null_count() == N  # never sent: no request_args


def test_guidellm_two_benchmarks(store) -> None:
    # `--profile kind=concurrent --override profile.streams 1,2`: one report, two benchmarks
    path = GUIDELLM / "concurrent" / "benchmarks.json"
    doc = _guidellm(path)
    benches = doc["benchmarks"]
    assert [b["config"]["strategy"]["streams"] for b in benches] == [1, 2]
    m = store.ingest(path, name="conc").manifest  # detected
    assert m["tables"]["responses"]["rows_ok"] == 12
    df = store.trace("conc").read("responses")
    _check_guidellm_requests(doc, _by_id(df))  # one origin for both: the first benchmark's start
    assert m["meta"]["origin_epoch_ns"] == round(benches[0]["scheduler_metrics"]["start_time"] * 1e9)
    runs = m["meta"]["runs"]
    assert [(r["benchmark"], r["strategy"], r["max_concurrency"]) for r in runs] == [
        (0, "concurrent", 1), (1, "concurrent", 2)]
    assert [r["start_time"] for r in runs] == [b["scheduler_metrics"]["start_time"] for b in benches]
    # the second benchmark starts where the tool says, on the shared time line
    second = df.filter(pl.col("attrs").str.contains('"benchmark":1'))
    start1 = benches[1]["scheduler_metrics"]["start_time"] - benches[0]["scheduler_metrics"]["start_time"]
    assert second.height == 6 and second["plan_s"].min() >= start1


def test_guidellm_bad_request_is_a_reject(store, tmp_path: Path) -> None:
    doc = _guidellm(GUIDELLM / "replay" / "benchmarks.json")
    reqs = doc["benchmarks"][0]["requests"]["successful"]
    reqs[2]["info"]["timings"]["request_start"] = "later"
    reqs[5]["prompt_tokens"] = 12.5
    del reqs[9]["request_id"]
    (tmp_path / "benchmarks.json").write_text(json.dumps(doc))
    m = store.ingest(tmp_path / "benchmarks.json", format="guidellm_results", name="bad").manifest
    assert (m["tables"]["responses"]["rows_ok"], m["tables"]["responses"]["rows_rejected"]) == (N - 3, 3)
    rej = store.trace("bad").rejects().sort("line").collect()
    assert dict(zip(rej["line"].to_list(), rej["reason"].to_list(), strict=True)) == {
        3: "info.timings.request_start: not a number",
        6: "prompt_tokens: not an integer",
        10: "request_id is missing",
    }


def test_guidellm_truncated_report_is_refused(store, tmp_path: Path) -> None:
    text = (GUIDELLM / "replay" / "benchmarks.json").read_text()
    (tmp_path / "benchmarks.json").write_text(text[: len(text) // 2])
    assert registry.detect([tmp_path / "benchmarks.json"]).name == "guidellm_results"
    with pytest.raises(CorruptSourceError, match="truncated"):
        store.ingest(tmp_path / "benchmarks.json", format="guidellm_results", name="t")


def test_guidellm_json_and_yaml_twins_read_once(store, tmp_path: Path) -> None:
    # `--output kind=json --output kind=yaml` writes one run twice: the folder is read once.
    shutil.copy(GUIDELLM / "replay" / "benchmarks.json", tmp_path)
    shutil.copy(GUIDELLM / "replay_yaml" / "benchmarks.yaml", tmp_path)
    assert registry.detect([tmp_path]).name == "guidellm_results"
    m = store.ingest(tmp_path, format="guidellm_results", name="tw").manifest
    assert m["tables"]["responses"]["rows_ok"] == N
    assert [Path(f).name for f in m["files_used"]] == ["benchmarks.json"]


# ---------------------------------------------------------------- CLI


@pytest.mark.parametrize(("path", "reader"), [
    (AIPERF / "replay" / "profile_export.jsonl", "aiperf_results"),
    (GUIDELLM / "replay" / "benchmarks.json", "guidellm_results"),
])
def test_cli_ingest_detects_format(tmp_path: Path, path: Path, reader: str) -> None:
    home = str(tmp_path / "h")
    r = CliRunner().invoke(app, ["ingest", str(path), "--name", "run", "--home", home, "--json"])
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["manifest"]["tables"]["responses"]["rows_ok"] == N
    r = CliRunner().invoke(app, ["show", "run", "--home", home, "--json"])
    assert json.loads(r.stdout)["reader"]["name"] == reader
