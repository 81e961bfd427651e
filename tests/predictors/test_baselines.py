"""Baselines and the leaderboard on small synthetic datasets with planted structure."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import polars as pl
import pytest
import torch
from sklearn.metrics import mean_absolute_error, mean_absolute_percentage_error, root_mean_squared_error

from workscope.errors import UnknownNameError
from workscope.predictors import baselines as bl
from workscope.predictors import leaderboard as lb
from workscope.predictors.dataset import Dataset, Split

N, T, M = 240, 12, 3


def make_ds(kind: str, seed: int = 0, noise: float = 0.05, n: int = N) -> Dataset:
    """A dataset whose target has a known relation to the inputs.

    ``last``: y = last real value of metric 0 (windows have random padding on the right);
    ``linear``: y = 2*mean(m0) - 3*mean(m1) + 0.5 + noise;
    ``group``: y = offset of the sample's group (4 groups of 6 entities) + noise.
    Entities split 60/20/20 by entity, so test entities are unseen.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, T, M, generator=g) + torch.arange(M, dtype=torch.float32)
    lengths = torch.randint(3, T + 1, (n,), generator=g)
    mask = torch.arange(T)[None, :] < lengths[:, None]
    x = x * mask.unsqueeze(-1)
    x_sys = (x * mask.unsqueeze(-1)).sum(1) / lengths[:, None]
    n_ent = 24
    ent_id = torch.arange(n) % n_ent
    entity = [f"g{int(e) % 4}/vm{int(e)}" for e in ent_id]
    eps = noise * torch.randn(n, generator=g)
    meta: dict = {}
    if kind == "last":
        y = x[torch.arange(n), lengths - 1, 0]
        meta["target_index"] = 0
    elif kind == "linear":
        y = 2 * x_sys[:, 0] - 3 * x_sys[:, 1] + 0.5 + eps
    elif kind == "group":
        offsets = torch.tensor([1.0, 5.0, -2.0, 10.0])
        y = offsets[ent_id % 4] + eps
        meta["groups"] = {e: e.split("/")[0] for e in entity}
    else:
        raise ValueError(kind)
    perm = torch.randperm(n_ent, generator=g)
    tr_e, va_e = set(perm[:14].tolist()), set(perm[14:19].tolist())
    tr = torch.tensor([i for i in range(n) if int(ent_id[i]) in tr_e])
    va = torch.tensor([i for i in range(n) if int(ent_id[i]) in va_e])
    te = torch.tensor([i for i in range(n) if int(ent_id[i]) not in tr_e | va_e])
    return Dataset(x_seq=x, mask=mask, x_sys=x_sys, y=y.float(), entity=entity,
                   t_end=torch.arange(n, dtype=torch.float64), metrics=[f"m{i}" for i in range(M)],
                   split=Split(train=tr, val=va, test=te, kind="entity"), target="y", meta=meta)


def test_window_features_match_numpy() -> None:
    ds = make_ds("linear")
    feats, names = bl.window_features(ds)
    assert feats.shape == (N, 5 * M) and len(names) == 5 * M and names[0] == "mean:m0"
    for i in (0, 7, 100):
        real = ds.x_seq[i][ds.mask[i]].numpy().astype(np.float64)
        exp = np.concatenate([real.mean(0), real.std(0), real.min(0), real.max(0), real[-1]])
        np.testing.assert_allclose(feats[i], exp, rtol=1e-9, atol=1e-12)


def test_persistence_exact_on_last_value_target() -> None:
    ds = make_ds("last")
    pred = bl.fit_predict("persistence", ds, 0)
    assert pred.shape == (len(ds.split.test),)
    assert lb.mae(ds.y[ds.split.test], pred) == 0.0
    # Without a designated column it falls back to the train mean, a constant.
    ds2 = replace(ds, meta={})
    pred2 = bl.fit_predict("persistence", ds2, 0)
    np.testing.assert_allclose(pred2, float(ds.y[ds.split.train].double().mean()))
    # A metric name works as well as an index.
    ds3 = replace(ds, meta={"target_index": "m0"})
    np.testing.assert_array_equal(bl.fit_predict("persistence", ds3, 0), pred)
    # Without target_index, a target that is itself an input metric designates its column.
    ds4 = replace(ds, meta={}, target="m0")
    np.testing.assert_array_equal(bl.fit_predict("persistence", ds4, 0), pred)


