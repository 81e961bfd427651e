"""LLM serving: token lengths, sessions, failures and prefix-cache reuse of the requests table.

Four analyses, each applied only when the requests table fills the columns it needs.

**Tokens** (``llm_tokens``; ``input_tokens`` or ``output_tokens``). Over all requests and per
top group (``Context.group_column``: model, else kind; the rest pooled as ``(other)``):

* count, mean, min, max and quantiles p50 / p90 / p99 by ``quantile_cont`` in DuckDB, i.e.
  linear interpolation between order statistics, x₍ₖ₎ + (h − k)(x₍ₖ₊₁₎ − x₍ₖ₎) with
  h = (n − 1)q (Hyndman & Fan 1996, type 7: numpy's default ``method="linear"``);
* the empirical CDF F(x) = #{Xᵢ ≤ x} / n, exact at every point x = 2^(b/4) of a log grid
  (4 points per octave): a count x > 0 lands in bin b = ⌈4·log₂ x⌉, so F(2^(b/4)) is the
  cumulative count of bins ≤ b (count 0 is its own point x = 0);
* the correlation of input and output tokens over requests with both: Pearson's r of
  log(1 + x) (and of raw counts), **exact** over every row by DuckDB's ``corr``; Spearman's ρ
  (Pearson's r of average ranks) on a **seeded reservoir sample** of at most
  ``Options.max_sample`` pairs (ranking every row would sort the whole table), by
  ``scipy.stats.spearmanr``;
* the joint histogram of (input, output): counts per cell of log-spaced bins
  k = ⌊2·log₂(1 + x)⌋, cell edges x ∈ [2^(k/2) − 1, 2^((k+1)/2) − 1).

**Sessions** (``llm_sessions``; ``session_id``, else ``parent_id`` with ``request_id``). A
session is the set of requests sharing a ``session_id``; where the source links requests to
their parent instead (Qwen-Bailian ``parent_chat_id``), a session is the tree reachable from
a root (a request with no parent, or whose parent is not in the trace: a two-hour sample cuts
chains) through parent links, derived exactly in DuckDB by a recursive CTE (depth limit
``MAX_SESSION_DEPTH``; rows never reached are reported as unresolved). Figures: turns per
session (= requests in it), session duration (last − first arrival, sessions of ≥ 2 turns),
inter-turn gaps (differences of consecutive arrivals of a session, ordered by arrival: for
a tree this interleaves branches), all exact over every session.

**Failures** (``llm_failures``; ``status``). A request failed when its status (lower-cased)
is in :data:`FAILED_STATUSES`, succeeded when in :data:`OK_STATUSES`; anything else
(pending, processing...) is ``other``. Failure share = failed / requests with a status;
also per top group and per time bin (the smallest of :data:`TIME_BINS_S` giving at most
``MAX_TIME_BINS`` bins). What "failed" means depends on the source: BurstGPT marks a
request failed when it returned 0 response tokens; Alibaba GenAI keeps ``FAILED`` from
``predict_status`` (see :data:`FAILURE_MEANING`).

**Prefix reuse** (``llm_prefix``; ``hash_ids``, block size ``manifest.meta.hash_block_tokens``).
The block stream is every request's hash ids concatenated in arrival order. Figures:

* share of blocks seen before: over distinct (request, block) pairs, the share whose block
  appeared in an earlier request; 1 − distinct blocks / stream length is the hit ratio of
  an infinite cache;
* reuse distance in requests: for each such pair, the requests between it and the last
  earlier request holding the block (r − r_prev);
* LRU stack distance (Mattson et al. 1970): for an access of block b at position i whose
  previous access was at p, d(i) = number of distinct blocks accessed in (p, i); first
  accesses have d = ∞. An LRU cache of N blocks hits exactly when d < N, so one pass gives
  the hit ratio H(N) = #{i : d(i) < N} / stream length for every N at once (the miss-ratio
  curve), non-decreasing in N (LRU is a stack algorithm). d is computed without a
  simulation: d(i) = #{j : p < j < i, prev(j) < p} (the accesses in between that are the
  first of their block since p), i.e. #{j < i : prev(j) + 1 ≤ p} − (p + 1), an offline
  dominance count answered for all i together by a wavelet matrix (Claude, Navarro &
  Ordóñez 2015) in O(n log n) numpy operations.

The simulation is exact on the stream it gets. When the trace holds more than
``MAX_BLOCKS`` blocks, the stream is the leading window of the trace (the first requests
in arrival order up to about ``MAX_BLOCKS`` blocks; summary ``sampled`` is true,
``window_end_s`` says where it stops); a cold cache then starts at the window's start, like
the trace's own start.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from workscope.analysis.base import Analysis, Context, Result, time_column
from workscope.errors import UsageError

log = logging.getLogger(__name__)

TABLE = "requests"
PROBS: tuple[float, ...] = (0.5, 0.9, 0.99)
CDF_PER_OCTAVE = 4
JOINT_PER_OCTAVE = 2
SECONDS_PER_OCTAVE = 4
MIN_SPEARMAN = 10
MAX_SESSION_DEPTH = 10_000
MAX_BLOCKS = 1_000_000
MAX_TIME_BINS = 1000
TIME_BINS_S: tuple[float, ...] = (60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 86400.0, 7 * 86400.0)
FAILED_STATUSES: tuple[str, ...] = (
    "failed", "fail", "failure", "error", "errored", "timeout", "timed_out", "killed", "aborted",
    "rejected",
)
OK_STATUSES: tuple[str, ...] = (
    "ok", "success", "succeed", "succeeded", "successful", "completed", "complete", "done", "finished",
)
FAILURE_MEANING: dict[str, str] = {
    "burstgpt": "BurstGPT: a request is failed when it returned 0 response tokens (the reader "
                "sets status = failed then, ok otherwise)",
    "alibaba_genai": "Alibaba GenAI: predict_status kept verbatim (SUCCEED, FAILED, PENDING, "
                     "PROCESSING); PENDING / PROCESSING are neither ok nor failed",
}


# ====================================================================== LRU stack distances
def previous_occurrence(ids: np.ndarray | Sequence[int]) -> np.ndarray:
    """For each position i of ``ids``, the last position p < i with ids[p] == ids[i], else -1."""
    a = np.asarray(ids).ravel()
    n = a.size
    prev = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return prev
    order = np.argsort(a, kind="stable")  # stable: positions ascend within one id
    s = a[order]
    same = s[1:] == s[:-1]
    prev[order[1:][same]] = order[:-1][same]
    return prev


def _count_less(values: np.ndarray, ends: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """For each query q: #{j < ends[q] : values[j] < bounds[q]} (values, bounds ≥ 0).

    A wavelet matrix built level by level (most significant bit first) with the queries
    descending alongside it, so memory stays O(n + m) and each level is a few vector
    operations: O((n + m) log max) in all.
    """
    v = np.asarray(values, dtype=np.int64)
    n = v.size
    e = np.asarray(ends, dtype=np.int64).copy()
    y = np.asarray(bounds, dtype=np.int64)
    res = np.zeros(e.size, dtype=np.int64)
    if n == 0 or e.size == 0:
        return res
    levels = max(int(v.max()), int(y.max()), 1).bit_length()
    s = np.zeros(e.size, dtype=np.int64)
    zeros = np.empty(n + 1, dtype=np.int64)
    zeros[0] = 0
    cur = v
    for lvl in range(levels - 1, -1, -1):
        bit = ((cur >> lvl) & 1).astype(bool)
        np.cumsum(~bit, out=zeros[1:])
        z = zeros[n]
        one = ((y >> lvl) & 1).astype(bool)
        zs, ze = zeros[s], zeros[e]
        # bound bit 1: every value of the range with bit 0 here is smaller; follow the 1s
        res += np.where(one, ze - zs, 0)
        s = np.where(one, z + s - zs, zs)
        e = np.where(one, z + e - ze, ze)
        cur = np.concatenate((cur[~bit], cur[bit]))
    return res


def lru_stack_distances(ids: np.ndarray | Sequence[int]) -> np.ndarray:
    """LRU stack distance of every access of the stream ``ids``; -1 for a first access (∞).

    d(i) is the number of distinct ids accessed strictly between the previous access of
    ids[i] and i, so an LRU cache of N entries hits access i iff 0 ≤ d(i) < N.
    """
    prev = previous_occurrence(ids)
    d = np.full(prev.size, -1, dtype=np.int64)
    reuse = np.flatnonzero(prev >= 0)
    if reuse.size:
        p = prev[reuse]
        # #{j < i : prev(j) + 1 <= p} counts the p + 1 accesses j <= p (all have prev(j) < j)
        # plus the first accesses since p in (p, i)
        d[reuse] = _count_less(prev + 1, reuse, p + 1) - (p + 1)
    return d


def lru_hit_ratios(distances: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    """Hit ratio of an LRU cache of each size in ``sizes`` (entries) from stack distances."""
    d = np.asarray(distances)
    if d.size == 0:
        return np.full(len(sizes), np.nan)
    hits = np.sort(d[d >= 0])
    n = np.asarray(sizes, dtype=np.int64)
    if (n < 0).any():
        raise UsageError("LRU cache sizes must be non-negative")
    return np.searchsorted(hits, n, side="left") / d.size


def block_reuse(ids: np.ndarray, request: np.ndarray) -> tuple[float, np.ndarray, int]:
    """(share of distinct (request, block) pairs whose block was in an earlier request,
    request distance r − r_prev of each such pair, number of distinct pairs).

    ``request`` is the request index of each access, non-decreasing along the stream.
    """
    a = np.asarray(ids)
    r = np.asarray(request, dtype=np.int64)
    if a.size == 0:
        return math.nan, np.zeros(0, dtype=np.int64), 0
    order = np.lexsort((r, a))  # by block, then request
    sa, sr = a[order], r[order]
    new_pair = np.ones(a.size, dtype=bool)
    new_pair[1:] = (sa[1:] != sa[:-1]) | (sr[1:] != sr[:-1])
    pa, pr = sa[new_pair], sr[new_pair]
    seen = np.zeros(pa.size, dtype=bool)
    seen[1:] = pa[1:] == pa[:-1]
    dist = (pr[1:] - pr[:-1])[seen[1:]]
    return float(seen.mean()), dist, int(pa.size)


# ====================================================================== helpers
def _pct(p: float) -> str:
    return f"p{round(p * 100):d}"


def _q(values: Any, i: int) -> float | None:
    return None if values is None else float(values[i])


def _f(v: Any) -> float | None:
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else float(v)


def _cdf_rows(bins: pl.DataFrame, per_octave: int, zero_bin: int | None) -> pl.DataFrame:
    """CDF at every point of the log grid from bin counts (columns bin, n; bin ``zero_bin``
    or null = value 0): x = 2^(bin / per_octave) (0 for the zero bin), cdf = P(X ≤ x)."""
    if bins.height == 0:
        return pl.DataFrame(schema={"x": pl.Float64, "cdf": pl.Float64, "n": pl.Int64})
    total = int(bins["n"].sum())
    zero_mask = bins["bin"].is_null() if zero_bin is None else bins["bin"] == zero_bin
    zero_n = int(bins.filter(zero_mask)["n"].sum())
    pos = bins.filter(~zero_mask).group_by("bin").agg(pl.col("n").sum()).sort("bin")
    xs: list[float] = []
    cum: list[int] = []
    if zero_n:
        xs.append(0.0)
        cum.append(zero_n)
    if pos.height:
        lo, hi = int(pos["bin"].min()), int(pos["bin"].max())
        grid = np.arange(lo, hi + 1)
        counts = np.zeros(grid.size, dtype=np.int64)
        counts[pos["bin"].to_numpy() - lo] = pos["n"].to_numpy()
        xs.extend((2.0 ** (grid / per_octave)).tolist())
        cum.extend((zero_n + np.cumsum(counts)).tolist())
    c = np.asarray(cum, dtype=np.int64)
    return pl.DataFrame({"x": xs, "cdf": c / total, "n": c})


# ====================================================================== tokens
def quantile_from_counts(values: np.ndarray, counts: np.ndarray, probs: Sequence[float]) -> np.ndarray:
    """numpy's ``quantile(x, p, method="linear")`` of the sample holding ``values[i]``
    ``counts[i]`` times (values sorted ascending): order statistics x₍ₖ₎ found on the
    cumulative counts, x₍ₖ₎ + (h − k)(x₍ₖ₊₁₎ − x₍ₖ₎) with h = (n − 1)p, k = ⌊h⌋."""
    v = np.asarray(values, dtype=np.float64)
    cum = np.cumsum(np.asarray(counts, dtype=np.int64))
    n = int(cum[-1])
    h = (n - 1) * np.asarray(probs, dtype=np.float64)
    k = np.floor(h).astype(np.int64)
    a = v[np.searchsorted(cum, k, side="right")]
    b = v[np.searchsorted(cum, np.minimum(k + 1, n - 1), side="right")]
    return a + (h - k) * (b - a)


def _value_stats(vc: pl.DataFrame) -> tuple[dict[str, Any], pl.DataFrame]:
    """(count, mean, min, quantiles, max; CDF on the log grid) of one value-count table (x, n)."""
    vc = vc.group_by("x").agg(pl.col("n").sum()).sort("x")
    x, c = vc["x"].to_numpy(), vc["n"].to_numpy()
    n = int(c.sum())
    row: dict[str, Any] = {"requests": n, "mean": float((x.astype(np.float64) * c).sum() / n),
                           "min": float(x[0])}
    row.update({_pct(p): float(q) for p, q in zip(PROBS, quantile_from_counts(x, c, PROBS))})
    row["max"] = float(x[-1])
    pos = x > 0
    bins = np.full(x.size, -1, dtype=np.int64)
    bins[pos] = np.ceil(np.log2(x[pos]) * CDF_PER_OCTAVE).astype(np.int64)
    return row, _cdf_rows(pl.DataFrame({"bin": bins, "n": c}), CDF_PER_OCTAVE, zero_bin=-1)


def _pooled(top: list[str]) -> pl.Expr:
    """The group column with every group outside ``top`` pooled as ``(other)``."""
    return pl.when(pl.col("g").is_in(top)).then(pl.col("g")).otherwise(pl.lit("(other)")).alias("g")


def _token_distributions(vals: pl.DataFrame, grouped: bool,
                         top: list[str]) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, dict[str, Any]]]:
    """(stats, CDF, overall stats by quantity) of input and output tokens, overall and per group."""
    stat_rows: list[dict[str, Any]] = []
    cdf_parts: list[pl.DataFrame] = []
    overall_stats: dict[str, dict[str, Any]] = {}
    for q in ("input", "output"):
        vq = vals.filter(pl.col("quantity") == q)
        if vq.height == 0:
            continue
        sets = [("(all)", vq)]
        if grouped:
            order = {name: i for i, name in enumerate(top + ["(other)"])}
            parts = sorted(vq.group_by(["g"]), key=lambda kv: order.get(kv[0][0], len(order)))
            sets += [(k[0], part) for k, part in parts]
        for label, part in sets:
            row, cdf = _value_stats(part.select("x", "n"))
            if label == "(all)":
                overall_stats[q] = row
            stat_rows.append({"group": label, "quantity": q, **row})
            cdf_parts.append(cdf.with_columns(pl.lit(label).alias("group"), pl.lit(q).alias("quantity")))
    stats_df = pl.DataFrame(stat_rows, schema={
        "group": pl.String, "quantity": pl.String, "requests": pl.Int64, "mean": pl.Float64,
        "min": pl.Float64, **{_pct(p): pl.Float64 for p in PROBS}, "max": pl.Float64})
    cdf = (pl.concat(cdf_parts) if cdf_parts else pl.DataFrame(
        schema={"x": pl.Float64, "cdf": pl.Float64, "n": pl.Int64, "group": pl.String, "quantity": pl.String}))
    cdf = cdf.select("group", "quantity", pl.col("x").alias("tokens"), "cdf", pl.col("n").alias("requests"))
    return stats_df, cdf, overall_stats


def _token_summary(g: str | None, allrow: dict[str, Any], overall_stats: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The overall count, mean, quantiles and max of input and output tokens."""
    summary: dict[str, Any] = {"group_column": g, "requests": allrow["requests"]}
    for q in ("input", "output"):
        row = overall_stats.get(q)
        summary[f"{q}_tokens_n"] = row["requests"] if row else 0
        if row:
            summary[f"{q}_tokens_mean"] = row["mean"]
            for p in PROBS:
                summary[f"{q}_tokens_{_pct(p)}"] = row[_pct(p)]
            summary[f"{q}_tokens_max"] = row["max"]
    return summary


