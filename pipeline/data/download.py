"""The ``download`` stage's work: the raw dataset in Flickr8k's layout, from either source."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.data.layout import Layout, find_layout
from pipeline.data.synthetic import SyntheticConfig, generate
from pipeline.errors import ParamsError
from pipeline.files import atomic_dir

log = logging.getLogger(__name__)
SOURCES = ("synthetic", "flickr8k")


@dataclass(frozen=True)
class Archive:
    """One archive to fetch: an http(s) URL or a local path, with what is known of it."""

    source: str
    sha256: str | None = None
    size: int | None = None

    @classmethod
    def parse(cls, entry: str | dict[str, Any]) -> "Archive":
        """An entry of ``download.flickr8k.archives``: a string, or a mapping with ``url`` (or ``path``)."""
        if isinstance(entry, str):
            return cls(entry)
        if isinstance(entry, dict) and (entry.get("url") or entry.get("path")):
            return cls(str(entry.get("url") or entry.get("path")), entry.get("sha256"), entry.get("size"))
        raise ParamsError(f"download.flickr8k.archives: each entry is a URL, a path, or a mapping with 'url', "
                         f"optional 'sha256' and 'size'; got {entry!r}")

    @property
    def stem(self) -> str:
        """The archive's name without its extension, used as the folder it unpacks to."""
        name = self.source.rstrip("/").rsplit("/", 1)[-1]
        for suffix in (".tar.gz", ".tgz", ".zip", ".tar"):
            if name.lower().endswith(suffix):
                return name[: -len(suffix)]
        return name


def _flickr8k(out: Path, params: dict[str, Any], cache_dir: Path) -> Layout:
    from pipeline.data.archives import extract
    from pipeline.data.fetch import fetch

    archives = [Archive.parse(a) for a in params.get("archives") or []]
    if not archives:
        raise ParamsError("download.flickr8k.archives is empty: list the archives' URLs or local paths")
    stems = [a.stem for a in archives]
    if len(set(stems)) != len(stems):
        raise ParamsError(f"download.flickr8k.archives: two archives share a name ({stems})")
    with atomic_dir(out) as tmp:
        for archive in archives:
            path = fetch(archive.source, cache_dir, sha256=archive.sha256, size=archive.size,
                         timeout=float(params.get("timeout", 60)), retries=int(params.get("retries", 5)))
            log.info("extracting %s", path.name)
            extract(path, tmp / archive.stem)
        find_layout(tmp)  # refuse to finish on archives that are not Flickr8k
    return find_layout(out)


def download(params: dict[str, Any], out: Path, cache_dir: Path) -> Layout:
    """Put the raw dataset into ``out`` (replaced atomically) and return its layout.

    ``params`` is the ``download`` section of params.yaml; ``cache_dir`` keeps fetched
    archives between runs, so a re-run does not fetch them again.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    source = params.get("source", "synthetic")
    if source == "synthetic":
        config = SyntheticConfig(**{k: tuple(v) if isinstance(v, list) else v
                                    for k, v in params["synthetic"].items()})
        with atomic_dir(out) as tmp:
            generate(tmp, config)
        layout = find_layout(out)
    elif source == "flickr8k":
        layout = _flickr8k(out, params["flickr8k"], cache_dir)
    else:
        raise ParamsError(f"download.source must be one of {SOURCES}, got {source!r}")
    log.info("%s layout: captions %s, images %s", layout.kind, layout.captions_file, layout.images_dir)
    return layout
