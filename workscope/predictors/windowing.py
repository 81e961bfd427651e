"""From a trace's long ``usage`` table to windowed tensors, with leak-free splits.

The pipeline, all vectorised (polars / numpy; no per-sample Python loops):

1. :func:`align` puts each entity's samples on a grid. In ``"grid"`` mode the grid is global:
   step ``k`` covers ``[t0 + k*step, t0 + (k+1)*step)`` with ``t0`` the earliest sample, so
   entities stay time-aligned (which a time split needs); several samples in one cell are
   averaged. In ``"sequence"`` mode every distinct sample time of an entity is one step
   (irregular benchmarks such as the Azure VM noise data). Metrics are pivoted to columns.
   The result is one *flat* series: every entity's steps back to back, with offsets, so a
   window is an index range and crossing an entity boundary is an index comparison.
2. Gaps inside a series are forward-filled per entity (a metric not yet seen is 0); which
   cells were really observed is kept, because a target must be a real observation.
3. :func:`make_windows` gathers windows of ``T`` steps ending at every step whose target
   ``horizon`` steps later lies in the same entity and was observed. Steps before the
   entity's first step are padding (zeros, ``mask`` False), so short series still yield
   windows.
4. :func:`split_entity` / :func:`split_time` choose train / val / test indices.
5. :func:`system_branch` adds the per-metric means over real steps (the system branch input).

Rate series (``requests`` / ``invocations``) come from :func:`rate_series`: arrivals counted
per step, as a one-entity usage-like frame with metric ``rate``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import torch

from workscope.errors import TaskDataError, TaskSpecError

log = logging.getLogger(__name__)

RATE_ENTITY = "all"
RATE_METRIC = "rate"

#: Most cells (steps x metrics, over all entities) an aligned grid may have: 2**27 float64
#: values are 1 GiB. A step_s far below a trace's sampling gap would otherwise explode a month
#: of data into billions of empty steps.
MAX_GRID_CELLS = 1 << 27

#: Most bytes the windows of one task may take (window x metrics x windows values, with their
#: gather indices and mask): 2 GiB. Checked before they are gathered.
MAX_WINDOW_BYTES = 2 << 30


@dataclass(frozen=True)
class Aligned:
    """Every entity's aligned series, back to back.

    ``values`` [L, M] float64 (forward-filled, 0 before a metric's first value),
    ``observed`` [L, M] bool (a real sample fell in this cell), ``time`` [L] float64 (grid
    time, or the sample time in sequence mode), ``start`` / ``stop`` [E] int64 (each entity's
    half-open range in the flat arrays), ``row_entity`` [L] int64 (entity index per step).
    """

    values: np.ndarray
    observed: np.ndarray
    time: np.ndarray
    entities: list[str]
    start: np.ndarray
    stop: np.ndarray
    row_entity: np.ndarray
    metrics: list[str]
    step_s: float | None


def infer_step(usage: pl.DataFrame) -> float:
    """The typical sampling step: median positive gap between samples of one entity and metric."""
    gaps = (
        usage.sort("entity_id", "metric", "t_s")
        .select(pl.col("t_s").diff().over("entity_id", "metric").alias("d"))
        .filter(pl.col("d") > 0)
    )
    if gaps.height == 0:
        raise TaskDataError("cannot infer a time step: no entity has two samples of one metric; "
                         "set step_s in the task spec")
    return float(gaps["d"].median())


def rate_series(events: pl.DataFrame | pl.LazyFrame, step_s: float,
                time_col: str = "arrival_s") -> pl.DataFrame:
    """Arrivals counted per ``step_s`` as a usage-like frame (one entity, metric ``rate``).

    Empty bins count 0 (no arrival is an observation too). ``t_s`` is each bin's start.
    The counting runs as a lazy group-by, so only one row per bin is ever in memory.
    """
    from workscope.numeric import exact_div

    t = events.lazy().select(pl.col(time_col).drop_nulls().cast(pl.Float64).alias("t"))
    t0 = t.select(pl.col("t").min()).collect().item()
    if t0 is None:
        raise TaskDataError(f"no {time_col} values to count")
    # the tolerance keeps arrivals on an exact bin edge in that bin, not the one before
    t1 = t.select(pl.col("t").max()).collect().item()
    if (float(t1) - float(t0)) / step_s + 1 > MAX_GRID_CELLS:
        raise TaskSpecError(f"step_s = {step_s:g} s cuts the {float(t1) - float(t0):g} s of {time_col} into more "
                            f"than {MAX_GRID_CELLS:,} bins; set a larger step_s")
    k = (exact_div(pl.col("t") - t0, step_s) + 1e-9).floor().cast(pl.Int64).alias("k")
    bins = t.select(k).group_by("k").len().collect()
    counts = np.zeros(int(bins["k"].max()) + 1, dtype=np.float64)
    counts[bins["k"].to_numpy()] = bins["len"].to_numpy()
    return pl.DataFrame({
        "t_s": float(t0) + np.arange(counts.size, dtype=np.float64) * step_s,
        "entity_id": [RATE_ENTITY] * counts.size,
        "metric": [RATE_METRIC] * counts.size,
        "value": counts,
    })


def align(usage: pl.DataFrame, metrics: Sequence[str], step_s: float | None,
          mode: str = "grid") -> Aligned:
    """Align ``usage`` (t_s, entity_id, metric, value) per entity; see the module docstring.

    ``metrics`` fixes the column order; a listed metric absent from the data is a column of
    zeros that is never observed (so shapes stay stable across slices of one trace).
    """
    metrics = list(metrics)
    u = usage.select("t_s", "entity_id", "metric", "value").filter(pl.col("metric").is_in(metrics))
    if u.height == 0:
        raise TaskDataError(f"no usage rows for metrics {metrics}")
    if mode == "grid":
        if step_s is None:
            step_s = infer_step(u)
        t0 = float(u["t_s"].min())
        # floor with a tolerance: samples on exact multiples must not drop into the cell before
        u = u.with_columns(((pl.col("t_s") - t0) / step_s + 1e-9).floor().cast(pl.Int64).alias("k"))
        cell_time = pl.lit(t0) + pl.col("k").cast(pl.Float64) * step_s
    elif mode == "sequence":
        u = u.with_columns(pl.col("t_s").rank("dense").over("entity_id").cast(pl.Int64).sub(1).alias("k"))
        cell_time = pl.col("t_s_cell")
    else:
        raise TaskSpecError(f"unknown alignment mode {mode!r}: use 'grid' or 'sequence'")

    cells = (u.group_by("entity_id", "k", "metric")
             .agg(pl.col("value").mean(), pl.col("t_s").min().alias("t_s_cell")))
    wide = cells.pivot(on="metric", index=["entity_id", "k"], values="value")
    times = cells.group_by("entity_id", "k").agg(pl.col("t_s_cell").min())
    wide = wide.join(times, on=["entity_id", "k"])
    ranges = (wide.group_by("entity_id").agg(pl.col("k").min().alias("k0"), pl.col("k").max().alias("k1"))
              .sort("entity_id"))
    steps = int((ranges["k1"] - ranges["k0"] + 1).sum())
    if steps * len(metrics) > MAX_GRID_CELLS:
        # checked before the gaps are filled in: the ranges alone say how many steps there will be
        hint = "set a larger step_s" if mode == "grid" else "read fewer metrics or a shorter trace slice"
        raise TaskSpecError(f"the aligned series would have {steps:,} steps x {len(metrics)} metrics, more "
                            f"than {MAX_GRID_CELLS:,} cells (step_s = {step_s}); {hint}")
    # every step between an entity's first and last sample, so gaps become rows to fill
    full = (ranges.with_columns(pl.int_ranges("k0", pl.col("k1") + 1).alias("k"))
            .explode("k").select("entity_id", pl.col("k").cast(pl.Int64)))
    full = full.join(wide, on=["entity_id", "k"], how="left").sort("entity_id", "k")
    for m in metrics:
        if m not in full.columns:
            full = full.with_columns(pl.lit(None, pl.Float64).alias(m))
    observed = full.select([pl.col(m).is_not_null() for m in metrics]).to_numpy().astype(bool)
    filled = full.select([pl.col(m).forward_fill().over("entity_id").fill_null(0.0) for m in metrics])
    if mode == "grid":
        time = full.select(cell_time.alias("t")).to_series().to_numpy()
    else:
        time = full["t_s_cell"].to_numpy()  # sequence steps exist only where samples are
    entities = ranges["entity_id"].to_list()
    lengths = (ranges["k1"] - ranges["k0"] + 1).to_numpy().astype(np.int64)
    stop = np.cumsum(lengths)
    start = stop - lengths
    return Aligned(values=filled.to_numpy().astype(np.float64), observed=observed,
                   time=np.asarray(time, dtype=np.float64), entities=entities, start=start, stop=stop,
                   row_entity=np.repeat(np.arange(len(entities)), lengths), metrics=metrics,
                   step_s=step_s if mode == "grid" else None)


@dataclass(frozen=True)
class Windows:
    """Windows gathered from an :class:`Aligned` series (numpy, before the split).

    ``end`` [N] flat index of each window's last input step; ``first_time`` [N] time of its
    first real (unmasked) step; ``target_time`` [N] time of the target step.
    """

    x_seq: np.ndarray
    mask: np.ndarray
    y: np.ndarray
    end: np.ndarray
    entity_idx: np.ndarray
    t_end: np.ndarray
    first_time: np.ndarray
    target_time: np.ndarray


def make_windows(al: Aligned, window: int, horizon: int, target: str,
                 horizon_zero_ok: bool = False) -> Windows:
    """All windows of ``window`` steps whose target ``horizon`` steps later is observed.

    ``horizon_zero_ok`` allows a target at the window's last step, which is only honest when
    the target is not among the inputs (a run-level label such as CloudPerfTrace's perf_ori).
    """
    if window < 1 or horizon < (0 if horizon_zero_ok else 1):
        raise TaskSpecError("window must be >= 1 step and horizon >= 1 step")
    j = al.metrics.index(target)
    ent = al.row_entity
    g = np.arange(al.values.shape[0], dtype=np.int64)
    tgt = g + horizon
    ok = tgt < al.stop[ent]  # target inside the same entity
    ok[ok] &= al.observed[tgt[ok], j]
    end = g[ok]
    # per window step: the values (float64, twice while gathered and masked, then a float32
    # copy), the gather indices (int64, twice) and the mask
    need = end.size * window * (20 * len(al.metrics) + 17)
    if need > MAX_WINDOW_BYTES:
        raise TaskSpecError(f"window = {window:,} steps x {len(al.metrics)} metrics x {end.size:,} windows "
                            f"needs about {need / (1 << 30):.1f} GiB, more than {MAX_WINDOW_BYTES >> 30} GiB; "
                            "lower window or read a shorter trace slice")
    e = ent[end]
    idx = end[:, None] + np.arange(-window + 1, 1, dtype=np.int64)[None, :]
    mask = idx >= al.start[e][:, None]  # False = before the entity's first step (padding)
    safe = np.where(mask, idx, end[:, None])
    x = al.values[safe] * mask[..., None]
    first = np.maximum(end - window + 1, al.start[e])
    return Windows(x_seq=x, mask=mask, y=al.values[end + horizon, j], end=end, entity_idx=e,
                   t_end=al.time[end], first_time=al.time[first], target_time=al.time[end + horizon])


def _take(n: int, frac: float, at_least: int) -> int:
    return max(at_least, math.ceil(n * frac)) if frac > 0 else 0


def split_entity(w: Windows, n_entities: int, test_fraction: float, val_fraction: float,
                 seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Unseen entities in test (and val): entities with windows, shuffled with ``seed``."""
    have = np.unique(w.entity_idx)
    if have.size < 2:
        raise TaskDataError(f"an entity split needs windows from at least 2 entities, got {have.size}")
    rng = np.random.default_rng(seed)
    order = have[rng.permutation(have.size)]
    n_test = min(_take(have.size, test_fraction, 1), have.size - 1)
    n_val = min(_take(have.size, val_fraction, 1), have.size - n_test - 1)
    test_e, val_e, train_e = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
    pick = [np.flatnonzero(np.isin(w.entity_idx, s)) for s in (train_e, val_e, test_e)]
    info = {"train_entities": int(train_e.size), "val_entities": int(val_e.size),
            "test_entities": int(test_e.size)}
    return pick[0], pick[1], pick[2], info


def split_time(w: Windows, test_fraction: float, val_fraction: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """The last ``test_fraction`` of time in test, the ``val_fraction`` before it in val.

    A window belongs to a period only if its first real input step *and* its target lie in
    it, so windows straddling a boundary are dropped: the gap is at least the horizon and
    no target of an earlier period is at or after the first input of a later one.
    """
    t_lo = float(w.first_time.min())
    t_hi = float(w.target_time.max())
    span = t_hi - t_lo
    test_start = t_hi - test_fraction * span
    val_start = test_start - val_fraction * span
    train = np.flatnonzero(w.target_time < val_start)
    val = np.flatnonzero((w.first_time >= val_start) & (w.target_time < test_start))
    test = np.flatnonzero(w.first_time >= test_start)
    info = {"val_start_s": val_start, "test_start_s": test_start,
            "dropped_straddling": int(w.y.size - train.size - val.size - test.size)}
    return train, val, test, info


def system_branch(x_seq: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-metric means over each window's real steps: [N, T, M], [N, T] -> [N, M]."""
    m = mask.unsqueeze(-1).to(x_seq.dtype)
    return (x_seq * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)
