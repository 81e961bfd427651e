"""Shared fixtures of the conformance suite: the bundled samples in a store, exports, a tokenizer.

This suite runs in its own virtualenv (``make conformance``: .venv-conformance) where the real
target tools are installed from PyPI; it is not part of ``make test``.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT / "tests" / "data"
sys.path.insert(0, str(HERE))

# No hub can be reached: every Hugging Face lookup is local. The tokenizer built by the suite is
# installed in this private hub cache (set before anything imports huggingface_hub).
HUB_CACHE = Path(tempfile.mkdtemp(prefix="workscope-conformance-hub-"))
atexit.register(shutil.rmtree, HUB_CACHE, ignore_errors=True)
os.environ["HF_HUB_CACHE"] = str(HUB_CACHE)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import workscope
from workscope.samples import ingest_samples


def need(module: str) -> None:
    """Skip when a tool genuinely is not installed (the Makefile installs every one of them)."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed in this environment (run `make conformance`)")


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> workscope.Store:
    """Every bundled sample (workscope/samples), plus the real Mooncake slice of tests/data
    (the one LLM trace with prefix hash ids)."""
    s = workscope.open(tmp_path_factory.mktemp("store") / "home")
    ingest_samples(s)
    s.ingest(DATA / "mooncake", format="mooncake", name="mooncake")
    return s


@pytest.fixture(scope="session")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("exports")


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local BPE tokenizer folder (conformance/build_tokenizer.py)."""
    from build_tokenizer import build

    return build(tmp_path_factory.mktemp("tokenizer") / "bpe")


@pytest.fixture(scope="session")
def tool_bin() -> Path:
    """The folder of this interpreter's console scripts (aiperf, guidellm)."""
    return Path(sys.executable).parent


def which(tool_bin: Path, name: str) -> str:
    exe = tool_bin / name
    if exe.exists():
        return str(exe)
    found = shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed in this environment")
    return found


@pytest.fixture(scope="session")
def tokenizer_repo(tokenizer_dir: Path) -> str:
    """The same tokenizer as a hub-cache repo id (HF_HUB_CACHE, offline; see build_tokenizer)."""
    from build_tokenizer import install_in_cache

    return install_in_cache(tokenizer_dir, HUB_CACHE)


# ------------------------------------------------------------------------------- summary
NOTES: list[str] = []
"""Measurements the tests report (send-time lags), printed in the summary."""
_RESULTS: list[tuple[str, str, float]] = []
TOOLS = ("aiperf", "guidellm", "vidur", "evalys", "kubernetes", "transformers", "tokenizers", "torch")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _RESULTS.append((report.nodeid.split("::", 1)[-1], report.outcome.upper(), report.duration))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from importlib.metadata import PackageNotFoundError, version

    tr = terminalreporter
    tr.section("workscope conformance summary")

    def v(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    tr.write_line("tools: " + ", ".join(f"{t} {v(t)}" for t in TOOLS))
    for name, outcome, secs in _RESULTS:
        tr.write_line(f"  {outcome:<7} {name}  ({secs:.1f} s)")
    for note in NOTES:
        tr.write_line(f"  {note}")
