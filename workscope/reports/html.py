"""Self-contained reports: one HTML file that works offline, chart images (PNG at 2x, SVG, PDF)
named by what they show, a Markdown summary.

Each section leads with the result's headline in words and units
(:mod:`workscope.analysis.headlines`); every figure follows, folded, with its meaning from
:mod:`workscope.analysis.glossary`. Each chart has vega-embed's export menu (save as SVG/PNG).

The HTML embeds the Vega / Vega-Lite / vega-embed bundle once (from vl-convert, no network),
each chart's spec as inert JSON (``<script type="application/json">``, with ``</`` escaped so
no string from a trace can close the tag), and every other string from a trace is HTML-escaped.
Each chart container gets ``data-state="drawn"`` once Vega has rendered it, or
``data-state="error"``, so a browser test can check that every chart drew.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workscope.analysis import humanize as hz
from workscope.analysis.glossary import describe, show
from workscope.atomic import write_atomic
from workscope.jsonable import json_ready
from workscope.reports.charts import charts_for, named_charts, named_charts_for_pair
from workscope.version import __version__

ProgressFn = Callable[[str, int, int], None]

if TYPE_CHECKING:
    from workscope.analysis import Profile
    from workscope.analysis.base import Result

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:1280px;color:#222;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.meta{color:#666;font-size:.9rem} table.kv{border-collapse:collapse;font-size:.88rem;margin:.6rem 0}
table.kv td,table.kv th{border:1px solid #e3e3e3;padding:.2rem .5rem;text-align:left;vertical-align:top}
table.kv th{background:#f7f7f7;font-weight:600} .notes{color:#765;font-size:.85rem}
.charts{display:flex;flex-wrap:wrap;gap:1.2rem;margin-top:.8rem} .chart{min-width:320px}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1.2rem} .pair h3{font-size:1rem;margin:.3rem 0}
nav a{margin-right:.8rem;font-size:.9rem}
p.headline{font-size:1.05rem;margin:.4rem 0 .6rem;line-height:1.45} details{margin:.6rem 0}
details summary{cursor:pointer;color:#555;font-size:.9rem} td.meaning{color:#666}
"""

RUNNER = """
(function(){
  const opts = {renderer: "svg", actions: {export: true, source: false, compiled: false, editor: false}};
  document.querySelectorAll("div.chart[data-spec]").forEach(function(div){
    const spec = JSON.parse(document.getElementById(div.dataset.spec).textContent);
    vegaEmbed(div, spec, opts).then(function(){ div.dataset.state = "drawn"; })
      .catch(function(err){ div.dataset.state = "error"; div.textContent = "chart failed: " + err; });
  });
})();
"""


FORMATS = ("png", "svg", "pdf")
"""Image formats a report can write beside its HTML (``report --formats``)."""


@dataclass
class ReportFiles:
    """What a report wrote: the HTML, the Markdown summary and one image per chart and format."""

    html: Path
    markdown: Path
    images: list[Path] = field(default_factory=list)
    charts: int = 0

    @property
    def pngs(self) -> list[Path]:
        """The PNG images among :attr:`images`."""
        return [p for p in self.images if p.suffix == ".png"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"html": str(self.html), "markdown": str(self.markdown),
                "images": [str(p) for p in self.images], "pngs": [str(p) for p in self.pngs],
                "charts": self.charts}


def check_formats(formats: Sequence[str]) -> tuple[str, ...]:
    """``formats`` lower-cased and checked against :data:`FORMATS` (UsageError naming the
    choices otherwise)."""
    from workscope.errors import UsageError

    out = tuple(dict.fromkeys(f.strip().lower().lstrip(".") for f in formats if f.strip()))
    bad = [f for f in out if f not in FORMATS]
    if bad:
        raise UsageError(f"unknown image format {bad[0]!r}: choose from {', '.join(FORMATS)}")
    return out


