"""Typed options of readers and exporters: declaration, checking, description.

A reader (``workscope ingest -o key=value``) and an exporter (``workscope replay export -o
key=value``) declare their options the same way, so both are checked and described here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workscope.errors import OptionError, did_you_mean

# C0 and C1 controls and the Unicode line/paragraph separators: any of them can end a line
# for some reader (Python's str.splitlines splits on all of them), so one in a header value
# would start a record of the reader's choosing. Tab is left alone: every header, comment and
# quoted command that exporters write reads it as plain whitespace.
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def first_control(text: str) -> int | None:
    """The index of the first control character (line break included) in ``text``, or None."""
    m = CONTROL.search(text)
    return m.start() if m else None


@dataclass(frozen=True)
class Option:
    """A reader or exporter option: type, default and help text."""

    type: type
    default: Any
    help: str


def resolve_options(owner: str, declared: Mapping[str, Option], given: Mapping[str, Any] | None) -> dict[str, Any]:
    """Declared options with defaults, overridden by ``given`` after a type check.

    Strings from the command line are converted ('true'/'false' for booleans); an unknown
    key, a value of the wrong type, a text holding a line break or other control character
    (option values end up in headers, comments, manifests and printed commands) and a number
    that is not finite raise OptionError naming ``owner``.
    """
    out = {k: o.default for k, o in declared.items()}
    for key, value in (given or {}).items():
        if key not in declared:
            raise OptionError(f"{owner} has no option {key!r}{did_you_mean(key, declared)}; "
                              f"options: {', '.join(sorted(declared)) or 'none'}")
        want = declared[key].type
        try:
            if want is bool and isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                value = value.lower() in ("true", "1", "yes")
            else:
                value = want(value)
        except (TypeError, ValueError):
            raise OptionError(f"option {key!r} of {owner} must be {want.__name__}, got {value!r}") from None
        if isinstance(value, str) and (at := first_control(value)) is not None:
            raise OptionError(
                f"option {key!r} of {owner} holds the control character {value[at]!r} at position "
                f"{at}; line breaks and control characters would corrupt the written header or "
                "command, so remove them")
        if isinstance(value, float) and not math.isfinite(value):
            raise OptionError(f"option {key!r} of {owner} must be a finite number, got {value!r}")
        out[key] = value
    return out


def describe_options(declared: Mapping[str, Option]) -> dict[str, dict[str, Any]]:
    """JSON-ready form of declared options: name -> {type, default, help}."""
    return {k: {"type": o.type.__name__, "default": o.default, "help": o.help} for k, o in declared.items()}


def options_markdown(declared: Mapping[str, Option]) -> list[str]:
    """Markdown table rows (header included) of declared options, for the reference pages."""
    if not declared:
        return []
    return ["| option | type | default | meaning |", "|---|---|---|---|",
            *(f"| `{k}` | {o.type.__name__} | `{o.default!r}` | {o.help} |" for k, o in declared.items())]
