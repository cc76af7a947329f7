"""The float16 export on tiny untrained captioners: builtin TFLite ops, float16 weights, the same captions."""

import threading
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from pipeline.models.captioner import Captioner, Decoding
from pipeline.models.decoders import build_decoder, caption_model
from pipeline.models.encoder import build_encoder
from pipeline.models.honesty import Description
from pipeline.models.lite import LiteCaptioner, agreement, captions_of, descriptions_of, export_float16, size_mb
from testkit.tiny_keras import SIZES, VOCAB


def tiny_captioner(kind: str, beam_width: int) -> Captioner:
    """An untrained captioner whose weights are float16 values, so the export loses nothing to rounding."""
    keras.utils.set_random_seed(3)
    encoder = build_encoder(32, (4, 8), 6)
    decoder = caption_model(build_decoder(kind, 7, encoder.output_shape[1], 6, **SIZES[kind]),
                            encoder.output_shape[1], 6, 5, name=kind)
    for model in (encoder, decoder):
        model.set_weights([w.astype(np.float16).astype(w.dtype) if w.dtype == np.float32 else w
                           for w in model.get_weights()])
    return Captioner(encoder, decoder, VOCAB, Decoding(beam_width=beam_width))


def random_images(count: int, size: int = 32) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (count, size, size, 3), dtype=np.uint8)


@pytest.mark.parametrize(("kind", "beam_width"), [("lstm", 2), ("transformer", 2), ("lstm", 1)])
def test_the_export_captions_as_float32_does(kind, beam_width, tmp_path):
    captioner = tiny_captioner(kind, beam_width)
    captioner.save(tmp_path / "float32")
    images = random_images(12)
    figures = export_float16(captioner, tmp_path / "float32", tmp_path / "float16", images,
                             captions_of(captioner, images))
    lite = LiteCaptioner.load(tmp_path / "float16", "float16")
    assert lite.precision == "float16" and lite.image_size == 32 and lite.decoding == captioner.decoding
    tensors = tf.lite.Interpreter(model_content=lite.flatbuffer).get_tensor_details()
    assert any(t["dtype"] == np.float16 for t in tensors)  # the weights are stored in float16
    assert figures["float16_agreement"] == 1.0  # the weights were float16 values already: nothing to round
    assert captions_of(lite, images) == captions_of(captioner, images)
    assert figures["float16_size_mb"] == pytest.approx(size_mb(tmp_path / "float16"))
    assert figures["float16_convert_s"] > 0
    pictures = [Image.new("L", (17, 300), 80), Image.new("RGBA", (640, 480), (255, 0, 0, 0)), Image.new("P", (64, 64))]
    assert lite.caption_images(pictures) == captioner.caption_images(pictures)  # the same preparation, any mode


def test_threads_share_one_export_and_any_batch_size(tmp_path):
    lite = LiteCaptioner.from_captioner(tiny_captioner("lstm", 2))
    images = random_images(6)
    expected = captions_of(lite, images, batch_size=1)
    assert lite.caption_arrays(images) == expected  # the same captions batched (the input is resized)
    results, errors = {}, []

    def caption(i: int) -> None:
        try:
            for _ in range(5):
                results[i] = lite.caption_arrays(images[: i + 1])
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=caption, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and all(results[i] == expected[: i + 1] for i in range(6))


class Numbering:
    """Describes each picture by its first pixel; the first batch of a call takes longest, so threads finish
    out of order."""

    def __init__(self) -> None:
        self.calls = 0

    def describe_arrays(self, images: np.ndarray) -> list[Description]:
        self.calls += 1
        time.sleep(0.2 if self.calls == 1 else 0.0)
        return [Description(str(int(image[0, 0, 0])), True, 0.5, True) for image in images]


def test_descriptions_on_two_threads_come_in_the_pictures_order():
    images = np.arange(7, dtype=np.uint8)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    described = descriptions_of(Numbering(), images, batch_size=2, threads=2)
    assert [d.caption for d in described] == [str(i) for i in range(7)]
    assert described == descriptions_of(Numbering(), images, batch_size=2)


def test_agreement_counts_identical_captions():
    assert agreement(["a red circle", "a cat"], ["a red circle", "a dog"]) == 0.5
    with pytest.raises(ValueError):
        agreement(["a"], [])
