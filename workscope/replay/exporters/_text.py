"""Text that cluster exporters build with polars expressions and stream into their files.

JSON strings and numbers are encoded by polars (vectorised, exact escaping); the lines are
written by polars' CSV sink and appended to the open output, so no row passes through Python.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import IO

import polars as pl


def json_string(expr: pl.Expr) -> pl.Expr:
    """A JSON string literal (quoted and escaped) of a String expression; null stays null."""
    # polars' JSON encoder does the escaping; the struct wrapper is removed afterwards
    return (pl.struct(expr.alias("v")).struct.json_encode()
            .str.strip_prefix('{"v":').str.strip_suffix("}"))


def number_text(expr: pl.Expr) -> pl.Expr:
    """A float as JSON number text (shortest round-trip form)."""
    return expr.cast(pl.Float64).cast(pl.String)


def stream_lines(frame: pl.LazyFrame, fh: IO[bytes], work: Path) -> None:
    """Append the single String column of ``frame`` to ``fh``, one value per line, streamed."""
    part = work.with_name(work.name + ".part")
    try:
        frame.sink_csv(part, include_header=False, quote_style="never")
        with open(part, "rb") as src:
            shutil.copyfileobj(src, fh, 1 << 24)
    finally:
        part.unlink(missing_ok=True)
