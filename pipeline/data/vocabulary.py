"""The caption vocabulary: the training captions' words by count, saved as JSON."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

from pipeline.data.captions import END, START

PADDING, UNKNOWN = "", "[UNK]"  # ids 0 and 1


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
    """The (training) captions' words with the start and end tokens, most frequent first, ties in reverse
    code-point order, cut to ``max_tokens`` with padding and unknown: the order and cut of Keras'
    TextVectorization (whitespace split, no standardisation; captions are already clean)."""
    counts = Counter(word for caption in captions for word in wrap(caption).split())
    for special in (PADDING, UNKNOWN):
        counts.pop(special, None)
    ranked = sorted(counts, key=lambda word: (counts[word], word), reverse=True)
    return Vocabulary(tokens=[PADDING, UNKNOWN, *ranked[:max(0, max_tokens - 2)]], sequence_length=sequence_length)


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
