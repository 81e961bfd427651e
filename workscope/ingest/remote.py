"""Sources given by URL: telling a URL from a path, and streaming a remote file into staging.

A source is a URL when it is a ``str`` that starts with a scheme of two or more characters
and ``://`` (``https://host/trace.csv.gz``, ``s3://bucket/key``); a Windows drive letter
(``C:\\trace.csv``, ``C:/trace.csv``) is not one. Then:

- ``file://`` URIs are local paths and are read as such;
- ``http://`` and ``https://`` are downloaded with the standard library, chunk by chunk;
- any other scheme goes through fsspec (``fsspec.open(url, "rb")``) when fsspec and the
  scheme's driver (s3fs, gcsfs, adlfs...) are installed; otherwise the error names the
  package to install.

A download lands in the staging directory the caller gives (the ingest's own work directory
in the store, or a scan's temporary directory) under the URL's file name, so that format
detection by name and ``.gz`` / ``.zip`` handling work as for a local file. The readers then
see a local file; :class:`Fetched` maps that file back to its URL for everything the user
sees (the manifest's sources, files and meta, the rejects' ``file`` column, error messages).
"""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from workscope.errors import InvalidNameError, SourceError, UsageError, WorkscopeError, write_error
from workscope.urls import url_scheme
from workscope.version import __version__

ProgressFn = Callable[[str, int, int], None]

# What ``Path("https://host/x")`` makes of a URL: one slash after the colon.
_MANGLED = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/(?!/)")

CHUNK = 1 << 20
"""Bytes read and written per step of a download: memory stays flat whatever the file's size."""

TIMEOUT_S = 60.0
"""Seconds to wait for a connection, or for the next bytes of a download, before giving up."""

HTTP_SCHEMES = frozenset({"http", "https"})

FSSPEC_DRIVERS = {
    "s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs",
    "abfss": "adlfs", "adl": "adlfs", "hf": "huggingface_hub", "sftp": "paramiko", "ssh": "paramiko",
    "smb": "smbprotocol", "webdav": "webdav4", "oci": "ocifs", "oss": "ossfs", "hdfs": "pyarrow",
}
"""The package that gives fsspec each common scheme (for the 'install X' hint)."""


class RemoteSourceError(SourceError):
    """A source given by URL that cannot be fetched: an HTTP status, a network failure, a
    missing fsspec driver (exit code 1: the request is fine, the run failed)."""

    def __init__(self, url: str, problem: str, *, hint: str | None = None, status: int | None = None) -> None:
        super().__init__(url, problem, hint=hint)
        self.url, self.status = url, status


class TruncatedDownloadError(RemoteSourceError):
    """A download that ended before the size the server announced (the connection closed)."""


# ---------------------------------------------------------------- telling URLs from paths

def file_uri_path(url: str) -> Path:
    """The local path a ``file://`` URI names (percent-escapes decoded)."""
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise UsageError(f"{url}: a file:// URI must name a local file, not the host {parts.netloc!r}; "
                         "write file:///absolute/path (three slashes), or pass the path itself")
    return Path(urllib.request.url2pathname(parts.path))


def mangled_url_hint(path: Path) -> str | None:
    """A hint for a missing path that is a URL ``Path()`` mangled (``https:/host/x``), else None."""
    text = str(path)
    if not _MANGLED.match(text):
        return None
    fixed = re.sub(r":/", "://", text, count=1)
    return f"this looks like the URL {fixed} turned into a path; pass URLs as str, not Path"


def url_file_name(url: str) -> str:
    """The file name at the end of the URL's path (percent-escapes decoded, characters a file
    name cannot hold replaced); UsageError for a folder URL (a path that ends with '/' or is
    empty)."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    name = PurePosixPath(path).name if not path.endswith("/") else ""
    if name in ("", ".", ".."):
        raise folder_error(url_label(url))
    # Keep the end: the extension decides decompression and format detection.
    return re.sub(r"[\x00-\x1f\\:*?\"<>|]", "_", name)[-200:]


def folder_error(label: str, why: str = "") -> UsageError:
    """The error for a URL that names a folder (``why``: how that was found out)."""
    return UsageError(f"{label}: is a folder URL{why}; a URL source must name one file (folders are "
                      "read only from local paths): pass the URL of each file, or download the folder "
                      "and pass its local path")


def url_label(url: str) -> str:
    """The URL as shown in messages and the manifest: without a password it may carry."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def plan(sources: str | Path | Sequence[str | Path]) -> list[str | Path]:
    """The sources, each either a remote URL (``str``) or a local path (``Path``, ``file://``
    URIs mapped); checks what needs no I/O (an empty name, a folder URL) so that a bad
    source fails before any download. Existence of local paths is the caller's to check."""
    items = [sources] if isinstance(sources, (str, Path)) else list(sources)
    if not items:
        raise InvalidNameError("no input paths given")
    out: list[str | Path] = []
    for s in items:
        if isinstance(s, str) and not s.strip():
            raise InvalidNameError("an empty source path was given; pass a file, folder or URL")
        scheme = url_scheme(s)
        if scheme == "file":
            out.append(file_uri_path(str(s)))
        elif scheme is not None:
            url_file_name(str(s))
            out.append(str(s))
        else:
            out.append(Path(s))
    return out


