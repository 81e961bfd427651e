"""Datacenter-wide average utilisation series (DataCenter-Traces-Datasets, Fernández 2024).

A third party (github.com/alejandrofdez-us/DataCenter-Traces-Datasets, DOI
10.5281/zenodo.14564847, CC-BY-4.0) averaged three public cluster traces over all machines
(or VMs) into one series per trace. These are **derived** aggregates, not raw traces: one
entity per source trace, no per-machine rows.

Files (CSV with a header; the header tells the source):

- Alibaba 2018 ``machine_usage_*_grouped_<N>_seconds.csv``:
  ``cpu_util_percent,mem_util_percent,net_in,net_out,disk_io_percent`` (percent; Alibaba
  normalises ``net_in`` / ``net_out`` to 0..100 as well). No time column.
- Google 2019 ``instance_usage_grouped_<N>_seconds_month.csv``:
  ``avg_cpu,avg_mem,avg_assigned_mem,avg_cycles_per_instruction`` (Google's normalised
  units, NCU / NMU fractions; CPI in cycles per instruction). No time column.
- Azure VM v2 ``vm_cpu_readings_month_aggregated_cpu_mem.csv``:
  ``timestamp,cpu_usage,assigned_mem`` (timestamp in seconds; the source states no unit for
  the two sums, so ``unit`` says so).

Mapping (table ``usage``): ``entity_id`` = the source trace (``alibaba2018``,
``google2019``, ``azure_v2``), with ``_<N>s`` appended when a file's step is not 300 s (the
Alibaba day-1 10 s file would otherwise share an entity with the 300 s file); ``metric`` =
the source column name verbatim (the unit is in the name where it has one, else in
``unit``); ``value`` = the number. ``t_s`` = the Azure timestamp, or for files without one
(data line i, from 0) i x step, the step read from ``grouped_<N>_seconds`` in the file name,
else option ``step_s``. The origin is each series' first row; the source gives no calendar
time, so none is recorded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from workscope.errors import SourceError
from workscope.ingest.files import first_line, head_text, iter_files, plain_file, require_rows
from workscope.ingest.parse import build, parse_float, raw_row, scan_text_csv, src
from workscope.ingest.reader import LINE, Reader, ScanContext, ScanResult, TablePart
from workscope.options import Option

# source name -> (header, time column or None, unit per metric column)
SOURCES: dict[str, tuple[tuple[str, ...], str | None, dict[str, str]]] = {
    "alibaba2018": (
        ("cpu_util_percent", "mem_util_percent", "net_in", "net_out", "disk_io_percent"),
        None,
        {"cpu_util_percent": "percent", "mem_util_percent": "percent",
         "net_in": "percent (normalised by Alibaba)", "net_out": "percent (normalised by Alibaba)",
         "disk_io_percent": "percent"},
    ),
    "google2019": (
        ("avg_cpu", "avg_mem", "avg_assigned_mem", "avg_cycles_per_instruction"),
        None,
        {"avg_cpu": "NCU fraction", "avg_mem": "NMU fraction", "avg_assigned_mem": "NMU fraction",
         "avg_cycles_per_instruction": "cycles per instruction"},
    ),
    "azure_v2": (
        ("timestamp", "cpu_usage", "assigned_mem"),
        "timestamp",
        {"cpu_usage": "aggregate (unit not stated by the source)",
         "assigned_mem": "aggregate (unit not stated by the source)"},
    ),
}
DEFAULT_STEP_S = 300.0
STEP_RE = re.compile(r"grouped_(\d+)_seconds")
# Files that travel with the data set but hold no series.
SIDE_FILES = re.compile(r"\.(md|txt|toml|jsonld|json)$|^(LICENSE|COPYING|README)", re.IGNORECASE)


def source_of(header_line: str) -> str | None:
    """The source trace whose exact header ``header_line`` is, or None."""
    names = tuple(h.strip().strip('"') for h in header_line.strip().split(","))
    for name, (header, _, _) in SOURCES.items():
        if names == header:
            return name
    return None


def step_of(path: Path, default: float) -> float:
    """The step stated in the file name (``grouped_<N>_seconds``), else ``default``."""
    m = STEP_RE.search(path.name)
    return float(m[1]) if m else default


def _sniff_file(path: Path) -> bool:
    if SIDE_FILES.search(path.name):
        return False
    text = head_text(path, 4096)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return len(lines) >= 2 and source_of(lines[0]) is not None


class DatacenterAggregatesReader(Reader):
    """Whole-datacenter average series of Alibaba 2018 / Google 2019 / Azure VM v2 into ``usage``."""

    name = "datacenter_aggregates"
    version = "1"
    description = ("DataCenter-Traces-Datasets: datacenter-wide averages of Alibaba 2018, "
                   "Google 2019 and Azure VM v2 (one series per trace, derived)")
    tables = ("usage",)
    doc_url = "https://github.com/alejandrofdez-us/DataCenter-Traces-Datasets"
    options = {
        "step_s": Option(float, DEFAULT_STEP_S,
                         "seconds between rows of a file without a time column whose name "
                         "does not state grouped_<N>_seconds"),
    }

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            # the data set's layout nests one directory per source (and alibaba2018/day_1)
            files = [f for f in sorted(path.rglob("*.csv*"))[:50] if f.is_file()]
            return bool(files) and any(_sniff_file(f) for f in files)
        return _sniff_file(path)

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        default_step = float(ctx.options.get("step_s", DEFAULT_STEP_S))
        if not default_step > 0:
            raise SourceError(paths[0], f"step_s must be positive, got {default_step}",
                              hint="pass a positive --option step_s=...")
        files = [f for f in iter_files(paths) if not SIDE_FILES.search(f.name)]
        if not files:
            raise SourceError(paths[0], "no datacenter aggregate CSV files found",
                              hint="pass the data set directory or its CSV files")
        parts: dict[str, list[TablePart]] = {"usage": []}
        series: dict[str, dict] = {}
        for f in files:
            plain = plain_file(f, ctx)
            display = str(f)
            source = source_of(first_line(plain, display))
            if source is None:
                known = "; ".join(",".join(h) for h, _, _ in SOURCES.values())
                raise SourceError(display, "header is none of the known aggregate headers",
                                  line=1, hint=f"expected one of: {known}")
            require_rows(plain, display)
            header, time_col, units = SOURCES[source]
            step = step_of(f, default_step) if time_col is None else None
            entity = source if step in (None, DEFAULT_STEP_S) else f"{source}_{step:g}s"
            if entity in series:
                raise SourceError(display, f"series {entity!r} is also in {series[entity]['file']}",
                                  hint="ingest one file per source and step")
            series[entity] = {"file": display, "step_s": step, "source": source}
            lf, names = scan_text_csv(plain, display)
            if time_col is not None:
                t = parse_float(src(time_col), time_col, required=True, strip=True)
            else:
                # Line 2 holds the first data row: t = (line - 2) x step, exact for integer steps.
                t = (pl.col(LINE) - 2).cast(pl.Float64) * float(step)
            # One part per metric column: each keeps the whole source row as its raw text.
            for col in header:
                if col == time_col:
                    continue
                v = parse_float(src(col), col, required=True, strip=True)
                frame = build(lf, {"t_s": t, "entity_id": pl.lit(entity), "metric": pl.lit(col),
                                   "value": v, "unit": pl.lit(units[col])})
                parts["usage"].append(TablePart(frame, raw_row(names), display))
        meta = {"series": series, "derived": True,
                "note": "whole-datacenter averages computed by a third party; t_s from each "
                        "series' first row (no calendar origin is given)"}
        return ScanResult(parts, files, meta)


READER = DatacenterAggregatesReader()
