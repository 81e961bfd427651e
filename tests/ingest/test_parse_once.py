"""Typed parsing in build(): each text is parsed once, and the result equals parsing per use."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from workscope.ingest.parse import Parsed, build, parse_datetime, parse_float, parse_int, src

TEXT = st.one_of(st.none(), st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True).map(str),
                 st.sampled_from(["", "abc", "12.0", "1.5", "2024-01-02 03:04:05", "2024-13-01 00:00:00",
                                  " 7", "1e3", "inf"]))


def _fields() -> dict[str, Parsed]:
    ts = parse_datetime(src("t"), "t", "%Y-%m-%d %H:%M:%S", required=True)
    a = parse_int(src("a"), "a", required=True)
    return {
        "t_s": ts.map(lambda v: v.dt.timestamp("ms") / 1000.0),
        "a2": a.map(lambda v: v * 2),
        "a": a,  # the same parse twice: one hidden column
        "f": parse_float(src("f"), "f"),
        "g": parse_int(src("f"), "g", allow_float=True),
    }


def _naive(fields: dict[str, Parsed]) -> dict[str, Parsed]:
    """The same fields with value and reason as whole expressions (each use parses again)."""
    return {k: Parsed(p.value, p.reason) for k, p in fields.items()}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT, TEXT), min_size=1, max_size=30))
def test_parse_once_equals_parse_per_use(rows: list[tuple[str | None, str | None, str | None]]) -> None:
    frame = pl.LazyFrame({"~t": [r[0] for r in rows], "~a": [r[1] for r in rows], "~f": [r[2] for r in rows]},
                         schema={"~t": pl.String, "~a": pl.String, "~f": pl.String})
    fast = build(frame, _fields()).collect()
    slow = build(frame, _naive(_fields())).collect()
    assert fast.equals(slow, null_equal=True)
    assert fast.columns == slow.columns  # no hidden parse column leaks


def test_each_text_is_parsed_once_in_the_plan() -> None:
    frame = pl.LazyFrame({"~t": ["2024-01-02 03:04:05", "x"], "~a": ["1", "b"]})
    fields = _fields()
    del fields["f"], fields["g"]
    plan = build(frame, fields).explain(optimized=False)
    naive = build(frame, _naive(fields)).explain(optimized=False)
    assert plan.count("strptime") == 1 < naive.count("strptime")
    out = build(frame, fields).collect()
    assert out["_reason"].to_list() == [None, "t: not a timestamp (%Y-%m-%d %H:%M:%S)"]
    assert out["a2"].to_list() == [2, None]
