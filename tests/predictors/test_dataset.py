"""The shared Dataset contract: normalization uses the training split only."""

from __future__ import annotations

import torch

from workscope.predictors.dataset import Dataset, Split


def _ds(seed: int = 0) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    n, t, m = 40, 6, 3
    x = torch.randn(n, t, m, generator=g) * torch.tensor([1.0, 10.0, 100.0]) + torch.tensor([0.0, 5.0, -50.0])
    mask = torch.ones(n, t, dtype=torch.bool)
    mask[:5, :2] = False  # short runs at series starts
    x[:5, :2] = 0.0
    split = Split(torch.arange(0, 20), torch.arange(20, 30), torch.arange(30, 40), "entity")
    return Dataset(x, mask, x.mean(dim=1), torch.randn(n, generator=g), [f"e{i // 4}" for i in range(n)],
                   torch.arange(n, dtype=torch.float64), ["a", "b", "c"], split, "y")


def test_normalization_statistics_come_from_training_windows_only() -> None:
    ds = _ds()
    norm, stats = ds.normalized()
    tr = ds.split.train
    real = ds.x_seq[tr][ds.mask[tr]]  # [steps, M] of real (unmasked) training steps
    assert torch.allclose(stats["mean"], real.mean(dim=0), atol=1e-5)
    assert torch.allclose(stats["std"], real.std(dim=0, unbiased=False), atol=1e-4)
    # changing validation and test inputs does not move the statistics
    x2 = ds.x_seq.clone()
    x2[20:] *= 1000.0
    other = Dataset(x2, ds.mask, ds.x_sys, ds.y, ds.entity, ds.t_end, ds.metrics, ds.split, ds.target)
    assert torch.equal(other.normalized()[1]["mean"], stats["mean"])
    # padded steps stay exactly zero, real training steps are standardized
    assert torch.all(norm.x_seq[:5, :2] == 0.0)
    z = norm.x_seq[tr][ds.mask[tr]]
    assert torch.allclose(z.mean(dim=0), torch.zeros(3), atol=1e-5)
    assert norm.meta["normalized"] is True and norm.n == 40


def test_metric_constant_in_training_is_not_blown_up() -> None:
    ds = _ds()
    x = ds.x_seq.clone()
    x[:20, :, 0] = 0.0  # metric 0 is constant (zero) over every training window
    x[30:, :, 0] = 14.1  # and not in the test windows (as in the GenAI pod slice)
    d2 = Dataset(x, ds.mask, x.mean(dim=1), ds.y, ds.entity, ds.t_end, ds.metrics, ds.split, ds.target)
    norm, stats = d2.normalized()
    assert stats["std"][0] == 1.0 and stats["mean"][0] == 0.0
    assert norm.x_seq[30:, :, 0].abs().max() == 14.1  # centred, not divided by a tiny floor
