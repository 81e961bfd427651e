"""workscope: trace analytics and workload characterization.

>>> import workscope
>>> store = workscope.open("workscope-data")
>>> store.ingest("AzureLLMInferenceTrace_conv.csv", name="conv")
>>> store.trace("conv").scan("requests")        # polars LazyFrame
>>> store.trace("conv").sql("SELECT count(*) FROM requests")
"""

from __future__ import annotations

__version__ = "0.1.0"

from workscope.errors import DataError, UsageError, WorkscopeError  # noqa: E402
from workscope.store import IngestResult, Store, Trace, open  # noqa: E402,A004


def scan(paths: object, format: str | None = None, **options: object) -> dict[str, object]:
    """Read sources without a store: {table: LazyFrame of good rows} (polars ``scan_*`` style).

    Rows that fail parsing or a table rule are dropped here; ingest into a store to keep
    them in the rejects table.
    """
    from workscope.ingest.direct import scan_sources

    return scan_sources(paths, format=format, options=options)  # type: ignore[arg-type]


__all__ = ["DataError", "IngestResult", "Store", "Trace", "UsageError", "WorkscopeError",
           "__version__", "open", "scan"]
