"""Results and their history: rows in the database (db.py), files in the storage (storage.py), both kept across
restarts and shared by replicas that use the same ``DATABASE_URL`` and ``RESULTS_URL``.

The row is the commit point: a result's files are stored first and its row written last, so a crash at any moment
leaves at most files without a row, which nothing lists or serves and a sweep removes once ``STALE_S`` old.
Deleting goes the other way: the row, then the files.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import re
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import BigInteger, Connection, bindparam, delete, func, insert, literal, select, update

from app.services.db import Database, results
from app.services.storage import Storage, open_storage

log = logging.getLogger(__name__)
ID_PATTERN = re.compile(r"[0-9a-f]{32}")
# Files without a row this old were left by a crash and are swept; younger ones may be a conversion still being
# stored, by this replica or another
STALE_S = 600
RESULTS_FOLDER = "results"  # the default storage, in the instance folder
MIME_TYPES = {"image": "image/jpeg", "caption": "text/plain; charset=utf-8", "mp3": "audio/mpeg", "wav": "audio/wav"}
NEWEST_FIRST = (results.c.created_at.desc(), results.c.id.desc())
# The statements every upload runs, built once (``cutoff``: POSIX seconds)
INSERT = insert(results)
OLDER_THAN = select(results.c.id).where(results.c.created_at < bindparam("cutoff"))
TOTAL_BYTES = select(func.coalesce(func.sum(results.c.size_bytes), 0))


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

    def key(self, kind: str) -> str:
        """The storage key of the result's ``image``, ``audio`` or ``caption`` file."""
        return f"{self.id}/{self.file_name(kind)}"

    def mime_type(self, kind: str) -> str:
        return MIME_TYPES[self.format if kind == "audio" else kind]


