"""The bad-input corpus: every case ingests with its bad rows in rejects, or fails cleanly.

Cases live in tests/data/bad/<format>/cases.toml (see the README there). A failing case must
raise a DataError naming the file, exit 1 from the CLI with one line and no traceback, and
leave no trace in the store. An ingesting case must reconcile rows_in = ok + rejected.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import workscope
from workscope.cli import app
from workscope.errors import DataError

BAD = Path(__file__).parent / "data" / "bad"


def _cases() -> list[Any]:
    out = []
    for toml in sorted(BAD.glob("*/cases.toml")):
        for case in tomllib.loads(toml.read_text())["case"]:
            out.append(pytest.param(toml.parent, case, id=f"{toml.parent.name}/{case['file']}"))
    return out


CASES = _cases()


def _options(folder: Path, case: dict[str, Any]) -> dict[str, Any]:
    opts = dict(case.get("options", {}))
    if "mapping" in opts:
        opts["mapping"] = str(folder / opts["mapping"])
    return opts


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30
    files = {(c.values[0].name, c.values[1]["file"]) for c in CASES}
    assert len(files) == len(CASES)
    for c in CASES:
        assert (c.values[0] / c.values[1]["file"]).exists(), c.id


def test_every_bad_file_has_a_case() -> None:
    for folder in sorted(p for p in BAD.iterdir() if p.is_dir()):
        cases = tomllib.loads((folder / "cases.toml").read_text())["case"]
        used = {c["file"].split("/")[0] for c in cases}
        used |= {c.get("options", {}).get("mapping") for c in cases} - {None}
        present = {p.name for p in folder.iterdir()} - {"cases.toml"}
        orphans = {n for n in present - used if not n.endswith(".md")}
        assert not orphans, f"{folder.name}: files without a case in cases.toml: {sorted(orphans)}"


@pytest.mark.parametrize(("folder", "case"), CASES)
def test_bad_input_case(tmp_path: Path, folder: Path, case: dict[str, Any]) -> None:
    path = folder / case["file"]
    store = workscope.open(tmp_path / "store")
    opts = _options(folder, case)
    if case["expect"] == "error":
        with pytest.raises(DataError) as info:
            store.ingest(path, format=case["format"], name="t", options=opts)
        msg = str(info.value)
        assert case["message"] in msg
        assert path.name in msg or folder.name in msg, "the error must name the file"
        assert store.names() == []
        # the CLI: exit 1, one line on stderr, no traceback, nothing on stdout
        args = ["ingest", str(path), "--format", case["format"], "--home", str(tmp_path / "cli"), "-q"]
        for k, v in opts.items():
            args += ["--option", f"{k}={v}"]
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 1, r.output
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
        assert r.stdout == ""
        assert workscope.open(tmp_path / "cli").names() == []
    else:
        m = store.ingest(path, format=case["format"], name="t", options=opts).manifest
        ok = sum(t["rows_ok"] for t in m["tables"].values())
        rej = sum(t["rows_rejected"] for t in m["tables"].values())
        assert (ok, rej) == (case["rows_ok"], case["rows_rejected"])
        for t in m["tables"].values():
            assert t["rows_in"] == t["rows_ok"] + t["rows_rejected"]
        rejects = store.trace("t").rejects().collect()
        assert rejects.height == rej
        if rej:
            assert rejects["line"].null_count() == 0 or case.get("lines_optional", False)
            assert rejects["raw"].null_count() == 0 and rejects["reason"].null_count() == 0
        if "reason" in case:
            assert rejects["reason"].str.contains(case["reason"], literal=True).any()
