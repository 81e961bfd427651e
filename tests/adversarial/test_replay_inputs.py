"""Hostile inputs to `workscope replay` (issue 14, the replay parts).

1. Printed commands quote every value: a path or option holding shell syntax comes back from
   the shell as one argument and runs nothing.
2. Control characters in an exporter option (a header line, a command) are refused; metadata
   written into a header is escaped.
3. The ServeGen PMF parser is linear: 100 KB of digits is refused at once.
4. Malformed ServeGen bundles, model files and synth/fit/export options end with one
   ``error:`` line (one JSON document with --json) and exit code 1 or 2, never a traceback.
5. A failed, interrupted or killed export leaves the output as it was.
"""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import workscope
from tests.conftest import DATA, SAMPLES
from workscope.cli import app
from workscope.errors import OptionError, SourceError, UsageError
from workscope.replay.exporters import registry
from workscope.replay.model import ModelError, load, load_servegen, parse_pmf_literal
from workscope.replay.pipeline import export
from workscope.replay.workload import Workload

runner = CliRunner()
SERVEGEN = DATA / "servegen" / "deepseek-r1"
# shell syntax that runs `touch` if it is not quoted: a separator, a substitution, a backquote
PAYLOAD = "p.xml; touch pwned1 $(touch pwned2) `touch pwned3` ' \" \\ ! ${HOME}"
HOSTILE_DIR = "d ';$(touch pwned4)"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    h = tmp_path_factory.mktemp("replay-inputs") / "store"
    store = workscope.open(h)
    store.ingest(DATA / "mooncake" / "synthetic_trace.jsonl", format="mooncake", name="moon")
    store.ingest(DATA / "swf" / "NASA-iPSC-1993-3.1-cln.head200.swf", format="swf", name="nasa")
    store.ingest(SAMPLES / "azure_functions_2021" / "Azure2021_200.csv", format="azure_functions_2021",
                 name="az21")
    return h


