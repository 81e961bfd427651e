"""Arrivals and burstiness: closed forms on Poisson / gamma renewal processes, numpy
recomputations of every figure on the same data, invariants, and every real trace."""

from __future__ import annotations

import itertools
import json
import math
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import vl_convert
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workscope
from workscope.analysis.arrivals import (
    ANALYSES,
    FANO_MIN_SCALE_S,
    fano_base_scale,
    hurst_aggregated_variance,
    run_table,
)
from workscope.analysis.base import Context, Options
from workscope.reports.charts_arrivals import CHARTS

_counter = itertools.count()


def _load_conftest():  # type: ignore[no-untyped-def]
    # ``from tests.analysis.conftest import ...`` fails: tests/ is no package, and a ``tests``
    # package installed in the venv (by a third-party wheel) shadows it; load it by path
    import importlib.util

    spec = importlib.util.spec_from_file_location("_arrivals_conftest", Path(__file__).with_name("conftest.py"))
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_conf = _load_conftest()
gamma_arrivals, poisson_arrivals, synthetic_trace = _conf.gamma_arrivals, _conf.poisson_arrivals, _conf.synthetic_trace


def times_of(trace: workscope.Trace, table: str, col: str) -> np.ndarray:
    """The stored event times, read straight from the Parquet files (not through the analysis)."""
    return pl.read_parquet(trace.glob(table), columns=[col])[col].to_numpy()


def numpy_fano(t: np.ndarray, scales: np.ndarray) -> dict[str, np.ndarray]:
    """IDC, variance and peak-to-mean over the complete windows aligned at the first event."""
    t0, span = t.min(), t.max() - t.min()
    out: dict[str, list[float]] = {"idc": [], "var": [], "ptm": [], "windows": []}
    for s in scales:
        n = int(np.floor(span / s))
        k = np.floor((t - t0) / s).astype(np.int64)
        c = np.bincount(k[k < n], minlength=n).astype(np.float64)
        out["idc"].append(c.var(ddof=1) / c.mean())
        out["var"].append(c.var(ddof=1))
        out["ptm"].append(c.max() / c.mean())
        out["windows"].append(n)
    return {k: np.array(v) for k, v in out.items()}


def mapped_trace(store: workscope.Store, tmp: Path, table: str, df: pl.DataFrame, columns: dict[str, str],
                 origin: str | None = None) -> workscope.Trace:
    """A synthetic trace through the mapped reader, with an optional wall-clock origin."""
    name = f"m{next(_counter)}"
    src = tmp / f"{name}.csv"
    df.write_csv(src)
    cols = "\n".join(f'{k} = "{v}"' for k, v in columns.items())
    org = f'origin = "{origin}"\n' if origin else ""
    toml = tmp / f"{name}.toml"
    toml.write_text(f'table = "{table}"\nformat = "csv"\n[time]\nformat = "seconds"\n{org}[columns]\n{cols}\n')
    store.ingest(src, format="mapped", name=name, options={"mapping": str(toml)})
    return store.trace(name)


def check_charts(r: workscope.analysis.Result, at_least: int) -> None:
    charts = CHARTS[r.kind](r)
    assert len(charts) >= at_least, [type(c) for c in charts]
    for c in charts:
        assert vl_convert.vegalite_to_svg(c.to_json()).startswith("<svg")


# ====================================================================== pure helpers
def test_hurst_helper_against_polyfit() -> None:
    s = 0.1 * 2.0 ** np.arange(12)
    rng = np.random.default_rng(3)
    v = 3.0 * s ** (2 * 0.8) * np.exp(rng.normal(0, 0.05, s.size))
    h, slope, r2 = hurst_aggregated_variance(s, v)
    ref = np.polyfit(np.log10(s), np.log10(v), 1)[0]
    assert slope == pytest.approx(ref, rel=1e-12) and h == pytest.approx(ref / 2, rel=1e-12)
    assert h == pytest.approx(0.8, abs=0.02) and 0.99 < r2 <= 1.0
    exact = hurst_aggregated_variance(s, s ** 1.0)
    assert exact[0] == pytest.approx(0.5, abs=1e-12) and exact[2] == pytest.approx(1.0, abs=1e-12)
    assert all(math.isnan(x) for x in hurst_aggregated_variance(s[:1], s[:1]))
    assert fano_base_scale(100.0) == FANO_MIN_SCALE_S
    b = fano_base_scale(1e7, max_windows=1000)
    assert 1e7 / b <= 1000 < 1e7 / (b / 2) and math.log2(b / 0.1) == int(math.log2(b / 0.1))


