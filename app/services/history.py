"""Results and their history: rows in SQLite, files in one folder per result, both kept across restarts."""

from __future__ import annotations

import io
import re
import shutil
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

from app.services.db import connect, init_db
from pipeline.files import atomic_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    caption TEXT NOT NULL,
    model_name TEXT NOT NULL,
    model_version TEXT NOT NULL,
    engine TEXT NOT NULL,
    lang TEXT NOT NULL,
    format TEXT NOT NULL,
    processing_time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS results_newest ON results (created_at DESC);
"""
# Columns added since the table was first made: name -> definition (older rows take the default)
ADDED_COLUMNS = {"spoken": "TEXT NOT NULL DEFAULT ''", "in_domain": "INTEGER", "confidence": "REAL",
                 "text": "TEXT NOT NULL DEFAULT ''"}
COLUMNS = ("id", "created_at", "caption", "model_name", "model_version", "engine", "lang", "format",
           "processing_time", *ADDED_COLUMNS)
ID_PATTERN = re.compile(r"[0-9a-f]{32}")
STALE_S = 600  # a result folder without a row this old was left by a crash: swept at start
MIME_TYPES = {"image": "image/jpeg", "caption": "text/plain; charset=utf-8", "mp3": "audio/mpeg", "wav": "audio/wav"}


@dataclass(frozen=True)
class Result:
    """One conversion, as kept."""

    id: str
    created_at: float
    caption: str
    model_name: str
    model_version: str
    engine: str
    lang: str
    format: str
    processing_time: float
    spoken: str = ""                 # exactly what was spoken
    in_domain: bool | None = None    # None: kept before the model said so
    confidence: float | None = None
    text: str = ""                   # the text read in the picture

    def file_name(self, kind: str) -> str:
        """Name of the ``image``, ``audio`` or ``caption`` file in the result's folder."""
        return {"image": "image.jpg", "audio": f"audio.{self.format}", "caption": "caption.txt"}[kind]

    def mime_type(self, kind: str) -> str:
        return MIME_TYPES[self.format if kind == "audio" else kind]


class History:
    """The store of results; safe to share between threads and between worker processes."""

    def __init__(self, database: Path, results_dir: Path, retention: int) -> None:
        self.database, self.results_dir, self.retention = database, results_dir, retention
        init_db(database, SCHEMA, ADDED_COLUMNS)
        results_dir.mkdir(parents=True, exist_ok=True)

    def add(self, *, image: bytes, audio: bytes, caption: str, model_name: str, model_version: str,
            engine: str, lang: str, fmt: str, processing_time: float, spoken: str = "",
            in_domain: bool | None = None, confidence: float | None = None, text: str = "") -> Result:
        """Keep a result: files first (the folder appears whole), then its row; prune past the retention."""
        result = Result(uuid.uuid4().hex, time.time(), caption, model_name, model_version, engine, lang, fmt,
                        round(processing_time, 3), spoken, in_domain, confidence, text)
        folder = self.results_dir / result.id
        with atomic_dir(folder) as tmp:
            (tmp / result.file_name("image")).write_bytes(image)
            (tmp / result.file_name("audio")).write_bytes(audio)
            (tmp / result.file_name("caption")).write_text(caption_file(result), encoding="utf-8")
        try:
            with connect(self.database, write=True) as db:
                db.execute(f"INSERT INTO results ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                           _row(result))
                expired = [row["id"] for row in db.execute(
                    "SELECT id FROM results ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?", (self.retention,))]
                db.executemany("DELETE FROM results WHERE id = ?", [(i,) for i in expired])
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        for old in expired:
            shutil.rmtree(self.results_dir / old, ignore_errors=True)
        return result

    def get(self, result_id: str) -> Result | None:
        """The result with this id, or None (also for anything that is not an id)."""
        if not ID_PATTERN.fullmatch(result_id):
            return None
        with connect(self.database) as db:
            row = db.execute("SELECT * FROM results WHERE id = ?", (result_id,)).fetchone()
        return _result(row) if row else None

    def page(self, page: int, per_page: int) -> tuple[list[Result], int]:
        """One page of results, newest first, and the total count."""
        with connect(self.database) as db:
            total = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
            rows = db.execute("SELECT * FROM results ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
                              (per_page, (page - 1) * per_page)).fetchall()  # fmt: skip
        return [_result(row) for row in rows], total

    def delete(self, result_id: str) -> bool:
        """Forget a result (row, then files); False if there was none."""
        if not ID_PATTERN.fullmatch(result_id):
            return False
        with connect(self.database, write=True) as db:
            deleted = db.execute("DELETE FROM results WHERE id = ?", (result_id,)).rowcount
        shutil.rmtree(self.results_dir / result_id, ignore_errors=True)
        return bool(deleted)

    def path(self, result: Result, kind: str) -> Path:
        """Where the result's ``image``, ``audio`` or ``caption`` file lies."""
        return self.results_dir / result.id / result.file_name(kind)

    def zip_bytes(self, result: Result) -> bytes:
        """The image, audio and caption in one ZIP (media stored as they are, the caption compressed)."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for kind in ("image", "audio", "caption"):
                method = zipfile.ZIP_DEFLATED if kind == "caption" else zipfile.ZIP_STORED
                archive.write(self.path(result, kind), result.file_name(kind), compress_type=method)
        return buffer.getvalue()

    def sweep(self) -> int:
        """Remove folders left by a crash (no row, or a half-built temporary); return how many."""
        with connect(self.database) as db:
            known = {row[0] for row in db.execute("SELECT id FROM results")}
        removed = 0
        for entry in self.results_dir.iterdir():
            try:
                stale = time.time() - entry.stat().st_mtime > STALE_S
            except FileNotFoundError:  # swept by another worker starting too, or a temporary renamed into place
                continue
            if stale and entry.is_dir() and entry.name not in known:
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
        return removed


def caption_file(result: Result) -> str:
    """The caption download: what was spoken, then the model's sentence labelled as its guess, then any text."""
    lines = [f"Spoken: {result.spoken}" if result.spoken else "", f"Model's guess: {result.caption}"]
    if result.text:
        lines.append(f"Text in the picture: {result.text}")
    return "\n".join(line for line in lines if line) + "\n"


def _row(result: Result) -> tuple:
    return tuple(getattr(result, column) for column in COLUMNS)


def _result(row) -> Result:
    values = dict(row)
    if values["in_domain"] is not None:
        values["in_domain"] = bool(values["in_domain"])
    return Result(**values)


def init_app(app: Flask) -> None:
    """Open (or create) the store in the instance folder and sweep what a crash left behind."""
    instance = Path(app.instance_path)
    history = History(instance / app.config["DATABASE_NAME"], instance / app.config["RESULTS_DIR_NAME"],
                      app.config["HISTORY_RETENTION"])  # fmt: skip
    history.sweep()
    app.extensions["history"] = history
