"""Scoring a decoder on the test split (BLEU, CIDEr-D, the content score, greedy against beam search) and
fitting its judge on the training and dev splits (what it knows, and how sure it may be)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw

from pipeline.data.phrasing import content_correct
from pipeline.data.preprocess import SCENES_FILE
from pipeline.data.scenes import Scene
from pipeline.data.vocabulary import Tokenizer
from pipeline.errors import UserError
from pipeline.metrics.bleu import corpus_bleu
from pipeline.metrics.ceiling import human_bleu
from pipeline.metrics.cider import corpus_cider_d
from pipeline.metrics.content import content_scores
from pipeline.models.captioner import ImageCaptioner
from pipeline.models.decoding import search
from pipeline.models.domain import DomainCheck
from pipeline.models.features import load_grids
from pipeline.models.lite import load_images
from pipeline.models.honesty import Description, Judge, calibration_error, fit_logistic, flip_agreement, hedge_level
from pipeline.models.inputs import Split, load_splits, load_tokenizer

log = logging.getLogger(__name__)
BATCH = 100  # pictures per run of the compiled function while fitting the judge


class StaleFeaturesError(UserError, ValueError):
    """The cached grids do not belong to the caption table (featurize must run again)."""


@dataclass
class EvaluationData:
    """What evaluate reads once for every decoder: the splits, their cached grids, scenes where known."""

    tokenizer: Tokenizer
    splits: dict[str, Split]
    grids: dict[str, np.ndarray]
    scenes: dict[str, Scene] | None

    @classmethod
    def load(cls, processed: Path, features: Path) -> "EvaluationData":
        """Read the preprocessed folder and the featurize stage's grids of every split."""
        tokenizer = load_tokenizer(processed)
        splits = load_splits(processed, tokenizer)
        grids = {}
        for split, data in splits.items():
            names, grids[split] = load_grids(features, split)
            if names != data.names:
                raise StaleFeaturesError(f"the cached {split} grids do not match the caption table: "
                                         f"run `dvc repro featurize` (or the whole pipeline) again")
        scenes_path = Path(processed) / SCENES_FILE
        return cls(tokenizer, splits, grids, load_scenes(scenes_path) if scenes_path.is_file() else None)

    def gate_metric(self, setting: str) -> str:
        """The metric the gate compares: ``setting``, or for ``auto`` content where scenes are known, else bleu4."""
        return setting if setting != "auto" else ("content" if self.scenes else "bleu4")

    @cached_property
    def human(self) -> dict[str, float]:
        """The human ceiling on the test split: BLEU-1..4 of each reference against the others (computed once)."""
        texts = [[r.split() for r in refs] for refs in self.splits["test"].texts]
        return dict(zip(("bleu1", "bleu2", "bleu3", "bleu4"), human_bleu(texts)))


@dataclass
class DecoderScores:
    """One decoder's figures on the test split (from the cached grids) and its served captions of it."""

    metrics: dict[str, float]                 # of the served decoding (what the gate reads)
    extra: dict[str, float]                   # greedy and beam figures, timings
    captions: list[str]


def score_decoder(decoder, data: EvaluationData, beam_width: int, length_penalty: float) -> DecoderScores:
    """Score greedy and beam search on the test split's cached grids."""
    test, names = data.splits["test"], data.splits["test"].names
    greedy, _, greedy_s = generate(decoder, data.grids["test"], data.tokenizer, 1, length_penalty)
    beam, _, beam_s = generate(decoder, data.grids["test"], data.tokenizer, beam_width, length_penalty)
    greedy_scores, beam_scores = (score(captions, test.texts, names, data.scenes) for captions in (greedy, beam))
    served, served_scores = (beam, beam_scores) if beam_width > 1 else (greedy, greedy_scores)
    result = DecoderScores(dict(served_scores), {}, served)
    result.extra.update({f"greedy_{k}": v for k, v in greedy_scores.items()})
    result.extra.update({f"beam_{k}": v for k, v in beam_scores.items()})
    result.extra.update(greedy_ms_per_image=1000 * greedy_s, beam_ms_per_image=1000 * beam_s)
    return result


