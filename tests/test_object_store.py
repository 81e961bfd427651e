"""Stores at a URL (s3://, memory://: any fsspec file system) and stores in the object layout.

A trace in such a store reads the same as one in a local store: same manifest, same rows in
the same order, same rejects, same SQL results, on DuckDB and on Spark. S3 is a real S3 API
(moto's server) reached through s3fs; Spark ingests into it with its tasks uploading their
parts. Commits are ordered writes (``CURRENT.json`` last), snapshots are kept by retention.
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import polars as pl
import pytest
from typer.testing import CliRunner

import workscope
from tests.conftest import close
from workscope.cli import app
from workscope.engine import DuckDBEngine
from workscope.errors import StoreError, TraceExistsError, UsageError
from workscope.objectstore import CURRENT, LAYOUT_FILE
from workscope.samples import SAMPLES

DATA = Path(__file__).parent / "data"
CONV = next(s for s in SAMPLES if s.name == "azure_llm_conv")


def _ingest(store: workscope.Store, name: str = "conv", **kw: Any) -> workscope.IngestResult:
    return store.ingest(CONV.paths(), format=CONV.format, name=name, options=CONV.options, **kw)


def _same(a: workscope.Trace, b: workscope.Trace) -> None:
    """Same manifest (but its creation time), tables and rejects, row for row."""
    ma, mb = dict(a.manifest), dict(b.manifest)
    ma.pop("created_utc"), mb.pop("created_utc")
    assert ma == mb
    for table in a.tables:
        assert a.read(table).equals(b.read(table)), table
    assert a.rejects().collect().equals(b.rejects().collect())


@pytest.fixture
def mem_home() -> Iterator[str]:
    """A fresh store URL on fsspec's in-memory file system (shared within this process)."""
    root = f"ws-{uuid.uuid4().hex[:8]}"
    yield f"memory://{root}"
    mem = fsspec.filesystem("memory")
    if mem.exists(f"/{root}"):
        mem.rm(f"/{root}", recursive=True)


@pytest.fixture
def here(tmp_path: Path) -> workscope.Store:
    """A local store with the sample ingested, to compare against."""
    s = workscope.open(tmp_path / "here")
    _ingest(s)
    return s


def test_a_store_at_a_url_reads_as_a_local_one(here: workscope.Store, mem_home: str) -> None:
    store = workscope.open(mem_home)
    assert store.layout == "object" and store.names() == []
    assert _ingest(store).status == "created"
    assert store.names() == ["conv"]
    t = store.trace("conv")
    _same(here.trace("conv"), t)
    assert all(f.startswith("memory://") and f.endswith(".parquet") for f in t.files("requests"))
    q = "SELECT count(*) AS n, sum(input_tokens) AS i, max(arrival_s) AS last FROM requests"
    assert t.sql(q).equals(here.trace("conv").sql(q))
    row = store.catalog().row(0, named=True)
    assert (row["status"], row["rows"], row["rejected"]) == ("ok", 19366, 0)
    assert row["bytes"] == sum(v for k, v in store.object.listing(t._root).items() if k.endswith(".parquet"))
    assert store.check().ok
    runner = CliRunner()
    profiles = [json.loads(runner.invoke(app, ["characterize", "conv", "--json", "--home", h]).stdout)
                for h in (mem_home, here.location)]
    # DuckDB sums floats on several threads, in no fixed order: compared as the parity tests do
    diffs: list[str] = []
    close(profiles[0], profiles[1], "profile", diffs)
    assert not diffs and profiles[0]["results"], diffs[:5]
    assert _ingest(store).status == "unchanged"
    with pytest.raises(TraceExistsError):
        store.ingest(DATA / "burstgpt", format="burstgpt", name="conv")


def test_a_reader_keeps_its_generation_through_a_replace(mem_home: str) -> None:
    store = workscope.open(mem_home)
    _ingest(store, name="t")
    old = store.trace("t")
    rows = old.read("requests").height
    assert store.ingest(DATA / "burstgpt", format="burstgpt", name="t", force=True).status == "replaced"
    new = store.trace("t")
    assert new.generation != old.generation
    assert old.read("requests").height == rows != new.read("requests").height  # the snapshot holds
    doc = store.object.current("t")
    assert [s["generation"] for s in doc["superseded"]] == [old.generation]
    # once the retention has passed, the next commit deletes what it replaced
    quick = workscope.Store(mem_home, retain_s=0)
    _ingest(quick, name="t", force=True)
    gens = {k.split("/")[0] for k in quick.object.listing(quick.object.trace_dir("t")) if k.startswith("g-")}
    assert gens == {quick.trace("t").generation}
    assert quick.object.current("t")["superseded"] == []


