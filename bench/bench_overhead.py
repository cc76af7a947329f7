"""Where a conversion's time goes through gunicorn: wall-clock milliseconds per phase, from the app's own spans.

    python bench/bench_overhead.py [--requests 200] [--clients 1 8] [--tracking-uri URI] [--set KEY=VALUE ...]

The app runs as `make run` serves it (gunicorn, 1 worker x 8 threads) with ``SERVER_TIMING`` on, so every answer
carries a ``Server-Timing`` header (app/timing.py): each request hook and each phase of ``/api/convert`` (form,
decode, caption, speech, keep-image, history, json) and ``app``, from the WSGI call to the last hook. Beside them:
- ``app, outside the spans``: routing, the view's wrappers (Flask-Limiter's), Flask's own work;
- ``HTTP, gunicorn and the client``: the client's latency minus ``app`` (connection, parsing the request,
  sending the answer, the access log, the client building its request and reading the answer);
- ``GET /healthz``: the same remainder for the smallest request, the floor of the HTTP path.
As bench_serving.py runs it: English, MP3, ``text=off``, the speech cache off (every conversion speaks), the rate
limit off, 24 distinct 320x240 JPEG/PNG uploads, the model's default decoding. ``--set`` adds app settings
(``--set RESULT_IMAGE_QUALITY=85``); ``--compare`` starts a second server with other settings. Then, in process:
what ``History.add`` spends on files and on SQLite as the history grows, and decoding and keeping photo-size
JPEGs at the two decoding sizes. Each table carries the 1-minute load average. Prints markdown.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

from common import MODELS, load, median_ms, percentile, pictures, resolve_store, session  # noqa: E402

from testkit.gunicorn import serve  # noqa: E402

HOOKS_BEFORE = ("start_once", "check_same_site", "identify")
PHASES = ("form", "decode", "caption", "read", "speech", "keep-image", "history", "json")
HOOKS_AFTER = ("renew", "add_headers")


def spans(header: str) -> dict[str, float]:
    """``Server-Timing: a;dur=1.5, b;dur=0.2`` -> {"a": 1.5, "b": 0.2} (milliseconds)."""
    out = {}
    for item in filter(None, (part.strip() for part in header.split(","))):
        name, _, duration = item.partition(";dur=")
        out[name] = out.get(name, 0.0) + float(duration)
    return out


def convert(url: str, model: str, image: tuple[str, bytes]) -> dict[str, float]:
    """One conversion: its spans and the client's latency as ``client``."""
    name, data = image
    start = time.perf_counter()
    answer = session().post(f"{url}/api/convert", files={"image": (name, data)},
                            data={"model": model, "format": "mp3", "lang": "en", "text": "off"}, timeout=60)
    latency = (time.perf_counter() - start) * 1000
    if answer.status_code != 200 or not answer.json().get("caption"):
        raise RuntimeError(f"conversion failed: {answer.status_code} {answer.text[:200]}")
    return {**spans(answer.headers.get("Server-Timing", "")), "client": latency}


def timed_load(url: str, model: str, images, clients: int, total: int) -> list[dict[str, float]]:
    """``total`` conversions over ``clients`` threads; per answer its spans and the client's latency."""
    samples: list[dict[str, float]] = []

    def post(n: int) -> tuple[bool, str]:
        samples.append(convert(url, model, images[n % len(images)]))
        return True, ""

    result = load(post, clients, total)
    if result["errors"]:
        raise RuntimeError(f"{len(result['errors'])} conversions failed, e.g. {result['errors'][:3]}")
    return samples


def health(url: str, total: int) -> list[dict[str, float]]:
    """``GET /healthz`` ``total`` times: spans and latency."""
    out = []
    for _ in range(total):
        start = time.perf_counter()
        answer = session().get(f"{url}/healthz", timeout=10)
        out.append({**spans(answer.headers.get("Server-Timing", "")), "client": (time.perf_counter() - start) * 1000})
    return out


def phase_rows(samples: list[dict[str, float]]) -> list[tuple[str, list[float]]]:
    """(phase, per-request ms) in request order, with the derived remainders."""
    names = [n for n in (*HOOKS_BEFORE, *PHASES, *HOOKS_AFTER) if any(n in s for s in samples)]
    names += sorted({n for s in samples for n in s} - {*names, "app", "client"})  # hooks of other modules
    rows = [(name, [s.get(name, 0.0) for s in samples]) for name in names]
    rows.append(("app, outside the spans", [s["app"] - sum(s.get(n, 0.0) for n in names) for s in samples]))
    rows.append(("**app** (WSGI call to last hook)", [s["app"] for s in samples]))
    rows.append(("HTTP, gunicorn and the client", [s["client"] - s["app"] for s in samples]))
    rows.append(("**client latency**", [s["client"] for s in samples]))
    return rows


