"""What is said for a conversion, in one language: the caption as it may honestly be said, and the text read.

A caption is said plainly when its picture is in domain and its confidence reaches the model's hedge level,
as a guess ("Probably ...") when in domain but below it, and not at all when the picture is out of domain
or the caption is empty: the listener then hears that the picture cannot be described reliably.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The sentences around a caption, per language. A language is offered only where the model captions in it too.
PHRASES: dict[str, dict[str, str]] = {
    "en": {"plain": "{caption}.", "hedged": "Probably {caption}.",
           "unknown": "This picture does not look like the ones I learned from, so I cannot describe it reliably.",
           "empty": "I cannot describe this picture.",
           "text": "The text reads: {text}.", "more": "More text follows."},
}
SAY = ("plain", "hedged", "unknown", "empty")  # how a caption was said (the ``said`` field)


@dataclass(frozen=True)
class Spoken:
    """The sentence spoken and how the caption was said (one of ``SAY``)."""

    text: str
    said: str


def spoken_languages() -> tuple[str, ...]:
    """The languages the framing sentences exist in."""
    return tuple(PHRASES)


def compose(caption: str, in_domain: bool, sure: bool, lang: str = "en", text: str = "",
            max_chars: int = 500) -> Spoken:
    """The sentence to speak for a caption (and the text read in the picture), at most ``max_chars`` long.

    ``sure``: the caption's confidence reaches its model's hedge level.
    Text that does not fit is cut at a word and followed by "More text follows."
    """
    phrases = PHRASES[lang]
    caption = " ".join(caption.split()).rstrip(".")
    if not _speakable(caption):
        said = "empty"
    elif not in_domain:
        said = "unknown"
    else:
        said = "plain" if sure else "hedged"
    sentence = phrases[said].format(caption=caption)
    sentence = sentence[0].upper() + sentence[1:]
    text = " ".join(text.split())
    if text:
        full = f"{sentence} {phrases['text'].format(text=text)}"
        if len(full) <= max_chars:
            sentence = full
        else:
            room = max_chars - len(sentence) - len(phrases["text"].format(text="")) - len(phrases["more"]) - 2
            cut = text[:max(room, 0) + 1].rsplit(" ", 1)[0] if room > 0 else ""
            sentence = f"{sentence} {phrases['text'].format(text=cut)} {phrases['more']}" if cut else \
                f"{sentence} {phrases['more']}"
    return Spoken(sentence, said)


def _speakable(caption: str) -> bool:
    """True when the caption has at least one letter (anything else says nothing a listener can use)."""
    return bool(re.search(r"[^\W\d_]", caption))
