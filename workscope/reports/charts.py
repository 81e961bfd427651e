"""Chart dispatch and the conventions every chart follows.

One module per analysis topic (charts_<topic>.py, topics as in :data:`workscope.analysis.MODULES`)
maps result kinds to functions that turn a Result's small aggregated tables into named altair
charts (``NAMED_CHARTS``: kind -> result -> [(slug, chart)]; ``CHARTS`` is the same without names).

The conventions live here so that every chart reads alike:

- sizes fit a 1280 px page: single charts :data:`WIDTH` wide (two per row, or one per column of
  a side-by-side comparison), small multiples :data:`PANEL_WIDTH` wide in :data:`PANEL_COLUMNS`
  columns, legends below the plot;
- outcomes have fixed colours (:data:`STATUS_COLORS`, :func:`status_scale`);
- CDFs of heavy-tailed quantities get a log x axis, chosen from the data (:func:`cdf_x`);
- times are dates when the trace has a wall-clock origin (:func:`time_x`);
- quantities of different units never share an axis (:func:`small_multiples`);
- charts of two results of one analysis share their axes (:func:`charts_for_pair`).
"""

from __future__ import annotations

import copy
import datetime as _dt
import importlib
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import altair as alt
import polars as pl

from workscope.analysis import MODULES
from workscope.origin import origin_epoch_s

if TYPE_CHECKING:
    from workscope.analysis.base import Result

WIDTH, HEIGHT = 500, 220
"""Plot area of a single chart: with its axes about 580 px, so two sit side by side on a 1280 px
page and one fills a ~620 px column of a comparison."""
BAR_WIDTH = 360
"""Plot width of horizontal bar charts, whose category labels take up to ~240 px more."""
PANEL_WIDTH, PANEL_HEIGHT, PANEL_COLUMNS = 150, 80, 3
LEGEND_WIDTH = 500
AXIS_LABEL_LIMIT = 240

STATUS_COLORS: dict[str, str] = {
    "ok": "#59a14f",          # green
    "failed": "#e15759",      # red
    "incomplete": "#f28e2b",  # orange: pending, running, timed out, killed, cancelled
    "unknown": "#9d9d9d",     # grey: no status recorded, or one we cannot read
}
"""The one colour of each outcome class, in every chart that colours by status or outcome."""

_OK = {"ok", "success", "succeeded", "succeed", "successful", "completed", "complete", "finished",
       "finish", "pass", "passed", "done", "200"}
_FAILED = {"failed", "fail", "failure", "error", "errored", "err", "lost", "crashed", "exception", "abnormal"}
_INCOMPLETE = {"incomplete", "timeout", "timed_out", "timedout", "pending", "running", "processing", "queued",
               "submit", "submitted", "waiting", "scheduled", "cancelled", "canceled", "killed", "kill",
               "evict", "evicted", "terminated", "aborted", "interrupted", "preempted"}

HEAVY_MAX_RATIO = 100.0
"""A CDF gets a log x axis when max / median of its positive values exceeds this ..."""
HEAVY_P99_RATIO = 10.0
"""... or p99 / median does: a linear axis would squeeze most of the curve against 0."""
_ZERO = 1e-12  # |x| below this is 0 (float noise of subtractions), which a log axis cannot show


# ====================================================================== status colours
def status_class(value: Any) -> str:
    """The outcome class (a key of :data:`STATUS_COLORS`) of a status as a source recorded it."""
    if value is None:
        return "unknown"
    text = str(value).strip().lower().replace(" ", "_").replace("-", "_")
    if text in STATUS_COLORS:
        return text
    if text in _OK:
        return "ok"
    if text in _FAILED or text.startswith(("fail", "error")):
        return "failed"
    if text in _INCOMPLETE:
        return "incomplete"
    return "unknown"


def status_scale() -> alt.Scale:
    """Colour scale with the fixed outcome domain and colours (the same in every chart, so a
    comparison shows every class in one colour even where one trace lacks it)."""
    return alt.Scale(domain=list(STATUS_COLORS), range=list(STATUS_COLORS.values()))


def status_color(field: str = "outcome", title: str = "outcome") -> alt.Color:
    """Colour encoding of an outcome-class column with :func:`status_scale`."""
    return alt.Color(f"{field}:N", title=title, scale=status_scale(),
                     legend=alt.Legend(orient="bottom", columns=len(STATUS_COLORS)))


