"""SGLang serving-benchmark results (``python -m sglang.bench_serving --output-file F
--output-details``).

What the tool writes (sgl-project/sglang ``python/sglang/bench_serving.py`` at commit
0033168f, end of ``benchmark()``): **JSON Lines, one object per run**, appended to the output
file (``open(..., "a")``), so one file collects a sweep of request rates. Each object holds
the run's arguments (``backend``, ``dataset_name``, ``request_rate``, ``max_concurrency``,
``sharegpt_output_len``, ``random_input_len``, ``random_output_len``,
``random_range_ratio``), its summary (``duration``, ``completed``, ``*_ms`` means and
percentiles, ``concurrency``, ``accept_length``) and, with ``--output-details``, parallel
per-request arrays (element ``i`` is request ``i``):

==================  =========================================  ==========================
source key          meaning                                    column (unit)
==================  =========================================  ==========================
``ttfts``           time to first token, s                     ``ttft_s``
``itls``            list of gaps between streamed chunks, s    ``itl_mean_s/p50/p99/max``
``input_lens``      prompt tokens (the dataset's count)        ``input_tokens``
``output_lens``     output tokens (0 for a failed request)     ``output_tokens``
``errors``          error text, ``""`` on success              ``error``, ``status``
==================  =========================================  ==========================

``generated_texts`` is not kept. SGLang writes **no per-request latency, send time, model or
date**, so ``latency_s``, ``sent_s``, ``model`` and the manifest's ``date`` stay null (the
run's mean latency is its summary, not a request's). ``output_lens`` is the server's
``completion_tokens`` where the stream reported usage, else the requested length.

``request_rate`` is ``Infinity`` (Python's json for an unlimited rate) in the file; it is
decoded as such and recorded as ``"inf"``. Status, placeholders and error handling are those
of :mod:`workscope.ingest.vllm_results` (SGLang adapted vLLM's benchmark): a non-empty error is
``error``; a request counted as a success that never streamed a token (``ttft`` 0, no gap) is
``incomplete``; the tool's zero defaults of a failed request become null. A run without
``--output-details`` has no per-request arrays: as the first run it is refused with a hint,
later it is one reject.

Source: https://github.com/sgl-project/sglang (Apache-2.0).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workscope.ingest._bench import run_settings
from workscope.ingest._bench_arrays import ArrayFormat, scan_array_format, sniff_result_keys
from workscope.ingest.reader import Reader, ScanContext, ScanResult

SGLANG_ARRAYS = {"ttft": "ttfts", "itl": "itls", "input_len": "input_lens",
                 "output_len": "output_lens", "error": "errors"}


def _model(rec: dict[str, Any]) -> str | None:
    # The commit read writes no model; later versions may, under either name.
    for key in ("model_id", "model"):
        if isinstance(rec.get(key), str):
            return rec[key]
    return None


def _settings(rec: dict[str, Any], run: int, line: int, n: int) -> dict[str, Any]:
    return run_settings(
        tool="sglang.bench_serving", tool_version=None, base_url=rec.get("base_url"),
        model=_model(rec), request_rate=rec.get("request_rate"),
        max_concurrency=rec.get("max_concurrency"), date=None, run=run, line=line, requests=n,
        backend=rec.get("backend"), dataset_name=rec.get("dataset_name"),
        random_input_len=rec.get("random_input_len"), random_output_len=rec.get("random_output_len"),
        random_range_ratio=rec.get("random_range_ratio"),
        sharegpt_output_len=rec.get("sharegpt_output_len"),
        duration_s=rec.get("duration"), completed=rec.get("completed"))


SGLANG = ArrayFormat(
    what="SGLang bench_serving result",
    arrays=SGLANG_ARRAYS,
    required=tuple(SGLANG_ARRAYS.values()),
    settings=_settings,
    model=_model,
    hint="run `python -m sglang.bench_serving --output-file F --output-details` (per-request arrays)",
    note="SGLang records no per-request send times: sent_s is null",
)


class SglangResultsReader(Reader):
    """SGLang ``bench_serving`` output JSONL (``--output-details``) into ``responses``."""

    name = "sglang_results"
    version = "1"
    description = ("SGLang bench_serving results (--output-file JSONL, one run per line, "
                   "--output-details per-request ttfts/itls in s, lens, errors)")
    tables = ("responses",)
    doc_url = "https://docs.sglang.ai/developer_guide/bench_serving.html"

    def sniff(self, path: Path) -> bool:
        return sniff_result_keys(path, must=("backend", "dataset_name", "request_rate",
                                             "max_concurrency", "random_range_ratio",
                                             "total_output_tokens_retokenized"))

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        return scan_array_format(paths, ctx, SGLANG)


READER = SglangResultsReader()
