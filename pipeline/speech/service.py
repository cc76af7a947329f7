"""The speech service: settings, engines, cache and circuit breaker behind one call."""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from .base import Engine, SpeechResult
from .cache import CacheInfo, LRUCache
from .circuit import CircuitBreaker
from .encode import Audio, mp3_info, mp3_to_pcm, pcm_to_mp3, pcm_to_wav
from .errors import EngineError
from .espeak import EspeakEngine
from .gtts_engine import GttsEngine
from .languages import Voice, resolve_language
from .settings import MIME_TYPES, SpeechSettings, check_engine, check_format, check_rate
from .text import normalize_text

log = logging.getLogger(__name__)


class Speaker:
    """Turns captions into audio; one per process, safe to share between threads.

    Args:
        settings: Defaults and limits; ``SpeechSettings()`` if None.
        clock: Monotonic clock for the circuit breaker (tests inject a fake one).
        espeak: Offline engine; the real espeak-ng if None.
        gtts: Online engine; gTTS configured from ``settings`` if None.
    """

    def __init__(
        self,
        settings: SpeechSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        espeak: Engine | None = None,
        gtts: Engine | None = None,
    ) -> None:
        self.settings = settings = settings or SpeechSettings()
        self._espeak = espeak or EspeakEngine()
        self._gtts = gtts or GttsEngine(settings.gtts_timeout_s, settings.gtts_base_url, settings.gtts_slow_below_wpm)
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_reset_s, clock, name="gtts circuit")
        self.cache: LRUCache[SpeechResult] = LRUCache(
            settings.cache_entries, settings.cache_bytes, size_of=lambda result: len(result.audio)
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any], prefix: str = "SPEECH_") -> Speaker:
        """Build a speaker from ``SPEECH_*`` keys of a mapping such as a Flask config."""
        return cls(SpeechSettings.from_mapping(config, prefix))

    def warm_up(self) -> None:
        """Load the offline engine now, so that the first request does not pay for it."""
        warm = getattr(self._espeak, "warm_up", None)
        if warm is not None:
            warm()

    def cache_info(self) -> CacheInfo:
        """Return the cache's hit and miss counts and size."""
        return self.cache.info()

    def synthesize(
        self,
        text: str,
        *,
        lang: str | None = None,
        engine: str | None = None,
        fmt: str | None = None,
        rate: int | None = None,
    ) -> SpeechResult:
        """Speak ``text``; arguments left as None take the settings' values.

        ``gtts`` and ``auto`` try Google first and fall back to espeak when it fails or
        its circuit is open; the result then names ``espeak`` and says why in
        ``fallback_reason``. ``auto`` logs that at INFO level, ``gtts`` as a warning.

        Raises:
            InvalidTextError: Empty text (``EmptyTextError``) or too long (``TextTooLongError``).
            UnsupportedLanguageError, UnsupportedFormatError, UnknownEngineError, InvalidRateError:
                A bad argument.
            EngineError: espeak itself failed.
        """
        s = self.settings
        engine = check_engine(s.engine if engine is None else engine)
        fmt = check_format(s.fmt if fmt is None else fmt)
        rate = check_rate(s.rate_wpm if rate is None else rate)
        lang = s.lang if lang is None else lang
        voice = resolve_language(lang)
        lang = lang.strip().lower()
        text = normalize_text(text, s.max_chars)
        if engine == "espeak":
            return self._speak_espeak(text, lang, voice, fmt, rate)
        outcome = self._try_gtts(text, lang, voice, fmt, rate)
        if isinstance(outcome, SpeechResult):
            return outcome
        reason = outcome
        log.log(logging.WARNING if engine == "gtts" else logging.INFO, "falling back to espeak: %s", reason)
        return dataclasses.replace(self._speak_espeak(text, lang, voice, fmt, rate), fallback_reason=reason)

    def _speak_espeak(self, text: str, lang: str, voice: Voice, fmt: str, rate: int) -> SpeechResult:
        key = (text, "espeak", lang, fmt, rate)
        hit = self.cache.get(key)
        if hit is not None:
            return dataclasses.replace(hit, cached=True)
        result = self._finish(self._espeak.speak(text, voice, rate), "espeak", lang, fmt)
        self.cache.put(key, result)
        return result

    def _try_gtts(self, text: str, lang: str, voice: Voice, fmt: str, rate: int) -> SpeechResult | str:
        """Return gtts's result, or the reason it did not speak."""
        # gtts has two speeds only, so rates on the same side of the threshold share an entry.
        speed = "slow" if rate < self.settings.gtts_slow_below_wpm else "normal"
        key = (text, "gtts", lang, fmt, speed)
        hit = self.cache.get(key)
        if hit is not None:
            return dataclasses.replace(hit, cached=True)
        if fmt == "wav" and importlib.util.find_spec("soundfile") is None:
            return "WAV from gtts needs soundfile to decode Google's MP3 (pip install soundfile)"
        if not self.breaker.allow():
            return "gtts skipped: its circuit is open after repeated failures"
        try:
            result = self._finish(self._gtts.speak(text, voice, rate), "gtts", lang, fmt)
        except EngineError as exc:
            self.breaker.record_failure()
            return str(exc)
        except BaseException:
            self.breaker.record_failure()  # never leave a half-open probe unanswered
            raise
        self.breaker.record_success()
        self.cache.put(key, result)
        return result

    def _finish(self, audio: Audio, engine: str, lang: str, fmt: str) -> SpeechResult:
        """Encode engine output to ``fmt`` and measure its duration."""
        if audio.kind == "mp3" and fmt == "mp3":
            data, duration = audio.data, mp3_info(audio.data)[1]
        else:
            pcm, sample_rate = mp3_to_pcm(audio.data) if audio.kind == "mp3" else (audio.data, audio.sample_rate)
            duration = len(pcm) / 2 / sample_rate
            if fmt == "wav":
                data = pcm_to_wav(pcm, sample_rate)
            else:
                data = pcm_to_mp3(pcm, sample_rate, self.settings.mp3_bitrate_kbps)
        return SpeechResult(data, engine, lang, fmt, MIME_TYPES[fmt], round(duration, 3))
