"""Windowed datasets from real trace slices: shapes, exact targets, and no leakage."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from tests.conftest import DATA, SAMPLES
from workscope.predictors import catalog as C
from workscope.predictors import tasks as T
from workscope.predictors.windowing import split_time

NOISE_CPU = ("test_suite=Sysbench/test_name=Test:_CPU/vm_lifespan=long/vm_region=eastus/"
             "vm_sku=B8ms/unit=Events Per Second.csv")


@pytest.fixture
def planetlab(store):
    store.ingest(DATA / "planetlab", format="planetlab", name="planetlab")
    return store


def _lookup(store, trace: str) -> dict[tuple[str, float], float]:
    u = store.trace(trace).read("usage")
    return {(e, t): v for e, t, v in u.select("entity_id", "t_s", "value").rows()}


def _check_every_window(ds, lut, step: float, horizon: int = 1) -> None:
    """Every real input cell and every target is the source sample of the same entity."""
    n, t_len, _ = ds.x_seq.shape
    for i in range(n):
        e, t_end = ds.entity[i], float(ds.t_end[i])
        assert ds.y[i].item() == pytest.approx(lut[(e, t_end + horizon * step)])
        for s in range(t_len):
            t = t_end - (t_len - 1 - s) * step
            if ds.mask[i, s]:
                assert ds.x_seq[i, s, 0].item() == pytest.approx(lut[(e, t)])
            else:  # padding only where the entity had not started
                assert (e, t) not in lut and ds.x_seq[i, s].abs().sum() == 0


def test_planetlab_entity_split(planetlab) -> None:
    ds = T.build(planetlab, C.PLANETLAB_CPU, seed=0)
    # 5 VMs x 288 steps; windows end at every step with a next step (287 per VM)
    assert ds.x_seq.shape == (5 * 287, 12, 1) and ds.mask.shape == (5 * 287, 12)
    assert ds.x_sys.shape == (5 * 287, 1) and ds.y.shape == (5 * 287,)
    _check_every_window(ds, _lookup(planetlab, "planetlab"), 300.0)
    # hand-checked row: first VM file, t_end = 0 -> target is its sample at 300 s (value 4)
    first = [i for i, e in enumerate(ds.entity) if e.startswith("146-179") and ds.t_end[i] == 0.0]
    assert ds.y[first[0]].item() == 4.0 and ds.x_seq[first[0], -1, 0].item() == 47.0
    assert int(ds.mask[first[0]].sum()) == 1  # series start: only one real step
    sets = [{ds.entity[i] for i in idx.tolist()} for idx in (ds.split.train, ds.split.val, ds.split.test)]
    assert sets[0] and sets[2] and not (sets[0] & sets[2]) and not (sets[0] & sets[1])
    assert not (sets[1] & sets[2])
    assert sum(len(s) for s in sets) == 5


def test_planetlab_time_split_has_no_leak(planetlab) -> None:
    ds = T.build(planetlab, C.PLANETLAB_CPU_TIME, seed=0)
    tt, ft = ds.meta["target_time"], ds.meta["first_time"]
    tr, va, te = ds.split.train, ds.split.val, ds.split.test
    assert tr.numel() and va.numel() and te.numel()
    assert tt[tr].max() < ft[te].min() and tt[tr].max() < ft[va].min() and tt[va].max() < ft[te].min()
    # test holds the last ~20% of time; straddling windows are dropped, not reassigned
    assert ft[te].min() >= ds.split.info["test_start_s"]
    assert tr.numel() + va.numel() + te.numel() < ds.n


def test_normalization_uses_training_windows_only(planetlab) -> None:
    ds = T.build(planetlab, C.PLANETLAB_CPU_TIME, seed=0)
    _, stats = ds.normalized()
    x = ds.x_seq[ds.split.train].numpy()[ds.mask[ds.split.train].numpy()]
    assert stats["mean"].numpy() == pytest.approx(x.mean(axis=0), rel=1e-5)
    assert stats["std"].numpy() == pytest.approx(x.std(axis=0), rel=1e-4)
    everything = ds.x_seq.numpy()[ds.mask.numpy()]
    assert abs(float(everything.mean()) - float(stats["mean"][0])) > 0.01  # the test differs


def test_same_seed_same_split_and_seed_matters(planetlab) -> None:
    a = T.build(planetlab, C.PLANETLAB_CPU, seed=3)
    b = T.build(planetlab, C.PLANETLAB_CPU, seed=3)
    assert torch.equal(a.split.test, b.split.test) and torch.equal(a.x_seq, b.x_seq)
    tests = {tuple(T.build(planetlab, C.PLANETLAB_CPU, seed=s).split.test.tolist()[:1]) for s in range(6)}
    assert len(tests) > 1


def test_genai_pod_queue_time(store) -> None:
    store.ingest(DATA / "alibaba_genai_2026", format="alibaba_genai", name="alibaba_genai")
    ds = T.build(store, C.GENAI_POD, seed=0)
    assert ds.x_seq.shape[1:] == (8, 5) and ds.n > 50
    assert ds.metrics == list(C.GENAI_POD.metrics) and ds.target == "queue_time_s"
    te = {ds.entity[i] for i in ds.split.test.tolist()}
    assert te and not te & {ds.entity[i] for i in ds.split.train.tolist()}
    # at the data's own 57 s resolution, each target is exactly the pod's next-step sample
    fine = T.build(store, replace(C.GENAI_POD, step_s=57.0, metrics=("queue_time_s",)), seed=0)
    u = store.trace("alibaba_genai").read("usage").filter(pl.col("metric") == "queue_time_s")
    lut = {(e, t): v for e, t, v in u.select("entity_id", "t_s", "value").rows()}
    first = {}
    for e, t in lut:
        first[e] = min(first.get(e, t), t)
    # a window ends one step before every sample that has an earlier sample of its pod
    assert fine.n == sum(1 for (e, t) in lut if t > first[e]) > 0
    for i in range(fine.n):
        assert fine.y[i].item() == pytest.approx(lut[(fine.entity[i], float(fine.t_end[i]) + 57.0)])


def _raw_pod_latency() -> pl.DataFrame:
    """The slice's pipeline latencies straight from the archive (ms -> s), not via the reader."""
    import io
    import tarfile

    with tarfile.open(DATA / "alibaba_genai_2026_pods" / "pipeline_inference_data_anon.tar.gz") as tf:
        raw = tf.extractfile(tf.getmembers()[0]).read()
    return pl.read_csv(io.BytesIO(raw)).select(
        pl.col("container_ip").alias("pod"), pl.col("timestamp_anon").alias("ts"),
        (pl.col("value") / 1000.0).alias("latency_s"))


