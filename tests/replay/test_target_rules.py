"""The input rules of replay targets that cannot be installed here, checked on our exports.

Each ``*_violations`` function restates, in our own words, what the target's loader does with
a file (read in the target's published source at the version or commit named in its
docstring) and returns the problems it would hit: a refusal, a crash, or rows silently lost.
Each target is then exported from real sample traces and from awkward fixtures, and the
result must have no violation. Every checker is also shown to catch the defect it exists for
(a negative control), so none of these tests can pass vacuously.
"""

from __future__ import annotations

import csv
import json
import math
import shlex
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest

import workscope
from workscope.replay.exporters import registry
from workscope.replay.workload import Workload
from workscope.schemas import conform_exprs

HERE = Path(__file__).parent
SAMPLES = HERE.parent.parent / "workscope" / "samples"
DATA = HERE.parent / "data"


def export(target: str, wl: Workload, out: Path, **options: Any) -> Any:
    exporter = registry.get(target)
    return exporter.write(wl, out, exporter.resolve_options(options))


def make(table: str, **cols: list) -> Workload:
    df = pl.DataFrame(cols, strict=False)
    meta = {"source_trace": "rules", "origin_utc": "2024-01-01T00:00:00+00:00", "transforms": [],
            "hash_block_tokens": None}
    return Workload(table, df.lazy().select(conform_exprs(table, df.schema)), meta)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> workscope.Store:
    s = workscope.open(tmp_path_factory.mktemp("rules") / "s")
    s.ingest(SAMPLES / "swf", format="swf", name="nasa")
    s.ingest(SAMPLES / "alibaba_openb" / "openb_pod_list_default.csv", format="alibaba_openb", name="ob")
    s.ingest(SAMPLES / "azure_llm_2023", format="azure_llm", name="az")
    s.ingest(DATA / "burstgpt" / "BurstGPT_1.csv", format="burstgpt", name="bg1")
    s.ingest(DATA / "mooncake", format="mooncake", name="mc")
    s.ingest(SAMPLES / "azure_functions_2021", format="azure_functions_2021", name="az21")
    return s


def wl_of(store: workscope.Store, name: str) -> Workload:
    return Workload.from_trace(store.trace(name))


def zero_length_jobs() -> Workload:
    """Jobs Batsim and OpenDC find awkward: zero run time, no walltime, only a run_s."""
    return make("jobs", job_id=["z", "w", "r"], submit_s=[0.0, 1.0, 2.0], start_s=[5.0, 1.0, None],
                end_s=[5.0, 3.0, None], run_s=[None, None, 9.0], runtime_req_s=[None, 0.0, None],
                nodes=[1, 2, 1], cpu_req=[1.0, 2.0, 1.0], mem_req_mb=[100.0, None, 2.5])


