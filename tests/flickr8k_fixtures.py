"""Small Flickr8k look-alike archives, in the official and the Kaggle layout, with the real data's quirks.

``build_archives``' images come from the embedded dataset's generator; ``build_photo_archives``' are real
photographs (the ones ``pipeline.data.outside`` reads from installed wheels, cropped and mirrored) with invented
captions. The archives are laid out as the real ones are (``Flickr8k_Dataset.zip`` unpacking to the misspelled
``Flicker8k_Dataset/``, ``Flickr8k_text.zip`` with its files at the top level; Kaggle's ``Images/`` +
``captions.txt``).
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.data.layout import IMAGES_DIR, SPLIT_FILES, TOKEN_FILE, find_layout
from pipeline.data.outside import outside_pictures
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


# Five invented captions for each photograph ``pipeline.data.outside`` reads from the installed wheels, in
# Flickr8k's style; a photo's crops and mirror images share them.
PHOTO_CAPTIONS = {
    "skimage-astronaut": ["A woman in an orange space suit smiles in front of a flag .",
                          "An astronaut in an orange suit poses beside the flag .",
                          "A smiling woman wears an orange flight suit .",
                          "A woman in orange stands in front of a flag and a model of a shuttle .",
                          "An astronaut smiles for her portrait ."],
    "skimage-brick": ["A grey brick wall .", "Rows of bricks in a wall .", "A close view of an old brick wall .",
                      "A wall made of grey bricks and mortar .", "Bricks laid in rows ."],
    "skimage-camera": ["A man stands in a field with a camera on a tripod .",
                       "A photographer looks into his camera on a tripod .",
                       "A man in a dark coat takes a picture in a field .",
                       "A man with a camera stands on the grass .",
                       "A photographer works outside in black and white ."],
    "skimage-cell": ["A cell seen through a microscope .", "A grey cell under a microscope .",
                     "A single cell on a grey background .", "A microscope picture of a cell .",
                     "A round cell seen up close ."],
    "skimage-chelsea": ["An orange cat looks to the side .", "A ginger cat sits and stares .",
                        "A tabby cat with green eyes looks away .", "An orange and white cat sits still .",
                        "A cat looks at something beside it ."],
    "skimage-clock": ["A clock hangs on a wall .", "A round clock on a white wall .",
                      "A wall clock shows the time .", "A clock with black hands on a wall .",
                      "A clock seen from the side ."],
    "skimage-coffee": ["A cup of coffee on a saucer .", "A white cup of coffee with a spoon .",
                       "A cup of coffee on a table .", "Coffee in a white cup with foam on top .",
                       "A coffee cup sits on a plate ."],
    "skimage-coins": ["Old coins lie on a dark table .", "Many coins in rows on a dark background .",
                      "A collection of coins .", "Rows of round coins .", "Coins laid out on a table ."],
    "skimage-grass": ["A close view of green grass .", "Blades of grass .", "A patch of grass .",
                      "Grass growing thick .", "Long grass seen from above ."],
    "skimage-gravel": ["A close view of gravel .", "Small stones on the ground .", "A patch of grey gravel .",
                       "Gravel seen from above .", "Many small grey stones ."],
    "skimage-hubble-deep-field": ["Many galaxies in the dark sky .", "Stars and galaxies in space .",
                                  "A picture of deep space full of galaxies .", "Bright galaxies on black .",
                                  "The night sky with many small galaxies ."],
    "skimage-immunohistochemistry": ["Stained tissue under a microscope .", "Brown and blue cells in tissue .",
                                     "A microscope picture of stained cells .", "Tissue with brown spots .",
                                     "Cells stained blue and brown ."],
    "skimage-microaneurysms": ["A grey picture of the back of an eye .", "Blood vessels in an eye .",
                               "A close view of the retina in grey .", "Small dark spots on a grey eye .",
                               "The inside of an eye in black and white ."],
    "skimage-moon": ["The surface of the moon .", "Craters on the moon .", "A grey picture of the moon .",
                     "The moon seen up close .", "Many craters on a grey surface ."],
    "skimage-page": ["A page of printed text .", "A page from an old book .", "Lines of text on paper .",
                     "A printed page with words .", "Text on a white page ."],
    "skimage-retina": ["The back of an eye .", "An orange retina with blood vessels .",
                       "A picture of the inside of an eye .", "Red blood vessels on an orange eye .",
                       "A round picture of a retina ."],
    "skimage-rocket": ["A rocket stands on the launch pad .", "A white rocket ready to launch .",
                       "A rocket on its pad under a blue sky .", "A tall rocket beside a tower .",
                       "A space rocket stands on the ground ."],
    "skimage-stereo-motorcycle": ["A red motorcycle in a room .", "A motorcycle parked inside .",
                                  "A red motorbike stands on the floor .", "A motorcycle in front of a wall .",
                                  "A parked red motorcycle ."],
    "skimage-text": ["Letters and numbers on a sign .", "Writing on a grey wall .", "A sign with black letters .",
                     "Words painted on a wall .", "Text on a sign ."],
    "sklearn-china": ["A temple with a red roof among trees .", "An old building with a curved roof .",
                      "A temple under a blue sky .", "A building with a tiled roof and trees .",
                      "An old temple in a park ."],
    "sklearn-flower": ["A pink flower in the sun .", "A flower with a yellow middle .",
                       "A close view of a pink flower .", "A flower with pink petals .",
                       "A bright flower on a green background ."],
    "matplotlib-grace-hopper": ["A woman in a navy uniform .", "A woman in uniform smiles for a portrait .",
                                "A portrait of a woman in a dark uniform .", "An officer in a navy uniform .",
                                "A woman with short hair in uniform ."],
}


@dataclass
class PhotoArchives:
    """Flickr8k's two official archives made of real photographs, and what they hold."""

    dataset_zip: Path
    text_zip: Path
    images: list[str]
    splits: dict[str, list[str]]
    source: dict[str, str]  # image name -> the photo it was made from


