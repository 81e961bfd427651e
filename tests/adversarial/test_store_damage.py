"""One damaged trace must not break the store (issue 14, hardening).

A truncated or deleted Parquet file, a stray file, or a bad, missing or invalid-JSON manifest
in one trace used to make `workscope sql` over another trace crash and `workscope ls` fail.
Now damage stays local: `ls` lists the damaged trace with what is wrong, queries over the
other traces work, and `workscope check` verifies each trace's files against its manifest.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import workscope
from tests.conftest import SAMPLES
from workscope.cli import app
from workscope.errors import StoreError, TraceNotFoundError

CONV = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv"
CODE = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv"


def cli(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with two good traces, built once and copied by each test."""
    home = tmp_path_factory.mktemp("pristine") / "s"
    store = workscope.open(home)
    store.ingest(CONV, format="azure_llm", name="good")
    store.ingest(CODE, format="azure_llm", name="bad")
    return home


@pytest.fixture
def home(pristine: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "s"
    shutil.copytree(pristine, dst, symlinks=True)
    return dst


def _gen(home: Path, name: str = "bad") -> Path:
    with workscope.open(home).trace(name) as t:
        return t.path


def truncate_parquet(home: Path) -> str:
    part = _gen(home) / "requests" / "part-00000.parquet"
    with open(part, "r+b") as fh:
        fh.truncate(part.stat().st_size // 2)
    return "requests/part-00000.parquet is truncated"


def delete_parquet(home: Path) -> str:
    (_gen(home) / "requests" / "part-00000.parquet").unlink()
    return "requests/part-00000.parquet is missing"


def corrupt_manifest(home: Path) -> str:
    (home / "traces" / "bad" / "manifest.json").write_text('{"tables": {"requests": ')
    return "manifest.json is not valid JSON"


def manifest_not_an_object(home: Path) -> str:
    (home / "traces" / "bad" / "manifest.json").write_text("[1, 2, 3]")
    return "manifest.json lacks its 'tables' section"


def delete_manifest(home: Path) -> str:
    (home / "traces" / "bad" / "manifest.json").unlink()
    return "manifest.json is missing"


def stray_file(home: Path) -> str:
    shutil.copy(_gen(home, "good") / "requests" / "part-00000.parquet", _gen(home) / "requests" / "part-00099.parquet")
    return "requests/part-00099.parquet is an extra file"


DAMAGE: dict[str, Callable[[Path], str]] = {
    "truncated parquet": truncate_parquet,
    "deleted parquet": delete_parquet,
    "invalid JSON manifest": corrupt_manifest,
    "manifest not an object": manifest_not_an_object,
    "deleted manifest": delete_manifest,
    "stray extra file": stray_file,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damage_is_reported_for_that_trace_only_library(home: Path, damage: str) -> None:
    expected = DAMAGE[damage](home)
    store = workscope.open(home)
    assert store.names() == ["bad", "good"]

    cat = {r["name"]: r for r in store.catalog().to_dicts()}
    assert cat["good"]["status"] == "ok" and cat["good"]["rows"] == 19366
    assert cat["bad"]["status"].startswith("damaged: ") and expected in cat["bad"]["status"]

    report = store.check()
    assert not report.ok
    by_name = {t.name: t for t in report.traces}
    assert by_name["good"].ok and by_name["good"].problems == []
    assert any(expected in p for p in by_name["bad"].problems), by_name["bad"].problems
    assert store.check(["good"]).ok

    assert store.trace("good").sql("SELECT count(*) AS n FROM requests")["n"][0] == 19366
    from workscope.engine import DuckDBEngine

    eng = DuckDBEngine()
    skipped = eng.register_store(store)
    assert list(skipped) == ["bad"]
    assert eng.sql_polars("SELECT count(*) AS n FROM good.requests")["n"][0] == 19366


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damage_is_reported_for_that_trace_only_cli(home: Path, damage: str) -> None:
    expected = DAMAGE[damage](home)
    code, out, _ = cli("ls", "--home", str(home), "--json")
    assert code == 0
    status = {t["name"]: t["status"] for t in json.loads(out)["traces"]}
    assert status["good"] == "ok" and expected in status["bad"]

    code, out, err = cli("sql", "SELECT count(*) AS n FROM good.requests", "--home", str(home), "--json")
    assert code == 0, err
    assert json.loads(out)["rows"] == [{"n": 19366}]

    code, out, _ = cli("check", "--home", str(home), "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["ok"] is False
    traces = {t["name"]: t for t in doc["traces"]}
    assert traces["good"]["ok"] is True and traces["good"]["problems"] == []
    assert any(expected in p for p in traces["bad"]["problems"])

    code, out, _ = cli("check", "good", "--home", str(home), "--json")
    assert code == 0 and json.loads(out)["ok"] is True

    code, out, err = cli("check", "--home", str(home))
    assert code == 1 and "damaged" in out and "workscope rm" in err


@pytest.mark.parametrize("damage", ["truncated parquet", "invalid JSON manifest", "deleted manifest"])
def test_a_query_on_the_damaged_trace_names_the_damage(home: Path, damage: str) -> None:
    DAMAGE[damage](home)
    code, out, _ = cli("sql", "SELECT count(*) FROM bad.requests", "--home", str(home), "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["type"] == "StoreError" and "'bad'" in doc["error"] and "workscope check bad" in doc["error"]
    assert doc["exit_code"] == 1
    code, out, err = cli("sql", "SELECT count(*) FROM requests", "--trace", "bad", "--home", str(home))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "error:" in err and "damaged" in err


def test_truncated_file_is_a_store_error_for_the_library_reader(home: Path) -> None:
    truncate_parquet(home)
    with pytest.raises(StoreError, match="'bad' is damaged"):
        workscope.open(home).trace("bad").sql("SELECT count(*) FROM requests")


def test_show_of_a_damaged_manifest_is_one_clear_error(home: Path) -> None:
    corrupt_manifest(home)
    code, out, err = cli("show", "bad", "--home", str(home))
    assert code == 1 and out == "" and "not valid JSON" in err and "workscope rm bad" in err and "Traceback" not in err


def test_row_count_mismatch_is_found(home: Path) -> None:
    m = home / "traces" / "bad" / "manifest.json"
    doc = json.loads(m.read_text())
    doc["tables"]["requests"]["rows_ok"] += 1
    doc["tables"]["requests"]["rows_rejected"] = 7
    m.write_text(json.dumps(doc))
    (problems,) = [t.problems for t in workscope.open(home).check(["bad"]).traces]
    assert "requests: 8,819 rows in its files, the manifest says rows_ok = 8,820" in problems
    assert "requests: 0 rejected rows in its files, the manifest says rows_rejected = 7" in problems
    assert workscope.open(home).check(["good"]).ok


def test_a_stray_file_is_not_read_by_queries(home: Path) -> None:
    stray_file(home)
    with workscope.open(home).trace("bad") as t:
        assert t.read("requests").height == 8819


def test_check_of_an_unknown_trace_is_a_usage_error(home: Path) -> None:
    with pytest.raises(TraceNotFoundError):
        workscope.open(home).check(["nope"])
    code, out, _ = cli("check", "nope", "--home", str(home), "--json")
    assert code == 2 and json.loads(out)["type"] == "TraceNotFoundError"


def test_damaged_traces_can_be_removed_and_replaced(home: Path) -> None:
    delete_manifest(home)
    code, _, err = cli("ingest", str(CODE), "--format", "azure_llm", "--name", "bad", "--home", str(home), "-q")
    assert code == 1 and "manifest.json is missing" in err and "workscope rm bad" in err
    code, _, err = cli("ingest", str(CODE), "--format", "azure_llm", "--name", "bad", "--force",
                       "--home", str(home), "-q")
    assert code == 0, err
    assert workscope.open(home).check().ok
    corrupt_manifest(home)
    code, _, _ = cli("rm", "bad", "--home", str(home), "--yes")
    assert code == 0 and workscope.open(home).names() == ["good"]


def _to_legacy(home: Path, name: str) -> None:
    """Rewrite a trace in the layout before generations: manifest and tables in traces/<name>."""
    d = home / "traces" / name
    gen = d / os.readlink(d / "manifest.json")
    gen = gen.parent
    (d / "manifest.json").unlink()
    for e in gen.iterdir():
        if e.name in (".lock", ".inventory.json"):
            e.unlink()
        else:
            os.rename(e, d / e.name)
    gen.rmdir()


def test_stores_written_before_generations_still_work(home: Path) -> None:
    _to_legacy(home, "bad")
    store = workscope.open(home)
    assert store.check().ok
    assert {r["name"]: r["status"] for r in store.catalog().to_dicts()} == {"bad": "ok", "good": "ok"}
    with store.trace("bad") as t:
        assert t.generation is None and t.read("requests").height == 8819
    (home / "traces" / "bad" / "requests" / "part-00000.parquet").unlink()
    (problems,) = [t.problems for t in store.check(["bad"]).traces]
    assert "requests/ holds 0 Parquet files, the manifest says 1" in problems
    code, out, _ = cli("sql", "SELECT count(*) AS n FROM good.requests", "--home", str(home), "--json")
    assert code == 0 and json.loads(out)["rows"] == [{"n": 19366}]


def test_replacing_an_old_layout_trace_moves_it_to_generations(home: Path) -> None:
    _to_legacy(home, "bad")
    store = workscope.open(home)
    old = store.trace("bad")
    assert old.read("requests").height == 8819
    untouched = store.trace("bad")  # its manifest is not asked for before the replace
    assert store.ingest(CONV, format="azure_llm", name="bad", force=True).status == "replaced"
    # the old tables stay while a reader holds them, and go once it is done
    assert old.read("requests").height == 8819
    assert untouched.manifest["tables"]["requests"]["rows_ok"] == 8819 == untouched.read("requests").height
    untouched.close()
    assert (home / "traces" / "bad" / "requests").is_dir()
    old.close()
    reopened = workscope.open(home)
    assert sorted(p.name for p in (home / "traces" / "bad").iterdir() if not p.name.startswith("g-")) == [
        "manifest.json"]
    assert reopened.trace("bad").read("requests").height == 19366
    assert reopened.check().ok
