"""Telling a URL from a path: one rule for the sources of an ingest and for a store's home.

A URL is a ``str`` that starts with a scheme of two or more characters and ``://``
(``https://host/trace.csv.gz``, ``s3://bucket/key``, ``simplecache::s3://...``); a Windows
drive letter (``C:\\trace.csv``) is not one, and a ``Path`` never is: it has already lost
the second slash of ``://``.
"""

from __future__ import annotations

import re

# A chain of fsspec protocols (``simplecache::s3://``) ends in the scheme that names the file.
_URL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*::)*(?P<scheme>[A-Za-z][A-Za-z0-9+.-]+)://")


def url_scheme(source: object) -> str | None:
    """The scheme of ``source`` in lower case when it is a URL string, else None."""
    if not isinstance(source, str):
        return None
    m = _URL.match(source)
    return m["scheme"].lower() if m else None


def is_url(source: object) -> bool:
    """True if ``source`` is a URL string (``file://`` included)."""
    return url_scheme(source) is not None


def is_remote(source: object) -> bool:
    """True if ``source`` is a URL of other storage than this machine's (any scheme but ``file``)."""
    scheme = url_scheme(source)
    return scheme is not None and scheme != "file"


__all__ = ["is_remote", "is_url", "url_scheme"]
