"""Charts that do not mislead, checked on the Vega-Lite specs of every report family.

Each property is one of the ways a chart misled a reader before (issue 13): metrics of
different units on one linear axis, bars on a symlog scale, heavy tails on linear axes, seconds
since the origin where the date is known, float noise in labels, cut legends, compare charts
on different axes. The properties run on every chart of every trace in the real store.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import workscope
from workscope.analysis import Profile, characterize
from workscope.analysis.base import Result
from workscope.reports.charts import (
    LEGEND_WIDTH,
    STATUS_COLORS,
    charts_for_pair,
    heavy_tail,
    named_charts,
    scale_uses,
    status_class,
    time_x,
)


@pytest.fixture(scope="module")
def profiles(real_store: workscope.Store) -> dict[str, Profile]:
    return {name: characterize(real_store.trace(name)) for name in real_store.names()}


@pytest.fixture(scope="module")
def specs(profiles: dict[str, Profile]) -> list[tuple[str, Result, str, dict[str, Any]]]:
    """(trace, result, chart name, spec) of every chart of every trace."""
    out = []
    for trace, prof in profiles.items():
        for r in prof.results.values():
            out += [(trace, r, name, chart.to_dict()) for name, chart in named_charts(r)]
    return out


def units(node: dict[str, Any], data: list[dict[str, Any]] | None = None,
          datasets: dict[str, Any] | None = None) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]] | None]]:
    """(unit view, its rows) for every mark of a spec, with data inherited from its parents."""
    datasets = node.get("datasets", datasets or {})
    if isinstance(node.get("data"), dict):
        d = node["data"]
        data = d.get("values") if "values" in d else datasets.get(d.get("name"), data)
    for comp in ("layer", "concat", "hconcat", "vconcat"):
        for child in node.get(comp, []):
            yield from units(child, data, datasets)
    if "spec" in node:
        yield from units(node["spec"], data, datasets)
    if "mark" in node:
        yield node, data


def mark_type(unit: dict[str, Any]) -> str:
    m = unit["mark"]
    return m["type"] if isinstance(m, dict) else m


def scale_type(enc: dict[str, Any]) -> str:
    return (enc.get("scale") or {}).get("type") or ("utc" if enc.get("type") == "temporal" else "linear")


def test_every_family_has_charts(specs: list[tuple[str, Result, str, dict[str, Any]]],
                                 profiles: dict[str, Profile]) -> None:
    traces = {t for t, *_ in specs}
    assert traces == set(profiles), f"no charts for {set(profiles) - traces}"
    assert len(specs) > 200


def test_chart_names_say_what_they_show(profiles: dict[str, Profile]) -> None:
    for prof in profiles.values():
        for r in prof.results.values():
            names = [n for n, _ in named_charts(r)]
            assert len(names) == len(set(names)), (r.name, names)
            for n in names:
                assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", n), n
                assert not re.fullmatch(r"chart-\d+", n), f"{r.name}: unnamed chart {n}"


def test_no_bar_or_area_on_a_symlog_scale(specs: list[tuple[str, Result, str, dict[str, Any]]]) -> None:
    """Bar lengths on symlog make 398 look like 60% of 24,000: bars are linear, or log with
    their values printed."""
    bad = []
    for trace, r, name, spec in specs:
        for u, _ in units(spec):
            if mark_type(u) not in ("bar", "area"):
                continue
            for ch in ("x", "y"):
                enc = u.get("encoding", {}).get(ch)
                if isinstance(enc, dict) and enc.get("type") == "quantitative" and scale_type(enc) == "symlog":
                    bad.append((trace, name, ch))
    assert not bad


def test_series_of_different_magnitudes_never_share_a_linear_axis(
        specs: list[tuple[str, Result, str, dict[str, Any]]]) -> None:
    """Within one view, series (colours) whose largest values differ by more than 1000x
    would flatten the small ones to a line at 0 on a linear axis (GPU memory in bytes beside
    utilization in %): such views must be split into panels or use a log axis."""
    bad = []
    for trace, _, name, spec in specs:
        for u, rows in units(spec):
            enc = u.get("encoding", {})
            color = enc.get("color")
            if not rows or not isinstance(color, dict) or color.get("type") != "nominal" or "field" not in color:
                continue
            for ch in ("x", "y"):
                e = enc.get(ch)
                if not isinstance(e, dict) or e.get("type") != "quantitative" or scale_type(e) != "linear" \
                        or "field" not in e or "aggregate" in e:
                    continue
                tops: dict[Any, float] = {}
                for row in rows:
                    v = row.get(e["field"])
                    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v != 0:
                        k = row.get(color["field"])
                        tops[k] = max(tops.get(k, 0.0), abs(v))
                if len(tops) > 1 and max(tops.values()) > 1000 * min(tops.values()):
                    bad.append((trace, name, ch, e["field"]))
    assert not bad


def test_no_float_noise_in_chart_data(specs: list[tuple[str, Result, str, dict[str, Any]]]) -> None:
    """Labels and tooltips read the data as given: 14.200000000000001 must not reach them."""
    bad = []
    for trace, _, name, spec in specs:
        for _, rows in units(spec):
            for row in rows or []:
                for k, v in row.items():
                    if isinstance(v, float) and math.isfinite(v) and not k.endswith("_utc") \
                            and float(f"{v:.10g}") != v:
                        bad.append((trace, name, k, v))
    assert not bad[:5]


def test_legends_and_labels_are_not_cut(specs: list[tuple[str, Result, str, dict[str, Any]]]) -> None:
    for trace, _, name, spec in specs:
        cfg = spec.get("config", {})
        assert cfg.get("legend", {}).get("labelLimit", 0) >= LEGEND_WIDTH, (trace, name)
        assert cfg.get("axis", {}).get("labelLimit", 0) >= 200, (trace, name)


def test_time_axes_show_dates_when_the_origin_is_known(
        specs: list[tuple[str, Result, str, dict[str, Any]]], profiles: dict[str, Profile]) -> None:
    dated = {t for t, p in profiles.items() if any(r.origin_utc for r in p.results.values())}
    assert {"azure_llm_conv", "nasa_ipsc", "genai", "planetlab"} <= dated
    temporal = 0
    for trace, r, name, spec in specs:
        text = str(spec)
        if r.origin_utc:
            assert "since origin" not in text, (trace, name)
            temporal += "'type': 'temporal'" in text
        else:
            # no wall clock: long spans are in days or hours, not 11,000,000 s
            for u, rows in units(spec):
                e = u.get("encoding", {}).get("x", {})
                if "s since origin" in str(e.get("title", "")) and rows:
                    xs = [row[e["field"]] for row in rows if isinstance(row.get(e["field"]), (int, float))]
                    assert not xs or max(xs) - min(xs) < 2 * 86400, (trace, name)
    assert temporal >= 20


def test_status_colours_are_fixed_and_semantic(specs: list[tuple[str, Result, str, dict[str, Any]]]) -> None:
    """ok is green and failed red in every chart that colours by outcome."""
    assert STATUS_COLORS["ok"] != STATUS_COLORS["failed"]
    seen = 0
    for trace, _, name, spec in specs:
        for u, rows in units(spec):
            color = u.get("encoding", {}).get("color", {})
            if isinstance(color, dict) and color.get("field") == "outcome":
                seen += 1
                scale = color.get("scale", {})
                assert scale.get("domain") == list(STATUS_COLORS) and scale.get("range") == list(
                    STATUS_COLORS.values()), (trace, name)
                for row in rows or []:
                    assert row["outcome"] in STATUS_COLORS
    assert seen >= 4  # job status (SWF, openb, philly...), request status (genai)


def test_status_classes() -> None:
    assert [status_class(v) for v in ("SUCCEED", "Failed", "PENDING", "Running", None, "weird", "200")] == [
        "ok", "failed", "incomplete", "incomplete", "unknown", "unknown", "ok"]


def test_heavy_tailed_cdfs_get_log_axes(specs: list[tuple[str, Result, str, dict[str, Any]]]) -> None:
    """openb's queueing delay and run time collapsed into a line at 0 on linear axes."""
    by = {(t, r.name, n): s for t, r, n, s in specs}
    for key in [("alibaba_openb", "cluster_jobs", "wait-cdf"), ("alibaba_openb", "cluster_jobs", "runtime-cdf"),
                ("nasa_ipsc", "cluster_jobs", "runtime-cdf"), ("huawei25", "serverless_durations_invocations",
                                                             "execution-time-cdf")]:
        xs = [scale_type(u["encoding"]["x"]) for u, _ in units(by[key]) if "x" in u.get("encoding", {})]
        assert xs and set(xs) == {"log"}, (key, xs)


