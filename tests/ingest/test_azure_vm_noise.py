"""Azure VM Noise 2024 reader: a real slice keeping the Hive layout, sniffing, bad input."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import reconciles
from workscope.ingest import registry
from workscope.ingest.azure_vm_noise import READER, partition_keys

ROOT = "azure_vm_noise"
CPU = ("test_suite=Sysbench/test_name=Test:_CPU/vm_lifespan=long/vm_region=eastus/"
       "vm_sku=B8ms/unit=Events Per Second.csv")
RAM = ("test_suite=Sysbench/test_name=Test:_RAM__Memory/vm_lifespan=long/vm_region=eastus/"
       "vm_sku=B8ms/unit=MiB_sec.csv")
GET = ("test_suite=Redis/test_name=Test:_GET_-_Parallel_Connections:_50/vm_lifespan=short/"
       "vm_region=westus2/vm_sku=D8s_v5/unit=Requests Per Second.csv")


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _epoch(text: str) -> float:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(
        tzinfo=dt.timezone.utc).timestamp()


def test_ingest_slice(store, data_dir: Path) -> None:
    root = data_dir / ROOT
    rows = {k: _rows(root / k) for k in (CPU, RAM, GET)}
    result = store.ingest(root, format="azure_vm_noise", name="noise")
    m = result.manifest
    t = m["tables"]["usage"]
    assert [len(r) for r in rows.values()] == [40, 30, 30]
    assert t["rows_in"] == t["rows_ok"] == 100
    assert t["rows_rejected"] == 0
    assert reconciles(m)
    assert m["meta"]["partitions"] == 3
    # The origin is the earliest starttime of all files, not the first row of the first file.
    first = min(r["starttime"] for rs in rows.values() for r in rs)
    assert first == "2023-06-07 04:06:56.290"
    assert m["meta"]["origin_utc"] == "2023-06-07T04:06:56.290000+00:00"
    assert m["meta"]["origin_assumed_utc"] is True
    assert t["time"]["min_s"] == 0.0
    # LICENSE and SOURCE.md are not data files.
    assert len(m["files_used"]) == 3


def test_values_and_keys(store, data_dir: Path) -> None:
    root = data_dir / ROOT
    store.ingest(root, format="azure_vm_noise", name="noise")
    df = store.trace("noise").read("usage")
    origin = _epoch("2023-06-07 04:06:56.290")

    cpu = df.filter(pl.col("metric") == "Sysbench/Test:_CPU/Events Per Second")
    assert cpu.height == 40
    # SOURCE.md quotes the first rows: 8218.62,90.01,2023-09-01 05:13:10.610,0
    row = cpu.filter(pl.col("value") == 8218.62).row(0, named=True)
    assert row["entity_id"] == "long/eastus/B8ms/0"
    assert row["unit"] == "Events Per Second"
    assert row["t_s"] == pytest.approx(_epoch("2023-09-01 05:13:10.610") - origin, abs=1e-6)
    assert json.loads(row["attrs"]) == {
        "test_suite": "Sysbench", "test_name": "Test:_CPU", "vm_lifespan": "long",
        "vm_region": "eastus", "vm_sku": "B8ms", "unit": "Events Per Second",
        "vm_id": "0", "runtime_s": 90.01,
    }
    # The same long-lived VM ran both Sysbench tests: one entity, two metrics.
    vm0 = df.filter(pl.col("entity_id") == "long/eastus/B8ms/0")
    assert set(vm0["metric"]) == {"Sysbench/Test:_CPU/Events Per Second",
                                  "Sysbench/Test:_RAM__Memory/MiB_sec"}
    # VM 0 of another dimension is another VM: the ids never merge across partitions.
    get = _rows(root / GET)
    short0 = df.filter(pl.col("entity_id") == "short/westus2/D8s_v5/0")
    assert short0.height == sum(r["VM_id"] == "0" for r in get) == 1
    assert short0["value"][0] == float(get[0]["value"]) == 2245479.75
    assert short0["metric"][0] == "Redis/Test:_GET_-_Parallel_Connections:_50/Requests Per Second"
    # Every value and time matches its source row.
    src = sorted((_epoch(r["starttime"]) - origin, float(r["value"])) for r in _rows(root / RAM))
    got = sorted(df.filter(pl.col("unit") == "MiB_sec").select("t_s", "value").rows())
    assert [v for _, v in got] == [v for _, v in src]
    assert all(abs(a[0] - b[0]) < 1e-6 for a, b in zip(got, src, strict=True))


def test_single_partition_file(store, data_dir: Path) -> None:
    path = data_dir / ROOT / GET
    m = store.ingest(path, format="azure_vm_noise", name="one").manifest
    assert m["tables"]["usage"]["rows_ok"] == len(_rows(path)) == 30
    df = store.trace("one").read("usage")
    assert df["entity_id"].str.starts_with("short/westus2/D8s_v5/").all()


def test_partition_keys_with_colons_and_spaces() -> None:
    keys = partition_keys(Path("/x/a=b/data/") / GET)
    assert keys == {
        "test_suite": "Redis", "test_name": "Test:_GET_-_Parallel_Connections:_50",
        "vm_lifespan": "short", "vm_region": "westus2", "vm_sku": "D8s_v5",
        "unit": "Requests Per Second",
    }


def test_sniff(data_dir: Path) -> None:
    root = data_dir / ROOT
    assert READER.sniff(root)
    assert READER.sniff(root / CPU)
    assert READER.sniff(root / "test_suite=Redis")
    assert registry.detect([root]).name == "azure_vm_noise"
    assert registry.detect([root / GET]).name == "azure_vm_noise"
    assert not READER.sniff(data_dir / "azure_llm_2023/AzureLLMInferenceTrace_code.csv")
    assert not READER.sniff(data_dir / "azure_llm_2023")
    assert not READER.sniff(data_dir / "planetlab")
    assert not READER.sniff(root / "LICENSE")


