"""Format detection across every data folder: each trace is claimed by its own reader.

detect() asks readers in registry order and takes the first that accepts, so a reader
whose sniff is too loose would steal another format's files. Every file and folder below
is a real slice or a FORMATS-exact fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workscope.ingest import registry

DATA = Path(__file__).parent / "data"

# (path under tests/data, reader that must claim it)
CASES = [
    ("azure_llm_2023/AzureLLMInferenceTrace_code.csv", "azure_llm"),
    ("azure_llm_fixtures/AzureLLMInferenceTrace_code_1week.csv", "azure_llm"),
    ("azure_llm_fixtures/AzureLMMInferenceTrace_multimodal.csv.gz", "azure_llm"),
    ("burstgpt/BurstGPT_1.csv", "burstgpt"),
    ("burstgpt/BurstGPT_3.csv", "burstgpt"),
    ("mooncake/synthetic_trace.jsonl", "mooncake"),
    ("bench_results/aiperf/replay", "aiperf_results"),
    ("bench_results/guidellm/replay/benchmarks.json", "guidellm_results"),
    ("bench_results/vllm/openai-8.0qps-concurrency4-Qwen2.5-0.5B-Instruct-20261201-101502.json",
     "vllm_results"),
    ("bench_results/sglang/sglang-oai_1201_4_256_16.jsonl", "sglang_results"),
    ("qwen_bailian/qwen_traceA_blksz_16.jsonl", "qwen_bailian"),
    ("alibaba_genai_2026/lora_request_trace.csv", "alibaba_genai"),
    ("alibaba_genai_2026/qps.tar.gz", "alibaba_genai"),
    ("azure_functions_2021/Azure2021_200.csv", "azure_functions_2021"),
    ("swf/NASA-iPSC-1993-3.1-cln.head200.swf", "swf"),
    ("swf/fixture_double.swf", "swf"),
    ("alibaba_openb/openb_pod_list_default.csv", "alibaba_openb"),
    ("alibaba_openb/openb_node_list_all_node.csv", "alibaba_openb"),
    ("alibaba_dlrm/disaggregated_DLRM_trace.csv", "alibaba_dlrm"),
    ("alibaba_pai", "alibaba_pai"),
    ("alibaba_2018/batch_task.csv", "alibaba_2018"),
    ("alibaba_2018/machine_usage.tar.gz", "alibaba_2018"),
    ("google_2011/task_events", "google_2011"),
    ("google_2019/instance_events-000000000000.json.gz", "google_2019"),
    ("google_2019/instance_usage-000000000000.json.gz", "google_2019"),
    ("philly/trace-data", "philly"),
    ("planetlab/20110303", "planetlab"),
    ("azure_vm_noise", "azure_vm_noise"),
    ("azure_vm/v2/trace_data/vmtable/vmtable.csv.gz", "azure_vm"),
    ("huawei_2023/private_dataset", "huawei_2023"),
    ("huawei_2025/cold_start_dataset", "huawei_2025"),
    ("cloudperftrace", "cloudperftrace"),
    ("datacenter_aggregates", "datacenter_aggregates"),
    ("workscope_workload/moon_rate2.parquet", "workscope_workload"),
]


def test_every_reader_is_covered() -> None:
    # mapped never sniffs; azure_functions_2019's files are claimed from their folder below
    covered = {r for _, r in CASES} | {"mapped", "azure_functions_2019"}
    assert covered == set(registry.BUILTIN)


@pytest.mark.parametrize(("rel", "expected"), CASES, ids=[c[0] for c in CASES])
def test_detect_picks_the_right_reader(rel: str, expected: str) -> None:
    path = DATA / rel
    assert path.exists(), rel
    assert registry.detect([path]).name == expected
    claimed = [r.name for r in registry.all_readers() if r.name != "mapped" and r.sniff(path)]
    assert claimed == [expected], f"{rel} is also claimed by {claimed}"


def test_azure_functions_2019_folder() -> None:
    folder = DATA / "azure_functions_2019" / "fixture"
    assert registry.detect([folder]).name == "azure_functions_2019"
    for f in sorted(folder.iterdir()):
        if f.suffix in (".csv", ".gz"):
            assert registry.detect([f]).name == "azure_functions_2019", f.name
