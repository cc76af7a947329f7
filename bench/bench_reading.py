"""Text reading per setting: latency per picture (cold and warm) and words read right on drawn signs.

    python bench/bench_reading.py [--repeats 7] [--settings 0,1,2]

Per reader setting (``SETTINGS``): cold, a new process builds a ``TextReader`` and reads one sign; warm, the
median of ``--repeats`` reads of a photo without text, a sign on a 600x400 photo and the same picture enlarged to
3000x2000 (phone size), the settings taking turns so a busy spell on the machine falls on all of them alike.
Accuracy: how many signs are read with every word right and single spaces between (case ignored): 32 on the
photos (font size 6% and 8% of the height) and 32 on the photos enlarged to 3000 px (1.2% and 2.5%). Machines
differ from day to day, so each figure carries an anchor measured alongside (median ms of sorting 4 million floats,
one thread) and the 1-minute load average. Prints markdown.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from common import ROOT, median_ms  # noqa: E402  (puts the repository on sys.path)
from PIL import Image

from pipeline.reading import TextReader
from testkit.signs import draw_sign, fonts, photos

# The defaults (long side 2000, one onnxruntime thread), then one change each: onnxruntime's own thread count (one
# per core), the long side capped at 1280 or 960, rapidocr's own detector sizing (short side enlarged to 736), and
# no spaces but the recogniser's own.
SETTINGS = [dict(max_side=2000, threads=1), dict(max_side=2000, threads=None), dict(max_side=1280, threads=1),
            dict(max_side=960, threads=1), dict(max_side=2000, threads=1, detector_min_side=736),
            dict(max_side=2000, threads=1, word_gap=math.inf)]
PHRASES = ("NO PARKING\nANY TIME", "OPEN 24 HOURS", "Main Street", "BUS STOP 42", "Public Library",
           "KEEP CLEAR", "Town Hall", "EXIT 12")
PHONE = 3000  # long side of the phone-size pictures, pixels
SCHEMES = ("white", "green", "blue", "red")

COLD_SCRIPT = """
import json, sys, time
from pipeline.reading import TextReader
from testkit.signs import draw_sign, fonts, photos
picture = draw_sign(photos()["coffee"], "NO PARKING", fonts()[0])
began = time.perf_counter()
reader = TextReader(**json.loads(sys.argv[1]))
loaded = time.perf_counter()
reader.read(picture)
print(json.dumps({"load": loaded - began, "first": time.perf_counter() - loaded}))
"""


def anchor_ms() -> float:
    """Median ms of a fixed one-thread workload (sorting 4 million floats): the machine's speed now."""
    numbers = np.random.default_rng(0).random(4_000_000)
    return median_ms(lambda: np.sort(numbers), 5)


def enlarged(picture: Image.Image, long_side: int = PHONE) -> Image.Image:
    """``picture`` scaled up so its long side is ``long_side`` pixels."""
    scale = long_side / max(picture.size)
    return picture.resize((round(picture.width * scale), round(picture.height * scale)), Image.Resampling.LANCZOS)


def signs(phone: bool) -> list[tuple[Image.Image, str]]:
    """Signs and their words: 4 photos x 4 fonts x 2 phrases, font size 6% and 8% of the height at photo size,
    1.2% and 2.5% on the photos enlarged to ``PHONE`` pixels; phrases and colours rotate."""
    out = []
    for i, photo in enumerate(photos().values()):
        for j, font in enumerate(fonts()):
            for k, height in enumerate((0.012, 0.025) if phone else (0.06, 0.08)):
                phrase = PHRASES[(i + j + 4 * k) % len(PHRASES)]
                picture = draw_sign(enlarged(photo) if phone else photo, phrase, font, height=height,
                                    where=(0.05 + 0.3 * k, 0.1 + 0.4 * k), scheme=SCHEMES[(i + j) % 4])
                out.append((picture, " ".join(phrase.split())))
    return out


