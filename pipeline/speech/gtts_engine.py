"""The online engine: Google Translate's voices through gTTS (2.5 or newer, for its time-out)."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

import requests
from gtts import gTTS, gTTSError

from .encode import Audio, mp3_info
from .errors import EngineError
from .languages import Voice

log = logging.getLogger(__name__)


class _RoutedGTTS(gTTS):
    """gTTS whose requests go to ``base_url`` (scheme and host) instead of translate.google.<tld>."""

    def __init__(self, *args: object, base_url: str | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._base_url = base_url.rstrip("/") if base_url else None

    def _prepare_requests(self) -> list[requests.PreparedRequest]:
        prepared = super()._prepare_requests()
        if self._base_url:
            for request in prepared:
                parts = urlsplit(request.url)
                request.prepare_url(f"{self._base_url}{parts.path}", None)
        return prepared


class GttsEngine:
    """Google's voices over HTTPS; returns the MP3 Google sends (24 kHz mono).

    Args:
        timeout_s: Budget for all requests of one text (gTTS sends one per 100 characters);
            each request gets what is left of it as its connect and read time-out.
        base_url: Send requests to this scheme and host instead of Google (tests, relays).
        slow_below_wpm: Google has only normal and slow speech; rates below this ask for slow.
    """

    name = "gtts"

    def __init__(self, timeout_s: float = 5.0, base_url: str | None = None, slow_below_wpm: int = 140) -> None:
        self.timeout_s = timeout_s
        self.base_url = base_url
        self.slow_below_wpm = slow_below_wpm

    def speak(self, text: str, voice: Voice, rate_wpm: int) -> Audio:
        """Fetch Google's MP3 for ``text`` in ``voice.gtts`` from translate.google.<voice.gtts_tld>.

        Raises:
            EngineError: Connection refused, time-out, HTTP error, or no audio in the answer.
        """
        tts = _RoutedGTTS(
            text,
            tld=voice.gtts_tld,
            lang=voice.gtts,
            slow=rate_wpm < self.slow_below_wpm,
            lang_check=False,  # languages are checked against our own table
            timeout=self.timeout_s,
            base_url=self.base_url,
        )
        deadline = time.monotonic() + self.timeout_s
        parts: list[bytes] = []
        try:
            stream = tts.stream()
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise EngineError(f"gtts took longer than {self.timeout_s:g} s")
                tts.timeout = remaining  # read by stream() when it sends the next request
                try:
                    parts.append(next(stream))
                except StopIteration:
                    break
        except (gTTSError, requests.RequestException, AssertionError) as exc:
            raise EngineError(f"gtts failed: {self._describe(exc)}") from exc
        mp3 = b"".join(parts)
        frames, _, sample_rate = mp3_info(mp3)
        if frames == 0:
            raise EngineError("gtts answered without MP3 audio")
        return Audio(mp3, "mp3", sample_rate)

    def _describe(self, exc: BaseException) -> str:
        """Say what went wrong; gTTSError hides the requests exception in its context."""
        cause = exc.__context__ if isinstance(exc, gTTSError) and exc.__context__ else exc
        if isinstance(cause, requests.Timeout):
            return f"no answer within {self.timeout_s:g} s"
        if isinstance(cause, requests.ConnectionError):
            return "cannot connect to the server"
        return str(exc) or type(exc).__name__
