"""Numeric kernels that more than one layer needs (ingest parsing, predictor windowing)."""

from __future__ import annotations

import polars as pl


def exact_div(expr: pl.Expr, divisor: float) -> pl.Expr:
    """``expr / divisor`` correctly rounded (as Python and numpy divide).

    polars turns division by a constant into multiplication by its reciprocal, which is off
    by one ulp for ~40 % of values (120 s of nanoseconds becomes 120.00000000000001). A
    divisor computed from the column cannot be folded, so the true division happens.
    """
    x = expr.cast(pl.Float64)
    return x / (x * 0.0 + float(divisor))
