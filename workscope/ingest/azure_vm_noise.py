"""Azure VM Noise Dataset 2024 (TUNA, EuroSys'25): repeated benchmark results on Azure VMs.

Layout (Hive-style partitions; the keys live in the directory names, which contain ``:`` and
spaces, and the last key in the file name)::

    test_suite=<suite>/test_name=<name>/vm_lifespan=<long|short>/vm_region=<eastus|westus2>/
        vm_sku=<B8ms|D8s_v5>/unit=<unit>.csv

Every file has the header ``value,runtime,starttime,VM_id``: the measured benchmark value (in
the unit named by the file), the benchmark's runtime in seconds, its start time
``YYYY-MM-DD HH:MM:SS.fff`` (fraction dropped when zero; no zone, taken as UTC and flagged in
the manifest) and a VM number that is unique only within one VM *dimension* (lifespan x
region x SKU, per the dataset's doc). The same number names the same VM across benchmarks of
that dimension (long-lived VMs 0..2 ran every benchmark for the whole study; each short-lived
VM ran the whole suite once), so:

- ``entity_id`` = ``<vm_lifespan>/<vm_region>/<vm_sku>/<VM_id>`` (e.g. ``long/eastus/B8ms/0``),
- ``metric`` = ``<test_suite>/<test_name>/<unit>`` (one test may report several units),
- ``unit`` = the unit from the file name, ``value`` = the measured value,
- ``t_s`` = starttime - origin, the origin being the earliest starttime of all files given,
- ``attrs`` = the partition keys by name, ``vm_id`` and ``runtime_s``.

Partition keys are taken from the whole path of each file, so a single file, a partition
directory or the dataset root can be ingested. Negative runtimes are rejected.

Source: Azure/AzurePublicDataset, ``AzureVMNoiseDataset2024.md`` and ``data/vm-noise-data``
(CC-BY-4.0). Cite Freischuetz et al., "TUNA: Tuning Unstable and Noisy Cloud Applications",
EuroSys 2025.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from workscope.errors import SourceError
from workscope.ingest.files import first_line, head_text, iter_files, plain_file, require_rows
from workscope.ingest.parse import (
    Parsed,
    attrs_json,
    build,
    check_header,
    parse_datetime,
    parse_float,
    parse_text,
    raw_row,
    scan_text_csv,
    src,
)
from workscope.ingest.reader import Reader, ScanContext, ScanResult, TablePart, flat, one_each
from workscope.ingest.timefmt import earliest_ns, epoch_ns, origin_meta, seconds_since

HEADER = ["value", "runtime", "starttime", "VM_id"]
KEYS = ("test_suite", "test_name", "vm_lifespan", "vm_region", "vm_sku", "unit")
DIMENSION = ("vm_lifespan", "vm_region", "vm_sku")
TIME_FMT = "%Y-%m-%d %H:%M:%S%.f"


def partition_keys(path: Path) -> dict[str, str]:
    """The ``key=value`` pairs of a file's path (directories, then the file name's stem).

    Only components from the first known key on count, so that an unrelated ``a=b`` in a
    parent directory of the dataset does not become a partition key.
    """
    keys: dict[str, str] = {}
    parts = list(path.parts[:-1])
    starts = [i for i, p in enumerate(parts) if p.partition("=")[0] in KEYS and "=" in p]
    parts = parts[starts[0]:] if starts else []
    name = path.name
    for suffix in (".gz", ".csv"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    for part in [*parts, name]:
        if "=" in part:
            key, _, value = part.partition("=")
            keys[key] = value
    return keys


class AzureVMNoiseReader(Reader):
    """Azure VM Noise 2024 benchmark results (Hive-partitioned CSVs) into ``usage``."""

    name = "azure_vm_noise"
    version = "1"
    description = "Azure VM Noise 2024 (TUNA): benchmark value per VM and run, Hive-partitioned"
    tables = ("usage",)
    doc_url = "https://github.com/Azure/AzurePublicDataset/blob/master/AzureVMNoiseDataset2024.md"

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            if not (any(path.name.startswith(k + "=") for k in KEYS)
                    or any(p.name.startswith("test_suite=") for p in path.iterdir())):
                return False
            first = next(iter(sorted(path.rglob("unit=*.csv*"))), None)
            return first is not None and self.sniff(first)
        if not path.name.startswith("unit="):
            return False
        head = head_text(path, 4096).lstrip("\ufeff").splitlines()
        return bool(head) and [c.strip() for c in head[0].split(",")] == HEADER

    split = True
    shares_origin = True
    meta_merged = ("partitions",)

    def select(self, paths: Sequence[Path], options: dict[str, Any] | None = None
               ) -> tuple[list[list[Path]], list[Path]]:
        return one_each([f for f in iter_files(paths) if f.name.lower().endswith((".csv", ".csv.gz"))]), []

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        files = flat(self.select(paths)[0])
        if not files:
            raise SourceError(paths[0], "no unit=<unit>.csv files found",
                              hint="pass the vm-noise-data directory or a partition inside it")
        staged = []
        for f in files:
            keys = partition_keys(f.resolve())
            missing = [k for k in KEYS if not keys.get(k)]
            if missing:
                raise SourceError(
                    f, f"path lacks the partition key(s) {', '.join(missing)}",
                    hint="keep the Hive layout test_suite=/test_name=/vm_lifespan=/vm_region=/"
                         "vm_sku=/unit=<unit>.csv from the dataset",
                )
            plain = plain_file(f, ctx)
            header = [c.strip() for c in first_line(plain, f).split(",")]
            check_header(header, HEADER, f, what="Azure VM Noise 2024 file")
            require_rows(plain, str(f))
            lf, names = scan_text_csv(plain, str(f))
            staged.append((f, keys, lf, names))

        start = parse_datetime(src("starttime"), "starttime", TIME_FMT, required=True)
        # Files are ordered by VM, not by time, so the head of a file does not give the origin:
        # one streaming pass over the starttime column of every file does.
        if "origin_ns" in ctx.shared:  # one file of many: the trace's origin, from all of them
            origin_ns = ctx.shared["origin_ns"]
        else:
            mins = pl.concat([lf.select(earliest_ns(epoch_ns(start.value)).alias("t"))
                              for _, _, lf, _ in staged])
            origin_ns = mins.select(earliest_ns(pl.col("t"))).collect(engine="streaming").item()

        parts = []
        for f, keys, lf, names in staged:
            vm = parse_text(src("VM_id"), "VM_id", required=True)
            runtime = parse_float(src("runtime"), "runtime")
            bad_runtime = pl.when(runtime.value < 0).then(pl.lit("runtime is negative"))
            dim = "/".join(keys[k] for k in DIMENSION)
            fields = {
                "t_s": start.map(lambda v: seconds_since(v, origin_ns or 0)),
                "entity_id": vm.map(lambda v: pl.concat_str([pl.lit(dim + "/"), v])),
                "metric": pl.lit(f"{keys['test_suite']}/{keys['test_name']}/{keys['unit']}"),
                "value": parse_float(src("value"), "value", required=True),
                "unit": pl.lit(keys["unit"]),
                "attrs": Parsed(attrs_json({
                    **{k: pl.lit(v) for k, v in keys.items()},
                    "vm_id": vm.value,
                    "runtime_s": runtime.value,
                }), runtime.reason),
            }
            parts.append(TablePart(build(lf, fields, [bad_runtime]), raw_row(names), str(f)))

        meta = origin_meta(
            origin_ns, assumed_utc=True, resolution_s=1e-3,
            note="starttime carries no zone and is taken as UTC",
        )
        meta["partitions"] = len(files)
        return ScanResult({"usage": parts}, files, meta)


READER = AzureVMNoiseReader()