# ------------------------------------------------------------------------------------ Batsim
def batsim_violations(doc: dict[str, Any], version: int) -> list[str]:
    """What Batsim's workload loader refuses.

    Read in oar-team/batsim ``src/workload.cpp`` (``nb_res``), ``src/jobs.cpp``
    (``Job::from_json``) and ``src/profiles.cpp`` (``Profile::from_json``) at tag v4.2.0
    (commit 194c926d4c9c9c83340ef9d5ba17ad47e8b3b67e) for ``version`` 4 and at main (commit
    ba7ea85fa20e81415e2f52290b56120192504553, 2026-06-19) for 5: ``nb_res`` an integer > 0;
    a job's ``id`` a string or integer, ``subtime`` a number, ``walltime`` absent or a number
    that is > 0 (4.2 also takes -1), ``res`` an integer >= 0, ``profile`` the name of a
    profile; a delay profile is ``{"type": "delay"}`` in 4.2 and ``"DelayProfile"`` in 5 (any
    other type name is refused as unknown), with a number ``delay`` > 0.
    """
    bad = []
    nb_res = doc.get("nb_res")
    if not (isinstance(nb_res, int) and not isinstance(nb_res, bool) and nb_res > 0):
        bad.append(f"nb_res {nb_res!r}")
    delay_type = {4: "delay", 5: "DelayProfile"}[version]
    for name, prof in doc.get("profiles", {}).items():
        if prof.get("type") != delay_type:
            bad.append(f"profile {name}: type {prof.get('type')!r} unknown to Batsim {version}")
        delay = prof.get("delay")
        if not (isinstance(delay, (int, float)) and delay > 0):
            bad.append(f"profile {name}: non-strictly-positive delay {delay!r}")
    for job in doc.get("jobs", []):
        jid = job.get("id")
        if not isinstance(jid, (str, int)):
            bad.append(f"job id {jid!r}")
        if not isinstance(job.get("subtime"), (int, float)):
            bad.append(f"job {jid}: subtime {job.get('subtime')!r}")
        if "walltime" in job:
            w = job["walltime"]
            ok = isinstance(w, (int, float)) and (w > 0 or (version == 4 and w == -1))
            if not ok:
                bad.append(f"job {jid}: invalid walltime {w!r}")
        res = job.get("res")
        if not (isinstance(res, int) and res >= 0):
            bad.append(f"job {jid}: res {res!r}")
        if job.get("profile") not in doc.get("profiles", {}):
            bad.append(f"job {jid}: profile {job.get('profile')!r} does not exist")
    return bad


@pytest.mark.parametrize("version", [4, 5])
def test_batsim_accepts_our_exports(tmp_path: Path, store: workscope.Store, version: int) -> None:
    for name, wl in (("nasa", wl_of(store, "nasa")), ("zero", zero_length_jobs())):
        out = tmp_path / f"{name}.json"
        result = export("batsim", wl, out, batsim_version=version)
        doc = json.loads(out.read_text())
        assert batsim_violations(doc, version) == []
        assert len(doc["jobs"]) == result.rows == wl.collect().height  # zero-length jobs are kept
    zero = json.loads((tmp_path / "zero.json").read_text())
    assert [zero["profiles"][j["profile"]]["delay"] for j in zero["jobs"]] == [0.001, 2.0, 9.0]
    assert all("walltime" not in j for j in zero["jobs"])  # unknown or 0: left out


def test_batsim_rules_catch_the_old_defects() -> None:
    old = {"nb_res": 1, "profiles": {"delay_0": {"type": "delay", "delay": 0.0}},
           "jobs": [{"id": "1", "subtime": 0.0, "res": 1, "walltime": -1.0, "profile": "delay_0"}]}
    assert batsim_violations(old, 4) == ["profile delay_0: non-strictly-positive delay 0.0"]
    assert batsim_violations(old, 5) == ["profile delay_0: type 'delay' unknown to Batsim 5",
                                         "profile delay_0: non-strictly-positive delay 0.0",
                                         "job 1: invalid walltime -1.0"]


# ------------------------------------------------------------------------------------ OpenDC
OPENDC_TASK_COLUMNS = {
    # name: (parquet physical type, required) -- TASK_SCHEMA_V3 of TaskSchemas.kt
    "id": ("INT32", True), "name": ("BYTE_ARRAY", False), "submission_time": ("INT64", True),
    "duration": ("INT64", True), "cpu_count": ("INT32", True), "cpu_capacity": ("DOUBLE", True),
    "mem_capacity": ("INT64", True), "gpu_count": ("INT32", False), "gpu_capacity": ("DOUBLE", False),
    "parents": ("INT32", False), "children": ("INT32", False), "deferrable": ("BOOLEAN", False),
    "deadline": ("INT64", False),
}
OPENDC_FRAGMENT_COLUMNS = {"id": ("INT32", True), "duration": ("INT64", True), "cpu_usage": ("DOUBLE", True),
                           "gpu_usage": ("DOUBLE", False)}


def _parquet_columns(path: Path) -> dict[str, tuple[str, bool]]:
    schema = pq.ParquetFile(path).schema
    out = {}
    for i in range(len(schema)):
        col = schema.column(i)
        top = col.path.split(".")[0]
        out[top] = (col.physical_type, col.max_definition_level == 0)
    return out


