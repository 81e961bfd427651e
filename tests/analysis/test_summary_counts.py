"""Every summary count of every analysis (cluster's aside) against an independent count.

The analyses count in DuckDB SQL; here each count is made again in polars from the trace's
rows, on every in-repo trace an analysis applies to. ``top_groups`` is set to 2 so that a
count taken from a top-N table instead of the whole trace (``entities 10`` on PlanetLab,
which has 1,052 VMs) differs from the true count on these small slices too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

import workscope
from workscope.analysis import Options, characterize

TOP = 2
TRACES = ("azure_llm_code", "azure_llm_conv", "nasa_ipsc", "azure_functions_2021", "alibaba_openb",
          "mooncake", "burstgpt", "qwen", "genai", "huawei25", "huawei23", "azf2019", "planetlab",
          "noise", "dlrm", "philly", "google2011")
TIME = {"requests": "arrival_s", "invocations": "arrival_s", "jobs": "submit_s",
        "invocation_counts": "window_start_s"}
GROUPS = {"requests": ("model", "kind"), "invocations": ("function_id", "app_id", "trigger"),
          "invocation_counts": ("function_id", "app_id", "trigger"), "jobs": ("user", "queue", "group")}
Counts = dict[str, Any]


def _gaps(df: pl.DataFrame, t: str) -> pl.Series:
    return df[t].drop_nulls().sort().diff().drop_nulls()


def _invocation_rows(tr: workscope.Trace) -> pl.DataFrame:
    """Invocations without the rows of a cold-start log (pod starts, not invocations): a log
    is a table where some rows are flagged cold and the others carry no flag."""
    df = tr.read("invocations")
    flagged = df["cold_start"].null_count()
    if 0 < flagged < df.height and df["cold_start"].fill_null(False).any():
        return df.filter(~pl.col("cold_start").fill_null(False))
    return df


def _per_function(tr: workscope.Trace, table: str) -> pl.DataFrame:
    if table == "invocation_counts":
        per = tr.read(table).group_by("function_id").agg(pl.col("count").sum().alias("n"))
    else:
        per = _invocation_rows(tr).group_by("function_id").len("n")
    return per.filter(pl.col("n") > 0)


def arrivals(tr: workscope.Trace, table: str) -> Counts:
    df = tr.read(table)
    t = TIME[table]
    events = int(df["count"].sum()) if table == "invocation_counts" else df[t].drop_nulls().len()
    out: Counts = {"events": events}
    group = next((c for c in GROUPS[table] if df[c].null_count() < df.height), None)
    out["group_column"] = group
    if group:
        out["groups"] = df[group].drop_nulls().n_unique()
        weight = pl.col("count").sum() if table == "invocation_counts" else pl.len()
        top = df.filter(pl.col(group).is_not_null()).group_by(group).agg(weight.alias("n"))["n"].max()
        out["top_group_share"] = pytest.approx(top / events)  # type: ignore[operator]
    if table != "invocation_counts":
        gaps = _gaps(df, t)
        out["gaps"] = gaps.len()
        out["zero_gap_fraction"] = pytest.approx(float((gaps == 0).sum() / gaps.len()))
    return out


def fitting(tr: workscope.Trace, table: str) -> Counts:
    df = tr.read(table)
    gaps = _gaps(df, TIME[table])
    out: Counts = {"interarrival_n": int((gaps > 0).sum()),
                   "interarrival_zero_fraction": pytest.approx(float((gaps == 0).sum() / gaps.len()))}
    for column, key in (("input_tokens", "input_tokens"), ("output_tokens", "output_tokens"),
                        ("latency_s", "latency"), ("duration_s", "duration")):
        if column in df.columns and df[column].null_count() < df.height:
            v = df[column].drop_nulls()
            out[f"{key}_n"] = int((v > 0).sum())
            out[f"{key}_zero_fraction"] = pytest.approx(float((v == 0).sum() / v.len()))
    return out


def llm_tokens(tr: workscope.Trace) -> Counts:
    df = tr.read("requests")
    return {"requests": df.filter(pl.col("input_tokens").is_not_null() | pl.col("output_tokens").is_not_null()).height,
            "input_tokens_n": df["input_tokens"].drop_nulls().len(),
            "output_tokens_n": df["output_tokens"].drop_nulls().len()}


def llm_failures(tr: workscope.Trace) -> Counts:
    status = tr.read("requests")["status"].drop_nulls()
    failed = int(status.str.to_lowercase().is_in(["failed", "fail", "error"]).sum())
    return {"requests_with_status": status.len(), "failed_requests": failed,
            "failure_share": pytest.approx(failed / status.len())}


def llm_prefix(tr: workscope.Trace) -> Counts:
    df = tr.read("requests")
    blocks = df.select(pl.col("hash_ids").explode()).to_series().drop_nulls()
    return {"requests_total": df.filter(pl.col("hash_ids").list.len() > 0).height,
            "blocks_total": blocks.len(), "distinct_blocks": blocks.n_unique(),
            "share_blocks_seen_before": pytest.approx(1 - blocks.n_unique() / blocks.len())}


def llm_sessions(tr: workscope.Trace) -> Counts:
    df = tr.read("requests")
    if df["session_id"].null_count() < df.height:
        sizes = df.filter(pl.col("session_id").is_not_null()).group_by("session_id").len()["len"]
    else:
        # parent_id trees: a request's session is its root (followed up the parents)
        parent = dict(zip(df["request_id"].to_list(), df["parent_id"].to_list(), strict=True))

        def root(r: str) -> str:
            seen = set()
            while parent.get(r) is not None and parent[r] in parent and r not in seen:
                seen.add(r)
                r = parent[r]
            return r

        roots = pl.Series([root(r) for r in df["request_id"].drop_nulls().to_list()])
        sizes = roots.value_counts()["count"]
    return {"sessions": sizes.len(), "requests_in_sessions": int(sizes.sum()),
            "multi_turn_sessions": int((sizes > 1).sum()), "turns_max": int(sizes.max()),  # type: ignore[arg-type]
            "inter_turn_gaps": int(sizes.sum() - sizes.len())}


def popularity(tr: workscope.Trace, table: str) -> Counts:
    per = _per_function(tr, table)
    out: Counts = {"functions": per.height, "invocations": int(per["n"].sum()),
                   "invocations_per_function_max": float(per["n"].max()),  # type: ignore[arg-type]
                   "single_invocation_function_share": pytest.approx(float((per["n"] == 1).sum() / per.height))}
    rows = tr.read(table)
    source = rows if rows["trigger"].null_count() < rows.height else (
        tr.read("functions") if "functions" in tr.tables else None)
    if source is not None and source["trigger"].null_count() < source.height:
        invoked = source.filter(pl.col("function_id").is_in(per["function_id"].implode()))
        out["triggers"] = invoked["trigger"].drop_nulls().n_unique()
    return out


def keepalive(tr: workscope.Trace, table: str) -> Counts:
    per = _per_function(tr, table)
    return {"functions": per.height, "invocations": int(per["n"].sum())}


def durations_invocations(tr: workscope.Trace) -> Counts:
    df = _invocation_rows(tr)
    return {"invocations_with_duration": df["duration_s"].drop_nulls().len(),
            "invocations_with_memory": df["memory_mb"].drop_nulls().len()}


def durations_functions(tr: workscope.Trace) -> Counts:
    df = tr.read("functions")
    out: Counts = {}
    for stat in ("avg", "p50", "p99"):
        for q, unit in (("duration", "s"), ("memory", "mb")):
            column = f"{q}_{stat}_{unit}"
            if column in df.columns and df[column].null_count() < df.height:
                out[f"functions_with_{q}_{stat}"] = df[column].drop_nulls().len()
    return out


def cold_starts(tr: workscope.Trace) -> Counts:
    df = tr.read("invocations")
    cold = df.filter(pl.col("cold_start").fill_null(False))
    out: Counts = {"cold_starts": cold.height}
    if df["pod_id"].null_count() < df.height:
        out["pods"] = df["pod_id"].drop_nulls().n_unique()
        out["pods_with_cold_start"] = cold["pod_id"].drop_nulls().n_unique()
    return out


def usage_metrics(tr: workscope.Trace) -> Counts:
    df = tr.read("usage")
    largest = df.group_by("metric").len().sort(["len", "metric"], descending=[True, False]).row(0)
    return {"metrics": df["metric"].n_unique(), "samples": df.height,
            "entities": df["entity_id"].drop_nulls().n_unique(),
            "entities_shown": min(TOP, df["entity_id"].drop_nulls().n_unique()),
            "largest_metric": largest[0], "largest_metric_samples": largest[1]}


def usage_correlation(tr: workscope.Trace) -> Counts:
    df = tr.read("usage")
    top = df.group_by("metric").len().sort(["len", "metric"], descending=[True, False]).head(TOP)["metric"]
    keys = (df.filter(pl.col("metric").is_in(top.implode())).group_by("entity_id", "t_s")
            .agg(pl.col("metric").n_unique().alias("m")))
    return {"shared_keys": keys.filter(pl.col("m") >= 2).height}


def independent(name: str, tr: workscope.Trace) -> Counts | None:
    """The independent counts of analysis ``name`` (None: an analysis with no count)."""
    by_table: dict[str, Callable[[workscope.Trace, str], Counts]] = {
        "arrivals_": arrivals, "fitting_": fitting, "serverless_popularity_": popularity,
        "serverless_keepalive_": keepalive}
    for prefix, fn in by_table.items():
        if name.startswith(prefix):
            return fn(tr, name[len(prefix):])
    plain: dict[str, Callable[[workscope.Trace], Counts]] = {
        "llm_tokens": llm_tokens, "llm_failures": llm_failures, "llm_prefix": llm_prefix,
        "llm_sessions": llm_sessions, "serverless_durations_invocations": durations_invocations,
        "serverless_durations_functions": durations_functions, "serverless_cold_starts": cold_starts,
        "usage_metrics": usage_metrics, "usage_correlation": usage_correlation}
    return plain[name](tr) if name in plain else None


@pytest.fixture(scope="module")
def profiles(real_store: workscope.Store) -> dict[str, Any]:
    out = {}
    for name in TRACES:
        out[name] = characterize(real_store.trace(name), options=Options(top_groups=TOP),
                                 only=[a.name for a in _non_cluster()])
    return out


def _non_cluster() -> list[Any]:
    from workscope.analysis import analyses

    # cluster analyses are audited in tests/analysis/test_cluster*.py, latency (results traces)
    # in tests/analysis/test_latency.py, each against its own independent queries
    return [a for a in analyses() if not a.name.startswith(("cluster", "latency"))]


@pytest.mark.parametrize("trace", TRACES)
def test_every_summary_count_matches_an_independent_count(trace: str, real_store: workscope.Store,
                                                          profiles: dict[str, Any]) -> None:
    tr = real_store.trace(trace)
    checked = 0
    wrong = []
    for name, result in profiles[trace].results.items():
        want = independent(name, tr)
        if want is None:
            continue
        if name == "llm_prefix" and result.summary.get("sampled"):
            want = {k: v for k, v in want.items() if k in ("requests_total", "blocks_total")}
        if name == "usage_correlation" and result.summary.get("shared_keys_estimated"):
            want.pop("shared_keys")
        for key, value in want.items():
            checked += 1
            if result.summary.get(key) != value:
                wrong.append(f"{name}.{key}: summary says {result.summary.get(key)!r}, independent {value!r}")
    assert not wrong, "\n".join(wrong)
    assert checked > 0  # every trace here has at least one analysis with counts


def test_every_non_cluster_analysis_is_audited(profiles: dict[str, Any]) -> None:
    # an analysis that ran on no trace here, or that has no independent counts, would pass
    # the test above silently
    ran = {name for p in profiles.values() for name in p.results}
    assert ran == {a.name for a in _non_cluster()}
    assert sorted(n for n in ran if independent_name(n) is None) == []


def independent_name(name: str) -> str | None:
    """``name`` when :func:`independent` has counts for it, else None."""
    prefixes = ("arrivals_", "fitting_", "serverless_popularity_", "serverless_keepalive_")
    plain = ("llm_tokens", "llm_failures", "llm_prefix", "llm_sessions", "serverless_durations_invocations",
             "serverless_durations_functions", "serverless_cold_starts", "usage_metrics", "usage_correlation")
    return name if name.startswith(prefixes) or name in plain else None


def test_planetlab_entities_are_the_vms(real_store: workscope.Store, profiles: dict[str, Any]) -> None:
    # the case: the entity count is every VM, not the rows of the top-entities table
    s = profiles["planetlab"]["usage_metrics"].summary
    vms = real_store.trace("planetlab").manifest["meta"]["vm_files"]
    assert vms > TOP
    assert s["entities"] == vms and s["entities_shown"] == TOP


def test_unknown_trigger_is_not_a_trigger(real_store: workscope.Store, profiles: dict[str, Any]) -> None:
    # huawei 2025: invoked functions have triggers workflow, APIG and one not in the functions table
    res = profiles["huawei25"]["serverless_popularity_invocations"]
    assert res.summary["triggers"] == 2
    assert sorted(res.tables["by_trigger"]["trigger"].to_list()) == ["APIG", "unknown", "workflow"]
