"""workscope's own workload files: the Parquet that ``workscope replay export --to parquet`` and
``workscope replay synth --to parquet`` write, read back into their canonical table.

Such a file holds exactly one canonical table (``requests``, ``invocations``, ``jobs`` or
``invocation_counts``) with its canonical columns, names and dtypes (docs/tables.md), and
one Parquet key-value metadata key, ``workscope.workload``: a JSON object with ``format``
(= ``"workscope.workload"``), ``format_version``, ``schema_version``, ``workscope_version``,
``table`` and ``meta`` (the workload's provenance: ``source_trace``, ``source_content_key``,
``origin_utc``, ``hash_block_tokens``, ``transforms``).

Mapping: every column is taken as written (no unit conversion: the file is already
canonical); ``_line`` is the 1-based row number in the file. A required column missing or a
column of another dtype is a clear error; an optional column missing (a file written before
the column existed) is null and listed in the manifest's ``meta.absent_columns``. The provenance goes into the
manifest's ``meta``: ``workload_table``, ``workload_format_version``,
``workload_schema_version``, ``written_by`` (the workscope version), ``source_trace``,
``source_content_key``, ``source_origin_utc``, ``hash_block_tokens`` and ``transforms``.
The trace's ``origin_utc`` is the source's origin only while the transforms leave the time
axis as it was (filters, sampling, rate scaling, windows without re-basing); after a
re-based window, a speed-up, idle compression or a synthesis, times no longer count from
that instant, so the origin is left empty (and said so in ``time_note``).

Several files are read as one trace only when they hold the same table with the same
provenance (parts of one export); anything else is one clear SourceError naming the file.
Sniffing reads only the file's footer.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from workscope.errors import MissingColumnError, SourceError
from workscope.ingest.files import iter_files
from workscope.ingest.reader import FILE, LINE, REASON, Reader, ScanContext, ScanResult, TablePart
from workscope.ingest.timefmt import origin_meta
from workscope.options import Option
from workscope.schemas import TABLES
from workscope.workload_file import META_KEY, WORKLOAD_TABLES, read_header

# Transforms after which the file's times still count from the source's origin. A step not
# listed here (speed, compress_idle, synthesize, a re-based window, one this version does not
# know) moves or rescales the time axis, so the source origin would date rows wrongly.
_TIME_KEEPING = {"filter", "sample_sessions", "sample_jobs", "scale_rate", "sample_functions",
                 "sample_functions_nested"}


def keeps_origin(transforms: Sequence[Any]) -> bool:
    """Whether times after ``transforms`` still count from the source trace's origin."""
    for step in transforms:
        name = step.get("name") if isinstance(step, dict) else None
        if name in ("window", "busiest") and step.get("rebase") is False:
            continue
        if name not in _TIME_KEEPING:
            return False
    return True


def _origin_ns(text: Any) -> int | None:
    """The ISO-8601 origin as epoch nanoseconds (None when absent or unreadable)."""
    if not isinstance(text, str):
        return None
    try:
        dt = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_dt.UTC)
    delta = dt - _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def provenance_meta(doc: dict[str, Any]) -> dict[str, Any]:
    """The manifest meta of a trace read from a workload file with header ``doc``."""
    wmeta = doc.get("meta") or {}
    transforms = list(wmeta.get("transforms") or [])
    origin = wmeta.get("origin_utc")
    kept = keeps_origin(transforms)
    if origin is None:
        note = "the workload file states no origin: times count from its own zero"
    elif kept:
        note = "times count from the source trace's origin (the transforms keep the time axis)"
    else:
        note = ("the transforms moved or rescaled the time axis, so times no longer count from "
                "the source's origin (kept as source_origin_utc)")
    meta = origin_meta(_origin_ns(origin) if kept else None, assumed_utc=False, resolution_s=None,
                       note=note)
    meta.update({
        "workload_table": doc["table"],
        "workload_format_version": doc.get("format_version"),
        "workload_schema_version": doc.get("schema_version"),
        "written_by": doc.get("workscope_version"),
        "source_trace": wmeta.get("source_trace"),
        "source_content_key": wmeta.get("source_content_key"),
        "source_origin_utc": origin,
        "hash_block_tokens": wmeta.get("hash_block_tokens"),
        "transforms": transforms,
    })
    return meta


def absent_columns(path: Path, table: str) -> list[str]:
    """The optional canonical columns of ``table`` that the file lacks; MissingColumnError
    when it lacks a required one, SourceError when a column has another dtype."""
    spec = TABLES[table]
    try:
        schema = pl.read_parquet_schema(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise SourceError(path, f"cannot read the Parquet schema: {exc}") from None
    missing = [c for c in spec.required if c not in schema]
    if missing:
        raise MissingColumnError(path, f"missing required {table} column(s) {missing}",
                                 hint="the file was not written by the parquet exporter, or was edited")
    wrong = [f"{c} is {schema[c]}, not {spec.polars_schema[c]}" for c in spec.names
             if c in schema and schema[c] != spec.polars_schema[c]]
    if wrong:
        raise SourceError(path, f"canonical {table} columns of the wrong type: {'; '.join(wrong)}")
    return [c for c in spec.names if c not in schema]


def _frame(path: Path, table: str) -> pl.LazyFrame:
    """The file's canonical columns with ``_file``, ``_line`` and ``_reason`` (a column an
    older schema did not have is left out here and filled with nulls by the pipeline)."""
    absent = set(absent_columns(path, table))
    return (pl.scan_parquet(path, glob=False)
            .select([c for c in TABLES[table].names if c not in absent])
            .with_row_index(LINE, offset=1)
            .with_columns(pl.col(LINE).cast(pl.Int64), pl.lit(str(path)).alias(FILE),
                          pl.lit(None, pl.String).alias(REASON)))


def _raw(table: str) -> pl.Expr:
    """A rejected row as JSON of its canonical columns (a Parquet row has no source text)."""
    return pl.struct(TABLES[table].names).struct.json_encode()


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.get("table") == b.get("table") and a.get("meta") == b.get("meta")


class WorkscopeWorkloadReader(Reader):
    """workscope's own workload Parquet (``replay export/synth --to parquet``) into its table."""

    name = "workscope_workload"
    version = "1"
    description = "workscope workload Parquet (replay export / synth --to parquet), with provenance"
    tables = WORKLOAD_TABLES
    doc_url = "https://parquet.apache.org/docs/file-format/metadata/"
    options: ClassVar[dict[str, Option]] = {}

    def sniff(self, path: Path) -> bool:
        if not path.is_file() or path.suffix.lower() != ".parquet":
            return False
        try:
            kv = pq.read_metadata(path).metadata or {}
        except (OSError, pa.ArrowException):  # sniffing is best effort
            return False
        return META_KEY.encode() in kv

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        files = [f for f in iter_files(paths) if f.suffix.lower() == ".parquet"]
        if not files:
            raise SourceError(paths[0], "no .parquet workload file found",
                              hint="pass the file written by `workscope replay export --to parquet`")
        first = read_header(files[0])
        for f in files[1:]:
            other = read_header(f)
            if not _same(first, other):
                raise SourceError(f, f"holds a different workload than {files[0]} (table or "
                                     "provenance differ); ingest each workload file as its own trace")
        table = first["table"]
        parts = [TablePart(_frame(f, table), _raw(table), str(f)) for f in files]
        meta = provenance_meta(first)
        absent = sorted({c for f in files for c in absent_columns(f, table)})
        if absent:
            meta["absent_columns"] = absent
        return ScanResult({table: parts}, files, meta)


READER = WorkscopeWorkloadReader()
