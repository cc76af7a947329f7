"""Speech for the service: one ``Speaker`` per process, configured from the ``SPEECH_*`` keys."""

from __future__ import annotations

from flask import Flask

from app.errors import ApiError
from pipeline.speech import (
    Speaker,
    UnknownEngineError,
    UnsupportedFormatError,
    UnsupportedLanguageError,
)
from pipeline.speech.languages import resolve_language
from pipeline.speech.settings import check_engine, check_format
from pipeline.spoken import spoken_languages

_FIELDS = {UnsupportedLanguageError: ("unsupported_language", "lang"),  # error -> (code, form field)
           UnsupportedFormatError: ("unsupported_format", "format"),
           UnknownEngineError: ("unknown_engine", "engine")}


def check_options(speaker: Speaker, lang: str | None, engine: str | None, fmt: str | None) -> tuple[str, str, str]:
    """The request's speech options with the speaker's defaults filled in; a bad one gives 400 naming the choices.

    Checked before the model runs, so a typo costs nothing.
    """
    settings = speaker.settings
    try:
        lang = lang if lang is not None else settings.lang
        resolve_language(lang)
        return lang.strip().lower(), check_engine(engine or settings.engine), check_format(fmt or settings.fmt)
    except tuple(_FIELDS) as exc:
        code, field = _FIELDS[type(exc)]
        choices = [c for c in exc.supported if c in spoken_languages()] if field == "lang" else exc.supported
        raise ApiError(f"{field} must be one of {', '.join(choices)} (or left out for the default)",
                       code=code) from None


def check_caption_language(lang: str, caption_languages: tuple[str, ...]) -> None:
    """A 400 naming the available languages unless the model captions in ``lang`` and it can be framed in it:
    everything spoken for a conversion is in one language."""
    available = [code for code in caption_languages if code in spoken_languages()]
    if lang not in available:
        raise ApiError(f"lang: this model describes pictures only in {', '.join(available) or 'no language'}; "
                       f"choose one of those", code="unsupported_language")


def init_app(app: Flask) -> None:
    """Attach the process's speaker."""
    app.extensions["speaker"] = Speaker.from_config(app.config)
