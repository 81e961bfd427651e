"""The generic `mapped` reader: CSV / TSV / Parquet / JSONL / .csv.gz through TOML mappings."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from tests.conftest import reconciles
from workscope.errors import (
    DataError,
    FormatDetectionError,
    InvalidNameError,
    MissingColumnError,
    OptionError,
    UsageError,
)
from workscope.ingest import registry
from workscope.ingest.mapped import READER, MappingError, load_mapping


def _data_lines(path: Path) -> int:
    """Non-blank lines after the header, counted independently of the reader."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        lines = [ln for ln in fh.read().splitlines() if ln.strip()]
    return len(lines) - 1


def _ingest(store, data: Path, mapping: Path, name: str = "t"):
    result = store.ingest(data, format="mapped", name=name, options={"mapping": str(mapping)})
    assert reconciles(result.manifest)
    return result, store.trace(name)


def _by(df: pl.DataFrame, col: str, value: object) -> dict:
    rows = df.filter(pl.col(col) == value).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- one mapping per input kind


def test_csv_into_requests(store, data_dir):
    d = data_dir / "mapped"
    result, trace = _ingest(store, d / "requests.csv", d / "requests_csv.toml")
    m = result.manifest
    t = m["tables"]["requests"]
    assert t["rows_in"] == _data_lines(d / "requests.csv") == 6
    assert (t["rows_ok"], t["rows_rejected"]) == (3, 3)
    # the origin is the earliest timestamp (r3, third row), read as UTC as the mapping says
    assert m["meta"]["origin_utc"] == "2024-05-01T12:00:00+00:00"
    assert m["meta"]["origin_assumed_utc"] is False
    assert m["meta"]["hash_block_tokens"] == 16
    assert m["meta"]["mapping"]["table"] == "requests"
    assert "mapping_sha256" in m["options"]

    df = trace.read("requests")
    r1 = _by(df, "request_id", "r1")
    assert r1["arrival_s"] == 0.25
    assert (r1["input_tokens"], r1["output_tokens"]) == (100, 20)
    assert r1["latency_s"] == 1.5
    assert r1["hash_ids"] == [1, 2, 3]
    assert (r1["model"], r1["kind"], r1["status"]) == ("llama-70b", "llm", "ok")
    assert json.loads(r1["attrs"]) == {"region": "eu", "tier": "gold"}
    r2 = _by(df, "request_id", "r2")
    assert r2["arrival_s"] == 1.0 and r2["latency_s"] == 2750.5 / 1000
    r3 = _by(df, "request_id", "r3")
    assert (r3["arrival_s"], r3["status"], r3["hash_ids"], r3["output_tokens"]) == (0.0, "failed", [], 0)
    assert r3["latency_s"] == 0.012
    assert df["session_id"].null_count() == 3  # not mapped: null, never invented

    rej = trace.rejects().sort("line").collect()
    assert rej["line"].to_list() == [5, 6, 7]
    assert rej["reason"].to_list() == [
        "prompt_len: not an integer",
        "latency_s is negative",
        "ts: not a timestamp (%Y-%m-%d %H:%M:%S%.f)",
    ]
    assert rej["raw"][0].startswith("2024-05-01 12:00:03.125,r4,abc")


def test_tsv_into_jobs(store, data_dir):
    d = data_dir / "mapped"
    result, trace = _ingest(store, d / "jobs.tsv", d / "jobs_tsv.toml")
    m = result.manifest
    t = m["tables"]["jobs"]
    assert t["rows_in"] == _data_lines(d / "jobs.tsv") == 5
    assert (t["rows_ok"], t["rows_rejected"]) == (3, 2)
    assert m["meta"]["origin_epoch_ns"] == 1_699_999_990 * 10**9  # j3 submitted first
    assert m["meta"]["origin_utc"] == "2023-11-14T22:13:10+00:00"
    assert m["meta"]["cpu_unit"] == "cores"

    df = trace.read("jobs")
    j1 = _by(df, "job_id", "j1")
    assert (j1["submit_s"], j1["start_s"], j1["end_s"]) == (10.0, 20.0, 80.5)
    assert j1["mem_req_mb"] == 2048.0  # 2097152 KiB
    assert j1["runtime_req_s"] == 3600.0  # 60 minutes
    assert (j1["cpu_req"], j1["gpu_req"], j1["user"], j1["status"]) == (4.0, 0.5, "alice", "COMPLETED")
    j2 = _by(df, "job_id", "j2")
    assert j2["end_s"] is None  # -1 = still running: censored
    assert (j2["mem_req_mb"], j2["runtime_req_s"]) == (1.0, 1800.0)
    j3 = _by(df, "job_id", "j3")
    assert (j3["submit_s"], j3["runtime_req_s"], j3["mem_req_mb"]) == (0.0, None, 0.5)

    rej = trace.rejects().sort("line").collect()
    assert rej.select("line", "reason").rows() == [
        (5, "end_s is before start_s"), (6, "cpus: not a number"),
    ]


