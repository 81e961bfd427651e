"""Helpers shared by the Huawei 2023 and 2025 readers (sir-lab/data-release).

Both releases ship many small CSV files whose *folder* names carry meaning (the metric of a
wide time-series file, the region ``R<n>`` of a cold-start file), usually inside zip archives
that hold many files. So the readers work on :class:`Member` s: a readable plain file plus the
*logical* path it had in the published tree, which the classifiers look at.

Also here: the wide ``day,time,<function…>`` unpivot (one output row per non-empty cell),
``funcID`` / ``podID`` / pool-name splitting, and a zip expander (``files.plain_file`` only
takes single-member zips, and the published archives hold a whole directory each).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path, PurePosixPath

import polars as pl

from workscope.errors import CorruptSourceError, SourceError
from workscope.ingest.files import expect_file, head_text, plain_file
from workscope.ingest.parse import Parsed, src
from workscope.ingest.reader import FILE, LINE, RAW_PREFIX, ScanContext

DATA_SUFFIXES = (".csv", ".csv.gz", ".zip")
"""What a directory walk picks up; notebooks, READMEs and PDFs next to the data are skipped."""

FUNC_COL = RAW_PREFIX + "@function"
"""Name of the unpivoted function column (``~`` keeps it with the raw columns for rejects)."""
CELL_COL = RAW_PREFIX + "@value"

NAN_TEXT = ["NaN", "nan", "NAN"]
"""Cell texts that mean "no data" in a wide file, like an empty cell."""

INDEX_NAMES = ("", "Unnamed: 0")
"""A leading pandas index column (written by ``to_csv`` with index=True) is tolerated."""

REGION_RE = re.compile(r"^(R\d+)(?:[_.\-].*)?$")
POOL_RE = r"^([^-]+-\d+-\d+)-[^-]+$"
"""podID = ``<poolName>-<pod number>``; poolName = ``pool<NN>-<cpu millicores>-<memory MB>``."""


@dataclass(frozen=True)
class Member:
    """One data file: where it came from, a plain readable copy, its path in the release tree."""

    display: str
    plain: Path
    logical: PurePosixPath
    origin: Path


# ---------------------------------------------------------------- files and archives

def _wanted(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(DATA_SUFFIXES) and not name.startswith(".")


def walk(paths: Sequence[Path]) -> Iterator[Path]:
    """Data files under ``paths``: explicit files as given, directories walked for CSV/zip."""
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p).parts
                if f.is_file() and _wanted(f) and not any(x.startswith(".") or x == "__MACOSX" for x in rel):
                    yield f
        elif p.exists():
            yield p
        else:
            raise SourceError(p, "no such file or directory", hint="check the path")


def _junk(member: str) -> bool:
    base = member.rsplit("/", 1)[-1]
    return base.startswith(".") or "__MACOSX" in member or not base.lower().endswith(".csv")


def _is_zip(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def _logical(path: Path) -> PurePosixPath:
    name = path.name
    for suffix in (".gz", ".zip"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return PurePosixPath(*path.parent.parts, name) if path.parent.parts else PurePosixPath(name)


def listing(path: Path) -> list[tuple[str, PurePosixPath]]:
    """The CSVs behind one file of :func:`walk`, unpacking nothing: (display, path in the
    release tree) of the file itself, or of each member of a zip, from its listing (the names
    :func:`expand` gives them)."""
    if not _is_zip(path):
        return [(str(path), _logical(path))]
    try:
        with zipfile.ZipFile(path) as zf:
            names = [i.filename for i in _csv_members(zf)]
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise CorruptSourceError(path, f"zip archive is truncated or damaged ({exc})",
                                 hint="download the archive again") from None
    return [(f"{path}[{n}]", _logical(path) / n) for n in names]


def _csv_members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The members of a zip that hold data: CSV files, no folders, no macOS junk."""
    return [i for i in zf.infolist() if not i.is_dir() and not _junk(i.filename)]


def expand(paths: Sequence[Path], ctx: ScanContext) -> list[Member]:
    """Every CSV behind ``paths`` as a plain file: zips unpacked member by member (streamed)."""
    out: list[Member] = []
    for f in walk(paths):
        expect_file(f)
        if _is_zip(f):
            out.extend(_zip_members(f, ctx))
        else:
            out.append(Member(str(f), plain_file(f, ctx), _logical(f), f))
    if not out:
        raise no_csv(paths[0])
    return out


def no_csv(path: Path) -> SourceError:
    """The error for sources that hold no CSV file."""
    return SourceError(path, "no CSV files found",
                       hint="pass the release's CSV files, their folders or the published zip archives")


def _zip_members(path: Path, ctx: ScanContext) -> list[Member]:
    base = _logical(path)
    out = []
    try:
        with zipfile.ZipFile(path) as zf:
            for info in _csv_members(zf):
                dest = ctx.temp_path(info.filename)
                size = 0
                try:
                    with zf.open(info) as fin, open(dest, "wb") as fout:
                        shutil.copyfileobj(fin, fout, 1 << 20)
                except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                    size = dest.stat().st_size if dest.exists() else 0
                    dest.unlink(missing_ok=True)
                    raise CorruptSourceError(
                        path, f"zip member {info.filename} is truncated or damaged "
                              f"({type(exc).__name__}: {exc}) after {size} decompressed bytes",
                        offset=size, hint="download the archive again and check its checksum",
                    ) from None
                out.append(Member(f"{path}[{info.filename}]", dest, base / info.filename, path))
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise CorruptSourceError(path, f"zip archive is truncated or damaged ({exc})",
                                 hint="download the archive again") from None
    return out


