"""The ``mapped`` reader: its options, and its scan from mapping to table parts."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl

from workscope.errors import OptionError
from workscope.ingest.mapped.config import (
    ISO,
    RELATIVE_UNITS,
    TIME_POINTS,
    UNIX_UNITS,
    Mapping,
    load_mapping,
    origin_ns,
)
from workscope.ingest.mapped.sources import Source, find_files, json_guard, open_source
from workscope.ingest.mapped.values import (
    TimePoint,
    attrs,
    column_value,
    float_value,
    head_min,
    seconds,
    time_point,
    zoned,
)
from workscope.ingest.parse import Parsed, build
from workscope.ingest.reader import Reader, ScanContext, ScanResult, TablePart, flat, one_each
from workscope.ingest.timefmt import calendar_bounds, origin_meta
from workscope.options import Option
from workscope.schemas import TABLES


class MappedReader(Reader):
    """Any CSV / TSV / Parquet / JSONL file into any canonical table through a TOML mapping."""

    name = "mapped"
    version = "1"
    description = "generic: CSV / TSV / Parquet / JSONL (.gz) into any table via a TOML column mapping"
    tables = tuple(TABLES)
    doc_url = "docs/mapping.md"
    options = {
        "mapping": Option(str, "", "path of the TOML column mapping (required; see docs/mapping.md)"),
    }

    def sniff(self, path: Path) -> bool:
        """Never: this reader needs an explicit mapping."""
        return False

    def resolve_options(self, given: dict[str, Any] | None) -> dict[str, Any]:
        """Check the options and validate the mapping now, before anything is read.

        The mapping's SHA-256 joins the options, so an edited mapping changes the content key.
        """
        given = {k: v for k, v in (given or {}).items() if k != "mapping_sha256"}
        out = super().resolve_options(given)
        if not out["mapping"]:
            raise OptionError("format 'mapped' needs the option mapping=PATH, a TOML column "
                              "mapping (see docs/mapping.md)")
        out["mapping_sha256"] = load_mapping(out["mapping"]).sha256
        return out

    split = True
    meta_merged = ("source_formats",)

    def select(self, paths: Sequence[Path], options: dict[str, Any] | None = None
               ) -> tuple[list[list[Path]], list[Path]]:
        return one_each(find_files(paths, _mapping(options or {}))), []

    def facts(self, paths: Sequence[Path], ctx: ScanContext) -> dict[str, Any]:
        """Per file: its unmapped columns (for ``rest = true``), and for each time point
        whether it is absolute and its earliest value in the head (for the origin)."""
        m = _mapping(ctx.options)
        sources = [open_source(f, m, ctx) for f in flat(self.select(paths, ctx.options)[0])]
        return _facts(m, sources)

    def shared_facts(self, metas: list[dict[str, Any]]) -> dict[str, Any]:
        """The origin (the earliest head time of the primary time point over all files, an
        exact fraction of ns, as text) and the columns ``rest = true`` keeps, in file order."""
        files = [f for meta in metas for f in meta["files"]]
        rest = list(dict.fromkeys(n for f in files for n in f["rest"]))
        # the primary time: the table's time column, else the first absolute in every file
        primary = next((c for c in metas[0]["order"] if all(f["times"][c]["absolute"] for f in files)), None)
        heads = [f["times"][primary]["head_min_ns"] for f in files] if primary else []
        mins = [Fraction(v) for v in heads if v is not None]
        return {"origin_ns": str(min(mins)) if mins else None, "rest": rest}

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        """Read every file with the mapping; one part per file (per metric for wide usage)."""
        m = _mapping(ctx.options)
        files = flat(self.select(paths, ctx.options)[0])
        sources = [open_source(f, m, ctx) for f in files]
        # what all the files share: given to each task of a cluster ingest, else found here
        shared = ctx.shared or self.shared_facts([_facts(m, sources)])
        if m.rest:
            m = replace(m, keep=tuple(dict.fromkeys([*m.keep, *shared["rest"]])))
        times = [_time_points(s, m) for s in sources]
        origin = origin_ns(m.path, m.origin, m.timezone)
        if origin is None and shared["origin_ns"] is not None:
            origin = Fraction(shared["origin_ns"])
        parts = [part for s, t in zip(sources, times, strict=True) for part in _parts(s, t, m, origin)]
        bounds = {}
        if origin is not None and m.origin != "auto":
            # times counted from a chosen origin ('epoch') may lie decades from it: judge them
            # by the calendar years instead of the span from the origin
            span = calendar_bounds(round(origin))
            bounds = {c: span for c in m.columns if c in TIME_POINTS}
        return ScanResult({m.table: parts}, files, _meta(m, origin, sources, times), bounds)


def _mapping(options: dict[str, Any]) -> Mapping:
    path = options.get("mapping")
    if not path:
        raise OptionError("format 'mapped' needs the option mapping=PATH (see docs/mapping.md)")
    return load_mapping(path)


def _facts(m: Mapping, sources: list[Source]) -> dict[str, Any]:
    """:meth:`MappedReader.facts` of ``sources``; a head is read per absolute time point of
    each file, unless the mapping fixes the origin."""
    used = set(m.sources())
    # a JSON object whose member is mapped ("res.mem") is not copied again as a whole
    parents = {u.split(".", 1)[0] for u in used if "." in u}
    order = [c for c in dict.fromkeys([m.spec.time_column, *sorted(TIME_POINTS)])
             if c in m.columns and not m.columns[c].constant]
    fixed = origin_ns(m.path, m.origin, m.timezone) is not None
    files = []
    for s in sources:
        times = _time_points(s, m)
        heads = {c: None if fixed or not times[c].absolute else head_min(s, times[c]) for c in order}
        files.append({
            "rest": [n for n in s.names if n not in used and n not in parents] if m.rest else [],
            "times": {c: {"absolute": times[c].absolute,
                          "head_min_ns": None if heads[c] is None else str(heads[c])} for c in order},
        })
    return {"order": order, "files": files}


def _time_points(s: Source, m: Mapping) -> dict[str, TimePoint]:
    """The file's time point columns read from the source, before the origin is known."""
    table = m.spec
    return {c: time_point(s, spec, c in table.required, m)
            for c, spec in m.columns.items() if c in TIME_POINTS and not spec.constant}


