"""The reader registry: names to readers, explicit built-ins, plugin entry points, sniffing.

Built-in readers are listed here by name and imported on first use, so `workscope --help`
stays fast. Third-party readers register through the ``workscope.readers`` entry-point group
(the entry point names a Reader instance or class). Sniffing asks readers in the order below:
specific formats first, the generic mapped reader never (it needs a mapping).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path

from workscope.errors import FormatDetectionError, UnknownFormatError
from workscope.ingest.reader import Reader

# name -> module; the module exposes READER. Order is the sniffing order.
BUILTIN: dict[str, str] = {
    # workscope's own workload Parquet: sniffed by its metadata key, so never a foreign file
    "workscope_workload": "workscope.ingest.workscope_workload",
    # LLM / AI serving
    "azure_llm": "workscope.ingest.azure_llm",
    "burstgpt": "workscope.ingest.burstgpt",
    "mooncake": "workscope.ingest.mooncake",
    "aiperf_results": "workscope.ingest.aiperf_results",
    "guidellm_results": "workscope.ingest.guidellm_results",
    "vllm_results": "workscope.ingest.vllm_results",
    "sglang_results": "workscope.ingest.sglang_results",
    "qwen_bailian": "workscope.ingest.qwen_bailian",
    "alibaba_genai": "workscope.ingest.alibaba_genai",
    # serverless
    "azure_functions_2019": "workscope.ingest.azure_functions_2019",
    "azure_functions_2021": "workscope.ingest.azure_functions_2021",
    "huawei_2023": "workscope.ingest.huawei_2023",
    "huawei_2025": "workscope.ingest.huawei_2025",
    # cluster and HPC
    "swf": "workscope.ingest.swf",
    "alibaba_openb": "workscope.ingest.alibaba_openb",
    "alibaba_dlrm": "workscope.ingest.alibaba_dlrm",
    "alibaba_pai": "workscope.ingest.alibaba_pai",
    "alibaba_2018": "workscope.ingest.alibaba_2018",
    "google_2011": "workscope.ingest.google_2011",
    "google_2019": "workscope.ingest.google_2019",
    "planetlab": "workscope.ingest.planetlab",
    "azure_vm_noise": "workscope.ingest.azure_vm_noise",
    "azure_vm": "workscope.ingest.azure_vm",
    "philly": "workscope.ingest.philly",
    "cloudperftrace": "workscope.ingest.cloudperftrace",
    "datacenter_aggregates": "workscope.ingest.datacenter_aggregates",
    # generic
    "mapped": "workscope.ingest.mapped",
}

_cache: dict[str, Reader] = {}
log = logging.getLogger(__name__)


def _plugins() -> dict[str, object]:
    try:
        return {ep.name: ep for ep in entry_points(group="workscope.readers")}
    except Exception:  # a broken plugin must not break the built-ins
        return {}


def names() -> list[str]:
    """All reader names: built-ins in sniffing order, then plugins."""
    return list(BUILTIN) + sorted(n for n in _plugins() if n not in BUILTIN)


def get(name: str) -> Reader:
    """The reader called ``name``; UnknownFormatError (with close names) if there is none."""
    if name in _cache:
        return _cache[name]
    if name in BUILTIN:
        reader = importlib.import_module(BUILTIN[name]).READER
    else:
        eps = _plugins()
        if name not in eps:
            raise UnknownFormatError(name, names())
        obj = eps[name].load()  # type: ignore[attr-defined]
        reader = obj() if isinstance(obj, type) else obj
    _cache[name] = reader
    return reader


def all_readers() -> list[Reader]:
    """Every registered reader that loads (a plugin that fails to import is skipped, logged)."""
    out = []
    for n in names():
        try:
            out.append(get(n))
        except ImportError as exc:
            log.warning("reader %s failed to load: %s", n, exc)
    return out


def detect(paths: Sequence[Path]) -> Reader:
    """The reader whose sniff accepts the first path; FormatDetectionError if none does."""
    if not paths:
        raise FormatDetectionError("no input paths given")
    first = Path(paths[0])
    if not first.exists():
        from workscope.errors import SourceError

        raise SourceError(first, "no such file or directory", hint="check the path")
    hits = [r for r in all_readers() if r.name != "mapped" and _safe_sniff(r, first)]
    if not hits:
        raise FormatDetectionError(
            f"{first}: no reader recognises this input; pass --format NAME "
            f"(see `workscope formats`), or --format mapped with a TOML mapping"
        )
    return hits[0]


def _safe_sniff(reader: Reader, path: Path) -> bool:
    try:
        return bool(reader.sniff(path))
    except Exception:  # sniffing is best effort; a reader that trips must not stop detection
        return False


def formats_markdown() -> str:
    """Reference of every built-in reader as Markdown (docs/formats.md is this text)."""
    from workscope.refdoc import reference_markdown

    return reference_markdown("Trace formats", "workscope formats --markdown", "Tables",
                              [(get(n), BUILTIN[n]) for n in BUILTIN])
