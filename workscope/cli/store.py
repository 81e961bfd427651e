"""Commands on the store: formats, tables, ingest, ls, show, check, rm, sql."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workscope.cli.params import (
    EngineOpt,
    Home,
    JsonFlag,
    MarkdownRef,
    SparkConfOpt,
    SparkMasterOpt,
    make_engine,
    open_store,
    parse_options,
)
from workscope.cli.render import emit, emit_json, emit_raw, err, handle_errors, out, progress, rows_table
from workscope.errors import UsageError
from workscope.limits import MAX_REJECT_SHARE, MAX_REJECTS

if TYPE_CHECKING:
    import polars as pl
    from rich.table import Table

    from workscope import Store
    from workscope.ingest.pipeline import IngestResult


@handle_errors
def formats(as_json: JsonFlag = False, markdown: MarkdownRef = False) -> None:
    """List the trace formats workscope reads."""
    from workscope.ingest import registry

    if markdown:
        emit_raw(registry.formats_markdown())
        return
    readers = [r.describe() for r in registry.all_readers()]
    emit(as_json, lambda: {"formats": readers}, lambda: out.print(rows_table(
        ("format", "tables", "description"),
        ((r["name"], ", ".join(r["tables"]), r["description"]) for r in readers), title="trace formats")))


@handle_errors
def tables(as_json: JsonFlag = False, markdown: MarkdownRef = False) -> None:
    """List the canonical tables and their columns."""
    from workscope.schemas import describe_tables, tables_markdown

    if markdown:
        emit_raw(tables_markdown())
        return
    described = describe_tables()
    emit(as_json, lambda: {"tables": described}, lambda: _print_tables(described))


def _print_tables(described: dict[str, dict[str, Any]]) -> None:
    for name, t in described.items():
        rows = ((c["name"], c["type"], "yes" if c["required"] else "", c["doc"]) for c in t["columns"])
        out.print(rows_table(("column", "type", "required", "meaning"), rows, title=f"{name}: {t['doc']}"))


@handle_errors
def ingest(
    # str, not Path: Path("https://host/x") collapses '//' and the URL is lost.
    paths: Annotated[list[str], typer.Argument(
        help="Trace files, directories, or URLs of files (https://, file://; s3://, gs://... with fsspec).",
        show_default=False)],
    format: Annotated[str | None, typer.Option("--format", "-f", help="Reader name (see `workscope formats`); detected if omitted.")] = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Trace name (default: from the first path).")] = None,
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help="Reader option KEY=VALUE (repeatable).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a trace of the same name.")] = False,
    bound: Annotated[list[str] | None, typer.Option(
        "--bound", help="Plausible range COLUMN=LOW:HIGH of a column (repeatable; a side may be "
                        "empty); values outside are rejects. Defaults: `workscope tables --markdown`.")] = None,
    max_rejects: Annotated[int, typer.Option(
        "--max-rejects", min=0, help="Stop after this many rejected rows (0: no limit).")] = MAX_REJECTS,
    max_reject_share: Annotated[float, typer.Option(
        "--max-reject-share", min=0.0, max=1.0,
        help="Stop when more than this share of a file's rows is rejected (1: no limit).")] = MAX_REJECT_SHARE,
    home: Home = None,
    as_json: JsonFlag = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    engine: EngineOpt = "duckdb",
    spark_master: SparkMasterOpt = "local[*]",
    spark_conf: SparkConfOpt = None,
) -> None:
    """Ingest trace files (local, or downloaded from a URL) into the store as canonical Parquet tables.

    With --engine spark the files are read in Spark tasks (one per file where the format
    allows); the files, and a store that is not at a URL, must be at paths every executor mounts."""
    store = open_store(home)
    from workscope.schemas import parse_bound

    bounds = dict(parse_bound(b) for b in bound or [])
    eng = make_engine(engine, spark_master, spark_conf)
    with progress(not quiet and not as_json and err.is_terminal) as say:
        result = store.ingest(paths, format=format, name=name, options=parse_options(option),
                              bounds=bounds, max_rejects=max_rejects or None,
                              max_reject_share=max_reject_share, force=force, progress=say, engine=eng)
    emit(as_json, result.to_dict, lambda: _print_ingest(result, store.trace_location(result.name)))


def _print_ingest(result: IngestResult, at: str) -> None:
    m = result.manifest
    out.print(f"{result.status} trace [bold]{result.name}[/] ({m['reader']['name']}) in "
              f"{result.seconds:.2f} s at {at}")
    out.print(_tables_table(m))


def _tables_table(m: dict[str, Any]) -> Table:
    """Row counts and time span of each table of a manifest."""

    def span(s: dict[str, Any]) -> str:
        return f"{s['time']['min_s']:.3f} .. {s['time']['max_s']:.3f}" if s.get("time") else ""

    return rows_table(("table", "rows in", "rows ok", "rejected", "time span (s)"),
                 ((tab, f"{s['rows_in']:,}", f"{s['rows_ok']:,}", f"{s['rows_rejected']:,}", span(s))
                  for tab, s in m["tables"].items()))


@handle_errors
def ls_(home: Home = None, as_json: JsonFlag = False) -> None:
    """List the traces in the store."""
    store = open_store(home)
    cat = store.catalog()
    emit(as_json, lambda: {"traces": cat.to_dicts()}, lambda: _print_catalog(cat, store, home))
    if as_json and cat.height == 0:
        err.print(_no_traces(store, home), highlight=False)  # stdout holds only the JSON document


def _no_traces(store: Store, home: str | None) -> str:
    """What an empty listing says: the store directory looked in, and how it was chosen (an
    empty list from the wrong directory is the usual surprise)."""
    where = store.location
    if home is not None:
        chosen = "from --home"
    elif os.environ.get("WORKSCOPE_HOME"):
        chosen = "from WORKSCOPE_HOME"
    else:
        chosen = "the default: set --home or WORKSCOPE_HOME for another"
    missing = "" if store.exists() else ", which does not exist"
    return f"no traces in {where}{missing} ({chosen}); add one with `workscope ingest PATH`"


def _print_catalog(cat: pl.DataFrame, store: Store, home: str | None) -> None:
    if cat.height == 0:
        out.print(_no_traces(store, home), highlight=False)
        return
    out.print(rows_table(cat.columns, ([f"{v:,}" if isinstance(v, int) else "" if v is None else str(v)
                                        for v in row] for row in cat.iter_rows())))
    damaged = cat.filter(cat["status"] != "ok")["name"].to_list()
    if damaged:
        err.print(f"{len(damaged)} damaged trace(s); see `workscope check {' '.join(damaged)}`")


@handle_errors
def show(
    name: Annotated[str, typer.Argument(help="Trace name.")],
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a trace's manifest: provenance, row counts, reject reasons."""
    m = open_store(home).trace(name).manifest
    emit(as_json, lambda: m, lambda: _print_manifest(name, m))


