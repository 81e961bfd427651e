"""Batsim workload JSON from a jobs workload.

Format (oar-team/batsim ``docs/input-workload.rst``; example ``workloads/test_delays.json``):
one JSON object with ``nb_res`` (positive integer, the machine count the workload was made
for; used with ``--mmax-workload``), ``jobs`` (array) and ``profiles`` (object name -> profile).
Every job has ``id`` (string, unique), ``subtime`` (float seconds, absolute simulation time),
``res`` (positive integer: machines requested), ``profile`` (a profile name) and optionally
``walltime`` (float seconds, relative to the job's start; a job running longer is killed).
Other top-level fields are ignored by Batsim; ``description`` and ``workscope`` carry the
provenance here.

What is written:

- ``subtime`` = ``submit_s`` (seconds since the workload origin, as stored: not rounded).
- ``res`` = ``nodes`` (option ``res_from=nodes``, default) else ceil(``cpu_req``), else 1; with
  ``res_from=cpu`` the order is ceil(cpu_req), nodes, 1. Always at least 1.
- one ``delay`` profile per distinct runtime (rounded to the millisecond), named
  ``delay_<seconds>``: ``{"type": "delay", "delay": runtime}`` where runtime = ``end_s - start_s``.
  A job without a known runtime (not started, or censored) gets its ``runtime_req_s`` when it
  has one; otherwise it cannot be simulated and is left out (the notes count both cases).
  Option ``profile_type`` writes another type name for the same delay profile
  (``DelayProfile`` for Batsim 5).
- ``walltime`` = ``runtime_req_s`` where known and > 0, else -1 (Batsim's "no walltime";
  ``src/jobs.cpp`` accepts -1 or a strictly positive number).
- ``id`` = ``job_id`` (``!`` is replaced by ``_``, as Batsim uses ``workload!job`` ids); when
  a job id occurs more than once (tasks), ``#<n>`` (the occurrence) is appended.
- ``nb_res`` = option ``nb_res``, or the largest ``res`` when 0.

Jobs are streamed in submit order (polars' NDJSON writer encodes them; line ends become the
array's commas). Command: ``batsim -p <platform> -w <file> --mmax-workload
-e <prefix>`` (Batsim's CLI, ``docs/cli.rst``); the platform XML (option ``platform``) is
the user's.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import IO, Any, ClassVar

import polars as pl

from workscope.atomic import atomic_path
from workscope.errors import OptionError
from workscope.options import Option
from workscope.replay.exporters._text import json_string, number_text, scratch_file, stream_lines
from workscope.replay.exporters.base import Exporter, ExportResult
from workscope.replay.workload import Workload, check


def append_json_members(frame: pl.LazyFrame, fh: IO[bytes], work: Path) -> None:
    """Append the rows of ``frame`` to ``fh`` as comma-separated JSON objects, one per line.

    polars' NDJSON writer does the encoding (streamed); a JSON string never holds a raw newline
    (it is escaped), so turning each line end into ``,`` + newline is exact. The comma after
    the last object is removed.
    """
    with scratch_file(work) as part:
        frame.sink_ndjson(part)
        wrote = False
        with open(part, "rb") as src:
            while chunk := src.read(1 << 24):
                fh.write(chunk.replace(b"\n", b",\n"))
                wrote = True
        if wrote:
            fh.seek(-2, 1)
            fh.write(b"\n")
            fh.truncate()


def comma_joined(obj: pl.Expr) -> pl.Expr:
    """JSON array/object members: every line but the first starts with a comma."""
    return pl.when(pl.int_range(pl.len()) == 0).then(obj).otherwise(pl.lit(",") + obj)


class BatsimExporter(Exporter):
    """jobs -> Batsim workload JSON with delay profiles."""

    name = "batsim"
    description = "Batsim workload JSON (jobs + delay profiles)"
    tables = ("jobs",)
    suffix = ".json"
    doc_url = "https://batsim.readthedocs.io/en/latest/input-workload.html"
    options: ClassVar[dict[str, Option]] = {
        "res_from": Option(str, "nodes", "where res (machines) comes from first: 'nodes' or 'cpu' (ceil(cpu_req))"),
        "nb_res": Option(int, 0, "nb_res of the workload (0: the largest res of any job)"),
        "profile_type": Option(str, "delay", "profile type name ('delay' for Batsim <= 4, 'DelayProfile' for 5)"),
        "platform": Option(str, "platforms/cluster512.xml", "SimGrid platform file named in the command"),
    }

    def write(self, wl: Workload, out: Path, options: dict[str, Any]) -> ExportResult:
        self.require_table(wl)
        res_from = str(options.get("res_from", "nodes")).lower()
        if res_from not in ("nodes", "cpu"):
            raise OptionError(f"option 'res_from' of exporter 'batsim' must be nodes or cpu, got {res_from!r}")
        if int(options.get("nb_res", 0)) < 0:
            raise OptionError("option 'nb_res' of exporter 'batsim' must be >= 0")
        check(wl)
        out = Path(out)
        cpu = pl.col("cpu_req").ceil().cast(pl.Int64)
        nodes = pl.col("nodes")
        res = pl.max_horizontal(pl.coalesce(*(nodes, cpu) if res_from == "nodes" else (cpu, nodes), pl.lit(1)),
                                pl.lit(1)).alias("res")
        runtime = (pl.col("end_s") - pl.col("start_s"))
        delay = pl.coalesce(runtime, pl.col("runtime_req_s")).round(3).alias("delay")
        lf = wl.frame.with_columns(res, delay)
        stats = lf.select(
            pl.len().alias("n"),
            pl.col("delay").is_null().sum().alias("no_runtime"),
            (runtime.is_null() & pl.col("runtime_req_s").is_not_null()).sum().alias("from_walltime"),
            pl.col("res").filter(pl.col("delay").is_not_null()).max().alias("max_res"),
            (pl.len() - pl.col("job_id").n_unique()).alias("dups"),
        ).collect().row(0, named=True)
        base = pl.col("job_id").str.replace_all("!", "_", literal=True)
        if stats["dups"]:
            # tasks share their job's id: number the occurrences (the window is only paid for then)
            dup = pl.len().over("job_id") > 1
            nth = (pl.int_range(pl.len()).over("job_id") + 1).cast(pl.String)
            lf = lf.with_columns(pl.when(dup).then(base + "#" + nth).otherwise(base).alias("_id"))
        else:
            lf = lf.with_columns(base.alias("_id"))
        jobs = lf.filter(pl.col("delay").is_not_null())
        nb_res = int(options.get("nb_res") or 0) or int(stats["max_res"] or 1)
        ptype = str(options.get("profile_type") or "delay")

        profile = (pl.lit("delay_") + number_text(pl.col("delay"))).alias("profile")
        # Batsim: walltime is -1 (no limit) or > 0
        rt = pl.col("runtime_req_s")
        walltime = pl.when(rt > 0).then(rt).otherwise(pl.lit(-1.0)).alias("walltime")
        job_rows = jobs.select(pl.col("_id").alias("id"), pl.col("submit_s").alias("subtime"),
                               pl.col("res").cast(pl.Int64), walltime, profile)
        # one profile per distinct delay: few rows, written as '"name":{...}' members
        prof_obj = pl.concat_str([json_string(profile), pl.lit(":"),
                                  pl.struct(pl.lit(ptype).alias("type"), pl.col("delay")).struct.json_encode()])
        prof_lines = jobs.select(pl.col("delay").unique().sort()).select(comma_joined(prof_obj).alias("line"))

        meta = {k: wl.meta.get(k) for k in ("source_trace", "source_content_key", "origin_utc", "transforms")}
        head = {
            "description": f"exported by workscope from trace {wl.meta.get('source_trace')!r}",
            "workscope": meta,
            "nb_res": nb_res,
        }
        with atomic_path(out) as tmp, open(tmp, "w+b") as fh:
            text = json.dumps(head, sort_keys=True, separators=(",", ":"), default=str)
            fh.write((text[:-1] + ',\n"jobs":[\n').encode())
            append_json_members(job_rows, fh, tmp)
            fh.write(b'],\n"profiles":{\n')
            stream_lines(prof_lines, fh, tmp)
            fh.write(b"}}\n")
        rows = int(stats["n"]) - int(stats["no_runtime"])
        notes = [f"{rows} jobs, nb_res {nb_res}; res from {res_from}"]
        if stats["from_walltime"]:
            notes.append(f"{stats['from_walltime']} jobs without a known runtime use their runtime_req_s as delay")
        if stats["no_runtime"]:
            notes.append(f"{stats['no_runtime']} jobs without runtime or runtime_req_s were left out "
                         "(Batsim cannot simulate them)")
        if stats["dups"]:
            notes.append("some rows share a job_id (tasks): '#<n>' appended to make ids unique")
        platform = options.get("platform") or "platforms/cluster512.xml"
        command = shlex.join(["batsim", "-p", str(platform), "-w", str(out), "--mmax-workload",
                              "-e", f"{out.with_suffix('')}_batsim/out"])
        return ExportResult("batsim", [out], rows, command, notes)


EXPORTERS: dict[str, Exporter] = {"batsim": BatsimExporter()}
