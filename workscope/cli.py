"""The `workscope` command line: parse, call the library, render. No logic of its own.

Results go to stdout (with ``--json``: exactly one JSON document); progress and logs go to
stderr. Exit codes: 0 ok, 1 data or run error, 2 usage error.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from workscope import __version__
from workscope.jsonable import json_ready
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


def _emit_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(json_ready(doc), indent=2) + "\n")


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
        from workscope.atomic import atomic_path

        with atomic_path(out_file) as tmp:
            result.write_parquet(tmp, compression="zstd")
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


def _only(value: str | None) -> list[str] | None:
    return [x.strip() for x in value.split(",") if x.strip()] if value else None


OnlyOpt = Annotated[str | None, typer.Option("--only", help="Comma-separated analyses to run (default: all that apply).")]


@app.command()
@handle_errors
def characterize(
    name: Annotated[str, typer.Argument(help="Trace name.")],
    only: OnlyOpt = None,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Characterize a trace: arrivals, burstiness, fits, tokens, cold starts, utilization..."""
    from workscope.analysis import characterize as run

    profile = run(_store(home).trace(name), only=_only(only))
    if as_json:
        _emit_json(profile.to_dict())
        return
    for r in profile.results.values():
        t = Table("figure", "value", title=r.title, title_justify="left")
        for k, v in r.summary.items():
            v = json_ready(v)
            text = f"{v:.6g}" if isinstance(v, float) else json.dumps(v) if isinstance(v, (dict, list)) else str(v)
            t.add_row(k, text if len(text) < 160 else text[:157] + "...")
        out.print(t)
        for n in r.notes:
            out.print(f"  [dim]{n}[/]", highlight=False)
    if profile.skipped:
        out.print(f"not applicable: {', '.join(profile.skipped)}")


