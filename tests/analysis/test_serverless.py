"""Serverless analyses: popularity against numpy, quantiles against numpy, keep-alive against a
Python simulation, cold starts against hand-checked traces, invariants with hypothesis, real traces."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
import vl_convert
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workscope
from workscope.analysis.base import Context, Options
from workscope.analysis.serverless import ANALYSES, CDF_PS, HUAWEI_KEEPALIVE_S, keepalive_sweep
from workscope.engine import DuckDBEngine
from workscope.reports.charts_serverless import CHARTS
from workscope.schemas import TABLES

BY_NAME = {a.name: a for a in ANALYSES}
KEEP = (0.5, 1.0, 2.0, 5.0, 10.0)  # minutes

# analyses expected on each real trace (every other serverless analysis must not apply)
EXPECTED = {
    "azure_functions_2021": {"serverless_popularity_invocations", "serverless_durations_invocations",
                             "serverless_keepalive_invocations"},
    "huawei25": {"serverless_popularity_invocations", "serverless_popularity_invocation_counts",
                 "serverless_durations_invocations", "serverless_cold_starts",
                 "serverless_keepalive_invocations", "serverless_keepalive_invocation_counts"},
    "huawei23": {"serverless_popularity_invocation_counts", "serverless_keepalive_invocation_counts"},
    "azf2019": {"serverless_popularity_invocation_counts", "serverless_durations_functions",
                "serverless_keepalive_invocation_counts"},
    "azure_llm_code": set(), "nasa_ipsc": set(), "alibaba_openb": set(), "planetlab": set(),
}


# ====================================================================== independent references
def gini_np(x: np.ndarray) -> float:
    """Gini as the mean absolute difference over twice the mean (a different formula)."""
    x = np.asarray(x, dtype=float)
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2 * x.size**2 * x.mean()))


def top_share_np(x: np.ndarray, q: float) -> float:
    s = np.sort(np.asarray(x, dtype=float))[::-1]
    return float(s[: max(1, math.ceil(q * s.size))].sum() / s.sum())


def simulate_keepalive(events: list[tuple[str, float, float, float]], k_s: float,
                       mem_gb: dict[str, float] | None = None,
                       t_end: float | None = None) -> tuple[float, float, float, float]:
    """Plain-Python single-instance keep-alive: events (function, time, duration, n invocations).

    ``t_end`` (default: the last event end) bounds the idle tail after each function's last event.
    Returns (cold starts, invocations, idle instance-seconds, idle GB-seconds).
    """
    if t_end is None:
        t_end = max(t + d for _, t, d, _ in events)
    by_f: dict[str, list[tuple[float, float, float]]] = {}
    for f, t, d, n in events:
        if n > 0:
            by_f.setdefault(f, []).append((t, d, n))
    cold = inv = idle = idle_gb = 0.0
    for f, evs in by_f.items():
        evs.sort()
        busy_until = None
        gb = (mem_gb or {}).get(f, 0.0)
        for t, d, n in evs:
            inv += n
            if busy_until is None:
                cold += 1
            else:
                gap = t - busy_until
                if gap > k_s:
                    cold += 1
                idle += min(max(gap, 0.0), k_s)
                idle_gb += min(max(gap, 0.0), k_s) * gb
            busy_until = t + d if busy_until is None else max(busy_until, t + d)
        tail = min(k_s, max(t_end - busy_until, 0.0))
        idle += tail
        idle_gb += tail * gb
    return cold, inv, idle, idle_gb


# ====================================================================== trace builders
def ingest(store: workscope.Store, tmp: Path, name: str, table: str, df: pl.DataFrame) -> workscope.Trace:
    """Ingest ``df`` (canonical column names) through the mapped reader."""
    src = tmp / f"{name}.csv"
    df.write_csv(src)
    cols = "\n".join(f'{c} = "{c}"' for c in df.columns)
    toml = tmp / f"{name}.toml"
    toml.write_text(f'table = "{table}"\nformat = "csv"\n[time]\nformat = "seconds"\n[columns]\n{cols}\n')
    store.ingest(src, format="mapped", name=name, options={"mapping": str(toml)})
    return store.trace(name)


def frame_engine(frames: dict[str, pl.DataFrame]) -> DuckDBEngine:
    """An in-memory DuckDB with canonical tables registered from frames (no store)."""
    eng = DuckDBEngine()
    for name, df in frames.items():
        full = df.with_columns(*(pl.lit(None, dtype=t).alias(c) for c, t in TABLES[name].polars_schema.items()
                                 if c not in df.columns)).select(TABLES[name].names)
        eng.register_frame(name, full.cast(dict(TABLES[name].polars_schema)))
    return eng


def frame_ctx(frames: dict[str, pl.DataFrame], **opts) -> Context:  # type: ignore[no-untyped-def]
    """A Context over in-memory frames, for fast property tests of the SQL."""
    trace = SimpleNamespace(tables=list(frames), manifest={"tables": {t: {"rows_ok": d.height} for t, d in frames.items()}})
    return Context(trace, Options(**opts), engine=frame_engine(frames))


# ====================================================================== real traces
@pytest.fixture(scope="module")
def real_results(real_store: workscope.Store) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for name in EXPECTED:
        ctx = Context(real_store.trace(name))
        out[name] = {a.name: a.run(ctx) for a in ANALYSES if a.applies(ctx)}
    return out


@pytest.mark.parametrize("name", list(EXPECTED))
def test_applies_exactly_where_the_columns_are(real_results: dict, name: str) -> None:
    assert set(real_results[name]) == EXPECTED[name]


def test_real_results_are_json_ready_and_chart_offline(real_results: dict) -> None:
    n_charts = 0
    for results in real_results.values():
        for r in results.values():
            r.to_json()
            assert r.kind in CHARTS
            for chart in CHARTS[r.kind](r):
                vl_convert.vegalite_to_svg(chart.to_json())
                n_charts += 1
    assert n_charts >= 15


def test_real_popularity_matches_numpy(real_store: workscope.Store, real_results: dict) -> None:
    cases = [("azure_functions_2021", "invocations"), ("azf2019", "invocation_counts"),
             ("huawei23", "invocation_counts"), ("huawei25", "invocation_counts")]
    for name, table in cases:
        df = real_store.trace(name).read(table)
        per_f = (df.group_by("function_id").len() if table == "invocations"
                 else df.group_by("function_id").agg(pl.col("count").sum().alias("len")))
        x = per_f.filter(pl.col("len") > 0)["len"].to_numpy().astype(float)
        s = real_results[name][f"serverless_popularity_{table}"].summary
        assert s["functions"] == x.size and s["invocations"] == int(x.sum())
        assert s["gini"] == pytest.approx(gini_np(x), abs=1e-12)
        assert s["top_1pct_functions_invocation_share"] == pytest.approx(top_share_np(x, 0.01), abs=1e-12)
        assert s["top_10pct_functions_invocation_share"] == pytest.approx(top_share_np(x, 0.10), abs=1e-12)
        assert s["invocations_per_function_median"] == pytest.approx(float(np.median(x)))


def test_real_azf2019_triggers_match_polars(real_store: workscope.Store, real_results: dict) -> None:
    df = real_store.trace("azf2019").read("invocation_counts")
    ref = df.group_by("trigger").agg(pl.col("count").sum().alias("inv"), pl.col("function_id").n_unique().alias("nf"))
    got = real_results["azf2019"]["serverless_popularity_invocation_counts"].tables["by_trigger"]
    j = got.join(ref, on="trigger")
    assert j.height == ref.height
    assert (j["invocations"] == j["inv"]).all() and (j["functions"] == j["nf"]).all()
    assert j["invocation_share"].sum() == pytest.approx(1.0)


def test_real_durations_match_numpy(real_store: workscope.Store, real_results: dict) -> None:
    d = real_store.trace("azure_functions_2021").read("invocations")["duration_s"].drop_nulls().to_numpy()
    r = real_results["azure_functions_2021"]["serverless_durations_invocations"]
    cdf = r.tables["cdf"].filter(pl.col("quantity") == "duration")
    np.testing.assert_allclose(cdf["value"].to_numpy(), np.quantile(d, CDF_PS), rtol=1e-9, atol=1e-12)
    assert r.summary["duration_p99_s"] == pytest.approx(np.quantile(d, 0.99), rel=1e-9)
    assert r.summary["duration_mean_s"] == pytest.approx(d.mean(), rel=1e-12)


def test_real_functions_cdf_matches_numpy_inverted_cdf(real_store: workscope.Store, real_results: dict) -> None:
    f = real_store.trace("azf2019").read("functions")
    cdf = real_results["azf2019"]["serverless_durations_functions"].tables["cdf"]
    for col, q, st_ in (("duration_p50_s", "duration", "p50"), ("memory_avg_mb", "memory", "avg")):
        part = f.filter(pl.col(col).is_not_null())
        v, w = part[col].to_numpy(), part["count"].fill_null(0).to_numpy().astype(float)
        for weighting, weights in (("functions", None), ("invocations", w)):
            got = cdf.filter((pl.col("quantity") == q) & (pl.col("statistic") == f"per-function {st_}")
                             & (pl.col("weighting") == weighting))
            ps = np.array(CDF_PS)
            keep = (ps > 0) & (ps < 1)  # numpy's inverted_cdf at p = 0 / 1 has its own convention
            ref = np.quantile(v, ps[keep], method="inverted_cdf", weights=weights)
            np.testing.assert_allclose(got["value"].to_numpy()[keep], ref)


def test_real_huawei25_cold_starts(real_store: workscope.Store, real_results: dict) -> None:
    inv = real_store.trace("huawei25").read("invocations").filter(pl.col("cold_start"))
    counts = real_store.trace("huawei25").read("invocation_counts")
    r = real_results["huawei25"]["serverless_cold_starts"]
    assert r.summary["cold_starts"] == inv.height
    assert r.summary["rate_denominator"] == "counts"
    assert r.summary["cold_start_rate"] == pytest.approx(inv.height / counts["count"].sum())
    assert r.summary["cold_start_p50_s"] == pytest.approx(float(np.median(inv["cold_start_s"].to_numpy())))
    parts = ["pod_alloc_s", "deploy_code_s", "deploy_deps_s", "scheduling_s"]
    comp = inv.select(parts).fill_null(0).to_numpy()
    whole = np.maximum(inv["cold_start_s"].fill_null(0).to_numpy(), comp.sum(axis=1))
    shares = r.tables["components"]
    for i, p in enumerate(parts):
        got = shares.filter(pl.col("component") == p.removesuffix("_s"))["share"][0]
        assert got == pytest.approx(comp[:, i].sum() / whole.sum(), abs=1e-12)
    named = shares.filter(pl.col("component") != "other")["share"].sum()
    assert named <= 1 + 1e-12 and shares["share"].sum() == pytest.approx(1.0, abs=1e-12)
    mem = r.tables["by_dimension"].filter(pl.col("dimension") == "memory_mb")
    ref = inv.group_by("memory_mb").len()
    for row in ref.iter_rows(named=True):
        assert mem.filter(pl.col("value") == f"{row['memory_mb']:g}")["cold_starts"][0] == row["len"]


def test_real_keepalive_matches_simulation(real_store: workscope.Store, real_results: dict) -> None:
    inv = real_store.trace("azure_functions_2021").read("invocations")
    events = [(f, t, d or 0.0, 1.0) for f, t, d in inv.select("function_id", "arrival_s", "duration_s").iter_rows()]
    sweep = real_results["azure_functions_2021"]["serverless_keepalive_invocations"].tables["sweep"]
    for row in sweep.iter_rows(named=True):
        cold, n, idle, _ = simulate_keepalive(events, row["window_s"])
        assert row["cold_starts"] == cold and row["invocations"] == n
        assert row["idle_instance_s"] == pytest.approx(idle, rel=1e-9)
    counts = real_store.trace("azf2019").read("invocation_counts")
    fn = real_store.trace("azf2019").read("functions")
    gb = {f: m / 1024 for f, m in fn.group_by("function_id").agg(pl.col("memory_avg_mb").mean()).iter_rows()}
    events = [(f, t, 0.0, float(c)) for f, t, c in counts.select("function_id", "window_start_s", "count").iter_rows()]
    sweep = real_results["azf2019"]["serverless_keepalive_invocation_counts"].tables["sweep"]
    t_end = float((counts["window_start_s"] + counts["window_s"]).max())
    for row in sweep.iter_rows(named=True):
        cold, n, idle, idle_gb = simulate_keepalive(events, row["window_s"], gb, t_end)
        assert row["cold_starts"] == cold and row["invocations"] == n
        assert row["idle_instance_s"] == pytest.approx(idle, rel=1e-9)
        assert row["idle_gb_s"] == pytest.approx(idle_gb, rel=1e-9)


# ====================================================================== synthetic traces
def test_zipf_popularity_and_hand_checked_keepalive(tmp_path: Path) -> None:
    store = workscope.open(tmp_path / "s")
    rng = np.random.default_rng(3)
    n_f = 400
    weights = 1.0 / np.arange(1, n_f + 1) ** 1.1
    f = rng.choice(n_f, size=20_000, p=weights / weights.sum())
    t = np.sort(rng.uniform(0, 86_400, size=f.size))
    df = pl.DataFrame({"arrival_s": t, "function_id": [f"f{i}" for i in f], "duration_s": rng.exponential(2.0, f.size),
                       "memory_mb": (128 * (1 + f % 4)).astype(float)})
    trace = ingest(store, tmp_path, "zipf", "invocations", df)
    ctx = Context(trace, Options(keepalive_min=KEEP))
    pop = BY_NAME["serverless_popularity_invocations"].run(ctx)
    x = np.bincount(f)
    x = x[x > 0].astype(float)
    assert pop.summary["gini"] == pytest.approx(gini_np(x), abs=1e-12)
    assert pop.summary["top_10pct_functions_invocation_share"] == pytest.approx(top_share_np(x, 0.1), abs=1e-12)
    rank = pop.tables["rank_frequency"]
    assert rank["cum_invocation_share"].is_sorted() and rank["cum_invocation_share"][-1] == pytest.approx(1.0)
    assert rank.height < 300
    sweep = BY_NAME["serverless_keepalive_invocations"].run(ctx).tables["sweep"]
    events = list(zip(df["function_id"], df["arrival_s"], df["duration_s"], [1.0] * df.height, strict=True))
    gb = {f"f{i}": 128 * (1 + i % 4) / 1024 for i in range(n_f)}
    for row in sweep.iter_rows(named=True):
        cold, n, idle, idle_gb = simulate_keepalive(events, row["window_s"], gb)
        assert (row["cold_starts"], row["invocations"]) == (cold, n)
        assert row["idle_instance_s"] == pytest.approx(idle, rel=1e-9)
        assert row["idle_gb_s"] == pytest.approx(idle_gb, rel=1e-9)


def test_keepalive_hand_checked_values() -> None:
    # f: runs 0-10 s, then arrivals at 70 s (gap 60) and 75 s (busy until 80 s), 200 s (gap 120)
    inv = pl.DataFrame({"function_id": ["f", "f", "f", "f", "g"], "arrival_s": [0.0, 70.0, 75.0, 200.0, 100.0],
                        "duration_s": [10.0, 10.0, 1.0, 0.0, 0.0]})
    ctx = frame_ctx({"invocations": inv})
    out = keepalive_sweep(ctx, "invocations", (0.5, 1.0, 2.0, 5.0))
    # K = 30 s: f cold at 0, 70, 200; g cold at 100 -> 4 of 5; idle 30 + 0 + 30 + tails (f 0, g 30)
    # K = 60 s: gap 60 is not > 60 -> warm; 120 > 60 cold -> 3; idle 60 + 0 + 60 + tails (0, 60)
    # K = 120 s: 2 cold (firsts); idle 60 + 0 + 120 + (0, 100); K = 300 s: same idle as 120 s
    assert out["cold_starts"].to_list() == [4.0, 3.0, 2.0, 2.0]
    assert out["idle_instance_s"].to_list() == [90.0, 180.0, 280.0, 280.0]
    assert out["cold_start_rate"][0] == pytest.approx(0.8)
    assert out["idle_gb_s"].is_null().all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 4), st.floats(0, 5_000, allow_nan=False),
                          st.one_of(st.none(), st.floats(0, 400, allow_nan=False)),
                          st.sampled_from([128.0, 512.0, None])), min_size=1, max_size=60),
       st.lists(st.floats(0.01, 90, allow_nan=False), min_size=1, max_size=6))
def test_keepalive_equals_simulation_and_is_monotone(rows: list, wins: list) -> None:
    inv = pl.DataFrame({"function_id": [f"f{r[0]}" for r in rows], "arrival_s": [r[1] for r in rows],
                        "duration_s": [r[2] for r in rows], "memory_mb": [r[3] for r in rows]},
                       schema={"function_id": pl.String, "arrival_s": pl.Float64, "duration_s": pl.Float64,
                               "memory_mb": pl.Float64})
    ctx = frame_ctx({"invocations": inv})
    out = keepalive_sweep(ctx, "invocations", tuple(wins))
    mem = inv.filter(pl.col("memory_mb").is_not_null()).group_by("function_id").agg(pl.col("memory_mb").mean())
    gb = {f: m / 1024 for f, m in mem.iter_rows()}
    events = [(f, t, d or 0.0, 1.0) for f, t, d, _ in inv.iter_rows()]
    for row in out.iter_rows(named=True):
        cold, n, idle, idle_gb = simulate_keepalive(events, row["window_s"], gb)
        assert (row["cold_starts"], row["invocations"]) == (cold, n)
        assert row["idle_instance_s"] == pytest.approx(idle, rel=1e-9, abs=1e-6)
        if gb:
            assert row["idle_gb_s"] == pytest.approx(idle_gb, rel=1e-9, abs=1e-6)
    rate, idle = out["cold_start_rate"].to_numpy(), out["idle_instance_s"].to_numpy()
    assert np.all(np.diff(rate) <= 1e-12) and np.all(np.diff(idle) >= -1e-9)
    assert np.all((rate > 0) & (rate <= 1))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 50)), min_size=1, max_size=80),
       st.lists(st.sampled_from([1.0, 2.0, 5.0, 10.0, 30.0]), min_size=1, max_size=5))
def test_counts_keepalive_and_popularity_invariants(rows: list, wins: list) -> None:
    counts = pl.DataFrame({"function_id": [f"f{r[0] % 7}" for r in rows],
                           "window_start_s": [60.0 * r[0] for r in rows], "window_s": [60.0] * len(rows),
                           "count": [r[1] for r in rows]})
    ctx = frame_ctx({"invocation_counts": counts})
    out = keepalive_sweep(ctx, "invocation_counts", tuple(wins))
    events = [(f, t, 0.0, float(c)) for f, t, _, c in counts.iter_rows()]
    if counts["count"].sum() == 0:
        assert out.height == 0
        return
    for row in out.iter_rows(named=True):
        cold, n, idle, _ = simulate_keepalive(events, row["window_s"], t_end=60.0 * max(r[0] for r in rows) + 60.0)
        assert (row["cold_starts"], row["invocations"]) == (cold, n)
        assert row["idle_instance_s"] == pytest.approx(idle, abs=1e-9)
    assert np.all(np.diff(out["cold_start_rate"].to_numpy()) <= 1e-12)
    assert np.all(np.diff(out["idle_instance_s"].to_numpy()) >= -1e-9)
    pop = BY_NAME["serverless_popularity_invocation_counts"].run(ctx)
    s = pop.summary
    assert 0 <= s["gini"] <= 1 + 1e-12
    assert s["top_1pct_functions_invocation_share"] <= s["top_10pct_functions_invocation_share"] <= 1 + 1e-12
    top = pop.tables["top_functions"]
    assert top["invocation_share"].sum() <= 1 + 1e-12
    x = counts.group_by("function_id").agg(pl.col("count").sum()).filter(pl.col("count") > 0)["count"].to_numpy()
    assert s["gini"] == pytest.approx(gini_np(x), abs=1e-12)
    if top.height == s["functions"]:
        assert top["invocation_share"].sum() == pytest.approx(1.0)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.floats(0, 5, allow_nan=False), st.floats(0, 5, allow_nan=False),
                          st.floats(0, 5, allow_nan=False), st.one_of(st.none(), st.floats(0, 5, allow_nan=False)),
                          st.floats(0, 20, allow_nan=False)), min_size=1, max_size=40))
def test_component_shares_sum_to_at_most_one(rows: list) -> None:
    inv = pl.DataFrame({"function_id": ["f"] * len(rows), "arrival_s": [float(i) for i in range(len(rows))],
                        "cold_start": [True] * len(rows), "pod_alloc_s": [r[0] for r in rows],
                        "deploy_code_s": [r[1] for r in rows], "deploy_deps_s": [r[2] for r in rows],
                        "scheduling_s": [r[3] for r in rows], "cold_start_s": [r[4] for r in rows]},
                       schema_overrides={"scheduling_s": pl.Float64})
    r = BY_NAME["serverless_cold_starts"].run(frame_ctx({"invocations": inv}))
    shares = r.tables["components"]
    named = shares.filter(pl.col("component") != "other")["share"]
    if shares["total_s"].sum() == 0:
        assert shares["share"].is_null().all()
        return
    assert (shares["share"] >= -1e-15).all()
    assert named.sum() <= 1 + 1e-12
    assert shares["share"].sum() == pytest.approx(1.0, abs=1e-9)


def test_cold_start_flags_rates_and_pod_utility(tmp_path: Path) -> None:
    # pods: p1 (cold at 0, cost 2 s, runs to 30 s), p2 (cold at 100, cost 0.5 s, runs to 100.6 s)
    df = pl.DataFrame({
        "arrival_s": [0.0, 10.0, 20.0, 100.0, 200.0, 300.0],
        "function_id": ["a", "a", "a", "b", "b", "b"],
        "trigger": ["http", "http", "http", "timer", "timer", "timer"],
        "runtime": ["python", "python", "python", "java", "java", "java"],
        "memory_mb": [128.0, 128.0, 128.0, 512.0, 512.0, 512.0],
        "duration_s": [1.0, 2.0, 10.0, 0.6, 1.0, 1.0],
        "cold_start": [True, False, False, True, True, False],
        "cold_start_s": [2.0, None, None, 0.5, 1.0, None],
        "pod_alloc_s": [1.0, None, None, 0.1, 0.2, None],
        "scheduling_s": [0.5, None, None, 0.1, 0.3, None],
        "pod_id": ["p1", "p1", "p1", "p2", "p3", "p3"],
    })
    trace = ingest(workscope.open(tmp_path / "s"), tmp_path, "flags", "invocations", df)
    r = BY_NAME["serverless_cold_starts"].run(Context(trace))
    s = r.summary
    assert (s["cold_starts"], s["invocations"], s["rate_denominator"]) == (3, 6, "flag")
    assert s["cold_start_rate"] == pytest.approx(0.5)
    dims = r.tables["by_dimension"]
    trig = {row["value"]: row for row in dims.filter(pl.col("dimension") == "trigger").iter_rows(named=True)}
    assert trig["http"]["cold_start_rate"] == pytest.approx(1 / 3) and trig["timer"]["cold_start_rate"] == pytest.approx(2 / 3)
    assert trig["timer"]["cold_start_p50_s"] == pytest.approx(0.75)
    mem = dims.filter((pl.col("dimension") == "memory_mb") & (pl.col("value") == "512"))
    assert mem["cold_starts"][0] == 2
    comp = {row["component"]: row["share"] for row in r.tables["components"].iter_rows(named=True)}
    assert comp["pod_alloc"] == pytest.approx(1.3 / 3.5) and comp["scheduling"] == pytest.approx(0.9 / 3.5)
    assert comp["other"] == pytest.approx(1.3 / 3.5) and comp["deploy_code"] == 0
    # utility: p1 (30 - 0) / 2 = 15; p2 (100.6 - 100) / 0.5 = 1.2; p3 (301 - 200) / 1 = 101
    util = r.tables["pod_utility_cdf"].filter(pl.col("metric") == "pod_utility_ratio")
    assert util.filter(pl.col("p") == 0.5)["value"][0] == pytest.approx(15.0)
    np.testing.assert_allclose(util["value"].to_numpy(), np.quantile([15.0, 1.2, 101.0], CDF_PS))
    busy = r.tables["pod_utility_cdf"].filter(pl.col("metric") == "busy_fraction")
    ref = np.quantile([13 / (30 + HUAWEI_KEEPALIVE_S), 0.6 / (0.6 + HUAWEI_KEEPALIVE_S), 2 / (101 + HUAWEI_KEEPALIVE_S)],
                      CDF_PS)
    np.testing.assert_allclose(busy["value"].to_numpy(), ref)
    assert s["pod_utility_ratio_below_1_share"] == 0.0 and s["pods_measured"] == 3
    for chart in CHARTS[r.kind](r):
        vl_convert.vegalite_to_svg(chart.to_json())