# ====================================================================== closed forms
def test_poisson_closed_forms_and_numpy(tmp_path: Path) -> None:
    store = workscope.open(tmp_path / "s")
    t = poisson_arrivals(40.0, 2500, seed=11)
    g = np.random.default_rng(5).choice(["a", "b", "c"], size=t.size, p=[0.6, 0.3, 0.1])
    tr = synthetic_trace(store, tmp_path, "pois", "requests", pl.DataFrame({"t": t, "g": g}))
    r = run_table(Context(tr), "requests")
    ts = times_of(tr, "requests", "arrival_s")
    n = ts.size
    assert r.summary["events"] == n
    # CV of exponential gaps: asymptotic s.e. of the sample CV is 1/sqrt(n)
    assert abs(r.summary["cv_interarrival"] - 1.0) < 5 / math.sqrt(n)
    gaps = np.diff(np.sort(ts))
    assert r.summary["cv_interarrival"] == pytest.approx(gaps.std() / gaps.mean(), rel=1e-9)
    assert r.summary["interarrival_mean_s"] == pytest.approx(gaps.mean(), rel=1e-9)
    # per group: a thinned Poisson process is Poisson; gaps recomputed with numpy
    inter = r.tables["interarrival"].filter(pl.col("scope") == "group")
    assert sorted(inter["group"]) == ["a", "b", "c"]
    gcol = pl.read_parquet(tr.glob("requests"), columns=["model"])["model"].to_numpy()
    for row in inter.iter_rows(named=True):
        gg = np.diff(np.sort(ts[gcol == row["group"]]))
        assert row["cv_interarrival"] == pytest.approx(gg.std() / gg.mean(), rel=1e-9)
        assert row["events"] == gg.size + 1
        assert abs(row["cv_interarrival"] - 1.0) < 5 / math.sqrt(gg.size)
    # IDC flat at 1 at every scale (s.e. of the sample IDC of Poisson counts ≈ sqrt(2/(N-1)))
    fano = r.tables["fano"]
    assert fano["scale_s"][0] == pytest.approx(0.1) and fano.height >= 10
    assert fano["scale_s"].max() <= (ts.max() - ts.min()) / 10
    for row in fano.iter_rows(named=True):
        assert abs(row["idc"] - 1.0) < 5 * math.sqrt(2 / (row["windows"] - 1)) + 0.01, row
    ref = numpy_fano(ts, fano["scale_s"].to_numpy())
    np.testing.assert_allclose(fano["idc"].to_numpy(), ref["idc"], rtol=1e-9)
    np.testing.assert_allclose(fano["peak_to_mean"].to_numpy(), ref["ptm"], rtol=1e-12)
    assert fano["windows"].to_list() == ref["windows"].astype(int).tolist()
    # Hurst of a Poisson process, and the fit recomputed with numpy on the numpy variances
    assert r.summary["hurst_aggvar"] == pytest.approx(0.5, abs=0.1)
    used = fano["used_in_hurst"].to_numpy()
    slope = np.polyfit(np.log10(fano["scale_s"].to_numpy()[used]), np.log10(ref["var"][used]), 1)[0]
    assert r.summary["hurst_aggvar"] == pytest.approx(slope / 2, rel=1e-9)
    # rate series against a numpy histogram; counts preserved at every window
    rates = r.tables["rates"]
    for w in (1.0, 10.0, 60.0, 600.0):
        s = rates.filter(pl.col("window_s") == w).sort("window_start_s")
        k = np.floor(ts / w).astype(np.int64)
        ref_c = np.bincount(k - k.min())
        assert s["events"].to_list() == ref_c.tolist()
        assert s["window_start_s"][0] == k.min() * w
    assert set(rates["window_s"].unique()) == {1.0, 10.0, 60.0, 600.0}  # 3600 s is longer than the span
    assert r.summary["peak_to_mean_600s"] < 1.2
    byg = r.tables["rates_by_group"]
    assert byg.group_by("window_s").agg(pl.col("events").sum())["events"].to_list() == [n] * byg["window_s"].n_unique()
    check_charts(r, 6)


