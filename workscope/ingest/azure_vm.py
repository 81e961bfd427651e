"""Azure VM traces 2017 (AzurePublicDatasetV1) and 2019 (AzurePublicDatasetV2).

Files (comma-separated, **no header line**, usually ``.csv.gz``):

- ``vmtable.csv`` (11 fields): vmid, subscriptionid, deploymentid, vmcreated, vmdeleted,
  maxcpu, avgcpu, p95maxcpu, vmcategory, vmcorecount (V1) / vmcorecountbucket (V2),
  vmmemory (V1, GB) / vmmemorybucket (V2, GB).
- ``vm_cpu_readings-file-<i>-of-<n>.csv`` (5 fields): timestamp, vmid, min CPU, max CPU,
  avg CPU over the 5 minutes. Shards are time slices.
- ``deployments.csv`` (deploymentid, deploymentsize) and ``subscriptions.csv`` fit no
  canonical table and are skipped (listed in the manifest's ``skipped_files``).

Units: times in **seconds from 0** (5-minute grid; absolute date and zone undocumented, so the
trace has no origin in UTC), CPU utilisation in **percent**, memory in **GB** (GiB sizes:
0.75, 1.75, ...; converted with x1024 to MB).

Mapping:

- ``jobs``, one row per VM: ``job_id`` = vmid, ``submit_s`` = ``start_s`` = vmcreated (a VM
  runs from its creation; the trace has no queueing), ``end_s`` = vmdeleted, ``user`` =
  subscription id, ``group`` = deployment id, ``cpu_req`` = cores, ``mem_req_mb`` = memory
  GB x 1024. V2 gives buckets: the number of the label is used (``>24`` -> 24 cores,
  ``>64`` -> 64 GB, i.e. a lower bound), and the label itself is kept in ``attrs``
  (``vmcorecount``, ``vmmemory``, verbatim for V1 too) with ``vmcategory``,
  ``max_cpu_pct``, ``avg_cpu_pct``, ``p95_max_cpu_pct``. VMs alive at trace start have
  vmcreated 0. Rows with deleted before created, or negative times, are rejected.
- ``usage``, three rows per reading (entity_id = vmid): ``cpu_util_pct`` (avg),
  ``cpu_util_min_pct``, ``cpu_util_max_pct``; unit ``percent``. Values outside 0..100 are
  rejected, each metric on its own.

Source: Azure/AzurePublicDataset, ``AzurePublicDatasetV1.md`` / ``AzurePublicDatasetV2.md``
and the trace-analysis notebooks (column order). Cite Cortez et al., "Resource Central",
SOSP 2017.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from workscope.errors import SourceError
from workscope.ingest.files import first_line, head_text, iter_files, plain_file
from workscope.ingest.parse import (
    Parsed,
    attrs_json,
    build,
    first_reason,
    parse_float,
    parse_text,
    raw_row,
    scan_text_csv,
    src,
)
from workscope.ingest.reader import REASON, Reader, ScanContext, ScanResult, TablePart, flat, one_each
from workscope.ingest.timefmt import origin_meta

VMTABLE = ["vmid", "subscriptionid", "deploymentid", "vmcreated", "vmdeleted", "maxcpu",
           "avgcpu", "p95maxcpu", "vmcategory", "vmcorecount", "vmmemory"]
READINGS = ["timestamp", "vmid", "mincpu", "maxcpu", "avgcpu"]
CATEGORIES = ("Delay-insensitive", "Interactive", "Unknown")
METRICS = (("cpu_util_pct", "avgcpu"), ("cpu_util_min_pct", "mincpu"), ("cpu_util_max_pct", "maxcpu"))
SIDE = re.compile(r"(deployment|subscription|schema)[^/]*\.csv(\.gz)?$|\.(md|txt|toml|ipynb)$|^LICENSE",
                  re.I)
_NUM = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


def _kind(path: Path, plain: Path | None = None) -> str | None:
    """``vmtable``, ``readings``, ``side`` (known but skipped) or None (not this format)."""
    low = path.name.lower()
    if "vmtable" in low:
        return "vmtable"
    if "vm_cpu_readings" in low:
        return "readings"
    if SIDE.search(path.name):
        return "side"
    if plain is not None:
        fields = first_line(plain, path).split(",")
        return {11: "vmtable", 5: "readings"}.get(len(fields))
    return None


def _shape(line: str) -> str | None:
    """Which file a header-less line looks like (for sniffing), or None."""
    f = [x.strip() for x in line.split(",")]
    if len(f) == 11:
        ok = (f[8] in CATEGORIES and all(_NUM.match(x) for x in f[3:8])
              and not _NUM.match(f[0]))
        return "vmtable" if ok else None
    if len(f) == 5:
        try:
            ts, lo, hi, avg = float(f[0]), float(f[2]), float(f[3]), float(f[4])
        except ValueError:
            return None
        ok = (ts % 300 == 0 and not _NUM.match(f[1]) and len(f[1]) >= 8
              and 0 <= lo <= avg <= hi <= 100)
        return "readings" if ok else None
    return None


def _bucket(raw: pl.Expr, label: str) -> Parsed:
    """A core / memory value or V2 bucket label (``>24``): the label's number."""
    text = raw.str.strip_chars()
    return parse_float(text.str.strip_prefix(">"), label)


