"""AIPerf per-request results (ai-dynamo/aiperf ``aiperf profile``): the ``responses`` table.

Files, in the run's ``--artifact-dir``: ``profile_export.jsonl`` (one JSON object per request,
``MetricRecordInfo`` in ``aiperf/common/models/record_models.py`` of aiperf 0.13.0) and
``profile_export_aiperf.json`` (the run summary with the settings, ``JsonExportData``). The
folder, either file, or both can be passed; the other file of the pair is looked up beside
the one given (the summary alone holds no request, so its ``.jsonl`` twin must be there).

Each record: ``metadata`` (ids, wall-clock times in **ns** from ``time.time_ns()``), ``metrics``
(each ``{"value": v, "unit": u}``, ``v`` in the metric's display unit, ``ms`` for times in
0.13.0; the unit is read per value, so ``ns``/``us``/``ms``/``sec`` all convert), ``error``
(``ErrorDetails``, null on success):

===========================================  ========================  =======================
source field                                 column                    unit
===========================================  ========================  =======================
``metadata.x_request_id``                    ``request_id``            (``session_num`` if none)
``metadata.credit_issued_ns``                ``plan_s``                ns -> s since origin
``metadata.request_start_ns``                ``sent_s``                ns -> s since origin
``metrics.time_to_first_token``              ``ttft_s``                its unit -> s
``metrics.inter_token_latency``              ``itl_mean_s``            its unit -> s
``metrics.inter_chunk_latency`` (list)       ``itl_p50/p99/max_s``     its unit -> s
``metrics.request_latency``                  ``latency_s``             its unit -> s
``metrics.input_sequence_length``            ``input_tokens``          tokens (``error_isl``
                                                                       for a failed request)
``metrics.output_sequence_length``           ``output_tokens``         tokens
``error.message``                            ``error``                 text
summary ``input_config.models.items[].name`` ``model``                 (one model only)
===========================================  ========================  =======================

``attrs`` keeps ``phase`` (``benchmark_phase``: warmup records are kept and marked),
``conversation_id``, ``turn_index``, ``error_type``, ``error_code`` and the server's own
token counts ``usage_prompt_tokens`` / ``usage_completion_tokens`` (AIPerf counts ISL/OSL again
with its tokenizer; the two differ). AIPerf does not record ``max_tokens`` per request, so
``output_tokens_requested`` is null.

ITL: ``itl_mean_s`` is AIPerf's own per-request ITL, (latency - TTFT) / (OSL - 1). The
percentiles and the maximum are taken over ``inter_chunk_latency``, the gaps between the
streamed chunks AIPerf received (as vLLM's ``itls``, :mod:`workscope.ingest.vllm_results`):
when a chunk carries several tokens, a per-token percentile cannot be known, but the longest
gap between two arrivals is exact.

Status: ``metadata.was_cancelled`` true -> ``incomplete`` (AIPerf cancelled it in flight); an
``error`` object -> ``error``; else ``ok``. A failed request keeps its send time and ISL.

Time: ``plan_s`` is when AIPerf's scheduler issued the request's credit (for
``--fixed-schedule`` the credit fires at the request's scheduled time, so this is the
schedule as the tool executed it; AIPerf writes no separate target time), ``sent_s`` when the
request started. The origin is the run's first credit issue (the schedule's zero), or its
first send when no credit time is recorded; both are epoch ns, so ``origin_utc`` is exact.
The summary's ``start_time`` is written by ``datetime.fromtimestamp`` in the machine's local
zone without an offset, so it is kept in the manifest as text only (``start_time_local``).

The records are decoded once, block by block, into the fields above (the other 40-odd metrics
are skipped), and staged as Parquet; the origin is then read from the staged times. A line
that is not JSON (a truncated last line), a value of the wrong JSON type (``metadata.
request_start_ns: not an integer``) or a record without ``metadata.request_start_ns`` becomes
a reject with its line number and its text as in the file.
Source: https://github.com/ai-dynamo/aiperf (Apache-2.0).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workscope.errors import SourceError
from workscope.ingest._bench import bench_meta, itl_stats, run_settings, seconds_from_ns
from workscope.ingest._jsonl import (
    REC,
    WHY,
    first_json_record,
    json_shape,
    raw_line,
    record_field,
    sniff_json_keys,
    stage_json_records,
)
from workscope.ingest.files import head_bytes, iter_files, plain_file
from workscope.ingest.parse import Parsed, attrs_json, build, parse_text
from workscope.ingest.reader import REASON, Reader, ScanContext, ScanResult, TablePart
from workscope.ingest.timefmt import origin_meta
from workscope.numeric import exact_div

RECORDS_NAME = "profile_export.jsonl"
SUMMARY_NAME = "profile_export_aiperf.json"

# Per-second factors of AIPerf's MetricTimeUnit tags (aiperf/common/enums/metric_enums.py).
TIME_UNITS = {"ns": 1e9, "us": 1e6, "ms": 1e3, "sec": 1.0, "s": 1.0}
TIME_METRICS = ("time_to_first_token", "inter_token_latency", "request_latency")
GAPS = "inter_chunk_latency"

TOKEN_METRICS = ("input_sequence_length", "output_sequence_length", "error_isl",
                 "usage_prompt_tokens", "usage_completion_tokens")

# The fields read from each record, all decoded in one pass (the record's other 40-odd metrics
# are skipped by the decoder). A value of the wrong JSON type makes the record a reject that
# names the field (``metadata.request_start_ns: not an integer``).
SHAPE = json_shape({
    "metadata": {"x_request_id": str, "session_num": str, "conversation_id": str, "turn_index": int,
                 "benchmark_phase": str, "credit_issued_ns": int, "request_start_ns": int,
                 "was_cancelled": str},
    "metrics": {**{m: {"value": float, "unit": str} for m in TIME_METRICS},
                **{m: {"value": int, "unit": str} for m in TOKEN_METRICS},
                GAPS: {"value": [float], "unit": str}},
    "error": {"message": str, "type": str, "code": str},
})
# The two times the origin needs, for the first pass over the file.
TIMES = json_shape({"metadata": {"credit_issued_ns": int, "request_start_ns": int}})


@dataclass
class Run:
    """One AIPerf run: its per-request records file and its summary (None if absent)."""

    records: Path
    summary: Path | None


def is_summary(path: Path) -> bool:
    """True when ``path`` looks like AIPerf's run summary (``profile_export_aiperf.json``)."""
    if path.is_dir():
        return False
    head = head_bytes(path, 4096).decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()
    return head.startswith("{") and '"aiperf_version"' in head and '"schema_version"' in head


