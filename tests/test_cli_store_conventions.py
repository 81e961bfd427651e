"""Conventions of the store commands: an empty `ls` names the store it looked in, and `rm` asks
at a terminal, needs --yes elsewhere (a script neither hangs nor deletes by accident)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import workscope
from tests.conftest import SAMPLES
from workscope.cli import app
from workscope.cli import store as cli_store

CODE = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv"
runner = CliRunner()


def _cli(*args: str, input: str | None = None) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args), input=input)
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "store"
    workscope.open(h).ingest(CODE, format="azure_llm", name="code")
    return h


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone at a terminal on stdin (CliRunner's stdin is never one)."""
    monkeypatch.setattr(cli_store, "_stdin_is_terminal", lambda: True)


# ---------------------------------------------------------------- ls

def test_ls_of_a_missing_store_names_it(tmp_path: Path) -> None:
    home = tmp_path / "nowhere"
    code, out, _ = _cli("ls", "--home", str(home))
    assert code == 0
    line = " ".join(out.split())
    assert f"no traces in {home.absolute()}, which does not exist (from --home)" in line
    assert not home.exists()  # listing never creates the store


def test_ls_of_an_empty_store_names_it_and_json_stays_one_document(tmp_path: Path) -> None:
    home = tmp_path / "empty"
    home.mkdir()
    code, out, _ = _cli("ls", "--home", str(home))
    assert code == 0 and f"no traces in {home.absolute()} (from --home)" in " ".join(out.split())
    code, out, err = _cli("ls", "--home", str(home), "--json")
    assert code == 0 and json.loads(out) == {"traces": []}
    assert str(home.absolute()) in " ".join(err.split())


def test_ls_says_where_the_home_came_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKSCOPE_HOME", str(tmp_path / "env"))
    code, out, _ = _cli("ls")
    assert code == 0 and f"no traces in {(tmp_path / 'env').absolute()}" in " ".join(out.split())
    assert "from WORKSCOPE_HOME" in out
    monkeypatch.delenv("WORKSCOPE_HOME")
    monkeypatch.chdir(tmp_path)
    code, out, _ = _cli("ls")
    line = " ".join(out.split())
    assert code == 0 and f"no traces in {tmp_path.absolute() / 'workscope-data'}" in line
    assert "set --home or WORKSCOPE_HOME" in line


def test_ls_of_a_store_with_traces_is_unchanged(home: Path) -> None:
    code, out, _ = _cli("ls", "--home", str(home), "--json")
    assert code == 0 and [t["name"] for t in json.loads(out)["traces"]] == ["code"]


# ---------------------------------------------------------------- rm

def test_rm_without_a_terminal_needs_yes(home: Path) -> None:
    code, out, err = _cli("rm", "code", "--home", str(home))
    assert code == 2 and "--yes" in err and "not a terminal" in err
    assert workscope.open(home).names() == ["code"]
    code, out, _ = _cli("rm", "code", "--home", str(home), "--json")
    assert code == 2
    doc = json.loads(out)
    assert doc["type"] == "UsageError" and doc["exit_code"] == 2 and "--yes" in doc["error"]
    assert workscope.open(home).names() == ["code"]


@pytest.mark.parametrize("flag", ["--yes", "-y"])
def test_rm_with_yes_removes(home: Path, flag: str) -> None:
    code, out, _ = _cli("rm", "code", flag, "--home", str(home), "--json")
    assert code == 0 and json.loads(out) == {"removed": "code"}
    assert workscope.open(home).names() == []


def test_rm_of_an_unknown_trace_fails_before_asking(home: Path, terminal: None) -> None:
    code, out, _ = _cli("rm", "cdoe", "--home", str(home), "--json")
    assert code == 2 and json.loads(out)["type"] == "TraceNotFoundError"
    assert "did you mean 'code'" in json.loads(out)["error"]


def test_rm_at_a_terminal_asks(home: Path, terminal: None) -> None:
    code, out, err = _cli("rm", "code", "--home", str(home), input="n\n")
    assert code == 1 and "remove trace 'code'" in err and "not removed" in err
    assert workscope.open(home).names() == ["code"]
    code, out, err = _cli("rm", "code", "--home", str(home), input="y\n")
    assert code == 0 and "removed code" in out
    assert workscope.open(home).names() == []


def test_rm_at_a_terminal_with_json_asks_on_stderr(home: Path, terminal: None) -> None:
    code, out, err = _cli("rm", "code", "--home", str(home), "--json", input="y\n")
    assert code == 0 and "remove trace 'code'" in err
    # CliRunner echoes the typed answer into stdout (a terminal echoes it on the screen):
    # the document is what follows it.
    assert json.loads(out[out.index("{"):]) == {"removed": "code"}
    assert "remove trace" not in out