def opendc_violations(workload_dir: Path) -> list[str]:
    """What OpenDC's parquet workload reader and ComputeWorkloadLoader do with a trace.

    Read in atlarge-research/opendc main (commit 691036deb92b9e236d1a33c6f3066f98a96ba0e6,
    2026-07-20): ``TaskSchemas.kt`` / ``FragmentSchemas.kt`` give the columns and types;
    ``TaskRecordMaterializer.kt`` fails on a column it does not know ("Unknown column");
    ``ComputeWorkloadLoader.kt`` skips a task whose id has no fragment.
    """
    bad = []
    for fname, want in (("tasks.parquet", OPENDC_TASK_COLUMNS), ("fragments.parquet", OPENDC_FRAGMENT_COLUMNS)):
        have = _parquet_columns(workload_dir / fname)
        for col in set(have) - set(want):
            bad.append(f"{fname}: unknown column {col}")
        for col, (ptype, required) in want.items():
            if col in have and have[col][0] != ptype:
                bad.append(f"{fname}: {col} is {have[col][0]}, not {ptype}")
            if required and have.get(col, ("", False))[1] is not True:
                bad.append(f"{fname}: required column {col} missing or optional")
    tasks = pl.read_parquet(workload_dir / "tasks.parquet")
    frags = pl.read_parquet(workload_dir / "fragments.parquet")
    lost = set(tasks["id"].to_list()) - set(frags["id"].to_list())
    if lost:
        bad.append(f"{len(lost)} tasks have no fragment (skipped by the loader)")
    return bad


def test_opendc_accepts_our_exports_and_reads_memory_in_mb(tmp_path: Path, store: workscope.Store) -> None:
    for name, wl in (("nasa", wl_of(store, "nasa")), ("ob", wl_of(store, "ob")), ("zero", zero_length_jobs())):
        export("opendc", wl, tmp_path / name)
        assert opendc_violations(tmp_path / name) == []
    # the loader divides mem_capacity (KB) by 1000 and rounds: it gets the trace's MB back
    src = wl_of(store, "ob").collect().select(pl.col("job_id").alias("name"), "mem_req_mb")
    tasks = pl.read_parquet(tmp_path / "ob" / "tasks.parquet").join(src, on="name", how="left")
    assert tasks.height == 7221 and tasks["mem_req_mb"].null_count() == 0  # 931 censored pods left out
    loaded_mb = (tasks["mem_capacity"] / 1000.0).round(0)
    assert loaded_mb.to_list() == tasks["mem_req_mb"].round(0).to_list()
    assert tasks["mem_capacity"].median() > 1_000_000  # GiB-sized pods: millions of KB, not thousands
    zero = pl.read_parquet(tmp_path / "zero" / "tasks.parquet")
    assert zero["duration"].to_list() == [0, 2000, 9000]  # run_s used where the start is unknown
    assert zero["mem_capacity"].to_list() == [100_000, 0, 2_500]


def test_opendc_rules_catch_the_old_schema(tmp_path: Path) -> None:
    export("opendc", zero_length_jobs(), tmp_path / "o")
    tasks = pq.read_table(tmp_path / "o" / "tasks.parquet")
    old = tasks.drop_columns(["deferrable"]).append_column("nature", pl.Series([None] * 3, dtype=pl.String)
                                                           .to_arrow())
    pq.write_table(old, tmp_path / "o" / "tasks.parquet")
    assert opendc_violations(tmp_path / "o") == ["tasks.parquet: unknown column nature"]


# ------------------------------------------------------------------------------------ vLLM BurstGPT
def vllm_burstgpt_rows(path: Path) -> pd.DataFrame:
    """The rows vLLM's ``--dataset-name burstgpt`` samples from a file.

    Read in vllm-project/vllm ``vllm/benchmarks/datasets.py`` (commit
    0056b87fc1fda2642f39dda4392824c425dd1638), ``BurstGPTDataset.load_data``: ``pd.read_csv``,
    keep ``Model == "GPT-4"``, drop ``Response tokens <= 0``.
    """
    df = pd.read_csv(path)
    df = df[df["Model"] == "GPT-4"]
    return df[df["Response tokens"] > 0]


