"""Text normalisation, language mapping and argument checks of pipeline.speech."""

import pytest

from pipeline.speech import (
    LANGUAGES,
    EmptyTextError,
    InvalidRateError,
    SpeechSettings,
    TextTooLongError,
    UnknownEngineError,
    UnsupportedFormatError,
    UnsupportedLanguageError,
)
from pipeline.speech.languages import resolve_language
from pipeline.speech.settings import check_engine, check_format, check_rate
from pipeline.speech.text import normalize_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  a dog\n runs\t\ton  grass  ", "a dog runs on grass"),
        ("a\x00 dog\x1b[31m runs\x7f", "a dog[31m runs"),
        ("zero\u200bwidth", "zerowidth"),
        ("cafe\u0301", "caf\u00e9"),  # NFD -> NFC
        ("line\r\nbreak", "line break"),
    ],
)
def test_normalize_text_cleans_whitespace_controls_and_unicode(raw, expected):
    assert normalize_text(raw, max_chars=100) == expected


@pytest.mark.parametrize("raw", ["", "   ", "\n\t", "\x00\x01", "...", " ?! "])
def test_normalize_text_rejects_text_with_nothing_to_speak(raw):
    with pytest.raises(EmptyTextError, match="empty"):
        normalize_text(raw, max_chars=100)


def test_normalize_text_limit_counts_the_normalised_text():
    assert normalize_text("a" * 10 + " " * 50, max_chars=10) == "a" * 10
    with pytest.raises(TextTooLongError, match="11 characters long; the limit is 10") as info:
        normalize_text("a" * 11, max_chars=10)
    assert isinstance(info.value, ValueError)
    assert (info.value.length, info.value.limit) == (11, 10)


def test_normalize_text_rejects_non_strings():
    with pytest.raises(TypeError):
        normalize_text(b"bytes", max_chars=10)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["en", "fr", "de", "es"])
def test_required_languages_map_to_both_engines(code):
    voice = resolve_language(code)
    assert voice.espeak and voice.gtts


def test_language_codes_are_case_insensitive():
    assert resolve_language(" FR ") == LANGUAGES["fr"]


def test_english_uses_espeaks_file_name():
    assert resolve_language("en").espeak == "en-us"


def test_gtts_knows_every_mapped_language():
    from gtts.lang import tts_langs

    known = tts_langs()
    assert all(voice.gtts in known for voice in LANGUAGES.values())


@pytest.mark.parametrize("code", ["xx", "en-gb", "", None, 3])
def test_unknown_language_lists_supported_ones(code):
    with pytest.raises(UnsupportedLanguageError) as info:
        resolve_language(code)
    assert isinstance(info.value, ValueError)
    assert "supported: de, en, es, fr" in str(info.value)


def test_format_engine_and_rate_checks():
    assert check_format("MP3") == "mp3"
    assert check_engine("Auto") == "auto"
    assert check_rate(175) == 175
    with pytest.raises(UnsupportedFormatError, match="supported: mp3, wav"):
        check_format("ogg")
    with pytest.raises(UnknownEngineError, match="supported: auto, espeak, gtts"):
        check_engine("piper")
    for bad in (79, 451, 175.0, True, "175"):
        with pytest.raises(InvalidRateError, match="from 80 to 450"):
            check_rate(bad)


def test_settings_validate_on_creation():
    with pytest.raises(UnsupportedLanguageError):
        SpeechSettings(lang="klingon")
    with pytest.raises(UnknownEngineError):
        SpeechSettings(engine="piper")
    with pytest.raises(ValueError, match="max_chars"):
        SpeechSettings(max_chars=0)
    assert SpeechSettings(engine="GTTS", fmt="WAV", lang="FR").engine == "gtts"


@pytest.mark.parametrize("bitrate", [0, 41, 192, 320])
def test_an_mp3_bit_rate_that_22050_hz_mp3s_cannot_have_is_refused_naming_those_they_can(bitrate):
    with pytest.raises(ValueError, match="8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160"):
        SpeechSettings(mp3_bitrate_kbps=bitrate)
    assert SpeechSettings(mp3_bitrate_kbps=64).mp3_bitrate_kbps == 64


def test_settings_from_mapping_reads_prefixed_keys_and_converts_strings():
    config = {
        "SPEECH_ENGINE": "auto",
        "SPEECH_RATE_WPM": "150",
        "SPEECH_GTTS_TIMEOUT_S": "2.5",
        "SPEECH_GTTS_BASE_URL": "",
        "OTHER": 1,
    }
    settings = SpeechSettings.from_mapping(config)
    assert (settings.engine, settings.rate_wpm, settings.gtts_timeout_s) == ("auto", 150, 2.5)
    assert settings.gtts_base_url is None
    assert settings.fmt == SpeechSettings().fmt  # absent keys keep the defaults
