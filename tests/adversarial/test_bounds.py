"""Out-of-range values (issue 14, class 1): one row ``2300-01-01 00:00:00,10,10`` once moved a
trace's origin to 1715 and every real arrival to about -8.7e9 s with exit 0 and no rejects, and
an arrival of 1e19 s made ``characterize`` allocate petabytes. Timestamps a nanosecond clock
cannot hold are rejects, the origin is chosen among plausible years, every numeric column has
a documented plausible range (changed with ``--bound``), and analyses refuse or skip spans they
cannot represent."""

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import workscope
from workscope.cli import app
from workscope.errors import OptionError, UnknownNameError
from workscope.schemas import PLAUSIBLE, TABLES, parse_bound

HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
GOOD = ["2023-11-16 18:17:03.9799600,5,6", "2023-11-16 18:18:03.9799600,7,8",
        "2023-11-16 18:19:03.5,9,10"]


def _csv(tmp_path: Path, rows: list[str], name: str = "conv.csv") -> Path:
    p = tmp_path / name
    p.write_text(HEADER + "\n".join(rows) + "\n")
    return p


def _rejects(trace: workscope.Trace) -> pl.DataFrame:
    return trace.rejects().collect().sort("line")


@pytest.mark.parametrize("bad", ["2300-01-01 00:00:00", "0001-01-01 00:00:00", "1600-01-01 00:00:00",
                                 "9999-12-31 23:59:59", "2650-06-01 00:00:00", "2262-04-12 00:00:00",
                                 "1677-09-21 00:00:00"])
@pytest.mark.parametrize("at", [0, 1, 3])
def test_a_time_no_nanosecond_clock_holds_is_a_reject_wherever_it_is(tmp_path: Path, bad: str, at: int) -> None:
    rows = list(GOOD)
    rows.insert(at, f"{bad},10,10")
    store = workscope.open(tmp_path / "s")
    m = store.ingest(_csv(tmp_path, rows), format="azure_llm", name="t").manifest
    assert m["origin_utc"] == "2023-11-16T18:17:03.979960+00:00"
    t = m["tables"]["requests"]
    assert (t["rows_in"], t["rows_ok"], t["rows_rejected"]) == (4, 3, 1)
    assert store.trace("t").read("requests")["arrival_s"].to_list() == pytest.approx([0.0, 60.0, 119.52004])
    rej = _rejects(store.trace("t"))
    assert rej["line"].to_list() == [at + 2]
    assert rej["reason"][0] == "TIMESTAMP: a time outside the years 1678..2261"


@pytest.mark.parametrize("bad", ["1971-01-01 00:00:00", "2075-01-01 00:00:00", "1700-01-01 00:00:00"])
def test_a_representable_but_implausible_time_is_a_reject_and_keeps_the_origin(tmp_path: Path, bad: str) -> None:
    # first row: it must not become the origin (which would reject every real row instead)
    store = workscope.open(tmp_path / "s")
    m = store.ingest(_csv(tmp_path, [f"{bad},1,1", *GOOD]), format="azure_llm", name="t").manifest
    assert m["origin_utc"].startswith("2023-11-16T18:17:03")
    assert m["tables"]["requests"]["rows_ok"] == 3
    reason = _rejects(store.trace("t"))["reason"][0]
    assert reason == ("arrival_s is outside the plausible range [-1e+09, 1e+09] "
                      "(change it with --bound arrival_s=LOW:HIGH)")


def test_sizes_beyond_their_plausible_range_are_rejects(tmp_path: Path) -> None:
    rows = [*GOOD, "2023-11-16 18:20:00,5,2000000000", "2023-11-16 18:20:00,1000000001,5",
            "2023-11-16 18:20:00,1000000000,5"]
    store = workscope.open(tmp_path / "s")
    m = store.ingest(_csv(tmp_path, rows), format="azure_llm", name="t").manifest
    assert m["tables"]["requests"]["rows_ok"] == 4  # exactly 1e9 is inside
    reasons = _rejects(store.trace("t"))["reason"].to_list()
    assert [r.split(" is outside")[0] for r in reasons] == ["output_tokens", "input_tokens"]


