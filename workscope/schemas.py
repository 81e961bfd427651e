"""The canonical tables: column names with units, types, required columns and row rules.

Every reader maps its source into these tables; every later part of workscope reads them.
Times are ``*_s`` float64 seconds since the trace's origin (kept in the manifest as UTC);
sizes carry their unit in the name. A column the source lacks is null, never invented;
source fields that fit nowhere go into ``attrs`` as a JSON string.

Rules are polars expressions that yield a reason string for a bad row and null for a good
one; the store applies them to every row and sends failures to the trace's rejects table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from workscope.errors import OptionError, UnknownNameError, UnknownTableError
from workscope.limits import SPAN_S

SCHEMA_VERSION = 2
"""2: jobs gained run_s. Traces of schema 1 are read with the new columns all null."""

F64 = pl.Float64
I64 = pl.Int64
STR = pl.String
BOOL = pl.Boolean


@dataclass(frozen=True)
class Column:
    """One canonical column: name (unit in the name), dtype, whether required, help text."""

    name: str
    dtype: pl.DataType | type[pl.DataType]
    required: bool = False
    doc: str = ""


@dataclass(frozen=True)
class Table:
    """A canonical table: its columns and the row rules that send rows to rejects."""

    name: str
    doc: str
    columns: tuple[Column, ...]
    time_column: str | None
    rules: tuple[Callable[[], pl.Expr], ...] = field(default_factory=tuple)

    @property
    def names(self) -> list[str]:
        """Column names in canonical order."""
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        """Columns that must be present and non-null in every row."""
        return [c.name for c in self.columns if c.required]

    @property
    def polars_schema(self) -> pl.Schema:
        """The table as a polars schema."""
        return pl.Schema({c.name: c.dtype for c in self.columns})

    @property
    def arrow_schema(self) -> Any:
        """The table as a ``pyarrow.Schema`` (what the Parquet files hold)."""
        return pl.DataFrame(schema=self.polars_schema).to_arrow().schema

    def bounds(self, overrides: Mapping[str, Bound] | None = None) -> dict[str, Bound]:
        """The plausibility bounds of this table's columns: :data:`PLAUSIBLE`, then ``overrides``."""
        merged = {**PLAUSIBLE, **(overrides or {})}
        return {c.name: merged[c.name] for c in self.columns if c.name in merged}

    def reason(self, present: set[str] | None = None,
               bounds: Mapping[str, Bound] | None = None) -> pl.Expr:
        """Expression giving the first broken rule of a row as text, or null if none.

        ``present``: the columns the reader fills. Rules on other columns are skipped (those
        columns are all null, so the rules cannot fire and would only cost time); required
        columns are always checked. ``bounds`` overrides :data:`PLAUSIBLE` per column.
        """
        checks = [
            pl.when(pl.col(c).is_null()).then(pl.lit(f"{c} is missing")) for c in self.required
        ]
        checks += [rule() for rule in self.rules
                   if present is None or set(getattr(rule, "columns", ())) <= present]
        checks += [_within(col, b) for col, b in self.bounds(bounds).items()
                   if present is None or col in present]
        return pl.coalesce(checks) if checks else pl.lit(None, STR)


Bound = tuple[float, float]
"""A closed interval ``(low, high)`` of plausible values; ``-inf`` / ``inf`` leave a side open."""

