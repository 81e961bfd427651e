"""Huawei Cloud serverless traces, 2023 release (SoCC'23 "How Does It Function?").

Source: repo sir-lab/data-release, ``README_data_release_2023.md`` and the notebooks
``src/demo_private.ipynb`` / ``src/demo_public.ipynb`` (data on Google Drive, CC BY 4.0; cite
Joosen et al., SoCC 2023). Reference: FORMATS.md section 5a.

**Files.** Wide CSVs, one per day, in one folder per metric:
``private_dataset/<metric>_<minute|second>/day_000.csv … day_234.csv`` (Huawei Private, 200
functions, 141 of 235 days present) and ``public_dataset/[csv_files/]requests_minute/day_00.csv
… day_25.csv`` (Huawei Public, 5,093 functions). Header ``day,time,0,1,…`` — ``day`` is the day
index, ``time`` is **seconds since the start of day 0** (step 60 in per-minute files, 1 in
per-second files), every other column is one function (``0`` … ``199`` / ``0`` … ``5092``).
Folders, single files, ``.csv.gz`` and zip archives (one or many members) are accepted; the
metric comes from the nearest folder named like ``requests_minute`` (or option ``metric``).

**Mapping** (one output row per non-empty cell; an empty cell means "no data in that step"
and yields no row):

- ``requests_second`` / ``requests_minute`` → ``invocation_counts``: ``window_start_s`` = time,
  ``window_s`` = 1 or 60, ``function_id`` = the column name, ``count`` (``6.0`` accepted).
- every other metric → ``usage``: ``t_s`` = time, ``entity_id`` = function, ``metric`` = the
  folder name without ``_minute`` / ``_second`` (``function_delay``, ``platform_delay``,
  ``cpu_usage``, ``memory_usage``, ``cpu_limit``, ``memory_limit``, ``instances``), ``value``
  as published, ``unit`` where the release states one, ``attrs`` = ``{"window_s": …}``.

**Units.** ``cpu_usage`` / ``memory_usage`` are used ÷ allocated written as a *fraction*
(0.003) though the README says "percentage" → unit ``fraction``; ``memory_limit`` MB;
``instances`` pods; ``cpu_limit`` is "normalized" (values look like cores) → unit
``normalized``; the unit of ``function_delay`` / ``platform_delay`` is not stated (invitro
treats it as ms) → unit null, values kept as published. The per-minute request counts are
sums of the per-second ones, the delays means: by default (``resolution = "auto"``) only the
per-minute files are read when any are given, so counts are not doubled; the files not read
are listed in the manifest's ``skipped_files``.

**Origin.** There is no wall clock: the origin is the start of day 0, ``origin_utc`` is null
in the manifest. Function ids of the private and public datasets are separate namespaces
(function ``0`` of one is not function ``0`` of the other): files of both in one ingest are
refused; ingest ``private_dataset/`` and ``public_dataset/`` as two traces.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import polars as pl

from workscope.errors import OptionError, SourceError
from workscope.ingest import _huawei as hw
from workscope.ingest.files import first_line, require_rows
from workscope.ingest.parse import Parsed, build, check_header, parse_float, parse_int, scan_text_csv, src
from workscope.ingest.reader import Reader, ScanContext, ScanResult, TablePart, flat, one_each
from workscope.ingest.timefmt import origin_meta
from workscope.options import Option

METRIC_RE = re.compile(
    r"^(requests|function_delay|platform_delay|cpu_usage|memory_usage|cpu_limit|memory_limit|instances)"
    r"_(minute|second)$"
)
WINDOW_S = {"minute": 60.0, "second": 1.0}
UNITS: dict[str, str | None] = {
    "function_delay": None,
    "platform_delay": None,
    "cpu_usage": "fraction",
    "memory_usage": "fraction",
    "cpu_limit": "normalized",
    "memory_limit": "MB",
    "instances": "pods",
}
RESOLUTIONS = ("auto", "minute", "second", "all")

Classified = tuple[hw.Member, tuple[str, str]]
"""A file with the (metric, grain) of its folder, such as ("cpu_usage", "minute")."""


def _metric_of(logical: PurePosixPath, given: str) -> tuple[str, str] | None:
    for part in reversed(logical.parts[:-1]):
        m = METRIC_RE.match(part)
        if m:
            return m.group(1), m.group(2)
    if given:
        m = METRIC_RE.match(given)
        if m:
            return m.group(1), m.group(2)
    return None


def _is_2023_header(header: list[str]) -> bool:
    header = hw.strip_index(header)
    return len(header) > 2 and header[:2] == ["day", "time"] and all(h.isdigit() for h in header[2:])


def _dataset_of(logical: PurePosixPath) -> str | None:
    parts = set(logical.parts)
    if "public_dataset" in parts:
        return "public"
    if "private_dataset" in parts:
        return "private"
    if re.fullmatch(r"day_\d{2}\.csv", logical.name):
        return "public"
    if re.fullmatch(r"day_\d{3}\.csv", logical.name):
        return "private"
    return None


class Huawei2023Reader(Reader):
    """Huawei Private / Public 2023 wide per-function time series into invocation_counts and usage."""

    name = "huawei_2023"
    version = "1"
    description = ("Huawei Cloud serverless 2023 (SoCC'23): wide day,time,<function> CSVs per metric "
                   "folder (requests, delays, CPU / memory usage and limits, instances)")
    tables = ("invocation_counts", "usage")
    doc_url = "https://github.com/sir-lab/data-release/blob/main/README_data_release_2023.md"
    options = {
        "resolution": Option(str, "auto", "which files to read: auto (per-minute files if any, else "
                                          "per-second), minute, second or all"),
        "metric": Option(str, "", "metric folder name (e.g. requests_minute) for files that are not "
                                  "inside such a folder"),
    }

    def sniff(self, path: Path) -> bool:
        heads = hw.sample_headers(path)
        return bool(heads) and all(_is_2023_header(h) for h in heads)

    split = True
    split_unit = "each file (a zip archive whole)"

    def select(self, paths: Sequence[Path], options: dict[str, Any] | None = None
               ) -> tuple[list[list[Path]], list[Path]]:
        # One file per task, but which files are read is decided over all of them: "auto"
        # reads per-second files only when none is per-minute (those are the sums of these).
        resolution, given = _options(options or {})
        listed = [(f, [(d, _metric_of(lg, given), _dataset_of(lg)) for d, lg in hw.listing(f)])
                  for f in hw.walk(paths)]
        grains = {mt[1] for _, names in listed for _, mt, _ in names if mt}
        want = _grains(resolution, grains)
        # a file whose metric cannot be told stays in, for its scan to say so
        read = [(f, names) for f, names in listed if any(mt is None or mt[1] in want for _, mt, _ in names)]
        n = sum(len(names) for _, names in listed)
        if not n:
            raise hw.no_csv(paths[0])
        if not read:
            raise SourceError(paths[0], f"no {resolution} files among {n} file(s)",
                              hint="pass the option resolution=all (or minute / second)")
        kept = {f for f, _ in read}
        skipped = [f for f, _ in listed if f not in kept]
        datasets: dict[str | None, str] = {}  # each dataset read -> its first file
        for _, names in read:
            for display, mt, ds in names:
                if mt and mt[1] in want:
                    datasets.setdefault(ds, display)
        if "private" in datasets and "public" in datasets:
            raise SourceError(datasets["public"], "files of both the Huawei Private and the Huawei Public "
                              f"dataset (also {datasets['private']}): their function ids are separate "
                              "namespaces, function 0 of one is not function 0 of the other",
                              hint="ingest private_dataset/ and public_dataset/ as two traces")
        files = [f for f, _ in read]
        if len(want & grains) > 1 or len(datasets) > 1:
            # the trace's time resolution, or its dataset, is told by all the files together
            return [files], skipped
        return one_each(files), skipped

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        resolution, given = _options(ctx.options)
        groups, left = self.select(paths, ctx.options)
        classified = _classify(hw.expand(flat(groups), ctx), given)
        resolution, chosen, skipped = _choose(classified, resolution)

        out: dict[str, list[TablePart]] = {}
        for m, (metric, grain) in chosen:
            table, part = _part(m, metric, grain)
            out.setdefault(table, []).append(part)

        datasets = {ds for m, _ in chosen if (ds := _dataset_of(m.logical))}
        meta = origin_meta(
            None, assumed_utc=False, resolution_s=min(WINDOW_S[grain] for _, (_, grain) in chosen),
            note="time is seconds since the start of day 0; the release gives no wall-clock date",
        )
        meta.update({
            "dataset": next(iter(datasets), None),
            "resolution": resolution,
            "cpu_unit": "cpu_limit is 'normalized' (values look like cores); cpu_usage is a fraction",
            "units_note": "function_delay / platform_delay units are not stated by the release "
                          "(invitro treats them as ms); values are kept as published",
        })
        if left or skipped:
            meta["skipped_files"] = sorted({*map(str, left), *skipped})
        used = list(dict.fromkeys(m.origin for m, _ in chosen))
        return ScanResult(out, used, meta)


def _options(options: dict[str, Any]) -> tuple[str, str]:
    """The checked options: resolution and the metric folder name given for loose files."""
    resolution = str(options.get("resolution", "auto")).lower()
    given = str(options.get("metric", "") or "")
    if resolution not in RESOLUTIONS:
        raise OptionError(f"huawei_2023: option resolution must be one of {', '.join(RESOLUTIONS)}, "
                          f"not {resolution!r}")
    if given and not METRIC_RE.match(given):
        raise OptionError(f"huawei_2023: option metric {given!r} is not a metric folder name such as "
                          "requests_minute, cpu_usage_minute or function_delay_second")
    return resolution, given


def _grains(resolution: str, found: set[str]) -> set[str]:
    """The grains read under ``resolution`` when the sources hold ``found``: "auto" is
    minute if any file is per-minute (per-minute counts are sums of the per-second ones, so
    reading both would double them)."""
    if resolution == "all":
        return set(WINDOW_S)
    if resolution == "auto":
        return {"minute" if "minute" in found else "second"}
    return {resolution}


def _classify(members: Sequence[hw.Member], given: str) -> list[Classified]:
    """Each file with its (metric, grain); a file whose metric cannot be told is refused."""
    classified = []
    for m in members:
        metric = _metric_of(m.logical, given)
        if metric is None:
            raise SourceError(
                m.display, "cannot tell which metric this file holds: it is not inside a folder "
                           "named like requests_minute or cpu_usage_minute",
                hint="keep the release's folder layout, or pass the option metric=<folder name>")
        classified.append((m, metric))
    return classified


def _choose(classified: list[Classified], resolution: str) -> tuple[str, list[Classified], list[str]]:
    """The resolution read, the files of it and the others' names."""
    want = _grains(resolution, {g for _, (_, g) in classified})
    if resolution == "auto":
        resolution = next(iter(want))
    chosen = [(m, mt) for m, mt in classified if mt[1] in want]
    skipped = [m.display for m, mt in classified if mt[1] not in want]
    return resolution, chosen, skipped


