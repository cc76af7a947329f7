"""Reading the words in a photo offline, with the OCR models inside rapidocr-onnxruntime's wheel."""

from __future__ import annotations

import importlib.metadata
import logging
import threading
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

import cv2
import numpy as np
import yaml
from PIL import Image, ImageDraw, ImageFont

from pipeline.images import to_rgb, upright

log = logging.getLogger(__name__)
PACKAGE = "rapidocr-onnxruntime"
_LIBRARY_LOGGERS = ("RapidOCR", "OrtInferSession")  # rapidocr's own loggers, at DEBUG with a handler of their own


@dataclass(frozen=True)
class Line:
    """One line of lettering: its words and the mean probability (0 to 1) of its characters."""

    text: str
    confidence: float


@dataclass(frozen=True)
class Reading:
    """All words read, lines top to bottom and left to right, single spaces between words; "" if none."""

    text: str
    lines: tuple[Line, ...]
    seconds: float  # wall time of ``read``, conversion included


class TextReader:
    """rapidocr's detector, orientation classifier and recogniser, loaded once; safe to share between threads.

    The recogniser often runs words together ("NOPARKING"), so spaces come from the picture: a blank stretch
    between two letters is a space if it is at least ``word_gap`` of the line's height and ``word_gap_over_letters``
    times the line's median gap between letters. A zero inside a word of letters is read as the letter O.

    Args:
        max_side: the picture is shrunk (never enlarged) so its long side is at most this many pixels; the
            detector sees it at that size (rapidocr 1.4.4 shrinks its copy to 2000 if larger), the recogniser reads
            the lines from it.
        min_confidence: lines whose mean character probability (0 to 1) is below this are left out.
        word_gap: the least blank stretch that is a space, as a fraction of the line's height (math.inf: only
            the spaces the recogniser wrote itself).
        word_gap_over_letters: the least blank stretch that is a space, over the line's median gap between letters.
        detector_min_side: pictures whose short side is below this many pixels are enlarged to it for the
            detector, which then finds smaller lettering, at a cost; None: never enlarged.
        recognizer_batch: lines the recogniser reads in one batch.
        threads: onnxruntime threads per model; None: onnxruntime's choice (one per core).
    """

    def __init__(self, max_side: int = 2000, min_confidence: float = 0.8, word_gap: float = 0.22,
                 word_gap_over_letters: float = 1.5, detector_min_side: int | None = None,
                 recognizer_batch: int = 6, threads: int | None = 1) -> None:
        from rapidocr_onnxruntime import RapidOCR  # here, so importing this module loads no onnxruntime

        for name in _LIBRARY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        self.max_side, self.min_confidence = max_side, min_confidence
        self.word_gap, self.word_gap_over_letters = word_gap, word_gap_over_letters
        self.detector_min_side, self.recognizer_batch, self.threads = detector_min_side, recognizer_batch, threads
        began = time.perf_counter()
        self.engine = RapidOCR(max_side_len=max_side, rec_batch_num=recognizer_batch,
                               det_limit_type="max" if detector_min_side is None else "min",
                               det_limit_side_len=detector_min_side or 2000,  # ignored by "max", which sizes alone
                               intra_op_num_threads=threads or -1)
        self._detector = self.engine.text_det.postprocess_op
        self._lock = threading.Lock()  # RapidOCR keeps per-call settings and the detector's resizer on itself
        log.debug("text reader loaded in %.2f s", time.perf_counter() - began)

    def describe(self) -> dict[str, Any]:
        """The reader's name, rapidocr-onnxruntime's version, its model files and this reader's settings."""
        config = yaml.safe_load(resources.files("rapidocr_onnxruntime").joinpath("config.yaml").read_text())
        models = [config[part]["model_path"].rsplit("/", 1)[-1] for part in ("Det", "Cls", "Rec")]
        settings = ("max_side", "min_confidence", "word_gap", "word_gap_over_letters", "detector_min_side",
                    "recognizer_batch", "threads")
        return {"name": "rapidocr", "package": PACKAGE, "version": importlib.metadata.version(PACKAGE),
                "models": models, **{name: getattr(self, name) for name in settings}}

    def warm_up(self) -> None:
        """Read one small picture of lettering, so the first real request pays no first-run costs."""
        picture = Image.new("RGB", (320, 96), "white")
        ImageDraw.Draw(picture).text((16, 24), "WARM UP 42", fill="black", font=ImageFont.load_default(40))
        log.debug("warm-up read %r", self.read(picture).text)

    def prepare(self, image: Image.Image) -> np.ndarray:
        """The picture upright, 8-bit, shrunk to ``max_side``, as the BGR array the models take."""
        picture = to_rgb(upright(image))
        scale = self.max_side / max(picture.size)
        if scale < 1:
            size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
            picture = picture.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        return np.ascontiguousarray(np.asarray(picture)[:, :, ::-1])

    def read(self, image: Image.Image) -> Reading:
        """Read the words in ``image`` (any mode; EXIF orientation applied)."""
        began = time.perf_counter()
        picture = self.prepare(image)
        with self._lock:
            found, _ = self.engine(picture, return_word_box=True, text_score=self.min_confidence,
                                   box_thresh=self._detector.box_thresh, unclip_ratio=self._detector.unclip_ratio)
        pieces = []
        for box, text, score, spots, chars, _ in found or []:  # spots: each character's box, in picture pixels
            box = np.asarray(box, np.float32)
            if spaced := self._spaced(picture, box, text, chars, spots):
                pieces.append((box, spaced, score))
        lines = _lines(pieces)
        return Reading(" ".join(line.text for line in lines), lines, time.perf_counter() - began)

    def _spaced(self, picture: np.ndarray, box: np.ndarray, text: str, chars: list[str],
                spots: list[list[list[int]]]) -> str:
        """The line's text with a space wherever a wide enough blank stretch separates two characters."""
        width, height = np.linalg.norm(box[1] - box[0]), np.linalg.norm(box[3] - box[0])
        if len(chars) != len(spots) or height >= 1.5 * width:  # no per-letter positions, or lettering running down
            return " ".join(_letter_o(word) for word in text.split())
        crop = self.engine.get_crop_img_list(picture, [box])[0]  # the line as the recogniser saw it, level
        blank = ~_ink(crop).any(axis=0)  # per column of the crop
        starts, ends = _runs(blank)
        inside = (starts > 0) & (ends < blank.size)  # gaps between letters, not the margins
        letters = float(np.median(ends[inside] - starts[inside])) if inside.any() else 0.0
        gap = max(self.word_gap * crop.shape[0], self.word_gap_over_letters * letters)  # pixels
        axis = (box[1] - box[0]) / max(width, 1e-6)
        centres = [max(0, int(np.dot(np.mean(spot, axis=0) - box[0], axis))) for spot in spots]  # pixels along
        out = chars[:1]
        for left, right, char in zip(centres, centres[1:], chars[1:]):
            run_starts, run_ends = _runs(blank[left:right])
            if char != " " and out[-1] != " " and run_starts.size and (run_ends - run_starts).max() >= gap:
                out.append(" ")
            out.append(char)
        return " ".join(_letter_o(word) for word in "".join(out).split())


