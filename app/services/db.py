"""SQLite in the instance folder: WAL mode so readers never wait for the one writer, across workers."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

BUSY_TIMEOUT_S = 10.0


def init_db(path: Path, schema: str, added: dict[str, str] | None = None) -> None:
    """Create the file and tables if missing, add the ``added`` columns (name: definition) to ``results`` where
    an older file lacks them, and switch the database to WAL (a property of the file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(schema)
        db.execute("BEGIN IMMEDIATE")  # workers starting together: one adds the columns, the others see them
        have = {row[1] for row in db.execute("PRAGMA table_info(results)")}
        for name, definition in (added or {}).items():
            if name not in have:
                db.execute(f"ALTER TABLE results ADD COLUMN {name} {definition}")
        db.execute("COMMIT")
    finally:
        db.close()


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
