"""Apache Spark behind the same engine protocol as :class:`~workscope.engine.DuckDBEngine`.

DuckDB SQL is the one source of every query: :class:`SparkEngine` transpiles it to Spark SQL
with sqlglot, binds ``$name`` parameters as literals, and returns Arrow tables, so analyses
run unchanged. Where a query cannot be transpiled faithfully, its Spark form lives next to the
DuckDB one (``analysis/sql/spark/<name>.sql``, found by :meth:`SparkEngine.spark_form`) with
the reason at its top.

Views: a trace's tables are registered from the store's Parquet files (any URI Spark reads:
local paths, ``file://``, ``hdfs://``, ``s3a://``) as temporary views, unqualified for the
default trace and as ``<trace>__<table>`` otherwise (Spark's temporary views have no schema);
queries that name ``<trace>.<table>`` are rewritten to those names.

``pip install workscope[spark]`` brings pyspark; Spark needs Java 17.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from workscope.engine import engine_name, quote_ident
from workscope.errors import QueryError, StoreError, UsageError

if TYPE_CHECKING:
    from workscope.store import Store, Trace

log = logging.getLogger(__name__)

DEFAULT_MASTER = "local[*]"
"""Spark master used when none is given: every core of this machine."""


# Spark settings that make results comparable with DuckDB's: UTC timestamps; ANSI mode off
# (Spark 4 turns it on: 1/0 and overflow raise, where DuckDB's division gives NULL); Arrow
# transfer; an in-memory catalog (no Hive metastore or derby folder in the cwd); no UI or
# console progress bars.
BASE_CONF: dict[str, str] = {
    "spark.sql.ansi.enabled": "false",
    "spark.sql.legacy.sizeOfNull": "false",  # size(NULL) is NULL, as DuckDB's array_length
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.catalogImplementation": "in-memory",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.parquet.mergeSchema": "true",
    "spark.sql.legacy.allowNegativeScaleOfDecimal": "false",
}


def spark_uri(path: str) -> str:
    """A store file's address as Spark reads it: a path as a ``file://`` URI (a bare path
    would be read from the cluster's default file system, HDFS on many clusters, not from the
    mounted store); ``s3://`` as ``s3a://`` (Hadoop's S3 connector); other URLs as they are."""
    if "://" not in path:
        return Path(path).resolve().as_uri()
    if path.startswith("s3://"):
        return "s3a://" + path[len("s3://"):]
    return path


def spark_engine(engine: Any) -> SparkEngine | None:
    """The engine an ``engine=`` argument names: None for None or ``"duckdb"`` (this machine;
    pyspark is not imported), a SparkEngine on ``local[*]`` for ``"spark"``, a SparkEngine
    as given; UsageError else."""
    if engine is None:
        return None
    if isinstance(engine, str):
        return SparkEngine() if engine_name(engine) == "spark" else None
    if isinstance(engine, SparkEngine):
        return engine
    raise UsageError(f"engine must be 'duckdb', 'spark' or a SparkEngine, got {type(engine).__name__}")


def parse_conf(items: list[str] | None) -> dict[str, str]:
    """``key=value`` strings (``--spark-conf``) as a dict; UsageError naming a bad one."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--spark-conf {item!r}: expected key=value, e.g. spark.executor.memory=4g")
        out[key.strip()] = value.strip()
    return out


def spark_session(master: str = DEFAULT_MASTER, conf: Mapping[str, str] | None = None) -> Any:
    """A Spark session for ``master`` with ``conf`` (plus :data:`BASE_CONF`). Spark keeps one
    per process: a later call gets the running one (starting one costs seconds)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError("the Spark engine needs pyspark: pip install 'workscope[spark]' "
                         "(and Java 17)") from None
    if master.startswith("local"):
        # Local executors run on this machine: give them this interpreter, where workscope is
        # installed (pyspark's default is whatever `python3` is on PATH).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    log4j = Path(__file__).with_name("spark_log4j2.properties")
    quiet = {"spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={log4j.as_uri()}"}
    settings = {**BASE_CONF, **quiet, **dict(conf or {})}
    builder = SparkSession.builder.master(master).appName("workscope")
    for k, v in settings.items():
        builder = builder.config(k, v)
    with warnings.catch_warnings():
        # pyspark warns about the pandas release on start; workscope passes Arrow, not pandas
        warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
        session = builder.getOrCreate()  # the running session when there is one
    session.sparkContext.setLogLevel("OFF")
    # pyspark logs every failed query as a JSON error; it comes back as a QueryError
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    return session


