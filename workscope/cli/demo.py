"""``workscope demo``: the bundled sample traces, ingested, characterized, reported and replayed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from workscope.cli.params import Home, JsonFlag, open_store
from workscope.cli.render import emit, err, handle_errors, out, progress, rows_table
from workscope.cli.replay import print_fidelity
from workscope.errors import UsageError

if TYPE_CHECKING:
    from pathlib import Path

    from rich.table import Table

    from workscope.ingest.pipeline import IngestResult


@handle_errors
def demo(
    home: Home = None,
    as_json: JsonFlag = False,
    reports: Annotated[bool, typer.Option("--reports/--no-reports", help="Also characterize the samples and write their reports.")] = True,
) -> None:
    """Ingest the bundled sample traces, characterize them and write their reports."""
    from workscope.samples import ingest_samples, replay_samples, report_samples

    store = open_store(home)
    if store.object is not None and not store.object.local:
        raise UsageError(f"demo writes its reports and replay files beside the store, in folders: give a "
                         f"local --home, not {store.location}")
    with progress(not as_json and err.is_terminal) as say:
        results = ingest_samples(store, progress=say)
    written = report_samples(store, store.home / "reports") if reports else {}
    replays = replay_samples(store, store.home / "replay")
    emit(as_json, lambda: _demo_doc(store.home, results, written, replays),
         lambda: _print_demo(store.home, results, written, replays))


def _demo_doc(home: Path, results: list[IngestResult], written: dict[str, Any],
              replays: list[tuple[Any, Any]]) -> dict[str, Any]:
    return {"home": str(home), "traces": [r.to_dict() for r in results],
            "reports": {k: v.to_dict() for k, v in written.items()},
            "replay": [{**e.to_dict(), "fidelity": f.to_dict() if f else None} for e, f in replays]}


def _print_demo(home: Path, results: list[IngestResult], written: dict[str, Any],
                replays: list[tuple[Any, Any]]) -> None:
    out.print(_traces_table(home, results))
    if written:
        out.print(rows_table(("trace", "charts", "report"),
                             ((k, str(v.charts), str(v.html)) for k, v in written.items()),
                             title="reports (open report.html in a browser; works offline)"))
    for exported, report in replays:
        out.print(f"replay: {exported.rows:,} rows for {exported.target} in "
                  f"{', '.join(str(f) for f in exported.files[:1])}", highlight=False)
        out.print(f"  run: {exported.command}", highlight=False, markup=False)
        if report:
            print_fidelity(report)
    out.print("next: workscope ls · workscope show NAME · workscope characterize azure_llm_conv · "
              "workscope sql 'SELECT count(*) FROM azure_llm_conv.requests'")


def _traces_table(home: Path, results: list[IngestResult]) -> Table:
    """One row per table of each sample trace; the trace's own columns on its first row only."""
    from workscope.samples import SAMPLES

    rows = []
    for sample, r in zip(SAMPLES, results):
        for i, (tab, st) in enumerate(r.manifest["tables"].items()):
            span = f"{st['time']['max_s'] - st['time']['min_s']:,.0f}" if st.get("time") else ""
            first = i == 0
            rows.append((r.name if first else "", sample.format if first else "", r.status if first else "",
                         tab, f"{st['rows_ok']:,}", f"{st['rows_rejected']:,}", span,
                         sample.about if first else ""))
    return rows_table(("trace", "format", "status", "table", "rows ok", "rejected", "span (s)", "about"),
                      rows, title=f"workscope demo: {len(results)} sample traces in {home}")


def register(app: typer.Typer) -> None:
    """Add the demo command to ``app``."""
    app.command()(demo)
