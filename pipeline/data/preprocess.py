"""The ``preprocess`` stage's work: one validated caption table, its vocabulary, and a report."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.data.layout import find_layout
from pipeline.data.skips import Skips
from pipeline.data.table import SPLITS, build_table
from pipeline.data.validation import DataValidationError, ValidationRules, validate
from pipeline.data.vocabulary import build_vocabulary
from pipeline.errors import ParamsError
from pipeline.files import atomic_dir, atomic_write_json

log = logging.getLogger(__name__)
CAPTIONS_FILE = "captions.csv"
VOCABULARY_FILE = "vocabulary.json"
DATASET_FILE = "dataset.json"
SCENES_FILE = "scenes.jsonl"


@dataclass(frozen=True)
class PreprocessConfig:
    """The ``preprocess`` section of params.yaml."""

    vocab_size: int
    sequence_length: int
    splits: tuple[float, float, float]
    seed: int
    validation: ValidationRules

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "PreprocessConfig":
        """Build from params, with the validation bounds as tuples."""
        rules = dict(params.get("validation") or {})
        rules = ValidationRules(
            caption_words=tuple(rules.get("caption_words", (1, 50))),
            captions_per_image=tuple(rules.get("captions_per_image", (5, 5))),
            captions_per_image_mostly=float(rules.get("captions_per_image_mostly", 0.99)),
            split_fractions={k: tuple(v) for k, v in (rules.get("split_fractions") or {}).items()})
        splits = tuple(float(f) for f in params["splits"])
        if len(splits) != 3 or min(splits) <= 0 or abs(sum(splits) - 1) > 1e-6:
            raise ParamsError(f"preprocess.splits must be three positive fractions summing to 1, got {list(splits)}")
        if int(params["sequence_length"]) < 4 or int(params["vocab_size"]) < 10:
            raise ParamsError("preprocess.sequence_length must be >= 4 and preprocess.vocab_size >= 10")
        return cls(int(params["vocab_size"]), int(params["sequence_length"]), splits, int(params["seed"]), rules)


def preprocess(raw: Path, config: PreprocessConfig, out: Path, report_path: Path) -> dict[str, Any]:
    """Parse ``raw`` into ``out`` (replaced atomically); write the validation report; return summary counts."""
    layout = find_layout(raw)
    skips = Skips()
    table, images = build_table(layout, config.splits, config.seed, skips)
    skips.log()
    counts = {"images": int(len(images)), "captions": int(len(table)), "skipped": skips.total(),
              **{f"{s}_images": int((images["split"] == s).sum()) for s in SPLITS}}
    try:
        report = validate(table, images, config.validation)
    except DataValidationError as error:
        atomic_write_json(report_path, {**error.report, "counts": counts, "skipped": skips.report()})
        raise
    atomic_write_json(report_path, {**report, "counts": counts, "skipped": skips.report()})

    vocabulary = build_vocabulary(table.loc[table["split"] == "train", "caption"], config.vocab_size,
                                  config.sequence_length)
    with atomic_dir(out) as tmp:
        table.to_csv(tmp / CAPTIONS_FILE, index=False)
        vocabulary.save(tmp / VOCABULARY_FILE)
        dataset = {"layout": layout.kind, "images_dir": str(layout.images_dir), "has_scenes": bool(layout.scenes_file)}
        atomic_write_json(tmp / DATASET_FILE, dataset)
        if layout.scenes_file:
            kept = set(images["image"])
            with open(layout.scenes_file, encoding="utf-8") as src, open(tmp / SCENES_FILE, "w") as dst:
                dst.writelines(line for line in src if json.loads(line)["image"] in kept)
    counts["vocabulary"] = len(vocabulary.tokens)
    log.info("preprocessed %s", counts)
    return counts


def fingerprint_test_set(processed: Path) -> str:
    """sha256 of the test split's (image, caption) rows in ``processed``: scores compare only on the same set."""
    import hashlib

    import pandas as pd

    table = pd.read_csv(Path(processed) / CAPTIONS_FILE, keep_default_na=False)
    rows = sorted(zip(*(table.loc[table["split"] == "test", c].tolist() for c in ("image", "caption"))))
    return hashlib.sha256("\n".join(f"{image}\t{caption}" for image, caption in rows).encode()).hexdigest()
