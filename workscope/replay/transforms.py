"""Workload transforms: composable, lazy functions ``Workload -> Workload``.

Each transform returns a new :class:`~workscope.replay.workload.Workload` whose frame is still a
polars ``LazyFrame`` (nothing is read until an exporter writes it) and records itself in
``meta["transforms"]`` with its parameters and, for random steps, its seed. Where a transform
needs a fact about the whole workload (a row count, the busiest minute) it runs one small
aggregate query; the rows themselves stay lazy.

- :func:`window` keeps ``start_s <= t < end_s`` and re-bases the window to start at 0.
- :func:`busiest` finds the N-minute window (aligned to whole minutes of the trace origin) with
  the most events, from counts per minute, and windows to it.
- :func:`speed` divides times by ``factor`` (``> 1`` is faster): counts and order are kept.
- :func:`scale_rate` changes the mean rate but keeps the shape of the arrival process:
  below 1x by *thinning* (each unit kept independently with probability ``factor``);
  above 1x by *superposition*: ``floor(factor)`` copies (copy 0 is the source itself, copies
  1..k-1 are circularly shifted by independent uniform offsets modulo the period) plus one
  more shifted copy thinned to the fractional part. Thinning and superposing independent
  shifted copies of a stationary process keep the distribution of inter-arrivals normalized
  by their mean (exact for Poisson; the test shows KS <= 0.05 on the Azure LLM conv trace).
- :func:`compress_idle` shrinks every gap longer than ``max_gap_s`` to ``max_gap_s``.
- :func:`filter` keeps rows whose column is in a set of values (model, function_id, user,
  status, ...).

Units: requests with a ``session_id`` and jobs (``job_id``, all tasks together) are kept,
dropped and duplicated whole, so sessions are never torn apart; a copied session is shifted as
one block (its first turn lands on the circular shift, later turns keep their gaps). Rows
without a unit id are handled row by row (requests linked only by ``parent_id``, as in
Qwen-Bailian, have no session id, so a thinned parent may be dropped while its child stays). Ids in copies are made unique (``#<copy>`` appended
to request_id, session_id, parent_id and job_id); prefix-cache ``hash_ids`` in copies are offset
past the source's largest id so copies do not share cache blocks (``distinct_hash_ids``).

Absolute times other than the event time (jobs' ``start_s`` / ``end_s``) move with the row, so
waits and runtimes are kept (unless :func:`speed` is asked to scale durations too).

Randomness: a Bernoulli draw is a pure function of (seed, copy, unit) through SplitMix64 on the
unit's key (the row index, or the index of the first row of its session / job), so the same seed gives
the same rows whatever the batch sizes of the engine; shift offsets come from
``numpy.random.default_rng(seed)``. Output is sorted by (time, copy, source row): the same seed
gives byte-identical files.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from workscope.errors import UsageError
from workscope.limits import check_bins
from workscope.replay.workload import WORKLOAD_TABLES, Workload

# Absolute times that travel with the row's event time (a job's start/end follow its submit).
FOLLOW_TIMES: dict[str, tuple[str, ...]] = {"jobs": ("start_s", "end_s")}
# Columns that are lengths of time, scaled by speed(..., scale_durations=True).
DURATIONS: dict[str, tuple[str, ...]] = {
    "requests": ("latency_s",),
    "invocations": ("duration_s", "cold_start_s", "pod_alloc_s", "deploy_code_s", "deploy_deps_s",
                    "scheduling_s"),
    "jobs": ("runtime_req_s",),
    "invocation_counts": ("window_s",),
}
# The unit that is kept / copied whole, per table (rows with a null unit are handled alone).
UNIT: dict[str, str] = {"requests": "session_id", "jobs": "job_id"}
# Ids made unique in superposed copies.
ID_COLUMNS: dict[str, tuple[str, ...]] = {"requests": ("request_id", "session_id", "parent_id"),
                                          "jobs": ("job_id",)}

_ROW = "__ws_row"
_COPY = "__ws_copy"
_KEY = "__ws_key"
_ANCHOR = "__ws_anchor"
_MASK64 = (1 << 64) - 1
_UNIT_TAG = np.uint64(1 << 63)  # keys of units are tagged so they never equal a row index


BUSIEST_BIN_S = 60.0
"""The bins that ``busiest`` counts events in (its windows are whole minutes)."""


def _columns(wl: Workload) -> list[str]:
    return wl.frame.collect_schema().names()


def _need_time(wl: Workload) -> str:
    t = wl.time
    if t not in _columns(wl):
        raise UsageError(f"workload has no {t!r} column")
    return t


def _retime(wl: Workload, lf: pl.LazyFrame, new_t: pl.Expr) -> pl.LazyFrame:
    """Set the event time to ``new_t``; follow-on absolute times move by the same amount."""
    t = wl.time
    have = lf.collect_schema().names()
    delta = new_t - pl.col(t)
    follow = [(pl.col(c) + delta).alias(c) for c in FOLLOW_TIMES.get(wl.table, ()) if c in have]
    # with_columns evaluates on the old frame, so delta uses the old time.
    return lf.with_columns(new_t.alias(t), *follow)


def _positive(name: str, value: float) -> float:
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise UsageError(f"{name} must be a positive number, got {value!r}")
    return v


# ---------------------------------------------------------------------------------------------
# Deterministic randomness


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on uint64 (a bijection; numpy array arithmetic wraps mod 2**64)."""
    z = x.astype(np.uint64, copy=True)
    z += np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _stream_base(seed: int, stream: int) -> np.uint64:
    s = splitmix64(np.array([seed & _MASK64], dtype=np.uint64))
    return splitmix64(s ^ np.uint64(stream & _MASK64))[0]