# ====================================================================== data, titles, legends
def chart_data(df: pl.DataFrame) -> alt.Data:
    """Inline data of a chart, floats rounded to 10 significant digits: the float noise of a
    sum (14.200000000000001) would otherwise show in labels and tooltips."""
    # epoch milliseconds (``*_utc``, see time_x) need all their 13+ digits
    floats = {c for c, t in df.schema.items() if t in (pl.Float32, pl.Float64) and not c.endswith("_utc")}
    rows = df.to_dicts()
    if floats:
        # in Python, not polars: round_sig_figs leaves noise on tiny values (8.326672684999999e-17)
        for row in rows:
            for c in floats:
                v = row[c]
                if v is not None and math.isfinite(v):
                    row[c] = float(f"{v:.10g}")
    return alt.Data(values=rows)


def number_label(v: float | None) -> str:
    """A number as a short label without float noise (0.35000000000000003 -> '0.35')."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return str(v)
    return f"{v:.6g}"


def titled(text: str, subtitle: str | Sequence[str] | None = None) -> alt.TitleParams | str:
    """A chart title, with a subtitle when there is something the reader must know."""
    if not subtitle:
        return text
    return alt.TitleParams(text=text, subtitle=subtitle, subtitleColor="#555", subtitleFontSize=11,
                           limit=LEGEND_WIDTH + 80)


def legend(title: str | None, labels: Iterable[Any] = ()) -> alt.Legend:
    """Legend below the plot, in as many columns as its longest label allows: a legend at
    the side would widen the chart past a comparison column and cut long labels."""
    longest = max((len(str(v)) for v in labels), default=12)
    columns = max(1, min(4, int(LEGEND_WIDTH // (longest * 6.5 + 30))))
    return alt.Legend(title=title, orient="bottom", columns=columns, labelLimit=LEGEND_WIDTH)


def slug(text: str) -> str:
    """A lowercase, filesystem-safe name: runs of other characters become one '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "chart"


# ====================================================================== heavy tails
@dataclass(frozen=True)
class AxisChoice:
    """Whether a distribution's x axis is log, and what that leaves out."""

    log: bool
    nonpositive_share: float  # largest probability mass at x <= 0 of a series with positive values
    ratio: float | None       # max / median of the positive values
    empty: tuple[str, ...] = ()  # series without a positive value (nothing to draw on a log axis)


def _series_choice(xs: list[float], ps: list[float]) -> tuple[bool, float, float | None]:
    p0 = max((p for x, p in zip(xs, ps) if x <= _ZERO), default=0.0)
    pos = [(x, p) for x, p in zip(xs, ps) if x > _ZERO]
    if not pos or p0 >= 1.0:
        return False, p0, None

    def q(level: float) -> float:
        for x, p in pos:
            if (p - p0) / (1.0 - p0) >= level - 1e-9:
                return x
        return pos[-1][0]

    med, p99, top = q(0.5), q(0.99), pos[-1][0]
    ratio = top / med
    return ratio > HEAVY_MAX_RATIO or p99 / med > HEAVY_P99_RATIO, p0, ratio


def heavy_tail(df: pl.DataFrame, x: str, p: str | None = None, by: str | Sequence[str] | None = None) -> AxisChoice:
    """Decide a log x axis for the distribution(s) in ``df``.

    ``x`` holds values; ``p`` the CDF at each value (None: the rows are samples). With ``by``,
    each series is judged alone and any heavy one makes the axis log. Only positive values
    count: the share at or below 0 is reported, since a log axis cannot draw it.
    """
    if df.height == 0:
        return AxisChoice(False, 0.0, None)
    keys = [by] if isinstance(by, str) else list(by or [])
    parts = df.partition_by(keys, maintain_order=True) if keys else [df]
    log, share, ratio, empty = False, 0.0, None, []
    for part in parts:
        label = " ".join(str(part[k][0]) for k in keys) if part.height else ""
        part = part.filter(pl.col(x).is_not_null() & pl.col(x).is_finite())
        if part.height == 0:
            continue
        if p is None:
            xs = part[x].sort().to_list()
            ps = [(i + 1) / len(xs) for i in range(len(xs))]
        else:
            part = part.sort(x)
            xs, ps = part[x].to_list(), part[p].fill_null(0.0).cum_max().to_list()
        heavy, s, r = _series_choice(xs, ps)
        if r is None:
            empty.append(label)
            continue
        log |= heavy
        share = max(share, s)
        ratio = r if ratio is None else max(ratio, r)
    return AxisChoice(log, share, ratio, tuple(empty))


