"""What every summary figure means, and in which unit: the one place the reports, the CLI and
the docs take it from.

A figure is described by its exact key (:data:`TERMS`) or by the pattern of its family
(:data:`PATTERNS`: ``<variable>_ks_pvalue``, ``cold_start_rate_<n>min``...); the unit decides
how :func:`show` writes the value for a reader (:mod:`workscope.analysis.humanize`). A test runs
every analysis on every trace family and fails on a key neither describes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from workscope.analysis import humanize as hz


@dataclass(frozen=True)
class Term:
    """A figure's unit (see :func:`show`) and its meaning in a sentence."""

    unit: str
    text: str


# Units: s (a duration), rate (per second), share (a fraction 0..1), mb (megabytes), count,
# number (dimensionless), tokens, blocks, hour (0..23), text, list, pvalue, gb_s (GB x s),
# cores, gpus.
TERMS: dict[str, Term] = {
    # arrivals
    "events": Term("count", "arrivals counted"),
    "gaps": Term("count", "inter-arrival gaps (events - 1)"),
    "span_s": Term("s", "time from the first to the last event"),
    "t_first_s": Term("s", "first event, seconds after the trace's origin"),
    "t_end_s": Term("s", "last event, seconds after the trace's origin"),
    "mean_rate_per_s": Term("rate", "events over the span"),
    "peak_rate_per_s": Term("rate", "highest rate in one window of peak_rate_window_s"),
    "peak_rate_window_s": Term("s", "window of the peak rate"),
    "interarrival_mean_s": Term("s", "mean gap between consecutive arrivals"),
    "interarrival_std_s": Term("s", "standard deviation of the gaps"),
    "cv_interarrival": Term("number", "coefficient of variation of the gaps (1 = Poisson, >1 bursty)"),
    "zero_gap_fraction": Term("share", "gaps of zero (events at the same timestamp)"),
    "peak_to_mean_max_scale": Term("number", "peak-to-mean rate at the largest window"),
    "idc_max": Term("number", "largest index of dispersion of counts over the scales (1 = Poisson)"),
    "idc_min_scale": Term("number", "index of dispersion of counts at the smallest scale"),
    "idc_max_scale": Term("number", "index of dispersion of counts at the largest scale"),
    "fano_base_scale_s": Term("s", "smallest window of the dispersion scan"),
    "fano_max_scale_s": Term("s", "largest window of the dispersion scan"),
    "fano_scales": Term("count", "windows in the dispersion scan (doubling)"),
    "hurst_aggvar": Term("number", "Hurst exponent by aggregated variance (0.5 = no long-range dependence)"),
    "hurst_variance_slope": Term("number", "slope of log Var[N(s)] against log s"),
    "hurst_fit_r2": Term("number", "R² of the Hurst fit"),
    "hurst_fit_scales": Term("count", "windows in the Hurst fit"),
    "hurst_fit_min_scale_s": Term("s", "smallest window of the Hurst fit"),
    "hurst_fit_max_scale_s": Term("s", "largest window of the Hurst fit"),
    "hurst_method": Term("text", "how the Hurst exponent was estimated"),
    "daily_peak_to_trough": Term("number", "busiest over quietest hour of the mean day"),
    "peak_hour": Term("hour", "busiest hour of the day (UTC when the origin is known)"),
    "trough_hour": Term("hour", "quietest hour of the day"),
    "busiest_day": Term("text", "day with the most events"),
    "weekend_to_weekday_rate": Term("number", "mean weekend rate over mean weekday rate"),
    "profile_clock": Term("text", "clock of the daily profile (UTC or time since origin)"),
    "source_window_s": Term("s", "time resolution of a pre-aggregated source (counts per window)"),
    "group_column": Term("text", "column the events are grouped by"),
    "groups": Term("count", "distinct groups"),
    "top_group": Term("text", "group with the most events"),
    "top_group_share": Term("share", "events (or resource) of the largest group"),
    # fitting
    "window_s": Term("s", "window length"),
    "windows": Term("count", "windows"),
    "windows_fitted": Term("count", "windows with enough events to fit"),
    "windows_best_exponential_fraction": Term("share", "windows where the exponential fits best"),
    "windows_mean_rate_per_s": Term("rate", "mean rate over the windows"),
    # LLM
    "requests": Term("count", "requests"),
    "requests_total": Term("count", "requests in the trace"),
    "requests_analysed": Term("count", "requests analysed (a bounded window)"),
    "pearson_tokens": Term("number", "Pearson correlation of input and output tokens"),
    "pearson_log1p_tokens": Term("number", "Pearson correlation of log(1 + tokens)"),
    "spearman_tokens": Term("number", "Spearman rank correlation of input and output tokens"),
    "spearman_sample_n": Term("count", "requests in the rank correlation (sampled above a bound)"),
    "sessions": Term("count", "sessions"),
    "sessions_analysed": Term("count", "sessions analysed"),
    "multi_turn_sessions": Term("count", "sessions of two turns or more"),
    "multi_turn_share": Term("share", "sessions of two turns or more"),
    "requests_in_sessions": Term("count", "requests that belong to a session"),
    "share_requests_in_sessions": Term("share", "requests that belong to a session"),
    "session_rule": Term("text", "how requests were grouped into sessions"),
    "session_sample_rate": Term("share", "sessions sampled"),
    "unresolved_requests": Term("count", "requests whose session could not be resolved"),
    "inter_turn_gaps": Term("count", "gaps between turns"),
    "failed_requests": Term("count", "failed requests"),
    "failure_share": Term("share", "failed requests"),
    "failure_share_of_finished": Term("share", "failed among finished requests"),
    "ok_share": Term("share", "successful requests"),
    "other_status_share": Term("share", "requests of another status"),
    "requests_with_status": Term("count", "requests with a status"),
    "status_values": Term("list", "statuses seen"),
    "failure_meaning": Term("text", "what counts as a failure in this trace"),
    "max_failure_group": Term("text", "group with the highest failure share"),
    "max_group_failure_share": Term("share", "failure share of that group"),
    "max_window_failure_share": Term("share", "highest failure share in one time bin"),
    "time_bin_s": Term("s", "time bin"),
    "hash_block_tokens": Term("tokens", "tokens per prefix-hash block"),
    "blocks_total": Term("blocks", "prefix blocks requested"),
    "blocks_analysed": Term("blocks", "prefix blocks analysed"),
    "distinct_blocks": Term("blocks", "distinct prefix blocks"),
    "share_blocks_seen_before": Term("share", "blocks requested before (reuse)"),
    "infinite_cache_hit_ratio": Term("share", "hit ratio of an unbounded prefix cache"),
    "window_end_s": Term("s", "end of the analysed window"),
    # serverless
    "functions": Term("count", "functions"),
    "invocations": Term("count", "invocations"),
    "triggers": Term("count", "trigger types"),
    "gini": Term("number", "Gini coefficient of invocations per function (0 even, 1 one function)"),
    "invocations_per_function_mean": Term("number", "mean invocations per function"),
    "invocations_per_function_median": Term("number", "median invocations per function"),
    "invocations_per_function_max": Term("number", "most invocations of one function"),
    "single_invocation_function_share": Term("share", "functions invoked once"),
    "top_1pct_functions_invocation_share": Term("share", "invocations of the top 1% of functions"),
    "top_10pct_functions_invocation_share": Term("share", "invocations of the top 10% of functions"),
    "invocations_with_duration": Term("count", "invocations with a duration"),
    "invocations_with_memory": Term("count", "invocations with a memory figure"),
    "cold_starts": Term("count", "cold starts"),
    "cold_start_rate": Term("share", "invocations that started cold"),
    "cold_start_mode": Term("text", "how cold starts were identified"),
    "keepalive_min": Term("list", "keep-alive windows simulated (minutes)"),
    "idle_gb_s": Term("list", "idle memory-time for each keep-alive window (GB·s)"),
    "idle_instance_s": Term("list", "idle instance-time for each keep-alive window (s)"),
    "memory_unit": Term("text", "memory unit of the idle figures"),
    "pods": Term("count", "pods"),
    "pods_measured": Term("count", "pods with lifetime measurements"),
    "pods_with_cold_start": Term("count", "pods that had a cold start"),
    "pod_busy_fraction_p50": Term("share", "median share of a pod's life spent busy"),
    "pod_useful_lifetime_p50_s": Term("s", "median useful lifetime of a pod"),
    "pod_utility_ratio_p50": Term("number", "median useful over idle time of a pod"),
    "pod_utility_ratio_below_1_share": Term("share", "pods idle longer than useful"),
    "rate_denominator": Term("text", "what the cold-start rate divides by"),
    # cluster
    "jobs": Term("count", "jobs"),
    "jobs_started": Term("count", "jobs that started"),
    "jobs_ended": Term("count", "jobs that ended"),
    "jobs_censored": Term("count", "jobs still running at the trace's end"),
    "jobs_start_assumed": Term("count", "jobs whose start was taken as their submission"),
    "jobs_with_runtime": Term("count", "jobs with a run time"),
    "statuses": Term("count", "distinct job statuses"),
    "top_status": Term("text", "most common job status"),
    "bin_s": Term("s", "time bin"),
    "wait_bin_s": Term("s", "time bin of the waiting-time series"),
    "peak_basis": Term("text", "how the peak was computed"),
    "span_start_s": Term("s", "start of the analysed span"),
    "span_end_s": Term("s", "end of the analysed span"),
    "span_end_source": Term("text", "where the span's end comes from"),
    "resources": Term("list", "resources analysed"),
    "cpu_column": Term("text", "column of CPU requests"),
    "resource_column": Term("text", "resource the fairness figures use"),
    "jain_index": Term("number", "Jain's fairness index over groups (1 = equal shares)"),
    "mean_window_jain_index": Term("number", "mean Jain index over time windows"),
    "min_window_jain_index": Term("number", "lowest Jain index in one window"),
    "top2_share": Term("share", "resource of the two largest groups"),
    "top10_share": Term("share", "resource of the ten largest groups"),
    "max_wait_s": Term("s", "longest wait in the queue"),
    "mean_wait_s": Term("s", "mean wait in the queue"),
    "median_wait_s": Term("s", "median wait in the queue"),
    "p95_wait_s": Term("s", "95th percentile wait in the queue"),
    "mean_runtime_s": Term("s", "mean run time"),
    "median_runtime_s": Term("s", "median run time"),
    "p95_runtime_s": Term("s", "95th percentile run time"),
    # usage
    "entities": Term("count", "entities (machines, pods, functions...) with samples"),
    "entities_shown": Term("count", "entities drawn in the charts"),
    "metrics": Term("count", "metrics"),
    "samples": Term("count", "samples"),
    "series_bin_s": Term("s", "time bin of the series"),
    "largest_metric": Term("text", "metric with the largest mean"),
    "largest_metric_mean": Term("number", "its mean"),
    "largest_metric_samples": Term("count", "its samples"),
    "pairs": Term("count", "metric pairs correlated"),
    "mean_abs_r": Term("number", "mean absolute correlation over the pairs"),
    "strongest_pair": Term("list", "most correlated pair of metrics"),
    "strongest_pair_n": Term("count", "samples of that pair"),
    "strongest_r": Term("number", "its correlation"),
    "shared_keys": Term("count", "timestamps shared by the metrics"),
    "shared_keys_estimated": Term("text", "whether the shared count is estimated"),
    "sampled": Term("text", "whether the figures come from a sample"),
    # latency
    "ok": Term("count", "successful requests"),
    "failed": Term("count", "failed requests"),
    "errors": Term("count", "requests that ended in an error"),
    "incomplete": Term("count", "requests cut short"),
    "error_share": Term("share", "requests that did not succeed"),
    "max_window_error_share": Term("share", "highest error share in one window"),
    "offered_rate_per_s": Term("rate", "requests sent over the run"),
    "peak_window_requests": Term("count", "most requests sent in one window"),
    "slos": Term("text", "latency SLOs for goodput"),
    "goodput_requests": Term("count", "ok requests within every SLO"),
    "goodput_share": Term("share", "requests within every SLO"),
    "goodput_share_of_ok": Term("share", "ok requests within every SLO"),
    "goodput_rate_per_s": Term("rate", "requests within every SLO, per second of the run"),
}

