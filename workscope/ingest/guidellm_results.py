"""GuideLLM benchmark reports (vllm-project/guidellm ``guidellm run``): the ``responses`` table.

Files: ``benchmarks.json`` (``--output kind=json``) or ``benchmarks.yaml`` (``kind=yaml``), the
``GenerativeBenchmarksReport`` of guidellm 0.8.1 (``guidellm/benchmark/schemas/report.py``,
``save_file``: ``json.dumps`` of the whole report on one line, or ``yaml.dump``). Top level:
``metadata`` (``guidellm_version``), ``config`` (the run's spec: backend target and model,
profile), ``benchmarks`` (one per strategy of the run: a sweep has several). Each benchmark
holds ``config.strategy``, ``scheduler_metrics`` and ``requests.successful`` / ``errored`` /
``incomplete``: lists of ``GenerativeRequestStats`` (``guidellm/schemas/base/request_stats.py``,
timings in ``guidellm/schemas/base/info.py``):

==============================================  ==========================  ===================
source field                                    column                      unit
==============================================  ==========================  ===================
``request_id``                                  ``request_id``
``info.timings.targeted_start``                 ``plan_s``                  Unix s -> s since origin
``info.timings.request_start`` (else            ``sent_s``                  Unix s -> s since origin
``resolve_start``, as the tool's
``request_start_time``)
``time_to_first_token_ms``                      ``ttft_s``                  ms -> s
``inter_token_latency_ms``                      ``itl_mean_s``              ms -> s
``request_latency``                             ``latency_s``               s
``prompt_tokens``                               ``input_tokens``            tokens
``output_tokens``                               ``output_tokens``           tokens
``request_args`` body ``max_completion_tokens``  ``output_tokens_requested``  tokens
(or ``max_tokens``)
``request_args`` body ``model``                 ``model``                   (else the backend's)
the list the request is in                      ``status``                  successful -> ok,
                                                                            errored -> error,
                                                                            incomplete -> incomplete
``info.error``                                  ``error``                   text
==============================================  ==========================  ===================

``ttft_s``, ``itl_mean_s``, ``latency_s`` and the token counts are the tool's own computed
per-request values (written beside the raw timings), so they equal what GuideLLM reports.
GuideLLM keeps only the first and last token times of a request, so ``itl_p50_s``,
``itl_p99_s`` and ``itl_max_s`` are null. ``attrs`` keeps ``benchmark`` (0-based index in the
report), ``strategy`` (``config.strategy.type_``), ``info_status`` (the tool's own request
status: ``completed``, ``errored``, ``cancelled``...), ``conversation_id``, ``turn_index``,
``response_id`` and ``cached_tokens``.

Time: GuideLLM's times are Unix seconds (``time.time()``). The origin is the earliest
benchmark's scheduler start (``scheduler_metrics.start_time``: the moment the schedule's
``targeted_start`` counts from), so ``plan_s`` is the replayed schedule and ``sent_s - plan_s``
the send lag; ``origin_utc`` is exact to the float's resolution (about 0.2 us).

The report is one JSON (or YAML) document: it is decoded whole (the real files are a few MB
per thousand requests), then each request is kept as compact JSON text and parsed field by
field, so a request with a missing or mistyped field becomes a reject with its reason
(``line`` in the rejects table is the request's 1-based position in the report, in the order
benchmarks, then successful, errored, incomplete). A document that is not valid JSON/YAML (a
truncated file) is refused with one clear error.
Source: https://github.com/vllm-project/guidellm (Apache-2.0).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from workscope.errors import CorruptSourceError, EmptySourceError, SourceError
from workscope.ingest._bench import bench_meta, exact_float, run_settings
from workscope.ingest._jsonl import decode_lines
from workscope.ingest.files import head_bytes, plain_file
from workscope.ingest.parse import Parsed, attrs_json, build, parse_int, parse_text
from workscope.ingest.reader import FILE, LINE, RAW_PREFIX, REASON, Reader, ScanContext, ScanResult, TablePart
from workscope.ingest.timefmt import origin_meta
from workscope.numeric import exact_div

BUCKETS = {"successful": "ok", "errored": "error", "incomplete": "incomplete"}
_JSON = RAW_PREFIX + "json"
_BENCH = "_benchmark"
_BUCKET = "_bucket"
_NAMES = (".json", ".yaml", ".yml", ".json.gz", ".yaml.gz", ".yml.gz")
_DEC = "_decoded"
TIMINGS = ("targeted_start", "request_start", "resolve_start")
FLOATS = ("time_to_first_token_ms", "inter_token_latency_ms", "request_latency")
# The float fields, decoded with their full precision (json_path_match rounds Unix seconds to
# the microsecond: see _bench.exact_float). Only fields that are also checked as text.
DECODED = pl.Struct({"info": pl.Struct({"timings": pl.Struct({t: pl.Float64 for t in TIMINGS})}),
                     **{f: pl.Float64 for f in FLOATS}})


def _get(p: str) -> pl.Expr:
    """A nested field of the request's JSON text, as text (null when absent or JSON null)."""
    return pl.col(_JSON).str.json_path_match(p)


