"""A workload: one canonical table (requests, invocations or jobs) as a lazy frame, plus facts.

Its event time is the table's ``time_column`` in ``workscope.schemas``. Per-window
``invocation_counts`` can be a workload too (sampled and exported, never replayed event by
event); :func:`check_any` lints it.

Transforms take a Workload and return a new one (nothing is read until an exporter writes);
``meta`` records where it came from and every transform applied, with its seed, so an
export can say exactly how it was made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import polars as pl

from workscope.errors import DataError, UsageError
from workscope.schemas import TABLES

if TYPE_CHECKING:
    from workscope.store import Trace

WORKLOAD_TABLES = ("requests", "invocations", "jobs")
"""The event tables a trace is replayed from."""
COUNTS_TABLE = "invocation_counts"
"""Per-function per-window counts: a workload to sample and export, not an event table."""


@dataclass(frozen=True)
class Workload:
    """A canonical table to replay, sorted by its time column, and what is known about it."""

    table: str
    frame: pl.LazyFrame
    meta: dict[str, Any] = field(default_factory=dict)
    original: Workload | None = field(default=None, repr=False, compare=False)
    """The workload before its first transform (None when this one is untransformed, or was
    made elsewhere, e.g. read back from a file): what a fidelity report compares against."""

    @property
    def time(self) -> str:
        """The table's event-time column (its ``time_column`` in workscope.schemas)."""
        column = TABLES[self.table].time_column
        if column is None:
            raise UsageError(f"a {self.table} table has no event time to replay")
        return column

    @classmethod
    def from_trace(cls, trace: Trace, table: str | None = None) -> Workload:
        """The trace's requests, invocations or jobs (the first it has, unless ``table``)."""
        have = [t for t in WORKLOAD_TABLES if t in trace.tables]
        if table is None:
            if not have:
                raise UsageError(f"trace {trace.name!r} has no {listed(WORKLOAD_TABLES)} table to replay")
            table = have[0]
        elif table not in have:
            raise UsageError(f"trace {trace.name!r} has no {table!r} table; it has {have}")
        frame = trace.scan(table).sort(TABLES[table].time_column, maintain_order=True)
        return cls(table, frame, source_meta(trace))

    def with_frame(self, frame: pl.LazyFrame, step: dict[str, Any]) -> Workload:
        """A new workload with ``frame``, recording ``step`` (name, parameters, seed)."""
        meta = {**self.meta, "transforms": [*self.meta.get("transforms", []), step]}
        # Every step points at the first workload of the chain, so fidelity compares the end
        # result with the source as it was, not with itself or an intermediate step.
        return replace(self, frame=frame, meta=meta, original=self.untransformed())

    def untransformed(self) -> Workload:
        """The workload before any transform of this chain (``self`` when there was none).

        A workload made with transforms already in ``meta`` but no ``original`` (read back
        from a workload file, synthesized) is its own earliest known form.
        """
        return self.original if self.original is not None else self

    def collect(self) -> pl.DataFrame:
        """Materialize (exporters stream instead where the target format allows)."""
        return self.frame.collect()


def listed(names: tuple[str, ...]) -> str:
    """Table names for a message: ``a``, ``a or b``, ``a, b or c``."""
    *head, last = names
    return f"{', '.join(head)} or {last}" if head else last


def source_meta(trace: Trace) -> dict[str, Any]:
    """The meta of a workload read straight from ``trace``: its provenance, no transforms yet."""
    m = trace.manifest
    return {
        "source_trace": trace.name,
        "source_content_key": m.get("content_key"),
        "origin_utc": m.get("origin_utc"),
        "hash_block_tokens": m.get("meta", {}).get("hash_block_tokens"),
        "transforms": [],
    }


def lint(wl: Workload, df: pl.DataFrame | None = None) -> list[str]:
    """Problems that would make a replay wrong; empty when the workload is sound.

    Checks: time column present and non-decreasing, no negative or NaN times; non-negative
    token counts and durations; len(hash_ids) == ceil(input_tokens / block size) where the
    workload has hash_ids and a block size. Exporters call this and refuse to write (a
    LintError, never a silent fix).
    """
    lf = wl.frame if df is None else df.lazy()
    t = wl.time
    spec = TABLES[wl.table]
    checks = [
        (pl.col(t).is_null().sum(), f"{t} is null"),
        ((pl.col(t) < 0) | pl.col(t).is_nan()).sum().alias("neg"),
        (pl.col(t).diff() < 0).sum().alias("inv"),
    ]
    exprs = [checks[0][0].alias("null_t"), checks[1], checks[2]]
    names = spec.names
    for c in ("input_tokens", "output_tokens", "duration_s", "latency_s", "runtime_req_s"):
        if c in names:
            exprs.append((pl.col(c) < 0).sum().alias(f"neg_{c}"))
    block = wl.meta.get("hash_block_tokens")
    if wl.table == "requests" and block:
        want = (pl.col("input_tokens").cast(pl.Float64) / float(block)).ceil().cast(pl.Int64)
        exprs.append((pl.col("hash_ids").is_not_null() & (pl.col("hash_ids").list.len() != want))
                     .sum().alias("bad_hash_len"))
    row = lf.select(exprs).collect().row(0, named=True)
    problems = []
    if row["null_t"]:
        problems.append(f"{row['null_t']} rows have no {t}")
    if row["neg"]:
        problems.append(f"{row['neg']} rows have a negative or NaN {t}")
    if row["inv"]:
        problems.append(f"{t} is not sorted ({row['inv']} inversions); sort the workload first")
    for k, v in row.items():
        if k.startswith("neg_") and v:
            problems.append(f"{v} rows have negative {k[4:]}")
    if row.get("bad_hash_len"):
        problems.append(f"{row['bad_hash_len']} rows have len(hash_ids) != ceil(input_tokens / {block}) "
                        f"(block size {block} tokens from the manifest)")
    return problems


class LintError(DataError):
    """The workload would replay wrongly (unsorted times, negative lengths, wrong block count)."""


def check(wl: Workload, df: pl.DataFrame | None = None) -> None:
    """Raise LintError listing every problem :func:`lint` finds."""
    _raise_problems(wl, lint(wl, df))


def _raise_problems(wl: Workload, problems: list[str]) -> None:
    """Raise LintError listing ``problems``, if there are any."""
    if problems:
        raise LintError(f"workload from {wl.meta.get('source_trace')!r} fails lint: " + "; ".join(problems))


def _lint_counts(wl: Workload) -> list[str]:
    """Problems of an invocation_counts workload: its window starts and counts."""
    t = wl.time
    row = wl.frame.select(
        pl.col(t).is_null().sum().alias("null_t"),
        ((pl.col(t) < 0) | pl.col(t).is_nan()).sum().alias("neg"),
        (pl.col("count") < 0).sum().alias("neg_count"),
    ).collect().row(0, named=True)
    texts = {"null_t": f"rows have no {t}", "neg": f"rows have a negative or NaN {t}",
             "neg_count": "rows have a negative count"}
    return [f"{row[key]} {text}" for key, text in texts.items() if row[key]]


def check_any(wl: Workload) -> None:
    """:func:`check` for the event tables; for invocation_counts, a minimal lint of its own.

    The counts lint checks that window starts are present and non-negative and that counts
    are non-negative (the event-table checks do not apply to counts).
    """
    if wl.table in WORKLOAD_TABLES:
        check(wl)
    else:
        _raise_problems(wl, _lint_counts(wl))


def blocks_needed(tokens: int, block: int) -> int:
    """Number of prefix blocks of ``block`` tokens that cover ``tokens`` tokens."""
    return math.ceil(tokens / block)