def _variants(image: Image.Image, side: int) -> list[Image.Image]:
    """Four pictures of one photo: the whole of it, its mirror image, a centre crop and a corner crop."""
    width, height = image.size
    whole = image.copy()
    whole.thumbnail((side, side))
    centre = image.crop((width // 6, height // 6, width - width // 6, height - height // 6))
    corner = image.crop((0, 0, width * 3 // 4, height * 3 // 4))
    return [whole, whole.transpose(Image.Transpose.FLIP_LEFT_RIGHT), centre.resize((side, side * height // width)),
            corner.resize((side * 3 // 4, side * 3 // 4 * height // width))]


def build_photo_archives(folder: Path, side: int = 240) -> PhotoArchives:
    """``Flickr8k_Dataset.zip`` and ``Flickr8k_text.zip`` of real photographs (``pipeline.data.outside``'s),
    four pictures of each (``_variants``) about ``side`` pixels wide, five invented captions each.

    The first three pictures of every photo are training images, the fourth a dev or a test image in turn
    (66 / 11 / 11 of 88); photos in grey are saved as grey JPEGs, as some of Flickr8k's are.
    """
    photos = [p for p in outside_pictures() if p.kind == "photo"]
    names, source, splits = [], {}, {"train": [], "dev": [], "test": []}
    folder.mkdir(parents=True, exist_ok=True)
    dataset_zip = folder / "Flickr8k_Dataset.zip"
    with zipfile.ZipFile(dataset_zip, "w") as z:
        z.writestr(f"{IMAGES_DIR}/", "")
        for number, photo in enumerate(photos):
            pixels = np.asarray(photo.image)
            grey = bool((pixels == pixels[..., :1]).all())
            for k, picture in enumerate(_variants(photo.image, side)):
                name = f"{1000 + number}_{k}_{photo.name}.jpg"
                buffer = io.BytesIO()
                (picture.convert("L") if grey else picture).save(buffer, "JPEG", quality=85)
                z.writestr(f"{IMAGES_DIR}/{name}", buffer.getvalue())
                names.append(name)
                source[name] = photo.name
                splits["train" if k < 3 else ("dev", "test")[number % 2]].append(name)
    text_zip = folder / "Flickr8k_text.zip"
    token_lines = [f"{n}#{i}\t{c}" for n in names for i, c in enumerate(PHOTO_CAPTIONS[source[n]])]
    with zipfile.ZipFile(text_zip, "w") as z:
        z.writestr(TOKEN_FILE, "\n".join(token_lines) + "\n")
        for split, file_name in SPLIT_FILES.items():
            z.writestr(file_name, "\n".join(splits[split]) + "\n")
        z.writestr("readme.txt", "Flickr8k look-alike of real photographs, for tests.\n")
    return PhotoArchives(dataset_zip, text_zip, names, splits, source)
