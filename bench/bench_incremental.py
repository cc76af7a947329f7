"""The Transformer's decoding, incremental against recomputing the prefix at every step.

    python bench/bench_incremental.py [--project DIR] [--single 30]

Reads a project after `dvc repro` (default: this repository): its encoder, trained Transformer and test
pictures, prepared as the service prepares an upload. In one process it builds the captioner's compiled
function (encoder, mirrored picture, the served beam search) twice: stepping with
``pipeline.models.decoders.Incremental`` (what every search runs) and with the decoder's own ``step``, which
recomputes the whole prefix as in training (``Captioner(..., incremental=False)``). It times each on Keras at one picture (median of ``--single``
calls) and over the test split in batches of 100, and on TFLite at one picture; counts the test pictures
whose captions and mirrored captions both ways agree; prints markdown tables with the load average.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from common import PROCESSED, load_average, load_captioner, median_ms, project_arguments  # noqa: E402


def main() -> int:
    args, params, _, _ = project_arguments(__doc__.splitlines()[0], 30, "calls timed per path at one picture")
    project = args.project

    from pipeline.models.captioner import Captioner
    from pipeline.models.inputs import load_splits, load_tokenizer
    from pipeline.models.lite import LiteCaptioner, load_images

    tokenizer = load_tokenizer(project / PROCESSED)
    test = load_splits(project / PROCESSED, tokenizer)["test"]
    incremental = load_captioner(project, "transformer", params["evaluate"])
    recomputing = Captioner(incremental.encoder, incremental.decoder, incremental.tokenizer.vocabulary,
                            incremental.decoding, incremental=False)
    images = load_images(incremental, [str(project / p) for p in test.paths])
    before = load_average()
    rows, same = [], 0
    for name, captioner in (("incremental", incremental), ("recomputing the prefix", recomputing)):
        captioner.warm_up()
        one = median_ms(lambda: captioner.run_arrays(images[:1]), args.single)
        began = time.perf_counter()
        raws = [captioner.run_arrays(images[i:i + 100]) for i in range(0, len(images), 100)]
        batched = 1000 * (time.perf_counter() - began) / len(images)
        lite = LiteCaptioner.from_captioner(captioner)
        lite.warm_up()
        lite_one = median_ms(lambda: lite.run_arrays(images[:1]), args.single)
        rows.append((name, one, batched, lite_one, raws))
        print(f"{name}: done", file=sys.stderr, flush=True)
    for a, b in zip(rows[0][4], rows[1][4]):
        same += int(np.sum(np.all(a.ids == b.ids, 1) & np.all(a.mirrored == b.mirrored, 1)))

    print(f"\nThe Transformer of {project}, beam {incremental.decoding.beam_width}, each picture with its mirror; "
          f"load average {before} before, {load_average()} after\n")
    print("| decoding | Keras, one picture, ms | Keras, batches of 100, ms a picture | TFLite, one picture, ms |")
    print("| --- | --- | --- | --- |")
    for name, one, batched, lite_one, _ in rows:
        print(f"| {name} | {one:.1f} | {batched:.1f} | {lite_one:.1f} |")
    print(f"\nThe same captions (and mirrored captions) both ways: {same} of {len(images)} test pictures.")
    return 0 if same == len(images) else 1


if __name__ == "__main__":
    sys.exit(main())