def test_linear_reaches_noise_level_and_beats_trivial() -> None:
    ds = make_ds("linear", noise=0.05)
    y = ds.y[ds.split.test].numpy()
    lin = lb.mae(y, bl.fit_predict("linear", ds, 0))
    med = lb.mae(y, bl.fit_predict("group_median", ds, 0))
    # Noise MAE is 0.05*sqrt(2/pi) ~ 0.04; std/min/max features add a little variance.
    assert lin < 0.08, lin
    assert med > 10 * lin


def test_group_median_recovers_offsets_and_falls_back() -> None:
    ds = make_ds("group", noise=0.01)
    y = ds.y[ds.split.test].numpy()
    pred = bl.fit_predict("group_median", ds, 0)
    assert lb.mae(y, pred) < 0.03
    # Per entity (no groups): every test entity is unseen, so all get the global train median.
    ds2 = replace(ds, meta={})
    pred2 = bl.fit_predict("group_median", ds2, 0)
    np.testing.assert_allclose(pred2, np.median(ds.y[ds.split.train].numpy().astype(np.float64)))
    assert lb.mae(y, pred2) > 2.0
    # Per-sample labels are accepted too and give the same answer as the mapping.
    labels = [e.split("/")[0] for e in ds.entity]
    ds3 = replace(ds, meta={"groups": labels})
    np.testing.assert_array_equal(bl.fit_predict("group_median", ds3, 0), pred)
    # ... as is the task builder's meta["group"].
    ds4 = replace(ds, meta={"group": labels})
    np.testing.assert_array_equal(bl.fit_predict("group_median", ds4, 0), pred)


@pytest.mark.parametrize("name", ["random_forest", "gradient_boosting"])
def test_trees_seeded_and_learn(name: str) -> None:
    ds = make_ds("linear", noise=0.05)
    a = bl.fit_predict(name, ds, 3)
    b = bl.fit_predict(name, ds, 3)
    np.testing.assert_array_equal(a, b)
    y = ds.y[ds.split.test].numpy()
    trivial = lb.mae(y, np.full_like(y, float(np.median(ds.y[ds.split.train].numpy()))))
    assert lb.mae(y, a) < 0.5 * trivial


@pytest.mark.parametrize("name", sorted(bl.BASELINES))
def test_no_test_targets_used(name: str) -> None:
    ds = make_ds("linear")
    te = ds.split.test
    y = ds.y.clone()
    y[te] = y[te][torch.randperm(len(te), generator=torch.Generator().manual_seed(1))] * 7 + 100
    leaked = replace(ds, y=y)
    np.testing.assert_array_equal(bl.fit_predict(name, ds, 0), bl.fit_predict(name, leaked, 0))


def test_predict_any_index_and_ratio_clip() -> None:
    ds = make_ds("linear")
    model = bl.fit("linear", ds, 0)
    all_pred = model.predict(torch.arange(ds.n))
    np.testing.assert_allclose(model.predict(ds.split.val), all_pred[ds.split.val.numpy()])
    assert model.predict([]).shape == (0,)
    ratio = replace(ds, ratio_target=True)
    p = bl.fit_predict("linear", ratio, 0)
    assert p.min() >= 0.0 and p.max() <= 1.0 and ((p == 0) | (p == 1)).any()
    with pytest.raises(UnknownNameError):
        bl.fit("nope", ds, 0)


