"""LLM-serving exporters: vLLM (timed_trace, custom), SGLang mooncake, AIPerf, GuideLLM, Vidur, BurstGPT.

Golden files (tests/replay/golden/<target>/tiny.*) pin the exact bytes for a small fixed
workload; regenerate them with WORKSCOPE_UPDATE_GOLDEN=1 after checking a diff by eye.
Round trips go through workscope's own readers (mooncake, burstgpt); units are checked on
real rows of the Mooncake, Qwen-Bailian, Azure LLM and BurstGPT samples.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import workscope
from workscope.errors import OptionError, UsageError
from workscope.replay.exporters import registry
from workscope.replay.exporters._llm import reblock
from workscope.replay.workload import LintError, Workload
from workscope.schemas import conform_exprs

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
DATA = HERE.parent / "data"
SAMPLES = HERE.parent.parent / "workscope" / "samples"
TARGETS = ["vllm_timed", "vllm_custom", "sglang_mooncake", "aiperf", "guidellm", "vidur", "burstgpt"]
UPDATE = os.environ.get("WORKSCOPE_UPDATE_GOLDEN") == "1"


def make(block: int | None = 512, **cols: list) -> Workload:
    """A requests workload from columns (other canonical columns null), kept in the given order."""
    df = pl.DataFrame(cols, strict=False)
    frame = df.lazy().select(conform_exprs("requests", df.schema))
    return Workload("requests", frame, {"source_trace": "tiny", "hash_block_tokens": block, "transforms": []})


def tiny() -> Workload:
    """Four requests: a fractional-ms arrival, a zero-output row, a one-token prompt, shared prefixes."""
    return make(
        arrival_s=[1.0, 1.25, 1.5005, 3.0],
        input_tokens=[600, 512, 1, 1030],
        output_tokens=[10, 0, 5, 7],
        hash_ids=[[0, 1], [0], [2], [0, 1, 3]],
        model=["m1", None, "GPT-4", "ChatGPT"],
        kind=["conversation", "api", None, "other"],
    )


def export(target: str, wl: Workload, out: Path, **options: object):
    """Run one exporter the way the pipeline does (options resolved first)."""
    exporter = registry.get(target)
    return exporter.write(wl, out, exporter.resolve_options(options))


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> workscope.Store:
    store = workscope.open(tmp_path_factory.mktemp("llm") / "s")
    store.ingest(DATA / "mooncake", format="mooncake", name="mc")
    store.ingest(DATA / "qwen_bailian", format="qwen_bailian", name="qw")
    store.ingest(SAMPLES / "azure_llm_2023", format="azure_llm", name="az")
    store.ingest(DATA / "burstgpt" / "BurstGPT_1.csv", format="burstgpt", name="bg1")
    store.ingest(DATA / "burstgpt" / "BurstGPT_3.csv", format="burstgpt", name="bg3")
    return store


def wl_of(store: workscope.Store, name: str) -> Workload:
    return Workload.from_trace(store.trace(name))


def rows_of(store: workscope.Store, name: str) -> pl.DataFrame:
    """The trace's requests in workload order (by arrival, ties in file order)."""
    return store.trace(name).scan("requests").sort("arrival_s", maintain_order=True).collect()


# ---------------------------------------------------------------- golden files and commands


SUFFIX = {t: registry.get(t).suffix for t in TARGETS}


@pytest.mark.parametrize("target", TARGETS)
def test_golden(target: str, tmp_path: Path) -> None:
    out = tmp_path / f"tiny{SUFFIX[target]}"
    result = export(target, tiny(), out)
    golden = GOLDEN / target / out.name
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(out.read_bytes())
    assert out.read_bytes() == golden.read_bytes()
    assert result.rows == 4 and result.files == [out] and result.target == target
    assert not list(tmp_path.glob(".*.tmp")), "temporary file left behind"


