"""The contract every reader keeps, checked on every data folder through the store.

Each table written has exactly the canonical schema, reconciles (rows_in = ok + rejected),
and the manifest carries the provenance DESIGN.md requires.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import workscope
import workscope.ingest.registry
from tests.test_sniffing import CASES, DATA
from workscope.schemas import REJECTS_SCHEMA, TABLES

REQUIRED_MANIFEST = {"trace", "workscope_version", "schema_version", "reader", "options", "sources",
                     "origin_utc", "content_key", "created_utc", "meta", "tables", "rejects"}


@pytest.mark.parametrize(("rel", "fmt"), CASES + [("azure_functions_2019/fixture", "azure_functions_2019")],
                         ids=[c[0] for c in CASES] + ["azure_functions_2019/fixture"])
def test_reader_output_keeps_the_contract(tmp_path: Path, rel: str, fmt: str) -> None:
    store = workscope.open(tmp_path / "s")
    m = store.ingest(DATA / rel, name="t").manifest  # format detected, as a user would
    assert m["reader"]["name"] == fmt
    assert REQUIRED_MANIFEST <= set(m)
    assert all({"path", "bytes", "sha256"} <= set(s) for s in m["sources"])
    trace = store.trace("t")
    reader = workscope.ingest.registry.get(fmt)
    assert set(m["tables"]) <= set(reader.tables)
    for table, stats in m["tables"].items():
        assert stats["rows_in"] == stats["rows_ok"] + stats["rows_rejected"]
        lf = trace.scan(table)
        assert lf.collect_schema() == TABLES[table].polars_schema, table
        got = lf.collect()
        assert got.height == stats["rows_ok"]
        for col in TABLES[table].required:
            assert got[col].null_count() == 0, f"{table}.{col} has nulls"
    assert trace.rejects().collect_schema() == REJECTS_SCHEMA
    assert sum(t["rows_ok"] for t in m["tables"].values()) > 0