def correct(captions: list[str], split: Split, scenes: Mapping[str, Scene] | None, min_bleu1: float) -> np.ndarray:
    """Whether each caption states its picture rightly: its scene's content where scenes are known, else a
    sentence BLEU-1 against its references of at least ``min_bleu1``."""
    if scenes:
        return np.array([content_correct(c, scenes[n]) for c, n in zip(captions, split.names)], bool)
    return np.array([corpus_bleu([[r.split() for r in refs]], [c.split()], 1)[0] >= min_bleu1
                     for c, refs in zip(captions, split.texts)], bool)


@dataclass
class Pictures:
    """Prepared pictures (uint8, the captioner's input square) of the splits the judge is fitted and tested on,
    and the domain check fitted on them: shared by every decoder of one encoder."""

    images: dict[str, np.ndarray]
    domain: DomainCheck
    ratios: dict[str, np.ndarray]

    @classmethod
    def fit(cls, captioner: ImageCaptioner, data: EvaluationData, acceptance: float) -> "Pictures":
        """Prepare the train, dev and test pictures as the service prepares an upload; fit the domain check."""
        images = {split: load_images(captioner, data.splits[split].paths) for split in ("train", "dev", "test")}
        domain = DomainCheck.fit(images["train"], images["dev"], acceptance)
        return cls(images, domain, {split: domain.ratios(images[split]) for split in ("dev", "test")})


def fit_judge(captioner: ImageCaptioner, data: EvaluationData, pictures: Pictures,
              settings: Mapping[str, Any]) -> tuple[Judge, dict[str, float], list[Description]]:
    """The captioner's judge, fitted on the dev pictures as the service captions them, its figures on the
    test split (acceptance, coverage and selective accuracy of plain captions, calibration error) and its
    descriptions of the test pictures (what ``describe_arrays`` gives, from the figures' own numbers)."""
    features, right, speakable, captions = {}, {}, {}, {}
    compare = "content" if data.scenes else "words"
    for split in ("dev", "test"):
        images = pictures.images[split]
        raws = [captioner.run_arrays(images[i:i + BATCH]) for i in range(0, len(images), BATCH)]
        captions[split] = [data.tokenizer.decode(row) for raw in raws for row in raw.ids]
        mirrored = [data.tokenizer.decode(row) for raw in raws for row in raw.mirrored]
        agreement = [flip_agreement(c, m, compare) for c, m in zip(captions[split], mirrored)]
        features[split] = np.column_stack([np.concatenate([raw.scores for raw in raws]), agreement,
                                           pictures.ratios[split]])
        right[split] = correct(captions[split], data.splits[split], data.scenes, settings["min_bleu1"])
        speakable[split] = (pictures.ratios[split] <= 1.0) & np.array([bool(c.strip()) for c in captions[split]])
    judge = Judge(pictures.domain, compare, fit_logistic(features["dev"], right["dev"]), 1.0)
    confidence = {s: judge.confidence(f[:, :2], f[:, 2], f[:, 3]) for s, f in features.items()}
    judge.hedge_below = hedge_level(confidence["dev"][speakable["dev"]], right["dev"][speakable["dev"]],
                                    settings["selective_accuracy"], settings["assurance"])
    plain = speakable["test"] & (confidence["test"] >= judge.hedge_below)
    figures = {"in_domain": float(np.mean(pictures.ratios["test"] <= 1.0)), "coverage": float(plain.mean()),
               "selective_accuracy": float(right["test"][plain].mean()) if plain.any() else 1.0,
               "calibration_error": calibration_error(confidence["test"], right["test"]),
               "hedge_below": judge.hedge_below}
    log.info("judge: confidence = sigmoid(%s . [1, mean word log-p, least word log-p, flip agreement, domain "
             "ratio]); test: %s",
             [round(c, 2) for c in judge.coefficients], {k: round(v, 3) for k, v in figures.items()})
    described = judge.assess(captions["test"], pictures.ratios["test"], confidence["test"])
    return judge, figures, described


