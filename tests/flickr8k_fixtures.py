"""Small Flickr8k look-alike archives, in the official and the Kaggle layout, with the real data's quirks.

Images come from the embedded dataset's generator; the archives are laid out as the real
ones are (``Flickr8k_Dataset.zip`` unpacking to the misspelled ``Flicker8k_Dataset/``,
``Flickr8k_text.zip`` with its files at the top level; Kaggle's ``Images/`` + ``captions.txt``).
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from pipeline.data.layout import IMAGES_DIR, SPLIT_FILES, TOKEN_FILE, find_layout
from pipeline.data.synthetic import SyntheticConfig, generate

MISSING_IMAGE = "2258277193_586949ec62.jpg.1"  # the token group with no image, as in the real file


@dataclass
class Flickr8kArchives:
    """Where the archives are and which quirks they hold."""

    dataset_zip: Path
    text_zip: Path
    kaggle_zip: Path
    images: list[str]
    corrupt: str
    grayscale: str
    no_split: str
    expected_skips: dict[str, int] = field(default_factory=dict)


def _read_source(root: Path):
    layout = find_layout(root)
    captions: dict[str, list[str]] = {}
    for line in layout.captions_file.read_text().splitlines():
        key, caption = line.split("\t")
        captions.setdefault(key.split("#")[0], []).append(caption)
    splits = {s: layout.split_files[s].read_text().split() for s in SPLIT_FILES}
    return layout.images_dir, captions, splits


def build_archives(folder: Path, num_images: int = 30, seed: int = 11) -> Flickr8kArchives:
    """Write both official archives and a Kaggle archive into ``folder``."""
    source = folder / "source"
    generate(source, SyntheticConfig(num_images=num_images, seed=seed), workers=1)
    images_dir, captions, splits = _read_source(source)
    names = sorted(captions)
    corrupt, grayscale = names[0], names[1]
    no_split = next(n for n in names if n in splits["train"] and n not in (corrupt, grayscale))
    splits["train"].remove(no_split)

    def image_bytes(name: str) -> bytes:
        data = (images_dir / name).read_bytes()
        if name == corrupt:
            return data[: len(data) // 3]  # truncated mid-stream
        if name == grayscale:
            buffer = io.BytesIO()
            Image.open(images_dir / name).convert("L").save(buffer, "JPEG")
            return buffer.getvalue()
        return data

    dataset_zip = folder / "Flickr8k_Dataset.zip"
    with zipfile.ZipFile(dataset_zip, "w") as z:
        z.writestr(f"{IMAGES_DIR}/", "")
        for name in names:
            z.writestr(f"{IMAGES_DIR}/{name}", image_bytes(name))
        z.writestr(f"__MACOSX/{IMAGES_DIR}/._{names[2]}", b"\x00\x05\x16\x07resource fork")

    token_lines = [f"{n}#{i}\t{c}" for n in names for i, c in enumerate(captions[n])]
    token_lines[7:7] = ["this line has no tab and no number", "#2\tA caption with no image name ."]
    token_lines += [f"{MISSING_IMAGE}#{i}\tA dog runs through the grass ." for i in range(5)]
    text_zip = folder / "Flickr8k_text.zip"
    with zipfile.ZipFile(text_zip, "w") as z:
        z.writestr(TOKEN_FILE, "\n".join(token_lines) + "\n")
        z.writestr("Flickr8k.lemma.token.txt", "\n".join(token_lines) + "\n")
        for split, file_name in SPLIT_FILES.items():
            z.writestr(file_name, "\n".join(splits[split]) + "\n")
        z.writestr("readme.txt", "Flickr8k look-alike for tests.\n")
        z.writestr("CrowdFlowerAnnotations.txt", "")

    kaggle_zip = folder / "flickr8k-kaggle.zip"
    with zipfile.ZipFile(kaggle_zip, "w") as z:
        rows = io.StringIO()
        writer = csv.writer(rows)
        writer.writerow(["image", "caption"])
        for n in names:
            for c in captions[n]:
                writer.writerow([n, c.replace(" .", ", quite plainly .")])  # commas force CSV quoting
        rows.write("just-one-field\n")
        z.writestr("captions.txt", rows.getvalue())
        for name in names:
            z.writestr(f"Images/{name}", image_bytes(name))

    skips = {"malformed_caption_line": 2, "caption_without_image": 5, "image_undecodable": 1, "image_in_no_split": 1}
    return Flickr8kArchives(dataset_zip, text_zip, kaggle_zip, names, corrupt, grayscale, no_split, skips)
