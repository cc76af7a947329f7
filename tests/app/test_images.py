"""Accepted uploads in every format, mode and bit depth become upright 8-bit RGB pictures."""

import io

import pytest
from PIL import Image

from app.services.images import to_rgb
from tests.app.pictures import BLUE, RED, YELLOW, animated, picture, sixteen_bit_grey, with_orientation


def kept_image(client, body) -> Image.Image:
    answer = client.get(body["image_url"])
    assert answer.status_code == 200
    return Image.open(io.BytesIO(answer.data))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "HEIF"])
def test_each_accepted_format_is_captioned(client, convert, fmt):
    answer = convert(picture(fmt, BLUE, size=(80, 60)), filename="upload.bin")
    assert answer.status_code == 200, answer.json
    assert answer.json["caption"] == "a blue image"
    assert kept_image(client, answer.json).size == (80, 60)


def test_an_iphone_style_heic_with_rotation_is_upright(client, convert):
    picture("HEIF")
    image = Image.new("RGB", (90, 40), YELLOW)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, "HEIF", exif=exif.tobytes())
    body = convert(buffer.getvalue(), filename="IMG_0001.HEIC").json
    assert body["caption"] == "a yellow image"
    assert kept_image(client, body).size == (40, 90)


@pytest.mark.parametrize(("orientation", "size"), [(1, (60, 30)), (3, (60, 30)), (6, (30, 60)), (8, (30, 60))])
def test_exif_orientation_is_applied(client, convert, orientation, size):
    body = convert(with_orientation(orientation), filename="x.jpg").json
    assert kept_image(client, body).size == size


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_an_animation_gives_its_first_frame(convert, fmt):
    assert convert(animated(fmt)).json["caption"] == "a blue image"


MODES = ["1", "L", "LA", "P", "RGBA", "CMYK", "YCbCr", "I", "F", "RGBa", "PA", "I;16", "I;16B"]


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_becomes_rgb(mode):
    rgb = to_rgb(Image.new(mode, (16, 16)))
    assert rgb.mode == "RGB" and rgb.size == (16, 16)


def test_sixteen_bit_grey_is_scaled_not_clipped(convert):
    body = convert(sixteen_bit_grey(level=32896)).json  # half of 65535: mid grey, not white
    assert body["caption"] == "a grey image"


def test_transparency_is_laid_over_white(convert):
    transparent = picture("PNG", RED, mode="RGBA")
    image = Image.open(io.BytesIO(transparent))
    image.putalpha(0)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    assert convert(buffer.getvalue()).json["caption"] == "a white image"
    palette = Image.new("P", (20, 20), 0)
    palette.putpalette([220, 30, 30] * 256)
    palette.info["transparency"] = 0
    buffer = io.BytesIO()
    palette.save(buffer, "GIF", transparency=0)
    assert convert(buffer.getvalue()).json["caption"] == "a white image"


def test_a_cmyk_jpeg_keeps_its_colour(convert):
    assert convert(picture("JPEG", BLUE, mode="CMYK")).json["caption"] == "a blue image"


@pytest.mark.parametrize("mode", ["1", "L", "P"])
def test_low_depth_pngs_are_accepted(convert, mode):
    assert convert(picture("PNG", (250, 250, 250), mode=mode)).status_code == 200
