"""Cached feature grids: one ``<split>.npz`` per split with image names and float16 grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.files import atomic_path


def save_grids(folder: Path, split: str, names: list[str], grids: np.ndarray) -> None:
    """Write one split's grids (float16 halves the cache; the decoders read them as float32)."""
    with atomic_path(Path(folder) / f"{split}.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, names=np.asarray(names), grids=grids.astype(np.float16))


def load_grids(folder: Path, split: str) -> tuple[list[str], np.ndarray]:
    """Names and float32 grids of one split."""
    with np.load(Path(folder) / f"{split}.npz") as data:
        return data["names"].tolist(), data["grids"].astype(np.float32)
