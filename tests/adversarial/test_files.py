"""Files that workscope writes (issue 14, class 11): the user's umask decides their mode (the
manifest was 0600 beside 0644 Parquet files), and a killed writer's temporary file is removed
by the next write to the same target, while a live writer's is left alone."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import workscope
from tests.conftest import SAMPLES
from workscope.atomic import write_atomic

CONV = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv"


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_written_files_follow_the_umask(tmp_path: Path, umask: None, mask: int) -> None:
    os.umask(mask)
    target = write_atomic(tmp_path / "x.json", "{}")
    assert _mode(target) == 0o666 & ~mask


def test_manifest_and_parquet_files_share_one_mode(tmp_path: Path, umask: None) -> None:
    workscope.open(tmp_path / "s").ingest(CONV, format="azure_llm", name="t")
    trace_dir = tmp_path / "s" / "traces" / "t"
    modes = {p.name: _mode(p) for p in trace_dir.rglob("*") if p.is_file()}
    assert set(modes.values()) == {0o644}, modes


def test_a_killed_writers_temp_file_is_removed_by_the_next_write(tmp_path: Path) -> None:
    stale = tmp_path / ".report.html.k2j3h4.tmp"
    stale.write_text("")  # what SIGKILL between create and rename leaves
    other = tmp_path / ".other.html.k2j3h4.tmp"
    other.write_text("")  # another target's: not ours to judge
    write_atomic(tmp_path / "report.html", "<html/>")
    assert not stale.exists() and other.exists()
    assert (tmp_path / "report.html").read_text() == "<html/>"


def test_a_live_writers_temp_file_is_kept(tmp_path: Path) -> None:
    live = tmp_path / ".report.html.live.tmp"
    live.write_text("")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys, time\n"
         f"fd = os.open({str(live)!r}, os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_EX)\n"
         "print('held', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        write_atomic(tmp_path / "report.html", "<html/>")
        assert live.exists()
    finally:
        holder.kill()
        holder.wait()
    write_atomic(tmp_path / "report.html", "<html/>")
    assert not live.exists()
