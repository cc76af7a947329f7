"""History: newest first, paged, deletable, bounded by the retention, and kept across a restart."""

import dataclasses
import io
import sqlite3
import zipfile
from pathlib import Path

import pytest

from app.owners import COOKIE
from app.services.db import Database
from app.services.history import History, Retention
from app.services.storage import open_storage
from testkit.pictures import BLUE, GREEN, RED, YELLOW, picture


def test_history_is_newest_first_and_paged(make_app, caption_of):
    client = make_app().test_client()  # an empty history of its own
    pictures = [picture("PNG", colour) for colour in (RED, GREEN, BLUE)]
    ids = [client.post("/api/convert", data={"image": (io.BytesIO(data), "p.png")}).json["id"] for data in pictures]
    first = client.get("/api/history?per_page=2").json
    assert [item["id"] for item in first["items"]] == ids[:0:-1]
    assert (first["page"], first["per_page"], first["total"], first["pages"]) == (1, 2, 3, 2)
    second = client.get("/api/history?per_page=2&page=2").json
    assert [item["id"] for item in second["items"]] == [ids[0]]
    item = second["items"][0]
    assert item["caption"] == caption_of(pictures[0]) and item["model"] == {"name": "captioner-lstm", "version": "1"}
    assert item["audio_url"] == f"/api/results/{ids[0]}/audio" and item["created_at"].endswith("+00:00")
    assert client.get("/api/history?page=9").json["items"] == []


@pytest.mark.parametrize(("query", "message"), [
    ("page=0", "page must be an integer from 1 to 1000000"),
    ("page=x", "page must be an integer from 1 to 1000000"),
    ("page=%C2%B2", "page must be an integer from 1 to 1000000"),  # a superscript two: a digit to str.isdigit
    ("per_page=0", "per_page must be an integer from 1 to 100"),
    ("per_page=101", "per_page must be an integer from 1 to 100"),
    ("per_page=-1", "per_page must be an integer from 1 to 100"),
    ("page=%3Cscript%3E", "page must be an integer from 1 to 1000000"),
])
def test_bad_paging_gets_400_without_the_value(client, still_serving, query, message):
    answer = client.get(f"/api/history?{query}")
    assert answer.status_code == 400 and answer.json["error"]["code"] == "invalid_query"
    assert answer.json["error"]["message"] == message  # the field and its range; never what was sent
    still_serving()


def test_delete_removes_the_entry_and_its_files(app, client, convert):
    keep, gone = convert().json["id"], convert().json["id"]
    answer = client.delete(f"/api/history/{gone}")
    assert answer.status_code == 200 and answer.json == {"success": True, "id": gone}
    listed = [item["id"] for item in client.get("/api/history?per_page=100").json["items"]]
    assert keep in listed and gone not in listed
    for kind in ("image", "audio", "caption", "zip"):
        answer = client.get(f"/api/results/{gone}/{kind}")
        assert answer.status_code == 404 and answer.json["error"]["code"] == "result_not_found"
        assert gone not in answer.json["error"]["message"]
    assert not (Path(app.instance_path) / "results" / gone).exists()
    assert client.delete(f"/api/history/{gone}").status_code == 404
    assert client.get(f"/api/results/{keep}/audio").status_code == 200


def test_results_survive_a_restart(make_app, tmp_path):
    first = make_app().test_client()
    body = first.post("/api/convert", data={"image": (io.BytesIO(picture("PNG", YELLOW)), "y.png"),
                                            "format": "wav"}).json
    audio = first.get(body["audio_url"]).data

    again = make_app().test_client()  # a new process would find the same instance folder; the visitor keeps
    again.set_cookie(COOKIE, first.get_cookie(COOKIE).value)  # their cookie
    assert again.get("/api/history").json["items"][0]["id"] == body["id"]
    assert again.get(body["audio_url"]).data == audio
    database = tmp_path / "instance" / "image_to_audio.sqlite3"
    assert sqlite3.connect(database).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _size_of_one(make_app, tmp_path) -> int:
    """The bytes one conversion of the red PNG keeps (the same picture always gives the same files)."""
    client = make_app(instance=tmp_path / "measure").test_client()
    result = client.post("/api/convert", data={"image": (io.BytesIO(picture()), "r.png")}).json["id"]
    return sum(f.stat().st_size for f in (tmp_path / "measure" / "results" / result).iterdir())