def test_parquet_wide_into_usage(store, data_dir):
    d = data_dir / "mapped"
    result, trace = _ingest(store, d / "usage_wide.parquet", d / "usage_wide_parquet.toml")
    m = result.manifest
    t = m["tables"]["usage"]
    n_rows = pq.read_metadata(d / "usage_wide.parquet").num_rows
    assert t["rows_in"] == 2 * n_rows == 10  # two metrics per source row
    assert (t["rows_ok"], t["rows_rejected"]) == (8, 2)
    assert m["meta"]["origin_utc"] == "2024-05-01T12:00:00+00:00"
    assert m["meta"]["time_resolution_s"] == 0.001

    df = trace.read("usage")
    cpu = df.filter(pl.col("metric") == "cpu_util").sort("t_s", "entity_id")
    assert cpu.select("t_s", "entity_id", "value", "unit").rows() == [
        (0.0, "m1", 0.125, "fraction"), (0.0, "m2", 0.5, "fraction"), (60.0, "m2", 1.0, "fraction"),
    ]
    mem = df.filter(pl.col("metric") == "mem_used_mb").sort("t_s", "entity_id")
    assert mem["value"].to_list() == [1024.0, 2048.0, 1536.0, 0.5, 1.0]
    assert mem["t_s"].to_list() == [0.0, 0.0, 60.0, 60.0, 120.5]
    assert json.loads(mem["attrs"][0]) == {"rack": "r1"}

    rej = trace.rejects().sort("line").collect()
    # Parquet rows are numbered from 1; the raw text is the row as JSON
    assert rej.select("line", "reason").rows() == [
        (3, "cpu_pct is missing"), (5, "cpu_pct: not a finite number"),
    ]
    assert json.loads(rej["raw"][0])["ts_ms"] == 1714564860000


def test_jsonl_into_invocations(store, data_dir):
    d = data_dir / "mapped"
    src = d / "invocations.jsonl"
    result, trace = _ingest(store, src, d / "invocations_jsonl.toml")
    t = result.manifest["tables"]["invocations"]
    physical = src.read_text().splitlines()
    assert t["rows_in"] == sum(1 for ln in physical if ln.strip()) == 7  # the blank line is no row
    assert (t["rows_ok"], t["rows_rejected"]) == (3, 4)
    assert result.manifest["meta"]["source_formats"] == ["jsonl"]

    df = trace.read("invocations")
    f1 = _by(df, "function_id", "f1")
    assert f1["arrival_s"] == 0.123
    assert f1["duration_s"] == 0.12 and f1["memory_mb"] == 128.0  # nested res.mem
    assert (f1["cold_start"], f1["app_id"], f1["trigger"]) == (True, "a1", "http")
    assert json.loads(f1["attrs"]) == {"zone": "eu-1"}  # rest = true: unmapped keys only
    f2 = _by(df, "function_id", "f2")
    assert (f2["arrival_s"], f2["duration_s"], f2["cold_start"]) == (0.0, 0.0035, False)
    assert json.loads(f2["attrs"]) == {"zone": None}
    assert _by(df, "function_id", "f4")["duration_s"] == 0.0

    rej = trace.rejects().sort("line").collect()
    # physical line numbers, blank line 3 included in the count
    assert rej.select("line", "reason").rows() == [
        (4, "dur_ms: not a number"),
        (5, "line is not a JSON object"),
        (6, "cold: not true/false"),
        (7, "fn is missing"),
    ]
    assert rej["raw"][1] == "not json at all"


