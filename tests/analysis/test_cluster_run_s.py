"""Cluster analyses on jobs whose run time is known without a start (``jobs.run_s``).

The hand-made grid-style SWF fixture (tests/data/swf/fixture_nowait.swf, waits -1) has
figures worked out by hand below; the real NASA slice, ingested once with its waits unknown
and once with the header's zero-wait rule, must give the same run-time and utilization
figures, since a job without a start is placed at its submit time.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import workscope
from workscope.analysis import characterize

DATA = Path(__file__).parent.parent / "data"
NOWAIT = DATA / "swf" / "fixture_nowait.swf"
NASA = DATA / "swf" / "NASA-iPSC-1993-3.1-cln.head200.swf"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> workscope.Store:
    s = workscope.open(tmp_path_factory.mktemp("run_s") / "store")
    s.ingest(NOWAIT, format="swf", name="grid")
    s.ingest(NASA, format="swf", name="nasa_null", options={"unknown_wait": "null"})
    s.ingest(NASA, format="swf", name="nasa_zero", options={"unknown_wait": "zero"})
    return s


def _dist(res, quantity: str) -> dict:
    return next(r for r in res.tables["distributions"].iter_rows(named=True) if r["quantity"] == quantity)


def test_nowait_runtime_distribution_and_requests(store) -> None:
    prof = characterize(store.trace("grid"))
    assert {"cluster_jobs", "cluster_utilization", "cluster_fairness"} <= set(prof.results)
    jobs = prof.results["cluster_jobs"]
    # run times 100, 50, 30, 0, 400 (job 5 has none); only job 3 has a start
    rt = _dist(jobs, "runtime_s")
    assert rt["n"] == 5 and rt["zeros"] == 1 and rt["min"] == 0.0 and rt["max"] == 400.0
    assert rt["mean"] == pytest.approx(116.0, rel=1e-12)
    assert rt["p50"] == 50.0
    assert jobs.summary["mean_runtime_s"] == pytest.approx(116.0, rel=1e-12)
    assert jobs.summary["jobs_with_runtime"] == 5 and jobs.summary["jobs_start_assumed"] == 4
    # the wait is known for job 3 only (5 s): the placed jobs add no queueing delay
    wait = _dist(jobs, "wait_s")
    assert wait["n"] == 1 and wait["mean"] == 5.0
    assert any("4 jobs have a run time but no start_s" in n for n in jobs.notes)
    # requested vs used runtime over the 5 jobs with both: 100/200, 50/100, 30/60, 0/10, 400/300
    rv = next(r for r in jobs.tables["requested_vs_used"].iter_rows(named=True) if r["quantity"] == "runtime_s")
    assert rv["n"] == 5
    assert rv["total_ratio"] == pytest.approx(580 / 670, rel=1e-12)
    assert rv["over_fraction"] == pytest.approx(0.2, rel=1e-12)
    assert rv["ratio_p50"] == pytest.approx(0.5, rel=1e-12)


def test_nowait_utilization_and_fairness_by_hand(store) -> None:
    prof = characterize(store.trace("grid"), only=["cluster_utilization", "cluster_fairness"])
    u = prof.results["cluster_utilization"]
    # placed at submit: job 1 [0, 100) x1, job 2 [10, 60) x2, job 3 [25, 55) x4 (its own
    # start), job 4 zero length, job 6 [60, 460) x2 -> 1120 processor-s over [0, 460]
    assert u.summary["span_end_s"] == 460.0 and u.summary["span_s"] == 460.0
    assert u.summary["jobs_start_assumed"] == 4 and u.summary["jobs_censored"] == 0
    assert u.summary["mean_cpu_allocated_cpu"] == pytest.approx(1120 / 460, rel=1e-9)
    assert u.summary["peak_cpu_allocated_cpu"] == 7.0  # jobs 1, 2, 3 on [25, 55)
    assert u.summary["cpu_capacity_source"] == "SWF header MaxProcs"
    assert u.summary["mean_cpu_utilization"] == pytest.approx(1120 / 460 / 8, rel=1e-9)
    assert any("placed at their submit time (wait taken as 0)" in n for n in u.notes)
    f = prof.results["cluster_fairness"]
    # user 1: 1*100 + 4*30 = 220; user 2: 2*50 + 2*400 = 900
    shares = dict(zip(f.tables["shares"]["user"], f.tables["shares"]["resource_time_cpu_s"]))
    assert shares == {"1": pytest.approx(220.0), "2": pytest.approx(900.0)}
    assert f.summary["jain_index"] == pytest.approx(1120**2 / (2 * (220**2 + 900**2)), rel=1e-12)


def test_nasa_unknown_waits_match_zero_waits(store) -> None:
    # The same 200 jobs: with unknown waits they are placed at submit, which is what the
    # zero-wait reading does explicitly, so every run-time and allocation figure agrees.
    null = characterize(store.trace("nasa_null"))
    zero = characterize(store.trace("nasa_zero"))
    cluster = {"cluster_jobs", "cluster_utilization", "cluster_fairness"}
    assert cluster <= set(null.results) and cluster <= set(zero.results)
    rn, rz = _dist(null.results["cluster_jobs"], "runtime_s"), _dist(zero.results["cluster_jobs"], "runtime_s")
    assert rn["n"] == rz["n"] == 200
    assert rn["mean"] == pytest.approx(132031 / 200, rel=1e-12)  # sum of field 4 over the slice
    assert {k: rn[k] for k in rn if k != "quantity"} == {k: rz[k] for k in rz if k != "quantity"}
    un, uz = null.results["cluster_utilization"].summary, zero.results["cluster_utilization"].summary
    for k in ("span_end_s", "mean_cpu_allocated_cpu", "peak_cpu_allocated_cpu", "mean_cpu_utilization"):
        assert un[k] == pytest.approx(uz[k], rel=1e-12), k
    assert un["jobs_start_assumed"] == 200 and uz["jobs_start_assumed"] == 0
    assert null.results["cluster_fairness"].summary["jain_index"] == pytest.approx(
        zero.results["cluster_fairness"].summary["jain_index"], rel=1e-12)
    # the wait is unknown, not zero: no queueing-delay figures for the null reading
    assert "wait_s" not in null.results["cluster_jobs"].tables["distributions"]["quantity"].to_list()
    assert "wait_over_time" not in null.results["cluster_jobs"].tables


def test_run_s_with_only_one_end_known(tmp_path) -> None:
    # a mapped trace mixing the cases: a: end 50 and run 20 but no start -> [30, 50) (start
    # from end - run, not assumed); b: start 10 and run 30, no end -> [10, 40), not censored;
    # c: run 10 only -> placed at submit [5, 15); d: start and end only -> [0, 100).
    src = tmp_path / "j.csv"
    pl.DataFrame({"id": ["a", "b", "c", "d"], "t": [0.0, 0.0, 5.0, 0.0], "s": [None, 10.0, None, 0.0],
                  "e": [50.0, None, None, 100.0], "r": [20.0, 30.0, 10.0, None],
                  "c": [1.0, 2.0, 4.0, 1.0], "u": ["x", "y", "x", "y"]}).write_csv(src)
    toml = tmp_path / "j.toml"
    toml.write_text('table = "jobs"\nformat = "csv"\n[time]\nformat = "seconds"\n[columns]\n'
                    'job_id = "id"\nsubmit_s = "t"\nstart_s = "s"\nend_s = "e"\nrun_s = "r"\n'
                    'cpu_req = "c"\nuser = "u"\n')
    s = workscope.open(tmp_path / "store")
    s.ingest(src, format="mapped", name="mix", options={"mapping": str(toml)})
    prof = characterize(s.trace("mix"), only=["cluster_utilization", "cluster_jobs", "cluster_fairness"])
    u = prof.results["cluster_utilization"].summary
    assert u["span_s"] == 100.0 and u["jobs_censored"] == 0 and u["jobs_start_assumed"] == 1
    # area 1*20 + 2*30 + 4*10 + 1*100 = 220 over 100 s; peak 2 + 4 + 1 = 7 on [10, 15)
    assert u["mean_cpu_allocated_cpu"] == pytest.approx(2.2, rel=1e-9)
    assert u["peak_cpu_allocated_cpu"] == 7.0
    j = prof.results["cluster_jobs"]
    rt = _dist(j, "runtime_s")
    assert rt["n"] == 4 and rt["mean"] == pytest.approx(40.0, rel=1e-12) and rt["max"] == 100.0
    assert _dist(j, "wait_s")["n"] == 2  # b (10 s) and d (0 s): the others' waits are unknown
    shares = dict(zip(prof.results["cluster_fairness"].tables["shares"]["user"],
                      prof.results["cluster_fairness"].tables["shares"]["resource_time_cpu_s"]))
    assert shares == {"x": pytest.approx(60.0), "y": pytest.approx(160.0)}
