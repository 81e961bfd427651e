"""Huawei Cloud serverless traces: 2023 (wide per-function series) and 2025 (cold starts, ...).

Fixtures follow FORMATS.md 5a / 5b (see tests/data/huawei_20*/FIXTURE.md). Expected row counts
are computed here from the CSV text with the csv module, independently of the readers.
"""

from __future__ import annotations

import csv
import gzip
import json
import shutil
import zipfile
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import reconciles
from workscope.errors import MissingColumnError, OptionError, SourceError
from workscope.ingest import registry
from workscope.ingest.huawei_2023 import READER as R23
from workscope.ingest.huawei_2025 import READER as R25


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _cells(paths: list[Path]) -> int:
    """Non-empty function cells of wide day,time,<function…> files."""
    return sum(1 for p in paths for r in _rows(p) for k, v in r.items()
               if k not in ("day", "time") and v not in ("", "NaN", "nan"))


def _one(df: pl.DataFrame, **eq: object) -> dict:
    hit = df.filter(*(pl.col(k) == v for k, v in eq.items()))
    assert hit.height == 1, (eq, hit)
    return hit.row(0, named=True)


# ====================================================================== 2023

@pytest.fixture
def d23(data_dir: Path) -> Path:
    return data_dir / "huawei_2023"


def test_2023_private_minute(store, d23: Path) -> None:
    priv = d23 / "private_dataset"
    res = store.ingest(priv, format="huawei_2023", name="p23")
    m = res.manifest
    assert reconciles(m)
    req = sorted((priv / "requests_minute").glob("*.csv"))
    other = sorted(f for d in priv.iterdir() if d.name.endswith("_minute") and d.name != "requests_minute"
                   for f in d.glob("*.csv"))
    assert m["tables"]["invocation_counts"]["rows_in"] == _cells(req) == 14
    assert m["tables"]["invocation_counts"]["rows_rejected"] == 0
    assert m["tables"]["usage"]["rows_ok"] == _cells(other) == 34
    assert m["meta"]["origin_utc"] is None
    assert m["origin_utc"] is None
    assert m["meta"]["time_resolution_s"] == 60.0
    assert m["meta"]["resolution"] == "minute"
    assert m["meta"]["dataset"] == "private"
    assert len(m["meta"]["skipped_files"]) == 4 and all("_second" in f for f in m["meta"]["skipped_files"])

    t = store.trace("p23")
    counts = t.read("invocation_counts")
    assert _one(counts, function_id="28", window_start_s=120.0)["count"] == 54990
    assert _one(counts, function_id="33", window_start_s=180.0)["count"] == 7      # written "7.0"
    assert _one(counts, function_id="75", window_start_s=172860.0)["count"] == 1509954  # day_002
    # an empty cell is "no data", not a row
    assert counts.filter(pl.col("function_id") == "33", pl.col("window_start_s") == 0.0).height == 0
    assert set(counts["window_s"]) == {60.0}
    assert counts["owner_id"].null_count() == counts.height

    usage = t.read("usage")
    row = _one(usage, entity_id="75", metric="memory_limit", t_s=0.0)
    assert row["value"] == 2048.0 and row["unit"] == "MB" and json.loads(row["attrs"]) == {"window_s": 60}
    assert _one(usage, entity_id="28", metric="cpu_usage", t_s=0.0)["value"] == pytest.approx(0.003)
    assert _one(usage, entity_id="28", metric="cpu_usage", t_s=0.0)["unit"] == "fraction"
    fd = _one(usage, entity_id="33", metric="function_delay", t_s=60.0)
    assert fd["value"] == 101.5 and fd["unit"] is None
    assert _one(usage, entity_id="75", metric="instances", t_s=60.0)["value"] == 19.0
    assert set(usage["metric"]) == {"function_delay", "platform_delay", "cpu_usage", "memory_usage",
                                    "cpu_limit", "memory_limit", "instances"}


