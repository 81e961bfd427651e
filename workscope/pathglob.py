"""Paths inside glob patterns: a user's directory may hold ``*``, ``?`` or ``[``."""

from __future__ import annotations


def glob_escape(path: str) -> str:
    """``path`` as a glob pattern that matches only itself: ``*``, ``?`` and ``[`` become the
    one-character classes ``[*]``, ``[?]`` and ``[[]`` (the syntax of DuckDB's, polars' and
    pathlib's globs)."""
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in path)
