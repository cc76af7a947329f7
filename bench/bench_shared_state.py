"""/api/convert through gunicorn with the history in PostgreSQL and the results in S3 (moto), against the default
(SQLite and a folder in the instance folder): the same models, one client, requests interleaved between the two.

    python bench/bench_shared_state.py [--requests 100] [--model captioner-lstm] [--tracking-uri URI]

Both servers run as `make run` serves (1 worker x 8 threads), with the speech cache off so every conversion
synthesizes and stores its own audio. PostgreSQL and moto run on loopback (testkit/scaleout.py), moto keeping
objects in memory: the figures are the service's own cost of a shared store, not a network's.
Prints p50, p90 and the mean per store, the ratio p50 shared / p50 default (issue #20's goal: at most 1.5), and
the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from common import MODELS, percentile, pictures, resolve_store, session  # noqa: E402  (repository on sys.path)

from testkit.gunicorn import serve  # noqa: E402
from testkit.scaleout import S3_CREDENTIALS, MotoS3, Postgres  # noqa: E402

GOAL = 1.5  # p50 with the shared store at most this many times the default's
WARM_UP = 5  # untimed conversions per server first


def convert(url: str, name: str, data: bytes, model: str) -> float:
    """Milliseconds of one conversion; fails loudly on anything but 200."""
    start = time.perf_counter()
    answer = session().post(f"{url}/api/convert", files={"image": (name, data)}, data={"model": model}, timeout=60)
    elapsed = (time.perf_counter() - start) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"{url}: {answer.status_code} {answer.text[:300]}")
    return elapsed


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100, help="timed conversions per server")
    parser.add_argument("--model", default=MODELS[0], choices=MODELS)
    parser.add_argument("--tracking-uri", help="the model store (default: the project's, else the tests' tiny models)")
    args = parser.parse_args()
    before = load_average()
    images = pictures()
    with tempfile.TemporaryDirectory(prefix="bench-shared-") as folder, Postgres() as postgres, \
            MotoS3(Path(folder) / "moto") as s3:
        tmp = Path(folder)
        tracking_uri, described = resolve_store(args.tracking_uri, tmp / "store")
        s3.create_bucket("results")
        shared = {"DATABASE_URL": postgres.create_database("image_to_audio").replace("postgresql://",
                                                                                    "postgresql+psycopg://"),
                  "RESULTS_URL": "s3://results/bench"}
        s3_env = {**S3_CREDENTIALS, "AWS_ENDPOINT_URL": s3.endpoint}
        settings = {"MODEL_POLL_SECONDS": "0", "TEXT_WARM_UP": "false", "SPEECH_CACHE_ENTRIES": "0",
                    "MODEL_NAMES": f'["{args.model}"]'}
        with serve(tracking_uri, tmp / "default", workers=1, threads=8, **settings) as (default, _), \
                serve(tracking_uri, tmp / "shared", workers=1, threads=8, env=s3_env, **settings, **shared) \
                as (shared_url, _):
            servers = {"SQLite + local folder (default)": default, "PostgreSQL + S3 (moto)": shared_url}
            for url in servers.values():
                for n in range(WARM_UP):
                    convert(url, *images[n % len(images)], args.model)
            times: dict[str, list[float]] = {label: [] for label in servers}
            for n in range(args.requests):
                order = list(servers.items()) if n % 2 == 0 else list(servers.items())[::-1]  # neither always first
                for label, url in order:
                    times[label].append(convert(url, *images[n % len(images)], args.model))
    after = load_average()

    print(f"\n/api/convert, {args.requests} conversions per store, 1 client, interleaved; {described}; "
          f"model {args.model}\n")
    print("| store | p50 ms | p90 ms | mean ms |\n|---|---:|---:|---:|")
    for label, samples in times.items():
        print(f"| {label} | {percentile(samples, 50):.1f} | {percentile(samples, 90):.1f} | "
              f"{statistics.fmean(samples):.1f} |")
    (base, shared_times) = times.values()
    ratio = percentile(shared_times, 50) / percentile(base, 50)
    print(f"\np50 shared / p50 default: {ratio:.2f} (goal at most {GOAL}: {'met' if ratio <= GOAL else 'NOT met'})")
    print(f"load average (1, 5, 15 min): before {before}, after {after}")


if __name__ == "__main__":
    main()