def is_records(path: Path) -> bool:
    """True when ``path`` looks like AIPerf's per-request records (``profile_export.jsonl``);
    the raw-export twin (``payload`` / ``start_perf_ns``) is not this format."""
    return (not path.is_dir() and sniff_json_keys(
        path, must=("metadata", "session_num", "request_start_ns", "record_processor_id"),
        never=("payload", "payload_bytes", "start_perf_ns"), late=("metrics",)))


def find_runs(paths: Sequence[Path]) -> list[Run]:
    """The record files under ``paths``, each paired with the summary beside it."""
    records: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            records += [f for f in iter_files([p]) if f.name.endswith((".jsonl", ".jsonl.gz"))
                        and is_records(f)]
        elif is_summary(p):
            twin = p.parent / RECORDS_NAME
            if not twin.exists():
                raise SourceError(p, "is AIPerf's run summary, which holds no per-request record; "
                                  f"{RECORDS_NAME} is not beside it",
                                  hint="pass the artifact folder or its profile_export.jsonl")
            records.append(twin)
        else:
            records.append(p)
    out: list[Run] = []
    for r in dict.fromkeys(records):  # a folder and a file in it name the same run once
        summaries = [f for f in (r.parent / SUMMARY_NAME,) if f.exists()]
        if not summaries:  # a renamed export (--profile-export-file): any summary beside it
            summaries = [f for f in sorted(r.parent.glob("*.json")) if is_summary(f)]
        out.append(Run(r, summaries[0] if summaries else None))
    if not out:
        raise SourceError(paths[0], f"no AIPerf per-request records ({RECORDS_NAME}) found",
                          hint="pass the artifact folder of an `aiperf profile` run")
    return out


