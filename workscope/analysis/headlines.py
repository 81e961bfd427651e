"""One line per result, in words and units, that leads its report section and its CLI output
(the way ``vllm bench serve`` prints its result block): "23 days, 26,798 requests, mean 5.5
req/s, peak/mean 2.9 at 1 s, CV of inter-arrivals 1.09 (bursty)".

One function per result kind; each picks the few figures a reader looks for first and writes
them with :mod:`workscope.analysis.humanize`. A figure a trace lacks is left out of the line,
never shown as "None".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workscope.analysis import humanize as hz

if TYPE_CHECKING:
    from workscope.analysis.base import Result


def _has(s: dict[str, Any], *keys: str) -> bool:
    return all(s.get(k) is not None for k in keys)


def _join(parts: list[str | None]) -> str:
    return ", ".join(p for p in parts if p)


def _n(x: Any, one: str, many: str) -> str:
    """A count and its noun, singular for one (``1 metric``, ``6 metrics``)."""
    return f"{hz.count(x)} {one if x == 1 else many}"


def _burst(cv: float) -> str:
    if cv > 1.2:
        return "bursty"
    if cv < 0.8:
        return "smoother than Poisson"
    return "close to Poisson"


def _peak_to_mean(s: dict[str, Any]) -> str | None:
    """The peak/mean ratio at the finest window the result holds."""
    scales = sorted((int(m.group(1)), v) for k, v in s.items()
                    if (m := re.fullmatch(r"peak_to_mean_(\d+)s", k)) and v is not None)
    if not scales:
        return None
    w, v = scales[0]
    return f"peak/mean {hz.number(v, 2)} at {hz.duration(w)}"


_NOUNS = {"requests": "req", "invocations": "inv", "invocation_counts": "inv", "jobs": "jobs"}
_EVENTS = {"invocation_counts": "invocations"}


def arrivals(r: Result) -> str:
    """Span, events, rate, burstiness, daily shape."""
    s = r.summary
    what = r.name.removeprefix("arrivals_") or "events"
    cv = s.get("cv_interarrival")
    return _join([
        hz.duration(s["span_s"]) if _has(s, "span_s") else None,
        f"from {hz.when(r.origin_utc, s['t_first_s'])}" if r.origin_utc and _has(s, "t_first_s") else None,
        f"{hz.count(s['events'])} {_EVENTS.get(what, what)}" if _has(s, "events") else None,
        f"mean {hz.rate(s['mean_rate_per_s'], _NOUNS.get(what, what))}" if _has(s, "mean_rate_per_s") else None,
        _peak_to_mean(s),
        f"CV of inter-arrivals {hz.number(cv, 3)} ({_burst(cv)})" if cv is not None else None,
        f"Hurst {hz.number(s['hurst_aggvar'], 2)}" if _has(s, "hurst_aggvar") else None,
        (f"busiest hour {int(s['peak_hour']):02d}:00" + (" UTC" if r.origin_utc else ""))
        if _has(s, "peak_hour") else None,
    ])


def fitting(r: Result) -> str:
    """Best family per fitted variable, with its KS distance."""
    s = r.summary
    parts = []
    for key, fam in s.items():
        if key.endswith("_best_family") and fam:
            var = key.removesuffix("_best_family")
            ks = s.get(f"{var}_ks_statistic")
            label = var.replace("_", " ").replace("interarrival", "inter-arrival")
            parts.append(f"{label}: {fam}" + (f" (KS {hz.number(ks, 2)})" if ks is not None else ""))
    if _has(s, "windows_fitted", "windows"):
        parts.append(f"{hz.count(s['windows_fitted'])} of {hz.count(s['windows'])} windows fitted")
    return "best fits: " + "; ".join(parts) if parts else "no variable had enough values to fit"


def llm_tokens(r: Result) -> str:
    """Median and p99 input/output tokens and their correlation."""
    s = r.summary
    parts: list[str | None] = [f"{hz.count(s['requests'])} requests" if _has(s, "requests") else None]
    for side in ("input", "output"):
        if _has(s, f"{side}_tokens_p50", f"{side}_tokens_p99"):
            parts.append(f"{side} tokens median {hz.number(s[f'{side}_tokens_p50'])}, "
                         f"p99 {hz.number(s[f'{side}_tokens_p99'])}")
    if _has(s, "spearman_tokens"):
        parts.append(f"input-output rank correlation {hz.number(s['spearman_tokens'], 2)}")
    return _join(parts)


def llm_sessions(r: Result) -> str:
    """Sessions, multi-turn share, turns and session length."""
    s = r.summary
    return _join([
        f"{hz.count(s['sessions'])} sessions" if _has(s, "sessions") else None,
        f"{hz.share(s['multi_turn_share'])} multi-turn" if _has(s, "multi_turn_share") else None,
        f"mean {hz.number(s['turns_mean'])} turns" if _has(s, "turns_mean") else None,
        f"median session {hz.duration(s['session_duration_p50_s'])}" if _has(s, "session_duration_p50_s") else None,
        f"median gap between turns {hz.duration(s['inter_turn_gap_p50_s'])}" if _has(s, "inter_turn_gap_p50_s") else None,
    ])


def llm_failures(r: Result) -> str:
    """Failure share, worst group and worst time bin."""
    s = r.summary
    return _join([
        f"{hz.count(s['failed_requests'])} of {hz.count(s['requests_with_status'])} requests failed "
        f"({hz.share(s.get('failure_share'))})" if _has(s, "failed_requests", "requests_with_status") else None,
        f"worst group {s['max_failure_group']} ({hz.share(s.get('max_group_failure_share'))})"
        if _has(s, "max_failure_group") else None,
        f"worst {hz.duration(s.get('time_bin_s'))} bin {hz.share(s['max_window_failure_share'])}"
        if _has(s, "max_window_failure_share") else None,
    ])


def llm_prefix(r: Result) -> str:
    """Prefix reuse and what caches of a few sizes would hit."""
    s = r.summary
    sizes = sorted((int(m.group(1)), v) for k, v in s.items()
                   if (m := re.fullmatch(r"lru_hit_ratio_(\d+)_blocks", k)) and v is not None)
    lru = [f"{hz.share(v)} with {hz.count(n)} blocks" for n, v in sizes[:: max(len(sizes) // 3, 1)]]
    return _join([
        f"{hz.share(s['share_blocks_seen_before'])} of blocks seen before" if _has(s, "share_blocks_seen_before") else None,
        f"unbounded cache hits {hz.share(s['infinite_cache_hit_ratio'])}" if _has(s, "infinite_cache_hit_ratio") else None,
        ("LRU hit ratio " + ", ".join(lru)) if lru else None,
    ])


def serverless_popularity(r: Result) -> str:
    """Functions, invocations and how concentrated they are."""
    s = r.summary
    return _join([
        f"{hz.count(s['invocations'])} invocations of {hz.count(s['functions'])} functions"
        if _has(s, "invocations", "functions") else None,
        f"top 1% of functions take {hz.share(s['top_1pct_functions_invocation_share'])}"
        if _has(s, "top_1pct_functions_invocation_share") else None,
        f"Gini {hz.number(s['gini'], 2)}" if _has(s, "gini") else None,
        f"{hz.share(s['single_invocation_function_share'])} invoked once"
        if _has(s, "single_invocation_function_share") else None,
    ])


def serverless_durations(r: Result) -> str:
    """Median and p99 duration and memory of an invocation."""
    s = r.summary
    return _join([
        f"duration median {hz.duration(s['duration_p50_s'])}, p99 {hz.duration(s.get('duration_p99_s'))}"
        if _has(s, "duration_p50_s") else None,
        f"memory median {hz.megabytes(s['memory_p50_mb'])}, p99 {hz.megabytes(s.get('memory_p99_mb'))}"
        if _has(s, "memory_p50_mb") else None,
        f"{hz.count(s['invocations_with_duration'])} invocations with a duration"
        if _has(s, "invocations_with_duration") else None,
    ]) or "no per-invocation duration or memory in this trace"


def serverless_cold_starts(r: Result) -> str:
    """Cold-start count, rate and latency, and the largest phase."""
    s = r.summary
    phases = [(k.removesuffix("_share"), v) for k, v in s.items()
              if k.endswith("_share") and k != "other_share" and v is not None
              and f"{k.removesuffix('_share')}_p50_s" in s]
    top = max(phases, key=lambda kv: kv[1]) if phases else None
    return _join([
        f"{hz.count(s['cold_starts'])} cold starts" if _has(s, "cold_starts") else None,
        f"rate {hz.share(s['cold_start_rate'])}" if _has(s, "cold_start_rate") else None,
        f"median {hz.duration(s['cold_start_p50_s'])}, p99 {hz.duration(s.get('cold_start_p99_s'))}"
        if _has(s, "cold_start_p50_s") else None,
        f"largest phase {top[0].replace('_', ' ')} ({hz.share(top[1])} of the time)" if top else None,
    ])


def serverless_keepalive(r: Result) -> str:
    """The cold-start rate and idle cost at a short and a long keep-alive."""
    s = r.summary
    mins = sorted(int(m.group(1)) for k in s if (m := re.fullmatch(r"cold_start_rate_(\d+)min", k)))
    parts = []
    for k in ([mins[0], mins[-1]] if len(mins) > 1 else mins):
        rate_k, idle = s.get(f"cold_start_rate_{k}min"), s.get(f"idle_gb_s_{k}min")
        parts.append(f"keep-alive {k} min: {hz.share(rate_k)} cold"
                     + (f", {hz.number(idle)} GB·s idle" if idle is not None else ""))
    return _join(parts) or "no keep-alive simulation"


def cluster_utilization(r: Result) -> str:
    """Mean and peak share of capacity allocated per resource."""
    s = r.summary
    parts: list[str | None] = [f"{hz.count(s['jobs'])} jobs" if _has(s, "jobs") else None]
    for res, label in (("cpu", "CPU"), ("gpu", "GPU"), ("mem", "memory")):
        if _has(s, f"mean_{res}_utilization"):
            parts.append(f"{label} allocated mean {hz.share(s[f'mean_{res}_utilization'])}, "
                         f"peak {hz.share(s.get(f'peak_{res}_utilization'))} of capacity")
    return _join(parts)


def cluster_jobs(r: Result) -> str:
    """Jobs, waits and run times."""
    s = r.summary
    return _join([
        f"{hz.count(s['jobs'])} jobs" if _has(s, "jobs") else None,
        f"wait median {hz.duration(s['median_wait_s'])}, p95 {hz.duration(s.get('p95_wait_s'))}"
        if _has(s, "median_wait_s") else None,
        f"run time median {hz.duration(s['median_runtime_s'])}, p95 {hz.duration(s.get('p95_runtime_s'))}"
        if _has(s, "median_runtime_s") else None,
        f"{hz.count(s['jobs_censored'])} still running at the end" if s.get("jobs_censored") else None,
    ])


def cluster_fairness(r: Result) -> str:
    """Jain's index and the share of the largest groups."""
    s = r.summary
    return _join([
        f"{hz.count(s['groups'])} groups by {s.get('group_column') or 'group'}" if _has(s, "groups") else None,
        f"Jain index {hz.number(s['jain_index'], 2)}" if _has(s, "jain_index") else None,
        f"largest group {hz.share(s['top_group_share'])} of {s.get('resource_column') or 'the resource'}"
        if _has(s, "top_group_share") else None,
        f"top 10 groups {hz.share(s['top10_share'])}" if _has(s, "top10_share") else None,
    ])


