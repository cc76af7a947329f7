"""Greedy and beam-search decoding, compiled as single tf.functions (a tf.while_loop with fixed-size state).

A decoder offers ``start(grid) -> (memory, state)`` and ``step(memory, state, tokens, t) -> (logits, state)``;
``tokens`` is a [B, max_length] buffer, column 0 the start token, filled in as decoding goes.
Both searches return the token ids and each caption's scores [B, 2], which the confidence estimate reads: the
mean log-probability (natural log) of its words, ``<end>`` included, and the log-probability of its least
likely word (one uncertain count or relation word hides in the mean).
"""

from __future__ import annotations

import tensorflow as tf


def _put_column(tokens: tf.Tensor, t: tf.Tensor, values: tf.Tensor) -> tf.Tensor:
    """``tokens`` with column ``t`` set to ``values`` (the column is still zero)."""
    column = tf.one_hot(t, tf.shape(tokens)[1], dtype=tokens.dtype)
    return tokens + values[:, None] * column[None, :]


def _scores(tokens: tf.Tensor, total: tf.Tensor, worst: tf.Tensor) -> tf.Tensor:
    """[B, 2]: summed log-probabilities over the number of words each caption has (padding not counted), and
    the least log-probability of a word."""
    lengths = tf.reduce_sum(tf.cast(tokens[:, 1:] > 0, tf.float32), 1)
    return tf.stack([total / tf.maximum(lengths, 1.0), worst], axis=1)


def greedy_decode(decoder, grid: tf.Tensor, max_length: int, start_id: int,
                  end_id: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Token ids [B, max_length] (start token first, zeros after <end>) and scores [B, 2]; stops once all
    ended."""
    batch = tf.shape(grid)[0]
    memory, state = decoder.start(grid)
    tokens = tf.concat([tf.fill([batch, 1], start_id), tf.zeros([batch, max_length - 1], tf.int32)], axis=1)
    done, total, worst = tf.zeros([batch], tf.bool), tf.zeros([batch], tf.float32), tf.zeros([batch], tf.float32)

    def body(t, tokens, state, done, total, worst):
        logits, state = decoder.step(memory, state, tokens, t)
        logp = tf.where(done, 0.0, tf.reduce_max(tf.nn.log_softmax(logits), axis=-1))
        word = tf.where(done, 0, tf.argmax(logits, axis=-1, output_type=tf.int32))
        done = done | tf.equal(word, end_id)
        return t + 1, _put_column(tokens, t + 1, word), state, done, total + logp, tf.minimum(worst, logp)

    def cond(t, tokens, state, done, total, worst):
        return tf.logical_and(t < max_length - 1, tf.logical_not(tf.reduce_all(done)))

    loop = tf.while_loop(cond, body, (tf.constant(0), tokens, state, done, total, worst))
    return loop[1], _scores(loop[1], loop[4], loop[5])


def beam_decode(decoder, grid: tf.Tensor, max_length: int, start_id: int, end_id: int,
                beam_width: int = 3, length_penalty: float = 0.7) -> tuple[tf.Tensor, tf.Tensor]:
    """Beam search per image; the best beam by log-probability / length**length_penalty: ids [B, max_length]
    and scores [B, 2]."""
    batch, k = tf.shape(grid)[0], beam_width
    memory, state = decoder.start(grid)
    tile = lambda x: tf.repeat(x, k, axis=0)  # [B, ...] -> [B*K, ...], beams of an image adjacent
    memory, state = tf.nest.map_structure(tile, memory), tf.nest.map_structure(tile, state)
    tokens = tf.concat([tf.fill([batch * k, 1], start_id), tf.zeros([batch * k, max_length - 1], tf.int32)], 1)
    scores = tf.tile(tf.concat([[0.0], tf.fill([k - 1], -1e9)], 0)[None], [batch, 1])  # one live beam at first
    finished, worst = tf.zeros([batch, k], tf.bool), tf.zeros([batch, k], tf.float32)

    def body(t, tokens, state, scores, finished, worst):
        logits, state = decoder.step(memory, state, tokens, t)
        vocab = tf.shape(logits)[-1]
        logp = tf.reshape(tf.nn.log_softmax(logits), [batch, k, vocab])
        # A finished beam may only continue with padding, at no cost.
        pad_only = tf.concat([[0.0], tf.fill([vocab - 1], -1e9)], 0)
        logp = tf.where(finished[..., None], pad_only[None, None], logp)
        flat = tf.reshape(scores[..., None] + logp, [batch, k * vocab])
        scores, index = tf.math.top_k(flat, k)
        parent, word = index // vocab, index % vocab
        chosen = tf.gather(tf.reshape(logp, [batch, k * vocab]), index, batch_dims=1)
        worst = tf.minimum(tf.gather(worst, parent, batch_dims=1), chosen)
        rows = tf.reshape(parent + tf.range(batch)[:, None] * k, [-1])
        tokens, state = tf.gather(tokens, rows), tf.nest.map_structure(lambda s: tf.gather(s, rows), state)
        finished = tf.gather(finished, parent, batch_dims=1) | tf.equal(word, end_id)
        return t + 1, _put_column(tokens, t + 1, tf.reshape(word, [-1])), state, scores, finished, worst

    def cond(t, tokens, state, scores, finished, worst):
        return tf.logical_and(t < max_length - 1, tf.logical_not(tf.reduce_all(finished)))

    start = (tf.constant(0), tokens, state, scores, finished, worst)
    _, tokens, _, scores, _, worst = tf.while_loop(cond, body, start)
    lengths = tf.reshape(tf.reduce_sum(tf.cast(tokens[:, 1:] > 0, tf.float32), 1), [batch, k])
    best = tf.argmax(scores / tf.maximum(lengths, 1.0) ** length_penalty, axis=1, output_type=tf.int32)
    chosen = tf.gather(tf.reshape(tokens, [batch, k, max_length]), best, batch_dims=1)
    return chosen, _scores(chosen, tf.gather(scores, best, batch_dims=1), tf.gather(worst, best, batch_dims=1))


def eager_greedy(encoder, decoder, image, max_length: int, start_id: int, end_id: int) -> list[int]:
    """The same decode step by step in Python (the slow baseline)."""
    memory, state = decoder.start(encoder(image, training=False))
    tokens = tf.concat([tf.fill([1, 1], start_id), tf.zeros([1, max_length - 1], tf.int32)], 1)
    for t in range(max_length - 1):
        logits, state = decoder.step(memory, state, tokens, t)
        word = int(tf.argmax(logits[0]))
        tokens = _put_column(tokens, tf.constant(t + 1), tf.constant([word]))
        if word == end_id:
            break
    return tokens[0].numpy().tolist()


def search(decoder, grid: tf.Tensor, max_length: int, start_id: int, end_id: int, beam_width: int = 1,
           length_penalty: float = 0.7) -> tuple[tf.Tensor, tf.Tensor]:
    """Greedy decoding when ``beam_width`` is 1, else beam search: token ids [B, max_length] and scores [B, 2]."""
    if beam_width > 1:
        return beam_decode(decoder, grid, max_length, start_id, end_id, beam_width, length_penalty)
    return greedy_decode(decoder, grid, max_length, start_id, end_id)
