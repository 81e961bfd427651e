"""workscope's own workload files: the Parquet files ``replay export --to parquet`` and
``replay synth`` write, whose key-value metadata key :data:`META_KEY` holds the workload's
provenance. One definition of the key and of a valid header serves the exporter that writes
it, the reader that ingests it, and fidelity and check, which open such files directly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from workscope.errors import SourceError
from workscope.schemas import SCHEMA_VERSION

META_KEY = "workscope.workload"
"""The Parquet key-value metadata key of a workload file."""

FORMAT_VERSION = 1
"""The newest workload file layout this workscope writes and reads."""

WORKLOAD_TABLES = ("requests", "invocations", "jobs", "invocation_counts")
"""The canonical tables a workload file can hold."""


def read_header(path: Path) -> dict[str, Any]:
    """The parsed ``workscope.workload`` document of ``path``; SourceError naming the file when
    it is not a readable Parquet file or has no such (valid) document."""
    try:
        kv = pq.read_metadata(path).metadata or {}
    except (OSError, pa.ArrowException) as exc:
        raise SourceError(path, f"not a readable Parquet file: {exc}",
                          hint="check that the file is complete") from None
    raw = kv.get(META_KEY.encode())
    if raw is None:
        raise SourceError(path, f"no {META_KEY!r} key in the Parquet key-value metadata: not a "
                                "workscope workload file",
                          hint="write it with `workscope replay export --to parquet`, or pass "
                               "another --format")
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(path, f"the {META_KEY!r} metadata is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != META_KEY:
        raise SourceError(path, f"the {META_KEY!r} metadata does not say format {META_KEY!r}")
    table = doc.get("table")
    if table not in WORKLOAD_TABLES:
        raise SourceError(path, f"the {META_KEY!r} metadata names table {table!r}; a workload "
                                f"file holds one of {', '.join(WORKLOAD_TABLES)}")
    version = doc.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise SourceError(path, f"workload format_version {version!r} is newer than this reader "
                                f"knows ({FORMAT_VERSION})", hint="upgrade workscope")
    schema = doc.get("schema_version")
    if schema is not None and (not isinstance(schema, int) or schema > SCHEMA_VERSION):
        # older schemas lack columns added since, which are read as null
        raise SourceError(path, f"written for canonical schema version {schema!r}, newer than this "
                                f"workscope's {SCHEMA_VERSION}", hint="upgrade workscope")
    if not isinstance(doc.get("meta", {}), dict):
        raise SourceError(path, f"the {META_KEY!r} metadata has a 'meta' that is not an object")
    return doc
