"""Does a picture look like the training pictures? A check on the captioner's own input square.

The encoder learned only what its training pictures hold, so its features of a real photo can land among
theirs: it cannot tell what it never saw. The check therefore reads the picture itself, through five small
descriptors (a colour histogram, histograms of gradient magnitude at three scales, and how much of the picture
is flat at which saturation), and asks two things, each with a threshold that accepts ``acceptance`` of the
dev split:

- **Nearest neighbour**: how far each descriptor is from the closest training picture's.
- **Discriminator**: a one-hidden-layer network trained to tell training pictures from pictures made to have
  other statistics (1/f noise and "dead leaves" images, whose statistics resemble natural photos', and
  training pictures cut into shuffled tiles); none of the out-of-domain pictures that evaluate reports on.

A picture's ``ratio`` is the largest of these distances, each in units of its threshold, over the combined
threshold: at most 1 is in domain.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.files import atomic_write_bytes

DOMAIN_FILE = "domain.npz"
BLOCKS = ("colour", "gradient", "gradient_2", "gradient_4", "flat")
GRADIENT_EDGES = np.array([0, 1, 2, 4, 8, 16, 32, 64, 128, np.inf])  # grey levels per pixel
SATURATION_EDGES = np.array([0, 0.2, 0.4, 0.6, 0.8, 1.01])
FLAT = 3.0  # a pixel is flat when |dx| + |dy| of its grey level is below this


def descriptors(images: np.ndarray, chunk: int = 256) -> dict[str, np.ndarray]:
    """Each descriptor block [N, d] of uint8 pictures [N, S, S, 3] (square-rooted histograms), ``chunk``
    pictures at a time (the float copies of 6,000 pictures of 224 pixels would take gigabytes)."""
    if len(images) > chunk:
        parts = [descriptors(images[i:i + chunk], chunk) for i in range(0, len(images), chunk)]
        return {block: np.concatenate([part[block] for part in parts]) for block in BLOCKS}
    pixels = np.asarray(images)
    red, green, blue = (pixels[..., c] for c in range(3))
    bins = [np.minimum(channel // 64, 3).astype(np.int64) for channel in (red, green, blue)]  # 4 levels each
    out = {"colour": _histograms(bins[0] * 16 + bins[1] * 4 + bins[2], 64)}
    grey = (red.astype(np.float32) + green + blue) / 3
    for name, factor in (("gradient", 1), ("gradient_2", 2), ("gradient_4", 4)):
        scaled = _downscale(grey, factor)
        magnitude = np.hypot(np.diff(scaled, axis=2)[:, :-1], np.diff(scaled, axis=1)[:, :, :-1])
        out[name] = _histograms(_bin(magnitude, GRADIENT_EDGES[1:-1]), len(GRADIENT_EDGES) - 1)
    flat = (np.abs(np.diff(grey, axis=2))[:, :-1] + np.abs(np.diff(grey, axis=1))[:, :, :-1]) < FLAT
    corner = pixels[:, :-1, :-1]
    top = np.maximum(np.maximum(corner[..., 0], corner[..., 1]), corner[..., 2]).astype(np.float32)
    bottom = np.minimum(np.minimum(corner[..., 0], corner[..., 1]), corner[..., 2])
    level = _bin((top - bottom) / (top + 1), SATURATION_EDGES[1:-1])  # 0..4; not flat: 5
    out["flat"] = _histograms(np.where(flat, level, len(SATURATION_EDGES) - 1), len(SATURATION_EDGES))
    return out


def _bin(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The number of ``edges`` (ascending) at or below each value, as ``np.digitize`` counts them."""
    index = np.zeros(values.shape, np.int8)
    for edge in edges:
        index += values >= edge
    return index


def _histograms(index: np.ndarray, bins: int) -> np.ndarray:
    """Square roots of the shares of each bin [N, bins], from bin indices [N, ...]."""
    n = len(index)
    rows = index.reshape(n, -1) + bins * np.arange(n)[:, None]
    counts = np.bincount(rows.ravel(), minlength=n * bins).reshape(n, bins).astype(np.float64)
    return np.sqrt(counts / counts.sum(1, keepdims=True))


