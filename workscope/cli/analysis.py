"""Characterization commands: characterize, report, compare."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workscope.cli.params import Home, JsonFlag, open_store, split_names
from workscope.cli.render import emit, handle_errors, out, rows_table
from workscope.jsonable import json_ready

if TYPE_CHECKING:
    from workscope.analysis import Options, Profile
    from workscope.reports.html import ReportFiles

OnlyOpt = Annotated[str | None, typer.Option("--only", help="Comma-separated analyses to run (default: all that apply).")]
PngOpt = Annotated[bool, typer.Option("--png/--no-png", help="Also write a PNG per chart.")]
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


@handle_errors
def characterize(
    name: Annotated[str, typer.Argument(help="Trace name.")],
    only: OnlyOpt = None,
    slo: SloOpt = None,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Characterize a trace: arrivals, burstiness, fits, tokens, cold starts, utilization..."""
    from workscope.analysis import characterize as run

    profile = run(open_store(home).trace(name), only=_only(only), options=_options(slo))
    emit(as_json, profile.to_dict, lambda: _print_profile(profile))


def _figure(value: Any) -> str:
    """A summary figure as table text, cut to 160 characters."""
    v = json_ready(value)
    text = f"{v:.6g}" if isinstance(v, float) else json.dumps(v) if isinstance(v, (dict, list)) else str(v)
    return text if len(text) < 160 else text[:157] + "..."


def _print_profile(profile: Profile) -> None:
    for r in profile.results.values():
        out.print(rows_table(("figure", "value"), ((k, _figure(v)) for k, v in r.summary.items()),
                        title=r.title, title_justify="left"))
        for n in r.notes:
            out.print(f"  [dim]{n}[/]", highlight=False)
    if profile.skipped:
        out.print(f"not applicable: {', '.join(profile.skipped)}")


def _print_files(files: ReportFiles) -> None:
    out.print(f"wrote {files.html} ({files.charts} charts), {files.markdown}, {len(files.pngs)} PNGs")


@handle_errors
def report(
    name: Annotated[str, typer.Argument(help="Trace name.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for report.html, summary.md and charts/.")],
    only: OnlyOpt = None,
    png: PngOpt = True,
    slo: SloOpt = None,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Write a self-contained HTML report (offline), PNG charts and a Markdown summary."""
    from workscope.analysis import characterize as run
    from workscope.reports.html import write_report

    trace = open_store(home).trace(name)
    files = write_report(run(trace, only=_only(only), options=_options(slo)), out_dir, png=png, manifest=trace.manifest)
    emit(as_json, files.to_dict, lambda: _print_files(files))


@handle_errors
def compare(
    a: Annotated[str, typer.Argument(help="First trace.")],
    b: Annotated[str, typer.Argument(help="Second trace.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the comparison report.")],
    only: OnlyOpt = None,
    png: PngOpt = True,
    slo: SloOpt = None,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Put two traces side by side: figures and charts of every analysis both support."""
    from workscope.analysis import characterize as run
    from workscope.analysis.latency import compare as compare_latency
    from workscope.atomic import write_atomic
    from workscope.reports.html import write_compare

    store = open_store(home)
    options = _options(slo)
    pa, pb = run(store.trace(a), only=_only(only), options=options), run(store.trace(b), only=_only(only), options=options)
    files = write_compare(pa, pb, out_dir, png=png)
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
