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

    def vectorizer(self):
        """A TextVectorization layer with this vocabulary (tokens split on whitespace, no standardising)."""
        import keras

        return keras.layers.TextVectorization(
            standardize=None, split="whitespace", output_sequence_length=self.sequence_length,
            vocabulary=self.tokens[2:])  # the layer adds padding and [UNK] itself


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
