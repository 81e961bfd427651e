"""Query engines over the store. ``DuckDBEngine`` (embedded) is the default.

Tables are registered as views over Parquet files, never by copying data, so a query reads
only the columns and row groups it needs. Analysis SQL is written against view names.
A trace registered with ``default=True`` also gets unqualified views (``requests``); every
trace is reachable as ``<trace>.<table>`` (a DuckDB schema per trace).

A trace's views name the files of the generation the :class:`~workscope.store.Trace` holds,
so every query of one engine reads one version of the trace. :meth:`DuckDBEngine.read_only`
takes away DuckDB's access to any other file (``COPY``, ``ATTACH``, ``read_csv``,
``INSTALL``), for SQL that a user or a program passes on unchecked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from workscope.atomic import atomic_path
from workscope.errors import QueryError, StoreError, UsageError, write_error
from workscope.pathglob import glob_escape
from workscope.schemas import TABLES, dtype_name

if TYPE_CHECKING:
    from workscope.store import Store, Trace

log = logging.getLogger(__name__)

READ_ONLY_STATEMENTS = ("SELECT", "EXPLAIN")
"""Statement kinds a read-only engine runs: they read the views and write nothing."""
TEXT_TYPES = frozenset({"interval", "union", "bit", "blob", "time_tz", "varint", "bignum"})
"""DuckDB types that polars cannot hold or CSV cannot write: converted to text."""
NESTED_TYPES = frozenset({"struct", "list", "array", "map"})
"""Nested DuckDB types: text in a table or CSV, JSON values in a JSON document."""


ENGINES = ("duckdb", "spark")
"""The engines workscope runs on: DuckDB on this machine (the default), Apache Spark."""


def engine_name(name: str) -> str:
    """An engine's name as given to ``--engine`` or ``engine=``, checked and lower-cased."""
    key = name.strip().lower()
    if key not in ENGINES:
        raise UsageError(f"unknown engine {name!r}: choose {' or '.join(ENGINES)}")
    return key


SQL_TYPES = {"Float64": "DOUBLE", "Int64": "BIGINT", "String": "VARCHAR", "Boolean": "BOOLEAN",
              "List(Int64)": "BIGINT[]"}


