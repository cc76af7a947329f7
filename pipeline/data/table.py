"""One caption table from either layout: images checked, splits assigned, quirks counted."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from pipeline.data.captions import read_captions
from pipeline.data.layout import IMAGE_SUFFIXES, Layout
from pipeline.data.skips import Skips

log = logging.getLogger(__name__)
SPLITS = ("train", "dev", "test")


def image_decodes(path: Path) -> str | None:
    """None when the image decodes fully, else why not."""
    try:
        with Image.open(path) as img:
            img.load()
        return None
    except Exception as error:  # PIL raises many types for bad files  # noqa: BLE001
        return f"{type(error).__name__}: {error}"


def _check_images(images_dir: Path, names: list[str], workers: int = 4) -> dict[str, str | None]:
    """Decode every image (threads: PIL releases the GIL while decoding) with a progress bar."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(tqdm(pool.map(lambda n: image_decodes(images_dir / n), names), total=len(names),
                             desc="checking images", unit="img", mininterval=1))
    return dict(zip(names, outcomes))


def _official_splits(layout: Layout, present: set[str], skips: Skips) -> dict[str, str]:
    """Image -> split from the published lists; entries naming no image are counted."""
    split_of: dict[str, str] = {}
    for split in SPLITS:
        path = layout.split_files[split]
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            name = line.strip()
            if not name:
                continue
            if name not in present:
                skips.add("split_entry_without_image", f"{path.name}: {name}")
            elif name in split_of:
                skips.add("image_in_several_splits", f"{name}: {split_of[name]} and {split}")
            else:
                split_of[name] = split
    return split_of


def seeded_splits(names: list[str], fractions: tuple[float, float, float], seed: int) -> dict[str, str]:
    """Image -> split by a seeded shuffle of the sorted names."""
    order = np.random.default_rng(seed).permutation(sorted(names))
    cut1, cut2 = round(fractions[0] * len(order)), round((fractions[0] + fractions[1]) * len(order))
    return {str(n): "train" if i < cut1 else "dev" if i < cut2 else "test" for i, n in enumerate(order)}


def build_table(layout: Layout, fractions: tuple[float, float, float], seed: int,
                skips: Skips) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The caption table (``image``, ``caption``, ``split``) and a per-image table for validation."""
    table = read_captions(layout, skips)
    files = {p.name for p in layout.images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    missing = ~table["image"].isin(files)
    for row in table[missing].itertuples():
        skips.add("caption_without_image", f"{row.image}: {row.raw_caption!r}")
    table = table[~missing]
    for name in sorted(files - set(table["image"])):
        skips.add("image_without_caption", name)

    decoded = _check_images(layout.images_dir, sorted(table["image"].unique()))
    for name, why in decoded.items():
        if why:
            skips.add("image_undecodable", f"{name}: {why}")
    table = table[table["image"].map(lambda n: decoded[n] is None)]

    good = set(table["image"])
    use_lists = all(s in layout.split_files for s in SPLITS)
    split_of = _official_splits(layout, files, skips) if use_lists else seeded_splits(sorted(good), fractions, seed)
    log.info("splits from %s", "the published lists" if use_lists else f"a shuffle with seed {seed}")
    table = table.assign(split=table["image"].map(split_of))
    for name in sorted(good - set(split_of)):
        skips.add("image_in_no_split", name)
    table = table[table["split"].notna()]

    duplicate = table.duplicated(["image", "caption"])
    for row in table[duplicate].itertuples():
        skips.add("duplicate_caption", f"{row.image}: {row.caption!r}")
    table = table[~duplicate].sort_values(["image"], kind="stable").reset_index(drop=True)

    images = table.groupby("image", sort=True).agg(split=("split", "first"), captions=("caption", "size")).reset_index()
    images["exists"] = images["image"].map(lambda n: (layout.images_dir / n).is_file())
    images["decodes"] = images["image"].map(lambda n: decoded[n] is None)
    return table[["image", "caption", "split"]], images
