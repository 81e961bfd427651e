"""The result layout vLLM's serving benchmark writes and SGLang's adapted: one JSON object per
run (one run per line when appended), with parallel per-request arrays, element ``i`` of each
describing request ``i``. Turning those arrays into ``responses`` rows is shared by the
``vllm_results`` and ``sglang_results`` readers; each gives an :class:`ArrayFormat`."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workscope.errors import CorruptSourceError, EmptySourceError, MissingColumnError, SourceError
from workscope.ingest._bench import bench_meta, itl_stats, parse_float_list
from workscope.ingest._jsonl import source_files
from workscope.ingest.files import head_bytes, plain_file
from workscope.ingest.parse import Parsed, attrs_json, build, parse_float, parse_int, parse_text
from workscope.ingest.reader import FILE, LINE, RAW_PREFIX, REASON, ScanContext, ScanResult, TablePart

_BAD = RAW_PREFIX + "__bad__"
_RAW = RAW_PREFIX + "__raw__"
_ORIGIN = RAW_PREFIX + "__origin__"
_MODEL = RAW_PREFIX + "__model__"
_RUN = "_run"
_INDEX = "_index"
_RESULT_NAMES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")


@dataclass
class Run:
    """One run of a result file: its line, the decoded object (None if not JSON), its text."""

    line: int
    record: dict[str, Any] | None
    text: str


@dataclass
class ArrayFormat:
    """A result format of parallel per-request arrays (vLLM and SGLang, which adapted it)."""

    what: str
    arrays: dict[str, str]
    required: Sequence[str]
    settings: Callable[[dict[str, Any], int, int, int], dict[str, Any]]
    model: Callable[[dict[str, Any]], str | None]
    hint: str
    note: str = ("send times are seconds since each run's first send (the tool's perf_counter "
                 "has no wall-clock origin)")


def result_files(paths: Sequence[Path]) -> list[Path]:
    """Named files as given; from a folder, JSON / JSON Lines results only (vLLM writes a
    ``.pytorch.json`` twin and plots beside each result: those are skipped)."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out += [f for f in source_files([p]) if f.name.lower().endswith(_RESULT_NAMES)
                    and not f.name.lower().endswith((".pytorch.json", ".pytorch.json.gz"))]
        else:
            out += source_files([p])
    return out


def sniff_result_keys(path: Path, must: Sequence[str], never: Sequence[str] = ()) -> bool:
    """True when the first object of ``path`` (or of the first result file of a folder) names
    every key of ``must`` and none of ``never`` within its first 64 KiB (settings come first)."""
    if path.is_dir():
        files = result_files([path])[:3]
        return bool(files) and any(sniff_result_keys(f, must, never) for f in files)
    head = head_bytes(path, 65536).decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()
    if not head.startswith("{"):
        return False
    first = head.split("\n", 1)[0] if not head.startswith("{\n") else head
    first = first.replace('" :', '":')
    return all(f'"{k}":' in first for k in must) and not any(f'"{k}":' in first for k in never)


def read_runs(plain: Path, display: str, *, what: str) -> list[Run]:
    """The runs of a result file: the whole file when it is one JSON object (pretty-printed
    too), else one run per non-blank line. Raises EmptySourceError for an empty file and
    CorruptSourceError / SourceError when no run at all is a JSON object."""
    text = plain.read_bytes().decode("utf-8", errors="replace").lstrip("\ufeff")
    if not text.strip():
        raise EmptySourceError(display, "file is empty", line=1, hint="check that the run completed")
    try:
        whole = json.loads(text)
    except ValueError as exc:
        whole, whole_error = None, exc
    else:
        whole_error = None
    if isinstance(whole, dict):
        return [Run(1, whole, text.strip())]
    if isinstance(whole, list):
        raise SourceError(display, f"is a JSON array; a {what} has one JSON object per run",
                          line=1, hint="pass the result file the tool wrote")
    runs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        runs.append(Run(number, record if isinstance(record, dict) else None, line))
    if not any(r.record is not None for r in runs):
        if len(runs) == 1 and whole_error is not None:
            raise CorruptSourceError(
                display, f"not valid JSON ({whole_error}); the {what} is truncated or damaged",
                line=getattr(whole_error, "lineno", None),
                hint="the benchmark may have been stopped while writing; run it again")
        raise SourceError(display, f"no line is a JSON object; not a {what}", line=runs[0].line,
                          hint="pass --format to choose another reader")
    return runs


def _text(value: Any) -> str | None:
    # Text for the typed parsers: a quoted number still reads as its value (as in the JSON
    # Lines readers); lists and other types keep their JSON text so the parser can name them.
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _start_origin(values: Any) -> float | None:
    if not isinstance(values, list):
        return None
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v)]
    return min(nums) if nums else None


