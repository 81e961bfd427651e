"""Batsim workload JSON from a jobs workload.

Format (oar-team/batsim ``docs/input-workload.rst``; example ``workloads/test_delays.json``):
one JSON object with ``nb_res`` (positive integer, the machine count the workload was made
for; used with ``--mmax-workload``), ``jobs`` (array) and ``profiles`` (object name -> profile).
Every job has ``id`` (string, unique), ``subtime`` (float seconds, absolute simulation time),
``res`` (positive integer: machines requested), ``profile`` (a profile name) and optionally
``walltime`` (float seconds, relative to the job's start; a job running longer is killed).
Other top-level fields are ignored by Batsim; ``description`` and ``workscope`` carry the
provenance here.

Rules of Batsim's loader this follows, read in ``src/jobs.cpp`` (``Job::from_json``) and
``src/profiles.cpp`` (``Profile::from_json``) at tag v4.2.0 (commit 194c926d) and at main
(commit ba7ea85f, 2026-06-19, the Batsim 5 line):

- a ``delay`` must be strictly positive in both ("non-strictly-positive 'delay' field");
- ``walltime``: 4.2 accepts -1 ("no walltime") or a number > 0; main accepts only a number
  > 0 ("invalid walltime value") and means "no walltime" by leaving the field out. Leaving
  it out is accepted by both, so an unknown walltime is omitted;
- the delay profile type is ``delay`` in 4.x and ``DelayProfile`` in 5 (v5.0.0-rc0 on);
  option ``batsim_version`` (4, default, or 5) picks it;
- ``res`` a non-negative integer, ``nb_res`` an integer > 0, ``id`` a string or integer.

What is written:

- ``subtime`` = ``submit_s`` (seconds since the workload origin, as stored: not rounded).
- ``res`` = ``nodes`` (option ``res_from=nodes``, default) else ceil(``cpu_req``), else 1; with
  ``res_from=cpu`` the order is ceil(cpu_req), nodes, 1. Always at least 1.
- one delay profile per distinct runtime (rounded to the millisecond), named
  ``delay_<seconds>``: ``{"type": "delay", "delay": runtime}`` where runtime = ``end_s -
  start_s``, or the source's ``run_s`` where the start is unknown. A job without a known
  runtime (not started, or censored) gets its ``runtime_req_s`` when it has one; otherwise it
  cannot be simulated and is left out (the notes count both cases). A job whose runtime
  rounds to 0 (zero-length jobs are common in HPC logs: failed at launch) is **kept** with the
  smallest delay that survives the millisecond rounding, 0.001 s, so the submission pattern
  and job count stay those of the trace; the notes count them.
- ``walltime`` = ``runtime_req_s`` where known and > 0, else the field is omitted.
- ``id`` = ``job_id`` (``!`` is replaced by ``_``, as Batsim uses ``workload!job`` ids); when
  a job id occurs more than once (tasks), ``#<n>`` (the occurrence) is appended.
- ``nb_res`` = option ``nb_res``, or the largest ``res`` when 0.

Jobs are streamed in submit order (one JSON object per line, built by polars; line ends
become the array's commas). Command: ``batsim -p <platform> -w <file> --mmax-workload
-e <prefix>`` (Batsim's CLI, ``docs/cli.rst``); the platform XML (option ``platform``) is
the user's.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from workscope.atomic import atomic_path
from workscope.errors import OptionError
from workscope.options import Option
from workscope.replay.exporters._text import json_string, number_text, run_time, stream_lines
from workscope.replay.exporters.base import Exporter, ExportResult
from workscope.replay.workload import Workload, check

MIN_DELAY_S = 0.001
"""Delay given to jobs whose runtime rounds to 0: Batsim refuses a delay that is not > 0, and
delays are written to the millisecond."""

PROFILE_TYPES: dict[int, str] = {4: "delay", 5: "DelayProfile"}
"""Batsim major version -> the type name of its delay profile."""


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
        "batsim_version": Option(int, 4, "Batsim major version the file is for: 4 (profile type 'delay') "
                                         "or 5 (current main: 'DelayProfile')"),
        "profile_type": Option(str, "", "deprecated: 'delay' means batsim_version=4, 'DelayProfile' 5"),
        "platform": Option(str, "platforms/cluster512.xml", "SimGrid platform file named in the command"),
    }

    def write(self, wl: Workload, out: Path, options: dict[str, Any]) -> ExportResult:
        """Write the workload JSON (jobs in submit order, one delay profile per runtime)."""
        self.require_table(wl)
        res_from = str(options.get("res_from", "nodes")).lower()
        if res_from not in ("nodes", "cpu"):
            raise OptionError(f"option 'res_from' of exporter 'batsim' must be nodes or cpu, got {res_from!r}")
        if int(options.get("nb_res", 0)) < 0:
            raise OptionError("option 'nb_res' of exporter 'batsim' must be >= 0")
        version = _version(options)
        check(wl)
        out = Path(out)
        cpu = pl.col("cpu_req").ceil().cast(pl.Int64)
        nodes = pl.col("nodes")
        res = pl.max_horizontal(pl.coalesce(*(nodes, cpu) if res_from == "nodes" else (cpu, nodes), pl.lit(1)),
                                pl.lit(1)).alias("res")
        runtime = run_time(wl.frame)
        rounded = pl.coalesce(runtime, pl.col("runtime_req_s")).round(3)
        # Batsim refuses delay <= 0: a zero-length job keeps its place with the smallest delay
        delay = pl.when(rounded <= 0).then(pl.lit(MIN_DELAY_S)).otherwise(rounded).alias("delay")
        lf = wl.frame.with_columns(res, delay)
        stats = lf.select(
            pl.len().alias("n"),
            pl.col("delay").is_null().sum().alias("no_runtime"),
            (runtime.is_null() & pl.col("runtime_req_s").is_not_null()).sum().alias("from_walltime"),
            (rounded <= 0).sum().alias("zero"),
            (pl.col("delay").is_not_null() & ~(pl.col("runtime_req_s") > 0).fill_null(False)).sum().alias("no_walltime"),
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
        ptype = PROFILE_TYPES[version]

        profile = (pl.lit("delay_") + number_text(pl.col("delay"))).alias("profile")
        rt = pl.col("runtime_req_s")
        # every job is one JSON object per line; the walltime member is left out where there is
        # no walltime (Batsim 5 refuses -1 and null, and 4.2 also reads an absent field as none)
        job_obj = pl.concat_str([
            pl.lit('{"id":'), json_string(pl.col("_id")),
            pl.lit(',"subtime":'), number_text(pl.col("submit_s")),
            pl.lit(',"res":'), pl.col("res").cast(pl.Int64).cast(pl.String),
            pl.when(rt > 0).then(pl.lit(',"walltime":') + number_text(rt)).otherwise(pl.lit("")),
            pl.lit(',"profile":'), json_string(profile), pl.lit("}"),
        ])
        job_lines = jobs.select(comma_joined(job_obj).alias("line"))
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
            stream_lines(job_lines, fh, tmp)
            fh.write(b'],\n"profiles":{\n')
            stream_lines(prof_lines, fh, tmp)
            fh.write(b"}}\n")
        rows = int(stats["n"]) - int(stats["no_runtime"])
        notes = [(f"{rows} jobs, nb_res {nb_res}; res from {res_from}; "
                  f"for Batsim {version} (profile type {ptype!r})")]
        if stats["from_walltime"]:
            notes.append(f"{stats['from_walltime']} jobs without a known runtime use their runtime_req_s as delay")
        if stats["zero"]:
            notes.append(f"{stats['zero']} jobs with a runtime of 0 (to the millisecond) kept with a delay of "
                         f"{MIN_DELAY_S:g} s (Batsim refuses a delay that is not > 0)")
        if stats["no_walltime"]:
            notes.append(f"{stats['no_walltime']} jobs have no walltime (no runtime_req_s > 0): "
                         "the field is left out, which Batsim reads as no limit")
        if stats["no_runtime"]:
            notes.append(f"{stats['no_runtime']} jobs without runtime or runtime_req_s were left out "
                         "(Batsim cannot simulate them)")
        if stats["dups"]:
            notes.append("some rows share a job_id (tasks): '#<n>' appended to make ids unique")
        platform = options.get("platform") or "platforms/cluster512.xml"
        command = shlex.join(["batsim", "-p", str(platform), "-w", str(out), "--mmax-workload",
                              "-e", f"{out.with_suffix('')}_batsim/out"])
        return ExportResult("batsim", [out], rows, command, notes)


def _version(options: dict[str, Any]) -> int:
    """The Batsim major version from ``batsim_version`` and the deprecated ``profile_type``."""
    given = options.get("batsim_version")
    version = 4 if given is None else int(given)
    if version not in PROFILE_TYPES:
        raise OptionError(f"option 'batsim_version' of exporter 'batsim' must be 4 or 5, got {version}")
    legacy = str(options.get("profile_type") or "")
    if legacy:
        by_type = {t: v for v, t in PROFILE_TYPES.items()}
        if legacy not in by_type:
            raise OptionError(f"option 'profile_type' of exporter 'batsim' must be 'delay' or 'DelayProfile' "
                              f"(or use batsim_version=4|5), got {legacy!r}")
        # batsim_version defaults to 4, so only an explicit 5 can contradict 'delay'
        if version == 5 and by_type[legacy] == 4:
            raise OptionError("options 'profile_type' 'delay' and 'batsim_version' 5 disagree "
                              "(Batsim 5 reads 'DelayProfile')")
        version = by_type[legacy]
    return version


EXPORTERS: dict[str, Exporter] = {"batsim": BatsimExporter()}