def test_golden_contents_by_hand() -> None:
    """The golden files say what the formats say (so a wrong golden cannot pass silently)."""
    sg = lines(GOLDEN / "sglang_mooncake" / "tiny.jsonl")
    assert [r["timestamp"] for r in sg] == [0.0, 250.0, 500.5, 2000.0]  # ms, rebased, µs kept
    assert list(sg[0]) == ["timestamp", "input_length", "output_length", "hash_ids"]
    assert [r["hash_ids"] for r in sg] == [[0, 1], [0], [2], [0, 1, 3]]
    vt = lines(GOLDEN / "vllm_timed" / "tiny.jsonl")
    assert [r["timestamp"] for r in vt] == [0.0, 0.25, 0.5005, 2.0]  # seconds
    ai = lines(GOLDEN / "aiperf" / "tiny.jsonl")
    assert [r["timestamp"] for r in ai] == [0.0, 250.0, 500.5, 2000.0]
    gl = lines(GOLDEN / "guidellm" / "tiny.jsonl")
    assert [r["timestamp"] for r in gl] == [0.0, 0.25, 0.5005, 2.0] and gl[3]["hash_ids"] == [0, 1, 3]
    vc = lines(GOLDEN / "vllm_custom" / "tiny.jsonl")
    assert [len(r["prompt"].split()) for r in vc] == [600, 512, 1, 1030]
    assert [r["output_tokens"] for r in vc] == [10, 0, 5, 7] and list(vc[0]) == ["prompt", "output_tokens"]
    with open(GOLDEN / "vidur" / "tiny.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    # vidur 0.0.26 (pip) layout: one Date (no origin: Vidur's default date), time in seconds
    assert rows[0] == ["Date", "Time", "PromptTokenCount", "CompletionTokenCount"]
    assert {r[0] for r in rows[1:]} == {"2023-08-21"}
    assert [float(r[1]) for r in rows[1:]] == [0.0, 0.25, 0.5005, 2.0]
    # only the released Model / Log Type values where the workload has none of them
    assert (GOLDEN / "burstgpt" / "tiny.csv").read_text() == (
        "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
        "1,m1,600,10,610,Conversation log\n"
        "1.25,GPT-4,512,0,512,API log\n"
        "1.5005,GPT-4,1,5,6,Conversation log\n"
        "3,ChatGPT,1030,7,1037,Conversation log\n")


def test_commands(tmp_path: Path) -> None:
    """Each command is the exact command line, with the unit and block-size flags."""
    cmds = {}
    for target in TARGETS:
        out = tmp_path / f"tiny{SUFFIX[target]}"
        cmds[target] = export(target, tiny(), out).command
    p = str(tmp_path)
    assert cmds["vllm_timed"] == (
        'vllm bench serve --backend vllm --base-url http://localhost:8000 --model "${MODEL}" '
        f"--dataset-name timed_trace --dataset-path {p}/tiny.jsonl --num-prompts 4 --self-timed "
        "--timed-trace-chunk-hash-size 512 --timed-trace-sec-multiplier 1 --ignore-eos")
    assert cmds["vllm_custom"] == (
        'vllm bench serve --backend vllm --base-url http://localhost:8000 --model "${MODEL}" '
        f"--dataset-name custom --dataset-path {p}/tiny.jsonl --num-prompts 4 --custom-output-len -1 "
        "--skip-chat-template --disable-shuffle --ignore-eos --request-rate 1.5")
    assert cmds["sglang_mooncake"] == (
        'python3 -m sglang.bench_serving --backend sglang --base-url http://localhost:8000 --model "${MODEL}" '
        f"--dataset-name mooncake --dataset-path {p}/tiny.jsonl --num-prompts 4 "
        "--mooncake-slowdown-factor 1.0 --mooncake-num-rounds 1")
    assert cmds["aiperf"] == (
        'aiperf profile --model "${MODEL}" --url http://localhost:8000 --endpoint-type chat --streaming '
        f"--input-file {p}/tiny.jsonl --custom-dataset-type mooncake_trace --fixed-schedule "
        "--fixed-schedule-auto-offset --isl-block-size 512 --extra-inputs ignore_eos:true")
    assert cmds["guidellm"] == (
        'guidellm run --backend "kind=openai_http,target=http://localhost:8000,model=${MODEL}" '
        f"--profile kind=replay --data kind=mooncake,source.kind=json_file,source.path={p}/tiny.jsonl,"
        "hash_id_block_size=512")
    assert cmds["vidur"] == (
        "python -m vidur.main --request_generator_config_type trace_replay "
        f"--trace_request_generator_config_trace_file {p}/tiny.csv "
        "--trace_request_generator_config_max_tokens 1037 --trace_request_generator_config_date 2023-08-21 "
        "--trace_request_generator_config_time_scale_factor 1 --trace_request_generator_config_prefill_scale_factor 1 "
        "--trace_request_generator_config_decode_scale_factor 1")
    assert cmds["burstgpt"] == (
        'aiperf profile --model "${MODEL}" --url http://localhost:8000 --endpoint-type chat --streaming '
        f"--input-file {p}/tiny.csv --custom-dataset-type burst_gpt_trace --fixed-schedule "
        "--fixed-schedule-auto-offset --extra-inputs ignore_eos:true")


def test_command_quotes_paths_and_options(tmp_path: Path) -> None:
    out = tmp_path / "my trace;x.jsonl"
    cmd = export("sglang_mooncake", tiny(), out, model="org/model name", base_url="http://h:1").command
    assert "--dataset-path '" + str(out) + "'" in cmd and "--model 'org/model name'" in cmd


# ---------------------------------------------------------------- round trips and units on real rows


def test_sglang_mooncake_round_trip(traces: workscope.Store, tmp_path: Path) -> None:
    """Mooncake sample -> sglang_mooncake -> mooncake reader: identical arrival_s, tokens, hash_ids."""
    out = tmp_path / "mooncake_trace.jsonl"
    result = export("sglang_mooncake", wl_of(traces, "mc"), out)
    src = rows_of(traces, "mc")
    assert result.rows == src.height == 300
    assert not any("re-blocked" in n or "fresh" in n for n in result.notes)
    back = workscope.open(tmp_path / "s2")
    back.ingest(out, format="mooncake", name="rt")
    again = rows_of(back, "rt")
    cols = ["arrival_s", "input_tokens", "output_tokens", "hash_ids"]
    assert_frame_equal(again.select(cols), src.select(cols))
    assert back.trace("rt").manifest["meta"]["hash_block_tokens"] == 512


def test_mooncake_units_on_real_rows(traces: workscope.Store, tmp_path: Path) -> None:
    """timestamps are integer ms = arrival_s * 1000 on specific rows of the Mooncake sample."""
    src = rows_of(traces, "mc")
    for target in ("sglang_mooncake", "aiperf"):
        out = tmp_path / f"{target}.jsonl"
        export(target, wl_of(traces, "mc"), out)
        recs = lines(out)
        for i in (0, 1, 137, 299):
            assert isinstance(recs[i]["timestamp"], int)
            assert recs[i]["timestamp"] == round(src["arrival_s"][i] * 1000)
            assert recs[i]["input_length"] == src["input_tokens"][i]
            assert recs[i]["hash_ids"] == src["hash_ids"][i].to_list()
        assert recs[-1]["timestamp"] > 1000 * 60  # the sample spans minutes: ms, not s
    export("vllm_timed", wl_of(traces, "mc"), tmp_path / "t.jsonl")
    timed = lines(tmp_path / "t.jsonl")
    assert timed[-1]["timestamp"] == src["arrival_s"][-1]  # seconds (first arrival is 0)


def test_seconds_targets_on_azure_rows(traces: workscope.Store, tmp_path: Path) -> None:
    """Azure LLM: vLLM / GuideLLM / Vidur get seconds, AIPerf ms; rebased on the first arrival."""
    src = rows_of(traces, "az")
    t0 = src["arrival_s"][0]
    picks = (0, 1, 5000, src.height - 1)
    for target, name in (("vllm_timed", "v.jsonl"), ("guidellm", "g.jsonl"), ("aiperf", "a.jsonl"),
                         ("vidur", "d.csv")):
        export(target, wl_of(traces, "az"), tmp_path / name)
    vt, gl, ai = lines(tmp_path / "v.jsonl"), lines(tmp_path / "g.jsonl"), lines(tmp_path / "a.jsonl")
    vd = pl.read_csv(tmp_path / "d.csv")
    for i in picks:
        s = src["arrival_s"][i] - t0
        assert vt[i]["timestamp"] == s and gl[i]["timestamp"] == s and vd["Time"][i] == s
        assert ai[i]["timestamp"] == pytest.approx(s * 1000, abs=5e-4)
        assert vt[i]["input_length"] == gl[i]["input_length"] == vd["PromptTokenCount"][i] == src["input_tokens"][i]
        assert vt[i]["output_length"] == vd["CompletionTokenCount"][i] == src["output_tokens"][i]
    assert vd.height == len(vt) == src.height


def test_synthesized_hash_ids_cover_prompts_without_sharing(traces: workscope.Store, tmp_path: Path) -> None:
    """Azure has no prefix ids: vLLM/SGLang get ceil(input/512) fresh ids, never reused."""
    src = rows_of(traces, "az")
    for target in ("vllm_timed", "sglang_mooncake"):
        out = tmp_path / f"{target}.jsonl"
        result = export(target, wl_of(traces, "az"), out)
        recs = lines(out)
        ids = [h for r in recs for h in r["hash_ids"]]
        assert len(ids) == len(set(ids))
        assert all(len(r["hash_ids"]) == math.ceil(r["input_length"] / 512) for r in recs)
        assert [r["input_length"] for r in recs[:3]] == src["input_tokens"][:3].to_list()
        assert any("fresh unique ids" in n for n in result.notes)
    assert "--timed-trace-chunk-hash-size 512" in export("vllm_timed", wl_of(traces, "az"), tmp_path / "x.jsonl").command
    # AIPerf and GuideLLM synthesize prompts from lengths alone: no ids are invented for them.
    export("aiperf", wl_of(traces, "az"), tmp_path / "a.jsonl")
    assert "hash_ids" not in lines(tmp_path / "a.jsonl")[0]
    assert "kind=trace_synthetic" in export("guidellm", wl_of(traces, "az"), tmp_path / "g.jsonl").command
    assert "hash_ids" not in lines(tmp_path / "g.jsonl")[0]


def test_qwen_block_size_carried_to_block_flags(traces: workscope.Store, tmp_path: Path) -> None:
    """Qwen-Bailian's 16-token blocks: vLLM, AIPerf, GuideLLM take the block size as a flag."""
    wl = wl_of(traces, "qw")
    assert "--timed-trace-chunk-hash-size 16 " in export("vllm_timed", wl, tmp_path / "v.jsonl").command
    assert "--isl-block-size 16 " in export("aiperf", wl, tmp_path / "a.jsonl").command
    assert "hash_id_block_size=16" in export("guidellm", wl, tmp_path / "g.jsonl").command
    src = rows_of(traces, "qw")
    assert [r["hash_ids"] for r in lines(tmp_path / "v.jsonl")] == src["hash_ids"].to_list()


def _reference_reblock(rows: list[list[int] | None], f: int) -> list[list[int] | None]:
    """Plain-Python re-blocking: id = first-appearance rank of (small-id prefix, extent)."""
    seen: dict[tuple[int, ...], int] = {}
    out = []
    for ids in rows:
        if ids is None:
            out.append(None)
            continue
        new = []
        for end in range(f, len(ids) + f, f):
            key = tuple(ids[:min(end, len(ids))])
            new.append(seen.setdefault(key, len(seen)))
        out.append(new)
    return out


def test_reblock_matches_reference_on_qwen(traces: workscope.Store, tmp_path: Path) -> None:
    """16-token Qwen blocks -> 512-token Mooncake blocks, checked against a plain-Python reference."""
    src = rows_of(traces, "qw")
    out = tmp_path / "q.jsonl"
    result = export("sglang_mooncake", wl_of(traces, "qw"), out)
    assert any("re-blocked from 16-token to 512-token" in n for n in result.notes)
    got = [r["hash_ids"] for r in lines(out)]
    assert got == _reference_reblock(src["hash_ids"].to_list(), 32)
    assert all(len(g) == math.ceil(n / 512) for g, n in zip(got, src["input_tokens"], strict=True))
    back = workscope.open(tmp_path / "s2")
    back.ingest(out, format="mooncake", name="rt")  # the result is a valid Mooncake trace
    Workload.from_trace(back.trace("rt"))


def test_reblock_shares_exactly_equal_prefixes() -> None:
    """Small cases: shared prefix -> shared big ids; divergence inside a block -> new id onwards."""
    s = pl.Series("hash_ids", [[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 3, 4, 9], [1, 2], None, [], [7, 2, 3, 4]],
                  dtype=pl.List(pl.Int64))
    got = reblock(s, 16, 32).to_list()
    assert got == [[0, 1], [0, 2], [0, 1, 3], [0], None, [], [4, 5]]
    assert got == _reference_reblock(s.to_list(), 2)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(st.integers(0, 3), max_size=12)), min_size=1, max_size=20),
       st.sampled_from([1, 2, 4, 32]))