def explode(runs: list[Run], display: str, fmt: ArrayFormat) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """One text row per request of every run (the parallel arrays zipped by index), plus the
    settings of each run. A run that is not JSON or lacks the arrays is one row with a reason."""
    cols: dict[str, list[Any]] = {RAW_PREFIX + c: [] for c in fmt.arrays}
    for c in (_BAD, _RAW, _ORIGIN, _MODEL, _RUN, _INDEX, LINE):
        cols[c] = []
    settings: list[dict[str, Any]] = []

    def bad(run: Run, number: int, reason: str) -> None:
        for c in fmt.arrays:
            cols[RAW_PREFIX + c].append(None)
        for c, v in ((_BAD, reason), (_RAW, run.text[:2000]), (_ORIGIN, None), (_MODEL, None),
                     (_RUN, number), (_INDEX, None), (LINE, run.line)):
            cols[c].append(v)

    first = next(r for r in runs if r.record is not None)
    for number, run in enumerate(runs, start=1):
        rec = run.record
        if rec is None:
            bad(run, number, f"line is not a JSON object (a truncated or damaged {fmt.what} run)")
            continue
        missing = [k for k in fmt.required if not isinstance(rec.get(k), list)]
        if missing:
            if run is first:
                raise MissingColumnError(
                    display, f"no per-request array(s) {missing} in the run settings/summary; "
                    f"it has {list(rec)[:30]}", line=run.line, hint=fmt.hint)
            bad(run, number, f"run has no per-request array(s) {missing}")
            continue
        arrays = {c: rec.get(k) for c, k in fmt.arrays.items()}
        n = max(len(v) for v in arrays.values() if isinstance(v, list))
        model = fmt.model(rec)
        origin = _start_origin(arrays.get("start_time"))
        settings.append(fmt.settings(rec, number, run.line, n))
        for i in range(n):
            row = {}
            for c, values in arrays.items():
                v = values[i] if isinstance(values, list) and i < len(values) else None
                cols[RAW_PREFIX + c].append(_text(v))
                row[fmt.arrays[c]] = v
            cols[_RAW].append(json.dumps({"run": number, "index": i, **row}, separators=(",", ":"))[:2000])
            for c, v in ((_BAD, None), (_ORIGIN, origin), (_MODEL, model), (_RUN, number),
                         (_INDEX, i), (LINE, run.line)):
                cols[c].append(v)
    schema = {c: pl.String for c in cols} | {_ORIGIN: pl.Float64, _RUN: pl.Int64, _INDEX: pl.Int64,
                                             LINE: pl.Int64}
    return pl.DataFrame(cols, schema=schema), settings


def _src(name: str) -> pl.Expr:
    return pl.col(RAW_PREFIX + name)


def responses_frame(df: pl.DataFrame, display: str, fmt: ArrayFormat) -> pl.LazyFrame:
    """The ``responses`` columns and ``_reason`` from the exploded text rows."""
    lf = df.lazy().with_columns(pl.lit(display).alias(FILE))
    keys = fmt.arrays
    ttft = parse_float(_src("ttft"), keys["ttft"], required=True)
    itl = parse_float_list(_src("itl"), keys["itl"], required=True)
    err_text = parse_text(_src("error"), keys["error"])
    error = Parsed(err_text.value, pl.when(_src("error").is_null())
                   .then(pl.lit(f"{keys['error']} is missing")).otherwise(err_text.reason))
    fields: dict[str, Parsed | pl.Expr] = {
        "input_tokens": parse_int(_src("input_len"), keys["input_len"], required=True),
    }
    output = parse_int(_src("output_len"), keys["output_len"], required=True)
    latency = (parse_float(_src("latency"), keys["latency"]) if "latency" in keys
               else Parsed(pl.lit(None, pl.Float64), pl.lit(None, pl.String)))
    status = (pl.when(error.value.is_not_null()).then(pl.lit("error"))
              .when((ttft.value == 0) & (itl.value.list.len() == 0)).then(pl.lit("incomplete"))
              .otherwise(pl.lit("ok")))
    ok = status == "ok"
    # The tool's defaults for a request that failed before that point are placeholders.
    fields["ttft_s"] = Parsed(pl.when(ok | (ttft.value > 0)).then(ttft.value), ttft.reason)
    fields["latency_s"] = Parsed(pl.when(ok | (latency.value > 0)).then(latency.value), latency.reason)
    fields["output_tokens"] = Parsed(pl.when(ok).then(output.value), output.reason)
    fields["itl"] = itl
    fields["error"] = error
    fields["status"] = status
    attrs: dict[str, pl.Expr] = {"run": pl.col(_RUN)}
    if "start_time" in keys:
        start = parse_float(_src("start_time"), keys["start_time"])
        fields["sent_s"] = Parsed(start.value - pl.col(_ORIGIN), start.reason)
    if "queue_time" in keys:
        fields["_queue"] = parse_float(_src("queue_time"), keys["queue_time"])
        attrs["client_queue_s"] = pl.col("_queue")
    fields["request_id"] = pl.col(_INDEX).cast(pl.String)
    fields["model"] = pl.col(_MODEL)
    frame = build(lf, fields)
    frame = frame.with_columns(
        *[v.alias(k) for k, v in itl_stats(pl.col("itl")).items()],
        attrs_json(attrs).alias("attrs"),
        # A run that is not JSON has every field null; say why instead of "ttfts is missing".
        pl.coalesce(pl.col(_BAD), pl.col(REASON)).alias(REASON),
    )
    return frame


def scan_array_format(paths: Sequence[Path], ctx: ScanContext, fmt: ArrayFormat) -> ScanResult:
    """Scan result files of an :class:`ArrayFormat` into ``responses``."""
    files = result_files(paths)
    if not files:
        raise EmptySourceError(str(paths[0]) if paths else "", f"no {fmt.what} files found",
                               hint="pass the result file the tool wrote")
    parts, all_settings = [], []
    for f in files:
        # No line limit: one run is one line, and the per-request texts make it long.
        plain = plain_file(f, ctx, max_line=None)
        runs = read_runs(plain, str(f), what=fmt.what)
        df, settings = explode(runs, str(f), fmt)
        if df.height == 0:
            raise EmptySourceError(f, f"the {fmt.what} holds no requests",
                                   hint="the run sent no request; nothing to ingest")
        all_settings += [{"file": str(f), **s} for s in settings]
        parts.append(TablePart(responses_frame(df, str(f), fmt), pl.col(_RAW), str(f)))
    return ScanResult({"responses": parts}, files,
                      bench_meta(all_settings, resolution_s=None, note=fmt.note))