def test_metrics_of_different_units_get_their_own_panel(
        specs: list[tuple[str, Result, str, dict[str, Any]]]) -> None:
    by = {(t, r.name, n): s for t, r, n, s in specs}
    spec = by[("genai", "usage_metrics", "metric-over-time")]
    assert spec.get("resolve", {}).get("scale", {}).get("y") == "independent"
    panels = spec["concat"]
    assert len(panels) == 6  # one per metric, each on its own y axis
    titles = [p["title"]["text"] for p in panels]
    assert any("gpu_duty_cycle" in t for t in titles) and any("queue_size" in t for t in titles)


def test_compare_charts_share_their_axes(profiles: dict[str, Profile]) -> None:
    """Each pair of charts of the same name shares every continuous scale: one domain and
    one scale type, so that equal lengths mean equal values."""
    a, b = profiles["azure_llm_code"], profiles["azure_llm_conv"]
    checked = 0
    for name in a.results.keys() & b.results.keys():
        ca, cb = charts_for_pair(a[name], b[name])
        assert len(ca) == len(named_charts(a[name])) and len(cb) == len(named_charts(b[name]))
        for x, y in zip(ca, cb, strict=False):
            ua, ub = scale_uses(x.to_dict()), scale_uses(y.to_dict())
            for key in ua.keys() & ub.keys():
                uses = ua[key] + ub[key]
                if len({u.kind for u in uses}) > 1:
                    continue
                doms = {tuple(u.unit["encoding"][u.channel].get("scale", {}).get("domain") or ()) for u in uses}
                types = {u.unit["encoding"][u.channel].get("scale", {}).get("type") for u in uses}
                if all(d for d in doms):
                    assert len(doms) == 1 and len(types) == 1, (name, key, doms, types)
                    checked += 1
    assert checked >= 20


