"""Workload transforms: invariants (hypothesis), determinism, and shape on the real Azure trace."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from scipy import stats

from workscope.errors import UsageError
from workscope.replay import transforms as T
from workscope.replay.workload import LintError, Workload, check
from workscope.schemas import conform_exprs

SAMPLES = Path(__file__).parent.parent.parent / "workscope" / "samples"
DATA = Path(__file__).parent.parent / "data"
HYP = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def make(table: str, **cols: list) -> Workload:
    """A canonical workload from columns (missing canonical columns null), sorted by time."""
    df = pl.DataFrame(cols, strict=False)
    frame = df.lazy().select(conform_exprs(table, df.schema))
    wl = Workload(table, frame, {"source_trace": "synthetic", "hash_block_tokens": None, "transforms": []})
    return Workload(table, frame.sort(wl.time, maintain_order=True), wl.meta)


def requests(times: list[float], sessions: list[str | None] | None = None) -> Workload:
    ids = [f"r{i}" for i in range(len(times))]
    order = np.argsort(times, kind="stable")
    cols: dict[str, list] = {"arrival_s": [float(times[i]) for i in order], "request_id": [ids[i] for i in order]}
    if sessions is not None:
        cols["session_id"] = [sessions[i] for i in order]
    return make("requests", **cols)


times_st = st.lists(st.floats(0, 5000, allow_nan=False, allow_infinity=False), min_size=1, max_size=300)


def gaps(a: np.ndarray) -> np.ndarray:
    g = np.diff(np.sort(a))
    return g / g.mean()


@pytest.fixture(scope="module")
def azure(tmp_path_factory: pytest.TempPathFactory) -> Workload:
    import workscope

    store = workscope.open(tmp_path_factory.mktemp("az") / "s")
    store.ingest(SAMPLES / "azure_llm_2023", format="azure_llm", name="az")
    return Workload.from_trace(store.trace("az"))


@pytest.fixture(scope="module")
def conv(azure: Workload) -> Workload:
    return T.filter(azure, "kind", "conv")


# --- speed -----------------------------------------------------------------------------------


@HYP
@given(times=times_st, factor=st.floats(0.05, 20))
def test_speed_keeps_count_and_order(times: list[float], factor: float) -> None:
    wl = requests(times)
    src = wl.collect()
    out = T.speed(wl, factor).collect()
    assert out.height == src.height
    assert out["request_id"].to_list() == src["request_id"].to_list()
    np.testing.assert_array_equal(out["arrival_s"].to_numpy(), src["arrival_s"].to_numpy() * (1 / factor))
    np.testing.assert_allclose(out["arrival_s"].to_numpy(), src["arrival_s"].to_numpy() / factor, rtol=1e-15)
    assert (np.diff(out["arrival_s"].to_numpy()) >= 0).all()
    check(T.speed(wl, factor))


def test_speed_jobs_keeps_waits_and_runtimes_unless_asked() -> None:
    wl = make("jobs", job_id=["a", "b"], submit_s=[100.0, 200.0], start_s=[110.0, 260.0],
              end_s=[150.0, 300.0], runtime_req_s=[60.0, 60.0])
    out = T.speed(wl, 4.0).collect()
    assert out["submit_s"].to_list() == [25.0, 50.0]
    assert out["start_s"].to_list() == [35.0, 110.0]  # waits 10 and 60 kept
    assert out["end_s"].to_list() == [75.0, 150.0]  # runtimes 40 and 40 kept
    assert out["runtime_req_s"].to_list() == [60.0, 60.0]
    both = T.speed(wl, 4.0, scale_durations=True).collect()
    assert both["start_s"].to_list() == [27.5, 65.0]
    assert both["end_s"].to_list() == [37.5, 75.0]
    assert both["runtime_req_s"].to_list() == [15.0, 15.0]


def test_speed_rejects_bad_factor() -> None:
    with pytest.raises(UsageError):
        T.speed(requests([1.0]), 0)
    with pytest.raises(UsageError):
        T.speed(requests([1.0]), float("nan"))


# --- window / busiest ---------------------------------------------------------------------------


@HYP
@given(times=times_st, a=st.floats(0, 5000), w=st.floats(0.001, 3000), rebase=st.booleans())
def test_window_count_equals_numpy(times: list[float], a: float, w: float, rebase: bool) -> None:
    t = np.array(times)
    out = T.window(requests(times), a, a + w, rebase=rebase).collect()
    assert out.height == int(np.sum((t >= a) & (t < a + w)))
    want = np.sort(t[(t >= a) & (t < a + w)]) - (a if rebase else 0.0)
    np.testing.assert_array_equal(out["arrival_s"].to_numpy(), want)
    if rebase and out.height:
        assert out["arrival_s"].min() >= 0


@HYP
@given(times=st.lists(st.floats(0, 3600 * 3, allow_nan=False), min_size=1, max_size=400),
       minutes=st.integers(1, 90))
def test_busiest_is_the_densest_minute_aligned_window(times: list[float], minutes: int) -> None:
    t = np.array(times)
    wl = T.busiest(requests(times), minutes)
    step = wl.meta["transforms"][-1]
    out = wl.collect()
    # Brute force: every window starting on a whole minute between the first and last event.
    starts = np.arange(math.floor(t.min() / 60), math.floor(t.max() / 60) + 1) * 60.0
    counts = np.array([np.sum((t >= s) & (t < s + minutes * 60)) for s in starts])
    assert step["events"] == counts.max() == out.height
    assert step["start_s"] == starts[int(np.argmax(counts))]  # earliest of ties
    assert step["end_s"] - step["start_s"] == minutes * 60
    assert out["arrival_s"].min() >= 0 and out["arrival_s"].max() < minutes * 60


def test_busiest_on_real_azure(conv: Workload) -> None:
    t = conv.collect()["arrival_s"].to_numpy()
    wl = T.busiest(conv, 5)
    step = wl.meta["transforms"][-1]
    s = step["start_s"]
    assert wl.collect().height == int(np.sum((t >= s) & (t < s + 300))) == step["events"]
    per_min = np.bincount((t // 60).astype(int))
    assert step["events"] == max(per_min[i:i + 5].sum() for i in range(len(per_min)))
    check(wl)


def test_window_jobs_moves_start_and_end() -> None:
    wl = make("jobs", job_id=["a", "b", "c"], submit_s=[5.0, 15.0, 25.0], start_s=[6.0, 16.0, None],
              end_s=[9.0, 20.0, None])
    out = T.window(wl, 10, 30).collect()
    assert out["submit_s"].to_list() == [5.0, 15.0]
    assert out["start_s"].to_list() == [6.0, None]
    assert out["end_s"].to_list() == [10.0, None]


# --- compress_idle ---------------------------------------------------------------------------


@HYP
@given(times=times_st, max_gap=st.floats(0, 500))
def test_compress_idle_keeps_order_and_caps_gaps(times: list[float], max_gap: float) -> None:
    wl = requests(times)
    src = wl.collect()
    out = T.compress_idle(wl, max_gap).collect()
    assert out.height == src.height
    assert out["request_id"].to_list() == src["request_id"].to_list()
    g_src = np.diff(src["arrival_s"].to_numpy())
    g_out = np.diff(out["arrival_s"].to_numpy())
    assert (g_out >= 0).all()
    tol = 1e-9 * max(1.0, float(src["arrival_s"].max()))
    assert (g_out <= max_gap + tol).all()
    # Gaps already short enough are kept (up to rounding), long ones become exactly max_gap.
    np.testing.assert_allclose(g_out, np.minimum(g_src, max_gap), atol=tol)
    assert out["arrival_s"][0] == src["arrival_s"][0]


def test_compress_idle_known_values() -> None:
    out = T.compress_idle(requests([0.0, 1.0, 101.0, 102.0, 1000.0]), 10).collect()
    assert out["arrival_s"].to_list() == [0.0, 1.0, 11.0, 12.0, 22.0]


# --- filter ----------------------------------------------------------------------------------


def test_filter_values_nulls_and_exclude() -> None:
    wl = make("requests", arrival_s=[0.0, 1.0, 2.0, 3.0], model=["a", "b", None, "a"])
    assert T.filter(wl, "model", "a").collect()["arrival_s"].to_list() == [0.0, 3.0]
    assert T.filter(wl, "model", ["b", None]).collect()["arrival_s"].to_list() == [1.0, 2.0]
    assert T.filter(wl, "model", ["a"], exclude=True).collect()["arrival_s"].to_list() == [1.0, 2.0]
    with pytest.raises(UsageError, match="no column"):
        T.filter(wl, "nope", "a")


def test_filter_real_kinds(azure: Workload) -> None:
    kinds = azure.collect()["kind"].value_counts()
    want = dict(zip(kinds["kind"].to_list(), kinds["count"].to_list(), strict=True))
    assert want == {"conv": 19366, "code": 8819}  # counted independently of the reader: CSV rows
    assert T.filter(azure, "kind", "code").collect().height == 8819


# --- scale_rate ------------------------------------------------------------------------------


BIG = requests(list(np.random.default_rng(7).uniform(0, 10_000, 20_000)))


@HYP
@given(p=st.floats(0.01, 0.99), seed=st.integers(0, 2**32))
def test_thinning_keeps_expected_count(p: float, seed: int) -> None:
    n = 20_000
    out = T.scale_rate(BIG, p, seed=seed).collect()
    sd = math.sqrt(n * p * (1 - p))
    assert abs(out.height - n * p) <= 5 * sd + 1
    # A subset of the source, times untouched, still sorted.
    assert out["arrival_s"].is_sorted()
    src = BIG.collect()
    assert out.join(src, on=["request_id", "arrival_s"], how="anti").height == 0


@HYP
@given(factor=st.floats(1.0, 4.9), seed=st.integers(0, 2**32))
def test_superposition_count_is_factor_times_n(factor: float, seed: int) -> None:
    n = 20_000
    out = T.scale_rate(BIG, factor, seed=seed).collect()
    k, frac = math.floor(factor), factor - math.floor(factor)
    sd = math.sqrt(n * frac * (1 - frac))
    assert abs(out.height - factor * n) <= 5 * sd + 1
    assert out["arrival_s"].is_sorted()
    assert out["request_id"].n_unique() == out.height  # ids unique across copies
    # Copy 0 is the source itself; shifted copies stay inside the period.
    src = BIG.collect()
    assert out.filter(~pl.col("request_id").str.contains("#")).equals(src)
    t0, t1 = src["arrival_s"].min(), src["arrival_s"].max()
    assert out["arrival_s"].min() >= t0 and out["arrival_s"].max() <= t0 + (t1 - t0) * n / (n - 1)
    if k >= 2:
        assert out.filter(pl.col("request_id").str.ends_with("#1")).height == n


def test_target_rate() -> None:
    src = BIG.collect()
    rate = src.height / (src["arrival_s"].max() - src["arrival_s"].min())
    wl = T.scale_rate(BIG, target_rate_per_s=3 * rate, seed=1)
    assert wl.meta["transforms"][-1]["factor"] == pytest.approx(3.0)
    assert wl.collect().height == 3 * src.height
    with pytest.raises(UsageError):
        T.scale_rate(BIG, 2.0, target_rate_per_s=1.0, seed=1)


def _sessions(n_sessions: int, seed: int) -> Workload:
    rng = np.random.default_rng(seed)
    times, sess = [], []
    for s in range(n_sessions):
        start = rng.uniform(0, 3600)
        for turn in range(int(rng.integers(1, 6))):
            times.append(start + 30.0 * turn + rng.uniform(0, 5))
            sess.append(f"s{s}")
    for _ in range(n_sessions // 2):  # rows without a session
        times.append(rng.uniform(0, 3600))
        sess.append(None)
    return requests(times, sess)


@HYP
@given(factor=st.sampled_from([0.3, 0.5, 0.8, 1.5, 2.0, 2.7]), seed=st.integers(0, 2**32))
def test_sessions_are_kept_or_copied_whole(factor: float, seed: int) -> None:
    wl = _sessions(200, seed % 1000)
    src = wl.collect()
    out = T.scale_rate(wl, factor, seed=seed).collect()
    sizes = src.drop_nulls("session_id").group_by("session_id").len()
    got = (out.drop_nulls("session_id")
           .with_columns(pl.col("session_id").str.replace(r"#\d+$", "").alias("orig"))
           .group_by("session_id", "orig").agg(pl.len().alias("n"), pl.col("arrival_s").sort().diff().drop_nulls()))
    joined = got.join(sizes, left_on="orig", right_on="session_id")
    assert joined.height == got.height
    assert (joined["n"] == joined["len"]).all()  # never a torn session
    # Intra-session gaps are kept in every copy (a session moves as one block).
    src_gaps = src.drop_nulls("session_id").group_by("session_id").agg(pl.col("arrival_s").sort().diff().drop_nulls())
    for row in got.join(src_gaps, left_on="orig", right_on="session_id", suffix="_src").iter_rows(named=True):
        np.testing.assert_allclose(row["arrival_s"], row["arrival_s_src"], atol=1e-6)


def test_superposed_hash_ids_are_distinct_and_lint_clean(tmp_path: Path) -> None:
    import workscope

    store = workscope.open(tmp_path / "s")
    store.ingest(DATA / "mooncake", format="mooncake", name="mc")
    wl = Workload.from_trace(store.trace("mc"))
    src = wl.collect()
    out = T.scale_rate(wl, 2.0, seed=5)
    check(out)  # len(hash_ids) still ceil(input_tokens / 512)
    df = out.collect()
    assert df.height == 2 * src.height
    hmax = src["hash_ids"].list.max().max()
    copy1 = df.filter(pl.col("hash_ids").list.min() > hmax)
    assert copy1.height == src.height
    assert sorted(copy1["input_tokens"].to_list()) == sorted(src["input_tokens"].to_list())
    same = T.scale_rate(wl, 2.0, seed=5, distinct_hash_ids=False).collect()
    assert same["hash_ids"].list.max().max() == hmax


def test_jobs_superposition_unique_ids_and_follow_times(tmp_path: Path) -> None:
    import workscope

    store = workscope.open(tmp_path / "s")
    store.ingest(SAMPLES / "swf", format="swf", name="swf")
    wl = T.busiest(Workload.from_trace(store.trace("swf")), 24 * 60)
    src = wl.collect()
    out = T.scale_rate(wl, 2.0, seed=11)
    check(out)
    df = out.collect()
    assert df.height == 2 * src.height
    assert df["job_id"].n_unique() == df.height
    # Waits and runtimes are the source's, row for row, in the shifted copy too.
    c1 = df.filter(pl.col("job_id").str.ends_with("#1")).with_columns(pl.col("job_id").str.replace("#1", ""))
    j = c1.join(src, on="job_id", suffix="_src")
    assert j.height == src.height
    np.testing.assert_allclose((j["start_s"] - j["submit_s"]).to_numpy(),
                               (j["start_s_src"] - j["submit_s_src"]).to_numpy(), atol=1e-6)
    np.testing.assert_allclose((j["end_s"] - j["start_s"]).to_numpy(),
                               (j["end_s_src"] - j["start_s_src"]).to_numpy(), atol=1e-6)


def test_scale_rate_needs_a_seed_and_a_positive_factor() -> None:
    with pytest.raises(UsageError):
        T.scale_rate(BIG, 2.0, seed=None)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        T.scale_rate(BIG, -1.0, seed=1)


# --- determinism -------------------------------------------------------------------------------


def _pipeline(wl: Workload, seed: int) -> Workload:
    return T.compress_idle(T.scale_rate(T.speed(T.busiest(wl, 20), 2.0), 2.5, seed=seed), 5.0)


def test_same_seed_same_output(conv: Workload, tmp_path: Path) -> None:
    a, b = _pipeline(conv, 42), _pipeline(conv, 42)
    assert_frame_equal(a.collect(), b.collect())
    a.collect().write_parquet(tmp_path / "a.parquet")
    b.collect().write_parquet(tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    assert a.meta["transforms"] == b.meta["transforms"]
    names = [s["name"] for s in a.meta["transforms"]]
    assert names == ["filter", "busiest", "speed", "scale_rate", "compress_idle"]
    assert a.meta["transforms"][3]["seed"] == 42
    c = _pipeline(conv, 43).collect()
    assert not c.equals(a.collect())


def test_uniforms_are_batch_independent() -> None:
    keys = np.arange(10_000, dtype=np.uint64)
    u = T.uniforms(keys, 3, 0)
    np.testing.assert_array_equal(u[5000:], T.uniforms(keys[5000:], 3, 0))
    assert ((u >= 0) & (u < 1)).all()
    assert abs(u.mean() - 0.5) < 0.01
    assert not np.array_equal(u, T.uniforms(keys, 4, 0))
    assert not np.array_equal(u, T.uniforms(keys, 3, 1))
    # Known SplitMix64 output (reference value of the algorithm for state 0 -> first output).
    assert int(T.splitmix64(np.array([0], dtype=np.uint64))[0]) == 0xE220A8397B1DCDAF


def test_streaming_engine_gives_same_rows(conv: Workload) -> None:
    wl = T.scale_rate(conv, 0.5, seed=9)
    assert_frame_equal(wl.frame.collect(engine="streaming"), wl.collect())


# --- shape of the arrival process on the real Azure LLM conv trace -------------------------------


@pytest.mark.parametrize("factor", [0.5, 2.0])
def test_rate_scaling_keeps_interarrival_shape_on_azure_conv(conv: Workload, factor: float) -> None:
    src = conv.collect()["arrival_s"].to_numpy()
    assert src.size == 19366  # rows of AzureLLMInferenceTrace_conv.csv
    out = T.scale_rate(conv, factor, seed=2024)
    check(out)
    t = out.collect()["arrival_s"].to_numpy()
    assert abs(t.size / src.size - factor) < 0.02
    ks = stats.ks_2samp(gaps(src), gaps(t)).statistic
    assert ks <= 0.05, ks
    # The test can fail: a replay with the same count but evenly spaced arrivals is far off.
    even = np.linspace(src.min(), src.max(), t.size)
    assert stats.ks_2samp(gaps(src), np.diff(even) / np.diff(even).mean()).statistic > 0.5


def test_transforms_output_lints_and_lint_catches_breakage(conv: Workload) -> None:
    check(T.compress_idle(T.speed(conv, 3.0), 1.0))
    broken = conv.with_frame(conv.frame.with_columns(-pl.col("arrival_s")), {"name": "break"})
    with pytest.raises(LintError):
        check(broken)


def test_window_bounds_are_half_open() -> None:
    wl = requests([9.99, 10.0, 15.0, 20.0, 60.0, 120.0, 120.0, 179.5])
    assert T.window(wl, 10, 20).collect()["arrival_s"].to_list() == [0.0, 5.0]
    assert T.window(wl, 10, 20, rebase=False).collect()["arrival_s"].to_list() == [10.0, 15.0]
    assert T.window(wl, end_s=10).collect()["arrival_s"].to_list() == [9.99]
    b = T.busiest(wl, 1)  # minute [0, 60) holds 4 events, [120, 180) only 3
    assert b.meta["transforms"][-1]["start_s"] == 0.0 and b.collect().height == 4
    b2 = T.busiest(wl, 1, rebase=False)
    assert b2.collect()["arrival_s"].to_list() == [9.99, 10.0, 15.0, 20.0]
    with pytest.raises(UsageError):
        T.window(wl, 20, 10)
