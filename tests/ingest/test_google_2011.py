"""Google clusterdata-2011-2 reader: hand-made fixture after FORMATS.md section 8."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import reconciles
from workscope.ingest import registry
from workscope.ingest.google_2011 import READER, kind_from_fields

DIR = "google_2011"
TE = ("task_events/part-00000-of-00500.csv.gz", "task_events/part-00001-of-00500.csv.gz")


def _lines(path: Path) -> list[list[str]]:
    return [ln.split(",") for ln in gzip.open(path, "rt").read().splitlines() if ln]


@pytest.fixture
def trace(store, data_dir: Path):
    result = store.ingest(data_dir / DIR, format="google_2011", name="g11")
    return result.manifest, store.trace("g11")


def test_one_row_per_task(trace, data_dir: Path) -> None:
    m, t = trace
    events = [row for f in TE for row in _lines(data_dir / DIR / f)]
    assert len(events) == 14
    tasks = {(r[2], r[3]) for r in events if r[0].isdigit() and r[5] in "012345678"}
    bad_lines = 2  # non-numeric time, event code 9
    jobs = m["tables"]["jobs"]
    # rows_in counts the tasks plus the event lines rejected before grouping
    assert jobs["rows_in"] == len(tasks) + bad_lines == 6
    assert (jobs["rows_ok"], jobs["rows_rejected"]) == (3, 3)
    assert reconciles(m)
    df = t.read("jobs")
    b0 = df.filter((pl.col("job_id") == "6251812952") & (pl.col("task_id") == "0")).row(0, named=True)
    # first SUBMIT, first SCHEDULE, last terminal event (FINISH after an EVICT and a resubmit)
    assert b0["submit_s"] == 5611.824441 and b0["start_s"] == 5612.0 and b0["end_s"] == 6000.0
    assert b0["status"] == "FINISH" and b0["priority"] == 0 and b0["cpu_req"] == 0.0625
    a = json.loads(b0["attrs"])
    assert (a["events"], a["submits"], a["schedules"], a["evictions"]) == (6, 2, 2, 1)
    assert a["machine_id"] == "257336672" and a["mem_req_norm"] == 0.03185
    b1 = df.filter((pl.col("job_id") == "6251812952") & (pl.col("task_id") == "1")).row(0, named=True)
    # never scheduled: censored; the UPDATE_PENDING refreshed the CPU request
    assert b1["start_s"] is None and b1["end_s"] is None and b1["status"] == "SUBMIT"
    assert b1["cpu_req"] == 0.125
    a0 = df.filter(pl.col("job_id") == "3418309").row(0, named=True)
    assert (a0["submit_s"], a0["start_s"], a0["end_s"], a0["status"]) == (0.0, 0.0, 6300.0, "FAIL")
    assert a0["user"] == "70s3v5qRyCO/1PCdI6fVXnrW8FU/w+5CKRSa72xgcIo=" and a0["priority"] == 9
    assert json.loads(a0["attrs"])["missing_info_records"] == 1
    rej = t.rejects().filter(pl.col("table") == "jobs").collect()
    by_reason = dict(zip(rej["reason"], rej["line"]))
    assert by_reason["time: not an integer"] == 7
    assert by_reason["event type: not a documented code"] == 8
    assert any("no SUBMIT event" in r for r in rej["reason"])
    # the aggregated reject points at the task's first event: line 5 of the second file
    agg = rej.filter(pl.col("reason").str.contains("no SUBMIT")).row(0, named=True)
    assert agg["line"] == 5 and "job 6251812952 task 2" in agg["raw"]
    assert TE[1] in agg["raw"]


def test_usage_and_machines(trace, data_dir: Path) -> None:
    m, t = trace
    rows = _lines(data_dir / DIR / "task_usage/part-00000-of-00500.csv.gz")
    assert len(rows) == 3 and len(rows[0]) == 20
    assert (m["tables"]["usage"]["rows_ok"], m["tables"]["usage"]["rows_rejected"]) == (16, 1)
    df = t.read("usage")
    first = df.filter(pl.col("t_s") == 600.0)
    assert first.height == 13 and set(first["entity_id"]) == {"3418309/0"}
    cpu = first.filter(pl.col("metric") == "cpu_rate").row(0, named=True)
    assert cpu["value"] == 0.03143 and cpu["unit"] == "normalized_core_s_per_s"
    assert json.loads(cpu["attrs"])["end_s"] == 900.0
    mach = t.read("machines")
    assert mach.height == 3 and mach["cpu"].to_list()[:2] == [0.5, 0.5]
    removed = json.loads(mach["attrs"][2])
    assert removed["event"] == "REMOVE" and removed["time_s"] == 835.150655


def test_origin_and_units(trace) -> None:
    m, _ = trace
    assert m["meta"]["origin_utc"] == "2011-05-01T22:50:00+00:00"
    assert m["meta"]["time_resolution_s"] == 1e-6
    assert "normalized" in m["meta"]["cpu_unit"]


def test_sniff_and_detect(data_dir: Path) -> None:
    d = data_dir / DIR
    for p in (d, d / TE[0], d / "task_usage/part-00000-of-00500.csv.gz",
              d / "machine_events/part-00000-of-00001.csv.gz"):
        assert READER.sniff(p), p
        assert registry.detect([p]).name == "google_2011"
    assert not READER.sniff(data_dir / "alibaba_2018" / "batch_task.csv")
    assert not READER.sniff(data_dir / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv")
    assert kind_from_fields("1,2,3") is None


def test_after_trace_end_is_null(store, tmp_path: Path) -> None:
    f = tmp_path / "task_events" / "part-00000-of-00001.csv.gz"
    f.parent.mkdir()
    rows = ["0,,1,0,,0,u,0,0,0.1,0.1,0.1,0", "5,,1,0,7,1,u,0,0,0.1,0.1,0.1,0",
            "9223372036854775807,,1,0,7,4,u,0,0,0.1,0.1,0.1,0"]
    f.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    m = store.ingest(tmp_path, format="google_2011", name="after").manifest
    row = store.trace("after").read("jobs").row(0, named=True)
    assert (row["submit_s"], row["start_s"], row["end_s"]) == (0.0, 5e-6, None)
    assert row["status"] == "FINISH" and m["tables"]["jobs"]["rows_rejected"] == 0
