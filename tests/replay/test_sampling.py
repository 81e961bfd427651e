"""Samplers: whole sessions / jobs, InVitro function samples (scores checked against scipy), nesting."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from scipy import stats

import workscope
from workscope.errors import UsageError
from workscope.replay import sampling as S
from workscope.replay.workload import Workload, check
from workscope.schemas import conform_exprs

SAMPLES = Path(__file__).parent.parent.parent / "workscope" / "samples"
DATA = Path(__file__).parent.parent / "data"
HYP = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def make(table: str, time: str, **cols: list) -> Workload:
    df = pl.DataFrame(cols, strict=False)
    frame = df.lazy().select(conform_exprs(table, df.schema)).sort(time, maintain_order=True)
    return Workload(table, frame, {"source_trace": "synthetic", "hash_block_tokens": None, "transforms": []})


def session_workload(sessions: list[str | None]) -> Workload:
    return make("requests", "arrival_s", arrival_s=[float(i) for i in range(len(sessions))],
                request_id=[f"r{i}" for i in range(len(sessions))], session_id=sessions)


@pytest.fixture(scope="module")
def f21(tmp_path_factory: pytest.TempPathFactory) -> Workload:
    store = workscope.open(tmp_path_factory.mktemp("f21") / "s")
    store.ingest(SAMPLES / "azure_functions_2021", format="azure_functions_2021", name="f21")
    return Workload.from_trace(store.trace("f21"))


# --- sessions and jobs --------------------------------------------------------------------------


sessions_st = st.lists(st.one_of(st.none(), st.sampled_from([f"s{i}" for i in range(15)])), min_size=1, max_size=120)


@HYP
@given(sessions=sessions_st, fraction=st.floats(0, 1), seed=st.integers(0, 2**32))
def test_sample_sessions_keeps_whole_sessions(sessions: list[str | None], fraction: float, seed: int) -> None:
    wl = session_workload(sessions)
    out = S.sample_sessions(wl, fraction, seed=seed)
    df = out.collect()
    named = [s for s in sessions if s is not None]
    units = len(set(named)) + sessions.count(None)
    kept_sessions = set(df["session_id"].drop_nulls().to_list())
    kept_units = len(kept_sessions) + df["session_id"].null_count()
    assert kept_units == round(fraction * units) == out.meta["transforms"][-1]["kept_units"]
    for s in kept_sessions:  # every row of a kept session is there
        assert df.filter(pl.col("session_id") == s).height == named.count(s)
    assert df["arrival_s"].is_sorted()
    assert df.join(wl.collect(), on=["request_id", "arrival_s"], how="anti").height == 0


def test_sample_sessions_n_and_determinism(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    sessions = [f"s{int(i)}" if i < 40 else None for i in rng.integers(0, 60, 500)]
    wl = session_workload(sessions)
    a = S.sample_sessions(wl, n=25, seed=3)
    b = S.sample_sessions(wl, n=25, seed=3)
    assert_frame_equal(a.collect(), b.collect())
    a.collect().write_parquet(tmp_path / "a.parquet")
    b.collect().write_parquet(tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    assert not a.collect().equals(S.sample_sessions(wl, n=25, seed=4).collect())
    df = a.collect()
    assert df["session_id"].drop_nulls().n_unique() + df["session_id"].null_count() == 25
    with pytest.raises(UsageError):
        S.sample_sessions(wl, n=10_000, seed=1)
    with pytest.raises(UsageError):
        S.sample_sessions(wl, fraction=0.5, n=3, seed=1)


def test_sample_sessions_on_burstgpt(tmp_path: Path) -> None:
    store = workscope.open(tmp_path / "s")
    store.ingest(DATA / "burstgpt" / "BurstGPT_3.csv", format="burstgpt", name="b")
    wl = Workload.from_trace(store.trace("b"))
    src = wl.collect()
    sizes = dict(src.drop_nulls("session_id").group_by("session_id").len().iter_rows())
    for seed in range(10):
        df = S.sample_sessions(wl, 0.5, seed=seed).collect()
        for s, n in df.drop_nulls("session_id").group_by("session_id").len().iter_rows():
            assert sizes[s] == n


def test_sample_jobs_keeps_all_tasks(tmp_path: Path) -> None:
    jobs = [f"j{i // 3}" for i in range(60)]  # 20 jobs of 3 tasks
    wl = make("jobs", "submit_s", job_id=jobs, task_id=[str(i % 3) for i in range(60)],
              submit_s=[float(i) for i in range(60)])
    df = S.sample_jobs(wl, fraction=0.25, seed=8).collect()
    assert df["job_id"].n_unique() == 5 and df.height == 15
    store = workscope.open(tmp_path / "s")
    store.ingest(SAMPLES / "swf", format="swf", name="swf")
    swf = Workload.from_trace(store.trace("swf"))
    n_jobs = swf.collect()["job_id"].n_unique()
    out = S.sample_jobs(swf, n=100, seed=1)
    check(out)
    assert out.collect()["job_id"].n_unique() == 100
    assert out.meta["transforms"][-1]["units"] == n_jobs
    with pytest.raises(UsageError):
        S.sample_jobs(session_workload(["a"]), n=1, seed=1)


# --- Wasserstein, InVitro scoring ----------------------------------------------------------------


@HYP
@given(n=st.integers(1, 12), big=st.integers(1, 30), cols=st.integers(1, 5), seed=st.integers(0, 1000))
def test_wasserstein_columns_equals_scipy(n: int, big: int, cols: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 6, (n, cols)).astype(float)
    b = rng.exponential(3, (big, cols))
    got = S.wasserstein_columns(a, np.sort(b, axis=0), block=2)
    want = [stats.wasserstein_distance(a[:, c], b[:, c]) for c in range(cols)]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def invitro_score(counts: np.ndarray, proxy: np.ndarray, rows: np.ndarray) -> tuple[float, float]:
    """InVitro's compute_distances, written out with scipy: per-minute W1, then the mean."""
    res = counts * proxy[:, None]
    inv = np.mean([stats.wasserstein_distance(counts[rows, m], counts[:, m]) for m in range(counts.shape[1])])
    rr = np.mean([stats.wasserstein_distance(res[rows, m], res[:, m]) for m in range(counts.shape[1])])
    return float(inv), float(rr)


