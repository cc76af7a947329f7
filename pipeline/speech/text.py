"""Normalisation of the text to speak."""

from __future__ import annotations

import re
import unicodedata

from .errors import EmptyTextError, TextTooLongError

_WHITESPACE = re.compile(r"\s+")


def normalize_text(text: str, max_chars: int) -> str:
    """Return ``text`` in NFC with control characters dropped and whitespace collapsed.

    Line breaks and tabs become spaces; other control and format characters
    (Unicode categories Cc and Cf, e.g. NUL, escape, zero-width space) are removed.

    Raises:
        EmptyTextError: Nothing with a letter or digit is left to speak.
        TextTooLongError: The normalised text is longer than ``max_chars``.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    text = unicodedata.normalize("NFC", _WHITESPACE.sub(" ", text))
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf"))
    text = _WHITESPACE.sub(" ", text).strip()
    if not any(ch.isalnum() for ch in text):
        raise EmptyTextError("text is empty or has no letters or digits to speak")
    if len(text) > max_chars:
        raise TextTooLongError(len(text), max_chars)
    return text
