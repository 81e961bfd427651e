"""Spark parity: every analysis gives the same results on Spark as on DuckDB.

The contract of issue 12: nothing in an analysis may depend on the engine. Each analysis that
applies runs on both engines over the same store; summaries and tables must agree, exactly
for integers and text, to 1e-9 relative for floats. Sampling analyses are compared with a
sample size above every trace's row count, so the sample is the whole table on both engines
(their exact parts; a seeded sample itself differs between engines by design).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import workscope
from tests.conftest import close
from workscope.analysis import Options, analyses
from workscope.analysis.base import Context, sql_text

pytest.importorskip("pyspark", reason="the spark extra is not installed (make test installs it)")
pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java 17")

from workscope.spark import SparkEngine, transpile

DATA = Path(__file__).parent.parent / "data"
# every sample is the whole table (the largest test trace has fewer rows): exact on both engines
WHOLE = Options(max_sample=400_000, memory_mb=0)

TRACES = ["alibaba_openb", "azure_functions_2021", "azure_llm_code", "azure_llm_conv", "nasa_ipsc",
          "mooncake", "burstgpt", "qwen", "genai", "huawei25", "huawei23", "azf2019", "planetlab", "noise",
          "dlrm", "philly", "google2011"]


@pytest.fixture(scope="module")
def spark() -> Any:
    """One Spark session (local[2]) for the module; engines share it."""
    return SparkEngine("local[2]").spark


@pytest.fixture(scope="module")
def results_store(tmp_path_factory: pytest.TempPathFactory) -> workscope.Store:
    """Measured runs (AIPerf and GuideLLM result files) for the latency analysis."""
    store = workscope.open(tmp_path_factory.mktemp("runs") / "store")
    store.ingest(DATA / "bench_results" / "aiperf" / "request_rate", name="aiperf_run")
    store.ingest(DATA / "bench_results" / "guidellm" / "replay", name="guidellm_run")
    return store


def same_table(a: pl.DataFrame, b: pl.DataFrame, where: str, out: list[str]) -> None:
    """Tables equal as sets of rows (an engine may return unordered rows in another order)."""
    if a.columns != b.columns:
        out.append(f"{where}: columns {a.columns} != {b.columns}")
        return
    if a.height != b.height:
        out.append(f"{where}: {a.height} rows != {b.height}")
        return
    keys = [c for c in a.columns if not a[c].dtype.is_nested()]
    a, b = a.sort(keys, nulls_last=True), b.sort(keys, nulls_last=True)
    close(a.to_dicts(), b.to_dicts(), where, out)


def differences(trace: workscope.Trace, spark: Any) -> tuple[int, list[str]]:
    """(analyses compared, their differences) of one trace on DuckDB and Spark."""
    duck = Context(trace, WHOLE)
    eng = SparkEngine(session=spark)
    eng.register_trace(trace, default=True)
    on_spark = Context(trace, WHOLE, engine=eng)
    out: list[str] = []
    ran = 0
    for a in analyses():
        applies = a.applies(duck)
        if applies != a.applies(on_spark):
            out.append(f"{a.name}: applies on one engine only")
            continue
        if not applies:
            continue
        ran += 1
        r1, r2 = a.run(duck), a.run(on_spark)
        close(r1.summary, r2.summary, f"{a.name}.summary", out)
        if set(r1.tables) != set(r2.tables):
            out.append(f"{a.name}: tables {sorted(set(r1.tables) ^ set(r2.tables))} on one side only")
        for name in set(r1.tables) & set(r2.tables):
            same_table(r1.tables[name], r2.tables[name], f"{a.name}.{name}", out)
    eng.close()
    return ran, out


@pytest.mark.slow
@pytest.mark.parametrize("name", TRACES)
def test_every_analysis_agrees_on_spark(real_store: workscope.Store, spark: Any, name: str) -> None:
    ran, diff = differences(real_store.trace(name), spark)
    assert ran > 0
    assert not diff, "\n".join(diff[:20])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["aiperf_run", "guidellm_run"])
def test_latency_agrees_on_spark(results_store: workscope.Store, spark: Any, name: str) -> None:
    ran, diff = differences(results_store.trace(name), spark)
    assert ran > 0
    assert not diff, "\n".join(diff[:20])


@pytest.mark.parametrize("name", ["arrivals_fano", "serverless_function_cdf"])
def test_spark_forms_give_the_originals_results_on_duckdb(real_store: workscope.Store, name: str) -> None:
    """A Spark form is DuckDB SQL too: on DuckDB it must return what the original does."""
    spark_dir = Path(workscope.__file__).parent / "analysis" / "sql" / "spark"
    assert (spark_dir / f"{name}.sql").is_file()
    assert sql_text(name, "spark") != sql_text(name)
    # the parity tests above run the Spark forms on Spark; here the two texts meet on DuckDB
    trace = {"arrivals_fano": "azure_llm_conv", "serverless_function_cdf": "azf2019",
             }[name]
    ctx = Context(real_store.trace(trace), WHOLE)
    original, spark_form = _capture(ctx, name)
    out: list[str] = []
    same_table(original, spark_form, name, out)
    assert original.height > 0 and not out, "\n".join(out[:10])


def _capture(ctx: Context, name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The original's and the Spark form's results on DuckDB, from the first call of the
    analysis that runs ``name`` (same placeholders and parameters)."""
    calls: list[tuple[Any, ...]] = []
    real = ctx.sql

    def spy(n: str, *args: Any, **kw: Any) -> pl.DataFrame:
        if n == name and not calls:
            calls.append((args, kw))
        return real(n, *args, **kw)

    ctx.sql = spy  # type: ignore[method-assign]
    for a in analyses():
        if a.applies(ctx):
            a.run(ctx)
        if calls:
            break
    assert calls, f"no analysis ran {name}"
    args, kw = calls[0]
    original = real(name, *args, **kw)
    ctx.engine.dialect = "spark"  # the DuckDB engine reads the Spark form of the SQL
    try:
        spark_form = real(name, *args, **kw)
    finally:
        del ctx.engine.dialect
    return original, spark_form