def test_function_matrix_counts_match_numpy(f21: Workload) -> None:
    df = f21.collect()
    fm = S.function_matrix(f21)
    assert fm.counts.sum() == df.height == 199
    assert list(fm.functions) == sorted(df["function_id"].unique().to_list())
    fid = fm.functions.index(df["function_id"][5])
    mins = np.floor(df.filter(pl.col("function_id") == fm.functions[fid])["arrival_s"].to_numpy() / 60).astype(int)
    lo = int(np.floor(df["arrival_s"].min() / 60))
    np.testing.assert_array_equal(fm.counts[fid], np.bincount(mins - lo, minlength=fm.counts.shape[1]))
    assert fm.proxy_kind == "duration_s"  # the 2021 trace has durations, no memory
    means = df.group_by("function_id").agg(pl.col("duration_s").mean())
    d = dict(means.iter_rows())
    want = np.array([d[f] for f in fm.functions])
    np.testing.assert_allclose(fm.proxy, want / want.mean())


def test_sample_functions_invitro(f21: Workload) -> None:
    r = S.sample_functions(f21, 8, seed=5, tries=6)
    assert r.size == 8 and len(set(r.chosen)) == 8
    assert len(r.distances) == 6
    assert r.best_try == int(np.argmin(r.distances)) and r.score == min(r.distances)
    fm = S.function_matrix(f21)
    rows = np.array([fm.functions.index(f) for f in r.chosen])
    inv, res = invitro_score(fm.counts, fm.proxy, rows)
    assert r.inv_distance == pytest.approx(inv, rel=1e-9)
    assert r.res_distance == pytest.approx(res, rel=1e-9)
    assert r.score == pytest.approx((inv + res) / 2, rel=1e-9)
    df = r.workload.collect()
    src = f21.collect()
    assert df.height == src.filter(pl.col("function_id").is_in(list(r.chosen))).height
    assert set(df["function_id"].unique().to_list()) <= set(r.chosen)
    step = r.workload.meta["transforms"][-1]
    assert step["name"] == "sample_functions" and step["seed"] == 5 and step["chosen"] == list(r.chosen)
    check(r.workload)
    # Same seed, same sample and scores; the best of many tries beats the typical try.
    r2 = S.sample_functions(f21, 8, seed=5, tries=6)
    assert r2.chosen == r.chosen and r2.distances == r.distances
    many = S.sample_functions(f21, 8, seed=6, tries=40)
    assert many.score <= np.median(many.distances)
    with pytest.raises(UsageError):
        S.sample_functions(f21, 1000, seed=1)


@HYP
@given(sizes=st.lists(st.integers(1, 31), min_size=1, max_size=5), seed=st.integers(0, 2**32))
def test_nested_samples_nest(f21: Workload, sizes: list[int], seed: int) -> None:
    out = S.sample_functions_nested(f21, sizes, seed=seed, tries=3)
    order = sorted(set(sizes))
    assert sorted(out) == order
    for small, large in pairwise(order):
        assert set(out[small].chosen) <= set(out[large].chosen)
    for s in order:
        assert out[s].size == s
        assert out[s].workload.collect()["function_id"].n_unique() <= s


def test_nested_scores_are_against_the_full_trace(f21: Workload) -> None:
    out = S.sample_functions_nested(f21, [4, 16], seed=1, tries=4)
    fm = S.function_matrix(f21)
    rows = np.array([fm.functions.index(f) for f in out[4].chosen])
    inv, res = invitro_score(fm.counts, fm.proxy, rows)
    assert out[4].score == pytest.approx((inv + res) / 2, rel=1e-9)
    again = S.sample_functions_nested(f21, [16, 4], seed=1, tries=4)
    assert again[4].chosen == out[4].chosen and again[16].chosen == out[16].chosen


def test_invocation_counts_with_functions_table(tmp_path: Path) -> None:
    store = workscope.open(tmp_path / "s")
    store.ingest(DATA / "azure_functions_2019" / "fixture", format="azure_functions_2019", name="f19")
    trace = store.trace("f19")
    wl = S.counts_workload(trace)
    assert wl.time == "window_start_s"
    check(wl)
    counts = trace.read("invocation_counts")
    res = S.function_resources(trace)
    fm = S.function_matrix(wl, resources=res)
    assert fm.counts.sum() == counts["count"].sum()
    assert fm.proxy_kind == "duration_s*memory_mb"
    r = S.sample_functions(wl, 2, seed=3, tries=3, resources=res)
    rows = np.array([fm.functions.index(f) for f in r.chosen])
    inv, rr = invitro_score(fm.counts, fm.proxy, rows)
    assert r.score == pytest.approx((inv + rr) / 2, rel=1e-9)
    df = r.workload.collect()
    assert df["count"].sum() == counts.filter(pl.col("function_id").is_in(list(r.chosen)))["count"].sum()
    check(r.workload)