def _part(m: hw.Member, metric: str, grain: str) -> tuple[str, TablePart]:
    """One wide file as its table's part: one row per non-empty (time, function) cell."""
    header = hw.split_header(first_line(m.plain, m.display))
    check_header(header, ["day", "time"], m.display, what="Huawei 2023 wide time-series file")
    if len(hw.strip_index(header)) <= 2:
        raise SourceError(m.display, "no function columns after day,time", line=1,
                          hint="is this a Huawei 2023 metric file?")
    require_rows(m.plain, m.display)
    lf, names = scan_text_csv(m.plain, m.display)
    cells = hw.unpivot_wide(lf, names)
    if metric == "requests":
        table, fields, extra = "invocation_counts", _count_fields(WINDOW_S[grain]), []
    else:
        table = "usage"
        fields, extra = _usage_fields(metric, WINDOW_S[grain])
    return table, TablePart(build(cells, fields, extra), hw.wide_raw(), m.display)


def _count_fields(window: float) -> dict[str, Parsed | pl.Expr]:
    """``invocation_counts`` columns of a requests cell."""
    return {
        "_day": parse_int(src("day"), "day", required=True),
        "window_start_s": parse_float(src("time"), "time", required=True),
        "window_s": pl.lit(window),
        "function_id": pl.col(hw.FUNC_COL),
        "count": parse_int(pl.col(hw.CELL_COL), "count", allow_float=True),
    }


def _usage_fields(metric: str, window: float) -> tuple[dict[str, Parsed | pl.Expr], list[pl.Expr]]:
    """``usage`` columns of a metric cell, and the extra reason (a negative value)."""
    value = parse_float(pl.col(hw.CELL_COL), metric)
    fields: dict[str, Parsed | pl.Expr] = {
        "_day": parse_int(src("day"), "day", required=True),
        "t_s": parse_float(src("time"), "time", required=True),
        "entity_id": pl.col(hw.FUNC_COL),
        "metric": pl.lit(metric),
        "value": value,
        "unit": pl.lit(UNITS[metric], pl.String),
        "attrs": pl.lit(f'{{"window_s":{int(window)}}}'),
    }
    return fields, [hw.nonneg_reason(value.value, metric)]


READER = Huawei2023Reader()
