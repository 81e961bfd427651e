"""Shared by the predictor CLI tests: a store holding the PlanetLab slice as trace ``pl``,
and a helper that runs a command with ``--json`` and parses its output."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import workscope
from tests.conftest import DATA
from workscope.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> str:
    h = tmp_path_factory.mktemp("predict-cli") / "store"
    workscope.open(h).ingest(DATA / "planetlab" / "20110303", format="planetlab", name="pl")
    return str(h)


def invoke(*args: str) -> dict:
    """Run ``workscope *args --json``; it must exit 0 and print one JSON document."""
    r = runner.invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)
