"""CloudPerfTrace (CloudFormer, Shahbazinia et al., arXiv 2509.03394): runs of system metrics
with a performance-ratio label, into ``usage``.

Layout assumed (as the dataset is described; see tests/data/cloudperftrace/FIXTURE.md)::

    <root>/tasks=<application>/<any>.parquet

One row per run. ``perf_ori`` (float) is the run's performance as a ratio to its
interference-free performance. The metric columns are ``tr_self``, ``tr_oth``, ``lin_self``,
``lin_oth``, ``td_self``, ``td_oth`` (those present are read): each is a list that reshapes
to a (T, 1+k) matrix whose column 0 is a Unix timestamp (s) and columns 1..k are metric
values. Two encodings are read: a nested list (``list<list<float>>``, T rows of 1+k), or,
with the option ``row_width`` = 1+k, a flat row-major ``list<float>``. An optional
``run_id`` column names runs; otherwise a run is ``<application>/<file stem>/<row>``.

Mapping (``usage``):

- ``entity_id`` = the run id, ``metric`` = ``<column>_<j>`` for matrix column j = 1..k
  (e.g. ``tr_self_3``), ``t_s`` = timestamp - origin (earliest timestamp of all files),
  ``value`` = the cell;
- the label is one more ``usage`` row, metric ``perf_ori``, at the run's **last** timestamp,
  with ``attrs`` = ``{"app": <partition value>, "app_name": <application>, "workload": <level>}``
  (only on that row, to keep the table small; ``app_name`` for the released task IDs 4-16,
  ``workload`` when the column exists); predictors use it as a run-level target that is
  never an input.

The released dataset (``parquet_ds/tasks=<id>/``, CC-BY-4.0) numbers its applications:
4 Data Serving, 5 Redis, 6 Web Search, 7 Graph Analytics, 9 Data Analytics, 10 MLPerf,
11 HBase, 13 Alluxio, 14 Minio, 15 TPC-C, 16 Flink; it has a ``workload`` (double) column
and no run id.

Timestamps are Unix seconds (UTC). Null or non-finite cells are rejected by the usage rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from workscope.errors import SourceError
from workscope.ingest.files import iter_files
from workscope.ingest.reader import (
    FILE,
    LINE,
    REASON,
    Reader,
    ScanContext,
    ScanResult,
    TablePart,
    flat,
    one_each,
)
from workscope.ingest.timefmt import origin_meta
from workscope.options import Option

COLUMNS = ("tr_self", "tr_oth", "lin_self", "lin_oth", "td_self", "td_oth")
#: The released partitions: task ID -> application (the dataset card's table).
APPLICATIONS = {"4": "Data Serving", "5": "Redis", "6": "Web Search", "7": "Graph Analytics",
                "9": "Data Analytics", "10": "MLPerf", "11": "HBase", "13": "Alluxio", "14": "Minio",
                "15": "TPC-C", "16": "Flink"}
TARGET = "perf_ori"
PARTITION = "tasks"


def app_of(path: Path) -> str | None:
    """The application from the nearest ``tasks=<app>`` directory of ``path``."""
    for part in reversed(path.parts[:-1]):
        if part.startswith(PARTITION + "="):
            return part.partition("=")[2]
    return None


class CloudPerfTraceReader(Reader):
    """CloudPerfTrace runs (Parquet partitioned by ``tasks=<app>``) into ``usage``."""

    name = "cloudperftrace"
    version = "1"
    description = "CloudPerfTrace: per-run system metric matrices and perf_ori labels, by application"
    tables = ("usage",)
    doc_url = "https://arxiv.org/abs/2509.03394"
    options: ClassVar[dict[str, Option]] = {
        "row_width": Option(int, 0, "1+k for flat list columns (0: the lists are nested, T x (1+k))"),
    }

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            if not (path.name.startswith(PARTITION + "=")
                    or any(p.name.startswith(PARTITION + "=") for p in path.iterdir())):
                return False
            path = next(iter(sorted(path.rglob("*.parquet"))), None)
            if path is None:
                return False
        if path.suffix != ".parquet":
            return False
        try:
            names = pl.read_parquet_schema(path)
        except (pl.exceptions.PolarsError, OSError):  # sniffing is best effort
            return False
        return TARGET in names and any(c in names for c in COLUMNS)

    split = True
    meta_merged = ("applications",)

    def select(self, paths: Sequence[Path], options: dict[str, Any] | None = None
               ) -> tuple[list[list[Path]], list[Path]]:
        files = [f for f in iter_files(paths) if f.suffix == ".parquet"]
        if not files:
            raise SourceError(paths[0], "no .parquet files found",
                              hint="pass the dataset root holding tasks=<app>/ directories")
        return one_each(files), []

    def facts(self, paths: Sequence[Path], ctx: ScanContext) -> dict[str, Any]:
        """The earliest timestamp of these files (None if they have none): one pass over
        column 0 of their matrices."""
        return {"earliest_s": _earliest(self._matrices(paths, ctx)[1])}

    def shared_facts(self, metas: list[dict[str, Any]]) -> dict[str, Any]:
        """The origin: the earliest timestamp of all files (0.0 if none)."""
        found = [m["earliest_s"] for m in metas if m["earliest_s"] is not None]
        return {"origin_s": min(found) if found else 0.0}

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        staged, matrices = self._matrices(paths, ctx)
        width = int(ctx.options.get("row_width", 0))
        shared = ctx.shared or self.shared_facts([{"earliest_s": _earliest(matrices)}])
        origin = float(shared["origin_s"])
        # file by file, its metric matrices then its labels: a split ingest's parts in order
        parts = []
        for s in staged:
            parts += [TablePart(_metric_rows(cells, c, origin), _raw(), str(s.path))
                      for f, c, cells in matrices if f is s]
            parts.append(TablePart(_label_rows(s, width, origin), _raw(), str(s.path)))
        meta = origin_meta(round(origin * 1e9), assumed_utc=False, resolution_s=None)
        meta["applications"] = sorted({s.app for s in staged})
        return ScanResult({"usage": parts}, [s.path for s in staged], meta)

    def _matrices(self, paths: Sequence[Path], ctx: ScanContext
                  ) -> tuple[list[_Staged], list[tuple[_Staged, str, pl.LazyFrame]]]:
        """The checked files and, per file and metric column, its cells (lazy)."""
        width = int(ctx.options.get("row_width", 0))
        staged = [_stage(f, width) for f in flat(self.select(paths, ctx.options)[0])]
        cells = [(s, c, _cells(s.frame, c, _row_width(s, c, width))) for s in staged for c in s.columns]
        return staged, cells


@dataclass
class _Staged:
    """One checked Parquet file: its application, runs (with ``entity_id``), metric columns."""

    path: Path
    app: str
    frame: pl.LazyFrame
    columns: list[str]
    schema: pl.Schema


def _stage(f: Path, width: int) -> _Staged:
    """Check one file (layout, columns, list encoding) and open its runs lazily."""
    app = app_of(f.resolve())
    if app is None:
        raise SourceError(f, "path has no tasks=<application> directory",
                          hint="keep the dataset's tasks=<app>/ layout")
    try:
        schema = pl.read_parquet_schema(f)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise SourceError(f, f"cannot read as Parquet: {exc}") from None
    cols = [c for c in COLUMNS if c in schema]
    if TARGET not in schema or not cols:
        raise SourceError(f, f"needs {TARGET} and at least one of {', '.join(COLUMNS)}; "
                             f"has {list(schema)[:20]}")
    for c in cols:
        if not _nested(schema[c]) and width < 2:
            raise SourceError(f, f"column {c} is a flat list; its row width is unknown",
                              hint="pass the option row_width=1+k")
    lf = pl.scan_parquet(f, glob=False).with_row_index(LINE, offset=1).with_columns(
        pl.col(LINE).cast(pl.Int64), pl.lit(str(f)).alias(FILE))
    run = (pl.col("run_id").cast(pl.String) if "run_id" in schema
           else pl.lit(f"{app}/{f.stem}/") + pl.col(LINE).cast(pl.String))
    return _Staged(f, app, lf.with_columns(run.alias("entity_id")), cols, schema)


def _nested(dtype: pl.DataType) -> bool:
    """Whether a matrix column is a list of rows (else a flat row-major list)."""
    return isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.List)


def _row_width(s: _Staged, col: str, width: int) -> int | None:
    """The row width to cut a flat matrix by (None for a nested one)."""
    return None if _nested(s.schema[col]) else width


def _earliest(matrices: list[tuple[_Staged, str, pl.LazyFrame]]) -> float | None:
    """The earliest timestamp of all matrices (None if none): one pass over column 0 only."""
    if not matrices:
        return None
    first = pl.concat([cells.filter(pl.col("j") == 0).select(pl.col("v").min()) for _, _, cells in matrices]
                      ).select(pl.col("v").min()).collect().item()
    return None if first is None else float(first)


def _metric_rows(cells: pl.LazyFrame, col: str, origin: float) -> pl.LazyFrame:
    """``usage`` rows of one matrix: each value cell at its row's timestamp (column 0)."""
    ts = cells.filter(pl.col("j") == 0).select(FILE, LINE, "entity_id", "r", pl.col("v").alias("ts"))
    # maintain_order: the same rows in the same order on every ingest
    vals = cells.filter(pl.col("j") > 0).join(ts, on=[FILE, LINE, "entity_id", "r"], how="left",
                                              maintain_order="left")
    return vals.select(
        FILE, LINE,
        (pl.col("ts") - origin).alias("t_s"), "entity_id",
        (pl.lit(col + "_") + pl.col("j").cast(pl.String)).alias("metric"),
        pl.col("v").alias("value"),
        pl.lit(None, pl.String).alias(REASON),
    )