def test_reblock_property(rows: list[list[int] | None], f: int) -> None:
    """Any lists, any factor: the vectorised re-blocking equals the plain-Python reference."""
    s = pl.Series("hash_ids", rows, dtype=pl.List(pl.Int64))
    assert reblock(s, 16, 16 * f).to_list() == _reference_reblock(rows, f)


def test_burstgpt_v1_round_trip_is_byte_exact(traces: workscope.Store, tmp_path: Path) -> None:
    """BurstGPT_1 (6 columns) -> burstgpt -> the same bytes, and the reader gives the same rows."""
    out = tmp_path / "BurstGPT_1.csv"
    result = export("burstgpt", wl_of(traces, "bg1"), out)
    assert out.read_bytes() == (DATA / "burstgpt" / "BurstGPT_1.csv").read_bytes()
    assert result.rows == 12
    back = workscope.open(tmp_path / "s2")
    back.ingest(out, format="burstgpt", name="rt")
    cols = ["arrival_s", "model", "input_tokens", "output_tokens", "status", "kind", "attrs"]
    assert_frame_equal(rows_of(back, "rt").select(cols),
                       rows_of(traces, "bg1").select(cols))


def test_burstgpt_v3_round_trip(traces: workscope.Store, tmp_path: Path) -> None:
    """BurstGPT_3 (8 columns): layout=v3 keeps sessions and latencies; times not rebased."""
    out = tmp_path / "BurstGPT_3.csv"
    export("burstgpt", wl_of(traces, "bg3"), out, layout="v3")
    header = out.read_text().splitlines()[0]
    assert header == "Timestamp,Session ID,Elapsed time,Model,Request tokens,Response tokens,Total tokens,Log Type"
    assert out.read_text().splitlines()[1].startswith("19440110,")  # seconds, origin kept
    back = workscope.open(tmp_path / "s2")
    back.ingest(out, format="burstgpt", name="rt")
    cols = ["arrival_s", "session_id", "latency_s", "model", "input_tokens", "output_tokens", "status", "kind",
            "attrs"]
    assert_frame_equal(rows_of(back, "rt").select(cols),
                       rows_of(traces, "bg3").select(cols))


