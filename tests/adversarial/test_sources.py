"""Sources counted twice (issue 14, class 7): the same file given twice, a symlink to a file
already listed, a folder plus a file or folder inside it once doubled the rows. Each file is
now read once, and the manifest says which paths were left out and why."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import workscope
from tests.conftest import SAMPLES, reconciles

CONV = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv"
CODE = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv"
CONV_ROWS, CODE_ROWS = 19366, 8819


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "azure"
    (d / "sub").mkdir(parents=True)
    shutil.copy(CONV, d / "conv.csv")
    shutil.copy(CODE, d / "sub" / "code.csv")
    (d / "link.csv").symlink_to(d / "conv.csv")
    return d


def _ingest(tmp_path: Path, paths: list[Path]) -> dict:
    return workscope.open(tmp_path / "s").ingest(paths, format="azure_llm", name="t", force=True).manifest


@pytest.mark.parametrize(("given", "rows", "dropped"), [
    (lambda d: [d / "conv.csv", d / "conv.csv"], CONV_ROWS, 1),
    (lambda d: [d / "conv.csv", d / "link.csv"], CONV_ROWS, 1),
    (lambda d: [d / "conv.csv", d / ".." / "azure" / "conv.csv"], CONV_ROWS, 1),
    (lambda d: [d / "sub", d / "sub" / "code.csv"], CODE_ROWS, 1),
    (lambda d: [d / "sub" / "code.csv", d / "sub"], CODE_ROWS, 1),
    (lambda d: [d / "sub", d / "conv.csv"], CODE_ROWS + CONV_ROWS, 0),
])
def test_each_file_is_read_once(tmp_path: Path, folder: Path, given, rows: int, dropped: int) -> None:
    m = _ingest(tmp_path, given(folder))
    assert m["tables"]["requests"]["rows_ok"] == rows and reconciles(m)
    assert len(m["meta"].get("duplicate_sources", [])) == dropped
    assert len(m["sources"]) == (2 if rows == CODE_ROWS + CONV_ROWS else 1)
    assert workscope.scan(given(folder), format="azure_llm")["requests"].collect().height == rows


def test_a_folder_and_everything_in_it(tmp_path: Path, folder: Path) -> None:
    """The folder is read whole, each file once (the symlink beside conv.csv is a second
    route to it); the named file and subfolder inside add nothing."""
    alone = _ingest(tmp_path, [folder])
    assert alone["tables"]["requests"]["rows_ok"] == CONV_ROWS + CODE_ROWS
    assert alone["meta"]["skipped_files"] == [str(folder / "link.csv")]
    m = _ingest(tmp_path, [folder, folder / "conv.csv", folder / "sub"])
    assert m["tables"]["requests"]["rows_ok"] == CONV_ROWS + CODE_ROWS
    assert [line.split(":")[1].strip() for line in m["meta"]["duplicate_sources"]] == [
        f"inside the folder {folder.resolve()}, which is read whole"] * 2


def test_repeats_do_not_change_the_content_key(tmp_path: Path, folder: Path) -> None:
    store = workscope.open(tmp_path / "s")
    store.ingest(folder / "conv.csv", format="azure_llm", name="t")
    again = store.ingest([folder / "conv.csv", folder / "link.csv"], format="azure_llm", name="t")
    assert again.status == "unchanged"
