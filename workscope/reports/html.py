"""Self-contained reports: one HTML file that works offline, a PNG per chart, a Markdown summary.

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workscope.atomic import write_atomic
from workscope.jsonable import json_ready
from workscope.reports.charts import charts_for
from workscope.version import __version__

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
"""

RUNNER = """
(function(){
  const opts = {renderer: "svg", actions: false};
  document.querySelectorAll("div.chart[data-spec]").forEach(function(div){
    const spec = JSON.parse(document.getElementById(div.dataset.spec).textContent);
    vegaEmbed(div, spec, opts).then(function(){ div.dataset.state = "drawn"; })
      .catch(function(err){ div.dataset.state = "error"; div.textContent = "chart failed: " + err; });
  });
})();
"""


@dataclass
class ReportFiles:
    """What a report wrote."""

    html: Path
    markdown: Path
    pngs: list[Path] = field(default_factory=list)
    charts: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"html": str(self.html), "markdown": str(self.markdown),
                "pngs": [str(p) for p in self.pngs], "charts": self.charts}


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


def _png(chart: Any, path: Path) -> Path:
    import vl_convert

    write_atomic(path, vl_convert.vegalite_to_png(chart.to_json(), scale=1.5))
    return path


def _section_id(result: Result) -> str:
    return "r-" + "".join(ch if ch.isalnum() else "-" for ch in result.name)


def _subtitle(profile: Profile) -> str:
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"workscope {__version__} · generated {now} · {len(profile.results)} analyses"


def write_report(profile: Profile, out: str | Path, *, png: bool = True,
                 manifest: dict[str, Any] | None = None) -> ReportFiles:
    """Write ``report.html``, ``summary.md`` and ``charts/*.png`` for a profile into ``out``."""
    out = Path(out)
    page = _Page(f"workscope report: {profile.trace}", _subtitle(profile))
    md = [f"# workscope report: {_md(profile.trace)}", "", _subtitle(profile), ""]
    if manifest:
        facts = {"format": manifest["reader"]["name"], "origin (UTC)": manifest.get("origin_utc"),
                 **{f"rows in {t}": s["rows_ok"] for t, s in manifest["tables"].items()},
                 "rejected rows": manifest["rejects"]["rows"]}
        page.body.append(f"<h2 id=\"trace\">Trace</h2>{_kv_table(facts)}")
        md += ["## Trace", ""] + [f"- **{_md(k)}**: {_md(v)}" for k, v in facts.items()] + [""]
    pngs: list[Path] = []
    for result in profile.results.values():
        sid = _section_id(result)
        page.nav.append((sid, result.title))
        charts = charts_for(result)
        divs = "".join(page.chart_div(c) for c in charts)
        notes = "".join(f"<p class=\"notes\">{html.escape(n)}</p>" for n in result.notes)
        page.body.append(f'<h2 id="{sid}">{html.escape(result.title)}</h2>{_kv_table(result.summary)}'
                         f'{notes}<div class="charts">{divs}</div>')
        md += [f"## {_md(result.title)}", ""]
        md += [f"- **{_md(str(k))}**: {_md(v)}" for k, v in result.summary.items()]
        md += [f"- _{_md(n)}_" for n in result.notes] + [""]
        if png:
            for i, c in enumerate(charts):
                p = _png(c, out / "charts" / f"{sid[2:]}-{i}.png")
                pngs.append(p)
                md.append(f"![{_md(result.title)} {i + 1}](charts/{p.name})")
            md.append("")
    if profile.skipped:
        page.body.append("<h2 id=\"skipped\">Not applicable</h2>" + _kv_table(profile.skipped))
        md += ["## Not applicable", ""] + [f"- {_md(k)}: {_md(v)}" for k, v in profile.skipped.items()] + [""]
    files = ReportFiles(out / "report.html", out / "summary.md", pngs, len(page.specs))
    write_atomic(files.html, page.render(_bundle()))
    write_atomic(files.markdown, "\n".join(md) + "\n")
    return files


def write_compare(a: Profile, b: Profile, out: str | Path, *, png: bool = True) -> ReportFiles:
    """Write a side-by-side report of two traces' profiles into ``out``."""
    out = Path(out)
    title = f"workscope compare: {a.trace} vs {b.trace}"
    page = _Page(title, _subtitle(a))
    md = [f"# {_md(title)}", ""]
    pngs: list[Path] = []
    for name in [n for n in a.results if n in b.results]:
        ra, rb = a.results[name], b.results[name]
        sid = _section_id(ra)
        page.nav.append((sid, ra.title))
        keys = list(dict.fromkeys([*ra.summary, *rb.summary]))
        rows = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(_fmt(ra.summary.get(k)))}</td>"
            f"<td>{html.escape(_fmt(rb.summary.get(k)))}</td></tr>" for k in keys)
        head = f"<tr><th></th><th>{html.escape(a.trace)}</th><th>{html.escape(b.trace)}</th></tr>"
        ca, cb = charts_for(ra), charts_for(rb)
        cols = "".join(
            f"<div><h3>{html.escape(t)}</h3>{''.join(page.chart_div(c) for c in cs)}</div>"
            for t, cs in ((a.trace, ca), (b.trace, cb)))
        page.body.append(f'<h2 id="{sid}">{html.escape(ra.title)}</h2>'
                         f'<table class="kv">{head}{rows}</table><div class="pair">{cols}</div>')
        md += [f"## {_md(ra.title)}", "", f"| | {_md(a.trace)} | {_md(b.trace)} |", "|---|---|---|"]
        md += [f"| {_md(k)} | {_md(ra.summary.get(k))} | {_md(rb.summary.get(k))} |" for k in keys] + [""]
        if png:
            for tag, cs in (("a", ca), ("b", cb)):
                for i, c in enumerate(cs):
                    pngs.append(_png(c, out / "charts" / f"{sid[2:]}-{tag}{i}.png"))
    only = sorted(set(a.results) ^ set(b.results))
    if only:
        page.body.append("<h2>Only in one trace</h2>" + _kv_table(
            {n: a.trace if n in a.results else b.trace for n in only}))
    files = ReportFiles(out / "report.html", out / "summary.md", pngs, len(page.specs))
    write_atomic(files.html, page.render(_bundle()))
    write_atomic(files.markdown, "\n".join(md) + "\n")
    return files


def chart_count(profiles: Sequence[Profile]) -> int:
    """Charts the profiles would draw (for progress and tests)."""
    return sum(len(charts_for(r)) for p in profiles for r in p.results.values())
