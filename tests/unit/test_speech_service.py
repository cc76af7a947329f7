"""Speaker's routing, fallback, circuit and cache, with fake engines (no library, no network)."""

import io
import math
import struct
import threading
import wave

import pytest

from pipeline.speech import EngineError, Speaker, SpeechSettings, UnsupportedLanguageError
from pipeline.speech.encode import Audio, mp3_info, pcm_to_mp3


def tone_pcm(seconds, rate=16000):
    count = int(seconds * rate)
    return struct.pack(f"<{count}h", *(int(5000 * math.sin(i / 5)) for i in range(count)))


class FakeEspeak:
    name = "espeak"

    def __init__(self):
        self.calls = []
        self.lock = threading.Lock()

    def speak(self, text, voice, rate_wpm):
        with self.lock:
            self.calls.append((text, voice.espeak, rate_wpm))
        return Audio(tone_pcm(0.05 * len(text)), "pcm", 16000)


class FakeGtts:
    name = "gtts"

    def __init__(self, fail=False):
        self.fail = fail
        self.calls = []

    def speak(self, text, voice, rate_wpm):
        self.calls.append((text, voice.gtts, rate_wpm))
        if self.fail:
            raise EngineError("gtts failed: cannot connect to the server")
        return Audio(pcm_to_mp3(tone_pcm(0.05 * len(text), 24000), 24000, 32), "mp3", 24000)


class FakeClock:
    now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def engines():
    return FakeEspeak(), FakeGtts()


def speaker(engines, clock=None, **settings):
    espeak, gtts = engines
    return Speaker(SpeechSettings(**settings), espeak=espeak, gtts=gtts, clock=clock or FakeClock())


def test_defaults_come_from_settings(engines):
    result = speaker(engines).synthesize("a dog runs")
    assert (result.engine, result.lang, result.fmt, result.mime_type) == ("espeak", "en", "mp3", "audio/mpeg")
    assert result.fallback_reason is None and not result.cached
    assert engines[0].calls == [("a dog runs", "en-us", SpeechSettings().rate_wpm)]
    assert result.audio[0] == 0xFF and result.audio[1] & 0xE0 == 0xE0  # an MPEG frame sync
    assert mp3_info(result.audio)[2] == 16000
    assert result.duration_s == pytest.approx(0.5, abs=0.01)


def test_wav_is_a_valid_wav_file(engines):
    result = speaker(engines).synthesize("a dog", fmt="wav", lang="de")
    with wave.open(io.BytesIO(result.audio)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
        assert wav.getnframes() == 4000
    assert result.mime_type == "audio/wav" and engines[0].calls[0][1] == "de"


def test_repeated_request_is_served_from_cache_without_the_engine(engines):
    spk = speaker(engines)
    first = spk.synthesize("a dog runs")
    again = spk.synthesize("  a dog\nruns ")  # same text once normalised
    assert again.cached and again.audio == first.audio
    assert len(engines[0].calls) == 1
    assert spk.cache_info().hits == 1


@pytest.mark.parametrize("change", [{"lang": "fr"}, {"fmt": "wav"}, {"rate": 120}, {"text": "a cat runs"}])
def test_cache_key_includes_text_language_format_and_rate(engines, change):
    spk = speaker(engines)
    spk.synthesize("a dog runs")
    args = {"text": "a dog runs", **change}
    assert not spk.synthesize(args.pop("text"), **args).cached
    assert len(engines[0].calls) == 2


def test_cache_is_bounded(engines):
    spk = speaker(engines, cache_entries=2)
    for text in ("one", "two", "three"):
        spk.synthesize(text)
    assert spk.cache_info().entries == 2
    assert not spk.synthesize("one").cached


def test_gtts_success_reports_gtts_and_is_cached(engines):
    spk = speaker(engines)
    result = spk.synthesize("a dog runs", engine="gtts", lang="fr")
    assert (result.engine, result.fallback_reason) == ("gtts", None)
    assert mp3_info(result.audio)[2] == 24000
    assert engines[1].calls == [("a dog runs", "fr", SpeechSettings().rate_wpm)]
    assert spk.synthesize("a dog runs", engine="auto", lang="fr", rate=170).cached  # same speed bucket
    assert len(engines[1].calls) == 1


def test_gtts_wav_is_decoded_from_its_mp3(engines):
    pytest.importorskip("soundfile")
    result = speaker(engines).synthesize("a dog runs", engine="gtts", fmt="wav")
    with wave.open(io.BytesIO(result.audio)) as wav:
        assert wav.getframerate() == 24000
    assert result.duration_s == pytest.approx(0.5, abs=0.1)


@pytest.mark.parametrize("engine", ["gtts", "auto"])
def test_gtts_failure_falls_back_to_espeak_and_says_why(engine):
    espeak, gtts = FakeEspeak(), FakeGtts(fail=True)
    result = speaker((espeak, gtts)).synthesize("a dog runs", engine=engine)
    assert result.engine == "espeak"
    assert result.fallback_reason == "gtts failed: cannot connect to the server"
    assert len(espeak.calls) == 1


def test_circuit_opens_after_repeated_failures_and_probes_after_cool_down():
    espeak, gtts = FakeEspeak(), FakeGtts(fail=True)
    clock = FakeClock()
    spk = speaker((espeak, gtts), clock=clock, breaker_failures=2, breaker_reset_s=60)
    for i in range(2):
        spk.synthesize(f"caption {i}", engine="gtts")
    skipped = spk.synthesize("caption 2", engine="gtts")
    assert len(gtts.calls) == 2  # the open circuit spared the third call
    assert "circuit is open" in skipped.fallback_reason and skipped.engine == "espeak"

    clock.now += 60
    gtts.fail = False
    probe = spk.synthesize("caption 3", engine="gtts")
    assert probe.engine == "gtts" and spk.breaker.state == "closed"


def test_unexpected_engine_exception_still_answers_the_probe():
    class Broken(FakeGtts):
        def speak(self, *args):
            raise KeyError("bug")

    spk = speaker((FakeEspeak(), Broken()), breaker_failures=1)
    with pytest.raises(KeyError):
        spk.synthesize("a dog", engine="gtts")
    assert spk.breaker.state == "open"


def test_fallback_audio_is_cached_under_espeak(engines):
    espeak, _ = engines
    spk = speaker((espeak, FakeGtts(fail=True)), breaker_failures=1)
    spk.synthesize("a dog", engine="gtts")
    again = spk.synthesize("a dog", engine="gtts")
    assert again.cached and again.fallback_reason and len(espeak.calls) == 1


def test_bad_arguments_are_checked_before_any_engine_runs(engines):
    spk = speaker(engines)
    with pytest.raises(UnsupportedLanguageError):
        spk.synthesize("a dog", lang="xx")
    with pytest.raises(ValueError):
        spk.synthesize("", engine="gtts")
    assert engines[0].calls == [] and engines[1].calls == []


def test_from_config_uses_prefixed_keys():
    spk = Speaker.from_config({"SPEECH_ENGINE": "auto", "SPEECH_CACHE_ENTRIES": 7})
    assert spk.settings.engine == "auto" and spk.settings.cache_entries == 7


def test_mp3_info_counts_frames_of_a_known_clip():
    frames, duration, rate = mp3_info(pcm_to_mp3(tone_pcm(2.0, 22050), 22050, 64))
    assert rate == 22050 and frames > 0
    assert duration == pytest.approx(2.0, abs=0.1)
    assert mp3_info(b"not an mp3 at all") == (0, 0.0, 0)