def test_transpile_rules() -> None:
    """Where DuckDB and Spark differ in meaning, the Spark text keeps DuckDB's."""
    sql = transpile("SELECT list_position($tops, 'b') AS p, isfinite(x) AS f, quantile_cont(x, 0.5) AS q, "
                    "$w[2] AS second, $w[i + 1] AS nth, hash(x, 3) % 10 AS h FROM t USING SAMPLE reservoir(5 ROWS) REPEATABLE (7)",
                    {"tops": ["a", "b"], "w": [1.5, 2.5]})
    assert "NULLIF(ARRAY_POSITION(ARRAY('a', 'b'), 'b'), 0)" in sql
    assert "ISNAN(x)" in sql and "PERCENTILE(x, 0.5)" in sql
    assert "ARRAY(1.5, 2.5)[1] AS second" in sql and "ELEMENT_AT(ARRAY(1.5, 2.5), i + 1) AS nth" in sql
    assert "PMOD(XXHASH64(x, 3), 10)" in sql
    assert "ORDER BY RAND(7) LIMIT 5" in sql and "TABLESAMPLE" not in sql
    assert "t__x" in transpile("SELECT * FROM t.x", schemas={"t": "t"})


def test_cli_engine_spark(real_store: workscope.Store, spark: Any) -> None:
    """--engine spark on characterize and sql: the same JSON as DuckDB's; engine options are
    checked before any work."""
    import json

    from typer.testing import CliRunner

    from workscope.cli import app

    runner = CliRunner()
    home = str(real_store.home)
    base = ["characterize", "azure_llm_code", "--only", "arrivals_requests,llm_tokens", "--home", home, "--json"]
    duck = json.loads(runner.invoke(app, base).stdout)
    r = runner.invoke(app, [*base, "--engine", "spark", "--spark-master", "local[2]",
                            "--spark-conf", "spark.sql.shuffle.partitions=4"])
    assert r.exit_code == 0, r.output
    on_spark = json.loads(r.stdout)
    out: list[str] = []
    for name in ("arrivals_requests", "llm_tokens"):
        close(duck["results"][name]["summary"], on_spark["results"][name]["summary"], name, out)
    assert not out, out[:10]

    query = ("SELECT kind, count(*) AS n, avg(input_tokens) AS mean_in FROM azure_llm_conv.requests "
             "GROUP BY kind ORDER BY kind")
    d = runner.invoke(app, ["sql", query, "--home", home, "--json"])
    s = runner.invoke(app, ["sql", query, "--home", home, "--json", "--engine", "spark"])
    assert d.exit_code == 0 and s.exit_code == 0, s.output
    rows_d, rows_s = json.loads(d.stdout)["rows"], json.loads(s.stdout)["rows"]
    assert rows_d and [r["n"] for r in rows_d] == [r["n"] for r in rows_s]
    close(rows_d, rows_s, "sql", out)
    assert not out, out

    for args, text in ((["--engine", "spark", "--spark-conf", "nokey"], "key=value"),
                       (["--spark-master", "local[2]"], "need --engine spark"),
                       (["--engine", "flink"], "choose duckdb or spark")):
        r = runner.invoke(app, [*base, *args])
        assert r.exit_code == 2 and text in r.stderr, (args, r.stderr)
    r = runner.invoke(app, ["sql", query, "--home", home, "--engine", "spark", "--read-only"])
    assert r.exit_code == 2 and "--read-only needs the DuckDB engine" in r.stderr


def test_store_given_as_a_file_uri(real_store: workscope.Store, spark: Any) -> None:
    """The store as a file:// URI (how a cluster names a mounted store): same results, and the
    Spark views read the files by file:// URI, not from the cluster's default file system."""
    store = workscope.open(real_store.home.resolve().as_uri())
    ran, diff = differences(store.trace("nasa_ipsc"), spark)
    assert ran > 0 and not diff, diff[:10]
    eng = SparkEngine(session=spark)
    eng.register_trace(store.trace("nasa_ipsc"), default=True)
    files = eng.spark.sql("SELECT DISTINCT input_file_name() AS f FROM jobs").toPandas()["f"].tolist()
    assert files and all(f.startswith("file:///") for f in files)
    eng.close()


def test_the_cli_stderr_holds_no_spark_start_chatter(tmp_path: Path) -> None:
    """The CLI owns stderr: a fresh process starting Spark prints no log-level notice and no
    Spark log lines (the JVM's own one-line module warning is not Spark's to silence)."""
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "workscope", "sql", "SELECT 1 AS x", "--engine", "spark",
                        "--spark-master", "local[1]", "--home", str(tmp_path / "s"), "--json"],
                       capture_output=True, text=True, timeout=300, check=False)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["rows"] == [{"x": 1}]
    lines = [ln for ln in p.stderr.splitlines() if ln.strip() and "incubator modules" not in ln]
    assert lines == []