def test_vllm_burstgpt_keeps_rows_of_our_exports(tmp_path: Path, store: workscope.Store) -> None:
    for name in ("az", "mc", "bg1"):
        out = tmp_path / f"{name}.csv"
        export("burstgpt", wl_of(store, name), out)
        src = store.trace(name).scan("requests").collect()
        kept = vllm_burstgpt_rows(out)
        if name == "bg1":  # BurstGPT itself: the rows that are GPT-4 in the source
            want = src.filter((pl.col("model") == "GPT-4") & (pl.col("output_tokens") > 0)).height
        else:  # traces without model names: every answered request
            want = src.filter(pl.col("output_tokens") > 0).height
        assert len(kept) == want > 0
        assert set(pd.read_csv(out)["Log Type"]) <= {"Conversation log", "API log"}


def test_vllm_burstgpt_rule_catches_the_old_defect(tmp_path: Path) -> None:
    old = tmp_path / "old.csv"
    old.write_text("Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n1,,10,5,15,conv\n")
    assert len(vllm_burstgpt_rows(old)) == 0


# ------------------------------------------------------------------------------------ Vidur
def vidur_requests(command: str) -> list[tuple[float, int, int]]:
    """The requests Vidur builds from an export, run with the exported command's flags.

    Read in vidur 0.0.26 (the PyPI wheel) and microsoft/vidur main (commit
    7d47513363ec447a741ac5e47241580b47724fbf), ``trace_replay_request_generator.py`` and
    ``config.py``: 0.0.26 reads ``Date,Time,PromptTokenCount,CompletionTokenCount``, keeps
    rows whose Date equals the ``date`` flag (default 2023-08-21) and has default scale
    factors time 0.04, prefill 0.3, decode 1; main reads ``arrived_at,num_prefill_tokens,
    num_decode_tokens`` with factors 1. Both scale tokens, cast to int, clip to >= 1, cut the
    prefill above max_tokens (default 4096) and scale the time.
    """
    words = shlex.split(command)
    flags = {w[len("--trace_request_generator_config_"):]: words[i + 1] for i, w in enumerate(words)
             if w.startswith("--trace_request_generator_config_")}
    df = pd.read_csv(flags["trace_file"])
    if "Date" in df.columns:  # 0.0.26
        df = df[df["Date"] == flags.get("date", "2023-08-21")]
        t, pre, dec = "Time", "PromptTokenCount", "CompletionTokenCount"
        defaults = {"time_scale_factor": 0.04, "prefill_scale_factor": 0.3, "decode_scale_factor": 1.0}
    else:
        t, pre, dec = "arrived_at", "num_prefill_tokens", "num_decode_tokens"
        defaults = {"time_scale_factor": 1.0, "prefill_scale_factor": 1.0, "decode_scale_factor": 1.0}
    f = {k: float(flags.get(k, v)) for k, v in defaults.items()}
    max_tokens = int(flags.get("max_tokens", 4096))
    out = []
    for _, row in df.iterrows():
        p = max(int(row[pre] * f["prefill_scale_factor"]), 1)
        d = max(int(row[dec] * f["decode_scale_factor"]), 1)
        p -= max(p + d - max_tokens, 0)
        out.append((float(row[t]) * f["time_scale_factor"], p, d))
    return out


@pytest.mark.parametrize("layout", ["pypi", "source"])
def test_vidur_replays_our_exports_as_recorded(tmp_path: Path, store: workscope.Store, layout: str) -> None:
    out = tmp_path / "v.csv"
    result = export("vidur", wl_of(store, "az"), out, layout=layout)
    src = store.trace("az").scan("requests").sort("arrival_s", maintain_order=True).collect()
    got = vidur_requests(result.command)
    t0 = src["arrival_s"][0]
    want = [(a - t0, max(i, 1), max(o, 1)) for a, i, o in
            zip(src["arrival_s"], src["input_tokens"], src["output_tokens"], strict=True)]
    assert len(got) == len(want) == src.height
    assert all(math.isclose(g[0], w[0], abs_tol=1e-9) and g[1:] == w[1:] for g, w in zip(got, want, strict=True))