def _literal(value: Any) -> Any:
    """A sqlglot literal expression for a Python parameter value."""
    from sqlglot import exp

    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, float) and not math.isfinite(value):
        # inf / nan have no literal: Spark reads them from text, as DuckDB's 'inf'::DOUBLE
        text = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return exp.Cast(this=exp.Literal.string(text), to=exp.DataType.build("double"))
    if isinstance(value, (int, float)):
        return exp.Literal.number(repr(value) if isinstance(value, float) else str(value))
    if isinstance(value, (list, tuple)):
        return exp.Array(expressions=[_literal(v) for v in value])
    return exp.Literal.string(str(value))


def transpile(query: str, params: Mapping[str, Any] | None = None,
              schemas: Mapping[str, str] | None = None) -> str:
    """DuckDB SQL as Spark SQL: ``$name`` parameters bound as literals, ``<trace>.<table>``
    renamed to the temporary view ``<trace>__<table>`` (``schemas``: trace -> registered).

    QueryError when sqlglot cannot parse the DuckDB text.
    """
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    try:
        trees = sqlglot.parse(query, read="duckdb")
    except ParseError as exc:
        raise QueryError(f"query cannot be transpiled to Spark SQL: {exc}") from None
    params = dict(params or {})
    out = []
    for tree in trees:
        if tree is None:
            continue

        def bind(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Placeholder) and node.name:
                if node.name not in params:
                    raise QueryError(f"query parameter ${node.name} was not given")
                return _literal(params[node.name])
            if isinstance(node, exp.Table) and node.db and schemas and node.db in schemas:
                return exp.Table(this=exp.to_identifier(f"{node.db}__{node.name}"), alias=node.args.get("alias"))
            return node

        tree = _spark_rules(tree.transform(bind))
        out.append(tree.sql(dialect="spark"))
    return ";\n".join(out)


def _finite(x: Any) -> Any:
    """DuckDB's isfinite(x): NULL for NULL, false for NaN and +-inf."""
    from sqlglot import exp, parse_one

    expr = parse_one("CASE WHEN __x IS NULL THEN NULL ELSE NOT isnan(__x) AND abs(__x) <> double('infinity') END",
                     read="spark")
    return expr.transform(lambda n: x.copy() if isinstance(n, exp.Column) and n.name == "__x" else n)


