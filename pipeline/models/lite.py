"""TFLite exports of a captioner: its whole compiled function as one flatbuffer, float32 (exact) or float16.

``convert`` turns a ``Captioner``'s compiled function (encoder and the greedy or beam search, one
``tf.while_loop``) into a TFLite flatbuffer; TFLite's builtin ops cover all of it (no Select TF ops), with a
dynamic batch. ``LiteCaptioner`` runs it with TensorFlow's own ``tf.lite.Interpreter``, behind the same
methods and image preparation as ``Captioner``. Two exports:

- **float32** (``export_exact``, always logged): the same arithmetic as Keras on TFLite's faster runtime.
  It counts as exact when every test picture gets the same caption, ``in_domain`` and ``sure`` (hedge
  decision) as from Keras, and a confidence within ``CONFIDENCE_TOLERANCE``. Its bundle also holds
  ``examples.npz``: a few prepared test pictures with Keras' descriptions of them, which a loader runs again
  to check the export on its own machine before serving it (``check_examples``).
- **float16** (``export_float16``, ``evaluate.float16``): weights stored in float16. On a CPU the runtime turns
  them back into float32 when it loads them, so float16 halves the file, not the arithmetic; the rounded
  weights change a caption now and then (1 to 2 in 100 on the embedded test split): not exact.

A bundle folder holds ``captioner.tflite``, ``vocabulary.json``, ``decoding.json`` and the judge.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from pipeline.data.vocabulary import Tokenizer, Vocabulary
from pipeline.files import atomic_write_bytes
from pipeline.logs import without_native_notices
from pipeline.models.captioner import Captioner, Decoding, ImageCaptioner, Raw
from pipeline.models.honesty import Description, Judge

log = logging.getLogger(__name__)
FLATBUFFER = "captioner.tflite"
EXAMPLES = "examples.npz"  # prepared pictures, Keras' descriptions of them, the test split's agreement
EXAMPLE_COUNT = 8
# Batches export_exact describes at once: each thread runs its own single-threaded interpreter, and invoke
# releases the GIL, so two use both cores of the 2-core machines the pipeline runs on.
LITE_THREADS = 2
# Confidences closer than this count as equal: below the 1e-4 the API reports (rounded to 4 decimals) and
# above float32 rounding carried through the judge's logistic regression (the scores it reads differ by up to
# 2e-6 between the runtimes, docs/models.md).
CONFIDENCE_TOLERANCE = 1e-5
# TF 2.21 still ships tf.lite.Interpreter and it runs these files; when it goes, ai_edge_litert.interpreter's
# Interpreter (pip install ai-edge-litert) is its drop-in replacement. Until then its warning says nothing new.
warnings.filterwarnings("ignore", message=r"\s*Warning: tf.lite.Interpreter is deprecated", category=UserWarning)
# What TFLite's native code prints at the first allocation of an interpreter in a process, with no setting that
# quiets it: dropped from stderr (see _allocate), every other line kept.
XNNPACK_NOTICE = ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",)
_first_allocation = threading.Lock()
_allocated = False  # whether this process has allocated an interpreter yet


def _allocate(interpreter: tf.lite.Interpreter) -> None:
    """``allocate_tensors``; the process's first one runs in ``without_native_notices`` (under a lock, as it
    redirects stderr for the whole process), so the terminal does not get TFLite's ``XNNPACK_NOTICE``."""
    global _allocated
    if not _allocated:
        with _first_allocation:
            if not _allocated:
                with without_native_notices(XNNPACK_NOTICE):
                    interpreter.allocate_tensors()
                _allocated = True
                return
    interpreter.allocate_tensors()


def convert(captioner: Captioner, float16: bool) -> bytes:
    """The captioner's compiled function as a TFLite flatbuffer (builtin ops only), weights float16 if asked."""
    converter = tf.lite.TFLiteConverter.from_concrete_functions([captioner.concrete_function()], captioner)
    if float16:
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
            _allocate(self.interpreter)
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
    """Captions images with a TFLite export; safe to share between threads (an interpreter each)."""

    def __init__(self, flatbuffer: bytes, vocabulary: Vocabulary, decoding: Decoding = Decoding(),
                 judge: Judge | None = None, precision: str = "float32") -> None:
        self.flatbuffer, self.decoding, self.judge, self.precision = flatbuffer, decoding, judge, precision
        self.tokenizer = Tokenizer(vocabulary)
        first = _Runner(flatbuffer)
        self.image_size = int(first.input["shape_signature"][1])
        self._idle: queue.SimpleQueue[_Runner] = queue.SimpleQueue()  # grows to the most callers at once
        self._idle.put(first)

    @classmethod
    def from_captioner(cls, captioner: Captioner, float16: bool = False) -> "LiteCaptioner":
        """Convert ``captioner`` (see ``convert``)."""
        return cls(convert(captioner, float16), captioner.tokenizer.vocabulary, captioner.decoding,
                   captioner.judge, "float16" if float16 else "float32")

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
    def load(cls, folder: Path, precision: str = "float32") -> "LiteCaptioner":
        """Read a bundle that ``save`` wrote (``precision``: what its weights were converted to)."""
        folder = Path(folder)
        return cls((folder / FLATBUFFER).read_bytes(), *cls.load_settings(folder), precision=precision)


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


