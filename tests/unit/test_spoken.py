"""What is said for a conversion: the caption plainly, hedged, or not at all, and the text read."""

import pytest

from pipeline.spoken import PHRASES, compose


def test_a_sure_caption_in_domain_is_said_as_it_is():
    spoken = compose("a red circle left of a blue star", in_domain=True, sure=True)
    assert spoken.said == "plain" and spoken.text == "A red circle left of a blue star."


def test_an_unsure_caption_is_said_as_a_guess():
    spoken = compose("a red circle", in_domain=True, sure=False)
    assert spoken.said == "hedged" and spoken.text == "Probably a red circle."


@pytest.mark.parametrize("sure", [True, False])
def test_out_of_domain_says_the_picture_cannot_be_described_and_not_the_caption(sure):
    spoken = compose("a red circle", in_domain=False, sure=sure)
    assert spoken.said == "unknown" and spoken.text == PHRASES["en"]["unknown"]
    assert "circle" not in spoken.text


@pytest.mark.parametrize("caption", ["", "   ", "...", "12 3"])
def test_an_empty_or_unspeakable_caption_says_so(caption):
    spoken = compose(caption, in_domain=True, sure=True)
    assert spoken.said == "empty" and spoken.text == PHRASES["en"]["empty"]


def test_text_read_in_the_picture_follows_the_caption():
    spoken = compose("a sign", in_domain=False, sure=False, text="EXIT  12")
    assert spoken.text == f"{PHRASES['en']['unknown']} The text reads: EXIT 12."


def test_long_text_is_cut_at_a_word_and_says_more_follows():
    text = " ".join(f"word{i}" for i in range(200))
    spoken = compose("a page", in_domain=True, sure=True, text=text, max_chars=200)
    assert len(spoken.text) <= 200
    assert spoken.text.startswith("A page. The text reads: word0 word1")
    assert spoken.text.endswith("More text follows.")
    cut = spoken.text.removeprefix("A page. The text reads: ").removesuffix(". More text follows.")
    assert all(w in text.split() for w in cut.split())  # whole words only
