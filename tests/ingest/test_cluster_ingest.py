"""Ingest on Spark (local[2]) builds the same trace as an ingest on this machine.

The contract of :mod:`workscope.ingest.cluster`: same rows in the same order in every table,
same rejects (with their exact source lines), same manifest but for its creation time and
the number of Parquet files; errors raised in a task come back as the same exception, with
nothing written.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

import workscope
from workscope.cli import app
from workscope.errors import DataError, EmptySourceError, InternalError, MissingColumnError, SourceError
from workscope.ingest import cluster, registry
from workscope.ingest.pipeline import ingest
from workscope.samples import SAMPLES
from workscope.spark import SparkEngine
from workscope.store import REJECTS

pytest.importorskip("pyspark")

DATA = Path(__file__).parent.parent / "data"

# (format, path under tests/data, options): every reader, split or not, on multi-file sources
# where there are some.
CASES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("azure_llm", "azure_llm_2023", None),
    ("azure_llm", "azure_llm_fixtures", None),
    ("burstgpt", "burstgpt", None),
    ("mooncake", "mooncake", None),
    ("qwen_bailian", "qwen_bailian", None),
    ("alibaba_genai", "alibaba_genai_2026", None),
    ("alibaba_genai", "alibaba_genai_2026_pods", None),
    ("azure_functions_2019", "azure_functions_2019/fixture", None),
    ("azure_functions_2021", "azure_functions_2021", None),
    ("huawei_2023", "huawei_2023/private_dataset", None),
    ("huawei_2025", "huawei_2025/cold_start_dataset", None),
    ("swf", "swf", None),
    ("alibaba_openb", "alibaba_openb", None),
    ("alibaba_dlrm", "alibaba_dlrm", None),
    ("alibaba_pai", "alibaba_pai", None),
    ("alibaba_2018", "alibaba_2018", None),
    ("google_2011", "google_2011", None),
    ("google_2019", "google_2019", None),
    ("planetlab", "planetlab/20110303", None),
    ("azure_vm_noise", "azure_vm_noise", None),
    ("azure_vm", "azure_vm", None),
    ("philly", "philly/trace-data", None),
    ("cloudperftrace", "cloudperftrace", None),
    ("datacenter_aggregates", "datacenter_aggregates", None),
    ("workscope_workload", "workscope_workload", None),
    ("aiperf_results", "bench_results/aiperf/replay", None),
    ("guidellm_results", "bench_results/guidellm/concurrent", None),
    ("vllm_results", "bench_results/vllm", None),
    ("sglang_results", "bench_results/sglang", None),
    ("mapped", "mapped/requests.csv", {"mapping": str(DATA / "mapped/requests_csv.toml")}),
    ("burstgpt", "bad/burstgpt/bad_values.csv", None),
    ("mooncake", "bad/mooncake/bad_lines.jsonl", None),
    ("azure_llm", "bad/azure_llm/bad_numbers.csv", None),
]


@pytest.fixture(scope="module")
def engine() -> SparkEngine:
    """One Spark engine (local[2]) for the module."""
    return SparkEngine("local[2]")


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[workscope.Store, workscope.Store]:
    """A store ingested here and one ingested on Spark."""
    root = tmp_path_factory.mktemp("cluster")
    return workscope.open(root / "here"), workscope.open(root / "spark")


def _same_trace(here: workscope.Trace, there: workscope.Trace) -> None:
    """Every table and the rejects, row for row; the manifest but for its time and file counts."""
    a, b = dict(here.manifest), dict(there.manifest)
    for m in (a, b):
        m.pop("created_utc")
        for t in m["tables"].values():
            t.pop("files")
    assert json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)
    assert here.tables == there.tables
    for table in here.tables:
        assert here.scan(table).collect().equals(there.scan(table).collect()), table
    rej_a, rej_b = (pl.read_parquet(sorted((t.path / REJECTS).glob("*.parquet"))) for t in (here, there))
    assert rej_a.equals(rej_b)


@pytest.mark.parametrize(("fmt", "rel", "options"), CASES, ids=[f"{f}-{r}" for f, r, _ in CASES])
def test_the_same_trace_either_way(engine: SparkEngine, stores: tuple[workscope.Store, workscope.Store],
                                   fmt: str, rel: str, options: dict[str, Any] | None) -> None:
    here, there = stores
    name = re.sub(r"\W", "_", rel)
    a = ingest(here, DATA / rel, format=fmt, name=name, options=options)
    b = ingest(there, DATA / rel, format=fmt, name=name, options=options, engine=engine)
    assert (a.status, b.status) == ("created", "created")
    _same_trace(here.trace(name), there.trace(name))
    assert not list((there.traces_dir / name).rglob(cluster.UNITS))


def test_samples_the_same_either_way(engine: SparkEngine, tmp_path: Path) -> None:
    here, there = workscope.open(tmp_path / "a"), workscope.open(tmp_path / "b")
    for s in SAMPLES:
        ingest(here, s.paths(), format=s.format, name=s.name, options=s.options)
        ingest(there, s.paths(), format=s.format, name=s.name, options=s.options, engine=engine)
        _same_trace(here.trace(s.name), there.trace(s.name))


def test_split_readers_read_each_file_in_its_own_task() -> None:
    units, _ = cluster.units_of(registry.get("azure_llm"), [DATA / "azure_llm_2023"])
    assert [[p.name for p in u] for u in units] == [["AzureLLMInferenceTrace_code.csv"],
                                                    ["AzureLLMInferenceTrace_conv.csv"]]
    # the jobs aggregate joins the event files: one task for them, one per usage or machine file
    d = DATA / "google_2011"
    units, skipped = cluster.units_of(registry.get("google_2011"), [d])
    assert units == [[d / "task_events/part-00000-of-00500.csv.gz", d / "task_events/part-00001-of-00500.csv.gz"],
                     [d / "task_usage/part-00000-of-00500.csv.gz"],
                     [d / "machine_events/part-00000-of-00001.csv.gz"]]
    assert skipped == []
    # one task per day: a day's durations join that day's invocations and memory files
    d = DATA / "azure_functions_2019/fixture"
    units, _ = cluster.units_of(registry.get("azure_functions_2019"), [d])
    assert [[p.name for p in u] for u in units] == [
        ["app_memory_percentiles.anon.d01.csv", "function_durations_percentiles.anon.d01.csv",
         "invocations_per_function_md.anon.d01.csv"],
        ["invocations_per_function_md.anon.d02.csv"]]
    # CloudPerfTrace: a task per Parquet file; the origin (the earliest timestamp of all, in
    # tasks=4, the 7th file) comes from the first job, as the same-trace case above checks
    units, _ = cluster.units_of(registry.get("cloudperftrace"), [DATA / "cloudperftrace"])
    assert len(units) == 11 and units[0] == [DATA / "cloudperftrace/tasks=10/part-0.parquet"]
    # PAI: a task per table file, each with the .header files (none of the tables joins)
    d = DATA / "alibaba_pai"
    units, _ = cluster.units_of(registry.get("alibaba_pai"), [d])
    headers = sorted(d.glob("*.header"))
    assert [u[0].name for u in units] == ["pai_instance_table.csv", "pai_job_table.csv", "pai_machine_metric.csv",
                                          "pai_machine_spec.tar.gz", "pai_task_table.tar.gz"]
    assert all(u[1:] == headers for u in units) and len(headers) == 7
    # a reader that is not split reads its sources whole, in one task
    units, _ = cluster.units_of(registry.get("alibaba_openb"), [DATA / "alibaba_openb"])
    assert units == [[DATA / "alibaba_openb"]]


def test_the_origin_is_shared_across_tasks(engine: SparkEngine, tmp_path: Path) -> None:
    """Each file's task counts time from the earliest of all files' origins (here the code
    trace starts 77 s after the conversation trace, and does not start at 0)."""
    store = workscope.open(tmp_path / "s")
    ingest(store, DATA / "azure_llm_2023", format="azure_llm", name="llm", engine=engine)
    m = store.trace("llm").manifest
    assert m["meta"]["origin_utc"] == "2023-11-16T18:15:46.680590+00:00"
    firsts = store.trace("llm").sql("SELECT kind, min(arrival_s) AS t FROM requests GROUP BY kind ORDER BY kind")
    assert firsts["kind"].to_list() == ["code", "conv"]
    assert firsts["t"][0] == pytest.approx(77.29937, abs=1e-6) and firsts["t"][1] == 0.0


def _two_files(tmp_path: Path, second: str) -> Path:
    """A folder of one good BurstGPT file and ``second`` (a file of tests/data/bad/burstgpt)."""
    d = tmp_path / "src"
    d.mkdir()
    shutil.copy(DATA / "burstgpt/BurstGPT_3.csv", d / "a.csv")
    shutil.copy(DATA / "bad/burstgpt" / second, d / "b.csv")
    return d


@pytest.mark.parametrize(("bad", "error", "text"), [
    ("missing_column.csv", MissingColumnError, "b.csv"),
    ("header_only.csv", EmptySourceError, "b.csv"),
])
def test_a_task_error_is_raised_as_itself_and_nothing_is_written(
        engine: SparkEngine, tmp_path: Path, bad: str, error: type[Exception], text: str) -> None:
    src = _two_files(tmp_path, bad)
    store = workscope.open(tmp_path / "s")
    with pytest.raises(error) as here:
        ingest(store, src, format="burstgpt", name="t")
    with pytest.raises(error) as there:
        ingest(store, src, format="burstgpt", name="t", engine=engine)
    assert str(there.value) == str(here.value) and text in str(there.value)
    assert isinstance(there.value, SourceError) and there.value.path == here.value.path
    assert store.names() == []
    assert not [p for p in store.home.rglob("*") if p.is_file() and not p.name.endswith(".lock")]


def test_the_reject_cap_counts_over_all_tasks(engine: SparkEngine, tmp_path: Path) -> None:
    """Each of two files has fewer rejects than the cap; together they pass it."""
    d = tmp_path / "src"
    d.mkdir()
    for n in ("a", "b"):
        shutil.copy(DATA / "bad/burstgpt/bad_values.csv", d / f"{n}.csv")
    rejects = workscope.open(tmp_path / "probe").ingest(d / "a.csv", format="burstgpt", name="p")
    per_file = rejects.manifest["rejects"]["rows"]
    assert per_file >= 2
    store = workscope.open(tmp_path / "s")
    with pytest.raises(DataError, match="more than .* rows rejected"):
        ingest(store, d, format="burstgpt", name="t", max_rejects=per_file, max_reject_share=None,
               engine=engine)
    assert store.names() == []
    ok = ingest(store, d, format="burstgpt", name="t", max_rejects=2 * per_file, max_reject_share=None,
                engine=engine)
    assert ok.manifest["rejects"]["rows"] == 2 * per_file


def test_reingest_is_a_no_op_and_force_replaces(engine: SparkEngine, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    store = workscope.open(tmp_path / "s")
    first = ingest(store, DATA / "burstgpt", format="burstgpt", name="b", engine=engine)
    # the check that the sources are unchanged hashes them in Spark tasks, not on the driver
    from workscope.ingest import pipeline

    def no_hashing_here(*_: Any) -> str:
        raise AssertionError("a source was hashed on the driver")

    with monkeypatch.context() as m:
        m.setattr(pipeline, "file_sha256", no_hashing_here)
        again = ingest(store, DATA / "burstgpt", format="burstgpt", name="b", engine=engine)
    assert (first.status, again.status) == ("created", "unchanged")
    assert ingest(store, DATA / "burstgpt", format="burstgpt", name="b", engine=engine, force=True).status == "replaced"
    assert store.trace("b").check().problems == []


def test_cli_ingest_on_spark(tmp_path: Path) -> None:
    runner = CliRunner()
    home = str(tmp_path / "s")
    res = runner.invoke(app, ["ingest", str(DATA / "azure_llm_2023"), "--format", "azure_llm", "--name", "llm",
                              "--engine", "spark", "--spark-master", "local[2]", "--home", home, "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["status"] == "created" and doc["manifest"]["tables"]["requests"]["rows_ok"] == 28_185
    res = runner.invoke(app, ["ingest", str(DATA / "burstgpt"), "--spark-conf", "a=b", "--home", home])
    assert res.exit_code == 2 and "--engine spark" in res.output


def test_task_metas_merge_or_refuse() -> None:
    huawei = registry.get("huawei_2025")
    merged = cluster.merge_meta(huawei, [
        {"file_kinds": {"series": 2}, "cpu_unit": "millicores", "skipped_files": ["b"]},
        {"file_kinds": {"cold_start": 1, "series": 1}, "cpu_unit": "millicores", "skipped_files": ["a"]},
    ])
    assert merged == {"file_kinds": {"series": 3, "cold_start": 1}, "cpu_unit": "millicores",
                      "skipped_files": ["a", "b"]}
    # a key that is not a count must agree: else the reader is not split as it claims
    with pytest.raises(InternalError, match="disagree on meta 'cpu_unit'"):
        cluster.merge_meta(huawei, [{"cpu_unit": "millicores"}, {"cpu_unit": "cores"}])


def test_a_failed_spark_job_is_a_data_error(engine: SparkEngine, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A job that Spark itself fails (a worker that dies, or cannot import workscope) is one
    clear DataError, and nothing is written."""

    def broken(_spec: str) -> Any:
        def run(batches: Any) -> Any:
            raise RuntimeError("worker lost")
            yield from batches

        return run

    monkeypatch.setattr(cluster, "_task", broken)
    store = workscope.open(tmp_path / "s")
    with pytest.raises(DataError, match="the Spark job reading .* failed: .*nothing was written"):
        ingest(store, DATA / "burstgpt", format="burstgpt", name="b", engine=engine)
    assert store.names() == []


