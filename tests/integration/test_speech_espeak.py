"""The real espeak-ng engine: the audio decodes, sounds like speech, and survives many threads."""

import io
import subprocess
import sys
import threading
import wave
from pathlib import Path

import numpy as np
import pytest

from pipeline.speech import LANGUAGES, EngineError, Speaker, SpeechSettings
from pipeline.speech.encode import mp3_info
from pipeline.speech.espeak import PATH_MAX_BYTES, EspeakEngine, _short_data_path
from pipeline.speech.languages import Voice

sf = pytest.importorskip("soundfile", reason="decoding MP3 in tests needs soundfile")

CAPTION = "a brown dog is running through the green grass near a lake"  # twelve words


@pytest.fixture(scope="module")
def speaker():
    spk = Speaker(SpeechSettings(cache_entries=0))  # every call really synthesises
    spk.warm_up()
    return spk


def decode(result):
    """Decode MP3 or WAV bytes to (float samples in -1..1, sample rate)."""
    samples, rate = sf.read(io.BytesIO(result.audio), dtype="float32")
    return samples, rate


def rms(samples):
    return float(np.sqrt(np.mean(np.square(samples))))


@pytest.mark.parametrize("fmt", ["mp3", "wav"])
def test_caption_decodes_with_plausible_length_and_loudness(speaker, fmt):
    result = speaker.synthesize(CAPTION, fmt=fmt)
    samples, rate = decode(result)
    assert rate == 22050 and samples.ndim == 1
    seconds = len(samples) / rate
    # Twelve words at 175 words per minute is about 4 s; espeak talks a little faster.
    assert 2.0 < seconds < 6.0
    assert result.duration_s == pytest.approx(seconds, abs=0.15)
    assert 0.03 < rms(samples) < 0.5  # speech, neither silence nor clipping noise
    # Speech has pauses: the loudness of 50 ms windows varies a lot.
    windows = samples[: len(samples) // 1102 * 1102].reshape(-1, 1102)
    loudness = np.sqrt(np.mean(np.square(windows), axis=1))
    assert loudness.min() < 0.01 < 0.05 < loudness.max()


def energy_above(samples, rate, hertz):
    power = np.abs(np.fft.rfft(samples)) ** 2
    return power[np.fft.rfftfreq(len(samples), 1 / rate) >= hertz].sum() / power.sum()


@pytest.mark.parametrize("bitrate", [SpeechSettings().mp3_bitrate_kbps, 64])
def test_mp3_has_the_promised_rate_and_bit_rate_and_keeps_the_consonants_above_4_khz(bitrate):
    speaker = Speaker(SpeechSettings(cache_entries=0, mp3_bitrate_kbps=bitrate))
    mp3, wav = speaker.synthesize(CAPTION, fmt="mp3"), speaker.synthesize(CAPTION, fmt="wav")
    frames, seconds, rate = mp3_info(mp3.audio)
    assert rate == 22050 and frames > 0
    assert len(mp3.audio) * 8 / seconds / 1000 == pytest.approx(bitrate, rel=0.03)  # constant bit rate
    (decoded, _), (reference, _) = decode(mp3), decode(wav)
    # What speech needs to stay intelligible (s, f, th, t) lies above 4 kHz: the MP3 keeps as much of it as the
    # WAV has, and of what lies above 8 kHz too (LAME's low-pass at too low a bit rate removes that first).
    assert energy_above(decoded, rate, 4000) == pytest.approx(energy_above(reference, rate, 4000), rel=0.1)
    assert energy_above(decoded, rate, 8000) > 0.8 * energy_above(reference, rate, 8000) > 0


def test_wav_header(speaker):
    result = speaker.synthesize("a dog", fmt="wav")
    with wave.open(io.BytesIO(result.audio)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22050)
    assert result.audio[:4] == b"RIFF" and result.mime_type == "audio/wav"


def test_longer_text_and_slower_rate_give_longer_audio(speaker):
    short = speaker.synthesize("a dog", fmt="wav").duration_s
    long = speaker.synthesize(CAPTION, fmt="wav").duration_s
    slow = speaker.synthesize(CAPTION, fmt="wav", rate=90).duration_s
    fast = speaker.synthesize(CAPTION, fmt="wav", rate=350).duration_s
    assert short < long
    assert fast < long < slow
    assert slow / fast > 2.5


def ltas(samples):
    """Long-term average spectrum (log power in 512-sample frames): a voice's fingerprint."""
    frames = samples[: len(samples) // 512 * 512].reshape(-1, 512) * np.hanning(512)
    return np.log(np.mean(np.abs(np.fft.rfft(frames, axis=1)) ** 2, axis=0) + 1e-9)


def similarity(a, b):
    return float(np.corrcoef(ltas(a), ltas(b))[0, 1])


def test_french_is_spoken_differently_from_english(speaker):
    text = "le chien court dans le parc avec un ballon rouge"
    english, _ = decode(speaker.synthesize(text, lang="en", fmt="wav"))
    french, _ = decode(speaker.synthesize(text, lang="fr", fmt="wav"))
    # French reads the words as French (about 25 % shorter here), with other vowels (spectrum).
    assert abs(len(english) - len(french)) > 0.1 * len(english)
    assert similarity(english, french) < 0.995


def test_voice_and_rate_do_not_leak_between_calls(speaker):
    # espeak-ng is not bit-for-bit repeatable (pitch flutter and other state carry over between
    # calls), so compare lengths: a leaked rate (300) or voice (German, ~30 % longer) shows there.
    first, _ = decode(speaker.synthesize(CAPTION, fmt="wav", lang="en"))
    german, _ = decode(speaker.synthesize(CAPTION, fmt="wav", lang="de", rate=300))
    again, _ = decode(speaker.synthesize(CAPTION, fmt="wav", lang="en"))
    assert abs(len(german) - len(first)) > 0.1 * len(first)
    assert len(again) == pytest.approx(len(first), rel=0.02)


@pytest.mark.parametrize("lang", ["en", "fr", "de", "es", "it", "pt", "nl"])
def test_every_language_speaks(speaker, lang):
    samples, _ = decode(speaker.synthesize("one two three", lang=lang, fmt="wav"))
    assert rms(samples) > 0.03


def test_many_threads_each_get_their_own_valid_audio():
    spk = Speaker(SpeechSettings(cache_entries=8))
    words = ["dog", "cat", "horse", "child", "bird", "man", "woman", "boat"]
    results: dict[tuple[int, int], object] = {}
    errors = []

    def work(n):
        try:
            for i in range(4):
                text = f"a {words[n % 8]} number {n} jumps {i + 1} times" + " high" * (n % 3)
                fmt, lang = ("mp3" if i % 2 else "wav"), ("en" if n % 2 else "fr")
                results[n, i] = (text, spk.synthesize(text, fmt=fmt, lang=lang))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and len(results) == 64
    single = Speaker(SpeechSettings(cache_entries=0))
    for (n, i), (text, result) in results.items():
        samples, rate = decode(result)
        assert rate == 22050 and rms(samples) > 0.03
        # Each thread got the audio for its own text: the same as a lone call gives.
        alone = single.synthesize(text, fmt=result.fmt, lang=result.lang)
        assert result.duration_s == pytest.approx(alone.duration_s, abs=0.05), (n, i)


def test_short_data_path_links_long_paths(tmp_path):
    data = tmp_path / ("d" * 60) / ("e" * 60) / ("f" * 60) / "espeak-ng-data"
    data.mkdir(parents=True)
    (data / "phontab").write_bytes(b"x")
    short = _short_data_path(str(data))
    assert len(short.encode()) <= PATH_MAX_BYTES
    assert (Path(short) / "phontab").read_bytes() == b"x"
    assert _short_data_path("/short/path") == "/short/path"


def test_synthesis_works_when_the_package_lives_under_a_long_path(tmp_path):
    import espeakng_loader

    long_dir = tmp_path / ("x" * 80) / ("y" * 80)
    long_dir.mkdir(parents=True)
    (long_dir / "espeak-ng-data").symlink_to(espeakng_loader.get_data_path())
    script = (
        "import espeakng_loader, sys\n"
        f"espeakng_loader.get_data_path = lambda: {str(long_dir / 'espeak-ng-data')!r}\n"
        "from pipeline.speech import synthesize\n"
        "r = synthesize('a dog runs', fmt='wav')\n"
        "sys.exit(0 if r.duration_s > 0.5 else 3)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_unknown_espeak_voice_is_an_engine_error_and_the_engine_stays_usable():
    engine = EspeakEngine()
    with pytest.raises(EngineError, match="no voice named 'xx-yy'"):
        engine.speak("a dog", Voice(espeak="xx-yy", gtts="en"), 175)
    audio = engine.speak("a dog", LANGUAGES["en"], 175)
    assert len(audio.data) / 2 / audio.sample_rate > 0.3


def test_bad_data_path_raises_instead_of_ending_the_process():
    script = (
        "import espeakng_loader\n"
        "espeakng_loader.get_data_path = lambda: '/nonexistent/espeak-ng-data'\n"
        "from pipeline.speech import EngineError, synthesize\n"
        "try:\n"
        "    synthesize('a dog')\n"
        "except EngineError as exc:\n"
        "    print('caught', exc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "caught espeak-ng failed to initialise" in proc.stdout
