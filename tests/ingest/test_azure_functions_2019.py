"""Azure Functions 2019 reader: FORMATS.md-faithful fixture, the invitro schema example, bad input."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import reconciles
from workscope.ingest import registry
from workscope.ingest.azure_functions_2019 import READER

FIX = "azure_functions_2019/fixture"
INVITRO = "azure_functions_2019/invitro_example"
BAD = "bad/azure_functions_2019"
INV1 = "invocations_per_function_md.anon.d01.csv"
INV2 = "invocations_per_function_md.anon.d02.csv"
DUR1 = "function_durations_percentiles.anon.d01.csv"
MEM1 = "app_memory_percentiles.anon.d01.csv"


def h(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _cells(path: Path, day: int) -> list[tuple[str, float, int]]:
    """(function, window_start_s, count) of every non-zero minute cell, read with csv."""
    out = []
    for r in _rows(path):
        for m in range(1, 1441):
            if int(r[str(m)]) != 0:
                out.append((r["HashFunction"], (day - 1) * 86400.0 + (m - 1) * 60.0, int(r[str(m)])))
    return out


def test_counts_unpivoted(store, data_dir: Path) -> None:
    want = _cells(data_dir / FIX / INV1, 1) + _cells(data_dir / FIX / INV2, 2)
    assert len(want) == 32
    m = store.ingest(data_dir / FIX, format="azure_functions_2019", name="az19").manifest
    t = m["tables"]["invocation_counts"]
    assert t["rows_in"] == t["rows_ok"] == len(want)
    assert t["rows_rejected"] == 0
    assert reconciles(m)
    df = store.trace("az19").read("invocation_counts")
    got = sorted(zip(df["function_id"], df["window_start_s"], df["count"]))
    assert got == sorted(want)
    assert set(df["window_s"]) == {60.0}
    # func1: minute 60 of d01 -> 3540 s, minute 1440 -> 86340 s; minute 1 of d02 -> 86400 s.
    f1 = df.filter(pl.col("function_id") == h("func1")).sort("window_start_s")
    assert dict(zip(f1["window_start_s"], f1["count"])) == {
        0.0: 3, 60.0: 1, 3540.0: 7, 86340.0: 2, 86400.0: 5}
    assert set(f1["trigger"]) == {"http"} and set(f1["app_id"]) == {h("app1")}
    assert set(f1["owner_id"]) == {h("owner1")}
    # func4 only has zero cells: the sparse convention stores none.
    assert df.filter(pl.col("function_id") == h("func4")).height == 0
    meta = m["meta"]
    assert meta["origin_utc"] is None and meta["time_resolution_s"] == 60.0
    assert meta["days"] == [1, 2]
    assert meta["zero_counts"].startswith("not stored")
    assert t["time"]["min_s"] == 0.0 and t["time"]["max_s"] == 87000.0


def test_keep_zeros(store, data_dir: Path) -> None:
    n_rows = len(_rows(data_dir / FIX / INV1)) + len(_rows(data_dir / FIX / INV2))
    m = store.ingest([data_dir / FIX / INV1, data_dir / FIX / INV2], format="azure_functions_2019",
                     name="dense", options={"keep_zeros": True}).manifest
    assert m["tables"]["invocation_counts"]["rows_ok"] == 1440 * n_rows == 8640
    assert m["meta"]["zero_counts"] == "stored"
    df = store.trace("dense").read("invocation_counts")
    assert df["count"].sum() == sum(c for *_, c in _cells(data_dir / FIX / INV1, 1)
                                    + _cells(data_dir / FIX / INV2, 2))


def test_functions_durations_and_app_memory(store, data_dir: Path) -> None:
    m = store.ingest(data_dir / FIX, format="azure_functions_2019", name="az19").manifest
    t = m["tables"]["functions"]
    dur_rows = _rows(data_dir / FIX / DUR1)
    # Every durations row is a function; the memory row of app4 (no function) is reported.
    assert t["rows_ok"] == len(dur_rows) == 3
    assert t["rows_rejected"] == 1
    assert reconciles(m)
    rej = store.trace("az19").rejects().collect()
    assert rej["reason"].to_list() == [
        "app-level memory row: no function of this app in the day-1 "
        "function_durations_percentiles file, nothing to attach it to"]
    assert rej["raw"][0].startswith(f"{h('owner2')},{h('app4')},12,300")
    assert rej["line"][0] == 4
    df = store.trace("az19").read("functions")
    f1 = df.filter(pl.col("function_id") == h("func1")).row(0, named=True)
    # 1500.0,14.0,120.0,9800.0,130.0,130.0,800.0,1400.0,2100.0,9500.0,9700.0 (ms)
    assert f1["count"] == 14 and f1["duration_avg_s"] == 1.5
    assert [f1[f"duration_p{p}_s"] for p in (0, 1, 25, 50, 75, 99, 100)] == pytest.approx(
        [0.13, 0.13, 0.8, 1.4, 2.1, 9.5, 9.7])
    assert f1["trigger"] == "http"  # from the same day's invocations file
    # app1 memory: 1440,150.5,120,125,140,150,160,180,190,200 (MB, per app)
    assert f1["memory_avg_mb"] == 150.5
    assert [f1[f"memory_p{p}_mb"] for p in (1, 25, 50, 75, 99, 100)] == [120, 140, 150, 160, 190, 200]
    assert f1["memory_p0_mb"] is None
    attrs = json.loads(f1["attrs"])
    assert attrs == {"day": 1, "duration_min_s": 0.12, "duration_max_s": 9.8,
                     "memory_sample_count": 1440, "memory_p5_mb": 125.0, "memory_p95_mb": 180.0}
    # func2 is in the same app: same app-level memory; its Minimum/Maximum were not recorded.
    f2 = df.filter(pl.col("function_id") == h("func2")).row(0, named=True)
    assert f2["memory_avg_mb"] == 150.5 and f2["trigger"] == "timer"
    assert json.loads(f2["attrs"])["duration_min_s"] is None
    f3 = df.filter(pl.col("function_id") == h("func3")).row(0, named=True)
    assert f3["memory_avg_mb"] == 95.0 and f3["duration_avg_s"] == 25.0 and f3["count"] == 250
    assert "per application" in m["meta"]["memory_scope"]


def test_invitro_example_memory_with_function_column(store, data_dir: Path) -> None:
    folder = data_dir / INVITRO
    want = _cells(folder / "invocations.csv", 1)
    m = store.ingest(folder, format="azure_functions_2019", name="invitro").manifest
    assert m["tables"]["invocation_counts"]["rows_ok"] == len(want)
    assert m["tables"]["functions"]["rows_ok"] == len(_rows(folder / "durations.csv")) == 4
    assert m["tables"]["functions"]["rows_rejected"] == 0
    assert sorted(Path(f).name for f in m["meta"]["undated_files_day_1"]) == [
        "durations.csv", "invocations.csv", "memory.csv"]
    df = store.trace("invitro").read("functions")
    mem = {r["HashFunction"]: float(r["AverageAllocatedMb"]) for r in _rows(folder / "memory.csv")}
    assert dict(zip(df["function_id"], df["memory_avg_mb"])) == mem


def test_sniff(data_dir: Path) -> None:
    for name in (INV1, DUR1, MEM1):
        assert READER.sniff(data_dir / FIX / name), name
        assert registry.detect([data_dir / FIX / name]).name == "azure_functions_2019"
    assert READER.sniff(data_dir / FIX)
    assert registry.detect([data_dir / FIX]).name == "azure_functions_2019"
    assert not READER.sniff(data_dir / "azure_functions_2021" / "Azure2021_200.csv")
    assert not READER.sniff(data_dir / "alibaba_genai_2026" / "lora_request_trace.csv")
    assert not READER.sniff(data_dir / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv")


def test_tar_xz_archive_read_in_place(store, data_dir: Path, tmp_path: Path) -> None:
    import tarfile

    archive = tmp_path / "azurefunctions-dataset2019.tar.xz"
    with tarfile.open(archive, "w:xz") as tf:
        for name in (INV1, INV2, DUR1, MEM1):
            tf.add(data_dir / FIX / name, arcname=name)
    assert READER.sniff(archive)
    m = store.ingest(archive, name="xz").manifest
    assert m["reader"]["name"] == "azure_functions_2019"
    assert m["tables"]["invocation_counts"]["rows_ok"] == 32
    assert (m["tables"]["functions"]["rows_ok"], m["tables"]["functions"]["rows_rejected"]) == (3, 1)