def client_build_ms(images, repeats: int = 200) -> float:
    """Median ms the client spends building one multipart request (part of the HTTP remainder)."""
    name, data = images[0]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        requests.Request("POST", "http://127.0.0.1:1/api/convert", files={"image": (name, data)},
                         data={"model": "m", "format": "mp3", "lang": "en", "text": "off"}).prepare()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def history_costs(folder: Path, sizes: tuple[int, ...], repeats: int) -> list[tuple[str, dict[str, float]]]:
    """In process, with ``sizes`` rows already kept: ``History.add`` of a typical result (40 kB JPEG, 25 kB MP3);
    its folder alone (three files, renamed in, the parent fsynced); its retention queries alone; and ``add``
    again while another connection stays open, as a long-lived connection per process would (SQLite then does
    not checkpoint the WAL into the database, with an fsync, each time the last connection closes)."""
    import sqlite3

    from sqlalchemy import text

    from app.services.db import Database
    from app.services.history import History, Retention
    from app.services.storage import LocalStorage
    from pipeline.files import atomic_dir

    image, audio = os.urandom(40_000), os.urandom(25_000)
    out = []
    for size in sizes:  # 1 kB a row: the retention's bounds keep every row
        base = folder / f"history-{size}"
        base.mkdir(parents=True)
        database = Database(f"sqlite:///{base / 'db.sqlite3'}")
        database.migrate()
        history = History(database, LocalStorage(base / "results"), Retention(2 * 1024**3, 30 * 86400, 100 * 1024**2))
        with database.connect(write=True) as db:  # rows without folders: only the table's size matters
            now = time.time()
            if size:
                db.execute(text("INSERT INTO results (id, created_at, caption, model_name, model_version, engine, "
                                "lang, format, processing_time, owner, size_bytes) VALUES (:id, :at, 'a', 'm', '1', "
                                "'espeak', 'en', 'mp3', 0.02, :owner, 1000)"),
                           [{"id": f"{i:032x}", "at": now - i, "owner": f"owner{i % 50}"} for i in range(size)])

        def add() -> None:
            history.add(image=image, audio=audio, caption="a dog runs", model_name="m", model_version="1",
                        engine="espeak", lang="en", fmt="mp3", processing_time=0.02, spoken="a dog runs",
                        in_domain=True, confidence=0.9, text="", owner="owner1")

        def files(n=[0]) -> None:
            n[0] += 1
            with atomic_dir(base / "files" / f"{n[0]:08d}") as tmp:
                for name, data in (("image.jpg", image), ("audio.mp3", audio), ("caption.txt", b"a dog runs\n")):
                    (tmp / name).write_bytes(data)

        def expire() -> None:
            with database.connect(write=True) as db:
                history._expire(db, "owner1")

        figures = {"add": median_ms(add, repeats), "folder": median_ms(files, repeats),
                   "retention queries": median_ms(expire, repeats)}
        held = sqlite3.connect(base / "db.sqlite3")
        held.execute("SELECT 1 FROM results LIMIT 1").fetchall()
        figures["add, a connection held open"] = median_ms(add, repeats)
        held.close()
        out.append((f"{size:,} rows kept", figures))
    return out


def photo_costs(repeats: int) -> list[tuple[str, float, float]]:
    """In process: decode and keep (``decode_image`` then ``kept_jpeg``) of photo-size JPEGs, decoded at
    ``DECODE_MAX_SIDE`` (what ``text=on`` needs) and at ``RESULT_IMAGE_MAX_SIDE`` (what ``text=off`` now does)."""
    import io

    import numpy as np
    from PIL import Image

    from app.config import DEFAULTS
    from app.services.images import decode_image, kept_jpeg

    rng, out = np.random.default_rng(0), []
    for width, height in ((4032, 3024), (3000, 2000), (1600, 1200)):
        coarse = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)  # detail at every scale
        buffer = io.BytesIO()
        Image.fromarray(coarse).resize((width, height), Image.Resampling.BILINEAR).save(buffer, "JPEG", quality=90)
        data = buffer.getvalue()

        def keep(side: int) -> None:
            kept_jpeg(decode_image(data, DEFAULTS["MAX_IMAGE_PIXELS"], side), DEFAULTS["RESULT_IMAGE_QUALITY"],
                      DEFAULTS["RESULT_IMAGE_MAX_SIDE"])

        out.append((f"{width}x{height} JPEG", median_ms(lambda: keep(DEFAULTS["DECODE_MAX_SIDE"]), repeats),
                    median_ms(lambda: keep(DEFAULTS["RESULT_IMAGE_MAX_SIDE"]), repeats)))
    return out


