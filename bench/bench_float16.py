"""The float16 export against the float32 model, per decoder and search: size, latency, agreement, quality.

    python bench/bench_float16.py [--project DIR] [--single 100]

Reads a project after `dvc repro` (default: this repository): its encoder, trained decoders, test split
and ``evaluate`` params. For each decoder and search (greedy, and evaluate's beam) it builds the
``Captioner`` evaluate logs and converts it as ``evaluate.float16`` does, then reports the saved sizes,
the conversion time, the latency of one image (p50 and p95 of ``--single`` calls after a warm-up, the
image already prepared, float32 and float16 calls interleaved), the share of the test images captioned
identically and BLEU-4 and content (embedded data) of both. Every figure is on the same prepared test
images, so it does not match evaluate's test scores, which decode the cached feature grids. A control:
the same conversion with float32 weights, which shows what TFLite's runtime alone changes. Prints markdown.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from common import PROCESSED, load_captioner, percentile, project_arguments  # noqa: E402  (repository on sys.path)


def single_image_ms(models: list, images, runs: int) -> list[list[float]]:
    """Milliseconds of ``runs`` one-image calls per model, the models called in turn on each image."""
    for model in models:
        model.caption_arrays(images[:1])  # warm-up
    times = [[] for _ in models]
    for i in range(runs):
        image = images[i % len(images)][None]
        for model, samples in zip(models, times):
            start = time.perf_counter()
            model.caption_arrays(image)
            samples.append((time.perf_counter() - start) * 1000)
    return times


def main() -> int:
    args, params, beam_width, penalty = project_arguments(__doc__.splitlines()[0], 100,
                                                          "single-image calls timed per model")
    project = args.project

    from pipeline.data.preprocess import SCENES_FILE
    from pipeline.models.evaluation import load_scenes, score
    from pipeline.models.lite import LiteCaptioner, agreement, captions_of, load_images, size_mb
    from pipeline.models.inputs import load_splits, load_tokenizer

    processed = project / PROCESSED
    test = load_splits(processed, load_tokenizer(processed))["test"]
    names = test.names
    scenes = load_scenes(processed / SCENES_FILE) if (processed / SCENES_FILE).is_file() else None
    rows, images = [], None
    for kind in params["train"]["decoders"]:
        for search, width in (("greedy", 1), (f"beam {beam_width}", beam_width)):
            captioner = load_captioner(project, kind, params["evaluate"], beam_width=width)
            if images is None:
                images = load_images(captioner, [str(project / p) for p in test.paths])
            with tempfile.TemporaryDirectory() as tmp:
                captioner.save(Path(tmp) / "float32")
                began = time.perf_counter()
                lite = LiteCaptioner.from_captioner(captioner, float16=True)
                convert_s = time.perf_counter() - began
                lite.save(Path(tmp) / "float16")
                sizes = size_mb(Path(tmp) / "float32"), size_mb(Path(tmp) / "float16")
            control = LiteCaptioner.from_captioner(captioner)  # float32 weights
            f32, f16 = captions_of(captioner, images), captions_of(lite, images)
            times = single_image_ms([captioner, lite, control], images, args.single)
            scores = [score(c, test.texts, names, scenes) for c in (f32, f16)]
            rows.append((kind, search, sizes, convert_s, times, agreement(f16, f32),
                         agreement(captions_of(control, images), f32), scores))
            print(f"{kind} {search}: done", file=sys.stderr, flush=True)

    print(f"\n{len(names)} test images of {project}; evaluate serves beam {beam_width} (length penalty {penalty}); "
          f"latency of one prepared image over {args.single} calls, 2 cores shared\n")
    head = ["decoder", "search", "MB float32 (.keras)", "MB float16 (.tflite)", "convert s",
            "ms float32 p50 / p95", "ms float16 p50 / p95", "ms TFLite float32 p50 (control)",
            "agreement", "agreement control", "BLEU-4 float32 / float16"]
    head += ["content float32 / float16"] if scenes else []
    print("| " + " | ".join(head) + " |\n|" + " --- |" * len(head))
    for kind, search, sizes, convert_s, times, agree, agree_control, scores in rows:
        cells = [kind, search, f"{sizes[0]:.2f}", f"{sizes[1]:.2f}", f"{convert_s:.1f}",
                 *[f"{percentile(t, 50):.1f} / {percentile(t, 95):.1f}" for t in times[:2]],
                 f"{percentile(times[2], 50):.1f}", f"{agree:.4f}", f"{agree_control:.4f}",
                 f"{scores[0]['bleu4']:.3f} / {scores[1]['bleu4']:.3f}"]
        if scenes:
            cells.append(f"{scores[0]['content']:.3f} / {scores[1]['content']:.3f}")
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