def cdf_x(df: pl.DataFrame, x: str, title: str, *, p: str | None = "cdf", by: str | Sequence[str] | None = None,
          decide_on: pl.DataFrame | None = None) -> tuple[pl.DataFrame, alt.X, list[str] | None]:
    """The x encoding of a CDF chart: log when :func:`heavy_tail` says so (then the rows at
    x <= 0 are dropped and the subtitle says how much mass they held), linear otherwise.

    Returns the rows to draw, the encoding and the subtitle lines (None when linear).
    ``decide_on``: rows to judge instead of ``df`` (e.g. the empirical CDF among fitted ones).
    """
    choice = heavy_tail(df if decide_on is None else decide_on, x, p, by)
    if not choice.log:
        return df, alt.X(f"{x}:Q", title=title), None
    note = ["log x axis: heavy tail" + (f" (max = {choice.ratio:,.0f} × median)" if choice.ratio else "")]
    if choice.nonpositive_share > 0:
        note.append(f"{'up to ' if by else ''}{choice.nonpositive_share:.1%} of values are ≤ 0, which a log "
                    "axis cannot show: the curve starts at that height")
    if choice.empty:
        note.append(f"not drawn (every value ≤ 0): {', '.join(choice.empty)}")
    return (df.filter(pl.col(x) > _ZERO),
            alt.X(f"{x}:Q", title=title, scale=alt.Scale(type="log")), note)


def log_if_spread(df: pl.DataFrame, value: str, series: str | Sequence[str]) -> bool:
    """True when the series' largest |values| differ by more than 1000×: one linear axis
    would flatten the small ones to a line at 0."""
    keys = [series] if isinstance(series, str) else list(series)
    tops = (df.filter(pl.col(value).is_not_null() & (pl.col(value).abs() > _ZERO))
            .group_by(keys).agg(pl.col(value).abs().max().alias("m"))["m"])
    return tops.len() > 1 and tops.max() > 1000 * tops.min()  # type: ignore[operator]


# ====================================================================== time axes
def time_x(df: pl.DataFrame, col: str, origin_utc: str | None, title: str = "time",
           tooltip_title: str | None = None) -> tuple[pl.DataFrame, alt.X, alt.Tooltip]:
    """x encoding and tooltip of a column of seconds since the trace's origin.

    With a wall-clock origin the chart shows UTC dates and times (a ``<col>_utc`` column of
    epoch milliseconds is added to the rows); without one it shows time since the origin in
    seconds, or in hours / days (a ``<col>_hours`` / ``<col>_days`` column) when the span is
    longer than two of them.
    """
    tip = tooltip_title or title
    epoch = origin_epoch_s(origin_utc)
    span = float((df[col].max() - df[col].min()) if df.height else 0.0)  # type: ignore[operator]
    if epoch is None:
        tooltip = alt.Tooltip(f"{col}:Q", title=f"{tip} (s)", format=",.6~r")
        # 11,000,000 s reads as nothing; 127 days does
        for unit, size, least in (("days", 86400.0, 2 * 86400.0), ("hours", 3600.0, 2 * 3600.0)):
            if span >= least:
                field = f"{col}_{unit}"
                return (df.with_columns((pl.col(col) / size).alias(field)),
                        alt.X(f"{field}:Q", title=f"{title} ({unit} since origin)"), tooltip)
        return df, alt.X(f"{col}:Q", title=f"{title} (s since origin)"), tooltip
    field, label = f"{col}_utc", f"{col}_utc_text"
    fmt = "%Y-%m-%d %H:%M:%S%.3f" if span < 3600 else "%Y-%m-%d %H:%M:%S"
    df = df.with_columns(((pl.col(col) + epoch) * 1000.0).alias(field))
    # tooltips read a preformatted text: Vega-Lite formats temporal tooltips in the viewer's zone
    df = df.with_columns(pl.from_epoch(pl.col(field).cast(pl.Int64), time_unit="ms").dt.strftime(fmt).alias(label))
    start = _dt.datetime.fromtimestamp(epoch + float(df[col].min() or 0.0), _dt.UTC)  # type: ignore[arg-type]
    # one label format per chart, fine enough for its span: Vega's default mixes formats per
    # tick, and overlap removal can leave only ".800"-like millisecond labels. A utc scale
    # formats its labels in UTC.
    axis_fmt = ("%H:%M:%S.%L" if span < 120 else "%H:%M:%S" if span < 3 * 3600 else "%H:%M" if span < 2 * 86400
                else "%b %d" if span < 180 * 86400 else "%Y-%m")
    return (df, alt.X(f"{field}:T", title=f"{title} (UTC, from {start:%Y-%m-%d %H:%M})",
                      scale=alt.Scale(type="utc"), axis=alt.Axis(labelAngle=0, format=axis_fmt)),
            alt.Tooltip(f"{label}:N", title=f"{tip} (UTC)"))


