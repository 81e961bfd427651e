"""What every analysis is made of: options, the context it runs in, and its result.

An analysis is a pure function ``run(ctx) -> Result`` over one trace. It aggregates in
DuckDB (SQL in ``analysis/sql/<name>.sql``, run through :meth:`Context.sql`) and pulls only
small aggregated tables or bounded, seeded samples into Python. A :class:`Result` holds
those tables plus scalar figures; it renders its figures and tables in notebooks and
serializes to JSON. Charts are drawn by the reports layer
(:func:`workscope.reports.charts.charts_for`), which reads results.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from workscope import schemas
from workscope.errors import UsageError
from workscope.jsonable import json_ready

if TYPE_CHECKING:
    from workscope.engine import DuckDBEngine
    from workscope.store import Trace

# Columns that name who issued an event, per table, in the order an analysis prefers them
# for "per model / function / user / client" breakdowns.
GROUP_COLUMNS: dict[str, tuple[str, ...]] = {
    "requests": ("model", "kind"),
    "invocations": ("function_id", "app_id", "trigger"),
    "invocation_counts": ("function_id", "app_id", "trigger"),
    "jobs": ("user", "queue", "group"),
    "usage": ("metric",),
}


def time_column(table: str) -> str:
    """The time column of canonical table ``table`` (as declared in :mod:`workscope.schemas`)."""
    column = schemas.table(table).time_column
    if column is None:
        raise UsageError(f"table {table!r} has no time column")
    return column


@dataclass(frozen=True)
class Options:
    """Knobs shared by the analyses (every field has a default that suits public traces)."""

    windows_s: tuple[float, ...] = field(
        default=(1.0, 10.0, 60.0, 600.0, 3600.0),
        metadata={"help": "window lengths (s) for rate series, Fano curve and peak-to-mean"},
    )
    fit_window_s: float = field(default=600.0, metadata={"help": "window (s) of the per-window fits"})
    max_sample: int = field(
        default=200_000, metadata={"help": "largest seeded sample pulled into Python for fitting"}
    )
    lru_blocks: tuple[int, ...] = field(
        default=(64, 256, 1024, 4096, 16384, 65536, 262144),
        metadata={"help": "LRU prefix-cache sizes (blocks) for the hit-ratio sweep"},
    )
    keepalive_min: tuple[int, ...] = field(
        default=(1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120),
        metadata={"help": "keep-alive windows (minutes) for the cold-start sweep"},
    )
    top_groups: int = field(default=10, metadata={"help": "groups shown in per-group tables"})
    memory_mb: int = field(
        default=256,
        metadata={"help": "DuckDB memory limit; larger sorts spill to a temporary directory, so "
                          "memory stays flat as traces grow (0 = DuckDB's default)"},
    )
    seed: int = field(default=0, metadata={"help": "seed of every sample"})
    slos: tuple[tuple[str, float], ...] = field(
        default=(),
        metadata={"help": "latency SLOs as (measure, bound in s) pairs, measure one of ttft, tpot, "
                          "latency; goodput counts ok requests meeting all of them (none: no goodput)"},
    )


@dataclass(frozen=True)
class Result:
    """What an analysis returns: small tables and scalar figures, ready for JSON and charts.

    ``tables`` hold aggregated data (rate series, CDF points, fits...), never raw rows.
    ``summary`` holds JSON-ready scalars and short lists. ``notes`` say what was assumed or
    skipped (sampled, a column absent...).
    """

    name: str
    title: str
    summary: dict[str, Any]
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    kind: str = ""  # the family of results read alike (every arrivals_<table>...); readers dispatch on it
    origin_utc: str | None = None
    """The trace's time origin (ISO-8601 UTC; None without a wall clock): times in ``tables``
    are seconds since it, so charts can show dates. Set by :func:`characterize`."""

    def to_dict(self, max_rows: int = 1000) -> dict[str, Any]:
        """JSON-ready form; tables as lists of records (at most ``max_rows`` each)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "title": self.title,
            "headline": self.headline,
            "summary": json_ready(self.summary),
            "tables": {k: json_ready(v.head(max_rows).to_dicts()) for k, v in self.tables.items()},
            "truncated": {k: v.height for k, v in self.tables.items() if v.height > max_rows},
            "notes": list(self.notes),
        }

    @property
    def headline(self) -> str:
        """The result in one line of words and units (:mod:`workscope.analysis.headlines`)."""
        from workscope.analysis.headlines import headline

        return headline(self)

    def to_json(self) -> str:
        """The result as a JSON document."""
        return json.dumps(self.to_dict(), indent=2)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
            f"<td style='text-align:left'>{html.escape(_short(v))}</td></tr>"
            for k, v in self.summary.items()
        )
        parts = [f"<h4>{html.escape(self.title)}</h4><table>{rows}</table>"]
        for name, df in self.tables.items():
            parts.append(f"<p><b>{html.escape(name)}</b> ({df.height} rows)</p>{df.head(10)._repr_html_()}")
        for n in self.notes:
            parts.append(f"<p><i>{html.escape(n)}</i></p>")
        return "\n".join(parts)


def _short(v: Any) -> str:
    text = json.dumps(json_ready(v))
    return text if len(text) < 300 else text[:297] + "..."


@dataclass
class Findings:
    """A :class:`Result` being assembled by the steps of one analysis.

    Each step adds its figures, tables and notes; insertion order is the order of the
    result's JSON, so the steps run in the order a reader meets them.
    """

    summary: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def result(self, name: str, title: str, kind: str) -> Result:
        """The finished result."""
        return Result(name, title, self.summary, self.tables, tuple(self.notes), kind=kind)


