"""A source that changes during ingest (issue 14, class 6) once left a manifest whose sha256
described the grown file while the trace held the old rows; re-ingesting then said
"unchanged" and the new rows were lost for good. Now the ingest fails, writes nothing, and
the next ingest of the complete file reads every row."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import workscope
from tests.conftest import SAMPLES
from workscope.errors import SourceError

CONV = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv"
CONV_ROWS = 19366


@pytest.mark.parametrize("when", ["scanning", "requests", "counting"])
def test_a_source_growing_during_ingest_fails_and_writes_nothing(tmp_path: Path, when: str) -> None:
    src = tmp_path / "conv.csv"
    shutil.copy(CONV, src)
    ends_line = CONV.read_bytes().endswith(b"\n")
    extra = ("" if ends_line else "\r\n") + "2023-11-16 19:17:03.9799600,10,10\r\n"

    def grow(msg: str, done: int, total: int) -> None:
        if msg.startswith(when) and src.stat().st_size == CONV.stat().st_size:
            with open(src, "a", encoding="utf-8") as fh:
                fh.write(extra)

    store = workscope.open(tmp_path / "s")
    with pytest.raises(SourceError, match="changed while it was being ingested"):
        store.ingest(src, format="azure_llm", name="t", progress=grow)
    assert store.names() == [] and not list((tmp_path / "s" / ".staging").iterdir())
    m = store.ingest(src, format="azure_llm", name="t").manifest
    assert m["tables"]["requests"]["rows_ok"] == CONV_ROWS + 1
    assert m["sources"][0]["bytes"] == src.stat().st_size


def test_a_source_rewritten_with_the_same_size_is_caught_by_its_time(tmp_path: Path) -> None:
    src = tmp_path / "conv.csv"
    shutil.copy(CONV, src)

    def touch(msg: str, done: int, total: int) -> None:
        if msg == "counting":
            st = src.stat()
            import os

            os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))

    with pytest.raises(SourceError, match="changed while"):
        workscope.open(tmp_path / "s").ingest(src, format="azure_llm", name="t", progress=touch)
