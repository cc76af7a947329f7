"""The inference bundle: encoder, decoder and vocabulary behind one compiled function.

``Captioner.save``/``load`` use a folder (``encoder.keras``, ``decoder.keras``, ``vocabulary.json``,
``decoding.json`` and, once fitted, ``judge.json``). Captioning runs the encoder and the whole decode loop as a
single ``tf.function`` with a fixed input signature, so it is traced once and never per request. It captions
each picture and its mirror image in one batch and returns the token ids, the scores and the mirrored
pictures' token ids, which the ``Judge`` reads.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

import pipeline.models.encoder  # noqa: F401
from pipeline.data.vocabulary import Tokenizer, Vocabulary
from pipeline.files import atomic_write_text
from pipeline.images import to_rgb, upright
from pipeline.models.decoders import fastest_steps
from pipeline.models.decoding import search
from pipeline.models.encoder import image_size_of
from pipeline.models.honesty import JUDGE_FILE, Description, Judge
from pipeline.names import DECODER_FILE, ENCODER_FILE

Image.MAX_IMAGE_PIXELS = 50_000_000  # larger is refused as a decompression bomb


@dataclass(frozen=True)
class Raw:
    """What the compiled function returns for a batch: token ids [B, L], scores [B, 2] (the mean and the least
    log-probability of a word, ``pipeline.models.decoding``), the mirrored pictures' token ids [B, L]."""

    ids: np.ndarray
    scores: np.ndarray
    mirrored: np.ndarray


@dataclass(frozen=True)
class Decoding:
    """How captions are searched: greedy (``beam_width`` 1) or beam search."""

    beam_width: int = 1
    length_penalty: float = 0.7

    @classmethod
    def from_params(cls, evaluate: Mapping[str, Any]) -> "Decoding":
        """The decoding that params.yaml's ``evaluate`` section sets (what evaluate scores and the models serve)."""
        return cls(int(evaluate["beam_width"]), float(evaluate["length_penalty"]))


class ImageCaptioner:
    """What every captioner shares: any image to the encoder's uint8 square, then ``run_arrays``, then words
    and the judge's assessment.

    A subclass sets ``image_size``, ``precision``, ``tokenizer``, ``decoding`` and ``judge`` and implements
    ``run_arrays``.
    """

    image_size: int
    precision: str
    tokenizer: Tokenizer
    decoding: Decoding
    judge: Judge | None

    def run_arrays(self, images: np.ndarray) -> Raw:
        """The compiled function on uint8 images already at the encoder's size, [B, S, S, 3]."""
        raise NotImplementedError

    def caption_arrays(self, images: np.ndarray) -> list[str]:
        """Captions of uint8 images already at the encoder's size, [B, S, S, 3]."""
        return [self.tokenizer.decode(row) for row in self.run_arrays(images).ids]

    def describe_arrays(self, images: np.ndarray) -> list[Description]:
        """Captions of prepared images with whether each picture is in domain and the caption's confidence."""
        raw = self.run_arrays(images)
        captions = [self.tokenizer.decode(row) for row in raw.ids]
        if self.judge is None:
            return [Description(caption, False, 0.0, False) for caption in captions]
        mirrored = [self.tokenizer.decode(row) for row in raw.mirrored]
        return self.judge.describe(captions, mirrored, raw.scores, np.asarray(images))

    def save_settings(self, folder: Path) -> None:
        """Write ``vocabulary.json``, ``decoding.json`` and the judge, which every bundle holds, into ``folder``."""
        self.tokenizer.vocabulary.save(folder / "vocabulary.json")
        atomic_write_text(folder / "decoding.json", json.dumps(asdict(self.decoding)))
        if self.judge is not None:
            self.judge.save(folder)

    @staticmethod
    def load_settings(folder: Path) -> tuple[Vocabulary, Decoding, Judge | None]:
        """The vocabulary, decoding settings and judge (None if not fitted) that ``save_settings`` wrote."""
        decoding = Decoding(**json.loads((folder / "decoding.json").read_text()))
        judge = Judge.load(folder) if (folder / JUDGE_FILE).is_file() else None
        return Vocabulary.load(folder / "vocabulary.json"), decoding, judge

    def prepare(self, image: Image.Image) -> np.ndarray:
        """Any PIL image to the encoder's uint8 square, resized as in training (antialiased)."""
        return _square(np.asarray(to_rgb(upright(image))), self.image_size).numpy()

    def caption_images(self, images: list[Image.Image]) -> list[str]:
        """Captions of PIL images of any size and mode."""
        return [d.caption for d in self.describe_images(images)]

    def describe_images(self, images: list[Image.Image]) -> list[Description]:
        """Descriptions of PIL images of any size and mode."""
        if not images:
            return []
        return self.describe_arrays(np.stack([self.prepare(image) for image in images]))

    def describe_bytes(self, blobs: list[bytes]) -> list[Description]:
        """Descriptions of encoded images (JPEG, PNG, GIF, BMP, WebP, ...)."""
        images = []
        for blob in blobs:
            with Image.open(io.BytesIO(blob)) as image:
                image.seek(0)  # the first frame of an animation
                images.append(to_rgb(upright(image)))
        return self.describe_images(images)


@tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.uint8), tf.TensorSpec([], tf.int32)])
def _square(array: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
    """An RGB array [H, W, 3] resized to [size, size, 3] (antialiased) and rounded to uint8: one compiled call,
    half the Python time of the same ops run eagerly."""
    resized = tf.image.resize(array, tf.stack([size, size]), antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)


class Captioner(ImageCaptioner):
    """Captions images with a trained encoder and decoder; safe to share between threads."""

    precision = "float32"

    def __init__(self, encoder: keras.Model, decoder: keras.Model, vocabulary: Vocabulary,
                 decoding: Decoding = Decoding(), judge: Judge | None = None, incremental: bool = True) -> None:
        """``incremental``: a Transformer decodes one position a step (``decoders.Incremental``); False
        recomputes the prefix at every step, as in training (slower; the same captions)."""
        self.encoder, self.decoder, self.decoding, self.judge = encoder, decoder, decoding, judge
        self.tokenizer = Tokenizer(vocabulary)
        self.image_size = image_size_of(encoder)
        layer = decoder.layers[-1]  # the decoder layer inside its functional wrapper
        length, start, end = vocabulary.sequence_length, self.tokenizer.start_id, self.tokenizer.end_id
        spec = tf.TensorSpec([None, self.image_size, self.image_size, 3], tf.uint8)

        steps = fastest_steps(layer) if incremental else layer

        def caption_ids(images):
            batch = tf.shape(images)[0]
            grid = encoder(tf.concat([images, tf.reverse(images, axis=[2])], 0), training=False)
            ids, scores = search(steps, grid, length, start, end, decoding.beam_width, decoding.length_penalty)
            return ids[:batch], scores[:batch], ids[batch:]

        self._compiled = tf.function(caption_ids, input_signature=[spec])
        self._lock = threading.Lock()
        self._warm = False

    def warm_up(self) -> None:
        """Trace the compiled function now, so the first real request is not slower than the rest."""
        with self._lock:
            if not self._warm:
                self._compiled(tf.zeros([1, self.image_size, self.image_size, 3], tf.uint8))
                self._warm = True

    def concrete_function(self) -> tf.types.experimental.ConcreteFunction:
        """The compiled function traced for its input signature (what ``lite.convert`` exports)."""
        return self._compiled.get_concrete_function()

    def run_arrays(self, images: np.ndarray) -> Raw:
        """The compiled function on uint8 images already at the encoder's size, [B, S, S, 3]."""
        self.warm_up()
        ids, scores, mirrored = self._compiled(tf.convert_to_tensor(images, tf.uint8))
        return Raw(ids.numpy(), scores.numpy(), mirrored.numpy())

    def save(self, folder: Path) -> None:
        """Write the bundle into ``folder`` (created)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.encoder.save(folder / ENCODER_FILE)
        self.decoder.save(folder / DECODER_FILE)
        self.save_settings(folder)

    @classmethod
    def load(cls, folder: Path) -> "Captioner":
        """Read a bundle that ``save`` wrote."""
        folder = Path(folder)
        encoder = keras.models.load_model(folder / ENCODER_FILE, compile=False)
        decoder = keras.models.load_model(folder / DECODER_FILE, compile=False)
        return cls(encoder, decoder, *cls.load_settings(folder))


def load_trained(encoder: Path, decoder: Path, processed: Path, evaluate: Mapping[str, Any],
                 judge: Judge | None = None) -> Captioner:
    """The captioner the pipeline's outputs make: the featurize stage's encoder folder, a train stage's decoder
    folder, the preprocessed vocabulary, and the decoding that params.yaml's ``evaluate`` section sets."""
    from pipeline.data.preprocess import VOCABULARY_FILE

    return Captioner(keras.models.load_model(Path(encoder) / ENCODER_FILE, compile=False),
                     keras.models.load_model(Path(decoder) / DECODER_FILE, compile=False),
                     Vocabulary.load(Path(processed) / VOCABULARY_FILE), Decoding.from_params(evaluate), judge)
