"""Characterization speed and memory: workscope.characterize against pandas + scipy, same run.

    .venv/bin/python bench/characterize.py [--rows 10000000]

Uses the Azure-LLM-shaped trace of bench/ingest.py (built and ingested once under
bench/.cache). Each pipeline runs in its own subprocess (peak RSS is its own) at a third of
the size and at full size. The reference computes the same metrics the requests analyses
report, the way a notebook would: pandas for the series and aggregates, scipy.stats for the
maximum-likelihood fits (on samples of the same size workscope fits), numpy for the rest.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _data  # noqa: E402

RUNNER = Path(__file__).resolve().parent / "_characterize_run.py"


def store_for(rows: int) -> Path:
    """A store holding the bench trace of ``rows`` rows (ingested once, cached)."""
    import workscope

    home = _data.CACHE / f"store_{rows}"
    workscope.open(home).ingest(_data.azure_llm_csv(rows), format="azure_llm", name="bench")
    return home


def run(pipeline: str, home: Path) -> dict[str, float]:
    p = subprocess.run([sys.executable, str(RUNNER), pipeline, str(home)], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{pipeline} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    sizes = [args.rows // 3, args.rows]
    res: dict[tuple[str, int], dict[str, float]] = {}
    for rows in sizes:
        home = store_for(rows)
        for pipe in ("workscope", "reference"):
            runs = [run(pipe, home) for _ in range(args.repeat)]
            best = min(runs, key=lambda r: r["wall_s"])
            res[(pipe, rows)] = best
            print(f"  {rows:>11,} {pipe:<10} {best['wall_s']:7.2f} s  peak RSS {best['rss_mb']:6.0f} MB  "
                  f"{best.get('analyses', '')}", file=sys.stderr)
    big, small = sizes[1], sizes[0]
    ws, ref = res[("workscope", big)], res[("reference", big)]
    print(f"\n{'pipeline':<10} {'rows':>12} {'wall s':>8} {'peak MB':>8}")
    for (pipe, rows), r in sorted(res.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"{pipe:<10} {rows:>12,} {r['wall_s']:>8.2f} {r['rss_mb']:>8.0f}")
    print(f"\nat {big:,} rows:")
    print(f"  workscope characterize      : {ws['wall_s']:.2f} s  (target < 10 s)")
    print(f"  reference / workscope time  : {ref['wall_s'] / ws['wall_s']:.2f}x  (target >= 5x)")
    print(f"  workscope peak RSS          : {ws['rss_mb']:.0f} MB; reference {ref['rss_mb']:.0f} MB")
    print(f"  workscope RSS growth, x3    : {ws['rss_mb'] / res[('workscope', small)]['rss_mb']:.2f}x (flat = ~1)")


if __name__ == "__main__":
    main()
