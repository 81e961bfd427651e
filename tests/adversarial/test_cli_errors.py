"""One clear line instead of a traceback (issue 14, class 10), at the level of the whole CLI:
the option parser's own usage errors give one JSON document under ``--json``; a full disk
says so (not "check the delimiter"); ``--out`` at a directory or an unwritable place is one
line; and an exception nobody expected is still one line, marked as a bug."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import workscope
from tests.conftest import SAMPLES
from workscope.atomic import atomic_path, write_atomic
from workscope.cli import app
from workscope.errors import OutputPathError, WriteError, is_disk_full, write_error

CODE = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    h = tmp_path_factory.mktemp("cli") / "store"
    workscope.open(h).ingest(CODE, format="azure_llm", name="code")
    return h


def _run(args: list[str]) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, args)
    return r.exit_code, r.stdout, r.stderr


@pytest.mark.parametrize("args", [
    ["ingest", "--json"],                                   # missing argument
    ["ingest", "x.csv", "--json", "--bogus"],               # unknown option
    ["sql", "--json"],
    ["sql", "select 1", "--limit", "many", "--json"],       # bad type
    ["ls", "--json", "--home"],                             # option without its value
    ["predict", "train", "--epochs", "abc", "--json"],
    ["replay", "export", "code", "--json"],                 # missing --to
    ["characterize", "--json", "--only"],
    ["ingest", "x.csv", "--max-reject-share", "7", "--json"],
])
def test_usage_errors_of_the_option_parser_are_one_json_document(args: list[str]) -> None:
    code, out, err = _run(args)
    assert code == 2
    doc = json.loads(out)
    assert doc["type"] == "UsageError" and doc["exit_code"] == 2 and doc["error"]
    assert "Traceback" not in out + err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_without_json_the_parser_keeps_its_usage_text() -> None:
    code, out, err = _run(["ingest"])
    assert code == 2 and out == "" and "Missing argument" in err and "Usage" in err


@pytest.mark.parametrize("as_json", [False, True])
def test_out_at_a_directory_is_a_usage_error(home: Path, tmp_path: Path, as_json: bool) -> None:
    d = tmp_path / "a-dir"
    d.mkdir()
    code, out, err = _run(["sql", "select * from code.requests", "--out", str(d), "--home", str(home),
                           *(["--json"] if as_json else [])])
    assert code == 2, (out, err)
    assert "a-dir is a directory; give the path of the file to write" in err and err.count("\n") == 1
    if as_json:
        assert json.loads(out)["type"] == "OutputPathError"
    assert list(d.iterdir()) == []


def test_atomic_writes_refuse_a_directory_and_leave_nothing(tmp_path: Path) -> None:
    with pytest.raises(OutputPathError, match="is a directory"):
        write_atomic(tmp_path, "x")
    assert list(tmp_path.iterdir()) == []


def test_a_refused_write_is_one_line_naming_the_path(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user the permissions do not stop (root)")
        with pytest.raises(WriteError, match="ro/x.json: cannot write: permission denied"):
            write_atomic(ro / "x.json", "{}")
    finally:
        ro.chmod(0o700)
    with pytest.raises(WriteError, match="a part of the path is a file"):
        (tmp_path / "file").write_text("")
        write_atomic(tmp_path / "file" / "x.json", "{}")


@pytest.mark.parametrize("exc", [
    OSError(errno.ENOSPC, "No space left on device"),
    OSError(errno.EDQUOT, "Disk quota exceeded"),
    RuntimeError("parquet: File out of specification: underlying IO error: No space left on device (os error 28)"),
    RuntimeError('IO Error: {"exception_type":"IO","errno":"28"}'),
])
def test_disk_full_is_recognised_in_every_form_the_engines_give(exc: BaseException) -> None:
    assert is_disk_full(exc)
    assert "the disk is full" in str(write_error(exc, "out.parquet"))


def test_a_full_disk_during_an_atomic_write_says_so_and_keeps_the_old_file(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "m.json"
    target.write_text("old")

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(WriteError, match="m.json: the disk is full"):
        with atomic_path(target) as tmp:
            monkeypatch.setattr(os, "replace", full)
            tmp.write_text("new")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    """A 300 KB tmpfs: a real full disk (needs the right to mount; skipped elsewhere)."""
    d = tmp_path_factory.mktemp("tiny")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(d)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here; the monkeypatched tests cover the paths")
    yield d
    subprocess.run(["umount", str(d)], capture_output=True)


@pytest.mark.parametrize("args", [
    lambda t, h: ["ingest", str(SAMPLES / "azure_llm_2023"), "--home", str(t / "store"), "-q"],
    lambda t, h: ["sql", "select * from code.requests", "--home", str(h), "--out", str(t / "x.parquet")],
    lambda t, h: ["replay", "export", "code", "--to", "vidur", "--home", str(h), "--out", str(t / "v.csv")],
    lambda t, h: ["report", "code", "--home", str(h), "--out", str(t / "report")],
])
def test_every_writer_on_a_full_disk_says_the_disk_is_full(tiny: Path, home: Path, args) -> None:
    for p in tiny.iterdir():
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    filler = tiny / "filler"
    with open(filler, "wb") as fh:  # leave ~24 KB: enough to start, too little to finish
        fh.write(b"\0" * (276 << 10))
    for as_json in (False, True):
        argv = args(tiny, home) + (["--json"] if as_json else [])
        r = subprocess.run([sys.executable, "-m", "workscope", *argv], capture_output=True, text=True, timeout=300)
        assert r.returncode == 1, (r.stdout[-500:], r.stderr[-2000:])
        assert "Traceback" not in r.stderr
        assert "the disk is full" in r.stderr and "delimiter" not in r.stderr
        if as_json:
            assert "the disk is full" in json.loads(r.stdout)["error"]
    left = sorted(p.name for p in tiny.rglob("*") if p.is_file() and p.name != "filler" and not p.name.startswith("."))
    assert left == [], left


def test_an_unexpected_exception_is_one_line_marked_as_a_bug(home: Path, monkeypatch) -> None:
    from workscope import store

    def boom(self):  # a bug deep in the library
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(store.Store, "catalog", boom)
    for as_json in (False, True):
        code, out, err = _run(["ls", "--home", str(home), *(["--json"] if as_json else [])])
        assert code == 1
        assert "Traceback" not in out + err
        assert err.count("\n") == 1
        assert "unexpected ZeroDivisionError: division by zero; this is a bug in workscope" in err
        if as_json:
            assert json.loads(out)["type"] == "InternalError"


@pytest.mark.parametrize(("fmt", "option"), [("philly", "time_zone=America/Los_Angeles\nx"),
                                             ("mapped", "mapping=m.toml\u2028"),
                                             ("alibaba_genai", "missing_entity=\x1b[31m"),
                                             ("alibaba_openb", "trace_end_s=inf"),
                                             ("planetlab", "interval_s=nan")])
def test_reader_options_with_control_characters_are_refused(tmp_path: Path, fmt: str, option: str) -> None:
    code, out, err = _run(["ingest", str(CODE), "-f", fmt, "-o", option, "--home", str(tmp_path), "--json"])
    assert code == 2
    doc = json.loads(out)
    assert doc["type"] == "OptionError"
    assert "control character" in doc["error"] or "must be a finite number" in doc["error"]
