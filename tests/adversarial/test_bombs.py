"""Resource bombs and files that are not what they claim (issue 14, classes 9 and 13): a
1.5 MB gzip inflating to one 1.5 GB line took 10.8 GB of memory; a gzip of blank lines became
786 million rejects and a 773 MB trace; a ``.tar.gz`` or a UTF-16 file given to a CSV reader
was reported as a missing column with binary junk; a folder of mixed formats silently
ingested only the files the reader knew. Lines are bounded, rejects stop the ingest after a
documented count or share, non-text files are named for what they are, and the files a reader
skipped are listed."""

from __future__ import annotations

import gzip
import io
import json
import logging
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import workscope
from workscope.cli import app
from workscope.errors import DataError, SourceError
from workscope.ingest import files
from workscope.ingest.reader import ScanContext
from workscope.limits import MAX_LINE_BYTES, MAX_REJECT_SHARE, MIN_LINES_FOR_SHARE

HEADER = b"TIMESTAMP,ContextTokens,GeneratedTokens\n"
GOOD = b"2023-11-16 18:17:03.9799600,5,6\n"


def _store(tmp_path: Path) -> workscope.Store:
    return workscope.open(tmp_path / "s")


def _nothing_written(store: workscope.Store) -> None:
    assert store.names() == []
    staging = store.home / ".staging"
    assert not staging.exists() or not any(staging.iterdir())


# ------------------------------------------------------------------ long lines

def test_a_plain_file_with_a_line_over_the_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    with open(p, "wb") as fh:
        fh.write(HEADER + GOOD)
        fh.write(b"9" * (MAX_LINE_BYTES + 1))
        fh.write(b",1,1\n" + GOOD)
    store = _store(tmp_path)
    with pytest.raises(SourceError, match=r"t.csv:3: line 3 is longer than 64 MiB"):
        store.ingest(p, format="azure_llm", name="t")
    _nothing_written(store)


@pytest.mark.parametrize("limit", [2 << 20, 3 << 20])
def test_check_lines_and_the_decompressing_copy_share_one_limit(tmp_path: Path, limit: int) -> None:
    body = HEADER + GOOD + b"9" * ((2 << 20) + 5) + b",1,1\n" + GOOD
    plain = _write(tmp_path / "t.csv", body)
    packed = _write(tmp_path / "t.csv.gz", gzip.compress(body, 1))
    ctx = ScanContext(options={}, staging=tmp_path)
    if limit < len(body) - 2 * len(GOOD) - len(HEADER):
        with pytest.raises(SourceError, match="line 3 is longer than 2 MiB"):
            files.check_lines(plain, plain, limit)
        with pytest.raises(SourceError, match="line 3 of the decompressed gzip stream is longer than 2 MiB"):
            files.plain_file(packed, ctx, limit)
        assert [f.name for f in tmp_path.iterdir() if f.name.startswith("0")] == []  # partial copy removed
    else:
        files.check_lines(plain, plain, limit)
        assert files.plain_file(packed, ctx, limit).read_bytes() == body


def test_a_gzip_bomb_stops_within_a_chunk_of_the_limit(tmp_path: Path) -> None:
    # 200 MiB of one line, compressed to about 200 KB: refused at the default 64 MiB
    p = tmp_path / "bomb.csv.gz"
    with gzip.open(p, "wb", compresslevel=1) as fh:
        fh.write(HEADER)
        chunk = b"a" * (1 << 20)
        for _ in range(200):
            fh.write(chunk)
    assert p.stat().st_size < 1 << 20
    store = _store(tmp_path)
    with pytest.raises(SourceError, match="line 2 of the decompressed gzip stream is longer than 64 MiB"):
        store.ingest(p, format="azure_llm", name="t")
    _nothing_written(store)


def test_line_meter_measures_lines_across_chunk_edges() -> None:
    meter = files.LineMeter("x", 10)
    for chunk in (b"12345", b"67890\n1", b"234567890\n"):  # two lines of exactly 10 bytes
        meter.feed(chunk)
    assert meter.lines == 2
    with pytest.raises(SourceError, match="line 3 is longer than"):
        for chunk in (b"12345678", b"901"):
            meter.feed(chunk)


# ------------------------------------------------------------------ reject limits