def _script_json(obj: Any) -> str:
    """JSON safe inside a <script> element: every '<' (and '>', '&') becomes a JSON unicode
    escape, so no string from a trace can close the element or open a comment in it."""
    text = json.dumps(obj, separators=(",", ":"), default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _fmt(v: Any) -> str:
    v = json_ready(v)
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (dict, list)):
        text = json.dumps(v)
        return text if len(text) <= 240 else text[:237] + "..."
    return "" if v is None else str(v)


def _md(value: Any) -> str:
    """Text for Markdown: HTML-escaped (a trace's strings must not inject markup) and with
    table pipes escaped."""
    return html.escape(value if isinstance(value, str) else _fmt(value)).replace("|", "\\|")


def _kv_table(summary: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
                   for k, v in summary.items())
    return f'<table class="kv">{rows}</table>'


def _figures_table(summary: dict[str, Any]) -> str:
    """Every figure of a result, folded: key, value in its unit, exact value, meaning."""
    rows = []
    for k, v in summary.items():
        term = describe(k)
        rows.append(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(show(k, v))}</td>"
                    f"<td>{html.escape(_fmt(v))}</td>"
                    f"<td class=\"meaning\">{html.escape(term.text if term else '')}</td></tr>")
    head = "<tr><th>figure</th><th>value</th><th>exact</th><th>meaning</th></tr>"
    return (f"<details><summary>All {len(summary)} figures, with their meaning</summary>"
            f'<table class="kv">{head}{"".join(rows)}</table></details>')


def _md_figures(summary: dict[str, Any]) -> list[str]:
    rows = ["<details><summary>All figures</summary>", "", "| figure | value | meaning |", "|---|---|---|"]
    for k, v in summary.items():
        term = describe(k)
        rows.append(f"| `{_md(str(k))}` | {_md(show(k, v))} | {_md(term.text if term else '')} |")
    return [*rows, "", "</details>", ""]


class _Page:
    """Accumulates sections and chart specs for one HTML page."""

    def __init__(self, title: str, subtitle: str) -> None:
        self.title, self.subtitle = title, subtitle
        self.body: list[str] = []
        self.specs: list[tuple[str, dict[str, Any]]] = []
        self.nav: list[tuple[str, str]] = []

    def chart_div(self, chart: Any) -> str:
        spec = chart.to_dict() if hasattr(chart, "to_dict") else chart
        sid = f"spec-{len(self.specs)}"
        self.specs.append((sid, spec))
        return f'<div class="chart" data-spec="{sid}" data-state="pending"></div>'

    def render(self, bundle: str) -> str:
        nav = "".join(f'<a href="#{html.escape(a)}">{html.escape(t)}</a>' for a, t in self.nav)
        specs = "\n".join(f'<script type="application/json" id="{sid}">{_script_json(spec)}</script>'
                          for sid, spec in self.specs)
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(self.title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{html.escape(self.title)}</h1><p class=\"meta\">{html.escape(self.subtitle)}</p>"
            f"<nav>{nav}</nav>{''.join(self.body)}\n{specs}\n"
            f"<script>{bundle}</script>\n<script>{RUNNER}</script></body></html>\n"
        )


def _bundle() -> str:
    import vl_convert

    # A bundle may contain "</script>" inside a string literal; split it so the tag holds.
    return vl_convert.javascript_bundle().replace("</script", "<\\/script")


def _image(spec: str, path: Path, scale: float) -> Path:
    """A Vega-Lite spec (JSON) drawn to ``path`` (PNG at ``scale`` times its size, SVG, or
    PDF), offline."""
    import vl_convert

    fmt = path.suffix.lstrip(".")
    data = (vl_convert.vegalite_to_png(spec, scale=scale) if fmt == "png" else
            vl_convert.vegalite_to_svg(spec).encode() if fmt == "svg" else vl_convert.vegalite_to_pdf(spec))
    write_atomic(path, data)
    return path


