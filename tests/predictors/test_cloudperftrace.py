"""CloudPerfTrace reader (synthetic fixture in the assumed released layout) and its task."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import DATA
from workscope.errors import SourceError
from workscope.ingest import registry
from workscope.ingest.cloudperftrace import READER
from workscope.predictors import catalog as C
from workscope.predictors import tasks as T

ROOT = DATA / "cloudperftrace"
WIDTH = {"tr_self": 3, "tr_oth": 3, "lin_self": 2, "lin_oth": 2, "td_self": 2, "td_oth": 2}


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lead registers the reader; until then the tests add it for their own run."""
    monkeypatch.setitem(registry.BUILTIN, "cloudperftrace", "workscope.ingest.cloudperftrace")


def _source() -> pl.DataFrame:
    """The fixture's rows, with the run id the reader gives them (``<id>/<stem>/<row>``)."""
    return pl.concat([pl.read_parquet(f).with_row_index("row", offset=1).with_columns(
        pl.lit(f.parent.name[6:]).alias("app"),
        (pl.lit(f"{f.parent.name[6:]}/{f.stem}/") + pl.col("row").cast(pl.String)).alias("run_id"))
        for f in sorted(ROOT.rglob("*.parquet"))])


def test_reader_maps_every_cell_and_the_label(store) -> None:
    src = _source()
    m = store.ingest(ROOT, format="cloudperftrace", name="cpt").manifest
    u = store.trace("cpt").read("usage")
    cells = sum(len(mat) * WIDTH[c] for c in WIDTH for mat in src[c].to_list())
    assert m["tables"]["usage"]["rows_ok"] == cells + src.height
    assert m["tables"]["usage"]["rows_rejected"] == 0
    assert len(m["meta"]["applications"]) == 11
    origin = min(row[0] for c in WIDTH for mat in src[c].to_list() for row in mat)
    # hand check: Redis (task 5) run 2, tr_self matrix row 2, column 3
    run = src.filter(pl.col("run_id") == "5/part-0/2").row(0, named=True)
    ts, v = run["tr_self"][2][0], run["tr_self"][2][3]
    got = u.filter((pl.col("entity_id") == "5/part-0/2") & (pl.col("metric") == "tr_self_3")
                   & (pl.col("t_s") == ts - origin))
    assert got["value"].to_list() == [v]
    lab = u.filter((pl.col("entity_id") == "5/part-0/2") & (pl.col("metric") == "perf_ori"))
    assert lab["value"].to_list() == [run["perf_ori"]]
    assert lab["t_s"].item() == run["tr_self"][-1][0] - origin  # the run's last time
    assert json.loads(lab["attrs"].item()) == {"app": "5", "app_name": "Redis", "workload": 2.0}


def test_reader_sniffs_root_not_other_parquet(tmp_path: Path) -> None:
    assert READER.sniff(ROOT)
    pq.write_table(pa.table({"a": [1]}), tmp_path / "x.parquet")
    assert not READER.sniff(tmp_path / "x.parquet")


def _flat(tmp_path: Path) -> Path:
    d = tmp_path / "flat" / "tasks=demo"
    d.mkdir(parents=True)
    mat = [[100.0, 1.0, 2.0], [101.0, 3.0, 4.0]]  # (T=2, 1+k=3)
    pq.write_table(pa.table({"perf_ori": [0.5], "tr_self": [[x for row in mat for x in row]]}), d / "p.parquet")
    return tmp_path / "flat"


def test_flat_lists_need_row_width(store, tmp_path: Path) -> None:
    root = _flat(tmp_path)
    with pytest.raises(SourceError, match="row_width"):
        store.ingest(root, format="cloudperftrace", name="flat0")
    store.ingest(root, format="cloudperftrace", name="flat", options={"row_width": 3})
    u = store.trace("flat").read("usage").sort("metric", "t_s")
    assert u.select("t_s", "entity_id", "metric", "value").rows() == [
        (1.0, "demo/p/1", "perf_ori", 0.5),
        (0.0, "demo/p/1", "tr_self_1", 1.0), (1.0, "demo/p/1", "tr_self_1", 3.0),
        (0.0, "demo/p/1", "tr_self_2", 2.0), (1.0, "demo/p/1", "tr_self_2", 4.0),
    ]


def test_task_holds_out_whole_applications(store) -> None:
    src = _source()
    store.ingest(ROOT, format="cloudperftrace", name="cloudperftrace")
    ds = T.build(store, C.CLOUDPERFTRACE, seed=0)
    longest = max(len(m) for m in src["tr_self"].to_list())
    assert longest == 8  # whole runs: the window is the longest run
    assert ds.x_seq.shape == (22, 8, 14) and ds.mask.shape == (22, 8) and ds.x_sys.shape == (22, 14)
    assert "perf_ori" not in ds.metrics and ds.ratio_target
    groups = np.array(ds.meta["group"])
    test_apps = set(groups[ds.split.test.numpy()])
    train_apps = set(groups[ds.split.train.numpy()]) | set(groups[ds.split.val.numpy()])
    assert test_apps == set(C.CLOUDPERFTRACE_TEST_APPS)
    assert len(train_apps) == 7 and not (train_apps & test_apps)
    # one window per run, ending at its last step, target = its label, real steps = T
    lut = {r: (p, len(m)) for r, p, m in src.select("run_id", "perf_ori", "tr_self").rows()}
    for i, e in enumerate(ds.entity):
        assert ds.y[i].item() == pytest.approx(lut[e][0])
        assert int(ds.mask[i].sum()) == lut[e][1]
        assert bool(ds.mask[i, -1])
        assert bool(ds.mask[i, 0]) == (lut[e][1] == longest)  # shorter runs padded at the start
    # the split is configurable by application list
    alt = T.build(store, replace(C.CLOUDPERFTRACE, test_groups=("4",)), seed=0)
    assert {alt.entity[i] for i in alt.split.test.tolist()} == {"4/part-0/1", "4/part-0/2"}
