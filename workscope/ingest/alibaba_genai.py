"""Alibaba GenAI serving trace 2026 (GenTD26, ``cluster-trace-v2026-GenAI``).

Stable-Diffusion / LoRA serving data from Alibaba, published in repo alibaba/clusterdata,
directory ``cluster-trace-v2026-GenAI`` (README there; cite Lin et al., "Understanding
Diffusion Model Serving in Production", SoCC '25). Two kinds of file:

**Request trace** ``lora_request_trace.csv`` (also shipped as ``lora_request_trace.tar.gz``)
-> ``requests``. Header::

    gmt_create,predict_type,predict_status,exec_time_seconds,groupId,prompt_length,
    negative_prompt_length,num_images_per_prompt,num_inference_steps,
    checkpoint_model_version_id,num_lora

- ``gmt_create`` (``2024-11-15 16:57:50``, whole seconds, no zone, shifted by an anonymising
  offset) -> ``arrival_s`` since the earliest request; the zone is undocumented, so the
  origin is taken as UTC and the manifest says it was assumed.
- ``predict_type`` (TXT_2_IMG / IMG_2_IMG / INPAINTING) -> ``kind``; ``predict_status``
  (SUCCEED, FAILED, PENDING, PROCESSING) -> ``status`` verbatim; ``exec_time_seconds`` ->
  ``latency_s``; ``checkpoint_model_version_id`` -> ``model``.
- ``prompt_length`` -> ``input_tokens``. It is a **character** count (README), not tokens;
  the manifest says so (``input_tokens_unit``). Floats such as ``63.0`` are read as integers.
- ``groupId`` (anonymised user/group), ``negative_prompt_length`` (empty = none),
  ``num_images_per_prompt``, ``num_inference_steps`` and ``num_lora`` go into ``attrs`` as
  ``group_id``, ``negative_prompt_length``, ``num_images``, ``num_inference_steps``,
  ``num_lora``.

**Metric archives** (``*.tar.gz``, one CSV each; the extracted ``.csv`` is accepted too) ->
``usage``. Columns ``timestamp_anon,value,container_ip`` in an order that **differs per file**
(``value,timestamp_anon,container_ip``, ``value,container_ip,timestamp_anon``), so columns
are read by name; ``qps.csv`` adds ``request_type``. ``timestamp_anon`` is an anonymised
epoch-like float in seconds (~1.6629e9, a clock unrelated to ``gmt_create``): ``t_s`` counts
from the earliest ``timestamp_anon`` (kept in the manifest as ``usage_origin_timestamp_anon``).
``container_ip`` (MD5 of the container IP) -> ``entity_id``; empty, ``NULL`` or ``None``
(gateway-level samples: all of ``queue_size_raw``, the ``API Requests`` QPS) become the
``missing_entity`` option (default ``_unattributed``; set it to '' to reject such rows).
The metric is named from the member name, unit in the name, values converted to seconds
where the README gives milliseconds:

================================  ===============================  ========
member (``_anon`` dropped)        metric                           unit
================================  ===============================  ========
basemodel_update_latency          basemodel_update_latency_s       s (ms/1000)
controlnet_latency_data           controlnet_load_latency_s        s (ms/1000)
lora_update_latency               lora_update_latency_s            s (ms/1000)
pipeline_update_latency           pipeline_update_latency_s        s (ms/1000)
model_predict_data                model_predict_latency_s          s (ms/1000)
pipeline_inference_data           pipeline_inference_latency_s     s (ms/1000)
queue_rt_raw                      queue_time_s                     s (ms/1000)
queue_size_raw                    queue_size                       tasks
pod_memory_util                   memory_util                      fraction (README says
                                                                   percent; data is 0..1)
pod_gpu_duty_cycle                gpu_duty_cycle_pct               %
pod_gpu_memory_used_bytes         gpu_memory_used_bytes            bytes
qps                               qps_generative / qps_api         req/s (scaled)
================================  ===============================  ========

Any other member with the metric header keeps its stem as the metric name (unit null).
``qps.csv``'s ``request_type`` also stays in ``attrs``. Values are anonymised by scaling.

Quirks: ``data_trace_processed.tar.gz`` holds a request table **without any timestamp**
(``predict_type,exec_time_seconds,style_type,...,lora_args``) and a macOS ``._`` AppleDouble
junk member; it cannot fill ``requests`` (``arrival_s`` is required) and is skipped, listed
in the manifest under ``skipped``. ``._`` members are skipped everywhere. If both
``lora_request_trace.csv`` and ``lora_request_trace.tar.gz`` are given, the second copy is
skipped too. No licence is stated by the publisher.

With ``--engine spark`` each file is read in a task of its own; a first, light job reads
each CSV's head for what the files share (the two origins, the copies skipped, the metric
names), so the trace is the one an ingest on one machine builds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl

from workscope.errors import EmptySourceError, MissingColumnError, SourceError
from workscope.ingest.files import first_line, head_bytes, iter_files, plain_file, require_rows, tar_members
from workscope.ingest.parse import (
    Parsed,
    attrs_json,
    build,
    check_header,
    parse_datetime,
    parse_float,
    parse_int,
    parse_text,
    raw_row,
    scan_text_csv,
    src,
)
from workscope.ingest.reader import Reader, ScanContext, ScanResult, TablePart, flat, one_each
from workscope.ingest.timefmt import head_min_ns, origin_meta, seconds_since
from workscope.options import Option

REQUEST_COLUMNS = (
    "gmt_create", "predict_type", "predict_status", "exec_time_seconds", "groupId",
    "prompt_length", "negative_prompt_length", "num_images_per_prompt", "num_inference_steps",
    "checkpoint_model_version_id", "num_lora",
)
REQUEST_REQUIRED = ("gmt_create", "predict_type", "predict_status", "exec_time_seconds",
                    "prompt_length")
METRIC_COLUMNS = ("timestamp_anon", "value", "container_ip")
# The timestamp-less request table of data_trace_processed.csv (recognised to skip it).
UNTIMED_MARKERS = ("lora_args", "style_type")
TIME_FMT = "%Y-%m-%d %H:%M:%S%.f"

# member stem (``_anon`` dropped) -> (metric, unit, factor applied to value)
METRICS: dict[str, tuple[str, str | None, float]] = {
    "basemodel_update_latency": ("basemodel_update_latency_s", "s", 1e-3),
    "base_model_update_latency": ("basemodel_update_latency_s", "s", 1e-3),
    "controlnet_latency_data": ("controlnet_load_latency_s", "s", 1e-3),
    "lora_update_latency": ("lora_update_latency_s", "s", 1e-3),
    "pipeline_update_latency": ("pipeline_update_latency_s", "s", 1e-3),
    "model_predict_data": ("model_predict_latency_s", "s", 1e-3),
    "pipeline_inference_data": ("pipeline_inference_latency_s", "s", 1e-3),
    "queue_rt_raw": ("queue_time_s", "s", 1e-3),
    "queue_size_raw": ("queue_size", "tasks", 1.0),
    "pod_memory_util": ("memory_util", "fraction", 1.0),
    "pod_gpu_duty_cycle": ("gpu_duty_cycle_pct", "%", 1.0),
    "pod_gpu_memory_used_bytes": ("gpu_memory_used_bytes", "bytes", 1.0),
    "qps": ("qps", "req/s", 1.0),
}
MISSING_IP = ("NULL", "None", "null", "none")
_TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar")


def _stem(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    for suffix in (".gz", ".csv"):
        if base.lower().endswith(suffix):
            base = base[: -len(suffix)]
    return re.sub(r"_anon$", "", base)


def _split_header(line: str) -> list[str]:
    return [c.strip().strip('"') for c in line.split(",")]


def _header_kind(cols: Sequence[str]) -> str | None:
    """'requests', 'usage', 'untimed' or None for a header's column names."""
    have = set(cols)
    if "gmt_create" in have and "predict_type" in have:
        return "requests"
    if set(METRIC_COLUMNS) <= have:
        return "usage"
    if "predict_type" in have and any(m in have for m in UNTIMED_MARKERS):
        return "untimed"
    return None


