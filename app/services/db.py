"""The service's database through SQLAlchemy Core: SQLite in the instance folder by default, or any database that
``DATABASE_URL`` names (PostgreSQL for replicas that share their state); one code path for both.

SQLite runs in WAL mode so readers never wait for the one writer, across workers. The schema is Alembic's
(``app/migrations``): ``migrate`` brings any older database (or none) to the newest revision when the service
starts. A change of schema is a new revision there, never an edit here; the tables below only name the columns
the queries use.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import (Column, Connection, Engine, Float, Integer, MetaData, Table, Text, TypeDecorator, URL,
                        create_engine, event, func, make_url, select)

BUSY_TIMEOUT_S = 10.0
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
SQLITE_FILE = "image_to_audio.sqlite3"  # the default database, in the instance folder
# PostgreSQL advisory lock keys: one writer at a time (as SQLite's write lock), one migration at a time
WRITE_LOCK, MIGRATION_LOCK = 0x1A2A0001, 0x1A2A0002


class Flag(TypeDecorator):
    """A yes/no kept as INTEGER 0/1 (the schema's type on every back end); None stays None."""

    impl, cache_ok = Integer, True

    def process_bind_param(self, value: Any, dialect: Any) -> int | None:
        return None if value is None else int(value)

    def process_result_value(self, value: Any, dialect: Any) -> bool | None:
        return None if value is None else bool(value)


metadata = MetaData()
results = Table(
    "results", metadata,
    Column("id", Text, primary_key=True), Column("created_at", Float), Column("caption", Text),
    Column("model_name", Text), Column("model_version", Text), Column("engine", Text), Column("lang", Text),
    Column("format", Text), Column("processing_time", Float), Column("spoken", Text), Column("in_domain", Flag),
    Column("confidence", Float), Column("text", Text), Column("owner", Text), Column("size_bytes", Integer))
train_jobs = Table(
    "train_jobs", metadata,
    Column("id", Text, primary_key=True), Column("status", Text), Column("params", Text), Column("command", Text),
    Column("created_at", Float), Column("finished_at", Float), Column("exit_code", Integer), Column("error", Text),
    Column("mlflow_run_id", Text), Column("model_name", Text), Column("model_version", Text),
    Column("promoted", Flag), Column("promotion_reason", Text))


def database_url(config: Mapping[str, Any], instance: Path) -> URL:
    """``DATABASE_URL``, or the SQLite file in the instance folder."""
    return make_url(config["DATABASE_URL"] or f"sqlite:///{instance / SQLITE_FILE}")


class Database:
    """One database; each process makes its own engine, so a forked worker never uses its parent's connections."""

    def __init__(self, url: str | URL) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._engine: Engine | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._pid != os.getpid():
                if self._engine is not None:
                    self._engine.dispose(close=False)  # the parent's connections stay the parent's
                self._engine, self._pid = self._make_engine(), os.getpid()
            return self._engine

    def _make_engine(self) -> Engine:
        if not self.is_sqlite:
            return create_engine(self.url, pool_pre_ping=True)
        # Pooled connections (SQLAlchemy's default for a file): closing the last connection to a WAL database
        # checkpoints it, which would cost every upload a write of the database file. SQLAlchemy emits BEGIN
        # itself (sqlite3's own transaction handling would defer it), IMMEDIATE for writers.
        engine = create_engine(self.url, connect_args={"timeout": BUSY_TIMEOUT_S})

        @event.listens_for(engine, "connect")
        def _connect(dbapi: sqlite3.Connection, record: Any) -> None:
            dbapi.isolation_level = None
            dbapi.execute("PRAGMA synchronous=NORMAL")

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.get_execution_options().get("write")
                                       else "BEGIN")

        return engine

    @contextlib.contextmanager
    def connect(self, *, write: bool = False) -> Iterator[Connection]:
        """A short transaction: committed on success, rolled back on error.

        Writers take the write lock up front (SQLite's ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock), so they
        wait their turn for up to ``BUSY_TIMEOUT_S`` (SQLite) instead of failing when another worker wrote first.
        """
        with self.engine.connect() as connection:
            if write:
                connection.execution_options(write=True)
            with connection.begin():
                if write and not self.is_sqlite:
                    connection.execute(select(func.pg_advisory_xact_lock(WRITE_LOCK)))
                yield connection

    def migrate(self) -> None:
        """Create the schema or upgrade it to the newest revision, one process at a time (a lock file beside a
        SQLite file, an advisory lock on PostgreSQL); a SQLite file is switched to WAL (a property of the file)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", self.url.render_as_string(hide_password=False).replace("%", "%%"))
        if self.is_sqlite:
            path = Path(self.url.database)
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(f"{path}.lock", "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                with contextlib.closing(sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)) as db:
                    db.execute("PRAGMA journal_mode=WAL")
                command.upgrade(config, "head")
            return
        with self.engine.connect() as connection:
            connection.execute(select(func.pg_advisory_lock(MIGRATION_LOCK)))
            connection.commit()
            try:
                command.upgrade(config, "head")
            finally:
                connection.execute(select(func.pg_advisory_unlock(MIGRATION_LOCK)))
                connection.commit()


def iso(timestamp: float) -> str:
    """A stored POSIX time as ISO 8601 in UTC, to the millisecond."""
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="milliseconds")


def init_app(app: Flask) -> None:
    """Bring the database to the newest schema before anything uses it; ``app.extensions["database"]``."""
    database = Database(database_url(app.config, Path(app.instance_path)))
    database.migrate()
    app.extensions["database"] = database