def _percent(p: Parsed, label: str) -> pl.Expr:
    # polars orders NaN above every number: name it before the range check would.
    return (pl.when(p.value.is_nan()).then(pl.lit(f"{label} is NaN"))
            .when((p.value < 0) | (p.value > 100)).then(pl.lit(f"{label} is outside 0..100 percent")))


def _not_negative(p: Parsed, label: str) -> pl.Expr:
    return pl.when(p.value < 0).then(pl.lit(f"{label} is negative"))


class AzureVMReader(Reader):
    """Azure VM traces V1 (2017) / V2 (2019): vmtable into ``jobs``, CPU readings into ``usage``."""

    name = "azure_vm"
    version = "1"
    description = "Azure VM traces 2017/2019 (header-less vmtable + vm_cpu_readings CSVs)"
    tables = ("jobs", "usage")
    doc_url = "https://github.com/Azure/AzurePublicDataset/blob/master/AzurePublicDatasetV2.md"

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            # At most three levels deep (root/trace_data/vmtable/...): a sniff stays cheap
            # even when handed a large directory of another format.
            cands = []
            for pat in ("vmtable*.csv*", "vm_cpu_readings*.csv*"):
                for depth in ("", "*/", "*/*/"):
                    hit = next(iter(sorted(path.glob(depth + pat))), None)
                    if hit is not None:
                        cands.append(hit)
                        break
            return bool(cands) and all(self.sniff(f) for f in cands)
        head = head_text(path, 8192)
        lines = [x for x in head.splitlines() if x.strip()]
        if len(head) >= 8192 and len(lines) > 1:
            lines = lines[:-1]  # the last line may be cut
        lines = lines[:5]
        if not lines:
            return False
        shapes = {_shape(x) for x in lines}
        return len(shapes) == 1 and None not in shapes

    split = True

    def select(self, paths: Sequence[Path], options: dict[str, Any] | None = None
               ) -> tuple[list[list[Path]], list[Path]]:
        files, skipped = [], []
        for f in iter_files(paths):
            (skipped if _kind(f) == "side" else files).append(f)
        return one_each(files), skipped

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        groups, side = self.select(paths)
        files = flat(groups)
        used, skipped = [], [str(f) for f in side]
        jobs, usage = [], []
        for f in files:
            kind = _kind(f)
            plain = plain_file(f, ctx)
            kind = kind or _kind(f, plain)
            if kind is None:
                raise SourceError(f, "is neither a vmtable (11 fields) nor a vm_cpu_readings "
                                     "(5 fields) file", line=1,
                                  hint="pass the trace_data files of the Azure VM trace")
            names = VMTABLE if kind == "vmtable" else READINGS
            self._check_fields(plain, f, names, kind)
            lf, _ = scan_text_csv(plain, str(f), columns=names, has_header=False)
            if kind == "vmtable":
                jobs.append(TablePart(self._vmtable(lf), raw_row(names), str(f)))
            else:
                usage.append(TablePart(self._readings(lf), raw_row(names), str(f)))
            used.append(f)
        if not used:
            raise SourceError(paths[0], "no vmtable or vm_cpu_readings files found",
                              hint="pass trace_data/vmtable/vmtable.csv.gz and/or "
                                   "trace_data/vm_cpu_readings/*.csv.gz")
        meta = origin_meta(None, assumed_utc=False, resolution_s=300.0,
                           note="times are seconds from the trace start; its date is not published")
        meta["cpu_unit"] = "cores (V2: number of the core-count bucket label)"
        meta["skipped_files"] = skipped
        tables: dict[str, list[TablePart]] = {}
        if jobs:
            tables["jobs"] = jobs
        if usage:
            tables["usage"] = usage
        return ScanResult(tables, used, meta)

    @staticmethod
    def _check_fields(plain: Path, display: Path, names: list[str], kind: str) -> None:
        line = first_line(plain, display)
        n = len(line.split(","))
        if n != len(names):
            delim = next((d for d in ";\t|" if d in line), None)
            extra = f" (the line contains {delim!r}: wrong delimiter?)" if delim and n == 1 else ""
            raise SourceError(
                display, f"expected {len(names)} comma-separated fields for a {kind} file, "
                         f"found {n}{extra}", line=1,
                hint="the Azure VM trace files have no header; check the file is not modified",
            )

    @staticmethod
    def _vmtable(lf: pl.LazyFrame) -> pl.LazyFrame:
        created = parse_float(src("vmcreated"), "vmcreated", required=True)
        deleted = parse_float(src("vmdeleted"), "vmdeleted")
        maxcpu = parse_float(src("maxcpu"), "maxcpu")
        avgcpu = parse_float(src("avgcpu"), "avgcpu")
        p95 = parse_float(src("p95maxcpu"), "p95maxcpu")
        cores = _bucket(src("vmcorecount"), "vmcorecount")
        memory = _bucket(src("vmmemory"), "vmmemory")
        category = parse_text(src("vmcategory"), "vmcategory")
        attrs = attrs_json({
            "vmcategory": category.value,
            "vmcorecount": src("vmcorecount").str.strip_chars(),
            "vmmemory": src("vmmemory").str.strip_chars(),
            "max_cpu_pct": maxcpu.value,
            "avg_cpu_pct": avgcpu.value,
            "p95_max_cpu_pct": p95.value,
        })
        return build(lf, {
            "job_id": parse_text(src("vmid"), "vmid", required=True),
            "submit_s": created,
            "start_s": created.value,
            "end_s": deleted,
            "user": parse_text(src("subscriptionid"), "subscriptionid"),
            "group": parse_text(src("deploymentid"), "deploymentid"),
            "cpu_req": cores,
            "mem_req_mb": memory.map(lambda v: v * 1024.0),
            "attrs": Parsed(attrs, first_reason(category.reason, maxcpu.reason,
                                                avgcpu.reason, p95.reason)),
        }, [
            _not_negative(created, "vmcreated"), _not_negative(deleted, "vmdeleted"),
            _percent(maxcpu, "maxcpu"), _percent(avgcpu, "avgcpu"), _percent(p95, "p95maxcpu"),
        ])

    @staticmethod
    def _readings(lf: pl.LazyFrame) -> pl.LazyFrame:
        ts = parse_float(src("timestamp"), "timestamp", required=True)
        vm = parse_text(src("vmid"), "vmid", required=True)
        common = first_reason(ts.reason, vm.reason, _not_negative(ts, "timestamp"))
        values, reasons = [], []
        for _, col in METRICS:
            p = parse_float(src(col), col, required=True)
            values.append(p.value)
            reasons.append(first_reason(common, p.reason, _percent(p, col)))
        # One source line gives three samples, kept next to each other so that time order
        # holds: each line is repeated once per metric (exploding a small integer list is
        # cheap; exploding a list of structs is ~20x slower in polars) and the k-th copy
        # takes the k-th metric.
        k = pl.col("_k")

        def pick(options: list[pl.Expr]) -> pl.Expr:
            return (pl.when(k == 0).then(options[0])
                    .when(k == 1).then(options[1]).otherwise(options[2]))

        copies = pl.lit(pl.Series("_k", [list(range(len(METRICS)))], dtype=pl.List(pl.Int8))).first()
        return (
            lf.with_columns(
                ts.value.alias("t_s"), vm.value.alias("entity_id"), pl.lit("percent").alias("unit"),
                *(v.alias(f"_v{i}") for i, v in enumerate(values)),
                *(r.alias(f"_r{i}") for i, r in enumerate(reasons)),
                copies.alias("_k"),
            )
            .explode("_k")
            .with_columns(
                pick([pl.lit(m) for m, _ in METRICS]).alias("metric"),
                pick([pl.col(f"_v{i}") for i in range(len(METRICS))]).alias("value"),
                pick([pl.col(f"_r{i}") for i in range(len(METRICS))]).alias(REASON),
            )
        )

READER = AzureVMReader()