def _missing_columns(con: duckdb.DuckDBPyConnection, source: str, table: str) -> str:
    """``, NULL::T AS c`` for each canonical column of ``table`` that the files lack (a trace
    ingested before the column existed), so queries and analyses see every column."""
    if table not in TABLES:
        return ""
    try:
        have = {r[0] for r in con.execute(
            f"DESCRIBE SELECT * FROM read_parquet({source}, union_by_name = true)").fetchall()}
    except duckdb.Error:
        return ""  # a damaged file: the view reports it when queried
    return "".join(f", CAST(NULL AS {SQL_TYPES[dtype_name(c.dtype)]}) AS {quote_ident(c.name)}"
                   for c in TABLES[table].columns if c.name not in have)


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
        self.is_read_only = False
        self._files: set[str] = set()
        self._filesystems: list[Any] = []
        self._traces: list[Trace] = []

    def register(self, view: str, parquet_glob: str, schema: str | None = None) -> None:
        """Create (or replace) a view over a Parquet glob."""
        self._view(view, quote_literal(parquet_glob), schema)

    def _view(self, view: str, source: str, schema: str | None, extra: str = "") -> None:
        target = quote_ident(view)
        if schema:
            self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
            target = f"{quote_ident(schema)}.{target}"
        self.con.execute(f"CREATE OR REPLACE VIEW {target} AS "
                         f"SELECT *{extra} FROM read_parquet({source}, union_by_name = true)")
        self.views.append(f"{schema}.{view}" if schema else view)

    def register_frame(self, view: str, frame: pa.Table | pl.DataFrame) -> None:
        """Expose an in-memory table as a view (no Parquet files: notebooks and tests)."""
        self.con.register(view, frame.to_arrow() if isinstance(frame, pl.DataFrame) else frame)
        self.views.append(view)

    def register_trace(self, trace: Trace, default: bool = False) -> None:
        """Register a trace's tables (and rejects) as ``<trace>.<table>``; unqualified too if default.

        The views list the files of the trace's generation (its snapshot), and the engine keeps
        ``trace`` open as long as it lives. StoreError if the trace is damaged.
        """
        try:
            fs = trace.filesystem
            if fs is not None and fs not in self._filesystems:
                self.con.register_filesystem(fs)  # a store at a URL: DuckDB reads through fsspec
                self._filesystems.append(fs)
            for table in [*trace.tables, "rejects"]:
                files = trace.uris(table)
                # a path with glob characters would be expanded by DuckDB: escape it
                source = ("[" + ", ".join(quote_literal(glob_escape(f)) for f in files) + "]"
                          if files else quote_literal(trace.glob(table)))
                extra = _missing_columns(self.con, source, table)
                self._view(table, source, trace.name, extra)
                if default:
                    self._view(table, source, None, extra)
                # DuckDB checks access against the path as written in the view: allow both forms,
                # and, at a URL, fsspec's own spelling of it (s3a:// is opened as s3://)
                self._files.update(files + [glob_escape(f) for f in files])
                if fs is not None:
                    self._files.update(fs.unstrip_protocol(fs._strip_protocol(f)) for f in files)
        except duckdb.Error as exc:
            raise StoreError(f"{trace.path}: trace {trace.name!r} is damaged: {' '.join(str(exc).split())}; "
                             f"see `workscope check {trace.name}`") from None
        self._traces.append(trace)

    def register_store(self, store: Store, default: str | None = None, *,
                       only_intact: bool = True) -> dict[str, str]:
        """Register every trace of a store; ``default`` also gets unqualified views.

        With ``only_intact``, a damaged trace (a quick :meth:`Trace.check`: manifest, files,
        Parquet magic bytes) is left out with a warning instead of failing every query over
        the store; returns the traces left out and what is wrong with them. The ``default``
        trace is never left out: StoreError if it is damaged.
        """
        skipped: dict[str, str] = {}
        for name in store.names():
            trace = store.trace(name)
            check = trace.check(full=False) if only_intact else None
            if check is not None and not check.ok:
                if name == default:
                    raise StoreError(f"{trace.path}: trace {name!r} is {check.status}; "
                                     f"see `workscope check {name}`, then `workscope rm {name}` and ingest again")
                log.warning("leaving out trace %s, which is %s; see `workscope check %s`", name, check.status, name)
                skipped[name] = check.status
                trace.close()
                continue
            try:
                self.register_trace(trace, default=(name == default))
            except StoreError as exc:
                if name == default or not only_intact:
                    raise
                log.warning("leaving out trace %s: %s", name, exc)
                skipped[name] = str(exc)
        return skipped

    def read_only(self) -> None:
        """From now on, run only SELECT and EXPLAIN statements, and read no file but those of
        the registered traces: ``COPY``, ``ATTACH``, ``INSTALL``, ``read_csv('/etc/passwd')``
        and the like fail with QueryError. Irreversible: DuckDB's configuration is locked."""
        self.con.execute("SET allowed_paths = " + "[" + ", ".join(quote_literal(f) for f in sorted(self._files)) + "]")
        self.con.execute("SET enable_external_access = false")
        self.con.execute("SET lock_configuration = true")
        self.is_read_only = True

    def _check_statements(self, query: str) -> None:
        try:
            kinds = [str(st.type).rsplit(".", 1)[-1] for st in self.con.extract_statements(query)]
        except duckdb.Error as exc:
            raise QueryError(f"query failed: {str(exc).strip()}") from None
        for kind in kinds:
            if kind not in READ_ONLY_STATEMENTS:
                raise QueryError(f"read-only mode runs only SELECT and EXPLAIN statements, not {kind}; "
                                 "drop --read-only to run it")

    def query(self, query: str, params: Mapping[str, Any] | None = None, *,
              single_threaded: bool = False, label: str = "query") -> pa.Table:
        """Run SQL with ``$name`` parameters bound by DuckDB and return an Arrow table.

        ``single_threaded`` runs it on one thread (then restores the setting): DuckDB draws a
        ``REPEATABLE(seed)`` sample reproducibly only on one thread. On failure, QueryError
        "<label> failed: <DuckDB's message>".
        """
        if self.is_read_only:
            self._check_statements(query)
        try:
            with self._one_thread() if single_threaded else nullcontext():
                rel = self.con.sql(query, params=dict(params) if params else None)
                return rel.to_arrow_table() if rel is not None else pa.table({})
        except duckdb.Error as exc:
            raise QueryError(f"{label} failed: {str(exc).strip()}") from None

    def portable(self, query: str, *, nested: str = "text") -> tuple[pa.Table, dict[str, str]]:
        """Run SQL and return its result with every column in a type that polars, CSV and JSON
        can hold, and the columns converted (name -> what was done).

        INTERVAL, UNION, BIT, BLOB and the like become DuckDB's text for them; nested columns
        (STRUCT, LIST, ARRAY, MAP) become text (``nested="text"``) or JSON text
        (``nested="json"``, for the caller to parse into JSON values).
        """
        if nested not in ("text", "json"):
            raise ValueError(f"nested must be 'text' or 'json', not {nested!r}")
        if self.is_read_only:
            self._check_statements(query)
        try:
            rel = self.con.sql(query)
            if rel is None:
                return pa.table({}), {}
            exprs, notes = [], {}
            for i, (col, typ) in enumerate(zip(rel.columns, rel.types, strict=True), start=1):
                kind = str(typ.id)
                if kind in TEXT_TYPES or (kind in NESTED_TYPES and nested == "text"):
                    exprs.append(f"CAST(#{i} AS VARCHAR) AS {quote_ident(col)}")
                    notes[col] = f"{typ} shown as text"
                elif kind in NESTED_TYPES:
                    exprs.append(f"to_json(#{i}) AS {quote_ident(col)}")
                    notes[col] = f"{typ} as JSON"
                else:
                    exprs.append(f"#{i} AS {quote_ident(col)}")
            if notes:
                rel = rel.project(", ".join(exprs))
            return rel.to_arrow_table(), notes
        except duckdb.Error as exc:
            raise QueryError(f"query failed: {str(exc).strip()}") from None

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
        if self.is_read_only:
            # DuckDB may write no file now: the result comes back to Python and is written here
            table = self.query(body)
            with atomic_path(path) as tmp:
                pq.write_table(table, tmp, compression="zstd")
            return table.num_rows, table.column_names
        with atomic_path(path) as tmp:
            try:
                # The newline ends a trailing "-- comment" before the closing parenthesis.
                self.con.execute(f"COPY ({body}\n) TO {quote_literal(str(tmp))} "
                                 "(FORMAT parquet, COMPRESSION zstd)")
            except duckdb.Error as exc:
                raise (write_error(exc, path) or QueryError(f"query failed: {str(exc).strip()}")) from None
            meta = pq.read_metadata(tmp)
            return meta.num_rows, meta.schema.to_arrow_schema().names
