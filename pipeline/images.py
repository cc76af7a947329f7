"""Pictures in any mode, made upright 8-bit RGB: one conversion for the models and the service."""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image, ImageOps

log = logging.getLogger(__name__)
ALPHA_MODES = {"RGBA", "RGBa", "LA", "PA"}
WIDE_MODES = {"I", "I;16", "I;16L", "I;16B", "I;16N", "F"}


def upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a broken EXIF block leaves the picture as stored."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception as exc:  # EXIF parsing of untrusted data; orientation is a nicety, not a reason to refuse
        log.info("ignoring unreadable EXIF orientation: %s", exc)
        return image


def to_rgb(image: Image.Image) -> Image.Image:
    """Any mode and bit depth to 8-bit RGB; transparency is laid over white."""
    if image.mode in WIDE_MODES:
        values = np.asarray(image, dtype=np.float64)
        if image.mode == "F" and values.size and values.max() <= 1.0:
            values = values * 255.0
        elif image.mode.startswith("I;16") or (values.size and values.max() > 255):
            values = values / 257.0  # 16-bit samples (I;16 always; I when they exceed 8 bits), dark ones too
        image = Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))  # 2-D uint8: mode L
    if image.mode in ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")
