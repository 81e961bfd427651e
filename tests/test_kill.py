"""Killing an ingest at any moment leaves the store as it was; a rerun then succeeds."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

import workscope
from tests.conftest import SAMPLES

CONV = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv"
CODE = CONV.with_name("AzureLLMInferenceTrace_code.csv")


def snapshot(root: Path) -> dict[str, str]:
    """Every file under root with its sha256: the store's visible state."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real conv hour tiled 60 times (1.16M rows): long enough to be killed mid-way."""
    out = tmp_path_factory.mktemp("big") / "big.csv"
    text = CONV.read_bytes().split(b"\r\n", 1)[1]
    with open(out, "wb") as fh:
        fh.write(b"TIMESTAMP,ContextTokens,GeneratedTokens\r\n")
        for _ in range(60):
            fh.write(text.rstrip(b"\r\n") + b"\r\n")
    return out


def start_ingest(src: Path, home: Path, name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "workscope", "ingest", str(src), "--format", "azure_llm",
         "--name", name, "--force", "--home", str(home), "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def wait_for_staging(home: Path, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    staging = home / ".staging"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if staging.is_dir() and any(staging.iterdir()):
            return True
        time.sleep(0.005)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.3, 1.0])
def test_sigkill_mid_ingest_leaves_store_unchanged(tmp_path: Path, big_csv: Path, delay: float) -> None:
    home = tmp_path / "store"
    store = workscope.open(home)
    store.ingest(CODE, format="azure_llm", name="t")
    before = snapshot(home / "traces")

    killed_mid_way = 0
    rows = {"t": 8819}  # what each trace holds now: a completed ingest changes it
    for name in ("t", "fresh"):  # a forced replace of an existing trace, and a new trace
        proc = start_ingest(big_csv, home, name)
        started = wait_for_staging(home, proc)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        assert started
        reopened = workscope.open(home)
        assert not (home / ".staging").exists() or not any((home / ".staging").iterdir())
        # Atomic: the store holds either exactly what it held before, or the complete new trace.
        if snapshot(home / "traces") == before:
            killed_mid_way += 1
            assert reopened.names() == sorted(rows)
            for n, count in rows.items():
                assert reopened.trace(n).scan("requests").select(pl.len()).collect().item() == count
        else:
            assert proc.returncode in (0, -signal.SIGKILL)
            assert reopened.trace(name).manifest["tables"]["requests"]["rows_ok"] == 19366 * 60
            assert reopened.trace(name).scan("requests").select(pl.len()).collect().item() == 19366 * 60
            rows[name] = 19366 * 60
            before = snapshot(home / "traces")
    if delay == 0.0:
        assert killed_mid_way == 2, "a kill right after staging starts must interrupt the ingest"

    res = workscope.open(home).ingest(big_csv, format="azure_llm", name="t", force=True)
    assert res.status == "replaced"
    assert res.manifest["tables"]["requests"]["rows_ok"] == 19366 * 60
    assert pl.scan_parquet(workscope.open(home).trace("t").files("requests")).select(pl.len()).collect().item() == 19366 * 60
