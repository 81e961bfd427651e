"""Parallel Workloads Archive, Standard Workload Format (SWF) v2.2, into ``jobs``.

Files: one ASCII log per machine (``*.swf``, distributed as ``*.swf.gz``; both are read).
Lines starting with ``;`` are comments; the header comments have the form ``; Key: value``
with continuation lines (``;`` then indentation). Every other non-blank line is one job
record of **18 fields separated by runs of spaces / tabs** (with leading padding):

 1 Job Number, 2 Submit Time (s), 3 Wait Time (s), 4 Run Time (s), 5 Allocated Processors,
 6 Average CPU Time Used (s per processor), 7 Used Memory (KB per processor),
 8 Requested Processors, 9 Requested Time (s), 10 Requested Memory (KB per processor),
 11 Status, 12 User ID, 13 Group ID, 14 Executable Number, 15 Queue Number,
 16 Partition Number, 17 Preceding Job Number, 18 Think Time from Preceding Job (s).

``-1`` means "not applicable / unknown" in every field and becomes null. Other negative
values reject the row.

Mapping to ``jobs``:

- ``job_id`` = Job Number; ``submit_s`` = Submit Time (plus the file's ``UnixStartTime``
  offset from the trace origin when several logs are ingested together).
- ``start_s`` = submit + wait; ``end_s`` = start + run. When the wait time is -1 the start is
  unknown (null) unless the option ``unknown_wait`` says otherwise: ``auto`` (default) takes
  the wait as 0 only when the log's own header notes say that "submit times are actually
  start times" (the NASA iPSC log), ``zero`` always, ``null`` never. The manifest records
  which rule was applied.
- ``run_s`` = Run Time, whether or not the start is known: many logs (grid logs above all)
  record every run time but no wait, and then ``start_s`` / ``end_s`` are null while
  ``run_s`` still gives the run-time distribution. Where the start is known, end_s - start_s
  equals it (up to float rounding).
- ``nodes`` = Allocated Processors (SWF counts processors; on the machines of the archive a
  "processor" is the scheduling unit). ``cpu_req`` = Requested Processors, or the allocated
  processors where the request is -1 (many logs, e.g. NASA, record only the allocation);
  ``attrs.req_procs`` keeps the raw request.
- ``mem_req_mb`` = Requested Memory (KB per processor) x cpu_req / 1024 and
  ``mem_used_mb`` = Used Memory (KB per processor) x allocated processors / 1024, i.e. whole
  job totals in MiB; the per-processor KB values stay in ``attrs``.
- ``runtime_req_s`` = Requested Time; ``user``, ``group``, ``queue``, ``partition`` = the
  numeric ids as text (queue names from ``; Queue:`` header lines are in the manifest).
- ``status``: 0 failed, 1 completed, 2 partial (to be continued), 3 partial_completed,
  4 partial_failed, 5 cancelled; -1 null; any other code rejects the row.
- ``attrs``: wait_s, avg_cpu_time_s, used_mem_kb_per_proc, req_mem_kb_per_proc,
  req_procs, executable, preceding_job, think_time_s, status_code.

Preemption: with ``; Preemption: Double`` a preempted job appears once as a summary line and
again as its part records (status 2/3/4). Those part records are skipped unless the option
``keep_parts`` is true, so jobs are not counted twice; the manifest counts the skipped lines
(``swf_parts_skipped``). With ``Yes`` every part is a row (same ``job_id``).

Time: seconds since the log's ``UnixStartTime`` (Unix epoch, UTC), which becomes the origin;
``TimeZoneString`` is kept as the local zone. All header lines are kept verbatim in the
manifest (``swf_header_lines``) and parsed into ``swf_header`` (repeated keys such as
``Note`` and ``Queue`` become lists).

``_line`` is the exact physical line number in the (decompressed) file, comments included.

Source: Feitelson et al., Parallel Workloads Archive,
https://www.cs.huji.ac.il/labs/parallel/workload/swf.html (format v2.2).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from workscope.errors import EmptySourceError, OptionError
from workscope.ingest.files import expect_file, head_text, iter_files, plain_file, require_rows
from workscope.ingest.parse import Parsed, attrs_json, build, parse_float, parse_int, scan_lines, src
from workscope.ingest.reader import FILE, LINE, Reader, ScanContext, ScanResult, TablePart
from workscope.ingest.timefmt import origin_meta
from workscope.options import Option

FIELDS = (
    "job", "submit", "wait", "run", "alloc_procs", "avg_cpu", "used_mem", "req_procs",
    "req_time", "req_mem", "status", "user", "group", "executable", "queue", "partition",
    "preceding_job", "think_time",
)
"""Short names of the 18 SWF fields, in file order."""

LABELS = (
    "Job Number", "Submit Time", "Wait Time", "Run Time", "Allocated Processors",
    "Average CPU Time Used", "Used Memory", "Requested Processors", "Requested Time",
    "Requested Memory", "Status", "User ID", "Group ID", "Executable Number", "Queue Number",
    "Partition Number", "Preceding Job Number", "Think Time",
)

STATUS = {
    0: "failed",
    1: "completed",
    2: "partial",
    3: "partial_completed",
    4: "partial_failed",
    5: "cancelled",
}
"""SWF v2.2 status codes (the -1 'unknown' becomes null)."""

LINE_COL = "line"
_EXTRA = "_swf_fields"
_INT_FIELDS = {"job", "alloc_procs", "req_procs", "status", "user", "group", "executable",
               "queue", "partition", "preceding_job"}

_KEY_RE = re.compile(r"^;\s{0,2}([A-Za-z][A-Za-z0-9_]*):(.*)$")
_CONT_RE = re.compile(r"^;\s+(\S.*)$")
_START_NOTE_RE = re.compile(r"submit\s+times\s+are\s+actually\s+start\s+times", re.I)
_NUM_RE = re.compile(r"^-?\d+(\.\d+)?$")
_MAX_HEADER_LINES = 100_000


def parse_header(lines: Sequence[str]) -> dict[str, Any]:
    """Parse SWF header comment lines into {key: value}; repeated keys become lists.

    Continuation lines (``;`` followed by indentation) are appended to the previous key's
    value with a newline; a bare ``;`` ends a continuation.
    """
    out: dict[str, Any] = {}
    last: str | None = None
    for raw in lines:
        line = raw.rstrip()
        m = _KEY_RE.match(line)
        if m:
            key, value = m.group(1), m.group(2).strip()
            if key in out:
                if not isinstance(out[key], list):
                    out[key] = [out[key]]
                out[key].append(value)
            else:
                out[key] = value
            last = key
            continue
        c = _CONT_RE.match(line)
        if c and last is not None:
            if isinstance(out[last], list):
                out[last][-1] = (out[last][-1] + "\n" + c.group(1).strip()).strip()
            else:
                out[last] = (out[last] + "\n" + c.group(1).strip()).strip()
        else:
            last = None
    return out


def _read_header(path: Path) -> list[str]:
    """The leading comment / blank lines of a plain SWF file (verbatim, newline stripped)."""
    out: list[str] = []
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh):
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if text.strip() and not text.lstrip().startswith(";"):
                break
            if n >= _MAX_HEADER_LINES:
                break
            out.append(text)
    return out


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _int_or_none(value: Any) -> int | None:
    try:
        return int(str(value).split()[0])
    except (ValueError, IndexError, TypeError):
        return None


def _field(i: int, kind: str, *, required: bool = False) -> Parsed:
    """Parse field ``i`` (0-based) of the split line; -1 -> null, other negatives rejected."""
    raw = pl.col(_EXTRA).list.get(i, null_on_oob=True)
    label = LABELS[i]
    p = parse_int(raw, label, required=required) if kind == "int" else parse_float(raw, label, required=required)
    value = pl.when(p.value == -1).then(None).otherwise(p.value)
    negative = pl.when(p.value.is_not_null() & (p.value < 0) & (p.value != -1)).then(
        pl.format(f"{label} is negative ({{}}); only -1 (unknown) is allowed", p.value)
    )
    reason = pl.coalesce(p.reason, negative)
    if required:
        reason = pl.coalesce(reason, pl.when(p.value == -1).then(pl.lit(f"{label} is -1 (unknown)")))
    return Parsed(value, reason)


class SWFReader(Reader):
    """Standard Workload Format (Parallel Workloads Archive) logs into ``jobs``."""

    name = "swf"
    version = "1"
    description = "Parallel Workloads Archive Standard Workload Format v2.2 (.swf / .swf.gz)"
    tables = ("jobs",)
    doc_url = "https://www.cs.huji.ac.il/labs/parallel/workload/swf.html"
    options = {
        "unknown_wait": Option(
            str, "auto",
            "what a Wait Time of -1 means for start_s: 'auto' (0 only when the header notes say "
            "submit times are start times), 'zero' or 'null'",
        ),
        "keep_parts": Option(
            bool, False,
            "keep the part records (status 2/3/4) of 'Preemption: Double' logs, which repeat "
            "the summary lines",
        ),
    }

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            return any(self.sniff(f) for f in sorted(path.glob("*.swf*"))[:3])
        lines = head_text(path, 16384).splitlines()
        if not lines:
            return False
        saw_comment = False
        for line in lines[:-1] or lines:
            s = line.strip()
            if not s:
                continue
            if s.startswith(";"):
                saw_comment = True
                continue
            tokens = s.split()
            return len(tokens) == 18 and all(_NUM_RE.match(t) for t in tokens)
        # only comments in the first 16 KB: an SWF header if it names the format
        return saw_comment and any(
            ln.startswith(";") and ("UnixStartTime:" in ln or "MaxRecords:" in ln) for ln in lines)

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        mode = str(ctx.options.get("unknown_wait", "auto")).lower()
        if mode not in ("auto", "zero", "null"):
            raise OptionError(f"option 'unknown_wait' of format 'swf' must be auto, zero or null, got {mode!r}")
        keep_parts = bool(ctx.options.get("keep_parts", False))

        files = [f for f in iter_files(paths)
                 if not f.name.lower().endswith((".md", ".txt", ".toml", ".json"))
                 and f.name not in ("LICENSE", "SOURCE", "README")]
        staged = []
        for f in files:
            expect_file(f)
            plain = plain_file(f, ctx)
            if plain.stat().st_size == 0:
                raise EmptySourceError(f, "file is empty", line=1, hint="check that the download completed")
            header_lines = _read_header(plain)
            require_rows(plain, str(f), skip=0, comment_prefix=";")
            staged.append((f, plain, header_lines, parse_header(header_lines)))

        starts = [_int_or_none(h.get("UnixStartTime")) for _, _, _, h in staged]
        known = [s for s in starts if s is not None]
        origin = min(known) if known else None

        parts: list[TablePart] = []
        file_meta: list[dict[str, Any]] = []
        skipped_total = 0
        zero_rules: list[bool] = []
        for (f, plain, header_lines, header), start in zip(staged, starts):
            notes = "\n".join(_as_list(header.get("Note")))
            zero_wait = mode == "zero" or (mode == "auto" and bool(_START_NOTE_RE.search(notes)))
            zero_rules.append(zero_wait)
            offset = float(start - origin) if (start is not None and origin is not None) else 0.0
            preemption = str(header.get("Preemption", "")).strip().lower()
            drop_parts = preemption == "double" and not keep_parts
            frame, skipped = _frame(plain, str(f), zero_wait, offset, drop_parts)
            skipped_total += skipped
            parts.append(TablePart(frame, pl.col("~" + LINE_COL).fill_null(""), str(f)))
            file_meta.append({
                "file": str(f),
                "swf_header": header,
                "swf_header_lines": header_lines,
                "unix_start_time": start,
                "wait_unknown_taken_as_zero": zero_wait,
                "parts_skipped": skipped,
            })

        first = file_meta[0] if file_meta else {}
        header0 = first.get("swf_header", {})
        meta = origin_meta(
            origin * 1_000_000_000 if origin is not None else None,
            assumed_utc=False,
            resolution_s=1.0,
            note=None if origin is not None else "the log has no UnixStartTime header; times are "
                                                 "seconds since the log's own start",
        )
        meta.update({
            "swf_version": header0.get("Version"),
            "swf_header": header0,
            "swf_header_lines": first.get("swf_header_lines", []),
            "time_zone": header0.get("TimeZoneString"),
            "preemption": header0.get("Preemption"),
            "queues": self._queues(header0),
            "cpu_unit": "processors",
            "mem_unit": "MiB per job (SWF KB per processor x processors / 1024)",
            "nodes_source": "Allocated Processors",
            "cpu_req_source": "Requested Processors, else Allocated Processors where -1",
            "wait_unknown_taken_as_zero": all(zero_rules) if zero_rules else False,
            "swf_parts_skipped": skipped_total,
        })
        if len(file_meta) > 1:
            meta["swf_files"] = file_meta
        return ScanResult({"jobs": parts}, files, meta)

    @staticmethod
    def _queues(header: dict[str, Any]) -> dict[str, str]:
        out = {}
        for q in _as_list(header.get("Queue")):
            bits = str(q).split(None, 1)
            if bits:
                out[bits[0]] = bits[1].strip() if len(bits) > 1 else ""
        return out


def _frame(plain: Path, display: str, zero_wait: bool, offset: float,
           drop_parts: bool) -> tuple[pl.LazyFrame, int]:
    """The ``jobs`` rows of one SWF file, and how many part records were dropped."""
    lf, text = _job_lines(plain, display)
    p = {name: _field(i, "int" if name in _INT_FIELDS else "float", required=name in ("job", "submit"))
         for i, name in enumerate(FIELDS)}
    utf_reason = pl.when(text.str.contains("\ufffd", literal=True)).then(pl.lit("invalid UTF-8 bytes"))
    n_fields = pl.col(_EXTRA).list.len()
    count_reason = pl.when(n_fields != 18).then(
        pl.format("expected 18 whitespace-separated fields, found {}", n_fields))
    out = build(lf, _jobs_fields(p, zero_wait, offset), extra_reasons=[utf_reason])
    # A wrong field count explains every other parse failure, so it is reported first.
    out = out.with_columns(pl.coalesce(utf_reason, count_reason, pl.col("_reason")).alias("_reason"))
    skipped = 0
    if drop_parts:
        out, skipped = _drop_parts(out, p["status"].value)
    return out.drop(_EXTRA), skipped


def _job_lines(plain: Path, display: str) -> tuple[pl.LazyFrame, pl.Expr]:
    """The file's job lines (not blank, not comments), each split into its fields (``_EXTRA``).

    Also returns the stripped line text expression, for the line-level reasons.
    """
    # One text column per physical line, so comment lines keep their place in the row index
    # and _line is the physical line.
    lf = scan_lines(plain, display, "~" + LINE_COL, what="SWF text")
    text = src(LINE_COL).str.strip_chars()
    lf = (
        lf.with_columns(pl.col(LINE).cast(pl.Int64), pl.lit(display).alias(FILE))
        .filter(text.is_not_null() & (text != "") & ~text.str.starts_with(";"))
        .with_columns(text.str.replace_all(r"\s+", " ").str.split(" ").alias(_EXTRA))
    )
    return lf, text


def _jobs_fields(p: dict[str, Parsed], zero_wait: bool, offset: float) -> dict[str, Parsed | pl.Expr]:
    """The ``jobs`` columns from the parsed SWF fields: times shifted by ``offset``, memory in MiB."""
    status_code = p["status"].value
    status_reason = pl.when(status_code.is_not_null() & ~status_code.is_in(list(STATUS))).then(
        pl.format("Status: unknown code {}", status_code))
    status_text = status_code.replace_strict(
        list(STATUS), list(STATUS.values()), default=None, return_dtype=pl.String)

    submit = p["submit"].value.cast(pl.Float64) + offset
    wait = p["wait"].value.cast(pl.Float64)
    run = p["run"].value.cast(pl.Float64)
    start = submit + (wait.fill_null(0.0) if zero_wait else wait)
    end = start + run
    alloc = p["alloc_procs"].value
    cpu_req = pl.coalesce(p["req_procs"].value, alloc).cast(pl.Float64)
    # SWF memory is KB per processor
    mem_req = p["req_mem"].value.cast(pl.Float64) * cpu_req / 1024.0
    mem_used = p["used_mem"].value.cast(pl.Float64) * alloc.cast(pl.Float64) / 1024.0

    def ident(name: str) -> Parsed:
        return Parsed(p[name].value.cast(pl.String), p[name].reason)

    return {
        "job_id": ident("job"),
        "submit_s": Parsed(submit, p["submit"].reason),
        "start_s": Parsed(start, p["wait"].reason),
        "end_s": Parsed(end, p["run"].reason),
        "user": ident("user"),
        "group": ident("group"),
        "queue": ident("queue"),
        "partition": ident("partition"),
        "status": Parsed(status_text, pl.coalesce(p["status"].reason, status_reason)),
        "cpu_req": Parsed(cpu_req, p["req_procs"].reason),
        "nodes": Parsed(alloc, p["alloc_procs"].reason),
        "mem_req_mb": Parsed(mem_req, p["req_mem"].reason),
        "mem_used_mb": Parsed(mem_used, p["used_mem"].reason),
        "runtime_req_s": Parsed(p["req_time"].value.cast(pl.Float64), p["req_time"].reason),
        "run_s": Parsed(run, p["run"].reason),
        "attrs": _attrs(p),
    }


def _attrs(p: dict[str, Parsed]) -> Parsed:
    """The SWF fields that have no canonical column, as published."""
    return Parsed(attrs_json({
        "wait_s": p["wait"].value,
        "avg_cpu_time_s": p["avg_cpu"].value,
        "used_mem_kb_per_proc": p["used_mem"].value,
        "req_mem_kb_per_proc": p["req_mem"].value,
        "req_procs": p["req_procs"].value,
        "executable": p["executable"].value,
        "preceding_job": p["preceding_job"].value,
        "think_time_s": p["think_time"].value,
        "status_code": p["status"].value,
    }), pl.coalesce(p["avg_cpu"].reason, p["executable"].reason, p["preceding_job"].reason,
                    p["think_time"].reason))


def _drop_parts(out: pl.LazyFrame, status_code: pl.Expr) -> tuple[pl.LazyFrame, int]:
    """Drop the good part records (status 2/3/4) that repeat a summary line; count them."""
    is_part = status_code.is_in([2, 3, 4]) & pl.col("_reason").is_null()
    skipped = int(out.select(is_part.sum()).collect(engine="streaming").item() or 0)
    return out.filter(~is_part.fill_null(False)), skipped


READER = SWFReader()