def print_phases(title: str, runs: dict[int, list[dict[str, float]]], loads: dict[int, tuple[float, float]]) -> None:
    """One markdown table: p50 and p95 per phase for each client count, and the load average around each run."""
    clients = list(runs)
    print(f"\n{title}\n")
    header = " | ".join(f"p50 ms, {c} client{'s' if c > 1 else ''} | p95" for c in clients)
    print(f"| phase | {header} |\n| --- |" + " --- | --- |" * len(clients))
    tables = {c: dict(phase_rows(runs[c])) for c in clients}
    for name in tables[clients[0]]:
        cells = []
        for c in clients:
            values = tables[c].get(name, [0.0])
            cells.append(f"{statistics.median(values):.2f} | {percentile(values, 95):.2f}")
        print(f"| {name} | {' | '.join(cells)} |")
    print("| load average (1 min), before / after | "
          + " | ".join(f"{loads[c][0]:.2f} / {loads[c][1]:.2f} | " for c in clients) + "|")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=MODELS[0])
    parser.add_argument("--requests", type=int, default=200, help="conversions per client count")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--tracking-uri", help="an MLflow store with production versions of both models")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="more app settings")
    parser.add_argument("--compare", nargs="*", default=None, metavar="KEY=VALUE",
                        help="a second server with these settings too; at 1 client the two take turns")
    parser.add_argument("--history-sizes", type=int, nargs="*", default=[0, 3_000, 30_000])
    args = parser.parse_args()
    images = pictures()
    settings = {"SERVER_TIMING": "true", "SPEECH_CACHE_ENTRIES": "0", "MODEL_POLL_SECONDS": "0",
                "RATE_LIMIT": "off", "TEXT_WARM_UP": "false", **dict(item.split("=", 1) for item in args.set)}
    configs = {"as set": settings}
    if args.compare is not None:
        configs["compared"] = {**settings, **dict(item.split("=", 1) for item in args.compare)}
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp, contextlib.ExitStack() as stack:
        folder = Path(tmp)
        tracking_uri, described = resolve_store(args.tracking_uri, folder)
        urls = {name: stack.enter_context(serve(tracking_uri, folder / f"instance-{n}", workers=1, threads=8,
                                                ready_timeout=240, **config))[0]
                for n, (name, config) in enumerate(configs.items())}
        for url in urls.values():
            timed_load(url, args.model, images, 8, 24)  # warm: traces, first connections, every thread
            health(url, 20)
        runs = {name: {} for name in urls}
        loads = {name: {} for name in urls}
        for clients in args.clients:
            before = os.getloadavg()[0]
            if clients == 1:  # the servers take turns, so a busy spell falls on each alike
                for name in urls:
                    runs[name][1] = []
                for n in range(args.requests):
                    for name in (list(urls) if n % 2 else list(urls)[::-1]):
                        runs[name][1].append(convert(urls[name], args.model, images[n % len(images)]))
                for name in urls:
                    loads[name][1] = (before, os.getloadavg()[0])
            else:
                for name, url in urls.items():
                    before = os.getloadavg()[0]
                    runs[name][clients] = timed_load(url, args.model, images, clients, args.requests)
                    loads[name][clients] = (before, os.getloadavg()[0])
        healthz = {}
        for name, url in urls.items():
            before = os.getloadavg()[0]
            healthz[name] = (health(url, args.requests), before, os.getloadavg()[0])
        stack.close()
        build = client_build_ms(images)
        before = os.getloadavg()[0]
        history = history_costs(folder, tuple(args.history_sizes), 50)
        history_load = (before, os.getloadavg()[0])
        before = os.getloadavg()[0]
        photos = photo_costs(9)
        photo_load = (before, os.getloadavg()[0])

    print(f"\n{args.model}: {described}; gunicorn 1 worker x 8 threads; {os.cpu_count()} cores; "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    for name, config in configs.items():
        print_phases(f"Settings {config}:", runs[name], loads[name])
        samples, before, after = healthz[name]
        h = dict(phase_rows(samples))
        print(f"\nGET /healthz, {len(samples)} requests, 1 client (load {before:.2f} / {after:.2f}): client p50 "
              f"{statistics.median(h['**client latency**']):.2f} ms, app "
              f"{statistics.median(h['**app** (WSGI call to last hook)']):.2f} ms, HTTP, gunicorn and the client "
              f"{statistics.median(h['HTTP, gunicorn and the client']):.2f} ms.")
    print(f"\nThe client builds one conversion's multipart request in {build:.2f} ms (median).\n")
    print(f"History.add in process, median of 50 (load {history_load[0]:.2f} / {history_load[1]:.2f}):\n")
    columns = list(history[0][1])
    print("| history | " + " | ".join(f"{c} ms" for c in columns) + " |\n| --- |" + " --- |" * len(columns))
    for label, figures in history:
        print(f"| {label} | " + " | ".join(f"{figures[c]:.2f}" for c in columns) + " |")
    print(f"\nDecode and keep of photo-size uploads in process, median of 9 (load {photo_load[0]:.2f} / "
          f"{photo_load[1]:.2f}):\n")
    print("| upload | decoded at 2000 px (text=on) ms | at 1280 px (text=off) ms | ratio |\n| --- | --- | --- | --- |")
    for label, wide, narrow in photos:
        print(f"| {label} | {wide:.1f} | {narrow:.1f} | {wide / narrow:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