def test_genai_pod_latency_targets_are_next_window_means(store) -> None:
    store.ingest(DATA / "alibaba_genai_2026_pods", format="alibaba_genai", name="alibaba_genai")
    spec = C.GENAI_POD_LATENCY
    ds = T.build(store, spec, seed=0)
    assert ds.x_seq.shape[1:] == (12, 6) and ds.metrics == list(spec.metrics)
    assert ds.target == "pipeline_inference_latency_s" and ds.meta["step_s"] == 300.0
    ents = [{ds.entity[i] for i in part.tolist()} for part in (ds.split.train, ds.split.val, ds.split.test)]
    assert all(ents) and not (ents[0] & ents[2]) and not (ents[0] & ents[1]) and not (ents[1] & ents[2])
    assert len(set(ds.entity)) == 6
    # Independent figure: the grid origin is the slice's first timestamp of any metric; the
    # target of a window ending in cell k is the mean latency of the pod's samples in cell k+1.
    raw = _raw_pod_latency()
    u = store.trace("alibaba_genai").read("usage")
    origin_shift = float(u["t_s"].min())  # the store's t_s origin is the earliest row: 0 here
    assert origin_shift == 0.0
    t0 = min(float(raw["ts"].min()), 1662858720.0)
    cells = (raw.with_columns(((pl.col("ts") - t0) // 300).cast(pl.Int64).alias("k"))
             .group_by("pod", "k").agg(pl.col("latency_s").mean()))
    want = {(p, k): v for p, k, v in cells.rows()}
    for i in range(ds.n):
        k = round(float(ds.t_end[i]) / 300.0) + 1
        assert ds.y[i].item() == pytest.approx(want[(ds.entity[i], k)], rel=1e-5)
    # every observed next cell whose pod has an earlier step yields a window
    firsts = u.group_by("entity_id").agg(pl.col("t_s").min()).rows()
    first_cell = {e: int(t // 300) for e, t in firsts}
    assert ds.n == sum(1 for (p, k) in want if k > first_cell[p])


def test_azure_llm_rate(store) -> None:
    src = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv"
    store.ingest(src, format="azure_llm", name="azure_llm_2023")
    ds = T.build(store, C.AZURE_LLM_RATE, seed=0)
    assert ds.x_seq.shape[1:] == (30, 1) and ds.metrics == ["rate"] and set(ds.entity) == {"all"}
    arr = store.trace("azure_llm_2023").read("requests")["arrival_s"].to_numpy()
    t0 = arr.min()
    for i in (0, 7, ds.n - 1):  # hand-checked: the count of arrivals in the next 10 s bin
        lo = float(ds.t_end[i]) + 10.0
        assert ds.y[i].item() == np.sum((arr >= lo - 1e-9) & (arr < lo + 10.0 - 1e-9))
        assert ds.x_seq[i, -1, 0].item() == np.sum((arr >= lo - 10 - 1e-9) & (arr < lo - 1e-9))
    assert float(ds.t_end[0]) == t0
    assert ds.y.sum().item() > 0
    tt, ft = ds.meta["target_time"], ds.meta["first_time"]
    assert tt[ds.split.train].max() < ft[ds.split.test].min()


def _noise_three_vms(tmp_path: Path) -> Path:
    """The real Sysbench CPU slice for VM 0, plus VMs 1 and 2 made from it (scaled values)."""
    root = tmp_path / "noise"
    dest = root / NOISE_CPU
    dest.parent.mkdir(parents=True)
    shutil.copy(DATA / "azure_vm_noise" / NOISE_CPU, dest)
    df = pl.read_csv(dest, infer_schema=False)
    extra = [df.with_columns((pl.col("value").cast(pl.Float64) * f).round(2).cast(pl.String),
                             pl.lit(str(vm)).alias("VM_id")) for vm, f in ((1, 0.9), (2, 1.1))]
    pl.concat([df, *extra]).write_csv(dest)
    return root


def test_azure_vm_noise_ratio_to_train_sku_median(store, tmp_path: Path) -> None:
    store.ingest(_noise_three_vms(tmp_path), format="azure_vm_noise", name="azure_vm_noise")
    ds = T.build(store, C.AZURE_VM_NOISE, seed=0)
    assert ds.x_seq.shape == (3 * 39, 8, 1)  # 40 runs per VM, each run one step
    med = ds.meta["group_medians"]
    u = store.trace("azure_vm_noise").read("usage")
    train_vms = sorted({ds.entity[i] for i in ds.split.train.tolist()})
    assert len(train_vms) == 1  # 3 VMs: 1 train, 1 val, 1 test
    expect = u.filter(pl.col("entity_id").is_in(train_vms))["value"].median()
    assert med["B8ms"] == pytest.approx(expect)  # from training VMs only
    # target = the VM's next run's value / SKU median, inputs scaled the same way
    rows = u.sort("t_s").group_by("entity_id", maintain_order=True).agg(pl.col("value"), pl.col("t_s"))
    series = {e: (v, t) for e, v, t in rows.rows()}
    for i in range(0, ds.n, 11):
        vals, times = series[ds.entity[i]]
        k = times.index(float(ds.t_end[i]))
        assert ds.y[i].item() == pytest.approx(vals[k + 1] / expect, rel=1e-6)
        assert ds.x_seq[i, -1, 0].item() == pytest.approx(vals[k] / expect, rel=1e-6)
    te, tr = set(ds.split.test.tolist()), set(ds.split.train.tolist())
    assert not {ds.entity[i] for i in te} & {ds.entity[i] for i in tr}


def test_time_split_gap_on_planted_series() -> None:
    """Direct check of split_time: a target at the boundary never trains."""
    from workscope.predictors.windowing import Windows

    t = np.arange(100, dtype=np.float64)
    w = Windows(x_seq=np.zeros((100, 4, 1)), mask=np.ones((100, 4), bool), y=np.zeros(100),
                end=np.arange(100), entity_idx=np.zeros(100, np.int64), t_end=t,
                first_time=t - 3, target_time=t + 2)
    tr, va, te, _ = split_time(w, 0.2, 0.1)
    assert w.target_time[tr].max() < w.first_time[va].min()
    assert w.target_time[va].max() < w.first_time[te].min()
