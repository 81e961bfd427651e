"""``workscope replay``: export workloads for other systems, fit and synthesize, sample, fidelity."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
    parse_ints,
    parse_options,
)
from workscope.cli.render import cell, emit, emit_json, emit_raw, handle_errors, out, rows_table
from workscope.errors import UsageError

if TYPE_CHECKING:
    from workscope.replay.check import CheckReport
    from workscope.replay.exporters.base import ExportResult
    from workscope.replay.fidelity import FidelityReport
    from workscope.replay.samples_export import SampleExport

app = typer.Typer(help="Replay workloads: export for other systems, fit and synthesize, sample, fidelity.",
                  no_args_is_help=True)
SeedOpt = Annotated[int, typer.Option("--seed")]
ExporterOptions = Annotated[list[str] | None, typer.Option("--option", "-o", help="Exporter option KEY=VALUE.")]


def parse_window(text: str | None) -> tuple[float | None, float | None] | None:
    """``--window START:END`` in seconds, either end may be empty."""
    if text is None:
        return None
    a, sep, b = text.partition(":")
    if not sep:
        raise UsageError(f"--window expects START:END in seconds (either may be empty), got {text!r}")
    try:
        bounds = (float(a) if a else None, float(b) if b else None)
    except ValueError:
        raise UsageError(f"--window expects numbers, got {text!r}") from None
    if any(x is not None and not math.isfinite(x) for x in bounds):
        raise UsageError(f"--window expects finite numbers of seconds (leave an end empty for open), got {text!r}")
    return bounds


def parse_filters(pairs: list[str] | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Repeated ``--filter COLUMN=V1,V2`` as (column, values) pairs."""
    filters = []
    for p in pairs or []:
        col, sep, vals = p.partition("=")
        if not sep or not col:
            raise UsageError(f"--filter expects COLUMN=V1,V2, got {p!r}")
        filters.append((col.strip(), tuple(v for v in vals.split(",") if v != "")))
    return tuple(filters)


def print_fidelity(report: FidelityReport) -> None:
    """A fidelity report as a table: KS and Wasserstein per quantity."""
    columns = ("quantity", "n source", "n emitted", "mean source", "mean emitted", "KS", "Wasserstein")
    out.print(rows_table(columns, ([cell(v) for v in r.values()] for r in report.rows.iter_rows(named=True)),
                         title=f"fidelity of {report.emitted} to {report.source}"))


def _print_written(result: ExportResult, what: str) -> None:
    out.print(f"wrote {result.rows:,} {what}: {', '.join(str(f) for f in result.files)}")


@app.command("targets")
@handle_errors
def replay_targets(as_json: JsonFlag = False, markdown: MarkdownRef = False) -> None:
    """List the systems workscope exports workloads for."""
    from workscope.replay.exporters import registry as reg

    if markdown:
        emit_raw(reg.targets_markdown())
        return
    items = [reg.get(n).describe() for n in reg.names()]
    emit(as_json, lambda: {"targets": items}, lambda: out.print(rows_table(
        ("target", "workloads", "description"),
        ((d["name"], ", ".join(d["tables"]), d["description"]) for d in items), title="replay targets")))


@app.command("export")
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
    option: ExporterOptions = None,
    fidelity: Annotated[bool, typer.Option("--fidelity", help="Compare the emitted workload with the source trace as it was before any transform.")] = False,
    print_command: Annotated[bool, typer.Option("--print-command", help="Print only the command that runs the target.")] = False,
    home: Home = None,
    as_json: JsonFlag = False,
    engine: EngineOpt = "duckdb",
    spark_master: SparkMasterOpt = "local[*]",
    spark_conf: SparkConfOpt = None,
) -> None:
    """Export a trace (optionally transformed) in the format a target system reads.

    With --engine spark the selection (--filter, then --window or --busiest) runs on Spark and
    only the rows selected come to this machine; the file written is the same."""
    from workscope.replay.pipeline import TransformSpec, export

    eng = make_engine(engine, spark_master, spark_conf)
    spec = TransformSpec(filters=parse_filters(filter_), window=parse_window(window), busiest_min=busiest,
                         sample_sessions=sample_sessions, sample_jobs=sample_jobs, rate_scale=rate_scale,
                         target_rate_per_s=target_rate, speed=speed, compress_idle_s=compress_idle, seed=seed)
    result, report = export(open_store(home).trace(name), to, out_path, spec=spec,
                            options=parse_options(option), fidelity=fidelity, table=table, engine=eng)
    if as_json:
        emit_json({**result.to_dict(), "fidelity": report.to_dict() if report else None})
    elif print_command:
        emit_raw(result.command + "\n")
    else:
        _print_export(result, report)


