"""Serverless workloads: function popularity, execution time and memory, cold starts, keep-alive.

Analyses (each registered once per table it applies to):

**Popularity** (``serverless_popularity_invocations`` / ``serverless_popularity_invocation_counts``,
kind ``serverless_popularity``). Per function f, xᶠ = its invocations (rows of ``invocations``, or
the sum of ``invocation_counts.count``); functions with no invocation are not counted. With the
n functions ranked by xᶠ, most invoked first (ties by id):

* top-q share = Σ of the ⌈q·n⌉ most invoked xᶠ / Σ xᶠ, for q = 1 % and 10 % (at least one function);
* Gini coefficient over the ascending x₍₁₎ ≤ … ≤ x₍ₙ₎: G = 2 Σᵢ i·x₍ᵢ₎ / (n Σ x) − (n + 1) / n
  (0 = every function equally invoked, → 1 = one function takes all);
* a rank-frequency / concentration table: rank, invocations of that function, cumulative share
  of invocations of the top ``rank`` functions and the share of functions ``rank / n`` (the
  Lorenz curve is L(p) = 1 − S(1 − p) of that cumulative share S), at log-spaced ranks and at
  every whole percent of the functions;
* per trigger (from the table, else joined from the ``functions`` table): invocations and
  functions (a function invoked through several triggers counts once per trigger).
Shahrad et al., "Serverless in the Wild", USENIX ATC '20, §3 (popularity skew).

**Execution time and memory** (``serverless_durations_invocations``, kind
``serverless_durations``): quantiles of ``duration_s`` and ``memory_mb`` per invocation (linear
interpolation, as numpy's default) over a seeded reservoir sample of ``Options.max_sample`` rows
(all rows when fewer); counts and means are exact. ``serverless_durations_functions`` uses the ``functions``
table when it holds only per-function percentiles (Azure Functions 2019): the distribution
across functions of each function's mean, median and 99th percentile, weighted by functions and
by invocations (``count``); a quantile there is the smallest value whose cumulative weight
share reaches p (numpy ``inverted_cdf``). These are distributions of per-function statistics,
not of single invocations (the release has no per-invocation values).

**Cold starts** (``serverless_cold_starts``, needs ``invocations.cold_start``): counts, rates and
cold-start cost (mean, p50, p90, p99 of ``cold_start_s``) by trigger, runtime and memory size.
The rate is cold starts / invocations, where invocations are the rows with ``cold_start`` filled
when it is a per-invocation flag (some rows false), else — when the table is a *cold-start log*
(every filled value true, as Huawei 2025) — the sum of ``invocation_counts.count`` of the same
functions, else unknown. Components: per cold start the whole is
d = max(cold_start_s, pod_alloc_s + deploy_code_s + deploy_deps_s + scheduling_s) (missing parts
count 0) and ``other`` = d − Σ parts ≥ 0; a component's share is Σ part / Σ d, so the shares
(with ``other``) sum to 1. Pod utility ratio (Joosen et al., "Serverless Cold Starts and Where to
Find Them", EuroSys '25): useful lifetime over cold-start time. The trace has no pod deletion
times (Huawei's maintainers suggest a 60 s keep-alive after the last request), so per pod with a
cold start and at least one execution row (``duration_s``) on the same ``pod_id``:
useful_s = last execution end − cold-start time t₀ (the lifetime without the keep-alive tail),
``pod_utility_ratio`` = useful_s / cold_start_s, and ``busy_fraction`` = Σ duration_s /
(useful_s + 60 s), the share of the pod's estimated lifetime spent executing.

**Keep-alive sweep** (``serverless_keepalive_invocations`` / ``…_invocation_counts``, kind
``serverless_keepalive``): a fixed keep-alive policy with one instance per function (the model
of Shahrad et al. §4, which ignores concurrency: overlapping invocations share the instance, so
cold starts are a lower bound). Per function in time order the instance is busy until the
running max of earlier ends (arrival + duration_s; 0 when unknown; per-minute counts are
arrivals at the window start with no duration), gap = arrival − busy-until. For a window K an
invocation is cold if it is the function's first or gap > K; the instance idles min(max(gap, 0), K)
before it and min(K, trace end − last end) after the function's last invocation (trace end: the
last invocation end, or the last window end of invocation_counts). Reported per K:
cold-start rate = cold starts / invocations, idle instance-seconds and idle memory-time
(GB-seconds, memory_mb / 1024 of the function's mean memory; for invocation_counts the
functions table's ``memory_avg_mb``). Without memory the idle time is in instance-seconds only.
Computed in DuckDB in one pass over the gaps (window functions) for every K at once.

Rows of a cold-start log (``cold_start`` true in a table where it is never false, and some rows
have it null) are pod starts, not invocations: popularity, durations and keep-alive leave them
out of ``invocations``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import polars as pl

from workscope.analysis.base import Analysis, Context, Findings, Result

log = logging.getLogger(__name__)

# Quantile levels of every CDF table (1 % steps plus the far tail).
CDF_PS: tuple[float, ...] = tuple(float(p) for p in np.round(np.r_[np.arange(0, 1.0, 0.01), 0.995, 0.999, 1.0], 6))
# Named quantiles copied into summaries.
SUMMARY_PS: dict[str, float] = {"p50": 0.5, "p90": 0.9, "p99": 0.99}
# Keep-alive after a pod's last request on Huawei's platform (sir-lab/data-release#11), used
# for the pod lifetime estimate of the pod utility ratio.
HUAWEI_KEEPALIVE_S = 60.0
COMPONENTS: tuple[str, ...] = ("pod_alloc", "deploy_code", "deploy_deps", "scheduling", "other")
_RANKS_PER_DECADE = 20


# ====================================================================== helpers
def cold_start_mode(ctx: Context) -> str:
    """How ``invocations.cold_start`` is used: ``"flag"`` (some rows true, some false),
    ``"log"`` (only true values: a log of cold starts) or ``"none"`` (not filled)."""
    if not ctx.has("invocations", "cold_start"):
        return "none"
    row = ctx.sql("SELECT count(*) FILTER (WHERE NOT cold_start) AS f, count(*) FILTER (WHERE cold_start IS NULL) AS n "
                  "FROM invocations").row(0, named=True)
    return "flag" if row["f"] else "log"


def _skip_cold_log(ctx: Context, table: str) -> bool:
    """True when ``table`` is invocations holding a cold-start log beside execution rows."""
    if table != "invocations" or cold_start_mode(ctx) != "log":
        return False
    n_other = ctx.sql("SELECT count(*) AS n FROM invocations WHERE cold_start IS NULL")["n"][0]
    return bool(n_other)


def _trigger_source(ctx: Context, table: str) -> tuple[bool, bool]:
    """(trigger on the table's rows, trigger joined per function from the functions table)."""
    here = ctx.has(table, "trigger")
    join = not here and ctx.has("functions", "trigger")
    return here, join


def _num(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if np.isfinite(f) else None


def _cdf_frame(qs: list[float] | None, **labels: str) -> pl.DataFrame:
    """A tidy CDF table (labels..., p, value) from a list of quantiles at CDF_PS."""
    n = len(CDF_PS) if qs is not None else 0
    data: dict[str, Any] = {k: [v] * n for k, v in labels.items()}
    data["p"] = list(CDF_PS[:n])
    data["value"] = [_num(q) for q in (qs or [])]
    schema = {**{k: pl.String for k in labels}, "p": pl.Float64, "value": pl.Float64}
    return pl.DataFrame(data, schema=schema)


# ====================================================================== popularity
def run_popularity(ctx: Context, table: str) -> Result:
    """Popularity skew of functions in ``table`` (invocations or invocation_counts)."""
    counts = table == "invocation_counts"
    here, join = _trigger_source(ctx, table)
    skip = _skip_cold_log(ctx, table)
    raw = ctx.sql(
        "serverless_popularity",
        {"table": table, "cnt": "count" if counts else "arrival_s", "ttable": "functions" if join else table,
         "cold": "function_id" if counts else "cold_start"},
        weighted=counts, trig_here=here, trig_join=join, skip_cold_log=skip,
        per_decade=_RANKS_PER_DECADE, top=int(ctx.options.top_groups),
    )
    s = raw.filter(pl.col("part") == "s").row(0, named=True)
    n, total = int(s["rk"] or 0), float(s["x"] or 0.0)
    summary: dict[str, Any] = {
        "functions": n,
        "invocations": round(total),
        "invocations_per_function_mean": total / n if n else None,
        "invocations_per_function_median": _num(s["z3"]),
        "invocations_per_function_max": _num(s["z4"]),
        "single_invocation_function_share": (float(s["z5"]) / n) if n else None,
        "top_1pct_functions_invocation_share": _num(s["z1"]),
        "top_10pct_functions_invocation_share": _num(s["z2"]),
        "gini": _num(s["y"]),
    }
    rank = (raw.filter(pl.col("part") == "r").sort("rk")
            .select(pl.col("rk").cast(pl.Int64).alias("rank"), pl.col("x").alias("invocations"),
                    pl.col("y").alias("cum_invocation_share"), pl.col("z1").alias("function_share")))
    top = (raw.filter(pl.col("part") == "g").sort("rk")
           .select(pl.col("rk").cast(pl.Int64).alias("rank"), pl.col("key").alias("function_id"),
                   pl.col("x").alias("invocations"), pl.col("y").alias("invocation_share")))
    tables = {"rank_frequency": rank, "top_functions": top}
    notes = [(f"top-q share: the ⌈q·n⌉ most invoked of n = {n} functions; functions with no invocation "
             "are not counted")]
    if here or join:
        trig = (raw.filter(pl.col("part") == "t")
                .select(pl.col("key").alias("trigger"), pl.col("x").alias("invocations"),
                        pl.col("y").alias("invocation_share"), pl.col("z1").cast(pl.Int64).alias("functions"),
                        pl.col("z2").alias("function_share"))
                .sort(["invocations", "trigger"], descending=[True, False]))
        # the functions without a known trigger are one row of the table ("unknown") but are
        # not a trigger: counting that row said 3 triggers where the trace names 2
        summary["triggers"] = int(trig["trigger"].is_not_null().sum())
        tables["by_trigger"] = trig.with_columns(pl.col("trigger").fill_null("unknown"))
        if join:
            notes.append("triggers joined per function from the functions table")
        if here and counts:
            notes.append("a function seen with several triggers counts once per trigger in by_trigger")
    if skip:
        notes.append("cold-start log rows (cold_start true) are left out: they are pod starts, not invocations")
    return Result(f"serverless_popularity_{table}", f"Function popularity ({table})", summary, tables,
                  tuple(notes), kind="serverless_popularity")


# ====================================================================== durations and memory
def run_durations_invocations(ctx: Context) -> Result:
    """CDFs of execution time and memory per invocation."""
    skip = _skip_cold_log(ctx, "invocations")
    r = ctx.sql("serverless_quantiles", {"table": "invocations"}, ps=list(CDF_PS),
                     skip_cold_log=skip).row(0, named=True)
    summary: dict[str, Any] = {"invocations_with_duration": int(r["n_duration"]),
                               "invocations_with_memory": int(r["n_memory"])}
    frames = []
    notes: list[str] = []
    for q, unit, key in (("duration", "s", "q_duration"), ("memory", "mb", "q_memory")):
        qs = r[key] if r[f"n_{q}"] else None
        summary[f"{q}_mean_{unit}"] = _num(r[f"mean_{q}_{unit}"])
        for name, p in SUMMARY_PS.items():
            summary[f"{q}_{name}_{unit}"] = _num(qs[CDF_PS.index(p)]) if qs else None
        if qs and r[f"n_sampled_{q}"] < r[f"n_{q}"]:
            notes.append(f"{q} quantiles from a seeded sample of {r[f'n_sampled_{q}']} of {r[f'n_{q}']} values "
                         f"(seed {ctx.options.seed}); counts and means are exact")
        if qs:
            frames.append(_cdf_frame(qs, quantity=q, unit=unit, statistic="per invocation", weighting="invocations"))
        else:
            notes.append(f"no {q} values")
    if skip:
        notes.append("cold-start log rows (cold_start true) are left out: they are pod starts, not invocations")
    tables = {"cdf": pl.concat(frames) if frames else _cdf_frame(None, quantity="", unit="", statistic="",
                                                                 weighting="")}
    return Result("serverless_durations_invocations", "Execution time and memory (invocations)", summary,
                  tables, tuple(notes), kind="serverless_durations")


_FUNCTION_STATS = ("duration_avg_s", "duration_p50_s", "duration_p99_s", "memory_avg_mb", "memory_p50_mb",
                   "memory_p99_mb")


def run_durations_functions(ctx: Context) -> Result:
    """Distributions across functions of the functions table's per-function statistics."""
    df = ctx.sql("serverless_function_cdf", {"table": "functions"}, ps=list(CDF_PS))
    summary: dict[str, Any] = {}
    cdf = df.select(
        "quantity", pl.when(pl.col("quantity") == "duration").then(pl.lit("s")).otherwise(pl.lit("mb")).alias("unit"),
        pl.concat_str(pl.lit("per-function "), pl.col("statistic")).alias("statistic"),
        "weighting", "p", "value")
    for (q, st, w), part in df.group_by(["quantity", "statistic", "weighting"], maintain_order=True):
        unit = "s" if q == "duration" else "mb"
        if w == "functions":
            summary[f"functions_with_{q}_{st}"] = int(part["n"][0])
        for name, p in SUMMARY_PS.items():
            v = part.filter((pl.col("p") - p).abs() < 1e-9)["value"]
            summary[f"{q}_{st}_{name}_{unit}_by_{w}"] = _num(v[0]) if v.len() else None
    notes = [("distributions of per-function statistics (the functions table holds percentiles per function, "
             "not single invocations); 'by_invocations' weights each function by its count")]
    if not ctx.has("functions", "count"):
        notes.append("functions.count is empty: no invocation-weighted distributions")
    return Result("serverless_durations_functions", "Execution time and memory (functions table)", summary,
                  {"cdf": cdf}, tuple(notes), kind="serverless_durations")


# ====================================================================== cold starts
def _rate_denominator(ctx: Context, mode: str) -> str:
    """What cold-start rates divide by: ``flag`` (flagged invocations), ``counts``
    (invocation_counts, when invocations is a cold-start log) or ``none``."""
    if mode == "flag":
        return "flag"
    return "counts" if ctx.has("invocation_counts") else "none"


def _by_dimension(ctx: Context, denom: str, total_cold: int) -> pl.DataFrame:
    """Cold starts, their rate, share and latency per trigger / runtime / memory value."""
    use_functions = ctx.has("functions") and (ctx.filled("functions", "trigger") or ctx.filled("functions", "runtime"))
    dims = ctx.sql(
        "serverless_coldstart_dims",
        {"inv": "invocations", "ftable": "functions" if use_functions else "invocations",
         "ctable": "invocation_counts" if denom == "counts" else "invocations",
         "ccount": "count" if denom == "counts" else "arrival_s"},
        use_functions=use_functions, denom=denom,
    )
    # a dimension none of whose cold starts has a known value says nothing
    known = dims.filter((pl.col("value") != "unknown") & (pl.col("cold_starts") > 0))["dimension"].unique()
    dims = dims.filter(pl.col("dimension").is_in(known.implode()))
    return dims.with_columns(
        pl.col("cold_starts").cast(pl.Int64),
        (pl.col("cold_starts") / pl.col("invocations")).alias("cold_start_rate"),
        (pl.col("cold_starts") / max(total_cold, 1)).alias("cold_start_share"),
    ).select("dimension", "value", "cold_starts", "cold_start_share", "invocations", "cold_start_rate",
             "cold_start_mean_s", "cold_start_p50_s", "cold_start_p90_s", "cold_start_p99_s")


def _add_rate(ctx: Context, denom: str, total_cold: int, found: Findings) -> None:
    """Invocations the rate divides by, and the overall cold-start rate."""
    if denom == "flag":
        n_inv = int(ctx.sql("SELECT count(cold_start) AS n FROM invocations")["n"][0])
        found.notes.append("rate = cold starts / invocations with cold_start filled")
    elif denom == "counts":
        n_inv = int(ctx.sql("SELECT coalesce(sum(\"count\"), 0) AS n FROM invocation_counts")["n"][0])
        found.notes.append("invocations.cold_start is a cold-start log; rates divide by invocation_counts of the "
                           "same functions (their trigger / runtime / memory from the invocation rows and the "
                           "functions table)")
    else:
        n_inv = 0
        found.notes.append("the trace has cold starts but no invocation totals: rates are null")
    found.summary["invocations"] = n_inv if denom != "none" else None
    found.summary["cold_start_rate"] = total_cold / n_inv if n_inv else None


def _add_latency(ctx: Context, found: Findings) -> None:
    """Mean and quantiles of the cold-start time."""
    cs = ctx.sql("SELECT avg(cold_start_s) AS m, quantile_cont(cold_start_s, [0.5, 0.9, 0.99]) AS q "
                 "FROM invocations WHERE cold_start")
    q = cs["q"][0]
    found.summary["cold_start_mean_s"] = _num(cs["m"][0])
    for i, name in enumerate(SUMMARY_PS):
        found.summary[f"cold_start_{name}_s"] = _num(q[i]) if q is not None else None


def _add_components(ctx: Context, found: Findings) -> None:
    """Share and CDF of each cold-start component (pod allocation, code and dependency deployment...)."""
    comp = ctx.sql("serverless_coldstart_components", {"inv": "invocations"}, ps=list(CDF_PS))
    agg = comp.filter(pl.col("part") == "a")
    order = {c: i for i, c in enumerate(COMPONENTS)}
    shares = (agg.select("component", pl.col("n").cast(pl.Int64).alias("cold_starts"), "total_s", "share",
                         "mean_s")
              .sort(pl.col("component").replace_strict(order, default=99)))
    qrows = comp.filter(pl.col("part") == "q")
    cdfs = []
    for r in qrows.iter_rows(named=True):
        cdfs.append(_cdf_frame(r["q_s"], component=r["component"], measure="seconds"))
        cdfs.append(_cdf_frame(r["q_share"], component=r["component"], measure="share of cold start"))
        for name, p in SUMMARY_PS.items():
            found.summary[f"{r['component']}_{name}_s"] = _num(r["q_s"][CDF_PS.index(p)]) if r["q_s"] else None
    for r in shares.iter_rows(named=True):
        found.summary[f"{r['component']}_share"] = _num(r["share"])
    found.tables["components"] = shares
    found.tables["component_cdf"] = pl.concat(cdfs) if cdfs else _cdf_frame(None, component="", measure="")
    found.notes.append("component shares: Σ part / Σ max(cold_start_s, Σ parts); 'other' is the unexplained rest")


def _add_pod_utility(ctx: Context, found: Findings) -> None:
    """Per pod: useful lifetime against the cold-start time, and the busy fraction."""
    pu = ctx.sql("serverless_pod_utility", {"inv": "invocations"}, ps=list(CDF_PS),
                 keepalive_s=HUAWEI_KEEPALIVE_S).row(0, named=True)
    summary = found.summary
    summary["pods"] = int(pu["pods"])
    summary["pods_with_cold_start"] = int(pu["pods_with_cold_start"])
    summary["pods_measured"] = int(pu["pods_measured"])
    measured = int(pu["pods_measured"])
    summary["pod_utility_ratio_p50"] = _num(pu["q_utility"][CDF_PS.index(0.5)]) if measured else None
    summary["pod_utility_ratio_below_1_share"] = _num(pu["share_utility_below_1"]) if measured else None
    summary["pod_busy_fraction_p50"] = _num(pu["q_busy"][CDF_PS.index(0.5)]) if measured else None
    summary["pod_useful_lifetime_p50_s"] = _num(pu["useful_p50_s"]) if measured else None
    found.tables["pod_utility_cdf"] = pl.concat([
        _cdf_frame(pu["q_utility"] if measured else None, metric="pod_utility_ratio"),
        _cdf_frame(pu["q_busy"] if measured else None, metric="busy_fraction")])
    found.notes.append(f"pod utility ratio = (last execution end − cold-start time) / cold_start_s per pod; "
                       f"busy fraction = Σ duration_s / (that + {HUAWEI_KEEPALIVE_S:g} s keep-alive); pod deletion "
                       f"times are not in the trace (Joosen et al., EuroSys '25; sir-lab/data-release#11)")
    if not measured:
        found.notes.append("no pod has both a cold start and execution rows: pod utility not measured")


def run_cold_starts(ctx: Context) -> Result:
    """Cold-start counts and rates by trigger / runtime / memory, components and pod utility."""
    mode = cold_start_mode(ctx)
    denom = _rate_denominator(ctx, mode)
    total_cold = int(ctx.sql("SELECT count(*) AS n FROM invocations WHERE cold_start")["n"][0])
    found = Findings({"cold_starts": total_cold, "cold_start_mode": mode, "rate_denominator": denom})
    found.tables["by_dimension"] = _by_dimension(ctx, denom, total_cold)
    _add_rate(ctx, denom, total_cold, found)
    _add_latency(ctx, found)
    if any(ctx.filled("invocations", c) for c in ("pod_alloc_s", "deploy_code_s", "deploy_deps_s", "scheduling_s")):
        _add_components(ctx, found)
    if ctx.filled("invocations", "pod_id") and ctx.filled("invocations", "cold_start_s"):
        _add_pod_utility(ctx, found)
    return found.result("serverless_cold_starts", "Cold starts", "serverless_cold_starts")


# ====================================================================== keep-alive
def _memory_source(ctx: Context, table: str) -> tuple[str, str] | None:
    """(table, column) giving each function's memory for the keep-alive of ``table``, or None."""
    if table == "invocations":
        return ("invocations", "memory_mb") if ctx.has("invocations", "memory_mb") else None
    # per-window counts carry no memory: the functions table's mean, else the invocation rows' sizes
    if ctx.has("functions", "memory_avg_mb"):
        return "functions", "memory_avg_mb"
    if ctx.has("invocations", "memory_mb"):
        return "invocations", "memory_mb"
    return None


def keepalive_sweep(ctx: Context, table: str, windows_min: tuple[float, ...] | None = None) -> pl.DataFrame:
    """Fixed keep-alive sweep over ``table``'s arrivals (see the module docstring).

    Returns one row per window: keepalive_min, window_s, functions, invocations, cold_starts,
    cold_start_rate, idle_instance_s, idle_gb_s (null without memory), memory_known_share.
    """
    wins = sorted({float(w) for w in (windows_min or ctx.options.keepalive_min)})
    counts = table == "invocation_counts"
    mem_src = _memory_source(ctx, table)
    use_mem = mem_src is not None
    mtable, mmem = mem_src or (table, "function_id")
    has_dur = not counts and ctx.filled(table, "duration_s")
    df = ctx.sql(
        "serverless_keepalive",
        {"table": table, "t": "window_start_s" if counts else "arrival_s",
         "d": "window_s" if counts else "duration_s", "c": "count" if counts else "arrival_s",
         "cold": "function_id" if counts else "cold_start", "mtable": mtable, "mmem": mmem},
        windows_s=[w * 60.0 for w in wins], has_dur=has_dur, counts=counts, use_mem=use_mem,
        skip_cold_log=_skip_cold_log(ctx, table),
    )
    return df.select(
        (pl.col("window_s") / 60.0).alias("keepalive_min"), "window_s",
        pl.col("functions").cast(pl.Int64), pl.col("invocations").cast(pl.Float64),
        pl.col("cold_starts").cast(pl.Float64),
        (pl.col("cold_starts") / pl.col("invocations")).alias("cold_start_rate"),
        "idle_instance_s", "idle_gb_s", "memory_known_share",
    )


def run_keepalive(ctx: Context, table: str) -> Result:
    """Cold-start rate and idle memory-time of fixed keep-alive windows."""
    df = keepalive_sweep(ctx, table)
    counts = table == "invocation_counts"
    mem = df["idle_gb_s"].is_not_null().any()
    summary: dict[str, Any] = {
        "functions": int(df["functions"][0]) if df.height else 0,
        "invocations": int(df["invocations"][0]) if df.height else 0,
        "memory_unit": "GB" if mem else "instance",
        "keepalive_min": df["keepalive_min"].to_list(),
        "cold_start_rate": df["cold_start_rate"].to_list(),
        "idle_instance_s": df["idle_instance_s"].to_list(),
    }
    if mem:
        summary["idle_gb_s"] = df["idle_gb_s"].to_list()
    for r in df.iter_rows(named=True):
        k = f"{r['keepalive_min']:g}min"
        summary[f"cold_start_rate_{k}"] = r["cold_start_rate"]
        summary[f"idle_{'gb' if mem else 'instance'}_s_{k}"] = r["idle_gb_s"] if mem else r["idle_instance_s"]
    notes = [("one warm instance per function (Shahrad et al. ATC '20 model): concurrent invocations share it, "
             "so cold starts are a lower bound; each function's first invocation is cold")]
    if counts:
        notes.append("per-window counts are arrivals at the window start with no execution time")
    elif not ctx.filled(table, "duration_s"):
        notes.append("no duration_s: invocations end when they start")
    if mem:
        share = df["memory_known_share"][0]
        src = ".".join(_memory_source(ctx, table) or ())
        notes.append(f"idle memory-time in GB-seconds (the function's mean {src} / 1024)"
                     + (f"; memory known for {share:.1%} of the gaps" if share is not None and share < 1 else ""))
    else:
        notes.append("no memory sizes: idle time in instance-seconds only")
    if _skip_cold_log(ctx, table):
        notes.append("cold-start log rows (cold_start true) are left out: they are pod starts, not invocations")
    return Result(f"serverless_keepalive_{table}", f"Keep-alive sweep ({table})", summary, {"sweep": df},
                  tuple(notes), kind="serverless_keepalive")


# ====================================================================== registry
def _popularity(table: str) -> Analysis:
    return Analysis(
        name=f"serverless_popularity_{table}",
        title=f"Function popularity ({table})",
        applies=lambda ctx: ctx.has(table, "function_id"),
        run=lambda ctx: run_popularity(ctx, table),
        doc="Invocations per function: top-1 % / top-10 % shares, Gini, rank-frequency, per trigger.",
    )


def _keepalive(table: str) -> Analysis:
    t = "window_start_s" if table == "invocation_counts" else "arrival_s"
    return Analysis(
        name=f"serverless_keepalive_{table}",
        title=f"Keep-alive sweep ({table})",
        applies=lambda ctx: ctx.has(table, "function_id", t),
        run=lambda ctx: run_keepalive(ctx, table),
        doc="Fixed keep-alive windows: cold-start rate and idle memory-time (single instance per function).",
    )


ANALYSES: tuple[Analysis, ...] = (
    _popularity("invocations"),
    _popularity("invocation_counts"),
    Analysis(
        name="serverless_durations_invocations",
        title="Execution time and memory (invocations)",
        applies=lambda ctx: ctx.has("invocations")
        and (ctx.filled("invocations", "duration_s") or ctx.filled("invocations", "memory_mb")),
        run=run_durations_invocations,
        doc="CDFs of duration_s and memory_mb per invocation.",
    ),
    Analysis(
        name="serverless_durations_functions",
        title="Execution time and memory (functions table)",
        applies=lambda ctx: ctx.has("functions") and any(ctx.filled("functions", c) for c in _FUNCTION_STATS),
        run=run_durations_functions,
        doc="Distributions across functions of their mean / median / p99 execution time and memory.",
    ),
    Analysis(
        name="serverless_cold_starts",
        title="Cold starts",
        applies=lambda ctx: ctx.has("invocations", "cold_start"),
        run=run_cold_starts,
        doc="Cold starts by trigger / runtime / memory, their components, and the pod utility ratio.",
    ),
    _keepalive("invocations"),
    _keepalive("invocation_counts"),
)
