"""SWF reader: NASA iPSC slice (real), a Preemption: Double fixture, gzip input, bad input."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import reconciles
from workscope.errors import OptionError
from workscope.ingest import registry
from workscope.ingest.swf import READER, parse_header

NASA = "swf/NASA-iPSC-1993-3.1-cln.head200.swf"
DOUBLE = "swf/fixture_double.swf"


def _records(path: Path) -> list[tuple[int, list[str]]]:
    """(physical line number, fields) of every job record, counted independently."""
    out = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        s = line.strip()
        if s and not s.startswith(";"):
            out.append((n, s.split()))
    return out


def test_nasa_slice(store, data_dir: Path) -> None:
    recs = _records(data_dir / NASA)
    assert len(recs) == 200 and recs[0][0] == 33
    m = store.ingest(data_dir / NASA, format="swf", name="nasa").manifest
    t = m["tables"]["jobs"]
    assert t["rows_in"] == t["rows_ok"] == 200 and t["rows_rejected"] == 0
    assert reconciles(m)
    meta = m["meta"]
    # UnixStartTime 749458803 = Fri Oct 01 00:00:03 PDT 1993
    assert meta["origin_utc"] == "1993-10-01T07:00:03+00:00"
    assert m["origin_utc"] == meta["origin_utc"]
    assert meta["time_zone"] == "US/Pacific"
    assert meta["swf_version"] == "2.2"
    assert meta["queues"] == {"0": "interactive", "1": "batch"}
    assert meta["swf_header"]["MaxNodes"] == "128"
    assert meta["swf_header"]["EndTime"] == "Fri Dec 31 23:03:45 PST 1993"
    assert len(meta["swf_header"]["Note"]) == 4
    assert "submit\ntimes are actually start times" in meta["swf_header"]["Note"][0]
    assert len(meta["swf_header_lines"]) == 32
    assert meta["swf_header_lines"][6] == ";              http://www.cs.huji.ac.il/labs/parallel/workload/"
    assert meta["wait_unknown_taken_as_zero"] is True

    df = store.trace("nasa").read("jobs")
    assert df["job_id"].to_list() == [r[1][0] for r in recs]
    assert df["submit_s"].to_list() == [float(r[1][1]) for r in recs]
    # Run times land in end_s (the header says submit times are start times: wait = 0).
    assert (df["end_s"] - df["start_s"]).to_list() == [float(r[1][3]) for r in recs]
    first = df.row(0, named=True)
    # 1 0 -1 1451 128 -1 -1 -1 -1 -1 -1 1 1 -1 -1 -1 -1 -1
    assert first["submit_s"] == 0.0 and first["start_s"] == 0.0 and first["end_s"] == 1451.0
    assert first["nodes"] == 128 and first["cpu_req"] == 128.0  # request -1 -> allocation
    assert first["user"] == "1" and first["group"] == "1"
    assert first["status"] is None and first["queue"] is None and first["runtime_req_s"] is None
    assert first["mem_req_mb"] is None and first["mem_used_mb"] is None
    attrs = json.loads(first["attrs"])
    # the Run Time is a column now (run_s), not an attrs field
    assert first["run_s"] == 1451.0 and "run_s" not in attrs
    assert attrs["wait_s"] is None and attrs["req_procs"] is None
    row57 = df.filter(pl.col("job_id") == "57").row(0, named=True)
    # 57 25574 -1 10 1 ... user 4, group 1, executable 2
    assert row57["end_s"] == 25584.0 and row57["nodes"] == 1 and row57["user"] == "4"
    assert json.loads(row57["attrs"])["executable"] == 2


def test_unknown_wait_null_option(store, data_dir: Path) -> None:
    m = store.ingest(data_dir / NASA, format="swf", name="n0", options={"unknown_wait": "null"}).manifest
    assert m["meta"]["wait_unknown_taken_as_zero"] is False
    df = store.trace("n0").read("jobs")
    assert df["start_s"].null_count() == df["end_s"].null_count() == df.height == 200
    with pytest.raises(OptionError):
        store.ingest(data_dir / NASA, format="swf", name="n1", options={"unknown_wait": "maybe"})


def test_gzip_and_line_numbers(store, data_dir: Path, tmp_path: Path) -> None:
    gz = tmp_path / "nasa.swf.gz"
    with open(data_dir / NASA, "rb") as fin, gzip.open(gz, "wb") as fout:
        shutil.copyfileobj(fin, fout)
    # Break one record so it lands in rejects with its physical line number.
    lines = (data_dir / NASA).read_text().splitlines(keepends=True)
    lines[40] = lines[40].rstrip("\n").rsplit(" ", 1)[0] + "\n"  # drop the 18th field
    broken = tmp_path / "broken.swf"
    broken.write_text("".join(lines))
    assert READER.sniff(gz)
    m = store.ingest(gz, format="swf", name="gz").manifest
    assert m["tables"]["jobs"]["rows_ok"] == 200
    m = store.ingest(broken, format="swf", name="broken").manifest
    assert m["tables"]["jobs"]["rows_ok"] == 199 and m["tables"]["jobs"]["rows_rejected"] == 1
    rej = store.trace("broken").rejects().collect().row(0, named=True)
    assert rej["line"] == 41
    assert rej["raw"] == lines[40].rstrip("\n")
    assert rej["reason"] == "expected 18 whitespace-separated fields, found 17"


def test_preemption_double_fixture(store, data_dir: Path) -> None:
    recs = _records(data_dir / DOUBLE)
    assert len(recs) == 5
    m = store.ingest(data_dir / DOUBLE, format="swf", name="dbl").manifest
    t = m["tables"]["jobs"]
    # The two part records of job 3 repeat its summary line and are skipped.
    assert t["rows_ok"] == 3 and t["rows_rejected"] == 0
    assert m["meta"]["swf_parts_skipped"] == 2
    assert m["meta"]["origin_utc"] == "2001-09-09T01:46:40+00:00"
    assert m["meta"]["swf_header"]["Queue"] == ["1 short", "2 long"]
    assert m["meta"]["swf_header"]["Note"] == "hand-made fixture for the SWF reader\n(second line of the note)"
    df = store.trace("dbl").read("jobs").sort("job_id")
    j1, j2, j3 = df.rows(named=True)
    # 1 10 5 100 4 90.5 2048 8 3600 4096 1 7 3 2 1 1 -1 -1 (tab separated)
    assert (j1["submit_s"], j1["start_s"], j1["end_s"]) == (10.0, 15.0, 115.0)
    assert j1["nodes"] == 4 and j1["cpu_req"] == 8.0 and j1["runtime_req_s"] == 3600.0
    assert j1["mem_req_mb"] == 4096 * 8 / 1024 and j1["mem_used_mb"] == 2048 * 4 / 1024
    assert j1["status"] == "completed" and j1["queue"] == "1" and j1["partition"] == "1"
    assert json.loads(j1["attrs"])["avg_cpu_time_s"] == 90.5
    assert j2["submit_s"] == 20.5 and j2["end_s"] == 50.5 and j2["status"] == "failed"
    a2 = json.loads(j2["attrs"])
    assert a2["preceding_job"] == 1 and a2["think_time_s"] == 4.5
    assert j3["end_s"] == 190.0 and j3["status"] == "completed"
    m = store.ingest(data_dir / DOUBLE, format="swf", name="dbl2", options={"keep_parts": True}).manifest
    assert m["tables"]["jobs"]["rows_ok"] == 5
    statuses = store.trace("dbl2").read("jobs")["status"].to_list()
    assert statuses.count("partial") == 1 and statuses.count("partial_completed") == 1


def test_parse_header_continuations() -> None:
    h = parse_header(["; Version: 2.2", "; Note: a", ";       b", ";", "; Note: c", "; EndTime:   x y"])
    assert h == {"Version": "2.2", "Note": ["a\nb", "c"], "EndTime": "x y"}


def test_sniff_and_detect(data_dir: Path) -> None:
    assert READER.sniff(data_dir / NASA)
    assert READER.sniff(data_dir / DOUBLE)
    assert not READER.sniff(data_dir / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv")
    assert not READER.sniff(data_dir / "alibaba_openb" / "openb_pod_list_default.csv")
    assert registry.detect([data_dir / NASA]).name == "swf"


def test_samples_full_log(store) -> None:
    sample = Path(__file__).resolve().parents[2] / "workscope" / "samples" / "swf" / "NASA-iPSC-1993-3.1-cln.swf.gz"
    with gzip.open(sample, "rt") as fh:
        jobs = sum(1 for ln in fh if ln.strip() and not ln.lstrip().startswith(";"))
    assert jobs == 18239
    m = store.ingest(sample, name="nasa_full").manifest
    assert m["reader"]["name"] == "swf"
    assert m["tables"]["jobs"]["rows_ok"] == jobs and m["tables"]["jobs"]["rows_rejected"] == 0
    assert m["tables"]["jobs"]["time"]["max_s"] == 7948936.0


BAD = Path(__file__).resolve().parents[1] / "data" / "bad" / "swf"