def test_orphans_are_deleted_once_old(tmp_path: Path) -> None:
    home = tmp_path / "st"
    store = workscope.open(home, layout="object")
    _ingest(store, name="t")
    tdir = home / "traces" / "t"
    scratch = home / ".staging"
    for folder, age in ((tdir / "g-killedupload", 7200), (tdir / "g-stilluploading", 0),
                        (scratch / "workscope-t-killeddriver", 7200), (scratch / "workscope-t-running", 0)):
        (folder / "requests").mkdir(parents=True)
        part = folder / "requests" / "part-00000.parquet"
        part.write_bytes(b"PAR1")
        os.utime(part, (time.time() - age, time.time() - age))
    _ingest(store, name="t", force=True)
    left = sorted(p.name for p in tdir.iterdir() if p.name.startswith("g-"))
    assert "g-killedupload" not in left and "g-stilluploading" in left
    assert [p.name for p in scratch.iterdir()] == ["workscope-t-running"]
    assert len(left) == 3  # the current generation, the one it replaced (retained), the fresh upload
    assert store.check().ok


def test_the_layout_is_recorded_and_kept(tmp_path: Path) -> None:
    home = tmp_path / "st [v1]"  # glob characters: the listing of traces must not read "st v"
    _ingest(workscope.open(tmp_path / "st v", layout="object"), name="decoy")
    _ingest(workscope.open(home, layout="object"))
    assert json.loads((home / LAYOUT_FILE).read_text())["layout"] == "object"
    again = workscope.open(home)
    assert again.layout == "object" and again.names() == ["conv"]
    assert not (home / "traces" / "conv" / "manifest.json").exists()  # no symlinks
    with pytest.raises(UsageError, match="object layout"):
        workscope.open(home, layout="local")
    local = tmp_path / "local"
    _ingest(workscope.open(local))
    with pytest.raises(UsageError, match="local layout"):
        workscope.open(local, layout="object")
    with pytest.raises(UsageError, match="unknown store layout"):
        workscope.open(local, layout="cloud")


def test_a_damaged_pointer_is_named(tmp_path: Path) -> None:
    home = tmp_path / "st"
    store = workscope.open(home, layout="object")
    _ingest(store)
    (home / "traces" / "conv" / CURRENT).write_text("{not json")
    with pytest.raises(StoreError, match=r"CURRENT\.json.*workscope rm conv"):
        store.trace("conv")
    store.remove("conv")
    assert store.names() == [] and not (home / "traces" / "conv").exists()