def _token_correlation(ctx: Context, idents: dict[str, str], grouped: bool, top: list[str],
                       allrow: dict[str, Any], per: pl.DataFrame) -> pl.DataFrame:
    """Pearson r (exact, from the group query) and Spearman rho (on a seeded sample), overall and
    per top group."""
    smp = ctx.sql("llm_tokens_sample", idents, grouped=grouped)
    samples = [("(all)", smp)]
    if grouped:
        smp = smp.with_columns(_pooled(top))
        samples += [(k[0], part) for k, part in smp.group_by(["g"])]
    spear: dict[str, tuple[float | None, int]] = {}
    for label, part in samples:
        ok = part.height >= MIN_SPEARMAN and part["x_in"].n_unique() > 1 and part["x_out"].n_unique() > 1
        rho = float(stats.spearmanr(part["x_in"].to_numpy(), part["x_out"].to_numpy()).statistic) if ok else None
        spear[label] = (rho, part.height)
    corr_rows = [{"group": "(all)", "pairs": allrow["n_pair"], "pearson": _f(allrow["pearson"]),
                  "pearson_log1p": _f(allrow["pearson_log1p"])}]
    if grouped:
        corr_rows += [{"group": r["g"], "pairs": r["n_pair"], "pearson": _f(r["pearson"]),
                       "pearson_log1p": _f(r["pearson_log1p"])} for r in per.filter(pl.col("g").is_in(top)).iter_rows(named=True)]
    for r in corr_rows:
        r["spearman"], r["spearman_sample_n"] = spear.get(r["group"], (None, 0))
    return pl.DataFrame(corr_rows, schema={
        "group": pl.String, "pairs": pl.Int64, "pearson": pl.Float64, "pearson_log1p": pl.Float64,
        "spearman": pl.Float64, "spearman_sample_n": pl.Int64})


