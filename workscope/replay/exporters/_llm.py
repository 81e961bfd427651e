"""What the LLM-serving exporters share: linting and facts of a requests workload, export times,
prefix-cache hash ids (block size, filling, re-blocking), Mooncake records and shell commands.

Re-blocking. Hash ids of ``src``-token blocks become ids of ``dst``-token blocks when ``src``
divides ``dst`` (Qwen-Bailian's 16-token blocks: 32 small blocks make one 512 block): each new
block id is a dense id of the (whole prefix up to that block, block extent), so two requests
get the same new id exactly when their small-block prefixes agree up to that block's end --
prefix sharing is preserved, never invented. Identity is a 64-bit polynomial hash of the
prefix (collisions negligible).

Filling. Rows without ``hash_ids`` get ``ceil(input_tokens / block)`` fresh ids, unique across
the file, so they share no prefix with anything.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from workscope.atomic import atomic_path
from workscope.errors import UsageError
from workscope.options import Option
from workscope.replay.transforms import splitmix64
from workscope.replay.workload import LintError, Workload, check

MOONCAKE_BLOCK = 512
_T = "_t"  # the export time column (seconds, rebased or not)
_ENV = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")



class Verbatim(str):
    """A command word the shell must take as written, like a path (a word that embeds one)."""

    __slots__ = ()


def sh(value: Any) -> str:
    """One shell word: plain values single-quoted as needed; ``${VAR}`` left for the shell.

    Paths are always single-quoted (a file name holding ``${X}`` names that file). Any other
    character the shell treats specially inside double quotes (``$`` not in a placeholder,
    backquote, double quote, backslash, ``!``) makes the whole word single-quoted instead.
    """
    text = str(value)
    if isinstance(value, (Path, Verbatim)):
        return shlex.quote(text)
    if _ENV.search(text) and not re.search(r'[$`"\\!]', _ENV.sub("", text)):
        # Double quotes so the shell expands the placeholder (model name, server URL).
        return f'"{text}"'
    return shlex.quote(text)


def command(*words: Any) -> str:
    """A command line from words (each quoted for the shell)."""
    return " ".join(sh(w) for w in words)


def server_options() -> dict[str, Option]:
    """The options every load-generator exporter has: where the server is, which model."""
    return {
        "model": Option(str, "${MODEL}", "model name passed to the benchmark client"),
        "base_url": Option(str, "http://localhost:8000", "server URL passed to the benchmark client"),
    }


def rebase_option(default: bool) -> dict[str, Option]:
    """The ``rebase`` option: shift times so the first request is at 0."""
    return {"rebase": Option(bool, default, "shift times so that the first request is at 0")}


@dataclass(frozen=True)
class Prepared:
    """A linted requests workload ready to write, and the facts its writers need."""

    frame: pl.LazyFrame  # the workload's columns plus ``_t`` (export seconds)
    rows: int
    t0: float | None  # first arrival_s (None for an empty workload)
    rebased: bool
    block: int | None  # tokens per hash block (manifest), None when unknown
    hash_rows: int  # rows with hash_ids
    hash_min: int | None
    hash_max: int | None
    max_input: int | None
    max_total: int | None
    max_total_min1: int | None  # largest max(input, 1) + max(output, 1)
    zero_input: int
    zero_output: int
    ms_integral: bool  # every export time is a whole millisecond (after µs rounding)
    span_s: float  # last - first arrival

    def notes(self) -> list[str]:
        """Facts worth telling the user about any export of this workload."""
        out = []
        if self.rebased and self.t0:
            out.append(f"times rebased: the first request (arrival_s = {self.t0!r}) is at 0")
        if self.zero_output:
            out.append(f"{self.zero_output} rows have output_tokens = 0 "
                       "(failed or empty requests in the source)")
        if self.zero_input:
            out.append(f"{self.zero_input} rows have input_tokens = 0")
        return out


def prepare(wl: Workload, target: str, *, rebase: bool, tokens: bool = True) -> Prepared:
    """Lint ``wl`` (LintError on any problem), gather its facts in one pass, add ``_t``.

    With ``tokens``, rows lacking input or output token counts are refused: every LLM
    target needs both, and inventing them would misstate the workload.
    """
    if wl.table != "requests":
        raise UsageError(f"target {target!r} replays requests workloads, not {wl.table}")
    check(wl)
    cols = wl.frame.collect_schema().names()
    t = pl.col("arrival_s")
    first = t.first()
    shifted = (t - first) if rebase else t
    ms = (shifted * 1000.0).round(3)
    tin, tout = pl.col("input_tokens"), pl.col("output_tokens")
    hashes = pl.col("hash_ids") if "hash_ids" in cols else pl.lit(None, pl.List(pl.Int64))
    row = wl.frame.select(
        pl.len().alias("n"),
        first.alias("t0"),
        t.last().alias("t1"),
        tin.is_null().sum().alias("null_in"),
        tout.is_null().sum().alias("null_out"),
        hashes.is_not_null().sum().alias("hash_rows"),
        hashes.list.min().min().alias("hmin"),
        hashes.list.max().max().alias("hmax"),
        tin.max().alias("max_in"),
        (tin + tout).max().alias("max_total"),
        (tin.clip(lower_bound=1) + tout.clip(lower_bound=1)).max().alias("max_total_min1"),
        (tin == 0).sum().alias("zero_in"),
        (tout == 0).sum().alias("zero_out"),
        (ms != ms.floor()).sum().alias("ms_frac"),
    ).collect().row(0, named=True)
    if tokens and (row["null_in"] or row["null_out"]):
        raise LintError(
            f"workload from {wl.meta.get('source_trace')!r} has {row['null_in']} rows without input_tokens "
            f"and {row['null_out']} without output_tokens; {target} needs both token counts. "
            "Filter those rows out first (they cannot be replayed by length)")
    t0 = row["t0"]
    frame = wl.frame.with_columns((t - pl.lit(t0 if (rebase and t0) else 0.0)).alias(_T))
    if "hash_ids" not in cols:
        frame = frame.with_columns(pl.lit(None, pl.List(pl.Int64)).alias("hash_ids"))
    return Prepared(
        frame=frame, rows=row["n"], t0=t0, rebased=rebase, block=wl.meta.get("hash_block_tokens"),
        hash_rows=row["hash_rows"], hash_min=row["hmin"], hash_max=row["hmax"], max_input=row["max_in"],
        max_total=row["max_total"], max_total_min1=row["max_total_min1"], zero_input=row["zero_in"] or 0,
        zero_output=row["zero_out"] or 0,
        ms_integral=not row["ms_frac"], span_s=(row["t1"] - t0) if row["n"] else 0.0,
    )


def ms_expr(p: Prepared) -> pl.Expr:
    """Export time in milliseconds: integers when every row is a whole ms, else floats."""
    ms = (pl.col(_T) * 1000.0).round(3)
    return ms.cast(pl.Int64) if p.ms_integral else ms


def seconds_expr() -> pl.Expr:
    """Export time in seconds (float64, shortest round-trip text when written)."""
    return pl.col(_T)


def block_for(p: Prepared, target: str, wanted: int = 0) -> int:
    """Tokens per hash block for the export: the manifest's, else ``wanted`` or 512.

    A workload that has hash_ids but no block size cannot be exported faithfully: its ids
    mean nothing without the block size, so it is refused.
    """
    if p.block:
        if wanted and wanted != p.block:
            raise UsageError(f"{target}: block_tokens={wanted} but the workload's hash_ids are "
                             f"{p.block}-token blocks (manifest); leave block_tokens unset")
        return int(p.block)
    if p.hash_rows:
        raise LintError(f"{target}: the workload has hash_ids but its manifest gives no block size "
                        "(meta.hash_block_tokens); its prefix ids cannot be interpreted")
    return wanted or MOONCAKE_BLOCK


def filled_hash_ids(p: Prepared, block: int, base: int | None = None) -> tuple[pl.Expr, int]:
    """hash_ids with fresh ids for rows that have none, and how many rows were filled.

    A filled row gets ``ceil(input_tokens / block)`` ids never used elsewhere in the file, so
    it shares no prefix with anything (nothing is invented about reuse).
    """
    missing = p.rows - p.hash_rows
    if not missing:
        return pl.col("hash_ids"), 0
    if base is None:
        base = (p.hash_max + 1) if p.hash_max is not None else 0
    need = pl.when(pl.col("hash_ids").is_null()).then(
        (pl.col("input_tokens") + (block - 1)) // block).otherwise(0)
    start = pl.lit(base, pl.Int64) + need.cum_sum() - need
    fresh = pl.int_ranges(start, start + need, dtype=pl.Int64)
    return pl.coalesce(pl.col("hash_ids"), fresh), missing


def _odd_mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 of each id, made odd (nearby ids must not give related polynomial terms)."""
    return splitmix64(x) | np.uint64(1)


