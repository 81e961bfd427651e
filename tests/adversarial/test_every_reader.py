"""Every reader against every hostile file (issue 14, classes 10 and 13): binary garbage, a
valid header followed by garbage, UTF-16, a truncated gzip, a tar archive, an empty file, a
megabyte without newlines, blank lines, a deeply nested mapping. Each run ends with exit 0
(the file was acceptable) or one clear error line (exit 1 or 2), never a traceback, and under
``--json`` exactly one JSON document."""

from __future__ import annotations

import gzip
import io
import json
import random
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workscope.cli import app
from workscope.ingest import registry

READERS = sorted(r.name for r in registry.all_readers() if r.name != "mapped")


def _header_of(reader: str) -> bytes:
    """A plausible first line for the reader (its sniffed header where it has one)."""
    return {
        "azure_llm": b"TIMESTAMP,ContextTokens,GeneratedTokens\n",
        "burstgpt": b"Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n",
        "qwen_bailian": b'{"timestamp": 1.0, "input_length": 3}\n',
        "mooncake": b'{"timestamp": 0, "input_length": 10, "output_length": 2, "hash_ids": [1]}\n',
        "swf": b"; UnixStartTime: 0\n",
    }.get(reader, b"a,b,c\n")


def _garbage(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def _tar(data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("member.csv")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


CASES: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "binary": ("t.csv", lambda h: _garbage(4096, 1)),
    "header-then-garbage": ("t.csv", lambda h: h + _garbage(200_000, 2)),
    "header-then-text-garbage": ("t.csv", lambda h: h + bytes(random.Random(3).choices(b"ab,;\"\n 19.", k=50_000))),
    "utf16": ("t.csv", lambda h: (h.decode() + "1,2,3\n").encode("utf-16")),
    "truncated-gzip": ("t.csv.gz", lambda h: gzip.compress(h + b"1,2,3\n" * 5000)[:300]),
    "tar-archive": ("t.tar.gz", lambda h: _tar(h + b"1,2,3\n")),
    "empty": ("t.csv", lambda h: b""),
    "header-only": ("t.csv", lambda h: h),
    "no-newline-megabyte": ("t.csv", lambda h: b"x," * (1 << 19)),
    "blank-lines": ("t.csv.gz", lambda h: gzip.compress(h + b"\n" * 200_000)),
    "nul-bytes": ("t.csv", lambda h: h + b"\0" * 5000),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("reader", READERS)
def test_a_hostile_file_ends_in_one_line_never_a_traceback(tmp_path: Path, reader: str, case: str) -> None:
    name, make = CASES[case]
    src = tmp_path / name
    src.write_bytes(make(_header_of(reader)))
    for as_json in (False, True):
        args = ["ingest", str(src), "-f", reader, "--home", str(tmp_path / f"s{as_json}"), "-q"]
        r = CliRunner().invoke(app, args + (["--json"] if as_json else []))
        text = r.stdout + r.stderr
        assert "Traceback" not in text and "this is a bug" not in text, text[-1500:]
        assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
        assert r.exit_code in (0, 1, 2), text[-500:]
        if as_json:
            doc = json.loads(r.stdout)
            assert ("error" in doc) == (r.exit_code != 0)
        elif r.exit_code:
            assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr[-800:]
            assert len(r.stderr) < 1500


def test_a_deeply_nested_mapping_is_one_line(tmp_path: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_text("a\n1\n")
    for depth_doc in ("x = " + "[" * 50_000 + "]" * 50_000, "a = {" * 3000 + "}" * 3000):
        (tmp_path / "m.toml").write_text("table = 'requests'\n" + depth_doc + "\n")
        r = CliRunner().invoke(app, ["ingest", str(src), "-f", "mapped", "-o", f"mapping={tmp_path / 'm.toml'}",
                                     "--home", str(tmp_path / "s")])
        assert r.exit_code == 2
        assert "nested too deep" in r.stderr and r.stderr.count("\n") == 1