def sample_headers(path: Path, limit: int = 3) -> list[list[str]]:
    """Headers of up to ``limit`` CSV files at ``path`` (a file, a folder or a zip), for sniffing."""
    if path.is_dir():
        return [h for f in islice(_lazy_walk(path), limit) for h in sample_headers(f, 1)]
    if _is_zip(path):
        try:
            with zipfile.ZipFile(path) as zf:
                names = [i for i in zf.infolist() if not i.is_dir() and not _junk(i.filename)][:limit]
                heads = []
                for info in names:
                    with zf.open(info) as fh:
                        heads.append(split_header(io.TextIOWrapper(fh, "utf-8", errors="replace").readline()))
                return heads
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError):
            return []
    text = head_text(path, 1 << 16)
    if not text:
        return []
    return [split_header(text.splitlines()[0])]


def _lazy_walk(root: Path) -> Iterator[Path]:
    """Data files under ``root`` in sorted order, found without listing the whole tree first."""
    for top, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__MACOSX")
        for name in sorted(files):
            f = Path(top) / name
            if _wanted(f):
                yield f


def split_header(line: str) -> list[str]:
    """Header fields of a CSV line (BOM, CR and quotes removed)."""
    return [h.strip().strip('"') for h in line.lstrip("\ufeff").rstrip("\r\n").split(",")]


def strip_index(header: list[str]) -> list[str]:
    """The header without a leading pandas index column."""
    return header[1:] if header and header[0] in INDEX_NAMES else header


def region_of(logical: PurePosixPath) -> str | None:
    """``R<n>`` from the nearest folder (or archive / file name) that names a region."""
    for part in reversed(logical.parts):
        m = REGION_RE.match(part)
        if m:
            return m.group(1)
    return None


# ---------------------------------------------------------------- wide time series

def unpivot_wide(
    lf: pl.LazyFrame, names: Sequence[str], index: Sequence[str] = ("day", "time")
) -> pl.LazyFrame:
    """One row per non-empty function cell of a wide ``day,time,<function…>`` frame.

    Empty cells mean "no data in that step" in both releases (pandas writes its NaN as an empty
    cell; a literal ``NaN`` written by other tools means the same); they are not observations,
    so they produce no row (and so no reject). ``FUNC_COL`` holds the column name, ``CELL_COL``
    the cell text. Row order is function-major within a file (polars unpivots column by column).
    """
    funcs = [RAW_PREFIX + n for n in names if n not in index and n not in INDEX_NAMES]
    keep = [RAW_PREFIX + n for n in index]
    return (
        lf.unpivot(on=funcs, index=[*keep, FILE, LINE], variable_name=FUNC_COL, value_name=CELL_COL)
        .with_columns(pl.col(FUNC_COL).str.slice(len(RAW_PREFIX)))
        .filter(pl.col(CELL_COL).is_not_null() & ~pl.col(CELL_COL).is_in(NAN_TEXT))
    )


def wide_raw(index: Sequence[str] = ("day", "time")) -> pl.Expr:
    """Raw text of one rejected cell: the row's index fields and ``<function>=<cell>``."""
    parts: list[pl.Expr | str] = []
    for n in index:
        parts += [f"{n}=", src(n).fill_null(""), ","]
    return pl.concat_str([*(pl.lit(p) if isinstance(p, str) else p for p in parts),
                          pl.col(FUNC_COL), pl.lit("="), pl.col(CELL_COL).fill_null("")])


def nonneg_reason(value: pl.Expr, label: str) -> pl.Expr:
    """Reason for a negative value (every Huawei metric is a count, time, size or ratio)."""
    return pl.when(value < 0).then(pl.lit(f"{label} is negative"))


# ---------------------------------------------------------------- ids and pools

def pool_from_pod(pod: Parsed) -> Parsed:
    """poolName from a podID (first three ``-`` fields); a reason when the podID has no pool."""
    pool = pod.value.str.extract(POOL_RE, 1)
    bad = pl.when(pod.value.is_not_null() & pool.is_null()).then(
        pl.lit("podID: no pool name in it (expected poolNN-<cpu>-<mem>-<pod number>)"))
    return Parsed(pool, pl.coalesce(pod.reason, bad))


def pool_cpu_millicores(pool: pl.Expr) -> pl.Expr:
    """CPU limit (millicores) encoded in a pool name ``pool<NN>-<cpu>-<mem>``."""
    return pool.str.extract(r"^[^-]+-(\d+)-\d+$", 1).cast(pl.Float64, strict=False)


def pool_memory_mb(pool: pl.Expr) -> pl.Expr:
    """Memory limit (MB) encoded in a pool name ``pool<NN>-<cpu>-<mem>``."""
    return pool.str.extract(r"^[^-]+-\d+-(\d+)$", 1).cast(pl.Float64, strict=False)


def func_id_parts(func_id: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(funcName, userID, poolName) of ``funcName---userID---poolName``; nulls if it is not one."""
    rx = r"^(.+?)---(.+?)---(.+)$"
    return (func_id.str.extract(rx, 1), func_id.str.extract(rx, 2), func_id.str.extract(rx, 3))


def func_id(name: pl.Expr, user: pl.Expr, pool: pl.Expr) -> pl.Expr:
    """Build ``funcName---userID---poolName`` (null if any part is null)."""
    return pl.concat_str([name, pl.lit("---"), user, pl.lit("---"), pool])