def _print_manifest(name: str, m: dict[str, Any]) -> None:
    out.print(f"[bold]{name}[/]  format {m['reader']['name']} v{m['reader']['version']}  "
              f"created {m['created_utc']}  origin {m.get('origin_utc') or 'relative (no wall clock)'}")
    out.print(f"options: {json.dumps(m['options'])}")
    sources = [(s["path"], f"{s['bytes']:,}", s["sha256"][:16]) for s in m["sources"][:20]]
    if len(m["sources"]) > 20:
        sources.append((f"... {len(m['sources']) - 20} more", "", ""))
    out.print(rows_table(("source", "bytes", "sha256"), sources, title="sources"))
    out.print(_tables_table(m))
    if m["rejects"]["top_reasons"]:
        out.print(rows_table(("table", "reason", "rows", "first line"),
                        ((x["table"], x["reason"], f"{x['rows']:,}", str(x["first_line"]))
                         for x in m["rejects"]["top_reasons"]), title="reject reasons"))


def _stdin_is_terminal() -> bool:
    """Whether someone can answer a question on stdin (a function, so tests can stand in)."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stdin
        return False


@handle_errors
def rm(
    name: Annotated[str, typer.Argument(help="Trace name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Remove without asking (needed when stdin is not a terminal).")] = False,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove a trace from the store (asks first at a terminal; --yes to skip)."""
    store = open_store(home)
    store.trace(name).close()  # an unknown name fails before anything is asked
    if not yes:
        where = store.trace_location(name)
        if not _stdin_is_terminal():
            # A script must say so: it can neither hang on a question nor delete by accident.
            raise UsageError(f"not removing trace {name!r} ({where}) without confirmation: stdin is "
                             "not a terminal; pass --yes to remove it")
        # The question goes to stderr, so stdout keeps only the result (one JSON document).
        if not typer.confirm(f"remove trace {name!r} ({where})?", default=False, err=True):
            if as_json:
                emit_json({"error": f"trace {name!r} not removed: not confirmed", "type": "Aborted",
                           "exit_code": 1})
            err.print(f"not removed: {name}", highlight=False)
            raise typer.Exit(1)
    store.remove(name)
    emit(as_json, lambda: {"removed": name}, lambda: out.print(f"removed {name}"))