PLAUSIBLE: dict[str, Bound] = {
    **{c: (-SPAN_S, SPAN_S) for c in ("arrival_s", "window_start_s", "submit_s", "start_s",
                                       "end_s", "t_s")},
    **{c: (0.0, SPAN_S) for c in (
        "latency_s", "duration_s", "cold_start_s", "pod_alloc_s", "deploy_code_s",
        "deploy_deps_s", "scheduling_s", "runtime_req_s", "run_s", "duration_avg_s",
        *(f"duration_p{p}_s" for p in (0, 1, 25, 50, 75, 99, 100)))},
    "window_s": (0.0, SPAN_S),
    **{c: (-SPAN_S, SPAN_S) for c in ("plan_s", "sent_s")},
    **{c: (0.0, SPAN_S) for c in ("ttft_s", "itl_mean_s", "itl_p50_s", "itl_p99_s", "itl_max_s")},
    "output_tokens_requested": (0.0, 1e9),
    # A billion tokens is a thousand times the longest context served today.
    "input_tokens": (0.0, 1e9), "output_tokens": (0.0, 1e9), "turn": (0.0, 1e9),
    "count": (0.0, 1e12),
    # An exabyte and a billion cores / GPUs / nodes: far above any machine or job, far below
    # the values an overflow or a unit mistake produces.
    **{c: (0.0, 1e12) for c in ("memory_mb", "mem_req_mb", "mem_used_mb", "mem_mb", "memory_avg_mb",
                                 *(f"memory_p{p}_mb" for p in (0, 1, 25, 50, 75, 99, 100)))},
    **{c: (0.0, 1e9) for c in ("cpu_req", "cpu_used", "cpu", "cpu_millicores", "gpu_req", "gpu",
                                "nodes")},
}
"""Plausibility bounds per canonical column (same name, same bound in every table). A value
outside its bound is a reject with the reason ``<column> is outside the plausible range``;
``workscope ingest --bound COLUMN=LOW:HIGH`` (``bounds=`` in the API) changes one for a trace.
Columns absent here (priority, usage ``value``) have no bound beyond their type's rules."""


def _within(col: str, bound: Bound) -> pl.Expr:
    lo, hi = bound
    msg = (f"{col} is outside the plausible range [{_g(lo)}, {_g(hi)}] "
           f"(change it with --bound {col}=LOW:HIGH)")
    # NaN is outside every range too (polars orders it above all numbers); the finite and
    # non-negative rules, checked first, name it more precisely where a column has them.
    return pl.when(~pl.col(col).is_between(lo, hi)).then(pl.lit(msg))


def _g(x: float) -> str:
    return "-inf" if x == -math.inf else "inf" if x == math.inf else f"{x:g}"


def numeric_columns() -> list[str]:
    """Canonical columns that can take a bound: every numeric column of any table."""
    return sorted({c.name for t in TABLES.values() for c in t.columns
                   if c.dtype in (F64, I64)})


def parse_bound(text: str) -> tuple[str, Bound]:
    """``COLUMN=LOW:HIGH`` (either side may be empty for no limit) as ``(column, (low, high))``."""
    col, sep, rng = text.partition("=")
    lo_s, sep2, hi_s = rng.partition(":")
    col = col.strip()
    if not sep or not sep2 or not col:
        raise OptionError(f"--bound expects COLUMN=LOW:HIGH (a side may be empty), got {text!r}")
    if col not in numeric_columns():
        raise UnknownNameError("numeric column", col, numeric_columns())
    try:
        lo = float(lo_s) if lo_s.strip() else -math.inf
        hi = float(hi_s) if hi_s.strip() else math.inf
    except ValueError:
        raise OptionError(f"--bound {text!r}: LOW and HIGH must be numbers") from None
    if math.isnan(lo) or math.isnan(hi) or lo > hi:
        raise OptionError(f"--bound {text!r}: needs LOW <= HIGH")
    return col, (lo, hi)


def check_bounds(bounds: Mapping[str, Any] | None) -> dict[str, Bound]:
    """Bounds given through the API (``{"arrival_s": (lo, hi)}``), checked like ``--bound``."""
    out: dict[str, Bound] = {}
    for col, b in (bounds or {}).items():
        try:
            lo, hi = b
        except (TypeError, ValueError):
            raise OptionError(f"bound of {col!r} must be a (low, high) pair, got {b!r}") from None
        lo = -math.inf if lo is None else lo
        hi = math.inf if hi is None else hi
        out.update([parse_bound(f"{col}={lo}:{hi}")])
    return out


# Rule messages are literals (a per-row pl.format costs as much as parsing); the rejects
# table keeps the raw row beside the reason.

