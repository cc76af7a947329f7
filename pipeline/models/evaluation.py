"""Scoring a captioner on the test split: BLEU, CIDEr-D, the content score, greedy against beam search."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw

from pipeline.data.scenes import Scene
from pipeline.data.vocabulary import Tokenizer
from pipeline.metrics.bleu import corpus_bleu
from pipeline.metrics.cider import corpus_cider_d
from pipeline.metrics.content import content_scores
from pipeline.models.decoding import search


def load_scenes(path: Path) -> dict[str, Scene]:
    """Scene per image name, from the preprocessed ``scenes.jsonl``."""
    scenes = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            data = json.loads(line)
            scenes[data.pop("image")] = Scene.from_dict(data)
    return scenes


def generate(decoder, grids: np.ndarray, tokenizer: Tokenizer, beam_width: int, length_penalty: float,
             batch_size: int = 256) -> tuple[list[str], float]:
    """Captions of cached grids and the seconds per image, with one compiled search."""
    length, start, end = tokenizer.vocabulary.sequence_length, tokenizer.start_id, tokenizer.end_id
    spec = tf.TensorSpec([None, *grids.shape[1:]], tf.float32)
    compiled = tf.function(lambda g: search(decoder, g, length, start, end, beam_width, length_penalty),
                           input_signature=[spec])
    compiled(tf.constant(grids[:1], tf.float32))  # trace outside the timing
    began = time.perf_counter()
    ids = np.concatenate([compiled(tf.constant(grids[i:i + batch_size], tf.float32)).numpy()
                          for i in range(0, len(grids), batch_size)])
    seconds = (time.perf_counter() - began) / max(1, len(grids))
    return [tokenizer.decode(row) for row in ids], seconds


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
