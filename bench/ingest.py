"""Ingest speed and memory: workscope against pandas and hand-written polars, same run.

    .venv/bin/python bench/ingest.py [--rows 10000000] [--repeat 2]

Builds an Azure-LLM-2023-shaped CSV by tiling the real conv hour (seeded, cached under
bench/.cache), then runs each pipeline in its own subprocess (so peak RSS is its own) on the
full input and on a third of it, and prints wall time, peak RSS and the ratios. The polars
and pandas pipelines write arrival seconds since the first request plus the two token counts
in zstd Parquet; polars_canonical writes what workscope writes, the whole canonical requests
table (its 13 columns, absent ones null). workscope also validates every row, keeps rejects
with their reasons, hashes the source and writes the manifest.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _data  # noqa: E402

RUNNER = Path(__file__).resolve().parent / "_run.py"
PIPELINES = ("workscope", "polars", "polars_canonical", "pandas")


def run(pipeline: str, src: Path, work: Path) -> dict[str, float]:
    p = subprocess.run([sys.executable, str(RUNNER), pipeline, str(src), str(work)],
                       capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise SystemExit(f"{pipeline} failed:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=2, help="runs per pipeline; the fastest counts")
    ap.add_argument("--skip-pandas", action="store_true")
    args = ap.parse_args()
    sizes = [args.rows // 3, args.rows]
    work = _data.CACHE / "work"
    results: dict[tuple[str, int], dict[str, float]] = {}
    for rows in sizes:
        src = _data.azure_llm_csv(rows)
        mb = src.stat().st_size / 1e6
        print(f"input: {rows:,} rows, {mb:,.0f} MB ({src.name})", file=sys.stderr)
        for pipe in PIPELINES:
            if pipe == "pandas" and args.skip_pandas:
                continue
            runs = [run(pipe, src, work) for _ in range(args.repeat)]
            best = min(runs, key=lambda r: r["wall_s"])
            best["rss_mb"] = max(r["rss_mb"] for r in runs)
            results[(pipe, rows)] = best
            print(f"  {pipe:<17} {best['wall_s']:7.2f} s  peak RSS {best['rss_mb']:7.0f} MB  "
                  f"rows {best['rows']:,}", file=sys.stderr)

    big, small = sizes[1], sizes[0]
    ws, pol = results[("workscope", big)], results[("polars", big)]
    print(f"\n{'pipeline':<17} {'rows':>12} {'wall s':>8} {'peak MB':>8}")
    for (pipe, rows), r in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"{pipe:<17} {rows:>12,} {r['wall_s']:>8.2f} {r['rss_mb']:>8.0f}")
    print("\nratios at", f"{big:,}", "rows:")
    print(f"  workscope / hand-written polars time : {ws['wall_s'] / pol['wall_s']:.2f}x  (target <= 1.2x)")
    canon = results[("polars_canonical", big)]
    print(f"  workscope / polars writing the same canonical table : {ws['wall_s'] / canon['wall_s']:.2f}x")
    if ("pandas", big) in results:
        pd_ = results[("pandas", big)]
        print(f"  pandas / workscope time              : {pd_['wall_s'] / ws['wall_s']:.2f}x  (target >= 2.5x)")
        print(f"  pandas / workscope peak memory       : {pd_['rss_mb'] / ws['rss_mb']:.2f}x")
    print(f"  workscope peak RSS                   : {ws['rss_mb']:.0f} MB  (target < 1024 MB)")
    growth = ws["rss_mb"] / results[("workscope", small)]["rss_mb"]
    print(f"  workscope RSS growth, input x3       : {growth:.2f}x  (target < 1.5x)")


if __name__ == "__main__":
    main()
