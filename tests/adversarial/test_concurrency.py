"""Readers and writers at once, in real processes (issue 14, hardening).

A reader (``characterize``, a notebook, ``workscope sql``) gets one consistent snapshot of a
trace while ``ingest --force`` replaces it: replaces publish a new generation and never touch
the files a reader holds; old generations go when no reader holds them. Staging recovery is
judged by flocks, not by process ids: a process in another PID namespace used to delete a
live ingest's staging, and a trace parked by a replace under PID 1 was never restored.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import workscope
from tests.conftest import SAMPLES

CONV = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv"
CODE = SAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv"
ROWS = {CONV: 19366, CODE: 8819}
ROOT = Path(__file__).resolve().parents[2]


def python(code: str, *args: str, stdin: bool = False) -> subprocess.Popen[str]:
    """A Python process running ``code`` with the repository importable."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL)


def ingest_force(home: Path, src: Path, name: str = "t") -> None:
    r = subprocess.run([sys.executable, "-m", "workscope", "ingest", str(src), "--format", "azure_llm", "--name",
                        name, "--force", "--home", str(home), "-q", "--json"], cwd=ROOT, capture_output=True,
                       text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] in ("created", "replaced")


def generations(home: Path, name: str = "t") -> list[str]:
    return sorted(p.name for p in (home / "traces" / name).iterdir() if p.name.startswith("g-"))


READER = """
    import json, sys
    import workscope
    from workscope.analysis import characterize
    trace = workscope.open(sys.argv[1]).trace("t")
    before = characterize(trace, only=["arrivals_requests"]).results["arrivals_requests"].summary["events"]
    print(json.dumps({"before": before, "generation": trace.generation}), flush=True)
    sys.stdin.readline()  # the trace is replaced meanwhile
    after = characterize(trace, only=["arrivals_requests", "llm_tokens"])
    print(json.dumps({
        "events": after.results["arrivals_requests"].summary["events"],
        "requests": after.results["llm_tokens"].summary["requests"],
        "manifest": trace.manifest["tables"]["requests"]["rows_ok"],
        "read": trace.read("requests").height,
        "sql": int(trace.sql("SELECT count(*) AS n FROM requests")["n"][0]),
    }), flush=True)
"""


def test_characterize_keeps_its_snapshot_while_ingest_force_replaces(tmp_path: Path) -> None:
    home = tmp_path / "s"
    workscope.open(home).ingest(CONV, format="azure_llm", name="t")
    reader = python(READER, str(home), stdin=True)
    try:
        first = json.loads(reader.stdout.readline() or reader.stderr.read())
        assert first["before"] == ROWS[CONV]
        ingest_force(home, CODE)
        assert workscope.open(home).trace("t").read("requests").height == ROWS[CODE]
        # the reader's generation is still on disk: it holds it
        assert first["generation"] in generations(home)
        out, err = reader.communicate("go\n", timeout=120)
    finally:
        reader.kill()
    assert reader.returncode == 0, err
    got = json.loads(out)
    assert got == {"events": ROWS[CONV], "requests": ROWS[CONV], "manifest": ROWS[CONV], "read": ROWS[CONV],
                   "sql": ROWS[CONV]}
    # the reader is gone: the next opening of the store removes its generation
    workscope.open(home)
    assert first["generation"] not in generations(home) and len(generations(home)) == 1


HOLDER = """
    import sys, time
    import workscope
    trace = workscope.open(sys.argv[1]).trace("t")
    print(trace.generation, flush=True)
    time.sleep(120)
"""


def test_old_generation_goes_only_when_its_last_reader_does(tmp_path: Path) -> None:
    home = tmp_path / "s"
    workscope.open(home).ingest(CONV, format="azure_llm", name="t")
    holder = python(HOLDER, str(home))
    try:
        held = holder.stdout.readline().strip()
        assert held.startswith("g-")
        ingest_force(home, CODE)
        ingest_force(home, CONV)  # a second replace: the middle generation had no reader
        gens = generations(home)
        assert held in gens and len(gens) == 2
        workscope.open(home)  # recovery too leaves a held generation alone
        assert held in generations(home)
    finally:
        holder.kill()
        holder.wait()
    workscope.open(home)
    assert held not in generations(home) and len(generations(home)) == 1
    assert workscope.open(home).trace("t").read("requests").height == ROWS[CONV]


LOOPING_READER = """
    import json, sys
    import workscope
    from workscope.analysis import characterize
    store = workscope.open(sys.argv[1])
    seen = []
    for _ in range(int(sys.argv[2])):
        with store.trace("t") as trace:
            p = characterize(trace, only=["arrivals_requests", "llm_tokens"])
            seen.append([p.results["arrivals_requests"].summary["events"], p.results["llm_tokens"].summary["requests"],
                         trace.manifest["tables"]["requests"]["rows_ok"]])
    print(json.dumps(seen), flush=True)
"""


