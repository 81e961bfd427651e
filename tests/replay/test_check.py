"""`replay check`: a load generator's run (responses) against its plan (requests).

Plans are ingested through the `mapped` reader from a CSV; results are canonical responses
tables written with polars and ingested through a small test reader (the mapped reader has
no time-point handling for responses' sent_s yet).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import workscope
from workscope.cli import app
from workscope.errors import DataError, UsageError
from workscope.ingest import registry
from workscope.ingest.reader import FILE, LINE, REASON, Reader, ScanContext, ScanResult, TablePart
from workscope.replay.check import Thresholds, check
from workscope.replay.workload import Workload
from workscope.schemas import TABLES

runner = CliRunner()
N = 100


class _Responses(Reader):
    """A Parquet file already in the canonical responses layout, as one responses table."""

    name = "test_responses"
    tables = ("responses",)

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        frame = (pl.scan_parquet(paths[0]).with_row_index(LINE, offset=1)
                 .with_columns(pl.col(LINE).cast(pl.Int64), pl.lit(str(paths[0])).alias(FILE),
                               pl.lit(None, pl.String).alias(REASON)))
        return ScanResult({"responses": [TablePart(frame, pl.lit("row"), str(paths[0]))]}, list(paths))


@pytest.fixture(autouse=True)
def _reader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry._cache, "test_responses", _Responses())


def plan_times() -> np.ndarray:
    """N planned arrivals 100 s into the source trace (so rebasing shows), random gaps of at
    least 10 ms (so that the few ms of send jitter never swap two sends)."""
    gaps = 0.01 + np.random.default_rng(7).exponential(0.2, N - 1)
    return 100.0 + np.concatenate([[0.0], np.cumsum(gaps)])


def ingest_plan(store: workscope.Store, tmp: Path, times: np.ndarray, name: str = "plan") -> None:
    rows = ["t,id,inp,out"] + [f"{float(t)!r},r{i},{100 + i},{10 + i}" for i, t in enumerate(times)]
    (tmp / f"{name}.csv").write_text("\n".join(rows) + "\n")
    (tmp / f"{name}.toml").write_text(
        'table = "requests"\nformat = "csv"\n[time]\nformat = "seconds"\n'
        '[columns]\narrival_s = "t"\nrequest_id = "id"\ninput_tokens = "inp"\noutput_tokens = "out"\n')
    store.ingest(tmp / f"{name}.csv", format="mapped", name=name, options={"mapping": str(tmp / f"{name}.toml")})


def responses(sent: np.ndarray, *, ids: list[str] | None = None, plan_s: np.ndarray | None = None,
              inp: list[int] | None = None, req: list[int] | None = None, out: list[int] | None = None,
              status: list[str] | None = None) -> pl.DataFrame:
    """A canonical responses table; tokens default to the plan's (100 + i in, 10 + i out)."""
    n = len(sent)
    cols = {"request_id": ids if ids is not None else [str(i) for i in range(n)],
            "plan_s": plan_s if plan_s is not None else [None] * n, "sent_s": sent,
            "input_tokens": inp if inp is not None else [100 + i for i in range(n)],
            "output_tokens_requested": req if req is not None else [10 + i for i in range(n)],
            "output_tokens": out if out is not None else [10 + i for i in range(n)],
            "status": status if status is not None else ["ok"] * n}
    df = pl.DataFrame(cols, schema_overrides={"plan_s": pl.Float64, "sent_s": pl.Float64})
    return df.with_columns([pl.lit(None).cast(TABLES["responses"].polars_schema[c]).alias(c)
                            for c in TABLES["responses"].names if c not in cols]).select(TABLES["responses"].names)


def ingest_result(store: workscope.Store, tmp: Path, df: pl.DataFrame, name: str = "run") -> None:
    df.write_parquet(tmp / f"{name}.parquet")
    store.ingest(tmp / f"{name}.parquet", format="test_responses", name=name)


def jitter() -> np.ndarray:
    """Send lateness 0, 1, 2, 3, 4 ms in turn: p50 2 ms, p99 and max 4 ms."""
    return (np.arange(N) % 5) * 0.001


@pytest.fixture
def planned(store: workscope.Store, tmp_path: Path) -> np.ndarray:
    times = plan_times()
    ingest_plan(store, tmp_path, times)
    return times - times[0]  # the schedule as a load generator replays it


