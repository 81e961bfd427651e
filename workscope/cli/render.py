"""Output of the CLI: the consoles, the one JSON document of ``--json``, tables, progress, and
the mapping of errors to one stderr line and an exit code.

Results go to stdout (with ``--json``: exactly one JSON document); progress and logs go to
stderr. Exit codes: 0 ok, 1 data or run error, 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NoReturn, TypeVar

import typer
from typer.core import _click  # type: ignore[attr-defined]
from rich.console import Console
from rich.table import Table

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
