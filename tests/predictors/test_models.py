"""Neural predictors: shapes, masking, learning a planted signal, checkpoints, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from workscope.errors import UnknownNameError
from workscope.predictors.dataset import Dataset, Split
from workscope.predictors.models import MODELS, CloudFormer, ModelConfig, build
from workscope.predictors.train import TrainConfig, evaluate, load, predict, save, train

TINY = ModelConfig(d_model=16, heads=2, layers=1, ff=32, dropout=0.0, max_len=16,
                   fusion_hidden=16, ma_kernel=5)
FAST = TrainConfig(epochs=30, batch_size=64, lr=3e-3, weight_decay=0.0, warmup_frac=0.05,
                   patience=8, seed=0, device="cpu")


def synthetic(n_entities: int = 40, per_entity: int = 12, t: int = 12, m: int = 3,
              seed: int = 0, ratio: bool = False) -> Dataset:
    """Windows whose target is the mean of metric 0 over the real steps (+ small noise).

    Every entity has its own level for metric 0, so a model must read the inputs (the train
    mean is a poor predictor); some windows are padded at the end. The split holds out
    entities: train / val / test entities are disjoint.
    """
    g = torch.Generator().manual_seed(seed)
    n = n_entities * per_entity
    level = torch.rand(n_entities, generator=g) * 10.0 + 5.0
    ent = torch.arange(n_entities).repeat_interleave(per_entity)
    x = torch.randn(n, t, m, generator=g)
    x[..., 0] = x[..., 0] * 0.5 + level[ent].unsqueeze(1)
    x[..., 1] = x[..., 1] * 3.0 + 100.0  # distractor with a different scale
    lengths = torch.randint(t // 2, t + 1, (n,), generator=g)
    mask = torch.arange(t).unsqueeze(0) < lengths.unsqueeze(1)
    x = x * mask.unsqueeze(-1)
    mf = mask.unsqueeze(-1).float()
    x_sys = (x * mf).sum(1) / mf.sum(1)
    y = x_sys[:, 0] + 0.05 * torch.randn(n, generator=g)
    if ratio:
        y = (y - 5.0) / 10.0  # in (0, 1) up to the tiny noise
        y = y.clamp(0.01, 0.99)
    order = torch.randperm(n_entities, generator=g)
    n_tr, n_va = int(0.6 * n_entities), int(0.2 * n_entities)

    def rows(ents: torch.Tensor) -> torch.Tensor:
        return torch.nonzero(torch.isin(ent, ents)).flatten()

    split = Split(train=rows(order[:n_tr]), val=rows(order[n_tr:n_tr + n_va]),
                  test=rows(order[n_tr + n_va:]), kind="entity")
    return Dataset(x_seq=x, mask=mask, x_sys=x_sys, y=y, entity=[f"e{i}" for i in ent.tolist()],
                   t_end=torch.arange(n, dtype=torch.float64), metrics=[f"m{i}" for i in range(m)],
                   split=split, target="ratio" if ratio else "level", ratio_target=ratio)


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return synthetic()


@pytest.fixture(scope="module")
def trained(ds: Dataset):
    return train("cloudformer", ds, TINY, FAST)


def _inputs(b: int = 5, t: int = 10, m: int = 3, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, t, m, generator=g)
    mask = torch.ones(b, t, dtype=torch.bool)
    mask[0, 6:] = False
    mask[1, 2:] = False
    return x, mask, x.mean(1)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shapes(name: str) -> None:
    x, mask, x_sys = _inputs()
    model = build(name, 3, TINY).eval()
    out = model(x, mask, x_sys)
    assert out.shape == (5,)
    assert torch.isfinite(out).all()
    # A window of a single real step still gives a finite output.
    mask1 = torch.zeros_like(mask)
    mask1[:, 0] = True
    assert torch.isfinite(model(x, mask1, x_sys)).all()


@pytest.mark.parametrize("name", ["cloudformer", "temporal", "dlinear", "lstm"])
def test_padded_steps_do_not_matter(name: str) -> None:
    """Perturbing padded steps leaves the output identical (masked attention / zeroing)."""
    x, mask, x_sys = _inputs()
    model = build(name, 3, TINY).eval()
    noisy = x.clone()
    noisy[~mask] = torch.randn(int((~mask).sum()), 3) * 100.0
    with torch.no_grad():
        a, b = model(x, mask, x_sys), model(noisy, mask, x_sys)
    assert torch.equal(a, b)
    # ...while perturbing a real step does change it (the test can fail).
    noisy[0, 0] += 5.0
    with torch.no_grad():
        assert not torch.allclose(model(noisy, mask, x_sys)[0], a[0])


def test_temporal_branch_mask_invariant() -> None:
    x, mask, _ = _inputs()
    branch = CloudFormer(3, TINY).temporal.eval()
    noisy = x.clone()
    noisy[~mask] = 1e3
    with torch.no_grad():
        assert torch.equal(branch(x, mask), branch(noisy, mask))


def test_window_longer_than_max_len_rejected() -> None:
    x, mask, x_sys = _inputs(t=TINY.max_len + 1)
    with pytest.raises(ValueError):
        build("cloudformer", 3, TINY)(x, mask, x_sys)
    with pytest.raises(UnknownNameError):
        build("nope", 3, TINY)


def test_sigmoid_head_for_ratio_targets() -> None:
    x, mask, x_sys = _inputs()
    for name in MODELS:
        model = build(name, 3, TINY, ratio_target=True).eval()
        out = model(x * 10.0, mask, x_sys * 10.0)
        assert ((out > 0) & (out < 1)).all(), name
    lin = build("cloudformer", 3, TINY, ratio_target=False).eval()
    with torch.no_grad():
        lin.y_scale.fill_(100.0)
    assert lin(x, mask, x_sys).abs().max() > 1.0  # the linear head is not squashed


def test_learns_planted_signal(ds: Dataset, trained) -> None:
    res = trained
    assert res.initial_val_loss / res.best_val_loss >= 5.0
    tr = ds.split.train
    baseline = evaluate(ds.y[ds.split.test], torch.full((ds.split.test.numel(),), float(ds.y[tr].mean())))
    assert res.test["mae"] * 5.0 < baseline["mae"], (res.test, baseline)
    assert res.train_windows_per_s > 0 and res.predict_windows_per_s > 0
    assert 1 <= res.best_epoch <= len(res.history)


def test_no_target_leakage(ds: Dataset, trained) -> None:
    """Target scaling and input statistics come from the training split only."""
    model = trained.model
    assert float(model.y_loc) == pytest.approx(float(ds.y[ds.split.train].mean()), rel=1e-5)
    assert float(model.y_loc) != pytest.approx(float(ds.y.mean()), rel=1e-4)
    _, stats = ds.normalized()
    assert torch.equal(model.x_mean.cpu(), stats["mean"])


def test_predict_raw_equals_normalized(ds: Dataset, trained) -> None:
    norm, _ = ds.normalized()
    idx = ds.split.test[:20]
    assert torch.allclose(predict(trained, ds, idx), predict(trained, norm, idx), atol=1e-5)


def test_checkpoint_round_trip(ds: Dataset, trained, tmp_path: Path) -> None:
    out = save(trained, tmp_path / "ckpt")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "cloudformer" and config["metrics"] == ds.metrics
    assert config["seed"] == FAST.seed and config["model_config"]["d_model"] == TINY.d_model
    assert len(config["normalization"]["mean"]) == 3
    model = load(out)
    assert torch.equal(predict(model, ds), predict(trained, ds))


@pytest.mark.parametrize("name", ["temporal", "system", "lstm", "dlinear"])
def test_other_models_train_and_round_trip(name: str, ds: Dataset, tmp_path: Path) -> None:
    res = train(name, ds, TINY, TrainConfig(epochs=4, batch_size=64, lr=3e-3, seed=0, device="cpu"))
    assert res.best_val_loss < res.initial_val_loss
    assert torch.equal(predict(load(save(res, tmp_path / name)), ds), predict(res, ds))


def test_same_seed_same_metrics() -> None:
    small = synthetic(n_entities=10, per_entity=8)
    cfg = TrainConfig(epochs=3, batch_size=16, seed=7, device="cpu")
    a, b = train("cloudformer", small, TINY, cfg), train("cloudformer", small, TINY, cfg)
    assert a.test == b.test and a.history[-1]["train_loss"] == b.history[-1]["train_loss"]
    c = train("cloudformer", small, TINY, TrainConfig(epochs=3, batch_size=16, seed=8, device="cpu"))
    assert c.history[-1]["train_loss"] != a.history[-1]["train_loss"]


def test_ratio_target_trains_in_unit_interval() -> None:
    rds = synthetic(n_entities=20, per_entity=8, ratio=True)
    res = train("cloudformer", rds, TINY, TrainConfig(epochs=10, batch_size=32, lr=3e-3, device="cpu"))
    pred = predict(res, rds)
    assert ((pred > 0) & (pred < 1)).all()
    assert res.best_val_loss < res.initial_val_loss


def test_evaluate_ignores_zero_targets_in_mape() -> None:
    m = evaluate(torch.tensor([0.0, 2.0, 4.0]), torch.tensor([1.0, 3.0, 4.0]))
    assert m["mae"] == pytest.approx(2 / 3)
    assert m["rmse"] == pytest.approx((2 / 3) ** 0.5)
    assert m["mape"] == pytest.approx(0.25)  # a fraction, as on the leaderboard
