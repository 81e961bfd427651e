"""replay export --engine spark writes the same files as an export on this machine, with the
selection (filters, window, busiest minutes) run on Spark and only the selected rows brought
back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

import workscope
from workscope.cli import app
from workscope.replay import transforms as tf
from workscope.replay.pipeline import TransformSpec, export
from workscope.replay.pushdown import select_on
from workscope.replay.workload import Workload
from workscope.samples import ingest_samples

pytest.importorskip("pyspark")
from workscope.spark import SparkEngine  # after the skip: pyspark may be absent

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(scope="module")
def engine() -> SparkEngine:
    """One Spark engine (local[2]) for the module."""
    return SparkEngine("local[2]")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> workscope.Store:
    """The samples and two multi-file traces."""
    s = workscope.open(tmp_path_factory.mktemp("export") / "store")
    ingest_samples(s)
    s.ingest(DATA / "azure_llm_2023", format="azure_llm", name="llm")
    s.ingest(DATA / "burstgpt", format="burstgpt", name="burst")
    return s


CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("llm", "vllm_timed", {"busiest_min": 5}),
    ("llm", "aiperf", {"window": (100.0, 700.5)}),
    ("llm", "guidellm", {"filters": (("kind", ("code",)),), "busiest_min": 3}),
    ("llm", "sglang_mooncake", {"window": (60.0, None), "sample_sessions": 0.5, "rate_scale": 1.7, "seed": 3}),
    ("burst", "burstgpt", {"filters": (("model", ("ChatGPT", "GPT-4")),), "busiest_min": 10, "speed": 2.0}),
    ("burst", "vidur", {"filters": (("model", ("nope",)),), "window": (0.0, 1e6)}),
    ("azure_functions_2021", "invitro", {"busiest_min": 2}),
    ("nasa_ipsc", "swf", {"window": (1000.0, 200000.0), "sample_jobs": 0.5}),
    ("nasa_ipsc", "batsim", {"filters": (("status", ("ok", None)),), "busiest_min": 600}),
    ("azure_llm_conv", "parquet", {"compress_idle_s": 2.0}),  # no selection: nothing pushed down
]


def _read(out: Path) -> dict[str, bytes]:
    files = sorted(p for p in out.rglob("*") if p.is_file()) if out.is_dir() else [out]
    return {str(p.relative_to(out) if out.is_dir() else p.name): p.read_bytes() for p in files}


@pytest.mark.parametrize(("name", "target", "spec"), CASES, ids=[f"{n}-{t}" for n, t, _ in CASES])
def test_the_same_export_either_way(engine: SparkEngine, store: workscope.Store, tmp_path: Path,
                                    name: str, target: str, spec: dict[str, Any]) -> None:
    trace = store.trace(name)
    suffix = "" if target in ("invitro", "kubernetes", "opendc") else ".out"
    here, there = tmp_path / "a" / f"w{suffix}", tmp_path / "b" / f"w{suffix}"
    ts = TransformSpec(**spec)
    a, fa = export(trace, target, here, spec=ts, fidelity=True)
    b, fb = export(trace, target, there, spec=ts, fidelity=True, engine=engine)
    assert a.rows == b.rows
    pushed = ts.window is not None or ts.busiest_min is not None
    assert b.notes == a.notes + ([] if pushed else [
        ("--engine spark: no --window or --busiest to select with, so the rows were read here "
         "(Spark runs the selection only)")])
    files_a, files_b = _read(here), _read(there)
    assert list(files_a) == list(files_b)
    for f in files_a:
        text_a, text_b = (x.replace(str(tmp_path / d).encode(), b"OUT")
                          for x, d in ((files_a[f], "a"), (files_b[f], "b")))
        assert text_a == text_b, f
    assert fa is not None and fb is not None
    assert json.dumps(fa.to_dict(), sort_keys=True) == json.dumps(fb.to_dict(), sort_keys=True)


def test_only_the_selected_rows_come_back(engine: SparkEngine, store: workscope.Store) -> None:
    trace = store.trace("llm")
    base = Workload.from_trace(trace)
    spec = TransformSpec(busiest_min=5)
    selected, counts, here = select_on(engine, trace, base, spec)
    assert here is None
    assert counts is not None and counts["count"].sum() == trace.manifest["tables"]["requests"]["rows_ok"]
    assert counts.equals(tf.counts_per_bin(base))
    local = tf.busiest(base, 5).frame.collect()
    came = selected.frame.collect()
    assert came.height == local.height < base.frame.collect().height / 5
    assert selected.untransformed() is base  # fidelity still compares with the whole trace
    # nothing to push down without a window
    same, none, why = select_on(engine, trace, base, TransformSpec(rate_scale=2.0))
    assert same is base and none is None and why == "no --window or --busiest to select with"


def test_a_filter_sql_cannot_state_is_left_here(engine: SparkEngine, store: workscope.Store) -> None:
    trace = store.trace("llm")
    base = Workload.from_trace(trace)
    kept, counts, why = select_on(engine, trace, base, TransformSpec(filters=(("input_tokens", ("x",)),),
                                                                     busiest_min=1))
    assert kept is base and counts is None and why == "--filter input_tokens=... cannot be stated exactly in SQL"


def test_cli_export_on_spark(store: workscope.Store, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "w.jsonl"
    res = runner.invoke(app, ["replay", "export", "llm", "--to", "vllm_timed", "--out", str(out),
                              "--busiest", "5", "--engine", "spark", "--spark-master", "local[2]",
                              "--home", str(store.home), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    local = tmp_path / "l.jsonl"
    export(store.trace("llm"), "vllm_timed", local, spec=TransformSpec(busiest_min=5))
    assert doc["rows"] == pl.read_ndjson(local).height and out.read_bytes() == local.read_bytes()