def outside_figures(captioner: ImageCaptioner, pictures: Sequence) -> dict[str, float]:
    """Shares of out-of-domain pictures (``pipeline.data.outside``) the captioner rejects, photos and made ones."""
    described = captioner.describe_images([p.image for p in pictures])
    figures = {}
    for kind in sorted({p.kind for p in pictures}):
        rejected = [not d.in_domain for d, p in zip(described, pictures) if p.kind == kind]
        figures[f"outside_{kind}_rejected"] = sum(rejected) / len(rejected)
    return figures


def load_scenes(path: Path) -> dict[str, Scene]:
    """Scene per image name, from the preprocessed ``scenes.jsonl``."""
    scenes = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            data = json.loads(line)
            scenes[data.pop("image")] = Scene.from_dict(data)
    return scenes


def generate(decoder, grids: np.ndarray, tokenizer: Tokenizer, beam_width: int, length_penalty: float,
             batch_size: int = 256) -> tuple[list[str], np.ndarray, float]:
    """Captions of cached grids, their scores and the seconds per image, with one compiled search."""
    length, start, end = tokenizer.vocabulary.sequence_length, tokenizer.start_id, tokenizer.end_id
    spec = tf.TensorSpec([None, *grids.shape[1:]], tf.float32)
    compiled = tf.function(lambda g: search(decoder, g, length, start, end, beam_width, length_penalty),
                           input_signature=[spec])
    compiled(tf.constant(grids[:1], tf.float32))  # trace outside the timing
    began = time.perf_counter()
    batches = [compiled(tf.constant(grids[i:i + batch_size], tf.float32)) for i in range(0, len(grids), batch_size)]
    ids = np.concatenate([b[0].numpy() for b in batches])
    scores = np.concatenate([b[1].numpy() for b in batches])
    seconds = (time.perf_counter() - began) / max(1, len(grids))
    return [tokenizer.decode(row) for row in ids], scores, seconds


def score(captions: list[str], references: list[list[str]], names: list[str],
          scenes: dict[str, Scene] | None) -> dict[str, float]:
    """BLEU-1..4, CIDEr-D and, where scenes are known, the content score overall and per scene type."""
    refs = [[r.split() for r in rs] for rs in references]
    hyps = [c.split() for c in captions]
    metrics = {f"bleu{n + 1}": b for n, b in enumerate(corpus_bleu(refs, hyps))}
    metrics["cider_d"] = corpus_cider_d(refs, hyps)[0]
    if scenes:
        metrics.update(content_scores(dict(zip(names, captions)), scenes))
    return metrics


def sample_sheet(paths: list[str], captions: list[str], references: list[list[str]], out: Path,
                 columns: int = 4, tile: int = 160) -> None:
    """A grid of test images, each with its generated caption (bold line) and one reference."""
    rows = (len(paths) + columns - 1) // columns
    text_height = 64
    sheet = Image.new("RGB", (columns * tile, rows * (tile + text_height)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (path, caption, refs) in enumerate(zip(paths, captions, references)):
        x, y = (i % columns) * tile, (i // columns) * (tile + text_height)
        with Image.open(path) as image:
            sheet.paste(image.convert("RGB").resize((tile - 8, tile - 8)), (x + 4, y + 4))
        for k, (text, colour) in enumerate(((caption, "black"), (f"ref: {refs[0]}", "dimgray"))):
            for j, line in enumerate(_wrap(text, 26)[:2]):
                draw.text((x + 4, y + tile + k * 30 + j * 13), line, fill=colour)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])