def default_name_path(source: str | Path) -> Path:
    """What a trace's default name comes from: the path, or a URL's file name."""
    return Path(url_file_name(source)) if isinstance(source, str) else source


# ---------------------------------------------------------------- fetching

@dataclass
class Fetched:
    """Sources with every URL replaced by its download, and the way back to the URLs."""

    paths: list[Path]
    urls: dict[Path, str] = field(default_factory=dict)
    """Each download -> the URL it came from (as shown: :func:`url_label`)."""
    dropped: list[str] = field(default_factory=list)
    """URLs given more than once, and why they were read once."""
    notes: dict[str, str] = field(default_factory=dict)
    """URL -> something the server said that explains a failure to read it (an HTML page)."""
    origins: dict[Path, str] = field(default_factory=dict)
    """Each download -> the URL as given (a password kept): what a Spark task on another
    machine fetches it from again."""

    @property
    def by_text(self) -> dict[str, str]:
        """Each download's path as text -> its URL (the form readers put in messages)."""
        return {str(p): u for p, u in self.urls.items()}

    def relabel(self, obj: Any) -> Any:
        """``obj`` (text, or lists and dicts of it) with each download's path replaced by its URL."""
        if not self.urls:
            return obj
        if isinstance(obj, str):
            for local, url in self.by_text.items():
                obj = obj.replace(local, url)
            return obj
        if isinstance(obj, Path):
            return self.urls.get(obj, obj)
        if isinstance(obj, dict):
            return {k: self.relabel(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return type(obj)(self.relabel(v) for v in obj)
        return obj

    def relabel_error(self, exc: BaseException) -> None:
        """Make ``exc`` (raised while reading the downloads) name the URLs, not the staging
        copies, which are gone by the time the user reads it; adds what the server said."""
        if not self.urls or not isinstance(exc, WorkscopeError):
            return
        if exc.args and isinstance(exc.args[0], str):
            text = self.relabel(exc.args[0])
            for url, note in self.notes.items():
                if url in text:
                    text += f"; note: {note}"
            exc.args = (text, *exc.args[1:])
        if isinstance(exc, SourceError):
            exc.path = self.relabel(exc.path)


def fetch(items: Sequence[str | Path], staging: Path, progress: ProgressFn | None = None,
          timeout: float | None = None) -> Fetched:
    """Download every remote URL among ``items`` (from :func:`plan`) into ``staging``; local
    paths pass through. A URL given twice is downloaded once."""
    out = Fetched([])
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, str):
            out.paths.append(item)
            continue
        label = url_label(item)
        if item in seen:
            out.dropped.append(f"{label}: the same URL as given before")
            continue
        seen.add(item)
        # One folder per URL: two URLs may end in the same file name.
        local, note = download(item, staging / f"{len(out.urls):04d}", progress=progress, timeout=timeout)
        out.paths.append(local)
        out.urls[local] = label
        out.origins[local] = item
        if note:
            out.notes[label] = note
    return out


def download(url: str, dest_dir: Path, *, progress: ProgressFn | None = None,
             timeout: float | None = None) -> tuple[Path, str | None]:
    """Stream the file at ``url`` into ``dest_dir`` under the URL's file name.

    Returns the local path and a note on what the server sent when it is likely the wrong
    thing (an HTML page), else None. Raises RemoteSourceError naming the URL (HTTP status,
    network failure, timeout after ``timeout`` s, default :data:`TIMEOUT_S`, missing fsspec
    driver), TruncatedDownloadError when fewer bytes came than announced, UsageError for a
    folder URL or an unknown scheme; a partial file is removed.
    """
    name = url_file_name(url)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / name
    say = progress or (lambda msg, done, total: None)
    wait = TIMEOUT_S if timeout is None else timeout
    try:
        if url_scheme(url) in HTTP_SCHEMES:
            return dest, _http(url, dest, say, wait)
        _fsspec(url, dest, say)
        return dest, None
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


def _http(url: str, dest: Path, say: ProgressFn, timeout: float) -> str | None:
    label = url_label(url)
    # identity: the bytes on disk are the file's, so its size and hash are the published ones.
    req = urllib.request.Request(url, headers={"User-Agent": f"workscope/{__version__}",
                                               "Accept-Encoding": "identity"})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise _status_error(label, exc.code, str(exc.reason)) from None
    except urllib.error.URLError as exc:
        reason = exc.reason if isinstance(exc.reason, BaseException) else OSError(str(exc.reason))
        raise _network_error(label, reason, timeout) from None
    except (OSError, http.client.HTTPException) as exc:
        raise _network_error(label, exc, timeout) from None
    with resp:
        final = resp.geturl()
        if final != url and urllib.parse.urlsplit(final).path.endswith("/"):
            # a server answers a folder's URL by redirecting to it with a '/' (then lists it)
            raise folder_error(label, f" (the server redirected it to {url_label(final)})")
        length = _content_length(resp.headers.get("Content-Length"))
        kind = (resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        done = _copy(resp, dest, label, say, length, timeout)
    if length is not None and done != length:
        raise TruncatedDownloadError(
            label, f"the download stopped after {done:,} of {length:,} bytes (the server closed "
                   "the connection early)",
            hint="try again (the server or the network dropped it); nothing was written to the store")
    if kind in ("text/html", "application/xhtml+xml"):
        return (f"the server sent {label} as a web page ({kind}), not a data file; use the URL of "
                "the raw file (on GitHub: raw.githubusercontent.com or ?raw=true)")
    return None


def _copy(src: IO[bytes] | Any, dest: Path, label: str, say: ProgressFn, length: int | None,
          timeout: float | None) -> int:
    """Copy ``src`` to ``dest`` chunk by chunk; returns the bytes copied. Read failures are the
    network's (RemoteSourceError), write failures the disk's (WriteError)."""
    name = dest.name
    done = 0
    try:
        fh = open(dest, "wb")  # noqa: SIM115 - closed below; write errors are told apart from read errors
    except OSError as exc:
        raise write_error(exc, dest) or exc from None
    with fh:
        while True:
            try:
                chunk = src.read(CHUNK)
            except http.client.IncompleteRead as exc:
                raise TruncatedDownloadError(
                    label, f"the download stopped after {done + len(exc.partial):,} bytes: {exc}",
                    hint="try again; nothing was written to the store") from None
            except (OSError, http.client.HTTPException) as exc:
                raise _network_error(label, exc, timeout, after=done) from None
            if not chunk:
                break
            try:
                fh.write(chunk)
            except OSError as exc:
                raise write_error(exc, f"the staging directory {dest.parent}") or exc from None
            done += len(chunk)
            if length:
                say(f"downloading {name}", done, length)
            else:  # no size announced: the bar pulses, the text counts
                say(f"downloading {name} ({done / 2**20:,.0f} MiB)", 0, 1)
    return done


def _content_length(value: str | None) -> int | None:
    try:
        n = int(value) if value is not None else None
    except ValueError:
        return None
    return n if n is not None and n >= 0 else None


def _status_error(label: str, code: int, reason: str) -> RemoteSourceError:
    what = f"HTTP {code} {reason}".strip()
    if code in (404, 410):
        problem, hint = f"not found ({what})", "check the URL: a typo, or the file was moved or removed"
    elif code in (401, 403):
        problem = f"access denied ({what})"
        hint = ("check the URL and that the file is public; for a private file, download it yourself "
                "and pass the local path (or use its s3:// / gs:// URL with fsspec and your credentials)")
    elif code == 429:
        problem, hint = f"too many requests ({what})", "wait a while and try again"
    elif code >= 500:
        problem, hint = f"the server failed ({what})", "the fault is the server's: try again later"
    else:
        problem, hint = f"refused by the server ({what})", "check the URL"
    return RemoteSourceError(label, problem, hint=hint, status=code)


def _network_error(label: str, reason: BaseException, timeout: float | None,
                   after: int | None = None) -> RemoteSourceError:
    host = urllib.parse.urlsplit(label).netloc.rpartition("@")[2]
    cut = f" after {after:,} bytes" if after else ""
    again = "; nothing was written to the store"
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        wait = f"within {timeout:g} s " if timeout else ""
        return RemoteSourceError(label, f"no answer from {host} {wait}(timed out{cut})",
                                 hint="check the network (and any proxy), or try again later" + again)
    if isinstance(reason, ConnectionRefusedError):
        return RemoteSourceError(label, f"connection refused by {host}",
                                 hint="check the host and port in the URL, and that the server is up" + again)
    if isinstance(reason, socket.gaierror):
        return RemoteSourceError(label, f"host {host!r} not found ({reason.strerror or reason})",
                                 hint="check the host name and the network connection" + again)
    if isinstance(reason, ssl.SSLError):
        return RemoteSourceError(label, f"the secure connection to {host} failed ({reason})",
                                 hint="check the URL, the system's CA certificates (SSL_CERT_FILE) and "
                                      "any proxy" + again)
    if isinstance(reason, ConnectionError):
        return RemoteSourceError(label, f"the connection to {host} broke{cut} ({reason})",
                                 hint="try again" + again)
    text = str(reason).strip() or type(reason).__name__
    return RemoteSourceError(label, f"cannot be downloaded{cut}: {text}",
                             hint="check the URL and the network, and try again" + again)


def _fsspec(url: str, dest: Path, say: ProgressFn) -> None:
    """Copy an fsspec URL (``s3://``, ``gs://``, ``memory://``...) to ``dest``."""
    label = url_label(url)
    scheme = url_scheme(url) or ""
    driver = FSSPEC_DRIVERS.get(scheme)
    try:
        import fsspec
    except ImportError:
        pkgs = "fsspec" + (f" {driver}" if driver else "")
        raise RemoteSourceError(label, f"{scheme}:// URLs are read with fsspec, which is not installed",
                                hint=f"pip install {pkgs} (http(s):// and file:// need nothing more), "
                                     "or download the file and pass its local path") from None
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError as exc:
        pkg = driver or "the package fsspec names"
        raise RemoteSourceError(label, f"the {scheme}:// driver of fsspec is not installed ({exc})",
                                hint=f"pip install {pkg}, or download the file and pass its local path") from None
    except ValueError as exc:
        raise UsageError(f"{label}: unknown URL scheme {scheme!r} ({exc}); use http(s)://, file://, or a "
                         "scheme fsspec knows (s3://, gs://, az://...)") from None
    except Exception as exc:  # noqa: BLE001 - drivers raise their own kinds (credentials, config)
        raise RemoteSourceError(label, f"cannot be opened: {_one_line(exc)}",
                                hint="check the URL and the credentials of its storage") from None
    try:
        folder = fs.isdir(path)
    except Exception:  # noqa: BLE001 - best effort: opening the file below reports the failure
        folder = False
    if folder:
        raise folder_error(label)
    try:
        fin = fs.open(path, "rb")
    except FileNotFoundError:
        raise RemoteSourceError(label, "not found", hint="check the URL: a typo, or the file was moved") from None
    except PermissionError as exc:
        raise RemoteSourceError(label, f"access denied ({_one_line(exc)})",
                                hint="check the credentials of its storage") from None
    except Exception as exc:  # noqa: BLE001 - drivers raise their own kinds
        raise RemoteSourceError(label, f"cannot be opened: {_one_line(exc)}",
                                hint="check the URL, the network and the credentials of its storage") from None
    size = getattr(fin, "size", None)
    length = size if isinstance(size, int) and size >= 0 else None
    try:
        done = _copy(_Guarded(fin, label), dest, label, say, length, None)
    finally:
        # the copy's outcome matters, not whatever the driver's close raises
        with contextlib.suppress(Exception):
            fin.close()
    if length is not None and done != length:
        raise TruncatedDownloadError(label, f"the download stopped after {done:,} of {length:,} bytes",
                                     hint="try again; nothing was written to the store")


class _Guarded:
    """A driver's file whose read failures, of whatever kind, become OSError (that ``_copy``
    reports as the network's)."""

    def __init__(self, fin: Any, label: str) -> None:
        self.fin, self.label = fin, label

    def read(self, n: int) -> bytes:
        try:
            return self.fin.read(n)
        except OSError:
            raise
        except Exception as exc:  # noqa: BLE001 - drivers raise their own kinds
            raise OSError(_one_line(exc)) from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__
