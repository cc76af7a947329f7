"""Results and their history: rows in SQLite, files in one folder per result, both kept across restarts."""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import re
import shutil
import sqlite3
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.services.db import connect
from pipeline.files import atomic_dir

log = logging.getLogger(__name__)
COLUMNS = ("id", "created_at", "caption", "model_name", "model_version", "engine", "lang", "format",
           "processing_time", "spoken", "in_domain", "confidence", "text", "owner", "size_bytes")
ID_PATTERN = re.compile(r"[0-9a-f]{32}")
STALE_S = 600  # a result folder without a row this old was left by a crash: swept at start
MIME_TYPES = {"image": "image/jpeg", "caption": "text/plain; charset=utf-8", "mp3": "audio/mpeg", "wav": "audio/wav"}
NEWEST_FIRST = "ORDER BY created_at DESC, rowid DESC"


@dataclass(frozen=True)
class Retention:
    """How much is kept: results older than ``max_age_s`` go, then the oldest past ``max_bytes`` in all, and each
    owner's oldest past ``owner_quota_bytes`` of theirs (an owner's newest result always stays)."""

    max_bytes: int
    max_age_s: float
    owner_quota_bytes: int


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
    owner: str | None = None         # app/owners.py's id of who converted it; None: kept before owners
    size_bytes: int | None = None    # its files together; None: kept before sizes, until measured at start

    def file_name(self, kind: str) -> str:
        """Name of the ``image``, ``audio`` or ``caption`` file in the result's folder."""
        return {"image": "image.jpg", "audio": f"audio.{self.format}", "caption": "caption.txt"}[kind]

    def mime_type(self, kind: str) -> str:
        return MIME_TYPES[self.format if kind == "audio" else kind]


