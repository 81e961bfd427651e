"""Source files: walking directories (side files skipped), sniffing heads, and streaming
decompression of ``.gz`` / ``.zip`` / ``.tar.gz`` members into the scan's staging directory."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from workscope.errors import (
    CorruptSourceError,
    EmptySourceError,
    SourceError,
)
from workscope.ingest.reader import ScanContext
from workscope.limits import MAX_LINE_BYTES

SIDE_NAMES = ("LICENSE", "LICENCE", "COPYING", "NOTICE", "README", "SOURCE", "FIXTURE", "CHANGELOG", "CITATION")


SIDE_SUFFIXES = (".md", ".rst", ".txt", ".pdf", ".ipynb", ".png", ".jpg", ".jpeg", ".svg", ".html",
                 ".jsonld", ".toml", ".yaml", ".yml", ".sh", ".py")


def is_side_file(path: Path) -> bool:
    """True for documentation, licences and scripts that trace releases ship beside the data."""
    name = path.name
    return name.upper().startswith(SIDE_NAMES) or name.lower().endswith(SIDE_SUFFIXES)


def iter_files(paths: Iterable[Path], pattern: str = "*", skipped: list[Path] | None = None) -> Iterator[Path]:
    """Regular files under ``paths``, each once: named files as given; directories walked
    (sorted), with dotfiles, side files (:func:`is_side_file`: README, LICENSE, notebooks...)
    and second routes to a file already yielded (a symlink beside its target) skipped; skipped
    files are appended to ``skipped`` when given (for the manifest)."""
    seen: set[Path] = set()
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise SourceError(p, "no such file or directory", hint="check the path")
        for f in _walk(p, pattern):
            real = f.resolve()
            if (f != p and is_side_file(f)) or real in seen:  # a named file is read as named
                if skipped is not None:
                    skipped.append(f)
                continue
            seen.add(real)
            yield f


def _walk(path: Path, pattern: str) -> Iterator[Path]:
    """``path`` itself, or the regular files below the directory ``path`` that no dot-named
    part hides, sorted."""
    if not path.is_dir():
        yield path
        return
    for f in sorted(path.rglob(pattern)):
        if f.is_file() and not any(part.startswith(".") for part in f.relative_to(path).parts):
            yield f


def expect_file(path: Path) -> Path:
    """Raise a clear SourceError unless ``path`` is a readable regular file."""
    if path.is_dir():
        raise SourceError(path, "is a directory, expected a file",
                          hint="pass the trace file itself, or a format that reads directories")
    if not path.exists():
        raise SourceError(path, "no such file", hint="check the path")
    return path


def head_bytes(path: Path, n: int = 65536) -> bytes:
    """The first ``n`` bytes of ``path``, decompressed if gzip; b'' on any error (for sniffing)."""
    try:
        if path.is_dir():
            return b""
        with open(path, "rb") as fh:
            magic = fh.read(2)
        if magic == b"\x1f\x8b":
            with gzip.open(path, "rb") as fh:
                return fh.read(n)
        with open(path, "rb") as fh:
            return fh.read(n)
    except (OSError, EOFError, zlib.error):
        return b""


def head_text(path: Path, n: int = 65536) -> str:
    """Decoded start of a file (lossy), for sniffing."""
    return head_bytes(path, n).decode("utf-8", errors="replace")


_CHUNK = 1 << 20


class LineMeter:
    """Counts lines and the bytes since the last newline over a stream of chunks, and fails
    as soon as a line outgrows ``limit``. Lines inside one chunk are shorter than the chunk
    (1 MiB), so only the runs across chunk edges need measuring: C-speed ``find`` per chunk."""

    def __init__(self, display: str | Path, limit: int | None, what: str = "") -> None:
        self.display, self.limit, self.what = display, limit, what
        self.lines, self.run = 0, 0

    def feed(self, chunk: bytes) -> None:
        """Measure the next chunk; SourceError once a line is longer than the limit."""
        if self.limit is None:
            return
        first = chunk.find(b"\n")
        if first < 0:
            self.run += len(chunk)
        else:
            self._check(self.run + first)
            self.lines += chunk.count(b"\n")
            self.run = len(chunk) - chunk.rfind(b"\n") - 1
        self._check(self.run)

    def _check(self, length: int) -> None:
        if self.limit is not None and length > self.limit:
            raise SourceError(
                self.display,
                f"line {self.lines + 1}{self.what} is longer than {self.limit >> 20} MiB: not a "
                "line-based text file, or a damaged one",
                line=self.lines + 1,
                hint="check that this is the trace file itself (not an archive, a binary or a "
                     "file without newlines) and pass the right --format")


def check_lines(path: Path, display: str | Path, limit: int | None = MAX_LINE_BYTES) -> None:
    """SourceError if a line of the plain file ``path`` is longer than ``limit`` bytes."""
    meter = LineMeter(display, limit)
    if limit is None:
        return
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            meter.feed(chunk)


def _copy_stream(fin: io.BufferedIOBase, dest: Path, origin: Path, what: str,
                 max_line: int | None = MAX_LINE_BYTES) -> Path:
    meter = LineMeter(origin, max_line, f" of the decompressed {what}")
    try:
        with open(dest, "wb") as fout:
            while chunk := fin.read(_CHUNK):
                meter.feed(chunk)  # before writing: a bomb stops within a chunk of the limit
                fout.write(chunk)
    except SourceError:
        dest.unlink(missing_ok=True)
        raise
    except (EOFError, gzip.BadGzipFile, zlib.error, tarfile.TarError, zipfile.BadZipFile, OSError) as exc:
        done = dest.stat().st_size if dest.exists() else 0
        dest.unlink(missing_ok=True)
        size = origin.stat().st_size
        raise CorruptSourceError(
            origin,
            f"{what} is truncated or damaged: {exc} (file size {size} bytes, "
            f"{done} bytes decompressed before the fault)",
            offset=size if isinstance(exc, EOFError) else None,
            hint="download the file again and check its checksum",
        ) from None
    return dest


def plain_file(path: Path, ctx: ScanContext, max_line: int | None = MAX_LINE_BYTES) -> Path:
    """Return a plain-text path for ``path``: itself, or a streamed decompressed copy in staging.

    ``.gz`` and single-member ``.zip`` are decompressed chunk by chunk, so memory stays flat.
    Either way no line may be longer than ``max_line`` bytes (:data:`MAX_LINE_BYTES`); a
    tar archive, an unsupported compression or a UTF-16 text is refused with what it is.
    """
    expect_file(path)
    with open(path, "rb") as fh:
        magic = fh.read(512)
    if magic[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as fin:
                head = fin.read(512)
        except (EOFError, OSError, zlib.error):
            head = b""  # damaged: the copy below says where
        refuse_binary(head, path, compressed=True)
        with gzip.open(path, "rb") as fin:
            return _copy_stream(fin, ctx.temp_path(path.stem), path, "gzip stream", max_line)
    if magic == b"PK\x03\x04":
        try:
            zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise CorruptSourceError(path, f"damaged zip archive ({exc})",
                                     hint="download the file again") from None
        with zf:
            members = [m for m in zf.namelist() if not m.endswith("/") and not _junk(m)]
            if len(members) != 1:
                raise SourceError(path, f"zip archive holds {len(members)} files, expected one",
                                  hint="unpack it and pass the files")
            with zf.open(members[0]) as fin:
                return _copy_stream(fin, ctx.temp_path(members[0]), path, f"zip member {members[0]}",
                                    max_line)
    refuse_binary(magic, path)
    check_lines(path, path, max_line)
    return path


_MAGIC = (
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file", "decompress it (zstd -d) and pass the result"),
    (b"BZh", "a bzip2-compressed file", "decompress it (bunzip2) and pass the result"),
    (b"\xfd7zXZ\x00", "an xz-compressed file", "decompress it (unxz) and pass the result"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "unpack it and pass the files"),
    (b"Rar!", "a RAR archive", "unpack it and pass the files"),
    (b"PAR1", "a Parquet file", "use --format mapped with a mapping, or read it with `workscope sql`"),
    (b"\x89PNG", "a PNG image", "pass the trace file"),
    (b"%PDF", "a PDF document", "pass the trace file"),
    (b"\x7fELF", "an executable", "pass the trace file"),
    (b"SQLite format 3", "an SQLite database", "export the table to CSV first"),
)


def describe_binary(head: bytes) -> tuple[str, str] | None:
    """What a non-text file is, from its first bytes, and what to do; None for text."""
    for magic, what, todo in _MAGIC:
        if head.startswith(magic):
            return what, todo
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "a tar archive", "unpack it (tar -xf) and pass the files, or pass it to a reader that reads archives"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) >= 4 and head[1:4:2] == b"\x00\x00"):
        return "UTF-16 text", "convert it to UTF-8 (iconv -f UTF-16 -t UTF-8) and pass the result"
    sample = head[:512]
    if b"\x00" in sample:
        return "binary data (NUL bytes)", "pass the trace's text file"
    return None


def refuse_binary(head: bytes, path: Path, *, compressed: bool = False) -> None:
    """SourceError naming what ``path`` is when its first bytes are not text."""
    found = describe_binary(head)
    if found is None:
        return
    what, todo = found
    inside = "a gzip file holding " if compressed else ""
    raise SourceError(path, f"is {inside}{what}, not a text trace file", hint=todo)


def _junk(member: str) -> bool:
    base = member.rsplit("/", 1)[-1]
    return base.startswith("._") or base.startswith(".") or "__MACOSX" in member


def tar_members(path: Path, ctx: ScanContext, keep: Callable[[str], bool] = lambda m: True,
                max_line: int | None = MAX_LINE_BYTES) -> list[tuple[str, Path]]:
    """Extract the regular members of a (gzipped) tar that ``keep`` accepts into staging.

    macOS AppleDouble (``._x``) and other dot-members are skipped. Returns (member, path) pairs.
    """
    expect_file(path)
    out: list[tuple[str, Path]] = []
    try:
        with tarfile.open(path, "r:*") as tf:
            for m in tf:
                if not m.isfile() or _junk(m.name) or not keep(m.name):
                    continue
                fin = tf.extractfile(m)
                if fin is None:
                    continue
                out.append((m.name, _copy_stream(fin, ctx.temp_path(m.name), path, f"tar member {m.name}",
                                                 max_line)))
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise CorruptSourceError(path, f"tar archive is truncated or damaged ({exc})",
                                 hint="download the archive again") from None
    return out


def first_line(path: Path, display: str | Path | None = None) -> str:
    """The first line of a plain file, decoded; EmptySourceError if the file is empty."""
    with open(path, "rb") as fh:
        line = fh.readline(1 << 20)
    if not line.strip():
        raise EmptySourceError(display or path, "file is empty", line=1,
                               hint="check that the download completed")
    return line.decode("utf-8", errors="replace").rstrip("\r\n").lstrip("\ufeff")


def nth_line(path: Path, n: int, display: str) -> str:
    """Line ``n + 1`` of a plain file (after ``n`` skipped lines); EmptySourceError if blank."""
    with open(path, "rb") as fh:
        for _ in range(n):
            fh.readline(1 << 20)
        line = fh.readline(1 << 20)
    if not line.strip():
        raise EmptySourceError(display, "no header line", line=n + 1)
    return line.decode("utf-8", errors="replace").rstrip("\r\n")


def has_data_rows(path: Path, skip: int = 1, comment_prefix: str | None = None) -> bool:
    """True if the plain file has a non-blank line after its first ``skip`` lines."""
    with open(path, "rb") as fh:
        for i, line in enumerate(fh):
            if i < skip:
                continue
            s = line.strip()
            if s and not (comment_prefix and s.startswith(comment_prefix.encode())):
                return True
    return False


def require_rows(path: Path, display: str, skip: int = 1, comment_prefix: str | None = None) -> None:
    """Raise EmptySourceError if the file has a header but no data rows."""
    if not has_data_rows(path, skip, comment_prefix):
        raise EmptySourceError(display, "no data rows (header only)", line=skip + 1,
                               hint="check that the download completed")
