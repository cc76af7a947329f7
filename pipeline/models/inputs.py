"""Training inputs: captions grouped by image, and tf.data pipelines over images or cached grids."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from pipeline.data.preprocess import CAPTIONS_FILE, DATASET_FILE, VOCABULARY_FILE
from pipeline.data.vocabulary import Tokenizer, Vocabulary
from pipeline.errors import ParamsError

CAPTIONS_PER_IMAGE = 5


@dataclass
class Split:
    """One split: image names and paths, caption ids [N, 5, L], and the reference texts."""

    names: list[str]
    paths: list[str]
    captions: np.ndarray
    texts: list[list[str]]


def load_tokenizer(processed: Path) -> Tokenizer:
    """The tokenizer of the preprocessed vocabulary."""
    return Tokenizer(Vocabulary.load(Path(processed) / VOCABULARY_FILE))


def load_splits(processed: Path, tokenizer: Tokenizer) -> dict[str, Split]:
    """The caption table grouped by image, one ``Split`` per split; short caption lists are repeated to 5."""
    processed = Path(processed)
    images_dir = Path(json.loads((processed / DATASET_FILE).read_text())["images_dir"])
    table = pd.read_csv(processed / CAPTIONS_FILE, keep_default_na=False)
    splits = {}
    for split, group in table.groupby("split", sort=False):
        names, caps, texts = [], [], []
        for name, rows in group.groupby("image", sort=True):
            cs = rows["caption"].tolist()[:CAPTIONS_PER_IMAGE]
            cs = (cs * CAPTIONS_PER_IMAGE)[:CAPTIONS_PER_IMAGE]
            names.append(name)
            texts.append(rows["caption"].tolist())
            caps.append([tokenizer.encode(c) for c in cs])
        splits[split] = Split(names, [str(images_dir / n) for n in names], np.asarray(caps, np.int32), texts)
    return splits


def decode_image(data: tf.Tensor, image_size: int) -> tf.Tensor:
    """Encoded image bytes (JPEG, PNG, GIF, BMP) to a uint8 RGB square of ``image_size`` (antialiased)."""
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image = tf.image.resize(image, (image_size, image_size), antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)


def image_dataset(paths: list[str], image_size: int, batch_size: int, extra: tuple = (), shuffle: bool = False,
                  seed: int = 0, augment=None) -> tf.data.Dataset:
    """Parallel read, decode and resize, cached, optionally shuffled and augmented, batched, prefetched."""
    ds = tf.data.Dataset.from_tensor_slices((paths, *extra))
    ds = ds.map(lambda p, *rest: (decode_image(tf.io.read_file(p), image_size), *rest),
                num_parallel_calls=tf.data.AUTOTUNE).cache()
    if shuffle:
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    if augment is not None:
        ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def steady(ds: tf.data.Dataset) -> tf.data.Dataset:
    """``ds`` without tf.data's autotuning thread (AUTOTUNE then means one call per core), for training.

    On 2 cores, ending an epoch's iterator waited for that thread: one epoch in three took 8 to 19 s longer.
    Extraction keeps it: one pass, with no epoch end to wait at.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def augmenter(tokenizer: Tokenizer, seed: int = 0, flip: bool = False, crop: float = 0.0, jitter: float = 0.0):
    """Training-only changes to an (image, captions) pair that keep the captions true; None when all are off.

    ``flip``: mirror half the images left-right and swap ``left`` and ``right`` in their captions.
    ``crop``: keep a random square of at least ``1 - crop`` of the side and resize it back, so things
    move and grow a little (up to 0.2 keeps the embedded data's small and large sizes apart).
    ``jitter``: scale brightness, contrast and saturation each by a random factor in ``[1 - jitter, 1 + jitter]``;
    the hue never changes, because the captions name colours.
    """
    if not 0 <= crop < 0.5 or not 0 <= jitter < 1:
        raise ParamsError(f"augment: crop must be in [0, 0.5) and jitter in [0, 1), not {crop!r} and {jitter!r}")
    if not (flip or crop or jitter):
        return None
    table = np.arange(tokenizer.size, dtype=np.int32)
    if "left" in tokenizer.index and "right" in tokenizer.index:
        left, right = tokenizer.index["left"], tokenizer.index["right"]
        table[left], table[right] = right, left
    table = tf.constant(table)

    def uniform(low: float, high: float, op: int) -> tf.Tensor:  # one op seed per draw: equal seeds would agree
        return tf.random.uniform([], low, high, seed=seed + op)

    def augment(image, captions):
        size = image.shape[0]
        if flip:
            mirrored = uniform(0, 1, 0) < 0.5
            image = tf.cond(mirrored, lambda: tf.image.flip_left_right(image), lambda: image)
            captions = tf.cond(mirrored, lambda: tf.gather(table, captions), lambda: captions)
        if crop:
            side = tf.cast(tf.round(size * uniform(1 - crop, 1, 1)), tf.int32)
            y, x = [tf.cast(uniform(0, 1, 2 + i) * tf.cast(size - side + 1, tf.float32), tf.int32) for i in (0, 1)]
            patch = tf.image.resize(image[y:y + side, x:x + side], (size, size), antialias=True)
            image = tf.cast(tf.clip_by_value(tf.round(patch), 0, 255), tf.uint8)
        if jitter:
            pixels = tf.cast(image, tf.float32) / 255.0 * uniform(1 - jitter, 1 + jitter, 4)  # brightness
            pixels = tf.image.adjust_contrast(pixels, uniform(1 - jitter, 1 + jitter, 5))
            pixels = tf.image.adjust_saturation(tf.clip_by_value(pixels, 0, 1), uniform(1 - jitter, 1 + jitter, 6))
            image = tf.cast(tf.round(tf.clip_by_value(pixels, 0, 1) * 255), tf.uint8)
        return image, captions

    return augment


