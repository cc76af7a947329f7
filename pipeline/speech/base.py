"""Types shared by the engines and the service: the engine protocol and the result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .encode import Audio
from .languages import Voice


class Engine(Protocol):
    """What the service needs from an engine."""

    name: str

    def speak(self, text: str, voice: Voice, rate_wpm: int) -> Audio:
        """Return audio for normalised ``text``; raise ``EngineError`` on failure."""


@dataclass(frozen=True)
class SpeechResult:
    """Audio for one text, and what produced it.

    Attributes:
        audio: The encoded file (MP3 or WAV bytes).
        engine: The engine that actually spoke (``espeak`` or ``gtts``).
        lang: Language code, e.g. ``en``.
        fmt: ``mp3`` or ``wav``.
        mime_type: ``audio/mpeg`` or ``audio/wav``.
        duration_s: Length of the audio in seconds.
        fallback_reason: Why gtts was asked for but espeak spoke; None otherwise.
        cached: True when the result came from the cache.
    """

    audio: bytes
    engine: str
    lang: str
    fmt: str
    mime_type: str
    duration_s: float
    fallback_reason: str | None = None
    cached: bool = False
