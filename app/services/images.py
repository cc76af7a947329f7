"""Uploads to pictures: type checks by content, size limits, bounded decoding, EXIF orientation, every mode to
8-bit RGB; and the picture as the service keeps it."""

from __future__ import annotations

import io
import logging
import threading

from flask import Flask
from PIL import Image, ImageCms

from app.errors import ApiError
from pipeline.images import to_rgb, upright

log = logging.getLogger(__name__)

# Pillow's format name -> the MIME type clients know it by. GIF and animated WebP give their first frame.
ACCEPTED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif",
            "BMP": "image/bmp", "HEIF": "image/heic"}
ACCEPTED_TEXT = "JPEG, PNG, WebP, GIF, BMP, HEIC/HEIF (image/jpeg, image/png, image/webp, image/gif, " \
                "image/bmp, image/heic, image/heif)"
REDUCE_BAND_ROWS = 128  # output rows per band when reducing a big picture
REDUCIBLE_MODES = {"L", "LA", "I", "F", "RGB", "RGBA", "RGBa", "CMYK", "PA"}  # Image.reduce takes these
WIDER_MODES = {"1": "L", "P": "RGBA"}  # reduced band by band in these (16-bit ones are resized as they are)
SRGB = ImageCms.createProfile("sRGB")
HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}


class UnsupportedImageType(ApiError):
    status, code = 415, "unsupported_media_type"


class InvalidImage(ApiError):
    status, code = 400, "invalid_image"


class ImageTooLarge(ApiError):
    status, code = 400, "image_too_large"


def sniff(data: bytes) -> str | None:
    """Pillow's format name for an accepted type, judged by the file's first bytes (never its name)."""
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:2] == b"BM" and len(data) > 26:
        return "BMP"
    if data[4:8] == b"ftyp":
        box = data[8 : min(int.from_bytes(data[:4], "big"), 256)]
        brands = {box[i : i + 4] for i in range(0, len(box), 4)} - {b"\0\0\0\0"}
        if data[8:12] not in (b"avif", b"avis") and brands & HEIF_BRANDS:
            return "HEIF"
    return None


def decode_image(data: bytes, max_pixels: int, max_side: int) -> Image.Image:
    """Decode an upload to an upright 8-bit RGB picture at most ``max_side`` pixels on its long side.

    Memory stays bounded whatever the format: a JPEG is decoded at the smallest of 1/8, 1/4, 1/2 or full scale
    that still covers ``max_side`` (draft mode), and a larger picture is shrunk in its own mode (``shrink``)
    before any conversion. A picture within ``max_side`` is decoded exactly as before, so the captioner sees
    the same pixels as in training and evaluation.

    Raises:
        UnsupportedImageType: Not one of the accepted types (415).
        ImageTooLarge: More pixels than ``max_pixels``, checked before decoding (400).
        InvalidImage: Empty, truncated or corrupt (400).
    """
    if not data:
        raise InvalidImage("the image file is empty: send a JPEG, PNG, WebP, GIF, BMP or HEIC file")
    kind = sniff(data)
    if kind is None:
        raise UnsupportedImageType(f"the file is not an accepted image type; accepted: {ACCEPTED_TEXT}")
    try:
        image = Image.open(io.BytesIO(data), formats=[kind])
        width, height = image.size
        if width * height > max_pixels:
            raise ImageTooLarge(f"the image is {width}x{height} pixels, more than the limit of {max_pixels:,}: "
                                "send a smaller picture")
        if kind == "JPEG" and max(width, height) > max_side:
            image.draft(None, fitted(image.size, max_side))
        image.load()
        return to_rgb(upright(shrink(image, max_side)))
    except ApiError:
        raise
    except Image.DecompressionBombError:
        raise ImageTooLarge("the image has more pixels than can be decoded safely: send a smaller picture") from None
    except Exception as exc:  # decoders of untrusted data fail in many ways (OSError, SyntaxError, ValueError, ...)
        log.info("undecodable %s upload: %s: %s", kind, type(exc).__name__, exc)
        name = "HEIC/HEIF" if kind == "HEIF" else kind.replace("WEBP", "WebP")
        raise InvalidImage(f"the {name} file could not be decoded: it is truncated or corrupt") from None


def fitted(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """``size`` scaled down (never up) so its long side is at most ``max_side``."""
    scale = min(1.0, max_side / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def shrink(image: Image.Image, max_side: int) -> Image.Image:
    """The picture at most ``max_side`` px on its long side: first reduced by a whole factor (averaging, a band
    of rows at a time), then resized; no step copies the whole decoded picture."""
    size = fitted(image.size, max_side)
    if size == image.size:
        return image
    factor = min(image.width // size[0], image.height // size[1])
    if factor >= 2 and (image.mode in REDUCIBLE_MODES or image.mode in WIDER_MODES):
        image = _reduce(image, factor)
    return image.resize(size, Image.Resampling.LANCZOS)


def _reduce(image: Image.Image, factor: int) -> Image.Image:
    """``image.reduce(factor)`` a band of rows at a time (with alpha, Pillow premultiplies a whole copy first);
    palette and 1-bit pictures, which Pillow cannot average, go band by band through a wider mode."""
    mode = WIDER_MODES.get(image.mode, image.mode)
    reduced = Image.new(mode, (-(-image.width // factor), -(-image.height // factor)))
    reduced.info.update(image.info)  # the EXIF orientation, applied afterwards
    rows = factor * REDUCE_BAND_ROWS
    for top in range(0, image.height, rows):
        band = image.crop((0, top, image.width, min(image.height, top + rows))).convert(mode)
        reduced.paste(band.reduce(factor), (0, top // factor))
    return reduced


def kept_jpeg(image: Image.Image, quality: int, max_side: int) -> bytes:
    """The picture as the service keeps it: in sRGB, at most ``max_side`` px on its long side, as a JPEG without
    any metadata (no EXIF, XMP, ICC profile or comment): only the pixels."""
    picture = shrink(_to_srgb(image), max_side)
    bare = Image.new("RGB", picture.size)
    bare.paste(picture)  # a new image: none of the upload's info comes along
    buffer = io.BytesIO()
    bare.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _to_srgb(image: Image.Image) -> Image.Image:
    """Colours from an embedded ICC profile converted to sRGB (the profile itself is then not needed)."""
    profile = image.info.get("icc_profile")
    if not profile:
        return image
    try:
        return ImageCms.profileToProfile(image, ImageCms.ImageCmsProfile(io.BytesIO(profile)), SRGB,
                                         outputMode="RGB")
    except Exception as exc:  # an unreadable profile of an untrusted file: keep the values as they are
        log.info("ignoring an unusable ICC profile: %s", exc)
        return image


def init_app(app: Flask) -> None:
    """Teach Pillow to open HEIC/HEIF (iPhone photos); bound how many uploads this process decodes at once."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    app.extensions["decoding"] = threading.BoundedSemaphore(app.config["DECODE_CONCURRENCY"])
