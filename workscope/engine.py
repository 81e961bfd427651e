"""Query engines over the store. ``DuckDBEngine`` (embedded) is the default.

Tables are registered as views over Parquet globs, never by copying data, so a query reads
only the columns and row groups it needs. Analysis SQL is written against view names.
A trace registered with ``default=True`` also gets unqualified views (``requests``); every
trace is reachable as ``<trace>.<table>`` (a DuckDB schema per trace).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from workscope.atomic import atomic_path
from workscope.errors import QueryError

if TYPE_CHECKING:
    from workscope.store import Store, Trace


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (double quotes doubled inside)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """Quote an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


@runtime_checkable
class Engine(Protocol):
    """What analysis code needs from an engine."""

    def register(self, view: str, parquet_glob: str, schema: str | None = None) -> None:
        """Expose Parquet files as a view (optionally inside a schema)."""
        ...

    def sql(self, query: str) -> pa.Table:
        """Run a query and return an Arrow table."""
        ...

    def query(self, query: str, params: Mapping[str, Any] | None = None, *,
              single_threaded: bool = False, label: str = "query") -> pa.Table:
        """Run a query with bound ``$name`` parameters (optionally on one thread)."""
        ...

    def sql_polars(self, query: str) -> pl.DataFrame:
        """Run a query and return a polars DataFrame."""
        ...


class DuckDBEngine:
    """The embedded DuckDB engine (in memory; data stays in the Parquet files)."""

    def __init__(self, threads: int | None = None, memory_limit: str | None = None,
                 temp_directory: str | None = None) -> None:
        self.con = duckdb.connect(":memory:")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            self.con.execute(f"SET memory_limit = {quote_literal(memory_limit)}")
        if temp_directory:
            # where DuckDB spills sorts and aggregates that exceed memory_limit
            self.con.execute(f"SET temp_directory = {quote_literal(temp_directory)}")
        self.views: list[str] = []

    def register(self, view: str, parquet_glob: str, schema: str | None = None) -> None:
        """Create (or replace) a view over a Parquet glob."""
        target = quote_ident(view)
        if schema:
            self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
            target = f"{quote_ident(schema)}.{target}"
        self.con.execute(
            f"CREATE OR REPLACE VIEW {target} AS "
            f"SELECT * FROM read_parquet({quote_literal(parquet_glob)}, union_by_name = true)"
        )
        self.views.append(f"{schema}.{view}" if schema else view)

    def register_frame(self, view: str, frame: pa.Table | pl.DataFrame) -> None:
        """Expose an in-memory table as a view (no Parquet files: notebooks and tests)."""
        self.con.register(view, frame.to_arrow() if isinstance(frame, pl.DataFrame) else frame)
        self.views.append(view)

    def register_trace(self, trace: Trace, default: bool = False) -> None:
        """Register a trace's tables (and rejects) as ``<trace>.<table>``; unqualified too if default."""
        for table in [*trace.tables, "rejects"]:
            glob = trace.glob(table)
            self.register(table, glob, schema=trace.name)
            if default:
                self.register(table, glob)

    def register_store(self, store: Store, default: str | None = None) -> None:
        """Register every trace of a store; ``default`` also gets unqualified views."""
        for name in store.names():
            self.register_trace(store.trace(name), default=(name == default))

    def query(self, query: str, params: Mapping[str, Any] | None = None, *,
              single_threaded: bool = False, label: str = "query") -> pa.Table:
        """Run SQL with ``$name`` parameters bound by DuckDB and return an Arrow table.

        ``single_threaded`` runs it on one thread (then restores the setting): DuckDB draws a
        ``REPEATABLE(seed)`` sample reproducibly only on one thread. On failure, QueryError
        "<label> failed: <DuckDB's message>".
        """
        try:
            with self._one_thread() if single_threaded else nullcontext():
                rel = self.con.sql(query, params=dict(params) if params else None)
                return rel.to_arrow_table() if rel is not None else pa.table({})
        except duckdb.Error as exc:
            raise QueryError(f"{label} failed: {str(exc).strip()}") from None

    @contextmanager
    def _one_thread(self) -> Iterator[None]:
        threads = self.con.execute("SELECT current_setting('threads')").fetchone()[0]  # type: ignore[index]
        self.con.execute("SET threads = 1")
        try:
            yield
        finally:
            self.con.execute(f"SET threads = {int(threads)}")

    def sql(self, query: str) -> pa.Table:
        """Run SQL; QueryError with DuckDB's message on failure."""
        return self.query(query)

    def sql_polars(self, query: str) -> pl.DataFrame:
        """Run SQL and return a polars DataFrame."""
        out = pl.from_arrow(self.sql(query))
        assert isinstance(out, pl.DataFrame)  # from_arrow of a Table is always a DataFrame
        return out

    def close(self) -> None:
        """Close the connection."""
        self.con.close()

    def to_parquet(self, query: str, path: str | Path) -> tuple[int, list[str]]:
        """Write the result of SQL to a Parquet file (zstd), atomically, streamed by DuckDB
        (the result is never held in memory); returns its row count and column names."""
        body = query.strip().rstrip(";")
        with atomic_path(path) as tmp:
            try:
                # The newline ends a trailing "-- comment" before the closing parenthesis.
                self.con.execute(f"COPY ({body}\n) TO {quote_literal(str(tmp))} "
                                 "(FORMAT parquet, COMPRESSION zstd)")
            except duckdb.Error as exc:
                raise QueryError(f"query failed: {str(exc).strip()}") from None
            meta = pq.read_metadata(tmp)
            return meta.num_rows, meta.schema.to_arrow_schema().names