def test_vidur_rule_catches_the_old_defect(tmp_path: Path) -> None:
    """The old export (source layout, no date or factor flags) loses every row under vidur 0.0.26."""
    old = tmp_path / "old.csv"
    old.write_text("Date,Time,PromptTokenCount,CompletionTokenCount\n2024-01-01,10.0,100,5\n")
    assert vidur_requests(f"python -m vidur.main --trace_request_generator_config_trace_file {old}") == []
    old.write_text("Date,Time,PromptTokenCount,CompletionTokenCount\n2023-08-21,10.0,100,5\n")
    assert vidur_requests(f"python -m vidur.main --trace_request_generator_config_trace_file {old}") == \
        [(0.4, 30, 5)]  # rescaled by Vidur's defaults


# ------------------------------------------------------------------------------------ SGLang
def sglang_mooncake_violations(path: Path, block: int = 512) -> list[str]:
    """What SGLang's Mooncake replay needs from a file.

    Read in sgl-project/sglang ``python/sglang/benchmark/datasets/mooncake.py`` (commit
    17481b4e6a151e7283edf0cb4952166710b04ab4): every non-blank line is a JSON object; records
    are sorted by ``timestamp`` (ms) and replayed at ``(timestamp - first) / 1000`` s; the
    prompt is built from ``hash_ids`` only (one block per id) and ``output_length`` is the
    requested output. ``input_length`` is ignored by SGLang; the Mooncake convention it
    relies on is ``len(hash_ids) == ceil(input_length / 512)``.
    """
    bad = []
    last = -math.inf
    for n, line in enumerate(path.read_text().splitlines(), 1):
        rec = json.loads(line)
        if not isinstance(rec.get("timestamp"), (int, float)):
            bad.append(f"line {n}: timestamp")
        elif rec["timestamp"] < last:
            bad.append(f"line {n}: out of order (SGLang re-sorts)")
        last = rec.get("timestamp", last)
        if not (isinstance(rec.get("output_length"), int) and rec["output_length"] >= 0):
            bad.append(f"line {n}: output_length")
        ids = rec.get("hash_ids")
        if not isinstance(ids, list) or len(ids) != math.ceil(rec.get("input_length", 0) / block):
            bad.append(f"line {n}: hash_ids do not cover input_length")
    return bad


def test_sglang_accepts_our_exports(tmp_path: Path, store: workscope.Store) -> None:
    for name in ("mc", "az"):
        out = tmp_path / f"{name}.jsonl"
        export("sglang_mooncake", wl_of(store, name), out)
        assert sglang_mooncake_violations(out) == []
        src = store.trace(name).scan("requests").sort("arrival_s", maintain_order=True).collect()
        recs = [json.loads(x) for x in out.read_text().splitlines()]
        replay_s = [(r["timestamp"] - recs[0]["timestamp"]) / 1000.0 for r in recs]
        want = (src["arrival_s"] - src["arrival_s"][0]).to_list()
        assert all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(replay_s, want, strict=True))


def test_sglang_rule_catches_missing_blocks(tmp_path: Path) -> None:
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"timestamp":5,"input_length":1000,"output_length":3,"hash_ids":[1]}\n'
                   '{"timestamp":1,"input_length":10,"output_length":3,"hash_ids":[2]}\n')
    assert sglang_mooncake_violations(bad) == ["line 1: hash_ids do not cover input_length",
                                              "line 2: out of order (SGLang re-sorts)"]


# ------------------------------------------------------------------------------------ InVitro
INVITRO_DURATION_COLUMNS = ("HashOwner", "HashApp", "HashFunction", "Average", "Count", "Minimum", "Maximum",
                            *(f"percentile_Average_{p}" for p in (0, 1, 25, 50, 75, 99, 100)))
