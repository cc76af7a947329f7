"""Captions for scenes, phrased as varied as annotators would, and reading the content back.

``describe`` writes reference captions for a scene; ``read_content`` recovers from any
caption (a reference or a model's) what it claims: the objects with their counts,
colours and shapes, and the spatial relation. Evaluation compares that with the scene.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from pipeline.data.scenes import COLOURS, SHAPES, Scene, SceneObject

_SIZE_WORDS = {"small": ("small", "little", "tiny"), "large": ("large", "big")}
_REL_PHRASES = {
    "left": ("to the left of", "left of", "on the left of"),
    "right": ("to the right of", "right of", "on the right of"),
    "above": ("above", "over"),
    "below": ("below", "under", "beneath"),
}
_INVERSE = {"left": "right", "right": "left", "above": "below", "below": "above"}
_PLURAL = {s: s + ("es" if s.endswith(("s", "x", "ss")) else "s") for s in SHAPES}
_PREFIXES = ("", "", "there is ", "a picture of ", "an image of ", "this shows ")
_BACKDROPS = ("background", "backdrop")
_COUNT_WORDS = {"a": 1, "an": 1, "one": 1, "single": 1, "two": 2, "pair": 2, "three": 3, "trio": 3}


def _obj_phrase(rng: np.random.Generator, obj: SceneObject) -> str:
    article = str(rng.choice(["a", "a", "one", "a single"]))
    size = f"{rng.choice(_SIZE_WORDS[obj.size])} " if rng.random() < 0.35 else ""
    rest = f"{size}{obj.colour} {obj.shape}"
    return f"{'an' if article == 'a' and rest[0] in 'aeiou' else article} {rest}"


def _group_phrase(rng: np.random.Generator, n: int, colour: str, shape: str) -> str:
    count = {2: ["two", "a pair of"], 3: ["three", "a group of three", "a trio of"]}[n]
    extra = str(rng.choice(["", "", "identical ", "small "]))
    return f"{rng.choice(count)} {extra}{colour} {_PLURAL[shape]}"


def _backdrop(rng: np.random.Generator, scene: Scene) -> str:
    if rng.random() < 0.5:
        return ""
    return f" on a {scene.texture} {rng.choice(_BACKDROPS)}"


def _one_caption(rng: np.random.Generator, scene: Scene) -> str:
    objs = scene.objects
    prefix = str(rng.choice(_PREFIXES))
    if scene.kind == "one":
        body = _obj_phrase(rng, objs[0])
    elif scene.kind in ("two_alike", "three_count"):
        body = _group_phrase(rng, len(objs), objs[0].colour, objs[0].shape)
    elif scene.kind == "relation":
        first, second, rel = objs[0], objs[1], scene.relation
        if rng.random() < 0.5:  # say it from the other object's side
            first, second, rel = second, first, _INVERSE[rel]
        verb = "" if prefix else str(rng.choice(["", "is ", "sits "]))
        body = f"{_obj_phrase(rng, first)} {verb}{rng.choice(_REL_PHRASES[rel])} {_obj_phrase(rng, second)}"
    else:  # three_distinct: listed from left to right, as people read a picture
        phrases = [_obj_phrase(rng, o) for o in sorted(objs, key=lambda o: o.x)]
        body = f"{phrases[0]}, {phrases[1]} and {phrases[2]}"
        if rng.random() < 0.3:
            body = f"three shapes: {body}"
    if prefix == "there is " and scene.kind in ("two_alike", "three_count"):
        prefix = "there are "
    text = f"{prefix}{body}{_backdrop(rng, scene)}"
    return text[0].upper() + text[1:] + " ."


def describe(scene: Scene, rng: np.random.Generator, n: int = 5) -> list[str]:
    """``n`` distinct reference captions for ``scene``, in Flickr8k's style (capitalised, ' .' at the end)."""
    captions: list[str] = []
    for _ in range(50 * n):
        caption = _one_caption(rng, scene)
        if caption not in captions:
            captions.append(caption)
        if len(captions) == n:
            return captions
    raise RuntimeError(f"could not phrase {n} distinct captions for a {scene.kind} scene")


@dataclass(frozen=True)
class Content:
    """What a caption claims: (count, colour, shape) per object group, and one relation or none."""

    objects: tuple[tuple[int, str, str], ...]
    relation: tuple[str, str, str, str, str] | None  # (colour, shape, left|above, colour, shape)

    @classmethod
    def of_scene(cls, scene: Scene) -> "Content":
        """The content a correct caption of ``scene`` states."""
        groups = Counter((o.colour, o.shape) for o in scene.objects)
        objects = tuple(sorted((n, c, s) for (c, s), n in groups.items()))
        relation = None
        if scene.relation:
            a, b = scene.objects[0], scene.objects[1]
            relation = _canonical(a.colour, a.shape, scene.relation, b.colour, b.shape)
        return cls(objects, relation)


def _canonical(c1: str, s1: str, rel: str, c2: str, s2: str) -> tuple[str, str, str, str, str]:
    if rel in ("right", "below"):
        return (c2, s2, _INVERSE[rel], c1, s1)
    return (c1, s1, rel, c2, s2)


_SHAPE_OF = {**{s: s for s in SHAPES}, **{p: s for s, p in _PLURAL.items()}}
_REL_OF = {phrase: rel for rel, phrases in _REL_PHRASES.items() for phrase in phrases}
_REL_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _REL_OF), key=len, reverse=True)) + r")\b")


def read_content(caption: str) -> Content:
    """Parse what ``caption`` says about objects and their relation (robust to word order and filler)."""
    text = re.sub(r"[^a-z ]+", " ", caption.lower())
    rel_match = _REL_RE.search(text)
    mentions: list[tuple[int, tuple[int, str, str]]] = []  # (position, (count, colour, shape))
    words = text.split()
    offsets = [m.start() for m in re.finditer(r"\S+", text)]
    for i, word in enumerate(words):
        if word not in _SHAPE_OF:
            continue
        colour = next((w for w in reversed(words[max(0, i - 3):i]) if w in COLOURS), None)
        if colour is None:
            continue
        count_word = next((w for w in reversed(words[max(0, i - 5):i]) if w in _COUNT_WORDS), None)
        plural = word != _SHAPE_OF[word]
        count = _COUNT_WORDS.get(count_word, 1) if count_word else (0 if plural else 1)
        mentions.append((offsets[i], (count, colour, _SHAPE_OF[word])))
    relation = None
    if rel_match and len(mentions) == 2:
        (p1, (_, c1, s1)), (p2, (_, c2, s2)) = mentions
        if p1 < rel_match.start() < p2:
            relation = _canonical(c1, s1, _REL_OF[rel_match.group(1)], c2, s2)
    groups: Counter = Counter()
    for _, (count, colour, shape) in mentions:
        groups[(colour, shape)] += count
    return Content(tuple(sorted((n, c, s) for (c, s), n in groups.items())), relation)


def content_correct(caption: str, scene: Scene) -> bool:
    """True when ``caption`` names every object's colour and shape, the counts and the relation rightly."""
    said, truth = read_content(caption), Content.of_scene(scene)
    return said.objects == truth.objects and (truth.relation is None or said.relation == truth.relation)
