"""Training: the encoder end to end through a caption head (featurize), and the decoders on cached grids (train)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from pipeline.data.vocabulary import Tokenizer
from pipeline.models.decoders import (TransformerDecoder, build_decoder, caption_model, masked_accuracy, masked_loss,
                                      weighted_masked_loss)
from pipeline.models.encoder import build_encoder, build_pretrained_encoder, image_size_of
from pipeline.models.inputs import (Split, augmenter, caption_dataset, consistent_words, content_targets, image_dataset,
                                    steady)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fit:
    """How to fit: epochs, batch, peak learning rate, early-stopping patience, seed; for the decoders, how
    many of an image's captions an epoch draws (0: all); whether XLA compiles the training step; words
    whose loss counts more (``{word: weight}``; words not in the vocabulary are ignored), and how many
    times per epoch the images whose captions use one of them are drawn (``oversample``; 1: once); whether a
    batch groups each image's captions (``grouped``, see ``caption_dataset``)."""

    epochs: int
    batch_size: int
    learning_rate: float
    patience: int
    seed: int
    captions_per_image: int = 0
    xla: bool = False
    token_weights: dict[str, float] | None = None
    oversample: int = 1
    grouped: bool = False


def schedule(peak: float, steps: int) -> keras.optimizers.schedules.LearningRateSchedule:
    """Linear warm-up over 5% of the steps to ``peak``, then cosine decay to 5% of it."""
    warm = max(1, steps // 20)
    return keras.optimizers.schedules.CosineDecay(peak * 0.1, max(1, steps - warm), alpha=0.05,
                                                  warmup_target=peak, warmup_steps=warm)


def _fit(model: keras.Model, train, dev, fit: Fit, steps_per_epoch: int, monitor: str, losses, callbacks=(),
         **compile_args):
    xla = fit.xla and not tf.config.list_physical_devices("GPU")  # XLA on CPUs only: tensorflow-metal lacks it
    model.compile(keras.optimizers.Adam(schedule(fit.learning_rate, fit.epochs * steps_per_epoch), clipnorm=5.0),
                  loss=losses, jit_compile=xla or "auto", **compile_args)
    stop = keras.callbacks.EarlyStopping(monitor=monitor, mode="min", patience=fit.patience,
                                         restore_best_weights=True)  # the best epoch on dev is kept
    return model.fit(steady(train), validation_data=steady(dev), epochs=fit.epochs, callbacks=[stop, *callbacks],
                     shuffle=False, verbose=2).history  # the datasets shuffle themselves


def train_encoder(encoder: keras.Model, splits: dict[str, Split], tokenizer: Tokenizer, fit: Fit, head_dim: int,
                  head_layers: int, head_captions: int, bow_weight: float, augment: dict | None = None) -> dict:
    """Train ``encoder`` end to end through a small Transformer caption head (then discarded).

    The head reads the grid with learned cell positions, so the encoder must keep where things are
    (a bag-of-words target alone cannot tell "left of" from "right of"); an auxiliary loss on the
    max-pooled grid, predicting the words annotators agree on (``consistent_words``), gives a dense
    signal for what is in the picture (colours, shapes, counts). ``augment`` holds ``augmenter``'s
    switches (flip, crop, jitter) for the training images.
    """
    keras.utils.set_random_seed(fit.seed)
    size, length = image_size_of(encoder), tokenizer.vocabulary.sequence_length
    image = keras.Input((size, size, 3), dtype="uint8", name="image")
    tokens = keras.Input((length - 1,), dtype="int32", name="tokens")
    grid = encoder(image)
    head = TransformerDecoder(tokenizer.size, grid.shape[1], length, dim=head_dim, heads=4, ff_dim=2 * head_dim,
                              encoder_layers=0, decoder_layers=head_layers, name="head")
    caption = head([grid, tokens])  # the CNN and the head's grid projection run once per image, for k captions
    words = consistent_words(splits["train"].captions, tokenizer.size, (tokenizer.start_id, tokenizer.end_id))
    log.info("content words for the encoder: %s", " ".join(tokenizer.vocabulary.tokens[i] for i in words))
    bow = keras.layers.Dense(len(words), dtype="float32", name="bow")(keras.layers.GlobalMaxPooling1D(name="pool")(grid))
    model = keras.Model([image, tokens], {"caption": caption, "bow": bow}, name="encoder_training")

    def pick(images, captions, training):
        bow_target = content_targets(captions, words, tokenizer.size)
        if training:  # a fresh choice of k of the five captions each epoch
            order = tf.argsort(tf.random.uniform(tf.shape(captions)[:2]), axis=1)[:, :head_captions]
            captions = tf.gather(captions, order, batch_dims=1)
        else:
            captions = captions[:, :head_captions]
        captions = tf.reshape(captions, [-1, length])
        return (images, captions[:, :-1]), {"caption": captions[:, 1:], "bow": bow_target}

    changes = augmenter(tokenizer, fit.seed, **(augment or {}))
    train = image_dataset(splits["train"].paths, size, fit.batch_size, (splits["train"].captions,), shuffle=True,
                          seed=fit.seed, augment=changes).map(lambda i, c: pick(i, c, True))
    dev = image_dataset(splits["dev"].paths, size, fit.batch_size, (splits["dev"].captions,)).map(
        lambda i, c: pick(i, c, False))
    steps = int(np.ceil(len(splits["train"].paths) / fit.batch_size))
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    return _fit(model, train, dev, fit, steps, "val_caption_loss", {"caption": masked_loss, "bow": bce},
                loss_weights={"caption": 1.0, "bow": bow_weight}, metrics={"caption": [masked_accuracy]})


def make_encoder(params: dict, splits: dict[str, Split], tokenizer: Tokenizer) -> tuple[keras.Model, dict]:
    """The encoder the ``featurize`` params ask for, and its training history: the cnn trained here, or a
    frozen ``keras.applications`` network (ImageNet weights unless ``weights: null``) with no history."""
    if params["encoder"] != "cnn":
        return build_pretrained_encoder(params["encoder"], params.get("weights")), {}
    keras.utils.set_random_seed(int(params["seed"]))
    encoder = build_encoder(int(params["image_size"]), tuple(params["widths"]), int(params["feature_dim"]))
    return encoder, train_encoder(encoder, splits, tokenizer, Fit(**params["fit"]), **params["head"],
                                  augment=params.get("augment"))


def extract(encoder: keras.Model, paths: list[str], batch_size: int = 128) -> np.ndarray:
    """Feature grids [N, cells, dim] of the images, through the same decode and resize as training."""
    ds = image_dataset(paths, image_size_of(encoder), batch_size)
    predict = tf.function(lambda x: encoder(x, training=False))
    return np.concatenate([predict(x).numpy() for x, in ds]) if paths else np.zeros((0,) + encoder.output_shape[1:])


def train_decoder(kind: str, grids: dict[str, np.ndarray], splits: dict[str, Split], tokenizer: Tokenizer,
                  fit: Fit, sizes: dict, callbacks=()) -> tuple[keras.Model, dict]:
    """Train a ``kind`` decoder (teacher forcing, masked loss) on cached grids; the best dev epoch is kept."""
    keras.utils.set_random_seed(fit.seed)
    cells, dim = grids["train"].shape[1:]
    length = tokenizer.vocabulary.sequence_length
    decoder = build_decoder(kind, tokenizer.size, cells, length, **sizes)
    model = caption_model(decoder, cells, dim, length - 1, name=f"{kind}_captioner")
    weights = token_weights(tokenizer, fit.token_weights or {})
    train_grids, train_captions = oversample(grids["train"], splits["train"].captions, np.flatnonzero(weights != 1),
                                             fit.oversample)
    train = caption_dataset(train_grids, train_captions, fit.batch_size, True, fit.seed, fit.captions_per_image,
                            fit.grouped)
    # 500: the captions of 100 images, so that the embedded dev split has no short last batch for XLA to compile
    dev = caption_dataset(grids["dev"], splits["dev"].captions, 500, False, fit.seed, grouped=fit.grouped)
    images, per_image = train_captions.shape[:2]
    k = min(fit.captions_per_image or per_image, per_image)
    steps = int(np.ceil(images / max(1, fit.batch_size // k) if fit.grouped else images * k / fit.batch_size))
    loss = weighted_masked_loss(weights) if fit.token_weights else masked_loss
    history = _fit(model, train, dev, fit, steps, "val_loss", loss, callbacks, metrics=[masked_accuracy])
    return model, history


def oversample(grids: np.ndarray, captions: np.ndarray, token_ids: np.ndarray,
               times: int) -> tuple[np.ndarray, np.ndarray]:
    """The images whose captions [N, 5, L] use any of ``token_ids``, ``times`` times in all; the others once."""
    if times <= 1 or not len(token_ids):
        return grids, captions
    chosen = np.flatnonzero(np.isin(captions, token_ids).any(axis=(1, 2)))
    index = np.concatenate([np.arange(len(captions)), *[chosen] * (times - 1)])
    return grids[index], captions[index]


def token_weights(tokenizer: Tokenizer, weights: dict[str, float]) -> np.ndarray:
    """A weight per token id: 1, or ``weights[word]`` for the words of the vocabulary it names."""
    table = np.ones(tokenizer.size, np.float32)
    for word, weight in weights.items():
        if word in tokenizer.index:
            table[tokenizer.index[word]] = float(weight)
    return table
