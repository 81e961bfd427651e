"""Staged JSON Lines decoding (``_jsonl.stage_json_records``): one parse per line, exact line
numbers, and the same result whichever path (whole file, blocks, line by line) decodes it."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workscope.ingest import _jsonl
from workscope.ingest._jsonl import REC, WHY, json_shape, stage_json_records

SHAPE = json_shape({"id": str, "n": int, "x": float, "gaps": [float], "m": {"unit": str}})


def _stage(tmp_path: Path, lines: list[str], name: str = "s") -> pl.DataFrame:
    src = tmp_path / f"{name}.jsonl"
    src.write_text("\n".join(lines) + "\n")
    return stage_json_records(src, str(src), SHAPE, tmp_path / f"{name}.staged").collect().sort("_line")


def _expect(lines: list[str]) -> list[tuple[int, dict | None, bool]]:
    """What a careful reader gets: (line number, record or None, rejected?) per non-blank line."""
    out = []
    for i, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        except ValueError:
            obj = None
        ok = isinstance(obj, dict) and _jsonl.misfit(obj, SHAPE) is None
        out.append((i, obj if ok else None, not ok))
    return out


def _check(df: pl.DataFrame, lines: list[str]) -> None:
    want = _expect(lines)
    assert df["_line"].to_list() == [n for n, _, _ in want]
    for row, (n, obj, bad) in zip(df.iter_rows(named=True), want, strict=True):
        assert (row[WHY] is not None) == bad, (n, row[WHY])
        if bad:
            assert row["~line"] == lines[n - 1] and row[REC] is None
            continue
        rec = row[REC]
        assert row["~line"] is None
        assert rec["n"] == obj.get("n") and rec["x"] == (None if obj.get("x") is None else float(obj["x"]))
        assert rec["gaps"] == (None if obj.get("gaps") is None else [None if g is None else float(g) for g in obj["gaps"]])
        # a text leaf keeps a string as it is, and any other value as the reader's JSON text
        rid = obj.get("id")
        assert rec["id"] == rid if rid is None or isinstance(rid, str) else rec["id"] is not None


GOOD = ['{"id":"a","n":1,"x":27.333161999999998,"gaps":[0.5,1],"m":{"unit":"ms"}}',
        '{"id":"b","n":2,"x":1796533453.1238027,"extra":{"deep":[1,2,{"x":"y"}]}}',
        '{"n":-3,"x":1e-300,"gaps":[]}']


def test_clean_file_is_not_taken_apart(tmp_path: Path, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(_jsonl, "_read_lines", lambda *a: calls.append(a))
    df = _stage(tmp_path, GOOD)
    assert calls == [] and df.height == 3
    _check(df, GOOD)
    # floats keep every digit (a JSONPath match prints them again with 7 decimals)
    assert df[REC].struct.field("x").to_list()[:2] == [27.333161999999998, 1796533453.1238027]


def test_bad_and_blank_lines_keep_their_numbers_and_text(tmp_path: Path) -> None:
    lines = [GOOD[0], "", '{"id":"c","n":1.5}', '{"n":"7"}', GOOD[1], "   ", '{"x":true}',
             '{"gaps":[1,"2"]}', '{"m":"ms"}', "[1,2]", "null", '{"x":NaN}', '{"id":', GOOD[2]]
    df = _stage(tmp_path, lines)
    _check(df, lines)
    why = dict(zip(df["_line"].to_list(), df[WHY].to_list(), strict=True))
    assert why == {1: None, 3: "n: not an integer", 4: "n: not an integer", 5: None,
                   7: "x: not a number", 8: "gaps: not a list of numbers", 9: "m: not an object",
                   10: "line is not a JSON object", 11: "line is not a JSON object",
                   12: "line is not a JSON object", 13: "line is not a JSON object", 14: None}


def test_blocks_split_anywhere(tmp_path: Path, monkeypatch) -> None:
    lines = [GOOD[i % 3] for i in range(40)]
    lines[17] = '{"n":1.25}'
    want = _stage(tmp_path, lines, "whole")
    for size in (7, 64, 150, 151, 1000):
        monkeypatch.setattr(_jsonl, "STAGE_BLOCK_BYTES", size)
        got = _stage(tmp_path, lines, f"b{size}")
        assert got.drop("_file").equals(want.drop("_file")), size


def test_no_trailing_newline_and_crlf(tmp_path: Path) -> None:
    src = tmp_path / "crlf.jsonl"
    src.write_bytes(("\r\n".join(GOOD)).encode())
    df = stage_json_records(src, str(src), SHAPE, tmp_path / "st").collect().sort("_line")
    assert df["_line"].to_list() == [1, 2, 3] and df[WHY].null_count() == 3


_value = st.one_of(st.none(), st.booleans(), st.integers(-(2**64), 2**64),
                   st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=5))
_record = st.fixed_dictionaries({}, optional={
    "id": _value, "n": _value, "x": _value,
    "gaps": st.one_of(_value, st.lists(_value, max_size=3)),
    "m": st.one_of(_value, st.fixed_dictionaries({}, optional={"unit": _value})),
})
_line = st.one_of(_record.map(lambda r: json.dumps(r, separators=(",", ":"))),
                  st.sampled_from(["", "  ", "{", "[]", "null", "1", '{"a":NaN}', "garbage", '{"x":1e400}',
                                   '{"x":%s}' % ("9" * 400), '{"n":-9223372036854775809}']))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_line, min_size=1, max_size=25), block=st.sampled_from([16, 100, 1 << 25]))
def test_any_file_decodes_as_json_loads_does(tmp_path_factory, monkeypatch, lines, block) -> None:
    monkeypatch.setattr(_jsonl, "STAGE_BLOCK_BYTES", block)
    tmp = tmp_path_factory.mktemp("h")
    if not any(t.strip() for t in lines):
        lines = [*lines, GOOD[0]]
    _check(_stage(tmp, lines), lines)


@pytest.mark.parametrize("value", ["1.5", "true", '"7"', "99999999999999999999", "-9223372036854775809"])
def test_int_fields_are_strict(tmp_path: Path, value: str) -> None:
    df = _stage(tmp_path, ['{"n":%s}' % value])
    assert df[WHY].to_list() == ["n: not an integer"]


@pytest.mark.parametrize("value", ["true", '"7"', "1e400", "9" * 400, "[1]"])
def test_float_fields_are_strict(tmp_path: Path, value: str) -> None:
    df = _stage(tmp_path, ['{"x":%s}' % value])
    assert df[WHY].to_list() == ["x: not a number"]
