"""Samplers: smaller workloads that keep whole sessions / jobs, and InVitro-style function samples.

- :func:`sample_sessions` keeps a simple random sample (without replacement) of *units*: each
  session (``session_id``) is one unit and each row without a session is a unit of its own.
- :func:`sample_jobs` does the same with jobs (all tasks of a ``job_id`` together).
- :func:`sample_functions` follows the InVitro sampler (vhive-serverless/invitro,
  ``sampler/sample.py``: ``Trace.get_sample``, ``get_best_sample``, ``compute_distances``):
  draw ``tries`` random subsets of ``n`` functions; score each by, for every minute of the
  trace, the 1-Wasserstein distance between the distribution over the subset's functions of
  that minute's invocation count and the same distribution over all functions, and likewise
  for a resource proxy (count x mean duration x mean memory); a try's score is the mean over
  minutes of ``(inv + res) / 2``; the lowest score wins.
- :func:`sample_functions_nested` follows InVitro's default *roll-down* nesting
  (``get_rolldown_samples``): the largest sample is the best of ``tries`` subsets of all
  functions; each smaller one is the best of ``tries`` subsets *of the previous sample*, still
  scored against the full trace, so every sample is a subset of every larger one.

Where this differs from InVitro: InVitro divides the resource series by a fixed constant tuned
to Azure 2019 units (ms, MB); here the proxy is divided by its mean over all functions of the
full trace (so a function of average size has the same resource and count series), which is
unit-free. A function without a duration / memory gets the mean proxy. If the workload has no
durations the score is the invocation distance alone. Function ids are put in sorted order
before drawing, so a seed picks the same functions whatever the row order.

Works on ``invocations`` workloads and on ``invocation_counts`` (per-function per-window counts,
e.g. Azure Functions 2019) through :func:`counts_workload`, a Workload over that table (its
event time is ``window_start_s``); resources for counts come from the trace's ``functions``
table via :func:`function_resources`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from workscope.errors import UsageError
from workscope.limits import check_bins
from workscope.replay.transforms import bin_index
from workscope.replay.workload import COUNTS_TABLE, Workload, source_meta
from workscope.schemas import TABLES

if TYPE_CHECKING:
    from workscope.store import Trace


# ---------------------------------------------------------------------------------------------
# A Workload over invocation_counts


def counts_workload(trace: Trace) -> Workload:
    """The trace's ``invocation_counts`` as a workload sorted by ``window_start_s``."""
    if COUNTS_TABLE not in trace.tables:
        raise UsageError(f"trace {trace.name!r} has no {COUNTS_TABLE!r} table; it has {trace.tables}")
    # Counts carry no prefix hashes, whatever the manifest says about the trace's requests.
    meta = {**source_meta(trace), "hash_block_tokens": None}
    frame = trace.scan(COUNTS_TABLE).sort([TABLES[COUNTS_TABLE].time_column, "function_id"],
                                          maintain_order=True)
    return Workload(COUNTS_TABLE, frame, meta)


def function_resources(trace: Trace) -> pl.DataFrame:
    """Per function ``duration_s`` and ``memory_mb`` (means) from the trace's ``functions`` table."""
    if "functions" not in trace.tables:
        raise UsageError(f"trace {trace.name!r} has no 'functions' table; it has {trace.tables}")
    return (trace.scan("functions").group_by("function_id")
            .agg(pl.col("duration_avg_s").mean().alias("duration_s"),
                 pl.col("memory_avg_mb").mean().alias("memory_mb"))
            .sort("function_id").collect())


# ---------------------------------------------------------------------------------------------
# Session / job samples


def _how_many(total: int, fraction: float | None, n: int | None) -> int:
    if (fraction is None) == (n is None):
        raise UsageError("give exactly one of fraction or n")
    if fraction is not None:
        f = float(fraction)
        if not (0.0 <= f <= 1.0) or math.isnan(f):
            raise UsageError(f"fraction must be in [0, 1], got {fraction!r}")
        return round(f * total)
    if int(n) != n or n < 0:  # type: ignore[operator]
        raise UsageError(f"n must be a non-negative whole number, got {n!r}")
    if n > total:  # type: ignore[operator]
        raise UsageError(f"n={n} is more than the {total} units available")
    return int(n)  # type: ignore[arg-type]