def test_compare_puts_a_heavy_and_a_light_tail_on_one_log_axis() -> None:
    light = pl.DataFrame({"x": [1.0, 2.0, 3.0], "cdf": [0.3, 0.6, 1.0]})
    heavy = pl.DataFrame({"x": [1.0, 10.0, 100_000.0], "cdf": [0.3, 0.6, 1.0]})
    a = Result("fit", "t", {}, {"cdf": light}, kind="k")
    b = Result("fit", "t", {}, {"cdf": heavy}, kind="k")
    from workscope.reports import charts as mod

    def fn(r: Result) -> list[tuple[str, Any]]:
        import altair as alt

        df, x, _ = mod.cdf_x(r.tables["cdf"], "x", "x")
        return [("x-cdf", alt.Chart(mod.chart_data(df)).mark_line().encode(x=x, y="cdf:Q"))]

    old = mod._registry
    mod._registry = lambda: {"k": fn}  # type: ignore[assignment]
    try:
        ca, cb = charts_for_pair(a, b)
    finally:
        mod._registry = old  # type: ignore[assignment]
    xa, xb = ca[0].to_dict()["encoding"]["x"], cb[0].to_dict()["encoding"]["x"]
    assert xa["scale"]["type"] == xb["scale"]["type"] == "log"
    assert xa["scale"]["domain"] == xb["scale"]["domain"] == [1.0, 100_000.0]


def test_time_axis_without_origin_uses_days_or_hours() -> None:
    long = pl.DataFrame({"t": [0.0, 11_000_000.0]})
    df, x, _ = time_x(long, "t", None)
    assert x.to_dict()["field"] == "t_days" and df["t_days"].to_list() == [0.0, 11_000_000.0 / 86400]
    df, x, _ = time_x(pl.DataFrame({"t": [0.0, 20_000.0]}), "t", None)
    assert x.to_dict()["field"] == "t_hours"
    df, x, _ = time_x(pl.DataFrame({"t": [0.0, 600.0]}), "t", None)
    assert x.to_dict()["field"] == "t" and "s since origin" in x.to_dict()["title"]
    df, x, _ = time_x(pl.DataFrame({"t": [0.0, 600.0]}), "t", "2024-11-15T16:57:00Z")
    enc = x.to_dict()
    assert enc["type"] == "temporal" and "2024-11-15 16:57" in enc["title"]
    assert df["t_utc"][0] == pytest.approx(1731689820000.0)


@settings(max_examples=40, deadline=None)
@given(sigma=st.floats(0.05, 4.0), seed=st.integers(0, 2**31 - 1))
def test_log_axis_follows_the_tail(sigma: float, seed: int) -> None:
    """A lognormal sample gets a log axis exactly when its tail reaches 10x the median by
    p99 or 100x by the max (the rule :func:`heavy_tail` documents)."""
    xs = np.random.default_rng(seed).lognormal(0.0, sigma, 400)
    df = pl.DataFrame({"x": xs})
    choice = heavy_tail(df, "x", None)
    s = np.sort(xs)
    med = s[int(np.ceil(0.5 * len(s))) - 1]
    p99 = s[int(np.ceil(0.99 * len(s))) - 1]
    expect = s[-1] / med > 100 or p99 / med > 10
    assert choice.log == expect
    assert choice.nonpositive_share == 0.0
