"""What every exporter is made of: the Exporter base class and its result.

An exporter writes the exact file format one target system reads, from a Workload, and
says the command line that runs it. Writes are atomic (temp file, then rename). Before
writing, the workload is linted (replay.workload.check): a violation is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from workscope.errors import UsageError
from workscope.options import Option, describe_options, resolve_options
from workscope.replay.workload import Workload, listed


@dataclass
class ExportResult:
    """What an export wrote, and how to run it."""

    target: str
    files: list[Path]
    rows: int
    command: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"target": self.target, "files": [str(f) for f in self.files], "rows": self.rows,
                "command": self.command, "notes": self.notes}


class Exporter:
    """Base class of exporters. Subclasses set the class attributes and implement write."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    tables: ClassVar[tuple[str, ...]] = ()  # workload tables it accepts
    suffix: ClassVar[str] = ""  # default file suffix (or "" for a directory)
    options: ClassVar[dict[str, Option]] = {}
    doc_url: ClassVar[str] = ""

    def write(self, wl: Workload, out: Path, options: dict[str, Any]) -> ExportResult:
        """Write ``wl`` to ``out`` in the target's format and return what was written."""
        raise NotImplementedError

    def require_table(self, wl: Workload) -> None:
        """Raise UsageError unless ``wl`` is a workload of one of the tables this target takes."""
        if wl.table not in self.tables:
            raise UsageError(f"target {self.name!r} takes {listed(self.tables)} workloads, not {wl.table}")

    def resolve_options(self, given: dict[str, Any] | None) -> dict[str, Any]:
        """Check ``given`` against the declared options, convert types, add defaults (text
        with a control character, or a number that is not finite, is an OptionError: see
        :func:`workscope.options.resolve_options`)."""
        return resolve_options(f"exporter {self.name!r}", self.options, given)

    def describe(self) -> dict[str, Any]:
        """JSON-ready description (for `workscope replay targets`)."""
        return {"name": self.name, "description": self.description, "tables": list(self.tables),
                "suffix": self.suffix, "doc_url": self.doc_url,
                "options": describe_options(self.options)}
