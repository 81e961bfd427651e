"""Parsing shared by the CLI's command groups: common options and value parsers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from workscope.errors import UsageError

if TYPE_CHECKING:
    from workscope import Store

Home = Annotated[
    str | None,  # not Path: a file:// URI must reach the store as written
    typer.Option("--home", help="Store directory, file:// URI, or URL (s3://bucket/store, hdfs://...) (default: $WORKSCOPE_HOME, else ./workscope-data).",
                 show_default=False),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document on stdout.")]
MarkdownRef = Annotated[bool, typer.Option("--markdown", help="Print the full reference as Markdown.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar on stderr (none is drawn "
                                                          "with --json or when stderr is not a terminal).")]


def open_store(home: str | Path | None) -> Store:
    """The store at ``--home`` (imported here so that ``--help`` stays fast)."""
    import workscope

    return workscope.open(home)


def parse_options(pairs: list[str] | None) -> dict[str, str]:
    """Repeated ``--option KEY=VALUE`` as a dict (the library checks the keys and types)."""
    opts: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--option expects KEY=VALUE, got {pair!r}")
        opts[key.strip()] = value
    return opts


def split_names(text: str | None) -> list[str]:
    """A comma-separated list of names, blanks dropped."""
    return [x.strip() for x in text.split(",") if x.strip()] if text else []


def parse_ints(text: str, option: str) -> list[int]:
    """A comma-separated list of integers given to ``option``, in the order given."""
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"{option} expects integers, got {text!r}") from None


EngineOpt = Annotated[str, typer.Option(
    "--engine", help="Where the work runs: duckdb (default: this machine) or spark (a Spark cluster, or local[*]).")]
SparkMasterOpt = Annotated[str, typer.Option(
    "--spark-master", help="Spark master with --engine spark: local[*], local[2], spark://host:7077, yarn...")]
SparkConfOpt = Annotated[list[str] | None, typer.Option(
    "--spark-conf", help="A Spark setting with --engine spark, key=value (repeat the option for more).",
    show_default=False)]


def make_engine(engine: str, master: str, conf: list[str] | None) -> object | None:
    """The engine named by ``--engine`` (None: DuckDB, each command's own), checked before
    any work; ``--spark-*`` options without ``--engine spark`` are a usage error."""
    from workscope.engine import engine_name

    if engine_name(engine) == "duckdb":
        if conf or master != "local[*]":
            raise UsageError("--spark-master and --spark-conf need --engine spark")
        return None
    from workscope.spark import SparkEngine, parse_conf

    return SparkEngine(master, parse_conf(conf))
