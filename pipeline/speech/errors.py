"""Exceptions raised by the speech package.

Errors a caller can cause subclass ``ValueError`` (and ``SpeechError``) so that a web
handler or the command line can answer them narrowly; engine failures subclass
``RuntimeError``.
"""

from __future__ import annotations

from collections.abc import Iterable


class SpeechError(Exception):
    """Base class for every error raised by ``pipeline.speech``."""


class InvalidTextError(SpeechError, ValueError):
    """The text cannot be spoken."""


class EmptyTextError(InvalidTextError):
    """The text is empty, or has nothing to speak once normalised."""


class TextTooLongError(InvalidTextError):
    """The normalised text is longer than the configured limit."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"text is {length} characters long; the limit is {limit}: shorten it")
        self.length = length
        self.limit = limit


class _ChoiceError(SpeechError, ValueError):
    """A value that is not one of a fixed set of choices."""

    what = "value"

    def __init__(self, value: object, supported: Iterable[str]) -> None:
        self.value = value
        self.supported = tuple(sorted(supported))
        super().__init__(f"unsupported {self.what} {value!r}; supported: {', '.join(self.supported)}")


class UnsupportedLanguageError(_ChoiceError):
    """The language code is not one this package maps to every engine."""

    what = "language"


class UnsupportedFormatError(_ChoiceError):
    """The audio format is neither mp3 nor wav."""

    what = "audio format"


class UnknownEngineError(_ChoiceError):
    """The engine name is not one of ``espeak``, ``gtts``, ``auto``."""

    what = "engine"


class InvalidRateError(SpeechError, ValueError):
    """The speaking rate (words per minute) is outside the range espeak accepts."""

    def __init__(self, rate: object, low: int, high: int) -> None:
        super().__init__(f"speaking rate {rate!r} is not an integer from {low} to {high} words per minute")
        self.rate = rate


class EngineError(SpeechError, RuntimeError):
    """An engine failed to produce audio (network, time-out, library failure)."""
