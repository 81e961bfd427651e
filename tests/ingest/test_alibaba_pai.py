"""Alibaba PAI GPU 2020 reader: real machine spec, FORMATS-exact fixtures, headers, bad input."""

from __future__ import annotations

import csv
import io
import json
import shutil
import tarfile
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import reconciles
from workscope.errors import SourceError
from workscope.ingest import registry
from workscope.ingest.alibaba_pai import HEADERS, METRICS, READER

DIR = "alibaba_pai"


def _spec_rows(data_dir: Path) -> list[list[str]]:
    with tarfile.open(data_dir / DIR / "pai_machine_spec.tar.gz") as tf:
        member = next(m for m in tf if m.isfile() and not m.name.rsplit("/", 1)[-1].startswith("._"))
        text = tf.extractfile(member).read().decode()  # type: ignore[union-attr]
    return list(csv.reader(io.StringIO(text)))


def test_headers_match_published_files(data_dir: Path) -> None:
    for table, header in HEADERS.items():
        assert (data_dir / DIR / f"{table}.header").read_text() == header + "\n"


def test_directory(store, data_dir: Path) -> None:
    spec = _spec_rows(data_dir)
    assert len(spec) == 1897
    m = store.ingest(data_dir / DIR, format="alibaba_pai", name="pai").manifest
    assert reconciles(m)
    meta = m["meta"]
    assert meta["jobs_from"] == "pai_task_table"
    assert meta["tables_not_used"] == ["pai_instance_table", "pai_job_table"]
    assert meta["origin_utc"] is None and meta["time_zone"] == "Asia/Shanghai"

    # machines: the real spec table
    assert m["tables"]["machines"]["rows_ok"] == 1897 and m["tables"]["machines"]["rows_rejected"] == 0
    mach = store.trace("pai").read("machines")
    assert mach["machine_id"].to_list() == [r[0] for r in spec]
    r0 = mach.row(0, named=True)  # 7399a758eb02bae1a3621236,CPU,96,512,0
    assert (r0["cpu"], r0["mem_mb"], r0["gpu"], r0["gpu_model"]) == (96.0, 512 * 1024.0, 0.0, None)
    assert json.loads(r0["attrs"]) == {"gpu_type": "CPU"}
    gpu_types = {r[1] for r in spec}
    assert gpu_types == {"CPU", "MISC", "P100", "T4", "V100", "V100M32"}
    assert set(mach["gpu_model"].drop_nulls()) == gpu_types - {"CPU"}
    assert mach["gpu"].sum() == sum(float(r[4]) for r in spec)

    # jobs: the task fixture (5 lines; start_time 0 on line 4 is rejected)
    t = m["tables"]["jobs"]
    assert (t["rows_ok"], t["rows_rejected"]) == (4, 1)
    jobs = store.trace("pai").read("jobs")
    ex = jobs.row(0, named=True)  # the README / FORMATS.md example task row
    assert ex["job_id"] == "4f057009a5d481acec67b088" and ex["task_id"] == "tensorflow"
    assert (ex["submit_s"], ex["start_s"], ex["end_s"]) == (1739162.0, 1739162.0, 1739200.0)
    assert ex["cpu_req"] == 6.0 and ex["gpu_req"] == 0.5 and ex["gpu_model"] == "MISC"
    assert ex["mem_req_mb"] == pytest.approx(29.296875 * 1024)
    assert ex["status"] == "Terminated"
    assert json.loads(ex["attrs"])["inst_num"] == 1.0
    two = jobs.row(1, named=True)  # worker, 2 instances x (400 % CPU, 16 GB, 100 % GPU)
    assert (two["cpu_req"], two["mem_req_mb"], two["gpu_req"]) == (8.0, 2 * 16 * 1024.0, 2.0)
    running = jobs.row(2, named=True)
    assert running["status"] == "Running" and running["end_s"] is None
    cpu_only = jobs.row(3, named=True)
    assert cpu_only["gpu_req"] is None and cpu_only["gpu_model"] is None
    rej = store.trace("pai").rejects().filter(pl.col("table") == "jobs").collect().row(0, named=True)
    assert rej["line"] == 4 and rej["reason"].startswith("start_time is 0")
    assert rej["raw"] == "0a1b2c3d4e5f60718293a4b7,worker,1.0,Failed,0.0,0.0,600.0,4.0,25.0,P100"
    assert rej["file"].endswith("pai_task_table.tar.gz:pai_task_table.csv")

    # usage: 8 metrics on line 1, 7 on line 2 (machine_gpu empty)
    assert m["tables"]["usage"]["rows_ok"] == 15 and m["tables"]["usage"]["rows_rejected"] == 0
    usage = store.trace("pai").read("usage")
    ex = usage.filter(pl.col("entity_id") == "74e1c8457b01c76b314b22bb")
    assert sorted(ex["metric"]) == sorted(METRICS)
    gpu = ex.filter(pl.col("metric") == "machine_gpu").row(0, named=True)
    assert gpu["t_s"] == 6150435.0 and gpu["value"] == 87.82875849911859 and gpu["unit"] == "percent"
    assert json.loads(gpu["attrs"])["end_s"] == 6150689.0
    other = usage.filter(pl.col("entity_id") == "7399a758eb02bae1a3621236")
    assert other.height == 7 and "machine_gpu" not in other["metric"].to_list()


