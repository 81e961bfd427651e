"""Workload models (JSON and ServeGen bundles), synthesis from them, and fidelity reports."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import workscope
from tests.conftest import SAMPLES
from workscope.replay.fidelity import compare
from workscope.replay.model import (Group, ModelError, Window, WorkloadModel, from_dict, load,
                                    load_servegen, parse_pmf_literal)
from workscope.replay.synth import gaps, synthesize, weibull_shape_for_cv
from workscope.replay.workload import Workload

SERVEGEN = Path(__file__).parent.parent / "data" / "servegen"


def test_pmf_literal_parser_accepts_numbers_only() -> None:
    assert parse_pmf_literal("{39: 0.5, 40: 0.25, 1e3: 0.25}") == {39.0: 0.5, 40.0: 0.25, 1000.0: 0.25}
    assert parse_pmf_literal("{}") == {}
    for bad in ['{1: __import__("os").system("x")}', "{(1, 2): 3}", "{1: 2, x: 3}", "[1, 2]",
                "{1: 2}; import os", "{1: {2: 3}}", "{'a': 1}"]:
        with pytest.raises(ModelError):
            parse_pmf_literal(bad)


def test_servegen_bundle_loads_real_files() -> None:
    m = load_servegen(SERVEGEN / "deepseek-r1")
    assert sorted(m.groups) == ["1", "2"]
    first = (SERVEGEN / "deepseek-r1" / "chunk-1-trace.csv").read_text().splitlines()[0].split(",")
    w = m.groups["1"].windows[0]
    assert (w.start_s, w.rate_per_s, w.cv, w.family) == (0.0, float(first[1]), float(first[2]), "gamma")
    assert w.params == {"shape": float(first[4]), "scale": float(first[5])}
    # ServeGen's gamma parameters are (shape, scale) of the gaps: shape x scale ~ 1 / rate
    assert w.params["shape"] * w.params["scale"] == pytest.approx(1 / w.rate_per_s, rel=0.05)
    assert len(m.groups["1"].windows) == 144 and m.groups["1"].lengths == ()
    lengths = m.groups["2"].lengths
    assert [e["start_s"] for e in lengths] == [0.0, 21600.0, 43200.0, 64800.0]
    # ServeGen writes "{}" for windows without data: those entries carry no PMF
    assert "input_tokens" not in lengths[0] and "input_tokens" in lengths[1]
    pmf = lengths[1]["input_tokens"]["pmf"]
    assert sum(pmf.values()) == pytest.approx(1.0)
    raw = json.loads((SERVEGEN / "deepseek-r1" / "chunk-2-dataset.json").read_text())["21600"]["input_tokens"]
    literal = parse_pmf_literal(raw)
    total = sum(literal.values())
    assert pmf == pytest.approx({k: v / total for k, v in literal.items() if v > 0})
    mm = load_servegen(SERVEGEN / "mm-image")
    assert "image_tokens" in mm.groups["7"].lengths[0] and "input_tokens" in mm.groups["7"].lengths[0]


def test_model_json_round_trip_and_validation(tmp_path: Path) -> None:
    m = load_servegen(SERVEGEN / "deepseek-r1")
    path = m.save(tmp_path / "model.json")
    again = load(path)
    assert again.groups["1"].windows == m.groups["1"].windows
    assert again.groups["2"].lengths[1]["output_tokens"]["pmf"] == pytest.approx(
        m.groups["2"].lengths[1]["output_tokens"]["pmf"])
    doc = m.to_dict()
    for mutate, msg in [
        (lambda d: d.update(format="x"), "not a workload model"),
        (lambda d: d.update(version=9), "unsupported version"),
        (lambda d: d["groups"]["1"]["windows"][0].update(family="cauchy"), "family 'cauchy'"),
        (lambda d: d["groups"]["1"]["windows"][0].update(rate_per_s=-1), "rate_per_s must be >= 0"),
        (lambda d: d["groups"]["1"]["windows"][0].update(cv="1"), "cv must be a finite number"),
    ]:
        bad = json.loads(json.dumps(doc))
        mutate(bad)
        with pytest.raises(ModelError, match=msg):
            from_dict(bad)


@pytest.mark.parametrize(("family", "cv"), [("exponential", 1.0), ("gamma", 0.5), ("gamma", 2.0),
                                            ("weibull", 0.8), ("lognormal", 1.5)])
def test_gap_laws_have_the_requested_mean_and_cv(family: str, cv: float) -> None:
    x = gaps(np.random.default_rng(3), family, 2.0, cv, 400_000)
    assert x.mean() == pytest.approx(2.0, rel=0.01)
    assert x.std() / x.mean() == pytest.approx(cv, rel=0.03)


@given(st.floats(0.2, 4.0))
@settings(max_examples=30, deadline=None)
def test_weibull_shape_solver_inverts_the_cv(cv: float) -> None:
    k = weibull_shape_for_cv(cv)
    got = math.sqrt(math.gamma(1 + 2 / k) / math.gamma(1 + 1 / k) ** 2 - 1)
    assert got == pytest.approx(cv, rel=1e-6)


def _flat(family: str, cv: float, windows: int = 100, rate: float = 1.0) -> WorkloadModel:
    ws = tuple(Window(i * 600.0, rate, cv, family) for i in range(windows))
    return WorkloadModel("requests", 600.0, {"g": Group(ws)})


@pytest.mark.parametrize(("family", "cv"), [("exponential", 1.0), ("gamma", 2.0), ("weibull", 0.7)])
def test_synthesized_count_matches_the_integrated_rate(family: str, cv: float) -> None:
    m = _flat(family, cv)
    n = synthesize(m, seed=11).collect().height
    expected = 60_000
    # count variance of a renewal process ~ cv^2 x expected; 5 sigma
    assert abs(n - expected) < 5 * cv * math.sqrt(expected)


def test_synthesis_is_seeded_and_rate_scaled() -> None:
    m = load_servegen(SERVEGEN / "deepseek-r1")
    a, b = synthesize(m, seed=5).collect(), synthesize(m, seed=5).collect()
    assert a.equals(b)
    assert not a.equals(synthesize(m, seed=6).collect())
    assert a.schema == workscope.schemas.TABLES["requests"].polars_schema
    assert a["arrival_s"].is_sorted() and a["arrival_s"].max() < m.span_s
    half = synthesize(m, seed=5, rate_scale=0.5).collect().height
    expected = sum(w.rate_per_s * 600 for g in m.groups.values() for w in g.windows)
    assert abs(a.height - expected) < 6 * math.sqrt(expected) * 2
    assert half == pytest.approx(a.height / 2, rel=0.05)
    # client 2 has length PMFs: its tokens come from them; client 1 has none (null)
    g2 = a.filter(pl.col("attrs") == '{"group":"2"}')
    support = set().union(*(e["input_tokens"]["pmf"] for e in m.groups["2"].lengths if "input_tokens" in e))
    assert set(g2["input_tokens"].cast(pl.Float64).to_list()) <= support
    assert a.filter(pl.col("attrs") == '{"group":"1"}')["input_tokens"].null_count() > 0
    longer = synthesize(m, seed=5, duration_s=2 * m.span_s).collect()
    assert longer.height == pytest.approx(2 * a.height, rel=0.05)


def test_fidelity_identity_is_zero_and_thinning_keeps_shape(tmp_path: Path) -> None:
    store = workscope.open(tmp_path / "s")
    store.ingest(SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv", format="azure_llm", name="conv")
    wl = Workload.from_trace(store.trace("conv"))
    same = compare(wl, wl)
    assert same.rows["ks"].drop_nulls().max() == 0.0
    assert same.rows["wasserstein"].drop_nulls().max() == 0.0
    assert same.ks("input_tokens") == 0.0
    rng = np.random.default_rng(0)
    keep = rng.uniform(size=wl.collect().height) < 0.5
    thinned = wl.with_frame(wl.collect().filter(pl.Series(keep)).lazy(), {"name": "thin", "p": 0.5, "seed": 0})
    rep = compare(wl, thinned)
    assert rep.ks("interarrival_normalized") < 0.05
    assert rep.rows.filter(pl.col("quantity") == "interarrival_s")["mean_emitted"][0] == pytest.approx(
        2 * rep.rows.filter(pl.col("quantity") == "interarrival_s")["mean_source"][0], rel=0.05)
    md = rep.to_markdown()
    assert "| interarrival_normalized |" in md and "(thin)" in md
    assert json.loads(rep.to_json())["rows"][0]["quantity"] == "interarrival_s"


def test_fit_model_is_reproducible_under_its_seed(tmp_path: Path) -> None:
    from workscope.replay.fit import fit_model

    store = workscope.open(tmp_path / "s")
    store.ingest(SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv", format="azure_llm", name="conv")
    tr = store.trace("conv")
    # max_gaps below the windows' gap counts forces the seeded subsample
    a, b = fit_model(tr, max_gaps=200, seed=3).to_dict(), fit_model(tr, max_gaps=200, seed=3).to_dict()
    assert a == b
    assert a["groups"]["conv"]["windows"][0]["rate_per_s"] == pytest.approx(
        tr.sql("SELECT count(*) AS n FROM requests WHERE arrival_s < 600")["n"][0] / 600)
