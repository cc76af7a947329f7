"""Safe, all-or-nothing extraction of .zip and .tar(.gz/.bz2/.xz) archives."""

from __future__ import annotations

import json
import logging
import lzma
import os
import posixpath
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import IO, Any

from tqdm.auto import tqdm

from pipeline.errors import UserError
from pipeline.files import atomic_dir, atomic_write_json, sha256_file

logger = logging.getLogger(__name__)

MARKER = ".complete"  # written last; its content identifies the archive that was extracted
DEFAULT_MAX_TOTAL_BYTES = 20 * 1024**3
_CHUNK = 1024 * 1024


class ArchiveError(UserError):
    """The archive is unknown, corrupt, truncated or too large."""


class UnsafeArchiveError(ArchiveError):
    """An entry would land outside the target folder, or is a device/fifo."""


@dataclass(frozen=True)
class _Entry:
    name: str  # normalised relative POSIX path
    kind: str  # "file", "dir", "symlink" or "hardlink"
    size: int
    link: str
    member: Any  # the ZipInfo or TarInfo


def extract(
    archive: Path,
    dest: Path,
    *,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    progress: bool = True,
) -> Path:
    """Extract ``archive`` into ``dest`` (all or nothing) and return ``dest``.

    Skips the work when ``dest`` holds a marker for this very archive (size and sha256).
    Otherwise extracts into a sibling temporary folder, writes the marker, and only then
    replaces ``dest``; on any error nothing new is left behind.
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise ArchiveError(f"archive {archive} does not exist; fetch it first")
    stamp = {"archive_size": archive.stat().st_size, "archive_sha256": sha256_file(archive)}
    if _read_marker(dest) == stamp:
        logger.info("%s is already extracted from %s; skipping", dest, archive.name)
        return dest
    if dest.exists():
        logger.warning("%s exists but is incomplete or from another archive; re-extracting", dest)
    kind = _detect(archive)
    logger.info("extracting %s (%s) into %s", archive, kind, dest)
    try:
        with atomic_dir(dest) as tmp:
            opener = zipfile.ZipFile if kind == "zip" else tarfile.open
            with opener(archive) as arc:
                entries = _zip_entries(arc) if kind == "zip" else _tar_entries(arc)
                total = sum(e.size for e in entries if e.kind == "file")
                if total > max_total_bytes:
                    raise ArchiveError(
                        f"{archive} would expand to {total} bytes, over max_total_bytes="
                        f"{max_total_bytes}; raise the limit if this archive is trusted"
                    )
                read = arc.open if kind == "zip" else arc.extractfile
                with tqdm(entries, desc=f"extract {archive.name}", unit="file",
                          disable=not progress, delay=1.0) as bar:
                    _materialise(bar, read, tmp, max_total_bytes)
            atomic_write_json(tmp / MARKER, stamp)
    except Exception as exc:
        if isinstance(exc, ArchiveError) or not _is_corrupt(exc):
            raise
        raise ArchiveError(
            f"{archive} is corrupt or truncated ({type(exc).__name__}: {exc}); "
            "delete it and download it again"
        ) from exc
    return dest


def _detect(archive: Path) -> str:
    """``"zip"`` or ``"tar"``, judged by content rather than by extension."""
    with open(archive, "rb") as f:
        head = f.read(512)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")) or zipfile.is_zipfile(archive):
        return "zip"
    compressed = head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00"))
    if compressed or head[257:262] == b"ustar" or tarfile.is_tarfile(archive):
        return "tar"
    raise ArchiveError(f"{archive} is neither a zip nor a tar archive (unknown format)")


def _safe_name(name: str) -> str:
    """The entry's normalised relative path; refuse absolute paths, ``..`` and backslashes."""
    if "\\" in name or "\x00" in name:
        raise UnsafeArchiveError(f"entry {name!r}: backslash or NUL in name")
    if name.startswith("/") or PureWindowsPath(name).drive:
        raise UnsafeArchiveError(f"entry {name!r}: absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"entry {name!r}: '..' would leave the target folder")
    return "/".join(parts)


def _zip_entries(zf: zipfile.ZipFile) -> list[_Entry]:
    # Zip symlink entries are written as small regular files, as zipfile itself does.
    return [
        _Entry(_safe_name(i.filename), "dir" if i.is_dir() else "file", i.file_size, "", i)
        for i in zf.infolist()
    ]


def _tar_entries(tf: tarfile.TarFile) -> list[_Entry]:
    entries = []
    for m in tf.getmembers():
        name = _safe_name(m.name)
        if m.isreg():
            entries.append(_Entry(name, "file", m.size, "", m))
        elif m.isdir():
            entries.append(_Entry(name, "dir", 0, "", m))
        elif m.issym():
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), m.linkname))
            if m.linkname.startswith("/") or target == ".." or target.startswith("../"):
                raise UnsafeArchiveError(f"entry {m.name!r}: symlink to {m.linkname!r} points outside")
            entries.append(_Entry(name, "symlink", 0, m.linkname, m))
        elif m.islnk():
            try:
                entries.append(_Entry(name, "hardlink", 0, _safe_name(m.linkname), m))
            except UnsafeArchiveError:
                raise UnsafeArchiveError(
                    f"entry {m.name!r}: hardlink to {m.linkname!r} points outside") from None
        else:
            raise UnsafeArchiveError(f"entry {m.name!r}: device, fifo or other special file")
    return entries


