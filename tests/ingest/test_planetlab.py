"""PlanetLab reader: a real slice of day 20110303 (file names with spaces), sniffing, bad input."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tests.conftest import reconciles
from workscope.ingest import registry
from workscope.ingest.planetlab import READER

DAY = "planetlab/20110303"
SPACED = "aladdin_planetlab_extranet_uni-passau_de_ rnp_dcc_ufjf"


def _vm_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in (data_dir / DAY).iterdir() if p.is_file())


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_ingest_day_directory(store, data_dir: Path) -> None:
    files = _vm_files(data_dir)
    total = sum(len(_lines(f)) for f in files)
    result = store.ingest(data_dir / "planetlab", format="planetlab", name="pl")
    m = result.manifest
    t = m["tables"]["usage"]
    assert len(files) == 5 and total == 5 * 288
    assert t["rows_in"] == t["rows_ok"] == total
    assert t["rows_rejected"] == 0
    assert reconciles(m)
    # One Parquet part for the whole day, not one per VM file.
    assert t["files"] == 1
    assert len(store.trace("pl").files("usage")) == 1
    # SOURCE.md travels with the slice but is not a VM file.
    assert sorted(Path(f).name for f in m["files_used"]) == sorted(f.name for f in files)
    assert m["meta"]["origin_utc"] == "2011-03-03T00:00:00+00:00"
    assert m["meta"]["origin_assumed_utc"] is True
    assert m["meta"]["time_resolution_s"] == 300.0
    assert m["meta"]["days"] == ["2011-03-03"]
    assert t["time"]["min_s"] == 0.0 and t["time"]["max_s"] == 287 * 300.0


def test_values_per_vm_file(store, data_dir: Path) -> None:
    store.ingest(data_dir / DAY, format="planetlab", name="pl")
    df = store.trace("pl").read("usage")
    assert set(df["metric"]) == {"cpu_util_pct"}
    assert set(df["unit"]) == {"percent"}
    assert df["attrs"].null_count() == df.height
    for f in _vm_files(data_dir):
        vm = df.filter(pl.col("entity_id") == f.name).sort("t_s")
        expected = [float(x) for x in _lines(f)]
        assert vm["value"].to_list() == expected, f.name
        assert vm["t_s"].to_list() == [300.0 * i for i in range(len(expected))]
    # SOURCE.md quotes the first lines of ait05_us_es_root: 2, 7, 3, 2.
    ait = df.filter(pl.col("entity_id") == "ait05_us_es_root").sort("t_s")
    assert ait["value"].head(4).to_list() == [2.0, 7.0, 3.0, 2.0]
    # A file name with a space is kept whole as the entity id.
    assert df.filter(pl.col("entity_id") == SPACED).height == 288


def test_day_offset_and_interval(store, data_dir: Path, tmp_path: Path) -> None:
    src = data_dir / DAY / "ait05_us_es_root"
    for day in ("20110303", "20110305"):
        (tmp_path / "pl" / day).mkdir(parents=True)
        (tmp_path / "pl" / day / src.name).write_bytes(src.read_bytes())
    m = store.ingest(tmp_path / "pl", format="planetlab", name="two").manifest
    df = store.trace("two").read("usage")
    assert m["tables"]["usage"]["files"] == 2  # one part per day
    assert m["meta"]["days"] == ["2011-03-03", "2011-03-05"]
    second = df.filter(pl.col("t_s") >= 2 * 86400.0).sort("t_s")
    assert second.height == 288
    assert second["t_s"][0] == 2 * 86400.0 and second["value"][1] == 7.0
    # interval_s rescales the grid; loose files (no day directory) get no origin.
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / src.name).write_bytes(src.read_bytes())
    m2 = store.ingest(tmp_path / "loose", format="planetlab", name="loose",
                      options={"interval_s": 60}).manifest
    loose = store.trace("loose").read("usage")
    assert m2["meta"]["origin_utc"] is None
    assert loose["t_s"].max() == 287 * 60.0


def test_rejects_keep_vm_file_and_line(store, data_dir: Path) -> None:
    bad = data_dir / "bad/planetlab/bad_values"
    m = store.ingest(bad, format="planetlab", name="bad").manifest
    assert m["tables"]["usage"]["rows_ok"] == 5 and m["tables"]["usage"]["rows_rejected"] == 5
    rej = store.trace("bad").rejects().collect().sort("line")
    assert rej["line"].to_list() == [2, 3, 4, 5, 6]
    assert rej["raw"].to_list() == ["abc", "-3", "150", "nan", ""]
    assert rej["file"].str.ends_with("vm_a").all()
    assert rej["reason"].to_list() == [
        "value: not a number", "value is outside 0..100 percent",
        "value is outside 0..100 percent", "value is NaN", "value is missing",
    ]
    ok = store.trace("bad").read("usage").filter(pl.col("entity_id") == "vm_a")
    # The last good reading is line 7: its time keeps the line's position.
    assert ok.sort("t_s")["t_s"].to_list() == [0.0, 1800.0]


def test_sniff(data_dir: Path) -> None:
    day = data_dir / DAY
    assert READER.sniff(day)
    assert READER.sniff(data_dir / "planetlab")
    assert READER.sniff(day / SPACED)
    assert registry.detect([data_dir / "planetlab"]).name == "planetlab"
    assert registry.detect([day / "ait05_us_es_root"]).name == "planetlab"
    assert not READER.sniff(data_dir / "azure_llm_2023/AzureLLMInferenceTrace_code.csv")
    assert not READER.sniff(data_dir / "azure_llm_2023")
    assert not READER.sniff(data_dir / "azure_vm/v1/vmtable.csv")
    assert not READER.sniff(data_dir / "planetlab/SOURCE.md")


def test_crlf_line_ends(store, tmp_path: Path) -> None:
    (tmp_path / "vm_crlf").write_bytes(b"4\r\n5\r\n6\r\n")
    m = store.ingest(tmp_path / "vm_crlf", format="planetlab", name="crlf").manifest
    assert m["tables"]["usage"]["rows_ok"] == 3
    assert store.trace("crlf").read("usage")["value"].to_list() == [4.0, 5.0, 6.0]
