"""The float16 export of a captioner: its whole compiled function as TFLite, weights stored in float16.

``convert`` turns a ``Captioner``'s compiled function (encoder and the greedy or beam search, one
``tf.while_loop``) into a TFLite flatbuffer with float16 weights. TFLite's builtin ops cover all of it
(no Select TF ops), with a dynamic batch. On a CPU the runtime turns the weights back into float32 when
it loads them, so float16 halves the file, not the arithmetic; the rounded weights change a caption now
and then (1 to 2 in 100 on the embedded test split). ``LiteCaptioner`` runs the flatbuffer with
TensorFlow's own ``tf.lite.Interpreter``, behind the same methods and image preparation as ``Captioner``.
A bundle folder holds ``captioner.tflite``, ``vocabulary.json`` and ``decoding.json``.
"""

from __future__ import annotations

import logging
import queue
import time
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from pipeline.data.vocabulary import Tokenizer, Vocabulary
from pipeline.files import atomic_write_bytes
from pipeline.models.captioner import Captioner, Decoding, ImageCaptioner, Raw
from pipeline.models.honesty import Judge

log = logging.getLogger(__name__)
FLATBUFFER = "captioner.tflite"
# TF 2.21 still ships tf.lite.Interpreter and it runs these files; when it goes, ai_edge_litert.interpreter's
# Interpreter (pip install ai-edge-litert) is its drop-in replacement. Until then its warning says nothing new.
warnings.filterwarnings("ignore", message=r"\s*Warning: tf.lite.Interpreter is deprecated", category=UserWarning)


def convert(captioner: Captioner) -> bytes:
    """The captioner's compiled function as a TFLite flatbuffer with float16 weights (builtin ops only)."""
    converter = tf.lite.TFLiteConverter.from_concrete_functions([captioner.concrete_function()], captioner)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # fail rather than need Flex ops
    return converter.convert()


class _Runner:
    """One interpreter, resized to the batch it last ran; used by one thread at a time."""

    def __init__(self, flatbuffer: bytes) -> None:
        # One thread each: the ops are small, and a second thread made one image 1.6x slower here.
        self.interpreter = tf.lite.Interpreter(model_content=flatbuffer, num_threads=1)
        self.input = self.interpreter.get_input_details()[0]
        self.outputs = _output_indices(self.interpreter.get_output_details())
        self.shape: tuple[int, ...] | None = None

    def run(self, images: np.ndarray) -> Raw:
        if images.shape != self.shape:
            self.interpreter.resize_tensor_input(self.input["index"], images.shape, strict=True)
            self.interpreter.allocate_tensors()
            self.shape = images.shape
        self.interpreter.set_tensor(self.input["index"], images)
        self.interpreter.invoke()
        return Raw(*(self.interpreter.get_tensor(index).copy() for index in self.outputs))


def _output_indices(details: list[dict]) -> list[int]:
    """The flatbuffer's outputs in ``Raw``'s order: token ids, scores, the mirrored pictures' token ids.

    The converter names them ``Identity``, ``Identity_1``, ``Identity_2`` in the function's order.
    """
    return [d["index"] for d in sorted(details, key=lambda d: (len(d["name"]), d["name"]))]


class LiteCaptioner(ImageCaptioner):
    """Captions images with the float16 flatbuffer; safe to share between threads (an interpreter each)."""

    precision = "float16"

    def __init__(self, flatbuffer: bytes, vocabulary: Vocabulary, decoding: Decoding = Decoding(),
                 judge: Judge | None = None) -> None:
        self.flatbuffer, self.decoding, self.judge = flatbuffer, decoding, judge
        self.tokenizer = Tokenizer(vocabulary)
        first = _Runner(flatbuffer)
        self.image_size = int(first.input["shape_signature"][1])
        self._idle: queue.SimpleQueue[_Runner] = queue.SimpleQueue()  # grows to the most callers at once
        self._idle.put(first)

    @classmethod
    def from_captioner(cls, captioner: Captioner) -> "LiteCaptioner":
        """Convert ``captioner`` (see ``convert``)."""
        return cls(convert(captioner), captioner.tokenizer.vocabulary, captioner.decoding, captioner.judge)

    def warm_up(self) -> None:
        """Allocate for one image now, so the first real request is not slower than the rest."""
        self.caption_arrays(np.zeros([1, self.image_size, self.image_size, 3], np.uint8))

    def run_arrays(self, images: np.ndarray) -> Raw:
        """The flatbuffer on uint8 images already at the encoder's size, [B, S, S, 3]."""
        try:
            runner = self._idle.get_nowait()
        except queue.Empty:
            runner = _Runner(self.flatbuffer)
        try:
            return runner.run(np.ascontiguousarray(images, np.uint8))
        finally:
            self._idle.put(runner)

    def save(self, folder: Path) -> None:
        """Write the bundle into ``folder`` (created)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / FLATBUFFER, self.flatbuffer)
        self.save_settings(folder)

    @classmethod
    def load(cls, folder: Path) -> "LiteCaptioner":
        """Read a bundle that ``save`` wrote."""
        folder = Path(folder)
        return cls((folder / FLATBUFFER).read_bytes(), *cls.load_settings(folder))


def size_mb(folder: Path) -> float:
    """Megabytes (10**6 bytes) of the files in a saved bundle."""
    return sum(path.stat().st_size for path in Path(folder).iterdir() if path.is_file()) / 1e6


def load_images(captioner: ImageCaptioner, paths: list[str]) -> np.ndarray:
    """Image files prepared as the service prepares an upload, [N, S, S, 3] uint8."""
    arrays = []
    for path in paths:
        with Image.open(path) as image:
            arrays.append(captioner.prepare(image))
    return np.stack(arrays)


def captions_of(captioner: ImageCaptioner, images: np.ndarray, batch_size: int = 100) -> list[str]:
    """Captions of prepared images, a batch at a time."""
    return [c for i in range(0, len(images), batch_size) for c in captioner.caption_arrays(images[i:i + batch_size])]


def agreement(ours: list[str], theirs: list[str]) -> float:
    """The share of captions that are identical."""
    if len(ours) != len(theirs) or not ours:
        raise ValueError(f"cannot compare {len(ours)} captions with {len(theirs)}")
    return sum(a == b for a, b in zip(ours, theirs)) / len(ours)


def export(captioner: Captioner, bundle: Path, folder: Path, images: np.ndarray) -> dict[str, float]:
    """Convert ``captioner`` (saved in ``bundle``) into ``folder``: sizes, conversion time, agreement on ``images``."""
    began = time.perf_counter()
    lite = LiteCaptioner.from_captioner(captioner)
    seconds = time.perf_counter() - began
    lite.save(folder)
    figures = {"float16_agreement": agreement(captions_of(lite, images), captions_of(captioner, images)),
               "float16_size_mb": size_mb(folder), "float32_size_mb": size_mb(bundle), "float16_convert_s": seconds}
    log.info("float16 export in %.1f s: %.2f MB (float32 %.2f MB), agreement %.3f on %d images", seconds,
             figures["float16_size_mb"], figures["float32_size_mb"], figures["float16_agreement"], len(images))
    return figures