def usage_summary(r: Result) -> str:
    """Entities, metrics, samples and the span they cover."""
    s = r.summary
    span = (s["span_end_s"] - s["span_start_s"]) if _has(s, "span_end_s", "span_start_s") else None
    return _join([
        _n(s["samples"], "sample", "samples") if _has(s, "samples") else None,
        _n(s["metrics"], "metric", "metrics") if _has(s, "metrics") else None,
        _n(s["entities"], "entity", "entities") if _has(s, "entities") else None,
        f"over {hz.duration(span)}" if span is not None else None,
    ])


def usage_correlation(r: Result) -> str:
    """The most correlated pair of metrics."""
    s = r.summary
    pair = s.get("strongest_pair")
    return _join([
        f"{hz.count(s['pairs'])} metric pairs" if _has(s, "pairs") else None,
        f"strongest {pair[0]} ~ {pair[1]} (r = {hz.number(s.get('strongest_r'), 2)})"
        if isinstance(pair, (list, tuple)) and len(pair) == 2 else None,
        f"mean |r| {hz.number(s['mean_abs_r'], 2)}" if _has(s, "mean_abs_r") else None,
    ])


def latency(r: Result) -> str:
    """Requests, errors, offered load, TTFT, TPOT and end-to-end quantiles, goodput."""
    s = r.summary
    q = [f"{label} p50 {hz.duration(s[f'{m}_p50_s'])} / p99 {hz.duration(s.get(f'{m}_p99_s'))}"
         for m, label in (("ttft", "TTFT"), ("tpot", "TPOT"), ("latency", "latency")) if _has(s, f"{m}_p50_s")]
    return _join([
        f"{hz.count(s['requests'])} requests" if _has(s, "requests") else None,
        f"{hz.share(s['error_share'])} failed" if _has(s, "error_share") else None,
        f"offered {hz.rate(s['offered_rate_per_s'], 'req')}" if _has(s, "offered_rate_per_s") else None,
        *q,
        f"goodput {hz.share(s['goodput_share'])}" if _has(s, "goodput_share") else None,
    ])


HEADLINES: dict[str, Callable[[Result], str]] = {
    "arrivals": arrivals, "fitting": fitting, "llm_tokens": llm_tokens, "llm_sessions": llm_sessions,
    "llm_failures": llm_failures, "llm_prefix": llm_prefix,
    "serverless_popularity": serverless_popularity, "serverless_durations": serverless_durations,
    "serverless_cold_starts": serverless_cold_starts, "serverless_keepalive": serverless_keepalive,
    "cluster_utilization": cluster_utilization, "cluster_jobs": cluster_jobs,
    "cluster_fairness": cluster_fairness, "usage_summary": usage_summary,
    "usage_correlation": usage_correlation, "latency": latency,
}
"""Headline function per result kind (``Result.kind``, else its name)."""


def headline(result: Result) -> str:
    """The result's headline; a result kind without one gets its first three figures."""
    fn = HEADLINES.get(result.kind or result.name)
    if fn is not None:
        return fn(result)
    from workscope.analysis.glossary import show

    return _join([f"{k.replace('_', ' ')} {show(k, v)}" for k, v in list(result.summary.items())[:3]])


__all__ = ["HEADLINES", "headline"]
