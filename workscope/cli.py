"""The `workscope` command line: parse, call the library, render. No logic of its own.

Results go to stdout (with ``--json``: exactly one JSON document); progress and logs go to
stderr. Exit codes: 0 ok, 1 data or run error, 2 usage error.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import functools
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from workscope import __version__
from workscope.errors import UsageError, WorkscopeError

app = typer.Typer(
    name="workscope",
    help="Trace analytics and workload characterization: ingest, query and inspect traces.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output gets a wide console so tables are not cut at 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)

Home = Annotated[
    Path | None,
    typer.Option("--home", help="Store directory (default: $WORKSCOPE_HOME, else ./workscope-data).",
                 show_default=False),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document on stdout.")]

F = TypeVar("F", bound=Callable[..., Any])


def _json_default(value: Any) -> Any:
    # DuckDB sums are 128-bit decimals; JSON readers expect plain numbers.
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime.date, datetime.time, datetime.timedelta)):
        return value.isoformat() if hasattr(value, "isoformat") else value.total_seconds()
    return str(value)


def _emit_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=_json_default) + "\n")


def handle_errors(fn: F) -> F:
    """Turn WorkscopeError into one line on stderr (or a JSON error document) and its exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return fn(*args, **kwargs)
        except WorkscopeError as exc:
            if as_json:
                _emit_json({"error": str(exc), "type": type(exc).__name__, "exit_code": exc.exit_code})
            one_line = " ".join(str(exc).split())
            err.print(f"[bold red]error:[/] {one_line}", markup=True, highlight=False)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted; the store is unchanged")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _store(home: Path | None) -> Any:
    import workscope

    return workscope.open(home)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details on stderr.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """workscope: trace analytics and workload characterization."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if version:
        out.print(f"workscope {__version__}")
        raise typer.Exit(0)


@app.command()
@handle_errors
def formats(
    as_json: JsonFlag = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the full reference as Markdown.")] = False,
) -> None:
    """List the trace formats workscope reads."""
    from workscope.ingest import registry

    if markdown:
        sys.stdout.write(registry.formats_markdown())
        return
    readers = [r.describe() for r in registry.all_readers()]
    if as_json:
        _emit_json({"formats": readers})
        return
    t = Table("format", "tables", "description", title="trace formats")
    for r in readers:
        t.add_row(r["name"], ", ".join(r["tables"]), r["description"])
    out.print(t)


@app.command()
@handle_errors
def tables(
    as_json: JsonFlag = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the full reference as Markdown.")] = False,
) -> None:
    """List the canonical tables and their columns."""
    from workscope.schemas import TABLES, tables_markdown

    if markdown:
        sys.stdout.write(tables_markdown())
        return
    if as_json:
        _emit_json({"tables": {t.name: {"doc": t.doc, "time_column": t.time_column, "columns": [
            {"name": c.name, "type": str(pl_dtype(c.dtype)), "required": c.required, "doc": c.doc}
            for c in t.columns]} for t in TABLES.values()}})
        return
    for t in TABLES.values():
        tab = Table("column", "type", "required", "meaning", title=f"{t.name}: {t.doc}")
        for c in t.columns:
            tab.add_row(c.name, str(pl_dtype(c.dtype)), "yes" if c.required else "", c.doc)
        out.print(tab)


def pl_dtype(dtype: Any) -> Any:
    """A dtype class or instance as an instance (for printing)."""
    return dtype() if isinstance(dtype, type) else dtype


def _parse_options(pairs: list[str] | None) -> dict[str, str]:
    opts: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--option expects KEY=VALUE, got {pair!r}")
        opts[key.strip()] = value
    return opts


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    if not enabled:
        yield lambda msg, done, total: None
        return
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                  TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task("ingest", total=1)

        def update(msg: str, done: int, total: int) -> None:
            # One part in flight has no measurable progress: pulse instead of sitting at 0 %.
            bar.update(task, description=msg[:70], completed=done,
                       total=None if total <= 1 and done == 0 else max(total, 1))

        yield update


@app.command()
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
    store = _store(home)
    with _progress(not quiet and not as_json and err.is_terminal) as say:
        result = store.ingest(paths, format=format, name=name, options=_parse_options(option),
                              force=force, progress=say)
    if as_json:
        _emit_json(result.to_dict())
        return
    m = result.manifest
    out.print(f"{result.status} trace [bold]{result.name}[/] ({m['reader']['name']}) in "
              f"{result.seconds:.2f} s at {store.traces_dir / result.name}")
    out.print(_tables_table(m))


def _tables_table(m: dict[str, Any]) -> Table:
    t = Table("table", "rows in", "rows ok", "rejected", "time span (s)")
    for tab, s in m["tables"].items():
        span = ""
        if s.get("time"):
            span = f"{s['time']['min_s']:.3f} .. {s['time']['max_s']:.3f}"
        t.add_row(tab, f"{s['rows_in']:,}", f"{s['rows_ok']:,}", f"{s['rows_rejected']:,}", span)
    return t


@app.command("ls")
@handle_errors
def ls_(home: Home = None, as_json: JsonFlag = False) -> None:
    """List the traces in the store."""
    cat = _store(home).catalog()
    if as_json:
        _emit_json({"traces": cat.to_dicts()})
        return
    if cat.height == 0:
        out.print("no traces; add one with `workscope ingest PATH`")
        return
    t = Table(*cat.columns)
    for row in cat.iter_rows():
        t.add_row(*[f"{v:,}" if isinstance(v, int) else str(v) for v in row])
    out.print(t)


@app.command()
@handle_errors
def show(
    name: Annotated[str, typer.Argument(help="Trace name.")],
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a trace's manifest: provenance, row counts, reject reasons."""
    m = _store(home).trace(name).manifest
    if as_json:
        _emit_json(m)
        return
    out.print(f"[bold]{name}[/]  format {m['reader']['name']} v{m['reader']['version']}  "
              f"created {m['created_utc']}  origin {m.get('origin_utc') or 'relative (no wall clock)'}")
    out.print(f"options: {json.dumps(m['options'])}")
    src = Table("source", "bytes", "sha256", title="sources")
    for s in m["sources"][:20]:
        src.add_row(s["path"], f"{s['bytes']:,}", s["sha256"][:16])
    if len(m["sources"]) > 20:
        src.add_row(f"... {len(m['sources']) - 20} more", "", "")
    out.print(src)
    out.print(_tables_table(m))
    if m["rejects"]["top_reasons"]:
        r = Table("table", "reason", "rows", "first line", title="reject reasons")
        for x in m["rejects"]["top_reasons"]:
            r.add_row(x["table"], x["reason"], f"{x['rows']:,}", str(x["first_line"]))
        out.print(r)


