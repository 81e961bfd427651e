"""A split reader's scan of all its files equals the scans of its groups one by one, given
what the groups share (Reader.facts of each, then Reader.shared_facts): the contract that
lets the cluster ingest read a group per task. Checked here without Spark, on random files
(hypothesis) for the generic reader, whose shared facts are the origin and the columns
``rest = true`` keeps, and on every split reader's test sources."""

from __future__ import annotations

import datetime as dt
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workscope.ingest import cluster, registry
from workscope.ingest.pipeline import checked_parts
from workscope.ingest.reader import Reader, ScanContext, ScanResult

DATA = Path(__file__).parent.parent / "data"
T0 = dt.datetime(2024, 5, 1, 12, 0, 0)


def _frames(result: ScanResult) -> dict[str, pl.DataFrame]:
    """Each table's checked rows (good and rejected, with their reasons), parts in order."""
    out: dict[str, list[pl.DataFrame]] = {}
    for table, _, _, frame in checked_parts(result, keep_raw=False):
        out.setdefault(table, []).append(frame.collect())
    return {t: pl.concat(fs, how="vertical_relaxed") for t, fs in out.items()}


def _whole_and_split(reader: Reader, paths: list[Path], options: dict[str, Any], staging: Path
                     ) -> tuple[ScanResult, list[ScanResult], dict[str, Any]]:
    """The scan of all of ``paths``, the scans of each group with the shared facts, and the
    groups' metas merged as the cluster ingest merges them."""
    opts = reader.resolve_options(options)

    def ctx(name: str, shared: dict[str, Any] | None = None) -> ScanContext:
        (staging / name).mkdir(parents=True)
        return ScanContext(opts, staging / name, shared=shared or {})

    whole = reader.scan(paths, ctx("whole"))
    groups, skipped = cluster.units_of(reader, paths, opts)
    shared = None
    if reader.shares_facts:
        shared = reader.shared_facts([reader.facts(g, ctx(f"facts{i}")) for i, g in enumerate(groups)])
    scans = [reader.scan(g, ctx(f"scan{i}", shared)) for i, g in enumerate(groups)]
    merged = cluster.merge_meta(reader, [s.meta for s in scans])
    if skipped:  # as build_on_spark adds them
        merged["skipped_files"] = sorted({*merged.get("skipped_files", []), *map(str, skipped)})
    return whole, scans, merged


def _assert_same(whole: ScanResult, scans: list[ScanResult], merged: dict[str, Any]) -> None:
    parts: dict[str, list[pl.DataFrame]] = {}
    for s in scans:
        for t, f in _frames(s).items():
            parts.setdefault(t, []).append(f)
    split = {t: pl.concat(fs, how="vertical_relaxed") for t, fs in parts.items()}
    wf = _frames(whole)
    assert sorted(wf) == sorted(split)
    for t in wf:
        assert wf[t].equals(split[t]), t
    assert [str(f) for f in whole.files] == [str(f) for s in scans for f in s.files]
    meta = dict(whole.meta)
    if "skipped_files" in meta or "skipped_files" in merged:
        meta["skipped_files"] = sorted(map(str, meta.get("skipped_files", [])))
    assert meta == merged


ROW = st.tuples(st.integers(0, 86_400_000_000), st.integers(0, 5000), st.sampled_from(["eu", "us", ""]))


FILES = st.lists(st.tuples(st.lists(ROW, min_size=1, max_size=8), st.booleans()), min_size=1, max_size=4)


