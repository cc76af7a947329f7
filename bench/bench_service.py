"""Load test of the service on loopback: concurrent clients converting pictures through real gunicorn.

    python bench/bench_service.py [--clients 8] [--conversions 500] [--workers 2] [--threads 4]
                                  [--tracking-uri sqlite:////path/mlflow.db] [--format mp3]

Without --tracking-uri it serves the project's own production models (the service's default store,
``mlflow.db`` at the repository root) when both have a production version there; otherwise it trains
the real tiny captioners of the tests (testkit/tiny_models.py, about a minute) into a temporary store.
Afterwards it checks that every answered conversion's audio and history entry exist, and prints a
markdown table. Exits 1 on any error or missing result.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from pathlib import Path

import requests

from common import MODELS, load, percentile, pictures, resolve_store, session  # noqa: E402  (repository on sys.path)

from testkit.gunicorn import serve  # noqa: E402

ADMIN_TOKEN = secrets.token_urlsafe(32)  # this run's server's, to list every owner's results afterwards


def run(url: str, clients: int, conversions: int, fmt: str) -> tuple[list[float], list[dict], list[str]]:
    """``conversions`` POSTs spread over ``clients`` threads; latencies (ms) of the answered ones, answers, errors."""
    images, answers = pictures(), []

    def post(n: int) -> tuple[bool, str]:
        name, data = images[n % len(images)]
        answer = session().post(f"{url}/api/convert", files={"image": (name, data)},
                                data={"model": MODELS[n % len(MODELS)], "format": fmt}, timeout=60)
        if answer.status_code != 200:
            return False, f"{answer.status_code} {answer.text[:200]}"
        answers.append(answer.json())
        return True, ""

    result = load(post, clients, conversions)
    return result["latencies"], answers, result["errors"]


def missing_results(url: str, answers: list[dict]) -> list[str]:
    """Answered conversions whose audio or history entry cannot be found afterwards (every owner's history: the
    admin's view)."""
    problems = []
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        listed, page = set(), 1
        while True:
            body = http.get(f"{url}/api/history", params={"page": page, "per_page": 100}, timeout=30).json()
            listed |= {item["id"] for item in body["items"]}
            if page >= body["pages"]:
                break
            page += 1
        for answer in answers:
            audio = http.get(url + answer["audio_url"], timeout=30)
            if audio.status_code != 200 or not audio.content:
                problems.append(f"{answer['id']}: audio {audio.status_code}")
            if answer["id"] not in listed:
                problems.append(f"{answer['id']}: not in the history")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--conversions", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--format", default="mp3", choices=["mp3", "wav"])
    parser.add_argument("--tracking-uri", help="an MLflow store with production versions of both models "
                                               "(default: the project's mlflow.db, else tiny models trained now)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-service-") as folder:
        tracking_uri, models = resolve_store(args.tracking_uri, Path(folder))
        with serve(tracking_uri, Path(folder) / "instance", workers=args.workers, threads=args.threads,
                   MODEL_POLL_SECONDS="0", RATE_LIMIT="off", ADMIN_TOKEN=ADMIN_TOKEN) as (url, _):
            run(url, args.clients, args.clients * 2, args.format)  # warm every worker and thread
            start = time.perf_counter()
            latencies, answers, errors = run(url, args.clients, args.conversions, args.format)
            elapsed = time.perf_counter() - start
            problems = missing_results(url, answers)

    print(f"\n{models}; gunicorn {args.workers} workers x {args.threads} threads on 127.0.0.1; "
          f"{args.format}; 320x240 JPEG/PNG uploads\n")
    print("| clients | conversions | errors | missing afterwards | p50 ms | p95 ms | max ms | conversions/s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {args.clients} | {len(answers)}/{args.conversions} | {len(errors)} | {len(problems)} | "
          f"{percentile(latencies, 50):.0f} | {percentile(latencies, 95):.0f} | {max(latencies):.0f} | "
          f"{len(answers) / elapsed:.1f} |")
    for line in (errors + problems)[:20]:
        print("  ", line)
    return 1 if errors or problems else 0


if __name__ == "__main__":
    sys.exit(main())
