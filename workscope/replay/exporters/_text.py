"""Text that cluster exporters build with polars expressions and stream into their files,
and the run time every cluster exporter derives the same way.

JSON strings and numbers are encoded by polars (vectorised, exact escaping); the lines are
written by polars' CSV sink and appended to the open output, so no row passes through Python.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import polars as pl

from workscope.options import CONTROL


def json_string(expr: pl.Expr) -> pl.Expr:
    """A JSON string literal (quoted and escaped) of a String expression; null stays null."""
    # polars' JSON encoder does the escaping; the struct wrapper is removed afterwards
    return (pl.struct(expr.alias("v")).struct.json_encode()
            .str.strip_prefix('{"v":').str.strip_suffix("}"))


def number_text(expr: pl.Expr) -> pl.Expr:
    """A float as JSON number text (shortest round-trip form)."""
    return expr.cast(pl.Float64).cast(pl.String)


def run_time(frame: pl.LazyFrame) -> pl.Expr:
    """A job's run time in seconds: ``end_s - start_s`` where both are known, else ``run_s``.

    ``run_s`` (the source's own run time) is for logs that record how long a job ran but not
    when it started; a workload from before that column existed has no ``run_s``, and then
    only ``end_s - start_s`` is used. Null where neither is known.
    """
    observed = pl.col("end_s") - pl.col("start_s")
    if "run_s" in frame.collect_schema().names():
        return pl.coalesce(observed, pl.col("run_s"))
    return observed


def stream_lines(frame: pl.LazyFrame, fh: IO[bytes], work: Path) -> None:
    """Append the single String column of ``frame`` to ``fh``, one value per line, streamed."""
    with scratch_file(work) as part:
        frame.sink_csv(part, include_header=False, quote_style="never")
        with open(part, "rb") as src:
            shutil.copyfileobj(src, fh, 1 << 24)


@contextmanager
def scratch_file(work: Path) -> Iterator[Path]:
    """A side file beside ``work`` (a temporary file of ``atomic_path``), removed afterwards.

    Its name matches the temporary-file pattern of the same target and it is locked while in
    use, so if this process is killed the next write of that target removes it, as it removes
    the killed writer's temporary file.
    """
    stem = work.name[: -len(".tmp")] if work.name.endswith(".tmp") else f".{work.name}"
    fd, name = tempfile.mkstemp(dir=work.parent, prefix=stem + ".", suffix=".tmp")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield Path(name)
    finally:
        os.close(fd)
        Path(name).unlink(missing_ok=True)


def header_safe(text: str) -> str:
    """``text`` with control characters written as escapes (``\\n``, ``\\x1b``), for one header line.

    For values that come from metadata rather than from an option (a trace name, a folder
    path): they are not the user's to fix at export time, so they are escaped, not refused.
    """
    return CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
