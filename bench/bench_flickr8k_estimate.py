"""What the real Flickr8k would cost on this machine: featurize's images per second with ``keras.applications``
encoders at their own input size, and each decoder's seconds per epoch per thousand captions at params.yaml's sizes.

    python bench/bench_flickr8k_estimate.py [--encoders mobilenetv3small efficientnetb0] [--images 1024]
                                            [--captions 2000] [--epochs 3] [--only featurize]

Featurize: ``pipeline.models.training.extract`` (the stage's read, decode, resize, encode; it traces anew at
every call, a cost counted apart) on ``--images`` JPEGs of Flickr8k's usual 500 x 375, made from the photos
``pipeline.data.outside`` reads from installed wheels; random weights (``weights=None``: the same arithmetic
as ImageNet's). Decoders: ``train_decoder`` with
params.yaml's ``train`` section (sizes, fit, XLA, oversampling, grouping) on random grids of each encoder's shape
and random captions over a vocabulary of ``preprocess.vocab_size`` words at ``preprocess.sequence_length``;
the first epoch (tracing, compiling) is left out, training and validation are timed apart. Beside every
figure: the load average, and an anchor measured in the same process (a 2000 x 2000 float32 numpy matmul,
median of 5), so figures from other days or machines compare as ratios. Prints markdown.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def anchor_ms() -> float:
    """Median milliseconds of a 2000 x 2000 float32 matmul (numpy's BLAS), of 5 after a warm-up."""
    a = np.random.default_rng(0).random((2000, 2000), np.float32)
    a @ a
    times = []
    for _ in range(5):
        start = time.perf_counter()
        a @ a
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def conditions() -> str:
    """The anchor and the 1-minute load average, now."""
    return f"{anchor_ms():.0f} ms | {os.getloadavg()[0]:.2f}"


def flickr8k_like_jpegs(folder: Path, count: int) -> list[str]:
    """``count`` JPEGs of 500 x 375 (Flickr8k's usual size), crops of the shipped photos."""
    from pipeline.data.outside import outside_pictures

    photos = [p.image for p in outside_pictures() if p.kind == "photo"]
    paths = []
    for i in range(count):
        photo = photos[i % len(photos)]
        width, height = photo.size
        shift = (i // len(photos)) % 4 * min(width, height) // 16
        picture = photo.crop((shift, shift, width - shift, height - shift)).resize((500, 375))
        path = folder / f"{i:05d}.jpg"
        picture.save(path, "JPEG", quality=90)
        paths.append(str(path))
    return paths


def featurize_rate(kind: str, paths: list[str], repeats: int = 3) -> tuple[float, float, tuple[int, ...]]:
    """Images per second through ``extract`` once it runs, the seconds each call costs besides (it traces anew),
    and the grid's shape: from the best of ``repeats`` calls on all of ``paths`` and on 16 of them."""
    from pipeline.models.encoder import build_pretrained_encoder
    from pipeline.models.training import extract

    encoder = build_pretrained_encoder(kind, weights=None)
    extract(encoder, paths[:16])  # warm up
    few = min(_seconds(lambda: extract(encoder, paths[:16])) for _ in range(repeats))
    every = min(_seconds(lambda: extract(encoder, paths)) for _ in range(repeats))
    rate = (len(paths) - 16) / (every - few)
    return rate, few - 16 / rate, tuple(encoder.output_shape[1:])


def _seconds(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def epoch_clock():
    """A Keras callback that keeps each epoch's training seconds (to its last batch) and validation seconds."""
    import keras

    class EpochClock(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.train: list[float] = []
            self.validation: list[float] = []
            self.began = self.last = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self.began = self.last = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.last = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.train.append(self.last - self.began)
            self.validation.append(time.perf_counter() - self.last)

    return EpochClock()


def decoder_rates(kind: str, grid: tuple[int, int], params: dict, captions: int, epochs: int) -> dict[str, float]:
    """Seconds per 1000 captions of a training epoch and of validation, for ``kind`` at params.yaml's settings."""
    from pipeline.data.vocabulary import END, START, Tokenizer, Vocabulary
    from pipeline.models.inputs import Split
    from pipeline.models.training import Fit, oversample, token_weights, train_decoder

    preprocess, train = params["preprocess"], params["train"]
    length, size = int(preprocess["sequence_length"]), int(preprocess["vocab_size"])
    spatial = list(train["fit"]["token_weights"])
    tokens = ["", "[UNK]", START, END, *spatial, *[f"word{i}" for i in range(size - 4 - len(spatial))]]
    tokenizer = Tokenizer(Vocabulary(tokens, length))
    rng = np.random.default_rng(0)

    def split(images: int) -> tuple[np.ndarray, Split]:
        """Random grids and captions: <start>, 8 to 21 random words (Flickr8k's are about 12), <end>, padding."""
        words = rng.integers(8, length - 2, (images, 5, 1))
        position = np.arange(length)
        ids = np.where(position <= words, rng.integers(4, size, (images, 5, length)), 0)
        ids[:, :, 0] = tokenizer.start_id
        ids[position == words + 1] = tokenizer.end_id
        grids = rng.standard_normal((images, *grid), np.float32)
        return grids, Split([f"{i}.jpg" for i in range(images)], [], ids, [])

    (train_grids, train_split), (dev_grids, dev_split) = split(captions // 5), split(100)
    own = train[kind]
    fit = Fit(**{**train["fit"], **own.get("fit", {}), "epochs": epochs, "patience": epochs})
    clock = epoch_clock()
    train_decoder(kind, {"train": train_grids, "dev": dev_grids}, {"train": train_split, "dev": dev_split},
                  tokenizer, fit, own["sizes"], callbacks=[clock])
    weights = token_weights(tokenizer, fit.token_weights or {})
    drawn = len(oversample(train_grids, train_split.captions, np.flatnonzero(weights != 1), fit.oversample)[1])
    per_epoch = drawn * min(fit.captions_per_image or 5, 5)
    return {"train": 1000 * statistics.median(clock.train[1:]) / per_epoch,
            "validation": 1000 * statistics.median(clock.validation[1:]) / 500,
            "oversampled": drawn / len(train_split.captions)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", nargs="+", default=["mobilenetv3small", "efficientnetb0"])
    parser.add_argument("--images", type=int, default=1024, help="JPEGs featurized per encoder")
    parser.add_argument("--captions", type=int, default=2000, help="training captions per decoder run")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per decoder run (the first is not timed)")
    parser.add_argument("--only", choices=("featurize",), help="measure only the encoders")
    args = parser.parse_args()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())

    from pipeline.models.encoder import PRETRAINED
    from pipeline.runtime import configure

    configure(params["runtime"])
    print(f"{os.cpu_count()} cores; anchor: 2000 x 2000 float32 matmul, median ms; load: 1-minute average\n")
    print("| encoder | input | grid | images/s | s per call besides | anchor | load |\n"
          "| --- | --- | --- | --- | --- | --- | --- |")
    grids = {}
    with tempfile.TemporaryDirectory() as folder:
        paths = flickr8k_like_jpegs(Path(folder), args.images)
        for kind in args.encoders:
            rate, overhead, grids[kind] = featurize_rate(kind, paths)
            size = PRETRAINED[kind].size
            print(f"| {kind} | {size} x {size} | {' x '.join(map(str, grids[kind]))} | {rate:.1f} | {overhead:.1f} | "
                  f"{conditions()} |")
    if args.only == "featurize":
        return 0
    print("\n| decoder | grid of | train s / epoch / 1000 captions | validation s / 1000 captions | images drawn "
          "per image | anchor | load |\n| --- | --- | --- | --- | --- | --- | --- |")
    for kind in params["train"]["decoders"]:
        for encoder, grid in grids.items():
            rates = decoder_rates(kind, grid, params, args.captions, args.epochs)
            print(f"| {kind} | {encoder} | {rates['train']:.2f} | {rates['validation']:.2f} | "
                  f"{rates['oversampled']:.2f} | {conditions()} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
