"""Shared fixtures: a fresh store per test, and the path of tests/data."""

from __future__ import annotations

from pathlib import Path

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
