"""The manifest's figures merged from parts (what a cluster ingest's tasks count where they
write) equal the figures counted over the whole table in one pass."""

from __future__ import annotations

import itertools
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workscope.ingest.pipeline import merge_stats, part_paths, part_stats, reason_counts, top_of
from workscope.schemas import REJECTS_SCHEMA

TIMES = st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)), max_size=40)


def _whole(values: list[float | None]) -> dict:
    """The figures of one column in one pass: what a table's manifest says."""
    s = pl.Series("arrival_s", values, dtype=pl.Float64)
    return {"min": s.min(), "max": s.max(), "inversions": int((s.diff() < 0).sum())}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=TIMES, cuts=st.lists(st.integers(0, 40), max_size=5))
def test_merged_parts_count_as_the_whole(tmp_path: Path, values: list[float | None], cuts: list[int]) -> None:
    edges = sorted({0, len(values), *(c for c in cuts if c <= len(values))})
    build = tmp_path / f"b{len(list(tmp_path.iterdir()))}"  # hypothesis reuses tmp_path
    (build / "requests").mkdir(parents=True)
    cuts_ = list(itertools.pairwise(edges)) or [(0, 0)]  # no rows at all: one empty part
    parts = []
    for k, (lo, hi) in enumerate(cuts_):
        ok = build / part_paths("requests", k)[0]
        pl.DataFrame({"arrival_s": values[lo:hi]}, schema={"arrival_s": pl.Float64}).write_parquet(ok)
        parts.append(part_stats("requests", build, k))  # no rejects file: none rejected
    merged = merge_stats("requests", parts)
    assert merged["rows_ok"] == merged["rows_in"] == len(values) and merged["files"] == len(parts)
    if not values:
        assert "time" not in merged
        return
    whole = _whole(values)
    assert merged["time"] == {"column": "arrival_s", "min_s": whole["min"], "max_s": whole["max"],
                              "sorted": whole["inversions"] == 0, "inversions": whole["inversions"]}


def test_reason_counts_merge_into_the_top_reasons(tmp_path: Path) -> None:
    rows = [("requests", "f", 7, "x", "a is bad"), ("requests", "f", 3, "x", "b is bad"),
            ("requests", "g", 2, "x", "a is bad"), ("sessions", "g", 9, "x", "a is bad"),
            ("requests", "g", 5, "x", "b is bad")]
    df = pl.DataFrame(rows, schema=REJECTS_SCHEMA, orient="row")
    whole, one, two = tmp_path / "whole", tmp_path / "one", tmp_path / "two"
    for d in (whole, one, two):
        d.mkdir()
    df.write_parquet(whole / "r-0.parquet")
    df.head(2).write_parquet(one / "r-0.parquet")
    df.tail(3).write_parquet(two / "r-0.parquet")
    expected = top_of(reason_counts(whole), 10)
    assert expected == [
        {"table": "requests", "reason": "a is bad", "rows": 2, "first_line": 2},
        {"table": "requests", "reason": "b is bad", "rows": 2, "first_line": 3},
        {"table": "sessions", "reason": "a is bad", "rows": 1, "first_line": 9},
    ]
    assert top_of([*reason_counts(one), *reason_counts(two)], 10) == expected
    assert top_of([*reason_counts(two), *reason_counts(one)], 2) == expected[:2]


def test_a_part_without_rows_has_no_time_figures(tmp_path: Path) -> None:
    (tmp_path / "requests").mkdir()
    pl.DataFrame(schema={"arrival_s": pl.Float64}).write_parquet(tmp_path / part_paths("requests", 0)[0])
    assert part_stats("requests", tmp_path, 0) == {"rows": 0, "rejected": 0}