def _spark_rules(tree: Any) -> Any:
    """Rewrites where DuckDB and Spark differ in meaning, not only in spelling (sqlglot
    handles the spelling). Each says what DuckDB does and the Spark form of it."""
    from sqlglot import exp

    def rule(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
            node.set("materialized", None)  # a planner hint Spark does not parse
            return node
        if isinstance(node, exp.Anonymous):
            name = node.name.lower()
            args = node.expressions
            if name == "list_position" and len(args) == 2:
                # DuckDB: NULL when absent; Spark's array_position: 0
                return exp.func("nullif", exp.func("array_position", *args), exp.Literal.number(0))
            if name == "isfinite" and len(args) == 1:
                return _finite(args[0])
        if isinstance(node, exp.Mod) and isinstance(node.this, exp.Anonymous) and node.this.name.lower() == "hash":
            # DuckDB's hash is an unsigned 64-bit value, Spark's a signed 32-bit one: a
            # non-negative 64-bit hash keeps "hash % M < cut" a sample of share cut / M
            return exp.func("pmod", exp.func("xxhash64", *node.this.expressions), node.expression)
        if isinstance(node, exp.Bracket) and len(node.expressions) == 1 \
                and not isinstance(node.expressions[0], exp.Literal):
            # DuckDB's list[i] counts from 1, Spark's array[i] from 0. sqlglot shifts literal
            # indices, not computed ones (list[i + 1]): element_at counts from 1, as DuckDB
            return exp.func("element_at", node.this, node.expressions[0])
        if type(node).__name__ == "Grouping" and len(node.expressions) > 1 or (
                isinstance(node, exp.Anonymous) and node.name.lower() == "grouping" and len(node.expressions) > 1):
            # DuckDB's grouping(a, b, ...) is the bit vector that Spark calls grouping_id
            return exp.Anonymous(this="grouping_id", expressions=[e.copy() for e in node.expressions])
        if isinstance(node, exp.Window) and isinstance(node.this, exp.RowNumber) \
                and not node.args.get("partition_by") and not node.args.get("order"):
            # row_number() OVER (): DuckDB numbers rows in scan order; Spark wants an order,
            # and monotonically_increasing_id grows in scan order within and across the
            # partitions of a scan (ties between files may fall in another order)
            return exp.func("monotonically_increasing_id")
        if isinstance(node, exp.PercentileCont):
            # quantile_cont(x, q): exact, linear interpolation, as Spark's percentile
            return exp.func("percentile", node.this, node.expression)
        return node

    tree = tree.transform(rule)
    for select in list(tree.find_all(exp.Select)):
        ts = select.args.get("sample")
        if ts is None or ts.args.get("size") is None:
            continue  # PERCENT samples: Spark's TABLESAMPLE (p PERCENT) REPEATABLE (seed) reads alike
        source = select.args.get("from_") or select.args.get("from")
        if source is None or select.args.get("joins"):
            raise QueryError("a DuckDB USING SAMPLE over a join has no Spark translation here: "
                             "write its Spark form next to the query")
        # DuckDB samples the FROM source (before WHERE) uniformly; Spark's "TABLESAMPLE (n
        # ROWS)" is a LIMIT (the first n rows): order by a seeded random number instead
        seed = ts.args.get("seed")
        select.set("sample", None)
        src = source.this
        alias = src.args.get("alias")
        body = src.copy()
        body.set("alias", None)
        inner = (exp.select("*").from_(body).order_by(exp.func("rand", seed.copy() if seed is not None
                                                                 else exp.Literal.number(0)))
                 .limit(ts.args["size"].copy()))
        src.replace(exp.Subquery(this=inner, alias=alias.copy() if alias is not None
                                 else exp.TableAlias(this=exp.to_identifier("_sample"))))
    return tree


class SparkEngine:
    """Spark SQL over the store's Parquet files, with the protocol of DuckDBEngine.

    ``master``: ``local[*]`` (default), ``local[2]``, ``spark://host:7077``, ``yarn``...;
    ``conf``: Spark settings (``spark.executor.memory`` ...). ``session``: an existing
    SparkSession (Databricks, a notebook) to use as it is.
    """

    def __init__(self, master: str = DEFAULT_MASTER, conf: Mapping[str, str] | None = None,
                 session: Any = None) -> None:
        base = session if session is not None else spark_session(master, conf)
        # a session of its own (same SparkContext, so no start-up cost): its temporary views
        # are this engine's, so two engines (two traces of a compare) never see each other's
        self.spark = base.newSession()
        self.dialect = "spark"  # analyses use the Spark forms of their SQL where one exists
        self.views: list[str] = []
        self.is_read_only = False
        self._schemas: dict[str, str] = {}
        self._traces: list[Trace] = []

    # ------------------------------------------------------------------ registration
    def _frame(self, paths: list[str]) -> Any:
        return self.spark.read.option("mergeSchema", "true").parquet(*paths)

    def register(self, view: str, parquet_glob: str, schema: str | None = None) -> None:
        """Create (or replace) a temporary view over Parquet files (a glob or a path)."""
        name = f"{schema}__{view}" if schema else view
        self._frame([parquet_glob]).createOrReplaceTempView(name)
        if schema:
            self._schemas[schema] = schema
        self.views.append(f"{schema}.{view}" if schema else view)

    def register_frame(self, view: str, frame: pa.Table | pl.DataFrame) -> None:
        """Expose an in-memory table as a temporary view."""
        table = frame.to_arrow() if isinstance(frame, pl.DataFrame) else frame
        self.spark.createDataFrame(table.to_pandas()).createOrReplaceTempView(view)
        self.views.append(view)

    def register_trace(self, trace: Trace, default: bool = False) -> None:
        """Register a trace's tables (and rejects) as ``<trace>.<table>``; unqualified too if
        default. Columns of the canonical schema that the files lack read as NULL."""
        try:
            for table in [*trace.tables, "rejects"]:
                df = self._table_frame(trace, table)
                if df is None:
                    continue
                df.createOrReplaceTempView(f"{trace.name}__{table}")
                self.views.append(f"{trace.name}.{table}")
                if default:
                    df.createOrReplaceTempView(table)
                    self.views.append(table)
        except spark_errors() as exc:  # a damaged or unreadable file
            raise StoreError(f"{trace.path}: trace {trace.name!r} cannot be read by Spark: "
                             f"{spark_message(exc)}; see `workscope check {trace.name}`") from None
        self._schemas[trace.name] = trace.name
        self._traces.append(trace)

    def _table_frame(self, trace: Trace, table: str) -> Any:
        """A Spark DataFrame of a trace's table (None when it has no files); columns of the
        canonical schema that the files lack read as NULL."""
        from workscope.schemas import TABLES

        files = [spark_uri(f) for f in trace.uris(table)]
        if not files:
            return None
        df = self._frame(files)
        spec = TABLES.get(table)
        if spec is not None:
            from pyspark.sql import functions as F

            have = set(df.columns)
            for c in spec.columns:
                if c.name not in have:
                    df = df.withColumn(c.name, F.lit(None).cast(_spark_type(c.dtype)))
        return df

    def ordered_rows(self, trace: Trace, table: str, where: str, time_column: str) -> pl.DataFrame:
        """The rows of ``trace``'s ``table`` that satisfy ``where`` (DuckDB SQL over its
        columns, transpiled), sorted by ``time_column`` (nulls first) with ties in the
        store's order (file, then row): what a stable sort of the whole table keeps of them.
        For a replay export, whose selection (filters, window) runs on the cluster."""
        from pyspark.sql import functions as F

        view = "workscope__ordered_rows"
        try:
            df = self._table_frame(trace, table)
            if df is None:
                raise QueryError(f"trace {trace.name!r} has no {table} rows")
            df.select("*", F.col("_metadata.file_path").alias("workscope__file"),
                      F.col("_metadata.row_index").alias("workscope__row")).createOrReplaceTempView(view)
            text = transpile(f"SELECT * FROM {view} WHERE {where} ORDER BY {quote_ident(time_column)} "
                             "ASC NULLS FIRST, workscope__file, workscope__row", None, {})
            out = pl.from_arrow(_to_arrow(self.spark.sql(text).drop("workscope__file", "workscope__row")))
        except spark_errors() as exc:
            raise QueryError(f"selecting {trace.name}.{table} rows failed on Spark: {spark_message(exc)}") from None
        finally:
            self.spark.catalog.dropTempView(view)
        if not isinstance(out, pl.DataFrame):
            raise QueryError("the selection returned no table")
        return out

    def register_store(self, store: Store, default: str | None = None, *,
                       only_intact: bool = True) -> dict[str, str]:
        """Register every trace of a store (damaged ones left out, with their reason)."""
        skipped: dict[str, str] = {}
        for name in store.names():
            trace = store.trace(name)
            if only_intact:
                check = trace.check(full=False)
                if not check.ok:
                    skipped[name] = check.status
                    continue
            self.register_trace(trace, default=(name == default))
        return skipped

    # ------------------------------------------------------------------ queries
    def query(self, query: str, params: Mapping[str, Any] | None = None, *,
              single_threaded: bool = False, label: str = "query") -> pa.Table:
        """Run DuckDB SQL (transpiled) with ``$name`` parameters; an Arrow table.

        ``single_threaded`` is accepted for the protocol: Spark's seeded sampling does not
        depend on the number of threads but on partitioning, so sampling analyses are compared
        on their exact parts (see the parity test).
        """
        text = transpile(query, params, self._schemas)
        try:
            return _to_arrow(self.spark.sql(text))
        except spark_errors() as exc:
            raise QueryError(f"{label} failed on Spark: {spark_message(exc)}") from None

    def portable(self, query: str, *, nested: str = "text") -> tuple[pa.Table, dict[str, str]]:
        """As :meth:`DuckDBEngine.portable`: the result with nested columns (arrays, structs,
        maps) as text (``nested="text"``) or JSON text (``"json"``), and what was converted."""
        from pyspark.sql import functions as F
        from pyspark.sql.types import ArrayType, MapType, StructType

        if nested not in ("text", "json"):
            raise ValueError(f"nested must be 'text' or 'json', not {nested!r}")
        text = transpile(query, None, self._schemas)
        try:
            df = self.spark.sql(text)
            notes: dict[str, str] = {}
            cols = []
            for f in df.schema.fields:
                if isinstance(f.dataType, (ArrayType, MapType, StructType)):
                    kind = f.dataType.simpleString()
                    if nested == "json":
                        cols.append(F.to_json(F.col(f"`{f.name}`")).alias(f.name))
                        notes[f.name] = f"{kind} as JSON"
                    else:
                        cols.append(F.col(f"`{f.name}`").cast("string").alias(f.name))
                        notes[f.name] = f"{kind} shown as text"
                else:
                    cols.append(F.col(f"`{f.name}`"))
            return _to_arrow(df.select(*cols) if notes else df), notes
        except spark_errors() as exc:
            raise QueryError(f"query failed on Spark: {spark_message(exc)}") from None

    def to_parquet(self, query: str, path: str | Path) -> tuple[int, list[str]]:
        """Write the result of SQL to one Parquet file (zstd), atomically; returns its row
        count and column names. The result passes through this process: for results larger
        than memory, write with Spark itself (``spark.sql(...).write.parquet``)."""
        import pyarrow.parquet as pq

        from workscope.atomic import atomic_path

        table = self.query(query.strip().rstrip(";"))
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp, compression="zstd")
        return table.num_rows, table.column_names

    def read_only(self) -> None:
        """Not offered on Spark: Spark SQL cannot be limited to reading the store's files."""
        raise UsageError("--read-only needs the DuckDB engine: Spark SQL cannot be kept from other files")

    def sql(self, query: str) -> pa.Table:
        """Run SQL; QueryError with Spark's message on failure."""
        return self.query(query)

    def sql_polars(self, query: str) -> pl.DataFrame:
        """Run SQL and return a polars DataFrame."""
        out = pl.from_arrow(self.sql(query))
        if not isinstance(out, pl.DataFrame):
            raise QueryError("query returned no table")
        return out

    def close(self) -> None:
        """Drop this engine's views (the shared session stays up for the next engine)."""
        for v in self.views:
            self.spark.catalog.dropTempView(v.replace(".", "__"))
        self.views.clear()


def spark_errors() -> tuple[type[BaseException], ...]:
    """What pyspark raises for a failed query or read: its own exceptions (analysis, parse)
    and Java errors that py4j passes through."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    return (PySparkException, Py4JError)


def _spark_type(dtype: Any) -> str:
    """The Spark SQL type of a canonical column's dtype: DuckDB's (engine.SQL_TYPES) as sqlglot
    writes it for Spark."""
    from sqlglot import exp

    from workscope.engine import SQL_TYPES
    from workscope.schemas import dtype_name

    return exp.DataType.build(SQL_TYPES[dtype_name(dtype)], dialect="duckdb").sql("spark")


def _to_arrow(df: Any) -> pa.Table:
    if hasattr(df, "toArrow"):  # Spark 4: no pandas on the way
        return df.toArrow()
    return pa.Table.from_pandas(df.toPandas(), preserve_index=False)


def spark_message(exc: BaseException) -> str:
    """The first paragraph of a Spark error, without the JVM stack trace, on one line."""
    text = str(exc).strip()
    text = re.sub(r"\s+", " ", text.split("\n\nJVM stacktrace")[0])
    return text[:600]