def _convert(client) -> str:
    answer = client.post("/api/convert", data={"image": (io.BytesIO(picture()), "r.png")})
    assert answer.status_code == 200, answer.json  # past a limit the oldest go; never an error
    return answer.json["id"]


def test_past_their_quota_an_owners_oldest_results_go_first(make_app, tmp_path):
    app = make_app(HISTORY_OWNER_QUOTA_BYTES=int(2.5 * _size_of_one(make_app, tmp_path)))
    client, other = app.test_client(), app.test_client()
    theirs = _convert(other)
    ids = [_convert(client) for _ in range(3)]
    assert [item["id"] for item in client.get("/api/history").json["items"]] == ids[:0:-1]
    assert client.get(f"/api/results/{ids[0]}/image").status_code == 404
    assert [item["id"] for item in other.get("/api/history").json["items"]] == [theirs]  # their quota is their own
    assert sorted(p.name for p in (tmp_path / "instance" / "results").iterdir()) == sorted([theirs, *ids[1:]])


def test_past_the_total_the_oldest_results_of_anyone_go_first(make_app, tmp_path):
    app = make_app(HISTORY_MAX_BYTES=int(2.5 * _size_of_one(make_app, tmp_path)))
    clients = [app.test_client() for _ in range(3)]
    ids = [_convert(client) for client in clients]
    assert clients[0].get("/api/history").json["items"] == []
    assert [c.get("/api/history").json["items"][0]["id"] for c in clients[1:]] == ids[1:]
    assert sorted(p.name for p in (tmp_path / "instance" / "results").iterdir()) == sorted(ids[1:])


def test_the_sweep_removes_results_past_the_age_limit_with_their_text(make_app, tmp_path):
    app = make_app(HISTORY_MAX_AGE_DAYS=1)
    client = app.test_client()
    old, new = _convert(client), _convert(client)
    database = tmp_path / "instance" / "image_to_audio.sqlite3"
    with sqlite3.connect(database) as db:
        db.execute("UPDATE results SET created_at = created_at - 2 * 86400, text = 'EXIT 12' WHERE id = ?", (old,))
    assert app.extensions["history"].sweep() == 1  # what each worker runs every HISTORY_SWEEP_SECONDS
    assert [item["id"] for item in client.get("/api/history").json["items"]] == [new]
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT COUNT(*) FROM results WHERE text != ''").fetchone()[0] == 0
    assert not (tmp_path / "instance" / "results" / old).exists()


def test_a_results_zip_is_dated_when_it_was_made_so_every_download_is_the_same(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'h.sqlite3'}")
    database.migrate()
    history = History(database, open_storage(None, tmp_path / "results"), Retention(10**9, 86400, 10**9))
    kept = history.add(image=b"jpeg", audio=b"mp3", caption="a red circle", model_name="m", model_version="1",
                       engine="espeak", lang="en", fmt="mp3", processing_time=0.1)
    made_then = dataclasses.replace(kept, created_at=1_600_000_001.5)  # 2020-09-13 12:26:41 UTC
    archive = history.zip_bytes(made_then)
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        assert sorted(z.namelist()) == ["audio.mp3", "caption.txt", "image.jpg"]
        assert {info.date_time for info in z.infolist()} == {(2020, 9, 13, 12, 26, 40)}  # even seconds, as ZIP keeps
        assert z.read("image.jpg") == b"jpeg" and z.read("audio.mp3") == b"mp3"
    assert history.zip_bytes(made_then) == archive
