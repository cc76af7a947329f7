"""The database's schema is Alembic's: a new file and every older one come up to the newest revision."""

import sqlite3

import pytest

from app.services.db import MIGRATIONS

OLDEST = """
CREATE TABLE results (id TEXT PRIMARY KEY, created_at REAL NOT NULL, caption TEXT NOT NULL,
    model_name TEXT NOT NULL, model_version TEXT NOT NULL, engine TEXT NOT NULL, lang TEXT NOT NULL,
    format TEXT NOT NULL, processing_time REAL NOT NULL);
CREATE INDEX results_newest ON results (created_at DESC);
"""  # the first service's table, before spoken, in_domain, confidence and text
BEFORE_ALEMBIC = OLDEST + """
ALTER TABLE results ADD COLUMN spoken TEXT NOT NULL DEFAULT '';
ALTER TABLE results ADD COLUMN in_domain INTEGER;
ALTER TABLE results ADD COLUMN confidence REAL;
ALTER TABLE results ADD COLUMN text TEXT NOT NULL DEFAULT '';
CREATE TABLE train_jobs (id TEXT PRIMARY KEY, status TEXT NOT NULL, params TEXT NOT NULL, command TEXT NOT NULL,
    created_at REAL NOT NULL, finished_at REAL, exit_code INTEGER, error TEXT, mlflow_run_id TEXT,
    model_name TEXT, model_version TEXT, promoted INTEGER, promotion_reason TEXT);
"""  # the last schema init_db made with ALTER TABLE
HEAD = sorted(path.name.split("_")[0] for path in (MIGRATIONS / "versions").glob("*.py"))[-1]


def columns(database) -> set[str]:
    with sqlite3.connect(database) as db:
        return {row[1] for row in db.execute("PRAGMA table_info(results)")}


def revision(database) -> str:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT version_num FROM alembic_version").fetchone()[0]


@pytest.mark.parametrize("schema", [None, OLDEST, BEFORE_ALEMBIC], ids=["new", "oldest", "before-alembic"])
def test_every_database_upgrades_to_the_newest_revision(make_app, tmp_path, admin_headers, schema):
    database = tmp_path / "instance" / "image_to_audio.sqlite3"
    if schema is not None:
        database.parent.mkdir(parents=True)
        (tmp_path / "instance" / "results" / ("a" * 32)).mkdir(parents=True)
        (tmp_path / "instance" / "results" / ("a" * 32) / "image.jpg").write_bytes(b"x" * 1000)
        with sqlite3.connect(database) as db:
            db.executescript(schema)
            db.execute("INSERT INTO results (id, created_at, caption, model_name, model_version, engine, lang, format,"
                       " processing_time) VALUES (?, strftime('%s'), 'a red square', 'captioner-lstm', '1', 'espeak',"
                       " 'en', 'mp3', 0.1)", ("a" * 32,))
    app = make_app()
    assert revision(database) == HEAD
    assert {"spoken", "in_domain", "confidence", "text", "owner", "size_bytes"} <= columns(database)
    client = app.test_client()
    listed = client.get("/api/history", headers=admin_headers).json["items"]
    if schema is not None:  # the old row: nobody's, so only the admin sees it; measured at start
        assert [item["caption"] for item in listed] == ["a red square"]
        assert client.get("/api/history").json["items"] == []
        with sqlite3.connect(database) as db:
            assert db.execute("SELECT owner, size_bytes FROM results").fetchall() == [(None, 1000)]
    make_app()  # a second start finds nothing to do
    assert revision(database) == HEAD
