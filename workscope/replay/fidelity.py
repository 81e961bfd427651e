"""Fidelity: how close an emitted workload is to its source.

For each quantity the report gives the two-sample Kolmogorov-Smirnov statistic (max CDF gap,
scale-free) and the 1-Wasserstein distance (in the quantity's unit) between source and
emitted samples, plus both means:

- inter-arrival times (s), raw and normalized by their mean (the shape of the arrival
  process, comparable across rate scaling);
- counts per window (default 60 s), raw and normalized by their mean;
- input and output tokens (requests), durations (invocations duration_s, requests
  latency_s, jobs end_s - start_s);
- prefix reuse ratio (share of hash_ids blocks seen earlier in the workload) and session
  structure (turns per session), where the workload has them.

Samples larger than ``max_sample`` are subsampled with a fixed seed (noted in the report).
An untransformed export reproduces its source exactly: every KS and distance is 0.

:func:`compare_with_source` compares a transformed workload with the source as it was before
its first transform (:meth:`Workload.untransformed`), never with itself. Either side of a
comparison can be a trace of a store or a workload file written by the ``parquet`` exporter
(:func:`resolve`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from scipy import stats

from workscope.errors import SourceError, TraceNotFoundError, UsageError
from workscope.limits import check_bins
from workscope.replay.workload import Workload

if TYPE_CHECKING:
    from workscope.store import Store, Trace


@dataclass(frozen=True)
class FidelityReport:
    """Per-quantity distances between a source and an emitted workload."""

    source: str
    emitted: str
    rows: pl.DataFrame  # quantity, n_source, n_emitted, mean_source, mean_emitted, ks, wasserstein
    notes: tuple[str, ...] = field(default_factory=tuple)

    def ks(self, quantity: str) -> float:
        """The KS statistic of one quantity."""
        return float(self.rows.filter(pl.col("quantity") == quantity)["ks"][0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        rows = [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
                for r in self.rows.to_dicts()]
        return {"source": self.source, "emitted": self.emitted, "rows": rows, "notes": list(self.notes)}

    def to_json(self) -> str:
        """The report as a JSON document."""
        return json.dumps(self.to_dict(), indent=2)

    def to_markdown(self) -> str:
        """The report as a Markdown table."""
        head = ["| quantity | n source | n emitted | mean source | mean emitted | KS | Wasserstein |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        body = [f"| {r['quantity']} | {r['n_source']} | {r['n_emitted']} | {_g(r['mean_source'])} | "
                f"{_g(r['mean_emitted'])} | {_g(r['ks'])} | {_g(r['wasserstein'])} |"
                for r in self.rows.to_dicts()]
        notes = [f"\n_{n}_" for n in self.notes]
        return "\n".join([f"Fidelity of `{self.emitted}` to `{self.source}`", "", *head, *body, *notes]) + "\n"


def _g(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.6g}"


def _sample(values: np.ndarray, n: int, seed: int) -> np.ndarray:
    if values.size <= n:
        return values
    return np.random.default_rng(seed).choice(values, size=n, replace=False)


def _row(name: str, a: np.ndarray, b: np.ndarray, max_sample: int, seed: int) -> dict[str, Any]:
    a = a[np.isfinite(a)]
    b = b[np.isfinite(b)]
    row: dict[str, Any] = {"quantity": name, "n_source": int(a.size), "n_emitted": int(b.size),
                           "mean_source": float(a.mean()) if a.size else None,
                           "mean_emitted": float(b.mean()) if b.size else None,
                           "ks": None, "wasserstein": None}
    if a.size and b.size:
        sa, sb = _sample(a, max_sample, seed), _sample(b, max_sample, seed + 1)
        row["ks"] = float(stats.ks_2samp(sa, sb).statistic)
        row["wasserstein"] = float(stats.wasserstein_distance(sa, sb))
    return row


def _interarrivals(df: pl.DataFrame, t: str) -> np.ndarray:
    return df.select(pl.col(t).sort().diff().drop_nulls()).to_series().to_numpy()


def _window_counts(df: pl.DataFrame, t: str, window_s: float) -> np.ndarray:
    if df.height == 0:
        return np.array([])
    times = df[t].to_numpy()
    lo = np.floor(times.min() / window_s)
    check_bins(np.floor(times.max() / window_s) - lo + 1, f"counts per {window_s:g} s window")
    idx = (np.floor(times / window_s) - lo).astype(np.int64)
    return np.bincount(idx).astype(np.float64)


def _reuse_ratio(df: pl.DataFrame) -> float | None:
    if "hash_ids" not in df.columns or df["hash_ids"].null_count() == df.height:
        return None
    blocks = df.select(pl.col("hash_ids").explode().drop_nulls()).to_series()
    if blocks.len() == 0:
        return None
    return float(1.0 - blocks.n_unique() / blocks.len())


def _columns(wl: Workload, df: pl.DataFrame) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    if wl.table == "requests":
        for c in ("input_tokens", "output_tokens", "latency_s"):
            if df[c].null_count() < df.height:
                out[c] = df[c].drop_nulls().cast(pl.Float64).to_numpy()
        if df["session_id"].null_count() < df.height:
            out["turns_per_session"] = (df.filter(pl.col("session_id").is_not_null())
                                        .group_by("session_id").len()["len"].cast(pl.Float64).to_numpy())
    elif wl.table == "invocations":
        if df["duration_s"].null_count() < df.height:
            out["duration_s"] = df["duration_s"].drop_nulls().to_numpy()
    elif wl.table == "jobs":
        rt = df.select((pl.col("end_s") - pl.col("start_s")).alias("r")).to_series().drop_nulls()
        if rt.len():
            out["runtime_s"] = rt.to_numpy()
        if df["cpu_req"].null_count() < df.height:
            out["cpu_req"] = df["cpu_req"].drop_nulls().to_numpy()
    return out


def compare(source: Workload, emitted: Workload, *, window_s: float = 60.0,
            max_sample: int = 200_000, seed: int = 0) -> FidelityReport:
    """Distances between ``source`` and ``emitted`` (see the module docstring)."""
    if source.table != emitted.table:
        raise UsageError(f"cannot compare a {source.table} workload with a {emitted.table} workload")
    a, b = source.collect(), emitted.collect()
    t = source.time
    rows = []
    ia, ib = _interarrivals(a, t), _interarrivals(b, t)
    rows.append(_row("interarrival_s", ia, ib, max_sample, seed))
    rows.append(_row("interarrival_normalized", ia / ia.mean() if ia.size and ia.mean() > 0 else ia,
                     ib / ib.mean() if ib.size and ib.mean() > 0 else ib, max_sample, seed))
    ca, cb = _window_counts(a, t, window_s), _window_counts(b, t, window_s)
    rows.append(_row(f"count_per_{window_s:g}s", ca, cb, max_sample, seed))
    rows.append(_row(f"count_per_{window_s:g}s_normalized", ca / ca.mean() if ca.size else ca,
                     cb / cb.mean() if cb.size else cb, max_sample, seed))
    qa, qb = _columns(source, a), _columns(emitted, b)
    for k in qa:
        if k in qb:
            rows.append(_row(k, qa[k], qb[k], max_sample, seed))
    ra, rb = _reuse_ratio(a), _reuse_ratio(b)
    notes = []
    if ra is not None and rb is not None:
        rows.append({"quantity": "prefix_reuse_ratio", "n_source": a.height, "n_emitted": b.height,
                     "mean_source": ra, "mean_emitted": rb, "ks": None, "wasserstein": abs(ra - rb)})
    if max(a.height, b.height) > max_sample:
        notes.append(f"distances on seeded samples of at most {max_sample} values (seed {seed})")
    schema = {"quantity": pl.String, "n_source": pl.Int64, "n_emitted": pl.Int64, "mean_source": pl.Float64,
              "mean_emitted": pl.Float64, "ks": pl.Float64, "wasserstein": pl.Float64}
    # both sides labelled with their transforms: either may be a transformed workload file
    return FidelityReport(_label(source, "source"),
                          _label(emitted), pl.DataFrame(rows, schema=schema), tuple(notes))


def _label(wl: Workload, default: str = "workload") -> str:
    steps = [s.get("name", "?") for s in wl.meta.get("transforms", [])]
    return f"{wl.meta.get('source_trace', default)}" + (f" ({' > '.join(steps)})" if steps else "")


def compare_with_source(emitted: Workload, **kwargs: Any) -> FidelityReport:
    """:func:`compare` of ``emitted`` with its source before any transform.

    The source is :meth:`Workload.untransformed`: the workload the first transform of the
    chain was applied to. A workload that carries transforms in its meta but not its source
    (read back from a workload file, synthesized) can only be compared with itself; the
    report then says so in a note instead of passing its zeros off as fidelity.
    """
    source = emitted.untransformed()
    report = compare(source, emitted, **kwargs)
    if source.meta.get("transforms"):
        # the earliest form known here was itself transformed (read back from a workload
        # file, synthesized): say so rather than pass its distances off as fidelity to a trace
        steps = " > ".join(str(s.get("name", "?")) for s in source.meta["transforms"])
        what = "itself" if source is emitted else "that transformed form"
        note = (f"the workload was already transformed ({steps}) when it was given, without its "
                f"source: it is compared with {what}; compare it with its source trace instead "
                "(`workscope replay fidelity SOURCE FILE`)")
        report = FidelityReport(report.source, report.emitted, report.rows, (*report.notes, note))
    return report


def resolve(ref: str | Path | Workload | Trace, store: Store | Callable[[], Store] | None = None,
            table: str | None = None) -> Workload:
    """The workload that ``ref`` names: a Workload as is, a Trace's workload table, or a
    string / path that is a trace name of ``store`` or a workload file.

    A :class:`~pathlib.Path`, or a string that cannot be a trace name (it has a ``/`` or a
    dot), is a file written by the ``parquet`` exporter. A string that is a valid trace name
    is the trace of that name when the store has one, else a file of that name when it
    exists, else a TraceNotFoundError. ``store`` may be a function giving it, so that
    comparing two files never opens a store. ``table`` picks the trace's table and must
    match a file's.
    """
    from workscope.store import NAME_RE, Trace

    if isinstance(ref, Workload):
        return _check_table(ref, table, "the workload")
    if isinstance(ref, Trace):
        return Workload.from_trace(ref, table)
    if not isinstance(ref, Path) and NAME_RE.fullmatch(ref):
        st = store() if callable(store) else store
        if st is not None and ref in st:
            return Workload.from_trace(st.trace(ref), table)
        if not Path(ref).is_file():
            if st is None:
                raise UsageError(f"{ref!r} is neither a workload file nor, without a store, a trace")
            raise TraceNotFoundError(ref, st.names())
    return _read_file(Path(ref), table)


def _read_file(path: Path, table: str | None) -> Workload:
    """A workload file (parquet exporter) as a Workload; SourceError naming it otherwise."""
    from workscope.replay.exporters.parquet import read_workload

    if not path.exists():
        raise SourceError(path, "no such workload file or trace",
                          hint="give a trace name of the store or a file written by "
                               "`workscope replay export --to parquet`")
    if path.is_dir():
        raise SourceError(path, "is a directory, not a workload file",
                          hint="give the .parquet file written by `workscope replay export --to parquet`")
    wl = read_workload(path)
    if wl.table not in ("requests", "invocations", "jobs"):
        raise SourceError(path, f"holds a {wl.table} workload, which has no events to compare")
    return _check_table(wl, table, str(path))


def _check_table(wl: Workload, table: str | None, what: str) -> Workload:
    if table is not None and wl.table != table:
        raise UsageError(f"{what} holds {wl.table}, not {table}")
    return wl
