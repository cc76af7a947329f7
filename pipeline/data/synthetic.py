"""The embedded dataset: scenes of coloured shapes, written in Flickr8k's own layout.

The files match what unpacking Flickr8k_Dataset.zip and Flickr8k_text.zip gives, so that
every later stage reads both sources alike, plus ``Flickr8k.scenes.jsonl`` with the scene
behind each image for content scoring. Everything follows from the seed.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipeline.data.layout import IMAGES_DIR, SCENES_FILE, SPLIT_FILES, TEXT_DIR, TOKEN_FILE, ZIP_DIR
from pipeline.data.phrasing import describe
from pipeline.data.render import render
from pipeline.data.scenes import SCENE_TYPES, sample_scene
from pipeline.errors import ParamsError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyntheticConfig:
    """Size and make-up of the embedded dataset (``download.synthetic`` in params.yaml)."""

    num_images: int = 4000
    image_size: int = 96
    seed: int = 8
    splits: tuple[float, float, float] = (0.8, 0.1, 0.1)  # train, dev, test
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        if self.num_images < 10:
            raise ParamsError(f"download.synthetic.num_images must be at least 10, got {self.num_images}")
        if not 32 <= self.image_size <= 512:
            raise ParamsError(f"download.synthetic.image_size must be within 32..512, got {self.image_size}")
        if len(self.splits) != 3 or min(self.splits) <= 0 or abs(sum(self.splits) - 1) > 1e-6:
            raise ParamsError(f"download.synthetic.splits must be three positive fractions summing to 1, "
                             f"got {list(self.splits)}")


def image_name(index: int) -> str:
    """File name of image ``index``, shaped like Flickr's ``<id>_<hex>.jpg``."""
    return f"{3000000000 + index}_{index * 2654435761 % 16**10:010x}.jpg"


def _make_one(args: tuple[int, SyntheticConfig, str]) -> tuple[str, list[str], dict]:
    """Render and save image ``index``; return its name, captions and scene."""
    index, config, images_dir = args
    rng = np.random.default_rng([config.seed, index])
    kind = SCENE_TYPES[index % len(SCENE_TYPES)]
    scene = sample_scene(rng, kind)
    name = image_name(index)
    render(scene, config.image_size, rng).save(Path(images_dir) / name, quality=config.jpeg_quality)
    return name, describe(scene, rng), scene.to_dict()


def assign_splits(num_images: int, config: SyntheticConfig) -> list[str]:
    """Split of each image: seeded, and interleaved by scene type so every split holds every type alike."""
    rng = np.random.default_rng([config.seed, 10**9])
    position = np.empty(num_images)
    for k in range(len(SCENE_TYPES)):
        members = rng.permutation(np.arange(k, num_images, len(SCENE_TYPES)))
        position[members] = (np.arange(len(members)) + 0.5) / len(members)  # evenly spread within the type
    order = np.lexsort((np.arange(num_images) % len(SCENE_TYPES), position))
    train, dev, _ = config.splits
    cut1, cut2 = round(train * num_images), round((train + dev) * num_images)
    splits = [""] * num_images
    for rank, index in enumerate(order):
        splits[index] = "train" if rank < cut1 else "dev" if rank < cut2 else "test"
    return splits


def generate(root: Path, config: SyntheticConfig, workers: int = 2) -> dict[str, int]:
    """Write the dataset under ``root`` (which must be empty or absent); return image counts per split."""
    images_dir = root / ZIP_DIR / IMAGES_DIR
    text_dir = root / TEXT_DIR
    images_dir.mkdir(parents=True, exist_ok=True)
    text_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(i, config, str(images_dir)) for i in range(config.num_images)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        made = list(tqdm(pool.map(_make_one, jobs, chunksize=64), total=len(jobs), desc="synthetic images",
                         unit="img"))
    splits: dict[str, list[str]] = {"train": [], "dev": [], "test": []}
    for (name, _, _), split in zip(made, assign_splits(config.num_images, config)):
        splits[split].append(name)
    with open(text_dir / TOKEN_FILE, "w", encoding="utf-8") as f:
        for name, captions, _ in made:
            f.writelines(f"{name}#{n}\t{caption}\n" for n, caption in enumerate(captions))
    with open(text_dir / SCENES_FILE, "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"image": name, **scene}) + "\n" for name, _, scene in made)
    for split, file_name in SPLIT_FILES.items():
        (text_dir / file_name).write_text("".join(f"{n}\n" for n in splits[split]), encoding="utf-8")
    (text_dir / "readme.txt").write_text(
        "Synthetic stand-in for Flickr8k made by image-to-audio's download stage: "
        f"{config.num_images} images of coloured shapes, five captions each, seed {config.seed}.\n",
        encoding="utf-8")
    counts = {split: len(names) for split, names in splits.items()}
    log.info("wrote %d synthetic images to %s (%s)", config.num_images, root, counts)
    return counts
