"""This app's /api/convert against `mlflow models serve` of the same production model, and the in-process floor.

    python bench/bench_serving.py [--model captioner-lstm] [--requests 400] [--tracking-uri URI] [--rounds 3]

In one run, on 127.0.0.1:
1. The floor: in-process time of each part of a conversion (decode and resize, the description, espeak-ng, MP3
   encode, the kept JPEG, the history), with the model loaded from the registry as the service loads it; the
   parts run in turn, one conversion after another over the same uploads as the servers get.
2. `mlflow models serve --env-manager local` (its default one worker, and two) answering `/invocations`
   with the caption only, and this app through gunicorn as `make run` serves it (1 worker x 8 threads, and 2 x 4;
   then 1 x 8 on Keras, which is batched) answering `/api/convert` with caption, speech and MP3: p50 and p95 at 1 and 8 clients, requests/s,
   errors, server memory (RSS of the process tree after the load), seconds from start to ready; for this app
   also the runtime served (MODEL_RUNTIME) and the batch sizes its dynamic batching reached at 8 clients
   (GET /api/models; with several workers, those of the worker that answered).
3. The ratios against the goals of issue #18, and the load average before and after. With ``--rounds N``,
   N - 1 more rounds of the two servers the goals compare (mlflow's default and the first ``--app``), taking
   turns to go first, each with the parts timed again; the goals then read the medians of the N rounds, so that
   a change in the machine's state between two servers moves one round, not the verdict.

The service's speech cache is off (``SPEECH_CACHE_ENTRIES=0``), so every conversion synthesizes and
encodes its audio, as mlflow's server would have to. The model is resolved as bench_service.py does.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from common import ROOT, listener_pid, load, load_average, pictures, resolve_store, session, tree_rss_mb  # noqa: E402

from pipeline import QUIET_ENV  # noqa: E402
from pipeline.names import MODELS  # noqa: E402
from testkit.gunicorn import free_port, serve  # noqa: E402


def floor(tracking_uri: str, model: str, images: list[tuple[str, bytes]], repeats: int,
          folder: Path) -> tuple[dict[str, float], str]:
    """In-process milliseconds of each part the service runs for one conversion (median of each), with the model
    loaded as the service loads it (``MODEL_RUNTIME``'s default) and the history kept as its defaults keep it
    (SQLite, a folder); and the sentence spoken for the first upload.

    The parts run as the service runs them: one conversion after another, each upload in turn, each part once
    per conversion (timing a part in a loop of its own on one picture would find it hot in the caches, as no
    conversion does)."""

    import mlflow

    from app.config import DEFAULTS
    from app.services.db import Database
    from app.services.history import History, Retention
    from app.services.images import decode_image, kept_jpeg
    from pipeline.speech import Speaker, SpeechSettings
    from pipeline.speech.encode import pcm_to_mp3
    from pipeline.speech.languages import resolve_language
    from pipeline.spoken import compose
    from pipeline.tracking import PRODUCTION
    from app.services.storage import open_storage

    mlflow.set_tracking_uri(tracking_uri)
    served = mlflow.pyfunc.load_model(f"models:/{model}@{PRODUCTION}",
                                      model_config={"precision": "float32", "runtime": DEFAULTS["MODEL_RUNTIME"]})
    python_model = served.unwrap_python_model()
    captioner = python_model.captioner
    runtime = getattr(python_model, "runtime", "keras")
    speaker = Speaker(SpeechSettings(cache_entries=0))
    speaker.warm_up()
    engine = speaker._espeak  # the parts of speaker.synthesize, timed apart
    voice = resolve_language("en")
    database = Database(f"sqlite:///{folder / 'floor.sqlite3'}")
    database.migrate()
    history = History(database, open_storage(None, folder / "floor-results"),
                      Retention(DEFAULTS["HISTORY_MAX_BYTES"], DEFAULTS["HISTORY_MAX_AGE_DAYS"] * 86400,
                                DEFAULTS["HISTORY_OWNER_QUOTA_BYTES"]))
    names = ("decode, upright and resize", f"describe ({runtime}: caption, mirrored picture, judge)", "espeak-ng",
             "MP3 encode", "kept JPEG", "history (files and row)")
    times: dict[str, list[float]] = {name: [] for name in names}
    spoken_first = ""
    for n in range(-len(images), repeats):  # the first round over the uploads untimed
        marks = [time.perf_counter()]  # after each part, in the order of ``names``
        image = decode_image(images[n % len(images)][1], DEFAULTS["MAX_IMAGE_PIXELS"],
                             DEFAULTS["RESULT_IMAGE_MAX_SIDE"])
        batch = captioner.prepare(image)[None]
        marks.append(time.perf_counter())
        described = captioner.describe_arrays(batch)[0]
        marks.append(time.perf_counter())
        # what the service speaks: the caption, or for a picture out of domain or unsure the hedged sentence
        spoken = compose(described.caption, described.in_domain, described.sure, "en", "",
                         max_chars=speaker.settings.max_chars).text
        audio = engine.speak(spoken, voice, speaker.settings.rate_wpm)
        marks.append(time.perf_counter())
        mp3 = pcm_to_mp3(audio.data, audio.sample_rate, speaker.settings.mp3_bitrate_kbps)
        marks.append(time.perf_counter())
        jpeg = kept_jpeg(image, DEFAULTS["RESULT_IMAGE_QUALITY"], DEFAULTS["RESULT_IMAGE_MAX_SIDE"])
        marks.append(time.perf_counter())
        history.add(image=jpeg, audio=mp3, caption=described.caption, model_name=model, model_version="1",
                    engine="espeak", lang="en", fmt="mp3", processing_time=0.0, owner="bench")
        marks.append(time.perf_counter())
        if n >= 0:
            for name, start, end in zip(names, marks, marks[1:]):
                times[name].append((end - start) * 1000)
        spoken_first = spoken_first or spoken
    return {name: statistics.median(values) for name, values in times.items()}, spoken_first


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 180.0) -> float:
    """Seconds until ``url`` answers 200 (the process must stay up)."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return time.perf_counter() - start
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout} s")