def _body(key: str) -> pl.Expr:
    # request_args is itself a JSON text (the backend call); its body holds what was asked for.
    return _get("$.request_args").str.json_path_match(f"$.body.{key}")


def sniff_report(path: Path) -> bool:
    """True when ``path`` looks like a GuideLLM report (JSON or YAML, by its first 64 KiB)."""
    if path.is_dir():
        return False
    head = head_bytes(path, 65536).decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()
    if head.startswith("{"):
        return '"guidellm_version"' in head or ('"benchmarks"' in head and '"prefer_response_metrics"' in head)
    # yaml.dump sorts keys: `benchmarks` comes first and `metadata` (the version) last.
    return head.startswith("benchmarks:") and "prefer_response_metrics:" in head and "run_id:" in head


def report_files(paths: Sequence[Path]) -> list[Path]:
    """Named files as given; from a folder, the reports among its JSON / YAML files."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            # Walked here, not with iter_files: that skips .yaml files as documentation.
            found = [f for f in sorted(p.rglob("*")) if f.is_file()
                     and not any(part.startswith(".") for part in f.relative_to(p).parts)
                     and f.name.lower().endswith(_NAMES) and sniff_report(f)]
            # GuideLLM can write the same report twice (--output kind=json and kind=yaml): a
            # YAML report beside a JSON one of the same stem is that same run, read once.
            stems = {(f.parent, f.name.split(".")[0]) for f in found if ".json" in f.name.lower()}
            out += [f for f in found if ".json" in f.name.lower() or (f.parent, f.name.split(".")[0]) not in stems]
        else:
            out.append(p)
    if not out:
        raise SourceError(paths[0], "no GuideLLM report (benchmarks.json / benchmarks.yaml) found",
                          hint="pass the file written by `guidellm run --output kind=json`")
    return out


def load_report(plain: Path, display: str) -> dict[str, Any]:
    """The report document; clear errors for an empty, truncated or foreign file."""
    text = plain.read_bytes().decode("utf-8", errors="replace").lstrip("\ufeff")
    if not text.strip():
        raise EmptySourceError(display, "file is empty", line=1, hint="check that the run completed")
    try:
        if text.lstrip().startswith("{"):
            doc = json.loads(text)
        else:
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            doc = yaml.load(text, Loader=loader)  # a safe loader: plain data only
    except (ValueError, yaml.YAMLError) as exc:
        line = getattr(exc, "lineno", None) or getattr(getattr(exc, "problem_mark", None), "line", None)
        raise CorruptSourceError(display, f"not a valid JSON/YAML document ({str(exc)[:200]})", line=line,
                                 hint="the report may be truncated; GuideLLM writes it once, at the end "
                                      "of the run") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise SourceError(display, "has no 'benchmarks' list; not a GuideLLM report", line=1,
                          hint="pass --format to choose another reader")
    return doc


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def bench_start(bench: dict[str, Any]) -> float | None:
    """A benchmark's scheduler start (Unix s), else its earliest targeted/actual request start."""
    for holder in (bench.get("scheduler_metrics"), bench.get("scheduler_state")):
        if isinstance(holder, dict) and _num(holder.get("start_time")) is not None:
            return _num(holder["start_time"])
    times = []
    for bucket in BUCKETS:
        for r in ((bench.get("requests") or {}).get(bucket) or []):
            t = ((r.get("info") or {}).get("timings") or {}) if isinstance(r, dict) else {}
            times += [v for v in (_num(t.get("targeted_start")), _num(t.get("request_start"))) if v is not None]
    return min(times) if times else None