class History:
    """The store of results; safe to share between threads, worker processes and replicas."""

    def __init__(self, database: Database, storage: Storage, retention: Retention) -> None:
        self.database, self.storage, self.retention = database, storage, retention
        self._stop = threading.Event()
        self._sweeping_in: int | None = None  # the process whose sweeper runs

    def add(self, *, image: bytes, audio: bytes, caption: str, model_name: str, model_version: str,
            engine: str, lang: str, fmt: str, processing_time: float, spoken: str = "",
            in_domain: bool | None = None, confidence: float | None = None, text: str = "",
            owner: str | None = None) -> Result:
        """Keep a result: its files first, then its row (the commit point); then drop what the retention says."""
        result = Result(uuid.uuid4().hex, time.time(), caption, model_name, model_version, engine, lang, fmt,
                        round(processing_time, 3), spoken, in_domain, confidence, text, owner)
        files = {result.file_name(kind): data
                 for kind, data in (("image", image), ("audio", audio), ("caption", caption_file(result).encode()))}
        result = dataclasses.replace(result, size_bytes=sum(len(data) for data in files.values()))
        try:
            self.storage.put_files(result.id, files)
            with self.database.connect(write=True) as db:
                db.execute(INSERT, dataclasses.asdict(result))
                expired = self._expire(db, owner)
        except BaseException:
            self._remove_files([result.id])
            raise
        self._remove_files(expired)
        if expired:
            log.info("retention: %d results removed", len(expired))
        return result

    def _expire(self, db: Connection, owner: str | None = None) -> list[str]:
        """Delete the rows the retention no longer keeps (``owner``'s quota too, if given); return their ids."""
        keep = self.retention
        ids = set(db.scalars(OLDER_THAN, {"cutoff": time.time() - keep.max_age_s}))
        ids |= self._past(db, keep.max_bytes)
        if owner is not None:
            ids |= self._past(db, keep.owner_quota_bytes, results.c.owner == owner)
        if ids:
            db.execute(delete(results).where(results.c.id.in_(sorted(ids))))
        return sorted(ids)

    @staticmethod
    def _past(db: Connection, limit: int, *where) -> set[str]:
        """The ids past the newest ``limit`` bytes of the results ``where`` selects, but never the newest one.
        Their total decides first, so an upload ranks every row only when something is to go."""
        total = db.scalar(TOTAL_BYTES.where(*where))
        if total <= limit:
            return set()
        ranked = select(results.c.id, func.row_number().over(order_by=NEWEST_FIRST).label("n"),
                        func.sum(results.c.size_bytes).over(order_by=NEWEST_FIRST).label("running")
                        ).where(*where).subquery()
        return set(db.scalars(select(ranked.c.id).where(ranked.c.running > literal(limit, BigInteger), ranked.c.n > 1)))

    def _remove_files(self, ids: list[str]) -> None:
        """Delete the files of results whose rows are gone; what fails now, the sweep removes later."""
        for result_id in ids:
            try:
                self.storage.delete(result_id)
            except Exception:
                log.exception("result %s: its files could not be deleted; the sweep will", result_id)

    def get(self, result_id: str) -> Result | None:
        """The result with this id, or None (also for anything that is not an id)."""
        if not ID_PATTERN.fullmatch(result_id):
            return None
        with self.database.connect() as db:
            row = db.execute(select(results).where(results.c.id == result_id)).mappings().first()
        return Result(**row) if row else None

    def page(self, page: int, per_page: int, owner: str | None) -> tuple[list[Result], int]:
        """One page of ``owner``'s results (every owner's when None: the admin's view), newest first, and the count."""
        where = () if owner is None else (results.c.owner == owner,)
        with self.database.connect() as db:
            total = db.scalar(select(func.count()).select_from(results).where(*where))
            rows = db.execute(select(results).where(*where).order_by(*NEWEST_FIRST).limit(per_page)
                              .offset((page - 1) * per_page)).mappings().all()
        return [Result(**row) for row in rows], total

    def delete(self, result_id: str, owner: str | None) -> bool:
        """Forget ``owner``'s result (anyone's when None: the admin), row then files; False if there was none."""
        if not ID_PATTERN.fullmatch(result_id):
            return False
        whose = () if owner is None else (results.c.owner == owner,)
        with self.database.connect(write=True) as db:
            deleted = db.execute(delete(results).where(results.c.id == result_id, *whose)).rowcount
        if deleted:
            self.storage.delete(result_id)
        return bool(deleted)

    def claim(self, owner: str) -> int:
        """Give every result kept before owners to ``owner``; return how many."""
        with self.database.connect(write=True) as db:
            return db.execute(update(results).where(results.c.owner.is_(None)).values(owner=owner)).rowcount

    def clear_unowned(self) -> int:
        """Delete every result kept before owners, with its files; return how many."""
        with self.database.connect(write=True) as db:
            ids = list(db.scalars(select(results.c.id).where(results.c.owner.is_(None))))
            db.execute(delete(results).where(results.c.id.in_(ids)))
        self._remove_files(ids)
        return len(ids)

    def read(self, result: Result, kind: str) -> bytes:
        """The result's ``image``, ``audio`` or ``caption`` file; FileNotFoundError once deleted."""
        return self.storage.get(result.key(kind))

    def zip_bytes(self, result: Result) -> bytes:
        """The image, audio and caption in one ZIP (media stored as they are, the caption compressed), dated when
        the result was made (UTC): the same bytes at every download, from every replica."""
        made = time.gmtime(result.created_at)[:6]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for kind in ("image", "audio", "caption"):
                entry = zipfile.ZipInfo(result.file_name(kind), date_time=made)
                entry.compress_type = zipfile.ZIP_DEFLATED if kind == "caption" else zipfile.ZIP_STORED
                entry.external_attr = 0o644 << 16  # a plain file, readable by all
                archive.writestr(entry, self.read(result, kind))
        return buffer.getvalue()

    def sweep(self, stale_s: float = STALE_S) -> int:
        """Measure results kept before sizes, apply the retention, and remove files without a row that are
        ``stale_s`` old (left by a crash, or a half-built temporary); return how many results and folders went."""
        folders = {folder.name: folder for folder in self.storage.folders()}
        with self.database.connect(write=True) as db:
            for result_id in db.scalars(select(results.c.id).where(results.c.size_bytes.is_(None))).all():
                size = folders[result_id].size_bytes if result_id in folders else 0
                db.execute(update(results).where(results.c.id == result_id).values(size_bytes=size))
            expired = self._expire(db)
            known = set(db.scalars(select(results.c.id)))
        self._remove_files(expired)
        orphans = [name for name, folder in folders.items()
                   if name not in known and name not in expired and time.time() - folder.modified > stale_s]
        self._remove_files(orphans)
        if expired or orphans:
            log.info("sweep: %d results past the retention and %d folders without a result removed",
                     len(expired), len(orphans))
        return len(expired) + len(orphans)

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
    """Open the store (``DATABASE_URL``, ``RESULTS_URL``), measure, expire and sweep what a crash left; add
    ``flask results``."""
    config = app.config
    retention = Retention(config["HISTORY_MAX_BYTES"], config["HISTORY_MAX_AGE_DAYS"] * 86400,
                          config["HISTORY_OWNER_QUOTA_BYTES"])
    storage = open_storage(config["RESULTS_URL"], Path(app.instance_path) / RESULTS_FOLDER)
    history = History(app.extensions["database"], storage, retention)
    history.sweep()
    app.extensions["history"] = history
    app.cli.add_command(results_cli)