def _nonneg(col: str, floating: bool = True) -> Callable[[], pl.Expr]:
    def rule() -> pl.Expr:
        c = pl.col(col)
        neg = pl.when(c < 0).then(pl.lit(f"{col} is negative"))
        if not floating:
            return neg
        # polars orders NaN above every number, so `c < 0` alone lets NaN through.
        return pl.when(c.is_nan()).then(pl.lit(f"{col} is NaN")).otherwise(neg)

    rule.messages = ((f"{col} is NaN",) if floating else ()) + (f"{col} is negative",)  # type: ignore[attr-defined]
    rule.columns = (col,)  # type: ignore[attr-defined]
    return rule


def _finite(col: str) -> Callable[[], pl.Expr]:
    def rule() -> pl.Expr:
        return pl.when(~pl.col(col).is_finite()).then(pl.lit(f"{col} is not a finite number"))

    rule.messages = (f"{col} is not a finite number",)  # type: ignore[attr-defined]
    rule.columns = (col,)  # type: ignore[attr-defined]
    return rule


def _not_before(later: str, earlier: str) -> Callable[[], pl.Expr]:
    def rule() -> pl.Expr:
        return pl.when(pl.col(later) < pl.col(earlier)).then(pl.lit(f"{later} is before {earlier}"))

    rule.messages = (f"{later} is before {earlier}",)  # type: ignore[attr-defined]
    rule.columns = (later, earlier)  # type: ignore[attr-defined]
    return rule


RUN_TOLERANCE_S = 1.0
"""How far ``run_s`` may differ from ``end_s - start_s`` when a row fills all three: sources
round times and run times to whole seconds (SWF: "0 = under 0.5 s"), each on its own."""


def _run_agrees() -> Callable[[], pl.Expr]:
    # run_s is the source's own run time; where start and end are known too they describe
    # the same interval, so a larger gap is a broken row (wrong unit or wrong column mapped),
    # not two valid readings.
    msg = f"run_s disagrees with end_s - start_s (by more than {RUN_TOLERANCE_S:g} s)"

    def rule() -> pl.Expr:
        gap = (pl.col("end_s") - pl.col("start_s") - pl.col("run_s")).abs()
        return pl.when(gap > RUN_TOLERANCE_S).then(pl.lit(msg))

    rule.messages = (msg,)  # type: ignore[attr-defined]
    rule.columns = ("run_s", "start_s", "end_s")  # type: ignore[attr-defined]
    return rule


def _positive(col: str) -> Callable[[], pl.Expr]:
    def rule() -> pl.Expr:
        c = pl.col(col)
        return pl.when(~(c > 0) | c.is_nan()).then(pl.lit(f"{col} must be positive"))

    rule.messages = (f"{col} must be positive",)  # type: ignore[attr-defined]
    rule.columns = (col,)  # type: ignore[attr-defined]
    return rule


def _nonneg_all(*cols: str) -> tuple[Callable[[], pl.Expr], ...]:
    return tuple(_nonneg(c) for c in cols)


def _nonneg_int(*cols: str) -> tuple[Callable[[], pl.Expr], ...]:
    return tuple(_nonneg(c, floating=False) for c in cols)


REQUESTS = Table(
    "requests",
    "One row per LLM / AI-serving request.",
    (
        Column("arrival_s", F64, True, "arrival time, s since origin"),
        Column("request_id", STR, doc="request id from the source"),
        Column("session_id", STR, doc="conversation / session id"),
        Column("turn", I64, doc="turn number within the session"),
        Column("parent_id", STR, doc="request id of the previous turn"),
        Column("model", STR, doc="model name or id"),
        Column("input_tokens", I64, doc="prompt / context tokens (null where not a token workload)"),
        Column("output_tokens", I64, doc="generated tokens"),
        Column("hash_ids", pl.List(I64), doc="prefix-cache block hashes; block size in manifest"),
        Column("status", STR, doc="ok / failed / source status"),
        Column("latency_s", F64, doc="end-to-end latency or execution time"),
        Column("kind", STR, doc="request type (llm, text, image, txt2img...)"),
        Column("attrs", STR, doc="JSON object of source fields that fit nowhere else"),
    ),
    "arrival_s",
    (_finite("arrival_s"), *_nonneg_int("input_tokens", "output_tokens", "turn"), _nonneg("latency_s")),
)

