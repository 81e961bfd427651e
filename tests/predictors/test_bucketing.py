"""Length bucketing: cutting leading padding is exact for CloudFormer, and training plans
cover every window once with enough steps kept."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from tests.predictors.test_models import FAST, TINY, synthetic
from workscope.predictors.dataset import Dataset
from workscope.predictors.models import MODELS, build
from workscope.predictors.train import (
    _eval_plan,
    _train_plan,
    bucket_length,
    bucket_lengths,
    lead_padding,
    predict,
    train,
    trim,
)


def leading(ds: Dataset) -> Dataset:
    """The same windows with their padding moved to the front (as the task builder pads)."""
    t = ds.x_seq.shape[1]
    real = ds.mask.sum(1)
    shift = (t - real).tolist()
    x = torch.stack([torch.roll(ds.x_seq[i], s, dims=0) for i, s in enumerate(shift)])
    mask = torch.stack([torch.roll(ds.mask[i], s, dims=0) for i, s in enumerate(shift)])
    return replace(ds, x_seq=x, mask=mask)


def test_lead_padding_counts_only_leading_steps() -> None:
    mask = torch.tensor([[False, False, True, True],
                         [True, True, True, True],
                         [False, True, False, True],
                         [False, False, False, False]])
    assert lead_padding(mask).tolist() == [2, 0, 1, 4]


@pytest.mark.parametrize(("real", "t", "want"), [
    (1, 12, 1), (2, 12, 2), (3, 12, 4), (5, 12, 8), (8, 12, 8), (9, 12, 12), (12, 12, 12),
    (0, 12, 1), (600, 1024, 1024), (513, 600, 600)])
def test_bucket_length(real: int, t: int, want: int) -> None:
    assert bucket_length(real, t) == want


def test_vectorised_bucket_lengths_match_the_scalar_rule() -> None:
    for t in (1, 2, 7, 12, 64, 600, 1024):
        real = torch.arange(0, t + 1)
        assert bucket_lengths(real, t).tolist() == [bucket_length(int(r), t) for r in real]


def test_trim_keeps_the_last_steps_as_views() -> None:
    x = torch.arange(24.0).reshape(2, 4, 3)
    m = torch.ones(2, 4, dtype=torch.bool)
    xs, ms = trim(x, m, 2)
    assert torch.equal(xs, x[:, 2:]) and ms.shape == (2, 2)
    assert xs.data_ptr() == x[:, 2:].data_ptr()  # no copy
    assert trim(x, m, 9)[0] is x


@pytest.mark.parametrize("name", ["cloudformer", "temporal", "system"])
def test_cutting_leading_padding_leaves_the_output_unchanged(name: str) -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(6, 10, 3, generator=g)
    mask = torch.ones(6, 10, dtype=torch.bool)
    mask[:, :4] = False  # every window has 4 leading padded steps
    x[~mask] = 0.0
    model = build(name, 3, TINY).eval()
    assert model.length_invariant
    with torch.no_grad():
        full = model(x, mask, x.mean(1))
        cut = model(x[:, 4:], mask[:, 4:], x.mean(1))
        # ...while cutting a real step changes it (the comparison can fail)
        cut_real = model(x[:, 5:], mask[:, 5:], x.mean(1))
    torch.testing.assert_close(full, cut, rtol=1e-5, atol=1e-5)
    if name != "system":
        assert not torch.allclose(full, cut_real, atol=1e-4)


@pytest.mark.parametrize("name", ["lstm", "dlinear"])
def test_models_that_see_padding_are_never_cut(name: str) -> None:
    assert not MODELS[name].length_invariant


def test_train_plan_covers_each_window_once_with_enough_steps() -> None:
    g = torch.Generator().manual_seed(0)
    t = 12
    lead = torch.randint(0, t, (203,), generator=g)
    idx = torch.arange(1000, 1203)
    plan = _train_plan(idx, lead, t, 16, torch.Generator().manual_seed(5))
    seen = torch.cat([b for b, _ in plan])
    assert sorted(seen.tolist()) == idx.tolist()
    lead_of = dict(zip(idx.tolist(), lead.tolist()))
    for b, keep in plan:
        assert keep in {1, 2, 4, 8, 12}
        assert all(t - lead_of[i] <= keep for i in b.tolist())
        assert b.numel() <= 16
    again = _train_plan(idx, lead, t, 16, torch.Generator().manual_seed(5))
    assert [(b.tolist(), k) for b, k in plan] == [(b.tolist(), k) for b, k in again]
    # without lengths: one permutation at full length
    flat = _train_plan(idx, None, t, 16, torch.Generator().manual_seed(5))
    assert {k for _, k in flat} == {t} and sorted(torch.cat([b for b, _ in flat]).tolist()) == idx.tolist()


def test_eval_plan_positions_cover_idx_and_keep_every_real_step() -> None:
    lead = torch.tensor([0, 5, 3, 9, 9, 1, 7])
    idx = torch.tensor([10, 11, 12, 13, 14, 15, 16])
    plan = _eval_plan(idx, lead, 10, 3)
    pos = torch.cat([p for p, _, _ in plan])
    assert sorted(pos.tolist()) == list(range(7))
    for p, b, keep in plan:
        assert torch.equal(idx[p], b)
        assert keep == 10 - int(lead[p].min())


def test_predict_with_bucketing_matches_full_windows() -> None:
    ds = leading(synthetic(n_entities=20, per_entity=8))
    assert lead_padding(ds.mask).max() > 0
    res = train("cloudformer", ds, TINY, replace(FAST, epochs=2))
    got = predict(res, ds)
    model = res.model.eval()
    with torch.no_grad():  # every window at full length, no trimming, in input order
        x = (ds.x_seq - model.x_mean) / model.x_std * ds.mask.unsqueeze(-1)
        want = model(x, ds.mask, (ds.x_sys - model.x_mean) / model.x_std)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_bucketed_training_learns_the_planted_signal() -> None:
    ds = leading(synthetic())
    base = (ds.y[ds.split.test] - ds.y[ds.split.train].mean()).abs().mean().item()
    on = train("cloudformer", ds, TINY, FAST)
    off = train("cloudformer", ds, TINY, replace(FAST, bucket=False))
    assert on.test["mae"] < 0.35 * base
    assert off.test["mae"] < 0.35 * base


def test_compiled_training_matches_eager_across_length_buckets() -> None:
    """torch.compile (CPU inductor here, CUDA on a GPU) trains the same model as eager mode,
    with batches of several bucket lengths and a partial last batch (several shapes)."""
    ds = leading(synthetic(n_entities=20, per_entity=10))
    cfg = replace(FAST, epochs=2, batch_size=32)
    eager = train("cloudformer", ds, TINY, cfg)
    compiled = train("cloudformer", ds, TINY, replace(cfg, compile=True))
    torch.testing.assert_close(predict(compiled, ds), predict(eager, ds), rtol=1e-4, atol=1e-4)
