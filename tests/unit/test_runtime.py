"""The ``runtime`` params: mixed precision trains and decodes the real models; bad settings are refused."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipeline.models.decoders import build_decoder, caption_model, masked_loss
from pipeline.models.decoding import greedy_decode
from pipeline.models.encoder import build_encoder
from pipeline.runtime import configure
from testkit.tiny_keras import SIZES, VOCAB


@pytest.fixture
def mixed_precision():
    configure({"mixed_precision": True})
    yield
    configure(None)


def test_defaults_keep_float32():
    assert configure(None) == {"mixed_precision": False, "intra_op_threads": 0, "inter_op_threads": 0}
    assert keras.mixed_precision.global_policy().name == "float32"


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_mixed_precision_computes_in_float16_and_keeps_float32_logits(mixed_precision, kind):
    keras.utils.set_random_seed(0)
    encoder = build_encoder(16, (4, 8), 6)
    decoder = build_decoder(kind, 7, 16, VOCAB.sequence_length, **SIZES[kind])
    images = np.random.default_rng(0).integers(0, 255, (4, 16, 16, 3), dtype="uint8")
    grid = encoder(images)
    assert grid.dtype == tf.float16 and encoder.layers[-1].variable_dtype == "float32"
    model = caption_model(decoder, 16, 6, VOCAB.sequence_length - 1, name=kind)
    tokens = tf.constant(np.tile(np.array([[2, 4, 5, 6, 3, 0]], "int32"), (4, 1)))
    model.compile(keras.optimizers.Adam(0.01), loss=masked_loss)
    losses = model.fit([tf.cast(grid, tf.float32), tokens[:, :-1]], tokens[:, 1:], batch_size=1, epochs=3, verbose=0)
    assert np.isfinite(losses.history["loss"]).all() and losses.history["loss"][-1] < losses.history["loss"][0]
    assert model([grid, tokens[:, :-1]]).dtype == tf.float32
    ids = greedy_decode(decoder, tf.cast(grid, tf.float32), VOCAB.sequence_length, 2, 3)[0].numpy()
    assert ids.shape == (4, VOCAB.sequence_length) and (ids[:, 0] == 2).all()


@pytest.mark.parametrize(("settings", "words"), [
    ({"mixed_precison": True}, "unknown key"),
    ({"intra_op_threads": -1}, "runtime.intra_op_threads must be a whole number"),
    ({"inter_op_threads": "4"}, "runtime.inter_op_threads"),
])
def test_bad_settings_say_what_to_fix(settings, words):
    with pytest.raises(ValueError, match=words):
        configure(settings)
