"""The caption vocabulary, built with Keras' TextVectorization and saved as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

from pipeline.data.captions import END, START


@dataclass(frozen=True)
class Vocabulary:
    """Tokens by id (0 is padding, 1 unknown) and the padded sequence length."""

    tokens: list[str]
    sequence_length: int
    start: str = START
    end: str = END

    def save(self, path: Path) -> None:
        """Write as JSON, atomically."""
        from pipeline.files import atomic_write_text

        atomic_write_text(path, json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> "Vocabulary":
        """Read what ``save`` wrote."""
        return cls(**json.loads(Path(path).read_text(encoding="utf-8")))


def wrap(caption: str) -> str:
    """The caption between the start and end tokens, as the decoder sees it."""
    return f"{START} {caption} {END}"


def build_vocabulary(captions: Iterable[str], max_tokens: int, sequence_length: int) -> Vocabulary:
    """Adapt a TextVectorization layer on the (training) captions and keep its vocabulary."""
    import keras

    layer = keras.layers.TextVectorization(max_tokens=max_tokens, standardize=None, split="whitespace",
                                           output_sequence_length=sequence_length)
    layer.adapt([wrap(c) for c in captions], batch_size=1024)
    return Vocabulary(tokens=list(layer.get_vocabulary()), sequence_length=sequence_length)


class Tokenizer:
    """Caption text <-> padded id sequences with a saved vocabulary (fast, pure Python)."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        self.index = {t: i for i, t in enumerate(vocabulary.tokens)}
        self.start_id, self.end_id = self.index[vocabulary.start], self.index[vocabulary.end]

    @property
    def size(self) -> int:
        """Number of ids, padding and [UNK] included."""
        return len(self.vocabulary.tokens)

    def encode(self, caption: str) -> list[int]:
        """Ids of ``<start> caption <end>``, cut or zero-padded to the sequence length."""
        length = self.vocabulary.sequence_length
        ids = [self.start_id] + [self.index.get(w, 1) for w in caption.split()][: length - 2] + [self.end_id]
        return ids + [0] * (length - len(ids))

    def decode(self, ids) -> str:
        """Words up to the first end token, without start and padding."""
        words = []
        for i in (int(i) for i in ids):
            if i == self.end_id:
                break
            if i not in (0, self.start_id):
                words.append(self.vocabulary.tokens[i])
        return " ".join(words)
