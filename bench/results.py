"""AIPerf results ingest (issue 11): workscope's aiperf_results reader against hand-written polars.

    .venv/bin/python bench/results.py [--rows 1000000] [--repeat 1] [--pandas-rows 100000]

Builds an AIPerf artifact folder (profile_export.jsonl + profile_export_aiperf.json) of
``--rows`` requests by tiling the real aiperf 0.13.0 fixtures (tests/data/bench_results/aiperf:
``replay/``, 20 successful requests, and, for a seeded 5% of the tiles, ``timeouts/``, where 11
of the 20 failed with an ``error`` object and ``error_isl``). Every record keeps its fields,
units and float text exactly as AIPerf wrote them; only the metadata changes: new seeded
request / conversation ids, a running ``session_num``, and the four epoch-ns times shifted by
one tile period per tile, so times rise from tile to tile (inside a tile the records stay in
AIPerf's completion order). Cached under bench/.cache.

Each pipeline runs in its own subprocess (bench/_results_run.py), so its peak RSS is its own:

* workscope   - ``workscope.open(tmp).ingest(folder, format="aiperf_results")``: parse,
                validate, rejects, Parquet, manifest (the responses table, ITL percentiles too);
* polars      - hand-written: ``scan_ndjson`` with an explicit schema of the fields the
                responses table needs (request id, credit / start ns, TTFT, ITL, latency, ISL,
                OSL, error), ms -> s, ``sink_parquet`` zstd;
* polars_gaps - the same plus the ITL p50 / p99 / max over ``inter_chunk_latency`` that
                workscope also writes (the like-for-like reference);
* pandas      - ``pd.read_json(lines=True)`` + ``json_normalize``, at ``--pandas-rows`` only
                (with workscope and polars rerun at that size for its ratios).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / ".cache"
FIXTURES = ROOT.parent / "tests" / "data" / "bench_results" / "aiperf"
RUNNER = ROOT / "_results_run.py"
NS_FIELDS = ("credit_issued_ns", "request_start_ns", "request_ack_ns", "request_end_ns")
PREFIX = '{"metadata":'


def _template(name: str) -> tuple[list[tuple[dict, str]], int, int]:
    """One fixture run: (metadata, the rest of the line verbatim) per record, its first credit
    and its last request end (epoch ns)."""
    recs = []
    dec = json.JSONDecoder()
    for line in (FIXTURES / name / "profile_export.jsonl").read_text().splitlines():
        assert line.startswith(PREFIX)
        md, end = dec.raw_decode(line, len(PREFIX))
        recs.append((md, line[end:]))
    first = min(md["credit_issued_ns"] for md, _ in recs)
    last = max(md[f] for md, _ in recs for f in NS_FIELDS if md.get(f) is not None)
    return recs, first, last


def aiperf_artifacts(rows: int, seed: int = 11, error_tiles: float = 0.05) -> Path:
    """An AIPerf artifact folder of ``rows`` records, built once (seeded, deterministic)."""
    out = CACHE / f"aiperf_results_{rows}"
    if (out / "profile_export_aiperf.json").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    ok, ok_first, ok_last = _template("replay")
    bad, bad_first, bad_last = _template("timeouts")
    period = max(ok_last - ok_first, bad_last - bad_first) + 250_000_000  # + 0.25 s between tiles
    rng = np.random.default_rng(seed)
    ids = rng.bytes(32 * rows)
    start = ok_first
    written = errors = 0
    tile = 0
    tmp = out / "profile_export.jsonl.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        while written < rows:
            recs, first = (bad, bad_first) if rng.random() < error_tiles else (ok, ok_first)
            shift = start + tile * period - first
            buf = []
            for md, rest in recs[: rows - written]:
                k = written
                req = str(uuid.UUID(bytes=ids[32 * k: 32 * k + 16], version=4))
                conv = str(uuid.UUID(bytes=ids[32 * k + 16: 32 * k + 32], version=4))
                m = dict(md)
                m["session_num"] = tile * len(recs) + md["session_num"]
                m["x_request_id"] = req
                m["x_correlation_id"] = m["root_correlation_id"] = f"fixed-schedule-{conv}"
                m["conversation_id"] = conv
                for f in NS_FIELDS:
                    if m.get(f) is not None:
                        m[f] = m[f] + shift
                buf.append(PREFIX + json.dumps(m, separators=(",", ":")) + rest + "\n")
                errors += '"error":{' in rest
                written += 1
            fh.write("".join(buf))
            tile += 1
    tmp.rename(out / "profile_export.jsonl")
    summary = json.loads((FIXTURES / "replay" / "profile_export_aiperf.json").read_text())
    summary["request_count"]["avg"] = float(rows)
    (out / "profile_export_aiperf.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"built {out} ({written:,} records, {errors:,} failed)", file=sys.stderr)
    return out


def run(pipeline: str, src: Path) -> dict[str, float]:
    work = CACHE / "work_results"
    p = subprocess.run([sys.executable, str(RUNNER), pipeline, str(src), str(work)],
                       capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise SystemExit(f"{pipeline} failed:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def measure(pipes: list[str], rows: int, repeat: int, results: dict) -> None:
    src = aiperf_artifacts(rows)
    mb = (src / "profile_export.jsonl").stat().st_size / 1e6
    print(f"input: {rows:,} records, {mb:,.0f} MB ({src.name}/profile_export.jsonl)", file=sys.stderr)
    for pipe in pipes:
        runs = [run(pipe, src) for _ in range(repeat)]
        best = min(runs, key=lambda r: r["wall_s"])
        best["rss_mb"] = max(r["rss_mb"] for r in runs)
        results[(pipe, rows)] = best
        print(f"  {pipe:<12} {best['wall_s']:8.2f} s  peak RSS {best['rss_mb']:7.0f} MB  "
              f"rows {best['rows']:,}", file=sys.stderr)


def ratios(results: dict, rows: int) -> None:
    ws = results[("workscope", rows)]
    print(f"\nratios at {rows:,} rows:")
    for ref in ("polars", "polars_gaps"):
        if (ref, rows) in results:
            r = results[(ref, rows)]
            print(f"  workscope / {ref:<11} time {ws['wall_s'] / r['wall_s']:6.2f}x   "
                  f"peak RSS {ws['rss_mb'] / r['rss_mb']:6.2f}x")
    if ("pandas", rows) in results:
        r = results[("pandas", rows)]
        print(f"  pandas / workscope        time {r['wall_s'] / ws['wall_s']:6.2f}x   "
              f"peak RSS {r['rss_mb'] / ws['rss_mb']:6.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=1, help="runs per pipeline; the fastest counts")
    ap.add_argument("--pandas-rows", type=int, default=100_000,
                    help="size for the pandas comparison (0: skip pandas)")
    args = ap.parse_args()
    results: dict[tuple[str, int], dict[str, float]] = {}
    sizes = [args.rows]
    if args.pandas_rows:
        measure(["workscope", "polars", "polars_gaps", "pandas"], args.pandas_rows, args.repeat, results)
        sizes = [args.pandas_rows, args.rows] if args.pandas_rows != args.rows else sizes
    if args.rows != args.pandas_rows or not args.pandas_rows:
        measure(["workscope", "polars", "polars_gaps"], args.rows, args.repeat, results)

    print(f"\n{'pipeline':<12} {'rows':>12} {'wall s':>8} {'peak MB':>8}")
    for (pipe, rows), r in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"{pipe:<12} {rows:>12,} {r['wall_s']:>8.2f} {r['rss_mb']:>8.0f}")
    for rows in sizes:
        ratios(results, rows)


if __name__ == "__main__":
    main()
