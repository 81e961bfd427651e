"""The replay pipeline behind `workscope replay export`: transforms in a fixed order, an
exporter, and an optional fidelity report.

Order: filters, then the time window (``window`` or ``busiest``), then sampling (sessions or
jobs), then rate scaling, then speed, then idle-gap compression. Selecting before scaling
means a rate target applies to what is replayed; compressing last means the cap applies to
the gaps the target will actually see.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from workscope.errors import DataError, UsageError, write_error
from workscope.limits import MAX_EXPORT_S
from workscope.replay import transforms as tf
from workscope.replay._undo import undo_on_failure
from workscope.replay.exporters import registry
from workscope.replay.exporters.base import ExportResult
from workscope.replay.fidelity import FidelityReport, compare_with_source
from workscope.replay.sampling import sample_jobs, sample_sessions
from workscope.replay.workload import Workload

if TYPE_CHECKING:
    from workscope.store import Trace


@dataclass(frozen=True)
class TransformSpec:
    """What to do to a workload before export; every random step uses ``seed``."""

    filters: tuple[tuple[str, tuple[str, ...]], ...] = field(
        default=(), metadata={"help": "keep rows whose column is one of the values"})
    window: tuple[float | None, float | None] | None = field(
        default=None, metadata={"help": "keep [start, end) seconds, re-based to 0"})
    busiest_min: int | None = field(default=None, metadata={"help": "keep the busiest N minutes"})
    sample_sessions: float | None = field(default=None, metadata={"help": "fraction of sessions kept"})
    sample_jobs: float | None = field(default=None, metadata={"help": "fraction of jobs kept"})
    rate_scale: float | None = field(default=None, metadata={"help": "multiply the mean rate"})
    target_rate_per_s: float | None = field(default=None, metadata={"help": "set the mean rate"})
    speed: float | None = field(default=None, metadata={"help": "time-scale factor (>1 faster)"})
    compress_idle_s: float | None = field(default=None, metadata={"help": "cap every gap at this"})
    seed: int = field(default=0, metadata={"help": "seed of every random step"})

    def is_identity(self) -> bool:
        """True when no transform is requested."""
        return all(getattr(self, f.name) in (None, ()) for f in fields(self) if f.name != "seed")


def apply(wl: Workload, spec: TransformSpec, *, busiest_counts: pl.DataFrame | None = None) -> Workload:
    """Apply ``spec`` to ``wl`` in the module's order (``busiest_counts``: the events per
    minute after the filters, when an engine counted them: see :mod:`.pushdown`)."""
    for column, values in spec.filters:
        wl = tf.filter(wl, column, list(values))
    if spec.window is not None and spec.busiest_min is not None:
        raise UsageError("choose --window or --busiest, not both")
    if spec.window is not None:
        wl = tf.window(wl, spec.window[0], spec.window[1])
    if spec.busiest_min is not None:
        wl = tf.busiest(wl, spec.busiest_min, counts=busiest_counts)
    if spec.sample_sessions is not None:
        wl = sample_sessions(wl, fraction=spec.sample_sessions, seed=spec.seed)
    if spec.sample_jobs is not None:
        wl = sample_jobs(wl, fraction=spec.sample_jobs, seed=spec.seed)
    if spec.rate_scale is not None and spec.target_rate_per_s is not None:
        raise UsageError("choose --rate-scale or --target-rate, not both")
    if spec.rate_scale is not None or spec.target_rate_per_s is not None:
        wl = tf.scale_rate(wl, spec.rate_scale, target_rate_per_s=spec.target_rate_per_s, seed=spec.seed)
    if spec.speed is not None:
        wl = tf.speed(wl, spec.speed)
    if spec.compress_idle_s is not None:
        wl = tf.compress_idle(wl, spec.compress_idle_s)
    return wl


def export(
    source: Workload | Trace,
    target: str,
    out: str | Path,
    *,
    spec: TransformSpec | None = None,
    options: dict[str, Any] | None = None,
    fidelity: bool = False,
    table: str | None = None,
    engine: Any = None,
) -> tuple[ExportResult, FidelityReport | None]:
    """Transform a trace's (or a workload's) rows and write them for ``target``.

    With ``fidelity``, the emitted workload is compared with the source as it was before any
    transform: the trace's rows, or, for a workload transformed before the call, the workload
    its first transform was applied to (:func:`~workscope.replay.fidelity.compare_with_source`).
    ``engine`` (a SparkEngine): the selection of a trace's rows (filters, then ``window`` or
    ``busiest``) runs there, and only the rows selected come here (:mod:`.pushdown`); the
    file written is the same.
    """
    exporter = registry.get(target)
    spec = spec or TransformSpec()
    base = source if isinstance(source, Workload) else Workload.from_trace(source, table)
    if exporter.tables and base.table not in exporter.tables:
        raise UsageError(f"target {target!r} takes {', '.join(exporter.tables)} workloads, "
                         f"not {base.table}; pick another --table or target")
    out = Path(out)
    check_out(out, target)
    counts, here = None, None
    if engine is not None and not isinstance(source, Workload):
        from workscope.replay.pushdown import select_on
        from workscope.spark import spark_engine

        eng = spark_engine(engine)
        if eng is not None:
            base, counts, here = select_on(eng, source, base, spec)
    wl = apply(base, spec, busiest_counts=counts)
    resolved = exporter.resolve_options(options)
    check_representable(wl)
    try:
        with undo_on_failure(out, directory=not exporter.suffix):
            result = exporter.write(wl, out, resolved)
    except OSError as exc:
        where = exc.filename or out
        raise (write_error(exc, where) or DataError(
            f"{where}: cannot write the {target} export ({exc.strerror or exc}); "
            "check the --out path, its permissions and free space")) from None
    if here is not None:
        result.notes.append(f"--engine spark: {here}, so the rows were read here "
                            "(Spark runs the selection only)")
    # against the source before any transform: ``base`` itself may be a transformed workload
    # (API callers transform first), and comparing with it would hide those steps
    report = compare_with_source(wl) if fidelity else None
    return result, report


def check_representable(wl: Workload) -> None:
    """DataError when a time of the workload lies beyond what any target can write
    (:data:`~workscope.limits.MAX_EXPORT_S`): 1e19 s once aborted an export inside polars."""
    times = [c for c, t in wl.frame.collect_schema().items() if c.endswith("_s") and t.is_float()]
    if not times:
        return
    row = wl.frame.select(
        *(pl.col(c).abs().filter(pl.col(c).is_finite()).max().alias(c) for c in times)
    ).collect(engine="streaming").row(0, named=True)
    for c, v in row.items():
        if v is not None and v > MAX_EXPORT_S:
            raise DataError(f"{c} reaches {v:.4g} s, beyond the {MAX_EXPORT_S:.3g} s any export can "
                            "represent (nanoseconds in 64 bits); the trace holds implausible times "
                            "(ingested with a widened --bound): cut them with --window or re-ingest")


def check_out(out: str | Path, target: str) -> None:
    """UsageError when ``out`` cannot take an export for ``target`` (checked before any work).

    A folder given to a one-file target, a file given to a folder target, or a path under a
    file is refused; an unknown target is an UnknownNameError.
    """
    out = Path(out)
    suffix = registry.get(target).suffix
    if suffix and out.is_dir():
        raise UsageError(f"--out {out} is a directory, but target {target!r} writes one file; "
                         f"give a file path such as {out / ('workload' + suffix)}")
    if not suffix and out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, but target {target!r} writes a directory of files; "
                         "give a directory path")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"--out {out}: {parent} is a file, not a directory")
            break
