"""Run one ingest pipeline in this process and print its wall time and peak RSS as JSON."""

from __future__ import annotations

import json
import resource
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

FMT = "%Y-%m-%d %H:%M:%S%.f"


def workscope_pipeline(src: Path, work: Path) -> int:
    from workscope.cli import app

    app(["ingest", str(src), "--format", "azure_llm", "--name", "bench", "--home", str(work / "store"),
         "--quiet", "--json"], standalone_mode=False)
    import workscope

    return workscope.open(work / "store").trace("bench").manifest["tables"]["requests"]["rows_ok"]


def polars_pipeline(src: Path, work: Path) -> int:
    import polars as pl

    lf = pl.scan_csv(src, schema_overrides={"TIMESTAMP": pl.String})
    first = lf.head(1).select(pl.col("TIMESTAMP").str.strptime(pl.Datetime("ns"), FMT)).collect().item()
    out = work / "polars.parquet"
    (lf.select(
        ((pl.col("TIMESTAMP").str.strptime(pl.Datetime("ns"), FMT) - first).dt.total_nanoseconds() / 1e9)
        .alias("arrival_s"),
        pl.col("ContextTokens").alias("input_tokens"),
        pl.col("GeneratedTokens").alias("output_tokens"),
    ).sink_parquet(out, compression="zstd", engine="streaming"))
    return pl.scan_parquet(out).select(pl.len()).collect().item()


def polars_canonical_pipeline(src: Path, work: Path) -> int:
    """The polars pipeline writing what workscope writes: the canonical requests table (every
    column, absent ones null, kind filled), so the ratio against it is the pipeline's own
    cost (checks, reasons, rejects, hashes, manifest) rather than the output format's."""
    import polars as pl

    from workscope.schemas import TABLES

    lf = pl.scan_csv(src, schema_overrides={"TIMESTAMP": pl.String})
    first = lf.head(1).select(pl.col("TIMESTAMP").str.strptime(pl.Datetime("ns"), FMT)).collect().item()
    have = {
        "arrival_s": (pl.col("TIMESTAMP").str.strptime(pl.Datetime("ns"), FMT) - first).dt.total_nanoseconds() / 1e9,
        "input_tokens": pl.col("ContextTokens"),
        "output_tokens": pl.col("GeneratedTokens"),
        "kind": pl.lit("conv"),
    }
    cols = [(have[c.name] if c.name in have else pl.lit(None)).cast(c.dtype).alias(c.name)
            for c in TABLES["requests"].columns]
    out = work / "polars.parquet"
    lf.select(cols).sink_parquet(out, compression="zstd", engine="streaming")
    return pl.scan_parquet(out).select(pl.len()).collect().item()


def pandas_pipeline(src: Path, work: Path) -> int:
    import pandas as pd

    df = pd.read_csv(src)
    ts = pd.to_datetime(df["TIMESTAMP"], format="%Y-%m-%d %H:%M:%S.%f")
    out = pd.DataFrame({
        "arrival_s": (ts - ts.iloc[0]).dt.total_seconds(),
        "input_tokens": df["ContextTokens"],
        "output_tokens": df["GeneratedTokens"],
    })
    out.to_parquet(work / "pandas.parquet", compression="zstd", index=False)
    return len(out)


def measure(pipelines: dict[str, Callable[[Path, Path], int]]) -> None:
    """Run the pipeline named in argv (``NAME SRC WORK``) in a fresh WORK folder and print its
    rows, wall time and this process's peak RSS as one JSON line (the bench scripts' protocol)."""
    pipeline, src, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    fn = pipelines[pipeline]
    t0 = time.perf_counter()
    rows = fn(src, work)
    wall = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"pipeline": pipeline, "rows": rows, "wall_s": wall, "rss_mb": rss_mb}))


def main() -> None:
    measure({"workscope": workscope_pipeline, "polars": polars_pipeline,
             "polars_canonical": polars_canonical_pipeline, "pandas": pandas_pipeline})


if __name__ == "__main__":
    main()
