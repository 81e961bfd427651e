"""Cluster / HPC jobs: utilization against capacity, queueing, job sizes, fairness.

All figures come from the ``jobs`` table (and ``machines`` for capacity). Times are seconds
since the trace origin; the **trace span** is [t0, t1] with t0 = the first ``submit_s`` and
t1 = the last submit / start / end seen (or the published ``trace_end_s`` of the manifest
if later). A job is *censored* when it started but has no ``end_s`` and no ``run_s``: it is
taken to run until t1.

Run time = ``run_s`` where the source records it, else ``end_s − start_s`` (the jobs table
keeps the source's own run time in ``run_s`` even when the start is unknown, e.g. SWF logs
whose waits are all -1). A job with a run time but **no start** starts at ``end_s`` −
``run_s`` when its end is known; with neither start nor end it is placed at its submit
time, i.e. it runs on [``submit_s``, ``submit_s`` + ``run_s``) (wait taken as 0) in
utilization and fairness, and its assumed end counts for t1; it has no queueing delay (it
is left out of the wait figures). Its resource-time r · run_s is exact, so the mean
utilization and the fairness shares over the whole span are exact up to clipping at the
span's ends; the utilization series places each such job earlier than it ran, by its
unknown wait. The summaries count these jobs (``jobs_start_assumed``) and the notes say so.

Utilization (analysis ``cluster_utilization``)
    Allocated amount of resource r at time t: L_r(t) = Σ_j r_j · 1[s_j ≤ t < e_j] with
    s_j = ``start_s``, e_j = ``end_s`` (``start_s`` + ``run_s`` where only the run time is
    known, t1 if censored; a job with a run time and no start as above). It is computed by
    an event sweep in DuckDB (+r_j at s_j, −r_j at e_j, running sum over time-ordered
    events), so it is exact for any number of jobs. Resources: ``cpu`` (``cpu_req``; for
    SWF logs the allocated processors ``nodes``, the quantity the Parallel Workloads Archive
    defines utilization on; ``nodes`` where ``cpu_req`` is empty), ``mem`` (``mem_req_mb``), ``gpu``
    (``gpu_req``, fractional for shared GPUs). Utilization U_r(t) = L_r(t) / C_r with
    capacity C_r from, in order: the ``machines`` table (sum over machines of each
    machine's largest published value), the SWF header (``MaxProcs``, else ``MaxNodes``;
    CPU only), else the peak of L_r (then U_r is relative to the peak and says so in
    ``<r>_capacity_source``). Mean utilization = (1 / (t1 − t0)) ∫_{t0}^{t1} L_r(t) dt / C_r
    (the time-weighted mean of the step function, as evalys' ``load_mean``; Feitelson,
    *Workload Modeling for Computer Systems Performance Evaluation*, 2015, §9.6). The time
    series is resampled to equal bins: the exact time-weighted mean of L_r in each bin and
    its maximum.

Jobs (analysis ``cluster_jobs``)
    Queueing delay w = ``start_s − submit_s`` (jobs that started), its distribution and its
    mean / median / p95 per submit-time bin; runtime = ``run_s``, else ``end_s − start_s``
    (jobs with a run time, started or not);
    job sizes (``cpu_req``, ``nodes``, ``gpu_req``, ``mem_req_mb``); final status shares;
    requested vs used: ratio = used / requested for runtime (``runtime_req_s`` vs the run
    time above),
    CPU (``cpu_req`` vs ``cpu_used``) and memory (``mem_req_mb`` vs ``mem_used_mb``), where
    both are filled (Tsafrir et al., "Backfilling using system-generated predictions
    rather than user runtime estimates", IEEE TPDS 2007, study the runtime ratio).
    Standard deviations are sample standard deviations (ddof = 1); quantiles are linear
    interpolation (``quantile_cont``, numpy's default method), over a seeded sample of
    ``Options.max_sample`` jobs on large traces (counts, means and extremes stay exact).

Fairness (analysis ``cluster_fairness``)
    Resource-time of group u (user, else queue / group): x_u = Σ_j r_j · (e_j − s_j) with r
    the CPU resource (GPU when the trace has no CPU request). Share = x_u / Σ x. Jain's
    fairness index (Jain, Chiu & Hawe, DEC-TR-301, 1984) over the n groups with x_u > 0:
    J = (Σ x_u)² / (n · Σ x_u²), in [1/n, 1], 1 when all shares are equal. It is given over
    the whole span and per time window (x_u restricted to the window's overlap with each
    job), with the window chosen from 1 min / 10 min / 1 h / 6 h / 1 d / 7 d so that the span
    has at most ``MAX_WINDOWS`` windows.
"""

