"""Azure VM 2017 (V1) / 2019 (V2) reader: FORMATS.md section 14 fixtures, sniffing, bad input."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import polars as pl

from tests.conftest import reconciles
from workscope.ingest import registry
from workscope.ingest.azure_vm import READER

V2 = Path("azure_vm", "v2")
VMTABLE = V2 / "trace_data" / "vmtable" / "vmtable.csv.gz"
READINGS = V2 / "trace_data" / "vm_cpu_readings" / "vm_cpu_readings-file-1-of-195.csv.gz"
V1 = Path("azure_vm", "v1", "vmtable.csv")


def _rows(path: Path) -> list[list[str]]:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return list(csv.reader(io.StringIO(raw.decode())))


def test_ingest_v2(store, data_dir: Path) -> None:
    vms, readings = _rows(data_dir / VMTABLE), _rows(data_dir / READINGS)
    m = store.ingest(data_dir / V2, format="azure_vm", name="v2").manifest
    jobs, usage = m["tables"]["jobs"], m["tables"]["usage"]
    assert jobs["rows_in"] == jobs["rows_ok"] == len(vms) == 5
    assert usage["rows_in"] == usage["rows_ok"] == 3 * len(readings) == 21
    assert jobs["rows_rejected"] == usage["rows_rejected"] == 0
    assert reconciles(m)
    # Times count from the trace start; its date is not published.
    assert m["meta"]["origin_utc"] is None
    assert m["meta"]["time_resolution_s"] == 300.0
    # deployments.csv fits no canonical table: skipped, and said so.
    assert [Path(f).name for f in m["meta"]["skipped_files"]] == ["deployments.csv.gz"]
    assert sorted(Path(f).name for f in m["files_used"]) == [
        "vm_cpu_readings-file-1-of-195.csv.gz", "vmtable.csv.gz"]
    assert usage["time"]["sorted"] is True and usage["time"]["max_s"] == 600.0


def test_vmtable_v2_buckets(store, data_dir: Path) -> None:
    store.ingest(data_dir / V2, format="azure_vm", name="v2")
    df = store.trace("v2").read("jobs")
    src = _rows(data_dir / VMTABLE)
    assert df["job_id"].to_list() == [r[0] for r in src]
    assert df["user"].to_list() == [r[1] for r in src]
    assert df["group"].to_list() == [r[2] for r in src]
    assert df["submit_s"].to_list() == [float(r[3]) for r in src]
    assert df["start_s"].to_list() == df["submit_s"].to_list()
    assert df["end_s"].to_list() == [float(r[4]) for r in src]
    # A VM alive at trace start has vmcreated 0.
    first = df.row(0, named=True)
    assert first["submit_s"] == 0.0 and first["end_s"] == 2591700.0
    assert first["cpu_req"] == 2.0 and first["mem_req_mb"] == 4 * 1024.0
    # Top buckets: the label's number is a lower bound; the label stays in attrs.
    big = df.row(1, named=True)
    assert big["cpu_req"] == 24.0 and big["mem_req_mb"] == 64 * 1024.0
    attrs = json.loads(big["attrs"])
    assert attrs == {"vmcategory": "Delay-insensitive", "vmcorecount": ">24", "vmmemory": ">64",
                     "max_cpu_pct": 92.673725, "avg_cpu_pct": 0.906215,
                     "p95_max_cpu_pct": 1.850315}
    assert {json.loads(a)["vmcategory"] for a in df["attrs"]} == {
        "Interactive", "Delay-insensitive", "Unknown"}
    # What the vmtable lacks stays null.
    for col in ("task_id", "status", "priority", "gpu_req", "cpu_used", "queue"):
        assert df[col].null_count() == df.height, col


def test_readings(store, data_dir: Path) -> None:
    store.ingest(data_dir / READINGS, format="azure_vm", name="r")
    df = store.trace("r").read("usage")
    src = _rows(data_dir / READINGS)
    assert df.height == 3 * len(src)
    assert set(df["unit"]) == {"percent"}
    # One line gives three samples next to each other: avg, min, max.
    assert df["metric"].head(3).to_list() == ["cpu_util_pct", "cpu_util_min_pct", "cpu_util_max_pct"]
    for i, (ts, vm, lo, hi, avg) in enumerate(src):
        block = df.slice(3 * i, 3)
        assert block["t_s"].to_list() == [float(ts)] * 3
        assert block["entity_id"].to_list() == [vm] * 3
        assert block["value"].to_list() == [float(avg), float(lo), float(hi)]
    vm = df.filter((pl.col("entity_id") == src[3][1]) & (pl.col("t_s") == 300.0))
    assert dict(zip(vm["metric"], vm["value"], strict=True)) == {
        "cpu_util_pct": 57.662198, "cpu_util_min_pct": 38.00512, "cpu_util_max_pct": 99.789772}


def test_vmtable_v1(store, data_dir: Path) -> None:
    m = store.ingest(data_dir / V1, format="azure_vm", name="v1").manifest
    assert m["tables"]["jobs"]["rows_ok"] == len(_rows(data_dir / V1)) == 3
    assert "usage" not in m["tables"]
    df = store.trace("v1").read("jobs")
    # V1 memory is in GB (0.75, 1.75, ...): x 1024 to MB; cores are exact counts.
    assert df["mem_req_mb"].to_list() == [1.75 * 1024, 0.75 * 1024, 14 * 1024]
    assert df["cpu_req"].to_list() == [1.0, 1.0, 8.0]
    assert df["end_s"][1] == 1299600.0
    assert json.loads(df["attrs"][1])["vmmemory"] == "0.75"


def test_sniff(data_dir: Path) -> None:
    for p in (V2, VMTABLE, READINGS, V1, "azure_vm/v1", "azure_vm"):
        assert READER.sniff(data_dir / p), p
        assert registry.detect([data_dir / p]).name == "azure_vm", p
    assert not READER.sniff(data_dir / "azure_llm_2023/AzureLLMInferenceTrace_code.csv")
    assert not READER.sniff(data_dir / "azure_llm_2023")
    assert not READER.sniff(data_dir / "planetlab/20110303/ait05_us_es_root")
    assert not READER.sniff(data_dir / V2 / "trace_data/deployments/deployments.csv.gz")
    assert not READER.sniff(data_dir / "bad/azure_vm/vmtable_semicolon.csv")


def test_bad_rows_in_detail(store, data_dir: Path) -> None:
    store.ingest(data_dir / "bad/azure_vm/vmtable_bad_values.csv", format="azure_vm", name="vt")
    rej = store.trace("vt").rejects().collect().sort("line")
    assert rej["line"].to_list() == [2, 3, 4, 5, 6, 7]
    assert rej["reason"].to_list() == [
        "vmcreated: not a number", "end_s is before start_s", "maxcpu is outside 0..100 percent",
        "vmid is missing", "vmcorecount: not a number", "vmcreated is negative"]
    assert rej["raw"][0].split(",")[3] == "abc"
    store.ingest(data_dir / "bad/azure_vm/vm_cpu_readings-file-1-of-1.csv", format="azure_vm",
                 name="rd")
    rej = store.trace("rd").rejects().collect().sort("line", "reason")
    # A bad timestamp or VM id loses the line's three samples; a bad value only its own.
    assert rej["line"].to_list() == [2, 2, 2, 3, 4, 5, 5, 5]
    assert rej.filter(pl.col("line") == 4)["reason"][0] == "mincpu is NaN"
    good = store.trace("rd").read("usage").filter(pl.col("t_s") == 300.0)
    assert sorted(good["metric"]) == ["cpu_util_max_pct", "cpu_util_min_pct"]