INVOCATIONS = Table(
    "invocations",
    "One row per serverless invocation (or cold start).",
    (
        Column("arrival_s", F64, True, "arrival time, s since origin"),
        Column("function_id", STR, True, "function id"),
        Column("app_id", STR, doc="application the function belongs to"),
        Column("owner_id", STR, doc="owner / user / tenant id"),
        Column("trigger", STR, doc="trigger type (http, timer, queue, ...)"),
        Column("runtime", STR, doc="language runtime"),
        Column("duration_s", F64, doc="execution time"),
        Column("memory_mb", F64, doc="memory allocated or used"),
        Column("cpu_millicores", F64, doc="CPU allocated, millicores"),
        Column("cold_start", BOOL, doc="true if the invocation started a new instance"),
        Column("cold_start_s", F64, doc="total cold-start cost"),
        Column("pod_alloc_s", F64, doc="cold-start part: pod allocation"),
        Column("deploy_code_s", F64, doc="cold-start part: code deployment"),
        Column("deploy_deps_s", F64, doc="cold-start part: dependency deployment"),
        Column("scheduling_s", F64, doc="cold-start part: scheduling"),
        Column("region", STR, doc="region / cluster"),
        Column("pod_id", STR, doc="instance / pod that served it"),
        Column("attrs", STR, doc="JSON object of source fields that fit nowhere else"),
    ),
    "arrival_s",
    (
        _finite("arrival_s"),
        *_nonneg_all(
            "duration_s", "memory_mb", "cpu_millicores", "cold_start_s",
            "pod_alloc_s", "deploy_code_s", "deploy_deps_s", "scheduling_s",
        ),
    ),
)

INVOCATION_COUNTS = Table(
    "invocation_counts",
    "Invocations of one function in one time window.",
    (
        Column("window_start_s", F64, True, "window start, s since origin"),
        Column("window_s", F64, True, "window length"),
        Column("function_id", STR, True, "function id"),
        Column("app_id", STR, doc="application the function belongs to"),
        Column("owner_id", STR, doc="owner / user / tenant id"),
        Column("trigger", STR, doc="trigger type (http, timer, queue, ...)"),
        Column("count", I64, True, "invocations in the window"),
    ),
    "window_start_s",
    (_finite("window_start_s"), _positive("window_s"), *_nonneg_int("count")),
)

_PCTS = (0, 1, 25, 50, 75, 99, 100)
FUNCTIONS = Table(
    "functions",
    "Static facts of one serverless function (durations and memory as percentiles).",
    (
        Column("function_id", STR, True, "function id"),
        Column("app_id", STR, doc="application the function belongs to"),
        Column("owner_id", STR, doc="owner / user / tenant id"),
        Column("trigger", STR, doc="trigger type (http, timer, queue, ...)"),
        Column("runtime", STR, doc="language runtime"),
        Column("count", I64, doc="invocations the percentiles summarise"),
        Column("duration_avg_s", F64, doc="mean execution time"),
        *(Column(f"duration_p{p}_s", F64, doc=f"execution time, {p}th percentile") for p in _PCTS),
        Column("memory_avg_mb", F64, doc="mean memory"),
        *(Column(f"memory_p{p}_mb", F64, doc=f"memory, {p}th percentile") for p in _PCTS),
        Column("cpu_millicores", F64, doc="CPU allocated, millicores"),
        Column("attrs", STR, doc="JSON object of source fields that fit nowhere else"),
    ),
    None,
    (
        *_nonneg_all("duration_avg_s", "memory_avg_mb"),
        *(_nonneg(f"duration_p{p}_s") for p in _PCTS),
        *(_nonneg(f"memory_p{p}_mb") for p in _PCTS),
    ),
)