def _downscale(grey: np.ndarray, factor: int) -> np.ndarray:
    """Means of ``factor`` x ``factor`` blocks of grey pictures [N, S, S] (the remainder cut off)."""
    if factor == 1:
        return grey
    s = grey.shape[1] // factor * factor
    total = sum(grey[:, i:s:factor, j:s:factor] for i in range(factor) for j in range(factor))
    return total / factor ** 2


def _nearest(references: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Euclidean distance [Q] from each query to its nearest reference."""
    squared = (queries ** 2).sum(1)[:, None] - 2 * queries @ references.T + (references ** 2).sum(1)[None]
    return np.sqrt(np.maximum(squared.min(1), 0))


@dataclass
class DomainCheck:
    """The fitted check: training descriptors, per-block thresholds, the discriminator, the combined threshold."""

    references: dict[str, np.ndarray]   # block -> [N, d] descriptors of the training split
    thresholds: dict[str, float]        # block -> nearest-neighbour distance accepting ``acceptance`` of dev
    network: dict[str, np.ndarray]      # mean, scale, w1, b1, w2, b2 (standardise, ReLU layer, logit)
    network_threshold: float            # -log P(training picture) accepting ``acceptance`` of dev
    threshold: float                    # the largest combined ratio still in domain

    def ratios(self, images: np.ndarray) -> np.ndarray:
        """Each picture's distance from the training pictures in units of the threshold [N] (<= 1: in domain)."""
        return self._parts(descriptors(images)) / self.threshold

    def _parts(self, blocks: dict[str, np.ndarray]) -> np.ndarray:
        parts = [_nearest(self.references[b], blocks[b]) / self.thresholds[b] for b in BLOCKS]
        parts.append(self._surprise(blocks) / self.network_threshold)
        return np.max(parts, axis=0)

    def _surprise(self, blocks: dict[str, np.ndarray]) -> np.ndarray:
        """-log P(training picture) by the discriminator."""
        net = self.network
        x = (np.concatenate([blocks[b] for b in BLOCKS], 1) - net["mean"]) / net["scale"]
        logit = np.maximum(x @ net["w1"] + net["b1"], 0) @ net["w2"] + net["b2"]
        return np.logaddexp(0, -logit.ravel())

    @classmethod
    def fit(cls, train: np.ndarray, dev: np.ndarray, acceptance: float, seed: int = 0) -> "DomainCheck":
        """Fit on uint8 training pictures and set the thresholds on the dev pictures (both [N, S, S, 3])."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        reference, held = descriptors(train), descriptors(dev)
        thresholds = {b: float(np.quantile(_nearest(reference[b], held[b]), acceptance)) for b in BLOCKS}
        made = descriptors(made_pictures(train, len(train), seed))
        x = np.concatenate([np.concatenate([d[b] for b in BLOCKS], 1) for d in (reference, made)])
        mean, scale = x.mean(0), x.std(0) + 1e-6
        labels = np.r_[np.ones(len(train)), np.zeros(len(train))]
        mlp = MLPClassifier((64,), batch_size=min(1024, len(x)), max_iter=200,  # 200 epochs: its budget
                            random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit((x - mean) / scale, labels)
        network = {"mean": mean, "scale": scale, "w1": mlp.coefs_[0], "b1": mlp.intercepts_[0],
                   "w2": mlp.coefs_[1], "b2": mlp.intercepts_[1]}
        check = cls(reference, thresholds, network, 1.0, 1.0)
        check.network_threshold = float(np.quantile(check._surprise(held), acceptance))
        check.threshold = float(np.quantile(check._parts(held), acceptance))
        return check

    def save(self, folder: Path) -> None:
        """Write ``domain.npz`` into ``folder``."""
        arrays = {f"reference_{b}": self.references[b] for b in BLOCKS}
        arrays.update({f"network_{k}": v for k, v in self.network.items()})
        arrays["thresholds"] = np.array([self.thresholds[b] for b in BLOCKS])
        arrays["network_threshold"], arrays["threshold"] = np.array(self.network_threshold), np.array(self.threshold)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        atomic_write_bytes(Path(folder) / DOMAIN_FILE, buffer.getvalue())

    @classmethod
    def load(cls, folder: Path) -> "DomainCheck":
        """Read the ``domain.npz`` that ``save`` wrote."""
        with np.load(Path(folder) / DOMAIN_FILE) as data:
            return cls({b: data[f"reference_{b}"] for b in BLOCKS}, dict(zip(BLOCKS, data["thresholds"].tolist())),
                       {k: data[f"network_{k}"] for k in ("mean", "scale", "w1", "b1", "w2", "b2")},
                       float(data["network_threshold"]), float(data["threshold"]))


def made_pictures(train: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` pictures [count, S, S, 3] with other statistics than ``train``: a third each of 1/f noise,
    dead leaves and training pictures cut into 4 x 4 shuffled tiles."""
    rng = np.random.default_rng(seed)
    size = train.shape[1]
    makers = (lambda: _one_over_f(rng, size), lambda: _dead_leaves(rng, size),
              lambda: _shuffled(rng, train[rng.integers(len(train))]))
    return np.stack([makers[i % 3]() for i in range(count)])


def _one_over_f(rng: np.random.Generator, size: int) -> np.ndarray:
    frequency = np.hypot(*np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size)))
    frequency[0, 0] = 1.0
    amplitude = frequency ** -rng.uniform(0.8, 2.0)
    phases = np.exp(2j * np.pi * rng.random((3, size, size)))
    image = np.real(np.fft.ifft2(phases * amplitude)).transpose(1, 2, 0) @ (np.eye(3) + rng.normal(0, 0.3, (3, 3)))
    image = (image - image.min()) / (np.ptp(image) + 1e-9)
    return (image * 255).astype(np.uint8)


