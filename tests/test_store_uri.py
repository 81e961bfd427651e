"""A store given as a file:// URI (the form Spark and fsspec take) is the same store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import workscope
from workscope.cli import app
from workscope.errors import UsageError
from workscope.samples import SAMPLES


def test_file_uri_opens_the_same_store(tmp_path: Path) -> None:
    home = tmp_path / "my store"  # a space: percent-encoded in the URI
    store = workscope.open(home)
    s = next(s for s in SAMPLES if s.name == "nasa_ipsc")
    store.ingest(s.paths(), format=s.format, name=s.name, options=s.options)
    uri = home.resolve().as_uri()
    assert "%20" in uri
    again = workscope.open(uri)
    assert again.home == home.resolve() and again.names() == store.names()
    assert again.trace("nasa_ipsc").read("jobs").height == store.trace("nasa_ipsc").read("jobs").height
    r = CliRunner().invoke(app, ["ls", "--home", uri, "--json"])
    assert r.exit_code == 0, r.output
    assert "nasa_ipsc" in {t["name"] for t in json.loads(r.stdout)["traces"]}


def test_a_file_uri_of_another_host_is_refused() -> None:
    with pytest.raises(UsageError, match="path of this machine"):
        workscope.open("file://otherhost/store")
