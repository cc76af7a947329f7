"""Out-of-domain pictures: real photos that installed wheels ship, and a few made ones a user might upload.

The captioner knows only drawn coloured shapes; on these it should say it cannot describe the picture.
Order is fixed: scikit-image's photos (by loader name), scikit-learn's, matplotlib's, then the made ones.
Nothing here touches the network: every photo is read from a file inside its package's wheel.
"""

from __future__ import annotations

import functools
import importlib
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pipeline.files import atomic_path
from pipeline.images import to_rgb

log = logging.getLogger(__name__)

# The photographs among skimage.data's loaders whose files are in its wheel (microscopy and retina
# photographs count: they are real photos, just not everyday ones). Left out: checkerboard, colorwheel, logo,
# shepp_logan_phantom (drawn, not photographed), horse (a binary silhouette), lfw_subset (25 px faces),
# cat (the same picture as chelsea), and every loader that fetches through pooch (brain, cells3d, eagle, ...).
SKIMAGE_PHOTOS = ("astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins", "grass",
                  "gravel", "hubble_deep_field", "immunohistochemistry", "microaneurysms", "moon", "page",
                  "retina", "rocket", "stereo_motorcycle", "text")
MATPLOTLIB_PHOTOS = ("grace_hopper.jpg",)  # the only photograph in mpl-data/sample_data
SEED = 20240611  # noise, dark page and chart values all follow from it


@dataclass(frozen=True)
class OutsidePicture:
    """One out-of-domain picture: a stable name, its kind ("photo" or "made") and the 8-bit RGB image."""

    name: str
    kind: str  # "photo" (shipped in a wheel) or "made" (drawn here)
    image: Image.Image  # 8-bit RGB; callers get their own copy from outside_pictures()


def _module(name: str, package: str) -> ModuleType:
    """Import ``name`` or say which requirement is missing."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ModuleNotFoundError(f"cannot import {name}: the out-of-domain pictures need {package} "
                                  f"(pinned in requirements.txt); run `pip install -r requirements.txt`") from exc


def _from_array(array: np.ndarray) -> Image.Image:
    """Grey or colour samples of any dtype (floats in 0..1, 16-bit, bool) to an 8-bit RGB image."""
    if array.dtype != np.uint8:
        array = _module("skimage.util", "scikit-image").img_as_ubyte(array)
    return to_rgb(Image.fromarray(array))


def _photos() -> list[OutsidePicture]:
    """The photographs, read from the wheels of scikit-image, scikit-learn and matplotlib."""
    skimage_data = _module("skimage.data", "scikit-image")
    pictures = []
    for loader in SKIMAGE_PHOTOS:
        array = getattr(skimage_data, loader)()
        if loader == "stereo_motorcycle":
            array = array[0]  # left view; the right one is nearly the same picture
        pictures.append(OutsidePicture(f"skimage-{loader.replace('_', '-')}", "photo", _from_array(array)))
    sample = _module("sklearn.datasets", "scikit-learn").load_sample_images()
    for filename, array in zip(sample.filenames, sample.images, strict=True):
        pictures.append(OutsidePicture(f"sklearn-{Path(filename).stem}", "photo", _from_array(array)))
    cbook = _module("matplotlib.cbook", "matplotlib")
    for filename in MATPLOTLIB_PHOTOS:
        with Image.open(cbook.get_sample_data(filename, asfileobj=False)) as image:
            name = f"matplotlib-{Path(filename).stem.replace('_', '-')}"
            pictures.append(OutsidePicture(name, "photo", to_rgb(image)))
    return pictures


def _screenshot() -> Image.Image:
    """Black text on white under a grey title bar, in the DejaVu Sans that ships in matplotlib's wheel."""
    font_file = Path(_module("matplotlib", "matplotlib").get_data_path()) / "fonts/ttf/DejaVuSans.ttf"
    font = ImageFont.truetype(str(font_file), 20, layout_engine=ImageFont.Layout.BASIC)
    image = Image.new("RGB", (640, 360), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, 639, 31], fill=(222, 222, 222))
    draw.text((12, 5), "Meeting notes - Tuesday", fill="black", font=font)
    lines = ("Agenda for the quarterly review:", "1. Budget for the new office chairs",
             "2. Who brings cake on Friday", "3. Server migration, step two of five",
             "Please reply before noon with your comments.", "Thanks, and have a good week!")
    for row, line in enumerate(lines):
        draw.text((24, 56 + 48 * row), line, fill="black", font=font)
    return image