def test_2023_per_second_values_from_notebook(store, d23: Path) -> None:
    priv = d23 / "private_dataset"
    m = store.ingest(priv, format="huawei_2023", name="s23", options={"resolution": "second"}).manifest
    req = sorted((priv / "requests_second").glob("*.csv"))
    assert m["tables"]["invocation_counts"]["rows_ok"] == _cells(req) == 85
    assert m["meta"]["time_resolution_s"] == 1.0
    counts = store.trace("s23").read("invocation_counts")
    assert _one(counts, function_id="28", window_start_s=0.0)["count"] == 816
    assert _one(counts, function_id="164", window_start_s=20303999.0)["count"] == 1346
    assert _one(counts, function_id="33", window_start_s=20303995.0)["count"] == 67449
    assert counts.filter(pl.col("function_id") == "55").height == 0  # NaN throughout
    assert set(counts["window_s"]) == {1.0}
    usage = store.trace("s23").read("usage")
    assert set(usage["metric"]) == {"function_delay", "platform_delay"}
    assert _one(usage, entity_id="75", metric="platform_delay", t_s=1.0)["attrs"] == '{"window_s":1}'


def test_2023_all_resolutions_and_public(store, d23: Path) -> None:
    priv = d23 / "private_dataset"
    m = store.ingest(priv, format="huawei_2023", name="a23", options={"resolution": "all"}).manifest
    everything = [f for f in priv.rglob("*.csv")]
    req = [f for f in everything if f.parent.name.startswith("requests_")]
    assert m["tables"]["invocation_counts"]["rows_ok"] == _cells(req)
    assert m["tables"]["usage"]["rows_ok"] == _cells([f for f in everything if f not in req])
    assert "skipped_files" not in m["meta"] and m["meta"]["time_resolution_s"] == 1.0

    pub = d23 / "public_dataset"
    m = store.ingest(pub, format="huawei_2023", name="pub23").manifest
    assert m["meta"]["dataset"] == "public"
    assert list(m["tables"]) == ["invocation_counts"]
    assert m["tables"]["invocation_counts"]["rows_ok"] == _cells(sorted(pub.rglob("*.csv"))) == 16
    counts = store.trace("pub23").read("invocation_counts")
    assert _one(counts, function_id="5", window_start_s=2246340.0)["count"] == 101
    assert _one(counts, function_id="0", window_start_s=60.0)["count"] == 4


def test_2023_archives_and_metric_option(store, d23: Path, tmp_path: Path) -> None:
    src_dir = d23 / "private_dataset" / "requests_minute"
    # A zip named after its metric folder, members at its root (as a Drive download may be).
    zpath = tmp_path / "z" / "requests_minute.zip"
    zpath.parent.mkdir()
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in sorted(src_dir.glob("*.csv")):
            zf.write(f, f.name)
    m = store.ingest(zpath, format="huawei_2023", name="z23").manifest
    assert m["tables"]["invocation_counts"]["rows_ok"] == _cells(sorted(src_dir.glob("*.csv")))
    assert R23.sniff(zpath)

    gz = tmp_path / "g" / "requests_minute" / "day_000.csv.gz"
    gz.parent.mkdir(parents=True)
    gz.write_bytes(gzip.compress((src_dir / "day_000.csv").read_bytes()))
    m = store.ingest(gz, format="huawei_2023", name="g23").manifest
    assert m["tables"]["invocation_counts"]["rows_ok"] == _cells([src_dir / "day_000.csv"])

    loose = tmp_path / "loose" / "day_000.csv"
    loose.parent.mkdir()
    shutil.copy(d23 / "private_dataset" / "instances_minute" / "day_000.csv", loose)
    with pytest.raises(SourceError, match="cannot tell which metric"):
        store.ingest(loose, format="huawei_2023", name="l23")
    m = store.ingest(loose, format="huawei_2023", name="l23", options={"metric": "instances_minute"}).manifest
    assert m["tables"]["usage"]["rows_ok"] == _cells([loose])
    assert set(store.trace("l23").read("usage")["metric"]) == {"instances"}


def test_2023_reject_raw_text(store, data_dir: Path) -> None:
    f = data_dir / "bad" / "huawei_2023" / "requests_minute" / "bad_counts.csv"
    store.ingest(f, format="huawei_2023", name="r23")
    rej = store.trace("r23").rejects().collect()
    abc = _one(rej, raw="day=0,time=60,0=abc")
    assert abc["line"] == 3 and abc["reason"] == "count: not an integer"
    assert _one(rej, raw="day=0,time=60,1=-3")["reason"] == "count is negative"
    dup = rej.filter(pl.col("line") == 6)  # the repeated header line
    assert dup.height == 3 and set(dup["reason"]) == {"day: not an integer"}