def test_metrics_equal_sklearn() -> None:
    rng = np.random.default_rng(0)
    t = rng.normal(2.0, 1.0, 50)
    p = t + rng.normal(0, 0.3, 50)
    assert lb.mae(t, p) == pytest.approx(mean_absolute_error(t, p), rel=1e-12)
    assert lb.rmse(t, p) == pytest.approx(root_mean_squared_error(t, p), rel=1e-12)
    assert lb.mape(t, p) == pytest.approx(mean_absolute_percentage_error(t, p), rel=1e-12)
    # Zero targets are ignored: same as sklearn on the non-zero subset.
    t[[3, 9, 20]] = 0.0
    nz = t != 0
    assert lb.mape(t, p) == pytest.approx(mean_absolute_percentage_error(t[nz], p[nz]), rel=1e-12)
    assert math.isnan(lb.mape(np.zeros(3), np.ones(3)))
    assert lb.score(t, p)["n_mape"] == 47
    with pytest.raises(ValueError):
        lb.score(t, p[:-1])


def test_leaderboard_shapes_summary_and_exports() -> None:
    models = ["persistence", "group_median", "linear", "random_forest", "gradient_boosting", "fake"]
    seeds = [0, 1, 2]
    built: list[int] = []

    def builder(seed: int) -> Dataset:
        built.append(seed)
        return make_ds("linear", seed=seed)

    def train_fn(name: str, ds: Dataset, seed: int) -> torch.Tensor:
        # A "neural" model that is off by exactly 1 everywhere: MAE = RMSE = 1.
        assert name == "fake"
        return ds.y[ds.split.test] + 1.0

    df = lb.evaluate_all(builder, models, seeds, train_fn)
    assert built == seeds
    assert df.shape[0] == len(models) * len(seeds)
    assert {"model", "seed", "mae", "rmse", "mape", "n_test"} <= set(df.columns)
    fake = df.filter(pl.col("model") == "fake")
    np.testing.assert_allclose(fake["mae"].to_numpy(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(fake["rmse"].to_numpy(), 1.0, rtol=1e-6)
    assert (df["n_test"] == df["n_test"][0]).all()

    s = lb.summarize(df)
    assert s.shape[0] == len(models)
    assert s["rank"].to_list() == list(range(1, len(models) + 1))
    assert s["mae_mean"].is_sorted()
    assert s["model"][0] == "linear"
    for m in models:
        vals = df.filter(pl.col("model") == m)["mae"].to_numpy()
        row = s.filter(pl.col("model") == m)
        assert row["mae_mean"][0] == pytest.approx(np.mean(vals), rel=1e-12)
        assert row["mae_std"][0] == pytest.approx(np.std(vals, ddof=1), rel=1e-9, abs=1e-15)
        assert row["n_seeds"][0] == 3

    md = lb.to_markdown(s)
    lines = md.strip().splitlines()
    assert len(lines) == 2 + len(models) and lines[0].startswith("| rank | model")
    d = lb.to_dict(s)
    assert d["columns"] == s.columns and len(d["rows"]) == len(models)
    json.dumps(d, allow_nan=False)  # NaN would have to become None to pass


def test_leaderboard_needs_train_fn_for_non_baselines() -> None:
    with pytest.raises(ValueError, match="train_fn"):
        lb.evaluate_all(lambda s: make_ds("linear", seed=s), ["linear", "cloudformer"], [0], None)
    df = lb.evaluate_all(lambda s: make_ds("linear", seed=s), ["linear"], [0], None)
    s = lb.summarize(df)
    assert s["mae_std"][0] is None  # one seed: no spread
    assert "| 1 | linear |" in lb.to_markdown(s)


def test_same_seed_same_leaderboard() -> None:
    models = ["random_forest", "gradient_boosting"]
    a = lb.evaluate_all(lambda s: make_ds("linear", seed=s), models, [5], None).drop("fit_s")
    b = lb.evaluate_all(lambda s: make_ds("linear", seed=s), models, [5], None).drop("fit_s")
    assert a.equals(b)