def _images(charts: list[tuple[str, Any]], folder: Path, stem: str, formats: Sequence[str],
            scale: float, say: Callable[[str], None]) -> list[Path]:
    """One file per chart and format, named by what the chart shows (``<stem>-<name>.<fmt>``)."""
    out = []
    for name, chart in charts:
        say(f"{stem}-{name}")
        spec = chart.to_json()  # once per chart, whatever the number of formats
        out += [_image(spec, folder / f"{stem}-{name}.{fmt}", scale) for fmt in formats]
    return out


def _section_id(result: Result) -> str:
    return "r-" + "".join(ch if ch.isalnum() else "-" for ch in result.name)


def _subtitle(profile: Profile) -> str:
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"workscope {__version__} · generated {now} · {len(profile.results)} analyses"


def _headline(result: Result) -> str:
    return f'<p class="headline">{html.escape(result.headline)}</p>' if result.headline else ""


def _trace_facts(manifest: dict[str, Any]) -> dict[str, str]:
    """The trace's provenance in words: format, start date, rows per table, rejects."""
    facts = {"format": manifest["reader"]["name"],
             "starts": hz.when(manifest.get("origin_utc"), 0) if manifest.get("origin_utc") else "no wall clock"}
    facts.update({f"rows in {t}": hz.count(st["rows_ok"]) for t, st in manifest["tables"].items()})
    facts["rejected rows"] = hz.count(manifest["rejects"]["rows"])
    return facts


def _progress(progress: ProgressFn | None, total: int) -> Callable[[str], None]:
    """A ``say(message)`` that counts charts drawn for ``progress``."""
    done = [0]

    def say(msg: str) -> None:
        if progress is not None:
            progress(f"chart {msg}", done[0], total)
        done[0] += 1

    return say


def write_report(profile: Profile, out: str | Path, *, png: bool = True,
                 manifest: dict[str, Any] | None = None, formats: Sequence[str] | None = None,
                 scale: float = 2.0, progress: ProgressFn | None = None) -> ReportFiles:
    """Write ``report.html``, ``summary.md`` and ``charts/<analysis>-<chart>.<fmt>`` into ``out``.

    Each section leads with the result's headline (words and units), then its charts, then
    every figure folded with its meaning. ``formats``: image files per chart, any of
    :data:`FORMATS` (default PNG, none with ``png=False``); PNGs at ``scale`` times the chart's
    size. ``progress(message, done, total)`` is called per chart image.
    """
    out = Path(out)
    fmts = check_formats(formats if formats is not None else (("png",) if png else ()))
    page = _Page(f"workscope report: {profile.trace}", _subtitle(profile))
    md = [f"# workscope report: {_md(profile.trace)}", "", _subtitle(profile), ""]
    if manifest:
        facts = _trace_facts(manifest)
        page.body.append(f"<h2 id=\"trace\">Trace</h2>{_kv_table(facts)}")
        md += ["## Trace", ""] + [f"- **{_md(k)}**: {_md(v)}" for k, v in facts.items()] + [""]
    named = {k: named_charts(r) for k, r in profile.results.items()}
    say = _progress(progress if fmts else None, sum(len(c) for c in named.values()))
    images: list[Path] = []
    for key, result in profile.results.items():
        sid = _section_id(result)
        page.nav.append((sid, result.title))
        charts = named[key]
        divs = "".join(page.chart_div(c) for _, c in charts)
        notes = "".join(f"<p class=\"notes\">{html.escape(n)}</p>" for n in result.notes)
        page.body.append(f'<h2 id="{sid}">{html.escape(result.title)}</h2>{_headline(result)}'
                         f'<div class="charts">{divs}</div>{notes}{_figures_table(result.summary)}')
        md += [f"## {_md(result.title)}", "", f"**{_md(result.headline)}**", ""]
        if fmts:
            files = _images(charts, out / "charts", sid[2:], fmts, scale, say)
            images += files
            md += [f"![{_md(result.title)}: {name}](charts/{sid[2:]}-{name}.{fmts[0]})" for name, _ in charts]
            md.append("")
        md += [f"- _{_md(n)}_" for n in result.notes] + [""]
        md += _md_figures(result.summary)
    if profile.skipped:
        page.body.append(f"<h2 id=\"skipped\">Not applicable</h2><details><summary>{len(profile.skipped)} "
                         "analyses did not run on this trace: why</summary>"
                         f"{_kv_table(profile.skipped)}</details>")
        md += ["## Not applicable", ""] + [f"- {_md(k)}: {_md(v)}" for k, v in profile.skipped.items()] + [""]
    files = ReportFiles(out / "report.html", out / "summary.md", images, len(page.specs))
    write_atomic(files.html, page.render(_bundle()))
    write_atomic(files.markdown, "\n".join(md) + "\n")
    return files


