"""Replay export speed: workscope exporters against a json.dumps loop, same run.

    .venv/bin/python bench/replay.py [--rows 10000000]

Uses the ingested 10M-request Azure-LLM-shaped trace of bench/characterize.py (cached under
bench/.cache). Exports it to vLLM timed_trace JSONL and SGLang mooncake JSONL, and times a
reference that writes the same rows, one json.dumps per row, from the same Parquet. Prints
rows/s and the ratio (target: >= 2M rows/s).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _data  # noqa: E402
from characterize import store_for  # noqa: E402


def reference(parquet_files: list[Path], out: Path, ms: bool) -> int:
    """Rows written with a Python loop: the way a one-off converter does it."""
    import pyarrow.parquet as pq

    n = 0
    first = None
    with open(out, "w") as fh:
        for f in parquet_files:
            table = pq.read_table(f, columns=["arrival_s", "input_tokens", "output_tokens"])
            for t, i, o in zip(*(table.column(c).to_pylist() for c in table.column_names)):
                first = t if first is None else first
                ts = (t - first) * 1000.0 if ms else t - first
                fh.write(json.dumps({"timestamp": ts, "input_length": i, "output_length": o}) + "\n")
                n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    args = ap.parse_args()
    import workscope
    from workscope.replay.pipeline import export

    trace = workscope.open(store_for(args.rows)).trace("bench")
    out = _data.CACHE / "replay"
    out.mkdir(parents=True, exist_ok=True)
    rows = trace.manifest["tables"]["requests"]["rows_ok"]
    print(f"{'pipeline':<28} {'rows':>12} {'seconds':>8} {'M rows/s':>9}")
    results = {}
    for target, ms in (("vllm_timed", False), ("sglang_mooncake", True)):
        t0 = time.perf_counter()
        res, _ = export(trace, target, out / f"{target}.jsonl")
        ws = time.perf_counter() - t0
        t0 = time.perf_counter()
        n = reference(trace.files("requests"), out / f"{target}.ref.jsonl", ms)
        ref = time.perf_counter() - t0
        assert res.rows == n == rows
        results[target] = (ws, ref)
        print(f"{'workscope ' + target:<28} {rows:>12,} {ws:>8.2f} {rows / ws / 1e6:>9.2f}")
        print(f"{'json.dumps loop ' + target:<28} {rows:>12,} {ref:>8.2f} {rows / ref / 1e6:>9.2f}")
    print()
    for target, (ws, ref) in results.items():
        print(f"{target}: {rows / ws / 1e6:.2f} M rows/s (target >= 2), {ref / ws:.1f}x the json.dumps loop")


if __name__ == "__main__":
    main()