def _sniff_tar(path: Path) -> bool:
    """Look at the first real member of a small tar(.gz) only (stream mode, no seeking)."""
    import tarfile

    try:
        with tarfile.open(path, "r|*") as tf:
            for i, m in enumerate(tf):
                if i > 4:
                    return False
                base = m.name.rsplit("/", 1)[-1]
                if not m.isfile() or base.startswith("."):
                    continue
                fin = tf.extractfile(m)
                if fin is None:
                    return False
                line = fin.read(4096).decode("utf-8", "replace").lstrip("\ufeff").splitlines()
                return bool(line) and _header_kind(_split_header(line[0])) is not None
    except (tarfile.TarError, OSError, EOFError):
        return False
    return False


class AlibabaGenAIReader(Reader):
    """Alibaba GenAI 2026 (GenTD26): LoRA request trace -> requests, metric archives -> usage."""

    name = "alibaba_genai"
    version = "1"
    description = ("Alibaba GenAI serving 2026 (GenTD26): lora_request_trace.csv -> requests, "
                   "metric *.tar.gz (timestamp_anon,value,container_ip) -> usage")
    tables = ("requests", "usage")
    doc_url = "https://github.com/alibaba/clusterdata/tree/master/cluster-trace-v2026-GenAI"
    options = {
        "missing_entity": Option(
            str, "_unattributed",
            "entity_id for metric samples with an empty/NULL container_ip (gateway-level "
            "samples such as queue size and API-request QPS); '' rejects such rows"),
    }

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            names = {p.name for p in path.iterdir()}
            if "lora_request_trace.csv" in names or "lora_request_trace.tar.gz" in names:
                return True
            candidates = sorted(p for p in path.iterdir()
                                if p.name.endswith((".csv", ".tar.gz")) and not p.name.startswith("."))
            return any(self.sniff(p) for p in candidates[:3])
        if path.name.endswith(_TAR_SUFFIXES):
            return _sniff_tar(path)
        lines = head_bytes(path, 4096).decode("utf-8", "replace").lstrip("\ufeff").splitlines()
        if not lines:
            return False
        cols = _split_header(lines[0])
        kind = _header_kind(cols)
        # Exact header shapes only, so other traces' CSVs never match.
        if kind == "requests":
            return set(REQUEST_REQUIRED) <= set(cols)
        if kind == "usage":
            return len(cols) <= len(METRIC_COLUMNS) + 1
        return False

    split = True

    def select(self, paths: Sequence[Path], options: dict[str, Any] | None = None
               ) -> tuple[list[list[Path]], list[Path]]:
        # a task per file: each metric archive holds one metric, the request trace is one file
        files = list(iter_files(paths))
        if not files:
            raise _nothing(str(paths[0]) if paths else "?", [])
        return one_each(files), []

    def facts(self, paths: Sequence[Path], ctx: ScanContext) -> dict[str, Any]:
        """Per CSV member: its kind, name and the earliest time of its head (the origins)."""
        return _facts(self._members(paths, ctx))

    def shared_facts(self, metas: list[dict[str, Any]]) -> dict[str, Any]:
        """Over all files: which members are skipped (timestamp-less, a second copy of the
        request trace), the request origin, the usage origin and the metrics' names."""
        members = [m for meta in metas for m in meta["members"]]
        skipped: list[dict[str, str]] = []
        seen: set[str] = set()
        kept = []
        for m in members:
            if m["kind"] == "untimed":
                skipped.append({"file": m["file"], "why": "request table without timestamps "
                                "(requests need arrival_s)"})
            elif m["kind"] == "requests" and m["base"] in seen:
                skipped.append({"file": m["file"], "why": f"second copy of {m['base']}"})
            else:
                if m["kind"] == "requests":
                    seen.add(m["base"])
                kept.append(m)
        if not kept:
            raise _nothing(members[0]["file"], skipped)
        req = [m["head"] for m in kept if m["kind"] == "requests" and m["head"] is not None]
        usage = [m for m in kept if m["kind"] == "usage"]
        firsts = [m["head"] for m in usage if m["head"] is not None]
        return {
            "skipped": skipped,
            "requests": any(m["kind"] == "requests" for m in kept),
            "origin_ns": min(req) if req else None,
            # whole seconds: the published values are, and a round origin keeps t_s exact
            "usage_origin": float(int(min(firsts))) if firsts else 0.0,
            "usage_metrics": {m["stem"]: m["metric"] for m in usage},
        }

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        files = list(iter_files(paths))
        members = self._members(paths, ctx)
        # what all the files share: given to each task of a cluster ingest, else found here
        shared = ctx.shared or self.shared_facts([_facts(members)])
        skip = {s["file"] for s in shared["skipped"]}
        requests = [m for m in members if m.kind == "requests" and m.display not in skip]
        usage = [m for m in members if m.kind == "usage"]
        tables: dict[str, list[TablePart]] = {}
        if requests:
            tables["requests"] = self._requests(requests, shared["origin_ns"] or 0)
        if usage:
            tables["usage"] = self._usage(usage, str(ctx.options["missing_entity"]), shared["usage_origin"])
        meta: dict[str, object] = {}
        if shared["requests"]:
            meta.update(origin_meta(shared["origin_ns"], assumed_utc=True, resolution_s=1.0,
                                    note="gmt_create carries no zone and is shifted by an anonymising "
                                         "offset; taken as UTC"))
            meta["input_tokens_unit"] = "characters (prompt_length), not tokens"
        if shared["usage_metrics"]:
            meta.update({
                "usage_origin_timestamp_anon": shared["usage_origin"],
                "usage_time_note": "usage t_s = timestamp_anon - usage_origin_timestamp_anon; "
                                   "timestamp_anon is an anonymised clock unrelated to gmt_create",
                "usage_metrics": shared["usage_metrics"],
                "usage_missing_entity": str(ctx.options["missing_entity"]) or None,
            })
            if not shared["requests"]:
                meta.update(origin_meta(None, assumed_utc=False, resolution_s=1.0,
                                        note="usage t_s counts from the earliest timestamp_anon "
                                             "(anonymised clock; see usage_origin_timestamp_anon)"))
        if shared["skipped"]:
            meta["skipped"] = shared["skipped"]
        return ScanResult(tables, files, meta)

    def _members(self, paths: Sequence[Path], ctx: ScanContext) -> list[_Member]:
        """Every CSV behind ``paths`` (archives unpacked), checked."""
        out: list[_Member] = []
        for f in flat(self.select(paths, ctx.options)[0]):
            if f.name.endswith(_TAR_SUFFIXES):
                members = tar_members(f, ctx, keep=lambda m: m.lower().endswith((".csv", ".csv.gz")))
                if not members:
                    raise SourceError(f, "archive holds no CSV member",
                                      hint="pass a GenTD26 metric archive or lora_request_trace.csv")
                staged = [(f"{f}[{m}]", m, plain_file(p, ctx)) for m, p in members]
            else:
                staged = [(str(f), f.name, plain_file(f, ctx))]
            for display, member, plain in staged:
                header = _split_header(first_line(plain, display))
                kind = _header_kind(header)
                if kind is None:
                    raise MissingColumnError(
                        display,
                        f"not a GenTD26 file: header {header[:12]} has neither the request "
                        f"columns (gmt_create, predict_type, ...) nor {', '.join(METRIC_COLUMNS)}",
                        line=1, hint="pass lora_request_trace.csv or the metric *.tar.gz archives")
                if kind == "requests":
                    check_header(header, REQUEST_REQUIRED, display, what="GenTD26 lora_request_trace.csv")
                if kind != "untimed":
                    require_rows(plain, display)
                out.append(_Member(display, member.rsplit("/", 1)[-1], plain, kind))
        return out

    # ------------------------------------------------------------------ requests
    @staticmethod
    def _requests(sources: list[_Member], origin_ns: int) -> list[TablePart]:
        ts = _request_time()
        parts = []
        for m in sources:
            lf, names = scan_text_csv(m.plain, m.display)
            have = set(names)

            def col(name: str) -> pl.Expr:
                return src(name) if name in have else pl.lit(None, pl.String)

            group = parse_text(col("groupId"), "groupId")
            neg = parse_int(col("negative_prompt_length"), "negative_prompt_length", allow_float=True)
            images = parse_int(col("num_images_per_prompt"), "num_images_per_prompt", allow_float=True)
            steps = parse_int(col("num_inference_steps"), "num_inference_steps", allow_float=True)
            loras = parse_int(col("num_lora"), "num_lora", allow_float=True)
            attrs = attrs_json({
                "group_id": group.value, "negative_prompt_length": neg.value,
                "num_images": images.value, "num_inference_steps": steps.value,
                "num_lora": loras.value,
            })
            fields: dict[str, Parsed | pl.Expr] = {
                "arrival_s": ts.map(lambda v: seconds_since(v, origin_ns)),
                "kind": parse_text(col("predict_type"), "predict_type", required=True),
                "status": parse_text(col("predict_status"), "predict_status"),
                "latency_s": parse_float(col("exec_time_seconds"), "exec_time_seconds"),
                "input_tokens": parse_int(col("prompt_length"), "prompt_length", allow_float=True),
                "model": parse_text(col("checkpoint_model_version_id"), "checkpoint_model_version_id"),
                "attrs": attrs,
            }
            extra = [group.reason, neg.reason, images.reason, steps.reason, loras.reason]
            extra += [pl.when(p.value < 0).then(pl.lit(f"{label} is negative"))
                      for p, label in ((neg, "negative_prompt_length"), (images, "num_images_per_prompt"),
                                       (steps, "num_inference_steps"), (loras, "num_lora"))]
            parts.append(TablePart(build(lf, fields, extra), raw_row(names), m.display))
        return parts

    # ------------------------------------------------------------------ usage
    @staticmethod
    def _usage(sources: list[_Member], missing_entity: str, origin: float) -> list[TablePart]:
        ts = _anon_time()
        parts = []
        for m in sources:
            lf, names = scan_text_csv(m.plain, m.display)
            metric, unit, factor = _metric(m.base)
            value = parse_float(src("value"), "value", required=True)
            ip = parse_text(src("container_ip"), "container_ip", nulls=MISSING_IP)
            entity = ip.value
            if missing_entity:
                entity = pl.coalesce(ip.value, pl.lit(missing_entity))
            fields: dict[str, Parsed | pl.Expr] = {
                "t_s": ts.map(lambda v: v - origin),
                "entity_id": Parsed(entity, ip.reason),
                "value": value.map(lambda v: v * factor if factor != 1.0 else v),
                "unit": pl.lit(unit, pl.String),
            }
            if "request_type" in names:
                rtype = parse_text(src("request_type"), "request_type")
                slug = (rtype.value.str.to_lowercase().str.replace_all(r"[^a-z0-9]+", "_")
                        .str.strip_chars("_").str.replace(r"_requests?$", ""))
                fields["metric"] = Parsed(
                    pl.when(slug.is_null() | (slug == "")).then(pl.lit(metric))
                    .otherwise(pl.lit(metric + "_") + slug), rtype.reason)
                fields["attrs"] = attrs_json({"request_type": rtype.value})
            else:
                fields["metric"] = pl.lit(metric, pl.String)
            parts.append(TablePart(build(lf, fields), raw_row(names), m.display))
        return parts


