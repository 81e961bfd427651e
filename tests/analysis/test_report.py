"""Reports: self-contained HTML that draws every chart offline, PNGs, Markdown, escaping."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import altair as alt
import polars as pl
import pytest
from typer.testing import CliRunner

import workscope
from workscope.analysis import Profile, characterize
from workscope.analysis.base import Result
from workscope.cli import app
from workscope.reports import charts as chart_registry
from workscope.reports.charts import charts_for
from workscope.reports.html import write_compare, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def rendered_dom(html_file: Path, tmp: Path) -> str:
    """The DOM after the page's scripts ran, from headless Chromium (no network)."""
    p = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp / 'chromium-profile'}", "--virtual-time-budget=30000",
         "--dump-dom", html_file.resolve().as_uri()],
        check=False, capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout


def element_names(dom: str) -> list[str]:
    """Start tags of a serialized DOM, as an HTML parser sees them."""
    from html.parser import HTMLParser

    names: list[str] = []

    class P(HTMLParser):
        def handle_starttag(self, tag: str, attrs: object) -> None:
            names.append(tag)

    P().feed(dom)
    return names


def chart_states(dom: str) -> list[str]:
    # vega-embed adds its own classes to the container; match on our attributes
    return re.findall(r'<div class="chart[^"]*" data-spec="spec-\d+" data-state="(\w+)"', dom)


def test_hostile_strings_are_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    evil = '</script><script>alert(1)</script><img src=x onerror=alert(2)>'
    df = pl.DataFrame({"x": [1, 2], "y": [2.0, 1.0], "label": [evil, "ok"]})
    r = Result("evil", f"title {evil}", {f"key {evil}": evil}, {"t": df}, (evil,), kind="evil")
    monkeypatch.setattr(chart_registry, "_registry", lambda: {"evil": lambda res: [
        alt.Chart(alt.Data(values=res.tables["t"].to_dicts())).mark_point().encode(
            x="x:Q", y="y:Q", tooltip=["label:N"])]})
    files = write_report(Profile(f"trace {evil}", {"evil": r}), tmp_path / "rep", png=True)
    page = files.html.read_text()
    # the only <script> tags are ours: 1 spec, the bundle, the runner
    assert page.count("<script") == 3
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)" in page  # inside the JSON spec, inert
    md = files.markdown.read_text()
    assert "<img" not in md and "<script" not in md and "&lt;img src=x" in md
    assert files.pngs[0].read_bytes().startswith(PNG_MAGIC)
    if CHROMIUM:
        dom = rendered_dom(files.html, tmp_path)
        assert chart_states(dom) == ["drawn"]
        # the hostile text is shown as text or kept in attribute values: parsed as HTML, the
        # rendered page has only our three scripts and no img element
        tags = element_names(dom)
        assert tags.count("script") == 3 and "img" not in tags
        assert "&lt;/script&gt;&lt;script&gt;alert(1)" in dom


@pytest.fixture(scope="module")
def conv_report(real_store: workscope.Store, tmp_path_factory: pytest.TempPathFactory):
    trace = real_store.trace("azure_llm_conv")
    profile = characterize(trace)
    out = tmp_path_factory.mktemp("report")
    return profile, write_report(profile, out, png=True, manifest=trace.manifest), out


def test_report_files(conv_report) -> None:
    profile, files, _ = conv_report
    expected = sum(len(charts_for(r)) for r in profile.results.values())
    assert files.charts == expected >= 4
    assert len(files.pngs) == expected and all(p.read_bytes().startswith(PNG_MAGIC) for p in files.pngs)
    page = files.html.read_text()
    assert page.count('class="chart"') == expected
    assert "http://" not in page.replace("http://www.w3.org", "") or "cdn" not in page.lower()
    assert not re.search(r'<script[^>]+src=', page), "no external scripts"
    md = files.markdown.read_text()
    for r in profile.results.values():
        assert f"## {r.title}" in md
    assert md.count("](charts/") == expected


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make test installs it where it can)")
def test_every_chart_draws_in_the_browser(conv_report, tmp_path: Path) -> None:
    _, files, _ = conv_report
    states = chart_states(rendered_dom(files.html, tmp_path))
    assert len(states) == files.charts
    assert states == ["drawn"] * files.charts, f"not drawn: {[i for i, s in enumerate(states) if s != 'drawn']}"


def screenshot(html_file: Path, tmp: Path, width: int = 1400) -> Path:
    """A full-page-height PNG of the rendered report at ``width`` px, from headless Chromium."""
    shot = tmp / "shot.png"
    p = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
         f"--user-data-dir={tmp / 'chromium-shot'}", "--virtual-time-budget=30000",
         f"--window-size={width},4000", f"--screenshot={shot}", html_file.resolve().as_uri()],
        check=False, capture_output=True, text=True, timeout=180)
    assert p.returncode == 0 and shot.is_file(), p.stderr[-2000:]
    return shot


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head.startswith(PNG_MAGIC)
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def svg_widths(dom: str) -> list[float]:
    """Widths of the charts' SVGs as drawn (vega-embed's svg renderer)."""
    return [float(w) for w in re.findall(r'<svg[^>]*class="marks"[^>]*width="([\d.]+)"', dom)]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make test installs it where it can)")
