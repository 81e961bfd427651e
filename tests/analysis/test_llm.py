"""LLM analyses: tokens, sessions, failures, prefix reuse against independent computations."""

from __future__ import annotations

import csv
import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import vl_convert
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import workscope
from workscope.analysis import llm
from workscope.analysis.base import Context, Options
from workscope.analysis.llm import (
    ANALYSES,
    block_reuse,
    lru_hit_ratios,
    lru_stack_distances,
    previous_occurrence,
)
from workscope.reports.charts_llm import CHARTS

# Not imported from tests.analysis.conftest: the evalys wheel in the venv installs a top-level
# ``tests`` package that shadows this repository's tests/ directory.
DATA = Path(__file__).parent.parent / "data"
BY_NAME = {a.name: a for a in ANALYSES}
LLM_TRACES = ("azure_llm_code", "azure_llm_conv", "mooncake", "burstgpt", "qwen", "genai")
OTHER_TRACES = ("nasa_ipsc", "azure_functions_2021", "alibaba_openb", "huawei25", "philly")


def run(trace: workscope.Trace, name: str, options: Options | None = None) -> llm.Result:
    ctx = Context(trace, options)
    assert BY_NAME[name].applies(ctx)
    return BY_NAME[name].run(ctx)


def requests_trace(store: workscope.Store, tmp: Path, name: str, df: pl.DataFrame,
                   columns: dict[str, str], meta: str = "") -> workscope.Trace:
    """Ingest ``df`` (Parquet, so list columns survive) through the mapped reader."""
    src = tmp / f"{name}.parquet"
    df.write_parquet(src)
    cols = "\n".join(f'{k} = "{v}"' for k, v in columns.items())
    toml = tmp / f"{name}.toml"
    toml.write_text(f'table = "requests"\nformat = "parquet"\n[time]\nformat = "seconds"\n'
                    f"[columns]\n{cols}\n" + (f"[meta]\n{meta}\n" if meta else ""))
    store.ingest(src, format="mapped", name=name, options={"mapping": str(toml)})
    return store.trace(name)


# ====================================================================== LRU: brute force
def brute_lru_hits(stream: list[int], size: int) -> int:
    """Hits of an LRU cache of ``size`` entries, simulated with an OrderedDict."""
    cache: OrderedDict[int, None] = OrderedDict()
    hits = 0
    for b in stream:
        if b in cache:
            hits += 1
            cache.move_to_end(b)
        else:
            cache[b] = None
            if len(cache) > size:
                cache.popitem(last=False)
    return hits


def brute_stack_distance(stream: list[int]) -> list[int]:
    out = []
    for i, b in enumerate(stream):
        prev = max((j for j in range(i) if stream[j] == b), default=-1)
        out.append(-1 if prev < 0 else len(set(stream[prev + 1:i])))
    return out


streams = st.lists(st.integers(0, 12), min_size=0, max_size=120)


@settings(max_examples=150, deadline=None)
@given(streams)
def test_lru_hit_ratio_equals_ordereddict_simulation_for_every_size(stream: list[int]) -> None:
    d = lru_stack_distances(np.asarray(stream, dtype=np.int64))
    sizes = list(range(16))
    hr = lru_hit_ratios(d, sizes)
    if not stream:
        assert np.isnan(hr).all()
        return
    for n, h in zip(sizes, hr):
        assert h == brute_lru_hits(stream, n) / len(stream) if n else h == 0.0
    assert (np.diff(hr) >= 0).all()  # LRU is a stack algorithm: monotone in the size


@settings(max_examples=100, deadline=None)
@given(streams)
def test_stack_distance_and_previous_occurrence_match_definitions(stream: list[int]) -> None:
    a = np.asarray(stream, dtype=np.int64)
    assert lru_stack_distances(a).tolist() == brute_stack_distance(stream)
    naive, last = [], {}
    for i, b in enumerate(stream):
        naive.append(last.get(b, -1))
        last[b] = i
    assert previous_occurrence(a).tolist() == naive


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 70), min_size=1, max_size=80), st.data())
def test_count_less_matches_naive(values: list[int], data: st.DataObject) -> None:
    m = data.draw(st.integers(1, 20))
    ends = data.draw(st.lists(st.integers(0, len(values)), min_size=m, max_size=m))
    bounds = data.draw(st.lists(st.integers(0, 130), min_size=m, max_size=m))
    got = llm._count_less(np.asarray(values), np.asarray(ends), np.asarray(bounds))
    assert got.tolist() == [sum(v < y for v in values[:e]) for e, y in zip(ends, bounds)]


