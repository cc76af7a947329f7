"""The pipeline from scratch, stage by stage, in a fresh clone; featurize throughput against a plain predict.

    python bench/bench_pipeline.py [--keep DIR]

Clones the repository's HEAD (committed work only) into a temporary folder (or ``--keep DIR``, kept
afterwards, e.g. to serve its models), then runs ``dvc repro --single-item`` for each stage in order, timing
each, with the CPU time of its process tree over its wall time (the cores it kept busy) and the peak memory of
the tree, then the no-op ``dvc repro``. Afterwards it extracts every image's feature grid twice with the
clone's trained encoder: through the stage's tf.data pipeline (read, decode, resize, encode:
``pipeline.models.training.extract``) and with a plain ``model.predict`` over the same images already decoded
in memory. A fixed reference workload (``common.reference_seconds``) is timed before and after, with the load
average, so that pipeline times from different days compare as ratios to it. Prints markdown tables.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import ENCODER_FOLDER, PROCESSED, ROOT, load_average, reference_seconds, tree_rss_mb  # noqa: E402  (puts the repository on sys.path)

from pipeline import QUIET_ENV  # noqa: E402
from pipeline.names import DECODERS, ENCODER_FILE  # noqa: E402

STAGES = ("download", "preprocess", "featurize", *(f"train@{decoder}" for decoder in DECODERS), "evaluate")


def environment() -> dict[str, str]:
    """The clone's environment: this venv's tools first, no analytics, the clone's own MLflow store."""
    env = {**os.environ, **QUIET_ENV, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def cpu_seconds() -> float:
    """User and system CPU seconds of every finished child process and their waited-for descendants."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float, str]:
    """Run ``args``; its seconds, the CPU seconds of its process tree, the tree's peak RSS (MB) sampled every
    0.2 s, its output."""
    cpu, start = cpu_seconds(), time.perf_counter()
    process = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = [0.0]

    def sample() -> None:
        while process.poll() is None:
            peak[0] = max(peak[0], tree_rss_mb(process.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = process.communicate()[0]
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    sampler.join()
    if process.returncode:
        raise SystemExit(f"{' '.join(args)} failed ({process.returncode}):\n{output[-3000:]}")
    return seconds, cpu, peak[0], output


def throughput(clone: Path, repeats: int = 3) -> dict[str, float]:
    """Images per second: the stage's extraction against ``model.predict`` on decoded images (best of ``repeats``)."""
    import keras
    import numpy as np
    import tensorflow as tf

    from pipeline.models.encoder import image_size_of
    from pipeline.models.inputs import decode_image, load_splits, load_tokenizer
    from pipeline.models.training import extract

    processed = clone / PROCESSED
    splits = load_splits(processed, load_tokenizer(processed))
    paths = [str(clone / p) for split in splits.values() for p in split.paths]  # relative to the clone
    encoder = keras.models.load_model(clone / ENCODER_FOLDER / ENCODER_FILE, compile=False)  # the encoder alone
    size = image_size_of(encoder)
    images = np.stack([decode_image(tf.io.read_file(p), size).numpy() for p in paths])
    extract(encoder, paths[:256])  # warm both paths up
    encoder.predict(images[:256], batch_size=128, verbose=0)
    ours, plain = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        extract(encoder, paths)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        encoder.predict(images, batch_size=128, verbose=0)
        plain.append(time.perf_counter() - start)
    return {"images": len(paths), "ours": len(paths) / min(ours), "plain": len(paths) / min(plain)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="clone into this (new) folder and keep it")
    args = parser.parse_args()
    env = environment()
    reference = [(reference_seconds(), load_average())]
    print(f"reference workload: {reference[0][0]:.1f} s, load {reference[0][1]}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        clone = args.keep.resolve() if args.keep else Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True,
                                text=True, check=True).stdout.strip()
        rows = []
        for stage in STAGES:
            seconds, cpu, peak, output = timed([sys.executable, "-m", "dvc", "repro", "--single-item", stage], clone,
                                               env)
            if f"Running stage '{stage}'" not in output:
                raise SystemExit(f"dvc did not run {stage}:\n{output[-2000:]}")
            rows.append((stage, seconds, cpu / seconds, peak))
            print(f"{stage}: {seconds:.1f} s, {cpu / seconds:.2f} cores busy, peak {peak:.0f} MB", file=sys.stderr,
                  flush=True)
        noop, _, _, output = timed([sys.executable, "-m", "dvc", "repro"], clone, env)
        if "Running stage" in output:
            raise SystemExit(f"the second `dvc repro` ran stages:\n{output[-2000:]}")
        rates = throughput(clone)
    reference.append((reference_seconds(), load_average()))

    total = sum(seconds for _, seconds, _, _ in rows)
    busy = sum(seconds * cores for _, seconds, cores, _ in rows) / total
    print(f"\n`dvc repro` from scratch in a fresh clone of {commit}; {os.cpu_count()} cores, default params.yaml\n")
    print("| stage | seconds | share | CPU cores busy (CPU time / wall time) | peak RSS MB |\n"
          "| --- | --- | --- | --- | --- |")
    for stage, seconds, cores, peak in rows:
        print(f"| {stage} | {seconds:.0f} | {seconds / total:.0%} | {cores:.2f} | {peak:.0f} |")
    print(f"| **all** | **{total:.0f}** ({total / 60:.1f} min) | | {busy:.2f} | {max(r[3] for r in rows):.0f} |")
    print(f"| no-op `dvc repro` | {noop:.1f} | | | |\n")
    print("| reference workload (`common.reference_seconds`) | seconds | load average 1, 5, 15 min |\n| --- | --- | --- |")
    for when, (seconds, load) in zip(("before", "after"), reference):
        print(f"| {when} | {seconds:.1f} | {load} |")
    mean = sum(seconds for seconds, _ in reference) / len(reference)
    print(f"| **pipeline / reference** | **{total / mean:.0f}** | |\n")
    print("| feature extraction, all splits | images/s |\n| --- | --- |")
    print(f"| the stage's tf.data pipeline (read, decode, resize, encode), {rates['images']} images "
          f"| {rates['ours']:.0f} |")
    print(f"| plain `model.predict` on the same images, decoded in memory | {rates['plain']:.0f} |")
    print(f"| **ratio** (goal: at least 0.9) | **{rates['ours'] / rates['plain']:.2f}** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
