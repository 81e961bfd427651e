"""Characterization: one module per topic, each a list of analyses over one trace.

>>> from workscope.analysis import characterize
>>> profile = characterize(store.trace("conv"))
>>> profile["arrivals"].summary["cv_interarrival"]
>>> profile.to_json()

Modules (explicit, in report order): arrivals (rates, burstiness), fitting (fitted
distributions, per-window fits), llm (tokens, sessions, failures, prefix reuse),
serverless (popularity, cold starts, keep-alive), cluster (utilization, queueing,
fairness), usage (metric summaries, correlation), latency (TTFT / TPOT / latency of
load-generator results, goodput under SLOs).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workscope.analysis.base import Analysis, Context, Options, Result
from workscope.errors import UnknownNameError
from workscope.jsonable import json_ready

if TYPE_CHECKING:
    from workscope.store import Trace

log = logging.getLogger(__name__)

MODULES = ("arrivals", "fitting", "llm", "serverless", "cluster", "usage", "latency")


def analyses() -> list[Analysis]:
    """Every registered analysis, in report order."""
    out: list[Analysis] = []
    for m in MODULES:
        out.extend(importlib.import_module(f"workscope.analysis.{m}").ANALYSES)
    return out


def get(name: str) -> Analysis:
    """The analysis called ``name`` (UnknownNameError with close names otherwise)."""
    table = {a.name: a for a in analyses()}
    if name not in table:
        raise UnknownNameError("analysis", name, table)
    return table[name]


@dataclass(frozen=True)
class Profile:
    """Everything characterize() found about a trace: results by name, and what was skipped."""

    trace: str
    results: dict[str, Result]
    skipped: dict[str, str] = field(default_factory=dict)
    options: Options = field(default_factory=Options)

    def __getitem__(self, name: str) -> Result:
        if name not in self.results:
            raise UnknownNameError("analysis result", name, self.results)
        return self.results[name]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.results.values())

    def to_dict(self, max_rows: int = 1000) -> dict[str, Any]:
        """JSON-ready form of the whole profile."""
        return {
            "trace": self.trace,
            "options": json_ready(self.options.__dict__),
            "results": {k: r.to_dict(max_rows) for k, r in self.results.items()},
            "skipped": self.skipped,
        }

    def to_json(self, max_rows: int = 1000) -> str:
        """The profile as one JSON document."""
        return json.dumps(self.to_dict(max_rows), indent=2)

    def _repr_html_(self) -> str:
        return "\n".join(r._repr_html_() for r in self.results.values())


def characterize(
    trace: Trace,
    *,
    only: Iterable[str] | None = None,
    options: Options | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    engine: Any = None,
) -> Profile:
    """Run every analysis that applies to ``trace`` (or those named in ``only``).

    ``progress`` is called with (message, analyses done, analyses in all) before each
    analysis and once at the end.

    An analysis that does not apply (the trace lacks the table or columns it needs) is
    listed in ``skipped`` with the reason; one that fails raises.

    ``engine``: None or ``"duckdb"`` (DuckDB, the default), ``"spark"`` (a
    :class:`~workscope.spark.SparkEngine` on ``local[*]``), or an engine object (a
    ``SparkEngine(master, conf)``), with the trace registered as its default.
    """
    ctx = Context(trace, options, engine=_engine_for(trace, engine))
    chosen = [get(n) for n in only] if only is not None else analyses()
    results: dict[str, Result] = {}
    skipped: dict[str, str] = {}
    for i, a in enumerate(chosen):
        if not a.applies(ctx):
            skipped[a.name] = "the trace lacks the tables or columns it needs"
            continue
        log.info("running %s", a.name)
        if progress is not None:
            progress(f"{trace.name}: {a.name}", i, len(chosen))
        results[a.name] = dataclasses.replace(a.run(ctx), origin_utc=ctx.origin_utc)
    if progress is not None:
        progress(f"{trace.name}: done", len(chosen), len(chosen))
    return Profile(trace.name, results, skipped, ctx.options)


def _engine_for(trace: Trace, engine: Any) -> Any:
    """The engine ``characterize`` runs on (None: the Context's own DuckDB engine)."""
    if isinstance(engine, str):
        from workscope.spark import spark_engine

        engine = spark_engine(engine)
    if engine is None:
        return None
    engine.register_trace(trace, default=True)
    return engine


__all__ = ["Analysis", "Context", "Options", "Profile", "Result", "analyses", "characterize", "get"]
