"""Prediction tasks: what to predict from which trace, and how to split it without leaks.

A :class:`TaskSpec` names a trace table, the input metrics, the target, the window and the
horizon (both in steps), the split, and an optional target transform. :func:`build` turns
a spec and an ingested trace into a :class:`~workscope.predictors.dataset.Dataset`. The
built-in tasks and the reading of user task files live in :mod:`workscope.predictors.catalog`.

Leakage rules kept here (tests check each):

- entity split: an entity's windows all go to one of train / val / test; with
  ``test_groups`` whole groups (e.g. CloudPerfTrace applications) are held out;
- time split: see :func:`~workscope.predictors.windowing.split_time` (every train target is
  earlier than every test window's first input);
- ``ratio_to_group_median`` divides the target metric (input column and ``y``) by its
  group's median computed from **training** rows only (train entities, or the train period);
  a group unseen in training falls back to the median of all training rows;
- input normalization is left to :meth:`Dataset.normalized` (training windows only).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import torch

from workscope.errors import TaskDataError, TaskSpecError
from workscope.predictors import windowing as W
from workscope.predictors.dataset import Dataset, Split

if TYPE_CHECKING:
    from workscope.store import Store

log = logging.getLogger(__name__)

EVENT_TABLES = ("requests", "invocations")


@dataclass(frozen=True)
class TaskSpec:
    """One prediction task (see the module docstring).

    ``metrics`` None means every metric of the table (minus the target when
    ``target_is_input`` is False). ``step_s`` None infers the step from the data.
    ``align`` is "grid" (regular time grid) or "sequence" (each sample time is a step).
    ``group_key`` names the ``attrs`` field grouping entities (SKU, application); it is used
    by ``ratio_to_group_median`` and by ``test_groups`` (groups held out as test).
    ``whole_run`` makes every window reach back to its entity's first step (``window`` is
    then the longest entity, in steps; shorter runs are padded at the front and masked), as
    CloudFormer reads a whole run of metrics.
    """

    name: str
    description: str
    source: str
    table: str = "usage"
    metrics: tuple[str, ...] | None = None
    target: str = "rate"
    window: int = 12
    horizon: int = 1
    step_s: float | None = None
    split: str = "entity"
    target_transform: str = "none"
    group_key: str | None = None
    ratio_target: bool = False
    test_fraction: float = 0.2
    val_fraction: float = 0.1
    align: str = "grid"
    target_is_input: bool = True
    test_groups: tuple[str, ...] | None = None
    whole_run: bool = False


#: One line per TaskSpec field, for the reference page (docs/predictors.md).
SPEC_HELP: dict[str, str] = {
    "name": "task name",
    "description": "one line for `predict tasks` (default: `user task from <file>`)",
    "source": "trace to read, by store name (`--trace` overrides it)",
    "table": "`usage`, or an event table (`requests`, `invocations`) counted per `step_s` into metric `rate`",
    "metrics": "input metrics in order (default: every metric of the table)",
    "target": "metric to predict (`rate` for event tables)",
    "window": "input steps per window",
    "horizon": "steps from the window's last step to the target (0 only when the target is not an input)",
    "step_s": "grid step in seconds (default: the median sampling gap)",
    "split": "`entity`: unseen entities in test; `time`: the last `test_fraction` of time in test",
    "target_transform": "`none` or `ratio_to_group_median` (target / its group's median over training rows)",
    "group_key": "`attrs` field grouping entities (SKU, application)",
    "ratio_target": "the target lies in [0, 1]: neural models end in a sigmoid",
    "test_fraction": "share of entities (or of time) in test",
    "val_fraction": "share of entities (or of time) in validation (early stopping, model choice)",
    "align": "`grid` (regular time grid) or `sequence` (each sample time of an entity is a step)",
    "target_is_input": "the target's own history is an input",
    "test_groups": "groups held out as test (with `group_key`), e.g. unseen applications",
    "whole_run": "windows reach back to the entity's first step (`window` = the longest entity)",
}

#: Bounds on a task's sizes, checked by :func:`validate` for built-in and user (TOML) tasks
#: alike; the data-dependent bounds (grid cells, window memory) are in
#: :mod:`~workscope.predictors.windowing`. ``window`` matches the longest ``max_len`` a model
#: may have (:data:`~workscope.predictors.models.MODEL_BOUNDS`).
MAX_WINDOW = 100_000  # steps per window
MAX_HORIZON = 100_000  # steps from a window's end to its target
MIN_STEP_S = 1e-3  # grid step: 1 ms (finer grids of real traces explode into billions of cells)
MAX_STEP_S = 366 * 86_400.0  # grid step: a year
MAX_TASK_METRICS = 1024  # input metrics (a model's n_metrics bound)

_CHOICES = {"table": ("usage", *EVENT_TABLES), "split": ("entity", "time"), "align": ("grid", "sequence"),
            "target_transform": ("none", "ratio_to_group_median")}


def validate(spec: TaskSpec) -> TaskSpec:
    """``spec`` itself if its settings are consistent; else :class:`TaskSpecError` saying which."""
    _check_types(spec)
    for key, choices in _CHOICES.items():
        if getattr(spec, key) not in choices:
            raise TaskSpecError(f"task {spec.name}: {key} must be one of {', '.join(choices)}, "
                                f"got {getattr(spec, key)!r}")
    if not 1 <= spec.window <= MAX_WINDOW:
        raise TaskSpecError(f"task {spec.name}: window must be >= 1 step and at most {MAX_WINDOW:,} "
                            f"steps, got {spec.window}")
    if spec.horizon > MAX_HORIZON:
        raise TaskSpecError(f"task {spec.name}: horizon must be at most {MAX_HORIZON:,} steps, got {spec.horizon}")
    if spec.metrics is not None and not 1 <= len(spec.metrics) <= MAX_TASK_METRICS:
        raise TaskSpecError(f"task {spec.name}: metrics must list 1 to {MAX_TASK_METRICS} metrics, "
                            f"got {len(spec.metrics)}")
    if spec.horizon < 0 or (spec.horizon == 0 and spec.target_is_input):
        # horizon 0 with the target among the inputs would show the answer in the window
        raise TaskSpecError(f"task {spec.name}: horizon must be >= 1 (or 0 only when the target is "
                            f"not an input), got {spec.horizon}")
    for key in ("test_fraction", "val_fraction"):
        v = getattr(spec, key)
        if not 0 <= v < 1:
            raise TaskSpecError(f"task {spec.name}: {key} must lie in [0, 1), got {v}")
    if not spec.test_fraction + spec.val_fraction < 1:
        raise TaskSpecError(f"task {spec.name}: test_fraction + val_fraction must be below 1 (training "
                            f"needs the rest), got {spec.test_fraction} + {spec.val_fraction}")
    if spec.step_s is not None and not MIN_STEP_S <= spec.step_s <= MAX_STEP_S:
        # "not <=" also catches NaN; inf is above the bound
        raise TaskSpecError(f"task {spec.name}: step_s must be > 0 seconds, between {MIN_STEP_S:g} and "
                            f"{MAX_STEP_S:g}, got {spec.step_s}")
    if spec.table in EVENT_TABLES and spec.step_s is None:
        raise TaskSpecError(f"task {spec.name}: a rate task (table {spec.table}) needs step_s, the counting bin")
    if spec.target_transform == "ratio_to_group_median" and not spec.group_key:
        raise TaskSpecError(f"task {spec.name}: ratio_to_group_median needs group_key")
    if spec.test_groups is not None and not spec.group_key:
        raise TaskSpecError(f"task {spec.name}: test_groups needs group_key")
    return spec


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "window": (int,), "horizon": (int,), "test_fraction": (int, float), "val_fraction": (int, float),
    "ratio_target": (bool,), "target_is_input": (bool,), "whole_run": (bool,),
}


def _check_types(spec: TaskSpec) -> None:
    """TaskSpecError for a field of the wrong type (a spec built in code; TOML files are
    checked as they are read), so comparisons below cannot raise TypeError."""
    for key, types in _FIELD_TYPES.items():
        v = getattr(spec, key)
        if not isinstance(v, types) or (isinstance(v, bool) and bool not in types):
            raise TaskSpecError(f"task {spec.name}: {key} must be {' or '.join(t.__name__ for t in types)}, "
                                f"got {v!r}")
    if spec.step_s is not None and (isinstance(spec.step_s, bool) or not isinstance(spec.step_s, (int, float))):
        raise TaskSpecError(f"task {spec.name}: step_s must be a number of seconds, got {spec.step_s!r}")
    for key in ("metrics", "test_groups"):
        v = getattr(spec, key)
        if v is not None and not (isinstance(v, (tuple, list)) and all(isinstance(m, str) for m in v)):
            raise TaskSpecError(f"task {spec.name}: {key} must be a list of strings, got {v!r}")


def _usage_frame(store: Store, spec: TaskSpec) -> pl.DataFrame:
    """The rows the task reads: (t_s, entity_id, metric, value, group).

    Filters run inside the lazy scan, so only the task's metrics are read into memory, and
    ``attrs`` is reduced to the ``group_key`` field (null without one).
    """
    tr = store.trace(spec.source)
    if spec.table == "usage":
        lf = tr.scan("usage")
        if spec.metrics is not None:
            lf = lf.filter(pl.col("metric").is_in([*spec.metrics, spec.target]))
        group = (pl.col("attrs").str.json_path_match(f"$.{spec.group_key}") if spec.group_key
                 else pl.lit(None, pl.String))
        return lf.select("t_s", "entity_id", "metric", "value", group.alias("group")).collect()
    # an event table (validate() has checked the table name and that step_s is set)
    return W.rate_series(tr.scan(spec.table), float(spec.step_s)).with_columns(pl.lit(None, pl.String).alias("group"))


def _entity_groups(usage: pl.DataFrame, entities: list[str]) -> np.ndarray:
    """Each entity's group: the first non-null ``group`` among its rows ("" if none)."""
    groups = (usage.filter(pl.col("group").is_not_null())
              .group_by("entity_id").agg(pl.col("group").first().alias("g")))
    lut = dict(zip(groups["entity_id"].to_list(), groups["g"].to_list()))
    return np.array([lut.get(e) or "" for e in entities], dtype=object)


