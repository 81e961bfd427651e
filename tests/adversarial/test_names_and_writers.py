"""Trace names the engine cannot tell apart, and two writers of one name (issue 14, classes 2-3).

A trace called ``system`` or ``main`` shadowed DuckDB's own schemas and broke every query over
the store; ``Conv`` beside ``conv`` resolved to one of them; ``abc\\n`` passed the name check.
Two ``ingest --name same`` at once both exited 0 and one trace silently replaced the other:
the existence check was outside the lock.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import workscope
from tests.conftest import SAMPLES
from workscope.cli import app
from workscope.errors import InvalidNameError, TraceExistsError
from workscope.store import RESERVED_NAMES, check_name

CONV = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv"
CODE = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv"


@pytest.mark.parametrize("name", ["abc\n", "abc\r", "\nabc", "a b", "a-b", "1abc", "", "x" * 65, "ab\x00"])
def test_malformed_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidNameError):
        check_name(name)


@pytest.mark.parametrize("name", sorted(RESERVED_NAMES) + ["MAIN", "System", "Information_Schema"])
def test_engine_schema_names_are_reserved(tmp_path: Path, name: str) -> None:
    r = CliRunner().invoke(app, ["ingest", str(CONV), "--name", name, "--home", str(tmp_path), "--json"])
    assert r.exit_code == 2
    doc = json.loads(r.stdout)
    assert doc["type"] == "InvalidNameError" and "reserved" in doc["error"]
    assert not (tmp_path / "traces" / name).exists()


def test_names_differing_only_in_case_cannot_coexist(tmp_path: Path) -> None:
    store = workscope.open(tmp_path / "s")
    store.ingest(CONV, format="azure_llm", name="conv")
    for other in ("Conv", "CONV", "cOnV"):
        with pytest.raises(InvalidNameError, match="differs only in case"):
            store.ingest(CODE, format="azure_llm", name=other)
    assert store.names() == ["conv"]
    assert store.trace("conv").sql("SELECT count(*) AS n FROM requests")["n"][0] == 19366


def test_existing_name_without_force_is_refused_and_kept(tmp_path: Path) -> None:
    store = workscope.open(tmp_path / "s")
    store.ingest(CONV, format="azure_llm", name="t")
    with pytest.raises(TraceExistsError):
        store.ingest(CODE, format="azure_llm", name="t")
    assert store.trace("t").manifest["tables"]["requests"]["rows_ok"] == 19366
    assert store.ingest(CONV, format="azure_llm", name="t").status == "unchanged"


def _ingest_process(home: Path, src: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "workscope", "ingest", str(src), "--format", "azure_llm",
                             "--name", "same", "--home", str(home), "--json", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("round_", range(3))
def test_two_writers_of_one_new_name_never_both_win(tmp_path: Path, round_: int) -> None:
    """Real concurrent processes: one creates the trace, the other is refused; the store
    holds exactly the winner's rows."""
    home = tmp_path / "s"
    procs = {CONV: _ingest_process(home, CONV), CODE: _ingest_process(home, CODE)}
    done = {src: (p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for src, p in procs.items()}
    codes = sorted(rc for rc, _, _ in done.values())
    assert codes == [0, 2], done
    (winner,) = [src for src, (rc, _, _) in done.items() if rc == 0]
    (loser,) = [src for src, (rc, _, _) in done.items() if rc == 2]
    assert json.loads(done[winner][1])["status"] == "created"
    assert json.loads(done[loser][1])["type"] == "TraceExistsError"
    rows = workscope.open(home).trace("same").scan("requests").collect().height
    assert rows == {CONV: 19366, CODE: 8819}[winner]
    assert not list((home / ".staging").iterdir())


def test_two_writers_of_the_same_sources_both_succeed(tmp_path: Path) -> None:
    home = tmp_path / "s"
    procs = [_ingest_process(home, CONV), _ingest_process(home, CONV)]
    outs = [(p.wait(timeout=300), p.stdout.read()) for p in procs]
    assert [rc for rc, _ in outs] == [0, 0], outs
    assert sorted(json.loads(o)["status"] for _, o in outs) == ["created", "unchanged"]
    assert workscope.open(home).trace("same").scan("requests").collect().height == 19366
