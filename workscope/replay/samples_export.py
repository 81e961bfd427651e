"""Nested function samples of a trace, each exported for a target (``workscope replay sample``).

The samples come from :func:`~workscope.replay.sampling.sample_functions_nested` (InVitro's
roll-down: every sample is a subset of every larger one, all scored against the full trace);
each size is written by :func:`~workscope.replay.pipeline.export` to ``<out>/sample_<size>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workscope.replay.pipeline import export
from workscope.replay.sampling import SampleResult, sample_functions_nested
from workscope.replay.workload import Workload

if TYPE_CHECKING:
    from workscope.replay.exporters.base import ExportResult
    from workscope.store import Trace


@dataclass(frozen=True)
class SampleExport:
    """One sample size: the sample and what its export wrote."""

    sample: SampleResult
    export: ExportResult

    @property
    def functions(self) -> int:
        """The number of functions in the sample."""
        return self.sample.size

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: size, score (lower is closer to the full trace) and files written."""
        return {"functions": self.functions, "score": self.sample.score,
                "files": [str(f) for f in self.export.files]}


def export_samples(trace: Trace, sizes: Iterable[int], target: str, out_dir: str | Path, *,
                   seed: int, tries: int = 10) -> list[SampleExport]:
    """Sample ``sizes`` functions (nested) from the trace's invocations and export each sample
    for ``target`` into ``out_dir/sample_<size>``; smallest sample first."""
    order = sorted({int(s) for s in sizes})
    samples = sample_functions_nested(Workload.from_trace(trace, "invocations"), order, seed=seed,
                                      tries=tries)
    return [SampleExport(samples[size], export(samples[size].workload, target,
                                               Path(out_dir) / f"sample_{size}")[0])
            for size in order]