def _materialise(entries: Iterable[_Entry], read: Callable[[Any], IO[bytes]],
                 root: Path, budget: int) -> None:
    """Create every entry under ``root``, checking each real (symlink-resolved) location."""
    root_real = os.path.realpath(root)
    links = []
    for e in entries:
        if not e.name:
            continue
        target = root / e.name
        if not _inside(root_real, target if e.kind == "dir" else target.parent):
            raise UnsafeArchiveError(f"entry {e.name!r}: resolves outside the target folder")
        if e.kind == "dir":
            os.makedirs(target, exist_ok=True)
            continue
        os.makedirs(target.parent, exist_ok=True)
        if os.path.lexists(target) and not os.path.isdir(target):
            target.unlink()  # a later duplicate wins, and never writes through an old link
        if e.kind == "file":
            with read(e.member) as src:
                budget -= _write_member(src, target, budget, e.name)
        elif e.kind == "symlink":
            os.symlink(e.link, target)
            links.append(e.name)
        else:
            source = os.path.realpath(root / e.link)
            if not _inside(root_real, source) or not os.path.isfile(source):
                raise UnsafeArchiveError(f"entry {e.name!r}: hardlink to missing or outside {e.link!r}")
            os.link(source, target)
    for name in links:  # a later entry may have redirected a path an earlier link goes through
        if not _inside(root_real, root / name):
            raise UnsafeArchiveError(f"entry {name!r}: symlink resolves outside the target folder")


def _inside(root_real: str, path: str | Path) -> bool:
    """Whether ``path``, with every symlink on disk resolved, stays under ``root_real``."""
    return os.path.commonpath([root_real, os.path.realpath(path)]) == root_real


def _write_member(src: IO[bytes], target: Path, budget: int, name: str) -> int:
    """Copy one member's bytes to ``target``; stop once more than ``budget`` bytes came out."""
    written = 0
    with open(target, "xb") as out:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            if written > budget:
                raise ArchiveError(f"entry {name!r} expands past max_total_bytes; extraction stopped")
            out.write(chunk)
    return written


def _is_corrupt(exc: BaseException) -> bool:
    """Whether ``exc`` comes from bad archive data (not from the disk or a bug)."""
    corrupt = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError)
    # gzip/bz2 report bad data as OSError without errno; real I/O errors carry one.
    return isinstance(exc, corrupt) or (isinstance(exc, OSError) and exc.errno is None)


def _read_marker(dest: Path) -> dict[str, Any] | None:
    try:
        return json.loads((dest / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
