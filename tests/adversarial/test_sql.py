"""What `workscope sql` may do, and results of every type (issue 14, hardening).

`workscope sql` runs the user's SQL with DuckDB's full powers (COPY, ATTACH, read_csv of any
file, INSTALL); `--read-only` takes them away and leaves SELECTs over the traces. Results with
INTERVAL, UNION, STRUCT, LIST or MAP columns used to end in a polars traceback under `--csv`
(and INTERVAL and UNION under every output).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import workscope
from tests.conftest import SAMPLES
from workscope.cli import app
from workscope.engine import DuckDBEngine
from workscope.errors import QueryError

CODE = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("sql") / "st*re [v1]"  # glob characters in the store's path too
    workscope.open(home).ingest(CODE, format="azure_llm", name="code")
    return home


@pytest.fixture
def home(pristine: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "st*re [v1]"
    shutil.copytree(pristine, dst, symlinks=True)
    return dst


def sql(home: Path, query: str, *flags: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, ["sql", query, "--home", str(home), *flags])
    return r.exit_code, r.stdout, r.stderr


def _attacks(tmp_path: Path) -> dict[str, tuple[str, Path | None]]:
    """SQL that reaches outside the store, and the file it would create."""
    return {
        "copy to": (f"COPY (SELECT 1 AS x) TO '{tmp_path / 'leak.csv'}'", tmp_path / "leak.csv"),
        "copy parquet no tmp": ((f"COPY (SELECT 1 AS x) TO '{tmp_path / 'leak.parquet'}' "
                                 "(FORMAT parquet, USE_TMP_FILE false)"), tmp_path / "leak.parquet"),
        "read_csv passwd": ("SELECT * FROM read_csv('/etc/passwd')", None),
        "read_text passwd": ("SELECT * FROM read_text('/etc/passwd')", None),
        "attach": (f"ATTACH '{tmp_path / 'other.duckdb'}' AS other", tmp_path / "other.duckdb"),
        "install": ("INSTALL httpfs", None),
        "load": ("LOAD httpfs", None),
        "export": (f"EXPORT DATABASE '{tmp_path / 'dump'}'", tmp_path / "dump"),
        "re-enable": ("SET enable_external_access = true", None),
        "select then copy": (f"SELECT 1; COPY (SELECT 1) TO '{tmp_path / 'second.csv'}'", tmp_path / "second.csv"),
    }


ATTACKS = ["copy to", "copy parquet no tmp", "read_csv passwd", "read_text passwd", "attach", "install", "load",
           "export", "re-enable", "select then copy"]


@pytest.mark.parametrize("attack", ATTACKS)
def test_read_only_refuses_file_access_with_one_clear_line(home: Path, tmp_path: Path, attack: str) -> None:
    query, created = _attacks(tmp_path)[attack]
    code, out, err = sql(home, query, "--read-only")
    assert code == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert "read-only" in err or "disabled by configuration" in err
    code, out, _ = sql(home, query, "--read-only", "--json")
    assert code == 1 and json.loads(out)["type"] == "QueryError"
    assert created is None or not created.exists()


@pytest.mark.parametrize("attack", ["copy to", "read_csv passwd"])
def test_without_read_only_sql_has_duckdbs_full_powers(home: Path, tmp_path: Path, attack: str) -> None:
    """What the README warns about: plain `workscope sql` writes and reads any file."""
    query, created = _attacks(tmp_path)[attack]
    code, _, err = sql(home, query, "--json")
    assert code == 0, err
    assert created is None or created.is_file()


@pytest.mark.parametrize("flags", [(), ("--csv",), ("--json",)])
def test_read_only_still_selects_from_the_traces(home: Path, flags: tuple[str, ...]) -> None:
    code, out, err = sql(home, "SELECT count(*) AS n FROM code.requests", "--read-only", *flags)
    assert code == 0, err
    assert "8819" in out
    code, out, err = sql(home, "SELECT count(*) AS n FROM requests", "--read-only", "--trace", "code", "--json")
    assert code == 0 and json.loads(out)["rows"] == [{"n": 8819}]
    code, out, err = sql(home, "EXPLAIN SELECT count(*) FROM code.requests", "--read-only")
    assert code == 0, err


def test_read_only_still_writes_out(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "result.parquet"
    code, out, err = sql(home, "SELECT * FROM code.requests", "--read-only", "--out", str(target), "--json")
    assert code == 0, err
    assert json.loads(out)["rows"] == 8819
    assert pl.read_parquet(target).height == 8819


def test_read_only_engine_in_the_library(home: Path, tmp_path: Path) -> None:
    eng = DuckDBEngine()
    eng.register_store(workscope.open(home))
    eng.read_only()
    assert eng.sql_polars("SELECT count(*) AS n FROM code.requests")["n"][0] == 8819
    with pytest.raises(QueryError, match="only SELECT and EXPLAIN statements, not COPY"):
        eng.query(f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'")
    with pytest.raises(QueryError, match="disabled by configuration"):
        eng.query("SELECT * FROM read_csv('/etc/passwd')")
    with pytest.raises(QueryError, match="only SELECT and EXPLAIN"):
        eng.portable("ATTACH ':memory:' AS m2")
    assert not (tmp_path / "x.csv").exists()


TYPES = {
    "interval": ("INTERVAL 90 MINUTE", "01:30:00", "01:30:00"),
    "union": ("union_value(k := 7)", "7", "7"),
    "struct": ("{'a': 1, 'b': [2, 3]}", "{'a': 1, 'b': [2, 3]}", {"a": 1, "b": [2, 3]}),
    "list": ("[1, 2, 3]", "[1, 2, 3]", [1, 2, 3]),
    "map": ("MAP {'k': 2}", "{k=2}", {"k": 2}),
    "array": ("[1, 2]::INTEGER[2]", "[1, 2]", [1, 2]),
    "blob": ("'ab'::BLOB", "ab", "ab"),
}


@pytest.mark.parametrize("kind", list(TYPES))
def test_every_type_under_csv(home: Path, kind: str) -> None:
    expr, text, _ = TYPES[kind]
    code, out, err = sql(home, f"SELECT 1 AS n, {expr} AS v, NULL::INTEGER AS z", "--csv")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "n,v,z"
    assert lines[1].startswith("1,") and text in lines[1]
    assert "note: column 'v'" in err and "text" in err


@pytest.mark.parametrize("kind", list(TYPES))
def test_every_type_under_json(home: Path, kind: str) -> None:
    expr, _, value = TYPES[kind]
    code, out, err = sql(home, f"SELECT {expr} AS v UNION ALL SELECT NULL", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["rows"] == [{"v": value}, {"v": None}]
    assert "v" in doc["converted"]


@pytest.mark.parametrize("kind", list(TYPES))
def test_every_type_in_the_table_view(home: Path, kind: str) -> None:
    expr, text, _ = TYPES[kind]
    code, out, err = sql(home, f"SELECT {expr} AS v, count(*) AS n FROM code.requests")
    assert code == 0, err
    assert text.replace(" ", "") in out.replace(" ", "") and "8819" in out
    assert "note: column 'v'" in err


def test_plain_columns_are_not_converted(home: Path) -> None:
    code, out, err = sql(home, "SELECT 1 AS a, 'x' AS b, DATE '2024-01-02' AS d", "--json")
    assert code == 0 and "converted" not in json.loads(out) and "note" not in err
    table, notes = DuckDBEngine().portable("SELECT 1 AS a, 1 AS a")
    assert notes == {} and table.num_rows == 1


def test_duplicate_column_names_with_a_converted_type(home: Path) -> None:
    table, notes = DuckDBEngine().portable("SELECT INTERVAL 1 DAY AS a, [1] AS a")
    assert table.num_columns == 2 and table.column(0).to_pylist() == ["1 day"]
    assert table.column(1).to_pylist() == ["[1]"] and notes