def uniforms(keys: np.ndarray, seed: int, stream: int) -> np.ndarray:
    """Uniform [0, 1) floats, a pure function of (seed, stream, key) for each uint64 key."""
    z = splitmix64(keys.astype(np.uint64) ^ _stream_base(seed, stream))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _uniform_expr(key: pl.Expr, seed: int, stream: int) -> pl.Expr:
    """Lazy column of :func:`uniforms` over a UInt64 key column (elementwise, batch-independent)."""
    return key.map_batches(
        lambda s: pl.Series(s.name, uniforms(s.to_numpy(), seed, stream), dtype=pl.Float64),
        return_dtype=pl.Float64, is_elementwise=True)


def _unit_of(wl: Workload) -> str | None:
    u = UNIT.get(wl.table)
    return u if u is not None and u in _columns(wl) else None


def _key_expr(unit: str | None) -> pl.Expr:
    """UInt64 key of a row's unit: the row index of the unit's first row (tagged), else its own."""
    row = pl.col(_ROW).cast(pl.UInt64)
    if unit is None:
        return row
    first = pl.col(_ROW).min().over(unit).cast(pl.UInt64) | pl.lit(_UNIT_TAG, dtype=pl.UInt64)
    return pl.when(pl.col(unit).is_null()).then(row).otherwise(first)


# ---------------------------------------------------------------------------------------------
# Transforms


def _window_frame(wl: Workload, start_s: float | None, end_s: float | None, rebase: bool) -> pl.LazyFrame:
    t = _need_time(wl)
    lf = wl.frame
    if start_s is not None:
        lf = lf.filter(pl.col(t) >= float(start_s))
    if end_s is not None:
        lf = lf.filter(pl.col(t) < float(end_s))
    if rebase and start_s:
        lf = _retime(wl, lf, pl.col(t) - float(start_s))
    return lf


def window(wl: Workload, start_s: float | None = None, end_s: float | None = None, *,
           rebase: bool = True) -> Workload:
    """Rows with ``start_s <= time < end_s`` (either bound may be None = open).

    With ``rebase`` (default) times are shifted by ``-start_s`` so the window starts at 0.
    """
    for name, bound in (("start_s", start_s), ("end_s", end_s)):
        if bound is not None and not math.isfinite(float(bound)):
            raise UsageError(f"window {name} must be a finite number of seconds (or open), got {bound!r}")
    if start_s is not None and end_s is not None and float(end_s) <= float(start_s):
        raise UsageError(f"window end_s ({end_s}) must be after start_s ({start_s})")
    frame = _window_frame(wl, start_s, end_s, rebase)
    return wl.with_frame(frame, {"name": "window", "start_s": start_s, "end_s": end_s, "rebase": rebase})


def bin_index(t: pl.Expr, bin_s: float) -> pl.Expr:
    """``floor(t / bin_s)`` as Int64, exact at bin edges: ``k * bin_s <= t < (k + 1) * bin_s``.

    The quotient can round across an integer (polars also divides by a scalar through its
    reciprocal), so the floor is corrected against the edges the window filter uses.
    """
    k = (t / bin_s).floor()
    k = pl.when((k + 1) * bin_s <= t).then(k + 1).when(k * bin_s > t).then(k - 1).otherwise(k)
    return k.cast(pl.Int64)


