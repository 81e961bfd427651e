"""workscope: trace analytics and workload characterization.

>>> import workscope
>>> store = workscope.open("workscope-data")
>>> store.ingest("AzureLLMInferenceTrace_conv.csv", name="conv")
>>> store.trace("conv").scan("requests")        # polars LazyFrame
>>> store.trace("conv").sql("SELECT count(*) FROM requests")

This module is the facade: it puts the store (core) and the ingest pipeline together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workscope import store as _store
from workscope.errors import DataError, UsageError, WorkscopeError
from workscope.ingest import pipeline as _pipeline
from workscope.ingest.pipeline import IngestResult, Sources
from workscope.store import CheckReport, Trace, TraceCheck
from workscope.version import __version__


class Store(_store.Store):
    """A directory of ingested traces, with the ingest pipeline attached (see :func:`open`)."""

    # pipeline.ingest takes the store first, so the function serves as the method as it is.
    ingest = _pipeline.ingest


def open(home: str | Path | None = None, *, layout: str | None = None,
         storage_options: dict[str, Any] | None = None) -> Store:
    """Open (or create on first write) the store at ``home`` (default: $WORKSCOPE_HOME, else
    ./workscope-data): a path, a ``file://`` URI, or a URL (``s3://bucket/store``,
    ``hdfs://namenode/store``) read through fsspec with ``storage_options``; see
    :class:`~workscope.store.Store` for ``layout``."""
    return Store(home, layout=layout, storage_options=storage_options)


def scan(paths: Sources, format: str | None = None, *, bounds: dict[str, Any] | None = None,
         **options: object) -> dict[str, Any]:
    """Read sources without a store: {table: LazyFrame of good rows} (polars ``scan_*`` style).

    Rows that fail parsing, a table rule or a plausibility bound (``bounds`` changes them, as
    for ``Store.ingest``) are dropped here; ingest into a store to keep them in the rejects
    table.
    """
    return _pipeline.scan_sources(paths, format=format, options=options, bounds=bounds)


__all__ = ["CheckReport", "DataError", "IngestResult", "Store", "Trace", "TraceCheck", "UsageError",
           "WorkscopeError", "__version__", "open", "scan"]
