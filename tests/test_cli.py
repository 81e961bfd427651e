"""The CLI: every command's --json output parses, exit codes are 0 / 1 / 2, errors are one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from tests.conftest import SAMPLES
from workscope.cli import app

CODE = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv"
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_ingest_ls_show_sql_rm_json(tmp_path: Path) -> None:
    home = str(tmp_path / "h")
    code, out, _ = run("ingest", str(CODE), "--format", "azure_llm", "--name", "code", "--home", home, "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["status"] == "created" and doc["manifest"]["tables"]["requests"]["rows_ok"] == 8819

    code, out, _ = run("ingest", str(CODE), "--format", "azure_llm", "--name", "code", "--home", home, "--json")
    assert json.loads(out)["status"] == "unchanged"

    code, out, _ = run("ls", "--home", home, "--json")
    assert code == 0 and [t["name"] for t in json.loads(out)["traces"]] == ["code"]

    code, out, _ = run("show", "code", "--home", home, "--json")
    assert code == 0 and json.loads(out)["reader"]["name"] == "azure_llm"

    code, out, _ = run("sql", "SELECT count(*) AS n, sum(input_tokens) AS s FROM code.requests",
                       "--home", home, "--json")
    assert code == 0
    expected = pl.read_csv(CODE)["ContextTokens"].sum()
    assert json.loads(out) == {"columns": ["n", "s"], "rows": [{"n": 8819, "s": expected}]}

    code, out, _ = run("sql", "SELECT input_tokens FROM requests LIMIT 2", "--trace", "code",
                       "--home", home, "--csv")
    assert code == 0 and out.splitlines() == ["input_tokens", "4808", "3180"]

    dest = tmp_path / "out" / "r.parquet"
    code, out, _ = run("sql", "SELECT * FROM code.requests", "--home", home, "--out", str(dest), "--json")
    assert code == 0 and json.loads(out)["rows"] == 8819 and pl.read_parquet(dest).height == 8819

    code, out, _ = run("rm", "code", "--home", home, "--json", "--yes")
    assert code == 0 and json.loads(out) == {"removed": "code"}
    code, out, _ = run("ls", "--home", home, "--json")
    assert json.loads(out) == {"traces": []}


def test_formats_json_lists_every_reader() -> None:
    from workscope.ingest import registry

    code, out, _ = run("formats", "--json")
    assert code == 0
    names = [f["name"] for f in json.loads(out)["formats"]]
    assert names == registry.names()


@pytest.mark.parametrize(
    ("args", "exit_code", "needle"),
    [
        (["show", "nope"], 2, "unknown trace 'nope'"),
        (["ingest", "missing.csv"], 1, "missing.csv: no such file"),
        (["ingest", str(CODE), "--format", "azure_lm"], 2, "did you mean 'azure_llm'"),
        (["ingest", str(CODE), "--option", "novalue"], 2, "KEY=VALUE"),
        (["sql", "SELECT * FROM nowhere"], 1, "query failed"),
        (["ingest", str(CODE), "--name", "bad name"], 2, "invalid trace name"),
    ],
)
def test_errors_exit_codes_and_json(tmp_path: Path, args: list[str], exit_code: int, needle: str) -> None:
    code, out, err = run(*args, "--home", str(tmp_path / "h"))
    assert code == exit_code
    assert needle in err and len(err.strip().splitlines()) == 1
    code, out, _ = run(*args, "--home", str(tmp_path / "h"), "--json")
    doc = json.loads(out)
    assert doc["exit_code"] == exit_code and needle in doc["error"]


def test_usage_error_from_click_is_exit_2() -> None:
    code, _, _ = run("ingest")
    assert code == 2


def test_console_script_error_has_no_traceback(tmp_path: Path) -> None:
    bad = Path(__file__).parent / "data" / "bad" / "azure_llm" / "truncated.csv.gz"
    p = subprocess.run([sys.executable, "-m", "workscope", "ingest", str(bad), "--format", "azure_llm",
                        "--home", str(tmp_path / "h")], check=False, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 1
    assert "Traceback" not in p.stderr and p.stdout == ""
    assert p.stderr.count("\n") == 1 and "truncated.csv.gz" in p.stderr and "truncated" in p.stderr
    assert not (tmp_path / "h" / "traces").exists() or not any((tmp_path / "h" / "traces").iterdir())


def test_package_entry_point_help_and_json() -> None:
    """pyproject's console script names the app, and `python -m workscope` runs it."""
    import importlib
    import tomllib

    pyproject = Path(__file__).parent.parent / "pyproject.toml"
    script = tomllib.loads(pyproject.read_text())["project"]["scripts"]
    module, _, attr = script["workscope"].partition(":")
    assert getattr(importlib.import_module(module), attr) is app

    p = subprocess.run([sys.executable, "-m", "workscope", "--help"], check=False, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0 and p.stderr == ""
    assert all(c in p.stdout for c in ("ingest", "sql", "characterize", "replay", "predict"))

    p = subprocess.run([sys.executable, "-m", "workscope", "tables", "--json"], check=False,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0
    from workscope.schemas import describe_tables

    assert json.loads(p.stdout) == {"tables": describe_tables()}


def test_predict_help_names_every_model() -> None:
    from workscope.predictors.names import ALL_MODELS, NEURAL_MODELS

    code, out, _ = run("predict", "eval", "--help")
    assert code == 0 and all(m in " ".join(out.split()) for m in ALL_MODELS)
    code, out, _ = run("predict", "train", "--help")
    assert code == 0 and all(m in out for m in NEURAL_MODELS)


def test_version_flag_answers_without_a_command() -> None:
    from workscope.version import __version__

    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout.strip() == f"workscope {__version__}"