def counts_per_bin(wl: Workload, bin_s: float = BUSIEST_BIN_S) -> pl.DataFrame:
    """Events per ``bin_s`` bin of the time axis (bins aligned to the origin): ``bin``, ``count``.

    Dense from the first to the last occupied bin (empty bins count 0), sorted by bin.
    """
    t = _need_time(wl)
    bin_s = _positive("bin_s", bin_s)
    sparse = (wl.frame.select(bin_index(pl.col(t), bin_s).alias("bin"))
              .group_by("bin").agg(pl.len().cast(pl.Int64).alias("count")).collect())
    return dense_counts(sparse, bin_s)


def dense_counts(sparse: pl.DataFrame, bin_s: float) -> pl.DataFrame:
    """Counts per occupied bin (``bin``, ``count``) made dense from the first to the last
    occupied bin (empty bins count 0), sorted by bin."""
    sparse = sparse.select(pl.col("bin").cast(pl.Int64), pl.col("count").cast(pl.Int64))
    if sparse.height == 0:
        return pl.DataFrame({"bin": [], "count": []}, schema={"bin": pl.Int64, "count": pl.Int64})
    lo, hi = sparse["bin"].min(), sparse["bin"].max()
    check_bins(hi - lo + 1, f"counts per {bin_s:g} s bin")  # type: ignore[operator]
    dense = pl.DataFrame({"bin": pl.int_range(lo, hi + 1, eager=True, dtype=pl.Int64)})
    return (dense.join(sparse, on="bin", how="left").with_columns(pl.col("count").fill_null(0))
            .sort("bin"))


def busiest(wl: Workload, minutes: int, *, rebase: bool = True, bin_s: float = BUSIEST_BIN_S,
            counts: pl.DataFrame | None = None) -> Workload:
    """The ``minutes``-minute window (whole minutes since the origin) with the most events.

    Ties go to the earliest window. A workload shorter than the window keeps all of it,
    starting at its first minute. ``counts``: the workload's :func:`counts_per_bin`, when an
    engine counted them over the whole trace and ``wl`` holds only rows that window can keep.
    """
    if int(minutes) != minutes or minutes < 1:
        raise UsageError(f"minutes must be a positive whole number, got {minutes!r}")
    minutes = int(minutes)
    if counts is None:
        counts = counts_per_bin(wl, bin_s)
    start_s, end_s, events = busiest_window(counts, minutes, bin_s)
    frame = _window_frame(wl, start_s, end_s, rebase)
    return wl.with_frame(frame, {"name": "busiest", "minutes": minutes, "bin_s": bin_s,
                                 "start_s": start_s, "end_s": end_s, "events": events,
                                 "rebase": rebase})


def busiest_window(counts: pl.DataFrame, minutes: int, bin_s: float = BUSIEST_BIN_S) -> tuple[float, float, int]:
    """[start, end) in seconds of the run of ``minutes`` bins of :func:`counts_per_bin` with the
    most events (the earliest of equals), and its events."""
    if counts.height == 0:
        raise UsageError("busiest: the workload is empty")
    c = counts["count"].to_numpy()
    # Sums of every run of `minutes` consecutive bins from the cumulative sum.
    cs = np.concatenate([[0], np.cumsum(c)])
    width = min(minutes, c.size)
    sums = cs[width:] - cs[:-width]
    best = int(np.argmax(sums))  # argmax returns the first maximum: the earliest window wins
    first_bin = int(counts["bin"][0]) + best
    return first_bin * bin_s, (first_bin + minutes) * bin_s, int(sums[best])