def test_csv_gz_into_usage_with_relative_times(store, data_dir):
    d = data_dir / "mapped"
    result, trace = _ingest(store, d / "usage_long.csv.gz", d / "usage_long_csv_gz.toml")
    m = result.manifest
    t = m["tables"]["usage"]
    assert t["rows_in"] == _data_lines(d / "usage_long.csv.gz") == 6
    assert (t["rows_ok"], t["rows_rejected"]) == (4, 2)
    assert m["meta"]["origin_utc"] == "2019-01-01T00:00:00+00:00"  # stated, times kept as given
    assert m["meta"]["source_formats"] == ["csv"]  # format from the name, .gz stripped
    df = trace.read("usage").sort("t_s", "entity_id")
    assert df.select("t_s", "entity_id", "metric", "value", "unit").rows() == [
        (0.0, "vm-1", "cpu_util", 0.25, "fraction"),
        (300.0, "vm-1", "cpu_util", 0.5, "fraction"),
        (300.0, "vm-2", "cpu_util", 0.75, "fraction"),
        (600.0, "vm-2", "mem_used_mb", 2048.0, "MB"),
    ]
    rej = trace.rejects().sort("line").collect()
    assert rej.select("line", "reason").rows() == [
        (6, "val: not a finite number"), (7, "vm is missing"),
    ]


# ---------------------------------------------------------------- time handling


def test_local_timezone_and_clock_change(store, tmp_path):
    data = _write(tmp_path / "paris.csv", "when,n\n"
                  "2024-03-31 01:30:00,1\n"   # CET  = 00:30 UTC
                  "2024-03-31 03:30:00,2\n"   # CEST = 01:30 UTC
                  "2024-03-31 02:30:00,3\n")  # does not exist in Paris
    mapping = _write(tmp_path / "m.toml", """
table = "requests"
[time]
format = "%Y-%m-%d %H:%M:%S"
timezone = "Europe/Paris"
[columns]
arrival_s = "when"
input_tokens = "n"
""")
    result, trace = _ingest(store, data, mapping)
    assert result.manifest["meta"]["origin_utc"] == "2024-03-31T00:30:00+00:00"
    assert result.manifest["meta"]["origin_assumed_utc"] is False
    assert trace.read("requests").sort("arrival_s")["arrival_s"].to_list() == [0.0, 3600.0]
    rej = trace.rejects().collect()
    assert rej["line"].to_list() == [4] and "does not exist in Europe/Paris" in rej["reason"][0]


def test_offsets_in_data_and_zone_less_assumed_utc(store, tmp_path):
    data = _write(tmp_path / "z.csv", "t,n\n2024-01-01T02:00:00+02:00,1\n2024-01-01T00:00:10+00:00,2\n")
    mapping = _write(tmp_path / "m.toml", """
table = "requests"
[time]
format = "%Y-%m-%dT%H:%M:%S%:z"
[columns]
arrival_s = "t"
input_tokens = "n"
""")
    result, trace = _ingest(store, data, mapping)
    assert result.manifest["meta"]["origin_assumed_utc"] is False
    assert trace.read("requests").sort("arrival_s")["arrival_s"].to_list() == [0.0, 10.0]

    naive = _write(tmp_path / "n.csv", "t,n\n2024-01-01T00:00:00,1\n2024-01-01T00:00:00.5,2\n")
    iso = _write(tmp_path / "iso.toml", "table = 'requests'\n[time]\nformat = 'iso8601'\n"
                 "[columns]\narrival_s = 't'\ninput_tokens = 'n'\n")
    result, trace = _ingest(store, naive, iso, name="iso")
    assert result.manifest["meta"]["origin_assumed_utc"] is True
    assert result.manifest["meta"]["origin_utc"] == "2024-01-01T00:00:00+00:00"
    assert trace.read("requests")["arrival_s"].to_list() == [0.0, 0.5]