_IDENT = re.compile(r"\{(\w+)\}")


class Context:
    """What an analysis sees: the trace, a DuckDB engine with its views, and options."""

    def __init__(self, trace: Trace, options: Options | None = None, engine: DuckDBEngine | None = None):
        self.trace = trace
        self.options = options or Options()
        self.engine = engine or self._engine(trace)
        self._filled: dict[tuple[str, str], bool] = {}

    def _engine(self, trace: Trace) -> DuckDBEngine:
        import shutil
        import tempfile
        import weakref

        from workscope.engine import DuckDBEngine

        mb = int(self.options.memory_mb)
        if mb <= 0:
            return trace.engine()
        spill = tempfile.mkdtemp(prefix="workscope-duckdb-")
        weakref.finalize(self, shutil.rmtree, spill, True)
        eng = DuckDBEngine(memory_limit=f"{mb}MB", temp_directory=spill)
        eng.register_trace(trace, default=True)
        return eng

    # ------------------------------------------------------------------ what the trace holds
    def has(self, table: str, *columns: str) -> bool:
        """True if the trace has ``table`` with rows, and each column has a non-null value."""
        if table not in self.trace.tables or self.trace.manifest["tables"][table]["rows_ok"] == 0:
            return False
        return all(self.filled(table, c) for c in columns)

    def filled(self, table: str, column: str) -> bool:
        """True if ``column`` of ``table`` has at least one non-null value."""
        key = (table, column)
        if key not in self._filled:
            from workscope.engine import quote_ident

            q = f"SELECT count(*) FROM (SELECT 1 FROM {quote_ident(table)} WHERE {quote_ident(column)} IS NOT NULL LIMIT 1)"
            self._filled[key] = bool(self.engine.sql(q).column(0)[0].as_py())
        return self._filled[key]

    def group_column(self, table: str) -> str | None:
        """The first per-group column (model, function, user...) the table fills, or None."""
        for c in GROUP_COLUMNS.get(table, ()):
            if self.filled(table, c):
                return c
        return None

    def rows(self, table: str) -> int:
        """Valid rows of ``table``."""
        return int(self.trace.manifest["tables"][table]["rows_ok"])

    # ------------------------------------------------------------------ SQL
    def sql(self, name: str, idents: Mapping[str, str] | None = None, *,
            ints: Mapping[str, int] | None = None, **params: Any) -> pl.DataFrame:
        """Run ``analysis/sql/<name>.sql`` (or inline SQL if ``name`` has a space).

        ``{ident}`` placeholders are replaced by quoted identifiers from ``idents`` (table and
        column names: never values); ``$param`` placeholders are bound by DuckDB.
        ``__MAX_SAMPLE__`` and ``__SEED__`` become the options' sample size and seed, and
        ``__NAME__`` the integer ``ints[NAME]``: DuckDB takes only constants in
        ``USING SAMPLE reservoir(N ROWS) REPEATABLE (seed)``, and a bound value in a filter
        can keep it from pushing the filter into the scan. Each is validated as an integer.
        """
        from workscope.engine import quote_ident

        text = name if " " in name else sql_text(name, getattr(self.engine, "dialect", "duckdb"))
        tokens = {"MAX_SAMPLE": self.options.max_sample, "SEED": self.options.seed, **(ints or {})}
        for key, value in tokens.items():
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise UsageError(f"SQL token __{key}__ must be a non-negative integer, got {value!r}")
            text = text.replace(f"__{key}__", str(int(value)))
        idents = dict(idents or {})

        def sub(m: re.Match[str]) -> str:
            key = m.group(1)
            if key not in idents:
                raise UsageError(f"SQL {name}: no identifier given for {{{key}}}")
            return quote_ident(idents[key])

        # Placeholders are substituted in code only: text after "--" is a comment.
        query = "\n".join(
            _IDENT.sub(sub, line.split("--", 1)[0]) + ("--" + line.split("--", 1)[1] if "--" in line else "")
            for line in text.splitlines())
        # DuckDB reproduces a REPEATABLE(seed) sample only when one thread draws it, so a
        # sampling query runs single-threaded: same seed, same sample, same figures.
        out = pl.from_arrow(self.engine.query(query, params, single_threaded="REPEATABLE" in query.upper(),
                                              label=f"analysis query {name}"))
        assert isinstance(out, pl.DataFrame)  # from_arrow of a Table is a DataFrame
        return out

    @cached_property
    def origin_utc(self) -> str | None:
        """The trace's origin as ISO-8601 UTC (None if the trace has no wall clock)."""
        return self.trace.manifest.get("origin_utc")


def sql_text(name: str, engine: str = "duckdb") -> str:
    """The text of ``analysis/sql/<name>.sql``; for ``engine="spark"``, its Spark form
    ``analysis/sql/spark/<name>.sql`` where one exists.

    A Spark form is still DuckDB SQL (the engine transpiles it like any query), phrased so
    that it transpiles: it says at its top why the original cannot, and the parity tests run
    it on DuckDB too, where it must give the original's results.
    """
    sql = resources.files("workscope.analysis").joinpath("sql")
    if engine != "duckdb" and sql.joinpath(engine, f"{name}.sql").is_file():
        return sql.joinpath(engine, f"{name}.sql").read_text()
    try:
        return sql.joinpath(f"{name}.sql").read_text()
    except FileNotFoundError:
        raise UsageError(f"no analysis SQL named {name!r}") from None


@dataclass(frozen=True)
class Analysis:
    """A registered analysis: its name, what it needs, and the function that runs it."""

    name: str
    title: str
    applies: Callable[[Context], bool]
    run: Callable[[Context], Result]
    doc: str = ""
