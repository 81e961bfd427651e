"""Google clusterdata-2019 (trace v3) JSON reader: hand-made fixture after FORMATS.md section 9."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl

from tests.conftest import reconciles
from workscope.ingest import registry
from workscope.ingest.google_2019 import READER

DIR = "google_2019"
IE = "instance_events-000000000000.json.gz"
IU = "instance_usage-000000000000.json.gz"


def _lines(path: Path) -> list[str]:
    return gzip.open(path, "rt").read().splitlines()


def _valid(lines: list[str]) -> list[dict]:
    out = []
    for ln in lines:
        try:
            obj = json.loads(ln)
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def test_instance_events_to_jobs(store, data_dir: Path) -> None:
    lines = _lines(data_dir / DIR / IE)
    assert len(lines) == 12 and sum(1 for ln in lines if not ln.strip()) == 1
    m = store.ingest(data_dir / DIR, format="google_2019", name="g19").manifest
    t = store.trace("g19")
    jobs = m["tables"]["jobs"]
    # 3 instances (one without SUBMIT) + 4 unusable lines; the blank line is not a row
    assert (jobs["rows_in"], jobs["rows_ok"], jobs["rows_rejected"]) == (7, 2, 5)
    assert reconciles(m)
    df = t.read("jobs")
    a = df.filter(pl.col("job_id") == "1000").row(0, named=True)
    assert (a["task_id"], a["submit_s"], a["start_s"], a["end_s"]) == ("0", 0.0, 0.0, 1838400.0)
    assert a["status"] == "FINISH" and a["priority"] == 200 and a["cpu_req"] == 0.0184
    b = df.filter(pl.col("job_id") == "2000").row(0, named=True)
    # QUEUE is the last lifecycle event: censored; the UPDATE_PENDING refreshed the request
    assert (b["submit_s"], b["start_s"], b["end_s"], b["status"]) == (300.0, None, None, "QUEUE")
    assert b["cpu_req"] == 0.05
    attrs = json.loads(b["attrs"])
    assert attrs["missing_records"] == 1 and attrs["mem_req_norm"] == 0.01  # absent key -> null
    assert json.loads(a["attrs"])["alloc_collection_id"] is None
    rej = t.rejects().filter(pl.col("table") == "jobs").collect()
    bad = dict(zip(rej["line"].to_list(), rej["reason"].to_list()))
    assert bad[7] == bad[11] == bad[12] == "line is not a JSON object of the expected shape"
    assert bad[8] == "time: not an integer"
    assert rej.filter(pl.col("line") == 7)["raw"][0] == lines[6]
    agg = rej.filter(pl.col("reason").str.contains("no SUBMIT")).row(0, named=True)
    assert agg["line"] == 10 and "collection 3000 instance 0" in agg["raw"]


def test_instance_usage_and_machines(store, data_dir: Path) -> None:
    lines = _lines(data_dir / DIR / IU)
    objs = _valid(lines)
    assert len(lines) == 4 and len(objs) == 3
    m = store.ingest(data_dir / DIR, format="google_2019", name="g19").manifest
    t = store.trace("g19")
    assert (m["tables"]["usage"]["rows_ok"], m["tables"]["usage"]["rows_rejected"]) == (10, 2)
    df = t.read("usage")
    w1 = df.filter(pl.col("t_s") == 1838400.0)
    assert w1.height == 9 and set(w1["entity_id"]) == {"1000/0"}
    avg = w1.filter(pl.col("metric") == "average_usage_cpus").row(0, named=True)
    assert avg["value"] == objs[0]["average_usage"]["cpus"] == 0.0123 and avg["unit"] == "ncu"
    attrs = json.loads(avg["attrs"])
    assert len(attrs["cpu_usage_distribution"]) == 11 and len(attrs["tail_cpu_usage_distribution"]) == 9
    assert attrs["end_s"] == 1838700.0 and attrs["machine_id"] == 1596
    # the sparse window has only average_usage.cpus: absent keys give no sample
    assert df.filter(pl.col("t_s") == 1838700.0)["metric"].to_list() == ["average_usage_cpus"]
    mach = t.read("machines")
    assert mach["machine_id"].to_list() == ["1596", "1597"] and mach["cpu"].to_list() == [0.5, 0.5]
    assert m["meta"]["origin_utc"] == "2019-04-30T23:50:00+00:00"
    assert m["meta"]["origin_verified"] is False
    assert "NCU" in m["meta"]["cpu_unit"]


def test_sniff_and_detect(data_dir: Path) -> None:
    d = data_dir / DIR
    for p in (d, d / IE, d / IU, d / "machine_events-000000000000.json"):
        assert READER.sniff(p), p
        assert registry.detect([p]).name == "google_2019"
    assert not READER.sniff(data_dir / "philly" / "trace-data" / "cluster_job_log")
    assert not READER.sniff(data_dir / "google_2011" / "task_events" / "part-00000-of-00500.csv.gz")


def test_content_decides_when_the_name_does_not(store, tmp_path: Path) -> None:
    f = tmp_path / "shard.jsonl"
    f.write_text('{"time":"0","type":"0","collection_id":"5","instance_index":"2"}\n'
                 '{"time":"1000000","type":"3","collection_id":"5","instance_index":"2"}\n')
    m = store.ingest(f, format="google_2019", name="noname").manifest
    row = store.trace("noname").read("jobs").row(0, named=True)
    assert (row["job_id"], row["submit_s"], row["start_s"], row["status"]) == ("5", 0.0, 1.0, "SCHEDULE")
    assert m["tables"]["jobs"]["rows_rejected"] == 0
