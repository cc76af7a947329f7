"""Language codes accepted by the speech package, mapped to each engine's own names."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UnsupportedLanguageError


@dataclass(frozen=True)
class Voice:
    """Names one language goes by in each engine.

    Attributes:
        espeak: espeak-ng voice file name (``espeak_SetVoiceByName``), e.g. ``en-us``.
        gtts: gTTS ``lang`` (an IETF tag Google Translate accepts).
        gtts_tld: Google domain suffix, which picks the accent (``com`` is US English).
    """

    espeak: str
    gtts: str
    gtts_tld: str = "com"


# espeak's names are its file names under espeak-ng-data/lang/ ("en-gb" and "fr-fr" do not exist).
LANGUAGES: dict[str, Voice] = {
    "en": Voice(espeak="en-us", gtts="en"),
    "fr": Voice(espeak="fr", gtts="fr", gtts_tld="fr"),
    "de": Voice(espeak="de", gtts="de"),
    "es": Voice(espeak="es", gtts="es", gtts_tld="es"),
    "it": Voice(espeak="it", gtts="it"),
    "pt": Voice(espeak="pt", gtts="pt", gtts_tld="pt"),
    "nl": Voice(espeak="nl", gtts="nl"),
}


def resolve_language(code: str) -> Voice:
    """Return the engine names for a language code such as ``en`` or ``FR``.

    Raises:
        UnsupportedLanguageError: The code is not in ``LANGUAGES``.
    """
    key = code.strip().lower() if isinstance(code, str) else code
    try:
        return LANGUAGES[key]
    except (KeyError, TypeError):
        raise UnsupportedLanguageError(code, LANGUAGES) from None