@pytest.fixture(scope="module")
def model_json(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A valid workload model document (from the ServeGen fixture), to be broken by the tests."""
    return load_servegen(SERVEGEN).to_dict()


@pytest.fixture
def alarm() -> Iterator[None]:
    """Fail (instead of hanging) if the test runs 10 s: the parsers below must be linear."""
    def timeout(signum: int, frame: object) -> None:
        raise TimeoutError("parsing took over 10 s: not linear")
    old = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(10)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def cli(*args: str) -> object:
    return runner.invoke(app, list(args))


def assert_one_error(r: object, as_json: bool) -> dict | None:
    """Exit 1 or 2, no traceback, one ``error:`` line on stderr; with --json one JSON document."""
    assert r.exit_code in (1, 2), (r.exit_code, r.output, r.exception)
    assert isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    if as_json:
        doc = json.loads(r.stdout)
        assert doc["exit_code"] == r.exit_code and doc["error"]
        return doc
    assert r.stdout == ""
    return None


# ---------------------------------------------------------------- 1. printed commands are quoted


def shell_argv(command: str, cwd: Path) -> list[str]:
    """The arguments the shell gives the printed command's program (it is replaced by printf)."""
    program = shlex.split(command)[0]
    head = shlex.quote(program) + " "
    assert command.startswith(head)
    done = subprocess.run(["bash", "-c", "printf '%s\\0' " + command[len(head):]], cwd=cwd,
                          capture_output=True, check=True, env={"PATH": "/usr/bin:/bin", "HOME": "/h"})
    return [program, *done.stdout.decode().split("\0")[:-1]]


CASES = [  # trace, target, out name (a directory for directory targets), options
    ("nasa", "batsim", "w.json", {"platform": PAYLOAD}),
    ("nasa", "swf", "w.swf", {}),
    ("nasa", "opendc", "odc", {}),
    ("nasa", "openb", "pods.csv", {}),
    ("nasa", "kubernetes", "k8s", {}),
    ("moon", "parquet", "w.parquet", {}),
    ("az21", "invitro", "iv", {}),
    ("moon", "sglang_mooncake", "m.jsonl", {"model": PAYLOAD, "base_url": PAYLOAD}),
    ("moon", "vllm_timed", "v.jsonl", {"model": PAYLOAD}),
    ("moon", "vllm_custom", "c.jsonl", {"model": PAYLOAD}),
    ("moon", "aiperf", "a.jsonl", {"model": PAYLOAD}),
    ("moon", "guidellm", "g.jsonl", {"model": PAYLOAD}),
    ("moon", "vidur", "v.csv", {}),
    ("moon", "burstgpt", "b.csv", {"model": PAYLOAD}),
]


def test_every_target_is_covered() -> None:
    assert sorted(c[1] for c in CASES) == sorted(registry.names())


@pytest.mark.parametrize(("trace", "target", "name", "options"), CASES, ids=[c[1] for c in CASES])
def test_printed_command_gives_back_each_value_and_runs_nothing(home: Path, tmp_path: Path, trace: str,
                                                                target: str, name: str, options: dict) -> None:
    out = tmp_path / HOSTILE_DIR / name
    opts = [x for k, v in options.items() for x in ("-o", f"{k}={v}")]
    r = cli("replay", "export", trace, "--to", target, "--out", str(out), *opts, "--print-command",
            "--home", str(home))
    assert r.exit_code == 0, r.output
    command = r.stdout.removesuffix("\n")
    assert "\n" not in command
    argv = shlex.split(command)
    assert shell_argv(command, tmp_path) == argv  # the shell reads it as shlex does
    assert not list(tmp_path.glob("pwned*")) and not list(Path.cwd().glob("pwned*"))
    for value in options.values():
        assert value in argv or any(value in a for a in argv)  # one word (or inside one: guidellm's key=value)
    assert any(str(out) in a or json.dumps(str(out)) in a for a in argv)


@pytest.mark.parametrize("target", ["swf", "parquet"])
def test_python_command_holds_the_path_as_a_literal(home: Path, tmp_path: Path, target: str) -> None:
    out = tmp_path / HOSTILE_DIR / f"w'x\".{target}"
    trace = "nasa" if target == "swf" else "moon"
    r = cli("replay", "export", trace, "--to", target, "--out", str(out), "--print-command", "--home", str(home))
    argv = shlex.split(r.stdout)
    assert argv[:2] == ["python", "-c"] and len(argv) == 3
    compile(argv[2], "<printed>", "exec")  # valid Python, the path a string literal in it
    assert json.dumps(str(out)) in argv[2]


def test_llm_placeholder_stays_for_the_shell_but_other_dollars_do_not() -> None:
    from workscope.replay.exporters._llm import command

    assert command("x", "${MODEL}") == 'x "${MODEL}"'
    assert command("x", "${MODEL}$(touch y)") == "x '${MODEL}$(touch y)'"
    assert command("x", "${MODEL}$HOME") == "x '${MODEL}$HOME'"
    assert command("x", Path("out/${MODEL}.jsonl")) == "x 'out/${MODEL}.jsonl'"


# ---------------------------------------------------------------- 2. control characters


INJECTED = "x\n1 0 0 1 1 -1 -1 1 -1 -1 1 1 1 -1 1 -1 -1 -1"


@pytest.mark.parametrize("char", ["\n", "\r", "\x00", "\x0b", "\x1b", "\x7f", "\x85", "\u2028"])
def test_swf_computer_with_a_control_character_is_refused(home: Path, tmp_path: Path, char: str) -> None:
    out = tmp_path / "w.swf"
    r = cli("replay", "export", "nasa", "--to", "swf", "--out", str(out), "-o", f"computer=x{char}1 0 0",
            "--home", str(home))
    assert_one_error(r, as_json=False)
    assert r.exit_code == 2 and "option 'computer' of exporter 'swf'" in r.stderr
    assert "control character" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_swf_computer_injection_example_is_refused_with_json(home: Path, tmp_path: Path) -> None:
    r = cli("replay", "export", "nasa", "--to", "swf", "--out", str(tmp_path / "w.swf"), "-o",
            f"computer={INJECTED}", "--home", str(home), "--json")
    doc = assert_one_error(r, as_json=True)
    assert doc["type"] == "OptionError" and "'computer'" in doc["error"]


def test_swf_normal_computer_round_trips(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "w.swf"
    computer = "iPSC/860 (NASA Ames)\twith a tab"
    r = cli("replay", "export", "nasa", "--to", "swf", "--out", str(out), "-o", f"computer={computer}",
            "--home", str(home))
    assert r.exit_code == 0, r.output
    lines = out.read_text().splitlines()
    assert f"; Computer: {computer}" in lines
    jobs = [ln for ln in lines if not ln.startswith(";")]
    assert all(len(ln.split()) == 18 for ln in jobs)
    store = workscope.open(tmp_path / "again")
    store.ingest(out, format="swf", name="back")
    back, source = store.trace("back").read("jobs"), workscope.open(home).trace("nasa").read("jobs")
    assert back.height == len(jobs) == source.height
    assert back["submit_s"].to_list() == source["submit_s"].round(0).to_list()


@pytest.mark.parametrize(("target", "key"), [("batsim", "platform"), ("batsim", "profile_type"),
                                             ("opendc", "topology"), ("kubernetes", "image"),
                                             ("openb", "prefix"), ("vllm_timed", "model"),
                                             ("vllm_custom", "word"), ("guidellm", "base_url")])
def test_every_text_option_refuses_line_breaks(target: str, key: str) -> None:
    exporter = registry.get(target)
    with pytest.raises(OptionError, match=f"option {key!r} of exporter {target!r}.*control character"):
        exporter.resolve_options({key: "ok\nINJECTED"})
    assert exporter.resolve_options({key: "ok value"})[key] == "ok value"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_number_options_must_be_finite(home: Path, tmp_path: Path, value: str) -> None:
    r = cli("replay", "export", "nasa", "--to", "opendc", "--out", str(tmp_path / "o"), "-o",
            f"core_mhz={value}", "--home", str(home))
    assert_one_error(r, as_json=False)
    assert r.exit_code == 2 and "'core_mhz'" in r.stderr and not (tmp_path / "o").exists()


@pytest.mark.parametrize("target", ["swf", "kubernetes"])
def test_metadata_in_a_header_is_escaped_not_injected(home: Path, tmp_path: Path, target: str) -> None:
    base = Workload.from_trace(workscope.open(home).trace("nasa"))
    wl = Workload("jobs", base.frame, {**base.meta, "source_trace": INJECTED})
    out = tmp_path / ("w.swf" if target == "swf" else "k")
    exporter = registry.get(target)
    result = exporter.write(wl, out, exporter.resolve_options({}))
    text = result.files[0].read_text()
    if target == "swf":
        headers = [ln for ln in text.splitlines() if ln.startswith(";")]
        jobs = [ln for ln in text.splitlines() if not ln.startswith(";")]
        assert "; Computer: x\\n1 0 0 1 1 -1 -1 1 -1 -1 1 1 1 -1 1 -1 -1 -1" in headers
        assert len(jobs) == result.rows  # no job record was injected
    else:
        assert text.splitlines()[0].startswith("# x\\n1 0 0") and text.splitlines()[1] == "---"


def test_synthesized_group_names_stay_valid_json(tmp_path: Path, model_json: dict) -> None:
    from workscope.replay.model import from_dict
    from workscope.replay.synth import synthesize

    doc = json.loads(json.dumps(model_json))
    doc["groups"] = {'we"ird\nname': doc["groups"]["1"]}
    wl = synthesize(from_dict(doc), duration_s=1200, seed=1)
    attrs = wl.frame.select("attrs").collect()["attrs"].unique().to_list()
    assert [json.loads(a) for a in attrs] == [{"group": 'we"ird\nname'}]


# ---------------------------------------------------------------- 3. the ServeGen parser is linear


@pytest.mark.parametrize("literal", ["{" + "1" * 100_000 + "}", "{1: " + "9" * 100_000 + "}",
                                     "{" + "1" * 100_000 + ": 0.5}", "{1: 0.5, " + "2" * 100_000 + ".}",
                                     "{1: 1" + "0" * 100_000 + "e5}"])
def test_a_long_run_of_digits_is_refused_at_once(alarm: None, literal: str) -> None:
    # linear by construction (split once, then a regex on tokens of at most 64 characters);
    # the alarm turns the old quadratic behaviour (30 s for 30 KB) into a failure, not a hang
    with pytest.raises(ModelError, match="at most 64 characters|expected number: number"):
        parse_pmf_literal(literal, "bundle")


def test_a_large_valid_literal_parses_exactly(alarm: None) -> None:
    n = 100_000
    literal = "{" + ", ".join(f"{i}: {1 / n!r}" for i in range(n)) + ",}"
    pmf = parse_pmf_literal(literal)
    assert len(pmf) == n and pmf[n - 1.0] == 1 / n and sum(pmf.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(("literal", "want"), [("{}", {}), ("{ }", {}), ("{1:2}", {1.0: 2.0}),
                                               ("{ -1.5 : .5 , 2e3: 1. }", {-1.5: 0.5, 2000.0: 1.0})])
def test_pmf_literal_neighbours_still_parse(literal: str, want: dict) -> None:
    assert parse_pmf_literal(literal) == want


@pytest.mark.parametrize("literal", ["{1: 1e999}", "{,}", "{1: 2,,}", "{1 2: 3}", "{1: nan}", "{1: inf}",
                                     "{1_0: 2}", "{0x10: 1}"])
def test_pmf_literal_neighbours_are_refused(literal: str) -> None:
    with pytest.raises(ModelError):
        parse_pmf_literal(literal, "w")


def test_a_bundle_with_100kb_of_digits_names_the_file(alarm: None, tmp_path: Path) -> None:
    bundle = copy_bundle(tmp_path)
    ds = bundle / "chunk-2-dataset.json"
    ds.write_text(json.dumps({"0": {"input_tokens": "{" + "7" * 100_000 + ": 1}"}}))
    with pytest.raises(SourceError, match=r"chunk-2-dataset.json: window 0 field 'input_tokens'.*64 characters"):
        load_servegen(bundle)


# ---------------------------------------------------------------- 4. one clear line, never a traceback


def copy_bundle(tmp_path: Path) -> Path:
    bundle = tmp_path / "bundle"
    shutil.copytree(SERVEGEN, bundle)
    return bundle


def trace_row(line: str) -> Callable[[Path], None]:
    return lambda b: (b / "chunk-1-trace.csv").write_text(line + "\n")


def dataset(raw: str | bytes) -> Callable[[Path], None]:
    def put(b: Path) -> None:
        p = b / "chunk-2-dataset.json"
        p.write_bytes(raw if isinstance(raw, bytes) else raw.encode())
    return put


BUNDLES: dict[str, Callable[[Path], None]] = {
    "no files": lambda b: [p.unlink() for p in b.iterdir()],
    "empty trace": trace_row(""),
    "five fields": trace_row("0,1,1,Gamma,1"),
    "rate nan": trace_row("0,nan,1,Gamma,1,1"),
    "rate negative": trace_row("0,-1,1,Gamma,1,1"),
    "rate text": trace_row("0,fast,1,Gamma,1,1"),
    "start inf": trace_row("inf,1,1,Gamma,1,1"),
    "cv negative": trace_row("0,1,-2,Gamma,1,1"),
    "shape text": trace_row("0,1,1,Gamma,big,1"),
    "scale zero": trace_row("0,1,1,Weibull,1,0"),
    "trace not utf-8": lambda b: (b / "chunk-1-trace.csv").write_bytes(b"0,1,1,Gamma,1,1\n\xff\xfe,1\n"),
    "trace is a folder": lambda b: ((b / "chunk-1-trace.csv").unlink(), (b / "chunk-1-trace.csv").mkdir()),
    "dataset truncated": dataset('{"0": {"input_tokens": "{1: 0.5'),
    "dataset empty": dataset(""),
    "dataset not utf-8": dataset(b'{"0": {"input_tokens": "{1: 1}\xff"}}'),
    "dataset a list": dataset("[1, 2]"),
    "dataset fields a number": dataset('{"0": 5}'),
    "dataset value a number": dataset('{"0": {"input_tokens": 5}}'),
    "dataset value a dict": dataset('{"0": {"input_tokens": {"1": 1}}}'),
    "dataset bad literal": dataset('{"0": {"input_tokens": "{1: __import__(\'os\')}"}}'),
    "dataset negative probability": dataset('{"0": {"input_tokens": "{1: -0.5, 2: 1}"}}'),
    "dataset probability beyond float": dataset('{"0": {"input_tokens": "{1: 1e999}"}}'),
    "dataset start not a number": dataset('{"noon": {"input_tokens": "{1: 1}"}}'),
    "dataset start nan": dataset('{"NaN": {"input_tokens": "{1: 1}"}}'),
    "dataset nested deeply": dataset("[" * 100_000),
}


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("name", list(BUNDLES))
def test_malformed_servegen_bundle(tmp_path: Path, name: str, as_json: bool) -> None:
    bundle = copy_bundle(tmp_path)
    BUNDLES[name](bundle)
    out = tmp_path / "o.parquet"
    r = cli("replay", "synth", str(bundle), "--out", str(out), "--duration", "600", *(["--json"] if as_json else []))
    assert_one_error(r, as_json)
    assert r.exit_code == 1 and "bundle" in r.stderr  # names the folder or the file
    assert not out.exists()


def mutate(fn: Callable[[dict], object]) -> Callable[[dict], str]:
    def text(doc: dict) -> str:
        d = json.loads(json.dumps(doc))
        fn(d)
        return json.dumps(d)
    return text


def w0(d: dict) -> dict:
    return d["groups"]["1"]["windows"][0]


def len0(d: dict) -> dict:
    return d["groups"]["2"]["lengths"][1]


MODELS: dict[str, Callable[[dict], str | bytes]] = {
    "empty": lambda d: "",
    "null": lambda d: "null",
    "a list": lambda d: "[]",
    "truncated": lambda d: json.dumps(d)[:200],
    "not utf-8": lambda d: json.dumps(d).encode()[:50] + b"\xff\xfe" + json.dumps(d).encode()[50:],
    "nested deeply": lambda d: "[" * 100_000,
    "rate NaN": lambda d: json.dumps(d).replace('"rate_per_s": 0.105', '"rate_per_s": NaN', 1),
    "rate Infinity": lambda d: json.dumps(d).replace('"rate_per_s": 0.105', '"rate_per_s": Infinity', 1),
    "rate negative": mutate(lambda d: w0(d).update(rate_per_s=-1)),
    "rate huge integer": lambda d: json.dumps(d).replace('"rate_per_s": 0.105', '"rate_per_s": 1' + "0" * 400, 1),
    "rate a string": mutate(lambda d: w0(d).update(rate_per_s="1")),
    "window_s zero": mutate(lambda d: d.update(window_s=0)),
    "groups a list": mutate(lambda d: d.update(groups=[1])),
    "groups empty": mutate(lambda d: d.update(groups={})),
    "window a string": mutate(lambda d: d["groups"]["1"].update(windows=["w"])),
    "windows missing": mutate(lambda d: d["groups"]["1"].pop("windows")),
    "params a list": mutate(lambda d: w0(d).update(params=[1, 2])),
    "param a string": mutate(lambda d: w0(d).update(params={"shape": "x"})),
    "family unknown": mutate(lambda d: w0(d).update(family="cauchy")),
    "lengths a dict": mutate(lambda d: d["groups"]["2"].update(lengths={"a": 1})),
    "length entry a number": mutate(lambda d: d["groups"]["2"].update(lengths=[3])),
    "pmf key text": mutate(lambda d: len0(d).update(input_tokens={"pmf": {"abc": 1.0}})),
    "pmf key nan": mutate(lambda d: len0(d).update(input_tokens={"pmf": {"nan": 1.0}})),
    "pmf negative": mutate(lambda d: len0(d).update(input_tokens={"pmf": {"1": -1.0, "2": 0.5}})),
    "pmf all zero": mutate(lambda d: len0(d).update(input_tokens={"pmf": {"1": 0.0}})),
    "pmf a list": mutate(lambda d: len0(d).update(input_tokens={"pmf": [1, 2]})),
    "quantiles a number": mutate(lambda d: len0(d).update(input_tokens={"quantiles": 5})),
    "quantiles strings": mutate(lambda d: len0(d).update(input_tokens={"quantiles": ["a", "b"]})),
    "model a number": mutate(lambda d: d["groups"]["1"].update(model=5)),
    "source a list": mutate(lambda d: d.update(source=[1])),
}


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("name", list(MODELS))
def test_malformed_model_file(tmp_path: Path, model_json: dict, name: str, as_json: bool) -> None:
    path = tmp_path / "model.json"
    raw = MODELS[name](model_json)
    path.write_bytes(raw if isinstance(raw, bytes) else raw.encode())
    out = tmp_path / "o.parquet"
    r = cli("replay", "synth", str(path), "--out", str(out), *(["--json"] if as_json else []))
    assert_one_error(r, as_json)
    assert r.exit_code == 1 and str(path) in " ".join(r.stderr.split()).replace("error: ", "")
    assert not out.exists()
    with pytest.raises(ModelError):
        load(path)


def test_the_valid_model_still_loads(tmp_path: Path, model_json: dict) -> None:
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model_json))
    assert load(path).to_dict() == load_servegen(SERVEGEN).to_dict()


SYNTH_ARGS: dict[str, list[str]] = {
    "rate inf": ["--rate", "inf"],
    "rate nan": ["--rate", "nan"],
    "rate negative": ["--rate", "-1"],
    "rate zero": ["--rate", "0"],
    "rate huge": ["--rate", "1e300"],
    "duration inf": ["--duration", "inf"],
    "duration nan": ["--duration", "nan"],
    "duration negative": ["--duration", "-5"],
    "duration zero": ["--duration", "0"],
    "duration absurd": ["--duration", "1e15"],
    "unknown target": ["--to", "parquett"],
    "unknown option": ["-o", "nosuch=1"],
    "option without value": ["-o", "nosuch"],
    "model missing": ["MISSING"],
    "out is a folder": ["OUTDIR"],
    "out under a file": ["OUTUNDERFILE"],
}


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("name", list(SYNTH_ARGS))
def test_bad_synth_arguments(tmp_path: Path, name: str, as_json: bool) -> None:
    args = SYNTH_ARGS[name]
    model, out = str(SERVEGEN), tmp_path / "o.parquet"
    if args == ["MISSING"]:
        model, args = str(tmp_path / "nope.json"), []
    elif args == ["OUTDIR"]:
        out, args = tmp_path / "folder", []
        out.mkdir()
    elif args == ["OUTUNDERFILE"]:
        (tmp_path / "file").write_text("x")
        out, args = tmp_path / "file" / "o.parquet", []
    before = sorted(tmp_path.rglob("*"))
    r = cli("replay", "synth", model, "--out", str(out), *args, *(["--json"] if as_json else []))
    assert_one_error(r, as_json)
    assert sorted(tmp_path.rglob("*")) == before


EXPORT_ARGS: dict[str, list[str]] = {
    "window nan": ["--window", "nan:5"],
    "window inf": ["--window", "inf:"],
    "window reversed": ["--window", "5:1"],
    "speed nan": ["--speed", "nan"],
    "rate scale inf": ["--rate-scale", "inf"],
    "target rate negative": ["--target-rate", "-1"],
    "compress idle nan": ["--compress-idle", "nan"],
    "sample fraction above 1": ["--sample-sessions", "2"],
    "busiest zero": ["--busiest", "0"],
    "option control character": ["-o", "model=a\rb"],
    "out is a folder": ["OUTDIR"],
}


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("name", list(EXPORT_ARGS))
def test_bad_export_arguments(home: Path, tmp_path: Path, name: str, as_json: bool) -> None:
    args, out = EXPORT_ARGS[name], tmp_path / "o.jsonl"
    if args == ["OUTDIR"]:
        out, args = tmp_path / "folder", []
        out.mkdir()
    before = sorted(tmp_path.rglob("*"))
    r = cli("replay", "export", "moon", "--to", "vllm_timed", "--out", str(out), *args, "--home", str(home),
            *(["--json"] if as_json else []))
    doc = assert_one_error(r, as_json)
    assert r.exit_code == 2 and sorted(tmp_path.rglob("*")) == before
    if name == "out is a folder" and doc:
        assert "is a directory" in doc["error"] and str(out) in doc["error"]


def test_directory_target_refuses_a_file(home: Path, tmp_path: Path) -> None:
    (tmp_path / "k").write_text("keep")
    r = cli("replay", "export", "nasa", "--to", "kubernetes", "--out", str(tmp_path / "k"), "--home", str(home))
    assert_one_error(r, as_json=False)
    assert r.exit_code == 2 and "is a file" in r.stderr and (tmp_path / "k").read_text() == "keep"


@pytest.mark.parametrize("args", [["--window-s", "nan"], ["--window-s", "0"], ["--window-s", "-60"],
                                  ["--window-s", "inf"], ["OUTDIR"]])
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_bad_fit_arguments(home: Path, tmp_path: Path, args: list[str], as_json: bool) -> None:
    out = tmp_path / "m.json"
    if args == ["OUTDIR"]:
        out, args = tmp_path / "folder", []
        out.mkdir()
    r = cli("replay", "fit", "moon", "--out", str(out), *args, "--home", str(home),
            *(["--json"] if as_json else []))
    assert_one_error(r, as_json)
    assert r.exit_code == 2 and (out.is_dir() or not out.exists())


def test_model_save_to_a_folder_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a directory"):
        load_servegen(SERVEGEN).save(tmp_path)


# ---------------------------------------------------------------- 5. a failed export leaves no trace


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` (hidden ones too) with its bytes (None for a folder)."""
    return {str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes()) for p in sorted(root.rglob("*"))}


def fail_on_call(monkeypatch: pytest.MonkeyPatch, module: str, n: int, exc: BaseException) -> None:
    """Make the ``n``-th ``atomic_path`` of exporter ``module`` raise ``exc`` once its file is written."""
    import contextlib
    import importlib

    mod = importlib.import_module(f"workscope.replay.exporters.{module}")
    real = mod.atomic_path
    calls = {"n": 0}

    @contextlib.contextmanager
    def failing(path: Path) -> Iterator[Path]:
        calls["n"] += 1
        with real(path) as tmp:
            yield tmp
            if calls["n"] == n:
                raise exc  # late: the earlier files of this export are already in place

    monkeypatch.setattr(mod, "atomic_path", failing)


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), RuntimeError("late failure")], ids=["ctrl-c", "error"])
def test_a_directory_export_failing_late_leaves_the_folder_as_it_was(home: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     exc: BaseException) -> None:
    out = tmp_path / "k8s"
    out.mkdir()
    (out / "jobs.yaml").write_text("old jobs\n")
    (out / "notes.txt").write_text("mine\n")
    before = snapshot(tmp_path)
    fail_on_call(monkeypatch, "kubernetes", 3, exc)  # jobs.yaml, schedule.csv written; replay.sh fails
    with pytest.raises(type(exc)):
        export(workscope.open(home).trace("nasa"), "kubernetes", out)
    assert snapshot(tmp_path) == before


def test_a_new_folder_of_a_failed_export_is_removed(home: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    fail_on_call(monkeypatch, "invitro", 3, RuntimeError("late"))  # inside out/trace/
    with pytest.raises(RuntimeError):
        export(workscope.open(home).trace("az21"), "invitro", tmp_path / "a" / "b" / "iv")
    assert snapshot(tmp_path) == {}


def test_a_file_export_failing_at_its_mapping_keeps_the_old_file(home: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "w.swf"
    out.write_text("; old\n")
    (tmp_path / "other.swf").write_text("other\n")
    before = snapshot(tmp_path)
    fail_on_call(monkeypatch, "swf", 2, KeyboardInterrupt())  # the .ids.csv after the .swf
    with pytest.raises(KeyboardInterrupt):
        export(workscope.open(home).trace("nasa"), "swf", out, options={"job_numbers": "renumber"})
    assert snapshot(tmp_path) == before


def test_a_write_error_is_one_line_and_leaves_the_folder(home: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "odc"
    out.mkdir()
    (out / "experiment.json").write_text("{}")
    before = snapshot(tmp_path)
    fail_on_call(monkeypatch, "opendc", 2, OSError(28, "No space left on device"))
    r = cli("replay", "export", "nasa", "--to", "opendc", "--out", str(out), "--home", str(home), "--json")
    doc = assert_one_error(r, as_json=True)
    assert r.exit_code == 1 and "no space left on device" in doc["error"].lower() and str(out) in doc["error"]
    assert snapshot(tmp_path) == before


KILLED = """
import os, sys
import workscope
from workscope.replay.exporters import _text
from workscope.replay.pipeline import export
def killed(*a, **k):
    os._exit(9)  # as SIGKILL: no cleanup runs
_text.shutil.copyfileobj = killed
export(workscope.open(sys.argv[1]).trace("nasa"), sys.argv[2], sys.argv[3])
"""


@pytest.mark.parametrize(("target", "name"), [("batsim", "w.json"), ("kubernetes", "k8s")])
def test_a_killed_export_leaves_nothing_once_the_next_one_runs(home: Path, tmp_path: Path, target: str,
                                                               name: str) -> None:
    out = tmp_path / name
    if target == "kubernetes":
        out.mkdir()
        (out / "jobs.yaml").write_text("old\n")  # so the export keeps a backup while it runs
    else:
        out.write_text("old\n")
    done = subprocess.run([sys.executable, "-c", KILLED, str(home), target, str(out)], capture_output=True,
                          check=False)
    assert done.returncode == 9, done.stderr.decode()
    left = {p.name for p in tmp_path.rglob(".*")}
    assert left  # the killed writer's temporary, side and backup files
    export(workscope.open(home).trace("nasa"), target, out)
    assert {p.name for p in tmp_path.rglob(".*")} == set()
    files = {p.name for p in tmp_path.rglob("*")}
    assert files == ({name} if target == "batsim" else {name, "jobs.yaml", "schedule.csv", "replay.sh"})


def test_a_path_embedded_in_a_guidellm_word_is_not_expanded(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "p${HOME}q" / "g.jsonl"
    r = cli("replay", "export", "moon", "--to", "guidellm", "--out", str(out), "--print-command", "--home", str(home))
    assert r.exit_code == 0, r.output
    argv = shell_argv(r.stdout.removesuffix("\n"), tmp_path)
    assert any(f"source.path={out}" in a for a in argv), argv
