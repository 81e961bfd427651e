"""workscope_workload reader: workscope's own Parquet workloads (replay export / synth --to
parquet) read back into their canonical table, every value and the provenance kept."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import workscope
from tests.conftest import DATA, SAMPLES, reconciles
from workscope.cli import app
from workscope.errors import MissingColumnError, SourceError
from workscope.ingest import registry
from workscope.ingest.workscope_workload import META_KEY, READER, keeps_origin
from workscope.replay import transforms as tf
from workscope.replay.exporters import parquet as parquet_exporter
from workscope.replay.pipeline import TransformSpec, export
from workscope.replay.workload import Workload
from workscope.schemas import TABLES

FIXTURE = DATA / "workscope_workload" / "moon_rate2.parquet"


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> workscope.Store:
    store = workscope.open(tmp_path_factory.mktemp("wl") / "store")
    store.ingest(SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv", format="azure_llm", name="conv")
    store.ingest(DATA / "mooncake" / "synthetic_trace.jsonl", format="mooncake", name="moon")
    store.ingest(DATA / "swf" / "NASA-iPSC-1993-3.1-cln.head200.swf", format="swf", name="nasa")
    store.ingest(SAMPLES / "azure_functions_2021" / "Azure2021_200.csv", format="azure_functions_2021",
                 name="az21")
    return store


def _same_rows(a: pl.DataFrame, b: pl.DataFrame) -> None:
    """Every column of every row equal (nulls equal nulls, floats bit for bit)."""
    assert a.columns == b.columns
    assert a.height == b.height > 0
    for c in a.columns:
        assert a[c].to_list() == b[c].to_list(), c


def test_metadata_key_is_the_exporters() -> None:
    # the reader may not import the exporter, so the key is written twice: pin them together
    assert META_KEY == parquet_exporter.META_KEY


@pytest.mark.parametrize(("trace", "table"), [("conv", "requests"), ("moon", "requests"),
                                              ("nasa", "jobs"), ("az21", "invocations")])
def test_untransformed_round_trip_keeps_every_value(src: workscope.Store, tmp_path: Path,
                                                    trace: str, table: str) -> None:
    out = tmp_path / f"{trace}.parquet"
    result, _ = export(src.trace(trace), "parquet", out)
    res = src.ingest(out, name=f"{trace}_back")  # detected by sniffing
    m = res.manifest
    assert m["reader"]["name"] == "workscope_workload"
    assert list(m["tables"]) == [table]
    t = m["tables"][table]
    assert t["rows_in"] == t["rows_ok"] == result.rows == src.trace(trace).manifest["tables"][table]["rows_ok"]
    assert t["rows_rejected"] == 0 and reconciles(m)
    # the source rows in the workload's order (sorted by time, stable) against the rows read back
    want = src.trace(trace).scan(table).sort(TABLES[table].time_column, maintain_order=True).collect()
    _same_rows(want, src.trace(f"{trace}_back").read(table))
    meta = m["meta"]
    assert meta["source_trace"] == trace
    assert meta["source_content_key"] == src.trace(trace).manifest["content_key"]
    assert meta["transforms"] == []
    assert meta["workload_table"] == table and meta["workload_format_version"] == 1
    assert m["origin_utc"] == meta["origin_utc"] == src.trace(trace).manifest["origin_utc"]


def test_transformed_round_trip(src: workscope.Store, tmp_path: Path) -> None:
    out = tmp_path / "conv_half.parquet"
    spec = TransformSpec(window=(600.0, 1800.0), rate_scale=0.5, seed=7)
    result, _ = export(src.trace("conv"), "parquet", out, spec=spec)
    m = src.ingest(out, name="conv_half").manifest
    # the rows read back are exactly the rows the transforms produced
    wl = Workload.from_trace(src.trace("conv"))
    wl = tf.scale_rate(tf.window(wl, 600.0, 1800.0), 0.5, seed=7)
    want = wl.collect()
    got = src.trace("conv_half").read("requests")
    assert got.height == result.rows == m["tables"]["requests"]["rows_ok"]
    assert 0 < got.height < src.trace("conv").manifest["tables"]["requests"]["rows_ok"]
    _same_rows(want.select(TABLES["requests"].names), got)
    assert got["arrival_s"].min() >= 0.0 and got["arrival_s"].max() < 1200.0  # re-based window
    steps = m["meta"]["transforms"]
    assert [s["name"] for s in steps] == ["window", "scale_rate"]
    assert steps[0]["start_s"] == 600.0 and steps[1]["factor"] == 0.5 and steps[1]["seed"] == 7
    # a re-based window moves the time axis: the source origin no longer dates the rows
    assert m["origin_utc"] is None
    assert m["meta"]["source_origin_utc"] == src.trace("conv").manifest["origin_utc"] is not None


def test_fixture_superposed_copy(store: workscope.Store) -> None:
    m = store.ingest(FIXTURE, name="moon2").manifest
    assert m["reader"]["name"] == "workscope_workload"
    assert m["tables"]["requests"]["rows_ok"] == 600  # 300 source rows + one shifted copy
    assert m["meta"]["source_trace"] == "moon" and m["meta"]["hash_block_tokens"] == 512
    assert [s["name"] for s in m["meta"]["transforms"]] == ["scale_rate"]
    df = store.trace("moon2").read("requests")
    assert df["request_id"].null_count() == 600
    assert df["arrival_s"].is_sorted()


def test_synth_parquet_is_read_back(src: workscope.Store, tmp_path: Path) -> None:
    model = tmp_path / "conv.model.json"
    runner = CliRunner()
    home = str(src.home)
    r = runner.invoke(app, ["replay", "fit", "conv", "--out", str(model), "--home", home])
    assert r.exit_code == 0, r.output
    out = tmp_path / "synth.parquet"
    r = runner.invoke(app, ["replay", "synth", str(model), "--to", "parquet", "--out", str(out),
                            "--duration", "600", "--seed", "2", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["rows"]
    r = runner.invoke(app, ["ingest", str(out), "--name", "synth", "--home", home, "--json"])
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)["manifest"]
    assert m["reader"]["name"] == "workscope_workload"
    assert m["tables"]["requests"]["rows_ok"] == rows == pl.read_parquet(out).height
    assert m["meta"]["source_trace"] == "synthetic from conv"
    assert [s["name"] for s in m["meta"]["transforms"]] == ["synthesize"]
    assert m["origin_utc"] is None  # synthetic times count from no real instant
    _same_rows(pl.read_parquet(out), src.trace("synth").read("requests"))


def test_counts_workload_round_trip(tmp_path: Path, store: workscope.Store) -> None:
    df = pl.DataFrame({"window_start_s": [0.0, 60.0, 60.0], "window_s": [60.0, 60.0, 60.0],
                       "function_id": ["f", "f", "g"], "count": [3, 0, 7]})
    df = df.select([pl.col(c).cast(d) if c in df.columns else pl.lit(None, d).alias(c)
                    for c, d in TABLES["invocation_counts"].polars_schema.items()])
    wl = Workload("invocation_counts", df.lazy(), {"source_trace": "az19", "transforms": [],
                                                   "origin_utc": "2019-07-15T00:00:00+00:00"})
    out = tmp_path / "counts.parquet"
    parquet_exporter.ParquetExporter().write(wl, out, {})
    m = store.ingest(out, name="counts").manifest
    assert list(m["tables"]) == ["invocation_counts"]
    assert m["origin_utc"] == "2019-07-15T00:00:00+00:00"
    assert m["meta"]["origin_epoch_ns"] == 1_563_148_800 * 10**9
    _same_rows(df, store.trace("counts").read("invocation_counts"))


def test_sniff_only_workload_files(tmp_path: Path) -> None:
    assert READER.sniff(FIXTURE)
    plain = tmp_path / "plain.parquet"
    pl.DataFrame({"arrival_s": [1.0]}).write_parquet(plain)
    assert not READER.sniff(plain)
    assert not READER.sniff(DATA / "mooncake" / "synthetic_trace.jsonl")
    assert not READER.sniff(tmp_path)
    assert registry.detect([FIXTURE]).name == "workscope_workload"


def test_foreign_parquet_is_one_clear_error(store: workscope.Store, tmp_path: Path) -> None:
    plain = tmp_path / "plain.parquet"
    pl.DataFrame({"arrival_s": [1.0]}).write_parquet(plain)
    with pytest.raises(SourceError, match=r"plain\.parquet.*not a workscope workload file"):
        store.ingest(plain, format="workscope_workload", name="x")
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"PAR1 not really")
    with pytest.raises(SourceError, match=r"junk\.parquet.*not a readable Parquet file"):
        store.ingest(junk, format="workscope_workload", name="y")


def _rewrite(src_path: Path, out: Path, doc: dict | None = None, frame: pl.DataFrame | None = None) -> None:
    """A copy of a workload file with another header or other columns."""
    kv = pq.read_metadata(src_path).metadata
    text = json.dumps(doc) if doc is not None else kv[META_KEY.encode()].decode()
    (frame if frame is not None else pl.read_parquet(src_path)).write_parquet(out, metadata={META_KEY: text})


def test_damaged_header_and_columns(store: workscope.Store, tmp_path: Path) -> None:
    doc = json.loads(pq.read_metadata(FIXTURE).metadata[META_KEY.encode()])
    bad = tmp_path / "table.parquet"
    _rewrite(FIXTURE, bad, {**doc, "table": "usage"})
    with pytest.raises(SourceError, match=r"table\.parquet.*names table 'usage'"):
        store.ingest(bad, name="a")
    newer = tmp_path / "newer.parquet"
    _rewrite(FIXTURE, newer, {**doc, "format_version": 99})
    with pytest.raises(SourceError, match=r"newer\.parquet.*format_version 99"):
        store.ingest(newer, name="b")
    short = tmp_path / "short.parquet"
    _rewrite(FIXTURE, short, frame=pl.read_parquet(FIXTURE).drop("arrival_s"))
    with pytest.raises(MissingColumnError, match=r"short\.parquet.*arrival_s"):
        store.ingest(short, name="c")
    # an optional column the file lacks (written before it existed) is null, and said so
    older = tmp_path / "older.parquet"
    _rewrite(FIXTURE, older, frame=pl.read_parquet(FIXTURE).drop("hash_ids"))
    m = store.ingest(older, name="older").manifest
    assert m["meta"]["absent_columns"] == ["hash_ids"] and m["tables"]["requests"]["rows_ok"] == 600
    assert store.trace("older").read("requests")["hash_ids"].null_count() == 600
    typed = tmp_path / "typed.parquet"
    _rewrite(FIXTURE, typed, frame=pl.read_parquet(FIXTURE).with_columns(pl.col("turn").cast(pl.String)))
    with pytest.raises(SourceError, match=r"typed\.parquet.*turn is String"):
        store.ingest(typed, name="d")


def test_two_different_workloads_are_refused(src: workscope.Store, tmp_path: Path) -> None:
    folder = tmp_path / "two"
    folder.mkdir()
    export(src.trace("moon"), "parquet", folder / "a.parquet")
    export(src.trace("moon"), "parquet", folder / "b.parquet", spec=TransformSpec(speed=2.0))
    with pytest.raises(SourceError, match=r"b\.parquet.*different workload"):
        src.ingest(folder, format="workscope_workload", name="two")


def test_bad_row_goes_to_rejects(store: workscope.Store, tmp_path: Path) -> None:
    df = pl.read_parquet(FIXTURE).with_columns(
        pl.when(pl.int_range(pl.len()) == 4).then(-5).otherwise(pl.col("output_tokens")).alias("output_tokens"))
    out = tmp_path / "neg.parquet"
    _rewrite(FIXTURE, out, frame=df)
    m = store.ingest(out, name="neg").manifest
    assert m["tables"]["requests"]["rows_ok"] == 599 and m["tables"]["requests"]["rows_rejected"] == 1
    rej = store.trace("neg").rejects().collect()
    assert rej["line"].to_list() == [5] and rej["reason"].to_list() == ["output_tokens is negative"]
    assert json.loads(rej["raw"][0])["output_tokens"] == -5


@pytest.mark.parametrize(("steps", "kept"), [
    ([], True), ([{"name": "filter"}, {"name": "scale_rate"}], True),
    ([{"name": "window", "rebase": False}], True), ([{"name": "window", "rebase": True}], False),
    ([{"name": "speed"}], False), ([{"name": "synthesize"}], False), ([{"name": "new_step"}], False),
])
def test_keeps_origin(steps: list[dict], kept: bool) -> None:
    assert keeps_origin(steps) is kept