def write_compare(a: Profile, b: Profile, out: str | Path, *, png: bool = True,
                  formats: Sequence[str] | None = None, scale: float = 2.0,
                  progress: ProgressFn | None = None) -> ReportFiles:
    """Write a side-by-side report of two traces' profiles into ``out``: per analysis both
    headlines, the figures in two columns, and each chart pair on shared axes."""
    out = Path(out)
    fmts = check_formats(formats if formats is not None else (("png",) if png else ()))
    title = f"workscope compare: {a.trace} vs {b.trace}"
    page = _Page(title, _subtitle(a))
    md = [f"# {_md(title)}", ""]
    images: list[Path] = []
    both = [n for n in a.results if n in b.results]
    pairs = {n: named_charts_for_pair(a.results[n], b.results[n]) for n in both}
    say = _progress(progress if fmts else None, 2 * sum(len(p[0]) for p in pairs.values()))
    for name in both:
        ra, rb = a.results[name], b.results[name]
        sid = _section_id(ra)
        page.nav.append((sid, ra.title))
        keys = list(dict.fromkeys([*ra.summary, *rb.summary]))
        rows = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(show(k, ra.summary.get(k)))}</td>"
            f"<td>{html.escape(show(k, rb.summary.get(k)))}</td>"
            f"<td class=\"meaning\">{html.escape(t.text if (t := describe(k)) else '')}</td></tr>" for k in keys)
        head = (f"<tr><th></th><th>{html.escape(a.trace)}</th><th>{html.escape(b.trace)}</th>"
                "<th>meaning</th></tr>")
        ca, cb = pairs[name]
        cols = "".join(
            f"<div><h3>{html.escape(t)}</h3>{_headline(r)}{''.join(page.chart_div(c) for _, c in cs)}</div>"
            for t, r, cs in ((a.trace, ra, ca), (b.trace, rb, cb)))
        page.body.append(f'<h2 id="{sid}">{html.escape(ra.title)}</h2><div class="pair">{cols}</div>'
                         f"<details><summary>All {len(keys)} figures side by side</summary>"
                         f'<table class="kv">{head}{rows}</table></details>')
        md += [f"## {_md(ra.title)}", "", f"- **{_md(a.trace)}**: {_md(ra.headline)}",
               f"- **{_md(b.trace)}**: {_md(rb.headline)}", "",
               f"| | {_md(a.trace)} | {_md(b.trace)} |", "|---|---|---|"]
        md += [f"| {_md(k)} | {_md(show(k, ra.summary.get(k)))} | {_md(show(k, rb.summary.get(k)))} |"
               for k in keys] + [""]
        if fmts:
            for tag, cs in (("a", ca), ("b", cb)):
                images += _images(cs, out / "charts", f"{sid[2:]}-{tag}", fmts, scale, say)
    only = sorted(set(a.results) ^ set(b.results))
    if only:
        page.body.append("<h2>Only in one trace</h2>" + _kv_table(
            {n: a.trace if n in a.results else b.trace for n in only}))
    files = ReportFiles(out / "report.html", out / "summary.md", images, len(page.specs))
    write_atomic(files.html, page.render(_bundle()))
    write_atomic(files.markdown, "\n".join(md) + "\n")
    return files


def chart_count(profiles: Sequence[Profile]) -> int:
    """Charts the profiles would draw (for progress and tests)."""
    return sum(len(charts_for(r)) for p in profiles for r in p.results.values())
