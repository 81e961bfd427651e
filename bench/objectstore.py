"""A store in the object layout (what a store at a URL uses) against the local layout, same run.

    .venv/bin/python bench/objectstore.py [--rows 10000000]

On the Azure-LLM-shaped trace of bench/ingest.py (built once under bench/.cache) at a tenth
of --rows and at --rows, each in a fresh store and a subprocess of its own:

- ingest into the local layout (build in .staging, rename into place: the reference);
- ingest into the object layout on the same disk (build in a temporary folder, copy every
  file into the generation, write CURRENT.json last: what an upload to S3 does, without
  the network);
- a query over the trace (count, sum and p99 of the prompt tokens through DuckDB) in each.

Prints each time and the ratio object / local; both traces are compared row for row. The
cost measured is the layout's (the extra copy); a real object store adds its network's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _data

QUERY = "SELECT count(*) AS n, sum(input_tokens) AS s, quantile_cont(input_tokens, 0.99) AS p99 FROM requests"


def child(layout: str, home: str, src: str) -> None:
    """One leg, in this process: ingest, then query; prints a JSON line of times."""
    import workscope

    t0 = time.perf_counter()
    store = workscope.open(home, layout=layout)
    store.ingest(Path(src), format="azure_llm", name="bench")
    t1 = time.perf_counter()
    row = store.trace("bench").sql(QUERY).row(0, named=True)
    t2 = time.perf_counter()
    print(json.dumps({"ingest_s": t1 - t0, "query_s": t2 - t1, "row": row}, default=str))


def leg(layout: str, home: Path, src: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", layout, str(home), str(src)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--child", nargs=3, metavar=("LAYOUT", "HOME", "SRC"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    import workscope

    print(f"{'rows':>12} {'step':>7} {'local s':>9} {'object s':>9} {'object/local':>13}  same trace")
    for rows in (args.rows // 10, args.rows):
        src = _data.azure_llm_csv(rows)
        root = Path(tempfile.mkdtemp(prefix="ws-bench-obj-"))
        try:
            a = leg("local", root / "local", src)
            b = leg("object", root / "object", src)
            same = workscope.open(root / "local").trace("bench").read("requests").equals(
                workscope.open(root / "object").trace("bench").read("requests")) and a["row"] == b["row"]
            for step in ("ingest_s", "query_s"):
                print(f"{rows:>12,} {step[:-2]:>7} {a[step]:>9.2f} {b[step]:>9.2f} {b[step] / a[step]:>12.2f}x  "
                      f"{'yes' if same else 'NO'}")
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
