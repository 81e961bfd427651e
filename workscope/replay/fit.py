"""Fit a workload model (replay.model) from a trace's requests.

Per group (the model column, else one group "all") and per window (600 s by default): the
rate is count / window length, the CV is that of the gaps between consecutive arrivals of
the group inside the window (DuckDB window functions), and the family is the one with the
lowest AIC among exponential, gamma, Weibull and lognormal in a maximum-likelihood fit of
those gaps (workscope.analysis.fitting.fit) when the window has at least ``min_gaps`` gaps,
else exponential. Lengths are 101 quantiles of input and output tokens per length window
(6 h by default, as ServeGen does), so synthesis can draw them by inverse CDF.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from workscope.engine import quote_ident
from workscope.errors import UsageError
from workscope.replay.model import Group, Window, WorkloadModel

if TYPE_CHECKING:
    from workscope.store import Trace

FIT_FAMILIES = ("exponential", "gamma", "weibull", "lognormal")


def fit_model(trace: Trace, *, window_s: float = 600.0, length_window_s: float = 21600.0,
              group_by: str | None = "auto", min_gaps: int = 30, max_gaps: int = 2000,
              seed: int = 0) -> WorkloadModel:
    """A workload model of ``trace``'s requests (see the module docstring)."""
    if "requests" not in trace.tables:
        raise UsageError(f"trace {trace.name!r} has no requests table to model")
    if not all(math.isfinite(w) and w > 0 for w in (window_s, length_window_s)):
        raise UsageError(f"window lengths (--window-s) must be finite numbers of seconds > 0, "
                         f"got {window_s!r} and {length_window_s!r}")
    eng = trace.engine()
    col = _group_column(eng, group_by)
    gexpr = f"coalesce(CAST({quote_ident(col)} AS VARCHAR), '(none)')" if col else "'all'"
    gaps = eng.sql_polars(f"""
        WITH r AS (
            SELECT {gexpr} AS g, arrival_s, floor(arrival_s / $w) AS win
            FROM requests WHERE arrival_s IS NOT NULL),
        d AS (
            SELECT g, win, arrival_s,
                   arrival_s - lag(arrival_s) OVER (PARTITION BY g, win ORDER BY arrival_s) AS gap
            FROM r)
        SELECT g, win, count(*) AS n, avg(gap) AS mean_gap, stddev_samp(gap) AS sd_gap,
               -- in time order: the seeded numpy draw below does the sampling, reproducibly
               list(gap ORDER BY arrival_s) FILTER (WHERE gap IS NOT NULL) AS gaps
        FROM d GROUP BY g, win ORDER BY g, win
    """.replace("$w", repr(float(window_s))))
    lengths = eng.sql_polars(f"""
        SELECT {gexpr} AS g, floor(arrival_s / {float(length_window_s)!r}) AS lwin,
               quantile_cont(input_tokens, [{', '.join(str(q / 100) for q in range(101))}]) AS qin,
               quantile_cont(output_tokens, [{', '.join(str(q / 100) for q in range(101))}]) AS qout
        FROM requests GROUP BY 1, 2 ORDER BY 1, 2
    """)
    rng = np.random.default_rng(seed)
    groups: dict[str, Group] = {}
    for (g,), part in gaps.group_by("g", maintain_order=True):
        windows = []
        for row in part.iter_rows(named=True):
            n = int(row["n"])
            rate = n / window_s
            sd, mean = row["sd_gap"], row["mean_gap"]
            cv = float(sd / mean) if sd is not None and mean else 1.0
            family, params = "exponential", {}
            sample = np.asarray(row["gaps"] or [], dtype=np.float64)
            sample = sample[sample > 0]
            if sample.size >= min_gaps:
                if sample.size > max_gaps:
                    sample = rng.choice(sample, max_gaps, replace=False)
                family, params = _best_family(sample)
            windows.append(Window(float(row["win"]) * window_s, rate, cv, family, params))
        lens = []
        for row in lengths.filter(pl.col("g") == g).iter_rows(named=True):
            entry: dict[str, Any] = {"start_s": float(row["lwin"]) * length_window_s}
            for key, q in (("input_tokens", row["qin"]), ("output_tokens", row["qout"])):
                if q and all(v is not None for v in q):
                    entry[key] = {"quantiles": [float(v) for v in q]}
            lens.append(entry)
        groups[str(g)] = Group(tuple(windows), tuple(lens), str(g) if col == "model" else None)
    span_start = min((w.start_s for grp in groups.values() for w in grp.windows), default=0.0)
    source = {"trace": trace.name, "content_key": trace.manifest.get("content_key"), "group_by": col,
              "window_s": window_s, "length_window_s": length_window_s, "seed": seed,
              "first_window_s": span_start}
    return WorkloadModel("requests", float(window_s), groups, source)


def _group_column(eng: Any, group_by: str | None) -> str | None:
    if group_by in (None, "none"):
        return None
    candidates = ("model", "kind") if group_by == "auto" else (group_by,)
    for c in candidates:
        if c not in ("model", "kind", "session_id", "status"):
            raise UsageError(f"cannot group a workload model by {c!r}: use model, kind or none")
        filled = eng.sql_polars(f"SELECT count({quote_ident(c)}) AS n FROM requests")["n"][0]
        if filled:
            return c
    return None


def _best_family(sample: np.ndarray) -> tuple[str, dict[str, float]]:
    """Lowest-AIC family of a gap sample, by maximum likelihood (analysis.fitting.fit)."""
    from workscope.analysis.fitting import fit

    table = fit(sample, families=FIT_FAMILIES).filter(pl.col("best"))
    if table.height == 0:
        return "exponential", {}
    best = table.row(0, named=True)
    params = {k: float(v) for k, v in json.loads(best["params"] or "{}").items()}
    return str(best["family"]), params