_VAR = r"(?P<var>[a-z0-9_]+?)"
# How a key's parts read in a sentence.
_WORDS = {"max": "maximum", "ttft": "TTFT (time to first token)", "tpot": "TPOT (time per output token)",
          "latency": "end-to-end latency", "interarrival": "inter-arrival time", "mem": "memory",
          "cpu": "CPU", "gpu": "GPU", "avg": "mean"}

PATTERNS: list[tuple[re.Pattern[str], str, str]] = [(re.compile(p), u, t) for p, u, t in [
    # fitted distributions (fitting): <var>_best_family, _ks_statistic, ...
    (rf"^{_VAR}_best_family$", "text", "best-fitting distribution family of {var} (by KS distance)"),
    (rf"^{_VAR}_ks_statistic$", "number", "KS distance between {var} and its best fit"),
    (rf"^{_VAR}_ks_pvalue$", "pvalue", "KS test p-value of the best fit of {var} (small: the family is rejected)"),
    (rf"^{_VAR}_n$", "count", "values of {var} fitted or summarised"),
    (rf"^{_VAR}_params$", "text", "fitted parameters of {var} (scipy.stats names)"),
    (rf"^{_VAR}_shape$", "number", "fitted shape parameter of {var}"),
    (rf"^{_VAR}_scale_(?P<u>s|tokens)$", "{u}", "fitted scale parameter of {var}"),
    (rf"^{_VAR}_zero_fraction$", "share", "values of {var} that are zero (left out of the fit)"),
    (rf"^{_VAR}_fit$", "text", "best fit of {var}"),
    # burstiness at each window
    (r"^peak_to_mean_(?P<w>\d+)s$", "number", "peak over mean rate with {w} s windows"),
    # quantiles: <var>_p50_s, <var>_mean_s, <var>_p99 (tokens, turns...), reuse distances
    (rf"^{_VAR}_(?P<q>p\d+|mean|max|median)_s$", "s", "{q} {var}"),
    (rf"^{_VAR}_(?P<q>p\d+|mean|max)_(?P<u>blocks|requests)$", "{u}", "{q} {var}"),
    (r"^(?P<var>input_tokens|output_tokens)_(?P<q>p\d+|mean|max)$", "tokens", "{q} {var} per request"),
    (r"^(?P<var>turns)_(?P<q>p\d+|mean|max)$", "number", "{q} {var} per session"),
    (r"^(?P<var>[a-z_]+)_share$", "share", "share of {var}"),
    # serverless durations and memory per function / per invocation
    (r"^(?P<var>duration|memory)_(?P<stat>avg|p50|p99)_(?P<q>p\d+)_(?P<u>s|mb)_by_(?P<by>functions|invocations)$",
     "{u}", "{q} over {by} of each function's {stat} {var}"),
    (r"^(?P<var>duration|memory)_(?P<q>p\d+|mean)_(?P<u>s|mb)$", "{u}", "{q} {var} of an invocation"),
    (r"^functions_with_(?P<var>\w+)$", "count", "functions with a {var} figure"),
    (r"^cold_start_rate_(?P<k>\d+)min$", "share", "cold-start rate with a {k}-minute keep-alive"),
    (r"^idle_gb_s_(?P<k>\d+)min$", "gb_s", "idle memory-time with a {k}-minute keep-alive"),
    (r"^idle_instance_s_(?P<k>\d+)min$", "s", "idle instance-time with a {k}-minute keep-alive"),
    # prefix cache
    (r"^lru_hit_ratio_(?P<k>\d+)_blocks$", "share", "hit ratio of an LRU prefix cache of {k} blocks"),
    # cluster capacity and use
    (r"^(?P<r>cpu|gpu|mem)_capacity_(?P<u>cpu|gpu|mb)$", "{u}", "{r} capacity of the cluster"),
    (r"^(?P<r>cpu|gpu|mem)_capacity_source$", "text", "where the {r} capacity comes from"),
    (r"^(?P<q>mean|peak)_(?P<r>cpu|gpu|mem)_allocated_(?P<u>cpu|gpu|mb)$", "{u}", "{q} {r} allocated to running jobs"),
    (r"^(?P<q>mean|peak)_(?P<r>cpu|gpu|mem)_utilization$", "share", "{q} {r} allocated over capacity"),
    (r"^(?P<q>mean|median|p95)_(?P<r>cpu|gpu)_req$", "number", "{q} {r} requested per job"),
    (r"^(?P<q>mean|median|p95)_mem_req_mb$", "mb", "{q} memory requested per job"),
    (r"^(?P<q>mean|median|p95)_nodes$", "number", "{q} nodes per job"),
    (r"^resource_time_(?P<r>\w+)_s$", "number", "{r}-seconds used"),
    # usage metrics: mean_<metric>
    (r"^mean_(?P<metric>.+)$", "number", "mean of the metric {metric}"),
]]

