"""The limits that keep a hostile or broken input from exhausting memory, disk or time, in one
place: what the ingest gives up on, how long a line may be, how far a time may lie from its
origin. Each can be changed where it is used (an option or a flag says which)."""

from __future__ import annotations

from workscope.errors import DataError

SPAN_S = 1e9
"""Bound of a time since the origin and of a duration: about 31.7 years. Public traces span
days to a decade; a value beyond this is a misparsed or corrupt field (a year-2300 timestamp,
a unit mistake), and keeping it would silently stretch every analysis over centuries.
``workscope ingest --bound`` changes it per column."""

MAX_REJECTS = 1_000_000
"""Rejected rows after which an ingest stops (``max_rejects=``, ``--max-rejects``; None / 0:
no limit). Beyond it the source is not what the reader expects (a gzip of blank lines gave
786 million rejects and a 773 MB trace of nothing), and more rows would only fill the disk."""

MAX_REJECT_SHARE = 0.5
"""Share of a source file's rows that may be rejected (``max_reject_share=``,
``--max-reject-share``; None or 1: no limit), judged once :data:`MIN_LINES_FOR_SHARE` distinct
source lines are rejected. A file with more bad rows than good is another format or damaged."""

MIN_LINES_FOR_SHARE = 1000
"""Rejected source lines from which :data:`MAX_REJECT_SHARE` is judged: a short file's few bad
rows are data to report, not a wrong format."""

MAX_LINE_BYTES = 64 << 20
"""Longest line (64 MiB) a line-based source may hold. A trace row is at most kilobytes; a
longer line is a file that is not line-based text (or a decompression bomb: 1.5 MB of gzip
can inflate to one 1.5 GB line), and parsing it would take several times its size in memory.
Readers of formats whose records may be long (a JSON array on one line) pass ``max_line=None``."""

MAX_EXPORT_S = 9.2e9
"""Largest time (s, either sign) an export writes: 2**63 nanoseconds, the finest unit a
target counts in with 64-bit integers. Times within the plausible ranges (or a Unix-epoch
origin) are far inside it; a trace ingested with a widened ``--bound`` may not be."""

MAX_DENSE_BINS = 50_000_000
"""Most cells a dense per-bin array may have (400 MB of float64): a series over the time axis
(counts per window, per function and minute). A trace whose span needs more holds implausible
times (ingested with a widened ``--bound``) or asks for too fine a window."""


def check_bins(cells: float, what: str, hint: str = "use a longer window, or cut the trace "
               "with --window") -> None:
    """DataError when ``what`` would need more than :data:`MAX_DENSE_BINS` cells."""
    if not cells <= MAX_DENSE_BINS:  # NaN too
        raise DataError(f"{what} would need {cells:.3g} bins (more than {MAX_DENSE_BINS:,}): the "
                        f"span is too long for its window, or holds implausible times; {hint}")
