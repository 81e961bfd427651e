"""Writes the tiny CloudPerfTrace-layout fixture (run once; the Parquet files are committed).

Synthetic values in the released layout (see FIXTURE.md): the 11 task-ID partitions, 2 runs
each, a ``workload`` column, nested (T, 1+k) matrices with a Unix timestamp in column 0, and
no run id (as released).
"""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

APPS = ["4", "5", "6", "7", "9", "10", "11", "13", "14", "15", "16"]
WIDTH = {"tr_self": 3, "tr_oth": 3, "lin_self": 2, "lin_oth": 2, "td_self": 2, "td_oth": 2}
T0 = 1_700_000_000


def main() -> None:
    rng = np.random.default_rng(7)
    here = Path(__file__).parent
    for a, app in enumerate(APPS):
        rows: dict[str, list] = {"perf_ori": [], "workload": [], **{c: [] for c in WIDTH}}
        for r in range(2):
            t_len = 5 + (a + r) % 4  # 5..8 steps: some runs shorter than the task window
            start = T0 + 1000 * a + 100 * r
            ts = start + np.arange(t_len, dtype=np.float64)
            mats = {}
            for c, k in WIDTH.items():
                vals = np.round(rng.uniform(0, 10, size=(t_len, k)), 3)
                mats[c] = np.column_stack([ts, vals])
            # planted: more co-runner load (tr_oth_1) -> lower performance ratio
            perf = float(np.clip(1.0 - 0.05 * mats["tr_oth"][:, 1].mean(), 0.05, 1.0))
            rows["workload"].append(float(1 + r))
            rows["perf_ori"].append(round(perf, 4))
            for c in WIDTH:
                rows[c].append(mats[c].tolist())
        table = pa.table({
            "perf_ori": pa.array(rows["perf_ori"], pa.float64()),
            "workload": pa.array(rows["workload"], pa.float64()),
            **{c: pa.array(rows[c], pa.list_(pa.list_(pa.float64()))) for c in WIDTH},
        })
        out = here / f"tasks={app}"
        out.mkdir(exist_ok=True)
        pq.write_table(table, out / "part-0.parquet")


if __name__ == "__main__":
    main()
