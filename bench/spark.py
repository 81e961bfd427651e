"""Ingest and characterization on Spark (local[2]) against this machine's pipeline, same run.

    .venv/bin/python bench/spark.py [--rows 10000000] [--master local[2]] [--shards 8]
                                    [--days 14] [--functions 2000]

Uses the Azure-LLM-shaped trace of bench/ingest.py (built once under bench/.cache) at a
tenth of --rows and at --rows.

- Ingest: the CSV cut into --shards files (each with the header; the reader reads files one
  by one, so Spark runs one task per file) is ingested into a fresh store by the local
  pipeline and by ``ingest --engine spark``; the two traces are compared row for row.
- Ingest of Azure Functions 2019 (bench/_data.py: --days days of --functions functions, the
  three files of a day joined): one Spark task per day, against the local pipeline.
- Characterize: each engine runs ``characterize`` (every analysis that applies: arrivals,
  fits, token lengths) on the same store; results are compared (the parity the tests assert).

Each run is its own subprocess; Spark's time includes starting its session, reported apart.
The ratio Spark / local is printed per size, with how each time grows from the small size to
the large one. On two cores Spark is expected to be slower: what it buys is a cluster, not
speed here.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
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


def shards_for(rows: int, shards: int) -> Path:
    """The bench CSV of ``rows`` rows cut into ``shards`` files of whole lines (cached)."""
    out = _data.CACHE / f"shards_{rows}_{shards}"
    if out.is_dir():
        return out
    src = _data.azure_llm_csv(rows)
    tmp = out.with_suffix(".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    per = -(-rows // shards)
    with open(src, "rb") as fh:
        header = fh.readline()
        for i in range(shards):
            with open(tmp / f"AzureLLMInferenceTrace_conv_{i:03d}.csv", "wb") as part:
                part.write(header)
                for _ in range(per):
                    line = fh.readline()
                    if not line:
                        break
                    part.write(line)
    tmp.rename(out)
    return out


def started(engine: str, master: str) -> tuple[object, float]:
    """The engine to pass (None: this machine's pipeline) and the seconds it took to start."""
    t0 = time.perf_counter()
    eng = None
    if engine == "spark":
        from workscope.spark import SparkEngine

        eng = SparkEngine(master)
    return eng, time.perf_counter() - t0


def ingest_child(engine: str, src: str, master: str, fmt: str) -> None:
    """Ingest ``src`` (format ``fmt``) into a fresh store on one engine; print one JSON line:
    times, rows, where."""
    import tempfile

    import workscope

    home = Path(tempfile.mkdtemp(prefix=f"bench-ingest-{engine}-", dir=_data.CACHE))
    eng, start_s = started(engine, master)
    t1 = time.perf_counter()
    res = workscope.open(home).ingest(src, format=fmt, name="bench", engine=eng)
    wall = time.perf_counter() - t1
    print(json.dumps({"wall_s": wall, "start_s": start_s, "home": str(home),
                      "rows": sum(t["rows_ok"] for t in res.manifest["tables"].values())}))


def same_trace(a: str, b: str) -> bool:
    """Whether two stores' bench traces hold the same rows in the same order: a streaming
    hash of each row with its position, summed (neither trace is loaded whole)."""
    import polars as pl

    import workscope

    def digest(home: str) -> list[int]:
        trace = workscope.open(home).trace("bench")
        return [trace.scan(t).with_row_index("_position").select(pl.struct(pl.all()).hash(seed=0).sum())
                .collect(engine="streaming").item() for t in trace.tables]

    return digest(a) == digest(b)


def child(engine: str, home: str, master: str) -> None:
    """Run characterize on one engine and print one JSON line: times and summaries."""
    import workscope
    from workscope.analysis import characterize

    trace = workscope.open(home).trace("bench")
    eng, start_s = started(engine, master)
    t1 = time.perf_counter()
    prof = characterize(trace, engine=eng)
    wall = time.perf_counter() - t1
    summaries = {k: json.loads(json.dumps(r.summary, default=str)) for k, r in prof.results.items()}
    print(json.dumps({"wall_s": wall, "start_s": start_s, "analyses": len(prof.results), "summaries": summaries}))


def run(engine: str, home: Path, master: str, flag: str = "--child", fmt: str = "azure_llm") -> dict:
    p = subprocess.run([sys.executable, __file__, flag, engine, str(home), "--master", master,
                        "--format", fmt], check=False, capture_output=True, text=True)
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


def functions_ingest(args: argparse.Namespace) -> None:
    """Azure Functions 2019 days, local pipeline against one Spark task per day."""
    src = _data.azure_functions_days(args.days, args.functions)
    got = {}
    for engine in ("local", "spark"):
        r = got[engine] = run(engine, src, args.master, "--ingest-child", "azure_functions_2019")
        print(f"  ingest functions {engine:<7} {r['wall_s']:8.2f} s (+{r['start_s']:.1f} s start)",
              file=sys.stderr)
    lo, sp = got["local"], got["spark"]
    same = lo["rows"] == sp["rows"] and same_trace(lo["home"], sp["home"])
    print(f"ingest of Azure Functions 2019, {args.days} days x {args.functions:,} functions "
          f"(3 files a day, one Spark task per day)")
    print(f"{'rows':>12} {'local s':>9} {'spark s':>9} {'spark/local':>12} {'same trace':>11}")
    print(f"{lo['rows']:>12,} {lo['wall_s']:9.2f} {sp['wall_s']:9.2f} {sp['wall_s'] / lo['wall_s']:11.2f}x "
          f"{'yes' if same else 'NO':>11}\n")
    for r in (lo, sp):
        shutil.rmtree(r["home"], ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--functions", type=int, default=2000)
    ap.add_argument("--format", default="azure_llm", help=argparse.SUPPRESS)
    ap.add_argument("--child", nargs=2, metavar=("ENGINE", "HOME"), help=argparse.SUPPRESS)
    ap.add_argument("--ingest-child", nargs=2, metavar=("ENGINE", "SRC"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.master)
        return
    if args.ingest_child:
        ingest_child(args.ingest_child[0], args.ingest_child[1], args.master, args.format)
        return
    sizes = [args.rows // 10, args.rows]
    ing: dict[tuple[str, int], dict] = {}
    for rows in sizes:
        src = shards_for(rows, args.shards)
        for engine in ("local", "spark"):
            r = ing[(engine, rows)] = run(engine, src, args.master, "--ingest-child")
            print(f"  ingest {rows:>11,} {engine:<7} {r['wall_s']:8.2f} s (+{r['start_s']:.1f} s start)",
                  file=sys.stderr)
    print(f"\ningest of {args.shards} CSV files (one Spark task per file)")
    print(f"{'rows':>12} {'local s':>9} {'spark s':>9} {'spark/local':>12} {'same trace':>11}")
    for rows in sizes:
        lo, sp = ing[("local", rows)], ing[("spark", rows)]
        same = lo["rows"] == sp["rows"] == rows and same_trace(lo["home"], sp["home"])
        print(f"{rows:>12,} {lo['wall_s']:9.2f} {sp['wall_s']:9.2f} {sp['wall_s'] / lo['wall_s']:11.2f}x "
              f"{'yes' if same else 'NO':>11}")
        for r in (lo, sp):
            shutil.rmtree(r["home"], ignore_errors=True)
    small, big = sizes
    print(f"Spark {args.master}: {ing[('spark', big)]['wall_s'] / ing[('spark', small)]['wall_s']:.2f}x the "
          f"time for {big // small}x the rows; local: "
          f"{ing[('local', big)]['wall_s'] / ing[('local', small)]['wall_s']:.2f}x\n")
    functions_ingest(args)
    res: dict[tuple[str, int], dict] = {}
    for rows in sizes:
        home = store_for(rows)
        for engine in ("duckdb", "spark"):
            r = res[(engine, rows)] = run(engine, home, args.master)
            print(f"  {rows:>11,} {engine:<7} {r['wall_s']:8.2f} s (+{r['start_s']:.1f} s start), "
                  f"{r['analyses']} analyses", file=sys.stderr)
    print(f"\ncharacterize\n{'rows':>12} {'duckdb s':>9} {'spark s':>9} {'spark/duckdb':>13} {'parity':>8}")
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