def test_bounds_are_changed_per_trace_and_recorded(tmp_path: Path) -> None:
    rows = [*GOOD, "2023-11-16 18:20:00,5,2000000000"]
    src = _csv(tmp_path, rows)
    store = workscope.open(tmp_path / "s")
    default = store.ingest(src, format="azure_llm", name="t")
    assert default.manifest["tables"]["requests"]["rows_ok"] == 3
    assert "bounds" not in default.manifest
    # the same sources with another bound are another trace (a new content key), not "unchanged"
    wide = store.ingest(src, format="azure_llm", name="t", bounds={"output_tokens": (0, None)}, force=True)
    assert wide.status == "replaced"
    assert wide.manifest["tables"]["requests"]["rows_ok"] == 4
    assert wide.manifest["bounds"] == {"output_tokens": [0.0, None]}
    assert wide.manifest["content_key"] != default.manifest["content_key"]
    # CLI: --bound, and the manifest says so
    r = CliRunner().invoke(app, ["ingest", str(src), "-f", "azure_llm", "--home", str(tmp_path / "c"),
                                 "--bound", "output_tokens=:3e9", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["manifest"]["bounds"] == {"output_tokens": [None, 3e9]}
    assert doc["manifest"]["tables"]["requests"]["rows_ok"] == 4


@pytest.mark.parametrize(("text", "error", "message"), [
    ("arrival_s=5:1", OptionError, "needs LOW <= HIGH"),
    ("arrival_s=a:1", OptionError, "must be numbers"),
    ("arrival_s=nan:1", OptionError, "needs LOW <= HIGH"),
    ("arrival_s", OptionError, "expects COLUMN=LOW:HIGH"),
    ("arrival_s=5", OptionError, "expects COLUMN=LOW:HIGH"),
    ("=1:2", OptionError, "expects COLUMN=LOW:HIGH"),
    ("arival_s=1:2", UnknownNameError, "did you mean 'arrival_s'"),
    ("model=1:2", UnknownNameError, "unknown numeric column 'model'"),
])
def test_bad_bounds_are_usage_errors(text: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        parse_bound(text)


def test_a_bad_bound_on_the_command_line_exits_2_with_one_json_document(tmp_path: Path) -> None:
    src = _csv(tmp_path, GOOD)
    r = CliRunner().invoke(app, ["ingest", str(src), "--home", str(tmp_path / "c"), "--bound",
                                 "arrival_s=9:1", "--json"])
    assert r.exit_code == 2
    assert "needs LOW <= HIGH" in json.loads(r.stdout)["error"]


def test_parse_bound_reads_open_sides() -> None:
    assert parse_bound("arrival_s=:") == ("arrival_s", (-math.inf, math.inf))
    assert parse_bound(" latency_s =0:") == ("latency_s", (0.0, math.inf))


def test_every_bounded_column_exists_and_bounds_are_ordered() -> None:
    names = {c.name for t in TABLES.values() for c in t.columns}
    assert set(PLAUSIBLE) <= names
    assert all(lo < hi for lo, hi in PLAUSIBLE.values())


# ------------------------------------------------------------------ the mapped reader

def _mapped(tmp_path: Path, data: str, time_format: str, origin: str | None = None) -> Path:
    (tmp_path / "d.csv").write_text(data)
    extra = f"origin = '{origin}'\n" if origin else ""
    (tmp_path / "m.toml").write_text(f"table = 'requests'\n[time]\nformat = '{time_format}'\n{extra}"
                                     "[columns]\narrival_s = 't'\ninput_tokens = 'n'\n")
    return tmp_path / "m.toml"


@pytest.mark.parametrize(("fmt", "bad", "reason"), [
    ("%Y-%m-%d %H:%M:%S", "2300-01-01 00:00:00", "t: a time outside the years 1678..2261"),
    ("%Y-%m-%d %H:%M:%S", "1850-01-01 00:00:00", "arrival_s is outside the plausible range"),
    ("unix_s", "1e19", "arrival_s is outside the plausible range"),
    ("unix_s", "0", "arrival_s is outside the plausible range"),
    ("unix_ms", "-1e18", "arrival_s is outside the plausible range"),
])
def test_mapped_reader_rejects_the_same_way(tmp_path: Path, fmt: str, bad: str, reason: str) -> None:
    good = (["2024-05-01 12:00:00", "2024-05-01 12:00:01"] if "%" in fmt
            else ["1714564800", "1714564801"] if fmt == "unix_s" else ["1714564800000", "1714564801000"])
    mapping = _mapped(tmp_path, "t,n\n" + "\n".join(f"{t},1" for t in [bad, *good]) + "\n", fmt)
    store = workscope.open(tmp_path / "s")
    m = store.ingest(tmp_path / "d.csv", format="mapped", name="t", options={"mapping": str(mapping)}).manifest
    assert m["origin_utc"] == "2024-05-01T12:00:00+00:00"
    assert m["tables"]["requests"]["rows_ok"] == 2
    assert store.trace("t").read("requests")["arrival_s"].to_list() == [0.0, 1.0]
    assert _rejects(store.trace("t"))["reason"][0].startswith(reason)


def test_an_epoch_origin_judges_times_by_their_years(tmp_path: Path) -> None:
    mapping = _mapped(tmp_path, "t,n\n1714564800,1\n1714564801,2\n1e19,3\n100,4\n", "unix_s", "epoch")
    store = workscope.open(tmp_path / "s")
    m = store.ingest(tmp_path / "d.csv", format="mapped", name="t", options={"mapping": str(mapping)}).manifest
    assert m["tables"]["requests"]["rows_ok"] == 2
    assert store.trace("t").read("requests")["arrival_s"].to_list() == [1714564800.0, 1714564801.0]
    assert _rejects(store.trace("t"))["line"].to_list() == [4, 5]


# ------------------------------------------------------------------ analyses on lifted bounds

def _limited(cmd: list[str]) -> subprocess.CompletedProcess:
    def limit() -> None:  # 3 GB of address space: a petabyte allocation fails at once
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, preexec_fn=limit)


@pytest.mark.parametrize(("table", "data", "columns"), [
    ("requests", "t,n\n5,1\n45,2\n1e19,3\n", "arrival_s = 't'\ninput_tokens = 'n'\n"),
    ("jobs", "t,n\n5,1\n45,2\n1e19,3\n", "submit_s = 't'\nstart_s = 't'\nend_s = 't'\njob_id = 'n'\n"
     "cpu_req = 'n'\n"),
    ("usage", "t,n\n5,1\n45,2\n1e19,3\n", "t_s = 't'\nentity_id = 'n'\nmetric = { value = 'cpu' }\n"
     "value = 'n'\n"),
    ("invocations", "t,n\n5,1\n45,2\n1e19,3\n", "arrival_s = 't'\nfunction_id = 'n'\nduration_s = 'n'\n"),
])
def test_characterize_finishes_on_a_trace_spanning_1e19_seconds(tmp_path: Path, table: str, data: str,
                                                                columns: str) -> None:
    (tmp_path / "d.csv").write_text(data)
    (tmp_path / "m.toml").write_text(f"table = '{table}'\n[time]\nformat = 'seconds'\n[columns]\n{columns}")
    store = workscope.open(tmp_path / "s")
    col = TABLES[table].time_column
    m = store.ingest(tmp_path / "d.csv", format="mapped", name="t", options={"mapping": str(tmp_path / "m.toml")},
                     bounds={col: (None, None), "end_s": (None, None), "start_s": (None, None)}).manifest
    assert m["tables"][table]["time"]["max_s"] == 1e19
    r = _limited([sys.executable, "-m", "workscope", "characterize", "t", "--home", str(tmp_path / "s"), "--json"])
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    assert r.returncode in (0, 1), r.stderr[-2000:]
    if r.returncode == 0:
        assert json.loads(r.stdout)["trace"] == "t"
    else:
        assert json.loads(r.stdout)["error"]


@pytest.fixture(scope="module")
def huge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store whose trace 'big' spans 1e19 s (bounds lifted) and 'ok', a plain one."""
    d = tmp_path_factory.mktemp("huge")
    (d / "d.csv").write_text("t,n,f\n5,1,a\n45,2,b\n1e19,3,a\n")
    (d / "m.toml").write_text("table = 'requests'\n[time]\nformat = 'seconds'\n[columns]\n"
                              "arrival_s = 't'\ninput_tokens = 'n'\noutput_tokens = 'n'\nsession_id = 'f'\n")
    (d / "i.toml").write_text("table = 'invocations'\n[time]\nformat = 'seconds'\n[columns]\n"
                              "arrival_s = 't'\nfunction_id = 'f'\nduration_s = 'n'\n")
    store = workscope.open(d / "s")
    for name, mapping in (("big", "m.toml"), ("inv", "i.toml")):
        store.ingest(d / "d.csv", format="mapped", name=name, options={"mapping": str(d / mapping)},
                     bounds={"arrival_s": (None, None)})
    (d / "ok.csv").write_text("t,n,f\n5,1,a\n45,2,b\n")
    store.ingest(d / "ok.csv", format="mapped", name="ok", options={"mapping": str(d / "m.toml")})
    return d


@pytest.mark.parametrize("args", [
    ["replay", "export", "big", "--to", "sglang_mooncake", "--out", "{d}/x.jsonl"],
    ["replay", "export", "big", "--to", "aiperf", "--out", "{d}/x.jsonl"],
    ["replay", "export", "big", "--to", "vidur", "--out", "{d}/x.csv"],
    ["replay", "export", "big", "--to", "parquet", "--out", "{d}/x.parquet"],
    ["replay", "fidelity", "big", "ok"],
    ["replay", "sample", "inv", "--functions", "1", "--to", "invitro", "--out", "{d}/samples"],
])
def test_replay_refuses_spans_it_cannot_represent(huge: Path, args: list[str]) -> None:
    argv = [a.format(d=huge) for a in args] + ["--home", str(huge / "s")]
    r = _limited([sys.executable, "-m", "workscope", *argv, "--json"])
    assert r.returncode == 1, (r.stdout[-800:], r.stderr[-2000:])
    assert "Traceback" not in r.stderr and "this is a bug" not in r.stderr
    msg = json.loads(r.stdout)["error"]
    assert "beyond the 9.2e+09 s any export can represent" in msg or "would need" in msg
    assert not any(p.name.startswith("x.") for p in huge.iterdir())


def test_a_window_cuts_the_implausible_rows_and_the_export_goes_through(huge: Path) -> None:
    r = _limited([sys.executable, "-m", "workscope", "replay", "export", "big", "--to", "aiperf", "--out",
                  str(huge / "cut.jsonl"), "--window", "0:100", "--home", str(huge / "s")])
    assert r.returncode == 0, r.stderr[-2000:]
    assert len((huge / "cut.jsonl").read_text().splitlines()) == 2
