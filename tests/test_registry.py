"""The reader registry: every built-in loads and describes itself; names fail with hints."""

from __future__ import annotations

import pytest

from workscope.errors import FormatDetectionError, UnknownFormatError
from workscope.ingest import registry
from workscope.ingest.base import Reader
from workscope.schemas import TABLES


@pytest.mark.parametrize("name", list(registry.BUILTIN))
def test_builtin_reader_loads(name: str) -> None:
    r = registry.get(name)
    assert isinstance(r, Reader) and r.name == name
    assert r.description and r.version
    assert r.tables and set(r.tables) <= set(TABLES)
    assert r.__class__.__doc__ and (r.__class__.__module__ and __import__(r.__class__.__module__).__doc__ is not None)
    d = r.describe()
    assert d["name"] == name and d["tables"] == list(r.tables)


def test_unknown_name_suggests() -> None:
    with pytest.raises(UnknownFormatError, match="did you mean 'swf'"):
        registry.get("swff")


def test_detect_rejects_unknown_content(tmp_path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("foo,bar\n1,2\n")
    with pytest.raises(FormatDetectionError, match="--format"):
        registry.detect([f])