def build(store: Store, spec: TaskSpec, seed: int = 0) -> Dataset:
    """Windows, split and target transform of ``spec`` over the trace ``spec.source``.

    Raises :class:`~workscope.errors.TaskDataError` (naming the task and the trace) when the
    trace cannot give the task's windows, :class:`~workscope.errors.TaskSpecError` when the
    spec itself is inconsistent.
    """
    try:
        return _build(store, spec, seed)
    except TaskDataError as exc:
        raise TaskDataError(f"task {spec.name} on trace {spec.source!r}: {exc}. Check that the trace "
                            "holds the task's metrics (workscope sql \"select distinct metric from "
                            "usage\") or pass another --trace") from None


def _build(store: Store, spec: TaskSpec, seed: int) -> Dataset:
    validate(spec)
    usage = _usage_frame(store, spec)
    target = W.RATE_METRIC if spec.table in EVENT_TABLES else spec.target
    inputs = _input_metrics(usage, spec, target)
    cols = inputs + ([] if target in inputs else [target])
    try:
        # the size bounds that depend on the data (grid cells, window memory) are checked in here
        al = W.align(usage, cols, spec.step_s, spec.align)
        window = int((al.stop - al.start).max()) if spec.whole_run else spec.window
        if window > MAX_WINDOW:
            raise TaskSpecError(f"whole_run makes the window the longest entity, {window:,} steps, more "
                                f"than {MAX_WINDOW:,}; set a larger step_s or whole_run = false")
        w = W.make_windows(al, window, spec.horizon, target, horizon_zero_ok=not spec.target_is_input)
    except TaskSpecError as exc:
        raise TaskSpecError(f"task {spec.name} on trace {spec.source!r}: {exc}") from None
    if w.y.size == 0:
        raise TaskDataError(f"task {spec.name}: no window has an observed target")
    x = w.x_seq[..., [cols.index(m) for m in inputs]]
    y = w.y.copy()
    groups = (_entity_groups(usage, al.entities)
              if spec.group_key else np.array([""] * len(al.entities), dtype=object))

    tr, va, te, info = _split(w, groups, spec, seed)
    if tr.size == 0 or te.size == 0:
        raise TaskDataError(f"task {spec.name}: split left {tr.size} train and {te.size} test windows")

    meta: dict = {"task": spec.name, "step_s": al.step_s, "window": window,
                  "horizon": spec.horizon, "seed": seed, "source": spec.source}
    if spec.target_transform == "ratio_to_group_median":
        med = _train_medians(usage, target, al, groups, w, tr, spec.split, info)
        scale = np.array([med.get(groups[e], med["__all__"]) for e in w.entity_idx])
        y = y / scale
        if target in inputs:
            j = inputs.index(target)
            x[..., j] = x[..., j] / scale[:, None]
        meta["group_medians"] = med

    x_seq = torch.from_numpy(x.astype(np.float32))
    mask = torch.from_numpy(w.mask)
    split = Split(train=torch.from_numpy(tr).long(), val=torch.from_numpy(va).long(),
                  test=torch.from_numpy(te).long(), kind=spec.split, info={**info, "seed": seed})
    return Dataset(
        x_seq=x_seq, mask=mask, x_sys=W.system_branch(x_seq, mask),
        y=torch.from_numpy(y.astype(np.float32)),
        entity=[al.entities[i] for i in w.entity_idx], t_end=torch.from_numpy(w.t_end),
        metrics=inputs, split=split, target=target, ratio_target=spec.ratio_target,
        meta={**meta, "target_time": torch.from_numpy(w.target_time),
              "first_time": torch.from_numpy(w.first_time),
              "group": [groups[i] for i in w.entity_idx]},
    )


