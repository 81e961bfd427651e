"""Philly traces reader: fixture built from the README's verbatim rows (FORMATS.md section 13)."""

from __future__ import annotations

import csv
import json
import tarfile
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import reconciles
from workscope.ingest import registry
from workscope.ingest.philly import READER

DIR = "philly/trace-data"
VERBATIM_GPU = ("2017-10-03 00:08:00 PDT,m29,60.8,99.366666667,100.0,63.333333333,"
                "100.0,100.0,100.0,100.0,")


def _csv(path: Path) -> list[list[str]]:
    with open(path, newline="") as fh:
        return list(csv.reader(fh))[1:]


@pytest.fixture
def trace(store, data_dir: Path):
    result = store.ingest(data_dir / DIR, format="philly", name="philly")
    return result.manifest, store.trace("philly")


def test_jobs(trace, data_dir: Path) -> None:
    m, t = trace
    jobs_src = json.loads((data_dir / DIR / "cluster_job_log").read_text())
    jobs = m["tables"]["jobs"]
    assert jobs["rows_in"] == len(jobs_src) == 5
    assert (jobs["rows_ok"], jobs["rows_rejected"]) == (3, 2)
    # origin: the earliest time anywhere = mem_util's 00:06 PDT = 07:06 UTC
    assert m["meta"]["origin_utc"] == "2017-10-03T07:06:00+00:00"
    df = t.read("jobs")
    j = df.filter(pl.col("job_id") == "application_1506638472019_14199").row(0, named=True)
    # 2017-10-07 01:11:39 PDT is 4 days 1 h 5 min 39 s after the origin
    assert j["submit_s"] == 4 * 86400 + 3939.0
    assert j["start_s"] == j["submit_s"] + 30.0  # first attempt 01:12:09
    assert j["end_s"] == 6 * 86400 + 6 * 3600 + 47 * 60 + 12.0  # last attempt 2017-10-09 06:53:12
    assert (j["user"], j["queue"], j["status"], j["gpu_req"], j["nodes"]) == ("ce2f4c", "ee9e8c", "Pass", 8.0, 1)
    assert json.loads(j["attrs"]) == {"attempts": 2, "machines": ["m47"]}
    none_end = df.filter(pl.col("job_id") == "application_1506638472019_14201").row(0, named=True)
    assert none_end["end_s"] is None and none_end["gpu_req"] == 3.0 and none_end["nodes"] == 2
    no_attempts = df.filter(pl.col("job_id") == "application_1506638472019_14200").row(0, named=True)
    assert no_attempts["start_s"] is None and no_attempts["gpu_req"] is None
    rej = t.rejects().filter(pl.col("table") == "jobs").sort("line").collect()
    assert rej["line"].to_list() == [4, 5]  # positions in the array
    assert rej["reason"][0] == "end_s is before start_s"
    assert json.loads(rej["raw"][1])["submitted_time"] == "not a date"


def test_usage(trace, data_dir: Path) -> None:
    m, t = trace
    gpu = _csv(data_dir / DIR / "cluster_gpu_util")
    assert ",".join(gpu[0]) == VERBATIM_GPU
    usage = m["tables"]["usage"]
    assert (usage["rows_ok"], usage["rows_rejected"]) == (13, 2)
    assert reconciles(m)
    df = t.read("usage")
    first = df.filter((pl.col("entity_id") == "m29") & (pl.col("t_s") == 120.0))
    assert first.height == 8
    assert first.filter(pl.col("metric") == "gpu1_util_percent")["value"][0] == 99.366666667
    assert df.filter(pl.col("t_s") == 180.0).height == 0  # all NA: server offline
    cpu = df.filter(pl.col("metric") == "cpu_util_percent").row(0, named=True)
    # 2017-11-27 00:04:00 PST = 08:04 UTC: 55 days and 58 minutes after the origin
    assert cpu["t_s"] == 55 * 86400 + 58 * 60.0 and cpu["value"] == 31.845
    mem = df.filter(pl.col("metric") == "mem_total").row(0, named=True)
    assert mem["t_s"] == 0.0 and mem["value"] == 528272672.0 and mem["unit"] is None
    reasons = t.rejects().filter(pl.col("table") == "usage").collect()["reason"].to_list()
    assert sorted(reasons) == ["cpu_util: not a number", "time: not a timestamp with PDT/PST suffix"]


def test_machines(trace) -> None:
    m, t = trace
    df = t.read("machines")
    assert (m["tables"]["machines"]["rows_ok"], m["tables"]["machines"]["rows_rejected"]) == (3, 1)
    m31 = df.filter(pl.col("machine_id") == "m31").row(0, named=True)
    assert m31["gpu"] == 8.0 and json.loads(m31["attrs"]) == {"gpu_mem_gb": 24.0}


def test_tarball_and_time_zone_option(store, tmp_path: Path, data_dir: Path) -> None:
    tgz = tmp_path / "trace-data.tar.gz"
    with tarfile.open(tgz, "w:gz") as tf:
        tf.add(data_dir / DIR, arcname="trace-data")
    assert READER.sniff(tgz) and registry.detect([tgz]).name == "philly"
    m = store.ingest(tgz, format="philly", name="tgz", options={"time_zone": "UTC"}).manifest
    assert {k: v["rows_ok"] for k, v in m["tables"].items()} == {"jobs": 3, "usage": 13, "machines": 3}
    j = store.trace("tgz").read("jobs").filter(
        pl.col("job_id") == "application_1506638472019_14199").row(0, named=True)
    # read as UTC the submit is 7 h earlier than as PDT
    assert j["submit_s"] == 4 * 86400 + 3939.0 - 7 * 3600
    assert m["meta"]["job_log_time_zone"] == "UTC"


def test_sniff_and_detect(data_dir: Path) -> None:
    d = data_dir / DIR
    for p in (data_dir / "philly", d, d / "cluster_job_log", d / "cluster_gpu_util",
              d / "cluster_cpu_util", d / "cluster_mem_util", d / "cluster_machine_list"):
        assert READER.sniff(p), p
        assert registry.detect([p]).name == "philly"
    assert not READER.sniff(data_dir / "google_2019" / "machine_events-000000000000.json")
    assert not READER.sniff(data_dir / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv")