def test_planetlab_days_the_same_either_way(engine: SparkEngine, tmp_path: Path) -> None:
    """One task per day directory; each counts time from midnight of the first day of all."""
    src = tmp_path / "planetlab"
    for day in ("20110303", "20110305"):
        shutil.copytree(DATA / "planetlab/20110303", src / day)
    here, there = workscope.open(tmp_path / "a"), workscope.open(tmp_path / "b")
    units, _ = cluster.units_of(registry.get("planetlab"), [src])
    assert len(units) == 2
    ingest(here, src, format="planetlab", name="p")
    ingest(there, src, format="planetlab", name="p", engine=engine)
    _same_trace(here.trace("p"), there.trace("p"))
    m = there.trace("p").manifest
    assert m["meta"]["days"] == ["2011-03-03", "2011-03-05"]
    assert m["tables"]["usage"]["time"]["min_s"] == 0.0 and m["tables"]["usage"]["time"]["max_s"] >= 2 * 86400


def test_an_unknown_engine_is_refused_the_same_everywhere(tmp_path: Path) -> None:
    from workscope.analysis import characterize
    from workscope.errors import UsageError
    from workscope.replay.pipeline import export

    store = workscope.open(tmp_path / "s")
    msg = "unknown engine 'sparky': choose duckdb or spark"
    with pytest.raises(UsageError, match=msg):
        ingest(store, DATA / "burstgpt", format="burstgpt", name="b", engine="sparky")
    assert store.names() == []
    ingest(store, DATA / "burstgpt", format="burstgpt", name="b", engine="duckdb")
    with pytest.raises(UsageError, match=msg):
        characterize(store.trace("b"), engine="sparky")
    with pytest.raises(UsageError, match=msg):
        export(store.trace("b"), "vllm_timed", tmp_path / "w.jsonl", engine="sparky")


