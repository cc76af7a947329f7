"""Peak memory one conversion's picture handling adds to a worker, for the worst uploads under the limits.

    python bench/bench_decode_memory.py

Each case is a file under MAX_CONTENT_LENGTH (10 MB) and at the MAX_IMAGE_PIXELS limit (50 Mpx), in the
formats and modes that decode largest. For each, a fresh process runs what a conversion does with the picture
(``text=on``, the worst case): decode it, the captioner's preparation (``Captioner.prepare``, 96 px), the text
reader's (``TextReader.prepare``, 2000 px) and the kept JPEG; once as the service did before bounded decoding
(the whole picture decoded, upright and RGB at full size, kept at full size) and once as it does now
(``decode_image`` and ``kept_jpeg``). The figure is the process's peak resident memory during that work minus its
resident memory just before (Linux: ``/proc/self/clear_refs`` resets the peak). Prints markdown.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from common import ROOT  # noqa: E402  (puts the repository on sys.path)
from PIL import Image

MAX_PIXELS, MAX_BYTES = 50_000_000, 10 * 1024 * 1024
SIDE = 7071  # 7071 x 7071 = 49,999,041 px
CASES = {  # name -> (format, mode, size)
    "PNG RGBA 7071x7071": ("PNG", "RGBA", (SIDE, SIDE)),
    "PNG 16-bit grey 7071x7071": ("PNG", "I;16", (SIDE, SIDE)),
    "GIF palette + transparency 7071x7071": ("GIF", "P", (SIDE, SIDE)),
    "JPEG RGB 8660x5773": ("JPEG", "RGB", (8660, 5773)),
}


def worst_case(fmt: str, mode: str, size: tuple[int, int]) -> bytes:
    """A picture of ``size`` in ``mode``: broad bands of colour (so it compresses under the byte limit)."""
    width, height = size
    bands = (np.arange(width) * 8 // width * 32).astype(np.uint8)
    rows = np.broadcast_to(bands, (height, width))
    if mode == "I;16":
        image = Image.fromarray(rows.astype(np.uint16) * 257)
    elif mode == "P":
        image = Image.fromarray(rows // 32).convert("P")
        image.putpalette([c for i in range(256) for c in (i * 30 % 256, 100, 255 - i * 30 % 256)])
        image.info["transparency"] = 0
    else:
        image = Image.merge("RGB", [Image.fromarray(rows), Image.fromarray(rows[::-1]), Image.fromarray(255 - rows)])
        image = image.convert(mode)
    buffer = io.BytesIO()
    options = {"transparency": 0} if mode == "P" else {"quality": 80} if fmt == "JPEG" else {}
    image.save(buffer, fmt, **options)
    data = buffer.getvalue()
    assert len(data) <= MAX_BYTES, (fmt, mode, len(data))
    return data


def _resident_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def measure(data: bytes, way: str) -> tuple[float, float]:
    """(MB added at the peak, seconds) for handling ``data`` the ``way`` ("before" or "after")."""
    from app.services.images import decode_image, kept_jpeg
    from pipeline.images import to_rgb, upright
    from pipeline.models.captioner import Captioner
    from pipeline.reading import TextReader

    captioner, reader = SimpleNamespace(image_size=96), SimpleNamespace(max_side=2000)  # what prepare reads of them

    def handle(upload: bytes) -> None:
        if way == "before":
            image = Image.open(io.BytesIO(upload))
            image.load()
            image = to_rgb(upright(image))
            Captioner.prepare(captioner, image)
            TextReader.prepare(reader, image)
            image.save(io.BytesIO(), "JPEG", quality=90)
        else:
            image = decode_image(upload, MAX_PIXELS, 2000)
            Captioner.prepare(captioner, image)
            TextReader.prepare(reader, image)
            kept_jpeg(image, 90, 1280)

    small = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(small, "PNG")
    handle(small.getvalue())  # imports, TensorFlow's first call and Pillow's plug-ins: not the upload's cost
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset the peak (VmHWM) to the current resident size
    before, began = _resident_mb("VmRSS"), time.perf_counter()
    handle(data)
    return _resident_mb("VmHWM") - before, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", nargs=2, metavar=("FILE", "WAY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        added, took = measure(Path(args.child[0]).read_bytes(), args.child[1])
        print(f"{added:.0f} {took:.2f}")
        return
    import tempfile

    Image.MAX_IMAGE_PIXELS = None  # the service checks MAX_IMAGE_PIXELS itself
    print(f"load average {os.getloadavg()[0]:.1f}\n")
    print("| upload | file MB | before: MB added | before: s | after: MB added | after: s |")
    print("| --- | --- | --- | --- | --- | --- |")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "MLFLOW_DISABLE_TELEMETRY": "true"}
    with tempfile.TemporaryDirectory() as folder:
        for name, case in CASES.items():
            path = Path(folder) / "upload"
            path.write_bytes(worst_case(*case))
            row = [name, f"{path.stat().st_size / 2**20:.1f}"]
            for way in ("before", "after"):
                out = subprocess.run([sys.executable, __file__, "--child", str(path), way], cwd=ROOT, env=env,
                                     capture_output=True, text=True, check=True).stdout.split()
                row += out[-2:]
            print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
