"""The exporter registry: target names to exporters, explicit built-ins, "did you mean"."""

from __future__ import annotations

import importlib

from workscope.errors import UnknownNameError
from workscope.replay.exporters.base import Exporter

BUILTIN: dict[str, str] = {
    # LLM serving benchmarks and simulators
    "vllm_timed": "workscope.replay.exporters.vllm",
    "vllm_custom": "workscope.replay.exporters.vllm",
    "sglang_mooncake": "workscope.replay.exporters.sglang",
    "aiperf": "workscope.replay.exporters.aiperf",
    "guidellm": "workscope.replay.exporters.guidellm",
    "vidur": "workscope.replay.exporters.vidur",
    "burstgpt": "workscope.replay.exporters.burstgpt",
    # serverless, HPC, cluster
    "invitro": "workscope.replay.exporters.invitro",
    "swf": "workscope.replay.exporters.swf",
    "batsim": "workscope.replay.exporters.batsim",
    "kubernetes": "workscope.replay.exporters.kubernetes",
    "openb": "workscope.replay.exporters.openb",
    "opendc": "workscope.replay.exporters.opendc",
    # workscope's own
    "parquet": "workscope.replay.exporters.parquet",
}


def names() -> list[str]:
    """Every target name."""
    return list(BUILTIN)


def get(name: str) -> Exporter:
    """The exporter for target ``name``; UnknownNameError with close names if none."""
    if name not in BUILTIN:
        raise UnknownNameError("replay target", name, BUILTIN)
    return importlib.import_module(BUILTIN[name]).EXPORTERS[name]


def targets_markdown() -> str:
    """Reference of every replay target as Markdown (docs/targets.md is this text)."""
    from workscope.refdoc import reference_markdown

    return reference_markdown("Replay targets", "workscope replay targets --markdown", "Workloads",
                              [(get(n), BUILTIN[n]) for n in BUILTIN])