class History:
    """The store of results; safe to share between threads and between worker processes."""

    def __init__(self, database: Path, results_dir: Path, retention: Retention) -> None:
        self.database, self.results_dir, self.retention = database, results_dir, retention
        results_dir.mkdir(parents=True, exist_ok=True)
        self._stop = threading.Event()
        self._sweeping_in: int | None = None  # the process whose sweeper runs

    def add(self, *, image: bytes, audio: bytes, caption: str, model_name: str, model_version: str,
            engine: str, lang: str, fmt: str, processing_time: float, spoken: str = "",
            in_domain: bool | None = None, confidence: float | None = None, text: str = "",
            owner: str | None = None) -> Result:
        """Keep a result: files first (the folder appears whole), then its row; then drop what the retention says."""
        result = Result(uuid.uuid4().hex, time.time(), caption, model_name, model_version, engine, lang, fmt,
                        round(processing_time, 3), spoken, in_domain, confidence, text, owner)
        folder, caption_bytes = self.results_dir / result.id, caption_file(result).encode()
        result = dataclasses.replace(result, size_bytes=len(image) + len(audio) + len(caption_bytes))
        with atomic_dir(folder) as tmp:
            (tmp / result.file_name("image")).write_bytes(image)
            (tmp / result.file_name("audio")).write_bytes(audio)
            (tmp / result.file_name("caption")).write_bytes(caption_bytes)
        try:
            with connect(self.database, write=True) as db:
                db.execute(f"INSERT INTO results ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                           _row(result))
                expired = self._expire(db, owner)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self._remove_files(expired)
        return result

    def _expire(self, db: sqlite3.Connection, owner: str | None = None) -> list[str]:
        """Delete the rows the retention no longer keeps (``owner``'s quota too, if given); return their ids."""
        keep = self.retention
        ids = {row[0] for row in db.execute("SELECT id FROM results WHERE created_at < ?",
                                            (time.time() - keep.max_age_s,))}
        over = ("SELECT id FROM (SELECT id, ROW_NUMBER() OVER newest AS n, SUM(size_bytes) OVER newest AS running "
                "FROM results {where} WINDOW newest AS (" + NEWEST_FIRST + ")) WHERE running > ? AND n > 1")
        ids |= {row[0] for row in db.execute(over.format(where=""), (keep.max_bytes,))}
        if owner is not None:
            ids |= {row[0] for row in db.execute(over.format(where="WHERE owner = ?"), (owner, keep.owner_quota_bytes))}
        db.executemany("DELETE FROM results WHERE id = ?", [(i,) for i in ids])
        return sorted(ids)

    def _remove_files(self, ids: list[str]) -> None:
        for result_id in ids:
            shutil.rmtree(self.results_dir / result_id, ignore_errors=True)
        if ids:
            log.info("retention: %d results removed", len(ids))

    def get(self, result_id: str) -> Result | None:
        """The result with this id, or None (also for anything that is not an id)."""
        if not ID_PATTERN.fullmatch(result_id):
            return None
        with connect(self.database) as db:
            row = db.execute("SELECT * FROM results WHERE id = ?", (result_id,)).fetchone()
        return _result(row) if row else None

    def page(self, page: int, per_page: int, owner: str | None) -> tuple[list[Result], int]:
        """One page of ``owner``'s results (every owner's when None: the admin's view), newest first, and the count."""
        where, args = ("", ()) if owner is None else ("WHERE owner = ?", (owner,))
        with connect(self.database) as db:
            total = db.execute(f"SELECT COUNT(*) FROM results {where}", args).fetchone()[0]
            rows = db.execute(f"SELECT * FROM results {where} {NEWEST_FIRST} LIMIT ? OFFSET ?",
                              (*args, per_page, (page - 1) * per_page)).fetchall()
        return [_result(row) for row in rows], total

    def delete(self, result_id: str, owner: str | None) -> bool:
        """Forget ``owner``'s result (anyone's when None: the admin), row then files; False if there was none."""
        if not ID_PATTERN.fullmatch(result_id):
            return False
        with connect(self.database, write=True) as db:
            deleted = db.execute("DELETE FROM results WHERE id = ? AND (? IS NULL OR owner = ?)",
                                 (result_id, owner, owner)).rowcount
        if deleted:
            shutil.rmtree(self.results_dir / result_id, ignore_errors=True)
        return bool(deleted)

    def claim(self, owner: str) -> int:
        """Give every result kept before owners to ``owner``; return how many."""
        with connect(self.database, write=True) as db:
            return db.execute("UPDATE results SET owner = ? WHERE owner IS NULL", (owner,)).rowcount

    def clear_unowned(self) -> int:
        """Delete every result kept before owners, with its files; return how many."""
        with connect(self.database, write=True) as db:
            ids = [row[0] for row in db.execute("SELECT id FROM results WHERE owner IS NULL")]
            db.executemany("DELETE FROM results WHERE id = ?", [(i,) for i in ids])
        self._remove_files(ids)
        return len(ids)

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
        """Measure results kept before sizes, apply the retention, and remove folders left by a crash (no row, or a
        half-built temporary); return how many results and folders went."""
        with connect(self.database, write=True) as db:
            unmeasured = [row[0] for row in db.execute("SELECT id FROM results WHERE size_bytes IS NULL")]
            db.executemany("UPDATE results SET size_bytes = ? WHERE id = ?",
                           [(_folder_bytes(self.results_dir / i), i) for i in unmeasured])
            expired = self._expire(db)
            known = {row[0] for row in db.execute("SELECT id FROM results")}
        self._remove_files(expired)
        removed = len(expired)
        for entry in self.results_dir.iterdir():
            try:
                stale = time.time() - entry.stat().st_mtime > STALE_S
            except FileNotFoundError:  # swept by another worker starting too, or a temporary renamed into place
                continue
            if stale and entry.is_dir() and entry.name not in known:
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
        return removed

    def start_sweeper(self, every_s: float) -> None:
        """Sweep every ``every_s`` seconds in a background thread (0: never), so age limits apply without uploads;
        once per process."""
        if every_s > 0 and self._sweeping_in != os.getpid():
            self._sweeping_in = os.getpid()
            threading.Thread(target=self._sweep_until_stopped, args=(every_s,), name="history-sweeper",
                             daemon=True).start()

    def _sweep_until_stopped(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            try:
                self.sweep()
            except Exception:  # the next sweep may succeed
                log.exception("history sweep failed")

    def stop(self) -> None:
        self._stop.set()


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


def _folder_bytes(folder: Path) -> int:
    return sum(entry.stat().st_size for entry in folder.glob("*") if entry.is_file())


results_cli = AppGroup("results", help="Results kept before owners existed (only the admin sees them).")


@results_cli.command("claim")
@click.option("--cookie", required=True, help="the value of the visitor's owner cookie (it may start with -)")
def claim_command(cookie: str) -> None:
    """Give them to the visitor whose owner cookie has this value."""
    from app.owners import TOKEN, owner_of

    if not TOKEN.fullmatch(cookie):
        raise click.BadParameter("that is not an owner cookie's value (43 letters, digits, - and _)")
    click.echo(f"{current_app.extensions['history'].claim(owner_of(cookie))} results claimed")


@results_cli.command("clear-unowned")
def clear_unowned_command() -> None:
    """Delete them and their files."""
    click.echo(f"{current_app.extensions['history'].clear_unowned()} results deleted")


def init_app(app: Flask) -> None:
    """Open the store in the instance folder, measure, expire and sweep what a crash left; add ``flask results``."""
    instance, config = Path(app.instance_path), app.config
    retention = Retention(config["HISTORY_MAX_BYTES"], config["HISTORY_MAX_AGE_DAYS"] * 86400,
                          config["HISTORY_OWNER_QUOTA_BYTES"])
    history = History(instance / config["DATABASE_NAME"], instance / config["RESULTS_DIR_NAME"], retention)
    history.sweep()
    app.extensions["history"] = history
    app.cli.add_command(results_cli)