def _sample_units(wl: Workload, unit: str | None, fraction: float | None, n: int | None,
                  seed: int, name: str) -> Workload:
    """Keep a simple random sample of units (distinct ``unit`` values; rows with null alone)."""
    if seed is None:
        raise UsageError(f"{name} needs an explicit seed")
    have = wl.frame.collect_schema().names()
    if unit is not None and unit not in have:
        unit = None
    if unit is None:
        ids = pl.Series("u", [], dtype=pl.String)  # no unit column: every row is its own unit
        loose = wl.frame.select(pl.len()).collect().item()
    else:
        # Order of first appearance (the frame is sorted by time), so a seed is reproducible.
        ids = wl.frame.select(pl.col(unit).drop_nulls().unique(maintain_order=True)).collect()[unit]
        loose = wl.frame.select(pl.col(unit).is_null().sum()).collect().item()
    total = ids.len() + int(loose)
    k = _how_many(total, fraction, n)
    pick = np.sort(np.random.default_rng(seed).permutation(total)[:k])
    keep_ids = pl.DataFrame({"__ws_id": ids.gather(pick[pick < ids.len()]), "__ws_hit_id": True},
                            schema={"__ws_id": ids.dtype, "__ws_hit_id": pl.Boolean})
    keep_loose = pl.DataFrame({"__ws_ord": pick[pick >= ids.len()] - ids.len(), "__ws_hit_row": True},
                              schema={"__ws_ord": pl.Int64, "__ws_hit_row": pl.Boolean})
    # Semi-joins by left joins that keep the frame's order (an is_in inside when/then makes
    # polars broadcast the list per row). The i-th row with no unit is unit len(ids) + i.
    if unit is None:
        lf = wl.frame.with_row_index("__ws_ord").with_columns(pl.col("__ws_ord").cast(pl.Int64))
    else:
        ordinal = pl.col(unit).is_null().cast(pl.Int64).cum_sum() - 1
        lf = wl.frame.with_columns(pl.when(pl.col(unit).is_null()).then(ordinal).alias("__ws_ord"))
        lf = lf.join(keep_ids.lazy(), left_on=unit, right_on="__ws_id", how="left", maintain_order="left")
    lf = lf.join(keep_loose.lazy(), on="__ws_ord", how="left", maintain_order="left")
    hit = pl.col("__ws_hit_row").is_not_null()
    if unit is not None:
        hit = hit | pl.col("__ws_hit_id").is_not_null()
    frame = lf.filter(hit).drop("__ws_ord", "__ws_hit_row", *(["__ws_hit_id"] if unit else []))
    step = {"name": name, "fraction": fraction, "n": n, "seed": seed, "unit": unit,
            "units": total, "kept_units": k}
    return wl.with_frame(frame, step)


def sample_sessions(wl: Workload, fraction: float | None = None, n: int | None = None, *,
                    seed: int) -> Workload:
    """Keep ``fraction`` (rounded) or ``n`` of the units: whole sessions, and loose rows singly."""
    return _sample_units(wl, "session_id", fraction, n, seed, "sample_sessions")


def sample_jobs(wl: Workload, fraction: float | None = None, n: int | None = None, *,
                seed: int) -> Workload:
    """Keep ``fraction`` (rounded) or ``n`` of the jobs, each with all its task rows."""
    if wl.table != "jobs":
        raise UsageError(f"sample_jobs needs a jobs workload, not {wl.table!r}")
    return _sample_units(wl, "job_id", fraction, n, seed, "sample_jobs")


# ---------------------------------------------------------------------------------------------
# InVitro function sampling


@dataclass(frozen=True)
class SampleResult:
    """A function sample: the workload, the chosen ids and every try's score."""

    workload: Workload
    chosen: tuple[str, ...]
    distances: tuple[float, ...]  # score of each try, in draw order
    best_try: int
    inv_distance: float  # mean over minutes of the invocation-count Wasserstein distance
    res_distance: float | None  # the same for the resource proxy (None without durations)
    size: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", len(self.chosen))

    @property
    def score(self) -> float:
        """The chosen try's score (lower is closer to the full trace)."""
        return self.distances[self.best_try]


@dataclass(frozen=True)
class FunctionMatrix:
    """Per-function per-minute invocation counts of a workload, and the resource proxy."""

    functions: tuple[str, ...]  # sorted ids, rows of the matrices
    counts: np.ndarray  # functions x minutes
    proxy: np.ndarray | None  # per function, duration x memory normalised to mean 1
    proxy_kind: str | None
    bin_s: float


