"""workscope's own workload file: the canonical columns as Parquet, with the provenance inside.

Any workload table (requests, invocations, jobs; also invocation_counts) is written with
exactly its canonical columns, in ``workscope.schemas`` order and dtypes (docs/tables.md:
times float64 seconds since the origin, units in the column names), sorted by the event time
as the workload is. The file's key-value metadata holds one key, ``workscope.workload``: a
JSON object with

- ``format`` = ``"workscope.workload"``, ``format_version`` = 1, ``schema_version`` (of the
  canonical tables) and ``workscope_version``;
- ``table``: the canonical table name;
- ``meta``: the workload's meta verbatim — source trace and content key, ``origin_utc``,
  ``hash_block_tokens`` (the prefix-cache block size of ``requests.hash_ids``) and
  ``transforms`` (every transform with its parameters and seed, in order).

:func:`read_workload` opens such a file lazily and gives the Workload back (same table,
rows and meta), so a transformed workload can be saved, shared and replayed later. Rows are
streamed (polars ``sink_parquet``); nothing is materialized. Command: ``python -c`` that reads
it back with :func:`read_workload`.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
import pyarrow.parquet as pq

from workscope.atomic import atomic_path
from workscope.errors import UsageError
from workscope.options import Option
from workscope.replay.exporters.base import Exporter, ExportResult
from workscope.replay.workload import COUNTS_TABLE, WORKLOAD_TABLES, Workload, check_any
from workscope.schemas import SCHEMA_VERSION, TABLES, conform_exprs
from workscope.version import __version__
from workscope.workload_file import FORMAT_VERSION, META_KEY, read_header

_TABLES = (*WORKLOAD_TABLES, COUNTS_TABLE)


class ParquetExporter(Exporter):
    """Any workload -> one Parquet file of canonical columns + provenance metadata."""

    name = "parquet"
    description = "workscope workload Parquet (canonical columns + provenance metadata)"
    tables = _TABLES
    suffix = ".parquet"
    doc_url = "https://parquet.apache.org/docs/file-format/metadata/"
    options: ClassVar[dict[str, Option]] = {}

    def write(self, wl: Workload, out: Path, options: dict[str, Any]) -> ExportResult:
        """Write the canonical columns and the provenance metadata to one Parquet file."""
        if wl.table not in _TABLES:
            raise UsageError(f"workscope parquet takes {', '.join(_TABLES)} workloads, not {wl.table}")
        check_any(wl)
        out = Path(out)
        have = wl.frame.collect_schema()
        frame = wl.frame.select(conform_exprs(wl.table, have))
        doc = {
            "format": META_KEY,
            "format_version": FORMAT_VERSION,
            "schema_version": SCHEMA_VERSION,
            "workscope_version": __version__,
            "table": wl.table,
            "meta": wl.meta,
        }
        text = json.dumps(doc, sort_keys=True, default=str)
        with atomic_path(out) as tmp:
            frame.sink_parquet(tmp, metadata={META_KEY: text}, compression="zstd")
        rows = pq.ParquetFile(out).metadata.num_rows
        # the path is a JSON string literal (valid Python for any path), the code one shell word
        code = ("from workscope.replay.exporters.parquet import read_workload; "
                f"print(read_workload({json.dumps(str(out))}).collect())")
        command = shlex.join(["python", "-c", code])
        dropped = [c for c in have.names() if c not in TABLES[wl.table].names]
        notes = [f"{rows} {wl.table} rows; provenance in the Parquet key-value metadata key {META_KEY!r}"]
        if dropped:
            notes.append(f"non-canonical columns not written: {', '.join(dropped)}")
        return ExportResult("parquet", [out], rows, command, notes)


def read_workload(path: str | Path) -> Workload:
    """The Workload saved by the ``parquet`` exporter (lazy; table and meta from the metadata)."""
    path = Path(path)
    doc = read_header(path)
    table = doc["table"]
    frame = pl.scan_parquet(path, glob=False)
    return Workload(table, frame, dict(doc.get("meta") or {}))


EXPORTERS: dict[str, Exporter] = {"parquet": ParquetExporter()}
