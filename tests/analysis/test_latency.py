"""Latency characterization of load-generator results (issue 11) on the real AIPerf and
GuideLLM fixtures (tests/data/bench_results). Every expected figure is computed here from the
ingested responses table with polars (or counted by hand from it), never copied from the
analysis."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import workscope
from workscope.analysis import Options, Result, characterize
from workscope.analysis.latency import compare, parse_slos, window_s
from workscope.cli import app
from workscope.errors import UsageError

BENCH = Path(__file__).parents[1] / "data" / "bench_results"
TRACES = {
    "ap": "aiperf/replay",
    "at": "aiperf/timeouts",
    "ar": "aiperf/request_rate",
    "gr": "guidellm/replay",
    "gd": "guidellm/server_down",
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    h = tmp_path_factory.mktemp("latency") / "store"
    store = workscope.open(h)
    for name, rel in TRACES.items():
        store.ingest(BENCH / rel, name=name)  # format detected, as `workscope ingest` does
    return h


@pytest.fixture(scope="module")
def store(home: Path) -> workscope.Store:
    return workscope.open(home)


def _latency(store: workscope.Store, name: str, slo: str | None = None):  # type: ignore[no-untyped-def]
    return characterize(store.trace(name), only=["latency"], options=Options(slos=parse_slos(slo)))["latency"]


def _ok(store: workscope.Store, name: str) -> pl.DataFrame:
    return store.trace(name).read("responses").filter(pl.col("status") == "ok")


# ---------------------------------------------------------------- SLO parsing
def test_parse_slos_units() -> None:
    assert parse_slos("ttft=200ms,tpot=50ms,latency=2s") == (("ttft", 0.2), ("tpot", 0.05), ("latency", 2.0))
    assert parse_slos("e2e=1.5, itl=300us") == (("latency", 1.5), ("tpot", pytest.approx(3e-4)))
    assert parse_slos("ttft=0.25") == (("ttft", 0.25),)
    assert parse_slos(None) == () and parse_slos(" ") == ()
    for bad in ("ttft=200ms,ttft=1s", "speed=3s", "ttft=2h", "ttft=-1s", "ttft"):
        with pytest.raises(UsageError):
            parse_slos(bad)


def test_window_choice() -> None:
    assert window_s(3.3) == 0.1
    assert window_s(100.0) == 1.0
    assert window_s(3600.0) == 30.0


# ---------------------------------------------------------------- summary against polars
@pytest.mark.parametrize("name", ["ap", "gr", "at", "ar"])
def test_quantiles_match_polars(store: workscope.Store, name: str) -> None:
    r = _latency(store, name)
    ok = _ok(store, name)
    for metric, col in (("ttft", "ttft_s"), ("tpot", "itl_mean_s"), ("latency", "latency_s")):
        v = ok[col].drop_nulls()
        assert r.summary[f"{metric}_n"] == v.len()
        assert r.summary[f"{metric}_mean_s"] == pytest.approx(v.mean(), rel=1e-12)
        assert r.summary[f"{metric}_p50_s"] == pytest.approx(v.median(), rel=1e-12)
        for q in (0.9, 0.99):
            assert r.summary[f"{metric}_p{round(q * 100)}_s"] == pytest.approx(
                v.quantile(q, interpolation="linear"), rel=1e-12)
        assert r.summary[f"{metric}_max_s"] == v.max()


def test_counts_and_fits_on_aiperf_replay(store: workscope.Store) -> None:
    r = _latency(store, "ap")
    df = store.trace("ap").read("responses")
    assert (r.summary["requests"], r.summary["ok"], r.summary["failed"]) == (20, 20, 0)
    assert r.summary["error_share"] == 0.0
    assert r.summary["slos"] is None and "goodput_requests" not in r.summary
    end = (df["sent_s"] + df["latency_s"]).max()
    assert r.summary["span_s"] == pytest.approx(end - df["sent_s"].min(), rel=1e-12)
    # 20 ok requests: enough for the fitting code, so each measure gets a best family
    fits = r.tables["fits"]
    for metric in ("ttft", "tpot", "latency"):
        best = fits.filter((pl.col("metric") == metric) & pl.col("best"))
        assert best.height == 1 and r.summary[f"{metric}_fit"] == best["family"][0]
    # the CDF tables are monotone and end at the maximum
    for metric, col in (("ttft", "ttft_s"), ("latency", "latency_s")):
        c = r.tables["cdf"].filter(pl.col("metric") == metric)
        assert c["x"].is_sorted() and c["x"][-1] == df[col].max()


# ---------------------------------------------------------------- goodput
@pytest.mark.parametrize("name", ["ap", "gr", "at"])
def test_goodput_hand_count(store: workscope.Store, name: str) -> None:
    r = _latency(store, name, "ttft=10ms,latency=100ms")
    rows = store.trace(name).read("responses").to_dicts()
    good = 0
    for row in rows:  # counted row by row, not by the analysis' query
        if row["status"] == "ok" and row["ttft_s"] is not None and row["latency_s"] is not None \
                and row["ttft_s"] <= 0.01 and row["latency_s"] <= 0.1:
            good += 1
    assert 0 < good < len(rows)  # the SLO separates requests: the count can be wrong
    assert r.summary["slos"] == {"ttft": 0.01, "latency": 0.1}
    assert r.summary["goodput_requests"] == good
    assert r.summary["goodput_share"] == good / len(rows)
    assert r.summary["goodput_rate_per_s"] == pytest.approx(good / r.summary["span_s"])
    assert r.summary["slo_ttft_met"] == sum(1 for x in rows if x["status"] == "ok" and (x["ttft_s"] or 1) <= 0.01)


def test_goodput_tpot_only(store: workscope.Store) -> None:
    ok = _ok(store, "ap")
    bound = float(ok["itl_mean_s"].median())  # half the requests meet it, by construction
    r = _latency(store, "ap", f"tpot={bound * 1e3}ms")
    assert r.summary["goodput_requests"] == ok.filter(pl.col("itl_mean_s") <= bound).height
    assert r.summary["goodput_requests"] == 10


# ---------------------------------------------------------------- errors
def test_error_share_aiperf_timeouts(store: workscope.Store) -> None:
    r = _latency(store, "at")
    assert (r.summary["requests"], r.summary["failed"], r.summary["errors"]) == (20, 11, 11)
    assert r.summary["error_share"] == 11 / 20
    w = r.tables["windows"]
    assert w["requests"].sum() == 20 and w["failed"].sum() == 11
    # per window, independently: failures by floor(sent_s / window)
    df = store.trace("at").read("responses")
    ws = r.summary["window_s"]
    ref = (df.group_by((pl.col("sent_s") / ws).floor().cast(pl.Int64).alias("k"))
           .agg(pl.len().alias("n"), (pl.col("status") != "ok").sum().alias("bad")).sort("k"))
    assert w["requests"].to_list() == ref["n"].to_list()
    assert w["failed"].to_list() == ref["bad"].cast(pl.Int64).to_list()
    assert w["start_s"].to_list() == pytest.approx((ref["k"] * ws).to_list())


def test_error_share_guidellm_server_down(store: workscope.Store) -> None:
    df = store.trace("gd").read("responses")
    r = _latency(store, "gd", "ttft=10ms")
    assert r.summary["requests"] == df.height == 20
    assert r.summary["failed"] == df.filter(pl.col("status") != "ok").height == 20
    assert r.summary["error_share"] == 1.0
    assert r.summary["ttft_n"] == 0 and r.summary["ttft_p50_s"] is None
    assert r.summary["goodput_requests"] == 0 and r.summary["goodput_share"] == 0.0
    assert r.tables["windows"]["error_share"].to_list() == [1.0] * r.tables["windows"].height


# ---------------------------------------------------------------- by input length
def test_input_buckets(store: workscope.Store) -> None:
    r = _latency(store, "ap")
    b = r.tables["by_input"]
    ok = _ok(store, "ap")
    assert b["requests"].sum() == ok.height
    for row in b.iter_rows(named=True):
        part = ok.filter((pl.col("input_tokens") >= row["from_tokens"]) & (pl.col("input_tokens") <= row["to_tokens"]))
        assert part.height == row["requests"]
        assert row["ttft_p50_s"] == pytest.approx(part["ttft_s"].median(), rel=1e-12)
        assert row["latency_p99_s"] == pytest.approx(part["latency_s"].quantile(0.99, interpolation="linear"), rel=1e-12)
        assert math.log2(row["to_tokens"]).is_integer()


# ---------------------------------------------------------------- compare
def test_compare_quantiles(store: workscope.Store) -> None:
    a, b = _latency(store, "ap"), _latency(store, "gr")
    c = compare(a, b, "aiperf", "guidellm")
    q = c.tables["quantiles"]
    assert q.height == 15
    row = q.filter((pl.col("metric") == "ttft") & (pl.col("quantile") == "p50")).row(0, named=True)
    ta, tb = _ok(store, "ap")["ttft_s"].median(), _ok(store, "gr")["ttft_s"].median()
    assert row["a"] == pytest.approx(ta) and row["b"] == pytest.approx(tb)
    assert c.summary["ttft_p50_diff_s"] == pytest.approx(tb - ta)
    assert c.summary["ttft_p50_ratio"] == pytest.approx(tb / ta)
    assert set(c.tables["cdf"]["trace"].unique()) == {"aiperf", "guidellm"}
    with pytest.raises(UsageError):
        compare(a, Result("usage_summary", "x", {}, kind="usage_summary"))


# ---------------------------------------------------------------- CLI
def test_cli_characterize_slo_json(home: Path) -> None:
    res = CliRunner().invoke(app, ["characterize", "ap", "--slo", "ttft=10ms", "--json", "--home", str(home)])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    s = doc["results"]["latency"]["summary"]
    ok = workscope.open(home).trace("ap").read("responses").filter(pl.col("status") == "ok")
    good = ok.filter(pl.col("ttft_s") <= 0.01).height
    assert 0 < good < 20
    assert s["slos"] == {"ttft": 0.01}
    assert s["goodput_requests"] == good and s["goodput_share"] == good / 20


def test_cli_bad_slo(home: Path) -> None:
    res = CliRunner().invoke(app, ["characterize", "ap", "--slo", "ttft=fast", "--home", str(home)])
    assert res.exit_code != 0


def test_cli_compare_latency(home: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["compare", "ap", "at", "--only", "latency", "--out", str(tmp_path),
                                   "--no-png", "--json", "--home", str(home)])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    lc = doc["latency_compare"]
    assert lc["summary"]["error_share_a"] == 0.0 and lc["summary"]["error_share_b"] == 0.55
    assert json.loads((tmp_path / "latency_compare.json").read_text())["summary"] == lc["summary"]
    assert (tmp_path / "report.html").exists()
