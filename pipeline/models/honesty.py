"""What a captioner knows: whether a picture looks like its training data, and how likely its caption is right.

A ``Judge`` travels in every bundle (``judge.json`` and the domain check's ``domain.npz``) and reads three things:

- **The domain ratio** of the picture (``pipeline.models.domain``): at most 1 is in domain.
- **The caption's scores**: the mean log-probability of its words, and that of its least likely word.
- **Flip agreement**: the captioner also captions the mirrored picture, and the two captions are compared
  with left and right swapped in the mirrored one: 1 when they state the same content (``content``: the
  embedded dataset's captions are read into objects and relation, so phrasing does not count), else the
  share of words they share (``words``: a multiset Jaccard index from 0 to 1). A caption that changes when
  only the left and right sides swap was a guess.

**Confidence** is a logistic regression of the caption's correctness on these three, fitted on the dev split:
the estimated probability that the caption is right. A caption in domain whose confidence is below
``hedge_below`` is said as a guess; that level is the lowest at which the dev captions at or above it are right
often enough (``selective accuracy``), by a lower confidence bound rather than the observed share.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.files import atomic_write_text
from pipeline.models.domain import DomainCheck

JUDGE_FILE = "judge.json"
MIRRORED = {"left": "right", "right": "left"}  # words that swap when a picture is mirrored


@dataclass(frozen=True)
class Description:
    """A caption with what the captioner knows of it: ``in_domain``, ``confidence`` (0 to 1) and whether that
    reaches the level at which the caption may be said without a hedge (``sure``).

    A captioner without a judge knows none of it: out of domain, confidence 0.
    """

    caption: str
    in_domain: bool
    confidence: float
    sure: bool


COMPARISONS = ("content", "words")


def flip_agreement(caption: str, mirrored: str, compare: str) -> float:
    """How far ``caption`` and ``mirrored`` (with left and right swapped) agree, 0 to 1, by ``compare``:
    ``content`` (1 when they state the same objects and relation, else 0) or ``words`` (multiset Jaccard)."""
    swapped = " ".join(MIRRORED.get(w, w) for w in mirrored.split())
    if compare == "content":
        from pipeline.data.phrasing import read_content

        return float(bool(caption.strip()) and read_content(caption) == read_content(swapped))
    ours, theirs = Counter(caption.split()), Counter(swapped.split())
    union = sum((ours | theirs).values())
    return sum((ours & theirs).values()) / union if union else 0.0


@dataclass
class Judge:
    """The fitted domain check, confidence estimate and hedge level of one captioner."""

    domain: DomainCheck
    compare: str                     # how flip agreement compares captions (``COMPARISONS``)
    coefficients: tuple[float, ...]  # logistic regression: intercept, mean and least word log-probability,
                                     # flip agreement, domain ratio
    hedge_below: float               # in-domain captions with a lower confidence are said as a guess

    def confidence(self, scores: np.ndarray, agreement: np.ndarray, ratios: np.ndarray) -> np.ndarray:
        """Probabilities [B] that captions with these scores [B, 2], flip agreements and domain ratios are right."""
        used = np.reshape(scores, (len(ratios), -1))[:, :len(self.coefficients) - 3]  # a judge may read the mean only
        features = np.column_stack([np.ones(len(ratios)), used, agreement, ratios])
        return _sigmoid(features @ np.asarray(self.coefficients))

    def describe(self, captions: list[str], mirrored: list[str], scores: np.ndarray,
                 images: np.ndarray) -> list[Description]:
        """One description per caption, from its score, the mirrored picture's caption and the picture."""
        ratios = self.domain.ratios(images)
        agreement = np.array([flip_agreement(c, m, self.compare) for c, m in zip(captions, mirrored)])
        return self.assess(captions, ratios, self.confidence(scores, agreement, ratios))

    def assess(self, captions: list[str], ratios: np.ndarray, confidence: np.ndarray) -> list[Description]:
        """One description per caption, from its picture's domain ratio and its confidence."""
        return [Description(c, bool(r <= 1.0), float(p), bool(p >= self.hedge_below))
                for c, r, p in zip(captions, ratios, confidence)]

    def save(self, folder: Path) -> None:
        """Write ``judge.json`` and ``domain.npz`` into ``folder``."""
        self.domain.save(folder)
        atomic_write_text(Path(folder) / JUDGE_FILE, json.dumps({
            "compare": self.compare, "coefficients": list(self.coefficients), "hedge_below": self.hedge_below}))

    @classmethod
    def load(cls, folder: Path) -> "Judge":
        """Read what ``save`` wrote."""
        data = json.loads((Path(folder) / JUDGE_FILE).read_text())
        return cls(DomainCheck.load(folder), data["compare"], tuple(data["coefficients"]), float(data["hedge_below"]))


def fit_logistic(features: np.ndarray, labels: np.ndarray, l2: float = 1e-3,
                 steps: int = 50) -> tuple[float, ...]:
    """Intercept and weights of a logistic regression (Newton's method with a small L2 penalty)."""
    x = np.column_stack([np.ones(len(features)), np.asarray(features, np.float64)])
    y = np.asarray(labels, np.float64)
    w = np.zeros(x.shape[1])
    penalty = l2 * np.eye(x.shape[1])
    penalty[0, 0] = 0.0
    for _ in range(steps):
        p = _sigmoid(x @ w)
        gradient = x.T @ (p - y) + penalty @ w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + penalty
        step = np.linalg.solve(hessian + 1e-9 * np.eye(len(w)), gradient)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return tuple(float(v) for v in w)


def hedge_level(confidence: np.ndarray, correct: np.ndarray, target: float, assurance: float) -> float:
    """The lowest confidence level at which the captions at or above it are right at least ``target`` of the time,
    with probability ``assurance``.

    Captions are taken from the most confident down; the level is the last one at which a one-sided lower
    confidence bound (Clopper-Pearson, at ``assurance``) of the running accuracy still meets the target: the
    largest coverage that does. A few hundred dev captions estimate an accuracy near 0.98 only to about a
    percent, so the bound, not the observed share, decides. None meets it: just above 1 (all are hedged).
    """
    from scipy.stats import beta

    order = np.argsort(-np.asarray(confidence), kind="stable")
    ranked, right = np.asarray(confidence)[order], np.asarray(correct, bool)[order]
    hits, counts = np.cumsum(right), np.arange(1, len(right) + 1)
    lower = np.where(hits > 0, beta.ppf(1 - assurance, np.maximum(hits, 1), counts - hits + 1), 0.0)
    ends = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))  # ties go together, or not at all
    meets = ends[lower[ends] >= target]
    return float(ranked[meets[-1]]) if len(meets) else math.nextafter(1.0, 2.0)


def calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: the mean |accuracy - confidence| over equal-width bins, weighted by count."""
    confidence, correct = np.asarray(confidence, np.float64), np.asarray(correct, np.float64)
    edges = np.minimum((confidence * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        inside = edges == b
        if inside.any():
            error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))