def speed(wl: Workload, factor: float, *, scale_durations: bool = False) -> Workload:
    """Time-scale the workload: every event time is divided by ``factor`` (> 1 = faster).

    (Computed as ``t * (1 / factor)``, within one rounding of ``t / factor``.)

    Counts and order are unchanged. Jobs' start/end move with their submit time (waits and
    runtimes kept) unless ``scale_durations``, which also divides durations (latency_s,
    duration_s and cold-start parts, runtime_req_s, job waits and runtimes) by ``factor``.
    """
    f = _positive("factor", factor)
    # Multiply by the reciprocal: polars divides a column by a scalar through its reciprocal
    # on most rows but exactly on a few tail rows, which can put equal times out of order.
    inv = 1.0 / f
    t = _need_time(wl)
    if scale_durations:
        have = _columns(wl)
        cols = [t, *FOLLOW_TIMES.get(wl.table, ()), *DURATIONS.get(wl.table, ())]
        frame = wl.frame.with_columns([(pl.col(c) * inv).alias(c) for c in cols if c in have])
    else:
        frame = _retime(wl, wl.frame, pl.col(t) * inv)
    return wl.with_frame(frame, {"name": "speed", "factor": f, "scale_durations": scale_durations})


def scale_rate(wl: Workload, factor: float | None = None, *, target_rate_per_s: float | None = None,
               seed: int, distinct_hash_ids: bool = True) -> Workload:
    """Scale the mean arrival rate by ``factor`` (or to ``target_rate_per_s``), keeping its shape.

    ``factor < 1``: thinning, each unit (session, job, or row) kept with probability ``factor``.
    ``factor >= 1``: copy 0 is the workload itself; copies 1..floor(factor)-1 are the workload
    circularly shifted by an independent uniform offset in [0, P) modulo the period
    ``P = (t_last - t_first) * n / (n - 1)`` (the span plus one mean gap, so the wrap point
    leaves an ordinary gap); a further shifted copy thinned to ``factor - floor(factor)``
    supplies the fractional part. A session / job moves as one block (its first event is
    wrapped, the others keep their offsets from it).

    ``target_rate_per_s`` sets ``factor = target / (n / (t_last - t_first))``.
    """
    if seed is None:
        raise UsageError("scale_rate needs an explicit seed")
    if (factor is None) == (target_rate_per_s is None):
        raise UsageError("give exactly one of factor or target_rate_per_s")
    if wl.table not in WORKLOAD_TABLES:
        raise UsageError(f"scale_rate works on event tables ({', '.join(WORKLOAD_TABLES)}), not {wl.table!r}")
    t = _need_time(wl)
    hashed = distinct_hash_ids and "hash_ids" in _columns(wl)
    n, t0, span, hmax = _rate_facts(wl, hashed)
    if target_rate_per_s is not None:
        target = _positive("target_rate_per_s", target_rate_per_s)
        if span <= 0:
            raise UsageError("scale_rate: the workload has no time span, so it has no rate to scale")
        f = target / (n / span)
    else:
        f = _positive("factor", factor)  # type: ignore[arg-type]
    k = math.floor(f)
    frac = f - k
    period = span * n / (n - 1) if n > 1 else 0.0
    rng = np.random.default_rng(seed)
    plan = _CopyPlan(seed=seed, unit=_unit_of(wl), t0=t0, period=period,
                     offsets=[0.0] + [float(u) * period for u in rng.random(k)],  # copy 0 unshifted
                     hmax=hmax)
    base = _keyed(wl, plan.unit)
    if k == 0:
        parts = [_copy(wl, base, plan, 0, frac)]
    else:
        parts = [_copy(wl, base, plan, j, None) for j in range(k)]
        if frac > 0:
            parts.append(_copy(wl, base, plan, k, frac))
    frame = (pl.concat(parts, how="vertical").sort([t, _COPY, _ROW])
             .drop(_ROW, _COPY, _KEY, *([_ANCHOR] if plan.unit is not None else [])))
    offsets = plan.offsets
    step: dict[str, Any] = {"name": "scale_rate", "factor": f, "target_rate_per_s": target_rate_per_s,
                            "seed": seed, "copies": k, "fraction": frac, "period_s": period,
                            "offsets_s": offsets[1:k] + ([offsets[k]] if k and frac > 0 else []),
                            "unit": plan.unit, "distinct_hash_ids": hashed}
    return wl.with_frame(frame, step)


@dataclass(frozen=True)
class _CopyPlan:
    """What every copy of :func:`scale_rate` shares: its seed, unit and time shifts."""

    seed: int
    unit: str | None  # the column whose units move whole, None when rows move alone
    t0: float  # first event time: the start of the circular shift
    period: float  # the circular shift wraps modulo this (0: no shift)
    offsets: list[float]  # shift of copy j (copy 0 is not shifted)
    hmax: int | None  # largest hash id, when copies get distinct hash ids