def function_matrix(wl: Workload, *, bin_s: float = 60.0, resources: pl.DataFrame | None = None,
                    key: str = "function_id") -> FunctionMatrix:
    """Counts per (function, minute) as a dense matrix, with the resource proxy per function.

    ``resources`` (``function_id``, ``duration_s``, optional ``memory_mb``) overrides the means
    taken from the rows (needed for invocation_counts, which has no durations).
    """
    have = wl.frame.collect_schema().names()
    if key not in have:
        raise UsageError(f"workload ({wl.table}) has no {key!r} column to sample functions by")
    t = wl.time
    weight = pl.col("count").cast(pl.Float64) if wl.table == COUNTS_TABLE else pl.lit(1.0)
    long = (wl.frame.select(pl.col(key).alias("f"), bin_index(pl.col(t), bin_s).alias("m"),
                            weight.alias("w"))
            .filter(pl.col("f").is_not_null())
            .group_by("f", "m").agg(pl.col("w").sum()).collect())
    if long.height == 0:
        raise UsageError("the workload has no functions to sample")
    funcs = long["f"].unique().sort()
    fidx = {f: i for i, f in enumerate(funcs.to_list())}
    lo = int(long["m"].min())
    width = int(long["m"].max()) - lo + 1
    check_bins(funcs.len() * width, f"invocations per function and {bin_s:g} s bin")
    counts = np.zeros((funcs.len(), width), dtype=np.float64)
    rows = long["f"].replace_strict(fidx, return_dtype=pl.Int64).to_numpy()
    counts[rows, long["m"].to_numpy() - lo] = long["w"].to_numpy()

    if resources is None and wl.table != COUNTS_TABLE and "duration_s" in have:
        aggs = [pl.col("duration_s").mean().alias("duration_s")]
        if "memory_mb" in have:
            aggs.append(pl.col("memory_mb").mean().alias("memory_mb"))
        resources = wl.frame.group_by(pl.col(key).alias("function_id")).agg(aggs).collect()
    proxy, kind = None, None
    if resources is not None and "duration_s" in resources.columns:
        r = pl.DataFrame({"function_id": funcs}).join(resources, on="function_id", how="left")
        dur = r["duration_s"].cast(pl.Float64).to_numpy().copy()
        kind = "duration_s"
        if "memory_mb" in r.columns and r["memory_mb"].null_count() < r.height:
            dur = dur * r["memory_mb"].cast(pl.Float64).to_numpy()
            kind = "duration_s*memory_mb"
        good = np.isfinite(dur)
        if good.any() and dur[good].mean() > 0:
            dur[~good] = dur[good].mean()
            proxy = dur / dur.mean()
        else:
            kind = None
    return FunctionMatrix(tuple(funcs.to_list()), counts, proxy, kind, float(bin_s))


def wasserstein_columns(sample: np.ndarray, full_sorted: np.ndarray, block: int = 512) -> np.ndarray:
    """1-Wasserstein distance, per column, between the rows of ``sample`` and of ``full_sorted``.

    ``full_sorted`` must be sorted along axis 0. Uses the quantile form
    ``W1 = integral_0^1 |Qa(u) - Qb(u)| du``: both quantile functions are step functions with
    breaks at i/n and j/N, the same for every column, so all columns are done at once.
    """
    n, big = sample.shape[0], full_sorted.shape[0]
    if n == 0 or big == 0:
        raise UsageError("Wasserstein distance needs non-empty samples")
    # Breakpoints as integers over the common denominator n * N (exact, no float ceil trouble).
    pts = np.union1d(np.arange(1, n + 1, dtype=np.int64) * big, np.arange(1, big + 1, dtype=np.int64) * n)
    du = np.diff(np.concatenate([[0], pts])).astype(np.float64) / (n * big)
    ia = (pts + big - 1) // big - 1
    ib = (pts + n - 1) // n - 1
    a = np.sort(sample, axis=0)
    out = np.empty(sample.shape[1], dtype=np.float64)
    for s in range(0, sample.shape[1], block):  # blocks bound memory on long traces
        e = min(s + block, sample.shape[1])
        out[s:e] = du @ np.abs(a[ia, s:e] - full_sorted[ib, s:e])
    return out