def reblock(hash_ids: pl.Series, src: int, dst: int) -> pl.Series:
    """Re-block prefix hash ids from ``src``-token to ``dst``-token blocks (``dst % src == 0``).

    New block k of a request covers its small blocks ``[k*f, min(L, (k+1)*f))`` (f = dst/src).
    Its id is a dense id (in order of first appearance) of (prefix hash up to the block's last
    small block, number of small blocks in the prefix): equal exactly when the small-id
    prefixes are equal, so prefix sharing carries over. Null lists stay null.
    """
    f = dst // src
    lengths = hash_ids.list.len().fill_null(0).to_numpy().astype(np.int64)
    flat = hash_ids.explode().drop_nulls().to_numpy().astype(np.int64)
    if not len(flat):
        return hash_ids
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    pos = np.arange(len(flat), dtype=np.int64) - np.repeat(starts, lengths)
    # Prefix polynomial P_p = sum_j m_j B^(p-j) = B^p * sum_j m_j B^-j  (mod 2^64, B odd),
    # so a per-request cumulative sum gives every prefix hash without a Python loop.
    base = 0x100000001B3
    inv = pow(base, -1, 1 << 64)
    top = int(lengths.max())
    powers = np.empty(top, dtype=np.uint64)
    inverses = np.empty(top, dtype=np.uint64)
    acc_p, acc_i = 1, 1
    for i in range(top):  # one entry per position, not per row
        powers[i], inverses[i] = acc_p, acc_i
        acc_p, acc_i = (acc_p * base) % (1 << 64), (acc_i * inv) % (1 << 64)
    row_start = np.repeat(starts, lengths)
    with np.errstate(over="ignore"):
        terms = _odd_mix(flat) * inverses[pos]
        csum = np.cumsum(terms, dtype=np.uint64)
        before = np.where(row_start > 0, csum[np.maximum(row_start - 1, 0)], np.uint64(0))
        prefix = powers[pos] * (csum - before)
    last = np.repeat(starts + lengths - 1, lengths)
    is_end = (pos % f == f - 1) | (np.arange(len(flat)) == last)
    keys = pl.DataFrame({"p": prefix[is_end], "n": pos[is_end],
                         "row": np.repeat(np.arange(len(lengths)), lengths)[is_end]}).with_row_index("_i")
    # Dense ids in order of first appearance, so the output does not depend on hash values.
    first_seen = (keys.group_by("p", "n").agg(pl.col("_i").min().alias("_f"))
                  .sort("_f").with_row_index("id").select("p", "n", pl.col("id").cast(pl.Int64)))
    new = (keys.join(first_seen, on=["p", "n"], how="left", maintain_order="left")
           .group_by("row", maintain_order=True).agg("id"))
    full = pl.DataFrame({"row": np.arange(len(lengths), dtype=np.int64)}).join(
        new.with_columns(pl.col("row").cast(pl.Int64)), on="row", how="left", maintain_order="left")
    # Rows that had an empty (not null) list keep an empty list; null stays null.
    return pl.DataFrame({"orig": hash_ids, "new": full["id"]}).select(
        pl.when(pl.col("orig").is_null()).then(None)
        .otherwise(pl.col("new").fill_null(pl.lit([], pl.List(pl.Int64)))).alias(hash_ids.name)
    ).to_series()