def test_jobs_from_job_and_instance(store, data_dir: Path) -> None:
    store.ingest(data_dir / DIR, format="alibaba_pai", name="j", options={"jobs_from": "job"})
    jobs = store.trace("j").read("jobs")
    assert jobs.height == 3
    ex = jobs.row(0, named=True)  # README example job row
    assert ex["job_id"] == "4b3f04b66a525d2df903eb16" and ex["user"] == "58540f191766"
    assert (ex["submit_s"], ex["start_s"], ex["end_s"]) == (4550879.0, None, 4551416.0)
    assert json.loads(ex["attrs"])["inst_id"].startswith("8cb3bec23d14")
    assert jobs.row(2, named=True)["end_s"] is None  # Running, empty end_time

    store.ingest(data_dir / DIR, format="alibaba_pai", name="i", options={"jobs_from": "instance"})
    inst = store.trace("i").read("jobs").row(0, named=True)
    assert inst["job_id"] == "af724763f4f5d0beef445849" and inst["task_id"] == "worker"
    assert (inst["start_s"], inst["end_s"]) == (2081336.0, 2083889.0)
    assert json.loads(inst["attrs"])["machine"] == "471dda9ed84965451e042145"


def test_without_header_files(store, data_dir: Path, tmp_path: Path) -> None:
    for f in (data_dir / DIR).iterdir():
        if not f.name.endswith(".header"):
            shutil.copy(f, tmp_path / f.name)
    m = store.ingest(tmp_path, format="alibaba_pai", name="nh").manifest
    assert m["tables"]["machines"]["rows_ok"] == 1897 and m["tables"]["jobs"]["rows_ok"] == 4
    # A CSV that carries its header line is accepted; line numbers stay physical.
    (tmp_path / "pai_task_table.tar.gz").unlink()
    lines = ["job_name,task_name,inst_num,status,start_time,end_time,plan_cpu,plan_mem,plan_gpu,gpu_type",
             "4f057009a5d481acec67b088,tensorflow,1.0,Terminated,1739162.0,1739200.0,600.0,29.296875,50.0,MISC",
             "x,worker,1.0,Terminated,abc,1.0,600.0,4.0,25.0,P100"]
    (tmp_path / "pai_task_table.csv").write_text("\n".join(lines) + "\n")
    store.ingest(tmp_path, format="alibaba_pai", name="wh")
    assert store.trace("wh").read("jobs").height == 1
    assert store.trace("wh").rejects().filter(pl.col("table") == "jobs").collect()["line"].to_list() == [3]


def test_missing_jobs_table_option(store, data_dir: Path, tmp_path: Path) -> None:
    shutil.copy(data_dir / DIR / "pai_machine_spec.tar.gz", tmp_path)
    with pytest.raises(SourceError, match="jobs_from=task"):
        store.ingest(tmp_path, format="alibaba_pai", name="x", options={"jobs_from": "task"})


def test_sniff_and_detect(data_dir: Path) -> None:
    assert READER.sniff(data_dir / DIR)
    assert READER.sniff(data_dir / DIR / "pai_machine_spec.tar.gz")
    assert READER.sniff(data_dir / DIR / "pai_job_table.csv")
    assert not READER.sniff(data_dir / DIR / "pai_job_table.header")
    assert not READER.sniff(data_dir / "alibaba_openb" / "openb_pod_list_default.csv")
    assert not READER.sniff(data_dir / "swf" / "NASA-iPSC-1993-3.1-cln.head200.swf")
    assert registry.detect([data_dir / DIR]).name == "alibaba_pai"


BAD = Path(__file__).resolve().parents[1] / "data" / "bad" / "alibaba_pai"