def _token_joint(ctx: Context, idents: dict[str, str], grouped: bool, top: list[str]) -> pl.DataFrame:
    """Joint histogram of (input, output) tokens on a log₂ grid, overall and per group."""
    P = JOINT_PER_OCTAVE
    jt = ctx.sql("llm_tokens_joint", idents, grouped=grouped, per_octave=P)
    cells = [jt.group_by("jb_in", "jb_out").agg(pl.col("n").sum()).with_columns(pl.lit("(all)").alias("group"))]
    if grouped:
        cells.append(jt.with_columns(_pooled(top)).group_by("g", "jb_in", "jb_out").agg(pl.col("n").sum())
                     .rename({"g": "group"}))
    return pl.concat(cells, how="diagonal").select(
        "group",
        (2.0 ** (pl.col("jb_in") / P) - 1).alias("input_lo"), (2.0 ** ((pl.col("jb_in") + 1) / P) - 1).alias("input_hi"),
        (2.0 ** (pl.col("jb_out") / P) - 1).alias("output_lo"),
        (2.0 ** ((pl.col("jb_out") + 1) / P) - 1).alias("output_hi"),
        pl.col("n").alias("requests"),
    ).with_columns((pl.col("requests") / pl.col("requests").sum().over("group")).alias("share")).sort(
        "group", "input_lo", "output_lo")


