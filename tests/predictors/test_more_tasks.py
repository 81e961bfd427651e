"""The catalogue's single-series tasks, datacenter_util and mooncake_rate, on real slices
(shapes, targets, no leak)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from workscope.ingest import registry
from workscope.predictors.catalog import ALIBABA_AGG_METRICS, BUILTIN
from workscope.predictors.dataset import Dataset
from workscope.predictors.tasks import build

ALI300 = "datacenter_aggregates/alibaba2018/machine_usage_days_1_to_8_grouped_300_seconds.csv"
MOONCAKE = "mooncake/synthetic_trace.jsonl"


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    # The lead registers the reader in registry.py; until then the tests add it themselves.
    monkeypatch.setitem(registry.BUILTIN, "datacenter_aggregates",
                        "workscope.ingest.datacenter_aggregates")


def _no_time_leak(ds: Dataset) -> None:
    tt = ds.meta["target_time"].numpy()
    ft = ds.meta["first_time"].numpy()
    tr, va, te = (ds.split.train.numpy(), ds.split.val.numpy(), ds.split.test.numpy())
    assert ds.split.kind == "time" and tr.size > 0 and te.size > 0
    assert tt[tr].max() < ft[te].min()
    if va.size:
        assert tt[tr].max() < ft[va].min() and tt[va].max() < ft[te].min()
    assert len(set(tr) | set(va) | set(te)) == tr.size + va.size + te.size


def test_single_series_tasks_are_built_in() -> None:
    assert {"datacenter_util", "mooncake_rate"} <= set(BUILTIN)
    assert all(name == spec.name for name, spec in BUILTIN.items())


def test_datacenter_util(store, data_dir: Path) -> None:
    spec = BUILTIN["datacenter_util"]
    store.ingest(data_dir / ALI300, format="datacenter_aggregates", name=spec.source)
    with open(data_dir / ALI300, newline="") as fh:
        header, *rows = list(csv.reader(fh))
    vals = np.array(rows, dtype=np.float64)  # [200, 5], row i at t = 300 i
    assert tuple(header) == ALIBABA_AGG_METRICS

    ds = build(store, spec, seed=0)
    n = len(rows) - 1  # every step but the last has a next step to predict
    assert ds.x_seq.shape == (n, spec.window, 5) and ds.mask.shape == (n, spec.window)
    assert ds.y.shape == (n,) and ds.x_sys.shape == (n, 5)
    assert ds.metrics == list(ALIBABA_AGG_METRICS) and ds.target == "cpu_util_percent"
    cpu = ds.metrics.index("cpu_util_percent")
    t_end = ds.t_end.numpy()
    for i in (0, 11, 57, n - 1):
        k = int(np.flatnonzero(t_end == 300.0 * i)[0])
        # target = next row's CPU; the window's last step = this row, all five metrics
        assert ds.y[k].item() == pytest.approx(vals[i + 1, cpu], rel=1e-6)
        assert np.allclose(ds.x_seq[k, -1].numpy(), vals[i], rtol=1e-6)
        lo = max(0, i - spec.window + 1)
        assert np.allclose(ds.x_seq[k, spec.window - (i - lo + 1):].numpy(), vals[lo:i + 1], rtol=1e-6)
        assert int(ds.mask[k].sum()) == i - lo + 1
        assert ds.meta["target_time"][k].item() == 300.0 * (i + 1)
    # by hand: the window ending at 600 s (data row 2) predicts data row 3's CPU
    k = int(np.flatnonzero(t_end == 600.0)[0])
    assert ds.y[k].item() == pytest.approx(float(rows[3][0]), rel=1e-6)
    _no_time_leak(ds)


def test_mooncake_rate(store, data_dir: Path) -> None:
    spec = BUILTIN["mooncake_rate"]
    store.ingest(data_dir / MOONCAKE, format="mooncake", name=spec.source)
    with open(data_dir / MOONCAKE) as fh:
        ts = np.array([json.loads(line)["timestamp"] for line in fh if line.strip()]) / 1000.0
    counts = np.bincount(np.floor(ts - ts.min()).astype(int))  # arrivals per 1 s bin
    assert counts.sum() == 300

    ds = build(store, spec, seed=0)
    n = counts.size - 1
    assert ds.x_seq.shape == (n, spec.window, 1) and ds.y.shape == (n,)
    assert ds.metrics == ["rate"] and ds.target == "rate"
    t_end = ds.t_end.numpy()
    for b in (0, 9, 40, n - 1):
        k = int(np.flatnonzero(t_end == ts.min() + b)[0])
        assert ds.y[k].item() == counts[b + 1]
        lo = max(0, b - spec.window + 1)
        assert ds.x_seq[k, spec.window - (b - lo + 1):, 0].tolist() == counts[lo:b + 1].tolist()
    # the very first bin (0 <= t < 1 s) holds the two requests at timestamp 0 of the slice
    assert counts[0] == int(np.sum(ts < 1.0)) and counts[0] >= 2
    _no_time_leak(ds)


@pytest.mark.parametrize("name", ["datacenter_util", "mooncake_rate"])
def test_same_seed_same_split(store, data_dir: Path, name: str) -> None:
    spec = BUILTIN[name]
    path, fmt = ((ALI300, "datacenter_aggregates") if name == "datacenter_util"
                 else (MOONCAKE, "mooncake"))
    store.ingest(data_dir / path, format=fmt, name=spec.source)
    a, b = build(store, spec, seed=3), build(store, spec, seed=3)
    assert a.split.test.tolist() == b.split.test.tolist()
    assert bool((a.y == b.y).all())