_UNITS = {"s": hz.duration, "rate": lambda v: hz.rate(v), "share": hz.share, "mb": hz.megabytes,
          "count": hz.count, "blocks": lambda v: f"{hz.count(v)} blocks",
          "tokens": lambda v: f"{hz.number(v)} tokens", "gb_s": lambda v: f"{hz.number(v)} GB·s",
          "cpu": lambda v: f"{hz.number(v)} cores", "cores": lambda v: f"{hz.number(v)} cores",
          "gpu": lambda v: f"{hz.number(v)} GPUs", "gpus": lambda v: f"{hz.number(v)} GPUs",
          "requests": lambda v: f"{hz.number(v)} requests", "hour": lambda v: f"{int(v):02d}:00",
          "pvalue": lambda v: hz.number(v), "number": hz.number}


def describe(key: str) -> Term | None:
    """The unit and meaning of summary figure ``key``; None for a key no rule describes."""
    if key in TERMS:
        return TERMS[key]
    for pattern, unit, text in PATTERNS:
        m = pattern.match(key)
        if m:
            words = {k: v.replace("_", " ") for k, v in m.groupdict().items() if v is not None}
            words = {k: _WORDS.get(v, v) for k, v in words.items()}
            return Term(unit.format(**m.groupdict()), text.format(**words))
    return None


