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
(``--set RESULT_IMAGE_QUALITY=85``). Then, in process, what ``History.add`` spends on files and on SQLite as the
history grows. Each table carries the 1-minute load average. Prints markdown.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

from common import MODELS, load, percentile, pictures, resolve_store, session  # noqa: E402

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


def timed_load(url: str, model: str, images, clients: int, total: int) -> list[dict[str, float]]:
    """``total`` conversions over ``clients`` threads; per answer its spans and the client's latency as ``client``."""
    samples: list[dict[str, float]] = []

    def post(n: int) -> tuple[bool, str]:
        name, data = images[n % len(images)]
        start = time.perf_counter()
        answer = session().post(f"{url}/api/convert", files={"image": (name, data)},
                                data={"model": model, "format": "mp3", "lang": "en", "text": "off"}, timeout=60)
        latency = (time.perf_counter() - start) * 1000
        ok = answer.status_code == 200 and bool(answer.json().get("caption"))
        if ok:
            samples.append({**spans(answer.headers.get("Server-Timing", "")), "client": latency})
        return ok, f"{answer.status_code} {answer.text[:120]}"

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


def history_costs(folder: Path, sizes: tuple[int, ...], repeats: int) -> list[tuple[str, float, float]]:
    """In process: ``History.add`` of a typical result (40 kB JPEG, 25 kB MP3) with ``sizes`` rows already kept;
    split into the folder (three files, renamed in, folder fsynced) and the SQLite transaction (insert, expire)."""
    from app.services.history import History, Retention
    from app.services.db import connect, migrate
    from pipeline.files import atomic_dir

    image, audio = os.urandom(40_000), os.urandom(25_000)
    out = []
    for size in sizes:  # 1 kB a row: the retention's bounds keep every row
        base = folder / f"history-{size}"
        migrate(base / "db.sqlite3")
        history = History(base / "db.sqlite3", base / "results", Retention(2 * 1024**3, 30 * 86400, 100 * 1024**2))
        with connect(history.database, write=True) as db:  # rows without folders: only the table's size matters
            now = time.time()
            db.executemany("INSERT INTO results (id, created_at, caption, model_name, model_version, engine, lang, "
                           "format, processing_time, owner, size_bytes) VALUES (?, ?, 'a', 'm', '1', 'espeak', 'en', "
                           "'mp3', 0.02, ?, 1000)",
                           [(f"{i:032x}", now - i, f"owner{i % 50}") for i in range(size)])

        def add() -> None:
            history.add(image=image, audio=audio, caption="a dog runs", model_name="m", model_version="1",
                        engine="espeak", lang="en", fmt="mp3", processing_time=0.02, spoken="a dog runs",
                        in_domain=True, confidence=0.9, text="", owner="owner1")

        def files(n=[0]) -> None:
            n[0] += 1
            with atomic_dir(base / "files" / f"{n[0]:08d}") as tmp:
                for name, data in (("image.jpg", image), ("audio.mp3", audio), ("caption.txt", b"a dog runs\n")):
                    (tmp / name).write_bytes(data)

        add_ms = _median_ms(add, repeats)
        files_ms = _median_ms(files, repeats)
        out.append((f"{size:,} rows kept", add_ms, files_ms))
    return out


def _median_ms(call, repeats: int) -> float:
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=MODELS[0])
    parser.add_argument("--requests", type=int, default=200, help="conversions per client count")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--tracking-uri", help="an MLflow store with production versions of both models")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="more app settings")
    parser.add_argument("--history-sizes", type=int, nargs="*", default=[0, 3_000, 30_000])
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.set)
    images = pictures()
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        folder = Path(tmp)
        tracking_uri, described = resolve_store(args.tracking_uri, folder)
        settings = {"SERVER_TIMING": "true", "SPEECH_CACHE_ENTRIES": "0", "MODEL_POLL_SECONDS": "0",
                    "RATE_LIMIT": "off", "TEXT_WARM_UP": "false", **extra}
        runs, loads = {}, {}
        with serve(tracking_uri, folder / "instance", workers=1, threads=8, ready_timeout=240, **settings) as (url, _):
            timed_load(url, args.model, images, 8, 24)  # warm: traces, first connections, every thread
            health(url, 20)
            for clients in args.clients:
                before = os.getloadavg()[0]
                runs[clients] = timed_load(url, args.model, images, clients, args.requests)
                loads[clients] = (before, os.getloadavg()[0])
            before = os.getloadavg()[0]
            healthz = health(url, args.requests)
            loads["healthz"] = (before, os.getloadavg()[0])
        build = client_build_ms(images)
        before = os.getloadavg()[0]
        history = history_costs(folder, tuple(args.history_sizes), 50)
        loads["history"] = (before, os.getloadavg()[0])

    print(f"\n{args.model}: {described}; gunicorn 1 worker x 8 threads; {os.cpu_count()} cores; "
          f"{time.strftime('%Y-%m-%d %H:%M')}; settings {settings}\n")
    header = " | ".join(f"p50 ms, {c} client{'s' if c > 1 else ''} | p95" for c in args.clients)
    print(f"| phase | {header} |\n| --- |" + " --- | --- |" * len(args.clients))
    tables = {c: dict(phase_rows(runs[c])) for c in args.clients}
    for name in tables[args.clients[0]]:
        cells = []
        for c in args.clients:
            values = tables[c].get(name, [0.0])
            cells.append(f"{statistics.median(values):.2f} | {percentile(values, 95):.2f}")
        print(f"| {name} | {' | '.join(cells)} |")
    print("| load average (1 min), before / after | "
          + " | ".join(f"{loads[c][0]:.2f} / {loads[c][1]:.2f} | " for c in args.clients) + "|")
    h = dict(phase_rows(healthz))
    print(f"\nGET /healthz, {len(healthz)} requests, 1 client (load {loads['healthz'][0]:.2f} / "
          f"{loads['healthz'][1]:.2f}): client p50 {statistics.median(h['**client latency**']):.2f} ms, app "
          f"{statistics.median(h['**app** (WSGI call to last hook)']):.2f} ms, HTTP, gunicorn and the client "
          f"{statistics.median(h['HTTP, gunicorn and the client']):.2f} ms. The client builds one conversion's "
          f"multipart request in {build:.2f} ms.\n")
    print(f"History.add in process, median of 50 (load {loads['history'][0]:.2f} / {loads['history'][1]:.2f}):\n")
    print("| history | History.add ms | of which the result's folder ms | the SQLite transaction ms (difference) |")
    print("| --- | --- | --- | --- |")
    for label, add_ms, files_ms in history:
        print(f"| {label} | {add_ms:.2f} | {files_ms:.2f} | {add_ms - files_ms:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
