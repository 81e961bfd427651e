"""datacenter_aggregates reader: a real slice of the four aggregate files, sniffing, bad input."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import reconciles
from workscope.errors import SourceError
from workscope.ingest import registry
from workscope.ingest.datacenter_aggregates import READER

ROOT = "datacenter_aggregates"
ALI300 = "alibaba2018/machine_usage_days_1_to_8_grouped_300_seconds.csv"
ALI10 = "alibaba2018/day_1/machine_usage_day_1_grouped_10_seconds.csv"
GOOGLE = "google2019/instance_usage_grouped_300_seconds_month.csv"
AZURE = "azure_v2/vm_cpu_readings_month_aggregated_cpu_mem.csv"


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    # The lead registers the reader in registry.py; until then the tests add it themselves.
    monkeypatch.setitem(registry.BUILTIN, "datacenter_aggregates",
                        "workscope.ingest.datacenter_aggregates")


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def test_ingest_directory_counts_and_series(store, data_dir: Path) -> None:
    m = store.ingest(data_dir / ROOT, format="datacenter_aggregates", name="dc").manifest
    t = m["tables"]["usage"]
    # 200 rows x (5 + 5 + 4 metric columns) + 200 x 2 Azure metric columns
    assert t["rows_in"] == t["rows_ok"] == 200 * 14 + 200 * 2 == 3200
    assert t["rows_rejected"] == 0 and reconciles(m)
    assert set(m["meta"]["series"]) == {"alibaba2018", "alibaba2018_10s", "google2019", "azure_v2"}
    assert m["meta"]["series"]["alibaba2018_10s"]["step_s"] == 10.0
    # metadata.jsonld and SOURCE.md travel with the slice but are no series
    assert sorted(Path(f).name for f in m["files_used"]) == sorted(
        Path(p).name for p in (ALI300, ALI10, GOOGLE, AZURE))
    df = store.trace("dc").read("usage")
    counts = {(e, mt): n for e, mt, n in df.group_by("entity_id", "metric").len().iter_rows()}
    assert len(counts) == 16 and set(counts.values()) == {200}


@pytest.mark.parametrize("rel,entity,step", [(ALI300, "alibaba2018", 300.0),
                                             (ALI10, "alibaba2018_10s", 10.0),
                                             (GOOGLE, "google2019", 300.0)])
def test_values_match_csv_without_time_column(store, data_dir: Path, rel: str, entity: str,
                                              step: float) -> None:
    path = data_dir / ROOT / rel
    header, rows = _rows(path)
    store.ingest(path, format="datacenter_aggregates", name="one")
    df = store.trace("one").read("usage")
    assert set(df["entity_id"]) == {entity}
    for j, col in enumerate(header):
        s = df.filter(pl.col("metric") == col).sort("t_s")
        assert s["value"].to_list() == [float(r[j]) for r in rows], col
        assert s["t_s"].to_list() == [step * i for i in range(len(rows))], col


def test_specific_values_and_units(store, data_dir: Path) -> None:
    store.ingest(data_dir / ROOT, format="datacenter_aggregates", name="dc")
    df = store.trace("dc").read("usage")

    def at(entity: str, metric: str, t: float) -> pl.DataFrame:
        return df.filter((pl.col("entity_id") == entity) & (pl.col("metric") == metric)
                         & (pl.col("t_s") == t))

    # first lines quoted verbatim in the data set's SOURCE.md
    a = at("alibaba2018", "cpu_util_percent", 600.0)
    assert a["value"].to_list() == [30.82252388134741] and a["unit"].to_list() == ["percent"]
    g = at("google2019", "avg_cycles_per_instruction", 300.0)
    assert g["value"].to_list() == [148.20622256465344]
    assert g["unit"].to_list() == ["cycles per instruction"]
    z = at("azure_v2", "cpu_usage", 300.0)
    assert z["value"].to_list() == [6126975.265552814]
    assert at("azure_v2", "assigned_mem", 600.0)["value"].to_list() == [2004784.0]
    # last slice row of the Azure file: its timestamp column, not a row count, gives t_s
    assert at("azure_v2", "assigned_mem", 59700.0)["value"].to_list() == [1943518.0]
    assert df.filter(pl.col("entity_id") == "azure_v2")["t_s"].max() == 59700.0
    assert set(df.filter(pl.col("entity_id") == "azure_v2")["metric"]) == {"cpu_usage", "assigned_mem"}


def test_sniff(data_dir: Path) -> None:
    root = data_dir / ROOT
    assert READER.sniff(root)
    for rel in (ALI300, ALI10, GOOGLE, AZURE):
        assert READER.sniff(root / rel), rel
    assert not READER.sniff(root / "SOURCE.md")
    assert not READER.sniff(root / "metadata.jsonld")
    pl_files = [p for p in (data_dir / "planetlab" / "20110303").iterdir() if p.is_file()]
    assert pl_files
    assert not READER.sniff(data_dir / "planetlab")
    assert not any(READER.sniff(p) for p in pl_files)
    assert not READER.sniff(data_dir / "mooncake" / "synthetic_trace.jsonl")
    assert not READER.sniff(data_dir / "mooncake")


def test_bad_number_is_rejected_with_reason(store, tmp_path: Path) -> None:
    f = tmp_path / "instance_usage_grouped_60_seconds_month.csv"
    f.write_text("avg_cpu,avg_mem,avg_assigned_mem,avg_cycles_per_instruction\n"
                 "0.5,0.25,0.75,100\n"
                 "0.5,oops,0.75,100\n")
    m = store.ingest(f, format="datacenter_aggregates", name="bad").manifest
    t = m["tables"]["usage"]
    assert (t["rows_in"], t["rows_ok"], t["rows_rejected"]) == (8, 7, 1)
    df = store.trace("bad").read("usage")
    # the step comes from the file name: the second row sits at 60 s
    assert sorted(df.filter(pl.col("metric") == "avg_cpu")["t_s"].to_list()) == [0.0, 60.0]


def test_unknown_header_is_an_error(store, tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("a,b\n1,2\n")
    assert not READER.sniff(f)
    with pytest.raises(SourceError, match="known aggregate headers"):
        store.ingest(f, format="datacenter_aggregates", name="x")
