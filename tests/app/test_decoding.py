"""Bounded decoding and the kept picture: big uploads are decoded no larger than a consumer needs, ordinary ones
exactly as before (the captioner's prepared arrays are identical), and the kept picture is small and bare."""

import io

import numpy as np
import pytest
from PIL import Image, ImageCms

from app.services.images import decode_image, kept_jpeg
from pipeline.images import to_rgb, upright
from testkit.pictures import BLUE, RED, encode

MAX_PIXELS, MAX_SIDE = 50_000_000, 2000


def photo(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Smooth colour gradients with noise on top: a photo's statistics, not one flat colour."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    base = np.stack([x * 255 / size[0], y * 255 / size[1], (x + y) * 127 / sum(size)], axis=-1)
    return Image.fromarray(np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8))


def decoded_before(data: bytes) -> Image.Image:
    """How the service decoded every upload before bounded decoding: in full, then upright, then RGB."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return to_rgb(upright(image))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
@pytest.mark.parametrize("size", [(640, 480), (1600, 1200), (1500, 2000)])
def test_ordinary_pictures_are_decoded_and_prepared_exactly_as_before(app, fmt, size):
    data = encode(photo(size), fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    before, after = decoded_before(data), decode_image(data, MAX_PIXELS, MAX_SIDE)
    assert np.array_equal(np.asarray(before), np.asarray(after))
    for name in app.config["MODEL_NAMES"]:  # what each served captioner sees, as in training and evaluation
        captioner = app.extensions["models"].get(name).captioner.captioner
        assert np.array_equal(captioner.prepare(before), captioner.prepare(after))


@pytest.mark.parametrize(("mode", "fmt"), [("RGB", "JPEG"), ("L", "JPEG"), ("CMYK", "JPEG"), ("RGBA", "PNG"),
                                           ("I;16", "PNG"), ("P", "GIF"), ("1", "PNG"), ("LA", "PNG"),
                                           ("RGB", "WEBP"), ("RGB", "BMP")])
def test_big_pictures_of_every_mode_are_decoded_at_most_the_largest_size_needed(mode, fmt):
    image = Image.new("RGB", (4000, 3000), BLUE)
    image.paste(RED, (0, 0, 2000, 3000))  # left half red
    image = Image.fromarray(np.asarray(image.convert("L"), np.uint16) * 257) if mode == "I;16" else image.convert(mode)
    data = encode(image, fmt)
    decoded = decode_image(data, MAX_PIXELS, MAX_SIDE)
    assert decoded.mode == "RGB" and decoded.size == (2000, 1500)
    whole = decoded_before(data)  # the old way, at full size: the colours each half should keep
    for box in [(100, 100, 900, 1400), (1100, 100, 1900, 1400)]:
        shrunk = np.asarray(decoded.crop(box), float).mean(axis=(0, 1))
        full = np.asarray(whole.crop(tuple(2 * v for v in box)), float).mean(axis=(0, 1))
        assert np.abs(shrunk - full).max() < 8, (box, shrunk, full)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_big_rotated_picture_is_decoded_small_and_upright(fmt):
    image = Image.new("RGB", (4000, 3000), BLUE)
    image.paste(RED, (0, 0, 2000, 3000))  # left half red: turned 90 degrees clockwise it is on top
    exif = Image.Exif()
    exif[0x0112] = 6
    decoded = decode_image(encode(image, fmt, exif=exif.tobytes()), MAX_PIXELS, MAX_SIDE)
    assert decoded.size == (1500, 2000)
    assert np.asarray(decoded.crop((0, 0, 1500, 900)), float).mean(axis=(0, 1))[0] > 180  # red on top


def test_a_4000x3000_upload_is_kept_at_most_1280_px(client, convert):
    body = convert(encode(photo((4000, 3000)), "JPEG", quality=85), filename="big.jpg").json
    kept = Image.open(io.BytesIO(client.get(body["image_url"]).data))
    assert kept.size == (1280, 960)


def test_the_kept_picture_carries_no_metadata(client, convert):
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "secret maker", "secret model"
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(photo((300, 200)), "JPEG", exif=exif.tobytes(), icc_profile=srgb, comment=b"secret comment",
                  xmp=b"<x:xmpmeta>secret place</x:xmpmeta>")
    assert data.count(b"secret") == 4
    kept = client.get(convert(data, filename="meta.jpg").json["image_url"]).data
    assert b"secret" not in kept
    info = Image.open(io.BytesIO(kept)).info
    assert not {"exif", "xmp", "icc_profile", "comment"} & set(info), info


def test_an_icc_profile_is_applied_to_the_kept_pixels_then_dropped():
    profile = ImageCms.createProfile("sRGB")
    tinted = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB"))  # not an RGB profile: refused, values kept
    image = Image.new("RGB", (10, 10), RED)
    image.info["icc_profile"] = tinted.tobytes()
    assert np.abs(np.asarray(Image.open(io.BytesIO(kept_jpeg(image, 95, 1280))), float) - RED).max() < 8
    image.info["icc_profile"] = ImageCms.ImageCmsProfile(profile).tobytes()
    kept = Image.open(io.BytesIO(kept_jpeg(image, 95, 1280)))
    assert "icc_profile" not in kept.info and np.abs(np.asarray(kept, float) - RED).max() < 8