@app.command()
@handle_errors
def report(
    name: Annotated[str, typer.Argument(help="Trace name.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for report.html, summary.md and charts/.")],
    only: OnlyOpt = None,
    png: Annotated[bool, typer.Option("--png/--no-png", help="Also write a PNG per chart.")] = True,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Write a self-contained HTML report (offline), PNG charts and a Markdown summary."""
    from workscope.analysis import characterize as run
    from workscope.reports.html import write_report

    trace = _store(home).trace(name)
    files = write_report(run(trace, only=_only(only)), out_dir, png=png, manifest=trace.manifest)
    if as_json:
        _emit_json(files.to_dict())
    else:
        out.print(f"wrote {files.html} ({files.charts} charts), {files.markdown}, {len(files.pngs)} PNGs")


@app.command()
@handle_errors
def compare(
    a: Annotated[str, typer.Argument(help="First trace.")],
    b: Annotated[str, typer.Argument(help="Second trace.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the comparison report.")],
    only: OnlyOpt = None,
    png: Annotated[bool, typer.Option("--png/--no-png", help="Also write a PNG per chart.")] = True,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Put two traces side by side: figures and charts of every analysis both support."""
    from workscope.analysis import characterize as run
    from workscope.reports.html import write_compare

    store = _store(home)
    files = write_compare(run(store.trace(a), only=_only(only)), run(store.trace(b), only=_only(only)),
                          out_dir, png=png)
    if as_json:
        _emit_json(files.to_dict())
    else:
        out.print(f"wrote {files.html} ({files.charts} charts), {files.markdown}, {len(files.pngs)} PNGs")


@app.command()
@handle_errors
def demo(
    home: Home = None,
    as_json: JsonFlag = False,
    reports: Annotated[bool, typer.Option("--reports/--no-reports", help="Also characterize the samples and write their reports.")] = True,
) -> None:
    """Ingest the bundled sample traces, characterize them and write their reports."""
    from workscope.samples import SAMPLES, ingest_samples, replay_samples, report_samples

    store = _store(home)
    with _progress(not as_json and err.is_terminal) as say:
        results = ingest_samples(store, progress=say)
    written = report_samples(store, store.home / "reports") if reports else {}
    replays = replay_samples(store, store.home / "replay")
    if as_json:
        _emit_json({"home": str(store.home), "traces": [r.to_dict() for r in results],
                    "reports": {k: v.to_dict() for k, v in written.items()},
                    "replay": [{**e.to_dict(), "fidelity": f.to_dict() if f else None} for e, f in replays]})
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
    if written:
        r = Table("trace", "charts", "report", title="reports (open report.html in a browser; works offline)")
        for k, v in written.items():
            r.add_row(k, str(v.charts), str(v.html))
        out.print(r)
    for exported, report in replays:
        out.print(f"replay: {exported.rows:,} rows for {exported.target} in "
                  f"{', '.join(str(f) for f in exported.files[:1])}", highlight=False)
        out.print(f"  run: {exported.command}", highlight=False, markup=False)
        if report:
            _emit_fidelity(report, False)
    out.print("next: workscope ls · workscope show NAME · workscope characterize azure_llm_conv · "
              "workscope sql 'SELECT count(*) FROM azure_llm_conv.requests'")


replay_app = typer.Typer(help="Replay workloads: export for other systems, fit and synthesize, sample, fidelity.",
                         no_args_is_help=True)
app.add_typer(replay_app, name="replay")


def _parse_window(text: str | None) -> tuple[float | None, float | None] | None:
    if text is None:
        return None
    a, sep, b = text.partition(":")
    if not sep:
        raise UsageError(f"--window expects START:END in seconds (either may be empty), got {text!r}")
    try:
        return (float(a) if a else None, float(b) if b else None)
    except ValueError:
        raise UsageError(f"--window expects numbers, got {text!r}") from None


def _parse_filters(pairs: list[str] | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    out = []
    for p in pairs or []:
        col, sep, vals = p.partition("=")
        if not sep or not col:
            raise UsageError(f"--filter expects COLUMN=V1,V2, got {p!r}")
        out.append((col.strip(), tuple(v for v in vals.split(",") if v != "")))
    return tuple(out)


def _emit_fidelity(report: Any, as_json: bool) -> None:
    if as_json:
        return
    t = Table("quantity", "n source", "n emitted", "mean source", "mean emitted", "KS", "Wasserstein",
              title=f"fidelity of {report.emitted} to {report.source}")
    for r in report.rows.iter_rows(named=True):
        t.add_row(*[("" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)) for v in r.values()])
    out.print(t)


@replay_app.command("targets")
@handle_errors
def replay_targets(
    as_json: JsonFlag = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the full reference as Markdown.")] = False,
) -> None:
    """List the systems workscope exports workloads for."""
    from workscope.replay.exporters import registry as reg

    if markdown:
        sys.stdout.write(reg.targets_markdown())
        return
    items = [reg.get(n).describe() for n in reg.names()]
    if as_json:
        _emit_json({"targets": items})
        return
    t = Table("target", "workloads", "description", title="replay targets")
    for d in items:
        t.add_row(d["name"], ", ".join(d["tables"]), d["description"])
    out.print(t)


@replay_app.command("export")
@handle_errors
def replay_export(
    name: Annotated[str, typer.Argument(help="Trace name.")],
    to: Annotated[str, typer.Option("--to", help="Target (see `workscope replay targets`).")],
    out_path: Annotated[Path, typer.Option("--out", help="Output file (or directory for multi-file targets).")],
    table: Annotated[str | None, typer.Option("--table", help="requests, invocations or jobs (default: the trace's first).")] = None,
    filter_: Annotated[list[str] | None, typer.Option("--filter", help="Keep rows with COLUMN=V1,V2 (repeatable).")] = None,
    window: Annotated[str | None, typer.Option("--window", help="Keep START:END seconds (re-based to 0).")] = None,
    busiest: Annotated[int | None, typer.Option("--busiest", help="Keep the busiest N minutes.")] = None,
    sample_sessions: Annotated[float | None, typer.Option("--sample-sessions", help="Fraction of sessions kept.")] = None,
    sample_jobs: Annotated[float | None, typer.Option("--sample-jobs", help="Fraction of jobs kept.")] = None,
    rate_scale: Annotated[float | None, typer.Option("--rate-scale", help="Multiply the mean rate (thinning / superposition).")] = None,
    target_rate: Annotated[float | None, typer.Option("--target-rate", help="Set the mean rate (per s).")] = None,
    speed: Annotated[float | None, typer.Option("--speed", help="Time-scale factor (>1 faster).")] = None,
    compress_idle: Annotated[float | None, typer.Option("--compress-idle", help="Cap idle gaps at this many seconds.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every random step.")] = 0,
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help="Exporter option KEY=VALUE.")] = None,
    fidelity: Annotated[bool, typer.Option("--fidelity", help="Compare the emitted workload with the source.")] = False,
    print_command: Annotated[bool, typer.Option("--print-command", help="Print only the command that runs the target.")] = False,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Export a trace (optionally transformed) in the format a target system reads."""
    from workscope.replay.pipeline import TransformSpec, export

    spec = TransformSpec(filters=_parse_filters(filter_), window=_parse_window(window), busiest_min=busiest,
                         sample_sessions=sample_sessions, sample_jobs=sample_jobs, rate_scale=rate_scale,
                         target_rate_per_s=target_rate, speed=speed, compress_idle_s=compress_idle, seed=seed)
    result, report = export(_store(home).trace(name), to, out_path, spec=spec,
                            options=_parse_options(option), fidelity=fidelity, table=table)
    if as_json:
        _emit_json({**result.to_dict(), "fidelity": report.to_dict() if report else None})
        return
    if print_command:
        sys.stdout.write(result.command + "\n")
        return
    out.print(f"wrote {result.rows:,} rows for {result.target}: {', '.join(str(f) for f in result.files)}")
    for n in result.notes:
        out.print(f"  [dim]{n}[/]", highlight=False)
    out.print(f"run: {result.command}", highlight=False, markup=False)
    if report:
        _emit_fidelity(report, as_json)


@replay_app.command("fit")
@handle_errors
def replay_fit(
    name: Annotated[str, typer.Argument(help="Trace name (requests).")],
    out_path: Annotated[Path, typer.Option("--out", help="Model JSON to write.")],
    window_s: Annotated[float, typer.Option("--window-s", help="Window of the per-window fits (s).")] = 600.0,
    group_by: Annotated[str, typer.Option("--group-by", help="auto, model, kind or none.")] = "auto",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Fit a workload model (per group and window: rate, CV, family; length quantiles)."""
    from workscope.replay.fit import fit_model

    model = fit_model(_store(home).trace(name), window_s=window_s, group_by=group_by, seed=seed)
    model.save(out_path)
    summary = {"out": str(out_path), "groups": len(model.groups),
               "windows": sum(len(g.windows) for g in model.groups.values()), "span_s": model.span_s}
    if as_json:
        _emit_json(summary)
    else:
        out.print(f"wrote {out_path}: {summary['groups']} groups, {summary['windows']} windows, "
                  f"span {summary['span_s']:,.0f} s")


