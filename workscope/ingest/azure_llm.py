"""Azure LLM inference traces: 2023 (Splitwise), 2024 (DynamoLLM) and LMM 2025 (ModServe).

Files: ``AzureLLMInferenceTrace_{code,conv}.csv`` (2023), ``..._1week.csv`` (2024),
``AzureLMMInferenceTrace_multimodal.csv.gz`` (2025). Header
``TIMESTAMP,ContextTokens,GeneratedTokens`` (2025 adds ``NumImages`` after TIMESTAMP).

Three timestamp styles, detected per file from its first row:

- 2023: ``2023-11-16 18:17:03.9799600`` (7 fractional digits, no zone: taken as UTC, and the
  manifest says it was assumed),
- 2024: ``2024-05-12 00:00:00.001163+00:00`` (fraction dropped when zero),
- 2025: ``2024-10-15T12:00:00.269Z``.

The origin is the earliest timestamp among the first rows of every file (files are sorted in
time as published); ``arrival_s`` counts from it. ``kind`` is ``code``, ``conv`` or
``multimodal`` from the file name. Source: Azure/AzurePublicDataset.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from workscope.errors import SourceError
from workscope.ingest.files import first_line, head_text, iter_files, plain_file, require_rows
from workscope.ingest.parse import (
    Parsed,
    build,
    check_header,
    parse_datetime,
    parse_int,
    raw_row,
    scan_text_csv,
    src,
)
from workscope.ingest.reader import Reader, ScanContext, ScanResult, TablePart, flat, one_each
from workscope.ingest.timefmt import head_min_ns, origin_meta, seconds_since

HEADERS = (
    ["TIMESTAMP", "ContextTokens", "GeneratedTokens"],
    ["TIMESTAMP", "NumImages", "ContextTokens", "GeneratedTokens"],
)

STYLES = (
    # (regex on the first timestamp, strptime format, zone given in data)
    (re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$"), "%Y-%m-%d %H:%M:%S%.f", False),
    (re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$"), "%Y-%m-%d %H:%M:%S%.f%:z", True),
    (re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"), "%Y-%m-%dT%H:%M:%S%.fZ", True),
)


def _kind(path: Path) -> str | None:
    low = path.name.lower()
    for key in ("code", "conv", "multimodal"):
        if key in low:
            return key
    return None


class AzureLLMReader(Reader):
    """Azure LLM inference 2023 / 2024 and LMM 2025 request traces into ``requests``."""

    name = "azure_llm"
    version = "1"
    description = "Azure LLM inference 2023/2024 and LMM 2025 (TIMESTAMP,ContextTokens,GeneratedTokens)"
    tables = ("requests",)
    doc_url = "https://github.com/Azure/AzurePublicDataset/blob/master/AzureLLMInferenceDataset2023.md"

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            return any(self.sniff(f) for f in list(path.glob("*.csv*"))[:3])
        head = head_text(path, 4096).lstrip("\ufeff").splitlines()
        if not head:
            return False
        cols = [c.strip() for c in head[0].split(",")]
        return cols in HEADERS

    split = True

    def select(self, paths: Sequence[Path], options: dict[str, Any] | None = None
               ) -> tuple[list[list[Path]], list[Path]]:
        # Files named explicitly are read (a wrong one fails loudly); files found by walking a
        # directory are read only if their header is this format's (LICENSE, README, ...).
        files: list[Path] = []
        skipped: list[Path] = []
        for p in paths:
            if p.is_dir():
                for f in iter_files([p], skipped=skipped):
                    (files if self.sniff(f) else skipped).append(f)
            else:
                files.append(p)
        return one_each(files), skipped

    shares_origin = True

    def shared_facts(self, metas: list[dict[str, Any]]) -> dict[str, Any] | None:
        # one file without a zone makes the whole trace's origin an assumption
        return {**(super().shared_facts(metas) or {}),
                "assumed_utc": any(m["origin_assumed_utc"] for m in metas)}

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        groups, skipped = self.select(paths)
        files = flat(groups)
        if not files:
            raise SourceError(paths[0], "no trace files found (expected .csv or .csv.gz files)",
                              hint="pass the Azure LLM CSV files or a directory holding them")
        staged = []
        for f in files:
            plain = plain_file(f, ctx)
            header = [c.strip() for c in first_line(plain, f).split(",")]
            check_header(header, ["TIMESTAMP", "ContextTokens", "GeneratedTokens"], f,
                         what="an Azure LLM inference trace (TIMESTAMP,ContextTokens,GeneratedTokens)")
            require_rows(plain, str(f))
            staged.append((f, plain, header))

        parts, origins, zoned = [], [], []
        for f, plain, header in staged:
            lf, names = scan_text_csv(plain, str(f))
            fmt, has_zone = self._style(lf, f)
            zoned.append(has_zone)
            ts = parse_datetime(src("TIMESTAMP"), "TIMESTAMP", fmt, required=True)
            origin = None if "origin_ns" in ctx.shared else head_min_ns(lf, ts)
            if origin is not None:
                origins.append(origin)
            parts.append((f, lf, names, ts))

        if "origin_ns" in ctx.shared:  # one file of many: the trace's origin, from all of them
            origins = [] if ctx.shared["origin_ns"] is None else [ctx.shared["origin_ns"]]
            zoned = [not ctx.shared["assumed_utc"]]
        origin_ns = min(origins) if origins else 0
        out = []
        for f, lf, names, ts in parts:
            fields = {
                "arrival_s": ts.map(lambda v: seconds_since(v, origin_ns)),
                "input_tokens": parse_int(src("ContextTokens"), "ContextTokens", required=True),
                "output_tokens": parse_int(src("GeneratedTokens"), "GeneratedTokens", required=True),
                "kind": pl.lit(_kind(f), pl.String),
            }
            if "NumImages" in names:
                images = parse_int(src("NumImages"), "NumImages")
                fields["attrs"] = Parsed(
                    pl.when(images.value.is_not_null()).then(
                        pl.format('{{"num_images":{}}}', images.value)), images.reason)
            out.append(TablePart(build(lf, fields), raw_row(names), str(f)))

        meta = origin_meta(
            origin_ns if origins else None,
            assumed_utc=not all(zoned),
            resolution_s=1e-7,
            note="2023 timestamps carry no zone and are taken as UTC" if not all(zoned) else None,
        )
        if skipped:
            meta["skipped_files"] = [str(f) for f in skipped]
        return ScanResult({"requests": out}, files, meta)

    @staticmethod
    def _style(lf: pl.LazyFrame, f: Path) -> tuple[str, bool]:
        sample = lf.select(src("TIMESTAMP")).head(50).collect().to_series().drop_nulls()
        for value in sample.str.strip_chars():
            for rx, fmt, zone in STYLES:
                if rx.match(value):
                    return fmt, zone
        first = sample[0] if sample.len() else ""
        raise SourceError(f, f"unrecognised TIMESTAMP style {first!r}", line=2,
                          hint="expected e.g. '2023-11-16 18:17:03.9799600', "
                               "'2024-05-12 00:00:00+00:00' or '2024-10-15T12:00:00.269Z'")


READER = AzureLLMReader()
