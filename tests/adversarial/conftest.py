"""The adversarial suite bounds its own time and memory: a case that hangs (a quadratic parser,
a lock never released) fails after :data:`CASE_SECONDS` instead of stalling ``make test``, and
a case after which the test process has ever held more than :data:`PEAK_RSS_BYTES` fails (an
input that made workscope allocate without bound). Cases that must survive worse run their
subject in a subprocess under an address-space limit (see test_bounds.py)."""

from __future__ import annotations

import resource
import signal
import sys
from collections.abc import Iterator

import pytest

CASE_SECONDS = 300
PEAK_RSS_BYTES = 8 << 30


@pytest.fixture(autouse=True)
def bounded_case() -> Iterator[None]:
    """Fail the case after CASE_SECONDS, and when the process's peak memory passed PEAK_RSS_BYTES."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"adversarial case ran longer than {CASE_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(CASE_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    # ru_maxrss is KiB on Linux, bytes on macOS
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    assert peak < PEAK_RSS_BYTES, f"the test process has held {peak / 2**30:.1f} GiB (limit 8 GiB)"