@pytest.mark.parametrize("shape", [0.25, 4.0])
def test_gamma_renewal(tmp_path: Path, shape: float) -> None:
    store = workscope.open(tmp_path / "s")
    t = gamma_arrivals(20.0, shape, 3000, seed=3)
    tr = synthetic_trace(store, tmp_path, "gam", "jobs", pl.DataFrame({"id": np.arange(t.size), "t": t}))
    r = run_table(Context(tr), "jobs")
    cv = 1 / math.sqrt(shape)
    assert r.summary["cv_interarrival"] == pytest.approx(cv, rel=0.05)
    ts = times_of(tr, "jobs", "submit_s")
    gaps = np.diff(np.sort(ts))
    assert r.summary["cv_interarrival"] == pytest.approx(gaps.std() / gaps.mean(), rel=1e-9)
    # renewal theorem: IDC(s) → CV² once windows hold many events
    fano = r.tables["fano"].filter((pl.col("mean_count") >= 100) & (pl.col("windows") >= 100))
    assert fano.height >= 2
    for row in fano.iter_rows(named=True):
        assert row["idc"] == pytest.approx(cv**2, rel=0.3), row
    assert r.summary["hurst_aggvar"] == pytest.approx(0.5, abs=0.15)


def test_modulated_process_is_bursty(tmp_path: Path) -> None:
    """A Poisson process switching between 2/s and 50/s after Pareto(α = 1.5) sojourns:
    CV > 1, IDC grows with the scale, H > 0.5 (on/off heavy tails: H → (3 − α)/2 = 0.75,
    Taqqu, Willinger & Sherman 1997; slow to converge, so only the ordering is tested)."""
    store = workscope.open(tmp_path / "s")
    rng = np.random.default_rng(8)
    parts, start, k = [], 0.0, 0
    while start < 20000:
        d = 5.0 * (1 + rng.pareto(1.5))
        parts.append(start + poisson_arrivals(50.0 if k % 2 else 2.0, d, seed=k))
        start, k = start + d, k + 1
    t = np.concatenate(parts)
    rng.shuffle(t)  # unsorted file
    tr = synthetic_trace(store, tmp_path, "mmpp", "invocations", pl.DataFrame({"t": t, "g": "f"}))
    assert tr.manifest["tables"]["invocations"]["time"]["sorted"] is False
    r = run_table(Context(tr), "invocations")
    assert r.summary["cv_interarrival"] > 1.5
    idc = r.tables["fano"]["idc"].to_numpy()
    assert idc.max() > 10 * idc[0]
    assert r.summary["hurst_aggvar"] > 0.65
    ts = np.sort(times_of(tr, "invocations", "arrival_s"))
    assert r.summary["cv_interarrival"] == pytest.approx(np.diff(ts).std() / np.diff(ts).mean(), rel=1e-9)
    # one group holds every event: its row repeats the overall figures
    inter = r.tables["interarrival"]
    assert inter.height == 2 and inter["cv_interarrival"].n_unique() == 1