def show(key: str, value: Any) -> str:
    """``value`` of figure ``key`` for a reader: in its unit, rounded, lists and JSON short."""
    if value is None:
        return "–"
    term = describe(key)
    if isinstance(value, str):
        if term is not None and term.text.startswith("fitted parameters"):
            try:
                return ", ".join(f"{k} {hz.number(v)}" for k, v in json.loads(value).items())
            except (ValueError, AttributeError, TypeError):
                return value
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        inner = [show(key, v) if not isinstance(v, (list, tuple, dict)) else json.dumps(v) for v in value]
        if term is not None and term.unit == "list":
            inner = [hz.number(v) if isinstance(v, (int, float)) else str(v) for v in value]
        text = ", ".join(inner)
        return text if len(text) <= 120 else text[:117] + "..."
    if isinstance(value, dict):
        text = json.dumps(value)
        return text if len(text) <= 120 else text[:117] + "..."
    fmt = _UNITS.get(term.unit if term else "number", hz.number)
    try:
        return fmt(value)
    except (TypeError, ValueError):
        return str(value)


def glossary_markdown() -> str:
    """``docs/glossary.md``: every described figure as a Markdown table (exact keys, then the
    families' patterns)."""
    rows = ["# Glossary of summary figures", "",
            "Generated from `workscope/analysis/glossary.py` (`glossary_markdown()`); a test keeps it "
            "current. The unit decides how reports and the CLI write a value (`s`: a duration, `share`: "
            "a fraction shown as a percentage, `rate`: per second, `mb`: megabytes). A pattern stands "
            "for a family of figures: `<var>` is a variable name, `<a/b>` one of the choices, `N` a "
            "number, `pN` a percentile.", "",
            "| figure | unit | meaning |", "|---|---|---|"]
    rows += [f"| `{k}` | {t.unit} | {t.text} |" for k, t in sorted(TERMS.items())]
    # Placeholders stay {q} in the text: <q> would read as an HTML tag in a Markdown viewer.
    rows += [f"| `{_readable(p.pattern)}` | {u} | {t} |" for p, u, t in PATTERNS]
    return "\n".join(rows) + "\n"


def _readable(pattern: str) -> str:
    """A pattern as a reader writes it: ``<var>_ks_pvalue``, ``<pN/mean/max>_s``."""
    def group(m: re.Match[str]) -> str:
        body = m.group(2).replace("p\\d+", "pN")
        return f"<{body.replace('|', '/')}>" if re.fullmatch(r"[A-Za-z0-9_|]+", body) else f"<{m.group(1)}>"

    text = re.sub(r"\(\?P<(\w+)>((?:[^()]|\([^()]*\))*)\)", group, pattern.strip("^$"))
    return text.replace("\\d+", "N").replace("\\w+", "<name>")


__all__ = ["PATTERNS", "TERMS", "Term", "describe", "glossary_markdown", "show"]
