"""Reading sources without a store: ``workscope.scan(path)`` returns lazy canonical tables.

Like polars' ``scan_*``: nothing is read until the frames are collected. Rows that fail
parsing or a table rule are filtered out; use a store to keep them as rejects. Compressed
inputs are decompressed into a private temporary directory removed at interpreter exit.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from workscope.ingest import registry
from workscope.ingest.parse import checked
from workscope.ingest.reader import REASON, ScanContext
from workscope.schemas import TABLES


def scan_sources(
    paths: str | Path | Sequence[str | Path],
    *,
    format: str | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, pl.LazyFrame]:
    """Lazy frames of the good rows of each canonical table the sources fill."""
    plist = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    reader = registry.get(format) if format else registry.detect(plist)
    staging = Path(tempfile.mkdtemp(prefix="workscope-scan-"))
    atexit.register(shutil.rmtree, staging, ignore_errors=True)
    result = reader.scan(plist, ScanContext(options=reader.resolve_options(options), staging=staging))
    out: dict[str, pl.LazyFrame] = {}
    for table, parts in result.tables.items():
        names = TABLES[table].names
        frames = [checked(table, p.frame).filter(pl.col(REASON).is_null()).select(names) for p in parts]
        out[table] = pl.concat(frames) if len(frames) > 1 else frames[0]
    return out