def consistent_words(captions: np.ndarray, vocab_size: int, exclude: tuple[int, ...] = (), agreement: float = 0.6,
                     min_images: int = 10) -> np.ndarray:
    """Ids of the words annotators agree on: when one caption of an image uses the word, most do.

    Content words ("red", "dog") pass; style and filler words ("picture", "backdrop") do not, so a
    target built from these says what is in the picture, not how someone phrased it.
    """
    present = np.zeros((captions.shape[0], vocab_size), np.int32)
    for k in range(captions.shape[1]):
        hit = np.zeros_like(present, dtype=bool)
        np.put_along_axis(hit, captions[:, k], True, axis=1)
        present += hit
    used = present > 0
    share = np.where(used, present / captions.shape[1], 0).sum(0) / np.maximum(used.sum(0), 1)
    keep = (share >= agreement) & (used.sum(0) >= min_images)
    keep[[0, 1, *exclude]] = False  # padding, [UNK], and e.g. the start and end tokens
    return np.flatnonzero(keep).astype(np.int32)


def content_targets(captions: tf.Tensor, words: np.ndarray, vocab_size: int) -> tf.Tensor:
    """[B, C, L] caption ids -> [B, len(words)]: 1 where most of an image's captions use the word."""
    hot = tf.reduce_max(tf.one_hot(captions, vocab_size), axis=2)
    return tf.cast(tf.gather(tf.reduce_mean(hot, axis=1), words, axis=1) >= 0.5, tf.float32)


def caption_dataset(grids: np.ndarray, captions: np.ndarray, batch: int, shuffle: bool, seed: int,
                    per_image: int = 0, grouped: bool = False) -> tf.data.Dataset:
    """((grids, caption prefixes [batch, L-1]), caption suffixes [batch, L-1]), k captions of each image.

    ``grouped``: batches of ``batch // k`` images, each grid once with its k captions in a row, so a decoder
    encodes each grid once (``per_caption`` repeats it); else captions shuffled one by one, each with its grid.
    With ``per_image`` k (0 < k < captions per image), each pass draws k of an image's captions afresh:
    an epoch costs k/5 of a full one and, over epochs, still sees every phrasing. 0: all of them.
    """
    table, texts = tf.constant(grids, tf.float32), tf.constant(captions)
    n, c, length = captions.shape
    k = per_image if 0 < per_image < c else c
    ds = tf.data.Dataset.range(n)
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)

    def pick(i):
        rows = texts[i] if k == c else tf.gather(texts[i], tf.random.shuffle(tf.range(c), seed=seed)[:k])
        return tf.cast(i, tf.int32), rows

    def split(i, rows):
        rows = tf.reshape(rows, [-1, length])
        return (tf.gather(table, i), rows[:, :-1]), rows[:, 1:]

    ds = ds.map(pick)
    if grouped:
        ds = ds.batch(max(1, batch // k))
    else:
        ds = ds.map(lambda i, rows: (tf.fill([k], i), rows)).unbatch()
        if shuffle:
            ds = ds.shuffle(n * k, seed=seed + 1, reshuffle_each_iteration=True)
        ds = ds.batch(batch)
    return ds.map(split).prefetch(tf.data.AUTOTUNE)