def _input_metrics(usage: pl.DataFrame, spec: TaskSpec, target: str) -> list[str]:
    """The input metrics in order: the spec's, or every metric of the rows read; the target
    joins them (last) when its own history is an input."""
    if spec.metrics is not None:
        inputs = list(spec.metrics)
    else:
        inputs = sorted(usage["metric"].unique().to_list())
        if not spec.target_is_input:
            inputs = [m for m in inputs if m != target]
    if spec.target_is_input and target not in inputs:
        inputs.append(target)
    if not spec.target_is_input and target in inputs:
        raise TaskSpecError(f"target {target!r} is listed as an input but target_is_input is False")
    return inputs


def _split(w: W.Windows, groups: np.ndarray, spec: TaskSpec, seed: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """(train, val, test window indices, split info) as ``spec.split`` says."""
    if spec.split == "time":
        return W.split_time(w, spec.test_fraction, spec.val_fraction)
    # "entity" (validate() admits only these two)
    if spec.test_groups is not None:
        return _split_groups(w, groups, spec, seed)
    return W.split_entity(w, len(groups), spec.test_fraction, spec.val_fraction, seed)


def _split_groups(w: W.Windows, groups: np.ndarray, spec: TaskSpec, seed: int):
    """Held-out groups in test; validation = a seeded fraction of the other entities."""
    g = groups[w.entity_idx]
    test_groups = set(spec.test_groups or ())
    te = np.flatnonzero(np.isin(g, list(test_groups)))
    rest = np.unique(w.entity_idx[~np.isin(g, list(test_groups))])
    rng = np.random.default_rng(seed)
    order = rest[rng.permutation(rest.size)]
    n_val = min(int(np.ceil(rest.size * spec.val_fraction)) if spec.val_fraction > 0 else 0,
                max(rest.size - 1, 0))
    val_e = order[:n_val]
    train_e = order[n_val:]
    info = {"test_groups": sorted(test_groups),
            "train_groups": sorted(set(groups[train_e].tolist())),
            "train_entities": int(train_e.size), "val_entities": int(val_e.size)}
    return (np.flatnonzero(np.isin(w.entity_idx, train_e)), np.flatnonzero(np.isin(w.entity_idx, val_e)),
            te, info)


def _train_medians(usage: pl.DataFrame, target: str, al: W.Aligned, groups: np.ndarray,
                   w: W.Windows, train: np.ndarray, split: str, info: dict) -> dict:
    """Group medians of the target metric from training rows only (see module docstring)."""
    rows = usage.filter(pl.col("metric") == target)
    if split == "time":
        rows = rows.filter(pl.col("t_s") < info["val_start_s"])
    else:
        train_entities = [al.entities[i] for i in np.unique(w.entity_idx[train])]
        rows = rows.filter(pl.col("entity_id").is_in(train_entities))
    lut = dict(zip(al.entities, groups.tolist()))
    rows = rows.with_columns(pl.col("entity_id").replace_strict(lut, default="").alias("g"))
    med = {g: float(v) for g, v in rows.group_by("g").agg(pl.col("value").median()).iter_rows()}
    med["__all__"] = float(rows["value"].median())
    return med
