"""Where Flickr8k's files are, in either layout people get it in.

The official archives unpack to ``Flicker8k_Dataset/`` (sic) plus text files at the top
level (``Flickr8k.token.txt``, three split lists); the Kaggle copy has ``Images/`` and a
``captions.txt`` CSV. ``find_layout`` recognises either anywhere below a folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import UserError

ZIP_DIR = "Flickr8k_Dataset"  # where Flickr8k_Dataset.zip is unpacked
IMAGES_DIR = "Flicker8k_Dataset"  # the folder inside it, misspelled as published
TEXT_DIR = "Flickr8k_text"  # where Flickr8k_text.zip is unpacked
TOKEN_FILE = "Flickr8k.token.txt"
SCENES_FILE = "Flickr8k.scenes.jsonl"  # only in the embedded dataset
SPLIT_FILES = {"train": "Flickr_8k.trainImages.txt", "dev": "Flickr_8k.devImages.txt",
               "test": "Flickr_8k.testImages.txt"}
KAGGLE_CAPTIONS = "captions.txt"
KAGGLE_IMAGES = "Images"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_SKIP_DIRS = ("__MACOSX",)


class LayoutError(UserError, ValueError):
    """The folder does not hold Flickr8k in a layout we know."""


@dataclass(frozen=True)
class Layout:
    """The files of one Flickr8k copy."""

    kind: str  # "official" or "kaggle"
    captions_file: Path
    images_dir: Path
    split_files: dict[str, Path] = field(default_factory=dict)
    scenes_file: Path | None = None


def _walk(root: Path) -> dict[str, list[Path]]:
    """Every file name below ``root`` with the folders holding it (resource forks and hidden folders skipped)."""
    found: dict[str, list[Path]] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        for name in files:
            found.setdefault(name, []).append(Path(folder))
    return found


def _images_dir(root: Path, preferred: tuple[str, ...]) -> Path:
    """The folder with the images: one of the known names, else the folder holding the most images."""
    counts: dict[Path, int] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS]
        n = sum(f.lower().endswith(IMAGE_SUFFIXES) for f in files)
        if n:
            counts[Path(folder)] = n
    if not counts:
        raise LayoutError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) found below {root}")
    named = [p for p in counts if p.name in preferred]
    return max(named or counts, key=lambda p: counts[p])


def find_layout(root: Path) -> Layout:
    """Recognise the official or the Kaggle layout below ``root``."""
    files = _walk(root)
    if TOKEN_FILE in files:
        text_dir = files[TOKEN_FILE][0]
        splits = {s: text_dir / n for s, n in SPLIT_FILES.items() if (text_dir / n).is_file()}
        scenes = text_dir / SCENES_FILE
        return Layout("official", text_dir / TOKEN_FILE, _images_dir(root, (IMAGES_DIR, ZIP_DIR)), splits,
                      scenes if scenes.is_file() else None)
    if KAGGLE_CAPTIONS in files:
        return Layout("kaggle", files[KAGGLE_CAPTIONS][0] / KAGGLE_CAPTIONS, _images_dir(root, (KAGGLE_IMAGES,)))
    raise LayoutError(
        f"{root} holds neither Flickr8k layout: expected {TOKEN_FILE} with {IMAGES_DIR}/ (official archives) "
        f"or {KAGGLE_CAPTIONS} with {KAGGLE_IMAGES}/ (Kaggle copy); found {len(files)} files")
