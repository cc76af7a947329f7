"""Building blocks of the decoders: additive attention and Transformer blocks (each with ``get_config``)."""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops


def grid_positions(cells: int, dim: int) -> np.ndarray:
    """A 2D sine/cosine table [cells, dim] for a square grid read row by row: half the channels encode the row,
    half the column, each at ``dim // 4`` frequencies from one cycle per 4 cells to one per 40.

    Nearby cells get similar rows and "left of" is the same direction everywhere, so a decoder starts out
    knowing the geometry; with learned positions from random, it had to infer it from the relation captions.
    A grid that is not square is taken as one row.
    """
    side = math.isqrt(cells)
    side = side if side * side == cells else cells
    rows, columns = np.divmod(np.arange(cells), side)
    count = max(1, dim // 4)  # frequencies per axis, each a sine and a cosine
    freqs = 10.0 ** -(np.arange(count) / count) * math.pi / 2

    def encode(where: np.ndarray) -> np.ndarray:
        angles = where[:, None] * freqs[None]
        return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)

    table = np.concatenate([encode(rows), encode(columns)], axis=1)[:, :dim]
    return np.pad(table, ((0, 0), (0, dim - table.shape[1]))).astype(np.float32)


@keras.saving.register_keras_serializable(package="image_to_audio")
class BahdanauAttention(layers.Layer):
    """Additive attention: score_i = v . tanh(W_k key_i + W_q query)."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.key_proj = layers.Dense(units, name="key_proj")
        self.query_proj = layers.Dense(units, use_bias=False, name="query_proj")
        self.score = layers.Dense(1, name="score")

    def project_keys(self, features):
        """Done once per image, outside the time loop."""
        return self.key_proj(features)

    def call(self, features, keys, query):
        scores = self.score(ops.tanh(keys + ops.expand_dims(self.query_proj(query), 1)))  # [B, N, 1]
        weights = ops.softmax(scores, axis=1)
        return ops.sum(weights * features, axis=1), weights[..., 0]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="image_to_audio")
class FeedForward(layers.Layer):
    """Position-wise two-layer MLP."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.hidden, self.dropout_rate = dim, hidden, dropout
        self.dense_1 = layers.Dense(hidden, activation="gelu", name="dense_1")
        self.dense_2 = layers.Dense(dim, name="dense_2")
        self.dropout = layers.Dropout(dropout)

    def call(self, x, training=None):
        return self.dropout(self.dense_2(self.dense_1(x)), training=training)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "hidden": self.hidden, "dropout": self.dropout_rate}


@keras.saving.register_keras_serializable(package="image_to_audio")
class EncoderBlock(layers.Layer):
    """Pre-norm self-attention over the grid cells, then a feed-forward layer."""

    def __init__(self, dim: int, heads: int, ff_dim: int, dropout: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.heads, self.ff_dim, self.dropout_rate = dim, heads, ff_dim, dropout
        self.norm_1 = layers.LayerNormalization(name="norm_1")
        self.attention_1 = layers.MultiHeadAttention(heads, dim // heads, dropout=dropout, name="attention_1")
        self.norm_2 = layers.LayerNormalization(name="norm_2")
        self.ffn_layer_1 = FeedForward(dim, ff_dim, dropout, name="ffn_layer_1")

    def call(self, x, training=None):
        h = self.norm_1(x)
        x = x + self.attention_1(h, h, training=training)
        return x + self.ffn_layer_1(self.norm_2(x), training=training)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "heads": self.heads, "ff_dim": self.ff_dim,
                "dropout": self.dropout_rate}


@keras.saving.register_keras_serializable(package="image_to_audio")
class DecoderBlock(EncoderBlock):
    """Pre-norm causal self-attention, cross-attention to the grid, feed-forward (sizes as ``EncoderBlock``)."""

    def __init__(self, dim: int, heads: int, ff_dim: int, dropout: float = 0.1, **kwargs):
        super().__init__(dim, heads, ff_dim, dropout, **kwargs)
        self.attention_2 = layers.MultiHeadAttention(heads, dim // heads, dropout=dropout, name="attention_2")
        self.norm_3 = layers.LayerNormalization(name="norm_3")

    def call(self, x, memory, training=None):
        """x [B*k, T, dim]: k captions of each picture in a row; memory [B, cells, dim]: once per picture.

        The cross-attention reads each picture's k captions as one sequence of k*T queries, so the grid's keys
        and values are projected once per picture; each query attends on its own, so the result is the same.
        """
        h = self.norm_1(x)
        x = x + self.attention_1(h, h, use_causal_mask=True, training=training)
        queries = ops.reshape(self.norm_2(x), (ops.shape(memory)[0], -1, self.dim))
        x = x + ops.reshape(self.attention_2(queries, memory, training=training), ops.shape(x))
        return x + self.ffn_layer_1(self.norm_3(x), training=training)

    def memory_keys(self, memory):
        """The cross-attention's keys and values of the grid [B, cells, heads, head_dim], once per picture."""
        return self.attention_2.key_dense(memory), self.attention_2.value_dense(memory)

    def step(self, x, memory_keys, keys, values, column, seen):
        """``call`` at one position x [B, 1, dim] (inference), given the earlier positions' self-attention keys
        and values [B, T, heads, head_dim], into which this position's are added at ``column`` (one-hot [T]).
        ``seen`` [T] marks the positions up to this one. Returns (x, keys, values)."""
        h = self.norm_1(x)
        at = column[None, :, None, None]
        keys = keys + self.attention_1.key_dense(h) * at
        values = values + self.attention_1.value_dense(h) * at
        x = x + _attend(self.attention_1, h, keys, values, seen)
        x = x + _attend(self.attention_2, self.norm_2(x), *memory_keys)
        return x + self.ffn_layer_1(self.norm_3(x)), keys, values


def _attend(attention: layers.MultiHeadAttention, x, keys, values, seen=None):
    """``attention`` of queries x [B, 1, dim] over projected keys and values [B, S, heads, head_dim], the
    positions where ``seen`` [S] is false left out: the layer's own arithmetic, its projections reused."""
    query = attention.query_dense(x) * ops.cast(1.0 / math.sqrt(attention.key_dim), x.dtype)
    scores = ops.einsum("bsnh,bqnh->bnqs", keys, query)
    if seen is not None:
        scores = ops.where(seen[None, None, None, :], scores, ops.cast(-1e9, scores.dtype))
    return attention.output_dense(ops.einsum("bnqs,bsnh->bqnh", ops.softmax(scores, axis=-1), values))
