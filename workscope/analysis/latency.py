"""Latency of load-generator results: the ``responses`` table (AIPerf, GuideLLM, vLLM, SGLang).

One analysis, ``latency`` (applies when the trace has a ``responses`` table with rows):

* **distributions** of TTFT (``ttft_s``), TPOT (``itl_mean_s``, the mean gap between output
  tokens after the first) and end-to-end latency (``latency_s``) over the **ok** requests:
  count, mean, p50 / p90 / p99 (``quantile_cont``: linear interpolation between order
  statistics, numpy's default) and max, exact in DuckDB; maximum-likelihood fits of the
  continuous families of :mod:`workscope.analysis.fitting` (best by AIC) and the empirical CDF
  on a seeded sample of at most ``Options.max_sample`` requests. A failed request's timings
  measure how it failed, so it enters no distribution.
* **over time**: per window of send time (the smallest of :data:`WINDOWS_S` giving at most
  :data:`MAX_WINDOWS` windows), requests sent (the offered load), failed (status other than
  ok) and their share, mean / p99 TTFT and latency of the ok requests.
* **against input length**: ok requests in power-of-two buckets of ``input_tokens`` (bucket b
  holds 2^(b−1) < x ≤ 2^b) with count and p50 / p99 TTFT and latency.
* **goodput** under ``Options.slos`` (e.g. ``ttft=200ms,tpot=50ms,latency=2s``, see
  :func:`parse_slos`): ok requests meeting every SLO, as a share of all requests sent and as a
  rate over the run (first send to last answer). With no SLO, no goodput is reported.

:func:`compare` puts two such results side by side: per-quantile differences (B − A and B / A)
and the two empirical CDFs on one probability grid.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import polars as pl

from workscope.analysis import fitting
from workscope.analysis.base import Analysis, Context, Result
from workscope.errors import UsageError

TABLE = "responses"
KIND = "latency"
# measure name -> column of the responses table (TPOT is the mean inter-token latency)
MEASURES: dict[str, str] = {"ttft": "ttft_s", "tpot": "itl_mean_s", "latency": "latency_s"}
QUANTILES: tuple[str, ...] = ("mean", "p50", "p90", "p99", "max")
WINDOWS_S: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0,
                                1800.0, 3600.0, 4 * 3600.0, 86400.0)
MAX_WINDOWS = 120
# probabilities of the CDF tables (dense in the upper tail, where SLOs bite)
CDF_PROBS: tuple[float, ...] = tuple(
    sorted({*(i / 100 for i in range(1, 100)), 0.995, 0.999, 1.0}))
_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "min": 60.0}
_SLO = re.compile(r"^\s*(\w+)\s*=\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zµ]*)\s*$")


# ====================================================================== SLOs
def parse_slos(text: str | None) -> tuple[tuple[str, float], ...]:
    """Parse ``"ttft=200ms,tpot=50ms,latency=2s"`` into ``(("ttft", 0.2), ...)`` (seconds).

    Measures: ttft, tpot (alias itl), latency (alias e2e). Units: us, ms, s, m / min; a bare
    number is seconds. Empty or None gives no SLO.

    Raises:
        UsageError: an unknown measure or unit, a malformed or negative bound, a measure twice.
    """
    if not text or not text.strip():
        return ()
    alias = {"itl": "tpot", "e2e": "latency"}
    out: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        m = _SLO.match(part.lower())
        if not m:
            raise UsageError(f"bad SLO {part.strip()!r}: expected measure=value[unit], e.g. ttft=200ms")
        name, value, unit = alias.get(m.group(1), m.group(1)), float(m.group(2)), m.group(3) or "s"
        if name not in MEASURES:
            raise UsageError(f"unknown SLO measure {m.group(1)!r}: use one of {', '.join(MEASURES)}")
        if unit not in _UNITS:
            raise UsageError(f"unknown SLO unit {unit!r}: use one of us, ms, s, m")
        if name in out:
            raise UsageError(f"SLO {name!r} given twice")
        out[name] = value * _UNITS[unit]
    return tuple(out.items())


# ====================================================================== the analysis
def applies(ctx: Context) -> bool:
    """True when the trace holds a responses table with rows."""
    return ctx.has(TABLE)


def window_s(span_s: float) -> float:
    """The smallest window of :data:`WINDOWS_S` cutting ``span_s`` into ≤ MAX_WINDOWS windows."""
    for w in WINDOWS_S:
        if span_s / w <= MAX_WINDOWS:
            return w
    return WINDOWS_S[-1]


def _num(v: Any) -> float | None:
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else float(v)


def _distributions(ctx: Context, f: dict[str, Any], tables: dict[str, pl.DataFrame]) -> None:
    q = ctx.sql("latency_summary", {"table": TABLE})
    head = q.row(0, named=True)
    requests, ok = int(head["requests"]), int(head["ok"])
    failed = requests - ok
    span = (float(head["last_end_s"]) - float(head["first_sent_s"])) if requests else 0.0
    f.update(requests=requests, ok=ok, errors=int(head["errors"]), incomplete=int(head["incomplete"]),
             failed=failed, error_share=failed / requests if requests else None, span_s=span,
             offered_rate_per_s=requests / span if span > 0 else None)
    quant = q.select("metric", "n", *QUANTILES).with_columns(pl.col("n").cast(pl.Int64))
    for row in quant.iter_rows(named=True):
        f[f"{row['metric']}_n"] = int(row["n"])
        for k in QUANTILES:
            f[f"{row['metric']}_{k}_s"] = _num(row[k])
    tables["quantiles"] = quant


def _fits(ctx: Context, f: dict[str, Any], tables: dict[str, pl.DataFrame], notes: list[str]) -> None:
    sample = ctx.sql("latency_sample", {"table": TABLE})
    fits, cdfs = [], []
    for name, col in MEASURES.items():
        x = sample[col].drop_nulls().to_numpy()
        x = x[np.isfinite(x) & (x >= 0)]
        if x.size == 0:
            continue
        xs = np.sort(x)
        probs = np.asarray(CDF_PROBS)
        grid = np.quantile(xs, probs, method="inverted_cdf")
        cdfs.append(pl.DataFrame({"metric": name, "p": probs, "x": grid}))
        fr = fitting.fit(x, fitting.FAMILIES)
        fits.append(fr.select(pl.lit(name).alias("metric"), "family", "params", "n", "aic",
                              "ks_statistic", "ks_pvalue", "best", "reason"))
        best = fr.filter(pl.col("best") & pl.col("reason").is_null())
        f[f"{name}_fit"] = best["family"][0] if best.height else None
        if best.height == 0:
            reasons = fr["reason"].drop_nulls()
            notes.append(f"{name}: no fit ({reasons[0] if reasons.len() else 'no family converged'})")
    if cdfs:
        tables["cdf"] = pl.concat(cdfs)
    if fits:
        tables["fits"] = pl.concat(fits)
    if sample.height >= ctx.options.max_sample:
        notes.append(f"fits and CDFs on a seeded sample of {ctx.options.max_sample} ok requests "
                     "(quantiles in the summary are exact)")


def _windows(ctx: Context, f: dict[str, Any], tables: dict[str, pl.DataFrame], span: float) -> None:
    w = window_s(span)
    df = ctx.sql("latency_windows", {"table": TABLE}, window_s=w)
    df = df.with_columns((pl.col("window") * w).alias("start_s"),
                         (pl.col("requests") / w).alias("rate_per_s"),
                         (pl.col("failed") / pl.col("requests")).alias("error_share"))
    tables["windows"] = df.select("start_s", "requests", "rate_per_s", "ok", "failed", "error_share",
                                  "ttft_mean_s", "ttft_p99_s", "latency_mean_s", "latency_p99_s")
    f["window_s"] = w
    f["peak_window_requests"] = int(df["requests"].max()) if df.height else 0
    f["max_window_error_share"] = _num(df["error_share"].max()) if df.height else None
    # windows with no send are absent (no load, nothing measured), not rows of zeros


def _inputs(ctx: Context, tables: dict[str, pl.DataFrame], notes: list[str]) -> None:
    if not ctx.filled(TABLE, "input_tokens"):
        notes.append("no input_tokens: latency against input length skipped")
        return
    df = ctx.sql("latency_inputs", {"table": TABLE})
    tables["by_input"] = df.with_columns(
        pl.when(pl.col("bucket") == 0).then(0).otherwise(2 ** (pl.col("bucket") - 1) + 1).alias("from_tokens"),
        (2 ** pl.col("bucket")).alias("to_tokens"),
    ).select("from_tokens", "to_tokens", "requests", "min_tokens", "max_tokens",
             "ttft_p50_s", "ttft_p99_s", "latency_p50_s", "latency_p99_s")


def _goodput(ctx: Context, f: dict[str, Any], span: float) -> None:
    slos = dict(ctx.options.slos)
    if not slos:
        f["slos"] = None
        return
    unknown = set(slos) - set(MEASURES)
    if unknown:
        raise UsageError(f"unknown SLO measure(s) {sorted(unknown)}: use {', '.join(MEASURES)}")
    g = ctx.sql("latency_goodput", {"table": TABLE}, **{k: slos.get(k) for k in MEASURES}).row(0, named=True)
    good, requests, ok = int(g["good"]), f["requests"], f["ok"]
    f["slos"] = {k: float(v) for k, v in slos.items()}
    f["goodput_requests"] = good
    f["goodput_share"] = good / requests if requests else None
    f["goodput_share_of_ok"] = good / ok if ok else None
    f["goodput_rate_per_s"] = good / span if span > 0 else None
    for k in slos:
        f[f"slo_{k}_met"] = int(g[f"{k}_met"])


def run(ctx: Context) -> Result:
    """Latency distributions, over time, against input length, goodput under SLOs."""
    f: dict[str, Any] = {}
    tables: dict[str, pl.DataFrame] = {}
    notes: list[str] = [("distributions over ok requests; error_share counts every status but ok "
                         "(error and incomplete)")]
    _distributions(ctx, f, tables)
    span = float(f["span_s"] or 0.0)
    _goodput(ctx, f, span)
    _fits(ctx, f, tables, notes)
    _windows(ctx, f, tables, span)
    _inputs(ctx, tables, notes)
    return Result(KIND, "Latency: TTFT, TPOT, end-to-end, goodput", f, tables, tuple(notes), kind=KIND)


# ====================================================================== two results side by side
def compare(a: Result, b: Result, name_a: str = "A", name_b: str = "B") -> Result:
    """Two ``latency`` results side by side.

    Tables: ``quantiles`` (metric, quantile, a, b, diff = b − a, ratio = b / a) and ``cdf``
    (trace, metric, p, x: both empirical CDFs on the same probability grid, for overlays).
    Summary: ``<metric>_<quantile>_diff_s`` and ``..._ratio`` for every metric both have.

    Raises:
        UsageError: either result is not a latency result.
    """
    for r in (a, b):
        if r.kind != KIND:
            raise UsageError(f"compare needs two latency results, got {r.kind or r.name!r}")
    long = []
    for tag, r in (("a", a), ("b", b)):
        long.append(r.tables["quantiles"].unpivot(index="metric", on=list(QUANTILES),
                                                  variable_name="quantile", value_name=tag))
    q = long[0].join(long[1], on=["metric", "quantile"], how="inner", maintain_order="left")
    q = q.with_columns((pl.col("b") - pl.col("a")).alias("diff"),
                       pl.when(pl.col("a") > 0).then(pl.col("b") / pl.col("a")).alias("ratio"))
    summary: dict[str, Any] = {"a": name_a, "b": name_b,
                               "requests_a": a.summary.get("requests"), "requests_b": b.summary.get("requests"),
                               "error_share_a": a.summary.get("error_share"),
                               "error_share_b": b.summary.get("error_share")}
    for row in q.iter_rows(named=True):
        summary[f"{row['metric']}_{row['quantile']}_diff_s"] = _num(row["diff"])
        summary[f"{row['metric']}_{row['quantile']}_ratio"] = _num(row["ratio"])
    tables = {"quantiles": q}
    cdfs = [r.tables["cdf"].select(pl.lit(n).alias("trace"), "metric", "p", "x")
            for n, r in ((name_a, a), (name_b, b)) if "cdf" in r.tables]
    if cdfs:
        tables["cdf"] = pl.concat(cdfs)
    return Result("latency_compare", f"Latency: {name_a} vs {name_b}", summary, tables,
                  ("diff = B − A, ratio = B / A, per quantile of the ok requests",), kind="latency_compare")


ANALYSES = [Analysis(KIND, "Latency: TTFT, TPOT, end-to-end, goodput", applies, run, __doc__ or "")]

__all__ = ["ANALYSES", "MEASURES", "compare", "parse_slos", "run", "window_s"]
