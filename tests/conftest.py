"""Shared fixtures: a fresh store per test, and the path of tests/data."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import workscope

DATA = Path(__file__).parent / "data"
SAMPLES = Path(__file__).parent.parent / "workscope" / "samples"


@pytest.fixture
def data_dir() -> Path:
    """tests/data (real slices with their licences, and hand-made fixtures)."""
    return DATA


@pytest.fixture
def store(tmp_path: Path) -> workscope.Store:
    """An empty store in a temporary directory."""
    return workscope.open(tmp_path / "store")


def reconciles(manifest: dict) -> bool:
    """rows_in = rows_ok + rows_rejected for every table of a manifest."""
    return all(t["rows_in"] == t["rows_ok"] + t["rows_rejected"] for t in manifest["tables"].values())


REL = 1e-9
"""How close two engines' (or two runs') floats must be: DuckDB and Spark sum floats on
several threads, in no fixed order."""


def close(a: Any, b: Any, where: str, out: list[str]) -> None:
    """Append to ``out`` where ``a`` and ``b`` (JSON-like: dicts, lists, scalars) differ:
    floats to :data:`REL`, everything else exactly."""
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None or isinstance(a, (str, bool)) or isinstance(b, (str, bool)):
            out.append(f"{where}: {a!r} != {b!r}")
        elif math.isnan(a) and math.isnan(b):
            return
        elif not math.isclose(a, b, rel_tol=REL, abs_tol=1e-12):
            out.append(f"{where}: {a!r} != {b!r}")
    elif isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            out.append(f"{where}: keys {sorted(set(a) ^ set(b))} on one side only")
        for k in set(a) & set(b):
            close(a[k], b[k], f"{where}.{k}", out)
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            out.append(f"{where}: {len(a)} items != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            close(x, y, f"{where}[{i}]", out)
    elif a != b:
        out.append(f"{where}: {a!r} != {b!r}")
