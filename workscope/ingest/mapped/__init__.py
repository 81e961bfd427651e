"""The generic reader: any CSV / TSV / Parquet / JSON Lines file into any canonical table.

A TOML *mapping* (reader option ``mapping``, a path) names the canonical table, the input
format and, for every canonical column, the source column it comes from (or a constant),
with unit conversion by a factor. docs/mapping.md is the full reference; in short::

    table = "requests"                 # canonical table (schemas.TABLES)
    format = "csv"                     # csv | tsv | parquet | jsonl (default: file extension)
    delimiter = ","                    # csv / tsv only
    has_header = true                  # csv / tsv only; false needs names = [...]
    nulls = ["", "NA"]                 # source texts read as missing, every column

    [time]                             # how time points become seconds since the origin
    format = "%Y-%m-%d %H:%M:%S%.f"    # strptime pattern, iso8601, unix_s / unix_ms / unix_us /
                                       # unix_ns, or seconds / milliseconds / microseconds /
                                       # nanoseconds (already relative to the origin)
    timezone = "UTC"                   # zone of zone-less timestamps (IANA name)
    origin = "auto"                    # auto (earliest time in the head) | epoch | ISO timestamp

    [columns]                          # canonical column = source column, or an inline table
    arrival_s = "ts"
    latency_s = { column = "latency_ms", scale = 0.001 }
    model = { value = "llama-70b" }

    [metrics]                          # usage only: wide rows to one row per metric
    cpu_util = "cpu"

    [attrs]                            # source columns copied into the attrs JSON object
    keep = ["region", "tier"]          # or rest = true: every source column not mapped

    [meta]                             # trace-level facts for the manifest
    hash_block_tokens = 16

Files: ``.csv``, ``.tsv`` / ``.tab``, ``.parquet`` / ``.pq``, ``.jsonl`` / ``.ndjson``, each
text format optionally ``.gz`` (or a one-member ``.zip``), decompressed by streaming into
staging. A directory is read file by file: those whose names match the mapping's ``glob``, or
the extensions of its format.

Time points are the canonical ``arrival_s``, ``submit_s``, ``start_s``, ``end_s``, ``t_s``
and ``window_start_s``; every other ``*_s`` column is a duration and is converted with
``scale`` like any number. The origin is, by default, the earliest time point of the table's
time column among the first 10,000 rows of every file (the manifest records it as UTC);
``origin = "epoch"`` keeps Unix seconds, an ISO-8601 timestamp fixes it. Relative formats
(``seconds`` ...) are taken as they are, and ``origin`` then only records what zero means.
A Parquet timestamp column is used as it is (zone-less ones read in ``timezone``); a column
may override the format (``end_s = { column = "end", format = "unix_s" }``). Zone-less
text timestamps are read in ``timezone`` (default UTC, and the manifest then says the zone
was assumed); local times that a clock change skips are rejected, repeated ones take the
earlier instant. Unix nanoseconds are subtracted as integers, so no precision is lost.

Values: every source value is read as text (Parquet values are printed exactly first) and
parsed per canonical type: floats (``scale`` then ``offset``; ``inf`` / ``NaN`` rejected
unless listed in ``nulls``), integers (``12.0`` accepted), booleans (true/false, t/f,
yes/no, y/n, 1/0), text (with an optional ``map`` of source text to canonical text) and
``hash_ids`` (``[1, 2, 3]``, ``1 2 3`` or ``1;2;3``, or a Parquet list). JSON Lines keys may
reach into nested objects with dots (``res.mem``); object and array values are kept as JSON
text. Wide usage files (``[metrics]``) give one row per metric per source row, so rows_in is
their product; each metric is one pass over the file.

Every value goes through the typed parsers of ingest.parse, so a bad value rejects its row
with a reason and the source line (for Parquet the 1-based row number, for JSON Lines the
physical line). Nothing from the TOML is evaluated: it only names columns and constants.
The mapping's SHA-256 joins the options (so editing the mapping makes a re-ingest rebuild)
and the parsed mapping is kept in the manifest's meta.

The reader never sniffs: it needs an explicit ``--format mapped --option mapping=FILE``.
With ``--engine spark`` each file is read in a task of its own, and the mapping file, like
the sources, must be at a path every executor reads; a first, light job reads each file's
head for what the files share (the origin, and the columns ``rest = true`` keeps).
"""

from __future__ import annotations

from workscope.ingest.mapped.config import Mapping, MappingError, load_mapping
from workscope.ingest.mapped.reader import READER, MappedReader

__all__ = ["READER", "MappedReader", "Mapping", "MappingError", "load_mapping"]
