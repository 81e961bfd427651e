"""Synthesis: a workload drawn from a workload model (replay.model), seeded and reproducible.

Per group and per window, arrivals follow a renewal process whose gaps have the window's
family with mean 1 / (rate x rate_scale) and the window's CV: gamma (shape 1/CV^2), Weibull
(shape solved from the CV), lognormal (sigma^2 = ln(1 + CV^2)), exponential (CV 1), Pareto
(tail index from the CV, alpha = 1 + sqrt(1 + 1/CV^2)). The process runs in operational time
(unit-mean gaps mapped through each window's rate), so a pending arrival carries over a
window boundary and the expected count over any span is its integrated rate. Lengths are
drawn from the length entry in force at each arrival. The same model, seed and options give
identical rows.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import polars as pl
from scipy import optimize, special

from workscope.errors import UsageError
from workscope.replay.model import Group, Window, WorkloadModel
from workscope.replay.workload import Workload
from workscope.schemas import TABLES


def weibull_shape_for_cv(cv: float) -> float:
    """Weibull shape k whose CV is ``cv`` (CV^2 = G(1+2/k)/G(1+1/k)^2 - 1)."""
    if cv <= 0:
        return 1e6
    def f(logk: float) -> float:
        k = math.exp(logk)
        return math.exp(special.gammaln(1 + 2 / k) - 2 * special.gammaln(1 + 1 / k)) - 1 - cv * cv
    return math.exp(optimize.brentq(f, math.log(0.05), math.log(500.0)))


def gaps(rng: np.random.Generator, family: str, mean: float, cv: float, n: int) -> np.ndarray:
    """``n`` inter-arrival gaps of the family with the given mean and CV."""
    cv = max(cv, 1e-6)
    if family == "exponential":
        return rng.exponential(mean, n)
    if family == "gamma":
        shape = 1.0 / (cv * cv)
        return rng.gamma(shape, mean / shape, n)
    if family == "weibull":
        k = weibull_shape_for_cv(cv)
        return mean / math.gamma(1 + 1 / k) * rng.weibull(k, n)
    if family == "lognormal":
        s2 = math.log1p(cv * cv)
        return rng.lognormal(math.log(mean) - s2 / 2, math.sqrt(s2), n)
    if family == "pareto":
        alpha = 1 + math.sqrt(1 + 1 / (cv * cv))
        xm = mean * (alpha - 1) / alpha
        return xm * (1 + rng.pareto(alpha, n))
    raise UsageError(f"unknown family {family!r}")


def _window_arrivals(rng: np.random.Generator, w: Window, start: float, length: float, scale: float,
                     carry: float) -> tuple[np.ndarray, float]:
    """Arrivals in one window, in operational time (unit-mean gaps mapped through the rate).

    ``carry`` is how far (in mean gaps) the next arrival lies beyond the window start; the
    leftover is returned for the next window, so the process runs on across windows and
    the expected count over a span is exactly its integrated rate.
    """
    avail = w.rate_per_s * scale * length  # operational time available in this window
    if avail <= 0:
        return np.empty(0), carry
    n = int(avail + 6 * math.sqrt(avail + 1) * max(w.cv, 1.0) + 16)
    op = carry + np.concatenate([[0.0], np.cumsum(gaps(rng, w.family, 1.0, w.cv, n))])
    while op[-1] < avail:  # heavy tails can outrun the estimate
        op = np.concatenate([op, op[-1] + np.cumsum(gaps(rng, w.family, 1.0, w.cv, n))])
    inside = op < avail
    leftover = float(op[np.argmin(inside)] - avail)  # first op time past the window
    return start + op[inside] * length / avail, leftover


def _draw(rng: np.random.Generator, spec: dict[str, Any], n: int) -> np.ndarray:
    if "pmf" in spec:
        values = np.fromiter(spec["pmf"].keys(), dtype=np.float64)
        probs = np.fromiter(spec["pmf"].values(), dtype=np.float64)
        return rng.choice(values, size=n, p=probs / probs.sum())
    q = np.asarray(spec["quantiles"], dtype=np.float64)
    return np.interp(rng.uniform(size=n), np.linspace(0, 1, q.size), q)


def _lengths(rng: np.random.Generator, g: Group, times: np.ndarray, field: str) -> np.ndarray | None:
    entries = [e for e in g.lengths if field in e]
    if not entries or times.size == 0:
        return None
    starts = np.array([e["start_s"] for e in entries])
    which = np.clip(np.searchsorted(starts, times, side="right") - 1, 0, len(entries) - 1)
    out = np.empty(times.size)
    for i in np.unique(which):
        mask = which == i
        out[mask] = _draw(rng, entries[i][field], int(mask.sum()))
    return np.round(out)


def synthesize(model: WorkloadModel, *, duration_s: float | None = None, rate_scale: float = 1.0,
               seed: int = 0, groups: list[str] | None = None) -> Workload:
    """A requests workload drawn from ``model`` over ``duration_s`` (default: the model's span).

    Longer durations repeat the model's windows cyclically; ``rate_scale`` multiplies every
    window's rate. Each group draws from its own stream (seed, group index), so adding or
    removing a group leaves the others unchanged.
    """
    if not (math.isfinite(rate_scale) and rate_scale > 0):
        raise UsageError(f"the rate scale (--rate) must be a finite number > 0, got {rate_scale!r}")
    span = model.span_s
    duration = span if duration_s is None else float(duration_s)
    if not (math.isfinite(duration) and duration > 0):
        raise UsageError(f"the duration (--duration) must be a finite number of seconds > 0, got {duration!r}")
    _check_size(model, duration, rate_scale)
    names = groups or list(model.groups)
    frames = []
    for gi, name in enumerate(model.groups):
        if name not in names:
            continue
        g = model.groups[name]
        rng = np.random.default_rng([seed, gi])
        times = []
        cycle = 0.0
        carry = float(rng.uniform())  # equilibrium phase of a unit-rate process, approximately
        while cycle < duration:
            for w in g.windows:
                start = cycle + w.start_s
                if start >= duration:
                    break
                got, carry = _window_arrivals(rng, w, start, min(model.window_s, duration - start),
                                              rate_scale, carry)
                times.append(got)
            cycle += span
        t = np.sort(np.concatenate(times)) if times else np.empty(0)
        cols: dict[str, Any] = {"arrival_s": t}
        for field_name in ("input_tokens", "output_tokens"):
            lens = _lengths(rng, g, np.mod(t, span), field_name)
            cols[field_name] = lens.astype(np.int64) if lens is not None else [None] * t.size
        df = pl.DataFrame(cols, schema_overrides={"input_tokens": pl.Int64, "output_tokens": pl.Int64})
        # json.dumps escapes any quote or control character a group name holds
        attrs = json.dumps({"group": name}, separators=(",", ":"), ensure_ascii=False)
        frames.append(df.with_columns(pl.lit(g.model or name).alias("model"), pl.lit(attrs).alias("attrs"),
                                      pl.lit("synthetic").alias("kind")))
    if not frames:
        raise UsageError(f"no group of the model matches {groups}")
    df = pl.concat(frames, how="diagonal").sort("arrival_s", maintain_order=True)
    schema = TABLES["requests"].polars_schema
    df = df.select([pl.col(c).cast(d) if c in df.columns else pl.lit(None, d).alias(c) for c, d in schema.items()])
    meta = {"source_trace": f"synthetic from {model.source.get('trace') or model.source.get('servegen') or 'model'}",
            "origin_utc": None, "hash_block_tokens": None,
            "transforms": [{"name": "synthesize", "duration_s": duration, "rate_scale": rate_scale, "seed": seed}]}
    return Workload("requests", df.lazy(), meta)


MAX_ROWS = 100_000_000
"""Most requests one synthesis may be expected to draw (their arrays alone take gigabytes)."""
MAX_WINDOW_STEPS = 10_000_000
"""Most model windows one synthesis may step through (duration / span x windows per cycle)."""


def _check_size(model: WorkloadModel, duration: float, rate_scale: float) -> None:
    """UsageError when the requested synthesis would not fit in memory or time, before any work."""
    cycles = duration / model.span_s
    steps = cycles * sum(len(g.windows) for g in model.groups.values())
    if steps > MAX_WINDOW_STEPS:
        raise UsageError(f"--duration {duration:g} s repeats the model's {model.span_s:g} s span {cycles:.3g} "
                         f"times ({steps:.3g} window steps, at most {MAX_WINDOW_STEPS:,}); lower --duration")
    per_cycle = sum(w.rate_per_s * model.window_s for g in model.groups.values() for w in g.windows)
    expected = per_cycle * rate_scale * cycles
    if expected > MAX_ROWS:
        raise UsageError(f"this synthesis would draw about {expected:.3g} requests (at most {MAX_ROWS:,}); "
                         "lower --duration or --rate")