def _rate_facts(wl: Workload, hashed: bool) -> tuple[int, float, float, int | None]:
    """Rows, first event time, time span and (when ``hashed``) the largest hash id, in one pass."""
    t = wl.time
    aggs = [pl.len().alias("n"), pl.col(t).min().alias("t0"), pl.col(t).max().alias("t1")]
    if hashed:
        aggs.append(pl.col("hash_ids").list.max().max().alias("hmax"))
    st = wl.frame.select(aggs).collect().row(0, named=True)
    n, t0, t1 = int(st["n"]), st["t0"], st["t1"]
    if n == 0:
        raise UsageError("scale_rate: the workload is empty")
    return n, t0, float(t1 - t0), st.get("hmax") if hashed else None


def _keyed(wl: Workload, unit: str | None) -> pl.LazyFrame:
    """The frame with its row index, unit key and (with a unit) the unit's first event time.

    Done once, before the copies: each copy would otherwise group by unit again.
    """
    t = wl.time
    extra = [_key_expr(unit).alias(_KEY)]
    if unit is not None:
        extra.append(pl.when(pl.col(unit).is_null()).then(pl.col(t))
                     .otherwise(pl.col(t).min().over(unit)).alias(_ANCHOR))
    return wl.frame.with_row_index(_ROW).with_columns(extra)


def _copy(wl: Workload, base: pl.LazyFrame, plan: _CopyPlan, j: int, keep_p: float | None) -> pl.LazyFrame:
    """Copy ``j`` of the keyed frame: thinned to ``keep_p``, shifted and given unique ids (j > 0)."""
    t = wl.time
    lf = base
    if keep_p is not None:
        lf = lf.filter(_uniform_expr(pl.col(_KEY), plan.seed, j) < keep_p)
    if j > 0 and plan.period > 0:
        anchor = pl.col(_ANCHOR) if plan.unit is not None else pl.col(t)
        new_anchor = plan.t0 + ((anchor - plan.t0 + plan.offsets[j]) % plan.period)
        lf = _retime(wl, lf, pl.col(t) + (new_anchor - anchor))
    if j > 0:
        have = _columns(wl)
        ids = [(pl.col(c) + f"#{j}").alias(c) for c in ID_COLUMNS.get(wl.table, ()) if c in have]
        if plan.hmax is not None:
            ids.append(pl.col("hash_ids").list.eval(pl.element() + j * (int(plan.hmax) + 1)))
        lf = lf.with_columns(ids)
    return lf.with_columns(pl.lit(j, dtype=pl.Int64).alias(_COPY))


def compress_idle(wl: Workload, max_gap_s: float) -> Workload:
    """Shrink every gap between consecutive events longer than ``max_gap_s`` to ``max_gap_s``.

    Times move back by the cumulative excess of earlier gaps, so runs of short gaps keep their
    exact spacing; order is kept (a running maximum guards against rounding).
    """
    m = float(max_gap_s)
    if not math.isfinite(m) or m < 0:
        raise UsageError(f"max_gap_s must be a non-negative number, got {max_gap_s!r}")
    t = _need_time(wl)
    excess = (pl.col(t).diff().fill_null(0.0) - m).clip(lower_bound=0.0)
    new_t = (pl.col(t) - excess.cum_sum()).cum_max()
    frame = _retime(wl, wl.frame, new_t)
    return wl.with_frame(frame, {"name": "compress_idle", "max_gap_s": m})


def filter(wl: Workload, column: str, values: Any, *, exclude: bool = False) -> Workload:
    """Rows whose ``column`` is one of ``values`` (a value or an iterable; None matches null).

    With ``exclude`` the rows that match are dropped instead.
    """
    have = _columns(wl)
    if column not in have:
        raise UsageError(f"filter: workload ({wl.table}) has no column {column!r}; it has {have}")
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        vals = [values]
    else:
        vals = list(values)
    non_null = [v for v in vals if v is not None]
    dtype = wl.frame.collect_schema()[column]
    cond = pl.col(column).is_in(pl.Series(non_null, dtype=dtype).implode()) if non_null else pl.lit(False)
    if len(non_null) != len(vals):
        cond = cond | pl.col(column).is_null()
    cond = cond.fill_null(False)
    frame = wl.frame.filter(~cond if exclude else cond)
    return wl.with_frame(frame, {"name": "filter", "column": column, "values": vals, "exclude": exclude})
