"""What the Google cluster-data readers (2011 and 2019 / v3) share.

Both traces write times as int64 microseconds with the same sentinels (0 = before the trace,
2^63-1 = after it), enums as documented integer codes, and lifecycle events per task (2011)
or instance (2019) that become one ``jobs`` row each: :func:`task_rows` groups the parsed
events lazily (streaming), :func:`task_part` turns the groups into the ``jobs`` part.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from workscope.ingest.parse import Parsed, attrs_json, parse_int
from workscope.ingest.reader import LINE, REASON, TablePart, one_each
from workscope.numeric import exact_div

AFTER_TRACE = 2**63 - 1
"""The sentinel time "after the end of the trace"."""


def shard_groups(by_kind: dict[str, list[Path]], events: str) -> list[list[Path]]:
    """A Google reader's ``select`` groups: every ``events`` file in one (a task's events span
    files, and the jobs aggregate joins them), each other file alone, in ``by_kind``'s order."""
    rest = [f for kind, files in by_kind.items() if kind != events for f in files]
    return ([by_kind[events]] if by_kind[events] else []) + one_each(rest)


def us_time(raw: pl.Expr, label: str, *, required: bool = False) -> Parsed:
    """Microsecond trace time as seconds; 2^63-1 ("after the trace") is null, not an error."""
    p = parse_int(raw, label, required=required)
    after = raw == str(AFTER_TRACE)
    return Parsed(
        pl.when(after).then(pl.lit(None, pl.Float64)).otherwise(exact_div(p.value, 1e6)),
        pl.when(after).then(pl.lit(None, pl.String))
        .when(p.value < 0).then(pl.lit(f"{label}: negative (trace times start at 0)"))
        .otherwise(p.reason),
    )


def in_codes(p: Parsed, codes: dict[int, str], label: str) -> Parsed:
    """Reject integer codes outside the documented enum."""
    bad = p.value.is_not_null() & ~p.value.is_in(list(codes))
    return Parsed(p.value, pl.when(bad).then(pl.lit(f"{label}: not a documented code"))
                  .otherwise(p.reason))


# ---------------------------------------------------------------- per-task aggregation

_LINE_BITS = 40


def seq(file_index: int) -> pl.Expr:
    """A sortable source position: file index in the high bits, line number in the low ones."""
    return pl.lit(file_index, pl.Int64) * (1 << _LINE_BITS) + pl.col(LINE)


def first_event(files: Sequence[str]) -> tuple[pl.Expr, pl.Expr]:
    """(line, file) of an aggregated row's first event, from its ``_first_seq``."""
    first = pl.col("_first_seq")
    line = first % (1 << _LINE_BITS)
    where = (first // (1 << _LINE_BITS)).replace_strict(
        dict(enumerate(files)), default=None, return_dtype=pl.String)
    return line.alias(LINE), where.alias("~first_event_file")


def task_rows(
    events: pl.LazyFrame,
    *,
    names: dict[int, str],
    submit: int,
    schedule: int,
    terminal: Sequence[int],
    lifecycle: Sequence[int],
    latest: Sequence[str],
    counts: dict[str, Sequence[int]],
) -> pl.LazyFrame:
    """One row per (``_job``, ``_task``) from parsed event rows, as a lazy streaming group_by,
    in the order of each task's first event.

    ``events`` holds ``_job``, ``_task``, ``_t`` (seconds, null = after the trace), ``_type``,
    ``_seq`` (source order, breaks ties at equal times: see :func:`seq`), ``_missing`` and the
    ``latest`` columns. Returns ``_job``, ``_task``, ``_submit``, ``_start``, ``_end``,
    ``_status``, ``_first_seq`` (the ``_seq`` of the first event), ``_n_events``,
    ``_n_missing``, one ``_n_<name>`` per ``counts`` entry and the latest non-null value of
    each ``latest`` column.
    """
    order = [pl.col("_t"), pl.col("_seq")]
    t, ty = pl.col("_t"), pl.col("_type")
    lc = ty.is_in(list(lifecycle))

    def last_of(col: pl.Expr, where: pl.Expr) -> pl.Expr:
        return col.filter(where).sort_by([o.filter(where) for o in order], nulls_last=True).last()

    status_map = {k: v for k, v in names.items()}
    agg = events.group_by("_job", "_task").agg(
        t.filter(ty == submit).min().alias("_submit"),
        t.filter(ty == schedule).min().alias("_start"),
        last_of(ty, lc).alias("_last_type"),
        last_of(t, lc).alias("_last_t"),
        pl.col("_seq").sort_by(order, nulls_last=True).first().alias("_first_seq"),
        pl.len().alias("_n_events"),
        pl.col("_missing").is_not_null().sum().alias("_n_missing"),
        *(ty.is_in(list(codes)).sum().alias(f"_n_{name}") for name, codes in counts.items()),
        *(pl.col(c).sort_by(order, nulls_last=True).drop_nulls().last().alias(c) for c in latest),
    )
    # A group_by's output order is arbitrary: order tasks by their first event, so that two
    # ingests of one trace (here or on Spark) write the same rows in the same order.
    return agg.sort("_first_seq").with_columns(
        pl.when(pl.col("_last_type").is_in(list(terminal))).then(pl.col("_last_t")).alias("_end"),
        pl.col("_last_type").replace_strict(status_map, default=None, return_dtype=pl.String)
        .alias("_status"),
    )


def task_part(agg: pl.LazyFrame, files: Sequence[tuple[str, object]], *, columns: Sequence[pl.Expr],
              attrs: dict[str, pl.Expr], counts: dict[str, Sequence[int]], missing_key: str,
              missing_submit: str, noun: str, raw_label: str) -> TablePart:
    """The ``jobs`` part of aggregated task rows (:func:`task_rows`), shared by both Google readers.

    ``columns`` are the reader's own jobs columns besides the ids and times; ``attrs`` its
    attrs fields, followed by the event count, the ``counts`` per kind and the count of
    records with missing information under ``missing_key``; ``missing_submit`` is the reject
    reason for a task without a SUBMIT event; ``noun`` names the event files in the display
    name ("task_events files") and ``raw_label`` opens each raw line ("task_events of job {}
    task {}").
    """
    rows = agg.select(
        pl.col("_job").cast(pl.String).alias("job_id"),
        pl.col("_task").cast(pl.String).alias("task_id"),
        pl.col("_submit").alias("submit_s"),
        pl.col("_start").alias("start_s"),
        pl.col("_end").alias("end_s"),
        *columns,
        attrs_json({**attrs, "events": pl.col("_n_events"), **{k: pl.col(f"_n_{k}") for k in counts},
                    missing_key: pl.col("_n_missing")}).alias("attrs"),
        pl.when(pl.col("_submit").is_null()).then(pl.lit(missing_submit)).alias(REASON),
        *first_event([d for d, _ in files]),
    )
    display = files[0][0] if len(files) == 1 else f"{files[0][0]} (+{len(files) - 1} {noun})"
    raw = pl.format(raw_label + " (aggregated; first event at {}:{}): {}",
                    pl.col("job_id"), pl.col("task_id"), pl.col("~first_event_file"), pl.col(LINE),
                    pl.col("attrs"))
    return TablePart(rows, raw, display)