def test_ties_and_unsorted_rows(tmp_path: Path) -> None:
    store = workscope.open(tmp_path / "s")
    rng = np.random.default_rng(21)
    t = np.round(poisson_arrivals(3.0, 4000, seed=2), 0)  # 1 s clock: many equal timestamps
    g = rng.choice(["x", "y"], size=t.size)
    order = rng.permutation(t.size)
    tr = synthetic_trace(store, tmp_path, "ties", "requests", pl.DataFrame({"t": t[order], "g": g[order]}))
    r = run_table(Context(tr), "requests")
    gaps = np.diff(np.sort(t))
    assert r.summary["zero_gap_fraction"] == pytest.approx((gaps == 0).mean(), rel=1e-12)
    assert r.summary["zero_gap_fraction"] > 0.5
    assert r.summary["cv_interarrival"] == pytest.approx(gaps.std() / gaps.mean(), rel=1e-9)
    for row in r.tables["interarrival"].filter(pl.col("scope") == "group").iter_rows(named=True):
        gg = np.diff(np.sort(t[g == row["group"]]))
        assert row["zero_gap_fraction"] == pytest.approx((gg == 0).mean(), rel=1e-12)
        assert row["cv_interarrival"] == pytest.approx(gg.std() / gg.mean(), rel=1e-9)
    # below the 1 s clock, counts pile up: IDC > 1 at 0.1 s, yet the numpy figures agree
    fano = r.tables["fano"]
    ref = numpy_fano(t, fano["scale_s"].to_numpy())
    np.testing.assert_allclose(fano["idc"].to_numpy(), ref["idc"], rtol=1e-9)


# ====================================================================== invariants
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    times=st.lists(st.floats(0, 5000, allow_nan=False).map(lambda x: round(x, 3)), min_size=2, max_size=300),
    windows=st.lists(st.sampled_from([0.5, 1.0, 3.0, 7.0, 10.0, 25.0, 60.0, 600.0]), min_size=1, max_size=4),
    groups=st.integers(1, 4),
)
def test_counts_preserved_across_windows(tmp_path_factory: pytest.TempPathFactory, times: list[float],
                                         windows: list[float], groups: int) -> None:
    tmp = tmp_path_factory.mktemp("h")
    store = workscope.open(tmp / "s")
    t = np.array(times)
    g = [f"g{i % groups}" for i in range(t.size)]
    tr = synthetic_trace(store, tmp, "h", "requests", pl.DataFrame({"t": t, "g": g}))
    opts = Options(windows_s=tuple(windows), top_groups=2)
    r = run_table(Context(tr, opts), "requests")
    assert r.summary["events"] == t.size
    span = t.max() - t.min()
    rates = r.tables.get("rates", pl.DataFrame(schema={"window_s": pl.Float64, "events": pl.Int64}))
    for w in set(windows):
        s = rates.filter(pl.col("window_s") == w)
        if w <= span and span / w <= 5000:
            assert s["events"].sum() == t.size, w
            assert (s["rate_per_s"] * w - s["events"]).abs().max() < 1e-9
        else:
            assert s.height == 0
    for row in r.tables.get("fano", pl.DataFrame({"events": [], "windows": []})).iter_rows(named=True):
        assert row["events"] <= t.size and row["windows"] >= 10
    if "rates_by_group" in r.tables:
        top = r.tables["groups"]["events"].sum()
        per = r.tables["rates_by_group"].group_by("window_s").agg(pl.col("events").sum())
        assert (per["events"] == top).all()
    json.loads(r.to_json())