def test_readers_in_a_loop_never_mix_two_versions(tmp_path: Path) -> None:
    home = tmp_path / "s"
    workscope.open(home).ingest(CONV, format="azure_llm", name="t")
    reader = python(LOOPING_READER, str(home), "12")
    try:
        for src in (CODE, CONV, CODE, CONV):
            ingest_force(home, src)
        out, err = reader.communicate(timeout=300)
    finally:
        reader.kill()
    assert reader.returncode == 0, err
    for events, requests, manifest in json.loads(out):
        assert events == requests == manifest and manifest in ROWS.values()
    workscope.open(home)
    assert len(generations(home)) == 1


# ---------------------------------------------------------------------- staging recovery

WRITER = """
    import sys, time
    import workscope
    store = workscope.open(sys.argv[1])
    with store.staging("t") as work:
        (work / "trace").mkdir()
        (work / "trace" / "half.parquet").write_bytes(b"PAR1")
        print(work, flush=True)
        time.sleep(120)
"""


def test_recovery_keeps_a_live_writers_staging(tmp_path: Path) -> None:
    home = tmp_path / "s"
    writer = python(WRITER, str(home))
    try:
        work = Path(writer.stdout.readline().strip())
        assert work.is_dir()
        opener = python("import sys, workscope; workscope.open(sys.argv[1]); print('opened')", str(home))
        assert opener.communicate(timeout=60)[0].strip() == "opened"
        assert work.is_dir() and (work / "trace" / "half.parquet").is_file()
    finally:
        writer.kill()
        writer.wait()


def test_a_killed_writers_staging_is_removed(tmp_path: Path) -> None:
    home = tmp_path / "s"
    workscope.open(home).ingest(CODE, format="azure_llm", name="t")
    writer = python(WRITER, str(home))
    work = Path(writer.stdout.readline().strip())
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert work.is_dir()  # what SIGKILL leaves
    store = workscope.open(home)
    assert not work.exists() and not list(store.staging_dir.iterdir())
    assert store.trace("t").read("requests").height == ROWS[CODE]


def test_recovery_in_another_pid_namespace_keeps_a_live_writers_staging(tmp_path: Path) -> None:
    """The recovering process cannot see the writer's process id: only the lock tells."""
    probe = subprocess.run(["unshare", "--pid", "--fork", "--map-root-user", "--mount-proc", "true"],
                           capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("unshare cannot make a PID namespace here")
    home = tmp_path / "s"
    writer = python(WRITER, str(home))
    try:
        work = Path(writer.stdout.readline().strip())
        r = subprocess.run(["unshare", "--pid", "--fork", "--map-root-user", "--mount-proc", sys.executable, "-c",
                            "import os, sys, workscope; workscope.open(sys.argv[1]); print(os.getpid())", str(home)],
                           cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
        assert r.returncode == 0, r.stderr
        assert int(r.stdout) < 10  # it ran in a fresh PID namespace
        assert work.is_dir() and (work / "trace" / "half.parquet").is_file()
    finally:
        writer.kill()
        writer.wait()
    workscope.open(home)
    assert not work.exists()


def test_a_trace_parked_under_pid_1_is_restored(tmp_path: Path) -> None:
    """PID 1 is always alive, so a PID check never restored it; nothing holds it, so it is."""
    home = tmp_path / "s"
    store = workscope.open(home)
    store.ingest(CODE, format="azure_llm", name="t")
    parked = store.staging_dir / "t.old-1-deadbeef"
    os.rename(store.traces_dir / "t", parked)
    (store.staging_dir / "t.new-1-cafef00d").mkdir()  # a build of a writer that held no lock
    reopened = workscope.open(home)
    assert reopened.names() == ["t"] and not list(reopened.staging_dir.iterdir())
    assert reopened.trace("t").read("requests").height == ROWS[CODE]
    assert reopened.check().ok


def test_an_unfinished_replace_is_swept(tmp_path: Path) -> None:
    """A writer killed between moving its generation in and swapping the manifest link leaves
    a generation nothing points to (and maybe the link): the next opening removes both."""
    home = tmp_path / "s"
    store = workscope.open(home)
    store.ingest(CODE, format="azure_llm", name="t")
    d = home / "traces" / "t"
    (current,) = generations(home)
    shutil.copytree(d / current, d / "g-000000000000")
    os.symlink("g-000000000000/manifest.json", d / ".manifest.json.g-000000000000.tmp")
    reopened = workscope.open(home)
    assert generations(home) == [current] and sorted(os.listdir(d)) == sorted([current, "manifest.json"])
    assert reopened.trace("t").read("requests").height == ROWS[CODE]


def test_two_replacing_writers_leave_one_whole_trace(tmp_path: Path) -> None:
    home = tmp_path / "s"
    workscope.open(home).ingest(CODE, format="azure_llm", name="t")
    procs = [subprocess.Popen([sys.executable, "-m", "workscope", "ingest", str(src), "--format", "azure_llm",
                               "--name", "t", "--force", "--home", str(home), "-q"], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for src in (CONV, CODE)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    store = workscope.open(home)
    assert store.check().ok and len(generations(home)) == 1
    assert store.trace("t").read("requests").height in ROWS.values()
    assert not list(store.staging_dir.iterdir())
