"""Does ``text=off`` pay anything for the text reader? Conversion latency with the reader loaded and warm, and
with no reader at all, in one process.

    python bench/bench_text_off.py [--rounds 120] [--model captioner-transformer]

Two apps serve the production models of the tracking store (``MLFLOW_TRACKING_URI``, else ``mlflow.db`` at the
repository root; `make run` builds them):
``TEXT_WARM_UP`` on (the reader loaded and warmed at start, as served) and off with no ``text=on`` request ever
(the reader never built: what a conversion cost before reading existed). Their ``text=off`` conversions take
turns, so a busy spell on the machine falls on both alike; ``text=on`` on the first app is timed for scale.
Each figure carries an anchor measured in the same run (median ms of sorting 4 million floats, one thread) and the
1-minute load average. Prints markdown.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time

import numpy as np
from common import ROOT, median_ms, percentile, pictures  # noqa: E402  (puts the repository on sys.path)

from pipeline.names import registered_name  # noqa: E402


def anchor_ms() -> float:
    """Median ms of sorting 4 million floats (one thread): the machine's speed now."""
    numbers = np.random.default_rng(0).random(4_000_000)
    return median_ms(lambda: np.sort(numbers), 5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=120, help="text=off conversions per app")
    parser.add_argument("--model", default=registered_name("transformer"))
    args = parser.parse_args()
    os.chdir(ROOT)
    from app import create_app
    from pipeline.bootstrap import stale_production

    if stale_production():
        print("no production models in mlflow.db: run `make run` (or `make repro`) first", file=sys.stderr)
        return 1
    apps = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, warm in (("reader loaded, warm", True), ("no reader", False)):
            app = create_app({"TEXT_WARM_UP": warm}, instance_path=f"{tmp}/{int(warm)}")
            apps[name] = app.test_client()
        images = pictures()
        for client in apps.values():
            while client.get("/readyz").status_code != 200:  # the models load in the background
                time.sleep(0.5)

        def convert(client, n: int, text: str) -> float:
            name, data = images[n % len(images)]
            began = time.perf_counter()
            answer = client.post("/api/convert", data={"image": (io.BytesIO(data), name),
                                                       "model": args.model, "text": text, "format": "mp3"})
            assert answer.status_code == 200, answer.get_json()
            return (time.perf_counter() - began) * 1000

        for client in apps.values():  # first conversions trace and warm caches
            for n in range(5):
                convert(client, n, "off")
        anchor_before, load_before = anchor_ms(), os.getloadavg()[0]
        times = {name: [] for name in apps}
        for n in range(args.rounds):
            for name in (list(apps) if n % 2 else list(apps)[::-1]):
                times[name].append(convert(apps[name], n, "off"))
        reading = [convert(apps["reader loaded, warm"], n, "on") for n in range(max(10, args.rounds // 6))]
        anchor_after, load_after = anchor_ms(), os.getloadavg()[0]
    print(f"`{args.model}`, {args.rounds} `text=off` conversions per app (MP3, 320x240 pictures), taking turns; "
          f"anchor {anchor_before:.1f} / {anchor_after:.1f} ms (before / after), "
          f"load {load_before:.2f} / {load_after:.2f}\n")
    print("| app | text | p50 ms | p90 ms | mean ms |\n| --- | --- | --- | --- | --- |")
    for name, values in [*times.items(), ("reader loaded, warm (for scale)", reading)]:
        text = "on" if "scale" in name else "off"
        print(f"| {name} | {text} | {statistics.median(values):.1f} | {percentile(values, 90):.1f} "
              f"| {statistics.fmean(values):.1f} |")
    off = [a - b for a, b in zip(times["reader loaded, warm"], times["no reader"])]
    print(f"\nPaired difference (loaded minus none) per round: median {statistics.median(off):+.2f} ms, "
          f"spread of either p50 between halves of the run: "
          f"{abs(statistics.median(times['no reader'][::2]) - statistics.median(times['no reader'][1::2])):.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
