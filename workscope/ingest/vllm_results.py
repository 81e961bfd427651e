"""vLLM serving-benchmark results (``vllm bench serve --save-result --save-detailed``).

What the tool writes (vllm-project/vllm ``vllm/benchmarks/serve.py`` at commit 009e6d4a,
``main()`` and ``benchmark()``; the older ``benchmarks/benchmark_serving.py`` at 8668d7c0
writes the same layout with fewer keys): **one JSON object per run**, written by
``json.dump`` on one line; ``--append-result`` appends further runs, one per line. The object
holds the run settings, the run summary, and with ``--save-detailed`` parallel per-request
arrays, element ``i`` of each array describing request ``i``:

==================  =========================================  ==========================
source key          meaning                                    column (unit)
==================  =========================================  ==========================
``ttfts``           time to first token, s                     ``ttft_s``
``itls``            list of gaps between streamed chunks, s    ``itl_mean_s/p50/p99/max``
``latencies``       send to last token, s (newer files)        ``latency_s``
``start_times``     send time, ``time.perf_counter()`` s       ``sent_s`` (run-relative)
``input_lens``      prompt tokens (server's count if given)    ``input_tokens``
``output_lens``     output tokens (0 for a failed request)     ``output_tokens``
``errors``          error text, ``""`` on success              ``error``, ``status``
``queue_times``     wait for the client's concurrency slot, s  ``attrs.client_queue_s``
``model_id``        run setting                                ``model``
==================  =========================================  ==========================

``generated_texts`` is not kept (content, not measurement). Everything is already in
**seconds**; only the ``*_ms`` summary keys are milliseconds, and they are not read.

Status: a non-empty ``errors[i]`` is ``error``; a request the tool counted without any
token (no first token, no gap) is ``incomplete``; the rest are ``ok``. The tool leaves its
defaults (``ttft = 0.0``, ``latency = 0.0``, ``output_len = 0``) in place for a failed
request; those placeholders become null rather than measurements of zero.

``sent_s`` is ``start_times[i]`` minus the run's earliest start time: ``perf_counter`` has
no wall-clock origin, so the manifest's ``origin_utc`` is null and each run starts at 0.
Files without ``start_times`` (the older script) or ``latencies`` leave those columns null.
``itl_mean_s`` is the mean of the recorded gaps; it equals the tool's TPOT when the server
streams one token per chunk. ``request_id`` is the request's position in its run
(``--append-result`` files: ``attrs.run`` says which run).

The file is one JSON document per run, so it is decoded whole (per line): arrays must be
zipped by index, which a line-by-line text scan cannot do. A bad element becomes a reject
with its reason; a line that is not JSON (a truncated run among several) is one reject; a
file whose only run is not valid JSON (truncated) is refused with one clear error.

Run settings in the manifest (:mod:`workscope.ingest._bench`): tool, version (only when
``--metadata version=...`` was given), model, request rate, max concurrency, date (the
tool's ``%Y%m%d-%H%M%S``, local time, written as the run ended). vLLM does not record the
base URL. Source: https://github.com/vllm-project/vllm (Apache-2.0).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workscope.ingest._bench import run_settings
from workscope.ingest._bench_arrays import ArrayFormat, scan_array_format, sniff_result_keys
from workscope.ingest.reader import Reader, ScanContext, ScanResult

# Raw text column per request -> the source array it comes from.
VLLM_ARRAYS = {"ttft": "ttfts", "itl": "itls", "input_len": "input_lens", "output_len": "output_lens",
               "error": "errors", "latency": "latencies", "start_time": "start_times",
               "queue_time": "queue_times"}
VLLM_REQUIRED = ("ttfts", "itls", "input_lens", "output_lens", "errors")

# ---------------------------------------------------------------- vLLM specifics

_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})$")


def tool_date(value: Any) -> str | None:
    """``%Y%m%d-%H%M%S`` (vLLM's ``date``) as ISO 8601 without a zone (it is local time);
    other text as written."""
    if not isinstance(value, str):
        return None
    m = _DATE_RE.match(value.strip())
    if not m:
        return value
    y, mo, d, h, mi, s = m.groups()
    return f"{y}-{mo}-{d}T{h}:{mi}:{s}"


def _vllm_settings(rec: dict[str, Any], run: int, line: int, n: int) -> dict[str, Any]:
    # `endpoint_type` is written only by `vllm bench serve`; the older script lacks it.
    tool = "vllm bench serve" if "endpoint_type" in rec else "vllm benchmarks/benchmark_serving.py"
    version = rec.get("vllm_version", rec.get("version"))
    return run_settings(
        tool=tool, tool_version=None if version is None else str(version),
        base_url=rec.get("base_url"), model=rec.get("model_id"),
        request_rate=rec.get("request_rate"), max_concurrency=rec.get("max_concurrency"),
        date=tool_date(rec.get("date")), run=run, line=line, requests=n,
        backend=rec.get("backend"), label=rec.get("label"), tokenizer=rec.get("tokenizer_id"),
        num_prompts=rec.get("num_prompts"), burstiness=rec.get("burstiness"),
        duration_s=rec.get("duration"), completed=rec.get("completed"), failed=rec.get("failed"))


VLLM = ArrayFormat(
    what="vLLM benchmark result",
    arrays=VLLM_ARRAYS,
    required=VLLM_REQUIRED,
    settings=_vllm_settings,
    model=lambda rec: rec.get("model_id") if isinstance(rec.get("model_id"), str) else None,
    hint="save the run with `vllm bench serve --save-result --save-detailed` (per-request arrays)",
)


class VllmResultsReader(Reader):
    """vLLM ``bench serve`` result JSON (``--save-result --save-detailed``) into ``responses``."""

    name = "vllm_results"
    version = "1"
    description = ("vLLM bench serve results (--save-result --save-detailed JSON: per-request "
                   "ttfts/itls/latencies in s, input/output lens, errors)")
    tables = ("responses",)
    doc_url = "https://docs.vllm.ai/en/latest/cli/bench/serve.html"

    def sniff(self, path: Path) -> bool:
        return sniff_result_keys(path, must=("date", "backend", "model_id", "tokenizer_id",
                                             "num_prompts", "request_rate"))

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        return scan_array_format(paths, ctx, VLLM)


READER = VllmResultsReader()