def test_faithful_run_has_exact_lateness(store: workscope.Store, tmp_path: Path, planned: np.ndarray) -> None:
    # the tool kept no ids and recorded no plan_s: matched by order, timed against the rebased plan
    ingest_result(store, tmp_path, responses(planned + jitter()))
    rep = check("plan", "run", store)
    assert rep.verdict == "faithful" and rep.failed_checks == []
    assert rep.matched_by == "order"
    assert rep.lateness_s["p50"] == pytest.approx(0.002, abs=1e-9)
    assert rep.lateness_s["p99"] == pytest.approx(0.004, abs=1e-9)
    assert rep.lateness_s["max"] == pytest.approx(0.004, abs=1e-9)
    assert rep.lateness_s["from_plan_s"] == 0
    assert rep.requests == {"planned": N, "in_result": N, "matched": N, "dropped": 0, "failed": 0, "extra": 0,
                            "loss_share": 0.0}
    assert rep.timing["interarrival_ks"] <= 0.1
    tok = {d["comparison"]: d for d in rep.tokens.to_dicts()}
    # sum(100 + i) = 100 * 100 + 4950; sum(10 + i) = 10 * 100 + 4950
    assert tok["input_sent"] == {"comparison": "input_sent", "n": N, "planned": 14950, "realised": 14950,
                                 "mismatched": 0, "mismatch_share": 0.0}
    assert tok["output_received"]["planned"] == 5950 and tok["output_received"]["mismatched"] == 0