def _letter_o(word: str) -> str:
    """``word`` with each zero read as the letter O if it is otherwise all letters (two or more): "ST0P" is STOP,
    "A0" and "10AM" stay as read."""
    if "0" not in word or sum(c.isalpha() for c in word) < 2 or any(c.isdigit() for c in word.replace("0", "")):
        return word
    return word.replace("0", "o" if word.replace("0", "").islower() else "O")


def _ink(crop: np.ndarray) -> np.ndarray:
    """Which pixels of a line's crop are lettering: the lesser side of Otsu's split (lettering covers less of a line
    than its background), less what a plaque's edge leaves: strokes longer than 1.5 heights, thin bits at the top or
    bottom."""
    height = crop.shape[0]
    _, light = cv2.threshold(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ink = light if light.mean() < 0.5 else 1 - light
    ink &= 1 - cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, max(2, round(1.5 * height))), np.uint8))
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    top, tall = stats[:, cv2.CC_STAT_TOP], stats[:, cv2.CC_STAT_HEIGHT]
    sliver = ((top == 0) | (top + tall == height)) & (tall < 0.3 * height)
    sliver[0] = False  # label 0 is the background
    return (ink == 1) & ~sliver[labels]


def _runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the stretches of True in a 1-D boolean array start and end (end exclusive)."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(np.int8), [0]])))
    return edges[::2], edges[1::2]


def _lines(pieces: list[tuple[np.ndarray, str, float]]) -> tuple[Line, ...]:
    """Pieces (box, text, confidence) as lines: a piece whose middle lies within a row's height joins the row; rows
    top to bottom, pieces left to right; a line's confidence weighs its pieces by their number of characters."""
    rows: list[list[tuple[np.ndarray, str, float]]] = []
    for piece in sorted(pieces, key=lambda p: p[0][:, 1].mean()):
        row = rows[-1] if rows else []
        if row and min(p[0][:, 1].min() for p in row) <= piece[0][:, 1].mean() <= max(p[0][:, 1].max() for p in row):
            row.append(piece)
        else:
            rows.append([piece])
    lines = []
    for row in rows:
        row.sort(key=lambda p: p[0][:, 0].min())
        confidence = np.average([score for *_, score in row], weights=[len(text) for _, text, _ in row])
        lines.append(Line(" ".join(text for _, text, _ in row), float(confidence)))
    return tuple(lines)