INVITRO_MEMORY_COLUMNS = ("HashOwner", "HashApp", "HashFunction", "SampleCount", "AverageAllocatedMb",
                          *(f"AverageAllocatedMb_pct{p}" for p in (1, 5, 25, 50, 75, 95, 99, 100)))


def invitro_violations(trace_dir: Path, duration: int) -> list[str]:
    """What InVitro's Azure trace parser does with a trace directory.

    Read in vhive-serverless/invitro ``pkg/trace/azure_trace_parser.go`` (commit
    400723fee3911ce87521622b7ad4a20572a271ff) and ``pkg/common/trace_types.go`` (commit
    00d2d18b9e3ef96e370f9c0f706d0b365005102b): ``invocations.csv`` has HashOwner, HashApp,
    HashFunction (and Trigger) among its first four header cells, the counts start after
    Trigger and each of the first min(duration, 1440) count cells must parse with
    ``strconv.Atoi``; a function's name takes ``HashFunction[0:18]`` (shorter panics);
    ``durations.csv`` / ``memory.csv`` are read by gocsv into the struct tags below (numbers
    as float64) and joined by HashFunction, so every invoked function must be in both.
    """
    bad = []
    with open(trace_dir / "invocations.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    head = [c.lower() for c in rows[0][:4]]
    for need in ("hashowner", "hashapp", "hashfunction"):
        if need not in head:
            bad.append(f"invocations.csv: no {need} in the first four columns")
    first = head.index("trigger") + 1 if "trigger" in head else 3
    fn_col = head.index("hashfunction") if "hashfunction" in head else 2
    cols = max(min(duration, 1440), 1)
    functions = set()
    for n, row in enumerate(rows[1:], 2):
        functions.add(row[fn_col])
        if len(row[fn_col]) < 18:
            bad.append(f"invocations.csv line {n}: HashFunction shorter than 18")
        cells = row[first:first + cols]
        if len(cells) < cols or not all(c.lstrip("-").isdigit() for c in cells):
            bad.append(f"invocations.csv line {n}: a count is missing or not an integer")
    for fname, want in (("durations.csv", INVITRO_DURATION_COLUMNS), ("memory.csv", INVITRO_MEMORY_COLUMNS)):
        df = pd.read_csv(trace_dir / fname, dtype={"HashFunction": str})
        missing = [c for c in want if c not in df.columns]
        if missing:
            bad.append(f"{fname}: no column {missing}")
            continue
        if len(df) and not all(pd.api.types.is_numeric_dtype(df[c]) for c in want[3:]):
            bad.append(f"{fname}: a statistic is not a number")
        if functions - set(df["HashFunction"]):
            bad.append(f"{fname}: {len(functions - set(df['HashFunction']))} invoked functions missing")
    return bad


def test_invitro_accepts_our_exports(tmp_path: Path, store: workscope.Store) -> None:
    out = tmp_path / "iv"
    export("invitro", wl_of(store, "az21"), out)
    config = json.loads((out / "loader_config.json").read_text())
    assert invitro_violations(Path(config["TracePath"]), int(config["ExperimentDuration"])) == []


def test_invitro_rule_catches_short_hashes(tmp_path: Path) -> None:
    (tmp_path / "invocations.csv").write_text("HashOwner,HashApp,HashFunction,Trigger,1\no,a,f,http,x\n")
    (tmp_path / "durations.csv").write_text(",".join(INVITRO_DURATION_COLUMNS) + "\n")
    (tmp_path / "memory.csv").write_text(",".join(INVITRO_MEMORY_COLUMNS) + "\n")
    assert invitro_violations(tmp_path, 1) == [
        "invocations.csv line 2: HashFunction shorter than 18",
        "invocations.csv line 2: a count is missing or not an integer",
        "durations.csv: 1 invoked functions missing", "memory.csv: 1 invoked functions missing"]