def test_burstgpt_from_other_traces_round_trips(traces: workscope.Store, tmp_path: Path) -> None:
    """Any requests workload with token counts (Mooncake here) reads back with the same times and tokens."""
    out = tmp_path / "mc.csv"
    export("burstgpt", wl_of(traces, "mc"), out)
    back = workscope.open(tmp_path / "s2")
    back.ingest(out, format="burstgpt", name="rt")
    cols = ["arrival_s", "input_tokens", "output_tokens"]
    assert_frame_equal(rows_of(back, "rt").select(cols),
                       rows_of(traces, "mc").select(cols))


# ---------------------------------------------------------------- per-target behaviour


def test_vllm_custom_prompts_and_rate(traces: workscope.Store, tmp_path: Path) -> None:
    src = rows_of(traces, "qw")
    out = tmp_path / "c.jsonl"
    result = export("vllm_custom", wl_of(traces, "qw"), out, word="yo")
    recs = lines(out)
    for i, r in enumerate(recs):
        words = r["prompt"].split(" ")
        assert words[0] == str(i) and set(words[1:]) <= {"yo"}
        assert len(words) == max(src["input_tokens"][i], 1)
        assert r["output_tokens"] == src["output_tokens"][i]
    span = src["arrival_s"][-1] - src["arrival_s"][0]
    assert f"--request-rate {(src.height - 1) / span:.6g}" in result.command
    with pytest.raises(UsageError, match=r"\.jsonl"):
        export("vllm_custom", tiny(), tmp_path / "c.json")
    with pytest.raises(UsageError, match="one non-empty word"):
        export("vllm_custom", tiny(), tmp_path / "d.jsonl", word="two words")


