"""Each target's OWN loader reads what workscope exports from the bundled traces.

Per target: the real client from PyPI (versions pinned in conformance/requirements.txt) loads the
exported file with the entry point it uses itself, and the rows it ends up with are compared with
the trace workscope read: row count, arrival times (in the unit the tool documents), token counts
and prefix hash ids.
"""

from __future__ import annotations

import itertools
import json
import math
import shlex
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import need

import workscope
from workscope.replay.pipeline import export

LLM_TRACES = ["azure_llm_conv", "azure_llm_code", "mooncake"]


def source(store: workscope.Store, name: str) -> pl.DataFrame:
    """The trace's requests in arrival order, as workscope holds them."""
    return store.trace(name).scan("requests").sort("arrival_s", maintain_order=True).collect()


def rebased_s(df: pl.DataFrame) -> list[float]:
    t = df["arrival_s"].to_list()
    return [x - t[0] for x in t]


def close(a: list[float], b: list[float], tol: float) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


# ------------------------------------------------------------------------------------ AIPerf
@pytest.fixture(scope="module")
def aiperf_prompts(tokenizer_repo: str) -> Any:
    """AIPerf's own tokenizer and prompt generator (what ``aiperf profile --tokenizer`` builds)."""
    need("aiperf")
    from aiperf.common import random_generator as rng
    from aiperf.common.tokenizer import Tokenizer
    from aiperf.dataset.generator.prompt import PromptGenerator

    rng.reset()  # AIPerf's global RNG, seeded as `aiperf profile --random-seed 0` would
    rng.init(0)
    tok = Tokenizer.from_pretrained(tokenizer_repo)
    return tok, PromptGenerator(prompts=None, prefix_prompts=None, tokenizer=tok)


@pytest.mark.parametrize("name", LLM_TRACES)
def test_aiperf_mooncake_trace_loader(store: workscope.Store, out_dir: Path, aiperf_prompts: Any,
                                      name: str) -> None:
    """aiperf.dataset.loader.mooncake_trace.MooncakeTraceDatasetLoader (--custom-dataset-type
    mooncake_trace): timestamps in ms, lengths, hash ids; prompts of exactly input_length tokens."""
    from aiperf.dataset.loader.mooncake_trace import MooncakeTraceDatasetLoader

    tok, pg = aiperf_prompts
    out = out_dir / f"{name}.aiperf.jsonl"
    result, _ = export(store.trace(name), "aiperf", out)
    src = source(store, name)
    assert result.rows == len(src)
    cmd = shlex.split(result.command)
    block = int(cmd[cmd.index("--isl-block-size") + 1]) if "--isl-block-size" in cmd else None
    assert MooncakeTraceDatasetLoader.can_load(json.loads(out.read_text().splitlines()[0]))
    loader = MooncakeTraceDatasetLoader(filename=str(out), prompt_generator=pg, default_block_size=block)
    data = loader.load_dataset()
    traces = [t for sess in data.values() for t in sess]
    assert len(data) == len(traces) == len(src)  # one single-turn session per row
    assert close([t.timestamp for t in traces], [x * 1000.0 for x in rebased_s(src)], 1e-3)
    assert [t.input_length for t in traces] == src["input_tokens"].to_list()
    assert [t.output_length for t in traces] == src["output_tokens"].to_list()
    if src["hash_ids"].is_not_null().any():
        assert block == 512
        assert [t.hash_ids for t in traces] == src["hash_ids"].to_list()
    else:
        assert all(t.hash_ids is None for t in traces)
    # AIPerf's prompt synthesis on the first rows: max_tokens = output; a prompt of exactly
    # input_length tokens, which AIPerf guarantees by re-encoding and correcting the text
    # (PromptGenerator.generate_prompt). A prompt with hash ids is one decode of exactly
    # input_length token ids, block after block, with no correction
    # (PromptGenerator._generate_cached_prompt), so byte-level BPE may merge across a block
    # seam when the text is encoded again: that count may differ by a token per seam.
    head = dict(itertools.islice(data.items(), 12))
    convs = loader.convert_to_conversations(head)
    for conv, sess in zip(convs, head.values(), strict=True):
        turn, want = conv.turns[0], sess[0]
        assert turn.max_tokens == want.output_length
        got = len(tok.encode(turn.texts[0].contents[0]))
        if want.hash_ids:
            assert abs(got - want.input_length) <= len(want.hash_ids), (got, want.input_length)
        else:
            assert got == want.input_length