def test_lru_large_random_stream_against_simulation() -> None:
    rng = np.random.default_rng(3)
    stream = (rng.zipf(1.3, 20_000) % 3000).tolist()
    hr = lru_hit_ratios(lru_stack_distances(np.asarray(stream)), [1, 10, 100, 1000, 5000])
    for n, h in zip([1, 10, 100, 1000, 5000], hr):
        assert h == brute_lru_hits(stream, n) / len(stream)


requests_lists = st.lists(st.lists(st.integers(0, 15), max_size=8), max_size=30)


@settings(max_examples=150, deadline=None)
@given(requests_lists)
def test_block_reuse_share_equals_set_count(reqs: list[list[int]]) -> None:
    ids = np.asarray([b for r in reqs for b in r], dtype=np.int64)
    req = np.asarray([i for i, r in enumerate(reqs) for _ in r], dtype=np.int64)
    share, dist, pairs = block_reuse(ids, req)
    seen: dict[int, int] = {}
    hits, total, dists = 0, 0, []
    for i, r in enumerate(reqs):
        for b in set(r):
            total += 1
            if b in seen:
                hits += 1
                dists.append(i - seen[b])
        for b in set(r):
            seen[b] = i
    assert pairs == total
    if total:
        assert share == hits / total
    assert sorted(dist.tolist()) == sorted(dists)


# ====================================================================== tokens
@pytest.fixture(scope="module")
def token_trace(tmp_path_factory: pytest.TempPathFactory) -> tuple[workscope.Trace, pl.DataFrame]:
    tmp = tmp_path_factory.mktemp("tok")
    store = workscope.open(tmp / "s")
    rng = np.random.default_rng(11)
    n = 6000
    z = rng.standard_normal((n, 2))
    inp = np.exp(6 + 1.1 * z[:, 0]).astype(np.int64)
    out = np.exp(4 + 0.7 * (0.6 * z[:, 0] + 0.8 * z[:, 1])).astype(np.int64)
    out[:50] = 0  # zero-token rows: their own CDF point
    inp[:8] = 1024  # exact powers of two sit on grid points
    g = rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1])
    df = pl.DataFrame({"t": np.sort(rng.uniform(0, 3600, n)), "inp": inp, "out": out, "g": g})
    cols = {"arrival_s": "t", "input_tokens": "inp", "output_tokens": "out", "model": "g"}
    return requests_trace(store, tmp, "tok", df, cols), df


def test_token_quantiles_cdf_and_correlations_match_numpy_scipy(token_trace) -> None:
    trace, df = token_trace
    r = run(trace, "llm_tokens")
    s = r.summary
    for q, col in (("input", "inp"), ("output", "out")):
        x = df[col].to_numpy().astype(float)
        assert s[f"{q}_tokens_n"] == x.size
        assert s[f"{q}_tokens_mean"] == pytest.approx(x.mean(), rel=1e-12)
        assert s[f"{q}_tokens_max"] == x.max()
        for p in (0.5, 0.9, 0.99):
            # DuckDB quantile_cont = numpy method="linear" (Hyndman–Fan type 7)
            assert s[f"{q}_tokens_p{round(p * 100)}"] == pytest.approx(np.quantile(x, p, method="linear"), rel=1e-12)
        cdf = r.tables["cdf"].filter((pl.col("group") == "(all)") & (pl.col("quantity") == q))
        for xg, c in cdf.select("tokens", "cdf").iter_rows():
            assert c == (x <= xg).mean(), (q, xg)
        assert cdf["cdf"][-1] == 1.0 and (cdf["cdf"].diff().drop_nulls() >= 0).all()
    x_in, x_out = df["inp"].to_numpy().astype(float), df["out"].to_numpy().astype(float)
    assert s["pearson_log1p_tokens"] == pytest.approx(stats.pearsonr(np.log1p(x_in), np.log1p(x_out)).statistic, abs=1e-9)
    assert s["pearson_tokens"] == pytest.approx(stats.pearsonr(x_in, x_out).statistic, abs=1e-9)
    # n < max_sample: the "sample" is every row, so Spearman is exact
    assert s["spearman_sample_n"] == df.height
    assert s["spearman_tokens"] == pytest.approx(stats.spearmanr(x_in, x_out).statistic, abs=1e-12)
    assert 0.3 < s["spearman_tokens"] < 0.8  # built with a positive log-correlation of 0.6


