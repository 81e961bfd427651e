"""The reader protocol: the Reader base class, what a scan returns, and the frame contract.

A reader turns source files into lazy polars frames, one list of *parts* per canonical table.
Each part carries:

- the canonical columns it can fill (others are filled with nulls by the ingest pipeline),
- ``_file`` and ``_line``: where each row came from,
- ``_reason``: why the row cannot be parsed (null when it can),
- ``raw``: an expression rebuilding the source row's text, evaluated only for rejected rows.

The pipeline (:mod:`workscope.ingest.pipeline`) appends the table's own rules
(schemas.Table.reason), sinks good rows to Parquet and bad rows to the rejects table, in one
streaming pass. Readers never collect a whole source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from workscope.options import Option, describe_options, resolve_options

RAW_PREFIX = "~"
"""Prefix of the text columns a reader keeps from its source (so they never clash)."""


EXTRA = RAW_PREFIX + "__extra__"
"""Overflow column of scan_text_csv: non-null when a row has more fields than the header."""


REASON = "_reason"


FILE = "_file"


LINE = "_line"


@dataclass
class TablePart:
    """One lazily read piece of one canonical table (usually one source file)."""

    frame: pl.LazyFrame
    raw: pl.Expr
    file: str
    source_lines: bool = False
    """True when ``_line`` numbers physical lines of ``file`` and ``raw`` may be a stand-in
    (text rebuilt from decoded fields): the rejects table then takes each rejected row's text
    from the file, as it is there."""


@dataclass
class ScanResult:
    """What a reader's scan returns: parts per table, files used, trace-level facts.

    ``meta`` goes into the manifest: ``origin_utc`` (ISO-8601), ``origin_assumed_utc``,
    ``time_resolution_s``, ``hash_block_tokens``, ``cpu_unit`` and anything format-specific
    (SWF header comments, ...).
    """

    tables: dict[str, list[TablePart]]
    files: list[Path]
    meta: dict[str, Any] = field(default_factory=dict)
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Plausibility bounds this source needs instead of :data:`workscope.schemas.PLAUSIBLE`
    (times counted from an origin the user chose, such as the Unix epoch); the user's
    ``--bound`` still wins."""


@dataclass
class ScanContext:
    """What the store hands a reader: options and a private staging directory."""

    options: dict[str, Any]
    staging: Path
    shared: dict[str, Any] = field(default_factory=dict)
    """Facts about the whole trace (:meth:`Reader.shared_facts`), given when this scan covers
    some of its files (the cluster ingest reads each file in its own task): the reader uses
    them instead of deriving its own from the files it sees."""
    _counter: int = 0

    def temp_path(self, stem: str) -> Path:
        """A fresh path inside staging (for decompressed copies)."""
        self._counter += 1
        safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in stem)[-80:]
        return self.staging / f"{self._counter:05d}-{safe}"


def one_each(files: list[Path]) -> list[list[Path]]:
    """Files as groups of one (what most split readers' :meth:`Reader.select` returns)."""
    return [[f] for f in files]


def flat(groups: list[list[Path]]) -> list[Path]:
    """The files of :meth:`Reader.select`'s groups, in order."""
    return [f for g in groups for f in g]


class Reader:
    """Base class of readers. Subclasses set the class attributes and implement scan."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    tables: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[dict[str, Option]] = {}
    doc_url: ClassVar[str] = ""

    def sniff(self, path: Path) -> bool:
        """Cheaply decide (first bytes, header, names) whether ``path`` is this format."""
        return False

    def scan(self, paths: Sequence[Path], ctx: ScanContext) -> ScanResult:
        """Return lazy parts for every table this reader fills."""
        raise NotImplementedError

    split: ClassVar[bool] = False
    """True when a scan of many files is the scans of the groups of :meth:`select` one by one,
    in its order (given :meth:`shared_facts`): the cluster ingest then reads each group (most
    often one file) in its own task. A reader whose every file joins the others keeps False and
    is read whole, in one task. ``tests/ingest/test_cluster_ingest.py`` ingests every reader's
    test sources both ways and compares the traces."""

    split_unit: ClassVar[str] = "each file"
    """What one group of :meth:`select` is, for the reader's reference (docs/formats.md)."""

    def select(self, paths: Sequence[Path], options: dict[str, Any] | None = None
               ) -> tuple[list[list[Path]], list[Path]]:
        """The files under ``paths`` that a scan reads, in its order, as groups that can be read
        alone (one file each, but the shards that one aggregate joins), and the files the scan
        lists in its ``meta.skipped_files`` (for split readers; their scan selects through
        this, so the two agree). ``options``: the reader's resolved options, for a reader whose
        choice of files depends on one (huawei_2023's ``resolution``); None means the defaults.
        Cheap: names, first bytes and archive listings only."""
        raise NotImplementedError(f"the {self.name} reader reads its sources whole")

    meta_merged: ClassVar[tuple[str, ...]] = ()
    """Keys of ``meta`` that add up over the files read: a split ingest sums its groups'
    numbers (and mappings of numbers) and joins their lists (sorted, each item once). Every
    other key must be the same in every group's ``meta``, but ``skipped_files``: the files
    :meth:`select` skips and those the groups' scans skip (archive members), sorted."""

    shares_origin: ClassVar[bool] = False
    """True when the trace's origin is the earliest of its files' own (``meta.origin_epoch_ns``
    of each file's scan): :meth:`shared_facts` then gives it as ``origin_ns``."""

    def facts(self, paths: Sequence[Path], ctx: ScanContext) -> dict[str, Any]:
        """What one group of :meth:`select` tells about the whole trace, read from it alone
        (the cluster ingest's first, light job, a task per group); by default its scan's
        ``meta``. JSON values only."""
        return self.scan(paths, ctx).meta

    def shared_facts(self, metas: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The facts a scan of one group needs about the whole trace, from :meth:`facts` of
        each group, in :meth:`select` order (the scan finds them in ``ctx.shared``); by
        default the origin when :attr:`shares_origin`, else None: a file's rows need nothing
        beyond it."""
        if not self.shares_origin:
            return None
        origins = [m["origin_epoch_ns"] for m in metas if m.get("origin_epoch_ns") is not None]
        return {"origin_ns": min(origins) if origins else None}

    @property
    def shares_facts(self) -> bool:
        """Whether a scan of one group needs :meth:`shared_facts` (the cluster ingest then
        runs its first job for them)."""
        return self.shares_origin or type(self).shared_facts is not Reader.shared_facts

    def resolve_options(self, given: dict[str, Any] | None) -> dict[str, Any]:
        """Check ``given`` against the declared options, convert types, add defaults."""
        return resolve_options(f"format {self.name!r}", self.options, given)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (for `workscope formats`)."""
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "tables": list(self.tables),
            "options": describe_options(self.options),
            "doc_url": self.doc_url,
            "split": self.split,
        }
