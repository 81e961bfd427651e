"""Invariants of the window pipeline, checked with hypothesis on random usage tables:
windows never cross entities and targets are real observations, splits never leak, and
cutting leading padding never changes a length-invariant model."""

from __future__ import annotations

import numpy as np
import polars as pl
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.predictors.test_models import TINY
from workscope.predictors import windowing as W
from workscope.predictors.models import build
from workscope.predictors.train import _train_plan, bucket_length, lead_padding

HYP = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def usage_tables(draw):
    """2-6 entities, each a random subset of a 3-60 step grid with 1-2 metrics (gaps allowed)."""
    n_ent = draw(st.integers(2, 6))
    rows = []
    for e in range(n_ent):
        start = draw(st.integers(0, 20))
        length = draw(st.integers(3, 60))
        seed = draw(st.integers(0, 2**16))
        rng = np.random.default_rng(seed)
        keep = rng.random(length) < 0.8
        keep[0] = keep[-1] = True
        for k in np.flatnonzero(keep):
            for m in ("a", "b")[: 1 + (e % 2)]:
                rows.append((float((start + k) * 10), f"e{e}", m, float(rng.normal(e, 1.0))))
    return pl.DataFrame(rows, schema=["t_s", "entity_id", "metric", "value"], orient="row")


@HYP
@given(u=usage_tables(), window=st.integers(1, 8), horizon=st.integers(1, 4))
def test_windows_stay_in_their_entity_and_targets_are_observed(u: pl.DataFrame, window: int, horizon: int) -> None:
    al = W.align(u, ["a", "b"], 10.0)
    w = W.make_windows(al, window, horizon, "a")
    obs = {(e, t): v for t, e, m, v in u.rows() if m == "a"}
    for i in range(w.y.size):
        ent = al.entities[w.entity_idx[i]]
        assert (ent, float(w.target_time[i])) in obs  # a real sample, not a filled value
        assert w.y[i] == obs[(ent, float(w.target_time[i]))]
        assert w.target_time[i] == w.t_end[i] + horizon * 10.0
        lo = al.start[w.entity_idx[i]]
        steps = w.end[i] - np.arange(window - 1, -1, -1)
        assert np.array_equal(w.mask[i], steps >= lo)  # padding only before the entity's start
    # every observed target with a step of its own entity `horizon` earlier has a window
    firsts = u.group_by("entity_id").agg(pl.col("t_s").min())
    first = dict(firsts.rows())
    assert w.y.size == sum(1 for (e, t) in obs if t - horizon * 10.0 >= first[e])


@HYP
@given(u=usage_tables(), window=st.integers(1, 6), test_frac=st.floats(0.1, 0.5), val_frac=st.floats(0.0, 0.3),
       seed=st.integers(0, 100))
def test_splits_never_leak(u: pl.DataFrame, window: int, test_frac: float, val_frac: float, seed: int) -> None:
    al = W.align(u, ["a", "b"], 10.0)
    w = W.make_windows(al, window, 1, "a")
    tr, va, te, _ = W.split_time(w, test_frac, val_frac)
    if tr.size and te.size:
        assert w.target_time[tr].max() < w.first_time[te].min()
    if tr.size and va.size:
        assert w.target_time[tr].max() < w.first_time[va].min()
    assert len(set(tr) | set(va) | set(te)) == tr.size + va.size + te.size
    tr, va, te, _ = W.split_entity(w, len(al.entities), test_frac, val_frac, seed)
    parts = [set(w.entity_idx[p].tolist()) for p in (tr, va, te)]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert tr.size + va.size + te.size == w.y.size and te.size > 0 and tr.size > 0


@HYP
@given(leads=st.lists(st.integers(0, 11), min_size=1, max_size=24), seed=st.integers(0, 1000))
def test_bucketed_batches_equal_full_windows(leads: list[int], seed: int) -> None:
    t = 12
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(len(leads), t, 3, generator=g)
    mask = torch.arange(t).unsqueeze(0) >= torch.tensor(leads).unsqueeze(1)
    x = x * mask.unsqueeze(-1)
    assert lead_padding(mask).tolist() == leads
    torch.manual_seed(seed)
    model = build("cloudformer", 3, TINY).eval()
    x_sys = x.sum(1) / mask.sum(1, keepdim=True)
    with torch.no_grad():
        full = model(x, mask, x_sys)
        for b, keep in _train_plan(torch.arange(len(leads)), torch.tensor(leads), t, 5, g):
            assert keep == bucket_length(t - min(leads[i] for i in b.tolist()), t)
            cut = model(x[b][:, t - keep:], mask[b][:, t - keep:], x_sys[b])
            torch.testing.assert_close(cut, full[b], rtol=1e-4, atol=1e-5)
