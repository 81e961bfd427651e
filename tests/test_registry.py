"""The reader registry: every built-in loads and describes itself; names fail with hints."""

from __future__ import annotations

import pytest

from workscope.errors import FormatDetectionError, UnknownFormatError
from workscope.ingest import registry
from workscope.ingest.reader import Reader
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


def test_docs_formats_md_is_current() -> None:
    from pathlib import Path

    doc = Path(__file__).parent.parent / "docs" / "formats.md"
    assert doc.read_text() == registry.formats_markdown(), (
        "docs/formats.md is stale: run `workscope formats --markdown > docs/formats.md`")


def test_docs_tables_md_is_current() -> None:
    from pathlib import Path

    from workscope.schemas import tables_markdown

    doc = Path(__file__).parent.parent / "docs" / "tables.md"
    assert doc.read_text() == tables_markdown(), (
        "docs/tables.md is stale: run `workscope tables --markdown > docs/tables.md`")
    # every reason a rule can give is listed
    assert "`end_s is before start_s`" in doc.read_text()
    assert "`latency_s is NaN`" in doc.read_text() and "`input_tokens is NaN`" not in doc.read_text()