def cold(settings: dict) -> dict:
    """Load and first-read seconds of a reader with ``settings`` in a new process."""
    done = subprocess.run([sys.executable, "-c", COLD_SCRIPT, json.dumps(settings)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def accuracy(reader: TextReader, cases: list[tuple[Image.Image, str]]) -> tuple[int, list[str]]:
    """How many ``cases`` ``reader`` reads exactly (case ignored), and what it read wrong."""
    wrong = []
    for picture, words in cases:
        text = reader.read(picture).text
        if text.upper() != words.upper():
            wrong.append(f"{words!r} -> {text!r}")
    return len(cases) - len(wrong), wrong


def label(settings: dict) -> str:
    """A short name for a setting: its arguments."""
    return ", ".join(f"{key} {value}" for key, value in settings.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="warm reads per picture and setting")
    parser.add_argument("--settings", default=",".join(map(str, range(len(SETTINGS)))), help="indices of SETTINGS")
    args = parser.parse_args()
    chosen = [SETTINGS[int(i)] for i in args.settings.split(",")]
    photo = photos()["coffee"]
    sign = draw_sign(photo, "NO PARKING\nANY TIME", fonts()[0])
    pictures = {"photo 600x400": photo, "sign 600x400": sign, f"sign {PHONE}x2000": enlarged(sign)}

    colds = []
    for settings in chosen:  # each in a new process, one after another
        anchor, load = anchor_ms(), os.getloadavg()[0]
        colds.append((cold(settings), anchor, load))
    readers = [TextReader(**settings) for settings in chosen]
    for reader in readers:
        reader.warm_up()
    times = [[[] for _ in pictures] for _ in chosen]
    anchors, loads = [[] for _ in chosen], [[] for _ in chosen]
    for _ in range(args.repeats):  # round-robin, so a busy spell on the machine falls on every setting alike
        for n, reader in enumerate(readers):
            anchors[n].append(anchor_ms())
            loads[n].append(os.getloadavg()[0])
            for k, picture in enumerate(pictures.values()):
                began = time.perf_counter()
                reader.read(picture)
                times[n][k].append((time.perf_counter() - began) * 1000)
    print("warm: done", file=sys.stderr, flush=True)

    cases = {"photo-size": signs(False), "phone-size": signs(True)}
    right, mistakes = [], []
    for settings, reader in zip(chosen, readers):
        load, scores = os.getloadavg()[0], []
        for kind, signs_of_kind in cases.items():
            count, wrong = accuracy(reader, signs_of_kind)
            scores.append(f"{count}/{len(signs_of_kind)}")
            mistakes += [f"{label(settings)}, {kind}: {w}" for w in wrong]
        right.append((label(settings), scores, load))
        print(f"{label(settings)}: done", file=sys.stderr, flush=True)

    median = statistics.median
    print(f"\n{os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d %H:%M')}; anchor: median ms of sorting 4M floats\n")
    print("Cold: a new process builds the reader and reads one sign (settings one after another)\n")
    print("| setting | load s | first read s | anchor ms | load avg |")
    print("|---|---|---|---|---|")
    for settings, (first, anchor, load) in zip(chosen, colds):
        print(f"| {label(settings)} | {first['load']:.2f} | {first['first']:.2f} | {anchor:.1f} | {load:.2f} |")
    print(f"\nWarm: median ms of {args.repeats} reads, settings in turn; anchor and load average of those rounds\n")
    print("| setting | " + " | ".join(f"{p} ms" for p in pictures) + " | anchor ms | load avg |")
    print("|---" * (3 + len(pictures)) + "|")
    for n, settings in enumerate(chosen):
        print(f"| {label(settings)} | " + " | ".join(f"{median(t):.0f}" for t in times[n])
              + f" | {median(anchors[n]):.1f} | {median(loads[n]):.2f} |")
    print("\nSigns read exactly (every word, single spaces, case ignored)\n")
    print("| setting | " + " | ".join(f"{kind} ({len(c)})" for kind, c in cases.items()) + " | load avg |")
    print("|---" * (2 + len(cases)) + "|")
    for name, scores, load in right:
        print(f"| {name} | " + " | ".join(scores) + f" | {load:.2f} |")
    if mistakes:
        print("\nMisread:\n" + "\n".join(f"- {m}" for m in mistakes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
