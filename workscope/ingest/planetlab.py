"""PlanetLab VM CPU utilisation traces (CoMon, March-April 2011, as redistributed by CloudSim).

Files: one text file per VM, in one directory per day (``<root>/20110303/<vm name>``); the
file name is the VM / slice name and may contain spaces. No header and no timestamps: each
line holds one CPU utilisation reading in **percent** (integers 0..99 in the published days),
one line per 5-minute interval of the day, 288 lines per file.

Mapping (table ``usage``): ``entity_id`` = file name, ``metric`` = ``cpu_util_pct``,
``unit`` = ``percent``, ``value`` = the reading, ``t_s`` = (line - 1) x interval (option
``interval_s``, default 300 s), plus the day offset when the files sit in ``YYYYMMDD``
directories. The origin is then midnight of the first day, taken as UTC (the source states no
time zone; the manifest says it was assumed). Files outside day directories get no origin.

All files of one day are read in a single scan (one Parquet part per day, not one per VM
file), and line numbers are counted per file. Rejected rows keep the day directory as their
file, the line number inside the VM file, and ``<VM file>: <line text>`` as their raw text.
Readings outside 0..100 are rejected.

Source: github.com/beloglazov/planetlab-workload-traces (CloudSim ``workload/planetlab``);
Park & Pai, "CoMon: a mostly-scalable monitoring system for PlanetLab", OSR 2006;
Beloglazov & Buyya, CCPE 2012.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from workscope.errors import EmptySourceError, SourceError
from workscope.ingest.files import head_bytes, iter_files
from workscope.ingest.parse import build, parse_float, src
from workscope.ingest.reader import FILE, LINE, RAW_PREFIX, Reader, ScanContext, ScanResult, TablePart, flat
from workscope.ingest.timefmt import origin_meta
from workscope.options import Option

DAY_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
VALUE_RE = re.compile(rb"^\s*\d{1,3}(\.\d+)?\s*$")
# Files that travel with a slice of the trace but hold no readings.
SIDE_FILES = re.compile(r"^(SOURCE|README|LICENSE|COPYING|FIXTURE)(\..*)?$|\.(md|txt|toml)$", re.I)
# A separator that cannot occur in a reading, so that each line is read whole as one field and
# a malformed line ("12,5", a stray quote) becomes a rejected row instead of a scan error.
WHOLE_LINE = "\x1f"
METRIC = "cpu_util_pct"


def _day(path: Path) -> _dt.date | None:
    m = DAY_RE.match(path.parent.name)
    if not m:
        return None
    try:
        return _dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def _looks_like_readings(path: Path) -> bool:
    if path.suffix.lower() in (".gz", ".zip", ".csv", ".json", ".jsonl", ".parquet", ".swf", ".tar"):
        return False
    lines = head_bytes(path, 2048).splitlines()[:20]
    return len(lines) >= 2 and all(VALUE_RE.match(line) for line in lines if line.strip())


class PlanetLabReader(Reader):
    """PlanetLab CoMon VM CPU traces (one file per VM, one percent per line) into ``usage``."""

    name = "planetlab"
    version = "1"
    description = "PlanetLab 2011 VM CPU utilisation (one header-less file per VM, % per 5 min)"
    tables = ("usage",)
    doc_url = "https://github.com/beloglazov/planetlab-workload-traces"
    options = {
        "interval_s": Option(float, 300.0, "seconds between two readings (lines) of a file"),
    }

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            kids = sorted(path.iterdir())[:200]
            files = [k for k in kids if k.is_file() and not SIDE_FILES.search(k.name)
                     and not k.name.startswith(".")]
            if not files:
                days = [k for k in kids if k.is_dir() and DAY_RE.match(k.name)]
                if not days:
                    return False
                files = [k for k in sorted(days[0].iterdir())[:50] if k.is_file()]
            sample = files[:3]
            return bool(sample) and all(_looks_like_readings(f) for f in sample)
        return _looks_like_readings(path)

    split = True
    split_unit = "each day directory"
    shares_origin = True
    meta_merged = ("vm_files", "days")

    def select(self, paths: Sequence[Path], options: dict[str, Any] | None = None
               ) -> tuple[list[list[Path]], list[Path]]:
        # One group per day directory: a day is one part, its VM files side by side.
        files = [f for f in iter_files(paths) if not SIDE_FILES.search(f.name)]
        if not files:
            raise SourceError(paths[0], "no PlanetLab VM files found",
                              hint="pass a day directory (e.g. 20110303/) or VM files")
        groups: dict[_dt.date | None, list[Path]] = {}
        for f in files:
            if f.stat().st_size == 0:
                raise EmptySourceError(f, "file is empty", line=1,
                                       hint="remove it or download the trace again")
            groups.setdefault(_day(f), []).append(f)
        if None in groups and len(groups) > 1:
            loose = groups[None][0]
            raise SourceError(loose, "is not in a YYYYMMDD day directory while other files are",
                              hint="pass either day directories or loose VM files, not both")
        return [groups[d] for d in sorted(groups, key=lambda d: d or _dt.date.min)], []

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        interval = float(ctx.options.get("interval_s", 300.0))
        if not interval > 0:
            raise SourceError(paths[0], f"interval_s must be positive, got {interval}",
                              hint="pass a positive --option interval_s=...")
        day_groups, _ = self.select(paths)
        files = flat(day_groups)
        groups = {_day(g[0]): g for g in day_groups}
        first_day = min((d for d in groups if d is not None), default=None)
        if "origin_ns" in ctx.shared:  # one day of many: the first day of all (never None: days split)
            first_day = _dt.datetime.fromtimestamp(ctx.shared["origin_ns"] // 1_000_000_000, _dt.UTC).date()
        parts = []
        for day, day_files in groups.items():
            offset = 0.0 if day is None or first_day is None else (day - first_day).days * 86400.0
            display = str(day_files[0].parent)
            parts.append(TablePart(self._frame(day_files, offset, interval), raw_line(), display))

        origin_ns = None
        if first_day is not None:
            midnight = _dt.datetime(first_day.year, first_day.month, first_day.day,
                                    tzinfo=_dt.timezone.utc)
            origin_ns = int(midnight.timestamp()) * 1_000_000_000
        meta = origin_meta(
            origin_ns, assumed_utc=True, resolution_s=interval,
            note=("readings carry no timestamps: t_s = day offset + (line - 1) x interval_s, "
                  "from midnight of the first day directory, taken as UTC")
            if origin_ns is not None else
            "files are not in YYYYMMDD day directories: t_s counts from each file's first line",
        )
        meta["cpu_unit"] = "percent"
        meta["vm_files"] = len(files)
        meta["days"] = sorted(str(d) for d in groups if d is not None)
        return ScanResult({"usage": parts}, files, meta)

    @staticmethod
    def _frame(files: list[Path], offset_s: float, interval_s: float) -> pl.LazyFrame:
        try:
            lf = pl.scan_csv(
                files, has_header=False, new_columns=[RAW_PREFIX + "value"],
                separator=WHOLE_LINE, quote_char=None, infer_schema=False,
                encoding="utf8-lossy", include_file_paths="_path", glob=False,
            )
        except pl.exceptions.PolarsError as exc:
            raise SourceError(files[0].parent, f"cannot read VM files: {exc}") from None
        # The name of the VM is the file name; line numbers restart in every file, and each
        # row keeps its own file so that a rejected row names the VM file it came from.
        lf = lf.with_columns(
            pl.col("_path").alias(FILE),
            pl.col("_path").str.replace(r"^.*[/\\]", "").alias(RAW_PREFIX + "vm"),
            pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("_path").alias(LINE),
        )
        # strip: a file saved with CRLF line ends, or padded readings, still parse.
        value = parse_float(src("value"), "value", required=True, strip=True)
        # polars orders NaN above every number: name it before the range check would.
        out_of_range = (pl.when(value.value.is_nan()).then(pl.lit("value is NaN"))
                        .when((value.value < 0) | (value.value > 100))
                        .then(pl.lit("value is outside 0..100 percent")))
        return build(lf, {
            "t_s": pl.lit(offset_s) + (pl.col(LINE) - 1).cast(pl.Float64) * interval_s,
            "entity_id": src("vm"),
            "metric": pl.lit(METRIC),
            "value": value,
            "unit": pl.lit("percent"),
        }, extra_reasons=[out_of_range])


def raw_line() -> pl.Expr:
    """A rejected row's source text (its file is in the rejects table's ``file``)."""
    return src("value").fill_null("")


READER = PlanetLabReader()
