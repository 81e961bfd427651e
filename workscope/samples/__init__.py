"""Small real traces shipped with workscope, for the demo, the notebooks and the tests.

Each folder keeps its licence (or, where the source states none, its citation) in
SOURCE.md / LICENSE beside the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workscope import Store
from workscope.ingest.pipeline import IngestResult, ProgressFn

ROOT = Path(__file__).parent


@dataclass(frozen=True)
class Sample:
    """One bundled trace: its trace name, reader, files (relative to the samples folder)."""

    name: str
    format: str
    files: tuple[str, ...]
    about: str
    options: dict[str, Any] = field(default_factory=dict)

    def paths(self) -> list[Path]:
        """Absolute paths of the sample's files."""
        return [ROOT / f for f in self.files]


SAMPLES: tuple[Sample, ...] = (
    Sample("azure_llm_code", "azure_llm", ("azure_llm_2023/AzureLLMInferenceTrace_code.csv",),
           "Azure LLM inference 2023, coding service, 1 h (CC-BY-4.0)"),
    Sample("azure_llm_conv", "azure_llm", ("azure_llm_2023/AzureLLMInferenceTrace_conv.csv",),
           "Azure LLM inference 2023, conversation service, 1 h (CC-BY-4.0)"),
    Sample("nasa_ipsc", "swf", ("swf/NASA-iPSC-1993-3.1-cln.swf.gz",),
           "Parallel Workloads Archive: NASA Ames iPSC/860, 1993, SWF"),
    Sample("azure_functions_2021", "azure_functions_2021", ("azure_functions_2021/Azure2021_200.csv",),
           "Azure Functions invocation trace 2021, 200-row excerpt (CC-BY-4.0)"),
    Sample("alibaba_openb", "alibaba_openb",
           ("alibaba_openb/openb_pod_list_default.csv", "alibaba_openb/openb_node_list_all_node.csv"),
           "Alibaba GPU-sharing cluster 2023 (openb): pods and nodes"),
)


def ingest_samples(store: Store, progress: ProgressFn | None = None) -> list[IngestResult]:
    """Ingest every bundled sample into ``store`` (a no-op for those already there)."""
    return [store.ingest(s.paths(), format=s.format, name=s.name, options=s.options, progress=progress)
            for s in SAMPLES]


def report_samples(store: Store, out_root: Path, *, png: bool = True) -> dict[str, Any]:
    """Characterize every bundled sample and write its report under ``out_root/<trace>/``.

    Returns {trace: ReportFiles}.
    """
    from workscope.analysis import characterize
    from workscope.reports.html import write_report

    out: dict[str, Any] = {}
    for s in SAMPLES:
        trace = store.trace(s.name)
        out[s.name] = write_report(characterize(trace), out_root / s.name, png=png, manifest=trace.manifest)
    return out


def replay_samples(store: Store, out_root: Path) -> list[tuple[Any, Any]]:
    """Export two bundled traces for other systems, with fidelity reports.

    The Azure LLM conversation trace goes to vLLM's timed_trace at twice its rate (seed 0),
    and the Azure Functions 2021 sample to InVitro's trace triple. Returns
    [(ExportResult, FidelityReport), ...].
    """
    from workscope.replay.pipeline import TransformSpec, export

    return [
        export(store.trace("azure_llm_conv"), "vllm_timed", out_root / "azure_llm_conv_2x.vllm.jsonl",
               spec=TransformSpec(rate_scale=2.0, seed=0), fidelity=True),
        export(store.trace("azure_functions_2021"), "invitro", out_root / "azure_functions_2021.invitro",
               fidelity=True),
    ]
