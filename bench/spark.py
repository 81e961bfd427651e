"""Characterization on Spark (local[2]) against DuckDB, same run, same store.

    .venv/bin/python bench/spark.py [--rows 10000000] [--master local[2]]

Uses the Azure-LLM-shaped trace of bench/ingest.py (built and ingested once under
bench/.cache) at a tenth of --rows and at --rows. Each engine runs ``characterize`` (every
analysis that applies: arrivals, fits, token lengths) in its own subprocess; Spark's time
includes starting its session, reported apart. Results are compared (the parity the tests
assert) and the ratio Spark / DuckDB printed per size, with how Spark's time grows from the
small size to the large one. On two cores Spark is expected to be slower: what it buys is a
cluster, not speed here.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _data  # noqa: E402


def store_for(rows: int) -> Path:
    """A store holding the bench trace of ``rows`` rows (ingested once, cached)."""
    import workscope

    home = _data.CACHE / f"store_{rows}"
    workscope.open(home).ingest(_data.azure_llm_csv(rows), format="azure_llm", name="bench")
    return home


def child(engine: str, home: str, master: str) -> None:
    """Run characterize on one engine and print one JSON line: times and summaries."""
    import workscope
    from workscope.analysis import characterize

    trace = workscope.open(home).trace("bench")
    t0 = time.perf_counter()
    eng = None
    if engine == "spark":
        from workscope.spark import SparkEngine

        eng = SparkEngine(master)
    start_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    prof = characterize(trace, engine=eng)
    wall = time.perf_counter() - t1
    summaries = {k: json.loads(json.dumps(r.summary, default=str)) for k, r in prof.results.items()}
    print(json.dumps({"wall_s": wall, "start_s": start_s, "analyses": len(prof.results), "summaries": summaries}))


def run(engine: str, home: Path, master: str) -> dict:
    p = subprocess.run([sys.executable, __file__, "--child", engine, str(home), "--master", master],
                       check=False, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{engine} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def differences(a: object, b: object, where: str = "") -> list[str]:
    """Where two summaries differ beyond 1e-9 relative (floats) or at all (the rest)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in differences(a.get(k), b.get(k), f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{where}[{i}]")]
    if isinstance(a, float) and isinstance(b, float):
        same = (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
        return [] if same else [f"{where}: {a!r} != {b!r}"]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--child", nargs=2, metavar=("ENGINE", "HOME"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.master)
        return
    sizes = [args.rows // 10, args.rows]
    res: dict[tuple[str, int], dict] = {}
    for rows in sizes:
        home = store_for(rows)
        for engine in ("duckdb", "spark"):
            r = res[(engine, rows)] = run(engine, home, args.master)
            print(f"  {rows:>11,} {engine:<7} {r['wall_s']:8.2f} s (+{r['start_s']:.1f} s start), "
                  f"{r['analyses']} analyses", file=sys.stderr)
    print(f"\n{'rows':>12} {'duckdb s':>9} {'spark s':>9} {'spark/duckdb':>13} {'parity':>8}")
    for rows in sizes:
        d, s = res[("duckdb", rows)], res[("spark", rows)]
        diff = differences(d["summaries"], s["summaries"])
        print(f"{rows:>12,} {d['wall_s']:9.2f} {s['wall_s']:9.2f} {s['wall_s'] / d['wall_s']:12.2f}x "
              f"{'exact' if not diff else str(len(diff)) + ' diffs':>8}")
        by: dict[str, int] = {}
        for line in diff:
            by[line.split(".")[1]] = by.get(line.split(".")[1], 0) + 1
        for name, n in by.items():
            print(f"    {name}: {n} figures differ (fits on each engine's own seeded sample of "
                  f"{'the values' if rows > 200_000 else 'all values'}; every other figure is exact)")
    small, big = sizes
    print(f"\nSpark {args.master}: {res[('spark', big)]['wall_s'] / res[('spark', small)]['wall_s']:.2f}x the time "
          f"for {big // small}x the rows; DuckDB: "
          f"{res[('duckdb', big)]['wall_s'] / res[('duckdb', small)]['wall_s']:.2f}x")


if __name__ == "__main__":
    main()
