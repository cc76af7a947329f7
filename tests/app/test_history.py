"""History: newest first, paged, deletable, bounded by the retention, and kept across a restart."""

import io
import sqlite3
from pathlib import Path

import pytest

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
    ("page=0", "page must be an integer from 1 to"),
    ("page=x", "page must be an integer from 1 to"),
    ("page=%C2%B2", "page must be an integer from 1 to"),  # a superscript two: a digit to str.isdigit
    ("per_page=0", "per_page must be an integer from 1 to 100, not '0'"),
    ("per_page=101", "per_page must be an integer from 1 to 100, not '101'"),
    ("per_page=-1", "per_page must be an integer from 1 to 100"),
])  # fmt: skip
def test_bad_paging_gets_400(client, still_serving, query, message):
    answer = client.get(f"/api/history?{query}")
    assert answer.status_code == 400 and answer.json["error"]["code"] == "invalid_query"
    assert message in answer.json["error"]["message"]
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
        assert gone in answer.json["error"]["message"]
    assert not (Path(app.instance_path) / "results" / gone).exists()
    assert client.delete(f"/api/history/{gone}").status_code == 404
    assert client.get(f"/api/results/{keep}/audio").status_code == 200


def test_results_survive_a_restart(make_app, tmp_path):
    first = make_app().test_client()
    body = first.post("/api/convert", data={"image": (io.BytesIO(picture("PNG", YELLOW)), "y.png"),
                                            "format": "wav"}).json
    audio = first.get(body["audio_url"]).data

    again = make_app().test_client()  # a new process would find the same instance folder
    assert again.get("/api/history").json["items"][0]["id"] == body["id"]
    assert again.get(body["audio_url"]).data == audio
    database = tmp_path / "instance" / "image_to_audio.sqlite3"
    assert sqlite3.connect(database).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_retention_limit_drops_the_oldest(make_app, tmp_path):
    client = make_app(HISTORY_RETENTION=2).test_client()
    ids = [client.post("/api/convert", data={"image": (io.BytesIO(picture()), "r.png")}).json["id"]
           for _ in range(3)]
    assert [item["id"] for item in client.get("/api/history").json["items"]] == ids[:0:-1]
    assert client.get(f"/api/results/{ids[0]}/image").status_code == 404
    assert sorted(p.name for p in (tmp_path / "instance" / "results").iterdir()) == sorted(ids[1:])
