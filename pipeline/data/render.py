"""Draw a scene as an RGB image: textured background, anti-aliased shapes, sensor noise."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from pipeline.data.scenes import COLOURS, Scene, SceneObject

_SUPERSAMPLE = 3


def _shade(rgb: tuple[int, ...], delta: float) -> tuple[int, int, int]:
    return tuple(int(np.clip(c + delta, 0, 255)) for c in rgb)


def _background(scene: Scene, side: int, rng: np.random.Generator) -> Image.Image:
    """The scene's texture in its background tone, drawn at full (supersampled) size."""
    base = scene.background
    img = Image.new("RGB", (side, side), base)
    draw = ImageDraw.Draw(img)
    alt = _shade(base, float(rng.choice([-1, 1]) * rng.uniform(18, 40)))
    step = int(side * rng.uniform(0.06, 0.14))
    if scene.texture == "striped":
        angle = rng.uniform(0, math.pi)
        dx, dy = math.cos(angle), math.sin(angle)
        for k in range(-2 * side // step, 2 * side // step, 2):
            off = k * step
            cx, cy = side / 2 - dy * off, side / 2 + dx * off
            pts = [(cx - dx * 2 * side, cy - dy * 2 * side), (cx + dx * 2 * side, cy + dy * 2 * side)]
            draw.line(pts, fill=alt, width=step)
    elif scene.texture == "dotted":
        r = step // 4 + 1
        for y in range(0, side, step):
            for x in range((y // step % 2) * step // 2, side, step):
                draw.ellipse([x - r, y - r, x + r, y + r], fill=alt)
    elif scene.texture == "checkered":
        for y in range(0, side, step):
            for x in range(0, side, step):
                if (x // step + y // step) % 2:
                    draw.rectangle([x, y, x + step - 1, y + step - 1], fill=alt)
    elif scene.texture == "speckled":
        arr = np.asarray(img, dtype=np.float32)
        arr += rng.normal(0, 22, size=(side // 4 + 1, side // 4 + 1, 1)).repeat(4, 0).repeat(4, 1)[:side, :side]
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return img


def _polygon(obj: SceneObject, side: int, rotation: float) -> list[tuple[float, float]]:
    cx, cy, r = obj.x * side, obj.y * side, obj.radius * side
    if obj.shape == "square":
        corners = [(math.pi / 4 + k * math.pi / 2) for k in range(4)]
        return [(cx + r * math.cos(a + rotation), cy + r * math.sin(a + rotation)) for a in corners]
    if obj.shape == "triangle":
        angles = [(-math.pi / 2 + k * 2 * math.pi / 3) for k in range(3)]
        return [(cx + 1.1 * r * math.cos(a + rotation), cy + r * 0.15 + 1.1 * r * math.sin(a + rotation))
                for a in angles]
    if obj.shape == "star":
        pts = []
        for k in range(10):
            a = -math.pi / 2 + k * math.pi / 5 + rotation
            rr = 1.15 * r if k % 2 == 0 else 0.48 * r
            pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
        return pts
    if obj.shape == "cross":
        w = 0.36 * r
        arm = [(-w, -r), (w, -r), (w, -w), (r, -w), (r, w), (w, w), (w, r), (-w, r), (-w, w), (-r, w), (-r, -w),
               (-w, -w)]
        c, s = math.cos(rotation), math.sin(rotation)
        return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in arm]
    raise ValueError(f"no polygon for shape {obj.shape!r}")


def _draw_object(draw: ImageDraw.ImageDraw, obj: SceneObject, side: int, rng: np.random.Generator) -> None:
    colour = tuple(int(np.clip(c + rng.normal(0, 12), 0, 255)) for c in COLOURS[obj.colour])
    outline = _shade(colour, -60) if rng.random() < 0.5 else None
    width = max(1, side // 60)
    if obj.shape == "circle":
        cx, cy, r = obj.x * side, obj.y * side, obj.radius * side
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour, outline=outline, width=width)
    else:
        rotation = float(rng.uniform(-0.25, 0.25))
        draw.polygon(_polygon(obj, side, rotation), fill=colour, outline=outline, width=width)


def render(scene: Scene, size: int, rng: np.random.Generator) -> Image.Image:
    """Render ``scene`` as a ``size`` x ``size`` RGB image with texture and noise."""
    side = size * _SUPERSAMPLE
    img = _background(scene, side, rng)
    draw = ImageDraw.Draw(img)
    for obj in scene.objects:
        _draw_object(draw, obj, side, rng)
    img = img.resize((size, size), Image.Resampling.LANCZOS)
    arr = np.asarray(img, dtype=np.float32)
    arr += rng.normal(0, rng.uniform(3, 10), size=arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
