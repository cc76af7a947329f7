"""The content score on the embedded dataset: does a caption state its scene correctly?"""

from __future__ import annotations

from collections import defaultdict
from typing import Mapping

from pipeline.data.phrasing import content_correct
from pipeline.data.scenes import SCENE_TYPES, Scene


def content_scores(captions: Mapping[str, str], scenes: Mapping[str, Scene]) -> dict[str, float]:
    """Share of images whose caption is right, overall (``content``) and per scene type (``content_<type>``)."""
    right: dict[str, list[bool]] = defaultdict(list)
    for image, caption in captions.items():
        scene = scenes[image]
        right[scene.kind].append(content_correct(caption, scene))
    everything = [ok for oks in right.values() for ok in oks]
    scores = {"content": sum(everything) / len(everything) if everything else 0.0}
    for kind in SCENE_TYPES:
        if right[kind]:
            scores[f"content_{kind}"] = sum(right[kind]) / len(right[kind])
    return scores
