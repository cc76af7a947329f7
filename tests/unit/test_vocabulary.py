"""The caption vocabulary: built without TensorFlow, in the order Keras' TextVectorization gives."""

import random
import subprocess
import sys
from pathlib import Path

from pipeline.data.vocabulary import build_vocabulary, wrap

ROOT = Path(__file__).resolve().parents[2]
WORDS = ["a", "red", "blue", "circle", "square", "left", "of", "two", "small", "big", "dog's", "zebra", "ant"]


def test_the_vocabulary_is_textvectorizations_with_ties_and_a_cut():
    import keras

    rng = random.Random(3)
    captions = [" ".join(rng.choices(WORDS, k=rng.randint(1, 6))) for _ in range(60)] + ["ant", "zebra"]
    for max_tokens in (5, 9, 100):
        layer = keras.layers.TextVectorization(max_tokens=max_tokens, standardize=None, split="whitespace")
        layer.adapt([wrap(c) for c in captions])
        assert build_vocabulary(captions, max_tokens, 8).tokens == layer.get_vocabulary()


def test_ties_go_to_the_later_word_and_the_cut_keeps_padding_and_unknown():
    vocabulary = build_vocabulary(["b a", "c"], 5, 6)
    assert vocabulary.tokens == ["", "[UNK]", "<start>", "<end>", "c"]
    assert vocabulary.sequence_length == 6


def test_preprocessing_does_not_import_tensorflow():
    code = ("import sys, pipeline.data.preprocess; "
            "print([m for m in ('tensorflow', 'keras') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         check=True).stdout
    assert out.strip() == "[]"
