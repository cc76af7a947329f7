"""One image, compiled against eager: the encoder and the whole greedy decode as one compiled function.

    python bench/bench_inference.py [--project DIR] [--single 30]

Reads a project after `dvc repro` (default: this repository): its encoder, trained decoders and first test
image, prepared as the service prepares an upload. Per decoder it times, in one process, ``Captioner`` (what
the service runs: one ``tf.function``, traced once by ``warm_up`` at load) against the same greedy decode
step by step in eager Keras (``pipeline.models.decoding.eager_greedy``), median of ``--single`` calls each,
checks that both give the same caption, and reports the warm-up. Prints a markdown table.
"""

from __future__ import annotations

import sys
import time

from common import PROCESSED, load_captioner, median_ms, project_arguments  # noqa: E402  (repository on sys.path)


def main() -> int:
    args, params, _, _ = project_arguments(__doc__.splitlines()[0], 30, "calls timed per path")
    project = args.project

    from PIL import Image

    from pipeline.models.decoding import eager_greedy
    from pipeline.models.inputs import load_splits, load_tokenizer

    processed = project / PROCESSED
    tokenizer = load_tokenizer(processed)
    path = project / load_splits(processed, tokenizer)["test"].paths[0]
    rows = []
    for kind in params["train"]["decoders"]:
        captioner = load_captioner(project, kind, params["evaluate"], beam_width=1)
        began = time.perf_counter()
        captioner.warm_up()
        warm_s = time.perf_counter() - began
        image = captioner.prepare(Image.open(path))[None]
        encoder, layer, length = captioner.encoder, captioner.decoder.layers[-1], tokenizer.vocabulary.sequence_length

        def eager():
            return eager_greedy(encoder, layer, image, length, tokenizer.start_id, tokenizer.end_id)

        same = captioner.caption_arrays(image)[0] == tokenizer.decode(eager())
        compiled_ms = median_ms(lambda: captioner.caption_arrays(image), args.single)
        eager_ms = median_ms(eager, args.single)
        rows.append((kind, compiled_ms, eager_ms, warm_s, same))
        print(f"{kind}: done", file=sys.stderr, flush=True)

    print(f"\nOne test image of {project} ({path.name}), greedy; median of {args.single} calls each\n")
    print("| decoder | compiled ms | eager ms | eager / compiled | warm-up at load, s | same caption |")
    print("| --- | --- | --- | --- | --- | --- |")
    for kind, compiled_ms, eager_ms, warm_s, same in rows:
        print(f"| {kind} | {compiled_ms:.1f} | {eager_ms:.0f} | {eager_ms / compiled_ms:.0f}x | {warm_s:.1f} | "
              f"{'yes' if same else 'NO'} |")
    return 0 if all(row[-1] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
