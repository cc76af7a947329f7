"""Settings of the speech package: the one place that holds their defaults."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .encode import MP3_BITRATES_KBPS
from .errors import InvalidRateError, UnknownEngineError, UnsupportedFormatError
from .languages import resolve_language

ENGINES = ("espeak", "gtts", "auto")
MIME_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav"}
RATE_MIN_WPM, RATE_MAX_WPM = 80, 450  # espeak-ng's own bounds (espeakRATE_MINIMUM/MAXIMUM)


@dataclass(frozen=True)
class SpeechSettings:
    """Defaults and limits of a ``Speaker``.

    Attributes:
        engine: ``espeak`` (offline), ``gtts`` (Google, falls back to espeak) or ``auto``.
        lang: Default language code (see ``languages.LANGUAGES``).
        fmt: Default output format, ``mp3`` or ``wav``.
        rate_wpm: Speaking rate in words per minute. espeak follows it; gTTS has only
            normal and slow speech and speaks slowly below ``gtts_slow_below_wpm``.
        max_chars: Longest text accepted, counted after normalisation.
        cache_entries: Most results kept in the LRU cache (0 turns caching off).
        cache_bytes: Most audio bytes kept in the cache.
        mp3_bitrate_kbps: Bit rate of MP3s encoded from espeak's 22050 Hz PCM, one of ``MP3_BITRATES_KBPS``;
            40 keeps the speech's energy above 4 kHz (and above 8 kHz) as the WAV has it
            (bench/bench_speech.py; docs/benchmarks.md#mp3-settings).
        gtts_timeout_s: Budget for all of gTTS's HTTP requests for one text.
        gtts_base_url: Scheme and host to send gTTS's requests to instead of
            ``https://translate.google.<tld>`` (a test server or a relay); None for Google.
        gtts_slow_below_wpm: Rates below this ask gTTS for slow speech.
        breaker_failures: Consecutive gTTS failures that open the circuit.
        breaker_reset_s: Seconds the circuit stays open before one probe is let through.
    """

    engine: str = "espeak"
    lang: str = "en"
    fmt: str = "mp3"
    rate_wpm: int = 175
    max_chars: int = 500
    cache_entries: int = 256
    cache_bytes: int = 32 * 1024 * 1024
    mp3_bitrate_kbps: int = 40
    gtts_timeout_s: float = 5.0
    gtts_base_url: str | None = None
    gtts_slow_below_wpm: int = 140
    breaker_failures: int = 3
    breaker_reset_s: float = 30.0

    def __post_init__(self) -> None:
        resolve_language(self.lang)
        object.__setattr__(self, "engine", check_engine(self.engine))
        object.__setattr__(self, "fmt", check_format(self.fmt))
        object.__setattr__(self, "lang", self.lang.strip().lower())
        check_rate(self.rate_wpm)
        if self.mp3_bitrate_kbps not in MP3_BITRATES_KBPS:
            raise ValueError(f"SpeechSettings.mp3_bitrate_kbps must be one of {', '.join(map(str, MP3_BITRATES_KBPS))}"
                             f" (the MP3 bit rates at 22050 Hz), not {self.mp3_bitrate_kbps!r}")
        for name in ("max_chars", "breaker_failures"):
            if getattr(self, name) < 1:
                raise ValueError(f"SpeechSettings.{name} must be at least 1")
        for name in ("cache_entries", "cache_bytes", "gtts_timeout_s", "breaker_reset_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"SpeechSettings.{name} must not be negative")

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any], prefix: str = "SPEECH_") -> SpeechSettings:
        """Build settings from ``PREFIX_FIELD`` keys (e.g. a Flask config's ``SPEECH_ENGINE``).

        Keys that are absent keep their defaults; string values are converted to the field's type.
        """
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            key = prefix + field.name.upper()
            if key in config:
                values[field.name] = _convert(config[key], field.default)
        return cls(**values)


def _convert(value: Any, default: Any) -> Any:
    """Convert a config value (possibly a string from the environment) to the default's type."""
    if isinstance(value, str) and default is not None:
        return type(default)(value)
    if default is None and value == "":
        return None
    return value


def check_engine(engine: str) -> str:
    """Return the engine name in lower case if known, else raise ``UnknownEngineError``."""
    key = engine.lower() if isinstance(engine, str) else engine
    if key not in ENGINES:
        raise UnknownEngineError(engine, ENGINES)
    return key


def check_format(fmt: str) -> str:
    """Return the format in lower case if supported, else raise ``UnsupportedFormatError``."""
    key = fmt.lower() if isinstance(fmt, str) else fmt
    if key not in MIME_TYPES:
        raise UnsupportedFormatError(fmt, MIME_TYPES)
    return key


def check_rate(rate: int) -> int:
    """Return ``rate`` if it is an integer number of words per minute espeak accepts."""
    if isinstance(rate, bool) or not isinstance(rate, int) or not RATE_MIN_WPM <= rate <= RATE_MAX_WPM:
        raise InvalidRateError(rate, RATE_MIN_WPM, RATE_MAX_WPM)
    return rate