def read_summary(path: Path | None, ctx: ScanContext) -> dict[str, Any]:
    """The summary as a dict ({} when absent or unreadable: the records stand on their own)."""
    if path is None:
        return {}
    try:
        doc = json.loads(plain_file(path, ctx, max_line=None).read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def settings(summary: dict[str, Any], run: Run) -> dict[str, Any]:
    """One run's settings for the manifest, from the summary's ``input_config`` and run info."""
    cfg = summary.get("input_config") or {}
    endpoint = cfg.get("endpoint") or {}
    urls = endpoint.get("urls") or []
    models = [m.get("name") for m in ((cfg.get("models") or {}).get("items") or []) if isinstance(m, dict)]
    phases = [p for p in cfg.get("phases") or [] if isinstance(p, dict)]
    prof = next((p for p in phases if p.get("kind") == "profiling"), phases[0] if phases else {})
    info = summary.get("run_info") or {}
    return run_settings(
        tool="aiperf", tool_version=summary.get("aiperf_version"),
        base_url=urls[0] if urls else None, model=models[0] if len(models) == 1 else None,
        request_rate=prof.get("rate"), max_concurrency=prof.get("concurrency"),
        date=summary.get("start_time"),
        models=models or None, schedule=prof.get("type"), phases=phases or None,
        endpoint_type=endpoint.get("type"), streaming=endpoint.get("streaming"),
        benchmark_id=summary.get("benchmark_id"), cli_command=info.get("cli_command"),
        start_time_local=summary.get("start_time"), end_time_local=summary.get("end_time"),
        was_cancelled=summary.get("was_cancelled"), is_complete=summary.get("is_complete"),
        records_file=str(run.records), summary_file=str(run.summary) if run.summary else None,
    )


def in_seconds(value: pl.Expr, unit: pl.Expr) -> pl.Expr:
    """``value`` in time unit ``unit`` (an AIPerf unit tag) as seconds; null for a unit that is
    not a time (the caller gives the reason)."""
    out = pl.lit(None, pl.Float64)
    for tag, per_s in TIME_UNITS.items():
        out = pl.when(unit == tag).then(exact_div(value, per_s)).otherwise(out)
    return out


def metric_seconds(name: str) -> Parsed:
    """Metric ``name`` (value in its own unit) as seconds; an unknown unit gets a reason."""
    value, unit = record_field(f"metrics.{name}.value"), record_field(f"metrics.{name}.unit")
    bad = pl.when(value.is_not_null() & ~unit.is_in(list(TIME_UNITS))).then(
        pl.lit(f"{name}: unit is not a time unit"))
    return Parsed(in_seconds(value, unit), bad)


def gaps_seconds(name: str) -> Parsed:
    """A list metric (``inter_chunk_latency``) as list<float64> seconds, null if absent; a gap
    that is null, or a unit that is not a time, gets a reason."""
    gaps, unit = record_field(f"metrics.{name}.value"), record_field(f"metrics.{name}.unit")
    out = pl.lit(None, pl.List(pl.Float64))
    for tag, per_s in TIME_UNITS.items():
        out = pl.when(unit == tag).then(gaps.list.eval(exact_div(pl.element(), per_s))).otherwise(out)
    bad = (pl.when(gaps.list.eval(pl.element().is_null()).list.any()).then(pl.lit(f"{name}: a gap is null"))
           .when(gaps.is_not_null() & ~unit.is_in(list(TIME_UNITS))).then(pl.lit(f"{name}: unit is not a time unit")))
    return Parsed(out, bad)


def ns_since(field: str, origin_ns: int, *, required: bool = False) -> Parsed:
    """An epoch-ns metadata field as seconds since ``origin_ns`` (int64 difference, exact)."""
    ns = record_field(f"metadata.{field}")
    missing = pl.when(ns.is_null() & required).then(pl.lit(f"metadata.{field} is missing"))
    return Parsed(seconds_from_ns(ns - origin_ns), missing)


def first_times(staged: pl.LazyFrame) -> tuple[int | None, int | None]:
    """The earliest credit issue and the earliest send of a staged records file, epoch ns."""
    out = staged.select(
        record_field("metadata.credit_issued_ns").min().alias("credit"),
        record_field("metadata.request_start_ns").min().alias("start"),
    ).collect()
    return out["credit"][0], out["start"][0]


def responses(lf: pl.LazyFrame, origin_ns: int, model: str | None) -> pl.LazyFrame:
    """The ``responses`` columns of one records file (staged by :func:`stage_json_records`
    with :data:`SHAPE`), with reasons."""
    md = "metadata."
    cancelled = (record_field(md + "was_cancelled") == "true").fill_null(False)
    status = (pl.when(cancelled).then(pl.lit("incomplete"))
              .when(record_field("error").is_not_null()).then(pl.lit("error")).otherwise(pl.lit("ok")))
    gaps = gaps_seconds(GAPS)
    itl = itl_stats(gaps.value)

    def count(name: str) -> pl.Expr:
        return record_field(f"metrics.{name}.value")

    fields: dict[str, Parsed | pl.Expr] = {
        "request_id": pl.coalesce(record_field(md + "x_request_id"), record_field(md + "session_num")),
        "plan_s": ns_since("credit_issued_ns", origin_ns),
        "sent_s": ns_since("request_start_ns", origin_ns, required=True),
        "ttft_s": metric_seconds("time_to_first_token"),
        "itl_mean_s": metric_seconds("inter_token_latency"),
        "itl_p50_s": Parsed(itl["itl_p50_s"], gaps.reason),
        "itl_p99_s": itl["itl_p99_s"],
        "itl_max_s": itl["itl_max_s"],
        "latency_s": metric_seconds("request_latency"),
        "input_tokens": pl.coalesce(count("input_sequence_length"), count("error_isl")),
        "output_tokens": count("output_sequence_length"),
        "status": status,
        "error": parse_text(record_field("error.message"), "error.message"),
        "model": pl.lit(model, pl.String),
        "attrs": attrs_json({
            "phase": record_field(md + "benchmark_phase"),
            "conversation_id": record_field(md + "conversation_id"),
            "turn_index": record_field(md + "turn_index"),
            "error_type": record_field("error.type"),
            "error_code": record_field("error.code").cast(pl.Int64, strict=False),
            "usage_prompt_tokens": count("usage_prompt_tokens"),
            "usage_completion_tokens": count("usage_completion_tokens"),
        }),
    }
    # A line that is not a JSON object, or holds a value of the wrong type, has every field
    # null: its own reason comes first, instead of "... is missing".
    frame = build(lf, fields)
    # A decoded line keeps no text; its fields stand in until the rejects table takes the line
    # from the file (TablePart.source_lines).
    return frame.with_columns(pl.coalesce(pl.col(WHY), pl.col(REASON)).alias(REASON),
                              pl.coalesce(raw_line(), pl.col(REC).struct.json_encode()).alias(raw_line().meta.output_name()))


class AIPerfResultsReader(Reader):
    """AIPerf ``profile_export.jsonl`` (+ ``profile_export_aiperf.json``) into ``responses``."""

    name = "aiperf_results"
    version = "1"
    description = ("AIPerf results: profile_export.jsonl per-request records (ns times, metrics "
                   "with units) + profile_export_aiperf.json run settings")
    tables = ("responses",)
    doc_url = "https://github.com/ai-dynamo/aiperf"

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            files = [f for f in sorted(path.glob("*.jsonl*")) if f.is_file()][:3]
            return any(is_records(f) for f in files)
        return is_records(path) or is_summary(path)

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        runs = find_runs(paths)
        staged = []
        for run in runs:
            plain = plain_file(run.records, ctx)
            record, number = first_json_record(plain, run.records, what="AIPerf profile_export.jsonl")
            if not isinstance(record.get("metadata"), dict):
                raise SourceError(run.records, "the first record has no 'metadata' object; not AIPerf's "
                                  "per-request export", line=number,
                                  hint="pass --format to choose another reader")
            lf = stage_json_records(plain, str(run.records), SHAPE, ctx.temp_path(run.records.name + ".staged"))
            staged.append((run, lf, read_summary(run.summary, ctx)))

        firsts = [first_times(lf) for _, lf, _ in staged]
        credits = [c for c, _ in firsts if c is not None]
        starts = [s for _, s in firsts if s is not None]
        origin_ns = min(credits) if credits else (min(starts) if starts else None)

        parts, runs_meta = [], []
        for run, lf, summary in staged:
            s = settings(summary, run)
            runs_meta.append(s)
            parts.append(TablePart(responses(lf, origin_ns or 0, s["model"]), raw_line(), str(run.records),
                                   source_lines=True))

        note = ("plan_s = AIPerf's credit issue time, sent_s = request start; seconds since the run's "
                "first credit issue (else first send), from epoch ns")
        meta = bench_meta(runs_meta, resolution_s=1e-9, note=note)
        meta.update(origin_meta(origin_ns, assumed_utc=False, resolution_s=1e-9, note=note))
        return ScanResult({"responses": parts}, [r.records for r in runs] +
                          [r.summary for r in runs if r.summary is not None], meta)


READER = AIPerfResultsReader()
