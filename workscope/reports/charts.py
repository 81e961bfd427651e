"""Chart dispatch: one module per analysis topic (charts_<topic>.py, topics as in
:data:`workscope.analysis.MODULES`) maps result kinds to functions that turn a Result's
small aggregated tables into altair charts."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from workscope.analysis import MODULES

if TYPE_CHECKING:
    from workscope.analysis.base import Result


def _registry() -> dict[str, Any]:
    table: dict[str, Any] = {}
    for t in MODULES:
        try:
            mod = importlib.import_module(f"workscope.reports.charts_{t}")
        except ModuleNotFoundError as exc:
            if exc.name != f"workscope.reports.charts_{t}":
                raise
            continue
        table.update(mod.CHARTS)
    return table


def charts_for(result: Result) -> list[Any]:
    """altair charts for a result (empty list when its kind has no chart function)."""
    fn = _registry().get(result.kind or result.name)
    if not fn:
        return []
    # Log axes get dense default ticks; greedy overlap removal keeps their labels legible.
    return [c.configure_axis(labelOverlap="greedy", labelSeparation=6) for c in fn(result)]