def test_aiperf_burst_gpt_trace_loader(store: workscope.Store, out_dir: Path, aiperf_prompts: Any) -> None:
    """aiperf.dataset.loader.burst_gpt.BurstGPTTraceDatasetLoader (--custom-dataset-type
    burst_gpt_trace): Timestamp seconds read and turned into ms, Request/Response tokens."""
    from aiperf.dataset.loader.burst_gpt import BurstGPTTraceDatasetLoader

    _, pg = aiperf_prompts
    name = "azure_llm_conv"
    out = out_dir / f"{name}.burstgpt.csv"
    result, _ = export(store.trace(name), "burstgpt", out)
    src = source(store, name)
    assert result.rows == len(src)
    assert "burst_gpt_trace" in result.command
    assert BurstGPTTraceDatasetLoader.can_load(filename=str(out))
    loader = BurstGPTTraceDatasetLoader(filename=str(out), prompt_generator=pg)
    traces = [t for sess in loader.load_dataset().values() for t in sess]
    assert len(traces) == len(src)  # no row dropped by AIPerf's parser
    assert close([t.timestamp for t in traces], [x * 1000.0 for x in src["arrival_s"].to_list()], 1e-3)
    assert [t.input_length for t in traces] == src["input_tokens"].to_list()
    assert [t.output_length for t in traces] == src["output_tokens"].to_list()


# ---------------------------------------------------------------------------------- GuideLLM
@pytest.mark.parametrize("name", LLM_TRACES)
def test_guidellm_trace_deserializer(store: workscope.Store, out_dir: Path, tokenizer_dir: Path,
                                     name: str) -> None:
    """guidellm.data.deserializers.trace_common.TraceDatasetDeserializer with the --data kind the
    export's command names (trace_synthetic, or mooncake with hash_id_block_size)."""
    need("guidellm")
    from guidellm.data.deserializers.trace_common import TraceDatasetDeserializer
    from guidellm.schemas.data.deserializers.trace_minimal import MinimalTraceFormatArgs
    from guidellm.schemas.data.deserializers.trace_mooncake import MooncakeTraceFormatArgs
    from transformers import AutoTokenizer

    out = out_dir / f"{name}.guidellm.jsonl"
    result, _ = export(store.trace(name), "guidellm", out)
    src = source(store, name)
    assert result.rows == len(src)
    cmd = shlex.split(result.command)
    data = dict(kv.split("=", 1) for kv in cmd[cmd.index("--data") + 1].split(","))
    assert data["source.kind"] == "json_file" and data["source.path"] == str(out)
    args: dict[str, Any] = {"source": {"kind": "json_file", "path": str(out)}}
    if data["kind"] == "mooncake":
        config = MooncakeTraceFormatArgs(**args, hash_id_block_size=int(data["hash_id_block_size"]))
    else:
        assert data["kind"] == "trace_synthetic"
        config = MinimalTraceFormatArgs(**args)
    processor = AutoTokenizer.from_pretrained(str(tokenizer_dir))  # --processor PATH
    dataset = TraceDatasetDeserializer()(config=config, processor_factory=lambda: processor, random_seed=0)
    rows = dataset._ex_iterable.format.dataset  # the rows GuideLLM read from the file
    assert len(rows) == len(src)
    assert [r["input_length"] for r in rows] == src["input_tokens"].to_list()
    assert [r["output_length"] for r in rows] == src["output_tokens"].to_list()
    if data["kind"] == "mooncake":
        assert src["hash_ids"].is_not_null().all()
        assert [r["hash_ids"] for r in rows] == src["hash_ids"].to_list()
    else:
        assert "hash_ids" not in rows.column_names
    # the replay rows GuideLLM yields (prompt built, validated), first 12: offsets in s, lengths
    want_t = rebased_s(src)
    for i, item in enumerate(itertools.islice(iter(dataset), 12)):
        turn = json.loads(item["conversation_turns"])["turns"][0]["columns"]
        assert math.isclose(turn["relative_timestamp_column"][0], want_t[i], abs_tol=1e-6)
        assert turn["prompt_tokens_count_column"][0] == src["input_tokens"][i]
        assert turn["output_tokens_count_column"][0] == src["output_tokens"][i]
        # GuideLLM takes exactly input_length token ids and decodes them; re-encoding the text
        # may merge a few tokens differently
        sent = len(processor.encode(turn["text_column"][0]))
        assert sent == pytest.approx(src["input_tokens"][i], rel=0.02, abs=2)


