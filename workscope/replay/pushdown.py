"""A replay export's selection run on a query engine (``replay export --engine spark``).

A trace too large for this machine is exported with its selecting steps on the cluster:
the filters and the time window (``--window``, or ``--busiest``, whose per-minute counts
the engine computes over the whole trace) become one SQL predicate, and only the rows it
keeps come back, in the order the local path reads them (time, then the store's order).
The transforms then run here exactly as without an engine (the filters and the window
again, on rows that already pass them), so the file written is the same. Steps after the
selection (sampling, rate, speed, gaps) need the selected rows in order and run here.

With no window the engine cannot shrink what comes back, and nothing is pushed down.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

import polars as pl

from workscope.engine import quote_ident
from workscope.replay import transforms as tf
from workscope.replay.workload import Workload

if TYPE_CHECKING:
    from workscope.replay.pipeline import TransformSpec
    from workscope.store import Trace


Pushed = tuple[Workload, pl.DataFrame | None, str | None]
"""What :func:`select_on` gives: the workload, the busiest-window counts, and why nothing was
pushed down (None when the selection ran on the engine)."""


def select_on(engine: Any, trace: Trace, base: Workload, spec: TransformSpec) -> Pushed:
    """``base`` (the trace's workload) holding only the rows the spec's selection can keep,
    read by ``engine``, and the busiest-window counts the engine made (None without
    ``busiest``). ``base`` itself, and the reason, when nothing can be pushed down; either way
    the workload remembers the whole trace as its source, for fidelity."""
    if spec.window is None and spec.busiest_min is None:
        return base, None, "no --window or --busiest to select with"
    if spec.busiest_min is not None and (int(spec.busiest_min) != spec.busiest_min or spec.busiest_min < 1):
        return base, None, "--busiest is not a whole number of minutes"  # the transform refuses it
    t = base.time
    schema = base.frame.collect_schema()
    conds = []
    for column, values in spec.filters:
        cond = _filter_sql(column, values, schema)
        if cond is None:  # a filter SQL cannot state exactly: select here, as without an engine
            return base, None, f"--filter {column}=... cannot be stated exactly in SQL"
        conds.append(cond)
    engine.register_trace(trace)  # as <trace>.<table>
    counts = None
    if spec.busiest_min is not None:
        counts = busiest_counts(engine, trace, base.table, t, conds)
        if counts.height == 0:
            return base, None, "nothing to select"  # the busiest transform says it is empty
        start, end, _ = tf.busiest_window(counts, int(spec.busiest_min), tf.BUSIEST_BIN_S)
    else:
        start, end = spec.window  # type: ignore[misc]
    ct = quote_ident(t)
    for bound, op in ((start, ">="), (end, "<")):
        if bound is not None:
            if not math.isfinite(float(bound)):
                return base, None, "the window is not finite"  # the window transform refuses it
            conds.append(f"{ct} {op} {float(bound)!r}")
    rows = engine.ordered_rows(trace, base.table, " AND ".join(conds) or "TRUE", t)
    frame = rows.select(list(schema)).cast(dict(schema))
    return dataclasses.replace(base, frame=frame.lazy(), original=base), counts, None


def busiest_counts(engine: Any, trace: Trace, table: str, t: str, conds: list[str]) -> pl.DataFrame:
    """Events per minute after the filters (``bin``, ``count``, dense), counted by the engine
    with :func:`~workscope.replay.transforms.bin_index`'s exact edges."""
    ct, bin_s = quote_ident(t), tf.BUSIEST_BIN_S
    where = " AND ".join([f"{ct} IS NOT NULL", *conds])
    sparse = engine.sql_polars(f"""
        WITH k AS (SELECT {ct} AS t, floor({ct} / {bin_s!r}) AS k FROM {trace.name}.{table}
                   WHERE {where})
        SELECT CAST(CASE WHEN (k + 1) * {bin_s!r} <= t THEN k + 1 WHEN k * {bin_s!r} > t THEN k - 1
                         ELSE k END AS BIGINT) AS bin, count(*) AS count
        FROM k GROUP BY 1
    """)
    return tf.dense_counts(sparse, bin_s)


def _filter_sql(column: str, values: tuple[Any, ...], schema: pl.Schema) -> str | None:
    """The SQL of :func:`~workscope.replay.transforms.filter` (keep rows whose column is one
    of the values), or None where SQL would not say exactly the same."""
    if column not in schema:
        return None
    dtype = schema[column]
    non_null = [v for v in values if v is not None]
    try:
        typed = pl.Series(non_null, dtype=dtype).to_list()
    except Exception:  # noqa: BLE001 - the local filter reports the value it cannot take
        return None
    literals = [_literal(v, dtype) for v in typed]
    if any(lit is None for lit in literals):
        return None
    c = quote_ident(column)
    parts = [f"{c} IN ({', '.join(literals)})"] if literals else []  # type: ignore[arg-type]
    if len(non_null) != len(values):
        parts.append(f"{c} IS NULL")
    return "(" + " OR ".join(parts) + ")" if parts else "FALSE"


def _literal(value: Any, dtype: pl.DataType) -> str | None:
    """A SQL literal equal to ``value`` under the column's type, or None."""
    if value is None:
        return None
    if dtype == pl.String:
        return "'" + str(value).replace("'", "''") + "'"
    if dtype.is_integer():
        return str(int(value))
    if dtype == pl.Boolean:
        return "TRUE" if value else "FALSE"
    if dtype.is_float() and math.isfinite(value):
        return repr(float(value))
    return None