def test_the_cli_on_a_store_at_a_url(here: workscope.Store, mem_home: str) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["ingest", str(DATA / "burstgpt"), "--format", "burstgpt", "--name", "b",
                            "--home", mem_home, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["status"] == "created"
    r = runner.invoke(app, ["sql", "SELECT count(*) AS n FROM b.requests", "--home", mem_home, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rows"] == [{"n": workscope.open(mem_home).trace("b").read("requests").height}]
    r = runner.invoke(app, ["check", "--home", mem_home, "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["ok"] is True
    r = runner.invoke(app, ["rm", "b", "--yes", "--home", mem_home])
    assert r.exit_code == 0, r.output
    assert workscope.open(mem_home).names() == []


@pytest.mark.parametrize(("uri", "code", "says"), [
    ("hdfs://nn:8020/store", 2, "libhdfs"),
    ("nosuchfs://bucket/store", 2, "no file system for nosuchfs://"),
    ("file://otherhost/store", 2, "path of this machine"),
])
def test_a_store_url_that_cannot_be_opened_says_why(uri: str, code: int, says: str) -> None:
    r = CliRunner().invoke(app, ["ls", "--home", uri])
    assert r.exit_code == code and says in r.stderr, r.output


# ---------------------------------------------------------------------------- S3 (moto's server)

@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, Any]]:
    """A bucket on a local S3 server; the storage options that reach it."""
    moto_server = pytest.importorskip("moto.server")
    pytest.importorskip("s3fs")
    server = moto_server.ThreadedMotoServer(port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    opts = {"endpoint_url": f"http://{host}:{port}", "key": "testing", "secret": "testing"}
    fs = fsspec.filesystem("s3", **opts)
    fs.mkdir("ws-bucket")
    yield opts
    server.stop()


@pytest.mark.parametrize("scheme", ["s3", "s3a"])
def test_an_s3_store(here: workscope.Store, s3: dict[str, Any], scheme: str) -> None:
    url = f"{scheme}://ws-bucket/{uuid.uuid4().hex[:8]}"
    store = workscope.open(url, storage_options=s3)
    _ingest(store)
    t = store.trace("conv")
    _same(here.trace("conv"), t)
    assert t.path.startswith(f"{url}/traces/conv/g-")
    eng = DuckDBEngine()
    eng.register_store(store, default="conv")
    eng.read_only()  # the store's files stay readable, nothing else
    assert eng.query("SELECT count(*) AS n FROM conv.requests").to_pylist() == [{"n": 19366}]
    fs, root = store.object.fs, t._root
    # the age of a generation, from S3's listing (LastModified), decides what a sweep deletes
    assert store.object._older_than(root, time.time() + 60)
    assert not store.object._older_than(root, time.time() - 3600)
    part = posixpath.join(root, "requests", "part-00000.parquet")
    data = fs.cat_file(part)
    fs.pipe_file(part, data[: len(data) // 2])
    problems = store.trace("conv").check().problems
    assert any("part-00000.parquet is truncated" in p for p in problems), problems
    fs.rm(part)
    assert "requests/part-00000.parquet is missing" in store.trace("conv").check().problems
    store.remove("conv")
    assert store.names() == [] and not fs.exists(store.object.trace_dir("conv"))


def test_an_s3_store_the_environment_points_at(here: workscope.Store, s3: dict[str, Any],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3["endpoint_url"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3["secret"])
    url = f"s3://ws-bucket/{uuid.uuid4().hex[:8]}"
    r = CliRunner().invoke(app, ["ingest", *map(str, CONV.paths()), "--format", CONV.format, "--name", "conv",
                                 "--home", url, "--json"])
    assert r.exit_code == 0, r.output
    _same(here.trace("conv"), workscope.open(url).trace("conv"))


def test_an_unreachable_store_says_what_to_check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytest.importorskip("s3fs")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    r = CliRunner().invoke(app, ["ls", "--home", "s3://ws-nobucket/store"])
    assert r.exit_code == 1 and "the store cannot be read" in r.stderr and "credentials" in r.stderr, r.output


# ---------------------------------------------------------------------------- Spark

@pytest.fixture(scope="module")
def spark_engine() -> Any:
    pytest.importorskip("pyspark")
    from workscope.spark import SparkEngine

    return SparkEngine("local[2]")


def test_spark_tasks_upload_their_parts_to_s3(here: workscope.Store, s3: dict[str, Any], spark_engine: Any) -> None:
    ref = workscope.open(here.home.parent / "two")
    ref.ingest(DATA / "azure_llm_2023", format="azure_llm", name="llm")
    url = f"s3://ws-bucket/{uuid.uuid4().hex[:8]}"
    store = workscope.open(url, storage_options=s3)
    r = store.ingest(DATA / "azure_llm_2023", format="azure_llm", name="llm", engine=spark_engine)
    assert r.status == "created"
    _same(ref.trace("llm"), store.trace("llm"))
    assert store.check().ok
    listed = store.object.listing(store.object.root)
    assert not [k for k in listed if k.startswith(".staging/")]  # the tasks' scratch is gone
    assert sorted(k.split("/", 3)[3] for k in listed if k.startswith("traces/llm/g-")) == [
        ".inventory.json", "manifest.json", "rejects/requests-00000.parquet", "rejects/requests-00001.parquet",
        "requests/part-00000.parquet", "requests/part-00001.parquet"]


def test_spark_reads_a_store_in_the_object_layout(here: workscope.Store, tmp_path: Path,
                                                  spark_engine: Any) -> None:
    store = workscope.open((tmp_path / "obj").resolve().as_uri(), layout="object")
    assert _ingest(store, engine=spark_engine).status == "created"
    _same(here.trace("conv"), store.trace("conv"))
    q = ("SELECT count(*) AS n, sum(input_tokens) AS i, min(arrival_s) AS a, max(output_tokens) AS o "
         "FROM requests")
    spark_engine.register_trace(store.trace("conv"), default=True)
    got = pl.from_arrow(spark_engine.query(q))
    assert got.to_dicts() == here.trace("conv").sql(q).to_dicts()


def _raced_commit(store: workscope.Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commit a second build of the new name "conv" as a writer that looked before the first
    writer's commit (it saw no trace): the exclusive first CURRENT.json must refuse it."""
    other = workscope.open(tmp_path / "other")
    _ingest(other, name="conv")
    build = tmp_path / "build"
    shutil.copytree(other.trace("conv").path, build, ignore=shutil.ignore_patterns(".lock", ".inventory.json"))
    monkeypatch.setattr(type(store.object), "current", lambda self, name: None)
    with pytest.raises(TraceExistsError):
        store.commit("conv", build)
    monkeypatch.undo()


@pytest.mark.parametrize("where", ["memory", "local", "s3"])
def test_of_two_writers_of_a_new_name_one_creates_it(where: str, tmp_path: Path, mem_home: str,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       request: pytest.FixtureRequest) -> None:
    if where == "memory":
        store = workscope.open(mem_home)
    elif where == "local":
        store = workscope.open(tmp_path / "st", layout="object")
    else:
        s3 = request.getfixturevalue("s3")
        store = workscope.open(f"s3://ws-bucket/{uuid.uuid4().hex[:8]}", storage_options=s3)
    _ingest(store)
    first = store.trace("conv").generation
    _raced_commit(store, tmp_path, monkeypatch)
    assert store.trace("conv").generation == first  # the first writer's trace stands
    gens = {k.split("/")[0] for k in store.object.listing(store.object.trace_dir("conv")) if k.startswith("g-")}
    assert gens == {first}  # the loser's upload is gone
    assert store.check().ok