# ------------------------------------------------------------------------------------- Vidur
@pytest.mark.parametrize("name", ["azure_llm_conv", "azure_llm_code"])
def test_vidur_trace_replay_request_generator(store: workscope.Store, out_dir: Path, name: str) -> None:
    """vidur.request_generator.trace_replay_request_generator.TraceReplayRequestGenerator, built
    from the --trace_request_generator_config_* flags of the export's command."""
    need("vidur")
    from vidur.config import TraceRequestGeneratorConfig
    from vidur.request_generator.trace_replay_request_generator import TraceReplayRequestGenerator

    out = out_dir / f"{name}.vidur.csv"
    result, _ = export(store.trace(name), "vidur", out)
    src = source(store, name)
    assert result.rows == len(src)
    cmd = shlex.split(result.command)
    assert cmd[cmd.index("--request_generator_config_type") + 1] == "trace_replay"
    flag = "--trace_request_generator_config_"
    kwargs: dict[str, Any] = {w[len(flag):]: cmd[i + 1] for i, w in enumerate(cmd) if w.startswith(flag)}
    fields = TraceRequestGeneratorConfig.__dataclass_fields__
    for k, v in kwargs.items():
        assert k in fields, f"vidur has no flag {flag}{k}"
        kind = type(fields[k].default)
        kwargs[k] = kind(v) if kind in (int, float) else v
    assert kwargs["trace_file"] == str(out)
    requests = TraceReplayRequestGenerator(TraceRequestGeneratorConfig(**kwargs)).generate_requests()
    assert len(requests) == len(src)
    assert close([r.arrived_at for r in requests], rebased_s(src), 1e-9)
    assert [r.num_prefill_tokens for r in requests] == [max(x, 1) for x in src["input_tokens"].to_list()]
    assert [r.num_decode_tokens for r in requests] == [max(x, 1) for x in src["output_tokens"].to_list()]


# ------------------------------------------------------------------------------------ evalys
def swf_records(path: Path) -> list[list[float]]:
    return [[float(x) for x in line.split()] for line in path.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith(";")]


def test_evalys_swf_reader(store: workscope.Store, out_dir: Path) -> None:
    """evalys.workload.Workload.from_csv, evalys' SWF reader, on the NASA iPSC sample."""
    need("evalys")
    from evalys.workload import Workload

    out = out_dir / "nasa_ipsc.swf"
    result, _ = export(store.trace("nasa_ipsc"), "swf", out)
    jobs = store.trace("nasa_ipsc").scan("jobs").sort("submit_s", maintain_order=True).collect()
    recs = swf_records(out)
    assert result.rows == len(recs) == len(jobs)
    w = Workload.from_csv(str(out))
    # evalys reads with pandas header=0 after skipping ';' comments: the first job line becomes
    # the header row, so it sees every record but the first; it keeps records with status <= 1.
    want = [r for r in recs[1:] if r[10] <= 1]
    assert len(w.df) == len(want)
    assert w.df["jobID"].tolist() == [r[0] for r in want]
    assert w.df["submission_time"].tolist() == [r[1] for r in want]
    assert w.df["execution_time"].tolist() == [r[3] for r in want]
    # submit times in whole seconds, as the trace holds them
    submit = {int(r[0]): r[1] for r in recs}
    ids = jobs["job_id"].cast(pl.Int64).to_list()
    assert [submit[i] for i in ids] == [float(math.floor(s + 0.5)) for s in jobs["submit_s"].to_list()]
    assert w.MaxJobs == len(jobs)


# -------------------------------------------------------------------------------- kubernetes
def test_kubernetes_client_deserializes_jobs(store: workscope.Store, out_dir: Path) -> None:
    """kubernetes.client.ApiClient().deserialize(..., "V1Job") of every document of jobs.yaml."""
    need("kubernetes")
    import yaml
    from kubernetes import client

    out = out_dir / "openb.k8s"
    result, _ = export(store.trace("alibaba_openb"), "kubernetes", out)
    docs = [d for d in yaml.safe_load_all((out / "jobs.yaml").read_text()) if d is not None]
    assert len(docs) == result.rows
    api = client.ApiClient()
    for doc in docs:
        job = api.deserialize(json.dumps(doc), "V1Job", "application/json")
        assert isinstance(job, client.V1Job) and job.kind == "Job" and job.api_version == "batch/v1"
        assert job.spec.suspend is True and job.spec.backoff_limit == 0
        assert job.spec.template.spec.restart_policy == "Never"
        # nothing the API model does not know: serializing the V1Job gives the manifest back
        assert api.sanitize_for_serialization(job) == doc
    sched = pl.read_csv(out / "schedule.csv")
    assert sched["name"].to_list() == [d["metadata"]["name"] for d in docs]
    jobs = store.trace("alibaba_openb").scan("jobs").collect()
    by_id = {r["job_id"]: r for r in jobs.iter_rows(named=True)}
    for doc, at in zip(docs, sched["submit_offset_s"].to_list(), strict=True):
        ann = doc["metadata"]["annotations"]
        src = by_id[ann["workscope.io/job-id"]]
        assert math.isclose(float(ann["workscope.io/submit-s"]), src["submit_s"], abs_tol=1e-6)
        assert math.isclose(at, src["submit_s"], abs_tol=1e-6)
        req = doc["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
        if src["cpu_req"] is not None:
            assert req["cpu"] == f"{math.ceil(src['cpu_req'] * 1000)}m"
