"""gunicorn killed outright (SIGKILL to the master and every worker) while clients convert, then started again.

What a conversion keeps is written files first (a temporary folder renamed into place), then its row, then
the answer. So after any crash: the database is sound, every conversion that was answered is in the history,
every entry of the history has its files whole, and what a crash left half-done is never listed or served
(and the next start sweeps it once it is old).
"""

import contextlib
import io
import os
import sqlite3
import threading
import time
import zipfile

import requests
import soundfile as sf
from PIL import Image

from testkit.pictures import BLUE, GREEN, RED, YELLOW, picture
from testkit.service import TOKEN
from tests.faults.processes import Gunicorn

CLIENTS = 6
ONE_MODEL = ["captioner-lstm"]  # each worker loads only it: the fault is in the server, not the models
ANSWERED_BEFORE_KILL = 12
ESPEAK_RATE = 22050
AUDIO_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav"}


class Clients:
    """Threads that post conversions in a loop until stopped; what the server answered, by status."""

    def __init__(self, url: str, count: int) -> None:
        self.url, self.stop = url, threading.Event()
        self.answered: list[dict] = []  # the JSON of every 200
        self.refused: list[tuple[int, str]] = []  # any other status: there should be none
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._post, args=(i,), daemon=True) for i in range(count)]

    def __enter__(self) -> "Clients":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _post(self, i: int) -> None:
        colours = (RED, GREEN, BLUE, YELLOW)
        n = 0
        while not self.stop.is_set():
            n += 1
            data = picture("PNG", colours[(i + n) % 4], size=(48 + 16 * (n % 5), 40 + 8 * i))
            form = {"format": ("mp3", "wav")[(i + n) % 2]}
            try:
                answer = requests.post(f"{self.url}/api/convert", files={"image": ("p.png", data)}, data=form,
                                       timeout=60)
            except requests.RequestException:  # the server is gone: keep trying until told to stop
                time.sleep(0.05)
                continue
            with self.lock:
                if answer.status_code == 200:
                    self.answered.append(answer.json())
                else:
                    self.refused.append((answer.status_code, answer.text[:300]))

    def wait_for(self, count: int, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.answered) < count and not self.refused and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not self.refused and len(self.answered) >= count, (len(self.answered), self.refused[:3])


def test_a_killed_server_leaves_a_sound_history_of_whole_results(shared_store, tmp_path):
    instance = tmp_path / "instance"
    results = instance / "results"
    with Gunicorn(shared_store.uri, instance, workers=2, threads=4, MODEL_POLL_SECONDS=0,
                  MODEL_NAMES=ONE_MODEL, ADMIN_TOKEN=TOKEN) as first:
        first.wait_for("/readyz")
        with Clients(first.url, CLIENTS) as clients:
            clients.wait_for(ANSWERED_BEFORE_KILL)
            first.kill()  # mid-stream: every client has a conversion in flight
    answered = {body["id"]: body for body in clients.answered}
    assert len(answered) >= ANSWERED_BEFORE_KILL and not clients.refused

    left = sorted(entry.name for entry in results.iterdir())
    half_done = [name for name in left if name not in answered]  # unanswered: whole, or a crash's temporary
    an_hour_ago = time.time() - 3600  # as if the service came back an hour later: what a crash left is old now
    for entry in results.iterdir():
        os.utime(entry, (an_hour_ago, an_hour_ago))

    with Gunicorn(shared_store.uri, instance, workers=1, threads=4, MODEL_POLL_SECONDS=0,
                  MODEL_NAMES=ONE_MODEL, ADMIN_TOKEN=TOKEN) as second:  # one worker: half the start-up, the same start
        second.wait_for("/readyz")
        database = instance / "image_to_audio.sqlite3"
        with contextlib.closing(sqlite3.connect(database)) as db:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            rows = {row[0]: row[1] for row in db.execute("SELECT id, format FROM results")}

        entries = history(second.url)
        assert {entry["id"] for entry in entries} == set(rows)
        assert set(answered) <= set(rows), "a conversion was answered but is not in the history"
        for answer in answered.values():  # kept as answered
            kept = {key: value for key, value in answer.items() if key != "success"}
            assert next(e for e in entries if e["id"] == answer["id"]) == kept
        for entry in entries:
            check_whole(second.url, entry, results)
        assert sorted(entry.name for entry in results.iterdir()) == sorted(rows)  # the crash's leftovers are swept
        for name in half_done:
            if name not in rows:
                assert requests.get(f"{second.url}/api/results/{name}/audio", timeout=10).status_code == 404

        after = requests.post(f"{second.url}/api/convert", files={"image": ("p.png", picture())}, timeout=60)
        assert after.status_code == 200 and history(second.url)[0]["id"] == after.json()["id"]
    for log in (first.log(), second.log()):
        assert "Traceback" not in log and "Worker failed to boot" not in log


def history(url: str) -> list[dict]:
    """Every entry of the history (every owner's: the admin's view), newest first, page by page."""
    entries, page = [], 1
    while True:
        body = requests.get(f"{url}/api/history", params={"page": page, "per_page": 100}, timeout=10,
                            headers={"Authorization": f"Bearer {TOKEN}"}).json()
        entries += body["items"]
        if page >= body["pages"]:
            assert len(entries) == body["total"]
            return entries
        page += 1


def check_whole(url: str, entry: dict, results) -> None:
    """Each file of an entry downloads, is what the service stored, and decodes completely."""
    folder, fmt = results / entry["id"], entry["speech"]["format"]
    files = {"image": "image.jpg", "audio": f"audio.{fmt}", "caption": "caption.txt"}
    assert sorted(path.name for path in folder.iterdir()) == sorted(files.values())
    downloads = {}
    for kind, name in files.items():
        answer = requests.get(url + entry[f"{kind}_url"], timeout=10)
        assert answer.status_code == 200, (entry["id"], kind, answer.text[:200])
        assert answer.content == (folder / name).read_bytes() and answer.content, (entry["id"], kind)
        downloads[kind] = answer
    assert downloads["audio"].headers["Content-Type"] == AUDIO_TYPES[fmt]
    samples, rate = sf.read(io.BytesIO(downloads["audio"].content), dtype="float32")  # a cut MP3 or WAV fails
    assert rate == ESPEAK_RATE and len(samples) / rate > 0.3
    with Image.open(io.BytesIO(downloads["image"].content)) as image:
        image.load()  # a truncated JPEG raises here
        assert image.format == "JPEG" and image.size[0] >= 48
    labelled = f"Spoken: {entry['spoken']}\nModel's guess: {entry['caption']}\n"
    assert downloads["caption"].content.decode("utf-8") == labelled
    archive = requests.get(url + entry["zip_url"], timeout=10)
    assert archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        assert zipped.testzip() is None and sorted(zipped.namelist()) == sorted(files.values())

