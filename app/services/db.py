"""SQLite in the instance folder: WAL mode so readers never wait for the one writer, across workers.

The schema is Alembic's (``app/migrations``): ``migrate`` brings any older file (or none) to the newest
revision when the service starts. A change of schema is a new revision there, never an edit here.
"""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from flask import Flask

BUSY_TIMEOUT_S = 10.0
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def migrate(path: Path) -> None:
    """Create the database or upgrade its schema to the newest revision, and switch it to WAL (a property of the
    file). Workers starting together take turns on a lock file beside it."""
    from alembic import command
    from alembic.config import Config

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
        try:
            db.execute("PRAGMA journal_mode=WAL")
        finally:
            db.close()
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", f"sqlite:///{path}".replace("%", "%%"))
        command.upgrade(config, "head")


@contextlib.contextmanager
def connect(path: Path, *, write: bool = False) -> Iterator[sqlite3.Connection]:
    """A short-lived transaction: committed on success, rolled back on error, connection closed.

    Writers take the write lock up front (``BEGIN IMMEDIATE``), so they wait their turn for up to
    ``BUSY_TIMEOUT_S`` instead of failing when another worker wrote first. One connection per call
    keeps threads and forked workers from ever sharing one.
    """
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    db.row_factory = sqlite3.Row
    try:
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        yield db
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    finally:
        db.close()


def iso(timestamp: float) -> str:
    """A stored POSIX time as ISO 8601 in UTC, to the millisecond."""
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="milliseconds")


def init_app(app: Flask) -> None:
    """Bring the instance folder's database to the newest schema before anything uses it."""
    migrate(Path(app.instance_path) / app.config["DATABASE_NAME"])