@replay_app.command("synth")
@handle_errors
def replay_synth(
    model_path: Annotated[Path, typer.Argument(help="Model JSON (replay fit) or a ServeGen data folder.")],
    out_path: Annotated[Path, typer.Option("--out", help="Output file.")],
    to: Annotated[str, typer.Option("--to", help="Target format.")] = "parquet",
    duration: Annotated[float | None, typer.Option("--duration", help="Seconds to generate (default: the model's span).")] = None,
    rate: Annotated[float, typer.Option("--rate", help="Multiply every window's rate.")] = 1.0,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help="Exporter option KEY=VALUE.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Generate a workload from a model and write it for a target."""
    from workscope.replay.model import load
    from workscope.replay.pipeline import export
    from workscope.replay.synth import synthesize

    wl = synthesize(load(model_path), duration_s=duration, rate_scale=rate, seed=seed)
    result, _ = export(wl, to, out_path, options=_parse_options(option))
    if as_json:
        _emit_json(result.to_dict())
    else:
        out.print(f"wrote {result.rows:,} synthetic requests: {', '.join(str(f) for f in result.files)}")
        out.print(f"run: {result.command}", highlight=False, markup=False)


@replay_app.command("sample")
@handle_errors
def replay_sample(
    name: Annotated[str, typer.Argument(help="Trace name (invocations).")],
    functions: Annotated[str, typer.Option("--functions", help="Sample size, or nested sizes N1,N2,... (each inside the next).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for one export per size.")],
    to: Annotated[str, typer.Option("--to", help="Target format.")] = "invitro",
    tries: Annotated[int, typer.Option("--tries", help="Random subsets scored per size (best kept).")] = 10,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Sample functions the InVitro way (Wasserstein-scored, nested) and export each sample."""
    from workscope.replay.pipeline import export
    from workscope.replay.sampling import sample_functions_nested
    from workscope.replay.workload import Workload

    try:
        sizes = sorted({int(x) for x in functions.split(",") if x.strip()})
    except ValueError:
        raise UsageError(f"--functions expects integers, got {functions!r}") from None
    wl = Workload.from_trace(_store(home).trace(name), "invocations")
    samples = sample_functions_nested(wl, sizes, seed=seed, tries=tries)
    docs = []
    for size in sizes:
        res = samples[size]
        exp, _ = export(res.workload, to, out_dir / f"sample_{size}")
        docs.append({"functions": size, "score": res.score, "files": [str(f) for f in exp.files]})
    if as_json:
        _emit_json({"samples": docs})
        return
    t = Table("functions", "score (lower is closer)", "files", title="nested function samples")
    for d in docs:
        t.add_row(str(d["functions"]), f"{d['score']:.4g}", ", ".join(d["files"]))
    out.print(t)


@replay_app.command("fidelity")
@handle_errors
def replay_fidelity(
    a: Annotated[str, typer.Argument(help="Source trace.")],
    b: Annotated[str, typer.Argument(help="Emitted / other trace.")],
    table: Annotated[str | None, typer.Option("--table", help="requests, invocations or jobs.")] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table.")] = False,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Compare two traces' workloads: KS and Wasserstein per quantity."""
    from workscope.replay.fidelity import compare
    from workscope.replay.workload import Workload

    store = _store(home)
    report = compare(Workload.from_trace(store.trace(a), table), Workload.from_trace(store.trace(b), table))
    if as_json:
        _emit_json(report.to_dict())
    elif markdown:
        sys.stdout.write(report.to_markdown())
    else:
        _emit_fidelity(report, False)


predict_app = typer.Typer(help="Predictors: train and evaluate models on tasks built from traces.",
                          no_args_is_help=True)
app.add_typer(predict_app, name="predict")
TraceOpt = Annotated[str | None, typer.Option("--trace", help="Trace to read (default: the task's source name).")]
SizeOpt = Annotated[str, typer.Option("--size", help="tiny (seconds on a CPU) or paper (CloudFormer's sizes).")]
TaskArg = Annotated[str, typer.Argument(help="Task name (see `workscope predict tasks`) or a .toml task spec.")]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="auto (CUDA when present), cpu, cuda, cuda:1, ...")]
CompileOpt = Annotated[bool | None, typer.Option("--compile/--no-compile", help="torch.compile the model for training.")]
Bf16Opt = Annotated[bool | None, typer.Option("--bf16/--no-bf16", help="bf16 autocast on CUDA (default on).")]
BatchOpt = Annotated[int | None, typer.Option("--batch-size", min=1, help="Windows per optimizer step (default 256).")]
LrOpt = Annotated[float | None, typer.Option("--lr", min=0.0, help="Peak learning rate (default 1e-3).")]
LossScaleOpt = Annotated[float | None, typer.Option(
    "--loss-scale", min=0.0, help="log-cosh transition in target stds (default 1; small values approach MAE).")]


