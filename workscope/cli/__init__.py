"""The `workscope` command line: parse, call the library, render. No logic of its own.

One module per command group (:mod:`.store`, :mod:`.analysis`, :mod:`.demo`, :mod:`.replay`,
:mod:`.predict`); :mod:`.render` prints results and maps errors to exit codes, :mod:`.params`
holds the options and parsers the groups share. Results go to stdout (with ``--json``:
exactly one JSON document); progress and logs go to stderr. Exit codes: 0 ok, 1 data or run
error, 2 usage error.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import (
    TyperGroup,
    _click,  # type: ignore[attr-defined]
)

from workscope.cli import analysis, demo, predict, replay, store
from workscope.cli.render import out, usage_error
from workscope.version import __version__


class _JsonErrors(TyperGroup):
    """The root command: with ``--json`` on the command line, a usage error of the option
    parser (a missing option, ``--epochs abc``) is one JSON document on stdout too, like every
    error the commands raise (:func:`~workscope.cli.render.handle_errors`)."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if "--json" not in argv or not standalone_mode:
            return super().main(argv, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(argv, prog_name, complete_var, False, **extra)
        except _click.exceptions.ClickException as exc:  # typer vendors click as typer._click
            usage_error(exc.format_message(), exc.exit_code)
        except typer.Abort:
            sys.exit(1)
        # standalone mode exits with the command's code (an Exit returns it here)
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    cls=_JsonErrors,
    name="workscope",
    help="Trace analytics and workload characterization: ingest, query and inspect traces.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion on the root
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    # Eager, so that `workscope --version` answers before a command is asked for.
    if value:
        out.print(f"workscope {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details on stderr.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.",
                                          callback=_print_version, is_eager=True)] = False,
) -> None:
    """workscope: trace analytics and workload characterization."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


# The order here is the order of `workscope --help`.
store.register(app)
analysis.register(app)
demo.register(app)
app.add_typer(replay.app, name="replay")
app.add_typer(predict.app, name="predict")

__all__ = ["app"]