class _Scorer:
    """Scores subsets of a FunctionMatrix's rows against all of them (InVitro's distance)."""

    def __init__(self, fm: FunctionMatrix) -> None:
        self.fm = fm
        self.inv_sorted = np.sort(fm.counts, axis=0)
        self.res = None if fm.proxy is None else fm.counts * fm.proxy[:, None]
        self.res_sorted = None if self.res is None else np.sort(self.res, axis=0)

    def score(self, rows: np.ndarray) -> tuple[float, float, float | None]:
        inv = float(wasserstein_columns(self.fm.counts[rows], self.inv_sorted).mean())
        if self.res is None:
            return inv, inv, None
        res = float(wasserstein_columns(self.res[rows], self.res_sorted).mean())
        return (inv + res) / 2, inv, res


def _best_of(scorer: _Scorer, pool: np.ndarray, n: int, tries: int,
             rng: np.random.Generator) -> tuple[np.ndarray, list[float], int, float, float | None]:
    if int(tries) != tries or tries < 1:
        raise UsageError(f"tries must be a positive whole number, got {tries!r}")
    if n < 1 or n > pool.size:
        raise UsageError(f"cannot sample {n} functions from {pool.size}")
    scores: list[float] = []
    best: tuple[np.ndarray, int, float, float | None] | None = None
    for i in range(int(tries)):
        rows = np.sort(rng.choice(pool, size=n, replace=False))
        sc, inv, res = scorer.score(rows)
        scores.append(sc)
        if best is None or sc < scores[best[1]]:  # strict: the first of equal scores wins
            best = (rows, i, inv, res)
    assert best is not None
    return best[0], scores, best[1], best[2], best[3]


def _result(wl: Workload, fm: FunctionMatrix, rows: np.ndarray, scores: list[float], best: int,
            inv: float, res: float | None, step: dict[str, Any], key: str) -> SampleResult:
    chosen = tuple(fm.functions[i] for i in rows)
    frame = wl.frame.filter(pl.col(key).is_in(pl.Series(list(chosen), dtype=pl.String).implode()))
    step = {**step, "size": len(chosen), "chosen": list(chosen), "score": scores[best],
            "inv_distance": inv, "res_distance": res, "resource_proxy": fm.proxy_kind}
    return SampleResult(wl.with_frame(frame, step), chosen, tuple(scores), best, inv, res)


def sample_functions(wl: Workload, n: int, *, seed: int, tries: int = 10, bin_s: float = 60.0,
                     resources: pl.DataFrame | None = None, key: str = "function_id") -> SampleResult:
    """The best of ``tries`` random samples of ``n`` functions (lowest InVitro score)."""
    if seed is None:
        raise UsageError("sample_functions needs an explicit seed")
    fm = function_matrix(wl, bin_s=bin_s, resources=resources, key=key)
    scorer = _Scorer(fm)
    rng = np.random.default_rng(seed)
    rows, scores, best, inv, res = _best_of(scorer, np.arange(len(fm.functions)), int(n), tries, rng)
    step = {"name": "sample_functions", "n": int(n), "seed": seed, "tries": int(tries), "bin_s": bin_s}
    return _result(wl, fm, rows, scores, best, inv, res, step, key)


def sample_functions_nested(wl: Workload, sizes: Sequence[int], *, seed: int, tries: int = 10,
                            bin_s: float = 60.0, resources: pl.DataFrame | None = None,
                            key: str = "function_id") -> dict[int, SampleResult]:
    """Nested samples (InVitro roll-down): each smaller sample is a subset of every larger one.

    Sizes are processed largest first; the result maps each size to its SampleResult, every
    score measured against the full workload.
    """
    if seed is None:
        raise UsageError("sample_functions_nested needs an explicit seed")
    order = sorted({int(s) for s in sizes}, reverse=True)
    if not order:
        raise UsageError("sizes is empty")
    fm = function_matrix(wl, bin_s=bin_s, resources=resources, key=key)
    scorer = _Scorer(fm)
    rng = np.random.default_rng(seed)
    pool = np.arange(len(fm.functions))
    out: dict[int, SampleResult] = {}
    for size in order:
        rows, scores, best, inv, res = _best_of(scorer, pool, size, tries, rng)
        step = {"name": "sample_functions_nested", "n": size, "sizes": order, "seed": seed,
                "tries": int(tries), "bin_s": bin_s}
        out[size] = _result(wl, fm, rows, scores, best, inv, res, step, key)
        pool = rows  # the next (smaller) sample is drawn from this one
    return out