def test_token_per_group_figures_and_joint_histogram(token_trace) -> None:
    trace, df = token_trace
    r = run(trace, "llm_tokens", Options(top_groups=2))
    stt = r.tables["stats"]
    assert set(stt["group"]) == {"(all)", "a", "b", "(other)"}  # c pooled beyond the top 2
    pooled = df.with_columns(pl.when(pl.col("g") == "c").then(pl.lit("(other)")).otherwise(pl.col("g")).alias("g"))
    for (grp,), part in pooled.group_by(["g"]):
        row = stt.filter((pl.col("group") == grp) & (pl.col("quantity") == "input")).row(0, named=True)
        x = part["inp"].to_numpy().astype(float)
        assert row["requests"] == x.size and row["p90"] == pytest.approx(np.quantile(x, 0.9), rel=1e-12)
        if grp == "(other)":  # correlations are given for the top groups only
            assert grp not in r.tables["correlation"]["group"].to_list()
            continue
        c = r.tables["correlation"].filter(pl.col("group") == grp).row(0, named=True)
        y = part["out"].to_numpy().astype(float)
        assert c["pearson_log1p"] == pytest.approx(stats.pearsonr(np.log1p(x), np.log1p(y)).statistic, abs=1e-9)
        assert c["spearman"] == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    joint = r.tables["joint"].filter(pl.col("group") == "(all)")
    assert joint["requests"].sum() == df.height
    x_in, x_out = df["inp"].to_numpy(), df["out"].to_numpy()
    for row in joint.sample(10, seed=1).iter_rows(named=True):
        inside = ((x_in >= row["input_lo"] - 1e-9) & (x_in < row["input_hi"] - 1e-9)
                  & (x_out >= row["output_lo"] - 1e-9) & (x_out < row["output_hi"] - 1e-9))
        assert inside.sum() == row["requests"]


def test_spearman_on_a_seeded_sample(token_trace) -> None:
    trace, df = token_trace
    a = run(trace, "llm_tokens", Options(max_sample=2000, seed=5)).summary
    b = run(trace, "llm_tokens", Options(max_sample=2000, seed=5)).summary
    assert a["spearman_sample_n"] == 2000 and a["spearman_tokens"] == b["spearman_tokens"]
    full = stats.spearmanr(df["inp"], df["out"]).statistic
    assert abs(a["spearman_tokens"] - full) < 0.06  # SE of rho on 2000 pairs ~ 0.02
    assert a["pearson_log1p_tokens"] == pytest.approx(run(trace, "llm_tokens").summary["pearson_log1p_tokens"])


# ====================================================================== real traces
@pytest.fixture(scope="module")
def real_results(real_store) -> dict[tuple[str, str], llm.Result | None]:
    out: dict[tuple[str, str], llm.Result | None] = {}
    for name in LLM_TRACES + OTHER_TRACES:
        ctx = Context(real_store.trace(name))
        for a in ANALYSES:
            out[(name, a.name)] = a.run(ctx) if a.applies(ctx) else None
    return out


def test_applies_exactly_where_the_columns_are(real_results) -> None:
    expect = {
        "llm_tokens": {"azure_llm_code", "azure_llm_conv", "mooncake", "burstgpt", "qwen", "genai"},
        "llm_sessions": {"burstgpt", "qwen"},
        "llm_failures": {"burstgpt", "genai"},
        "llm_prefix": {"mooncake", "qwen"},
    }
    for a in ANALYSES:
        got = {t for t in LLM_TRACES + OTHER_TRACES if real_results[(t, a.name)] is not None}
        assert got == expect[a.name], a.name


