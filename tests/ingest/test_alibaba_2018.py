"""Alibaba cluster-trace-v2018 reader: hand-made fixture after FORMATS.md section 10."""

from __future__ import annotations

import gzip
import json
import tarfile
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import reconciles
from workscope.errors import DataError
from workscope.ingest import registry
from workscope.ingest.alibaba_2018 import READER, kind_of

DIR = "alibaba_2018"


def _lines(path: Path) -> list[str]:
    if path.name.endswith(".tar.gz"):
        with tarfile.open(path) as tf:
            member = next(m for m in tf if not m.name.rsplit("/", 1)[-1].startswith("._"))
            text = tf.extractfile(member).read().decode()  # type: ignore[union-attr]
    elif path.suffix == ".gz":
        text = gzip.open(path, "rt").read()
    else:
        text = path.read_text()
    return [ln for ln in text.splitlines() if ln.strip()]


@pytest.fixture
def trace(store, data_dir: Path):
    result = store.ingest(data_dir / DIR, format="alibaba_2018", name="ali")
    return result.manifest, store.trace("ali")


def test_jobs_from_batch_task(trace, data_dir: Path) -> None:
    m, t = trace
    lines = _lines(data_dir / DIR / "batch_task.csv")
    jobs = m["tables"]["jobs"]
    assert jobs["rows_in"] == len(lines) == 7
    assert (jobs["rows_ok"], jobs["rows_rejected"]) == (4, 3)
    df = t.read("jobs")
    m1 = df.filter((pl.col("job_id") == "j_1") & (pl.col("task_id") == "M1")).row(0, named=True)
    # no submit time in the source: submit_s = start_s = start_time; plan_cpu as published
    assert (m1["submit_s"], m1["start_s"], m1["end_s"]) == (157297.0, 157297.0, 157325.0)
    assert m1["cpu_req"] == 100.0 and m1["status"] == "Terminated" and m1["mem_req_mb"] is None
    assert json.loads(m1["attrs"]) == {"instance_num": 10, "task_type": "1", "plan_mem_norm": 0.39}
    j2 = df.filter(pl.col("job_id") == "j_2").row(0, named=True)
    assert j2["end_s"] is None  # end_time 0 = not recorded
    assert json.loads(j2["attrs"])["instance_num"] == 12846  # written as 12846.0
    j5 = df.filter(pl.col("job_id") == "j_5").row(0, named=True)
    assert json.loads(j5["attrs"])["plan_mem_norm"] is None  # 101 = invalid marker
    rej = t.rejects().filter(pl.col("table") == "jobs").sort("line").collect()
    assert rej["line"].to_list() == [4, 5, 6]
    assert rej["raw"][0] == lines[3]
    assert rej["reason"].to_list() == ["end_s is before start_s", "job_name is missing",
                                       "plan_cpu: not a number"]


def test_usage_long_with_markers(trace, data_dir: Path) -> None:
    m, t = trace
    usage = m["tables"]["usage"]
    assert (usage["rows_ok"], usage["rows_rejected"]) == (20, 4)
    assert reconciles(m)
    df = t.read("usage")
    m1932 = df.filter((pl.col("entity_id") == "m_1932") & (pl.col("t_s") == 386640.0))
    # empty mem_gps / mkpi give no sample; the others keep their published names
    assert sorted(m1932["metric"]) == sorted(["cpu_util_percent", "mem_util_percent", "net_in",
                                              "net_out", "disk_io_percent"])
    net = m1932.filter(pl.col("metric") == "net_in").row(0, named=True)
    assert net["value"] == 43.51 and net["unit"] == "normalized_0_100"
    c1 = df.filter(pl.col("entity_id") == "c_1")
    assert c1.height == 8 and "mpki" in c1["metric"].to_list()
    assert json.loads(c1["attrs"][0]) == {"machine_id": "m_1932"}
    reasons = t.rejects().filter(pl.col("table") == "usage").collect()["reason"].to_list()
    assert sum("invalid-value marker" in r for r in reasons) == 2
    assert "container_id is missing" in reasons


def test_machines_and_meta(trace) -> None:
    m, t = trace
    assert (m["tables"]["machines"]["rows_ok"], m["tables"]["machines"]["rows_rejected"]) == (3, 1)
    df = t.read("machines")
    assert df["cpu"].to_list() == [96.0, 96.0, 96.0] and df["mem_mb"].null_count() == 3
    last = json.loads(df["attrs"][2])
    assert last["time_stamp"] == 5000.0 and last["mem_size_norm"] is None and last["status"] == "USING"
    assert m["meta"]["origin_utc"] is None
    assert "100 = one core" in m["meta"]["cpu_unit"]
    assert m["meta"]["time_resolution_s"] == 1.0
    assert len(m["files_used"]) == 4


def test_sniff_and_detect(data_dir: Path) -> None:
    d = data_dir / DIR
    for p in (d, d / "batch_task.csv", d / "machine_usage.tar.gz", d / "machine_meta.csv.gz"):
        assert READER.sniff(p), p
        assert registry.detect([p]).name == "alibaba_2018"
    assert not READER.sniff(data_dir / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv")
    assert not READER.sniff(data_dir / "google_2011" / "task_events" / "part-00000-of-00500.csv.gz")
    assert kind_of("x/batch_task.csv") == "batch_task" and kind_of("._batch_task.csv") is None


def test_skips_unsupported_tables(store, tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "batch_instance.csv").write_text("i1,M1,j_1,1,Terminated,1,2,m_1,1,1,50,60,0.1,0.2\n")
    (tmp_path / "batch_task.csv").write_bytes((data_dir / DIR / "batch_task.csv").read_bytes())
    m = store.ingest(tmp_path, format="alibaba_2018", name="skip").manifest
    assert list(m["tables"]) == ["jobs"]
    assert m["meta"]["skipped_files"] == [str(tmp_path / "batch_instance.csv")]


def test_unknown_file_is_an_error(store, tmp_path: Path) -> None:
    f = tmp_path / "trace.csv"
    f.write_text("a,b\n")
    with pytest.raises(DataError, match="trace.csv"):
        store.ingest(f, format="alibaba_2018", name="bad")


def test_a_tar_named_after_another_table_is_never_opened(store, tmp_path: Path, data_dir: Path) -> None:
    """batch_instance.tar.gz is over 100 GB: its name says it holds no table read here."""
    (tmp_path / "batch_instance.tar.gz").write_bytes(b"not a tar at all")  # would fail if opened
    (tmp_path / "batch_task.csv").write_bytes((data_dir / DIR / "batch_task.csv").read_bytes())
    m = store.ingest(tmp_path, format="alibaba_2018", name="skip").manifest
    assert m["meta"]["skipped_files"] == [str(tmp_path / "batch_instance.tar.gz")]


def test_a_tar_holding_none_of_the_tables_is_an_error(store, tmp_path: Path, data_dir: Path) -> None:
    readme = tmp_path / "README"
    readme.write_text("nothing here\n")
    with tarfile.open(tmp_path / "extra.tar.gz", "w:gz") as tf:
        tf.add(readme, arcname="README")
    readme.unlink()
    (tmp_path / "batch_task.csv").write_bytes((data_dir / DIR / "batch_task.csv").read_bytes())
    with pytest.raises(DataError, match=r"extra\.tar\.gz: this tar archive holds none of the Alibaba 2018"):
        store.ingest(tmp_path, format="alibaba_2018", name="bad")
    assert store.names() == []
