"""Fixtures for the analyses: real traces in one store, and synthetic traces with known laws."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import workscope
from workscope.samples import ingest_samples

DATA = Path(__file__).parent.parent / "data"

# tests/data traces added to the real store (name, format, path under tests/data)
EXTRA = (
    ("mooncake", "mooncake", "mooncake/synthetic_trace.jsonl"),
    ("burstgpt", "burstgpt", "burstgpt/BurstGPT_3.csv"),
    ("qwen", "qwen_bailian", "qwen_bailian/qwen_traceA_blksz_16.jsonl"),
    ("genai", "alibaba_genai", "alibaba_genai_2026"),
    ("huawei25", "huawei_2025", "huawei_2025/cold_start_dataset"),
    ("huawei23", "huawei_2023", "huawei_2023/private_dataset"),
    ("azf2019", "azure_functions_2019", "azure_functions_2019/fixture"),
    ("planetlab", "planetlab", "planetlab/20110303"),
    ("noise", "azure_vm_noise", "azure_vm_noise"),
    ("dlrm", "alibaba_dlrm", "alibaba_dlrm/disaggregated_DLRM_trace.csv"),
    ("philly", "philly", "philly/trace-data"),
    ("google2011", "google_2011", "google_2011"),
)


@pytest.fixture(scope="session")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> workscope.Store:
    """One store holding the bundled samples (azure_llm_code, azure_llm_conv, nasa_ipsc,
    azure_functions_2021, alibaba_openb) and the tests/data traces in EXTRA."""
    store = workscope.open(tmp_path_factory.mktemp("real") / "store")
    ingest_samples(store)
    for name, fmt, rel in EXTRA:
        store.ingest(DATA / rel, format=fmt, name=name)
    return store


MAPPINGS = {
    "requests": {"arrival_s": "t", "input_tokens": "inp", "output_tokens": "out", "model": "g"},
    "invocations": {"arrival_s": "t", "function_id": "g", "duration_s": "d"},
    "jobs": {"job_id": "id", "submit_s": "t", "start_s": "s", "end_s": "e", "user": "g", "cpu_req": "c"},
}


def synthetic_trace(store: workscope.Store, tmp: Path, name: str, table: str, df: pl.DataFrame) -> workscope.Trace:
    """Ingest a synthetic table through the mapped reader (times already in seconds).

    ``df`` uses the short source names of MAPPINGS[table] (t, inp, out, g, d, id, s, e, c).
    """
    src = tmp / f"{name}.csv"
    df.write_csv(src)
    cols = "\n".join(f'{k} = "{v}"' for k, v in MAPPINGS[table].items() if v in df.columns)
    toml = tmp / f"{name}.toml"
    toml.write_text(f'table = "{table}"\nformat = "csv"\n[time]\nformat = "seconds"\n[columns]\n{cols}\n')
    store.ingest(src, format="mapped", name=name, options={"mapping": str(toml)})
    return store.trace(name)


def poisson_arrivals(rate: float, duration: float, seed: int) -> np.ndarray:
    """Arrival times of a homogeneous Poisson process (exponential gaps), seeded."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / rate, size=int(rate * duration * 1.2) + 100)
    t = np.cumsum(gaps)
    return t[t < duration]


def gamma_arrivals(rate: float, shape: float, duration: float, seed: int) -> np.ndarray:
    """Renewal process with gamma gaps (CV = 1/sqrt(shape)), seeded."""
    rng = np.random.default_rng(seed)
    gaps = rng.gamma(shape, 1.0 / (rate * shape), size=int(rate * duration * 1.2) + 100)
    t = np.cumsum(gaps)
    return t[t < duration]
