"""The page after a conversion, as a person sees it, saved as a PNG.

``IMAGE_TO_AUDIO_SCREENSHOT=docs/page.png .venv/bin/python -m pytest tests/browser -k screenshot`` refreshes the
README's picture (on a fresh server, so the history holds only this test's conversions); otherwise it goes to tmp.
"""

import io
import os
from pathlib import Path

from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from testkit.pictures import YELLOW
from tests.browser.actions import VIEWPORT, convert, png


def landscape() -> bytes:
    """A small drawn landscape: sky, sun, sea and a sail."""
    image = Image.new("RGB", (320, 240), (70, 130, 200))
    draw = ImageDraw.Draw(image)
    for y in range(150):  # the sky lightens towards the horizon
        draw.line([(0, y), (320, y)], fill=(60 + y // 3, 110 + y // 3, 200 + y // 6))
    draw.ellipse([230, 30, 280, 80], fill=(250, 215, 90))
    draw.rectangle([0, 150, 320, 240], fill=(25, 75, 160))
    draw.polygon([(140, 145), (140, 80), (185, 140)], fill=(245, 245, 245))
    draw.polygon([(115, 150), (195, 150), (180, 165), (128, 165)], fill=(120, 60, 30))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_a_screenshot_after_a_conversion(page: Page, tmp_path, caption_of):
    lemon, sailing = png("lemon.png", YELLOW), {"name": "sailing.jpg", "mimeType": "image/jpeg", "buffer": landscape()}
    page.goto("/")
    convert(page, lemon, caption_of.spoken(lemon["buffer"]))
    convert(page, sailing, caption_of.spoken(sailing["buffer"]))
    page.wait_for_function("() => [...document.images].every((img) => img.hidden || img.complete "
                           "|| (img.loading === 'lazy' && img.getBoundingClientRect().top > innerHeight))")
    page.wait_for_function("() => document.getElementById('player').duration > 0")
    expect(page.locator("#convert-status")).to_contain_text("Done in")

    path = Path(os.environ.get("IMAGE_TO_AUDIO_SCREENSHOT") or tmp_path / "page.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=path)
    with Image.open(path) as shot:
        assert shot.size == (VIEWPORT["width"], VIEWPORT["height"])
        assert len(shot.convert("RGB").getcolors(1 << 20) or []) > 50  # drawn, not a blank page