# ====================================================================== small multiples
def small_multiples(df: pl.DataFrame, by: str, panel: Callable[[pl.DataFrame, str], alt.Chart | alt.LayerChart],
                    *, title: str | alt.TitleParams, columns: int = PANEL_COLUMNS, share: Sequence[str] = (),
                    order: Sequence[str] | None = None, width: int = PANEL_WIDTH,
                    height: int = PANEL_HEIGHT) -> alt.ConcatChart:
    """One small panel per value of ``by``, each with its own scales (except the channels in
    ``share``): quantities of different units or magnitudes never share an axis.

    Panels are a concat (not a facet) so that each is its own view, named after its value:
    :func:`charts_for_pair` matches panels of two results by that name and shares their axes.
    """
    values = list(order) if order is not None else df[by].unique(maintain_order=True).to_list()
    panels = []
    names: set[str] = set()
    for v in values:
        sub = df.filter(pl.col(by) == v)
        if sub.height == 0:
            continue
        label = str(v)
        name = f"panel-{slug(label)}"
        while name in names:  # view names must be unique within a spec
            name = f"{name}-{len(names)}"
        names.add(name)
        panels.append(panel(sub, label).properties(
            name=name, width=width, height=height,
            title=alt.TitleParams(text=label, fontSize=11, limit=width + 40, anchor="start")))
    chart = alt.concat(*panels, columns=columns, title=title, spacing=14)
    independent = {ch: "independent" for ch in ("x", "y") if ch not in share}
    shared = {ch: "shared" for ch in share}
    return chart.resolve_scale(**independent, **shared)


def descending(df: pl.DataFrame, label: str, value: str) -> list[Any]:
    """The labels of ``df`` by decreasing ``value``: an explicit category order, which (unlike
    ``sort="-x"``) the text layer of :func:`text_labels` keeps."""
    return df.sort(value, descending=True, maintain_order=True)[label].unique(maintain_order=True).to_list()


def text_labels(bars: alt.Chart, value: str, fmt: str, *, horizontal: bool = True) -> alt.LayerChart:
    """Bars with their value printed at the end of each bar (the length alone is hard to
    read for short bars)."""
    text = bars.mark_text(align="left" if horizontal else "center", baseline="middle" if horizontal else "bottom",
                          dx=3 if horizontal else 0, dy=0 if horizontal else -2, fontSize=10, color="#333")
    text = text.encode(text=alt.Text(f"{value}:Q", format=fmt), color=alt.value("#333"))
    return alt.layer(bars, text)


# ====================================================================== dispatch
NamedChartFn = Callable[["Result"], list[tuple[str, Any]]]


def without_names(table: dict[str, NamedChartFn]) -> dict[str, Callable[[Result], list[Any]]]:
    """A module's ``CHARTS`` (kind -> result -> charts) from its ``NAMED_CHARTS``."""
    def drop(fn: NamedChartFn) -> Callable[[Result], list[Any]]:
        return lambda result: [c for _, c in fn(result)]
    return {kind: drop(fn) for kind, fn in table.items()}


def _registry() -> dict[str, Any]:
    table: dict[str, Any] = {}
    for t in MODULES:
        try:
            mod = importlib.import_module(f"workscope.reports.charts_{t}")
        except ModuleNotFoundError as exc:
            if exc.name != f"workscope.reports.charts_{t}":
                raise
            continue
        table.update(getattr(mod, "NAMED_CHARTS", None) or mod.CHARTS)
    return table


def _configure(chart: Any) -> Any:
    # Log axes get dense default ticks; greedy overlap removal keeps their labels legible.
    return (chart.configure_axis(labelOverlap="greedy", labelSeparation=6, labelLimit=AXIS_LABEL_LIMIT)
            .configure_legend(labelLimit=LEGEND_WIDTH, titleLimit=LEGEND_WIDTH)
            .configure_title(limit=LEGEND_WIDTH + 80))


