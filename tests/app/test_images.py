"""Accepted uploads in every format, mode and bit depth become upright 8-bit RGB pictures.

The kept image (``image_url``) is the picture the model saw, so its pixels show the conversion; the caption
is the one the same model gives in this process for the same file.
"""

import io

import numpy as np
import pytest
from PIL import Image

from app.services.images import to_rgb
from testkit.pictures import BLUE, RED, YELLOW, animated, picture, sixteen_bit_grey, with_orientation


def kept_image(client, body) -> Image.Image:
    answer = client.get(body["image_url"])
    assert answer.status_code == 200
    return Image.open(io.BytesIO(answer.data))


def mean_colour(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float64).reshape(-1, 3).mean(axis=0)


def assert_colour(image: Image.Image, colour: tuple[int, int, int], tolerance: float = 12) -> None:
    """The kept (JPEG) image is plainly ``colour``."""
    assert np.abs(mean_colour(image) - colour).max() < tolerance, (mean_colour(image), colour)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "HEIF"])
def test_each_accepted_format_is_captioned(client, convert, caption_of, fmt):
    data = picture(fmt, BLUE, size=(80, 60))
    answer = convert(data, filename="upload.bin")
    assert answer.status_code == 200, answer.json
    assert answer.json["caption"] == caption_of(data)
    kept = kept_image(client, answer.json)
    assert kept.size == (80, 60)
    assert_colour(kept, BLUE)


def test_an_iphone_style_heic_with_rotation_is_upright(client, convert, caption_of):
    picture("HEIF")
    image = Image.new("RGB", (90, 40), YELLOW)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, "HEIF", exif=exif.tobytes())
    body = convert(buffer.getvalue(), filename="IMG_0001.HEIC").json
    assert body["caption"] == caption_of(buffer.getvalue())
    kept = kept_image(client, body)
    assert kept.size == (40, 90)
    assert_colour(kept, YELLOW)


@pytest.mark.parametrize(("orientation", "size", "red_at"), [
    (1, (60, 30), "left"), (3, (60, 30), "right"), (6, (30, 60), "top"), (8, (30, 60), "bottom"),
])
def test_exif_orientation_is_applied(client, convert, orientation, size, red_at):
    body = convert(with_orientation(orientation), filename="x.jpg").json
    kept = kept_image(client, body)
    assert kept.size == size
    w, h = size
    halves = {"left": (0, 0, w // 2, h), "right": (w // 2, 0, w, h), "top": (0, 0, w, h // 2),
              "bottom": (0, h // 2, w, h)}
    opposite = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}[red_at]
    assert_colour(kept.crop(halves[red_at]), RED, tolerance=40)
    assert_colour(kept.crop(halves[opposite]), BLUE, tolerance=40)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_an_animation_gives_its_first_frame(client, convert, caption_of, fmt):
    data = animated(fmt)
    body = convert(data).json
    assert_colour(kept_image(client, body), BLUE)  # the first frame, not the red ones after it
    assert body["caption"] == caption_of(data)


MODES = ["1", "L", "LA", "P", "RGBA", "CMYK", "YCbCr", "I", "F", "RGBa", "PA", "I;16", "I;16B"]


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_becomes_rgb(mode):
    rgb = to_rgb(Image.new(mode, (16, 16)))
    assert rgb.mode == "RGB" and rgb.size == (16, 16)


@pytest.mark.parametrize("level", [40, 200, 50000])
def test_sixteen_bit_samples_are_scaled_however_dark(level):
    rgb = to_rgb(Image.open(io.BytesIO(sixteen_bit_grey(level))))
    assert rgb.getpixel((0, 0)) == (round(level / 257),) * 3  # 200 of 65535 is nearly black, not 200 of 255


def test_sixteen_bit_grey_is_scaled_not_clipped(client, convert, caption_of):
    body = convert(sixteen_bit_grey(level=32896)).json  # half of 65535: mid grey, not white
    assert_colour(kept_image(client, body), (128, 128, 128), tolerance=2)
    assert body["caption"] == caption_of(picture("PNG", (128, 128, 128), size=(32, 32)))


def test_transparency_is_laid_over_white(client, convert, caption_of):
    white = caption_of(picture("PNG", (255, 255, 255), size=(20, 20)))
    transparent = picture("PNG", RED, mode="RGBA", size=(20, 20))
    image = Image.open(io.BytesIO(transparent))
    image.putalpha(0)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    body = convert(buffer.getvalue()).json
    assert_colour(kept_image(client, body), (255, 255, 255), tolerance=2)
    assert body["caption"] == white
    palette = Image.new("P", (20, 20), 0)
    palette.putpalette([220, 30, 30] * 256)
    palette.info["transparency"] = 0
    buffer = io.BytesIO()
    palette.save(buffer, "GIF", transparency=0)
    body = convert(buffer.getvalue()).json
    assert_colour(kept_image(client, body), (255, 255, 255), tolerance=2)
    assert body["caption"] == white


def test_a_cmyk_jpeg_keeps_its_colour(client, convert, caption_of):
    data = picture("JPEG", BLUE, mode="CMYK")
    body = convert(data).json
    assert_colour(kept_image(client, body), BLUE)
    assert body["caption"] == caption_of(data)


@pytest.mark.parametrize("mode", ["1", "L", "P"])
def test_low_depth_pngs_are_accepted(convert, mode):
    assert convert(picture("PNG", (250, 250, 250), mode=mode)).status_code == 200