def _tokens(ctx: Context) -> Result:
    g = ctx.group_column(TABLE)
    idents = {"table": TABLE, "inp": "input_tokens", "out": "output_tokens", "g": g or "input_tokens"}
    grouped = g is not None
    grp = ctx.sql("llm_tokens_groups", idents, grouped=grouped)
    allrow = grp.filter(pl.col("overall")).row(0, named=True)
    per = grp.filter(~pl.col("overall"))
    top = per.head(int(ctx.options.top_groups))["g"].to_list() if grouped else []
    vals = ctx.sql("llm_tokens_values", idents, grouped=grouped)
    if grouped:
        vals = vals.with_columns(_pooled(top))
    both = ctx.filled(TABLE, "input_tokens") and ctx.filled(TABLE, "output_tokens")

    stats_df, cdf, overall_stats = _token_distributions(vals, grouped, top)
    notes = [
        ("count, mean, quantiles and CDF: exact, from the value counts of every row (quantiles as numpy "
        "method='linear', Hyndman-Fan type 7)"),
    ]
    summary = _token_summary(g, allrow, overall_stats)
    tables: dict[str, pl.DataFrame] = {"stats": stats_df, "cdf": cdf}
    if not both:
        notes.append("only one of input_tokens / output_tokens is filled: no correlation, no joint histogram")
        return Result("llm_tokens", "LLM token lengths", summary, tables, tuple(notes), kind="llm_tokens")

    notes.append("Pearson r (raw and on log(1+x)): exact, DuckDB corr over every request with both counts")
    corr = _token_correlation(ctx, idents, grouped, top, allrow, per)
    notes.append(f"Spearman rho: scipy.stats.spearmanr on a seeded reservoir sample of at most "
                 f"{ctx.options.max_sample} pairs (seed {ctx.options.seed}); spearman_sample_n is its size")
    tables["correlation"] = corr
    summary["pearson_log1p_tokens"] = _f(allrow["pearson_log1p"])
    summary["pearson_tokens"] = _f(allrow["pearson"])
    overall = corr.row(0, named=True)  # the "(all)" row
    summary["spearman_tokens"], summary["spearman_sample_n"] = overall["spearman"], overall["spearman_sample_n"]
    tables["joint"] = _token_joint(ctx, idents, grouped, top)
    return Result("llm_tokens", "LLM token lengths", summary, tables, tuple(notes), kind="llm_tokens")


