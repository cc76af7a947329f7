"""Captions of the embedded dataset read back to the content of their scene, and wrong ones do not."""

import numpy as np
import pytest

from pipeline.data.phrasing import Content, content_correct, describe, read_content
from pipeline.data.scenes import SCENE_TYPES, Scene, SceneObject, sample_scene


@pytest.mark.parametrize("kind", SCENE_TYPES)
def test_every_reference_caption_states_its_scene(kind):
    rng = np.random.default_rng(1)
    for _ in range(200):
        scene = sample_scene(rng, kind)
        captions = describe(scene, rng)
        assert len(set(captions)) == 5
        for caption in captions:
            assert content_correct(caption, scene), (caption, scene)


def _relation_scene(relation="left"):
    a = SceneObject("circle", "red", "small", 0.2, 0.5, 0.1)
    b = SceneObject("square", "blue", "large", 0.8, 0.5, 0.15)
    return Scene("relation", (a, b), "plain", relation)


@pytest.mark.parametrize("caption", [
    "a red circle to the left of a blue square",
    "a blue square on the right of a red circle",
    "there is one small red circle left of a big blue square on a dotted background",
])
def test_mirrored_phrasings_of_a_relation_are_both_right(caption):
    assert content_correct(caption, _relation_scene())


@pytest.mark.parametrize("caption", [
    "a red circle to the right of a blue square",  # wrong direction
    "a blue square to the left of a red circle",  # mirrored wrongly
    "a red circle above a blue square",  # wrong axis
    "a red circle and a blue square",  # relation missing
    "a green circle to the left of a blue square",  # wrong colour
    "a red star to the left of a blue square",  # wrong shape
    "a red circle",  # an object missing
])
def test_wrong_content_is_caught(caption):
    assert not content_correct(caption, _relation_scene())


def test_counts_must_match():
    objs = tuple(SceneObject("star", "green", "small", x, 0.5, 0.1) for x in (0.2, 0.5, 0.8))
    scene = Scene("three_count", objs, "striped")
    assert content_correct("a group of three green stars", scene)
    assert not content_correct("two green stars", scene)
    assert not content_correct("green stars", scene)  # a plural with no number states no count
    assert not content_correct("three green stars and a red circle", scene)


def test_read_content_lists_objects_and_canonical_relation():
    content = read_content("A tiny purple cross sits below one large orange triangle .")
    assert content == Content(((1, "orange", "triangle"), (1, "purple", "cross")),
                              ("orange", "triangle", "above", "purple", "cross"))


def test_three_distinct_objects_are_listed_left_to_right():
    rng = np.random.default_rng(2)
    for _ in range(50):
        scene = sample_scene(rng, "three_distinct")
        colours = [o.colour for o in sorted(scene.objects, key=lambda o: o.x)]
        for caption in describe(scene, rng):
            positions = [caption.index(f" {c} ") for c in colours]
            assert positions == sorted(positions), caption


def test_article_agrees_with_the_next_word():
    rng = np.random.default_rng(3)
    for _ in range(200):
        for caption in describe(sample_scene(rng, "one"), rng):
            assert " a orange" not in caption.lower() and not caption.startswith("A orange")