def named_charts(result: Result) -> list[tuple[str, Any]]:
    """The charts of a result, each with a short, stable, filesystem-safe name of what it shows
    (``^[a-z0-9-]+$``, unique within the result; e.g. ``arrival-rate``, ``wait-cdf``).
    Empty when the result's kind has no chart function."""
    fn = _registry().get(result.kind or result.name)
    if not fn:
        return []
    out: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(fn(result)):
        name, chart = item if isinstance(item, tuple) else (f"chart-{i + 1}", item)
        name = base = slug(name)
        k = 2
        while name in seen:
            name, k = f"{base}-{k}", k + 1
        seen.add(name)
        out.append((name, _configure(chart)))
    return out


def charts_for(result: Result) -> list[Any]:
    """altair charts for a result, in the order of :func:`named_charts` (empty list when its
    kind has no chart function)."""
    return [c for _, c in named_charts(result)]


def named_charts_for_pair(a: Result, b: Result) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """:func:`named_charts` of two results of the same analysis, where each pair of charts of
    the same name shares its x / y scale domains (see :func:`charts_for_pair`)."""
    na, nb = named_charts(a), named_charts(b)
    by_name = dict(nb)
    out_a: list[tuple[str, Any]] = []
    out_b: dict[str, Any] = {}
    for name, ca in na:
        cb = by_name.get(name)
        if cb is None:
            out_a.append((name, ca))
            continue
        ca, cb = share_scales(ca, cb)
        out_a.append((name, ca))
        out_b[name] = cb
    return out_a, [(name, out_b.get(name, c)) for name, c in nb]


def charts_for_pair(a: Result, b: Result) -> tuple[list[Any], list[Any]]:
    """The charts of two results of the same analysis (two traces), for side-by-side display.

    Each side is in :func:`named_charts` order. Charts of the same name share their
    continuous x / y scales: the same scale type (log when either side needs it) and the same
    domain, the union of both sides' data, so equal lengths mean equal values. Time axes with
    dates are shared only when the two spans overlap (two traces years apart would each
    shrink to a sliver); time axes in seconds since the origin are always shared.
    """
    na, nb = named_charts_for_pair(a, b)
    return [c for _, c in na], [c for _, c in nb]


# ---------------------------------------------------------------------- scale sharing
_CONTINUOUS = ("quantitative", "temporal")
_CLASSES = {"layer": "LayerChart", "facet": "FacetChart", "vconcat": "VConcatChart", "hconcat": "HConcatChart",
            "concat": "ConcatChart", "repeat": "RepeatChart"}


@dataclass
class _Use:
    """One unit view's use of a positional scale."""

    unit: dict[str, Any]
    channel: str
    kind: str            # quantitative / temporal
    scale_type: str      # linear, log, symlog, utc...
    values: list[float]
    zero: bool           # the scale would include 0 (Vega-Lite's default for linear x / y)
    domain: list[Any] | None


def scale_uses(spec: dict[str, Any]) -> dict[tuple[Any, ...], list[_Use]]:
    """Every continuous x / y scale of a Vega-Lite spec (as ``chart.to_dict()`` gives it),
    keyed by the scope that owns it: layers and facets share a scale unless resolved
    independent, concat views have their own unless resolved shared (Vega-Lite's defaults).
    A concat view is keyed by its ``name`` when it has one (panels of :func:`small_multiples`),
    else by position. Scales of facets resolved independent are left out: one domain would
    apply to every panel."""
    datasets = spec.get("datasets", {})
    out: dict[tuple[Any, ...], list[_Use]] = {}

    def rows(data: Any) -> list[dict[str, Any]] | None:
        if not isinstance(data, dict):
            return None
        if "values" in data:
            return data["values"]
        if "name" in data:
            return datasets.get(data["name"])
        return None

    def walk(node: dict[str, Any], data: list[dict[str, Any]] | None, keys: dict[str, tuple[Any, ...] | None]) -> None:
        if "data" in node:
            data = rows(node["data"])
        res = node.get("resolve", {}).get("scale", {})
        for comp in ("layer", "concat", "hconcat", "vconcat"):
            if comp in node:
                for i, child in enumerate(node[comp]):
                    ident = child.get("name") or str(i)
                    default = "shared" if comp == "layer" else "independent"
                    sub = {ch: (k if res.get(ch, default) == "shared" or k is None else (*k, ident))
                           for ch, k in keys.items()}
                    walk(child, data, sub)
                return
        if "facet" in node and "spec" in node:
            sub = {ch: (None if res.get(ch) == "independent" else k) for ch, k in keys.items()}
            walk(node["spec"], data, sub)
            return
        if "mark" not in node:
            return
        enc = node.get("encoding", {})
        mark = node["mark"]["type"] if isinstance(node["mark"], dict) else node["mark"]
        for ch in ("x", "y"):
            e = enc.get(ch)
            key = keys[ch]
            if key is None or not isinstance(e, dict) or e.get("type") not in _CONTINUOUS or "field" not in e:
                continue
            if any(k in e for k in ("aggregate", "bin", "timeUnit")) or data is None:
                continue
            fields = [e["field"]] + [enc[c]["field"] for c in (f"{ch}2",) if isinstance(enc.get(c), dict)
                                     and "field" in enc[c]]
            vals = [float(r[f]) for r in data for f in fields
                    if isinstance(r.get(f), (int, float)) and not isinstance(r.get(f), bool) and math.isfinite(r[f])]
            scale = e.get("scale") or {}
            stype = scale.get("type") or ("utc" if e["type"] == "temporal" else "linear")
            zero = scale.get("zero", e["type"] == "quantitative" and stype in ("linear", "symlog", "pow", "sqrt"))
            if mark in ("bar", "area") and stype in ("linear", "symlog", "pow", "sqrt"):
                zero = True
            out.setdefault((ch, *key), []).append(
                _Use(node, ch, e["type"], stype, vals, bool(zero), scale.get("domain")))

    walk(spec, None, {"x": (), "y": ()})
    return out