# ====================================================================== sessions
def _sessions(ctx: Context) -> Result:
    by_parent = not ctx.filled(TABLE, "session_id")
    idents = {"table": TABLE, "t": time_column(TABLE), "sid": "session_id", "rid": "request_id",
              "pid": "parent_id"}
    rows = ctx.rows(TABLE)
    rate = min(1.0, ctx.options.max_sample / rows) if rows else 1.0
    sampled = rate < 1.0
    cut = math.ceil(rate * 1_000_000) if sampled else 1_000_000
    raw = ctx.sql("llm_sessions", idents, by_parent=by_parent, max_depth=MAX_SESSION_DEPTH,
                  probs=list(PROBS), per_octave=SECONDS_PER_OCTAVE, cut=cut, seed=int(ctx.options.seed),
                  orphans=not sampled)
    st = raw.filter(pl.col("part") == "stat").row(0, named=True)
    keyed = st["requests_with_id"] if by_parent else st["requests_with_session"]
    frac = cut / 1_000_000
    summary: dict[str, Any] = {
        "session_rule": "parent_id tree" if by_parent else "session_id",
        "sampled": sampled,
        "session_sample_rate": frac,
        "sessions": st["sessions"] if not sampled else round(st["sessions"] / frac),
        "sessions_analysed": st["sessions"],
        "requests_in_sessions": st["requests_in_sessions"] if not sampled else (None if by_parent else keyed),
        "share_requests_in_sessions": (st["requests_in_sessions"] if not sampled else keyed) / st["requests_total"]
        if st["requests_total"] and (not sampled or not by_parent) else None,
        "multi_turn_sessions": st["multi_turn_sessions"] if not sampled else round(st["multi_turn_sessions"] / frac),
        "multi_turn_share": st["multi_turn_sessions"] / st["sessions"] if st["sessions"] else None,
        "turns_mean": st["turns_mean"],
    }
    for i, p in enumerate(PROBS):
        summary[f"turns_{_pct(p)}"] = _q(st["turns_q"], i)
    summary["turns_max"] = st["turns_max"]
    summary["inter_turn_gaps"] = st["gaps"]
    summary["inter_turn_gap_mean_s"] = st["gap_mean"]
    for i, p in enumerate(PROBS):
        summary[f"inter_turn_gap_{_pct(p)}_s"] = _q(st["gap_q"], i)
    summary["inter_turn_gap_max_s"] = st["gap_max"]
    summary["session_duration_mean_s"] = st["dur_mean"]
    for i, p in enumerate(PROBS):
        summary[f"session_duration_{_pct(p)}_s"] = _q(st["dur_q"], i)
    summary["session_duration_max_s"] = st["dur_max"] if st["multi_turn_sessions"] else None
    notes = []
    if sampled:
        notes.append(f"sessions sampled by a seeded hash of their key at rate {frac:.6g} (whole sessions, "
                     f"about {ctx.options.max_sample} requests): turns, gaps, durations and tables describe the "
                     "sampled sessions; sessions and multi_turn_sessions are estimates (count / rate)")
    if by_parent:
        notes.append("sessions derived from parent_id links by a recursive CTE: a session is the tree "
                     "under a root (no parent, or a parent absent from the trace)")
        if sampled:
            summary["unresolved_requests"] = None
            notes.append("sampled: only requests with no parent_id are roots (finding parents absent from "
                         "the trace needs an anti-join over the whole table), so trees cut by the trace "
                         "start are left out")
        else:
            unresolved = st["requests_with_id"] - st["requests_in_sessions"]
            summary["unresolved_requests"] = unresolved
            if unresolved:
                notes.append(f"{unresolved} requests were not reached from any root (parent cycle or depth "
                             f"> {MAX_SESSION_DEPTH}) and are left out")
    notes.append("inter-turn gap: difference of consecutive arrivals within a session, ordered by arrival")

    turns = raw.filter(pl.col("part") == "turns").select(
        pl.col("lo").alias("turns_lo"), pl.col("hi").alias("turns_hi"), pl.col("n").alias("sessions")
    ).sort("turns_lo").with_columns((pl.col("sessions") / pl.col("sessions").sum()).alias("share"))
    tables = {"turns": turns}
    for part, label in (("gap", "inter_turn_gap_s"), ("duration", "session_duration_s")):
        c = _cdf_rows(raw.filter(pl.col("part") == part).select("bin", "n"), SECONDS_PER_OCTAVE, zero_bin=None)
        tables[f"cdf_{label.removesuffix('_s')}"] = c.select(pl.col("x").alias(label), "cdf",
                                                               pl.col("n").alias("count"))
    return Result("llm_sessions", "LLM sessions and turns", summary, tables, tuple(notes), kind="llm_sessions")