def _train_overrides(**given: Any) -> dict[str, Any]:
    """The TrainConfig fields set on the command line (None = keep the preset's value)."""
    return {k: v for k, v in given.items() if v is not None}


@predict_app.command("tasks")
@handle_errors
def predict_tasks(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the reference page (docs/predictors.md).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """List the built-in prediction tasks."""
    from workscope.predictors.run import describe_tasks

    items = describe_tasks()
    if markdown and not as_json:
        from workscope.predictors.reference import reference_markdown

        sys.stdout.write(reference_markdown())
        return
    if as_json:
        _emit_json({"tasks": items})
        return
    t = Table("task", "source trace", "target", "window", "horizon", "split", "description")
    for d in items:
        t.add_row(d["name"], d["source"], d["target"], str(d["window"]), str(d["horizon"]), d["split"],
                  d["description"])
    out.print(t)


@predict_app.command("train")
@handle_errors
def predict_train(
    task: TaskArg,
    model: Annotated[str, typer.Option("--model", help="cloudformer, temporal, system, lstm or dlinear.")] = "cloudformer",
    out_dir: Annotated[Path | None, typer.Option("--out", help="Directory for model.safetensors + config.json.")] = None,
    trace: TraceOpt = None,
    size: SizeOpt = "tiny",
    epochs: Annotated[int | None, typer.Option("--epochs", min=1)] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    device: DeviceOpt = None,
    compile_: CompileOpt = None,
    bf16: Bf16Opt = None,
    batch_size: BatchOpt = None,
    lr: LrOpt = None,
    loss_scale: LossScaleOpt = None,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Train a neural model on a task; report its test metrics and save a checkpoint."""
    from workscope.predictors.run import task as get_task
    from workscope.predictors.run import train_model
    from workscope.predictors.train import save

    overrides = _train_overrides(device=device, compile=compile_, bf16=bf16, batch_size=batch_size, lr=lr,
                                 loss_scale=loss_scale)
    result, _ = train_model(_store(home), get_task(task, trace), model, seed=seed, size=size, epochs=epochs,
                            overrides=overrides)
    saved = str(save(result, out_dir)) if out_dir else None
    doc = {"task": task, "model": model, "seed": seed, "test": result.test, "val": result.val,
           "best_epoch": result.best_epoch, "device": result.device,
           "train_windows_per_s": result.train_windows_per_s, "checkpoint": saved}
    if as_json:
        _emit_json(doc)
    else:
        out.print(f"{model} on {task}: test MAE {result.test['mae']:.4g}, RMSE {result.test['rmse']:.4g} "
                  f"(best epoch {result.best_epoch}, {result.device})" + (f"; saved to {saved}" if saved else ""))


@predict_app.command("eval")
@handle_errors
def predict_eval(
    task: TaskArg,
    models: Annotated[str, typer.Option("--models", help="Comma-separated models (default: all).")] = "",
    seeds: Annotated[str, typer.Option("--seeds", help="Comma-separated seeds (splits and inits).")] = "0,1,2",
    trace: TraceOpt = None,
    size: SizeOpt = "tiny",
    epochs: Annotated[int | None, typer.Option("--epochs", min=1)] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the leaderboard as Markdown.")] = False,
    device: DeviceOpt = None,
    compile_: CompileOpt = None,
    bf16: Bf16Opt = None,
    batch_size: BatchOpt = None,
    lr: LrOpt = None,
    loss_scale: LossScaleOpt = None,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """A leaderboard: MAE, RMSE, MAPE per model on the task's test split, over seeds."""
    from workscope.predictors import leaderboard
    from workscope.predictors.run import evaluate, model_names
    from workscope.predictors.run import task as get_task

    names = [m.strip() for m in models.split(",") if m.strip()] or model_names()
    try:
        seed_list = [int(x) for x in seeds.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--seeds expects integers, got {seeds!r}") from None
    if not seed_list:
        raise UsageError("--seeds needs at least one seed")
    overrides = _train_overrides(device=device, compile=compile_, bf16=bf16, batch_size=batch_size, lr=lr,
                                 loss_scale=loss_scale)
    per_seed, summary = evaluate(_store(home), get_task(task, trace), names, seed_list, size=size, epochs=epochs,
                                 overrides=overrides)
    if as_json:
        _emit_json({"task": task, "summary": leaderboard.to_dict(summary)["rows"],
                    "runs": leaderboard.to_dict(per_seed)["rows"]})
    elif markdown:
        sys.stdout.write(leaderboard.to_markdown(summary) + "\n")
    else:
        t = Table(*summary.columns, title=f"leaderboard: {task} (test split, {len(seed_list)} seeds)")
        for row in summary.iter_rows():
            t.add_row(*["" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
        out.print(t)


@predict_app.command("run")
@handle_errors
def predict_run(
    task: TaskArg,
    out_path: Annotated[Path, typer.Option("--out", help="Parquet file of predictions.")],
    checkpoint: Annotated[Path | None, typer.Option(
        "--checkpoint", help="Predict with this saved model (from `predict train --out`) instead of training.")] = None,
    split: Annotated[str, typer.Option("--split", help="test (unseen windows) or all.")] = "test",
    model: Annotated[str, typer.Option("--model")] = "cloudformer",
    trace: TraceOpt = None,
    size: SizeOpt = "tiny",
    epochs: Annotated[int | None, typer.Option("--epochs", min=1)] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    device: DeviceOpt = None,
    compile_: CompileOpt = None,
    bf16: Bf16Opt = None,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Write a model's predictions (test split, or all windows) to Parquet: trained here, or
    loaded from --checkpoint."""
    import polars as pl

    from workscope.predictors.leaderboard import score
    from workscope.errors import UnknownNameError
    from workscope.predictors.run import SPLITS, from_checkpoint, predictions, train_model
    from workscope.predictors.run import task as get_task

    if split not in SPLITS:
        raise UnknownNameError("prediction split", split, SPLITS)
    store, spec = _store(home), get_task(task, trace)
    if checkpoint is not None:
        predictor, ds, _ = from_checkpoint(store, spec, checkpoint)
    else:
        overrides = _train_overrides(device=device, compile=compile_, bf16=bf16)
        predictor, ds = train_model(store, spec, model, seed=seed, size=size, epochs=epochs, overrides=overrides)
    path = predictions(predictor, ds, out_path, split=split)
    df = pl.read_parquet(path, columns=["split", "y_true", "y_pred"]).filter(pl.col("split") == "test")
    test = score(df["y_true"].to_numpy(), df["y_pred"].to_numpy()) if df.height else {}
    rows = int(pl.scan_parquet(path).select(pl.len()).collect().item())
    if as_json:
        _emit_json({"out": str(path), "rows": rows, "split": split, "test": test})
    else:
        mae = f" (test MAE {test['mae']:.4g})" if test else ""
        out.print(f"wrote {rows:,} predictions to {path}{mae}")


if __name__ == "__main__":  # pragma: no cover
    app()