def _dead_leaves(rng: np.random.Generator, size: int, discs: int = 150) -> np.ndarray:
    """Opaque discs of power-law radii, each over the ones drawn after it (the front one first)."""
    base = rng.uniform(0, 255, 3)
    image, covered = np.tile(base, (size, size, 1)), np.zeros((size, size), bool)
    for _ in range(discs):
        radius, (y, x) = (rng.pareto(2.0) + 1) * rng.uniform(1, 4), rng.uniform(0, size, 2)
        colour = np.clip(base + rng.normal(0, 60, 3), 0, 255)  # drawn for every disc, seen or not
        # the disc's bounding box (pixels, a pixel wider than the disc), the only place it can cover
        top, bottom = max(0, math.floor(y - radius)), min(size, math.ceil(y + radius) + 1)
        left, right = max(0, math.floor(x - radius)), min(size, math.ceil(x + radius) + 1)
        rows, columns = np.arange(top, bottom)[:, None], np.arange(left, right)[None, :]
        box = (slice(top, bottom), slice(left, right))
        disc = ((rows - y) ** 2 + (columns - x) ** 2 <= radius ** 2) & ~covered[box]
        image[box][disc] = colour
        covered[box] |= disc
    image += rng.normal(0, rng.uniform(0, 10), image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _shuffled(rng: np.random.Generator, picture: np.ndarray, tiles: int = 4) -> np.ndarray:
    side = picture.shape[0] // tiles
    parts = [picture[i * side:(i + 1) * side, j * side:(j + 1) * side] for i in range(tiles) for j in range(tiles)]
    order = rng.permutation(len(parts))
    rows = [np.concatenate([parts[k] for k in order[r * tiles:(r + 1) * tiles]], 1) for r in range(tiles)]
    out = np.zeros_like(picture)
    out[:side * tiles, :side * tiles] = np.concatenate(rows, 0)
    return out
