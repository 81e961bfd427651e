"""Rebuild this slice from the original GenTD26 archives.

    python tests/data/alibaba_genai_2026_pods/make_slice.py <cluster-trace-v2026-GenAI dir>

Keeps, verbatim and in the original order, the rows of six pods (PODS) whose
``timestamp_anon`` lies in the first four hours of the trace (< 1662858720 + 14400) from
the six per-pod metric archives the pod-latency task reads. Each archive is rebuilt with
the original member name and header.
"""

from __future__ import annotations

import csv
import io
import sys
import tarfile
from pathlib import Path

PODS = ("96c64ba31f81010967b49666a3a0990c", "777fe76b24e39e6c7e82c5a8b4a4a278",
        "c602ea5b5d53cff36e7b1187097ad00f", "fd2e6a49d33e73344135073433648309",
        "f454d558b9ee961a3f617cfd5aa202eb", "2a879423614836f63138bd4162830d8b")
T_END = 1662858720.0 + 4 * 3600
ARCHIVES = ("pod_gpu_duty_cycle_anon", "pod_gpu_memory_used_bytes_anon", "pod_memory_util_anon",
            "qps", "queue_rt_raw_anon", "pipeline_inference_data_anon")


def main(src: Path, dst: Path) -> None:
    for name in ARCHIVES:
        with tarfile.open(src / f"{name}.tar.gz") as tf:
            member = next(m for m in tf.getmembers() if m.isfile() and not Path(m.name).name.startswith("._"))
            lines = tf.extractfile(member).read().decode().splitlines(keepends=True)
        header = next(csv.reader([lines[0]]))
        ip, ts = header.index("container_ip"), header.index("timestamp_anon")
        keep = [lines[0]]
        for line in lines[1:]:
            row = next(csv.reader([line]))
            if row[ip] in PODS and float(row[ts]) < T_END:
                keep.append(line)
        data = "".join(keep).encode()
        info = tarfile.TarInfo(member.name)
        info.size, info.mtime = len(data), 0
        with tarfile.open(dst / f"{name}.tar.gz", "w:gz") as out:
            out.addfile(info, io.BytesIO(data))
        print(f"{name}: {len(keep) - 1} rows")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).resolve().parent)
