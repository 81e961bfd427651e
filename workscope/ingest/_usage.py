"""Wide sample rows into long ``usage`` rows, shared by the cluster-trace readers.

Cluster traces publish one row per (entity, time) with one column per measurement; the
canonical ``usage`` table wants one row per (entity, time, metric). :func:`long_usage` does
that turn in one streaming pass, keeping one reject per broken source line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from workscope.ingest.parse import Parsed, first_reason
from workscope.ingest.reader import REASON


@dataclass
class Metric:
    """One metric of a wide sample row: output name, parsed value, unit."""

    name: str
    parsed: Parsed
    unit: str | None


def long_usage(frame: pl.LazyFrame, t_s: Parsed, entity: Parsed, metrics: Sequence[Metric],
               attrs: pl.Expr | None = None) -> pl.LazyFrame:
    """Turn a wide sample row into ``usage`` rows, one per metric, in one streaming pass.

    A metric whose value is null without a reason (empty / absent / NA in the source) yields
    no row. A metric that fails to parse yields a rejected row with its own reason. When the
    time or entity of the source row is broken, the row yields exactly one rejected row
    (instead of one per metric) so the rejects table stays one line per broken source line.
    """
    line_reason = first_reason(t_s.reason, entity.reason)
    items = [
        pl.struct(
            pl.lit(m.name, pl.String).alias("metric"),
            m.parsed.value.cast(pl.Float64).alias("value"),
            pl.lit(m.unit, pl.String).alias("unit"),
            m.parsed.reason.cast(pl.String).alias("why"),
        )
        for m in metrics
    ]
    broken = pl.struct(
        pl.lit(None, pl.String).alias("metric"), pl.lit(None, pl.Float64).alias("value"),
        pl.lit(None, pl.String).alias("unit"), line_reason.alias("why"),
    )
    m = pl.col("_m")
    out = frame.with_columns(
        t_s.value.cast(pl.Float64).alias("t_s"),
        entity.value.alias("entity_id"),
        (attrs if attrs is not None else pl.lit(None, pl.String)).alias("attrs"),
        pl.when(line_reason.is_null()).then(pl.concat_list(items))
        .otherwise(pl.concat_list([broken])).alias("_m"),
    ).explode("_m")
    out = out.with_columns(
        m.struct.field("metric").alias("metric"),
        m.struct.field("value").alias("value"),
        m.struct.field("unit").alias("unit"),
        m.struct.field("why").alias(REASON),
    ).drop("_m")
    return out.filter(pl.col("value").is_not_null() | pl.col(REASON).is_not_null())
