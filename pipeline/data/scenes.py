"""Scenes of the embedded dataset: what an image holds, sampled from a seed.

A scene is one to three coloured shapes on a textured background. Its type says
what a caption must get right: see ``SCENE_TYPES``. The scene is kept beside the
captions so that evaluation can score a generated caption's content.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (214, 40, 40),
    "green": (46, 170, 60),
    "blue": (40, 90, 220),
    "yellow": (240, 210, 40),
    "purple": (140, 60, 190),
    "orange": (245, 130, 30),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross")
SIZES: tuple[str, ...] = ("small", "large")
RELATIONS: tuple[str, ...] = ("left", "right", "above", "below")
TEXTURES: tuple[str, ...] = ("plain", "striped", "dotted", "checkered", "speckled")
SCENE_TYPES: tuple[str, ...] = ("one", "two_alike", "relation", "three_count", "three_distinct")

# Radius of an object as a fraction of the image side, per size word.
_RADIUS = {"small": (0.09, 0.12), "large": (0.15, 0.19)}


@dataclass(frozen=True)
class SceneObject:
    """One shape in a scene; x and y are its centre as fractions of the image side."""

    shape: str
    colour: str
    size: str
    x: float
    y: float
    radius: float


@dataclass(frozen=True)
class Scene:
    """What one image shows: its type, objects, relation (for ``relation`` scenes) and background."""

    kind: str
    objects: tuple[SceneObject, ...]
    texture: str
    relation: str | None = None  # objects[0] <relation> objects[1]
    background: tuple[int, int, int] = field(default=(128, 128, 128))

    def to_dict(self) -> dict:
        """A JSON-ready description, as stored in the scenes file."""
        data = asdict(self)
        data["objects"] = [asdict(o) for o in self.objects]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Scene":
        """Inverse of ``to_dict``."""
        objects = tuple(SceneObject(**o) for o in data["objects"])
        return cls(
            kind=data["kind"],
            objects=objects,
            texture=data["texture"],
            relation=data.get("relation"),
            background=tuple(data.get("background", (128, 128, 128))),
        )


def _place(rng: np.random.Generator, radii: list[float], tries: int = 200) -> list[tuple[float, float]]:
    """Non-overlapping centres for objects of the given radii, inside the frame."""
    for _ in range(tries):
        centres = [(float(rng.uniform(r + 0.03, 1 - r - 0.03)), float(rng.uniform(r + 0.03, 1 - r - 0.03)))
                   for r in radii]
        if all(np.hypot(a[0] - b[0], a[1] - b[1]) > ra + rb + 0.04
               for i, (a, ra) in enumerate(zip(centres, radii))
               for b, rb in zip(centres[i + 1:], radii[i + 1:])):
            return centres
    raise RuntimeError("could not place objects without overlap; radii too large")


def _place_related(rng: np.random.Generator, radii: list[float], relation: str) -> list[tuple[float, float]]:
    """Two centres whose relation is unambiguous: clearly apart on one axis, close on the other."""
    horizontal = relation in ("left", "right")
    for _ in range(200):
        (x0, y0), (x1, y1) = _place(rng, radii)
        along, across = (x1 - x0, y1 - y0) if horizontal else (y1 - y0, x1 - x0)
        if abs(along) > sum(radii) + 0.06 and abs(across) < 0.5 * abs(along):
            first_before = along > 0  # object 0 is left of / above object 1
            if first_before != (relation in ("left", "above")):  # mirror the picture along that axis
                if horizontal:
                    x0, x1 = 1 - x0, 1 - x1
                else:
                    y0, y1 = 1 - y0, 1 - y1
            return [(x0, y0), (x1, y1)]
    raise RuntimeError(f"could not place two objects {relation} of each other")


def _obj(rng: np.random.Generator, shape: str, colour: str, centre=(0.5, 0.5), size: str | None = None) -> SceneObject:
    size = size or str(rng.choice(SIZES))
    low, high = _RADIUS[size]
    return SceneObject(shape, colour, size, centre[0], centre[1], float(rng.uniform(low, high)))


def _distinct_pairs(rng: np.random.Generator, n: int) -> list[tuple[str, str]]:
    """n (shape, colour) pairs, all different in shape and colour, so each object is nameable."""
    shapes = rng.choice(SHAPES, size=n, replace=False)
    colours = rng.choice(list(COLOURS), size=n, replace=False)
    return [(str(s), str(c)) for s, c in zip(shapes, colours)]


def sample_scene(rng: np.random.Generator, kind: str) -> Scene:
    """Draw a random scene of the given type."""
    if kind not in SCENE_TYPES:
        raise ValueError(f"unknown scene type {kind!r}; expected one of {SCENE_TYPES}")
    texture = str(rng.choice(TEXTURES))
    hue_grey = rng.uniform(60, 200)
    background = tuple(int(np.clip(hue_grey + rng.normal(0, 12), 30, 225)) for _ in range(3))
    relation = None
    if kind == "one":
        objects = [_obj(rng, str(rng.choice(SHAPES)), str(rng.choice(list(COLOURS))))]
    elif kind in ("two_alike", "three_count"):
        n = 2 if kind == "two_alike" else 3
        shape, colour = str(rng.choice(SHAPES)), str(rng.choice(list(COLOURS)))
        objects = [_obj(rng, shape, colour, size="small") for _ in range(n)]
    elif kind == "relation":
        relation = str(rng.choice(RELATIONS))
        # Different shapes and colours, so "the red one" and "the circle" both pick one object.
        objects = [_obj(rng, s, c) for s, c in _distinct_pairs(rng, 2)]
    else:  # three_distinct
        objects = [_obj(rng, s, c, size="small") for s, c in _distinct_pairs(rng, 3)]
    radii = [o.radius for o in objects]
    centres = _place_related(rng, radii, relation) if relation else _place(rng, radii)
    objects = [SceneObject(o.shape, o.colour, o.size, x, y, o.radius) for o, (x, y) in zip(objects, centres)]
    return Scene(kind=kind, objects=tuple(objects), texture=texture, relation=relation, background=background)
