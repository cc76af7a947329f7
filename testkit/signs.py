"""Signs with known words drawn onto real photos, in fonts and photos that ship inside installed wheels."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

# Visibly different faces from matplotlib's wheel (mpl-data/fonts/ttf): sans bold, serif, monospace, Times-like.
FONT_FILES = ("DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSansMono-Bold.ttf", "STIXGeneral.ttf")
# skimage.data photos stored inside the scikit-image wheel (no pooch download) with no lettering in them, even
# enlarged (the astronaut's name patch and the motorcycle's YAMAHA become readable); camera is greyscale.
PHOTO_NAMES = ("coffee", "chelsea", "rocket", "camera")
# Plaque colour, lettering colour: a white notice, a green street sign, a blue information sign, a red warning.
SCHEMES = {"white": ((245, 245, 238), (25, 25, 25)), "green": ((0, 110, 70), (250, 250, 250)),
           "blue": ((20, 70, 160), (250, 250, 250)), "red": ((200, 30, 30), (250, 250, 250))}


def fonts() -> list[Path]:
    """The TrueType files in ``FONT_FILES``, from matplotlib's installed data folder."""
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return [folder / name for name in FONT_FILES]


def photos() -> dict[str, Image.Image]:
    """The photos in ``PHOTO_NAMES`` as RGB pictures, by name; read from files inside the wheel."""
    import skimage.data

    return {name: Image.fromarray(getattr(skimage.data, name)()).convert("RGB") for name in PHOTO_NAMES}


def draw_sign(photo: Image.Image, words: str, font_path: Path | str, *, height: float = 0.07,
              where: tuple[float, float] = (0.08, 0.1), scheme: str = "white", angle: float = 0.0,
              jpeg_quality: int | None = 88) -> Image.Image:
    """The photo with a plaque bearing ``words`` (lines split at newlines), as a camera would save it.

    Args:
        photo: the background photo (not changed).
        words: the sign's text; each newline starts a new line of lettering.
        font_path: a TrueType file.
        height: the lettering's font size as a fraction of the photo's height.
        where: the plaque's top-left corner as fractions of the photo's width and height (moved left or up
            where the sign would run off the photo).
        scheme: a key of ``SCHEMES``.
        angle: the plaque's tilt in degrees, counter-clockwise.
        jpeg_quality: JPEG quality of the round trip that ends the drawing; None keeps it lossless.
    """
    background, ink = SCHEMES[scheme]
    font = ImageFont.truetype(str(font_path), max(8, round(height * photo.height)))
    lines = words.split("\n")
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    boxes = [measure.textbbox((0, 0), line, font=font) for line in lines]
    pitch = round(font.size * 1.25)  # baseline to baseline, in pixels
    margin = round(font.size * 0.45)
    width = max(box[2] for box in boxes) + 2 * margin
    tall = pitch * (len(lines) - 1) + boxes[-1][3] - boxes[0][1] + 2 * margin
    plaque = Image.new("RGBA", (width, tall), (0, 0, 0, 0))
    draw = ImageDraw.Draw(plaque)
    border = max(2, font.size // 12)
    draw.rounded_rectangle((0, 0, width - 1, tall - 1), radius=margin, fill=(*background, 255),
                           outline=(*ink, 255), width=border)
    top = margin - boxes[0][1]
    for n, (line, box) in enumerate(zip(lines, boxes)):
        draw.text(((width - box[2]) // 2, top + n * pitch), line, font=font, fill=(*ink, 255))
    if angle:
        plaque = plaque.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    plaque = plaque.filter(ImageFilter.GaussianBlur(0.6))  # the softness of a real lens
    shadow = Image.new("RGBA", plaque.size, (0, 0, 0, 0))
    shadow.putalpha(plaque.getchannel("A").point(lambda a: a * 0.35).filter(ImageFilter.GaussianBlur(3)))
    out = photo.convert("RGB").copy()
    if plaque.width > photo.width or plaque.height > photo.height:
        raise ValueError(f"a {plaque.width}x{plaque.height} sign does not fit on a {photo.width}x{photo.height} photo")
    corner = (min(round(where[0] * photo.width), photo.width - plaque.width),  # moved in to keep it all in view
              min(round(where[1] * photo.height), photo.height - plaque.height))
    out.paste(shadow, (corner[0] + border, corner[1] + border), shadow)
    out.paste(plaque, corner, plaque)
    if jpeg_quality is None:
        return out
    buffer = io.BytesIO()
    out.save(buffer, "JPEG", quality=jpeg_quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
