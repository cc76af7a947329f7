"""Keras against its float32 TFLite export (MODEL_RUNTIME), per caption, one image and batches of eight.

    python bench/bench_runtime.py [--project DIR] [--single 64]

Reads a project after `dvc repro` (default: this repository): its encoder, trained decoders and test split.
Per decoder it builds the ``Captioner`` evaluate logs (evaluate's search) and converts it as evaluate does
(``pipeline.models.lite.convert``, float32), prepares ``--single`` test pictures as the service prepares an
upload, checks that both give the same token ids and scores within float32 rounding, then times each runtime on
the same pictures, calls interleaved: the median milliseconds per caption at batch 1 and at batch 8 (what
dynamic batching gives under load). Prints a markdown table with the load average.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from common import PROCESSED, load_captioner, project_arguments  # noqa: E402  (repository on sys.path)


def per_caption_ms(models: list, images, batch: int) -> list[float]:
    """Median milliseconds per caption of each model over ``images`` taken ``batch`` at a time, calls interleaved."""
    times = [[] for _ in models]
    for model in models:
        model.run_arrays(images[:batch])  # warm-up at this batch size
    for start in range(0, len(images) - batch + 1, batch):
        chunk = images[start:start + batch]
        for model, samples in zip(models, times):
            began = time.perf_counter()
            model.run_arrays(chunk)
            samples.append((time.perf_counter() - began) * 1000 / batch)
    return [statistics.median(samples) for samples in times]


def main() -> int:
    args, params, beam_width, _ = project_arguments(__doc__.splitlines()[0], 64, "test pictures timed per runtime")
    import numpy as np

    from pipeline.models.inputs import load_splits, load_tokenizer
    from pipeline.models.lite import LiteCaptioner, load_images

    processed = args.project / PROCESSED
    test = load_splits(processed, load_tokenizer(processed))["test"]
    paths = [str(args.project / p) for p in test.paths[:args.single]]
    rows, load_before = [], os.getloadavg()
    for kind in params["train"]["decoders"]:
        captioner = load_captioner(args.project, kind, params["evaluate"])
        captioner.warm_up()
        lite = LiteCaptioner.from_captioner(captioner)
        images = load_images(captioner, paths)
        ours, theirs = lite.run_arrays(images), captioner.run_arrays(images)
        same = bool((ours.ids == theirs.ids).all() and (ours.mirrored == theirs.mirrored).all())
        difference = float(np.abs(ours.scores - theirs.scores).max())
        one = per_caption_ms([captioner, lite], images, 1)
        eight = per_caption_ms([captioner, lite], images, 8)
        rows.append((kind, same, difference, one, eight))
        print(f"{kind}: done", file=sys.stderr, flush=True)
    load_after = os.getloadavg()

    search = f"beam {beam_width}" if beam_width > 1 else "greedy"
    print(f"\n{len(paths)} test pictures of {args.project}, {search}; {os.cpu_count()} cores; load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after\n")
    print("| decoder | same ids | largest score difference | Keras ms/caption, batch 1 | TFLite ms/caption, batch 1 "
          "| speed-up | Keras ms/caption, batch 8 | TFLite ms/caption, batch 8 | speed-up |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for kind, same, difference, one, eight in rows:
        print(f"| {kind} | {'yes' if same else 'no'} | {difference:.1e} | {one[0]:.2f} | {one[1]:.2f} | "
              f"{one[0] / one[1]:.1f}x | {eight[0]:.2f} | {eight[1]:.2f} | {eight[0] / eight[1]:.1f}x |")
    return 0 if all(row[1] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