from __future__ import annotations

import logging
import math
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from workscope.analysis import humanize as hz
from workscope.analysis.base import Analysis, Context, Result

log = logging.getLogger(__name__)

UTIL_BINS = 2000
FINE = 10  # exact sub-bins per series point (peak lower bound on large traces)
EXACT_PEAK_JOBS = 500_000
WAIT_BINS = 200
MAX_WINDOWS = 200
WINDOW_LADDER_S = (60.0, 600.0, 3600.0, 6 * 3600.0, 86400.0, 7 * 86400.0)
QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
CDF_LEVELS = tuple(i / 100 for i in range(101))
RESOURCES = {"cpu": "c", "mem": "m", "gpu": "g"}
RESOURCE_UNIT = {"cpu": "cpu", "mem": "mb", "gpu": "gpu"}

_span_cache: weakref.WeakKeyDictionary[Context, dict[str, Any]] = weakref.WeakKeyDictionary()


# ====================================================================== public helpers
def jain_index(values: Sequence[float] | np.ndarray) -> float:
    """Jain's fairness index (Σx)² / (n Σx²) of the positive entries of ``values``.

    Returns NaN when no entry is positive. For n positive values the index lies in [1/n, 1]
    and equals 1 exactly when they are all equal.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x) & (x > 0)]
    if x.size == 0:
        return math.nan
    # scale first so that huge resource-times do not overflow the squares
    x = x / x.max()
    return float(min(1.0, x.sum() ** 2 / (x.size * np.dot(x, x))))


def span(ctx: Context) -> dict[str, Any]:
    """Trace span of the jobs table: t0, t1, jobs, started, censored, ended, t1_source,
    start_assumed (jobs with a run time but no start, placed at submit) and with_runtime."""
    if ctx in _span_cache:
        return _span_cache[ctx]
    row = ctx.sql("cluster_span", {"jobs": "jobs"}).row(0, named=True)
    t1 = row["t1"]
    source = "last job event"
    meta_end = ctx.trace.manifest.get("meta", {}).get("trace_end_s")
    if isinstance(meta_end, (int, float)) and (t1 is None or meta_end > t1):
        t1, source = float(meta_end), "manifest trace_end_s"
    out = dict(row, t1=t1, t1_source=source)
    _span_cache[ctx] = out
    return out


def cpu_column(ctx: Context) -> str | None:
    """The jobs column that holds the CPU allocation: SWF allocated processors (``nodes``),
    else ``cpu_req``, else ``nodes``; None when neither is filled."""
    meta = ctx.trace.manifest.get("meta", {})
    if meta.get("nodes_source") == "Allocated Processors" and ctx.filled("jobs", "nodes"):
        return "nodes"
    for c in ("cpu_req", "nodes"):
        if ctx.filled("jobs", c):
            return c
    return None


def _capacity(ctx: Context, resources: Sequence[str], peaks: dict[str, float]) -> dict[str, tuple[float, str]]:
    """Capacity and where it came from, per resource (machines > SWF header > peak)."""
    out: dict[str, tuple[float, str]] = {}
    machines: dict[str, Any] = {}
    if ctx.has("machines"):
        machines = ctx.sql("cluster_capacity", {"machines": "machines"}).row(0, named=True)
    header = ctx.trace.manifest.get("meta", {}).get("swf_header") or {}
    for r in resources:
        col = {"cpu": "cpu", "mem": "mem_mb", "gpu": "gpu"}[r]
        cap = machines.get(col)
        if cap is not None and cap > 0:
            out[r] = (float(cap), f"machines ({machines[r + '_machines']} machines)")
            continue
        if r == "cpu":
            for key in ("MaxProcs", "MaxNodes"):
                v = _positive_number(header.get(key))
                if v is not None:
                    out[r] = (v, f"SWF header {key}")
                    break
            if r in out:
                continue
        out[r] = (peaks[r], "peak allocation (no capacity published)")
    return out


def _positive_number(v: Any) -> float | None:
    try:
        x = float(str(v).split()[0])
    except (ValueError, IndexError):
        return None
    return x if x > 0 and math.isfinite(x) else None


# ====================================================================== utilization
def _sweep(ctx: Context, cpu: str, t0: float, t1: float, started: int) -> tuple[dict[str, Any], dict[str, float], bool]:
    """Binned allocation of cpu / mem / gpu: exact bin means, bin maxima and the peak.

    Means come from per-bin sums (cluster_bins.sql, no sort) over ``FINE`` sub-bins per
    series point, averaged into ``UTIL_BINS`` points. Maxima are exact (cluster_peak.sql, an
    event sort) up to ``EXACT_PEAK_JOBS`` started jobs; above, the largest sub-bin mean.
    """
    nb = UTIL_BINS * FINE
    width = (t1 - t0) / nb
    agg = ctx.sql("cluster_bins", {"jobs": "jobs", "cpu": cpu}, t0=t0, t1=t1, width=width, bins=nb)
    out: dict[str, Any] = {"t_s": t0 + np.arange(UTIL_BINS) * width * FINE}
    peaks: dict[str, float] = {}
    starts_of: dict[str, np.ndarray] = {}
    for k in RESOURCES.values():
        arr = {}
        for kind in ("s", "e"):
            sub = agg.filter(pl.col("kind") == kind)
            r_ = np.zeros(nb)
            x_ = np.zeros(nb)
            idx = sub["i"].to_numpy()
            r_[idx] = sub[f"r{k}"].to_numpy()
            x_[idx] = sub[f"x{k}"].to_numpy()
            arr[kind] = (r_, x_)
        # level at each sub-bin start: jobs started before it minus jobs ended before it
        level = np.concatenate([[0.0], np.cumsum(arr["s"][0] - arr["e"][0])[:-1]])
        fine = level + (arr["s"][1] - arr["e"][1]) / width
        out[f"mean_{k}"] = fine.reshape(UTIL_BINS, FINE).mean(axis=1)
        out[f"total_{k}"] = float(fine.mean())
        out[f"max_{k}"] = fine.reshape(UTIL_BINS, FINE).max(axis=1)
        starts_of[k] = level.reshape(UTIL_BINS, FINE)[:, 0]
    exact = started <= EXACT_PEAK_JOBS
    if exact:
        pk = ctx.sql("cluster_peak", {"jobs": "jobs", "cpu": cpu}, t0=t0, t1=t1, width=width * FINE, bins=UTIL_BINS)
        idx = pk["i"].to_numpy()
        for k in RESOURCES.values():
            # a bin's maximum is the level carried in at its start or a step inside it
            m = starts_of[k].copy()
            m[idx] = np.maximum(m[idx], pk[f"max_{k}"].to_numpy())
            out[f"max_{k}"] = m
    for r, k in RESOURCES.items():
        peaks[r] = float(out[f"max_{k}"].max()) if UTIL_BINS else 0.0
    return out, peaks, exact


def has_run_time(ctx: Context) -> bool:
    """True if some job can be placed in time: it has a ``start_s``, or a ``run_s`` (run time
    recorded without a start: such a job is placed at its submit time, wait 0)."""
    return ctx.has("jobs") and (ctx.filled("jobs", "start_s") or ctx.filled("jobs", "run_s"))


def _start_assumed_note(n: int, what: str) -> str:
    return (f"{n} jobs have a run time (run_s) but no start_s: they are placed at their submit "
            f"time (wait taken as 0), so {what}")


def _utilization_applies(ctx: Context) -> bool:
    return has_run_time(ctx) and (
        cpu_column(ctx) is not None or ctx.filled("jobs", "mem_req_mb") or ctx.filled("jobs", "gpu_req"))


def utilization(ctx: Context) -> Result:
    """Allocated CPU / memory / GPU over time against capacity (event sweep in DuckDB)."""
    sp = span(ctx)
    t0, t1 = sp["t0"], sp["t1"]
    cpu = cpu_column(ctx)
    resources = [r for r, ok in (("cpu", cpu is not None), ("mem", ctx.filled("jobs", "mem_req_mb")),
                                 ("gpu", ctx.filled("jobs", "gpu_req"))) if ok]
    summary: dict[str, Any] = {
        "span_start_s": t0, "span_end_s": t1, "span_s": (t1 - t0) if t1 is not None else None,
        "span_end_source": sp["t1_source"], "jobs": sp["jobs"], "jobs_started": sp["started"],
        "jobs_censored": sp["censored"], "jobs_start_assumed": sp["start_assumed"],
        "cpu_column": cpu, "resources": resources,
    }
    notes: list[str] = []
    if sp["censored"]:
        notes.append(f"{sp['censored']} started jobs have no end_s (censored): they run to the span end "
                     f"({hz.duration(t1)} after the origin)")
    if sp["start_assumed"]:
        notes.append(_start_assumed_note(
            sp["start_assumed"], "their resource-time and the mean utilization are exact (up to "
            "clipping at the span ends) but the series shows each of them earlier by its unknown wait"))
    if t1 is None or not t1 > t0:
        notes.append("the trace span is empty: no utilization")
        return Result("cluster_utilization", "Cluster utilization", summary, {}, tuple(notes), "cluster_utilization")
    series, peaks, exact = _sweep(ctx, cpu or "cpu_req", float(t0), float(t1),
                                  sp["started"] + sp["start_assumed"])
    caps = _capacity(ctx, resources, peaks)
    frames = []
    summary["peak_basis"] = ("exact (event sweep)" if exact else
                             f"largest mean over 1/{UTIL_BINS * FINE} of the span (a lower bound)")
    for r in resources:
        k = RESOURCES[r]
        cap, source = caps[r]
        unit = RESOURCE_UNIT[r]
        mean = series[f"mean_{k}"]
        summary[f"{r}_capacity_{unit}"] = cap
        summary[f"{r}_capacity_source"] = source
        summary[f"mean_{r}_allocated_{unit}"] = series[f"total_{k}"]
        summary[f"peak_{r}_allocated_{unit}"] = peaks[r]
        summary[f"mean_{r}_utilization"] = series[f"total_{k}"] / cap if cap > 0 else None
        summary[f"peak_{r}_utilization"] = peaks[r] / cap if cap > 0 else None
        if cap > 0 and peaks[r] > cap * (1 + 1e-9):
            notes.append(f"{r}: peak allocation {peaks[r]:.6g} exceeds the capacity {cap:.6g} ({source})")
        frames.append(pl.DataFrame({
            "resource": r, "t_s": series["t_s"], "allocated_mean": mean, "allocated_max": series[f"max_{k}"],
            "utilization": mean / cap if cap > 0 else None,
            "utilization_max": series[f"max_{k}"] / cap if cap > 0 else None,
        }, schema={"resource": pl.String, "t_s": pl.Float64, "allocated_mean": pl.Float64,
                   "allocated_max": pl.Float64, "utilization": pl.Float64, "utilization_max": pl.Float64}))
    summary["bin_s"] = (t1 - t0) / UTIL_BINS
    if cpu == "nodes" and ctx.trace.manifest.get("meta", {}).get("cpu_unit") == "processors":
        notes.append("cpu = allocated processors (SWF field 5)")
    tables = {"utilization": pl.concat(frames) if frames else pl.DataFrame()}
    return Result("cluster_utilization", "Cluster utilization", summary, tables, tuple(notes), "cluster_utilization")


# ====================================================================== jobs
def _jobs_applies(ctx: Context) -> bool:
    return ctx.has("jobs")


def jobs(ctx: Context) -> Result:
    """Queueing delay, runtime and job-size distributions, status, requested vs used."""
    sp = span(ctx)
    qs = [*QUANTILES, *CDF_LEVELS]
    dist = ctx.sql("cluster_distributions", {"jobs": "jobs"}, qs=qs)
    summary: dict[str, Any] = {"jobs": sp["jobs"], "jobs_started": sp["started"],
                               "jobs_censored": sp["censored"], "jobs_ended": sp["ended"],
                               "jobs_with_runtime": sp["with_runtime"],
                               "jobs_start_assumed": sp["start_assumed"]}
    notes: list[str] = []
    stats_rows, cdf_rows = [], []
    for row in dist.sort("quantity").iter_rows(named=True):
        q = row["quantity"]
        vals = row["quantiles"]
        rec = {"quantity": q, "n": row["n"], "n_quantiles": row["n_sampled"], "mean": row["mean"], "std": row["std"], "min": row["min"],
               "max": row["max"], "zeros": row["zeros"]}
        rec.update({f"p{round(lv * 100):02d}": v for lv, v in zip(QUANTILES, vals[: len(QUANTILES)])})
        stats_rows.append(rec)
        cdf_rows.extend({"quantity": q, "value": v, "cdf": lv} for lv, v in zip(CDF_LEVELS, vals[len(QUANTILES):]))
        # wait_s / runtime_s / mem_req_mb carry their unit; cpu_req / nodes / gpu_req are
        # counts in the source's unit (manifest cpu_unit)
        summary[f"mean_{q}"] = row["mean"]
        summary[f"median_{q}"] = vals[QUANTILES.index(0.5)]
        summary[f"p95_{q}"] = vals[QUANTILES.index(0.95)]
    summary["max_wait_s"] = next((r["max"] for r in stats_rows if r["quantity"] == "wait_s"), None)
    tables: dict[str, pl.DataFrame] = {}
    if stats_rows:
        tables["distributions"] = pl.DataFrame(stats_rows)
        tables["cdf"] = pl.DataFrame(cdf_rows)
    if sp["jobs"] > ctx.options.max_sample:
        notes.append(f"quantiles and per-bin median / p95 are over a seeded sample of {ctx.options.max_sample} "
                     f"jobs (seed {ctx.options.seed}); counts, means, std, min and max are exact")
    if sp["censored"]:
        notes.append(f"runtime is over the {sp['with_runtime']} jobs with a run time; {sp['censored']} "
                     "censored jobs excluded")
    if sp["start_assumed"]:
        notes.append(f"runtime is the source's run time (run_s) where recorded; {sp['start_assumed']} jobs "
                     "have a run time but no start_s: they count in the runtime and requested-vs-used "
                     "figures, not in the queueing delay (their wait is unknown)")
    t0, t1 = sp["t0"], sp["t1"]
    if ctx.filled("jobs", "start_s") and t1 is not None and t1 > t0:
        ws = ctx.sql("cluster_wait_series", {"jobs": "jobs"}, t0=float(t0), t1=float(t1), bins=WAIT_BINS)
        width = (t1 - t0) / WAIT_BINS
        tables["wait_over_time"] = ws.with_columns((t0 + pl.col("i") * width).alias("t_s")).drop("i")
        summary["wait_bin_s"] = width
    sizes = ctx.sql("cluster_sizes", {"jobs": "jobs"}, top=30)
    if sizes.height:
        tables["sizes"] = sizes
    status = ctx.sql("cluster_status", {"jobs": "jobs"})
    tables["status"] = status
    # distinct statuses the source gave: the 'unknown' row of null statuses is not one
    summary["statuses"] = status.filter(pl.col("status") != "unknown").height if ctx.filled("jobs", "status") else 0
    if ctx.filled("jobs", "status"):
        summary["top_status"] = status.filter(pl.col("status") != "unknown").row(0, named=True)["status"]
    req = ctx.sql("cluster_requested", {"jobs": "jobs"}, qs=list(QUANTILES))
    if req.height:
        rows = []
        for row in req.sort("quantity").iter_rows(named=True):
            rec = {k: row[k] for k in ("quantity", "n", "mean_requested", "mean_used", "total_ratio", "over_fraction")}
            rec.update({f"ratio_p{round(lv * 100):02d}": v for lv, v in zip(QUANTILES, row["ratio_quantiles"])})
            rows.append(rec)
            summary[f"median_used_over_requested_{row['quantity'].split('_')[0]}"] = rec["ratio_p50"]
            summary[f"over_request_fraction_{row['quantity'].split('_')[0]}"] = rec["over_fraction"]
        tables["requested_vs_used"] = pl.DataFrame(rows)
    else:
        notes.append("no requested/used pair is filled (runtime_req_s, cpu_used, mem_used_mb)")
    return Result("cluster_jobs", "Jobs: queueing, runtime, sizes, status", summary, tables, tuple(notes), "cluster_jobs")


# ====================================================================== fairness
def _fair_resource(ctx: Context) -> str | None:
    c = cpu_column(ctx)
    if c is not None:
        return c
    return "gpu_req" if ctx.filled("jobs", "gpu_req") else None


def _fairness_applies(ctx: Context) -> bool:
    return (has_run_time(ctx) and ctx.group_column("jobs") is not None
            and _fair_resource(ctx) is not None)


def window_for(span_s: float) -> float:
    """The smallest window of :data:`WINDOW_LADDER_S` giving at most ``MAX_WINDOWS`` windows."""
    for w in WINDOW_LADDER_S:
        if span_s / w <= MAX_WINDOWS:
            return w
    return span_s / MAX_WINDOWS


def fairness(ctx: Context) -> Result:
    """Per-group share of resource-time and Jain's fairness index, overall and per window."""
    sp = span(ctx)
    t0, t1 = sp["t0"], sp["t1"]
    g = ctx.group_column("jobs")
    r = _fair_resource(ctx)
    assert g is not None and r is not None  # applies() checked both
    summary: dict[str, Any] = {"group_column": g, "resource_column": r}
    if t1 is None or not t1 > t0:
        return Result("cluster_fairness", "Fairness", summary, {}, ("the trace span is empty",), "cluster_fairness")
    w = window_for(t1 - t0)
    top = int(ctx.options.top_groups)
    df = ctx.sql("cluster_fairness", {"jobs": "jobs", "g": g, "r": r}, t0=float(t0), t1=float(t1), w=w, top=top)
    tot = df.filter(pl.col("part") == "t")
    n, sx, sxx = (tot["n"][0], tot["sx"][0], tot["sxx"][0]) if tot.height else (0, None, None)
    users = df.filter(pl.col("part") == "u").sort("x", descending=True)
    unit = "gpu_s" if r == "gpu_req" else "cpu_s"
    summary.update({
        "window_s": w, "groups": int(n or 0), f"resource_time_{unit}": sx,
        "jain_index": (sx * sx / (n * sxx)) if n and sxx else None,
    })
    notes: list[str] = []
    tables: dict[str, pl.DataFrame] = {}
    if users.height and sx:
        share = users.select(pl.col("g").alias(g), pl.col("x").alias(f"resource_time_{unit}"), "jobs",
                             (pl.col("x") / sx).alias("share"))
        rest = sx - float(share[f"resource_time_{unit}"].sum())
        if n > users.height:
            share = pl.concat([share, pl.DataFrame({g: ["(other)"], f"resource_time_{unit}": [rest],
                                                    "jobs": [None], "share": [rest / sx]},
                                                   schema=share.schema)])
        tables["shares"] = share
        summary["top_group_share"] = float(share["share"][0])
        summary[f"top{min(top, int(n))}_share"] = float(1.0 - rest / sx)
    win = (df.filter(pl.col("part") == "w").sort("k")
           .select((t0 + pl.col("k") * w).alias("t_s"), pl.col("n").alias("active_groups"),
                   pl.col("sx").alias(f"resource_time_{unit}"),
                   (pl.col("sx") ** 2 / (pl.col("n") * pl.col("sxx"))).clip(upper_bound=1.0).alias("jain_index")))
    if win.height:
        tables["jain_over_time"] = win
        summary["mean_window_jain_index"] = float(win["jain_index"].mean())  # type: ignore[arg-type]
        summary["min_window_jain_index"] = float(win["jain_index"].min())  # type: ignore[arg-type]
    if sp["censored"]:
        notes.append(f"{sp['censored']} censored jobs run to the span end")
    if sp["start_assumed"]:
        notes.append(_start_assumed_note(
            sp["start_assumed"], "their resource-time counts in full; per-window shares shift "
            "each of them earlier by its unknown wait"))
    return Result("cluster_fairness", f"Fairness across {g}s", summary, tables, tuple(notes), "cluster_fairness")


ANALYSES: tuple[Analysis, ...] = (
    Analysis("cluster_utilization", "Cluster utilization", _utilization_applies, utilization,
             "allocated CPU / memory / GPU over time against capacity"),
    Analysis("cluster_jobs", "Jobs: queueing, runtime, sizes, status", _jobs_applies, jobs,
             "queueing delay, runtime and size distributions, status, requested vs used"),
    Analysis("cluster_fairness", "Fairness", _fairness_applies, fairness,
             "per-user share of resource-time and Jain's fairness index over time windows"),
)
