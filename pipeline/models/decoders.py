"""Caption decoders over a feature grid: an attention LSTM (Show, Attend and Tell) and a Transformer.

Both are Keras layers taking ``(grid [B, cells, dim], tokens [B, T])`` to logits [B, T, vocab]
(teacher forcing), and expose ``start`` / ``step`` for decoding one token at a time:
``start(grid) -> (memory, state)`` and ``step(memory, state, tokens, t) -> (logits [B, vocab], state)``,
where ``tokens`` is the [B, T] buffer of tokens so far and ``t`` the position being read.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from pipeline.errors import ParamsError
from pipeline.models.layers import BahdanauAttention, DecoderBlock, EncoderBlock, grid_positions
from pipeline.names import DECODERS


def per_caption(grid, tokens):
    """A function that repeats what was computed per image [B, ...] for each of its captions [B*k, ...]
    (training batches hold k captions of each image in a row; decoding has one row per image)."""
    times = ops.shape(tokens)[0] // ops.shape(grid)[0]
    return lambda tree: keras.tree.map_structure(lambda x: ops.repeat(x, times, axis=0), tree)


def build_by_calling(layer: layers.Layer, input_shape) -> None:
    """Create a decoder's sublayers' weights by calling it once on symbolic (grid, tokens) of one row: what
    Keras needs when it rebuilds the layer from a saved model (its sublayers are otherwise built by ``call``)."""
    grid, tokens = input_shape
    layer.call((keras.KerasTensor((1, *grid[1:])), keras.KerasTensor((1, *tokens[1:]), dtype="int32")))


@keras.saving.register_keras_serializable(package="image_to_audio")
class LSTMDecoder(layers.Layer):
    """Show-Attend-Tell: per step, attend over the grid with the previous state, feed [word; context] to an LSTM."""

    def __init__(self, vocab_size: int, num_cells: int, embed_dim: int = 128, units: int = 256,
                 attention_units: int = 128, dropout: float = 0.2, positions: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.num_cells, self.embed_dim = vocab_size, num_cells, embed_dim
        self.units, self.attention_units, self.dropout_rate = units, attention_units, dropout
        self.positions = positions  # 0 in models saved before it existed, so they still load
        self.position_table = grid_positions(num_cells, positions) if positions else None  # once, not per call
        self.embedding = layers.Embedding(vocab_size, embed_dim, name="embedding")
        self.attention = BahdanauAttention(attention_units, name="attention_1")
        self.init_h = layers.Dense(units, activation="tanh", name="init_h")
        self.init_c = layers.Dense(units, activation="tanh", name="init_c")
        self.gate = layers.Dense(1, activation="sigmoid", name="context_gate")
        self.cell = layers.LSTMCell(units, name="lstm_cell")
        self.dropout = layers.Dropout(dropout)
        self.deep_out = layers.Dense(embed_dim, name="deep_out")
        self.logits = layers.Dense(vocab_size, dtype="float32", name="logits")  # float32 under mixed precision

    def start(self, grid):
        """Projected keys (memory) and the initial (h, c) from the mean feature.

        With ``positions`` > 0, each cell's features carry that many channels of its 2D position
        (``grid_positions``), so the attended context says where the attended thing is.
        """
        mean = ops.mean(grid, axis=1)
        if self.position_table is not None:
            table = ops.cast(ops.convert_to_tensor(self.position_table), grid.dtype)
            table = ops.broadcast_to(table[None], (ops.shape(grid)[0], self.num_cells, self.positions))
            grid = ops.concatenate([grid, table], axis=-1)
        return (grid, self.attention.project_keys(grid)), (self.init_h(mean), self.init_c(mean))

    def _step(self, memory, state, token, training=None):
        features, keys = memory
        h, c = state
        context, _ = self.attention(features, keys, h)
        context = context * self.gate(h)
        word = self.embedding(token)
        out, (h, c) = self.cell(ops.concatenate([word, context], -1), [h, c], training=training)
        hidden = ops.tanh(self.deep_out(ops.concatenate([out, context, word], -1)))
        return self.logits(self.dropout(hidden, training=training)), (h, c)

    def step(self, memory, state, tokens, t):
        return self._step(memory, state, tokens[:, t])

    def build(self, input_shape):
        build_by_calling(self, input_shape)

    def call(self, inputs, training=None):
        grid, tokens = inputs
        memory, state = map(per_caption(grid, tokens), self.start(grid))
        outputs = []
        for t in range(tokens.shape[1]):  # static length: unrolled, fast on CPU for ~23 steps
            logits, state = self._step(memory, state, tokens[:, t], training=training)
            outputs.append(logits)
        return ops.stack(outputs, axis=1)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "num_cells": self.num_cells,
                "embed_dim": self.embed_dim, "units": self.units, "attention_units": self.attention_units,
                "dropout": self.dropout_rate, "positions": self.positions}


@keras.saving.register_keras_serializable(package="image_to_audio")
class TransformerDecoder(layers.Layer):
    """Grid -> (projection + cell positions + encoder blocks) -> memory; tokens -> decoder blocks -> logits."""

    def __init__(self, vocab_size: int, num_cells: int, max_length: int, dim: int = 128, heads: int = 4,
                 ff_dim: int = 256, encoder_layers: int = 1, decoder_layers: int = 2, dropout: float = 0.1,
                 **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.num_cells, self.max_length = vocab_size, num_cells, max_length
        self.dim, self.heads, self.ff_dim, self.dropout_rate = dim, heads, ff_dim, dropout
        self.encoder_layers, self.decoder_layers = encoder_layers, decoder_layers
        self.grid_proj = layers.Dense(dim, name="grid_proj")
        self.cell_position = layers.Embedding(  # trainable, but starts from the grid's geometry
            num_cells, dim, embeddings_initializer=keras.initializers.Constant(grid_positions(num_cells, dim)),
            name="cell_position")
        self.token_embedding = layers.Embedding(vocab_size, dim, name="token_embedding")
        self.token_position = layers.Embedding(max_length, dim, name="token_position")
        self.dropout = layers.Dropout(dropout)
        self.encoder_blocks = [EncoderBlock(dim, heads, ff_dim, dropout, name=f"encoder_block_{i + 1}")
                               for i in range(encoder_layers)]
        self.decoder_blocks = [DecoderBlock(dim, heads, ff_dim, dropout, name=f"decoder_block_{i + 1}")
                               for i in range(decoder_layers)]
        self.encoder_norm = layers.LayerNormalization(name="encoder_norm")
        self.final_norm = layers.LayerNormalization(name="final_norm")
        self.logits = layers.Dense(vocab_size, dtype="float32", name="logits")  # float32 under mixed precision

    def encode(self, grid, training=None):
        x = self.grid_proj(grid) + self.cell_position(ops.arange(self.num_cells))[None]
        for block in self.encoder_blocks:
            x = block(x, training=training)
        return self.encoder_norm(x)

    def decode(self, memory, tokens, training=None):
        length = ops.shape(tokens)[1]
        x = self.token_embedding(tokens) + self.token_position(ops.arange(length))[None]
        x = self.dropout(x, training=training)
        for block in self.decoder_blocks:
            x = block(x, memory, training=training)
        return self.logits(self.final_norm(x))

    def start(self, grid):
        return self.encode(grid), ()

    def step(self, memory, state, tokens, t):
        """Logits at position t, recomputing the prefix (as in training; decoding uses ``Incremental``)."""
        return self.decode(memory, tokens)[:, t], state

    def build(self, input_shape):
        build_by_calling(self, input_shape)

    def call(self, inputs, training=None):
        grid, tokens = inputs
        return self.decode(self.encode(grid, training=training), tokens, training=training)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "num_cells": self.num_cells,
                "max_length": self.max_length, "dim": self.dim, "heads": self.heads, "ff_dim": self.ff_dim,
                "encoder_layers": self.encoder_layers, "decoder_layers": self.decoder_layers,
                "dropout": self.dropout_rate}


class Incremental:
    """A ``TransformerDecoder``'s ``start`` / ``step`` one position at a time: each step computes only its own
    position, reading the earlier positions' self-attention keys and values from the state and the grid's
    cross-attention keys and values computed once in ``start``. The same function as ``step``, in a fraction of
    the arithmetic (a fourth of the time a caption). What every search runs (``fastest_steps``)."""

    def __init__(self, decoder: TransformerDecoder) -> None:
        self.decoder = decoder

    def start(self, grid):
        memory = self.decoder.encode(grid)
        blocks = self.decoder.decoder_blocks
        empty = ops.zeros((ops.shape(grid)[0], self.decoder.max_length, self.decoder.heads,
                           self.decoder.dim // self.decoder.heads), memory.dtype)
        return tuple(block.memory_keys(memory) for block in blocks), tuple((empty, empty) for _ in blocks)

    def step(self, memory, state, tokens, t):
        decoder = self.decoder
        x = decoder.token_embedding(tokens[:, t][:, None]) + decoder.token_position(t)[None, None]  # [B, 1, dim]
        column = ops.one_hot(t, decoder.max_length, dtype=x.dtype)
        seen = ops.arange(decoder.max_length) <= t
        cache = []
        for block, memory_keys, (keys, values) in zip(decoder.decoder_blocks, memory, state):
            x, keys, values = block.step(x, memory_keys, keys, values, column, seen)
            cache.append((keys, values))
        return decoder.logits(decoder.final_norm(x[:, 0])), tuple(cache)


def fastest_steps(decoder: layers.Layer):
    """What decoding runs fastest for ``decoder``: ``Incremental`` for a Transformer, the LSTM itself."""
    return Incremental(decoder) if isinstance(decoder, TransformerDecoder) else decoder


def masked_loss(y_true, y_pred, weights=None):
    """Mean cross-entropy over non-padding target tokens; with ``weights`` (one per token id), a token of
    weight k counts as k tokens."""
    mask = ops.cast(ops.not_equal(y_true, 0), "float32")
    if weights is not None:
        mask = mask * ops.take(weights, ops.cast(y_true, "int32"))
    loss = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
    return ops.sum(loss * mask) / ops.maximum(ops.sum(mask), 1.0)


def weighted_masked_loss(weights: np.ndarray):
    """``masked_loss`` with these token weights, as a Keras loss of (y_true, y_pred)."""
    table = ops.convert_to_tensor(np.asarray(weights, np.float32))

    def weighted_masked_loss(y_true, y_pred):
        return masked_loss(y_true, y_pred, table)

    return weighted_masked_loss


def masked_accuracy(y_true, y_pred):
    """Share of non-padding target tokens predicted exactly."""
    mask = ops.cast(ops.not_equal(y_true, 0), "float32")
    hit = ops.cast(ops.equal(ops.cast(y_true, "int32"), ops.cast(ops.argmax(y_pred, -1), "int32")), "float32")
    return ops.sum(hit * mask) / ops.maximum(ops.sum(mask), 1.0)


def caption_model(decoder: layers.Layer, num_cells: int, feature_dim: int, steps: int, name: str) -> keras.Model:
    """A functional wrapper (grid, tokens) -> logits, so the model saves and reloads as .keras."""
    grid = keras.Input((num_cells, feature_dim), name="grid")
    tokens = keras.Input((steps,), dtype="int32", name="tokens")
    return keras.Model([grid, tokens], decoder([grid, tokens]), name=name)



def build_decoder(kind: str, vocab_size: int, num_cells: int, max_length: int, **sizes) -> layers.Layer:
    """The ``kind`` decoder with the sizes from params (``train.<kind>``)."""
    if kind == "lstm":
        return LSTMDecoder(vocab_size, num_cells, name="lstm_decoder", **sizes)
    if kind == "transformer":
        return TransformerDecoder(vocab_size, num_cells, max_length, name="transformer_decoder", **sizes)
    raise ParamsError(f"unknown decoder {kind!r}; expected one of {DECODERS}")