def mooncake_lines(p: Prepared, target: str, *, block: int, to_block: int | None, reblock_ok: bool,
                   time: pl.Expr) -> tuple[pl.LazyFrame, list[str]]:
    """The Mooncake-record frame (timestamp, input_length, output_length, hash_ids) and notes.

    ``to_block``: the block size the target requires (None: any, keep the workload's).
    """
    notes = []
    frame = p.frame
    base = None
    if to_block and block != to_block and p.hash_rows:
        if block > to_block or to_block % block:
            raise LintError(f"{target} needs {to_block}-token hash blocks; the workload's are {block}-token "
                            f"blocks, which cannot be re-blocked exactly (only divisors of {to_block} can)")
        if not reblock_ok:
            raise LintError(f"{target} needs {to_block}-token hash blocks; the workload's are {block}-token "
                            "blocks and option reblock is off")
        df = frame.collect()
        df = df.with_columns(reblock(df["hash_ids"], block, to_block))
        top = df["hash_ids"].list.max().max()
        base = None if top is None else int(top) + 1
        frame = df.lazy()
        notes.append(f"hash_ids re-blocked from {block}-token to {to_block}-token blocks "
                     "(prefix sharing preserved; the workload was collected in memory)")
        block = to_block
    hashes, filled = filled_hash_ids(p, to_block or block, base)
    if filled:
        notes.append(f"{filled} rows had no hash_ids: given fresh unique ids "
                     f"({to_block or block}-token blocks, no prefix sharing)")
    return frame.select(time.alias("timestamp"), pl.col("input_tokens").alias("input_length"),
                        pl.col("output_tokens").alias("output_length"), hashes.alias("hash_ids")), notes


def write_ndjson(frame: pl.LazyFrame, out: Path) -> None:
    """Stream ``frame`` to ``out`` as JSON Lines, atomically."""
    with atomic_path(out) as tmp:
        frame.sink_ndjson(tmp)
