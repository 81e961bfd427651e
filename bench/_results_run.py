"""Run one AIPerf-results ingest pipeline in this process; print its wall time and peak RSS as JSON.

    python bench/_results_run.py PIPELINE ARTIFACT_DIR WORK_DIR

ARTIFACT_DIR holds profile_export.jsonl and profile_export_aiperf.json (bench/results.py makes it).
"""

from __future__ import annotations

from pathlib import Path

RECORDS = "profile_export.jsonl"


def workscope_pipeline(src: Path, work: Path) -> int:
    """The full pipeline: parse, validate, rejects, Parquet, manifest."""
    import workscope

    res = workscope.open(work / "store").ingest(src, format="aiperf_results", name="bench")
    return res.manifest["tables"]["responses"]["rows_ok"]


def _polars_schema(gaps: bool):
    import polars as pl

    val = lambda t: pl.Struct({"value": t, "unit": pl.String})
    metrics = {
        "time_to_first_token": val(pl.Float64),
        "inter_token_latency": val(pl.Float64),
        "request_latency": val(pl.Float64),
        "input_sequence_length": val(pl.Int64),
        "output_sequence_length": val(pl.Int64),
        "error_isl": val(pl.Int64),
    }
    if gaps:
        metrics["inter_chunk_latency"] = val(pl.List(pl.Float64))
    return pl.Schema({
        "metadata": pl.Struct({
            "x_request_id": pl.String,
            "credit_issued_ns": pl.Int64,
            "request_start_ns": pl.Int64,
        }),
        "metrics": pl.Struct(metrics),
        "error": pl.Struct({"type": pl.String, "message": pl.String}),
    })


def _polars(src: Path, work: Path, gaps: bool) -> int:
    """What a user would write by hand: scan_ndjson with an explicit schema, the fields of the
    responses table, ms -> s (AIPerf 0.13 writes every time metric in ms), zstd Parquet."""
    import polars as pl

    lf = pl.scan_ndjson(src / RECORDS, schema=_polars_schema(gaps))
    md, m = pl.col("metadata"), pl.col("metrics")
    origin = lf.select(md.struct.field("credit_issued_ns").min()).collect().item()
    cols = [
        md.struct.field("x_request_id").alias("request_id"),
        ((md.struct.field("credit_issued_ns") - origin) / 1e9).alias("plan_s"),
        ((md.struct.field("request_start_ns") - origin) / 1e9).alias("sent_s"),
        (m.struct.field("time_to_first_token").struct.field("value") / 1e3).alias("ttft_s"),
        (m.struct.field("inter_token_latency").struct.field("value") / 1e3).alias("itl_mean_s"),
        (m.struct.field("request_latency").struct.field("value") / 1e3).alias("latency_s"),
        pl.coalesce(m.struct.field("input_sequence_length").struct.field("value"),
                    m.struct.field("error_isl").struct.field("value")).alias("input_tokens"),
        m.struct.field("output_sequence_length").struct.field("value").alias("output_tokens"),
        pl.col("error").struct.field("message").alias("error"),
    ]
    if gaps:  # the ITL percentiles workscope also writes, over inter_chunk_latency
        g = m.struct.field("inter_chunk_latency").struct.field("value").list.eval(pl.element() / 1e3)
        cols += [g.list.eval(pl.element().quantile(0.5, "linear")).list.first().alias("itl_p50_s"),
                 g.list.eval(pl.element().quantile(0.99, "linear")).list.first().alias("itl_p99_s"),
                 g.list.max().alias("itl_max_s")]
    out = work / "polars.parquet"
    lf.select(cols).sink_parquet(out, compression="zstd", engine="streaming")
    return pl.scan_parquet(out).select(pl.len()).collect().item()


def polars_pipeline(src: Path, work: Path) -> int:
    return _polars(src, work, gaps=False)


def polars_gaps_pipeline(src: Path, work: Path) -> int:
    return _polars(src, work, gaps=True)


def pandas_pipeline(src: Path, work: Path) -> int:
    """pd.read_json(lines=True) + json_normalize, the same fields, zstd Parquet."""
    import pandas as pd

    raw = pd.read_json(src / RECORDS, lines=True, dtype=False)
    md = pd.json_normalize(raw["metadata"].tolist())
    mt = pd.json_normalize(raw["metrics"].tolist())
    err = raw["error"] if "error" in raw else pd.Series([None] * len(raw))
    origin = md["credit_issued_ns"].min()
    isl = mt["input_sequence_length.value"]
    if "error_isl.value" in mt:
        isl = isl.fillna(mt["error_isl.value"])
    out = pd.DataFrame({
        "request_id": md["x_request_id"],
        "plan_s": (md["credit_issued_ns"] - origin) / 1e9,
        "sent_s": (md["request_start_ns"] - origin) / 1e9,
        "ttft_s": mt["time_to_first_token.value"] / 1e3,
        "itl_mean_s": mt["inter_token_latency.value"] / 1e3,
        "latency_s": mt["request_latency.value"] / 1e3,
        "input_tokens": isl.astype("Int64"),
        "output_tokens": mt["output_sequence_length.value"].astype("Int64"),
        "error": err.map(lambda e: e.get("message") if isinstance(e, dict) else None),
    })
    out.to_parquet(work / "pandas.parquet", compression="zstd", index=False)
    return len(out)


PIPELINES = {"workscope": workscope_pipeline, "polars": polars_pipeline,
             "polars_gaps": polars_gaps_pipeline, "pandas": pandas_pipeline}


def main() -> None:
    from _run import measure  # the bench folder is the script's own: on sys.path

    measure(PIPELINES)


if __name__ == "__main__":
    main()