def test_guidellm_falls_back_when_ids_do_not_fit(tmp_path: Path) -> None:
    big = make(arrival_s=[0.0, 1.0], input_tokens=[10, 10], output_tokens=[1, 1], hash_ids=[[2**40], [3]])
    result = export("guidellm", big, tmp_path / "g.jsonl")
    assert "kind=trace_synthetic" in result.command and any("int32" in n for n in result.notes)
    assert "hash_ids" not in lines(tmp_path / "g.jsonl")[0]


def test_aiperf_keeps_missing_ids_null(tmp_path: Path) -> None:
    wl = make(arrival_s=[0.0, 0.5], input_tokens=[600, 10], output_tokens=[1, 2], hash_ids=[[4, 5], None])
    result = export("aiperf", wl, tmp_path / "a.jsonl")
    assert [r["hash_ids"] for r in lines(tmp_path / "a.jsonl")] == [[4, 5], None]
    assert any("1 rows have no hash_ids" in n for n in result.notes)


def test_vidur_max_tokens_covers_clipped_counts(tmp_path: Path) -> None:
    """Vidur raises 0 to 1 and trims prefill above max_tokens: the command leaves room for both."""
    wl = make(block=None, arrival_s=[5.0, 6.0], input_tokens=[0, 100], output_tokens=[4000, 0])
    result = export("vidur", wl, tmp_path / "v.csv", layout="source")
    assert "--trace_request_generator_config_max_tokens 4001 " in result.command
    assert (tmp_path / "v.csv").read_text() == "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,0,4000\n1.0,100,0\n"
    assert "_config_date" not in result.command  # the source checkout has no date option
    assert any("raises zero token counts to 1" in n for n in result.notes)


