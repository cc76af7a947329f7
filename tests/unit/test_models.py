"""Model pieces on tiny sizes: masking, save and reload of each decoder, greedy and beam search."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipeline.data.vocabulary import Tokenizer, Vocabulary
from pipeline.images import to_rgb, upright
from pipeline.models.captioner import Captioner, Decoding
from pipeline.models.decoders import (Incremental, build_decoder, caption_model, fastest_steps, masked_accuracy,
                                      masked_loss, weighted_masked_loss)
from pipeline.models.decoding import beam_decode, greedy_decode
from pipeline.models.encoder import FusedBatchNormalization, build_encoder, build_pretrained_encoder
from testkit.tiny_keras import SIZES, VOCAB


def test_masked_loss_and_accuracy_ignore_padding():
    y_true = np.array([[4, 5, 0, 0]])
    right = (np.eye(7)[[4, 5, 1, 1]][None] * 20.0).astype("float32")  # right where it counts, wrong on padding
    assert float(masked_accuracy(y_true, right)) == 1.0
    assert float(masked_loss(y_true, right)) < 1e-6
    wrong = (np.eye(7)[[5, 4, 4, 5]][None] * 20.0).astype("float32")
    assert float(masked_accuracy(y_true, wrong)) == 0.0


def test_a_weighted_word_counts_as_that_many_tokens():
    from pipeline.models.training import token_weights

    weights = token_weights(Tokenizer(VOCAB), {VOCAB.tokens[4]: 3.0, "not-a-word": 9.0})
    assert weights[4] == 3.0 and np.count_nonzero(weights != 1.0) == 1
    y_true = np.array([[4, 5, 0]])
    logits = np.random.default_rng(0).normal(size=(1, 3, 7)).astype("float32")
    each = -tf.nn.log_softmax(logits).numpy()[0, [0, 1], [4, 5]]  # the two real tokens' cross-entropies
    assert float(weighted_masked_loss(weights)(y_true, logits)) == pytest.approx((3 * each[0] + each[1]) / 4, 1e-5)
    assert float(weighted_masked_loss(np.ones(7))(y_true, logits)) == pytest.approx(float(masked_loss(y_true, logits)))


def test_oversampling_repeats_only_the_images_whose_captions_use_a_weighted_word():
    from pipeline.models.training import oversample

    captions = np.zeros((3, 2, 4), np.int32)
    captions[1, 1, 2] = 6  # only image 1 has a caption with token 6
    grids = np.arange(3, dtype=np.float32)[:, None, None] * np.ones((3, 2, 2), np.float32)
    more_grids, more_captions = oversample(grids, captions, np.array([6]), 3)
    assert more_grids[:, 0, 0].tolist() == [0, 1, 2, 1, 1] and (more_captions[3:] == captions[1]).all()
    assert oversample(grids, captions, np.array([6]), 1)[0] is grids
    assert oversample(grids, captions, np.array([], np.int64), 3)[1] is captions


def test_grid_positions_encode_rows_and_columns_the_same_way_everywhere():
    from pipeline.models.layers import grid_positions

    table = grid_positions(36, 16)  # a 6 x 6 grid, read row by row
    assert table.shape == (36, 16) and len({row.tobytes() for row in table}) == 36
    rows, columns = table[:, :8].reshape(6, 6, 8), table[:, 8:].reshape(6, 6, 8)
    assert np.allclose(rows, rows[:, :1]) and np.allclose(columns, columns[:1])  # each half reads one axis
    assert np.allclose(table[0, 8:], table[0, :8])  # the same code for row k and column k
    assert grid_positions(5, 6).shape == (5, 6) and len({r.tobytes() for r in grid_positions(5, 6)}) == 5


def test_the_transformer_starts_from_the_grid_geometry_and_learns_from_there():
    from pipeline.models.layers import grid_positions

    decoder = build_decoder("transformer", 7, 4, VOCAB.sequence_length, **SIZES["transformer"])
    decoder([np.zeros((1, 4, 3), "float32"), np.zeros((1, 5), "int32")])
    assert decoder.cell_position.trainable
    assert np.allclose(decoder.cell_position.embeddings.numpy(), grid_positions(4, 8))


def test_the_lstm_attends_over_features_that_say_where_each_cell_is():
    from pipeline.models.layers import grid_positions

    grid = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    (features, _), _ = build_decoder("lstm", 7, 4, VOCAB.sequence_length, **SIZES["lstm"]).start(grid)
    assert np.allclose(features[..., :3], grid) and np.allclose(features[..., 3:], grid_positions(4, 4))
    without = {**SIZES["lstm"], "positions": 0}  # as in models saved before positions existed
    (features, _), _ = build_decoder("lstm", 7, 4, VOCAB.sequence_length, **without).start(grid)
    assert features.shape == grid.shape


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_each_decoder_saves_and_reloads_with_the_same_outputs_and_no_warning(tmp_path, kind):
    keras.utils.set_random_seed(0)
    decoder = build_decoder(kind, 7, 4, VOCAB.sequence_length, **SIZES[kind])
    model = caption_model(decoder, 4, 3, VOCAB.sequence_length - 1, name=kind)
    grid = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    tokens = np.array([[2, 4, 5, 6, 3], [2, 4, 0, 0, 0]], dtype="int32")
    before = model([grid, tokens])
    model.save(tmp_path / "m.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. Keras' "build() was called ... unbuilt state" on a layer without build
        again = keras.models.load_model(tmp_path / "m.keras", compile=False)
    np.testing.assert_allclose(again([grid, tokens]), before, atol=1e-5)
    assert again.layers[-1].get_config()["vocab_size"] == 7


def test_the_incremental_transformer_gives_each_step_of_the_full_recomputation():
    keras.utils.set_random_seed(0)
    decoder = build_decoder("transformer", 7, 4, VOCAB.sequence_length, **SIZES["transformer"])
    grid = tf.constant(np.random.default_rng(0).normal(size=(3, 4, 3)), tf.float32)
    tokens = tf.constant([[2, 4, 5, 6, 3, 0], [2, 6, 6, 5, 4, 3], [2, 3, 0, 0, 0, 0]], tf.int32)
    decoder([grid, tokens])  # built, as a trained or loaded one is
    steps = fastest_steps(decoder)
    assert isinstance(steps, Incremental)
    (memory, state), (full_memory, _) = steps.start(grid), decoder.start(grid)
    for t in range(VOCAB.sequence_length - 1):
        logits, state = steps.step(memory, state, tokens, tf.constant(t))
        expected, _ = decoder.step(full_memory, (), tokens, t)
        np.testing.assert_allclose(logits, expected, atol=1e-5)
    lstm = build_decoder("lstm", 7, 4, VOCAB.sequence_length, **SIZES["lstm"])
    assert fastest_steps(lstm) is lstm  # its steps are incremental already
    for search in (greedy_decode, beam_decode):  # the same captions through either search
        np.testing.assert_array_equal(search(steps, grid, VOCAB.sequence_length, 2, 3)[0],
                                      search(decoder, grid, VOCAB.sequence_length, 2, 3)[0])


class Scripted:
    """A decoder that follows a fixed table of next-token log-probabilities (for search tests)."""

    def __init__(self, table):
        self.table = tf.constant(table, tf.float32)  # [position, vocab]

    def start(self, grid):
        return grid, ()

    def step(self, memory, state, tokens, t):
        return tf.repeat(self.table[t][None], tf.shape(tokens)[0], axis=0), state


def test_greedy_stops_at_the_end_token_and_pads_after():
    table = np.full((5, 7), -10.0)
    table[0, 4], table[1, 5], table[2, 3], table[3, 6], table[4, 6] = 0, 0, 0, 0, 0
    ids, scores = greedy_decode(Scripted(table), tf.zeros([2, 1, 1]), 6, 2, 3)
    assert ids.numpy().tolist() == [[2, 4, 5, 3, 0, 0]] * 2
    assert scores.shape == (2, 2)
    np.testing.assert_allclose(scores.numpy()[:, 1], 0.0, atol=1e-3)  # every word was near certain


class Bigram(Scripted):
    """Next-token log-probabilities depending on the current token (a row per token id)."""

    def step(self, memory, state, tokens, t):
        return tf.gather(self.table, tokens[:, t]), state


def test_beam_search_finds_the_likelier_caption_greedy_misses():
    p = np.full((7, 7), 1e-9)
    p[2, 4], p[2, 5] = 0.6, 0.4  # <start> -> "a" .6 | "red" .4
    p[4, 5], p[4, 6], p[4, 3] = 0.36, 0.34, 0.30  # "a" -> "red" .36 (greedy's way)
    p[5, 6] = 0.99  # "red" -> "circle"
    p[6, 3] = 1.0  # "circle" -> <end>
    p[3, 3] = p[0, 3] = p[1, 3] = 1.0
    table = np.log(p / p.sum(1, keepdims=True))
    greedy, greedy_score = greedy_decode(Bigram(table), tf.zeros([1, 1, 1]), 6, 2, 3)
    beam, beam_score = beam_decode(Bigram(table), tf.zeros([1, 1, 1]), 6, 2, 3, beam_width=3, length_penalty=0.0)
    assert greedy.numpy()[0].tolist() == [2, 4, 5, 6, 3, 0]  # a red circle: p = .6 * .36 * .99 = .21
    assert beam.numpy()[0].tolist() == [2, 5, 6, 3, 0, 0]  # red circle: p = .4 * .99 = .40
    # scores: the mean log-probability of the words said, <end> included, and the least one
    greedy_words = [table[2, 4], table[4, 5], table[5, 6], table[6, 3]]
    beam_words = [table[2, 5], table[5, 6], table[6, 3]]
    for score, words in ((greedy_score, greedy_words), (beam_score, beam_words)):
        np.testing.assert_allclose(score.numpy(), [[np.mean(words), np.min(words)]], rtol=1e-5)
    narrow, _ = beam_decode(Bigram(table), tf.zeros([1, 1, 1]), 6, 2, 3, beam_width=1, length_penalty=0.0)
    assert narrow.numpy()[0].tolist() == greedy.numpy()[0].tolist()


def test_captioner_captions_any_image_and_reloads(tmp_path):
    from PIL import Image

    keras.utils.set_random_seed(1)
    encoder = build_encoder(32, (4, 8), 6)
    decoder = caption_model(build_decoder("lstm", 7, encoder.output_shape[1], 6, **SIZES["lstm"]),
                            encoder.output_shape[1], 6, 5, name="lstm")
    captioner = Captioner(encoder, decoder, VOCAB, Decoding(beam_width=2))
    images = [Image.new("L", (17, 300), 80), Image.new("RGBA", (640, 480), (255, 0, 0, 0)),
              Image.new("I;16", (50, 40), 3000), Image.new("P", (64, 64))]
    captions = captioner.caption_images(images)
    assert len(captions) == 4 and all(isinstance(c, str) for c in captions)
    assert all(set(c.split()) <= {"a", "red", "circle", "[UNK]"} for c in captions)
    captioner.save(tmp_path / "bundle")
    again = Captioner.load(tmp_path / "bundle")
    assert again.caption_images(images) == captions
    assert captioner._compiled.experimental_get_tracing_count() == 1  # no retracing per call or size


def test_to_rgb_applies_exif_orientation():
    from PIL import Image

    image = Image.new("RGB", (40, 20), "white")
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    import io
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    assert to_rgb(upright(Image.open(io.BytesIO(buffer.getvalue())))).size == (20, 40)


def test_the_imagenet_encoder_path_builds_with_weights_none():
    encoder = build_pretrained_encoder("mobilenetv3small", weights=None)
    assert encoder.input_shape == (None, 224, 224, 3) and len(encoder.output_shape) == 3
    grid = encoder(np.zeros((1, 224, 224, 3), "uint8"))
    assert grid.shape[0] == 1 and grid.shape[1] == 49


def test_consistent_words_keep_what_annotators_agree_on():
    from pipeline.models.inputs import consistent_words, content_targets

    # ids: 4 "dog" (in every caption of its images), 5 "picture" (one caption in five), 6 "cat"
    dog = [[2, 5, 4, 3], [2, 4, 3, 0], [2, 4, 3, 0], [2, 4, 3, 0], [2, 4, 3, 0]]
    cat = [[2, 6, 3, 0], [2, 5, 6, 3], [2, 6, 3, 0], [2, 6, 3, 0], [2, 6, 3, 0]]
    captions = np.array([dog] * 10 + [cat] * 10, dtype=np.int32)
    words = consistent_words(captions, 7, exclude=(2, 3))
    assert words.tolist() == [4, 6]
    targets = content_targets(tf.constant(captions[[0, 10]]), words, 7).numpy()
    assert targets.tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_caption_batches_hold_k_captions_of_each_image_drawn_afresh_each_epoch():
    from pipeline.models.inputs import caption_dataset

    n, c = 6, 5
    captions = (np.arange(n)[:, None, None] * 10 + np.arange(c)[None, :, None] + np.zeros((1, 1, 4))).astype("int32")
    grids = np.arange(n, dtype="float32")[:, None, None] * np.ones((1, 2, 3), "float32")
    ds = caption_dataset(grids, captions, 4, True, seed=1, per_image=2, grouped=True)  # 2 images x 2 captions
    epochs = []
    for _ in range(3):
        seen = []
        for (gs, ts), ys in ds:
            assert ts.shape[0] == ys.shape[0] == 2 * gs.shape[0] <= 4  # each grid once, its captions in a row
            images = np.repeat(gs.numpy()[:, 0, 0].astype(int), 2)
            seen += [(int(i), int(t[0])) for i, t in zip(images, ts.numpy())]
        assert len(seen) == n * 2  # two captions of every image per epoch
        assert all(caption // 10 == image for image, caption in seen)  # each with its own image's grid
        assert all(sum(1 for i, _ in seen if i == image) == 2 for image in range(n))
        epochs.append(sorted(seen))
    assert epochs[0] != epochs[1] or epochs[1] != epochs[2]  # a fresh draw, not the same two each time
    full = caption_dataset(grids, captions, 10, False, seed=1, grouped=True)
    assert sum(int(b[0][1].shape[0]) for b in full) == n * c
    shuffled = [(int(g[0, 0]), int(t[0])) for (gs, ts), _ in caption_dataset(grids, captions, 4, True, seed=1)
                for g, t in zip(gs.numpy(), ts.numpy())]  # not grouped: a grid per caption, captions mixed
    assert len(shuffled) == n * c and all(caption // 10 == image for image, caption in shuffled)
    assert any(a[0] != b[0] for a, b in zip(shuffled[::2], shuffled[1::2]))


def test_a_decoder_reads_each_grid_once_for_all_its_captions():
    from pipeline.models.inputs import caption_dataset

    grids = np.random.default_rng(0).normal(size=(3, 4, 8)).astype("float32")
    captions = np.random.default_rng(1).integers(4, 7, size=(3, 5, 6)).astype("int32")
    (batch_grids, tokens), _ = next(iter(caption_dataset(grids, captions, 15, False, seed=0, grouped=True)))
    for kind in ("lstm", "transformer"):
        model = caption_model(build_decoder(kind, 7, 4, 6, **SIZES[kind]), 4, 8, 5, name="m")
        grouped = model([batch_grids, tokens]).numpy()  # 3 grids, 15 captions
        one_per_caption = model([tf.constant(np.repeat(grids, 5, axis=0)), tokens]).numpy()
        np.testing.assert_allclose(grouped, one_per_caption, rtol=1e-5, atol=1e-5)


def test_the_fused_batch_norm_trains_and_infers_as_keras_batch_norm():
    x = tf.constant(np.random.default_rng(0).normal(2.0, 3.0, size=(2, 2, 2, 3)).astype("float32"))  # 8 per channel
    plain, fused = keras.layers.BatchNormalization(momentum=0.5), FusedBatchNormalization(momentum=0.5)
    for layer in (plain, fused):
        layer.build(x.shape)
    fused.set_weights([w + np.random.default_rng(1).random(w.shape).astype("float32") for w in plain.get_weights()])
    plain.set_weights(fused.get_weights())
    results = []
    for layer in (plain, fused):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.sin(y))
        grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
        results.append([y, *grads, layer.moving_mean, layer.moving_variance, layer(x, training=False)])
    for ours, theirs in zip(*results):  # the moving variance is the biased one, as Keras keeps it
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-4, atol=1e-5)


def test_augmentation_keeps_captions_true():
    from pipeline.models.inputs import augmenter

    vocab = Vocabulary(tokens=["", "[UNK]", "<start>", "<end>", "red", "left", "right", "of"], sequence_length=6)
    tokenizer = Tokenizer(vocab)
    assert augmenter(tokenizer, flip=False) is None  # nothing on: the pipeline is left as it was
    with pytest.raises(ValueError, match="crop"):
        augmenter(tokenizer, crop=0.7)
    image = np.zeros((32, 32, 3), np.uint8)
    image[8:24, 2:12] = (200, 30, 30)  # a red block on the left
    caption = tf.constant([[2, 4, 5, 7, 3, 0]])  # "red left of"

    flip = augmenter(tokenizer, seed=3, flip=True)
    outcomes = {}
    for _ in range(20):
        out, words = flip(tf.constant(image), caption)
        mirrored = bool(out.numpy()[16, 28, 0] == 200)
        outcomes[mirrored] = words.numpy()[0].tolist()
        assert mirrored or np.array_equal(out.numpy(), image)
    assert outcomes == {True: [2, 4, 6, 7, 3, 0], False: [2, 4, 5, 7, 3, 0]}  # both happen; "left" becomes "right"

    both = augmenter(tokenizer, seed=3, crop=0.2, jitter=0.3)
    changed = 0
    for _ in range(10):
        out, words = both(tf.constant(image), caption)
        out = out.numpy()
        assert out.shape == image.shape and out.dtype == np.uint8 and words.numpy().tolist() == caption.numpy().tolist()
        red = out[..., 0].astype(int) - out[..., 1:].max(-1)
        assert red.max() > 80 and red.min() >= -5  # still red, nothing turned another hue
        assert (red[:, :16] > 40).sum() > 4 * (red[:, 16:] > 40).sum()  # and still on the left
        changed += not np.array_equal(out, image)
    assert changed == 10