# ====================================================================== counted windows
def test_invocation_counts(tmp_path: Path) -> None:
    store = workscope.open(tmp_path / "s")
    rng = np.random.default_rng(4)
    starts = np.arange(0, 3 * 86400, 60.0)
    rows = []
    for f, lam in (("f1", 30.0), ("f2", 5.0), ("f3", 0.5)):
        rows.append(pl.DataFrame({"ws": starts, "w": 60.0, "f": f, "c": rng.poisson(lam, starts.size)}))
    df = pl.concat(rows).sample(fraction=1.0, seed=1, shuffle=True)
    tr = mapped_trace(store, tmp_path, "invocation_counts", df,
                      {"window_start_s": "ws", "window_s": "w", "function_id": "f", "count": "c"})
    ctx = Context(tr)
    assert [a.name for a in ANALYSES if a.applies(ctx)] == ["arrivals_invocation_counts"]
    r = run_table(ctx, "invocation_counts")
    total = int(df["c"].sum())
    assert r.summary["events"] == total and r.summary["source_window_s"] == 60.0
    assert "cv_interarrival" not in r.summary and any("not computable" in n for n in r.notes)
    # per-minute totals: Poisson with rate 35.5/min → IDC ≈ 1 at every scale, H ≈ 0.5
    per_min = df.group_by("ws").agg(pl.col("c").sum()).sort("ws")["c"].to_numpy().astype(float)
    fano = r.tables["fano"]
    assert fano["scale_s"][0] == 60.0
    m = per_min.size
    for row in fano.iter_rows(named=True):
        k = int(row["scale_s"] // 60)
        agg = per_min[: (m // k) * k].reshape(-1, k).sum(axis=1)
        assert row["idc"] == pytest.approx(agg.var(ddof=1) / agg.mean(), rel=1e-9)
        assert row["windows"] == agg.size
        assert abs(row["idc"] - 1.0) < 5 * math.sqrt(2 / (agg.size - 1)) + 0.01
    assert r.summary["hurst_aggvar"] == pytest.approx(0.5, abs=0.1)
    rates = r.tables["rates"]
    assert set(rates["window_s"].unique()) == {60.0, 600.0, 3600.0}  # 1, 10 s: below the source window
    assert rates.group_by("window_s").agg(pl.col("events").sum())["events"].to_list() == [total] * 3
    assert r.tables["groups"]["group"].to_list() == ["f1", "f2", "f3"]
    assert r.summary["profile_clock"] == "since origin" and "weekly_profile" not in r.tables
    check_charts(r, 5)


# ====================================================================== profiles
def test_daily_and_weekly_profiles(tmp_path: Path) -> None:
    """Office hours in UTC: the profile equals a datetime-based count, weekends are empty."""
    store = workscope.open(tmp_path / "s")
    origin = "2024-01-03T06:30:00Z"  # a Wednesday, mid-hour: the hour grid is not the origin's
    o = datetime.fromisoformat(origin).timestamp()
    rng = np.random.default_rng(9)
    t = np.sort(rng.uniform(0, 21 * 86400, 60_000))
    dt = (o + t).astype("datetime64[s]")
    hour = (dt.astype("datetime64[h]").astype(np.int64)) % 24
    dow = (dt.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 1970-01-01 is a Thursday (3)
    keep = (hour >= 9) & (hour < 17) & (dow < 5)
    t = t[keep]
    tr = mapped_trace(store, tmp_path, "requests", pl.DataFrame({"t": t}), {"arrival_s": "t"}, origin=origin)
    r = run_table(Context(tr), "requests")
    assert r.summary["profile_clock"] == "UTC"
    daily, weekly = r.tables["daily_profile"], r.tables["weekly_profile"]
    # independent: complete UTC hours inside [first, last] event, counted with numpy datetimes
    tt = times_of(tr, "requests", "arrival_s")
    h_abs = np.floor((o + tt) / 3600).astype(np.int64)
    lo, hi = math.ceil((o + tt.min()) / 3600), math.floor((o + tt.max()) / 3600) - 1
    sel = (h_abs >= lo) & (h_abs <= hi)
    counts = np.bincount(h_abs[sel] - lo, minlength=hi - lo + 1)
    hours = np.arange(lo, hi + 1)
    for row in daily.iter_rows(named=True):
        mine = counts[hours % 24 == row["hour"]]
        assert row["hours"] == mine.size
        assert row["mean_rate_per_s"] == pytest.approx(mine.mean() / 3600, rel=1e-12, abs=1e-15)
    dday = ((hours // 24) + 3) % 7
    for row in weekly.iter_rows(named=True):
        assert row["mean_rate_per_s"] == pytest.approx(counts[dday == row["day"]].mean() / 3600, rel=1e-12, abs=1e-15)
    assert 9 <= r.summary["peak_hour"] < 17
    assert daily.filter((pl.col("hour") < 9) | (pl.col("hour") >= 17))["mean_rate_per_s"].max() == 0
    assert weekly.filter(pl.col("day") >= 5)["mean_rate_per_s"].max() == 0
    assert weekly["day_name"].to_list() == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert r.summary["weekend_to_weekday_rate"] == 0
    check_charts(r, 5)


def test_profiles_without_origin_and_short_traces(tmp_path: Path) -> None:
    store = workscope.open(tmp_path / "s")
    t = poisson_arrivals(0.05, 3 * 86400, seed=4)
    tr = synthetic_trace(store, tmp_path, "rel", "requests", pl.DataFrame({"t": t}))
    r = run_table(Context(tr), "requests")
    assert r.summary["profile_clock"] == "since origin" and r.tables["daily_profile"]["clock"][0] == "since origin"
    assert any("no wall-clock origin" in n for n in r.notes) and "weekly_profile" not in r.tables
    for n, times in ((1, [5.0]), (2, [1.0, 1.0]), (3, [0.0, 0.5, 3.0])):
        tr = synthetic_trace(store, tmp_path, f"tiny{n}", "requests", pl.DataFrame({"t": times}))
        r = run_table(Context(tr), "requests")
        assert r.summary["events"] == n and ("fano" in r.tables) == (n == 3)  # 3: scales 0.1, 0.2 s
        assert r.summary.get("hurst_aggvar") is None
        json.loads(r.to_json())
        check_charts(r, 0)


# ====================================================================== real traces
def test_real_traces(real_store: workscope.Store) -> None:
    ran = set()
    known = {"azure_llm_code": 8819, "azure_llm_conv": 19366}  # published row counts of the two files
    for name in real_store.names():
        trace = real_store.trace(name)
        ctx = Context(trace)
        for a in ANALYSES:
            table = a.name.removeprefix("arrivals_")
            assert a.applies(ctx) == (table in trace.tables and ctx.rows(table) > 0), (name, a.name)
            if not a.applies(ctx):
                continue
            r = a.run(ctx)
            ran.add(a.name)
            doc = json.loads(r.to_json())
            assert doc["kind"] == "arrivals"
            col = {"requests": "arrival_s", "invocations": "arrival_s", "jobs": "submit_s"}.get(table)
            if col:
                ts = times_of(trace, table, col)
                assert r.summary["events"] == ts.size
                if ts.size > 2 and np.diff(np.sort(ts)).mean() > 0:
                    g = np.diff(np.sort(ts))
                    assert r.summary["cv_interarrival"] == pytest.approx(g.std() / g.mean(), rel=1e-9)
            else:
                c = pl.read_parquet(trace.glob(table), columns=["count"])["count"].sum()
                assert r.summary["events"] == c
            for k, v in r.summary.items():
                if isinstance(v, float):
                    assert math.isfinite(v), (name, k)
            if "fano" in r.tables:
                f = r.tables["fano"]
                assert f["idc"].drop_nulls().is_finite().all()
            if "rates" in r.tables:
                per = r.tables["rates"].group_by("window_s").agg(pl.col("events").sum())
                assert (per["events"] == r.summary["events"]).all()
            if name in known:
                assert r.summary["events"] == known[name]
                assert 1.0 < r.summary["cv_interarrival"] < 50 and 0.5 < r.summary["hurst_aggvar"] < 1.2
                if name == "azure_llm_conv":
                    check_charts(r, 5)
            if name == "nasa_ipsc":
                assert r.summary["profile_clock"] == "UTC" and "weekly_profile" in r.tables
                check_charts(r, 6)
    assert ran == {f"arrivals_{t}" for t in ("requests", "invocations", "jobs", "invocation_counts")}
    for name in ("planetlab", "noise"):  # usage only: nothing applies
        assert not any(a.applies(Context(real_store.trace(name))) for a in ANALYSES)