# ====================================================================== failures
def _time_bin(span_s: float) -> float:
    for b in TIME_BINS_S:
        if span_s / b <= MAX_TIME_BINS:
            return b
    return TIME_BINS_S[-1] * math.ceil(span_s / TIME_BINS_S[-1] / MAX_TIME_BINS)


def _failures(ctx: Context) -> Result:
    g = ctx.group_column(TABLE)
    t = time_column(TABLE)
    span = ctx.sql("llm_span", {"table": TABLE, "t": t, "c": "status"}).row(0, named=True)
    bin_s = _time_bin((span["t_max"] - span["t_min"]) if span["n"] else 0.0)
    idents = {"table": TABLE, "status": "status", "t": t, "g": g or "status"}
    raw = ctx.sql("llm_failures", idents, grouped=g is not None, top=int(ctx.options.top_groups),
                  bin_s=bin_s, failed=list(FAILED_STATUSES), ok=list(OK_STATUSES))
    share = (pl.col("failed") / pl.col("requests")).alias("failure_share")
    status = raw.filter(pl.col("part") == "status").select(
        "status", "requests",
        pl.when(pl.col("failed") > 0).then(pl.lit("failed")).when(pl.col("ok") > 0).then(pl.lit("ok"))
        .otherwise(pl.lit("other")).alias("class"),
    # ties broken by the value: the order is the data's, not the engine's
    ).sort(["requests", "status"], descending=[True, False]).with_columns(
        (pl.col("requests") / pl.col("requests").sum()).alias("share"))
    tables = {"status": status}
    if g is not None:
        tables["by_group"] = raw.filter(pl.col("part") == "group").select(
            pl.col("g").alias("group"), "requests", "failed", "ok", share).sort("requests", descending=True)
    tables["over_time"] = raw.filter(pl.col("part") == "time").select(
        (pl.col("tbin") * bin_s).alias("window_start_s"), "requests", "failed", "ok", share).sort("window_start_s")
    n = int(status["requests"].sum())
    failed = int(raw.filter(pl.col("part") == "status")["failed"].sum())
    ok = int(raw.filter(pl.col("part") == "status")["ok"].sum())
    summary: dict[str, Any] = {
        "requests_with_status": n,
        "failed_requests": failed,
        "failure_share": failed / n if n else None,
        "ok_share": ok / n if n else None,
        "other_status_share": (n - failed - ok) / n if n else None,
        "failure_share_of_finished": failed / (failed + ok) if failed + ok else None,
        "status_values": status["status"].to_list()[:20],
        "time_bin_s": bin_s,
        "group_column": g,
    }
    if g is not None and tables["by_group"].height:
        worst = tables["by_group"].sort("failure_share", descending=True).row(0, named=True)
        summary["max_group_failure_share"] = worst["failure_share"]
        summary["max_failure_group"] = worst["group"]
    ot = tables["over_time"]
    if ot.height:
        summary["max_window_failure_share"] = float(ot["failure_share"].max())
    notes = [(f"failed = status (lower-cased) in {list(FAILED_STATUSES)}; ok = in {list(OK_STATUSES)}; "
             "other values are neither")]
    meaning = FAILURE_MEANING.get(ctx.trace.manifest.get("reader", {}).get("name", ""))
    if meaning:
        notes.append(meaning)
    summary["failure_meaning"] = meaning or "status values as the source records them (see status table)"
    return Result("llm_failures", "LLM request failures", summary, tables, tuple(notes), kind="llm_failures")