def test_azure_functions_days_the_same_either_way(engine: SparkEngine, tmp_path: Path) -> None:
    """One task per day, days that lack a kind of file included: day 2 has invocations and a
    memory file whose apps have no durations that day (all its rows rejected, reasons kept),
    day 3 durations without invocations (no triggers)."""
    fx, src = DATA / "azure_functions_2019/fixture", tmp_path / "af"
    src.mkdir()
    for f in fx.iterdir():
        shutil.copy(f, src / f.name)
    shutil.copy(fx / "app_memory_percentiles.anon.d01.csv", src / "app_memory_percentiles.anon.d02.csv")
    shutil.copy(fx / "function_durations_percentiles.anon.d01.csv",
                src / "function_durations_percentiles.anon.d03.csv")
    units, _ = cluster.units_of(registry.get("azure_functions_2019"), [src])
    assert [len(u) for u in units] == [3, 2, 1]
    here, there = workscope.open(tmp_path / "a"), workscope.open(tmp_path / "b")
    a = ingest(here, src, format="azure_functions_2019", name="f")
    ingest(there, src, format="azure_functions_2019", name="f", engine=engine)
    _same_trace(here.trace("f"), there.trace("f"))
    m = there.trace("f").manifest
    assert m["meta"]["days"] == [1, 2, 3]
    fn = there.trace("f").scan("functions").collect()
    days = fn.select(pl.col("attrs").str.json_path_match("$.day").cast(pl.Int64)).to_series()
    d1 = fn.filter(days == 1)
    assert d1.height == fn.filter(days == 3).height > 0
    assert fn.filter(days == 3)["trigger"].null_count() == d1.height
    mem_rows = sum(1 for _ in (fx / "app_memory_percentiles.anon.d01.csv").open()) - 1
    rejects = pl.read_parquet(sorted((there.trace("f").path / REJECTS).glob("*.parquet")))
    day2 = rejects.filter(pl.col("file").str.ends_with("app_memory_percentiles.anon.d02.csv"))
    assert day2.height == mem_rows and day2["reason"].str.contains("day-2").sum() >= 2
    for t in a.manifest["tables"].values():
        assert t["rows_in"] == t["rows_ok"] + t["rows_rejected"]


