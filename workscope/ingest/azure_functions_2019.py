"""Azure Functions trace 2019 ("Serverless in the Wild") -> ``invocation_counts`` and ``functions``.

Source: repo Azure/AzurePublicDataset, ``AzureFunctionsDataset2019.md`` (revision 2,
2020-06-18); archive ``azurefunctions-dataset2019.tar.xz``. Licence CC-BY-4.0; cite Shahrad
et al., "Serverless in the Wild: Characterizing and Optimizing the Serverless Workload at a
Large Cloud Provider", USENIX ATC '20. Three CSV kinds, one file per 24 h day ``dNN``:

``invocations_per_function_md.anon.dNN.csv`` (d01..d14) -> ``invocation_counts``.
  Header ``HashOwner,HashApp,HashFunction,Trigger,1,2,...,1440``: per-minute invocation counts
  of one function. The 1440 minute columns are unpivoted lazily into one row per
  (function, minute) with ``window_s = 60`` and
  ``window_start_s = (day - 1) * 86400 + (minute - 1) * 60``. Zero cells are **not stored**
  by default (the sparse convention of the published per-minute counts: a missing
  (function, window) means 0; option ``keep_zeros`` stores them), so ``rows_in`` counts the
  non-zero and the unparseable or empty cells (an empty cell is rejected, not read as 0).
  A rejected cell's raw text is its row's four key fields followed by ``[minute M] value``.
  ``Trigger`` (http, timer, event, queue, storage, orchestration, others) -> ``trigger``.

``function_durations_percentiles.anon.dNN.csv`` (d01..d14) -> ``functions``, one row per
  function and day. ``Average`` and ``percentile_Average_{0,1,25,50,75,99,100}`` are
  **milliseconds** (percentiles of 30-second averages, cold starts excluded) and become
  ``duration_avg_s`` / ``duration_p*_s`` in seconds; ``Count`` -> ``count``. ``Minimum`` and
  ``Maximum`` (true extremes, "not recorded" for some functions: empty -> null) go into
  ``attrs`` as ``duration_min_s`` / ``duration_max_s``; ``attrs.day`` is the file's day.
  ``trigger`` is taken from the same day's invocations file when it is given.

``app_memory_percentiles.anon.dNN.csv`` (d01..d12 only) -> joined into ``functions``.
  Header ``HashOwner,HashApp,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct{1,5,25,
  50,75,95,99,100}``: **per application**, MB of committed memory. Memory is never joined on
  the function: each function row of the app (same owner, app and day) gets the app's
  ``memory_avg_mb`` and ``memory_p{1,25,50,75,99,100}_mb`` (there is no 0th percentile:
  ``memory_p0_mb`` stays null); ``pct5``, ``pct95`` and ``SampleCount`` go into ``attrs``
  (``memory_p5_mb``, ``memory_p95_mb``, ``memory_sample_count``). The manifest says the memory
  columns are app-level. A memory row that cannot be parsed, or whose app has no function in
  that day's durations file, has nothing to attach to: it goes to the rejects table (as a
  ``functions`` row, with the reason), so nothing is lost silently. The schema-faithful
  invitro example adds ``HashFunction`` to the memory file; then the join also uses it.

Time: each file is one 24 h period of July 2019; minute ``1`` is the first minute of its day.
The calendar date and zone are undocumented, so ``origin_utc`` is null and the origin is
minute 1 of day 1. The day comes from ``.dNN.`` in the file name; a file without one (e.g.
``invocations.csv``) is day 1, and the manifest lists such files. Input: a directory, any set
of the CSV files (``.gz`` / ``.zip`` copies are read in place), or the ``.tar.xz`` archive.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workscope.errors import MissingColumnError, SourceError
from workscope.ingest.files import first_line, head_text, iter_files, plain_file, require_rows, tar_members
from workscope.ingest.parse import (
    Parsed,
    attrs_json,
    build,
    check_header,
    first_reason,
    parse_float,
    parse_int,
    parse_text,
    raw_row,
    scan_text_csv,
    src,
)
from workscope.ingest.reader import LINE, REASON, Reader, ScanContext, ScanResult, TablePart, flat
from workscope.ingest.timefmt import origin_meta
from workscope.options import Option

log = logging.getLogger(__name__)

KEYS = ("HashOwner", "HashApp", "HashFunction")
INV_HEAD = [*KEYS, "Trigger"]
DUR_PCTS = (0, 1, 25, 50, 75, 99, 100)
DUR_REQUIRED = (*KEYS, "Average", "Count")
MEM_REQUIRED = ("HashOwner", "HashApp", "SampleCount", "AverageAllocatedMb")
# memory percentile suffix -> canonical column (None: no canonical column, goes to attrs)
MEM_PCTS: dict[int, str | None] = {1: "memory_p1_mb", 5: None, 25: "memory_p25_mb",
                                   50: "memory_p50_mb", 75: "memory_p75_mb", 95: None,
                                   99: "memory_p99_mb", 100: "memory_p100_mb"}
MINUTES_PER_DAY = 1440
DAY_RE = re.compile(r"(?:^|[._-])d(\d{1,3})(?:[._-]|$)")
_TAR_SUFFIXES = (".tar.xz", ".tar.gz", ".tgz", ".tar", ".txz")


@dataclass
class _Source:
    display: str
    plain: Path
    header: list[str]
    kind: str  # "inv", "dur" or "mem"
    day: int


def _split(line: str) -> list[str]:
    return [c.strip().strip('"') for c in line.split(",")]


def _kind(header: Sequence[str]) -> str | None:
    have = set(header)
    if list(header[:4]) == INV_HEAD and len(header) > 4 and all(h.isdigit() for h in header[4:]):
        return "inv"
    if "percentile_Average_50" in have or {"Average", "Count"} <= have:
        return "dur"
    if "AverageAllocatedMb" in have or "SampleCount" in have:
        return "mem"
    return None


def _day(name: str) -> int | None:
    found = DAY_RE.findall(name.rsplit("/", 1)[-1])
    return int(found[-1]) if found else None


def _strip(col: str) -> pl.Expr:
    return src(col).str.strip_chars()


class AzureFunctions2019Reader(Reader):
    """Azure Functions 2019: per-minute counts -> invocation_counts; durations + memory -> functions."""

    name = "azure_functions_2019"
    version = "1"
    description = ("Azure Functions 2019 (invocations_per_function_md / function_durations_percentiles"
                   " / app_memory_percentiles .anon.dNN.csv)")
    tables = ("invocation_counts", "functions")
    doc_url = "https://github.com/Azure/AzurePublicDataset/blob/master/AzureFunctionsDataset2019.md"
    options = {
        "keep_zeros": Option(bool, False, "also store minutes with 0 invocations (1440 rows per "
                                          "function and day instead of the non-zero ones)"),
    }

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            return any(self.sniff(p) for p in files
                       if p.name.endswith((".csv", ".csv.gz", *_TAR_SUFFIXES)))
        name = path.name.lower()
        if name.endswith(_TAR_SUFFIXES):
            return "azurefunctions-dataset2019" in name
        lines = head_text(path, 8192).lstrip("\ufeff").splitlines()
        if not lines:
            return False
        head = lines[0]
        if head.startswith("HashOwner,HashApp,HashFunction,Trigger,1,2,3,"):
            return True
        cols = _split(head)
        return ({*DUR_REQUIRED, "percentile_Average_50"} <= set(cols)
                or (set(MEM_REQUIRED) <= set(cols) and "AverageAllocatedMb_pct50" in cols))

    split = True
    split_unit = "each day's files (an archive whole)"
    meta_merged = ("days",)

    def select(self, paths: Sequence[Path], options: dict[str, Any] | None = None
               ) -> tuple[list[list[Path]], list[Path]]:
        # One group per day: a day's durations take their triggers from that day's invocations
        # file and their memory from that day's memory file, and no day needs another. An
        # archive is one group (a .tar.xz is read from start to end; its members' days are
        # only known inside it).
        files = list(iter_files(paths))
        if any(f.name.lower().endswith(_TAR_SUFFIXES) for f in files):
            return [files], []
        days: dict[int, list[Path]] = {}
        for f in files:
            day = _day(f.name)
            days.setdefault(1 if day is None else day, []).append(f)
        return [days[d] for d in sorted(days)], []

    # ------------------------------------------------------------------ scan
    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        files = flat(self.select(paths, ctx.options)[0])
        sources: list[_Source] = []
        undated: list[str] = []
        for f in files:
            if f.name.lower().endswith(_TAR_SUFFIXES):
                members = tar_members(f, ctx, keep=lambda m: m.lower().endswith((".csv", ".csv.gz")))
                staged = [(f"{f}[{m}]", m, plain_file(p, ctx)) for m, p in members]
            else:
                staged = [(str(f), f.name, plain_file(f, ctx))]
            for display, member, plain in staged:
                header = _split(first_line(plain, display))
                kind = _kind(header)
                if kind is None:
                    raise MissingColumnError(
                        display, f"not an Azure Functions 2019 file: header starts {header[:8]}",
                        line=1, hint="expected invocations_per_function_md, "
                                     "function_durations_percentiles or app_memory_percentiles CSV")
                if kind == "inv":
                    check_header(header, INV_HEAD, display, what="invocations_per_function_md file")
                elif kind == "dur":
                    check_header(header, DUR_REQUIRED, display, what="function_durations_percentiles file")
                else:
                    check_header(header, MEM_REQUIRED, display, what="app_memory_percentiles file")
                require_rows(plain, display)
                day = _day(member)
                if day is None:
                    undated.append(display)
                    day = 1
                if day < 1:
                    raise SourceError(display, f"day d{day:02d} in the file name; days start at d01",
                                      hint="rename the file to its day (.d01. .. .d14.)")
                sources.append(_Source(display, plain, header, kind, day))
        seen: dict[tuple[str, int], str] = {}
        for s in sources:
            other = seen.setdefault((s.kind, s.day), s.display)
            if other != s.display:
                raise SourceError(s.display, f"a second file of the same kind for day {s.day} "
                                  f"(first: {other})", hint="name the files by day (.dNN.csv)")

        keep_zeros = bool(ctx.options["keep_zeros"])
        by_kind = {k: {s.day: s for s in sources if s.kind == k} for k in ("inv", "dur", "mem")}
        counts = [self._counts(s, keep_zeros) for s in by_kind["inv"].values()]
        functions: list[TablePart] = []
        for day in sorted(set(by_kind["dur"]) | set(by_kind["mem"])):
            dur, mem, inv = by_kind["dur"].get(day), by_kind["mem"].get(day), by_kind["inv"].get(day)
            functions.extend(self._functions(dur, mem, inv))
        tables: dict[str, list[TablePart]] = {}
        if counts:
            tables["invocation_counts"] = counts
        if functions:
            tables["functions"] = functions

        meta = origin_meta(
            None, assumed_utc=False, resolution_s=60.0,
            note="window_start_s = (day - 1) * 86400 + (minute - 1) * 60, counted from minute 1 of "
                 "day d01; the trace is from July 2019, its calendar date and zone are undocumented",
        )
        meta["days"] = sorted({s.day for s in sources})
        meta["zero_counts"] = ("stored" if keep_zeros else
                               "not stored: a (function, minute) without a row had 0 invocations")
        meta["memory_scope"] = ("memory_*_mb of functions are per application (app_memory_percentiles),"
                                " repeated on every function of the app; memory_p0_mb is not published")
        meta["duration_percentiles"] = "weighted percentiles of 30-second average durations (ms -> s)"
        if undated:
            meta["undated_files_day_1"] = undated
        return ScanResult(tables, files, meta)

    # ------------------------------------------------------------------ invocation counts
    @staticmethod
    def _counts(s: _Source, keep_zeros: bool) -> TablePart:
        lf, names = scan_text_csv(s.plain, s.display)
        minutes = [n for n in names if n.isdigit()]
        bad = [m for m in minutes if not 1 <= int(m) <= MINUTES_PER_DAY]
        if bad:
            raise SourceError(s.display, f"minute column(s) {bad[:5]} outside 1..{MINUTES_PER_DAY}",
                              line=1, hint="is this an invocations_per_function_md file?")
        index = ["~" + c for c in INV_HEAD] + ["_file", LINE]
        long = lf.unpivot(on=["~" + m for m in minutes], index=index,
                          variable_name="~minute", value_name="~count")
        if not keep_zeros:
            # Drop the zero cells on the raw text, before any parsing: most cells are "0", and
            # everything after this point (and the store's cache of it) scales with what is kept.
            # Cells that parse as 0 some other way ("00") are dropped after parsing below.
            long = long.filter(src("count").ne_missing("0"))
        minute = src("minute").str.strip_prefix("~").cast(pl.Int64)
        count = parse_int(src("count"), "count", required=True)
        fields: dict[str, Parsed | pl.Expr] = {
            "window_start_s": ((s.day - 1) * 86400 + (minute - 1) * 60).cast(pl.Float64),
            "window_s": pl.lit(60.0),
            "function_id": parse_text(src("HashFunction"), "HashFunction", required=True),
            "app_id": parse_text(src("HashApp"), "HashApp"),
            "owner_id": parse_text(src("HashOwner"), "HashOwner"),
            "trigger": parse_text(src("Trigger"), "Trigger"),
            "count": count,
        }
        frame = build(long, fields)
        if not keep_zeros:
            # Only cells that parse as 0 are dropped (nothing is lost with them, even when the
            # row's keys are bad); unparseable or empty cells still reach the rejects table.
            frame = frame.filter(pl.col("count").ne_missing(0))
        raw = pl.concat_str([*(src(c).fill_null("") for c in INV_HEAD),
                             pl.format("[minute {}] {}", src("minute").str.strip_prefix("~"),
                                       src("count").fill_null(""))], separator=",")
        return TablePart(frame, raw, s.display)

    # ------------------------------------------------------------------ functions
    def _functions(self, dur: _Source | None, mem: _Source | None, inv: _Source | None) -> list[TablePart]:
        parts: list[TablePart] = []
        mem_frame = self._memory(mem) if mem is not None else None
        join_keys = ["owner_id", "app_id"]
        if mem is not None and "HashFunction" in mem.header:
            join_keys.append("function_id")
        dur_frame = self._durations(dur) if dur is not None else None

        if dur is not None and dur_frame is not None:
            frame = dur_frame
            if inv is not None:
                lf, _ = scan_text_csv(inv.plain, inv.display)
                triggers = lf.select(
                    _strip("HashOwner").alias("owner_id"), _strip("HashApp").alias("app_id"),
                    _strip("HashFunction").alias("function_id"),
                    pl.when(_strip("Trigger") != "").then(_strip("Trigger")).alias("trigger"),
                ).unique(subset=["owner_id", "app_id", "function_id"], keep="first", maintain_order=True)
                # nulls_equal: an empty HashOwner is the same unknown owner in all three files
                # maintain_order: the same rows in the same order on every ingest
                frame = frame.join(triggers, on=["owner_id", "app_id", "function_id"], how="left",
                                   coalesce=True, nulls_equal=True, maintain_order="left")
            mem_cols = ["memory_avg_mb", *(c for c in MEM_PCTS.values() if c),
                        "_mem_p5", "_mem_p95", "_mem_samples"]
            if mem_frame is not None:
                good = (mem_frame.filter(pl.col(REASON).is_null())
                        .select(*join_keys, *mem_cols).unique(subset=join_keys, keep="first", maintain_order=True))
                frame = frame.join(good, on=join_keys, how="left", coalesce=True, nulls_equal=True,
                                   maintain_order="left")
            else:
                frame = frame.with_columns(*(pl.lit(None, pl.Float64).alias(c) for c in mem_cols))
            frame = frame.with_columns(attrs_json({
                "day": pl.lit(dur.day),
                "duration_min_s": pl.col("_dur_min"),
                "duration_max_s": pl.col("_dur_max"),
                "memory_sample_count": pl.col("_mem_samples"),
                "memory_p5_mb": pl.col("_mem_p5"),
                "memory_p95_mb": pl.col("_mem_p95"),
            }).alias("attrs"))
            parts.append(TablePart(frame, raw_row(dur.header), dur.display))

        if mem is not None and mem_frame is not None:
            # Memory rows that attach to no function row: report them instead of losing them.
            orphan_reason = pl.lit(
                f"app-level memory row: no function of this app in the day-{mem.day} "
                "function_durations_percentiles file, nothing to attach it to")
            if dur_frame is not None:
                keys = dur_frame.filter(pl.col(REASON).is_null()).select(join_keys).unique()
                bad = mem_frame.filter(pl.col(REASON).is_not_null())
                orphans = (mem_frame.filter(pl.col(REASON).is_null())
                           .join(keys, on=join_keys, how="anti", nulls_equal=True, maintain_order="left")
                           .with_columns(orphan_reason.alias(REASON)))
                left = pl.concat([bad, orphans], how="vertical_relaxed")
            else:
                left = mem_frame.with_columns(pl.coalesce(pl.col(REASON), orphan_reason).alias(REASON))
            parts.append(TablePart(left, raw_row(mem.header), mem.display))
        return parts

    @staticmethod
    def _durations(s: _Source) -> pl.LazyFrame:
        lf, names = scan_text_csv(s.plain, s.display)
        have = set(names)

        def ms(col: str) -> Parsed:
            raw = src(col) if col in have else pl.lit(None, pl.String)
            p = parse_float(raw, col)
            return p.map(lambda v: v / 1000.0)

        fields: dict[str, Parsed | pl.Expr] = {
            "function_id": parse_text(src("HashFunction"), "HashFunction", required=True),
            "app_id": parse_text(src("HashApp"), "HashApp"),
            "owner_id": parse_text(src("HashOwner"), "HashOwner"),
            "count": parse_int(src("Count"), "Count", allow_float=True),
            "duration_avg_s": ms("Average"),
            **{f"duration_p{p}_s": ms(f"percentile_Average_{p}") for p in DUR_PCTS},
            "_dur_min": ms("Minimum"),
            "_dur_max": ms("Maximum"),
        }
        return build(lf, fields)

    @staticmethod
    def _memory(s: _Source) -> pl.LazyFrame:
        lf, names = scan_text_csv(s.plain, s.display)
        have = set(names)

        def mb(col: str) -> Parsed:
            raw = src(col) if col in have else pl.lit(None, pl.String)
            return parse_float(raw, col)

        fields: dict[str, Parsed | pl.Expr] = {
            "app_id": parse_text(src("HashApp"), "HashApp", required=True),
            "owner_id": parse_text(src("HashOwner"), "HashOwner"),  # optional, as in the other two files
            "memory_avg_mb": mb("AverageAllocatedMb"),
            "_mem_samples": parse_int(src("SampleCount"), "SampleCount", allow_float=True),
        }
        if "HashFunction" in have:
            fields["function_id"] = parse_text(src("HashFunction"), "HashFunction", required=True)
        for pct, column in MEM_PCTS.items():
            fields[column or f"_mem_p{pct}"] = mb(f"AverageAllocatedMb_pct{pct}")
        frame = build(lf, fields)
        # Negative or NaN memory would only be caught on attached rows; check it here so a
        # bad memory row is rejected itself rather than copied onto every function of its app.
        checks = [pl.when(pl.col(c).is_nan() | (pl.col(c) < 0)).then(pl.lit(f"{c} is negative or NaN"))
                  for c in ("memory_avg_mb", *(c or f"_mem_p{p}" for p, c in MEM_PCTS.items()))]
        return frame.with_columns(first_reason(pl.col(REASON), *checks).alias(REASON))


READER = AzureFunctions2019Reader()