def test_results_are_json_ready_and_charts_convert(real_results) -> None:
    done = 0
    for r in real_results.values():
        if r is None:
            continue
        json.loads(r.to_json())
        charts = CHARTS[r.kind](r)
        assert charts, r.name
        for c in charts:
            assert vl_convert.vegalite_to_svg(c.to_json()).startswith("<svg")
        done += 1
    assert done == 12


def test_burstgpt_sessions_and_failures_hand_counts(real_results) -> None:
    s = real_results[("burstgpt", "llm_sessions")].summary
    # two conversation sessions of two turns; API-log rows carry no session id
    assert (s["sessions"], s["requests_in_sessions"], s["share_requests_in_sessions"]) == (2, 4, 0.5)
    assert s["turns_max"] == 2 and s["multi_turn_share"] == 1.0
    gaps = sorted([19440113.0 - 19440110.0, 19440166.0 - 19440140.0])  # by hand from the file
    assert s["inter_turn_gaps"] == 2 and s["inter_turn_gap_max_s"] == gaps[1]
    assert s["inter_turn_gap_mean_s"] == pytest.approx(np.mean(gaps))
    assert s["session_duration_p50_s"] == pytest.approx(np.quantile(gaps, 0.5))

    with open(DATA / "burstgpt" / "BurstGPT_3.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    zero = [r for r in rows if int(r["Response tokens"]) == 0]
    f = real_results[("burstgpt", "llm_failures")]
    assert f.summary["failed_requests"] == len(zero) == 2
    assert f.summary["failure_share"] == len(zero) / len(rows)
    by = {r["group"]: r for r in f.tables["by_group"].iter_rows(named=True)}
    for model in {r["Model"] for r in rows}:
        n = sum(r["Model"] == model for r in rows)
        k = sum(r["Model"] == model for r in zero)
        assert (by[model]["requests"], by[model]["failed"]) == (n, k)
    assert f.tables["over_time"]["failed"].sum() == 2 and f.tables["over_time"]["requests"].sum() == len(rows)


def test_qwen_parent_trees_hand_counts(real_results) -> None:
    s = real_results[("qwen", "llm_sessions")]
    # by hand: 12->56->160, 55->159->201, and roots 13, 81, 102, 230 alone
    assert s.summary["sessions"] == 6 and s.summary["unresolved_requests"] == 0
    assert dict(s.tables["turns"].select("turns_lo", "sessions").iter_rows()) == {1: 4, 3: 2}
    gaps = [24.87 - 0.0, 61.114 - 24.87, 61.114 - 17.305, 88.76 - 61.114]
    assert s.summary["inter_turn_gaps"] == 4
    assert s.summary["inter_turn_gap_mean_s"] == pytest.approx(np.mean(gaps))
    assert s.summary["session_duration_max_s"] == pytest.approx(88.76 - 17.305)


def read_stream(path: Path) -> list[list[int]]:
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    recs.sort(key=lambda r: r["timestamp"])  # stable: ties keep file order
    return [r["hash_ids"] for r in recs]


@pytest.mark.parametrize(("trace", "path", "block"), [
    ("mooncake", "mooncake/synthetic_trace.jsonl", 512),
    ("qwen", "qwen_bailian/qwen_traceA_blksz_16.jsonl", 16),
])
def test_prefix_reuse_on_real_traces_against_brute_force(real_results, trace: str, path: str, block: int) -> None:
    r = real_results[(trace, "llm_prefix")]
    reqs = read_stream(DATA / path)
    stream = [b for q in reqs for b in q]
    s = r.summary
    assert (s["hash_block_tokens"], s["blocks_analysed"], s["sampled"]) == (block, len(stream), False)
    for n in Options().lru_blocks:
        assert s[f"lru_hit_ratio_{n}_blocks"] == brute_lru_hits(stream, n) / len(stream)
    for n, h in r.tables["mrc"].select("cache_blocks", "hit_ratio").iter_rows():
        assert h == brute_lru_hits(stream, n) / len(stream)
    seen: set[int] = set()
    hits = total = 0
    for q in reqs:
        hits += len(set(q) & seen)
        total += len(set(q))
        seen |= set(q)
    assert s["share_blocks_seen_before"] == hits / total > 0
    assert s["distinct_blocks"] == len(set(stream))


def test_prefix_leading_window_when_the_stream_is_large(real_store, monkeypatch) -> None:
    monkeypatch.setattr(llm, "MAX_BLOCKS", 2000)
    r = run(real_store.trace("mooncake"), "llm_prefix")
    reqs = read_stream(DATA / "mooncake/synthetic_trace.jsonl")
    k = r.summary["requests_analysed"]
    stream = [b for q in reqs[:k] for b in q]
    assert r.summary["sampled"] and 0 < k < len(reqs) and r.summary["blocks_analysed"] == len(stream) <= 2000
    for n in (64, 256, 1024):
        assert r.summary[f"lru_hit_ratio_{n}_blocks"] == brute_lru_hits(stream, n) / len(stream)
    assert any("first" in n for n in r.notes)


# ====================================================================== synthetic sessions / failures
def test_sessions_by_id_and_by_parent_match_pandas(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    n = 3000
    t = np.sort(rng.uniform(0, 5000, n)).round(3)
    sess = rng.integers(0, 400, n)
    sess[:30] = -1  # requests outside any session
    prev: dict[int, int] = {}
    parent = []
    for i, s_ in enumerate(sess):
        parent.append(prev.get(s_) if s_ >= 0 else None)
        if s_ >= 0:
            prev[s_] = i
    df = pl.DataFrame({"t": t, "sid": [f"s{v}" if v >= 0 else None for v in sess],
                       "rid": [f"r{i}" for i in range(n)],
                       "pid": [f"r{p}" if p is not None else None for p in parent]})
    store = workscope.open(tmp_path / "s")
    a = requests_trace(store, tmp_path, "byid", df, {"arrival_s": "t", "session_id": "sid"})
    b = requests_trace(store, tmp_path, "bypar", df, {"arrival_s": "t", "request_id": "rid", "parent_id": "pid"})
    pdf = df.to_pandas()
    ins = pdf[pdf.sid.notna()]
    turns = ins.groupby("sid").size()
    gaps = ins.groupby("sid")["t"].diff().dropna().to_numpy()
    dur = ins.groupby("sid")["t"].agg(lambda x: x.max() - x.min())[turns >= 2].to_numpy()
    ra = run(a, "llm_sessions")
    rb = run(b, "llm_sessions")
    for r in (ra, rb):
        s = r.summary
        assert s["multi_turn_sessions"] == (turns >= 2).sum()
        assert s["inter_turn_gap_p90_s"] == pytest.approx(np.quantile(gaps, 0.9), rel=1e-9)
        assert s["session_duration_p50_s"] == pytest.approx(np.quantile(dur, 0.5), rel=1e-9)
        all_turns = np.r_[turns.to_numpy(), np.ones(30 if r is rb else 0)]  # parentless rows: 1-turn trees
        assert s["turns_p99"] == pytest.approx(np.quantile(all_turns, 0.99), rel=1e-12)
        assert s["turns_mean"] == pytest.approx(all_turns.mean(), rel=1e-12)
        tt = r.tables["turns"]
        hist = turns.value_counts()
        hist_singles = hist.get(1, 0) + (30 if r is rb else 0)  # parentless rows are 1-turn trees
        assert tt.filter(pl.col("turns_lo") == 1)["sessions"][0] == hist_singles
    assert ra.summary["sessions"] == turns.size and ra.summary["requests_in_sessions"] == n - 30
    assert rb.summary["sessions"] == turns.size + 30 and rb.summary["unresolved_requests"] == 0
    cdf = ra.tables["cdf_inter_turn_gap"]
    for x, c in cdf.select("inter_turn_gap_s", "cdf").iter_rows():
        assert c == pytest.approx((gaps <= x * (1 + 1e-12)).mean())


def test_parent_cycle_rows_are_unresolved(tmp_path: Path) -> None:
    df = pl.DataFrame({"t": [0.0, 1.0, 2.0, 3.0, 4.0], "rid": ["a", "b", "c", "x", "y"],
                       "pid": [None, "a", "zz", "y", "x"]})  # c: parent outside the trace; x <-> y cycle
    store = workscope.open(tmp_path / "s")
    tr = requests_trace(store, tmp_path, "cyc", df, {"arrival_s": "t", "request_id": "rid", "parent_id": "pid"})
    s = run(tr, "llm_sessions").summary
    assert (s["sessions"], s["requests_in_sessions"], s["unresolved_requests"], s["turns_max"]) == (2, 3, 2, 2)


def test_failures_synthetic_status_groups_and_time_bins(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    n = 5000
    t = np.sort(rng.uniform(0, 20 * 3600, n))
    g = rng.choice(["m1", "m2"], n)
    status = np.where(rng.random(n) < np.where(g == "m1", 0.05, 0.2), "ERROR", "Success")
    status[:40] = "pending"
    df = pl.DataFrame({"t": t, "g": g, "st": status})
    store = workscope.open(tmp_path / "s")
    tr = requests_trace(store, tmp_path, "fail", df, {"arrival_s": "t", "model": "g", "status": "st"})
    r = run(tr, "llm_failures")
    failed = status == "ERROR"
    assert r.summary["failed_requests"] == failed.sum()
    assert r.summary["failure_share"] == failed.mean()
    assert r.summary["other_status_share"] == 40 / n
    assert r.summary["time_bin_s"] == 300.0  # 20 h / 60 s > 1000 bins; 20 h / 300 s = 240
    ot = r.tables["over_time"]
    k = np.floor(t / 300.0).astype(int)
    ref = pl.DataFrame({"k": k, "f": failed}).group_by("k").agg(pl.len(), pl.col("f").sum()).sort("k")
    assert ot["requests"].to_list() == ref["len"].to_list() and ot["failed"].to_list() == ref["f"].to_list()
    by = {row["group"]: row["failure_share"] for row in r.tables["by_group"].iter_rows(named=True)}
    for m in ("m1", "m2"):
        assert by[m] == failed[g == m].mean()


# ====================================================================== prefix, synthetic with sessions
def test_prefix_synthetic_multi_turn_prefixes(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    rows, t = [], 0.0
    for _ in range(400):
        s = int(rng.integers(0, 60))
        k = int(rng.integers(1, 12))
        rows.append({"t": t, "h": [s * 100 + j for j in range(k)]})
        t += float(rng.exponential(1.0))
    df = pl.DataFrame(rows)
    store = workscope.open(tmp_path / "s")
    tr = requests_trace(store, tmp_path, "pre", df, {"arrival_s": "t", "hash_ids": "h"}, "hash_block_tokens = 32")
    r = run(tr, "llm_prefix", Options(lru_blocks=(1, 7, 50, 300, 10_000)))
    stream = [b for h in df["h"].to_list() for b in h]
    for n in (1, 7, 50, 300, 10_000):
        assert r.summary[f"lru_hit_ratio_{n}_blocks"] == brute_lru_hits(stream, n) / len(stream)
    assert r.tables["lru"]["cache_tokens"].to_list() == [32, 224, 1600, 9600, 320_000]
    assert r.summary["infinite_cache_hit_ratio"] == 1 - len(set(stream)) / len(stream)
    assert (r.tables["mrc"]["hit_ratio"].diff().drop_nulls() >= 0).all()


def test_sessions_sampled_by_key_on_large_tables(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    n = 20_000
    sess = rng.integers(0, 4000, n)
    df = pl.DataFrame({"t": np.sort(rng.uniform(0, 1e5, n)), "sid": [f"s{v}" for v in sess]})
    store = workscope.open(tmp_path / "s")
    tr = requests_trace(store, tmp_path, "big", df, {"arrival_s": "t", "session_id": "sid"})
    s = run(tr, "llm_sessions", Options(max_sample=4000)).summary
    assert s["sampled"] and s["session_sample_rate"] == pytest.approx(0.2, abs=1e-6)
    # about 800 of the 4000 sessions are kept: binomial SD ~ 25, so 4 SD ~ 100 (x5 for the estimate)
    assert abs(s["sessions_analysed"] - 800) < 100 and abs(s["sessions"] - np.unique(sess).size) < 500
    assert s["turns_mean"] == pytest.approx(n / 4000, rel=0.1)  # whole sessions: unbiased turn counts
    assert s["requests_in_sessions"] == n
    exact = run(tr, "llm_sessions").summary
    assert not exact["sampled"] and exact["sessions"] == np.unique(sess).size
