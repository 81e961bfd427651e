"""DuckDB engine: views over Parquet, schemas per trace, quoting, errors."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import workscope
from tests.conftest import SAMPLES
from workscope.engine import DuckDBEngine, Engine, quote_ident, quote_literal
from workscope.errors import QueryError

CODE = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv"


def test_register_parquet_and_query(tmp_path: Path) -> None:
    f = tmp_path / "it's.parquet"
    pl.DataFrame({"a": [1, 2, 3]}).write_parquet(f)
    eng = DuckDBEngine()
    assert isinstance(eng, Engine)
    eng.register('we"ird', str(f), schema="s")
    assert eng.sql_polars('SELECT sum(a) AS s FROM s."we""ird"')["s"].to_list() == [6]
    assert eng.sql('SELECT a FROM s."we""ird" ORDER BY a').column("a").to_pylist() == [1, 2, 3]


def test_quote_helpers() -> None:
    assert quote_ident('a"b') == '"a""b"'
    assert quote_literal("it's") == "'it''s'"


def test_store_registration_and_errors(store: workscope.Store) -> None:
    store.ingest(CODE, format="azure_llm", name="code")
    eng = DuckDBEngine(threads=1)
    eng.register_store(store, default="code")
    a = eng.sql_polars("SELECT count(*) AS n FROM code.requests")["n"][0]
    b = eng.sql_polars("SELECT count(*) AS n FROM requests")["n"][0]
    assert a == b == 8819
    assert eng.sql_polars("SELECT count(*) AS n FROM code.rejects")["n"][0] == 0
    with pytest.raises(QueryError, match="query failed"):
        eng.sql("SELECT * FROM code.nope")


def test_query_binds_parameters_and_runs_single_threaded_on_request() -> None:
    eng = DuckDBEngine(threads=2)
    eng.register_frame("t", pl.DataFrame({"a": [1, 2, 3]}))
    assert eng.query("SELECT sum(a) AS s FROM t WHERE a > $lo", {"lo": 1}).column("s").to_pylist() == [5]
    threads = "SELECT current_setting('threads') AS n"
    assert eng.query(threads, single_threaded=True).column("n").to_pylist() == [1]
    assert eng.query(threads).column("n").to_pylist() == [2]  # restored afterwards
    with pytest.raises(QueryError, match="^analysis query x failed: "):
        eng.query("SELECT * FROM nope", single_threaded=True, label="analysis query x")
    assert eng.query(threads).column("n").to_pylist() == [2]  # restored after a failure too
