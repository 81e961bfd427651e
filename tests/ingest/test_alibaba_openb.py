"""Alibaba GPU 2023 (openb) reader: real pod / node slices, censoring, sniffing, bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import reconciles
from workscope.errors import SourceError
from workscope.ingest import registry
from workscope.ingest.alibaba_openb import READER

DIR = "alibaba_openb"
PODS = "alibaba_openb/openb_pod_list_default.csv"
NODES = "alibaba_openb/openb_node_list_all_node.csv"
GPU_NODES = "alibaba_openb/openb_node_list_gpu_node.csv"


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_directory_pods_and_nodes(store, data_dir: Path) -> None:
    pods, nodes = _rows(data_dir / PODS), _rows(data_dir / NODES)
    assert len(pods) == 300 and len(nodes) == 100
    m = store.ingest(data_dir / DIR, format="alibaba_openb", name="openb").manifest
    assert reconciles(m)
    assert m["tables"]["jobs"]["rows_ok"] == len(pods) and m["tables"]["jobs"]["rows_rejected"] == 0
    # Only the all-node list is read: the GPU-node list renumbers its nodes.
    assert m["tables"]["machines"]["rows_ok"] == len(nodes)
    assert [Path(p).name for p in m["meta"]["node_lists_skipped"]] == ["openb_node_list_gpu_node.csv"]
    assert m["meta"]["origin_utc"] is None
    trace_end = max(float(p["deletion_time"]) for p in pods)
    assert m["meta"]["trace_end_s"] == trace_end == 12902960.0

    df = store.trace("openb").read("jobs")
    assert df["job_id"].to_list() == [p["name"] for p in pods]
    assert df["submit_s"].to_list() == [float(p["creation_time"]) for p in pods]
    # openb-pod-0000,12000,16384,1,1000,,LS,Running,0,12537496,0
    p0 = df.row(0, named=True)
    assert (p0["submit_s"], p0["start_s"], p0["end_s"]) == (0.0, 0.0, 12537496.0)
    assert p0["cpu_req"] == 12.0 and p0["mem_req_mb"] == 16384.0 and p0["gpu_req"] == 1.0
    assert p0["qos"] == "LS" and p0["status"] == "Running" and p0["gpu_model"] is None
    # openb-pod-0001,6000,12288,1,460,,LS,Running,427061,12902960,427061: alive at trace end
    p1 = df.row(1, named=True)
    assert p1["gpu_req"] == 0.46 and p1["cpu_req"] == 6.0
    assert p1["end_s"] is None
    a1 = json.loads(p1["attrs"])
    assert a1["censored"] is True and a1["deletion_s"] == 12902960.0 and a1["gpu_milli"] == 460.0
    censored = sum(1 for p in pods if p["pod_phase"] in ("Running", "Pending")
                   and float(p["deletion_time"]) >= trace_end)
    assert censored > 0 and df["end_s"].null_count() == censored
    # Pending pods were never scheduled.
    pending = [p["name"] for p in pods if p["pod_phase"] == "Pending"]
    assert pending and df.filter(pl.col("job_id").is_in(pending))["start_s"].null_count() == len(pending)
    # Multi-GPU pods request whole GPUs; CPU pods none.
    want = {p["name"]: (float(p["gpu_milli"]) / 1000 if p["num_gpu"] == "1" else float(p["num_gpu"]))
            for p in pods}
    assert dict(zip(df["job_id"], df["gpu_req"])) == pytest.approx(want)

    mach = store.trace("openb").read("machines")
    assert mach["machine_id"].to_list() == [n["sn"] for n in nodes]
    n0 = mach.row(0, named=True)  # openb-node-0000,32000,262144,0,
    assert (n0["cpu"], n0["mem_mb"], n0["gpu"], n0["gpu_model"]) == (32.0, 262144.0, 0.0, None)
    gpu_nodes = mach.filter(pl.col("gpu") > 0)
    assert gpu_nodes.height == sum(1 for n in nodes if n["gpu"] != "0")
    assert gpu_nodes["gpu_model"].null_count() == 0


def test_trace_end_option(store, data_dir: Path) -> None:
    store.ingest(data_dir / PODS, format="alibaba_openb", name="o", options={"trace_end_s": 2e7})
    df = store.trace("o").read("jobs")
    assert df["end_s"].null_count() == 0  # nothing reaches a later trace end


def test_gpu_node_list_alone(store, data_dir: Path) -> None:
    m = store.ingest(data_dir / GPU_NODES, format="alibaba_openb", name="g").manifest
    assert list(m["tables"]) == ["machines"]
    assert m["tables"]["machines"]["rows_ok"] == len(_rows(data_dir / GPU_NODES)) == 50
    row = store.trace("g").read("machines").row(0, named=True)  # openb-node-0000,64000,262144,2,P100
    assert (row["cpu"], row["gpu"], row["gpu_model"]) == (64.0, 2.0, "P100")


def test_several_pod_lists(store, data_dir: Path, tmp_path: Path) -> None:
    text = (data_dir / PODS).read_text()
    tmp_path = tmp_path / "src"
    tmp_path.mkdir()
    (tmp_path / "openb_pod_list_default.csv").write_text(text)
    (tmp_path / "openb_pod_list_cpu050.csv").write_text("\n".join(text.splitlines()[:11]) + "\n")
    m = store.ingest(tmp_path, format="alibaba_openb", name="v", options={"pod_list": "cpu050"}).manifest
    assert m["tables"]["jobs"]["rows_ok"] == 10
    m = store.ingest(tmp_path, format="alibaba_openb", name="d").manifest
    assert m["tables"]["jobs"]["rows_ok"] == 300
    with pytest.raises(SourceError, match="pod_list"):
        store.ingest(tmp_path, format="alibaba_openb", name="x", options={"pod_list": "gpushare40"})


def test_sniff_and_detect(data_dir: Path) -> None:
    for rel in (PODS, NODES, GPU_NODES, DIR):
        assert READER.sniff(data_dir / rel)
    assert not READER.sniff(data_dir / "swf" / "NASA-iPSC-1993-3.1-cln.head200.swf")
    assert not READER.sniff(data_dir / "alibaba_dlrm" / "disaggregated_DLRM_trace.csv")
    assert registry.detect([data_dir / PODS]).name == "alibaba_openb"


def test_samples_full_lists(store) -> None:
    sample = Path(__file__).resolve().parents[2] / "workscope" / "samples" / "alibaba_openb"
    pods = _rows(sample / "openb_pod_list_default.csv")
    m = store.ingest(sample, name="openb_full").manifest
    assert m["reader"]["name"] == "alibaba_openb"
    assert m["tables"]["jobs"]["rows_ok"] == len(pods) == 8152
    assert m["tables"]["machines"]["rows_ok"] == 1523
    assert reconciles(m)


BAD = Path(__file__).resolve().parents[1] / "data" / "bad" / "alibaba_openb"


