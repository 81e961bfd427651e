"""Usage analyses against polars / numpy computed on the same data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import vl_convert as vlc

import workscope
from workscope.analysis import usage
from workscope.analysis.base import Context, Options
from workscope.reports import charts_usage

USAGE_TRACES = ("genai", "google2011", "huawei23", "huawei25", "noise", "philly", "planetlab")
SHARED_TRACES = ("genai", "google2011", "huawei23", "huawei25", "philly")
OTHER_TRACES = ("nasa_ipsc", "azure_llm_code", "alibaba_openb", "azure_functions_2021", "dlrm")


def _usage_trace(store: workscope.Store, tmp: Path, name: str, df: pl.DataFrame) -> workscope.Trace:
    """Ingest a usage table (columns t, e, m, v) through the mapped reader."""
    src = tmp / f"{name}.csv"
    df.write_csv(src)
    toml = tmp / f"{name}.toml"
    toml.write_text('table = "usage"\nformat = "csv"\n[time]\nformat = "seconds"\n[columns]\n'
                    't_s = "t"\nentity_id = "e"\nmetric = "m"\nvalue = "v"\n')
    store.ingest(src, format="mapped", name=name, options={"mapping": str(toml)})
    return store.trace(name)


def _get(name: str):
    return next(a for a in usage.ANALYSES if a.name == name)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """4 metrics on 6 entities x 300 instants; m3 sampled only at even instants; corr by design."""
    tmp = tmp_path_factory.mktemp("usage")
    rng = np.random.default_rng(11)
    ents, ts = 6, 300
    t = np.repeat(np.arange(ts) * 10.0, ents)
    e = np.tile([f"vm{i}" for i in range(ents)], ts)
    z = rng.normal(size=t.size)
    vals = {"cpu_pct": 50 + 10 * z + rng.normal(size=t.size),
            "mem_mb": 1000 - 30 * z + 20 * rng.normal(size=t.size),
            "net_kbps": rng.exponential(5.0, size=t.size),
            "disk_iops": 3 * z + rng.normal(size=t.size)}
    frames = []
    for m, v in vals.items():
        keep = (t / 10.0) % 2 == 0 if m == "disk_iops" else np.ones(t.size, bool)
        frames.append(pl.DataFrame({"t": t[keep], "e": e[keep], "m": m, "v": v[keep]}))
    df = pl.concat(frames)
    store = workscope.open(tmp / "s")
    return _usage_trace(store, tmp, "u", df), df


def test_metric_summaries_equal_polars(synth):
    tr, df = synth
    res = _get("usage_metrics").run(Context(tr))
    got = {r["metric"]: r for r in res.tables["metrics"].iter_rows(named=True)}
    exp = df.group_by("m").agg(pl.len().alias("n"), pl.col("v").mean().alias("mean"), pl.col("v").std().alias("std"),
                               pl.col("v").min().alias("min"), pl.col("v").max().alias("max"),
                               pl.col("e").n_unique().alias("entities"))
    for row in exp.iter_rows(named=True):
        g = got[row["m"]]
        assert g["n"] == row["n"] and g["entities"] == row["entities"]
        for k in ("mean", "std", "min", "max"):
            assert g[k] == pytest.approx(row[k], rel=1e-9, abs=1e-12), (row["m"], k)
        v = df.filter(pl.col("m") == row["m"])["v"].to_numpy()
        for q in usage.QUANTILES:
            assert g[f"p{round(q * 100):02d}"] == pytest.approx(np.quantile(v, q), rel=1e-9)
    assert res.summary["metrics"] == 4 and res.summary["samples"] == df.height
    assert res.summary["largest_metric_samples"] == 1800


def test_entity_summaries_and_series_equal_polars(synth):
    tr, df = synth
    res = _get("usage_metrics").run(Context(tr, Options(top_groups=3)))
    ent = res.tables["entities"]
    assert ent["entity_id"].n_unique() == 3
    for row in ent.iter_rows(named=True):
        v = df.filter((pl.col("e") == row["entity_id"]) & (pl.col("m") == row["metric"]))["v"].to_numpy()
        assert row["n"] == v.size
        assert row["mean"] == pytest.approx(v.mean(), rel=1e-9)
        assert row["std"] == pytest.approx(v.std(ddof=1), rel=1e-9)
        assert row["p50"] == pytest.approx(np.median(v), rel=1e-9)
    s = res.tables["series"]
    assert s["metric"].n_unique() == 3
    # every sample lands in one bin: counts add up, and the count-weighted bin means give the mean
    for m, grp in s.group_by("metric"):
        v = df.filter(pl.col("m") == m[0])["v"].to_numpy()
        assert int(grp["n"].sum()) == v.size
        assert float((grp["mean"] * grp["n"]).sum() / grp["n"].sum()) == pytest.approx(v.mean(), rel=1e-9)
    width = res.summary["series_bin_s"]
    first = s.filter(pl.col("metric") == "cpu_pct").sort("t_s").row(0, named=True)
    v0 = df.filter((pl.col("m") == "cpu_pct") & (pl.col("t") < width))["v"].to_numpy()
    assert first["mean"] == pytest.approx(v0.mean(), rel=1e-9)


def test_correlation_equals_numpy_corrcoef(synth):
    tr, df = synth
    ctx = Context(tr)
    assert _get("usage_correlation").applies(ctx)
    res = _get("usage_correlation").run(ctx)
    c = res.tables["correlation"]
    pivot = df.pivot(on="m", index=["e", "t"], values="v", aggregate_function="mean")
    metrics = ["cpu_pct", "mem_mb", "net_kbps", "disk_iops"]
    full = pivot.drop_nulls().select(metrics).to_numpy()
    # the metrics sampled at every key: the complete pivot and numpy corrcoef
    r3 = np.corrcoef(pivot.select(metrics[:3]).to_numpy(), rowvar=False)
    for i in range(3):
        for j in range(3):
            got = c.filter((pl.col("metric_x") == metrics[i]) & (pl.col("metric_y") == metrics[j]))
            assert got["r"][0] == pytest.approx(r3[i, j], abs=1e-9)
            assert got["n"][0] == pivot.height
    # disk_iops is sampled on half the keys: pairwise-complete rows, numpy on the same rows
    r4 = np.corrcoef(full, rowvar=False)
    for i in range(3):
        got = c.filter((pl.col("metric_x") == metrics[i]) & (pl.col("metric_y") == "disk_iops"))
        assert got["r"][0] == pytest.approx(r4[i, 3], abs=1e-9)
        assert got["n"][0] == full.shape[0]
    assert res.summary["strongest_pair"] in (["cpu_pct", "disk_iops"], ["disk_iops", "cpu_pct"])
    assert res.summary["pairs"] == 6
    assert not res.summary["sampled"]


def test_correlation_sampled_is_seeded(synth):
    tr, _ = synth
    opts = Options(max_sample=200, seed=5)
    a = _get("usage_correlation").run(Context(tr, opts))
    b = _get("usage_correlation").run(Context(tr, opts))
    assert a.summary["sampled"]
    assert a.tables["correlation"].equals(b.tables["correlation"])
    n = a.tables["correlation"].filter(pl.col("metric_x") == pl.col("metric_y"))["n"]
    assert int(n.max()) <= 200
    # a 200-key sample still sees the designed correlation of cpu and mem (r about -0.95)
    r = a.tables["correlation"].filter((pl.col("metric_x") == "cpu_pct") & (pl.col("metric_y") == "mem_mb"))["r"][0]
    assert r < -0.8


def test_no_correlation_without_shared_timestamps(tmp_path):
    store = workscope.open(tmp_path / "s")
    df = pl.DataFrame({"t": [0.0, 1.0, 2.5, 3.5], "e": ["a", "a", "a", "a"], "m": ["x", "x", "y", "y"],
                       "v": [1.0, 2.0, 3.0, 4.0]})
    tr = _usage_trace(store, tmp_path, "apart", df)
    ctx = Context(tr)
    assert not _get("usage_correlation").applies(ctx)
    assert _get("usage_metrics").applies(ctx)


@pytest.mark.parametrize("name", USAGE_TRACES)
def test_runs_on_real_usage_traces(real_store, name):
    ctx = Context(real_store.trace(name))
    ran = 0
    for a in usage.ANALYSES:
        if not a.applies(ctx):
            assert a.name == "usage_correlation" and name not in SHARED_TRACES
            continue
        ran += 1
        r = a.run(ctx)
        r.to_json()
        charts = charts_usage.CHARTS[r.kind](r)
        assert charts
        for ch in charts:
            assert vlc.vegalite_to_svg(ch.to_json()).startswith("<svg")
        for df in r.tables.values():
            assert df.height <= usage.SERIES_POINTS + 100
    assert ran == (2 if name in SHARED_TRACES else 1)


def test_real_usage_figures(real_store):
    tr = real_store.trace("planetlab")
    res = _get("usage_metrics").run(Context(tr))
    u = tr.read("usage")
    row = res.tables["metrics"].row(0, named=True)
    assert row["n"] == u.height == 1440
    assert row["mean"] == pytest.approx(float(u["value"].mean()), rel=1e-12)
    assert row["p95"] == pytest.approx(float(np.quantile(u["value"].to_numpy(), 0.95)), rel=1e-12)


@pytest.mark.parametrize("name", OTHER_TRACES)
def test_not_applicable_without_usage(real_store, name):
    ctx = Context(real_store.trace(name))
    assert not any(a.applies(ctx) for a in usage.ANALYSES)
