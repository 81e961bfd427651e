"""Huawei Cloud serverless traces, 2025 release (EuroSys'25 "Serverless Cold Starts and Where to Find Them").

Source: repo sir-lab/data-release, ``README_data_release_2025.md`` and
``src/demo_cold_start.ipynb`` (data on Huawei OBS as zip archives, CC BY 4.0; cite Joosen et
al., EuroSys 2025). Reference: FORMATS.md section 5b. Five regions ``R1`` … ``R5``, 31 days.

**Files** (kind detected from each file's header; region from the nearest ``R<n>`` folder,
archive or file name; the published zips with many members are read as they are):

- ``cold_start/R<n>/*.csv`` — ``day,time,clusterName,funcName,userID,requestID,
  totalCost_cold_start,podAllocationCost,deployCodeCost,deployDependencyCost,schedulingCost,podID``
  → ``invocations`` with ``cold_start`` = true, ``cold_start_s`` = totalCost_cold_start,
  ``pod_alloc_s`` / ``deploy_code_s`` / ``deploy_deps_s`` / ``scheduling_s`` = the four cost
  components (all **seconds** as published, no conversion), ``pod_id`` = podID.
- ``per_request/R<n>/*.csv`` (day 30 only) — ``time_worker,time_frontend,requestID,clusterName,
  funcName,podID,userID,totalCost_worker,workerCost,runtimeCost,totalCost_frontend,frontendCost,
  busCost,readBodyCost,writeRspCost,cpu_usage,memory_usage,requestBodySize`` → ``invocations``
  with ``arrival_s`` = time_worker (always present; time_frontend can be empty),
  ``duration_s`` = totalCost_worker (the release's "function execution time"), ``cold_start``
  null (not recorded per request); the other costs (s), ``cpu_usage_cores``,
  ``memory_usage_mb`` and ``request_body_bytes`` go to ``attrs``.
- ``runtime_triggerType/df_funcID_runtime_triggerType.csv`` (Region 2 only) —
  ``funcID,cpu_request,runtime,triggerType-invocationType`` → ``functions``: ``runtime``,
  ``trigger`` = the part before the last ``-``, ``cpu_millicores`` = cpu_request (millicores);
  the invocation type (``S`` …) goes to ``attrs``. ``unknown`` is the release's missing marker
  and becomes null.
- ``quantiles/R<n>/<metric>[_<stat>]/*.csv`` — wide, ``day,time,<funcID…>``, one row per
  minute: ``requests`` → ``invocation_counts`` (window 60 s); ``num_pods``,
  ``num_cold_starts`` and every ``<metric>_<avg|std|quantile_NNN>`` → ``usage`` with
  ``metric`` = the folder name as published, ``unit`` = s (costs), cores (cpu_usage), MB
  (memory_usage), bytes (requestBodySize) or count, ``entity_id`` = funcID. Empty cells (no
  data that minute) yield no row.

**Ids.** ``function_id`` is always the full funcID ``funcName---userID---poolName`` (funcName
alone is not unique); for event rows it is built from funcName, userID and the pool name of
the podID (its first three ``-`` fields); ``owner_id`` = userID. The pool name
``pool<NN>-<cpu limit millicores>-<memory limit MB>`` gives ``cpu_millicores`` and
``memory_mb`` of invocations (limits, not requests). A podID without a pool name rejects the
row (its function cannot be identified).

**Origin.** ``time`` is seconds since the start of day 0 with ms precision (2600186.994 =
2,600,186 s 994 ms); there is no wall clock, so ``origin_utc`` is null in the manifest. The
time-series files' ``time`` is undocumented beyond 0, 60, …: a value below ``day * 86400`` is
read as seconds since the start of its own day and shifted by ``day * 86400``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import polars as pl

from workscope.errors import MissingColumnError, OptionError, SourceError
from workscope.ingest import _huawei as hw
from workscope.ingest.files import first_line, require_rows
from workscope.ingest.parse import (
    Parsed,
    attrs_json,
    build,
    check_header,
    parse_float,
    parse_int,
    parse_text,
    raw_row,
    scan_text_csv,
    src,
)
from workscope.ingest.reader import Reader, ScanContext, ScanResult, TablePart, flat, one_each
from workscope.ingest.timefmt import origin_meta
from workscope.options import Option

COLD_START = ["day", "time", "clusterName", "funcName", "userID", "requestID", "totalCost_cold_start",
              "podAllocationCost", "deployCodeCost", "deployDependencyCost", "schedulingCost", "podID"]
PER_REQUEST = ["time_worker", "time_frontend", "requestID", "clusterName", "funcName", "podID", "userID",
               "totalCost_worker", "workerCost", "runtimeCost", "totalCost_frontend", "frontendCost",
               "busCost", "readBodyCost", "writeRspCost", "cpu_usage", "memory_usage", "requestBodySize"]
RUNTIME = ["funcID", "cpu_request", "runtime", "triggerType-invocationType"]

COUNT_METRICS = {"requests": "count", "num_pods": "count", "num_cold_starts": "count"}
STAT_UNITS = {
    "busCost": "s", "deployCodeCost": "s", "deployDependencyCost": "s", "frontendCost": "s",
    "podAllocationCost": "s", "readBodyCost": "s", "runtimeCost": "s", "schedulingCost": "s",
    "totalCost": "s", "totalCost_cold_start": "s", "totalCost_frontend": "s", "workerCost": "s",
    "writeRspCost": "s", "cpu_usage": "cores", "memory_usage": "MB", "requestBodySize": "bytes",
}
STAT_RE = re.compile(
    r"^(" + "|".join(sorted(STAT_UNITS, key=len, reverse=True)) + r")_(avg|std|quantile_\d{3})$"
)
UNKNOWN = ("unknown",)


def _metric_unit(name: str) -> str | None:
    """Unit of a time-series folder name, or None if the name is not a 2025 metric."""
    if name in COUNT_METRICS:
        return COUNT_METRICS[name]
    m = STAT_RE.match(name)
    return STAT_UNITS[m.group(1)] if m else None


def _kind(header: list[str]) -> str | None:
    h = hw.strip_index(header)
    if "time_worker" in h:
        return "per_request"
    if "funcID" in h:
        return "runtime"
    if h[:2] == ["day", "time"]:
        if {"clusterName", "funcName", "podID", "totalCost_cold_start", "requestID"} & set(h):
            return "cold_start"
        return "series"
    return None


def _sniff_header(header: list[str]) -> bool:
    h = hw.strip_index(header)
    if h in (COLD_START, PER_REQUEST, RUNTIME):
        return True
    return len(h) > 2 and h[:2] == ["day", "time"] and all("---" in c for c in h[2:])


def _ident(p: Parsed) -> Parsed:
    """An anonymised integer id (funcName, userID) as canonical text ('10.0' -> '10')."""
    return p.map(lambda v: v.cast(pl.String))


def _metric_of(logical: PurePosixPath, given: str) -> str | None:
    for part in reversed(logical.parts[:-1]):
        if _metric_unit(part) is not None:
            return part
    return given or None


class Huawei2025Reader(Reader):
    """Huawei 2025 cold starts, per-request logs, runtimes and per-minute series."""

    name = "huawei_2025"
    version = "1"
    description = ("Huawei Cloud serverless 2025 (EuroSys'25): cold starts with cost components, "
                   "per-request logs, runtime/trigger table, per-function minute series")
    tables = ("invocations", "functions", "invocation_counts", "usage")
    doc_url = "https://github.com/sir-lab/data-release/blob/main/README_data_release_2025.md"
    options = {
        "metric": Option(str, "", "time-series folder name (e.g. requests, totalCost_quantile_050) for "
                                  "wide day,time,<funcID> files not inside such a folder"),
    }

    def sniff(self, path: Path) -> bool:
        heads = hw.sample_headers(path)
        return bool(heads) and all(_sniff_header(h) for h in heads)

    split = True
    meta_merged = ("file_kinds",)

    def select(self, paths: Sequence[Path], options: dict[str, Any] | None = None
               ) -> tuple[list[list[Path]], list[Path]]:
        return one_each(list(hw.walk(paths))), []

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        given = str(ctx.options.get("metric", "") or "")
        if given and _metric_unit(given) is None:
            raise OptionError(f"huawei_2025: option metric {given!r} is not a 2025 time-series folder "
                              "name such as requests, num_pods, num_cold_starts, totalCost_quantile_050 "
                              "or cpu_usage_avg")
        members = hw.expand(flat(self.select(paths)[0]), ctx)
        out: dict[str, list[TablePart]] = {}
        kinds: dict[str, int] = {}
        for m in members:
            header = hw.split_header(first_line(m.plain, m.display))
            kind = _kind(header)
            if kind is None:
                delim = (" (the header is one field: wrong delimiter?)"
                         if len(header) == 1 and any(d in header[0] for d in ";\t|") else "")
                raise MissingColumnError(
                    m.display, f"header {header[:8]} is none of the 2025 release's tables "
                               f"(cold_start, per_request, runtime_triggerType, quantiles){delim}",
                    line=1, hint="is this a Huawei 2025 file? pass --format to choose another reader")
            require_rows(m.plain, m.display)
            region = hw.region_of(m.logical)
            if kind == "cold_start":
                table, part = "invocations", self._cold_start(m, header, region)
            elif kind == "per_request":
                table, part = "invocations", self._per_request(m, header, region)
            elif kind == "runtime":
                table, part = "functions", self._runtime(m, header, region)
            else:
                table, part = self._series(m, header, given)
            kinds[kind] = kinds.get(kind, 0) + 1
            out.setdefault(table, []).append(part)

        meta = origin_meta(
            None, assumed_utc=False, resolution_s=0.001,
            note="time is seconds since the start of day 0 (ms precision); the release gives no "
                 "wall-clock date",
        )
        meta.update({
            "file_kinds": kinds,
            "cpu_unit": "millicores",
            "cpu_note": "invocations.cpu_millicores / memory_mb are the pool's CPU / memory limits "
                        "from the pool name; functions.cpu_millicores is cpu_request",
            "keep_alive_note": "pod deletion times were not released; the maintainers suggest a 60 s "
                               "keep-alive after a pod's last request (sir-lab/data-release#11)",
        })
        return ScanResult(out, list(dict.fromkeys(m.origin for m in members)), meta)

    # ------------------------------------------------------------------ tables
    @staticmethod
    def _open(
        m: hw.Member, header: list[str], required: list[str], what: str
    ) -> tuple[pl.LazyFrame, list[str]]:
        check_header(header, required, m.display, what=what)
        return scan_text_csv(m.plain, m.display)

    @staticmethod
    def _ids(pod: Parsed) -> tuple[Parsed, Parsed, Parsed, Parsed]:
        name = _ident(parse_int(src("funcName"), "funcName", required=True, allow_float=True))
        user = _ident(parse_int(src("userID"), "userID", required=True, allow_float=True))
        pool = hw.pool_from_pod(pod)
        fid = Parsed(hw.func_id(name.value, user.value, pool.value),
                     pl.coalesce(name.reason, user.reason, pool.reason))
        return name, user, pool, fid

    def _cold_start(self, m: hw.Member, header: list[str], region: str | None) -> TablePart:
        lf, names = self._open(m, header, COLD_START, "Huawei 2025 cold-start file")
        day = parse_int(src("day"), "day", required=True)
        cluster = parse_int(src("clusterName"), "clusterName")
        request = parse_text(src("requestID"), "requestID")
        pod = parse_text(src("podID"), "podID", required=True)
        name, user, pool, fid = self._ids(pod)
        costs = {
            "cold_start_s": parse_float(src("totalCost_cold_start"), "totalCost_cold_start"),
            "pod_alloc_s": parse_float(src("podAllocationCost"), "podAllocationCost"),
            "deploy_code_s": parse_float(src("deployCodeCost"), "deployCodeCost"),
            "deploy_deps_s": parse_float(src("deployDependencyCost"), "deployDependencyCost"),
            "scheduling_s": parse_float(src("schedulingCost"), "schedulingCost"),
        }
        fields: dict[str, Parsed | pl.Expr] = {
            "_day": day,
            "arrival_s": parse_float(src("time"), "time", required=True),
            "function_id": fid,
            "owner_id": user.value,
            "memory_mb": hw.pool_memory_mb(pool.value),
            "cpu_millicores": hw.pool_cpu_millicores(pool.value),
            "cold_start": pl.lit(True),
            **costs,
            "region": pl.lit(region, pl.String),
            "pod_id": pod,
            "attrs": Parsed(attrs_json({
                "day": day.value, "cluster": cluster.value, "request_id": request.value,
                "func_name": name.value, "pool": pool.value,
            }), pl.coalesce(cluster.reason, request.reason)),
        }
        return TablePart(build(lf, fields), raw_row(names), m.display)

    def _per_request(self, m: hw.Member, header: list[str], region: str | None) -> TablePart:
        lf, names = self._open(m, header, PER_REQUEST, "Huawei 2025 per-request file")
        cluster = parse_int(src("clusterName"), "clusterName")
        request = parse_text(src("requestID"), "requestID")
        pod = parse_text(src("podID"), "podID", required=True)
        name, user, pool, fid = self._ids(pod)
        extra = {
            "time_frontend_s": parse_float(src("time_frontend"), "time_frontend"),
            "worker_s": parse_float(src("workerCost"), "workerCost"),
            "runtime_s": parse_float(src("runtimeCost"), "runtimeCost"),
            "total_frontend_s": parse_float(src("totalCost_frontend"), "totalCost_frontend"),
            "frontend_s": parse_float(src("frontendCost"), "frontendCost"),
            "bus_s": parse_float(src("busCost"), "busCost"),
            "read_body_s": parse_float(src("readBodyCost"), "readBodyCost"),
            "write_rsp_s": parse_float(src("writeRspCost"), "writeRspCost"),
            "cpu_usage_cores": parse_float(src("cpu_usage"), "cpu_usage"),
            "memory_usage_mb": parse_float(src("memory_usage"), "memory_usage"),
            "request_body_bytes": parse_float(src("requestBodySize"), "requestBodySize"),
        }
        checks = [hw.nonneg_reason(p.value, k) for k, p in extra.items() if k != "time_frontend_s"]
        checks += [pl.when(p.value.is_nan()).then(pl.lit(f"{k} is NaN")) for k, p in extra.items()]
        attrs = {"cluster": cluster.value, "request_id": request.value, "func_name": name.value,
                 "pool": pool.value, **{k: p.value for k, p in extra.items()}}
        fields: dict[str, Parsed | pl.Expr] = {
            "arrival_s": parse_float(src("time_worker"), "time_worker", required=True),
            "function_id": fid,
            "owner_id": user.value,
            "duration_s": parse_float(src("totalCost_worker"), "totalCost_worker"),
            "memory_mb": hw.pool_memory_mb(pool.value),
            "cpu_millicores": hw.pool_cpu_millicores(pool.value),
            "region": pl.lit(region, pl.String),
            "pod_id": pod,
            "attrs": Parsed(attrs_json(attrs), pl.coalesce(
                cluster.reason, request.reason, *(p.reason for p in extra.values()))),
        }
        return TablePart(build(lf, fields, checks), raw_row(names), m.display)

    def _runtime(self, m: hw.Member, header: list[str], region: str | None) -> TablePart:
        lf, names = self._open(m, header, RUNTIME, "Huawei 2025 runtime / trigger-type file")
        fid = parse_text(src("funcID"), "funcID", required=True)
        fname, user, pool = hw.func_id_parts(fid.value)
        bad_id = pl.when(fid.value.is_not_null() & pool.is_null()).then(
            pl.lit("funcID: not funcName---userID---poolName"))
        cpu = parse_float(src("cpu_request"), "cpu_request")
        runtime = parse_text(src("runtime"), "runtime", nulls=UNKNOWN)
        trig = parse_text(src("triggerType-invocationType"), "triggerType-invocationType")
        # The trigger list itself may hold '-', so the invocation type is what follows the last one.
        trigger = trig.value.str.extract(r"^(.*)-[^-]*$", 1).fill_null(trig.value)
        invocation = trig.value.str.extract(r"-([^-]*)$", 1)
        fields: dict[str, Parsed | pl.Expr] = {
            "function_id": fid,
            "owner_id": user,
            "runtime": runtime,
            "trigger": Parsed(pl.when(trigger != "unknown").then(trigger), trig.reason),
            "cpu_millicores": cpu,
            "attrs": attrs_json({
                "func_name": fname, "pool": pool,
                "cpu_limit_millicores": hw.pool_cpu_millicores(pool),
                "memory_limit_mb": hw.pool_memory_mb(pool),
                "invocation_type": pl.when(invocation != "unknown").then(invocation),
                # The release ships this table for Region 2 only [doc].
                "region": pl.lit(region or "R2"),
            }),
        }
        return TablePart(build(lf, fields, [bad_id, hw.nonneg_reason(cpu.value, "cpu_request")]),
                         raw_row(names), m.display)

    def _series(self, m: hw.Member, header: list[str], given: str) -> tuple[str, TablePart]:
        metric = _metric_of(m.logical, given)
        if metric is None:
            raise SourceError(
                m.display, "cannot tell which metric this time-series file holds: it is not inside a "
                           "folder named like requests, num_pods or totalCost_quantile_050",
                hint="keep the release's folder layout, or pass the option metric=<folder name>")
        if len(hw.strip_index(header)) <= 2:
            raise SourceError(m.display, "no funcID columns after day,time", line=1,
                              hint="is this a Huawei 2025 time-series file?")
        lf, names = scan_text_csv(m.plain, m.display)
        cells = hw.unpivot_wide(lf, names)
        day = parse_int(src("day"), "day", required=True)
        time = parse_float(src("time"), "time", required=True)
        # Seconds since day 0 like every other 2025 time; a value below day * 86400 can only be
        # seconds since the start of its own day, so it is shifted (the files' own convention is
        # not documented beyond 0, 60, ...).
        t = pl.when(time.value < day.value * 86400).then(time.value + day.value * 86400).otherwise(time.value)
        func = pl.col(hw.FUNC_COL)
        _, user, _ = hw.func_id_parts(func)
        region = hw.region_of(m.logical)
        cell = pl.col(hw.CELL_COL)
        if metric == "requests":
            count = parse_int(cell, "count", allow_float=True)
            fields: dict[str, Parsed | pl.Expr] = {
                "_day": day,
                "window_start_s": Parsed(t, time.reason),
                "window_s": pl.lit(60.0),
                "function_id": func,
                "owner_id": user,
                "count": count,
            }
            return "invocation_counts", TablePart(build(cells, fields), hw.wide_raw(), m.display)
        value = parse_float(cell, metric)
        attrs = '{"window_s":60' + (f',"region":"{region}"' if region else "") + "}"
        fields = {
            "_day": day,
            "t_s": Parsed(t, time.reason),
            "entity_id": func,
            "metric": pl.lit(metric),
            "value": value,
            "unit": pl.lit(_metric_unit(metric), pl.String),
            "attrs": pl.lit(attrs),
        }
        return "usage", TablePart(build(cells, fields, [hw.nonneg_reason(value.value, metric)]),
                                  hw.wide_raw(), m.display)


READER = Huawei2025Reader()
