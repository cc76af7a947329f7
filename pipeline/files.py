"""Atomic writes: build under a temporary sibling name, then rename into place.

A reader therefore sees either the old content or the new one, never half a file
(or half a folder). Temporary names start with ``.tmp-`` and keep the final name's
suffix, so writers that look at the extension (Keras, Pillow, numpy) still work.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def sha256_file(path: str | os.PathLike[str], chunk_size: int = 1024 * 1024) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def _sibling(path: Path, kind: str) -> Path:
    """A fresh hidden name next to ``path``, e.g. ``.tmp-1a2b3c4d-model.keras``."""
    return path.with_name(f".{kind}-{secrets.token_hex(4)}-{path.name}")


def _fsync_dir(path: Path) -> None:
    """Flush a folder's entries so a rename survives a crash (not possible everywhere)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace_file(tmp: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Flush ``tmp`` to disk and rename it over ``path`` (same folder, so the rename is atomic)."""
    fd = os.open(tmp, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(Path(path).parent)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is renamed to ``path``, on error removed.

    The temporary path does not exist yet; the body must create it as a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(path, "tmp")
    try:
        yield tmp
        if not tmp.is_file():
            raise FileNotFoundError(f"nothing was written to {tmp} (meant for {path})")
        replace_file(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "xb") as f:
        f.write(data)
    return Path(path)


def atomic_write_files(folder: str | os.PathLike[str], files: Mapping[str, bytes]) -> None:
    """Write each of ``files`` (name -> bytes) into ``folder`` (made if missing) atomically: all flushed to disk
    under temporary names, renamed into place, then the folder's entries flushed once."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[tuple[Path, Path]] = []
    try:
        for name, data in files.items():
            written.append((_sibling(folder / name, "tmp"), folder / name))
            with open(written[-1][0], "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        for tmp, path in written:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in written:
            tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON (UTF-8, trailing newline) to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it replaces ``path``, on error it is removed.

    POSIX has no atomic swap of two folders: an existing ``path`` is first renamed
    aside, then the new one renamed in, then the old one deleted. A crash between the
    two renames leaves no ``path`` (and a ``.old-*`` sibling), never a half-built one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(path, "tmp")
    tmp.mkdir()
    try:
        yield tmp
        old = _sibling(path, "old") if path.exists() or path.is_symlink() else None
        if old is not None:
            os.replace(path, old)
        try:
            os.replace(tmp, path)
        except BaseException:
            if old is not None:
                os.replace(old, path)
            raise
        _fsync_dir(path.parent)
        if old is not None:
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
            else:
                old.unlink()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