def test_unix_ns_keeps_nanoseconds_and_epoch_origin(store, tmp_path):
    data = _write(tmp_path / "ns.jsonl",
                  '{"t": 1714564800000000000, "n": 1}\n{"t": 1714564800123456789, "n": 2}\n')
    mapping = _write(tmp_path / "m.toml", "table = 'requests'\n[time]\nformat = 'unix_ns'\n"
                     "[columns]\narrival_s = 't'\ninput_tokens = 'n'\n")
    result, trace = _ingest(store, data, mapping)
    assert result.manifest["meta"]["origin_epoch_ns"] == 1714564800000000000
    assert result.manifest["meta"]["time_resolution_s"] == 1e-9
    # exact integer ns arithmetic, then one float division (polars may be 1 ulp off)
    assert trace.read("requests").sort("arrival_s")["arrival_s"].to_list() == pytest.approx(
        [0.0, 0.123456789], abs=1e-16)

    epoch = _write(tmp_path / "e.toml", "table = 'requests'\n[time]\nformat = 'unix_ns'\n"
                   "origin = 'epoch'\n[columns]\narrival_s = 't'\ninput_tokens = 'n'\n")
    result, trace = _ingest(store, data, epoch, name="epoch")
    assert result.manifest["meta"]["origin_utc"] == "1970-01-01T00:00:00+00:00"
    assert trace.read("requests")["arrival_s"].min() == 1714564800.0


def test_parquet_timestamp_column_and_per_column_format(store, tmp_path):
    import datetime as dt

    pl.DataFrame({
        "id": ["a", "b"],
        "submitted": [dt.datetime(2024, 1, 1, 0, 0, 5), dt.datetime(2024, 1, 1, 0, 0, 0)],
        "ended_unix": [1704067260, 1704067300],
        "prio": [3.0, 1.0],  # floats holding whole numbers, as pandas writes them
    }).write_parquet(tmp_path / "jobs.parquet")
    mapping = _write(tmp_path / "m.toml", """
table = "jobs"
[time]
format = "iso8601"          # a Parquet timestamp column is taken as is
[columns]
job_id = "id"
submit_s = "submitted"
end_s = { column = "ended_unix", format = "unix_s" }
priority = "prio"
""")
    result, trace = _ingest(store, tmp_path / "jobs.parquet", mapping)
    assert result.manifest["meta"]["origin_utc"] == "2024-01-01T00:00:00+00:00"
    df = trace.read("jobs").sort("job_id")
    assert df.select("job_id", "submit_s", "end_s", "priority").rows() == [
        ("a", 5.0, 60.0, 3), ("b", 0.0, 100.0, 1),
    ]


# ---------------------------------------------------------------- files and layout


def test_header_less_file_with_comments_and_skipped_lines(store, tmp_path):
    data = _write(tmp_path / "trace.txt", "exported by tool v1\n# comment\n"
                  "m1|0|10\nm2|60|20\n# another comment\nm1|120|x\n")
    mapping = _write(tmp_path / "m.toml", """
table = "usage"
format = "csv"
delimiter = "|"
has_header = false
names = ["machine", "t", "cpu"]
comment = "#"
skip_lines = 1
[time]
format = "seconds"
[columns]
t_s = "t"
entity_id = "machine"
metric = { value = "cpu_pct" }
value = "cpu"
unit = { value = "percent" }
""")
    result, trace = _ingest(store, data, mapping)
    t = result.manifest["tables"]["usage"]
    assert (t["rows_ok"], t["rows_rejected"]) == (2, 1)
    assert result.manifest["meta"]["origin_utc"] is None  # relative times, origin not given
    df = trace.read("usage").sort("t_s")
    assert df.select("t_s", "entity_id", "metric", "value", "unit").rows() == [
        (0.0, "m1", "cpu_pct", 10.0, "percent"), (60.0, "m2", "cpu_pct", 20.0, "percent"),
    ]
    assert trace.rejects().collect()["reason"].to_list() == ["cpu: not a number"]