@app.command()
@handle_errors
def rm(
    name: Annotated[str, typer.Argument(help="Trace name.")],
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove a trace from the store."""
    _store(home).remove(name)
    if as_json:
        _emit_json({"removed": name})
    else:
        out.print(f"removed {name}")


@app.command()
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

    store = _store(home)
    if trace is not None:
        store.trace(trace)  # a clear error for an unknown name
    eng = DuckDBEngine()
    eng.register_store(store, default=trace)
    result = eng.sql_polars(query)
    if out_file is not None:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out_file.parent, suffix=".parquet.tmp")
        os.close(fd)
        try:
            result.write_parquet(tmp, compression="zstd")
            os.replace(tmp, out_file)
        finally:
            Path(tmp).unlink(missing_ok=True)
        if as_json:
            _emit_json({"rows": result.height, "columns": result.columns, "out": str(out_file)})
        else:
            out.print(f"wrote {result.height:,} rows to {out_file}")
        return
    if as_json:
        _emit_json({"columns": result.columns, "rows": result.to_dicts()})
        return
    if as_csv:
        sys.stdout.write(result.write_csv())
        return
    t = Table(*result.columns)
    for row in result.head(limit).iter_rows():
        t.add_row(*["" if v is None else str(v) for v in row])
    out.print(t)
    if result.height > limit:
        err.print(f"({result.height:,} rows, {limit} shown; use --limit, --csv or --out)")


@app.command()
@handle_errors
def demo(home: Home = None, as_json: JsonFlag = False) -> None:
    """Ingest the bundled sample traces and print a summary."""
    from workscope.samples import SAMPLES, ingest_samples

    store = _store(home)
    with _progress(not as_json and err.is_terminal) as say:
        results = ingest_samples(store, progress=say)
    if as_json:
        _emit_json({"home": str(store.home), "traces": [r.to_dict() for r in results]})
        return
    t = Table("trace", "format", "status", "table", "rows ok", "rejected", "span (s)", "about",
              title=f"workscope demo: {len(results)} sample traces in {store.home}")
    for sample, r in zip(SAMPLES, results):
        for i, (tab, st) in enumerate(r.manifest["tables"].items()):
            span = f"{st['time']['max_s'] - st['time']['min_s']:,.0f}" if st.get("time") else ""
            first = i == 0
            t.add_row(r.name if first else "", sample.format if first else "", r.status if first else "",
                      tab, f"{st['rows_ok']:,}", f"{st['rows_rejected']:,}", span, sample.about if first else "")
    out.print(t)
    out.print("next: workscope ls · workscope show NAME · "
              "workscope sql 'SELECT count(*) FROM azure_llm_conv.requests'")


if __name__ == "__main__":  # pragma: no cover
    app()
