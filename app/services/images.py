"""Uploads to pictures: type checks by content, size limits, EXIF orientation, every mode to 8-bit RGB."""

from __future__ import annotations

import io
import logging

from flask import Flask
from PIL import Image

from app.errors import ApiError
from pipeline.images import to_rgb, upright

log = logging.getLogger(__name__)

# Pillow's format name -> the MIME type clients know it by. GIF and animated WebP give their first frame.
ACCEPTED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif",
            "BMP": "image/bmp", "HEIF": "image/heic"}  # fmt: skip
ACCEPTED_TEXT = "JPEG, PNG, WebP, GIF, BMP, HEIC/HEIF (image/jpeg, image/png, image/webp, image/gif, " \
                "image/bmp, image/heic, image/heif)"  # fmt: skip
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


def decode_image(data: bytes, max_pixels: int) -> Image.Image:
    """Decode an upload to an upright 8-bit RGB picture.

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
        image.load()
        image = upright(image)
        return to_rgb(image)
    except ApiError:
        raise
    except Image.DecompressionBombError:
        raise ImageTooLarge("the image has more pixels than can be decoded safely: send a smaller picture") from None
    except Exception as exc:  # decoders of untrusted data fail in many ways (OSError, SyntaxError, ValueError, ...)
        log.info("undecodable %s upload: %s: %s", kind, type(exc).__name__, exc)
        name = "HEIC/HEIF" if kind == "HEIF" else kind.replace("WEBP", "WebP")
        raise InvalidImage(f"the {name} file could not be decoded: it is truncated or corrupt") from None


def encode_jpeg(image: Image.Image, quality: int) -> bytes:
    """The picture as a JPEG file, as the service keeps it."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def init_app(app: Flask) -> None:
    """Teach Pillow to open HEIC/HEIF (iPhone photos)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