def test_directory_shares_one_origin(store, tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    _write(folder / "day2.csv", "ts,n\n1700086400.5,3\n")
    _write(folder / "day1.csv", "ts,n\n1700000000,1\n1700000001,2\n")
    _write(folder / "README.md", "not data\n")
    mapping = _write(tmp_path / "m.toml", "table = 'requests'\nglob = '*.csv'\n[time]\n"
                     "format = 'unix_s'\n[columns]\narrival_s = 'ts'\ninput_tokens = 'n'\n")
    result, trace = _ingest(store, folder, mapping)
    assert result.manifest["tables"]["requests"]["rows_ok"] == 3
    assert len(result.manifest["files_used"]) == 2
    df = trace.read("requests").sort("arrival_s")
    assert df["arrival_s"].to_list() == [0.0, 1.0, 86400.5]


def test_reingest_same_mapping_is_noop_and_edited_mapping_is_not(store, tmp_path, data_dir):
    data = data_dir / "mapped" / "jobs.tsv"
    mapping = tmp_path / "jobs.toml"
    mapping.write_bytes((data_dir / "mapped" / "jobs_tsv.toml").read_bytes())
    first, _ = _ingest(store, data, mapping)
    again = store.ingest(data, format="mapped", name="t", options={"mapping": str(mapping)})
    assert (first.status, again.status) == ("created", "unchanged")
    mapping.write_text(mapping.read_text().replace('user = "user"', 'user = "state"'))
    with pytest.raises(InvalidNameError, match="already exists"):
        store.ingest(data, format="mapped", name="t", options={"mapping": str(mapping)})
    replaced = store.ingest(data, format="mapped", name="t", options={"mapping": str(mapping)}, force=True)
    assert replaced.status == "replaced"
    assert _by(store.trace("t").read("jobs"), "job_id", "j1")["user"] == "COMPLETED"


def test_sniff_is_always_false_and_detect_skips_mapped(data_dir):
    d = data_dir / "mapped"
    for f in d.iterdir():
        assert READER.sniff(f) is False
    assert READER.sniff(d) is False
    try:
        found = registry.detect([d / "requests.csv"])
    except FormatDetectionError as exc:
        assert "--format mapped" in str(exc)
    else:
        assert found.name != "mapped"
    assert registry.get("mapped") is READER
    assert "mapping" in READER.describe()["options"]


# ---------------------------------------------------------------- bad mappings


BASE = """
table = "requests"
[time]
format = "unix_s"
[columns]
arrival_s = "ts"
input_tokens = "n"
"""


@pytest.mark.parametrize(("toml", "key", "words"), [
    (BASE.replace('"requests"', '"request"'), "table", "did you mean 'requests'"),
    (BASE.replace('"requests"', '"bogus"'), "table", "unknown canonical table 'bogus'"),
    (BASE + 'input_token = "n2"\n', "columns.input_token", "did you mean 'input_tokens'"),
    (BASE.replace('arrival_s = "ts"', ""), "columns", "requests requires arrival_s"),
    (BASE.replace("[time]", "tabel = 1\n[time]"), "tabel", "did you mean 'table'"),
    (BASE.replace('"unix_s"', '"unix_sec"'), "time.format", "did you mean 'unix_s'"),
    (BASE.replace('format = "unix_s"', 'format = "unix_s"\ntimezone = "Mars/Olympus"'),
     "time.timezone", "unknown time zone"),
    (BASE.replace('format = "unix_s"', 'format = "unix_s"\norigin = "yesterday"'), "time.origin", "ISO-8601"),
    (BASE.replace('input_tokens = "n"', 'input_tokens = { column = "n", scale = 0.5 }'),
     "columns.input_tokens.scale", "float columns only"),
    (BASE.replace('input_tokens = "n"', 'input_tokens = { column = "n", sclae = 2 }'),
     "columns.input_tokens.sclae", "did you mean 'scale'"),
    (BASE.replace('input_tokens = "n"', 'input_tokens = { column = "n", value = 3 }'),
     "columns.input_tokens", "exactly one of"),
    (BASE.replace('input_tokens = "n"', 'input_tokens = { value = "many" }'),
     "columns.input_tokens.value", "must be an integer"),
    (BASE.replace('"unix_s"', '"%Y"') + 'latency_s = { column = "l", format = "unix_s" }\n',
     "columns.latency_s.format", "time points only"),
    (BASE + "attrs = 'x'\n", "columns.attrs", "[attrs]"),
    (BASE + "[metrics]\ncpu = 'c'\n", "metrics", "usage table only"),
    (BASE.replace("[time]", 'format = "xlsx"\n[time]'), "format", "unknown input format"),
    (BASE.replace("[time]", 'format = "parquet"\ndelimiter = ";"\n[time]'), "delimiter", "csv / tsv"),
    (BASE.replace("[time]", "has_header = false\n[time]"), "names", "required with has_header"),
    (BASE.replace('[time]\nformat = "unix_s"\n', ""), "time.format", "required to convert arrival_s"),
    (BASE + "[meta]\norigin_utc = 'x'\n", "meta.origin_utc", "set by the reader"),
    ("table = 'requests'\ncolumns = [1,\n", "", "invalid TOML"),
])
def test_bad_mapping_names_file_and_key(tmp_path, store, toml, key, words):
    mapping = _write(tmp_path / "bad.toml", toml)
    _write(tmp_path / "x.csv", "ts,n\n1,2\n")
    with pytest.raises(MappingError) as info:
        store.ingest(tmp_path / "x.csv", format="mapped", options={"mapping": str(mapping)})
    msg = str(info.value)
    assert str(mapping) in msg and f"{key}:" in msg and words in msg, msg
    assert isinstance(info.value, UsageError) and info.value.exit_code == 2
    assert store.names() == []


def test_mapping_option_missing_or_unreadable(tmp_path, store):
    _write(tmp_path / "x.csv", "ts,n\n1,2\n")
    with pytest.raises(OptionError, match="needs the option mapping"):
        store.ingest(tmp_path / "x.csv", format="mapped")
    with pytest.raises(OptionError, match="no such file"):
        store.ingest(tmp_path / "x.csv", format="mapped", options={"mapping": str(tmp_path / "nope.toml")})
    with pytest.raises(OptionError, match="did you mean 'mapping'"):
        store.ingest(tmp_path / "x.csv", format="mapped", options={"maping": "x.toml"})


def test_source_column_missing_names_the_data_file(tmp_path, store):
    data = _write(tmp_path / "x.csv", "ts,tokens\n1,2\n")
    mapping = _write(tmp_path / "m.toml", BASE)
    with pytest.raises(MissingColumnError) as info:
        store.ingest(data, format="mapped", options={"mapping": str(mapping)})
    msg = str(info.value)
    assert str(data) in msg and "'n'" in msg and "m.toml" in msg
    assert isinstance(info.value, DataError)

    jsonl = _write(tmp_path / "x.jsonl", '{"ts": 1, "tokens": 2}\n')
    with pytest.raises(MissingColumnError, match="x.jsonl"):
        store.ingest(jsonl, format="mapped", options={"mapping": str(mapping)})


def test_numeric_time_column_with_strptime_pattern(tmp_path, store):
    pl.DataFrame({"ts": [1, 2], "n": [1, 2]}).write_parquet(tmp_path / "x.parquet")
    mapping = _write(tmp_path / "m.toml", BASE.replace('"unix_s"', '"%Y-%m-%d"'))
    with pytest.raises(MappingError, match="holds numbers"):
        store.ingest(tmp_path / "x.parquet", format="mapped", options={"mapping": str(mapping)})


def test_load_mapping_parses_every_section(data_dir):
    m = load_mapping(data_dir / "mapped" / "requests_csv.toml")
    assert (m.table, m.format, m.timezone) == ("requests", "csv", "UTC")
    assert m.time_format == "%Y-%m-%d %H:%M:%S%.f"
    assert m.columns["latency_s"].scale == 0.001 and m.columns["model"].value == "llama-70b"
    assert m.keep == ("region", "tier") and m.meta == {"hash_block_tokens": 16}
    assert m.sources() == ["ts", "req", "prompt_len", "gen_len", "latency_ms", "status", "blocks",
                           "region", "tier"]


# ---------------------------------------------------------------- the bad-input corpus




def test_a_mapping_fills_the_responses_table_with_plan_and_send_times(store, tmp_path):
    data = _write(tmp_path / "r.csv", "id,plan,sent,ttft_ms,status\na,100.0,100.002,120,ok\nb,100.5,100.51,80,ok\n")
    mapping = _write(tmp_path / "r.toml", "table = 'responses'\n[time]\nformat = 'seconds'\n"
                     "origin = '2026-01-01T00:00:00Z'\n[columns]\nrequest_id = 'id'\nplan_s = 'plan'\n"
                     "sent_s = 'sent'\nttft_s = { column = 'ttft_ms', scale = 0.001 }\nstatus = 'status'\n")
    _, trace = _ingest(store, data, mapping)
    df = trace.read("responses").sort("request_id")
    assert df["plan_s"].to_list() == [100.0, 100.5]
    assert df["sent_s"].to_list() == pytest.approx([100.002, 100.51])
    assert df["ttft_s"].to_list() == pytest.approx([0.12, 0.08])
