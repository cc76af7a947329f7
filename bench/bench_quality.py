"""Caption quality per decoder on the test split, greedy against beam search, with the time each takes.

    python bench/bench_quality.py [--project DIR] [--single 50]

Reads a project after `dvc repro` (default: this repository; e.g. bench_pipeline.py's ``--keep`` clone):
its test split, cached feature grids, trained decoders and the ``evaluate`` params. For each decoder and
search it scores BLEU-1 to BLEU-4, CIDEr-D and the content score (overall and per scene type, on the
embedded data) and times the decode two ways: per image within batches of 256, as evaluate runs it, and
one image at a time (median of ``--single`` calls), as the service runs it. Prints markdown tables.
"""

from __future__ import annotations

import statistics
import sys
import time

from common import FEATURES, PROCESSED, load_captioner, project_arguments  # noqa: E402  (repository on sys.path)


def single_image_ms(decoder, grids, tokenizer, beam_width: int, length_penalty: float, runs: int) -> float:
    """Median milliseconds of one compiled decode of a single image's grid."""
    import tensorflow as tf

    from pipeline.models.decoding import search

    vocab = tokenizer.vocabulary
    compiled = tf.function(lambda g: search(decoder, g, vocab.sequence_length, tokenizer.start_id,
                                            tokenizer.end_id, beam_width, length_penalty),
                           input_signature=[tf.TensorSpec([None, *grids.shape[1:]], tf.float32)])
    compiled(tf.constant(grids[:1]))
    times = []
    for i in range(runs):
        grid = tf.constant(grids[i % len(grids)][None])
        start = time.perf_counter()
        compiled(grid)[0].numpy()  # the token ids (search returns them with their scores)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    args, params, beam_width, penalty = project_arguments(__doc__.splitlines()[0], 50,
                                                          "single-image decodes timed per search")
    project = args.project

    from pipeline.data.preprocess import SCENES_FILE
    from pipeline.data.scenes import SCENE_TYPES
    from pipeline.metrics.ceiling import human_bleu
    from pipeline.models.evaluation import generate, load_scenes, score
    from pipeline.models.features import load_grids
    from pipeline.models.inputs import load_splits, load_tokenizer

    processed = project / PROCESSED
    tokenizer = load_tokenizer(processed)
    test = load_splits(processed, tokenizer)["test"]
    names, grids = load_grids(project / FEATURES, "test")
    scenes = load_scenes(processed / SCENES_FILE) if (processed / SCENES_FILE).is_file() else None
    rows = []
    for kind in params["train"]["decoders"]:
        decoder = load_captioner(project, kind, params["evaluate"]).decoder.layers[-1]  # the layer: on cached grids
        for search, width in (("greedy", 1), (f"beam {beam_width}", beam_width)):
            captions, _, seconds = generate(decoder, grids, tokenizer, width, penalty)
            single = single_image_ms(decoder, grids, tokenizer, width, penalty, args.single)
            rows.append((kind, search, score(captions, test.texts, names, scenes), 1000 * seconds, single))
            print(f"{kind} {search}: done", file=sys.stderr, flush=True)

    human = human_bleu([[r.split() for r in t] for t in test.texts])
    kinds = [k for k in SCENE_TYPES if scenes] if scenes else []
    print(f"\n{len(names)} test images of {project}; evaluate serves beam {beam_width} "
          f"(length penalty {penalty})\n")
    head = ["decoder", "search", "BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr-D"]
    head += ["content", *kinds] if scenes else []
    head += ["ms/image in batches of 256", "ms for one image"]
    print("| " + " | ".join(head) + " |\n|" + " --- |" * len(head))
    for kind, search, metrics, batch_ms, single in rows:
        cells = [kind, search] + [f"{metrics[f'bleu{n}']:.3f}" for n in range(1, 5)] + [f"{metrics['cider_d']:.2f}"]
        if scenes:
            cells += [f"{metrics['content']:.3f}"] + [f"{metrics.get(f'content_{k}', float('nan')):.3f}" for k in kinds]
        cells += [f"{batch_ms:.2f}", f"{single:.1f}"]
        print("| " + " | ".join(cells) + " |")
    blanks = [""] * (len(head) - 7)
    print("| " + " | ".join(["human (one reference against four)", ""] + [f"{b:.3f}" for b in human] + [""]
                            + blanks) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
