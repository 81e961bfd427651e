"""The trace store: provenance, reconciliation, idempotence, atomic replace, recovery."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workscope
from tests.conftest import SAMPLES
from workscope.errors import InvalidNameError, OptionError, SourceError, TraceNotFoundError, UnknownFormatError
from tests.conftest import reconciles
from workscope.schemas import REJECTS_SCHEMA, SCHEMA_VERSION, TABLES

CODE = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv"
CONV = CODE.with_name("AzureLLMInferenceTrace_conv.csv")
BAD = Path(__file__).parent / "data" / "bad" / "azure_llm"


def data_lines(path: Path) -> int:
    """Rows in a CSV counted independently of workscope: non-empty lines minus the header."""
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip()) - 1


def test_ingest_counts_values_and_provenance(store: workscope.Store) -> None:
    res = store.ingest(CODE, format="azure_llm", name="code")
    assert res.status == "created"
    m = res.manifest
    assert m["tables"]["requests"]["rows_in"] == data_lines(CODE) == 8819
    assert m["tables"]["requests"]["rows_ok"] == 8819 and m["tables"]["requests"]["rows_rejected"] == 0
    assert reconciles(m)
    # origin = first timestamp, 2023-11-16 18:17:03.9799600 taken as UTC
    assert m["origin_utc"] == "2023-11-16T18:17:03.979960+00:00"
    assert m["meta"]["origin_assumed_utc"] is True
    src = m["sources"][0]
    assert src["sha256"] == hashlib.sha256(CODE.read_bytes()).hexdigest()
    assert src["bytes"] == CODE.stat().st_size
    assert m["reader"] == {"name": "azure_llm", "version": "1"}
    assert m["schema_version"] == SCHEMA_VERSION and m["workscope_version"] == workscope.__version__

    df = store.trace("code").read("requests")
    assert df.schema == TABLES["requests"].polars_schema
    assert df.height == 8819
    # rows 1 and 3 of the file: 18:17:03.9799600,4808,10 and 18:17:04.0781490,110,27
    assert df["arrival_s"][0] == 0.0
    assert df["arrival_s"][2] == pytest.approx(0.098189, abs=1e-9)
    assert df.row(2, named=True)["input_tokens"] == 110 and df.row(2, named=True)["output_tokens"] == 27
    assert df["kind"].unique().to_list() == ["code"]
    assert df["request_id"].null_count() == df.height  # not in the source: null, not invented

    # the same provenance travels in the Parquet key-value metadata
    files = store.trace("code").files("requests")
    kv = pq.read_metadata(files[0]).metadata
    prov = json.loads(kv[b"workscope"])
    assert prov["sources"][0]["sha256"] == src["sha256"] and prov["reader"]["name"] == "azure_llm"
    assert pq.read_metadata(files[0]).row_group(0).column(0).compression == "ZSTD"


def test_two_files_share_one_origin(store: workscope.Store) -> None:
    m = store.ingest([CODE, CONV], format="azure_llm", name="both").manifest
    assert m["tables"]["requests"]["rows_ok"] == 8819 + 19366
    assert m["origin_utc"] == "2023-11-16T18:15:46.680590+00:00"  # conv starts first
    got = store.trace("both").sql(
        "SELECT kind, count(*) AS n, min(arrival_s) AS t0 FROM requests GROUP BY kind ORDER BY kind")
    assert got["kind"].to_list() == ["code", "conv"]
    assert got["n"].to_list() == [8819, 19366]
    # code starts at 18:17:03.97996, 77.29937 s after conv's first request
    assert got["t0"].to_list() == pytest.approx([77.29937, 0.0], abs=1e-6)


def test_reingest_is_noop_and_force_replaces(store: workscope.Store) -> None:
    first = store.ingest(CODE, format="azure_llm", name="t")
    part = store.trace("t").files("requests")[0]
    mtime = part.stat().st_mtime_ns
    again = store.ingest(CODE, format="azure_llm", name="t")
    assert again.status == "unchanged"
    assert part.stat().st_mtime_ns == mtime
    assert again.manifest["content_key"] == first.manifest["content_key"]
    with pytest.raises(InvalidNameError, match="--force"):
        store.ingest(CONV, format="azure_llm", name="t")
    replaced = store.ingest(CONV, format="azure_llm", name="t", force=True)
    assert replaced.status == "replaced"
    assert store.trace("t").manifest["tables"]["requests"]["rows_ok"] == 19366
    assert not any(store.staging_dir.iterdir())


def test_rejects_table_has_file_line_raw_reason(store: workscope.Store) -> None:
    m = store.ingest(BAD / "bad_numbers.csv", format="azure_llm", name="bad").manifest
    t = m["tables"]["requests"]
    assert (t["rows_in"], t["rows_ok"], t["rows_rejected"]) == (9, 4, 5)
    rej = store.trace("bad").rejects().sort("line").collect()
    assert rej.schema == REJECTS_SCHEMA
    assert rej["line"].to_list() == [4, 5, 6, 7, 8]
    assert rej["raw"][1] == "2023-11-16 18:17:05.1000000,-5,7"
    assert rej["reason"].to_list() == [
        "ContextTokens: not an integer",
        "input_tokens is negative",
        "ContextTokens: not an integer",
        "ContextTokens: not an integer",
        "ContextTokens is missing",
    ]
    assert rej["file"].str.ends_with("bad_numbers.csv").all()
    assert m["rejects"]["rows"] == 5
    assert m["rejects"]["top_reasons"][0] == {"table": "requests", "reason": "ContextTokens: not an integer",
                                              "rows": 3, "first_line": 4}


def test_catalog_remove_and_names(store: workscope.Store) -> None:
    assert store.names() == [] and store.catalog().height == 0
    store.ingest(CODE, format="azure_llm", name="a")
    store.ingest(CONV, format="azure_llm", name="b")
    cat = store.catalog()
    assert cat["name"].to_list() == ["a", "b"] and cat["rows"].to_list() == [8819, 19366]
    store.remove("a")
    assert store.names() == ["b"]
    with pytest.raises(TraceNotFoundError, match="did you mean 'b'"):
        store.trace("bb")


@pytest.mark.parametrize("bad", ["", "1abc", "a-b", "a b", "../x", "x" * 65, "é"])
def test_invalid_trace_names(store: workscope.Store, bad: str) -> None:
    with pytest.raises(InvalidNameError):
        store.ingest(CODE, format="azure_llm", name=bad)
    assert not (store.home / "traces").exists() or store.names() == []


def test_unknown_format_and_option(store: workscope.Store) -> None:
    with pytest.raises(UnknownFormatError, match="did you mean 'azure_llm'"):
        store.ingest(CODE, format="azure_lm")
    with pytest.raises(OptionError, match="has no option 'speed'"):
        store.ingest(CODE, format="azure_llm", options={"speed": 1})
    with pytest.raises(SourceError, match="no such file"):
        store.ingest(CODE.with_name("missing.csv"), format="azure_llm")


def test_detects_format_and_default_name(store: workscope.Store) -> None:
    res = store.ingest(CODE)
    assert res.name == "azurellminferencetrace_code"
    assert res.manifest["reader"]["name"] == "azure_llm"


def test_recovery_rolls_back_an_interrupted_replace(tmp_path: Path) -> None:
    home = tmp_path / "s"
    store = workscope.open(home)
    store.ingest(CODE, format="azure_llm", name="t")
    # simulate a process killed between the two renames of a forced replace: the old trace
    # is parked in staging under a dead pid and traces/t is gone
    dead = 2**22 + 12345
    parked = store.staging_dir / f"t.old-{dead}-deadbeef"
    store.staging_dir.mkdir(exist_ok=True)
    os.rename(store.traces_dir / "t", parked)
    new_half = store.staging_dir / f"t.new-{dead}-cafef00d"
    new_half.mkdir()
    assert workscope.open(home).names() == ["t"]
    assert not parked.exists() and not new_half.exists()
    assert workscope.open(home).trace("t").read("requests").height == 8819


def test_scan_without_store() -> None:
    tables = workscope.scan(BAD / "bad_numbers.csv", format="azure_llm")
    df = tables["requests"].collect()
    # source lines 2-3 and 4-5 of the real file survive; the five bad rows between are dropped
    assert df["input_tokens"].to_list() == [4808, 3180, 110, 7433]


@st.composite
def rows(draw: st.DrawFn) -> list[tuple[str, str, str]]:
    good_ts = st.builds(lambda s, f: f"2023-11-16 18:{s // 60:02d}:{s % 60:02d}.{f:07d}",
                        st.integers(0, 3599), st.integers(0, 9_999_999))
    ts = st.one_of(good_ts, st.sampled_from(["", "x", "2023-13-01 00:00:00.0", "TIMESTAMP"]))
    tok = st.one_of(st.integers(0, 10**6).map(str), st.sampled_from(["", "-1", "1.5", "nan", "9" * 25, "a"]))
    return draw(st.lists(st.tuples(ts, tok, tok), min_size=1, max_size=40))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=rows())
def test_reconciliation_invariant(tmp_path_factory: pytest.TempPathFactory, data: list[tuple[str, str, str]]) -> None:
    d = tmp_path_factory.mktemp("h")
    src = d / "trace.csv"
    # a row whose fields are all empty is a blank line, which CSV readers skip: keep one field
    lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"] + [",".join(r) if any(r) else "x,," for r in data]
    src.write_text("\n".join(lines) + "\n")
    store = workscope.open(d / "s")
    expected_ok = [r for r in data if _good(r)]
    try:
        m = store.ingest(src, format="azure_llm", name="h").manifest
    except workscope.DataError as exc:
        # every row rejected (or no parseable first timestamp): nothing was written
        assert not expected_ok or "no valid rows" in str(exc) or "TIMESTAMP" in str(exc)
        assert store.names() == []
        return
    t = m["tables"]["requests"]
    assert t["rows_in"] == len(data) == t["rows_ok"] + t["rows_rejected"]
    assert t["rows_ok"] == len(expected_ok)
    got = store.trace("h").read("requests")
    assert got["input_tokens"].to_list() == [int(r[1]) for r in expected_ok]
    shutil.rmtree(d)


def _good(r: tuple[str, str, str]) -> bool:
    import datetime as dt

    try:
        dt.datetime.strptime(r[0][:19], "%Y-%m-%d %H:%M:%S")
        if len(r[0]) != 27:
            return False
        return all(x.isdigit() and int(x) < 2**63 for x in r[1:])
    except ValueError:
        return False
