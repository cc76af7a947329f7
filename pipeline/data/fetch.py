"""Fetch one file into a cache folder: stream, resume, retry, verify, then rename into place.

A URL is downloaded to ``<cache_dir>/<name>.part`` and renamed to ``<cache_dir>/<name>``
only after its size (and sha256, when given) checked out, so the final name always
means a complete file. A cached final file is therefore reused without any request
(when ``size``/``sha256`` are given it must match them; otherwise it is trusted as is).
Pin ``sha256`` to notice a remote file that changed.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import time
from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import requests
import urllib3
from tqdm.auto import tqdm

from pipeline.errors import UserError
from pipeline.files import replace_file, sha256_file

logger = logging.getLogger(__name__)

BACKOFF_SECONDS = 0.5  # pause before the first retry; doubles per failure, capped at 8 s
_CHUNK = 64 * 1024
_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)")
# urllib3's errors come from reading r.raw: dropped connections, read time-outs
_TRANSIENT = (requests.ConnectionError, requests.Timeout, urllib3.exceptions.HTTPError)


class DownloadError(UserError):
    """The file could not be fetched."""


class ChecksumError(DownloadError):
    """The data do not match the expected size or sha256."""


class _Retry(Exception):
    """A failure worth another attempt (which resumes from the ``.part`` file)."""


def fetch(
    source: str | os.PathLike[str],
    cache_dir: Path,
    *,
    sha256: str | None = None,
    size: int | None = None,
    timeout: float = 30.0,
    retries: int = 3,
    progress: bool = True,
) -> Path:
    """Return a local path to ``source`` (http(s) URL, ``file://`` URL or path), verified.

    ``timeout`` bounds connecting and each wait for data; ``retries`` is how many
    failed attempts in a row that brought no new bytes are tolerated (an attempt that
    got further before the connection dropped does not use one up).
    Raises DownloadError (missing source, HTTP error, retries exhausted) or its subclass
    ChecksumError (size or sha256 mismatch; a bad download is deleted, a local file is not).
    """
    source = os.fspath(source)
    sha256 = sha256.strip().lower() if sha256 else None
    parsed = urlparse(source)
    scheme = parsed.scheme.lower()
    if scheme in ("http", "https"):
        return _download(source, Path(cache_dir), sha256, size, timeout, retries, progress)
    if scheme == "file":
        path = Path(url2pathname(parsed.path))
    elif len(scheme) > 1:  # one letter is a Windows drive
        raise DownloadError(f"unsupported source {source!r}: give an http(s):// URL, a file:// URL or a path")
    else:
        path = Path(source)
    if not path.is_file():
        raise DownloadError(f"local source {path} does not exist or is not a file")
    problem = _check(path, size, sha256)
    if problem:  # not ours to delete
        raise ChecksumError(f"{path}: {problem}")
    return path


def cache_name(url: str) -> str:
    """The cache file name for ``url``: the last segment of its path, in safe characters only."""
    base = posixpath.basename(unquote(urlparse(url).path))
    base = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9._-]+", "_", base))
    return base.lstrip(".") or "download"


def _check(path: Path, size: int | None, sha256: str | None) -> str | None:
    """What is wrong with ``path`` (expected versus got), or None."""
    got = path.stat().st_size
    if size is not None and got != size:
        return f"size mismatch: expected {size} bytes, got {got}"
    if sha256 and (digest := sha256_file(path)) != sha256:
        return f"sha256 mismatch: expected {sha256}, got {digest}"
    return None


def _download(url: str, cache_dir: Path, sha256: str | None, size: int | None,
              timeout: float, retries: int, progress: bool) -> Path:
    final = cache_dir / cache_name(url)
    part = final.with_name(final.name + ".part")
    if final.is_file():
        problem = _check(final, size, sha256)
        if problem is None:
            logger.info("using cached %s", final)
            return final
        logger.warning("cached %s does not match (%s); downloading again", final, problem)
        final.unlink()
    cache_dir.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s to %s", url, final)
    with requests.Session() as session:
        announced = _transfer(session, url, part, timeout, retries, progress)
    problem = _check(part, size if size is not None else announced, sha256)
    if problem:
        part.unlink(missing_ok=True)
        raise ChecksumError(f"{url}: {problem}; the download was deleted, run again to fetch it afresh")
    replace_file(part, final)
    return final


def _transfer(session: requests.Session, url: str, part: Path, timeout: float,
              retries: int, progress: bool) -> int | None:
    """Fill ``part`` with the whole body; return the size the server announced, if any."""
    failures, best = 0, _size(part)
    while True:
        try:
            return _attempt(session, url, part, timeout, progress)
        except (_Retry, *_TRANSIENT) as exc:
            have = _size(part)
            failures, best = (0, have) if have > best else (failures + 1, best)
            if failures > retries:
                kept = f"{have} bytes are kept in {part}: run again to resume" if have else "run again later"
                raise DownloadError(
                    f"gave up on {url} after {failures} failed attempts in a row ({exc}); {kept}"
                ) from exc
            pause = min(BACKOFF_SECONDS * 2 ** max(failures - 1, 0), 8.0)
            logger.warning("download of %s interrupted at %d bytes (%s); retrying in %.1f s",
                           url, have, exc, pause)
            time.sleep(pause)
        except requests.RequestException as exc:
            raise DownloadError(f"cannot download {url}: {exc}") from exc


def _attempt(session: requests.Session, url: str, part: Path, timeout: float,
             progress: bool) -> int | None:
    """One request: resume ``part`` (206), restart it (200), or find it complete (416)."""
    have = _size(part)
    headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={have}-"} if have else {})}
    with session.get(url, headers=headers, stream=True, timeout=(timeout, timeout)) as r:
        start, total = _content_range(r.headers.get("Content-Range"))
        if r.status_code == 416 and have:
            if total == have:
                return total
            logger.warning("server cannot resume %s at %d bytes; starting again", url, have)
        elif r.status_code >= 500:
            raise _Retry(f"HTTP {r.status_code} {r.reason} from {url}")
        elif r.status_code not in (200, 206):
            raise DownloadError(f"HTTP {r.status_code} {r.reason} for {url}")
        elif r.status_code == 206 and start != have:
            logger.warning("server resumed %s at %s, not %d; starting again", url, start, have)
        else:
            if r.status_code == 200:
                if have:
                    logger.info("server ignored the Range request; restarting %s from zero", url)
                have, length = 0, r.headers.get("Content-Length")
                plain = r.headers.get("Content-Encoding", "identity") == "identity"
                total = int(length) if length and length.isdigit() and plain else None
            elif have:
                logger.info("resuming %s at %d bytes", url, have)
            with open(part, "ab" if have else "wb") as f, tqdm(
                total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                desc=part.name.removesuffix(".part"), disable=not progress,
            ) as bar:
                # read1 hands over whatever arrived, so a drop loses nothing already received
                # (iter_content waits for whole chunks and discards a partial one on error)
                while chunk := r.raw.read1(_CHUNK, decode_content=True):
                    f.write(chunk)
                    bar.update(len(chunk))
            if total is not None and _size(part) < total:
                raise _Retry(f"connection closed after {_size(part)} of {total} bytes")
            return total
    if not have:
        raise DownloadError(f"HTTP {r.status_code} for {url} does not fit a request from byte 0")
    part.unlink()  # the server's answer does not fit what we hold: start from zero
    return _attempt(session, url, part, timeout, progress)


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """(start, total) from a Content-Range header; None where absent or ``*``."""
    m = _CONTENT_RANGE.match(value or "")
    if not m:
        return None, None
    return (int(m[1]) if m[1] else None), (None if m[2] == "*" else int(m[2]))


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0
