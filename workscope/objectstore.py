"""The object layout of a store: traces on storage that has no symlinks, atomic renames or
locks (S3, GCS, Azure Blob, HDFS through fsspec, or a FUSE mount of one of them).

Layout::

    <url>/workscope-store.json                     {"layout": "object"}: how to read this store
    <url>/traces/<name>/CURRENT.json               the current generation, and those it replaced
    <url>/traces/<name>/g-<id>/manifest.json       as in the local layout (see workscope.store)
    <url>/traces/<name>/g-<id>/<table>/part-00000.parquet
    <url>/traces/<name>/g-<id>/rejects/<table>-00000.parquet
    <url>/traces/<name>/g-<id>/.inventory.json

What the local layout gets from the file system, this one gets from the order of writes,
as table formats on object stores do (Delta Lake's log, Iceberg's metadata pointer):

- **Commit.** A generation is written in full under a fresh ``g-<id>/`` that nothing names
  yet; then ``CURRENT.json`` is written, one object ``PUT``, which object stores make visible
  whole or not at all. A reader sees the old generation or the new one, never a part.
- **Snapshots without locks.** A reader resolves ``CURRENT.json`` once and reads files of a
  generation, which never change. A replaced generation is kept for ``retain_s`` seconds
  (default one hour) after the replace, so a reader that opened it before finishes reading
  it; the next commit of the trace deletes the expired ones (Delta's ``VACUUM`` retention).
- **Writers.** The first ``CURRENT.json`` of a trace is written only if there is none
  (S3's ``If-None-Match``; a hard link on local disk): of two writers of one new name, the
  second gets TraceExistsError and its generation is deleted, as in the local layout. Two
  replaces of one trace are not excluded: the last ``CURRENT.json`` wins, and the other's
  generation is deleted as an orphan after ``retain_s``.

The build itself happens in a local directory (:meth:`ObjectStore.staging`), as for a local
store, and is uploaded at commit; the Spark ingest's tasks upload their parts themselves.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import posixpath
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workscope.errors import StoreError, TraceExistsError, TraceNotFoundError, UsageError
from workscope.pathglob import glob_escape

log = logging.getLogger(__name__)

LAYOUT_FILE = "workscope-store.json"
CURRENT = "CURRENT.json"
RETAIN_S = 3600.0
"""How long a replaced generation stays readable (seconds): longer than any read of it."""
LAYOUTS = ("local", "object")
REMOTE_PARTS = ".remote-parts.json"
"""A build's list of parts that Spark tasks uploaded to the store's scratch folder (final
path in the generation -> [scratch path, bytes]), for :meth:`ObjectStore.commit` to move."""
STAGING = ".staging"


def open_fs(url: str, storage_options: dict[str, Any] | None = None) -> tuple[Any, str]:
    """The fsspec file system of ``url`` and the store's root path in it. Credentials and
    endpoints come from ``storage_options`` or fsspec's usual places (the environment,
    ``AWS_ENDPOINT_URL`` and the like, the provider's config files). Each store opens its
    own client (no instance cache), so credentials changed meanwhile are used."""
    try:
        import fsspec
    except ImportError:  # pragma: no cover - fsspec is a dependency
        raise UsageError(f"store {url!r}: a store at a URL needs fsspec: pip install fsspec") from None
    try:
        fs, root = fsspec.core.url_to_fs(url, **{"skip_instance_cache": True, **(storage_options or {})})
    except (ImportError, ValueError, OSError, RuntimeError) as exc:  # HDFS without libhdfs: OSError
        scheme = url.split("://", 1)[0]
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise UsageError(f"store {url!r}: no file system for {scheme}:// ({why}); install its fsspec "
                         "package (s3fs for s3://, gcsfs for gs://, adlfs for abfs://; hdfs:// needs "
                         "libhdfs, JAVA_HOME and HADOOP_HOME set), or give a local path") from None
    return fs, root.rstrip("/")


def read_layout(fs: Any, root: str) -> str | None:
    """The layout a store's marker names, or None for a store without one (a local store, or
    none yet)."""
    try:
        with fs.open(posixpath.join(root, LAYOUT_FILE), "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - each fsspec backend raises its own (botocore's NoCredentialsError)
        where = fs.unstrip_protocol(root) if not _is_local(fs) else root
        raise StoreError(f"{where}: the store cannot be read ({' '.join(str(exc).split())[:200]}); check "
                         "the URL, the credentials and the endpoint (storage_options, or the environment: "
                         "AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL... for s3://)") from None
    return parse_layout(raw, f"{root}/{LAYOUT_FILE}")


def parse_layout(raw: bytes, where: str) -> str:
    """The layout named by a store's marker file (its bytes; ``where``: its path, for errors)."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise StoreError(f"{where}: the store's marker cannot be read ({exc}); it says how the store "
                         "is laid out: restore it") from None
    layout = doc.get("layout") if isinstance(doc, dict) else None
    if layout not in LAYOUTS:
        raise StoreError(f"{where}: unknown layout {layout!r}; this store was written by a newer "
                         "workscope, or the file was edited: restore it")
    return str(layout)


