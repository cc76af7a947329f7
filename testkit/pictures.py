"""Pictures for the service's tests, made in memory in every format and mode the service accepts."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

RED, GREEN, BLUE, YELLOW = (220, 30, 30), (30, 160, 60), (30, 60, 220), (240, 220, 40)


def picture(fmt: str = "PNG", colour: tuple[int, int, int] = RED, size: tuple[int, int] = (64, 48),
            mode: str = "RGB", **save_args) -> bytes:
    """A plain picture of ``colour`` saved as ``fmt`` after conversion to ``mode``."""
    image = Image.new("RGB", size, colour)
    if mode != "RGB":
        image = image.convert(mode)
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save_args)
    return buffer.getvalue()


def encode(image: Image.Image, fmt: str, **save_args) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save_args)
    return buffer.getvalue()


def sixteen_bit_grey(level: int = 50000, size: tuple[int, int] = (32, 32)) -> bytes:
    """A 16-bit greyscale PNG (mode I;16) at ``level`` out of 65535."""
    return encode(Image.fromarray(np.full(size[::-1], level, dtype=np.uint16)), "PNG")


def with_orientation(orientation: int, size: tuple[int, int] = (60, 30)) -> bytes:
    """A wide JPEG, left half red and right half blue, whose EXIF says how to turn it (6: 90 degrees
    clockwise, so it shows tall with red on top; 8: counter-clockwise, red at the bottom; 3: upside down)."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, "JPEG", exif=exif.tobytes())


def animated(fmt: str, colours: tuple = (BLUE, RED, RED, RED)) -> bytes:
    """A GIF or WebP animation whose first frame is the first colour and the rest the others."""
    frames = [Image.new("RGB", (40, 40), colour) for colour in colours]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


def bomb(size: tuple[int, int] = (12_000, 12_000)) -> bytes:
    """A small PNG file that would decode to ``size`` pixels (a decompression bomb)."""
    return encode(Image.new("1", size), "PNG", optimize=True)