def test_behind_schedule_bunched_sends(store: workscope.Store, tmp_path: Path) -> None:
    # plan: one request every 0.1 s; the tool sends them ten at a time, each batch 1 s after
    # its first planned request: lateness 1.0, 0.9, ..., 0.1 s, ten of each
    times = np.arange(N) * 0.1
    ingest_plan(store, tmp_path, times)
    sent = (np.arange(N) // 10 + 1) * 1.0
    ingest_result(store, tmp_path, responses(sent, ids=[f"r{i}" for i in range(N)], plan_s=times))
    rep = check("plan", "run", store)
    assert rep.verdict == "behind schedule"
    assert rep.failed_checks == ["lateness_p99_s", "interarrival_ks"]
    assert rep.matched_by == "request_id" and rep.lateness_s["from_plan_s"] == N
    assert rep.lateness_s["p50"] == pytest.approx(0.55)  # between the 50th (0.5) and 51st (0.6)
    assert rep.lateness_s["p99"] == pytest.approx(1.0)
    assert rep.lateness_s["max"] == pytest.approx(1.0)
    # planned gaps all 0.1 s; realised: 90 gaps of 0 within batches, 9 of 1 s between them
    assert rep.timing["interarrival_ks"] == pytest.approx(90 / 99)
    # ten per second on both sides: the per-window counts cannot see the bunching
    assert rep.timing["window_count_ks"] == pytest.approx(0.0)
    # a looser lateness limit still fails on the arrival shape
    loose = check("plan", "run", store, thresholds=Thresholds(max_lateness_p99_s=2.0))
    assert loose.verdict == "behind schedule" and loose.failed_checks == ["interarrival_ks"]


def test_lengths_changed(store: workscope.Store, tmp_path: Path, planned: np.ndarray) -> None:
    inp = [100 + i for i in range(N)]
    inp[3] += 1  # one prompt a token longer: 1 % of requests, at the limit
    out = [10 + i for i in range(N)]
    for i in (10, 20):  # two answers stopped early (no ignore_eos): 2 %
        out[i] = 1
    ingest_result(store, tmp_path, responses(planned + jitter(), inp=inp, out=out))
    rep = check("plan", "run", store)
    assert rep.verdict == "lengths changed"
    assert rep.failed_checks == ["output_received_mismatch_share"]
    tok = {d["comparison"]: d for d in rep.tokens.to_dicts()}
    assert tok["input_sent"]["mismatched"] == 1 and tok["input_sent"]["realised"] == 14951
    assert tok["output_requested"]["mismatch_share"] == 0.0
    assert tok["output_received"]["mismatched"] == 2
    assert tok["output_received"]["realised"] == 5950 - 20 - 30 + 2
    assert tok["output_received"]["mismatch_share"] == pytest.approx(0.02)
    # a relative tolerance of 1 % absorbs the one-token prompt (101 vs 103 planned)
    tol = check("plan", "run", store, thresholds=Thresholds(token_rel_tol=0.01))
    assert {d["comparison"]: d["mismatched"] for d in tol.tokens.to_dicts()}["input_sent"] == 0


def test_dropped_and_failed(store: workscope.Store, tmp_path: Path, planned: np.ndarray) -> None:
    keep = [i for i in range(N) if i not in (0, 40)]  # two planned requests never sent, the first one
    status = ["ok"] * len(keep)
    status[keep.index(70)] = "error"
    out = [10 + i for i in keep]
    out[keep.index(70)] = 0
    # the run's clock starts at its first send: request r1, 1 ms late
    sent = (planned + jitter())[keep] - (planned[1] + 0.001)
    df = responses(sent, ids=[f"r{i}" for i in keep],
                   inp=[100 + i for i in keep], req=[10 + i for i in keep], out=out, status=status)
    ingest_result(store, tmp_path, df)
    rep = check("plan", "run", store)
    assert rep.verdict == "incomplete" and rep.failed_checks == ["loss_share"]
    assert rep.matched_by == "request_id"  # the ids place the gaps
    assert rep.requests == {"planned": N, "in_result": 98, "matched": 98, "dropped": 2, "failed": 1,
                            "extra": 0, "loss_share": 0.03}
    # timed from r1, the first request sent, whose own 1 ms is the run's zero: jitter - 1 ms
    lat = rep.matches["lateness_s"]
    assert lat.min() == pytest.approx(-0.001, abs=1e-9) and lat.max() == pytest.approx(0.003, abs=1e-9)
    assert rep.lateness_s["max"] == pytest.approx(0.003, abs=1e-9)
    # the failed request's empty answer is a failure, not a changed length
    tok = {d["comparison"]: d for d in rep.tokens.to_dicts()}
    assert tok["output_received"]["n"] == 97 and tok["output_received"]["mismatched"] == 0


def test_order_matching_counts_the_unmatched_tail(store: workscope.Store, tmp_path: Path,
                                                  planned: np.ndarray) -> None:
    ingest_result(store, tmp_path, responses((planned + jitter())[:95]))
    rep = check("plan", "run", store, thresholds=Thresholds(max_loss_share=0.05))
    assert rep.matched_by == "order" and rep.requests["dropped"] == 5
    assert rep.lateness_s["max"] == pytest.approx(0.004, abs=1e-9)
    assert rep.verdict == "faithful"  # 5 % lost, allowed by the looser limit


def test_plan_from_workload_file_and_cli_json(store: workscope.Store, tmp_path: Path, planned: np.ndarray) -> None:
    from workscope.replay.pipeline import export

    export(store.trace("plan"), "parquet", tmp_path / "plan.parquet")
    ingest_result(store, tmp_path, responses(planned + jitter(), ids=[f"r{i}" for i in range(N)]))
    r = runner.invoke(app, ["replay", "check", str(tmp_path / "plan.parquet"), "run", "--home", str(store.home),
                            "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["verdict"] == "faithful" and doc["matched_by"] == "request_id"
    assert doc["lateness_s"]["p99"] == pytest.approx(0.004, abs=1e-9)
    assert doc["thresholds"]["max_lateness_p99_s"] == 0.05
    assert [c["check"] for c in doc["checks"]][:2] == ["loss_share", "lateness_p99_s"]
    md = runner.invoke(app, ["replay", "check", "plan", "run", "--home", str(store.home), "--markdown"])
    assert md.exit_code == 0 and "**faithful**" in md.stdout
    tight = runner.invoke(app, ["replay", "check", "plan", "run", "--home", str(store.home),
                                "--max-lateness-p99", "0.001", "--json"])
    assert json.loads(tight.stdout)["verdict"] == "behind schedule"
    text = runner.invoke(app, ["replay", "check", "plan", "run", "--home", str(store.home)])
    assert text.exit_code == 0 and "faithful" in text.stdout


def test_errors_are_one_line(store: workscope.Store, tmp_path: Path, planned: np.ndarray) -> None:
    ingest_result(store, tmp_path, responses(planned))
    home = str(store.home)
    # RESULT without responses: the plan trace given twice
    r = runner.invoke(app, ["replay", "check", "plan", "plan", "--home", home, "--json"])
    assert r.exit_code == 2
    doc = json.loads(r.stdout)
    assert doc["type"] == "UsageError" and "has no responses table" in doc["error"]
    assert len(r.stderr.strip().splitlines()) == 1
    # PLAN without requests: the result trace as plan
    r = runner.invoke(app, ["replay", "check", "run", "run", "--home", home])
    assert r.exit_code == 2 and "requests" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    with pytest.raises(UsageError, match="has no responses table"):
        check("plan", "plan", store)
    with pytest.raises(UsageError, match="window_s"):
        check("plan", "run", store, window_s=0)
    with pytest.raises(UsageError, match="threshold"):
        Thresholds(max_loss_share=-1)
    # the tool's ids are its positions "0".."99", the plan's "r0".."r99": none in common
    with pytest.raises(UsageError, match="no result id is a plan id"):
        check("plan", "run", store, match="id")
    empty = Workload("requests", store.trace("plan").scan("requests").head(0))
    with pytest.raises(DataError, match="no requests"):
        check(empty, responses(planned))


def test_dataframe_result_with_partly_recorded_plan_s(store: workscope.Store, planned: np.ndarray) -> None:
    # a bare frame (int ids, no optional columns); the tool recorded plan_s for the first 50
    # requests only, 10 ms after the plan's own times: those rows are 10 ms less late
    sent = planned + 0.020
    plan_s = np.where(np.arange(N) < 50, planned + 0.010, np.nan)
    df = pl.DataFrame({"request_id": list(range(N)), "sent_s": sent, "status": ["ok"] * N,
                       "plan_s": pl.Series(plan_s).fill_nan(None)})
    rep = check(store.trace("plan"), df)
    assert rep.plan == "plan" and rep.matched_by == "order"
    assert rep.lateness_s["from_plan_s"] == 50
    assert rep.lateness_s["p50"] == pytest.approx(0.015, abs=1e-9)  # 50 at 10 ms, 50 at 20 ms
    assert rep.lateness_s["max"] == pytest.approx(0.020, abs=1e-9)
    assert any("plan_s for 50 of 100" in n for n in rep.notes)
    # no token columns recorded: those checks are skipped, not passed
    assert rep.checks.filter(pl.col("check") == "input_sent_mismatch_share")["passed"][0] is None
    assert rep.verdict == "faithful"


def test_nothing_sent_is_incomplete(store: workscope.Store, planned: np.ndarray) -> None:
    rep = check("plan", responses(np.array([])), store)
    assert rep.verdict == "incomplete"
    assert rep.requests["dropped"] == N and rep.requests["loss_share"] == 1.0
    assert rep.lateness_s == {"n": 0, "p50": None, "p99": None, "max": None, "from_plan_s": 0}
    assert json.loads(rep.to_json())["lateness_s"]["p99"] is None


def test_a_real_aiperf_replay_checks_against_its_plan(tmp_path: Path) -> None:
    """The bar of issue 11: AIPerf's own result file (tests/data/bench_results/aiperf/replay,
    made by the conformance live replay of the first 20 conv requests at 4x) read back, and
    checked against the plan it replayed: the lateness is what AIPerf's own timestamps show."""
    from tests.conftest import DATA, SAMPLES
    from workscope.replay.pipeline import TransformSpec, export

    store = workscope.open(tmp_path / "s")
    store.ingest(SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv", format="azure_llm", name="conv")
    wl = Workload.from_trace(store.trace("conv"))
    plan = tmp_path / "plan.parquet"
    export(Workload(wl.table, wl.frame.head(20), wl.meta), "parquet", plan, spec=TransformSpec(speed=4.0))
    result = DATA / "bench_results" / "aiperf" / "replay"
    store.ingest(result, name="run")
    report = check(plan, "run", store)

    recs = [json.loads(line)["metadata"] for line in (result / "profile_export.jsonl").read_text().splitlines()]
    late = np.array(sorted((r["request_start_ns"] - r["credit_issued_ns"]) / 1e9 for r in recs))
    assert report.requests["matched"] == 20 and report.requests["dropped"] == 0 and report.requests["failed"] == 0
    assert report.lateness_s["max"] == pytest.approx(late.max(), abs=1e-9)
    assert report.lateness_s["p50"] == pytest.approx(float(np.quantile(late, 0.5)), abs=1e-9)
    # The send schedule was kept; the lengths were not, and the check says which: AIPerf counts
    # the prompt it sent again with its tokenizer (re-encoding the decoded ids merges a few
    # tokens: +1..+10 here), and the mock server answers with its own text, whatever
    # max_tokens asked for.
    assert report.verdict == "lengths changed"
    assert report.failed_checks == ["input_sent_mismatch_share", "output_received_mismatch_share"]