def _parts(s: Source, times: dict[str, TimePoint], m: Mapping, origin: Fraction | None) -> list[TablePart]:
    """The file's table part, or one part per metric of a wide usage file."""
    table = m.spec
    schema = table.polars_schema
    fields: dict[str, Parsed | pl.Expr] = {}
    for c, spec in m.columns.items():
        if c in times:
            fields[c] = seconds(times[c], origin)
        else:
            fields[c] = column_value(s, spec, schema[c], c in table.required, m)
    if m.keep:
        fields["attrs"] = attrs(s, m)
    if not m.metrics:
        return [TablePart(build(s.frame, json_guard(s, fields)), s.raw, s.display)]
    parts: list[TablePart] = []
    for mname, ms in m.metrics.items():
        f2 = dict(fields)
        f2["metric"] = pl.lit(mname, pl.String)
        nulls = ("", *m.nulls, *ms.nulls)
        f2["value"] = float_value(s.text(ms.source), ms.source, True, nulls, ms.scale, ms.offset)
        if ms.unit is not None:
            f2["unit"] = pl.lit(ms.unit, pl.String)
        parts.append(TablePart(build(s.frame, json_guard(s, f2)), s.raw, s.display))
    return parts


def _meta(m: Mapping, origin: Fraction | None, sources: list[Source],
          times: list[dict[str, TimePoint]]) -> dict[str, Any]:
    """The manifest's meta: the time origin and how sure it is, the mapping, the input formats."""
    fmts = {(spec.time_format or m.time_format) for c, spec in m.columns.items()
            if c in TIME_POINTS and not spec.constant}
    all_times = [t for per in times for t in per.values()]
    relative = bool(all_times) and not any(t.absolute for t in all_times)
    naive = any(f == ISO or (f and "%" in f and not zoned(f)) for f in fmts)
    assumed = (naive and m.timezone is None) or (
        relative and m.origin not in ("auto", "epoch") and m.timezone is None
        and _dt.datetime.fromisoformat(m.origin.replace("Z", "+00:00")).tzinfo is None)
    resolution = m.resolution_s
    if resolution is None and len(fmts) == 1:
        f = next(iter(fmts))
        unit = UNIX_UNITS.get(f or "") or RELATIVE_UNITS.get(f or "")
        if unit is not None and unit < 10**9:
            resolution = unit / 1e9
    note = None
    if relative and origin is None:
        note = "times are relative as given by the source; the absolute origin is unknown"
    elif naive and m.timezone is None:
        note = "timestamps carry no zone and are taken as UTC"
    meta = origin_meta(None if origin is None else round(origin), assumed_utc=bool(assumed),
                       resolution_s=resolution, note=note)
    meta.update(m.meta)
    meta["mapping_file"] = m.path.name
    meta["mapping"] = m.raw
    meta["source_formats"] = sorted({s.kind for s in sources})
    return meta


READER = MappedReader()
