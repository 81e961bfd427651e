"""Notebook set-up: charts render offline, through vl-convert, with no JavaScript from a CDN.

>>> import workscope.notebook
>>> workscope.notebook.setup()
"""

from __future__ import annotations


def setup(renderer: str = "svg") -> None:
    """Make altair charts render offline in Jupyter (``svg`` or ``png``, drawn by vl-convert)."""
    import altair as alt

    if renderer not in ("svg", "png"):
        from workscope.errors import UsageError

        raise UsageError(f"renderer must be 'svg' or 'png', got {renderer!r}")
    alt.renderers.enable(renderer)
    # Charts of aggregated tables stay small; the row limit only guards against mistakes.
    alt.data_transformers.enable("default", max_rows=100_000)
