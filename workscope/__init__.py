"""workscope: trace analytics and workload characterization.

>>> import workscope
>>> store = workscope.open("workscope-data")
>>> store.ingest("AzureLLMInferenceTrace_conv.csv", name="conv")
>>> store.trace("conv").scan("requests")        # polars LazyFrame
>>> store.trace("conv").sql("SELECT count(*) FROM requests")

This module is the facade: it puts the store (core) and the ingest pipeline together.
"""

from __future__ import annotations

__version__ = "0.1.0"

from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from workscope import store as _store  # noqa: E402
from workscope.errors import DataError, UsageError, WorkscopeError  # noqa: E402
from workscope.ingest import pipeline as _pipeline  # noqa: E402
from workscope.ingest.pipeline import IngestResult, ProgressFn, Sources  # noqa: E402
from workscope.store import Trace  # noqa: E402


class Store(_store.Store):
    """A directory of ingested traces, with the ingest pipeline attached (see :func:`open`)."""

    def ingest(
        self,
        paths: Sources,
        *,
        format: str | None = None,
        name: str | None = None,
        options: dict[str, Any] | None = None,
        force: bool = False,
        progress: ProgressFn | None = None,
    ) -> IngestResult:
        """Ingest source files into a trace called ``name`` (default: from the first path).

        The reader is ``format`` or detected from the first path. Returns the manifest;
        raises a WorkscopeError subclass (nothing written) if a source cannot be read.
        See :func:`workscope.ingest.pipeline.ingest`.
        """
        return _pipeline.ingest(self, paths, format=format, name=name, options=options,
                                force=force, progress=progress)


def open(home: str | Path | None = None) -> Store:  # noqa: A001 - workscope.open(home) reads as intended
    """Open (or create on first write) the store at ``home`` (default: $WORKSCOPE_HOME, else
    ./workscope-data)."""
    return Store(home)


def scan(paths: Sources, format: str | None = None, **options: object) -> dict[str, Any]:
    """Read sources without a store: {table: LazyFrame of good rows} (polars ``scan_*`` style).

    Rows that fail parsing or a table rule are dropped here; ingest into a store to keep
    them in the rejects table.
    """
    return _pipeline.scan_sources(paths, format=format, options=options)


__all__ = ["DataError", "IngestResult", "Store", "Trace", "UsageError", "WorkscopeError",
           "__version__", "open", "scan"]