def descriptions_of(captioner: ImageCaptioner, images: np.ndarray, batch_size: int = 100,
                    threads: int = 1) -> list[Description]:
    """Descriptions of prepared images, a batch at a time, ``threads`` batches at once (in order)."""
    batches = [images[i:i + batch_size] for i in range(0, len(images), batch_size)]
    if threads == 1:
        return [d for batch in batches for d in captioner.describe_arrays(batch)]
    with ThreadPoolExecutor(threads) as pool:
        return [d for described in pool.map(captioner.describe_arrays, batches) for d in described]


def agreement(ours: list, theirs: list) -> float:
    """The share of captions (or descriptions, ``same``) that agree."""
    if len(ours) != len(theirs) or not ours:
        raise ValueError(f"cannot compare {len(ours)} answers with {len(theirs)}")
    return sum(same(a, b) for a, b in zip(ours, theirs)) / len(ours)


def same(ours: str | Description, theirs: str | Description) -> bool:
    """Whether two captions are identical, or two descriptions are: the same caption, ``in_domain`` and ``sure``,
    and confidences within ``CONFIDENCE_TOLERANCE``."""
    if isinstance(ours, str) or isinstance(theirs, str):
        return ours == theirs
    return (ours.caption, ours.in_domain, ours.sure) == (theirs.caption, theirs.in_domain, theirs.sure) \
        and abs(ours.confidence - theirs.confidence) <= CONFIDENCE_TOLERANCE


def export_float16(captioner: Captioner, bundle: Path, folder: Path, images: np.ndarray,
                   keras_captions: list[str]) -> dict[str, float]:
    """Convert ``captioner`` (saved in ``bundle``) to float16 into ``folder``: sizes, conversion time, caption
    agreement on ``images`` with ``keras_captions`` (the captioner's own captions of them)."""
    began = time.perf_counter()
    lite = LiteCaptioner.from_captioner(captioner, float16=True)
    seconds = time.perf_counter() - began
    lite.save(folder)
    figures = {"float16_agreement": agreement(captions_of(lite, images), keras_captions),
               "float16_size_mb": size_mb(folder), "float32_size_mb": size_mb(bundle), "float16_convert_s": seconds}
    log.info("float16 export in %.1f s: %.2f MB (float32 %.2f MB), agreement %.3f on %d images", seconds,
             figures["float16_size_mb"], figures["float32_size_mb"], figures["float16_agreement"], len(images))
    return figures


def export_exact(captioner: Captioner, folder: Path, images: np.ndarray,
                 keras_says: list[Description]) -> dict[str, float]:
    """Convert ``captioner`` to float32 TFLite into ``folder`` with its examples, checked on ``images`` (the
    test split, prepared) against ``keras_says`` (the captioner's descriptions of them, ``descriptions_of``):
    ``lite_agreement`` (the share described the same, ``same``), the largest confidence difference,
    conversion time and size."""
    began = time.perf_counter()
    lite = LiteCaptioner.from_captioner(captioner)
    seconds = time.perf_counter() - began
    lite.save(folder)
    lite_says = descriptions_of(lite, images, threads=LITE_THREADS)
    figures = {"lite_agreement": agreement(lite_says, keras_says),
               "lite_confidence_max_difference": max(abs(a.confidence - b.confidence)
                                                     for a, b in zip(lite_says, keras_says)),
               "lite_convert_s": seconds, "lite_size_mb": size_mb(folder)}
    pick = np.linspace(0, len(images) - 1, min(EXAMPLE_COUNT, len(images))).round().astype(int)
    save_examples(folder, images[pick], [keras_says[i] for i in pick], figures["lite_agreement"])
    log.info("float32 TFLite export in %.1f s: %.2f MB, %.4f of %d test pictures described as Keras does "
             "(confidence within %.1e: largest difference %.1e)", seconds, figures["lite_size_mb"],
             figures["lite_agreement"], len(images), CONFIDENCE_TOLERANCE, figures["lite_confidence_max_difference"])
    return figures


def save_examples(folder: Path, images: np.ndarray, described: list[Description], test_agreement: float) -> None:
    """Write ``examples.npz``: prepared pictures, what Keras says of them, the test split's agreement."""
    data = {"images": images, "described": json.dumps([asdict(d) for d in described]),
            "test_agreement": np.float64(test_agreement)}
    target = Path(folder) / EXAMPLES
    partial = target.with_suffix(".partial.npz")
    np.savez(partial, **data)
    partial.replace(target)


def check_examples(lite: LiteCaptioner, folder: Path) -> str | None:
    """Why the export in ``folder`` must not be served in place of Keras, or None when it is exact: it differed
    from Keras on the test split, or describes one of its examples otherwise here and now."""
    path = Path(folder) / EXAMPLES
    if not path.is_file():
        return f"the export has no {EXAMPLES} to check it against"
    with np.load(path) as data:
        images, test_agreement = data["images"], float(data["test_agreement"])
        expected = [Description(**d) for d in json.loads(str(data["described"]))]
    if test_agreement < 1.0:
        return f"it described {1 - test_agreement:.2%} of the test pictures otherwise than Keras when it was logged"
    for i, (ours, theirs) in enumerate(zip(descriptions_of(lite, images), expected, strict=True)):
        if not same(ours, theirs):
            return f"example {i} came out as {ours} where Keras said {theirs}"
    return None
