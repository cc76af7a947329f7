"""Speech latency per engine and format: p50 and p95, cold and warm; prints a markdown table.

    python bench/bench_speech.py [--runs 50] [--cold-runs 5]

Rows:
- cold: the first call in a fresh process (library load, voice load, first connection),
  after ``import pipeline.speech``; one sample per process.
- uncached: a warm engine, a caption not seen before (cache miss): the real synthesis cost.
- cached: the same caption again (cache hit).
- fallback, circuit open: gtts requested while its circuit is open, so espeak speaks at once.

Google is not reachable from here: gtts rows run against a local fake of Google's endpoint
(testkit/speech_servers.py), which builds a 24 kHz MP3 per request, so they
measure gTTS's client path plus loopback HTTP, not Google's latency.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.speech import Speaker, SpeechSettings  # noqa: E402
from testkit.speech_servers import FakeGoogleServer, closed_port  # noqa: E402

SUBJECTS = ["dog", "girl", "man", "child", "cat", "boy", "woman", "horse", "bird", "skier"]
ACTIONS = ["runs across", "jumps over", "sits beside", "walks along", "plays near"]
PLACES = ["the green grass", "a small wooden fence", "the sandy beach", "a snowy hill", "the red door"]

COLD_SCRIPT = """
import json, sys, time
from pipeline.speech import Speaker, SpeechSettings
settings = SpeechSettings(**json.loads(sys.argv[1]))
speaker = Speaker(settings)
start = time.perf_counter()
result = speaker.synthesize(sys.argv[2], engine=sys.argv[3], fmt=sys.argv[4])
print(json.dumps({"ms": (time.perf_counter() - start) * 1000, "engine": result.engine}))
"""


def captions(count: int, offset: int = 0) -> list[str]:
    """Return ``count`` distinct ten-word captions such as 'a dog runs across the green grass number 0 today'."""
    out = []
    for i in range(offset, offset + count):
        subject, action, place = SUBJECTS[i % 10], ACTIONS[i // 10 % 5], PLACES[i // 50 % 5]
        out.append(f"a {subject} {action} {place} number {i} today")
    return out


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    """Return (p50, p95) in milliseconds."""
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def time_calls(speaker: Speaker, texts: list[str], engine: str, fmt: str) -> tuple[list[float], str]:
    """Time ``synthesize`` for each text; returns milliseconds and the engine that spoke last."""
    times, spoke = [], ""
    for text in texts:
        start = time.perf_counter()
        result = speaker.synthesize(text, engine=engine, fmt=fmt)
        times.append((time.perf_counter() - start) * 1000)
        spoke = result.engine
    return times, spoke


def cold_runs(settings: dict, engine: str, fmt: str, runs: int) -> list[float]:
    """Time the first call in ``runs`` fresh interpreter processes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times = []
    for i in range(runs):
        args = [sys.executable, "-c", COLD_SCRIPT, json.dumps(settings), captions(1, 900 + i)[0], engine, fmt]
        done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=True)
        times.append(json.loads(done.stdout.strip().splitlines()[-1])["ms"])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="calls per warm row")
    parser.add_argument("--cold-runs", type=int, default=5, help="fresh processes per cold row")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        os.environ.pop(name, None)  # gTTS sends through the environment's proxies; keep loopback direct
    rows = []

    with FakeGoogleServer() as google:
        targets = [("espeak", "espeak", {}), ("gtts (local fake server)", "gtts", {"gtts_base_url": google.base_url})]
        for label, engine, extra in targets:
            for fmt in ("mp3", "wav"):
                cold = cold_runs(extra, engine, fmt, args.cold_runs)
                speaker = Speaker(SpeechSettings(**extra))
                speaker.synthesize("warming up the engine", engine=engine, fmt=fmt)
                texts = captions(args.runs)
                uncached, spoke = time_calls(speaker, texts, engine, fmt)
                cached, _ = time_calls(speaker, texts[:1] * args.runs, engine, fmt)
                assert spoke == engine, f"{engine} did not speak ({spoke} did)"
                rows += [(label, fmt, "cold (first call, new process)", cold), (label, fmt, "uncached", uncached),
                         (label, fmt, "cached", cached)]

    refused = {"gtts_base_url": f"http://127.0.0.1:{closed_port()}", "breaker_failures": 1, "breaker_reset_s": 3600}
    speaker = Speaker(SpeechSettings(**refused))
    speaker.synthesize("open the circuit", engine="gtts")
    fallback, spoke = time_calls(speaker, captions(args.runs, 500), "gtts", "mp3")
    assert spoke == "espeak" and speaker.breaker.state == "open"
    rows.append(("gtts -> espeak fallback", "mp3", "circuit open, uncached", fallback))

    print("| engine | format | case | n | p50 ms | p95 ms |")
    print("|---|---|---|---:|---:|---:|")
    for label, fmt, case, samples in rows:
        p50, p95 = percentiles(samples)
        print(f"| {label} | {fmt} | {case} | {len(samples)} | {p50:.2f} | {p95:.2f} |")
    print(f"\nTen-word captions; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}.")


if __name__ == "__main__":
    main()
