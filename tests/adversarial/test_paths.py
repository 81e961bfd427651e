"""Paths with glob characters are paths, never patterns (issue 14, class 4).

A store at ``.../st*re`` beside a store at ``.../store`` once read both; a store at
``.../data [v1]`` crashed every ingest (or read ``.../data v``). Every read here names its
files explicitly or escapes the path.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import workscope
from tests.conftest import SAMPLES
from workscope.cli import app
from workscope.pathglob import glob_escape

CONV = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv"
CODE = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv"
CONV_ROWS, CODE_ROWS = 19366, 8819


@pytest.mark.parametrize("home_name", ["st*re", "data [v1]", "wh?t", "a[b]c*", "st[*]re"])
def test_store_path_with_glob_characters_reads_only_its_own_files(tmp_path: Path, home_name: str) -> None:
    # Decoys that the unescaped pattern would match: 'store', 'data v', 'what', 'abc...'.
    for decoy in ("store", "data v", "data 1", "what", "abcd", "st*re" if home_name != "st*re" else "sture"):
        workscope.open(tmp_path / decoy).ingest(CONV, format="azure_llm", name="t")
    home = tmp_path / home_name
    shutil.rmtree(home, ignore_errors=True)
    store = workscope.open(home)
    res = store.ingest(CODE, format="azure_llm", name="t")
    assert res.manifest["tables"]["requests"]["rows_ok"] == CODE_ROWS
    trace = store.trace("t")
    assert trace.scan("requests").collect().height == CODE_ROWS
    assert trace.sql("SELECT count(*) AS n FROM requests")["n"][0] == CODE_ROWS
    assert trace.rejects().collect().height == 0
    r = CliRunner().invoke(app, ["sql", "SELECT count(*) AS n FROM t.requests", "--home", str(home), "--json"])
    assert r.exit_code == 0, r.output
    assert '"n": 8819' in r.stdout


@pytest.mark.parametrize("src_name", ["conv*.csv", "conv[1].csv", "conv?.csv"])
def test_source_path_with_glob_characters_is_read_as_named(tmp_path: Path, src_name: str) -> None:
    shutil.copy(CODE, tmp_path / "convX.csv")   # what the pattern would also match
    shutil.copy(CODE, tmp_path / "conv1.csv")
    shutil.copy(CONV, tmp_path / src_name)
    res = workscope.open(tmp_path / "s").ingest(tmp_path / src_name, format="azure_llm", name="t")
    assert res.manifest["tables"]["requests"]["rows_ok"] == CONV_ROWS
    assert workscope.scan(tmp_path / src_name, format="azure_llm")["requests"].collect().height == CONV_ROWS


def test_glob_escape_matches_only_itself() -> None:
    assert glob_escape("a/st*re/data [v1]/x?.parquet") == "a/st[*]re/data [[]v1]/x[?].parquet"
    assert glob_escape("plain/path") == "plain/path"