def _domain(uses: list[_Use], log: bool) -> list[float] | None:
    vals = [v for u in uses for v in u.values if not log or v > _ZERO]
    for u in uses:
        if isinstance(u.domain, list) and all(isinstance(v, (int, float)) for v in u.domain):
            vals += [float(v) for v in u.domain if not log or v > _ZERO]
    if not log and any(u.zero for u in uses):
        vals.append(0.0)
    if not vals:
        return None
    lo, hi = min(vals), max(vals)
    return [lo, hi] if hi > lo else None


def share_scales(a: Any, b: Any) -> tuple[Any, Any]:
    """Two charts of one kind, with each continuous x / y scale the two have in common set to
    the same type and the same domain (see :func:`charts_for_pair`)."""
    da, db = a.to_dict(), b.to_dict()
    ua, ub = scale_uses(da), scale_uses(db)
    for key in ua.keys() & ub.keys():
        uses = ua[key] + ub[key]
        kinds = {u.kind for u in uses}
        if len(kinds) > 1:
            continue  # dates on one side, seconds since origin on the other: nothing to align
        if _fields(ua[key]).isdisjoint(_fields(ub[key])):
            continue  # different quantities or units (hours since origin vs days): nothing to align
        types = {u.scale_type for u in uses}
        log = "log" in types
        if len(types) > 1:
            if not types <= {"linear", "log", "symlog"}:
                continue
            target = "log" if log else "symlog"
            for u in uses:
                if u.scale_type != target:
                    _set_scale(u, type=target)
                    if log:  # a log axis cannot draw x <= 0: that side drops them as the other did
                        f = u.unit["encoding"][u.channel]["field"]
                        u.unit.setdefault("transform", []).append({"filter": f"datum[{_js(f)}] > 0"})
        if kinds == {"temporal"}:
            sa, sb = _domain(ua[key], False), _domain(ub[key], False)
            if sa is None or sb is None or sa[1] < sb[0] or sb[1] < sa[0]:
                continue
        dom = _domain(uses, log)
        if dom is None:
            continue
        for u in uses:
            # nice: the axis ends on a tick past the largest value, as it would unshared
            _set_scale(u, domain=dom, **({"nice": True} if u.kind == "quantitative" else {}))
    return _from_dict(da), _from_dict(db)


def _fields(uses: list[_Use]) -> set[str]:
    return {u.unit["encoding"][u.channel]["field"] for u in uses}


def _js(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _set_scale(use: _Use, **kw: Any) -> None:
    enc = use.unit["encoding"][use.channel]
    scale = dict(enc.get("scale") or {})
    scale.update(kw)
    if "domain" in kw:
        scale.pop("domainMin", None)
        scale.pop("domainMax", None)
    enc["scale"] = scale


def _from_dict(spec: dict[str, Any]) -> Any:
    cls = next((getattr(alt, name) for key, name in _CLASSES.items() if key in spec), alt.Chart)
    return cls.from_dict(copy.deepcopy(spec), validate=False)