def test_rebase_off_keeps_origin(tmp_path: Path) -> None:
    export("vllm_timed", tiny(), tmp_path / "v.jsonl", rebase=False)
    assert [r["timestamp"] for r in lines(tmp_path / "v.jsonl")] == [1.0, 1.25, 1.5005, 3.0]
    export("sglang_mooncake", tiny(), tmp_path / "s.jsonl", rebase=False)
    assert [r["timestamp"] for r in lines(tmp_path / "s.jsonl")] == [1000.0, 1250.0, 1500.5, 3000.0]


def test_empty_workload(tmp_path: Path) -> None:
    empty = make(arrival_s=[], input_tokens=[], output_tokens=[], hash_ids=[])
    for target in TARGETS:
        out = tmp_path / f"e{SUFFIX[target]}"
        assert export(target, empty, out).rows == 0
        assert out.exists()


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("target", TARGETS)
def test_lint_failure_raises_and_writes_nothing(target: str, tmp_path: Path) -> None:
    out = tmp_path / f"x{SUFFIX[target]}"
    out.write_text("previous\n")
    unsorted = make(arrival_s=[2.0, 1.0], input_tokens=[1, 1], output_tokens=[1, 1], hash_ids=[[0], [1]])
    with pytest.raises(LintError, match="not sorted"):
        export(target, unsorted, out)
    wrong_blocks = make(arrival_s=[0.0], input_tokens=[2000], output_tokens=[1], hash_ids=[[0]])
    with pytest.raises(LintError, match="len\\(hash_ids\\)"):
        export(target, wrong_blocks, out)
    assert out.read_text() == "previous\n"


@pytest.mark.parametrize("target", TARGETS)
def test_missing_token_counts_refused(target: str, tmp_path: Path) -> None:
    wl = make(block=None, arrival_s=[0.0, 1.0], input_tokens=[5, None], output_tokens=[1, 2])
    with pytest.raises(LintError, match="1 rows without input_tokens"):
        export(target, wl, tmp_path / f"x{SUFFIX[target]}")


@pytest.mark.parametrize("target", TARGETS)
def test_non_requests_workload_refused(target: str, tmp_path: Path) -> None:
    df = pl.DataFrame({"arrival_s": [0.0], "function_id": ["f"]})
    wl = Workload("invocations", df.lazy().select(conform_exprs("invocations", df.schema)),
                  {"source_trace": "x", "hash_block_tokens": None, "transforms": []})
    with pytest.raises(UsageError, match="requests"):
        export(target, wl, tmp_path / f"x{SUFFIX[target]}")


def test_sglang_refuses_blocks_that_cannot_be_reblocked(tmp_path: Path) -> None:
    big = make(block=1024, arrival_s=[0.0], input_tokens=[2000], output_tokens=[1], hash_ids=[[0, 1]])
    with pytest.raises(LintError, match="1024-token blocks, which cannot be re-blocked"):
        export("sglang_mooncake", big, tmp_path / "s.jsonl")
    odd = make(block=48, arrival_s=[0.0], input_tokens=[96], output_tokens=[1], hash_ids=[[0, 1]])
    with pytest.raises(LintError, match="cannot be re-blocked"):
        export("sglang_mooncake", odd, tmp_path / "s.jsonl")
    small = make(block=16, arrival_s=[0.0], input_tokens=[32], output_tokens=[1], hash_ids=[[0, 1]])
    with pytest.raises(LintError, match="option reblock is off"):
        export("sglang_mooncake", small, tmp_path / "s.jsonl", reblock=False)
    assert not (tmp_path / "s.jsonl").exists()