JOBS = Table(
    "jobs",
    "One row per batch job / task / pod / instance.",
    (
        Column("job_id", STR, True, "job / pod / instance / VM id"),
        Column("task_id", STR, doc="task / instance within the job"),
        Column("submit_s", F64, True, "submit time, s since origin"),
        Column("start_s", F64, doc="start time (null = never started or unknown)"),
        Column("end_s", F64, doc="null = censored (still running at trace end)"),
        Column("user", STR, doc="submitting user"),
        Column("group", STR, doc="group / application / deployment"),
        Column("queue", STR, doc="queue / virtual cluster"),
        Column("partition", STR, doc="partition / role"),
        Column("priority", I64, doc="scheduling priority"),
        Column("qos", STR, doc="quality-of-service class"),
        Column("status", STR, doc="final status (completed, failed, killed, ...)"),
        Column("cpu_req", F64, doc="cores (or the source's CPU unit, see manifest)"),
        Column("mem_req_mb", F64, doc="memory requested, MB"),
        Column("gpu_req", F64, doc="GPUs, fractional for shared GPUs"),
        Column("gpu_model", STR, doc="GPU type"),
        Column("nodes", I64, doc="nodes or processors allocated (see manifest)"),
        Column("runtime_req_s", F64, doc="requested (wall-clock limit) runtime"),
        Column("run_s", F64, doc=(
            "run time (wall clock) where the source records it, even without start/end (SWF "
            "Run Time); null where the source records only start and end: it is not copied "
            "from end_s - start_s, and analyses take end_s - start_s there. Where run_s, "
            "start_s and end_s are all filled they agree within 1 s")),
        Column("cpu_used", F64, doc="CPU used (average), same unit as cpu_req"),
        Column("mem_used_mb", F64, doc="memory used, MB"),
        Column("attrs", STR, doc="JSON object of source fields that fit nowhere else"),
    ),
    "submit_s",
    (
        _finite("submit_s"),
        _not_before("end_s", "start_s"),
        *_nonneg_all("cpu_req", "mem_req_mb", "gpu_req", "runtime_req_s", "run_s", "cpu_used",
                     "mem_used_mb"),
        *_nonneg_int("nodes"),
        # after the sign checks, so a negative run_s is named as such
        _run_agrees(),
    ),
)

USAGE = Table(
    "usage",
    "One metric sample of one entity.",
    (
        Column("t_s", F64, True, "sample time, s since origin"),
        Column("entity_id", STR, True, "machine / VM / pod / container id"),
        Column("metric", STR, True, "metric name, unit in the name where it has one"),
        Column("value", F64, True, "metric value"),
        Column("unit", STR, doc="unit of value where the metric name does not carry it"),
        Column("attrs", STR, doc="JSON object of source fields that fit nowhere else"),
    ),
    "t_s",
    (_finite("t_s"), _finite("value")),
)

MACHINES = Table(
    "machines",
    "Capacity of one machine / node / VM.",
    (
        Column("machine_id", STR, True, "machine / node / VM id"),
        Column("cpu", F64, doc="cores (or the source's CPU unit, see manifest)"),
        Column("mem_mb", F64, doc="memory capacity, MB"),
        Column("gpu", F64, doc="GPUs"),
        Column("gpu_model", STR, doc="GPU type"),
        Column("attrs", STR, doc="JSON object of source fields that fit nowhere else"),
    ),
    None,
    _nonneg_all("cpu", "mem_mb", "gpu"),
)

