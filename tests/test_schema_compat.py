"""Traces ingested before a canonical column existed (schema 1: jobs without ``run_s``) are
still read, queried and characterized: the column is there, all null."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

import workscope
import workscope.schemas
from tests.conftest import DATA
from workscope.analysis import characterize


@pytest.fixture
def old_trace(tmp_path: Path) -> workscope.Trace:
    store = workscope.open(tmp_path / "s")
    store.ingest(DATA / "swf" / "NASA-iPSC-1993-3.1-cln.head200.swf", format="swf", name="old")
    trace = store.trace("old")
    for f in trace.files("jobs"):  # what schema 1 wrote: no run_s
        t = pq.read_table(f)
        pq.write_table(t.drop_columns(["run_s"]), f)
        assert "run_s" not in pq.read_schema(f).names
    return store.trace("old")


def test_scan_and_sql_see_the_new_column_as_null(old_trace: workscope.Trace) -> None:
    df = old_trace.read("jobs")
    assert "run_s" in df.columns and df["run_s"].null_count() == df.height > 0
    assert df.columns == workscope.schemas.TABLES["jobs"].names
    n, filled = old_trace.sql("SELECT count(*), count(run_s) FROM jobs").row(0)
    assert (n, filled) == (df.height, 0)


def test_cluster_and_fitting_analyses_run_on_an_old_trace(old_trace: workscope.Trace) -> None:
    profile = characterize(old_trace, only=["cluster_jobs", "fitting_jobs"])
    assert profile["cluster_jobs"].summary["jobs"] == old_trace.read("jobs").height
    assert profile["fitting_jobs"].summary["runtime_n"] > 0  # from end_s - start_s
