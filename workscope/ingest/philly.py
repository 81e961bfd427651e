"""Microsoft Philly traces (msr-fiddle/philly-traces): DNN training jobs on a GPU cluster.

Files: ``trace-data.tar.gz`` holding ``trace-data/`` with five files **without extension**:
``cluster_job_log``, ``cluster_gpu_util``, ``cluster_cpu_util``, ``cluster_mem_util`` and
``cluster_machine_list``. The archive, the folder, or single files can be passed. A file's
role is told by its name, else by its content (a JSON array, or the header's columns).

``cluster_job_log`` -> ``jobs``: **one JSON document**, a top-level array of job objects
(not JSON Lines). It is read in one go with ``polars.read_json`` and an explicit schema, as
the publisher's notebook does: the document is modest in size in the real release (117,325
jobs), unlike the utilization files, which are streamed. If the document parses as JSON but
some job does not fit the schema, each job is decoded on its own and only the misfits are
rejected. Keys: ``status`` (Pass / Killed / Failed), ``vc`` (hashed virtual cluster), ``jobid``,
``user`` (hashed), ``submitted_time`` (``YYYY-MM-DD HH:MM:SS``, no zone) and ``attempts``
(list of {``start_time``, ``end_time``, ``detail``: list of {``ip``, ``gpus``}}). Mapping:
``job_id`` = jobid, ``user``, ``queue`` = vc (the virtual cluster is the scheduling quota
unit), ``status`` as published, ``submit_s`` = submitted_time, ``start_s`` = the first
attempt's start, ``end_s`` = the last attempt's end; JSON null, ``""`` and ``"None"`` are
missing alike (a ``None`` end on the last attempt = still running: censored). ``gpu_req`` =
number of GPU ids in the first attempt's ``detail`` (the notebook's rule) and ``nodes`` = its
number of servers; a job without attempts has both null. ``attrs`` holds the attempt count
and the first attempt's servers. In the rejects table, ``line`` is the job's 1-based position
in the array (the document has no meaningful lines) and ``raw`` the job re-encoded as JSON.

Utilization CSVs (comma-separated, one header line, columns matched by position since the
header spelling is undocumented; ``machineId`` and ``machine_id`` both occur) -> ``usage``,
entity = server id, one row per present value, per minute:

- ``cluster_gpu_util``: ``time, machineId, gpu0_util … gpu7_util`` (percent, nvidia-smi);
  rows end with a trailing comma (an empty 11th field) -> metrics ``gpu<i>_util_percent``;
- ``cluster_cpu_util``: ``time, machine_id, cpu_util`` -> ``cpu_util_percent``;
- ``cluster_mem_util``: ``time, machine_id, mem_total, mem_free`` -> ``mem_total``,
  ``mem_free`` (unit undocumented, values suggest KB: ``unit`` is null, see manifest).

``NA`` (offline GPU or server) and ``None`` are no sample. Util ``time`` strings carry a zone
abbreviation, ``PDT`` (UTC-7) or ``PST`` (UTC-8), which is honoured exactly; a time without it
is rejected. ``cluster_machine_list`` (``machineId, number of GPUs, single GPU mem`` with memory
written like `` 24GB``) -> ``machines`` (``gpu`` = count, ``gpu_mem_gb`` in ``attrs``).

Time: the job log's wall-clock strings carry no zone; they are read in the option
``time_zone`` (default ``America/Los_Angeles``, the zone the util files name; an ambiguous
hour at the autumn DST change takes the earlier instant, a non-existent one is rejected). The
origin is the earliest time among the job log and the first rows of each util file.

Source: https://github.com/msr-fiddle/philly-traces (README.md, analysis notebook);
Jeon et al., "Analysis of Large-Scale Multi-Tenant GPU Clusters for DNN Training Workloads",
USENIX ATC 2019. Licence: see the repository (MIT for code; data terms in its README).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from workscope.errors import CorruptSourceError, EmptySourceError, MissingColumnError, SourceError
from workscope.ingest._jsonl import decode_lines
from workscope.ingest._usage import Metric, long_usage
from workscope.ingest.files import (
    expect_file,
    first_line,
    head_text,
    iter_files,
    plain_file,
    require_rows,
    tar_members,
)
from workscope.ingest.parse import (
    NS_YEARS,
    Parsed,
    attrs_json,
    build,
    first_reason,
    parse_float,
    parse_text,
    raw_row,
    scan_text_csv,
    src,
    strptime_ns,
)
from workscope.ingest.reader import FILE, LINE, Reader, ScanContext, ScanResult, TablePart, one_each
from workscope.ingest.timefmt import earliest_ns, epoch_ns, origin_meta, seconds_since
from workscope.options import Option

TARS = (".tar.gz", ".tgz", ".tar")

log = logging.getLogger(__name__)

S = pl.String
ATTEMPT = pl.Struct({"start_time": S, "end_time": S,
                     "detail": pl.List(pl.Struct({"ip": S, "gpus": pl.List(S)}))})
JOB = pl.Struct({"status": S, "vc": S, "jobid": S, "user": S, "submitted_time": S,
                 "attempts": pl.List(ATTEMPT)})
NAMES = ("cluster_job_log", "cluster_gpu_util", "cluster_cpu_util", "cluster_mem_util",
         "cluster_machine_list")
COLUMNS = {
    "cluster_gpu_util": ["time", "machine_id", *(f"gpu{i}_util" for i in range(8)), "trailing"],
    "cluster_cpu_util": ["time", "machine_id", "cpu_util"],
    "cluster_mem_util": ["time", "machine_id", "mem_total", "mem_free"],
    "cluster_machine_list": ["machine_id", "number_of_gpus", "single_gpu_mem"],
}
# header check by position, case-insensitive: (position, accepted spellings)
HEADER = {
    "cluster_gpu_util": [(0, {"time"}), (1, {"machineid", "machine_id"}), (2, {"gpu0_util"})],
    "cluster_cpu_util": [(0, {"time"}), (1, {"machineid", "machine_id"}), (2, {"cpu_util"})],
    "cluster_mem_util": [(0, {"time"}), (1, {"machineid", "machine_id"}), (2, {"mem_total"}),
                         (3, {"mem_free"})],
    "cluster_machine_list": [(0, {"machineid", "machine_id"}), (1, {"number of gpus"})],
}
MISSING = ("NA", "None")
UTIL_FMT = "%Y-%m-%d %H:%M:%S %z"
LOG_FMT = "%Y-%m-%d %H:%M:%S"


def kind_of(path: Path | str) -> str | None:
    """Which Philly file this is from its name (None if the name says nothing)."""
    base = str(path).rsplit("/", 1)[-1]
    for n in NAMES:
        if base == n or base.startswith(n + "."):
            return n
    return None


def kind_from_head(text: str) -> str | None:
    """Which Philly file this is from its first bytes (None if not recognised)."""
    start = text.lstrip("\ufeff \r\n\t")
    if start.startswith("["):
        return "cluster_job_log" if '"jobid"' in start[:65536] else None
    if not start:
        return None
    header = [h.strip().lower() for h in start.splitlines()[0].split(",")]
    for kind, checks in HEADER.items():
        if all(i < len(header) and header[i] in ok for i, ok in checks):
            return kind
    return None


def util_time(raw: pl.Expr, label: str) -> Parsed:
    """``2017-10-03 00:08:00 PDT`` -> UTC; PDT = UTC-7, PST = UTC-8, anything else rejected."""
    text = raw.str.replace(r" PDT$", " -0700").str.replace(r" PST$", " -0800")
    value, overflow = strptime_ns(text, UTIL_FMT, "UTC")
    return Parsed(value, pl.when(raw.is_null()).then(pl.lit(f"{label} is missing"))
                  .when(overflow).then(pl.lit(f"{label}: a time outside the years {NS_YEARS}"))
                  .when(value.is_null()).then(pl.lit(f"{label}: not a timestamp with PDT/PST suffix")))


def local_time(raw: pl.Expr, label: str, zone: str) -> Parsed:
    """A zone-less wall-clock string read in ``zone``; null, '' and 'None' are missing."""
    text = pl.when(raw.is_in(["", "None"])).then(pl.lit(None, S)).otherwise(raw)
    naive, overflow = strptime_ns(text, LOG_FMT)
    value = naive.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
    return Parsed(value, pl.when(overflow).then(pl.lit(f"{label}: a time outside the years {NS_YEARS}"))
                  .when(text.is_not_null() & value.is_null())
                  .then(pl.lit(f"{label}: not a timestamp ({LOG_FMT}) in {zone}")))


class PhillyReader(Reader):
    """Philly traces: cluster_job_log -> jobs, *_util -> usage, machine list -> machines."""

    name = "philly"
    version = "1"
    description = ("Microsoft Philly GPU cluster traces: cluster_job_log (JSON array) -> jobs, "
                   "cluster_{gpu,cpu,mem}_util -> usage, cluster_machine_list -> machines")
    tables = ("jobs", "usage", "machines")
    doc_url = "https://github.com/msr-fiddle/philly-traces"
    options = {
        "time_zone": Option(str, "America/Los_Angeles",
                            "zone of the job log's wall-clock times (they carry none; the util "
                            "files say PDT/PST)"),
    }

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            kids = sorted(path.iterdir())[:50]
            if any(kind_of(k) for k in kids):
                return True
            sub = path / "trace-data"
            return sub.is_dir() and any(kind_of(k) for k in sub.iterdir())
        if path.name.startswith("trace-data") and path.name.endswith((".tar.gz", ".tgz")):
            return True
        shape = kind_from_head(head_text(path, 65536))
        named = kind_of(path)
        return shape is not None and (named is None or named == shape)

    split = True
    shares_origin = True

    def select(self, paths: Sequence[Path], options: dict[str, Any] | None = None
               ) -> tuple[list[list[Path]], list[Path]]:
        kinds, skipped = self._classify(paths)
        return one_each([f for f, _ in kinds]), skipped

    @staticmethod
    def _classify(paths: Sequence[Path]) -> tuple[list[tuple[Path, str | None]], list[Path]]:
        """Each file under ``paths`` with its kind (from its header, else its name; None for a
        tar archive, whose members tell theirs), and the files skipped."""
        kinds, skipped = [], []
        for f in iter_files(paths):
            if f.name.endswith((".md", ".txt", ".ipynb", ".py")):
                skipped.append(f)
            elif f.name.endswith(TARS):
                kinds.append((f, None))
            elif kind := kind_from_head(head_text(f, 65536)) or kind_of(f):
                kinds.append((f, kind))
            elif f.stat().st_size == 0:
                raise EmptySourceError(f, "file is empty", line=1, hint="check that the download completed")
            else:
                raise SourceError(f, "not a Philly trace file (expected the cluster_job_log JSON "
                                  "array or a util / machine-list CSV with its header)", line=1,
                                  hint="keep the published names (cluster_gpu_util ...) or pass "
                                       "another --format")
        return kinds, skipped

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        zone = str(ctx.options.get("time_zone") or "America/Los_Angeles")
        staged: list[tuple[str, str, Path]] = []  # (kind, display, plain path)
        kinds, left = self._classify(paths)
        used = [f for f, _ in kinds]
        skipped = [str(f) for f in left]
        for f, kind in kinds:
            if kind is None:  # a tar archive
                members = tar_members(f, ctx, lambda m: kind_of(m) is not None, max_line=None)
                if not members:
                    raise SourceError(f, "this tar archive holds no Philly trace file",
                                      hint="pass trace-data.tar.gz, or leave this archive out")
                staged += [(kind_of(m) or "", f"{f}!{m}", p) for m, p in members]
            else:
                staged.append((kind, str(f), plain_file(f, ctx, max_line=None)))
        if not staged:
            raise SourceError(paths[0], "no Philly trace file found",
                              hint="pass trace-data.tar.gz, its trace-data folder or its files")
        given = "origin_ns" in ctx.shared  # one file of many: the trace's origin, from all of them

        frames: list[tuple[str, str, pl.LazyFrame, list[str]]] = []
        origins: list[int] = []
        for kind, display, plain in staged:
            if kind == "cluster_job_log":
                lf = _read_job_log(plain, display)
                t = local_time(pl.col("_job").struct.field("submitted_time"), "submitted_time", zone)
                first = None if given else lf.select(earliest_ns(epoch_ns(t.value))).collect().item()
                frames.append((kind, display, lf, []))
            else:
                lf, names = _read_csv(kind, plain, display)
                first = None
                if kind != "cluster_machine_list" and not given:
                    t = util_time(src("time"), "time")
                    first = lf.head(10_000).select(earliest_ns(epoch_ns(t.value))).collect().item()
                frames.append((kind, display, lf, names))
            if first is not None:
                origins.append(first)
        origin_ns = ctx.shared["origin_ns"] if given else (min(origins) if origins else None)

        tables: dict[str, list[TablePart]] = {}
        for kind, display, lf, names in frames:
            if kind == "cluster_job_log":
                part = TablePart(_jobs(lf, zone, origin_ns or 0), pl.col("~json"), display)
                tables.setdefault("jobs", []).append(part)
            elif kind == "cluster_machine_list":
                tables.setdefault("machines", []).append(TablePart(_machines(lf), raw_row(names), display))
            else:
                part = TablePart(_usage(kind, lf, origin_ns or 0), raw_row(names), display)
                tables.setdefault("usage", []).append(part)

        meta = origin_meta(origin_ns, assumed_utc=False, resolution_s=1.0,
                           note=f"job log times read as {zone} wall-clock (no zone in the file); "
                                "util times carry PDT/PST and are converted exactly")
        meta.update({
            "job_log_time_zone": zone,
            "mem_unit": "cluster_mem_util mem_total / mem_free: undocumented (values suggest KB)",
            "gpu_req_rule": "GPU ids in the first attempt's detail",
        })
        if skipped:
            meta["skipped_files"] = skipped
        return ScanResult(tables, used, meta)


# ---------------------------------------------------------------- job log

def _read_job_log(plain: Path, display: str) -> pl.LazyFrame:
    """The job array as a frame with one ``_job`` struct per job (null = misfit), ``~json``, line."""
    expect_file(plain)
    data = plain.read_bytes()
    text = data.lstrip(b"\xef\xbb\xbf \r\n\t")
    if not text:
        raise EmptySourceError(display, "file is empty", line=1, hint="check that the download completed")
    if not text.startswith(b"["):
        raise SourceError(display, "expected one JSON array of jobs (the cluster_job_log format)",
                          line=1, hint="is this the Philly cluster_job_log?")
    schema = pl.Schema({f.name: f.dtype for f in JOB.fields})
    try:
        df = pl.read_json(io.BytesIO(data), schema=schema)
        frame = pl.DataFrame({"_job": df.to_struct("_job")})
        frame = frame.with_columns(pl.col("_job").struct.json_encode().alias("~json"))
    except pl.exceptions.PolarsError:
        # not valid JSON at all, or some job does not fit the schema: find out which
        try:
            jobs = json.loads(data.decode("utf-8", errors="replace"))
        except ValueError as exc:
            line = getattr(exc, "lineno", None)
            raise CorruptSourceError(display, f"not valid JSON ({exc})", line=line,
                                     hint="the file may be truncated; download it again") from None
        if not isinstance(jobs, list):
            raise SourceError(display, "expected one JSON array of jobs", line=1)
        texts = pl.Series("~json", [json.dumps(j) for j in jobs], dtype=S)
        frame = pl.DataFrame({"~json": texts}).with_columns(
            decode_lines(pl.col("~json"), JOB).alias("_job"),
            pl.when(pl.Series([isinstance(j, dict) for j in jobs], dtype=pl.Boolean))
            .then(pl.lit(True)).otherwise(pl.lit(False)).alias("_is_obj"),
        ).with_columns(pl.when(pl.col("_is_obj")).then(pl.col("_job")).alias("_job")).drop("_is_obj")
    if frame.height == 0:
        raise EmptySourceError(display, "the job array is empty", hint="check that the download completed")
    return frame.with_row_index(LINE, offset=1).with_columns(
        pl.col(LINE).cast(pl.Int64), pl.lit(display).alias(FILE)).lazy()


def _jobs(lf: pl.LazyFrame, zone: str, origin_ns: int) -> pl.LazyFrame:
    job = pl.col("_job")
    attempts = job.struct.field("attempts")
    first = attempts.list.first()
    last = attempts.list.last()
    submit = local_time(job.struct.field("submitted_time"), "submitted_time", zone)
    start = local_time(first.struct.field("start_time"), "attempts[0].start_time", zone)
    end = local_time(last.struct.field("end_time"), "attempts[-1].end_time", zone)
    detail = first.struct.field("detail")
    gpus = detail.list.eval(pl.element().struct.field("gpus").list.len()).list.sum()
    has_detail = detail.is_not_null()
    submit_required = pl.when(job.is_not_null() & job.struct.field("submitted_time").is_null()) \
        .then(pl.lit("submitted_time is missing"))
    return build(lf, {
        "job_id": parse_text(job.struct.field("jobid"), "jobid", required=True),
        "submit_s": Parsed(seconds_since(submit.value, origin_ns), first_reason(submit_required, submit.reason)),
        "start_s": start.map(lambda v: seconds_since(v, origin_ns)),
        "end_s": end.map(lambda v: seconds_since(v, origin_ns)),
        "user": parse_text(job.struct.field("user"), "user"),
        "queue": parse_text(job.struct.field("vc"), "vc"),
        "status": parse_text(job.struct.field("status"), "status"),
        "gpu_req": pl.when(has_detail).then(gpus.cast(pl.Float64)),
        "nodes": pl.when(has_detail).then(detail.list.len().cast(pl.Int64)),
        "attrs": attrs_json({
            "attempts": attempts.list.len(),
            "machines": detail.list.eval(pl.element().struct.field("ip")),
        }),
    }, extra_reasons=[]).with_columns(
        pl.when(job.is_null()).then(pl.lit("job is not a JSON object of the expected shape"))
        .otherwise(pl.col("_reason")).alias("_reason"))


# ---------------------------------------------------------------- CSV files

def _read_csv(kind: str, plain: Path, display: str) -> tuple[pl.LazyFrame, list[str]]:
    header = [h.strip() for h in first_line(plain, display).split(",")]
    low = [h.lower() for h in header]
    for i, ok in HEADER[kind]:
        if i >= len(low) or low[i] not in ok:
            want = [sorted(o)[0] for _, o in HEADER[kind]]
            raise MissingColumnError(display, f"header {header[:12]} does not start like {want} "
                                     f"(column {i + 1})", line=1,
                                     hint=f"is this the Philly {kind} file?")
    require_rows(plain, display)
    cols = COLUMNS[kind]
    return scan_text_csv(plain, display, columns=cols, has_header=False, skip_lines=1)


def _usage(kind: str, lf: pl.LazyFrame, origin_ns: int) -> pl.LazyFrame:
    t = util_time(src("time"), "time")
    t_s = t.map(lambda v: seconds_since(v, origin_ns))
    entity = parse_text(src("machine_id"), "machine_id", required=True)
    if kind == "cluster_gpu_util":
        metrics = [Metric(f"gpu{i}_util_percent", parse_float(src(f"gpu{i}_util"), f"gpu{i}_util",
                                                              nulls=MISSING, strip=True), "percent")
                   for i in range(8)]
        # the published rows end with a comma: an 11th field that must stay empty
        extra = src("trailing")
        t_s = Parsed(t_s.value, first_reason(t_s.reason, pl.when(extra.is_not_null())
                                             .then(pl.lit("unexpected 11th field"))))
    elif kind == "cluster_cpu_util":
        metrics = [Metric("cpu_util_percent", parse_float(src("cpu_util"), "cpu_util",
                                                          nulls=MISSING, strip=True), "percent")]
    else:
        metrics = [Metric(c, parse_float(src(c), c, nulls=MISSING, strip=True), None)
                   for c in ("mem_total", "mem_free")]
    return long_usage(lf, t_s, entity, metrics)


def _machines(lf: pl.LazyFrame) -> pl.LazyFrame:
    mem_text = src("single_gpu_mem").str.strip_chars()
    gb = mem_text.str.extract(r"^(\d+(?:\.\d+)?)\s*GB$", 1).cast(pl.Float64, strict=False)
    gpus = parse_float(src("number_of_gpus"), "number of GPUs", nulls=MISSING, strip=True)
    return build(lf, {
        "machine_id": parse_text(src("machine_id"), "machineId", required=True),
        "gpu": gpus,
        "attrs": Parsed(attrs_json({"gpu_mem_gb": gb}),
                        pl.when(mem_text.is_not_null() & ~mem_text.is_in(list(MISSING)) & gb.is_null())
                        .then(pl.lit("single GPU mem: not like '24GB'"))),
    })


READER = PhillyReader()
