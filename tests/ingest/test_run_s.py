"""``jobs.run_s``: the source's own run time, kept even where the start is unknown.

SWF (the only reader whose source records a run time of its own) fills it from field 4 on the
real NASA slice, whose waits are all -1, and on hand-made fixtures; readers whose sources
record only start and end leave it null (never copied from end_s - start_s); the table rule
rejects a row whose run_s disagrees with its end_s - start_s.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from workscope.schemas import JOBS, RUN_TOLERANCE_S

NASA = "swf/NASA-iPSC-1993-3.1-cln.head200.swf"
NOWAIT = "swf/fixture_nowait.swf"
DOUBLE = "swf/fixture_double.swf"


def _field(path: Path, i: int) -> list[float]:
    """Field ``i`` (0-based) of every job record, parsed independently of the reader."""
    return [float(line.split()[i]) for line in path.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith(";")]


def test_nasa_waits_unknown_keep_run_times(store, data_dir: Path) -> None:
    # NASA's waits are all -1; with unknown_wait=null start and end are unknown, and the run
    # time used to survive only in attrs. It is a column now, for all 200 jobs.
    runs = _field(data_dir / NASA, 3)
    assert len(runs) == 200 and all(r >= 0 for r in runs)
    assert set(_field(data_dir / NASA, 2)) == {-1.0}
    store.ingest(data_dir / NASA, format="swf", name="null", options={"unknown_wait": "null"})
    df = store.trace("null").read("jobs")
    assert df.height == 200
    assert df["start_s"].null_count() == 200 and df["end_s"].null_count() == 200
    assert df["run_s"].to_list() == runs
    assert df["run_s"][:3].to_list() == [1451.0, 3726.0, 1067.0]  # FORMATS.md section 12 example
    # with the header's rule (wait 0) the same run times, and end_s - start_s agrees with them
    store.ingest(data_dir / NASA, format="swf", name="auto")
    auto = store.trace("auto").read("jobs")
    assert auto["run_s"].to_list() == runs
    assert (auto["end_s"] - auto["start_s"]).to_list() == runs


def test_nowait_fixture(store, data_dir: Path) -> None:
    m = store.ingest(data_dir / NOWAIT, format="swf", name="grid").manifest
    assert m["tables"]["jobs"]["rows_ok"] == 6 and m["tables"]["jobs"]["rows_rejected"] == 0
    assert m["meta"]["wait_unknown_taken_as_zero"] is False  # no "start times" note
    df = store.trace("grid").read("jobs").sort("submit_s")
    assert df["job_id"].to_list() == ["1", "2", "3", "4", "5", "6"]
    # job 5 records no run time (-1): null, not 0; job 4 ran 0 s (cancelled)
    assert df["run_s"].to_list() == [100.0, 50.0, 30.0, 0.0, None, 400.0]
    # only job 3 has a wait (5 s): start 25, end 55
    assert df["start_s"].to_list() == [None, None, 25.0, None, None, None]
    assert df["end_s"].to_list() == [None, None, 55.0, None, None, None]
    assert df["runtime_req_s"].to_list() == [200.0, 100.0, 60.0, 10.0, None, 300.0]
    assert df["status"].to_list()[3:5] == ["cancelled", "failed"]


def test_double_fixture_run_s(store, data_dir: Path) -> None:
    store.ingest(data_dir / DOUBLE, format="swf", name="d")
    df = store.trace("d").read("jobs")
    # summaries only (parts skipped): job 1 runs 100 s, job 2 30 s, job 3 140 s in total
    assert sorted(zip(df["job_id"].to_list(), df["run_s"].to_list())) == [
        ("1", 100.0), ("2", 30.0), ("3", 140.0)]
    store.ingest(data_dir / DOUBLE, format="swf", name="parts", options={"keep_parts": True})
    parts = store.trace("parts").read("jobs").filter(pl.col("job_id") == "3")
    # the two parts (50 s + 70 s) and the summary line (140 s, the 20 s between parts
    # included: the summary spans first start to last end)
    assert sorted(parts["run_s"].to_list()) == [50.0, 70.0, 140.0]
    assert all(r == e - s for r, s, e in parts.select("run_s", "start_s", "end_s").iter_rows())


@pytest.mark.parametrize(("fmt", "rel"), [
    ("philly", "philly/trace-data"),
    ("google_2011", "google_2011"),
    ("google_2019", "google_2019"),
    ("alibaba_2018", "alibaba_2018"),
    ("alibaba_pai", "alibaba_pai"),
    ("alibaba_openb", "alibaba_openb"),
    ("alibaba_dlrm", "alibaba_dlrm/disaggregated_DLRM_trace.csv"),
    ("azure_vm", "azure_vm/v2"),
])
def test_start_end_sources_leave_run_s_null(store, data_dir: Path, fmt: str, rel: str) -> None:
    # These sources record start and end instants, not a run time: run_s stays null (the
    # analyses take end_s - start_s), while the rows do have runs to measure.
    store.ingest(data_dir / rel, format=fmt, name="t")
    df = store.trace("t").read("jobs")
    assert df.height > 0
    assert df["run_s"].null_count() == df.height
    assert (df["start_s"].is_not_null() & df["end_s"].is_not_null()).sum() > 0


def test_rule_run_s_agrees_with_start_end(store, tmp_path: Path) -> None:
    src = tmp_path / "jobs.csv"
    pl.DataFrame({
        "id": ["ok", "round", "off", "only_run", "neg", "huge", "no_run"],
        "t": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "s": [10.0, 11.0, 12.0, None, None, None, 16.0],
        "e": [110.0, 111.4, 115.0, None, None, None, 20.0],
        "r": [100.0, 100.0, 100.0, 42.0, -1.0, 2e9, None],
    }).write_csv(src)
    toml = tmp_path / "m.toml"
    toml.write_text('table = "jobs"\nformat = "csv"\n[time]\nformat = "seconds"\n[columns]\n'
                    'job_id = "id"\nsubmit_s = "t"\nstart_s = "s"\nend_s = "e"\nrun_s = "r"\n')
    m = store.ingest(src, format="mapped", name="m", options={"mapping": str(toml)}).manifest
    assert m["tables"]["jobs"]["rows_ok"] == 4 and m["tables"]["jobs"]["rows_rejected"] == 3
    ok = store.trace("m").read("jobs").sort("submit_s")
    # 0.4 s of rounding is within the tolerance; a run time without start / end is kept
    assert ok["job_id"].to_list() == ["ok", "round", "only_run", "no_run"]
    assert ok["run_s"].to_list() == [100.0, 100.0, 42.0, None]
    rej = dict(store.trace("m").rejects().sort("line").collect().select("line", "reason").iter_rows())
    assert RUN_TOLERANCE_S == 1.0
    assert rej == {
        4: "run_s disagrees with end_s - start_s (by more than 1 s)",  # 103 s vs 100 s
        6: "run_s is negative",
        7: "run_s is outside the plausible range [0, 1e+09] (change it with --bound run_s=LOW:HIGH)",
    }


def test_run_s_column_and_rule_documented() -> None:
    col = next(c for c in JOBS.columns if c.name == "run_s")
    assert col.dtype == pl.Float64 and not col.required
    assert "even without start/end" in col.doc and "not copied" in col.doc
    assert JOBS.bounds()["run_s"] == (0.0, 1e9)
    msgs = [m for rule in JOBS.rules for m in getattr(rule, "messages", ())]
    assert "run_s disagrees with end_s - start_s (by more than 1 s)" in msgs
