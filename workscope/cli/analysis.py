"""Characterization commands: characterize, report, compare."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workscope.cli.params import (
    EngineOpt,
    Home,
    JsonFlag,
    SparkConfOpt,
    SparkMasterOpt,
    make_engine,
    open_store,
    split_names,
)
from workscope.cli.render import emit, err, handle_errors, out, progress, rows_table
from workscope.jsonable import json_ready

if TYPE_CHECKING:
    from workscope.analysis import Options, Profile
    from workscope.reports.html import ReportFiles

OnlyOpt = Annotated[str | None, typer.Option("--only", help="Comma-separated analyses to run (default: all that apply).")]
PngOpt = Annotated[bool, typer.Option("--png/--no-png", help="Write a PNG per chart (--no-png: no images; same as --formats '').")]
FormatsOpt = Annotated[str | None, typer.Option(
    "--formats", help="Image files per chart, comma-separated: png, svg, pdf (default png). "
                      "Named by what they show, e.g. charts/arrivals-requests-arrival-rate.svg.")]
ScaleOpt = Annotated[float, typer.Option("--scale", min=0.5, max=8.0,
                                         help="PNG size as a multiple of the chart's size (default 2, for print).")]
FullOpt = Annotated[bool, typer.Option("--full", help="Print every figure with its meaning, not only the headlines.")]
SloOpt = Annotated[str | None, typer.Option(
    "--slo", help="Latency SLOs for goodput, e.g. ttft=200ms,tpot=50ms,latency=2s (units us, ms, s, m).")]


def _options(slo: str | None) -> Options:
    """Analysis options carrying the ``--slo`` bounds (parsed, so a bad one fails before any work)."""
    from workscope.analysis import Options
    from workscope.analysis.latency import parse_slos

    return Options(slos=parse_slos(slo))


def _only(value: str | None) -> list[str] | None:
    """``--only`` as a list of analyses; None (every analysis that applies) when not given."""
    return split_names(value) if value else None


def _formats(formats: str | None, png: bool) -> tuple[str, ...]:
    """``--formats`` (checked now, so a typo fails before any work), else PNG unless --no-png."""
    from workscope.reports.html import check_formats

    return check_formats(formats.split(",")) if formats is not None else (("png",) if png else ())


@handle_errors
def characterize(
    name: Annotated[str, typer.Argument(help="Trace name.")],
    only: OnlyOpt = None,
    slo: SloOpt = None,
    full: FullOpt = False,
    engine: EngineOpt = "duckdb",
    spark_master: SparkMasterOpt = "local[*]",
    spark_conf: SparkConfOpt = None,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Characterize a trace: arrivals, burstiness, fits, tokens, cold starts, utilization...

    Prints one headline per analysis in words and units; --full adds every figure with its
    meaning, --json the whole profile (exact values, tables and headlines).
    """
    from workscope.analysis import characterize as run

    options = _options(slo)
    trace = open_store(home).trace(name)
    eng = make_engine(engine, spark_master, spark_conf)
    with progress(not as_json and err.is_terminal) as say:
        profile = run(trace, only=_only(only), options=options, progress=say, engine=eng)
    emit(as_json, profile.to_dict, lambda: _print_profile(profile, full))


def _figure(value: Any) -> str:
    """A summary figure as table text, cut to 160 characters."""
    v = json_ready(value)
    text = f"{v:.6g}" if isinstance(v, float) else json.dumps(v) if isinstance(v, (dict, list)) else str(v)
    return text if len(text) < 160 else text[:157] + "..."


def _print_profile(profile: Profile, full: bool = False) -> None:
    from workscope.analysis.glossary import describe, show

    out.print(f"[bold]{profile.trace}[/]", highlight=False)
    for r in profile.results.values():
        out.print(f"\n[bold]{r.title}[/]\n  {r.headline}", highlight=False)
        if full:
            out.print(rows_table(("figure", "value", "meaning"),
                                 ((k, show(k, v), t.text if (t := describe(k)) else "") for k, v in r.summary.items()),
                                 title=None))
            for n in r.notes:
                out.print(f"  [dim]{n}[/]", highlight=False)
    figures = sum(len(r.summary) for r in profile.results.values())
    if not full:
        out.print(f"\n[dim]{figures} figures in all: --full prints them with their meaning, --json as data[/]",
                  highlight=False)
    if profile.skipped and full:
        out.print(f"not applicable: {', '.join(profile.skipped)}")
    elif profile.skipped:
        out.print(f"[dim]{len(profile.skipped)} analyses do not apply to this trace's tables (--full names them)[/]",
                  highlight=False)