@pytest.mark.parametrize("options", [None, {"resolution": "second"}, {"resolution": "all"}])
def test_huawei_2023_the_same_either_way(engine: SparkEngine, tmp_path: Path,
                                         options: dict[str, Any] | None) -> None:
    """A task per file read; the files of the resolution read are chosen over all the files
    (under "auto" a folder of per-second files alone is read, beside per-minute ones it is
    skipped) and "all" reads both in one task."""
    src = DATA / "huawei_2023/private_dataset"
    units, skipped = cluster.units_of(registry.get("huawei_2023"), [src], options)
    assert len(units) == {None: 9, "second": 4, "all": 1}[(options or {}).get("resolution")]
    here, there = workscope.open(tmp_path / "a"), workscope.open(tmp_path / "b")
    ingest(here, src, format="huawei_2023", name="h", options=options)
    ingest(there, src, format="huawei_2023", name="h", options=options, engine=engine)
    _same_trace(here.trace("h"), there.trace("h"))
    assert there.trace("h").manifest["meta"].get("skipped_files", []) == sorted(map(str, skipped))


def test_mapped_files_the_same_either_way(engine: SparkEngine, tmp_path: Path) -> None:
    """The generic reader reads a task per file; what the files share comes from a first job:
    the origin (the earliest head time of all files: here in the second file, at a fraction of
    a ms) and, with ``rest = true``, every file's unmapped columns (``zone`` only in the third)."""
    src = tmp_path / "logs"
    src.mkdir()
    head = "ts,req,prompt_len,gen_len,latency_ms,status,blocks,region,tier"
    (src / "a.csv").write_text(f"{head}\n2024-05-01 12:00:00.250,r1,100,20,1500,200,\"[1,2,3]\",eu,gold\n"
                               "2024-05-01 12:00:01.000,r2,2048,128,2750.5,200,\"[1,2,4]\",us,free\n")
    (src / "b.csv").write_text(f"{head}\n2024-05-01 12:00:00.000125,r3,7,0,12,500,[],eu,free\n"
                               "2024-05-01 12:00:03.125,r4,abc,5,100,200,\"[9]\",us,gold\n")
    (src / "c.csv").write_text(f"{head},zone\n2024-05-01 12:00:04.5,r5,64,8,3,200,\"[1,2]\",eu,,eu-1\n")
    mapping = tmp_path / "m.toml"
    mapping.write_text((DATA / "mapped/requests_csv.toml").read_text()
                       .replace('keep = ["region", "tier"]', "rest = true"))
    options = {"mapping": str(mapping)}
    units, _ = cluster.units_of(registry.get("mapped"), [src], registry.get("mapped").resolve_options(options))
    assert [[p.name for p in u] for u in units] == [["a.csv"], ["b.csv"], ["c.csv"]]
    here, there = workscope.open(tmp_path / "a"), workscope.open(tmp_path / "b")
    ingest(here, src, format="mapped", name="m", options=options)
    ingest(there, src, format="mapped", name="m", options=options, engine=engine)
    _same_trace(here.trace("m"), there.trace("m"))
    m = there.trace("m").manifest
    assert m["meta"]["origin_utc"] == "2024-05-01T12:00:00.000125+00:00"
    rows = there.trace("m").scan("requests").sort("request_id").collect()
    assert rows["arrival_s"].to_list()[:2] == [pytest.approx(0.249875), pytest.approx(0.999875)]
    assert rows.filter(pl.col("request_id") == "r5")["attrs"].item() == '{"region":"eu","tier":null,"zone":"eu-1"}'
    assert json.loads(rows.filter(pl.col("request_id") == "r1")["attrs"].item())["zone"] is None