def _bad_rows(tmp_path: Path, bad: int, good: int, name: str = "t.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(HEADER + GOOD * good + b"2023-11-16 18:17:04,x,1\n" * bad)
    return p


def test_a_file_mostly_rejected_stops_the_ingest(tmp_path: Path) -> None:
    p = _bad_rows(tmp_path, bad=MIN_LINES_FOR_SHARE + 10, good=20)
    store = _store(tmp_path)
    with pytest.raises(DataError, match=r"1,010 of 1,030 rows rejected \(98%; first reason at line 22: "
                                         r"ContextTokens: not an integer\).*--max-reject-share \(now 0.5\)"):
        store.ingest(p, format="azure_llm", name="t")
    _nothing_written(store)
    m = store.ingest(p, format="azure_llm", name="t", max_reject_share=None).manifest
    assert (m["tables"]["requests"]["rows_ok"], m["rejects"]["rows"]) == (20, 1010)


def test_a_few_bad_rows_in_a_short_file_are_rejects_not_an_error(tmp_path: Path) -> None:
    p = _bad_rows(tmp_path, bad=MIN_LINES_FOR_SHARE - 1, good=1)
    m = _store(tmp_path).ingest(p, format="azure_llm", name="t").manifest
    assert m["rejects"]["rows"] == MIN_LINES_FOR_SHARE - 1
    assert MAX_REJECT_SHARE == 0.5


def test_the_reject_count_limit_bounds_what_is_written(tmp_path: Path) -> None:
    a = _bad_rows(tmp_path, bad=30, good=100, name="a.csv")
    b = _bad_rows(tmp_path, bad=30, good=100, name="b.csv")
    store = _store(tmp_path)
    with pytest.raises(DataError, match=r"b.csv: more than 50 rows rejected .*--max-rejects \(now 50\)"):
        store.ingest([a, b], format="azure_llm", name="t", max_rejects=50)
    _nothing_written(store)
    m = store.ingest([a, b], format="azure_llm", name="t", max_rejects=60).manifest
    assert m["rejects"]["rows"] == 60


def test_reject_limits_on_the_command_line(tmp_path: Path) -> None:
    p = _bad_rows(tmp_path, bad=20, good=5)
    home = str(tmp_path / "c")
    r = CliRunner().invoke(app, ["ingest", str(p), "-f", "azure_llm", "--home", home, "--max-rejects", "10", "--json"])
    assert r.exit_code == 1
    assert "more than 10 rows rejected" in json.loads(r.stdout)["error"]
    r = CliRunner().invoke(app, ["ingest", str(p), "-f", "azure_llm", "--home", home, "--max-rejects", "0", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["manifest"]["rejects"]["rows"] == 20
    r = CliRunner().invoke(app, ["ingest", str(p), "--home", home, "--max-reject-share", "2", "--json"])
    assert r.exit_code == 2


@pytest.mark.parametrize(("count", "share"), [(-1, 0.5), (1.5, 0.5), (True, 0.5), (10, -0.1), (10, 1.5), (10, "x")])
def test_bad_reject_limits_are_usage_errors(tmp_path: Path, count, share) -> None:
    p = _bad_rows(tmp_path, bad=1, good=5)
    with pytest.raises(workscope.UsageError, match="max_reject"):
        _store(tmp_path).ingest(p, format="azure_llm", name="t", max_rejects=count, max_reject_share=share)


# ------------------------------------------------------------------ not a text file

def _tar_gz(tmp_path: Path) -> Path:
    p = tmp_path / "trace.tar.gz"
    with tarfile.open(p, "w:gz") as tf:
        data = HEADER + GOOD
        info = tarfile.TarInfo("conv.csv")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return p


@pytest.mark.parametrize(("make", "what"), [
    (_tar_gz, "is a gzip file holding a tar archive, not a text trace file; unpack it"),
    (lambda d: _write(d / "t.csv", (HEADER + GOOD).decode().encode("utf-16")), "is UTF-16 text"),
    (lambda d: _write(d / "t.csv", (HEADER + GOOD).decode().encode("utf-16-le")), "is UTF-16 text"),
    (lambda d: _write(d / "t.csv.zst", b"\x28\xb5\x2f\xfd" + b"\x00" * 40), "is a zstd-compressed file"),
    (lambda d: _write(d / "t.csv.bz2", b"BZh91AY&SY" + b"\x01" * 40), "is a bzip2-compressed file"),
    (lambda d: _write(d / "t.csv", b"PAR1" + b"\x00" * 40), "is a Parquet file"),
    (lambda d: _write(d / "t.csv", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40), "is a PNG image"),
    (lambda d: _write(d / "t.csv", HEADER + b"\x00\x01\x02\xff" * 100), "is binary data (NUL bytes)"),
    (lambda d: _write(d / "t.csv.gz", gzip.compress(HEADER + b"\x00\xff" * 300)), "gzip file holding binary data"),
])
def test_a_file_that_is_not_text_is_named_for_what_it_is(tmp_path: Path, make, what: str) -> None:
    p = make(tmp_path)
    store = _store(tmp_path)
    with pytest.raises(SourceError) as info:
        store.ingest(p, format="azure_llm", name="t")
    msg = str(info.value)
    assert what in msg and p.name in msg
    assert len(msg) < 400
    _nothing_written(store)
    r = CliRunner().invoke(app, ["ingest", str(p), "-f", "azure_llm", "--home", str(tmp_path / "c")])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert r.output.count("\n") == 1 and what in " ".join(r.output.split())


def _write(p: Path, data: bytes) -> Path:
    p.write_bytes(data)
    return p


def test_a_header_without_newlines_gives_a_short_message(tmp_path: Path) -> None:
    p = _write(tmp_path / "t.csv", b"x" * (2 << 20))
    with pytest.raises(workscope.WorkscopeError) as info:
        _store(tmp_path).ingest(p, format="azure_llm", name="t")
    assert len(str(info.value)) < 600


# ------------------------------------------------------------------ what a reader skipped

def test_files_a_reader_does_not_read_are_listed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    d = tmp_path / "mixed"
    d.mkdir()
    _write(d / "conv.csv", HEADER + GOOD)
    _write(d / "jobs.swf", b"; UnixStartTime: 0\n1 0 0 10 1 -1 -1 1 -1 -1 1 1 1 1 1 -1 -1 -1\n")
    _write(d / "notes.json", b"{}")
    with caplog.at_level(logging.WARNING):
        m = _store(tmp_path).ingest(d, format="azure_llm", name="t").manifest
    assert m["meta"]["skipped_files"] == [str(d / "jobs.swf"), str(d / "notes.json")]
    assert "skipped 2" in caplog.text and "jobs.swf" in caplog.text
    assert m["tables"]["requests"]["rows_ok"] == 1


# ------------------------------------------------------------------ rejects keep the line

@pytest.mark.parametrize("packed", [False, True])
def test_rejects_keep_the_source_line_as_written(tmp_path: Path, packed: bool) -> None:
    body = (HEADER + GOOD + b'"2023-11-16 18:17:04","1,2",6\n' + b"2023-11-16 18:17:05,\xff\xfe,6\n"
            + b"2023-11-16 18:17:05,1,2,3,4\n" + b"  2023-11-16 18:17:06 ,x,7\r\n")
    p = _write(tmp_path / ("t.csv.gz" if packed else "t.csv"), gzip.compress(body) if packed else body)
    store = _store(tmp_path)
    store.ingest(p, format="azure_llm", name="t")
    rej = store.trace("t").rejects().collect().sort("line")
    assert rej["line"].to_list() == [3, 4, 5, 6]
    assert rej["raw"].to_list() == ['"2023-11-16 18:17:04","1,2",6', "2023-11-16 18:17:05,\\xff\\xfe,6",
                                    "2023-11-16 18:17:05,1,2,3,4", "  2023-11-16 18:17:06 ,x,7"]


def test_a_rebuilt_row_is_never_replaced_by_a_line_it_does_not_match(tmp_path: Path) -> None:
    import polars as pl

    from workscope.ingest.pipeline import exact_raw

    src = _write(tmp_path / "s.csv", b"a,b\nzzz\n1,2\n")
    rej = tmp_path / "r.parquet"
    pl.DataFrame({"table": ["x", "x"], "file": [str(src), str(src)], "line": [2, 3], "raw": ["9,9", "1,2"],
                  "reason": ["r", "r"]}).write_parquet(rej)
    assert exact_raw(rej) == 0
    assert pl.read_parquet(rej)["raw"].to_list() == ["9,9", "1,2"]