def _print_files(files: ReportFiles) -> None:
    kinds = sorted({p.suffix.lstrip(".").upper() for p in files.images})
    images = f", {len(files.images)} images ({', '.join(kinds)}) in {files.images[0].parent}" if files.images else ""
    out.print(f"wrote {files.html} ({files.charts} charts), {files.markdown}{images}")


@handle_errors
def report(
    name: Annotated[str, typer.Argument(help="Trace name.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for report.html, summary.md and charts/.")],
    only: OnlyOpt = None,
    png: PngOpt = True,
    formats: FormatsOpt = None,
    scale: ScaleOpt = 2.0,
    slo: SloOpt = None,
    engine: EngineOpt = "duckdb",
    spark_master: SparkMasterOpt = "local[*]",
    spark_conf: SparkConfOpt = None,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Write a self-contained HTML report (offline), chart images and a Markdown summary."""
    from workscope.analysis import characterize as run
    from workscope.reports.html import write_report

    fmts = _formats(formats, png)
    options = _options(slo)
    trace = open_store(home).trace(name)
    eng = make_engine(engine, spark_master, spark_conf)
    with progress(not as_json and err.is_terminal) as say:
        profile = run(trace, only=_only(only), options=options, progress=say, engine=eng)
        files = write_report(profile, out_dir, manifest=trace.manifest, formats=fmts, scale=scale, progress=say)
    emit(as_json, files.to_dict, lambda: _print_files(files))


@handle_errors
def compare(
    a: Annotated[str, typer.Argument(help="First trace.")],
    b: Annotated[str, typer.Argument(help="Second trace.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the comparison report.")],
    only: OnlyOpt = None,
    png: PngOpt = True,
    formats: FormatsOpt = None,
    scale: ScaleOpt = 2.0,
    slo: SloOpt = None,
    engine: EngineOpt = "duckdb",
    spark_master: SparkMasterOpt = "local[*]",
    spark_conf: SparkConfOpt = None,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Put two traces side by side: figures and charts (on shared axes) of every analysis both support."""
    from workscope.analysis import characterize as run
    from workscope.analysis.latency import compare as compare_latency
    from workscope.atomic import write_atomic
    from workscope.reports.html import write_compare

    fmts = _formats(formats, png)
    store = open_store(home)
    options = _options(slo)
    ta, tb = store.trace(a), store.trace(b)
    eng_a = make_engine(engine, spark_master, spark_conf)
    eng_b = make_engine(engine, spark_master, spark_conf)  # the same shared Spark session
    with progress(not as_json and err.is_terminal) as say:
        pa = run(ta, only=_only(only), options=options, progress=say, engine=eng_a)
        pb = run(tb, only=_only(only), options=options, progress=say, engine=eng_b)
        files = write_compare(pa, pb, out_dir, formats=fmts, scale=scale, progress=say)
    # Two load-generator results: latency quantiles side by side (B - A, B / A) and both CDFs.
    lat = (compare_latency(pa.results["latency"], pb.results["latency"], a, b)
           if "latency" in pa.results and "latency" in pb.results else None)
    if lat is not None:
        write_atomic(out_dir / "latency_compare.json", lat.to_json())

    def doc() -> dict[str, Any]:
        d = files.to_dict()
        if lat is not None:
            d["latency_compare"] = lat.to_dict()
        return d

    def show() -> None:
        _print_files(files)
        if lat is not None:
            q = lat.tables["quantiles"]
            out.print(rows_table(("metric", "quantile", a, b, "B - A", "B / A"),
                                 ((r["metric"], r["quantile"], _figure(r["a"]), _figure(r["b"]),
                                   _figure(r["diff"]), _figure(r["ratio"])) for r in q.iter_rows(named=True)),
                                 title=lat.title, title_justify="left"))

    emit(as_json, doc, show)


def register(app: typer.Typer) -> None:
    """Add this group's commands to ``app``, in the order ``--help`` lists them."""
    for command in (characterize, report, compare):
        app.command()(command)
