"""Output of the CLI: the consoles, the one JSON document of ``--json``, tables, progress, and
the mapping of errors to one stderr line and an exit code.

Results go to stdout (with ``--json``: exactly one JSON document); progress and logs go to
stderr. Exit codes: 0 ok, 1 data or run error, 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from typer.core import _click  # type: ignore[attr-defined]

from workscope.errors import InternalError, WorkscopeError, shorten, write_error
from workscope.jsonable import json_ready

# Piped output gets a wide console so tables are not cut at 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("workscope.cli")


def emit_json(doc: Any) -> None:
    """Print ``doc`` as the command's one JSON document on stdout."""
    sys.stdout.write(json.dumps(json_ready(doc), indent=2) + "\n")


def emit_raw(text: str) -> None:
    """Print text as is on stdout (Markdown, CSV, a command line): no rich markup or wrapping."""
    sys.stdout.write(text)


def emit(as_json: bool, doc: Callable[[], Any], text: Callable[[], None]) -> None:
    """Print a command's result: the JSON document ``doc()`` with ``--json``, else ``text()``.

    Both are called lazily, so the form not asked for costs nothing.
    """
    if as_json:
        emit_json(doc())
    else:
        text()


def rows_table(columns: Sequence[str], rows: Iterable[Sequence[str]], **options: Any) -> Table:
    """A rich table with ``columns`` and ``rows`` of text (``options``: title and the like)."""
    t = Table(*columns, **options)
    for row in rows:
        t.add_row(*row)
    return t


def fitted_table(columns: Sequence[str], rows: Iterable[Sequence[str]], width: int, *,
                 whole: Sequence[str] = (), drop: Sequence[str] = (), **options: Any) -> Table:
    """A rich table of ``columns`` and ``rows`` of text that fits ``width`` terminal columns.

    Cells of the ``whole`` columns (names, identifiers) are never cut short with an ellipsis:
    such a column is as wide as its longest cell and, should even that not fit, folds onto a
    second line. While the table is wider than ``width``, the ``drop`` columns are left out,
    first named first, and a caption says which (``options``: title and the like).
    """
    from rich.cells import cell_len
    from rich.measure import Measurement

    body = [list(r) for r in rows]
    at = {name: i for i, name in enumerate(columns)}
    # Measured unconstrained: under ``width`` rich reports the squeezed width, which always fits.
    probe = Console(width=10_000, file=io.StringIO())

    def build(names: list[str], hidden: list[str]) -> Table:
        t = Table(**options)
        for name in names:
            if name in whole:
                longest = max([cell_len(name), *(cell_len(r[at[name]]) for r in body)])
                t.add_column(name, no_wrap=True, min_width=longest, overflow="fold")
            else:
                t.add_column(name)
        for r in body:
            t.add_row(*(r[at[n]] for n in names))
        if hidden:
            t.caption = f"left out to fit {width} columns: {', '.join(hidden)} (--json shows every column)"
        return t

    kept, hidden = list(columns), []
    table = build(kept, hidden)
    for name in drop:
        if Measurement.get(probe, probe.options, table).maximum <= width:
            break
        if name in kept:
            kept.remove(name)
            hidden.append(name)
            table = build(kept, hidden)
    return table


def cell(value: Any) -> str:
    """A figure in a table: empty for null, 4 significant digits for a float."""
    return "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def usage_error(message: str, exit_code: int = 2) -> NoReturn:
    """End a ``--json`` run whose command line the option parser refused: one JSON error
    document on stdout, one line on stderr, exit ``exit_code``."""
    emit_json({"error": message, "type": "UsageError", "exit_code": exit_code})
    err.print(f"[bold red]error:[/] {' '.join(message.split())}", markup=True, highlight=False)
    sys.exit(exit_code)


def handle_errors(fn: F) -> F:
    """Turn WorkscopeError into one line on stderr (or a JSON error document) and its exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return fn(*args, **kwargs)
        except WorkscopeError as exc:
            _fail(exc, as_json)
        except KeyboardInterrupt:
            err.print("interrupted; the store is unchanged")
            raise typer.Exit(130) from None
        except (_click.exceptions.ClickException, typer.Exit, typer.Abort):
            raise  # the option parser's own errors and exits
        except Exception as exc:
            # Not raised on purpose: a refused write (disk full, permissions) gets its own
            # message; anything else is a bug, still reported as one line (-v: traceback).
            log.info("traceback of the unexpected error", exc_info=True)
            _fail(write_error(exc) or InternalError(
                f"unexpected {type(exc).__name__}: {shorten(str(exc).strip() or 'no message')}; "
                "this is a bug in workscope: please report it with the command line "
                "(--verbose shows the traceback)"), as_json)

    return wrapper  # type: ignore[return-value]


def _fail(exc: WorkscopeError, as_json: bool) -> NoReturn:
    if as_json:
        emit_json({"error": str(exc), "type": type(exc).__name__, "exit_code": exc.exit_code})
    one_line = " ".join(str(exc).split())
    err.print(f"[bold red]error:[/] {one_line}", markup=True, highlight=False)
    raise typer.Exit(exc.exit_code) from None


def progress_enabled(as_json: bool, quiet: bool = False) -> bool:
    """Whether a command draws a progress bar: only for a person watching (stderr is a
    terminal), never with ``--json`` (scripts read stdout, and a bar is noise in their logs)
    and never with ``--quiet``. Pass the result to :func:`progress`."""
    return not quiet and not as_json and err.is_terminal


@contextlib.contextmanager
def progress(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A progress callback ``(message, done, total)`` drawing a bar on stderr, or a no-op."""
    if not enabled:
        yield lambda msg, done, total: None
        return
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                  TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task("ingest", total=1)

        def update(msg: str, done: int, total: int) -> None:
            # One part in flight has no measurable progress: pulse instead of sitting at 0 %.
            bar.update(task, description=msg[:70], completed=done,
                       total=None if total <= 1 and done == 0 else max(total, 1))

        yield update
