"""Azure Functions invocation trace 2021 (two weeks, January 2021) -> ``invocations``.

Source: repo Azure/AzurePublicDataset, ``AzureFunctionsInvocationTrace2021.md`` (revision 1,
2021-11-30); data ``AzureFunctionsInvocationTraceForTwoWeeksJan2021.rar`` holding one CSV named
``AzureFunctionsInvocationTraceForTwoWeeksJan2021.txt`` (~1.98 M rows). Licence CC-BY-4.0;
cite Zhang et al., "Faster and Cheaper Serverless Computing on Harvested Resources", SOSP '21.
The vhive-serverless/invitro repo ships a 199-row real excerpt, ``Azure2021_200.csv``.

Header ``app,func,end_timestamp,duration``:

- ``app`` (64 hex) -> ``app_id``; ``func`` (64 hex) -> ``function_id``. ``func`` is unique
  only within its app: a function's identity is the pair (``app_id``, ``function_id``), as
  the manifest's ``function_key`` says.
- ``end_timestamp``: invocation end, **seconds** since the (shifted) trace start;
  ``duration``: **seconds** (3 decimals). The top-level README says milliseconds for both;
  the dataset page and the data say seconds, which is followed here.
- ``arrival_s = end_timestamp - duration`` (rows are ordered by this start time, not by end
  time). ``duration_s = duration``.

Origin: the trace start ("two weeks starting 2021-01-31"); timestamps were shifted by the
publisher, so no absolute UTC origin is claimed (``origin_utc`` is null, the note says
why). An invocation that started before the first recorded end can have a slightly negative
``arrival_s``; it is kept (finite), not clipped. A ``.gz`` / single-file ``.zip`` copy is read
in place; the ``.rar`` itself is not (no RAR decoder in the standard library): unpack it with
``unrar`` first.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from workscope.errors import SourceError
from workscope.ingest.files import first_line, head_text, iter_files, plain_file, require_rows
from workscope.ingest.parse import (
    Parsed,
    build,
    check_header,
    parse_float,
    parse_text,
    raw_row,
    scan_text_csv,
    src,
)
from workscope.ingest.reader import Reader, ScanContext, ScanResult, TablePart
from workscope.ingest.timefmt import origin_meta

HEADER = ["app", "func", "end_timestamp", "duration"]


class AzureFunctions2021Reader(Reader):
    """Azure Functions invocation trace 2021 (app,func,end_timestamp,duration) into ``invocations``."""

    name = "azure_functions_2021"
    version = "1"
    description = "Azure Functions invocation trace 2021 (app,func,end_timestamp,duration; seconds)"
    tables = ("invocations",)
    doc_url = ("https://github.com/Azure/AzurePublicDataset/blob/master/"
               "AzureFunctionsInvocationTrace2021.md")

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            return any(self.sniff(f) for f in sorted(path.glob("*.csv*"))[:3]) or any(
                self.sniff(f) for f in sorted(path.glob("*.txt*"))[:3])
        lines = head_text(path, 4096).lstrip("\ufeff").splitlines()
        return bool(lines) and [c.strip().strip('"') for c in lines[0].split(",")] == HEADER

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        files = list(iter_files(paths))
        parts = []
        for f in files:
            if f.name.lower().endswith(".rar"):
                raise SourceError(f, "RAR archives cannot be read in place",
                                  hint="unpack it with `unrar x` and pass the .txt inside")
            plain = plain_file(f, ctx)
            header = [c.strip().strip('"') for c in first_line(plain, f).split(",")]
            check_header(header, HEADER, f, what="Azure Functions 2021 invocation trace")
            require_rows(plain, str(f))
            lf, names = scan_text_csv(plain, str(f))
            end = parse_float(src("end_timestamp"), "end_timestamp", required=True)
            dur = parse_float(src("duration"), "duration", required=True)
            fields = {
                "arrival_s": Parsed(end.value - dur.value, end.reason),
                "duration_s": dur,
                "function_id": parse_text(src("func"), "func", required=True),
                "app_id": parse_text(src("app"), "app", required=True),
            }
            parts.append(TablePart(build(lf, fields), raw_row(names), str(f)))
        meta = origin_meta(
            None, assumed_utc=False, resolution_s=1e-3,
            note="arrival_s = end_timestamp - duration, in seconds since the trace start "
                 "(two weeks from 2021-01-31; the publisher shifted timestamps, so no absolute "
                 "UTC origin is known); arrivals before the first end can be slightly negative",
        )
        meta["function_key"] = ["app_id", "function_id"]
        return ScanResult({"invocations": parts}, files, meta)


READER = AzureFunctions2021Reader()