def test_2023_sniff(d23: Path, data_dir: Path) -> None:
    priv = d23 / "private_dataset"
    assert R23.sniff(d23) and R23.sniff(priv)
    assert R23.sniff(priv / "requests_second" / "day_234.csv")
    assert R23.sniff(d23 / "public_dataset" / "requests_minute" / "day_00.csv")
    assert registry.detect([d23]).name == "huawei_2023"
    assert registry.detect([priv / "cpu_limit_minute" / "day_000.csv"]).name == "huawei_2023"
    d25 = data_dir / "huawei_2025" / "cold_start_dataset"
    assert not R23.sniff(d25 / "quantiles" / "R2" / "requests" / "day_00.csv")
    assert not R23.sniff(d25 / "cold_start" / "R1" / "day_00.csv")
    assert not R23.sniff(data_dir / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv")


def test_2023_bad_option(store, d23: Path) -> None:
    with pytest.raises(OptionError, match="resolution"):
        store.ingest(d23, format="huawei_2023", name="o23", options={"resolution": "hourly"})


def test_2023_selects_the_files_of_the_resolution_over_all_files(d23: Path) -> None:
    """One group per file read (a Spark task each); which files are read is decided over all."""
    priv = d23 / "private_dataset"
    minute = sorted(f for f in priv.rglob("*.csv") if f.parent.name.endswith("_minute"))
    second = sorted(f for f in priv.rglob("*.csv") if f.parent.name.endswith("_second"))
    groups, skipped = R23.select([priv])
    assert sorted(f for g in groups for f in g) == minute and all(len(g) == 1 for g in groups)
    assert sorted(skipped) == second and len(second) == 4
    groups, skipped = R23.select([priv], {"resolution": "second"})
    assert sorted(f for g in groups for f in g) == second and sorted(skipped) == minute
    # "auto" on per-second files alone reads them
    groups, _ = R23.select([priv / "requests_second"])
    assert [f for g in groups for f in g] == sorted((priv / "requests_second").glob("*.csv"))
    # both resolutions: the trace's time resolution is told by all files, read in one group
    groups, skipped = R23.select([priv], {"resolution": "all"})
    assert len(groups) == 1 and sorted(groups[0]) == sorted(minute + second) and skipped == []
    with pytest.raises(SourceError, match="no minute files among 1 file"):
        R23.select([priv / "requests_second" / "day_234.csv"], {"resolution": "minute"})


def test_2023_refuses_private_and_public_together(store, d23: Path) -> None:
    """Function ids of the two datasets are separate namespaces: one trace of both would merge
    function 0 of one with function 0 of the other."""
    with pytest.raises(SourceError, match="both the Huawei Private and the Huawei Public") as err:
        store.ingest(d23, format="huawei_2023", name="both23")
    assert "public_dataset" in str(err.value) and "two traces" in str(err.value)
    assert "both23" not in store.names()


def test_2023_zip_of_both_resolutions_reads_the_minute_members(store, d23: Path, tmp_path: Path) -> None:
    priv = d23 / "private_dataset"
    z = tmp_path / "requests.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in sorted(priv.glob("requests_*/*.csv")):
            zf.write(f, f"{f.parent.name}/{f.name}")
    m = store.ingest(z, format="huawei_2023", name="zz23").manifest
    assert m["meta"]["resolution"] == "minute"
    assert m["tables"]["invocation_counts"]["rows_ok"] == _cells(sorted(priv.glob("requests_minute/*.csv")))
    assert m["meta"]["skipped_files"] == [f"{z}[requests_second/{f.name}]"
                                          for f in sorted(priv.glob("requests_second/*.csv"))]


# ====================================================================== 2025

@pytest.fixture
def d25(data_dir: Path) -> Path:
    return data_dir / "huawei_2025" / "cold_start_dataset"


def test_2025_all_tables(store, d25: Path) -> None:
    m = store.ingest(d25.parent, format="huawei_2025", name="h25").manifest
    assert reconciles(m)
    events = sorted((d25 / "cold_start").rglob("*.csv")) + sorted((d25 / "per_request").rglob("*.csv"))
    series = sorted((d25 / "quantiles").rglob("*.csv"))
    req = [f for f in series if f.parent.name == "requests"]
    tables = m["tables"]
    assert tables["invocations"]["rows_ok"] == sum(len(_rows(f)) for f in events) == 14
    assert tables["functions"]["rows_ok"] == 4
    assert tables["invocation_counts"]["rows_ok"] == _cells(req) == 10
    assert tables["usage"]["rows_ok"] == _cells([f for f in series if f not in req]) == 12
    assert m["rejects"]["rows"] == 0
    assert m["origin_utc"] is None and m["meta"]["origin_utc"] is None
    assert m["meta"]["time_resolution_s"] == 0.001
    assert m["meta"]["file_kinds"] == {"cold_start": 2, "per_request": 1, "series": 5, "runtime": 1}

    t = store.trace("h25")
    inv = t.read("invocations")
    readme = _one(inv, pod_id="pool24-600-512-0000577863")
    assert readme["arrival_s"] == 51937.425
    assert readme["function_id"] == "10---134---pool24-600-512"
    assert readme["owner_id"] == "134" and readme["region"] == "R1"
    assert readme["cpu_millicores"] == 600.0 and readme["memory_mb"] == 512.0
    assert readme["cold_start"] is True and readme["duration_s"] is None
    assert readme["cold_start_s"] == 2.239314
    assert readme["pod_alloc_s"] == 0.027161815 and readme["deploy_code_s"] == 0.045
    assert readme["deploy_deps_s"] == 0.454 and readme["scheduling_s"] == 1.713152185
    attrs = json.loads(readme["attrs"])
    assert attrs["day"] == 0 and attrs["cluster"] == 1 and attrs["pool"] == "pool24-600-512"
    assert attrs["request_id"].startswith("82f1aa192e8ce27") and attrs["func_name"] == "10"
    r5 = _one(inv, pod_id="pool35-6600-8192-0000463009")
    assert r5["region"] == "R5" and r5["arrival_s"] == 2678350.991 and r5["cpu_millicores"] == 6600.0
    assert r5["deploy_deps_s"] == 4.322 and r5["memory_mb"] == 8192.0

    pr = _one(inv, pod_id="pool22-300-128-0000618412")
    assert pr["arrival_s"] == 2600186.994 and pr["duration_s"] == 0.023749
    assert pr["function_id"] == "296---224---pool22-300-128" and pr["region"] == "R2"
    assert pr["cold_start"] is None and pr["cold_start_s"] is None
    a = json.loads(pr["attrs"])
    assert a["time_frontend_s"] == 2600186.995 and a["cpu_usage_cores"] == 0.291506
    assert a["memory_usage_mb"] == 32.308594 and a["request_body_bytes"] == 1018.0
    assert a["runtime_s"] == 0.023637 and a["write_rsp_s"] == 0.000006
    empty_fe = json.loads(_one(inv, pod_id="pool22-300-128-0000618499")["attrs"])
    assert empty_fe["time_frontend_s"] is None and empty_fe["request_body_bytes"] is None
    cold = sum(len(_rows(f)) for f in (d25 / "cold_start").rglob("*.csv"))
    assert inv.filter(pl.col("cold_start")).height == cold

    fn = t.read("functions")
    r = _one(fn, function_id="400---418---pool22-300-128")
    assert (r["runtime"], r["trigger"], r["cpu_millicores"]) == ("Python3", "workflow", 100.0)
    assert r["owner_id"] == "418"
    fa = json.loads(r["attrs"])
    assert fa["invocation_type"] == "S"
    assert fa["cpu_limit_millicores"] == 300.0 and fa["memory_limit_mb"] == 128.0
    assert fa["region"] == "R2"
    assert _one(fn, function_id="565---486---pool30-1800-2048")["trigger"] == "APIG"
    unk = _one(fn, function_id="1060---777---pool23-400-256")
    assert unk["runtime"] == "Python3" and unk["trigger"] is None
    assert json.loads(unk["attrs"])["invocation_type"] is None
    assert _one(fn, function_id="2016---556---pool24-600-512")["runtime"] is None

    counts = t.read("invocation_counts")
    c = _one(counts, function_id="1060---777---pool23-400-256", window_start_s=86460.0)
    assert c["count"] == 7 and c["owner_id"] == "777" and c["window_s"] == 60.0
    assert _one(counts, function_id="400---418---pool22-300-128", window_start_s=0.0)["count"] == 3

    usage = t.read("usage")
    q = _one(usage, entity_id="565---486---pool30-1800-2048", metric="totalCost_cold_start_quantile_050")
    assert q["value"] == 2.239314 and q["unit"] == "s" and q["t_s"] == 60.0
    assert json.loads(q["attrs"]) == {"window_s": 60, "region": "R2"}
    assert _one(usage, entity_id="565---486---pool30-1800-2048", metric="cpu_usage_avg")["unit"] == "cores"
    assert set(usage.filter(pl.col("metric") == "num_cold_starts")["unit"]) == {"count"}


def test_2025_per_day_series_time_is_shifted(store, tmp_path: Path) -> None:
    f = tmp_path / "R3" / "num_pods" / "day_04.csv"
    f.parent.mkdir(parents=True)
    f.write_text("day,time,400---418---pool22-300-128\n4,0,2.0\n4,60,3.0\n5,432000,1.0\n")
    store.ingest(f, format="huawei_2025", name="shift")
    u = store.trace("shift").read("usage").sort("t_s")
    assert u["t_s"].to_list() == [345600.0, 345660.0, 432000.0]
    assert u["metric"].to_list() == ["num_pods"] * 3
    assert json.loads(u["attrs"][0])["region"] == "R3"


def test_2025_zip_archive_of_a_region(store, d25: Path, tmp_path: Path) -> None:
    region = d25 / "cold_start" / "R1"
    zpath = tmp_path / "cold_start" / "R1.zip"
    zpath.parent.mkdir()
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(region.glob("*.csv")):
            zf.write(f, f.name)
        zf.writestr("__MACOSX/._day_00.csv", b"\x00junk")
    assert R25.sniff(zpath)
    m = store.ingest(zpath, format="huawei_2025", name="z25").manifest
    assert m["tables"]["invocations"]["rows_ok"] == sum(len(_rows(f)) for f in region.glob("*.csv"))
    inv = store.trace("z25").read("invocations")
    assert set(inv["region"]) == {"R1"}
    rej = store.ingest(zpath, format="huawei_2025", name="z25")  # same sources: no-op
    assert rej.status == "unchanged"


def test_2025_sniff(d25: Path, data_dir: Path) -> None:
    assert R25.sniff(d25.parent) and R25.sniff(d25)
    for f in [d25 / "cold_start" / "R1" / "day_00.csv", d25 / "per_request" / "R2" / "R2_00000.csv",
              d25 / "runtime_triggerType" / "df_funcID_runtime_triggerType.csv",
              d25 / "quantiles" / "R2" / "totalCost_cold_start_quantile_050" / "day_00.csv"]:
        assert R25.sniff(f), f
        assert registry.detect([f]).name == "huawei_2025"
    assert registry.detect([d25.parent]).name == "huawei_2025"
    assert not R25.sniff(data_dir / "huawei_2023" / "private_dataset" / "requests_minute" / "day_000.csv")
    assert not R25.sniff(data_dir / "huawei_2023")
    assert not R25.sniff(data_dir / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv")


def test_2025_metric_option(store, d25: Path, tmp_path: Path) -> None:
    loose = tmp_path / "day_00.csv"
    shutil.copy(d25 / "quantiles" / "R2" / "cpu_usage_avg" / "day_00.csv", loose)
    with pytest.raises(SourceError, match="cannot tell which metric"):
        store.ingest(loose, format="huawei_2025", name="m25")
    with pytest.raises(OptionError, match="not a 2025"):
        store.ingest(loose, format="huawei_2025", name="m25", options={"metric": "cpu_usage_p50"})
    store.ingest(loose, format="huawei_2025", name="m25", options={"metric": "memory_usage_quantile_099"})
    u = store.trace("m25").read("usage")
    assert u.height == _cells([loose]) and set(u["unit"]) == {"MB"}


def test_2025_unknown_header(store, tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(MissingColumnError, match="x.csv"):
        store.ingest(f, format="huawei_2025", name="unk")


# ====================================================================== bad inputs