@pytest.mark.parametrize("name", ["nasa_ipsc", "huawei25", "mooncake", "planetlab", "azure_functions_2021",
                                  "genai", "alibaba_openb", "philly"])
def test_reports_of_other_families_draw(real_store: workscope.Store, tmp_path: Path, name: str) -> None:
    """Every report family draws every chart, fits a 1400 px window (no chart wider than the
    1280 px page column), and offers the save-as-SVG/PNG menu; the screenshot is a real
    1400 px wide image of the page."""
    trace = real_store.trace(name)
    files = write_report(characterize(trace), tmp_path / name, png=False, manifest=trace.manifest)
    dom = rendered_dom(files.html, tmp_path)
    states = chart_states(dom)
    assert files.charts > 0 and states == ["drawn"] * files.charts
    widths = svg_widths(dom)
    assert len(widths) == files.charts and max(widths) <= 1280, sorted(widths)[-3:]
    assert len(re.findall(r">Save as SVG</a>", dom)) == len(re.findall(r">Save as PNG</a>", dom)) == files.charts
    assert ">View Source</a>" not in dom and ">Open in Vega Editor</a>" not in dom
    shot = screenshot(files.html, tmp_path)
    assert png_size(shot)[0] == 1400 and shot.stat().st_size > 50_000


def test_compare_side_by_side(real_store: workscope.Store, tmp_path: Path) -> None:
    a, b = characterize(real_store.trace("azure_llm_code")), characterize(real_store.trace("azure_llm_conv"))
    files = write_compare(a, b, tmp_path / "cmp", png=False)
    page = files.html.read_text()
    both = [n for n in a.results if n in b.results]
    assert both and files.charts == sum(len(charts_for(a[n])) + len(charts_for(b[n])) for n in both)
    md = files.markdown.read_text()
    assert "| | azure_llm_code | azure_llm_conv |" in md
    assert page.count('class="pair"') == len(both)
    if CHROMIUM:
        dom = rendered_dom(files.html, tmp_path)
        assert chart_states(dom) == ["drawn"] * files.charts
        # two columns of a 1280 px page: no chart may spill into the other column
        assert max(svg_widths(dom)) <= 640


def test_cli_characterize_report_compare(real_store: workscope.Store, tmp_path: Path) -> None:
    runner = CliRunner()
    home = str(real_store.home)
    r = runner.invoke(app, ["characterize", "azure_llm_conv", "--home", home, "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["trace"] == "azure_llm_conv" and doc["results"]
    r = runner.invoke(app, ["report", "azure_llm_code", "--out", str(tmp_path / "r"), "--no-png",
                            "--home", home, "--json"])
    assert r.exit_code == 0, r.output
    assert Path(json.loads(r.stdout)["html"]).is_file()
    r = runner.invoke(app, ["compare", "azure_llm_code", "azure_llm_conv", "--out", str(tmp_path / "c"),
                            "--no-png", "--home", home, "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["charts"] > 0
    r = runner.invoke(app, ["characterize", "nope", "--home", home])
    assert r.exit_code == 2 and "unknown trace" in r.stderr
    r = runner.invoke(app, ["characterize", "azure_llm_conv", "--only", "nosuch", "--home", home])
    assert r.exit_code == 2 and "unknown analysis" in r.stderr


def test_report_formats_for_papers(real_store: workscope.Store, tmp_path: Path) -> None:
    """``--formats png,svg,pdf``: one file per chart and format, named by what the chart
    shows; PNGs at 2x the chart's size; a typo fails before any work (exit 2)."""
    runner = CliRunner()
    out = tmp_path / "paper"
    r = runner.invoke(app, ["report", "azure_llm_code", "--out", str(out), "--formats", "png,SVG,pdf",
                            "--home", str(real_store.home), "--only", "arrivals_requests", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    images = [Path(p) for p in doc["images"]]
    assert len(images) == 3 * doc["charts"] and doc["charts"] >= 4
    names = {p.name for p in images}
    assert {"arrivals-requests-arrival-rate.png", "arrivals-requests-arrival-rate.svg",
            "arrivals-requests-arrival-rate.pdf", "arrivals-requests-fano-curve.svg"} <= names
    assert all(re.fullmatch(r"arrivals-requests-[a-z0-9-]+\.(png|svg|pdf)", n) for n in names)
    svg = (out / "charts" / "arrivals-requests-arrival-rate.svg").read_text()
    assert svg.lstrip().startswith("<svg")
    svg_w = float(re.search(r'<svg[^>]*width="([\d.]+)"', svg).group(1))
    png_w, _ = png_size(out / "charts" / "arrivals-requests-arrival-rate.png")
    assert png_w == pytest.approx(2 * svg_w, abs=2)
    assert (out / "charts" / "arrivals-requests-arrival-rate.pdf").read_bytes().startswith(b"%PDF")
    md = Path(doc["markdown"]).read_text()
    assert "](charts/arrivals-requests-arrival-rate.png)" in md
    r = runner.invoke(app, ["report", "azure_llm_code", "--out", str(tmp_path / "x"), "--formats", "png,jpeg",
                            "--home", str(real_store.home)])
    assert r.exit_code == 2 and "jpeg" in r.stderr and "png, svg, pdf" in r.stderr
    assert not (tmp_path / "x").exists()