def test_hash_ids_without_block_size_refused(tmp_path: Path) -> None:
    wl = make(block=None, arrival_s=[0.0], input_tokens=[10], output_tokens=[1], hash_ids=[[0]])
    for target in ("vllm_timed", "sglang_mooncake", "aiperf", "guidellm"):
        with pytest.raises(LintError, match="no block size"):
            export(target, wl, tmp_path / "x.jsonl")


def test_registry_serves_every_target() -> None:
    for target in TARGETS:
        exporter = registry.get(target)
        assert exporter.name == target and exporter.tables == ("requests",)
        assert exporter.doc_url.startswith("https://github.com/")
        assert exporter.describe()["name"] == target


def test_vidur_layouts_and_date(tmp_path: Path) -> None:
    """pypi: Date from the origin (or the option), passed to Vidur; source: no Date; bad values refused."""
    wl = make(block=None, arrival_s=[0.0, 2.5], input_tokens=[10, 20], output_tokens=[1, 2])
    wl = Workload("requests", wl.frame, {**wl.meta, "origin_utc": "2024-03-05T23:30:00+00:00"})
    result = export("vidur", wl, tmp_path / "p.csv")
    assert (tmp_path / "p.csv").read_text() == (
        "Date,Time,PromptTokenCount,CompletionTokenCount\n2024-03-05,0.0,10,1\n2024-03-05,2.5,20,2\n")
    assert "--trace_request_generator_config_date 2024-03-05 " in result.command
    assert "--trace_request_generator_config_prefill_scale_factor 1 " in result.command
    result = export("vidur", wl, tmp_path / "d.csv", date="2023-08-21")
    assert (tmp_path / "d.csv").read_text().splitlines()[1].startswith("2023-08-21,")
    export("vidur", wl, tmp_path / "s.csv", layout="source")
    assert (tmp_path / "s.csv").read_text().splitlines()[0] == "arrived_at,num_prefill_tokens,num_decode_tokens"
    with pytest.raises(OptionError, match="pypi or source"):
        export("vidur", wl, tmp_path / "x.csv", layout="wheel")
    with pytest.raises(OptionError, match="YYYY-MM-DD"):
        export("vidur", wl, tmp_path / "x.csv", date="5 March")
    assert not (tmp_path / "x.csv").exists()


def test_burstgpt_from_azure_is_sampled_by_vllm(traces: workscope.Store, tmp_path: Path) -> None:
    """Azure LLM (kinds 'conv' / 'code', no model): released values only, so vLLM keeps rows."""
    out = tmp_path / "az.csv"
    src = rows_of(traces, "az")
    assert set(src["kind"].unique().to_list()) == {"conv", "code"} and src["model"].null_count() == src.height
    result = export("burstgpt", wl_of(traces, "az"), out)
    df = pl.read_csv(out)
    assert set(df["Log Type"].to_list()) == {"Conversation log"} and set(df["Model"].to_list()) == {"GPT-4"}
    # vLLM's BurstGPTDataset keeps Model == "GPT-4" rows with Response tokens > 0
    kept = df.filter((pl.col("Model") == "GPT-4") & (pl.col("Response tokens") > 0)).height
    assert kept == (src["output_tokens"] > 0).sum() > 0
    assert any(f"samples {kept} of {src.height} rows" in n for n in result.notes)
    code = (src["kind"] == "code").sum()
    assert any(n.startswith(f"{code} rows whose kind is neither") for n in result.notes)
    export("burstgpt", wl_of(traces, "az"), tmp_path / "m.csv", model_column="ChatGPT", other_log_type="API log")
    assert set(pl.read_csv(tmp_path / "m.csv")["Model"].to_list()) == {"ChatGPT"}
    with pytest.raises(UsageError, match="other_log_type"):
        export("burstgpt", tiny(), tmp_path / "x.csv", other_log_type="conv")
