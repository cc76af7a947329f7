"""The real gTTS engine against servers on 127.0.0.1: refused, silent, and a fake Google."""

import io
import time

import pytest

from pipeline.speech import Speaker, SpeechSettings
from pipeline.speech.encode import mp3_info
from testkit.speech_servers import GOOGLE_SAMPLE_RATE, FakeGoogleServer, SilentServer, closed_port

sf = pytest.importorskip("soundfile", reason="decoding MP3 in tests needs soundfile")

TIMEOUT = 0.5  # gTTS budget in these tests; margins below are generous multiples of it


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch):
    """gTTS passes the environment's proxies explicitly; keep loopback traffic direct."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def google():
    with FakeGoogleServer() as server:
        yield server


def speaker_for(base_url, **settings):
    return Speaker(SpeechSettings(gtts_base_url=base_url, gtts_timeout_s=TIMEOUT, **settings))


def timed(spk, text, **kwargs):
    start = time.perf_counter()
    result = spk.synthesize(text, **kwargs)
    return result, time.perf_counter() - start


def test_fake_google_success_path(google):
    spk = speaker_for(google.base_url)
    result = spk.synthesize("un chien court sur l'herbe", engine="gtts", lang="fr")
    assert (result.engine, result.fallback_reason, result.mime_type) == ("gtts", None, "audio/mpeg")
    assert google.requests == [("un chien court sur l'herbe", "fr", False)]
    samples, rate = sf.read(io.BytesIO(result.audio), dtype="float32")
    assert rate == GOOGLE_SAMPLE_RATE and len(samples) / rate == pytest.approx(result.duration_s, abs=0.1)
    assert spk.synthesize("un chien court sur l'herbe", engine="auto", lang="fr").cached
    assert len(google.requests) == 1


def test_gtts_wav_is_decoded_from_googles_mp3(google):
    result = speaker_for(google.base_url).synthesize("a dog runs on the grass", engine="gtts", fmt="wav")
    assert result.engine == "gtts" and result.audio[:4] == b"RIFF"
    samples, rate = sf.read(io.BytesIO(result.audio), dtype="float32")
    assert rate == GOOGLE_SAMPLE_RATE and len(samples) / rate > 1.0


def test_slow_rates_ask_google_for_slow_speech(google):
    spk = speaker_for(google.base_url)
    spk.synthesize("a dog", engine="gtts", rate=100)
    spk.synthesize("a dog", engine="gtts", rate=200)
    assert [slow for _, _, slow in google.requests] == [True, False]


def test_long_text_is_sent_in_parts_and_joined(google):
    text = " ".join(["a dog runs on the grass near the lake"] * 8)  # over gTTS's 100 characters
    result = speaker_for(google.base_url, max_chars=1000).synthesize(text, engine="gtts")
    assert len(google.requests) >= 3 and result.engine == "gtts"
    frames, duration, _ = mp3_info(result.audio)
    assert duration == pytest.approx(0.06 * len(text), rel=0.15)


def test_refused_connection_falls_back_to_espeak_quickly():
    result, elapsed = timed(speaker_for(f"http://127.0.0.1:{closed_port()}"), "a dog runs", engine="gtts")
    assert result.engine == "espeak"
    assert result.fallback_reason == "gtts failed: cannot connect to the server"
    assert elapsed < TIMEOUT + 1.0
    assert sf.read(io.BytesIO(result.audio))[1] == 22050


def test_http_error_falls_back(google):
    google.status = 500
    result = speaker_for(google.base_url).synthesize("a dog runs", engine="gtts")
    assert result.engine == "espeak" and "500" in result.fallback_reason


def test_silent_server_times_out_then_circuit_skips_the_wait():
    with SilentServer() as silent:
        spk = speaker_for(silent.base_url, breaker_failures=2, breaker_reset_s=60)
        for i in range(2):
            result, elapsed = timed(spk, f"a dog runs {i}", engine="auto")
            assert result.engine == "espeak"
            assert result.fallback_reason == f"gtts failed: no answer within {TIMEOUT:g} s"
            assert TIMEOUT * 0.8 < elapsed < TIMEOUT + 1.5  # waited, but only as long as the budget
        assert spk.breaker.state == "open"
        result, elapsed = timed(spk, "a cat sleeps", engine="gtts")
        assert result.engine == "espeak" and "circuit is open" in result.fallback_reason
        assert elapsed < TIMEOUT / 2  # no time-out paid: only espeak's few milliseconds


def test_half_open_probe_recovers_when_google_is_back(google):
    class Clock:
        now = 0.0

        def __call__(self):
            return self.now

    clock = Clock()
    google.status = 503
    spk = Speaker(
        SpeechSettings(gtts_base_url=google.base_url, gtts_timeout_s=TIMEOUT, breaker_failures=1, breaker_reset_s=30),
        clock=clock,
    )
    assert spk.synthesize("a dog", engine="gtts").engine == "espeak"
    google.status = 200
    assert "circuit is open" in spk.synthesize("a cat", engine="gtts").fallback_reason
    assert google.requests == []
    clock.now += 30
    assert spk.synthesize("a bird", engine="gtts").engine == "gtts"
    assert spk.breaker.state == "closed"