@handle_errors
def check(
    names: Annotated[list[str] | None, typer.Argument(help="Trace names (default: every trace).", show_default=False)] = None,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Verify traces against their manifests: files present, readable, row counts; exit 1 if any is damaged."""
    store = open_store(home)
    report = store.check(names)
    emit(as_json, report.to_dict, lambda: _print_check(report.to_frame(), store, home))
    if not report.ok:
        raise typer.Exit(1)


def _print_check(frame: pl.DataFrame, store: Store, home: Path | None) -> None:
    if frame.height == 0:
        out.print(_no_traces(store, home), highlight=False)
        return
    out.print(rows_table(("trace", "status", "problem", "path"),
                         ([n, s, p or "", path] for n, s, p, path in frame.iter_rows())))
    bad = frame.filter(frame["status"] != "ok")["name"].unique(maintain_order=True).to_list()
    if bad:
        err.print(f"{len(bad)} damaged trace(s): remove each with `workscope rm NAME` and ingest it again")


@handle_errors
def sql(
    query: Annotated[str, typer.Argument(help="SQL (DuckDB dialect). Tables: <trace>.<table>, or <table> with --trace.")],
    trace: Annotated[str | None, typer.Option("--trace", "-t", help="Trace whose tables are also visible unqualified.")] = None,
    home: Home = None,
    as_json: JsonFlag = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV on stdout.")] = False,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the result to a Parquet file.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Rows shown in the table view.")] = 50,
    read_only: Annotated[bool, typer.Option("--read-only", help="Run only SELECT/EXPLAIN and read no file but the store's traces (no COPY, ATTACH, INSTALL, read_csv).")] = False,
    engine: EngineOpt = "duckdb",
    spark_master: SparkMasterOpt = "local[*]",
    spark_conf: SparkConfOpt = None,
) -> None:
    """Run an SQL query over the store's traces (with DuckDB's full powers unless --read-only).

    With --engine spark the DuckDB SQL is transpiled to Spark SQL (sqlglot) and runs on Spark."""
    from workscope.engine import DuckDBEngine
    from workscope.errors import QueryError, StoreError

    store = open_store(home)
    if trace is not None:
        store.trace(trace).close()  # a clear error for an unknown name
    eng: Any = make_engine(engine, spark_master, spark_conf) or DuckDBEngine()
    skipped = eng.register_store(store, default=trace)
    if read_only:
        eng.read_only()
    try:
        if out_file is not None:
            rows, columns = eng.to_parquet(query, out_file)
            emit(as_json, lambda: {"rows": rows, "columns": columns, "out": str(out_file)},
                 lambda: out.print(f"wrote {rows:,} rows to {out_file}"))
            return
        table, notes = eng.portable(query, nested="json" if as_json else "text")
    except QueryError as exc:
        used = [n for n in skipped if re.search(rf"\b{re.escape(n)}\b", query, re.IGNORECASE)]
        if used:
            n = used[0]
            raise StoreError(f"trace {n!r} is {skipped[n]}, so it was left out and the query failed ({exc}); "
                             f"see `workscope check {n}`, then `workscope rm {n}` and ingest it again") from None
        raise
    result = _frame(table)
    if as_json:
        rows_out = result.to_dicts()
        for col, note in notes.items():
            if note.endswith("as JSON"):
                for r in rows_out:
                    r[col] = None if r[col] is None else json.loads(r[col])
        doc: dict[str, Any] = {"columns": result.columns, "rows": rows_out}
        if notes:
            doc["converted"] = notes
        emit_json(doc)
        return
    for col, note in notes.items():
        err.print(f"note: column {col!r}: {note}")
    if as_csv:
        emit_raw(result.write_csv())
    else:
        _print_rows(result, limit)


def _frame(table: Any) -> pl.DataFrame:
    import polars as pl

    from workscope.errors import QueryError

    try:
        frame = pl.from_arrow(table)
    except Exception as exc:  # noqa: BLE001 - polars raises several kinds for an Arrow type it lacks
        raise QueryError(f"the result has a column type that cannot be shown ({' '.join(str(exc).split())[:160]}); "
                         "CAST that column to VARCHAR in the query, or write it with --out") from None
    assert isinstance(frame, pl.DataFrame)  # from_arrow of a Table is always a DataFrame
    return frame


def _print_rows(result: pl.DataFrame, limit: int) -> None:
    out.print(rows_table(result.columns, (["" if v is None else str(v) for v in row]
                                     for row in result.head(limit).iter_rows())))
    if result.height > limit:
        err.print(f"({result.height:,} rows, {limit} shown; use --limit, --csv or --out)")


def register(app: typer.Typer) -> None:
    """Add this group's commands to ``app``, in the order ``--help`` lists them."""
    for command in (formats, tables, ingest):
        app.command()(command)
    app.command("ls")(ls_)
    for command in (show, check, rm, sql):
        app.command()(command)
