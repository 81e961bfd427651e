"""Headlines, the glossary and human units: what a reader sees first must be right and complete."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import workscope
from workscope.analysis import characterize
from workscope.analysis import humanize as hz
from workscope.analysis.glossary import describe, glossary_markdown, show
from workscope.cli import app

FAMILIES = ["azure_llm_conv", "azure_llm_code", "nasa_ipsc", "alibaba_openb", "azure_functions_2021",
            "mooncake", "burstgpt", "qwen", "genai", "huawei25", "huawei23", "azf2019", "planetlab",
            "noise", "dlrm", "philly", "google2011"]


@pytest.fixture(scope="module")
def profiles(real_store: workscope.Store) -> dict[str, workscope.analysis.Profile]:
    return {n: characterize(real_store.trace(n)) for n in FAMILIES}


def test_every_figure_of_every_family_is_in_the_glossary(profiles) -> None:
    missing = sorted({f"{r.name}.{k}" for p in profiles.values() for r in p.results.values()
                      for k in r.summary if describe(k) is None})
    assert missing == []


def test_every_result_has_a_clean_headline(profiles) -> None:
    for p in profiles.values():
        for r in p.results.values():
            h = r.headline
            assert h and len(h) < 400, (p.trace, r.name, h)
            for junk in ("None", "nan", "e+", "000000", "{"):
                assert junk not in h, (p.trace, r.name, h)
            assert not re.search(r"\d\.\d{4,}", h), (p.trace, r.name, h)  # no float noise


def test_headlines_of_real_traces(profiles) -> None:
    # figures of the bundled Azure LLM conversation sample, read from its summary, in words
    arr = profiles["azure_llm_conv"]["arrivals_requests"]
    s = arr.summary
    assert (s["events"], round(s["span_s"] / 60, 1), round(s["mean_rate_per_s"], 2)) == (19366, 58.4, 5.53)
    assert arr.headline.startswith("58.4 min, from 2023-11-16 18:15 UTC, 19,366 requests, mean 5.53 req/s, "
                                   "peak/mean 2.9 at 1 s, CV of inter-arrivals 1.09 (close to Poisson)")
    jobs = profiles["nasa_ipsc"]["cluster_jobs"].headline
    assert jobs.startswith("18,239 jobs, wait median 0 s") and "run time median 1.43 min" in jobs
    cold = profiles["huawei25"]["serverless_cold_starts"]
    assert cold.headline.startswith(f"{cold.summary['cold_starts']} cold starts, rate 17.2%, median 911 ms")
    fit = profiles["azure_llm_conv"]["fitting_requests"].headline
    assert fit.startswith("best fits: inter-arrival: gamma (KS 0.017)")


def test_show_writes_units(profiles) -> None:
    s = profiles["alibaba_openb"]["cluster_utilization"].summary
    assert show("mem_capacity_mb", s["mem_capacity_mb"]) == "612 TB"
    assert show("span_s", 1989370.0) == "23 days"
    assert show("interarrival_params", '{"s": 1.825414423612031, "scale": 128.9077602159609}') == "s 1.83, scale 129"
    assert show("peak_hour", 18) == "18:00" and show("cold_start_rate_10min", 0.0983) == "9.8%"
    assert show("x_unknown", None) == "–"


@pytest.mark.parametrize(("value", "text"), [
    (1989370, "23 days"), (0.00085, "850 µs"), (45, "45 s"), (7200, "2 h"), (90, "1.5 min"), (0, "0 s")])
def test_duration(value: float, text: str) -> None:
    assert hz.duration(value) == text


def test_other_units() -> None:
    assert hz.number(14.200000000000001) == "14.2" and hz.number(26798.0) == "26,798"
    assert hz.rate(0.00063, "req") == "2.27 req/h" and hz.rate(5.53, "req") == "5.53 req/s"
    assert hz.share(0.0004) == "<0.1%" and hz.share(1) == "100%" and hz.share(0.032) == "3.2%"
    assert hz.megabytes(2.5e4) == "25 GB" and hz.megabytes(0.5) == "500 KB"
    assert hz.when("2023-11-16T18:15:46+00:00", 3600) == "2023-11-16 19:15 UTC"
    assert hz.when(None, 90) == "1.5 min after the start"


@given(st.floats(min_value=1e-3, max_value=1e12, allow_nan=False))
def test_number_keeps_three_significant_digits(x: float) -> None:
    back = float(hz.number(x).replace(",", ""))
    assert math.isclose(back, x, rel_tol=5.1e-3)


def test_glossary_doc_is_current() -> None:
    doc = Path(__file__).parents[2] / "docs" / "glossary.md"
    assert doc.read_text() == glossary_markdown(), "regenerate docs/glossary.md from glossary_markdown()"


def test_cli_leads_with_headlines(real_store: workscope.Store) -> None:
    runner = CliRunner()
    home = str(real_store.home)
    r = runner.invoke(app, ["characterize", "azure_llm_conv", "--home", home])
    assert r.exit_code == 0, r.output
    assert "19,366 requests, mean 5.53 req/s" in r.stdout
    assert "cv_interarrival" not in r.stdout and "--full" in r.stdout  # the dump is folded away
    r = runner.invoke(app, ["characterize", "azure_llm_conv", "--home", home, "--full"])
    assert "cv_interarrival" in r.stdout and "coefficient of variation" in r.stdout
    r = runner.invoke(app, ["characterize", "azure_llm_conv", "--home", home, "--json"])
    doc = json.loads(r.stdout)
    assert doc["results"]["arrivals_requests"]["headline"].startswith("58.4 min")