def _label_rows(s: _Staged, width: int, origin: float) -> pl.LazyFrame:
    """One ``perf_ori`` row per run, at the run's last timestamp, with the run's attrs."""
    # the label sits at the run's last timestamp, over all its matrices
    first = s.columns[0]
    last = (_cells(s.frame, first, _row_width(s, first, width)).filter(pl.col("j") == 0)
            .group_by(FILE, LINE, "entity_id").agg(pl.col("v").max().alias("ts")))
    fields = {"app": pl.lit(s.app)}
    if s.app in APPLICATIONS:
        fields["app_name"] = pl.lit(APPLICATIONS[s.app])
    if "workload" in s.schema:
        fields["workload"] = pl.col("workload").cast(pl.Float64, strict=False)
    frame = s.frame.select(FILE, LINE, "entity_id", pl.col(TARGET).cast(pl.Float64, strict=False)
                           .alias("value"), *[e.alias(k) for k, e in fields.items()]
                           ).join(last, on=[FILE, LINE, "entity_id"], how="left", maintain_order="left")
    return frame.select(
        FILE, LINE, (pl.col("ts") - origin).alias("t_s"), "entity_id",
        pl.lit(TARGET).alias("metric"), "value",
        pl.struct(*fields).struct.json_encode().alias("attrs"),
        pl.lit(None, pl.String).alias(REASON),
    )


def _cells(lf: pl.LazyFrame, col: str, width: int | None) -> pl.LazyFrame:
    """One row per matrix cell: run, row r, column j, value v."""
    base = lf.select(FILE, LINE, "entity_id", pl.col(col).alias("m"))
    if width is None:
        rows = (base.with_columns(pl.int_ranges(0, pl.col("m").list.len()).alias("r"))
                .explode("m", "r"))
        return (rows.with_columns(pl.int_ranges(0, pl.col("m").list.len()).alias("j"))
                .explode("m", "j").select(FILE, LINE, "entity_id", "r", "j",
                                          pl.col("m").cast(pl.Float64).alias("v")))
    flat = base.with_columns(pl.int_ranges(0, pl.col("m").list.len()).alias("p")).explode("m", "p")
    return flat.select(FILE, LINE, "entity_id", (pl.col("p") // width).alias("r"),
                       (pl.col("p") % width).alias("j"), pl.col("m").cast(pl.Float64).alias("v"))


def _raw() -> pl.Expr:
    return pl.concat_str([pl.col("entity_id"), pl.col("metric"), pl.col("t_s").cast(pl.String),
                          pl.col("value").cast(pl.String)], separator=",", ignore_nulls=True)


READER = CloudPerfTraceReader()
