"""Commands on the store: formats, tables, ingest, ls, show, rm, sql."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workscope.cli.params import Home, JsonFlag, MarkdownRef, open_store, parse_options
from workscope.cli.render import emit, emit_json, emit_raw, err, handle_errors, out, progress, rows_table

if TYPE_CHECKING:
    import polars as pl
    from rich.table import Table

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
    paths: Annotated[list[Path], typer.Argument(help="Trace files or directories.", show_default=False)],
    format: Annotated[str | None, typer.Option("--format", "-f", help="Reader name (see `workscope formats`); detected if omitted.")] = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Trace name (default: from the first path).")] = None,
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help="Reader option KEY=VALUE (repeatable).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a trace of the same name.")] = False,
    home: Home = None,
    as_json: JsonFlag = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Ingest trace files into the store as canonical Parquet tables."""
    store = open_store(home)
    with progress(not quiet and not as_json and err.is_terminal) as say:
        result = store.ingest(paths, format=format, name=name, options=parse_options(option),
                              force=force, progress=say)
    emit(as_json, result.to_dict, lambda: _print_ingest(result, store.traces_dir / result.name))


def _print_ingest(result: IngestResult, at: Path) -> None:
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
    cat = open_store(home).catalog()
    emit(as_json, lambda: {"traces": cat.to_dicts()}, lambda: _print_catalog(cat))


def _print_catalog(cat: pl.DataFrame) -> None:
    if cat.height == 0:
        out.print("no traces; add one with `workscope ingest PATH`")
        return
    out.print(rows_table(cat.columns, ([f"{v:,}" if isinstance(v, int) else str(v) for v in row]
                                  for row in cat.iter_rows())))


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


@handle_errors
def rm(
    name: Annotated[str, typer.Argument(help="Trace name.")],
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove a trace from the store."""
    open_store(home).remove(name)
    emit(as_json, lambda: {"removed": name}, lambda: out.print(f"removed {name}"))


@handle_errors
def sql(
    query: Annotated[str, typer.Argument(help="SQL (DuckDB dialect). Tables: <trace>.<table>, or <table> with --trace.")],
    trace: Annotated[str | None, typer.Option("--trace", "-t", help="Trace whose tables are also visible unqualified.")] = None,
    home: Home = None,
    as_json: JsonFlag = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV on stdout.")] = False,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the result to a Parquet file.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Rows shown in the table view.")] = 50,
) -> None:
    """Run an SQL query over the store's traces."""
    from workscope.engine import DuckDBEngine

    store = open_store(home)
    if trace is not None:
        store.trace(trace)  # a clear error for an unknown name
    eng = DuckDBEngine()
    eng.register_store(store, default=trace)
    if out_file is not None:
        rows, columns = eng.to_parquet(query, out_file)
        emit(as_json, lambda: {"rows": rows, "columns": columns, "out": str(out_file)},
             lambda: out.print(f"wrote {rows:,} rows to {out_file}"))
        return
    result = eng.sql_polars(query)
    if as_json:
        emit_json({"columns": result.columns, "rows": result.to_dicts()})
    elif as_csv:
        emit_raw(result.write_csv())
    else:
        _print_rows(result, limit)


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
    for command in (show, rm, sql):
        app.command()(command)