def settings(doc: dict[str, Any], bench: dict[str, Any], index: int, display: str) -> dict[str, Any]:
    """One benchmark's settings for the manifest (backend from the report's spec)."""
    spec = (doc.get("config") or {}).get("spec") or {}
    backend = spec.get("backend") or {}
    profile = spec.get("profile") or {}
    strategy = (bench.get("config") or {}).get("strategy") or {}
    start = bench_start(bench)
    return run_settings(
        tool="guidellm", tool_version=(doc.get("metadata") or {}).get("guidellm_version"),
        base_url=backend.get("target"), model=backend.get("model"),
        request_rate=strategy.get("rate"),
        max_concurrency=strategy.get("max_concurrency", strategy.get("streams")),
        date=_iso(start), benchmark=index, profile=profile.get("kind"),
        strategy=strategy.get("type_"), strategy_settings=strategy or None,
        start_time=start, end_time=_num(bench.get("end_time")), duration_s=_num(bench.get("duration")),
        request_format=backend.get("request_format"), file=display,
    )


def _iso(unix_s: float | None) -> str | None:
    return None if unix_s is None else _dt.datetime.fromtimestamp(unix_s, tz=_dt.UTC).isoformat()


def _finite(value: Any) -> Any:
    """``value`` with NaN / infinity made null: Python's json writes them as bare ``NaN``, which
    the per-field JSON parsing refuses for the whole request; a non-finite time is no time."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def request_frame(doc: dict[str, Any], display: str) -> pl.LazyFrame:
    """One row per request: its compact JSON text, benchmark index, status list and position."""
    texts, benches, buckets = [], [], []
    for i, bench in enumerate(doc["benchmarks"]):
        reqs = bench.get("requests") if isinstance(bench, dict) else None
        for bucket in BUCKETS:
            for r in ((reqs or {}).get(bucket) or []):
                # default=str: a YAML report may hold a value JSON has no type for (a date)
                texts.append(json.dumps(_finite(r), separators=(",", ":"), default=str))
                benches.append(i)
                buckets.append(bucket)
    return pl.LazyFrame({_JSON: pl.Series(texts, dtype=pl.String),
                         _BENCH: pl.Series(benches, dtype=pl.Int64),
                         _BUCKET: pl.Series(buckets, dtype=pl.String)}).with_row_index(LINE, offset=1).with_columns(
        pl.col(LINE).cast(pl.Int64), pl.lit(display).alias(FILE))


def _float(name: str) -> Parsed:
    """A top-level float field of the request, exact."""
    return exact_float(_get(f"$.{name}"), pl.col(_DEC).struct.field(name), name)


def _timing(name: str) -> Parsed:
    """An ``info.timings`` field (Unix s), exact."""
    dec = pl.col(_DEC).struct.field("info").struct.field("timings").struct.field(name)
    return exact_float(_get(f"$.info.timings.{name}"), dec, f"info.timings.{name}")


def responses(lf: pl.LazyFrame, origin: float, strategies: list[str | None],
              models: list[str | None]) -> pl.LazyFrame:
    """The ``responses`` columns of one report, with reasons."""
    # the tool's request_start_time: request_start, else resolve_start
    req, res = _timing("request_start"), _timing("resolve_start")
    start = Parsed(pl.coalesce(req.value, res.value), pl.coalesce(req.reason, res.reason))
    is_obj = _get("$").str.starts_with("{").fill_null(False)
    requested = parse_int(pl.coalesce(_body("max_completion_tokens"), _body("max_tokens")),
                          "request_args.body.max_completion_tokens")
    bench_model = pl.col(_BENCH).replace_strict(list(range(len(models))), models, default=None,
                                                return_dtype=pl.String)
    fields: dict[str, Parsed | pl.Expr] = {
        "request_id": parse_text(_get("$.request_id"), "request_id", required=True),
        "plan_s": _timing("targeted_start").map(lambda v: v - origin),
        "sent_s": start.map(lambda v: v - origin),
        "ttft_s": _float("time_to_first_token_ms").map(lambda v: exact_div(v, 1e3)),
        "itl_mean_s": _float("inter_token_latency_ms").map(lambda v: exact_div(v, 1e3)),
        "latency_s": _float("request_latency"),
        "input_tokens": parse_int(_get("$.prompt_tokens"), "prompt_tokens", allow_float=True),
        "output_tokens_requested": requested,
        "output_tokens": parse_int(_get("$.output_tokens"), "output_tokens", allow_float=True),
        "status": pl.col(_BUCKET).replace_strict(list(BUCKETS), list(BUCKETS.values()), return_dtype=pl.String),
        "error": parse_text(_get("$.info.error"), "info.error"),
        "model": pl.coalesce(_body("model"), bench_model),
        "attrs": attrs_json({
            "benchmark": pl.col(_BENCH),
            "strategy": pl.col(_BENCH).replace_strict(list(range(len(strategies))), strategies, default=None,
                                                      return_dtype=pl.String),
            "info_status": _get("$.info.status"),
            "conversation_id": _get("$.info.conversation_id"),
            "turn_index": _get("$.info.turn_index").cast(pl.Int64, strict=False),
            "response_id": _get("$.response_id"),
            "cached_tokens": _get("$.cached_tokens").cast(pl.Int64, strict=False),
        }),
    }
    # A request the tool could not send has no start; one that has neither start nor any timing
    # is not a measurement at all.
    no_time = pl.when(is_obj & _get("$.info.timings").is_null()).then(pl.lit("info.timings is missing"))
    not_obj = pl.when(~is_obj).then(pl.lit("request is not a JSON object"))
    # A record whose struct decode failed while every checked field looked right holds a type
    # no check names (a number written as a string): reject it rather than keep null values.
    misfit = pl.when(is_obj & pl.col(_DEC).is_null()).then(pl.lit("a timing has the wrong JSON type"))
    lf = lf.with_columns(decode_lines(pl.col(_JSON), DECODED).alias(_DEC))
    frame = build(lf, fields, extra_reasons=[no_time, misfit])
    return frame.with_columns(pl.coalesce(not_obj, pl.col(REASON)).alias(REASON))


class GuideLLMResultsReader(Reader):
    """GuideLLM ``benchmarks.json`` / ``benchmarks.yaml`` reports into ``responses``."""

    name = "guidellm_results"
    version = "1"
    description = ("GuideLLM benchmark report (benchmarks.json / .yaml: benchmarks[].requests."
                   "successful|errored|incomplete, Unix-s timings, ms latencies)")
    tables = ("responses",)
    doc_url = "https://github.com/vllm-project/guidellm"

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            files = [f for f in sorted(path.iterdir()) if f.is_file() and f.name.lower().endswith(_NAMES)][:5]
            return any(sniff_report(f) for f in files)
        return sniff_report(path)

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        files = report_files(paths)
        docs = []
        for f in files:
            # json.dumps writes the whole report on one line: no line-length limit here.
            docs.append((f, load_report(plain_file(f, ctx, max_line=None), str(f))))

        starts = [s for _, doc in docs for b in doc["benchmarks"] if isinstance(b, dict)
                  and (s := bench_start(b)) is not None]
        origin = min(starts) if starts else 0.0

        parts, runs = [], []
        for f, doc in docs:
            benches = [b if isinstance(b, dict) else {} for b in doc["benchmarks"]]
            these = [settings(doc, b, i, str(f)) for i, b in enumerate(benches)]
            runs += these
            frame = responses(request_frame(doc, str(f)), origin,
                              [s["strategy"] for s in these], [s["model"] for s in these])
            parts.append(TablePart(frame, pl.col(_JSON), str(f)))

        note = ("plan_s = targeted_start, sent_s = request_start; seconds since the earliest "
                "benchmark's scheduler start (Unix seconds)")
        meta = bench_meta(runs, resolution_s=1e-6, note=note)
        origin_ns = round(origin * 1e9) if starts else None
        meta.update(origin_meta(origin_ns, assumed_utc=False, resolution_s=1e-6, note=note))
        return ScanResult({"responses": parts}, files, meta)


READER = GuideLLMResultsReader()
