"""Speech for captions: an offline engine (espeak-ng) and an online one (gTTS) behind one call.

    >>> from pipeline.speech import synthesize
    >>> result = synthesize("a dog runs on the grass", lang="en", fmt="mp3")
    >>> result.engine, result.mime_type
    ('espeak', 'audio/mpeg')

A web app should create one ``Speaker`` per process (``Speaker.from_config(app.config)``);
``synthesize`` uses a shared default one built from ``SpeechSettings()``.
"""

from __future__ import annotations

import threading

from .base import SpeechResult
from .cache import CacheInfo
from .errors import (
    EmptyTextError,
    EngineError,
    InvalidRateError,
    InvalidTextError,
    SpeechError,
    TextTooLongError,
    UnknownEngineError,
    UnsupportedFormatError,
    UnsupportedLanguageError,
)
from .languages import LANGUAGES
from .service import Speaker
from .settings import ENGINES, MIME_TYPES, SpeechSettings


__all__ = [
    "CacheInfo", "ENGINES", "EmptyTextError", "EngineError", "InvalidRateError", "InvalidTextError",
    "LANGUAGES", "MIME_TYPES", "Speaker", "SpeechError", "SpeechResult",
    "SpeechSettings", "TextTooLongError", "UnknownEngineError", "UnsupportedFormatError",
    "UnsupportedLanguageError", "default_speaker", "synthesize",
]

_default: Speaker | None = None
_default_lock = threading.Lock()


def default_speaker() -> Speaker:
    """Return the process-wide ``Speaker`` with default settings, creating it on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Speaker()
        return _default


def synthesize(
    text: str,
    *,
    lang: str | None = None,
    engine: str | None = None,
    fmt: str | None = None,
    rate: int | None = None,
) -> SpeechResult:
    """Speak ``text`` with the default speaker; see ``Speaker.synthesize``."""
    return default_speaker().synthesize(text, lang=lang, engine=engine, fmt=fmt, rate=rate)