def test_azure_functions_archive_is_one_task(engine: SparkEngine, tmp_path: Path) -> None:
    """The published .tar.xz is read from start to end: one task, the same trace."""
    import tarfile

    fx = DATA / "azure_functions_2019/fixture"
    archive = tmp_path / "azurefunctions-dataset2019.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        for f in sorted(fx.iterdir()):
            tar.add(f, arcname=f.name)
    units, _ = cluster.units_of(registry.get("azure_functions_2019"), [archive])
    assert units == [[archive]]
    here, there = workscope.open(tmp_path / "a"), workscope.open(tmp_path / "b")
    ingest(here, archive, format="azure_functions_2019", name="f")
    ingest(there, archive, format="azure_functions_2019", name="f", engine=engine)
    _same_trace(here.trace("f"), there.trace("f"))
    # and the same rows as the days read a task each
    ingest(there, fx, format="azure_functions_2019", name="days", engine=engine)
    for table in ("invocation_counts", "functions"):
        assert there.trace("f").scan(table).collect().equals(there.trace("days").scan(table).collect())


@pytest.mark.parametrize("jobs_from", ["auto", "job", "instance"])
def test_alibaba_pai_the_same_either_way(engine: SparkEngine, tmp_path: Path, jobs_from: str) -> None:
    """Which table fills jobs is chosen over all the files (the first job tells each task the
    tables of all), so the machine_spec task says the same jobs_from as the jobs task."""
    src = DATA / "alibaba_pai"
    here, there = workscope.open(tmp_path / "a"), workscope.open(tmp_path / "b")
    options = {"jobs_from": jobs_from}
    ingest(here, src, format="alibaba_pai", name="p", options=options)
    ingest(there, src, format="alibaba_pai", name="p", options=options, engine=engine)
    _same_trace(here.trace("p"), there.trace("p"))
    meta = there.trace("p").manifest["meta"]
    level = {"auto": "pai_task_table"}.get(jobs_from, f"pai_{jobs_from}_table")
    assert meta["jobs_from"] == level
    assert meta["tables_not_used"] == sorted({"pai_task_table", "pai_job_table", "pai_instance_table"} - {level})