def measure(post, server_pid: int, requests_total: int, batching=None) -> dict:
    """Latency at 1 and 8 clients, throughput at 8, errors, and the server's memory afterwards; with
    ``batching`` (a function returning the batch counts so far), the batches run at 8 clients."""
    load(post, 8, 16)  # warm every worker
    single = load(post, 1, max(50, requests_total // 4))
    before = batching() if batching else None
    many = load(post, 8, requests_total)
    sizes = _difference(batching(), before) if batching else None
    return {"c1": single, "c8": many, "errors": len(single["errors"]) + len(many["errors"]),
            "rss": tree_rss_mb(server_pid), "samples": (single["errors"] + many["errors"])[:5], "batches": sizes}


def _difference(after: dict, before: dict) -> dict[int, int]:
    """Batches per size run between two readings of ``batching["sizes"]``."""
    sizes = {int(k): v - before["sizes"].get(k, 0) for k, v in after["sizes"].items()}
    return {size: count for size, count in sorted(sizes.items()) if count}


def bench_mlflow(tracking_uri: str, model: str, workers: int, images, requests_total: int, log: Path) -> dict:
    """`mlflow models serve` of the production version: ready time and load figures."""
    from pipeline.tracking import PRODUCTION

    port = free_port()
    env = {**os.environ, **QUIET_ENV, "MLFLOW_TRACKING_URI": tracking_uri,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    start = time.perf_counter()
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "mlflow", "models", "serve", "-m",
                                   f"models:/{model}@{PRODUCTION}", "--env-manager", "local", "-h", "127.0.0.1",
                                   "-p", str(port), "-w", str(workers)], cwd=ROOT, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(f"{url}/ping", server)
        ready = time.perf_counter() - start
        bodies = [{"dataframe_split": {"columns": ["image"], "data": [[base64.b64encode(d).decode()]]}}
                  for _, d in images]
        def post(n: int) -> tuple[bool, str]:
            answer = session().post(f"{url}/invocations", json=bodies[n % len(bodies)], timeout=60)
            ok = answer.status_code == 200 and isinstance(answer.json()["predictions"][0].get("caption"), str)
            return ok, f"{answer.status_code} {answer.text[:120]}"

        return {"ready_s": ready, **measure(post, server.pid, requests_total)}
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def bench_app(tracking_uri: str, model: str, workers: int, threads: int, runtime: str | None, images,
              requests_total: int, folder: Path) -> dict:
    """This app under gunicorn, as `make run` serves it (or on ``runtime``): ready time and load figures."""
    start = time.perf_counter()
    settings = {"SPEECH_CACHE_ENTRIES": "0", "MODEL_POLL_SECONDS": "0", "RATE_LIMIT": "off"}
    if runtime:
        settings["MODEL_RUNTIME"] = runtime
    with serve(tracking_uri, folder / f"instance-{workers}x{threads}-{runtime}", workers=workers, threads=threads,
               **settings) as (url, _):
        ready = time.perf_counter() - start
        port = int(url.rsplit(":", 1)[1])

        def post(n: int) -> tuple[bool, str]:
            name, data = images[n % len(images)]
            answer = session().post(f"{url}/api/convert", files={"image": (name, data)},
                                  data={"model": model, "format": "mp3"}, timeout=60)
            ok = answer.status_code == 200 and bool(answer.json().get("caption"))
            return ok, f"{answer.status_code} {answer.text[:120]}"

        def served() -> dict:
            models = session().get(f"{url}/api/models", timeout=30).json()["models"]
            return next(m for m in models if m["name"] == model)

        first = served()
        batching = (lambda: served()["batching"]) if first["batching"]["enabled"] else None
        return {"ready_s": ready, "runtime": first["runtime"],
                **measure(post, listener_pid(port), requests_total, batching)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=MODELS[0])
    parser.add_argument("--requests", type=int, default=400, help="requests at 8 clients (a quarter at 1)")
    parser.add_argument("--repeats", type=int, default=72, help="timed in-process conversions")
    parser.add_argument("--tracking-uri", help="an MLflow store with production versions of both models")
    parser.add_argument("--rounds", type=int, default=1,
                        help="paired rounds of the goals' two servers (mlflow's default and the first --app), "
                             "taking turns to go first, each with its own in-process parts; the goals are judged "
                             "on the medians of the rounds' figures")
    parser.add_argument("--app", nargs="+", default=["1x8", "2x4", "1x8:keras"], metavar="WORKERSxTHREADS[:RUNTIME]",
                        help="gunicorn configurations of this app to run, on MODEL_RUNTIME's default or the "
                             "runtime named (the first is the one compared)")
    args = parser.parse_args()
    if shutil.which("bash") is None:
        raise SystemExit("mlflow models serve needs bash")

    images = pictures()
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        folder = Path(tmp)
        tracking_uri, described = resolve_store(args.tracking_uri, folder)
        parts, caption = floor(tracking_uri, args.model, images, args.repeats, folder)
        servers = {
            "mlflow models serve, 1 worker (its default): caption": bench_mlflow(
                tracking_uri, args.model, 1, images, args.requests, folder / "mlflow-1.log"),
            "mlflow models serve, 2 workers: caption": bench_mlflow(
                tracking_uri, args.model, 2, images, args.requests, folder / "mlflow-2.log"),
        }
        def app_server(config: str) -> dict:
            shape, _, runtime = config.partition(":")
            workers, threads = (int(n) for n in shape.split("x"))
            return bench_app(tracking_uri, args.model, workers, threads, runtime or None, images, args.requests, folder)

        for config in args.app:
            servers[f"this app, gunicorn {config}: caption + speech + MP3"] = app_server(config)
        rounds = [(sum(parts.values()), servers[list(servers)[0]], servers[list(servers)[2]], load_before)]
        for n in range(1, args.rounds):
            began = load_average()
            print(f"round {n + 1} of {args.rounds}", file=sys.stderr, flush=True)
            total = sum(floor(tracking_uri, args.model, images, args.repeats, folder)[0].values())
            runs = [lambda: bench_mlflow(tracking_uri, args.model, 1, images, args.requests, folder / "mlflow.log"),
                    lambda: app_server(args.app[0])]
            first, second = (run() for run in (runs[::-1] if n % 2 else runs))
            mlflow_n, app_n = (second, first) if n % 2 else (first, second)
            rounds.append((total, mlflow_n, app_n, began))

    cpu = f"{os.cpu_count()} cores"
    print(f"\n{args.model}: {described}; 320x240 JPEG/PNG uploads; {cpu}; spoken: {caption!r}\n")
    print("| in-process part of a conversion, over the uploads in turn | median ms |\n| --- | --- |")
    for name, ms in parts.items():
        print(f"| {name} | {ms:.1f} |")
    total = sum(parts.values())
    print(f"| **sum of the parts** | **{total:.1f}** |\n")
    print("| server | ready s | p50 ms, 1 client | p95 ms, 1 client | p50 ms, 8 clients | p95 ms, 8 clients "
          "| requests/s, 8 clients | errors | RSS MB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, r in servers.items():
        print(f"| {name} | {r['ready_s']:.1f} | {r['c1']['p50']:.1f} | {r['c1']['p95']:.1f} | {r['c8']['p50']:.1f} "
              f"| {r['c8']['p95']:.1f} | {r['c8']['per_s']:.1f} | {r['errors']} | {r['rss']:.0f} |")
        for line in r["samples"]:
            print("   ", line)
    print()
    for name, r in servers.items():
        if "runtime" not in r:
            continue
        if r["batches"] is None:
            print(f"{name}: runtime {r['runtime']}, not batched (BATCH_RUNTIMES)")
            continue
        images = sum(size * count for size, count in r["batches"].items())
        mean = images / max(1, sum(r["batches"].values()))
        print(f"{name}: runtime {r['runtime']}; batches at 8 clients, size: count {r['batches']} "
              f"(mean {mean:.2f} images per batch)")
    if len(rounds) > 1:
        print("\n| round (who went first) | load before | parts ms | mlflow p50 ms / requests/s | app p50 ms / "
              "requests/s | p50 ratio | requests/s ratio | overhead ms |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for n, (parts_ms, m, a, began) in enumerate(rounds):
            print(f"| {n + 1} ({'app' if n % 2 else 'mlflow'}) | {began} | {parts_ms:.1f} | {m['c1']['p50']:.1f} / "
                  f"{m['c8']['per_s']:.1f} | {a['c1']['p50']:.1f} / {a['c8']['per_s']:.1f} | "
                  f"{a['c1']['p50'] / m['c1']['p50']:.2f} | {a['c8']['per_s'] / m['c8']['per_s']:.2f} | "
                  f"{a['c1']['p50'] - parts_ms:.1f} |")
    # The goals, on the one run or on the medians over the rounds of each round's own comparison (a ratio, or an
    # overhead against its own parts), so that the two servers compared were measured minutes apart at most.
    p50 = [(a["c1"]["p50"], m["c1"]["p50"]) for _, m, a, _ in rounds]
    per_s = [(a["c8"]["per_s"], m["c8"]["per_s"]) for _, m, a, _ in rounds]
    overheads = [(a["c1"]["p50"] - total, max(3.0, 0.3 * total)) for total, _, a, _ in rounds]
    p50_ratio = statistics.median(ours / theirs for ours, theirs in p50)
    per_s_ratio = statistics.median(ours / theirs for ours, theirs in per_s)
    overhead, allowed = statistics.median(o for o, _ in overheads), statistics.median(a for _, a in overheads)
    many = len(rounds) > 1
    if many:
        print(f"\nThe goals below read the medians of the {len(rounds)} rounds' own figures.")
    print("\n| goal (issue #18), against `mlflow models serve` with its defaults | figure | ratio | met |")
    print("| --- | --- | --- | --- |")
    rows = [
        ("/api/convert p50 at 1 client <= mlflow's",
         "median of the rounds" if many else f"{p50[0][0]:.1f} vs {p50[0][1]:.1f} ms", p50_ratio, p50_ratio <= 1.0),
        ("/api/convert requests/s at 8 clients >= 1.5 x mlflow's",
         "median of the rounds" if many else f"{per_s[0][0]:.1f} vs {per_s[0][1]:.1f} /s", per_s_ratio,
         per_s_ratio >= 1.5),
        (f"overhead (p50 - parts) <= max(3 ms, 0.30 x parts) = {allowed:.1f} ms",
         f"{overhead:.1f} ms" + (" (median of the rounds)" if many else ""), overhead / allowed, overhead <= allowed),
    ]
    for goal, figure, ratio, met in rows:
        print(f"| {goal} | {figure} | {ratio:.2f} | {'yes' if met else 'no'} |")
    print(f"\nload average (1, 5, 15 min): {load_before} before, {load_average()} after")
    errors = sum(r["errors"] for r in servers.values()) + sum(r[1]["errors"] + r[2]["errors"] for r in rounds[1:])
    if len(rounds) > 1:
        print(f"errors in all, rounds included: {errors}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