# ====================================================================== prefix reuse
def _prefix(ctx: Context) -> Result:
    t = time_column(TABLE)
    idents = {"table": TABLE, "t": t, "hash_ids": "hash_ids", "c": "hash_ids"}
    block_tokens = ctx.trace.manifest.get("meta", {}).get("hash_block_tokens")
    span = ctx.sql("llm_prefix_total", idents).row(0, named=True)
    total_blocks, total_requests = int(span["blocks"] or 0), int(span["n"])
    t_end, limit, sampled = math.inf, total_requests, False
    if total_blocks > MAX_BLOCKS:
        sampled = True
        width = max((span["t_max"] - span["t_min"]) / 4000.0, 1e-9)
        vol = ctx.sql("llm_prefix_volume", idents, bin_s=width)
        cum = np.cumsum(vol["blocks"].to_numpy())
        k = int(np.searchsorted(cum, MAX_BLOCKS, side="right"))  # whole bins that fit
        if k == 0:
            per_req = vol["blocks"][0] / max(vol["requests"][0], 1)
            t_end, limit = (vol["tbin"][0] + 1) * width, max(int(MAX_BLOCKS / max(per_req, 1)), 1)
        else:
            t_end, limit = float((vol["tbin"][k - 1] + 1) * width), int(vol["requests"][:k].sum())
    stream = ctx.sql("llm_prefix_stream", idents, t_end=t_end).head(limit)
    lists = stream["hash_ids"]
    counts = lists.list.len().to_numpy().astype(np.int64)
    ids = lists.explode().drop_nulls().to_numpy().astype(np.int64)
    request = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    if ids.size != request.size:  # a null inside a list cannot come from the readers
        raise UsageError("hash_ids lists hold null values")

    d = lru_stack_distances(ids)
    share_seen, req_dist, _pairs = block_reuse(ids, request)
    sizes = sorted({int(n) for n in ctx.options.lru_blocks})
    hr = lru_hit_ratios(d, sizes)
    reuses = d[d >= 0]
    summary: dict[str, Any] = {
        "hash_block_tokens": block_tokens,
        "requests_total": total_requests,
        "blocks_total": total_blocks,
        "requests_analysed": int(counts.size),
        "blocks_analysed": int(ids.size),
        "sampled": sampled,
        "window_end_s": float(stream["t"].max()) if stream.height else None,
        "distinct_blocks": int(np.unique(ids).size),
        "share_blocks_seen_before": share_seen,
        "infinite_cache_hit_ratio": float(reuses.size / ids.size) if ids.size else None,
    }
    for p in PROBS:
        summary[f"stack_distance_{_pct(p)}_blocks"] = float(np.quantile(reuses, p)) if reuses.size else None
    for p in PROBS:
        summary[f"reuse_distance_{_pct(p)}_requests"] = float(np.quantile(req_dist, p)) if req_dist.size else None
    for n, h in zip(sizes, hr):
        summary[f"lru_hit_ratio_{n}_blocks"] = float(h)

    tok = block_tokens if isinstance(block_tokens, int) else None
    lru = pl.DataFrame({"cache_blocks": sizes, "hit_ratio": hr}).with_columns(
        (pl.col("cache_blocks") * tok if tok else pl.lit(None, pl.Int64)).alias("cache_tokens"))
    top = max(int(reuses.max()) + 1 if reuses.size else 1, max(sizes, default=1))
    mrc_n = [1 << k for k in range(top.bit_length() + 1)]
    mrc = pl.DataFrame({"cache_blocks": mrc_n, "hit_ratio": lru_hit_ratios(d, mrc_n)}).with_columns(
        (pl.col("cache_blocks") * tok if tok else pl.lit(None, pl.Int64)).alias("cache_tokens"))
    tables = {"lru": lru, "mrc": mrc}
    if req_dist.size:
        k = np.floor(np.log2(req_dist)).astype(np.int64)
        bins, cnt = np.unique(k, return_counts=True)
        tables["reuse_distance"] = pl.DataFrame({
            "requests_lo": (1 << bins).astype(np.int64), "requests_hi": (1 << (bins + 1)).astype(np.int64) - 1,
            "reuses": cnt.astype(np.int64)}).with_columns((pl.col("reuses") / pl.col("reuses").sum()).alias("share"))
    notes = [("LRU hit ratios: exact stack-distance computation (hit iff distance < cache size) over the "
             "block stream in arrival order; hit ratio = hits / block accesses"),
             "share_blocks_seen_before counts distinct (request, block) pairs"]
    if sampled:
        notes.append(f"the trace holds {total_blocks} blocks: the analysis uses the first {counts.size} "
                     f"requests in arrival order ({ids.size} blocks, up to t = {summary['window_end_s']} s)")
    if tok is None:
        notes.append("the manifest gives no hash_block_tokens: cache sizes are in blocks only")
    return Result("llm_prefix", "Prefix-cache reuse (hash blocks)", summary, tables, tuple(notes), kind="llm_prefix")