def _house() -> Image.Image:
    """A child's line drawing of a house under the sun, black lines on white."""
    image = Image.new("RGB", (320, 320), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([70, 150, 250, 290], outline="black", width=3)
    draw.line([(55, 155), (160, 60), (265, 155)], fill="black", width=3)
    draw.rectangle([140, 215, 180, 290], outline="black", width=3)
    for left in (90, 200):
        draw.rectangle([left, 175, left + 30, 205], outline="black", width=3)
        draw.line([(left + 15, 175), (left + 15, 205)], fill="black", width=2)
    draw.ellipse([250, 20, 300, 70], outline="black", width=3)
    draw.line([(0, 295), (319, 295)], fill="black", width=2)
    return image


def _chart() -> Image.Image:
    """A bar-and-line chart drawn by matplotlib's Agg backend in its default style (no pyplot state)."""
    style = _module("matplotlib.style", "matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun"]
    sales = np.random.default_rng(SEED).integers(20, 90, size=len(months))
    with style.context("default"):
        figure = Figure(figsize=(6, 4), dpi=80)
        axes = figure.add_subplot()
        axes.bar(range(6), sales, color="tab:blue", label="sales")
        axes.plot(range(6), np.cumsum(sales) / 4, color="tab:orange", marker="o", label="running total / 4")
        axes.set(title="Sales by month", ylabel="units", xticks=range(6), xticklabels=months)
        axes.legend()
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        return to_rgb(Image.fromarray(np.asarray(canvas.buffer_rgba())))


def _made() -> list[OutsidePicture]:
    """Deterministic pictures: text screenshot, line drawing, chart, noise, gradient, blank and dark pages."""
    rng = np.random.default_rng(SEED)
    noise = rng.integers(0, 256, size=(256, 256, 3), dtype=np.uint8)
    dark = rng.integers(0, 13, size=(256, 256, 3), dtype=np.uint8)  # a photo with the lens covered
    down, across = np.mgrid[0:1:256j, 0:1:256j]
    gradient = np.stack([40 + 200 * down, 110 + 120 * across, 230 - 90 * down], axis=-1).astype(np.uint8)  # wallpaper
    return [OutsidePicture("made-text", "made", _screenshot()),
            OutsidePicture("made-house-drawing", "made", _house()),
            OutsidePicture("made-chart", "made", _chart()),
            OutsidePicture("made-noise", "made", Image.fromarray(noise)),
            OutsidePicture("made-gradient", "made", Image.fromarray(gradient)),
            OutsidePicture("made-blank", "made", Image.new("RGB", (256, 256), "white")),
            OutsidePicture("made-dark", "made", Image.fromarray(dark))]


@functools.cache
def _loaded() -> tuple[OutsidePicture, ...]:
    """Load everything once per process."""
    start = time.perf_counter()
    pictures = (*_photos(), *_made())
    log.info("loaded %d out-of-domain pictures in %.2f s", len(pictures), time.perf_counter() - start)
    return pictures


def outside_pictures() -> list[OutsidePicture]:
    """All out-of-domain pictures in their fixed order; each call gets its own copies of the images."""
    return [replace(picture, image=picture.image.copy()) for picture in _loaded()]


def clear_cache() -> None:
    """Forget the loaded pictures, so the next call reads them again (for tests)."""
    _loaded.cache_clear()


def write_pictures(folder: Path) -> list[Path]:
    """Save every picture as ``<name>.png`` in ``folder`` (created if need be); return the paths in order."""
    paths = []
    for picture in _loaded():
        path = Path(folder) / f"{picture.name}.png"
        with atomic_path(path) as tmp:
            picture.image.save(tmp, format="PNG", compress_level=1)  # fast: for inspection and uploads
        paths.append(path)
    log.info("wrote %d out-of-domain pictures to %s", len(paths), folder)
    return paths