class _Member(NamedTuple):
    """A CSV behind the sources."""

    display: str
    base: str
    """its file or member name, without folders"""
    plain: Path
    kind: str
    """requests, usage or untimed (:func:`_header_kind`)"""


def _request_time() -> Parsed:
    """A request's ``gmt_create``, parsed."""
    return parse_datetime(src("gmt_create"), "gmt_create", TIME_FMT, required=True)


def _anon_time() -> Parsed:
    """A metric sample's ``timestamp_anon``, parsed."""
    return parse_float(src("timestamp_anon"), "timestamp_anon", required=True)


def _metric(base: str) -> tuple[str, str | None, float]:
    """The metric of a metric file or member, named from its stem: name, unit, factor."""
    stem = _stem(base)
    return METRICS.get(stem, (stem, None, 1.0))


def _nothing(where: str, skipped: list[dict[str, str]]) -> EmptySourceError:
    """The error for sources with no file to ingest."""
    return EmptySourceError(
        where, "no ingestible GenTD26 file found"
        + (f" (skipped: {', '.join(s['file'] for s in skipped)})" if skipped else ""),
        hint="pass lora_request_trace.csv and/or the metric *.tar.gz archives")


def _facts(members: list[_Member]) -> dict[str, Any]:
    """:meth:`AlibabaGenAIReader.facts` of checked members."""
    ts_req, ts = _request_time(), _anon_time()
    out = []
    for member in members:
        m: dict[str, Any] = {"file": member.display, "kind": member.kind, "head": None, "base": member.base}
        if member.kind == "requests":
            m["head"] = head_min_ns(scan_text_csv(member.plain, member.display)[0], ts_req)
        elif member.kind == "usage":
            lf, names = scan_text_csv(member.plain, member.display)
            head = lf.head(10_000).select(ts.value.filter(ts.value.is_finite()).min()).collect().item()
            m["head"] = None if head is None else float(head)
            metric = _metric(member.base)[0]
            m["stem"] = _stem(member.base)
            m["metric"] = f"{metric}_<request_type>" if "request_type" in names else metric
        out.append(m)
    return {"members": out}


READER = AlibabaGenAIReader()