RESPONSES = Table(
    "responses",
    "One request as a load generator (AIPerf, GuideLLM, vLLM bench serve, SGLang bench_serving) "
    "sent it and measured it; the run's settings are in the manifest.",
    (
        Column("request_id", STR, doc="request id from the tool, else its position in the run"),
        Column("plan_s", F64, doc="planned send time (the replayed schedule), s since the run's origin"),
        Column("sent_s", F64, doc="actual send time, s since the run's origin"),
        Column("ttft_s", F64, doc="time to first token"),
        Column("itl_mean_s", F64, doc="mean inter-token latency (time per output token after the first)"),
        Column("itl_p50_s", F64, doc="median inter-token latency"),
        Column("itl_p99_s", F64, doc="99th-percentile inter-token latency"),
        Column("itl_max_s", F64, doc="longest gap between two tokens"),
        Column("latency_s", F64, doc="end-to-end latency: send to last byte"),
        Column("input_tokens", I64, doc="prompt tokens as sent (the tool's count)"),
        Column("output_tokens_requested", I64, doc="output tokens asked for (max_tokens)"),
        Column("output_tokens", I64, doc="output tokens received"),
        Column("status", STR, True, "ok, error or incomplete"),
        Column("error", STR, doc="the tool's error text for a failed request"),
        Column("model", STR, doc="model name the request was sent to"),
        Column("attrs", STR, doc="JSON object of source fields that fit nowhere else"),
    ),
    "sent_s",
    (
        _finite("sent_s"),
        *_nonneg_all("ttft_s", "itl_mean_s", "itl_p50_s", "itl_p99_s", "itl_max_s", "latency_s"),
        *_nonneg_int("input_tokens", "output_tokens_requested", "output_tokens"),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (REQUESTS, INVOCATIONS, INVOCATION_COUNTS, FUNCTIONS, JOBS, USAGE, MACHINES,
                        RESPONSES)
}

REJECTS_SCHEMA = pl.Schema(
    {"table": STR, "file": STR, "line": I64, "raw": STR, "reason": STR}
)


def table(name: str) -> Table:
    """Return the canonical table called ``name`` or raise UnknownTableError."""
    try:
        return TABLES[name]
    except KeyError:
        raise UnknownTableError(name, TABLES) from None


def conform_exprs(name: str, have: pl.Schema) -> list[pl.Expr]:
    """Expressions selecting the canonical columns of ``name`` in order, null for absent ones."""
    exprs = []
    for c in table(name).columns:
        if c.name in have:
            exprs.append(pl.col(c.name).cast(c.dtype))
        else:
            exprs.append(pl.lit(None, c.dtype).alias(c.name))
    return exprs


def tables_markdown() -> str:
    """Reference of the canonical tables as Markdown (docs/tables.md is this text)."""
    out = [
        "# Canonical tables",
        "",
        f"Schema version {SCHEMA_VERSION}. Generated from `workscope/schemas.py` by",
        "`workscope tables --markdown`; a test keeps this file in step with the code. Times are",
        "float64 seconds since the trace's origin (the manifest keeps the origin as UTC); units",
        "are in the column names. **Required** columns must be present and non-null in every",
        "row, or the row goes to the trace's rejects table.",
    ]
    for t in TABLES.values():
        out += ["", f"## {t.name}", "", t.doc, "", "| column | type | required | meaning |",
                "|---|---|---|---|"]
        for c in t.columns:
            out.append(f"| `{c.name}` | {dtype_name(c.dtype)} "
                       f"| {'**yes**' if c.required else ''} | {c.doc} |")
        msgs = [f"{c} is missing" for c in t.required]
        msgs += [m for rule in t.rules for m in getattr(rule, "messages", ())]
        out += ["", "Reject reasons from the table's rules: " + "; ".join(f"`{m}`" for m in msgs) + "."]
        if bounds := t.bounds():
            out += ["", "Plausible ranges (a value outside is a reject `<column> is outside the "
                    "plausible range`; `workscope ingest --bound COLUMN=LOW:HIGH` changes one): "
                    + "; ".join(f"`{c}` [{_g(lo)}, {_g(hi)}]" for c, (lo, hi) in bounds.items()) + "."]
    return "\n".join(out) + "\n"


def dtype_name(dtype: pl.DataType | type[pl.DataType]) -> str:
    """A column's dtype as polars prints it (``Float64``), whether given as a class or an instance."""
    return str(dtype() if isinstance(dtype, type) else dtype)


def describe_tables() -> dict[str, dict[str, Any]]:
    """JSON-ready reference of the canonical tables: each one's doc, time column and columns."""
    return {t.name: {"doc": t.doc, "time_column": t.time_column, "columns": [
        {"name": c.name, "type": dtype_name(c.dtype), "required": c.required, "doc": c.doc}
        for c in t.columns]} for t in TABLES.values()}