def _print_export(result: ExportResult, report: FidelityReport | None) -> None:
    _print_written(result, f"rows for {result.target}")
    for n in result.notes:
        out.print(f"  [dim]{n}[/]", highlight=False)
    out.print(f"run: {result.command}", highlight=False, markup=False)
    if report:
        print_fidelity(report)


@app.command("fit")
@handle_errors
def replay_fit(
    name: Annotated[str, typer.Argument(help="Trace name (requests).")],
    out_path: Annotated[Path, typer.Option("--out", help="Model JSON to write.")],
    window_s: Annotated[float, typer.Option("--window-s", help="Window of the per-window fits (s).")] = 600.0,
    group_by: Annotated[str, typer.Option("--group-by", help="auto, model, kind or none.")] = "auto",
    seed: SeedOpt = 0,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Fit a workload model (per group and window: rate, CV, family; length quantiles)."""
    from workscope.replay.fit import fit_model

    if out_path.is_dir():  # before the fit, which can take a while
        raise UsageError(f"--out {out_path} is a directory; give the model file to write "
                         f"(e.g. {out_path / 'model.json'})")
    model = fit_model(open_store(home).trace(name), window_s=window_s, group_by=group_by, seed=seed)
    model.save(out_path)
    summary = {"out": str(out_path), **model.summary()}
    emit(as_json, lambda: summary, lambda: out.print(
        f"wrote {out_path}: {summary['groups']} groups, {summary['windows']} windows, "
        f"span {summary['span_s']:,.0f} s"))


@app.command("synth")
@handle_errors
def replay_synth(
    model_path: Annotated[Path, typer.Argument(help="Model JSON (replay fit) or a ServeGen data folder.")],
    out_path: Annotated[Path, typer.Option("--out", help="Output file.")],
    to: Annotated[str, typer.Option("--to", help="Target format.")] = "parquet",
    duration: Annotated[float | None, typer.Option("--duration", help="Seconds to generate (default: the model's span).")] = None,
    rate: Annotated[float, typer.Option("--rate", help="Multiply every window's rate.")] = 1.0,
    seed: SeedOpt = 0,
    option: ExporterOptions = None,
    as_json: JsonFlag = False,
) -> None:
    """Generate a workload from a model and write it for a target."""
    from workscope.replay.exporters import registry
    from workscope.replay.model import load
    from workscope.replay.pipeline import check_out, export
    from workscope.replay.synth import synthesize

    # the target, --out and options are checked before the synthesis, which can take a while
    options = parse_options(option)
    check_out(out_path, to)
    registry.get(to).resolve_options(options)
    wl = synthesize(load(model_path), duration_s=duration, rate_scale=rate, seed=seed)
    result, _ = export(wl, to, out_path, options=options)
    emit(as_json, result.to_dict, lambda: _print_synth(result))


def _print_synth(result: ExportResult) -> None:
    _print_written(result, "synthetic requests")
    out.print(f"run: {result.command}", highlight=False, markup=False)


@app.command("sample")
@handle_errors
def replay_sample(
    name: Annotated[str, typer.Argument(help="Trace name (invocations).")],
    functions: Annotated[str, typer.Option("--functions", help="Sample size, or nested sizes N1,N2,... (each inside the next).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for one export per size.")],
    to: Annotated[str, typer.Option("--to", help="Target format.")] = "invitro",
    tries: Annotated[int, typer.Option("--tries", help="Random subsets scored per size (best kept).")] = 10,
    seed: SeedOpt = 0,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Sample functions the InVitro way (Wasserstein-scored, nested) and export each sample."""
    from workscope.replay.samples_export import export_samples

    sizes = parse_ints(functions, "--functions")
    exports = export_samples(open_store(home).trace(name), sizes, to, out_dir, seed=seed, tries=tries)
    emit(as_json, lambda: {"samples": [e.to_dict() for e in exports]}, lambda: _print_samples(exports))


def _print_samples(exports: list[SampleExport]) -> None:
    docs = [e.to_dict() for e in exports]
    out.print(rows_table(("functions", "score (lower is closer)", "files"),
                    ((str(d["functions"]), f"{d['score']:.4g}", ", ".join(d["files"])) for d in docs),
                    title="nested function samples"))


@app.command("fidelity")
@handle_errors
def replay_fidelity(
    a: Annotated[str, typer.Argument(help="Source: a trace name or a workload file (replay export --to parquet).")],
    b: Annotated[str, typer.Argument(help="Emitted / other: a trace name or a workload file.")],
    table: Annotated[str | None, typer.Option("--table", help="requests, invocations or jobs.")] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table.")] = False,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Compare two workloads (trace names or workload files): KS and Wasserstein per quantity."""
    from functools import cache

    from workscope.replay.fidelity import compare, resolve

    # the store is opened only when a side names a trace: two files need none
    store = cache(lambda: open_store(home))
    report = compare(resolve(a, store, table), resolve(b, store, table))
    if as_json:
        emit_json(report.to_dict())
    elif markdown:
        emit_raw(report.to_markdown())
    else:
        print_fidelity(report)


@app.command("check")
@handle_errors
def replay_check(
    plan: Annotated[str, typer.Argument(help="Plan: a trace name (its requests) or a workload file (replay export --to parquet).")],
    result: Annotated[str, typer.Argument(help="Result: a trace name whose responses table holds what the load generator measured.")],
    window_s: Annotated[float, typer.Option("--window-s", help="Window of the per-window counts (s).")] = 1.0,
    match: Annotated[str, typer.Option("--match", help="auto (request_id when both sides keep one, else order), id or order.")] = "auto",
    max_lateness_p99: Annotated[float, typer.Option("--max-lateness-p99", help="Largest p99 send lateness (s) of a run on schedule.")] = 0.050,
    max_interarrival_ks: Annotated[float, typer.Option("--max-interarrival-ks", help="Largest inter-arrival KS of a run on schedule.")] = 0.1,
    max_window_ks: Annotated[float | None, typer.Option("--max-window-ks", help="Largest per-window count KS (default: not judged).")] = None,
    max_token_mismatch: Annotated[float, typer.Option("--max-token-mismatch", help="Largest share of requests whose tokens differ from the plan.")] = 0.01,
    max_loss: Annotated[float, typer.Option("--max-loss", help="Largest share of planned requests dropped or failed.")] = 0.01,
    token_rel_tol: Annotated[float, typer.Option("--token-rel-tol", help="Relative token difference still counted as equal.")] = 0.0,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print Markdown tables.")] = False,
    home: Home = None,
    as_json: JsonFlag = False,
) -> None:
    """Check a load generator's run against its plan: lateness, arrivals, tokens, losses, verdict."""
    from functools import cache

    from workscope.replay.check import Thresholds, check

    thresholds = Thresholds(max_lateness_p99, max_interarrival_ks, max_window_ks, max_token_mismatch, max_loss,
                            token_rel_tol)
    # the store is opened only when a side names a trace (the plan may be a file)
    store = cache(lambda: open_store(home))
    report = check(plan, result, store, window_s=window_s, match=match, thresholds=thresholds)  # type: ignore[arg-type]
    if as_json:
        emit_json(report.to_dict())
    elif markdown:
        emit_raw(report.to_markdown())
    else:
        _print_check(report)


def _print_check(report: CheckReport) -> None:
    r, la, t = report.requests, report.lateness_s, report.timing
    out.print(f"replay of {report.result} against plan {report.plan}: [bold]{report.verdict}[/] "
              f"(matched by {report.matched_by})", highlight=False)
    out.print(f"requests: {r['planned']:,} planned, {r['in_result']:,} in result, {r['matched']:,} matched, "
              f"{r['dropped']:,} dropped, {r['failed']:,} failed, {r['extra']:,} extra", highlight=False)
    out.print(f"send lateness (s): p50 {cell(la['p50'])}, p99 {cell(la['p99'])}, max {cell(la['max'])}; "
              f"KS inter-arrival {cell(t['interarrival_ks'])}, count per {t['window_s']:g} s "
              f"{cell(t['window_count_ks'])}", highlight=False)
    out.print(rows_table(("tokens", "n", "planned", "realised", "mismatched", "mismatch share"),
                         ([cell(v) for v in d.values()] for d in report.tokens.to_dicts()), title="tokens"))
    out.print(rows_table(("check", "value", "threshold", "passed", "on failure"),
                         ((d["check"], cell(d["value"]), cell(d["threshold"]),
                           "" if d["passed"] is None else "yes" if d["passed"] else "no", d["verdict"])
                          for d in report.checks.to_dicts()), title="checks"))
    for n in report.notes:
        out.print(f"  [dim]{n}[/]", highlight=False)