# ====================================================================== registry
def _applies_tokens(ctx: Context) -> bool:
    return ctx.has(TABLE) and (ctx.filled(TABLE, "input_tokens") or ctx.filled(TABLE, "output_tokens"))


def _applies_sessions(ctx: Context) -> bool:
    return ctx.has(TABLE) and (ctx.filled(TABLE, "session_id")
                               or (ctx.filled(TABLE, "parent_id") and ctx.filled(TABLE, "request_id")))


ANALYSES: tuple[Analysis, ...] = (
    Analysis("llm_tokens", "LLM token lengths", _applies_tokens, _tokens,
             "input / output token quantiles, log-grid CDFs, correlation and joint histogram, per group"),
    Analysis("llm_sessions", "LLM sessions and turns", _applies_sessions, _sessions,
             "turns per session, inter-turn gaps and session durations (session_id or parent_id trees)"),
    Analysis("llm_failures", "LLM request failures", lambda c: c.has(TABLE, "status"), _failures,
             "failure share overall, per group and over time, with the status values"),
    Analysis("llm_prefix", "Prefix-cache reuse", lambda c: c.has(TABLE, "hash_ids"), _prefix,
             "block reuse share, reuse distances and exact LRU hit ratios for every cache size"),
)

__all__ = ["ANALYSES", "block_reuse", "lru_hit_ratios", "lru_stack_distances", "previous_occurrence",
           "quantile_from_counts"]