class ObjectStore:
    """The object layout's operations on one store (``workscope.store.Store`` calls them)."""

    def __init__(self, fs: Any, root: str, url: str, retain_s: float = RETAIN_S,
                 storage_options: dict[str, Any] | None = None) -> None:
        self.fs = fs
        self.root = root
        self.url = url.rstrip("/")
        self.retain_s = retain_s
        self.storage_options = dict(storage_options or {})
        self.traces = posixpath.join(root, "traces")
        self.local = _is_local(fs)

    @classmethod
    def connect(cls, url: str, storage_options: dict[str, Any] | None = None) -> ObjectStore:
        """The store at ``url`` (a Spark task's way in: it gets the URL, not the object)."""
        fs, root = open_fs(url, storage_options)
        return cls(fs, root, url, storage_options=storage_options)

    def task_target(self, work: Path) -> dict[str, Any]:
        """Where Spark tasks of the build in ``work`` upload their parts: this store (its URL
        and storage options) and a scratch folder in it of that build's own."""
        return {"url": self.url, "storage_options": self.storage_options,
                "scratch": posixpath.join(self.root, STAGING, work.name)}

    def upload_tree(self, local: Path, dest: str, *, last: str | None = None) -> dict[str, int]:
        """Copy every file under ``local`` to ``dest`` (``last``: a file name to copy after the
        others); returns their paths relative to ``local`` and sizes."""
        files = sorted(p for p in local.rglob("*") if p.is_file())
        files.sort(key=lambda p: p.name == last)
        sizes = {}
        for p in files:
            rel = p.relative_to(local).as_posix()
            target = posixpath.join(dest, rel)
            if self.local:
                self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
            self.fs.put_file(str(p), target)
            sizes[rel] = p.stat().st_size
        return sizes

    # ------------------------------------------------------------------ addresses
    def uri(self, path: str) -> str:
        """The full address of ``path`` (a path in the file system) that engines read: a
        plain path for the local file system, else ``<protocol>://...``."""
        if self.local:
            return path
        if path == self.root or path.startswith(self.root + "/"):
            # the URL as given: its scheme (s3a://) and host (hdfs://namenode:8020) kept
            return self.url + path[len(self.root):]
        return self.fs.unstrip_protocol(path)

    def trace_dir(self, name: str) -> str:
        """The path of trace ``name``'s folder."""
        return posixpath.join(self.traces, name)

    # ------------------------------------------------------------------ catalog
    def names(self) -> list[str]:
        """The folders of ``traces/`` with a ``CURRENT.json`` (a first build that is still
        uploading has none)."""
        try:
            found = self.fs.glob(glob_escape(self.traces) + f"/*/{CURRENT}")  # one listing on S3
        except FileNotFoundError:
            return []
        return sorted({posixpath.basename(posixpath.dirname(p.rstrip("/"))) for p in found})

    def current(self, name: str) -> dict[str, Any] | None:
        """``CURRENT.json`` of trace ``name``, or None if the trace is absent."""
        path = posixpath.join(self.trace_dir(name), CURRENT)
        problem = ""
        for _ in range(3):  # HDFS shows a file while it is written: a second look reads it whole
            try:
                doc = json.loads(self.read_text(path))
            except FileNotFoundError:
                return None
            except (ValueError, UnicodeDecodeError) as exc:
                problem = f"{CURRENT} is not valid JSON ({exc})"
                time.sleep(0.2)
                continue
            if isinstance(doc, dict) and isinstance(doc.get("generation"), str):
                return doc
            problem = f"{CURRENT} names no generation"
            break
        raise StoreError(f"{self.uri(path)}: trace {name!r} is damaged: {problem}; "
                         f"remove it with `workscope rm {name}` and ingest again")

    def read_text(self, path: str) -> str:
        """A file's text (FileNotFoundError when absent)."""
        with self.fs.open(path, "rb") as fh:
            return fh.read().decode("utf-8")

    def listing(self, root: str) -> dict[str, int]:
        """Every file under ``root``: path relative to it -> bytes (one listing call on an
        object store)."""
        try:
            found = self.fs.find(root, detail=True)
        except FileNotFoundError:
            return {}
        out = {}
        for path, info in found.items():
            if info.get("type", "file") != "file":
                continue
            rel = posixpath.relpath(path.rstrip("/"), root)
            out[rel] = int(info.get("size") or 0)
        return dict(sorted(out.items()))

    # ------------------------------------------------------------------ building a trace
    @contextlib.contextmanager
    def staging(self, name: str) -> Iterator[Path]:
        """A local work directory for building trace ``name`` (uploaded by :meth:`commit`)."""
        work = Path(tempfile.mkdtemp(prefix=f"workscope-{name}-"))
        try:
            yield work
        finally:
            shutil.rmtree(work, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(self.task_target(work)["scratch"], recursive=True)

    def commit(self, name: str, build: Path, *, replace: bool) -> str:
        """Upload the sealed local ``build`` as a new generation of ``name`` and point
        ``CURRENT.json`` at it (written last). Returns "created" or "replaced"."""
        before = self.current(name)
        if before is not None and not replace:
            raise TraceExistsError(name)
        self._mark()
        gen = f"g-{uuid.uuid4().hex[:12]}"
        target = posixpath.join(self.trace_dir(name), gen)
        moves = build / REMOTE_PARTS
        if moves.exists():  # parts that Spark tasks uploaded: moved within the store
            for rel, (src, _size) in json.loads(moves.read_text(encoding="utf-8")).items():
                dest = posixpath.join(target, rel)
                if self.local:
                    self.fs.makedirs(posixpath.dirname(dest), exist_ok=True)
                self.fs.mv(src, dest)
            moves.unlink()
        # the manifest last: a generation with a manifest was uploaded whole
        self.upload_tree(build, target, last="manifest.json")
        now = time.time()
        superseded = []
        if before is not None:
            superseded = [{"generation": before["generation"], "at": now},
                          *[s for s in before.get("superseded", []) if isinstance(s, dict)]]
        doc = {"generation": gen, "committed_utc": datetime.fromtimestamp(now, UTC).isoformat(),
               "superseded": superseded}
        try:
            # a new trace: created only if no other writer created it meanwhile
            self._put(posixpath.join(self.trace_dir(name), CURRENT), json.dumps(doc, indent=1),
                      create=before is None)
        except FileExistsError:
            self.fs.rm(target, recursive=True)  # never named: nobody reads it
            raise TraceExistsError(name) from None
        self.sweep(name, doc)
        self.sweep_scratch()
        return "replaced" if before is not None else "created"

    def sweep_scratch(self) -> list[str]:
        """Delete the scratch folders of cluster ingests whose driver was killed (nothing
        written in them for ``retain_s``); returns them."""
        scratch = posixpath.join(self.root, STAGING)
        try:
            entries = self.fs.ls(scratch, detail=False)
        except FileNotFoundError:
            return []
        gone = []
        for entry in entries:
            if self._older_than(entry, time.time() - self.retain_s):
                self.fs.rm(entry.rstrip("/"), recursive=True)
                gone.append(entry)
        return gone

    def _mark(self) -> None:
        marker = posixpath.join(self.root, LAYOUT_FILE)
        if not self.fs.exists(marker):
            self._put(marker, json.dumps({"layout": "object", "version": 1}))

    def _put(self, path: str, text: str, *, create: bool = False) -> None:
        """Write a small file whole: one PUT on an object store, an atomic rename here.

        ``create``: only if there is no such file, else FileExistsError. S3 (``If-None-Match``,
        through s3fs), fsspec's memory file system and this machine's (a hard link) decide
        that atomically; a file system without conditional writes checks first, which leaves
        a short window for a second writer."""
        if self.local:
            from workscope.atomic import write_atomic

            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            if not create:
                write_atomic(target, text)
                return
            draft = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}")
            write_atomic(draft, text)
            try:
                os.link(draft, target)  # fails if the file exists, whoever made it
            finally:
                draft.unlink(missing_ok=True)
        else:
            self.fs.pipe_file(path, text.encode("utf-8"), mode="create" if create else "overwrite")

    def sweep(self, name: str, cur: dict[str, Any] | None = None) -> list[str]:
        """Delete the generations of ``name`` that no reader may still read: replaced ones
        older than ``retain_s``, and orphans (an upload that was killed, or lost a race)
        whose files are all older than that. ``cur``: the ``CURRENT.json`` just written, if
        the caller has it. Returns the generations deleted."""
        cur = cur if cur is not None else self.current(name)
        if cur is None:
            return []
        now = time.time()
        keep = {cur["generation"]}
        kept_superseded = []
        for s in cur.get("superseded", []):
            if isinstance(s, dict) and isinstance(s.get("at"), int | float) and now - s["at"] < self.retain_s:
                keep.add(str(s.get("generation")))
                kept_superseded.append(s)
        gone = []
        try:
            entries = self.fs.ls(self.trace_dir(name), detail=False)
        except FileNotFoundError:
            return []
        listed = {s.get("generation") for s in cur.get("superseded", []) if isinstance(s, dict)}
        for entry in entries:
            gen = posixpath.basename(entry.rstrip("/"))
            if not gen.startswith("g-") or gen in keep:
                continue
            if gen not in listed and not self._older_than(entry, now - self.retain_s):
                continue  # perhaps another writer's upload, still under way
            self.fs.rm(entry.rstrip("/"), recursive=True)
            gone.append(gen)
        if len(kept_superseded) != len(cur.get("superseded", [])):
            doc = {**cur, "superseded": kept_superseded}
            if self.current(name) == cur:  # a commit meanwhile wrote its own
                self._put(posixpath.join(self.trace_dir(name), CURRENT), json.dumps(doc, indent=1))
        return gone

    def _older_than(self, folder: str, limit: float) -> bool:
        """True if every file under ``folder`` was last written before ``limit`` (epoch s);
        False when the file system does not tell."""
        try:
            for path, info in self.fs.find(folder, detail=True).items():
                stamp = _mtime(info)
                if stamp is None:  # this file system lists no time: ask for it
                    stamp = self.fs.modified(path).timestamp()
                if stamp >= limit:
                    return False
        except (NotImplementedError, OSError, AttributeError):
            return False
        return True

    def remove(self, name: str) -> None:
        """Delete trace ``name`` (a damaged one too): ``CURRENT.json`` first, so it disappears
        at once."""
        d = self.trace_dir(name)
        if not self.fs.exists(posixpath.join(d, CURRENT)):
            raise TraceNotFoundError(name, self.names())
        self.fs.rm(posixpath.join(d, CURRENT))
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(d, recursive=True)


def _mtime(info: dict[str, Any]) -> float | None:
    """When a file was last written (epoch s), from its listing entry: ``mtime`` here,
    ``LastModified`` on S3, ``created`` in memory; None where the entry does not say."""
    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(key)
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, datetime):
            return value.timestamp()
    return None


def _is_local(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in ("file", "local")


__all__ = ["CURRENT", "LAYOUTS", "LAYOUT_FILE", "REMOTE_PARTS", "RETAIN_S", "ObjectStore", "open_fs", "parse_layout",
           "read_layout"]
