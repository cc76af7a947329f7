"""Reading caption files in either layout, and cleaning captions."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from pipeline.data.layout import Layout, LayoutError
from pipeline.data.skips import Skips

START, END = "<start>", "<end>"
_NOT_WORD = re.compile(r"[^a-z' ]+")


def clean_caption(text: str) -> str:
    """Lower-case words of letters only, single-spaced (punctuation and digits dropped)."""
    words = _NOT_WORD.sub(" ", text.lower().replace("’", "'")).split()
    return " ".join(w.strip("'") for w in words if w.strip("'"))


def _read_token_file(path: Path, skips: Skips) -> list[tuple[str, str]]:
    """``name.jpg#N<TAB>caption`` lines; malformed ones are counted and skipped."""
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            key, tab, caption = line.partition("\t")
            name, hash_, index = key.rpartition("#")[0], "#" in key, key.rpartition("#")[2]
            if not tab or not hash_ or not name or not index.isdigit() or not caption.strip():
                skips.add("malformed_caption_line", f"{path.name}:{number}: {line!r}")
                continue
            rows.append((name.strip(), caption))
    return rows


def _read_kaggle_csv(path: Path, skips: Skips) -> list[tuple[str, str]]:
    """The Kaggle ``captions.txt``: a CSV with header ``image,caption``."""
    rows = []
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        reader = csv.reader(f)
        header = [h.strip().lower() for h in next(reader, [])]
        if header[:2] != ["image", "caption"]:
            raise LayoutError(f"{path} does not start with the header 'image,caption' (found {header!r})")
        for record in reader:
            if not record:
                continue
            # A caption with unquoted commas splits into more fields: join them back.
            if len(record) < 2 or not record[0].strip() or not ",".join(record[1:]).strip():
                skips.add("malformed_caption_line", f"{path.name}:{reader.line_num}: {record!r}")
                continue
            rows.append((record[0].strip(), ",".join(record[1:])))
    return rows


def read_captions(layout: Layout, skips: Skips) -> pd.DataFrame:
    """All captions as a table with ``image``, ``raw_caption`` and ``caption`` (cleaned); empty ones skipped."""
    read = _read_token_file if layout.kind == "official" else _read_kaggle_csv
    rows = read(layout.captions_file, skips)
    if not rows:
        raise LayoutError(f"{layout.captions_file} holds no well-formed caption line; is it the right file?")
    table = pd.DataFrame(rows, columns=["image", "raw_caption"])
    table["caption"] = table["raw_caption"].map(clean_caption)
    empty = table["caption"] == ""
    for row in table[empty].itertuples():
        skips.add("caption_empty_after_cleaning", f"{row.image}: {row.raw_caption!r}")
    return table[~empty].reset_index(drop=True)