@settings(max_examples=40, deadline=None)
@given(files=FILES)
def test_mapped_split_scans_are_the_whole_scan(files: list[tuple[list[tuple[int, int, str]], bool]]) -> None:
    """Random files: times to the microsecond (the earliest may be in any file), and an
    unmapped column (``zone``) only in some files."""
    root = Path(tempfile.mkdtemp(prefix="split-"))
    try:
        src = root / "logs"
        src.mkdir()
        for i, (rows, zone) in enumerate(files):
            head = "ts,req,prompt_len,region" + (",zone" if zone else "")
            lines = [head] + [f"{(T0 + dt.timedelta(microseconds=us)).isoformat(sep=' ')},r{i}_{k},{n},{reg}"
                              + (f",z{k}" if zone else "") for k, (us, n, reg) in enumerate(rows)]
            (src / f"part{i}.csv").write_text("\n".join(lines) + "\n")
        mapping = root / "m.toml"
        mapping.write_text('table = "requests"\nformat = "csv"\n[time]\nformat = "%Y-%m-%d %H:%M:%S%.f"\n'
                           '[columns]\narrival_s = "ts"\nrequest_id = "req"\ninput_tokens = "prompt_len"\n'
                           "[attrs]\nrest = true\n")
        options = {"mapping": str(mapping)}
        whole, scans, merged = _whole_and_split(registry.get("mapped"), [src], options, root)
        assert len(scans) == len(files)
        _assert_same(whole, scans, merged)
        earliest = min(us for rows, _ in files for us, _, _ in rows)
        assert whole.meta["origin_epoch_ns"] == int((T0 - dt.datetime(1970, 1, 1)).total_seconds()) * 10**9 \
            + earliest * 1000
    finally:
        shutil.rmtree(root, ignore_errors=True)


# every split reader on its test sources (several files each; three are made here)
SPLIT_CASES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("azure_llm", "azure_llm_2023", None),
    ("mooncake", "mooncake/synthetic_trace.jsonl", None),
    ("qwen_bailian", "qwen_bailian", None),
    ("burstgpt", "burstgpt", None),
    ("azure_functions_2019", "azure_functions_2019/fixture", None),
    ("huawei_2023", "huawei_2023/private_dataset", None),
    ("huawei_2023", "huawei_2023/private_dataset", {"resolution": "second"}),
    ("huawei_2025", "huawei_2025/cold_start_dataset", None),
    ("alibaba_pai", "alibaba_pai", {"jobs_from": "instance"}),
    ("alibaba_2018", "alibaba_2018", None),
    ("google_2011", "google_2011", None),
    ("google_2019", "google_2019", None),
    ("planetlab", "planetlab/20110303", None),
    ("azure_vm_noise", "azure_vm_noise", None),
    ("azure_vm", "azure_vm", None),
    ("philly", "philly/trace-data", None),
    ("cloudperftrace", "cloudperftrace", None),
    ("alibaba_genai", "alibaba_genai_2026", None),
    ("alibaba_genai", "alibaba_genai_2026_pods", None),
    ("alibaba_genai", "alibaba_genai_2026/lora_request_trace.csv", None),
]


def _source(fmt: str, rel: str, tmp: Path) -> Path:
    """The test source, or for a single-file one, a folder of several made from it (mooncake:
    its lines in two files; planetlab: its day directory twice, two days apart; GenAI: the
    request trace as .csv and .tar.gz)."""
    if fmt == "mooncake":
        lines = (DATA / rel).read_text().splitlines(keepends=True)
        out = tmp / "mooncake"
        out.mkdir()
        (out / "a.jsonl").write_text("".join(lines[: len(lines) // 2]))
        (out / "b.jsonl").write_text("".join(lines[len(lines) // 2:]))
        return out
    if fmt == "alibaba_genai" and rel.endswith(".csv"):
        # the request trace as published twice, .csv and .tar.gz: the second copy is skipped
        out = tmp / "genai"
        out.mkdir()
        shutil.copy(DATA / rel, out / "lora_request_trace.csv")
        with tarfile.open(out / "lora_request_trace.tar.gz", "w:gz") as tf:
            tf.add(DATA / rel, arcname="lora_request_trace.csv")
        return out
    if fmt == "planetlab":
        for day in ("20110303", "20110305"):
            shutil.copytree(DATA / rel, tmp / "planetlab" / day)
        return tmp / "planetlab"
    return DATA / rel


def test_every_split_reader_is_covered() -> None:
    split = {n for n in registry.names() if registry.get(n).split}
    assert split - {"mapped"} == {fmt for fmt, _, _ in SPLIT_CASES}


@pytest.mark.parametrize(("fmt", "rel", "options"), SPLIT_CASES,
                         ids=[f"{f}-{r}-{o}" for f, r, o in SPLIT_CASES])
def test_split_scans_are_the_whole_scan(tmp_path: Path, fmt: str, rel: str,
                                        options: dict[str, Any] | None) -> None:
    src = _source(fmt, rel, tmp_path)
    whole, scans, merged = _whole_and_split(registry.get(fmt), [src], options or {}, tmp_path / "staging")
    assert len(scans) > 1
    _assert_same(whole, scans, merged)
