"""The shared deployment on loopback, for tests and benches: PostgreSQL, an S3 API (moto), an MLflow server
that keeps its runs in PostgreSQL and proxies artifacts to S3, Redis and the service's Celery training worker.
Each runs as a real process on a free port of 127.0.0.1 and is stopped (its process group ended) on exit.

    with Postgres() as pg, MotoS3(tmp / "s3") as s3, \
            MlflowServer(tmp / "ml", pg.create_database("mlflow"), s3, bucket="mlflow") as ml:
        env = ml.client_env(env)   # MLFLOW_TRACKING_URI only: the server proxies artifacts, clients need no S3 keys

The pytest fixtures ``postgres``, ``s3``, ``mlflow_server`` and ``redis_server`` (session-scoped) wrap them; a
conftest.py imports them. Where PostgreSQL or Redis is not installed they skip, saying what to install.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Self

import pytest

log = logging.getLogger(__name__)

# moto accepts any key pair; only the servers (MLflow's, DVC's remote config) are given one
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
INSTALL_POSTGRES = ("PostgreSQL's server is not installed: `apt-get install postgresql` (Debian/Ubuntu; `make test` "
                    "does it) or `brew install postgresql` (macOS), then run the scaleout tests again")
INSTALL_REDIS = ("Redis is not installed: `apt-get install redis-server` (Debian/Ubuntu; `make test` does it) or "
                 "`brew install redis` (macOS), then run the scaleout tests again")
BIN = str(Path(sys.executable).parent)
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs (``initdb``, ``pg_ctl``), or None when not installed."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda f: int(Path(f).parent.name))
    return Path(folders[-1]) if folders else None


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def wait_until(ready: Callable[[], bool], what: str, process: subprocess.Popen, timeout: float = 90) -> None:
    """Poll ``ready`` until it holds; fail loudly with the process's output if it exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited {process.returncode}:\n{_output(process)}")
        if ready():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s:\n{_output(process)}")


def _output(process: subprocess.Popen) -> str:
    log_file = getattr(process, "log_file", None)
    return Path(log_file).read_text(errors="replace")[-4000:] if log_file else ""


def answers(url: str) -> bool:
    """Whether ``url`` answers an HTTP GET with a status below 500."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 500
    except urllib.error.HTTPError as error:
        return error.code < 500
    except OSError:
        return False


def start(args: list[str], log_file: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``args`` in its own process group, its output into ``log_file``."""
    with open(log_file, "wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    process.log_file = log_file  # type: ignore[attr-defined]
    return process


def stop(process: subprocess.Popen, timeout: float = 5) -> None:
    """End ``process`` and its children (its process group): SIGTERM, then SIGKILL after ``timeout`` seconds
    (uvicorn waits for idle keep-alive connections of its clients to close)."""
    if process.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout)
            return
        except subprocess.TimeoutExpired:
            continue


class Postgres:
    """A PostgreSQL cluster of its own: ``initdb`` into a temporary folder, ``pg_ctl`` on a free port, trust auth.

    PostgreSQL refuses to run as root: as root its programs run as the ``postgres`` user on a folder it owns.
    """

    def __init__(self, bin_dir: Path | None = None) -> None:
        self.bin = bin_dir or postgres_bin()
        if self.bin is None:
            raise FileNotFoundError(INSTALL_POSTGRES)
        self.port = free_port()
        self.folder: Path | None = None

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        """Run one of PostgreSQL's programs (as ``postgres`` when we are root); raise with its output on failure."""
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def start(self) -> Postgres:
        """Create the cluster and start the server."""
        # not under pytest's tmp folders: those are private to root, and the server runs as postgres
        self.folder = Path(tempfile.mkdtemp(prefix="image-to-audio-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        data = self.folder / "data"
        self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(data), "-l", str(self.folder / "server.log"),
                  "-o", f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off")
        log.info("PostgreSQL on 127.0.0.1:%d (%s)", self.port, data)
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete the cluster."""
        if self.folder is None:
            return
        try:
            self._run("pg_ctl", "stop", "-m", "fast", "-w", "-D", str(self.folder / "data"))
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` (MLflow's ``--backend-store-uri``)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create the database ``name``; its URL."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class MotoS3:
    """moto's S3 API in memory (``python -m moto.server``); ``endpoint`` is its URL."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.folder = Path(folder)  # its log
        self.process: subprocess.Popen | None = None

    def start(self) -> MotoS3:
        """Start the server and wait until it answers."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = start([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                             self.folder / "moto.log")
        wait_until(lambda: answers(self.endpoint), "moto_server", self.process, timeout=60)
        log.info("S3 (moto) on %s", self.endpoint)
        return self

    def stop(self) -> None:
        """Stop the server; its buckets are gone."""
        if self.process is not None:
            stop(self.process)
            self.process = None

    def client(self):
        """A boto3 S3 client for this server."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                            region_name=S3_CREDENTIALS["AWS_DEFAULT_REGION"])

    def create_bucket(self, name: str) -> str:
        """Create bucket ``name`` (if it is not there yet); ``name``."""
        client = self.client()
        if name not in {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key in ``bucket`` under ``prefix``."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def server_env(self) -> dict[str, str]:
        """What a server that reaches this store needs in its environment: endpoint and credentials."""
        return {"MLFLOW_S3_ENDPOINT_URL": self.endpoint, **S3_CREDENTIALS}

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class MlflowServer:
    """``mlflow server`` with ``backend`` (a database URL) for runs and registry, proxying artifacts to
    ``s3://<bucket>/<prefix>`` on ``s3``; ``url`` is what clients set as ``MLFLOW_TRACKING_URI``."""

    def __init__(self, folder: Path, backend: str, s3: MotoS3, bucket: str, prefix: str = "mlartifacts") -> None:
        self.backend, self.s3, self.bucket, self.prefix = backend, s3, bucket, prefix
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = Path(folder)  # its log
        self.process: subprocess.Popen | None = None

    @property
    def artifacts_destination(self) -> str:
        """Where the server keeps artifacts (``--artifacts-destination``)."""
        return f"s3://{self.bucket}/{self.prefix}"

    def start(self) -> MlflowServer:
        """Create the bucket, start the server (one worker) and wait for ``/health``."""
        self.s3.create_bucket(self.bucket)
        self.folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.s3.server_env(), "PATH": BIN + os.pathsep + os.environ.get("PATH", ""),
               "MLFLOW_DISABLE_TELEMETRY": "true", "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
        self.process = start([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", self.backend,
                              "--artifacts-destination", self.artifacts_destination, "--serve-artifacts",
                              "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
                             self.folder / "mlflow-server.log", env)
        wait_until(lambda: answers(f"{self.url}/health"), "mlflow server", self.process, timeout=120)
        log.info("MLflow server on %s: runs in %s, artifacts in %s", self.url, self.backend, self.artifacts_destination)
        return self

    def stop(self) -> None:
        """Stop the server and its workers."""
        if self.process is not None:
            stop(self.process)
            self.process = None

    def client_env(self, env: dict[str, str]) -> dict[str, str]:
        """``env`` pointed at this server, without any S3 endpoint or credentials (the server proxies artifacts)."""
        dropped = {"MLFLOW_S3_ENDPOINT_URL", "MLFLOW_REGISTRY_URI", *S3_CREDENTIALS, "AWS_PROFILE"}
        return {**{k: v for k, v in env.items() if k not in dropped}, "MLFLOW_TRACKING_URI": self.url}

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RedisServer:
    """``redis-server`` on a free port of loopback, in memory only (no snapshots, no append-only file)."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        if shutil.which("redis-server") is None:
            raise FileNotFoundError(INSTALL_REDIS)
        self.port = port or free_port()
        self.folder = Path(folder)  # its log
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        """The URL of database ``db`` (0 to 15)."""
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        """Start the server and wait until it answers PING."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = start(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", str(self.folder)], self.folder / f"redis-{self.port}.log")
        wait_until(self.answers, "redis-server", self.process, timeout=30)
        log.info("Redis on %s", self.url())
        return self

    def answers(self) -> bool:
        """Whether the server answers PING."""
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        """Stop the server; its data are gone."""
        if self.process is not None:
            stop(self.process)
            self.process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class TrainingWorker:
    """The service's Celery worker (``celery -A app.worker worker --concurrency 1``) on a broker, with
    ``settings`` as ``IMAGE_TO_AUDIO_<KEY>`` variables (JSON for lists) and ``env`` as plain ones."""

    def __init__(self, folder: Path, broker_url: str, env: dict[str, str] | None = None, **settings: object) -> None:
        self.folder = Path(folder)  # its instance folder and log
        self.env = {**os.environ, "PATH": BIN + os.pathsep + os.environ.get("PATH", ""), **(env or {}),
                    "IMAGE_TO_AUDIO_TRAIN_BROKER_URL": broker_url, "IMAGE_TO_AUDIO_INSTANCE_PATH": str(self.folder),
                    **{f"IMAGE_TO_AUDIO_{key}": value if isinstance(value, str) else json.dumps(value)
                       for key, value in settings.items()}}
        self.log_file = self.folder / "worker.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> TrainingWorker:
        """Start the worker and wait until it says it is ready for tasks."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "app.worker", "worker", "--concurrency", "1", "--loglevel",
                 "INFO", "--hostname", f"train-{self.folder.name}@%h", "--without-mingle", "--without-gossip"],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.process.log_file = self.log_file  # type: ignore[attr-defined]
        wait_until(lambda: " ready." in self.log_file.read_text(errors="replace"), "celery worker", self.process,
                   timeout=90)
        return self

    def stop(self) -> None:
        """Stop the worker (its process group)."""
        if self.process is not None:
            stop(self.process, timeout=15)
            self.process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# pytest fixtures, registered where a conftest.py imports them (as tests/scaleout/conftest.py does)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL cluster for the session (skips, saying what to install, where PostgreSQL is missing)."""
    if postgres_bin() is None:
        pytest.skip(INSTALL_POSTGRES)
    if os.geteuid() == 0 and not (shutil.which("runuser") and _user_exists("postgres")):
        pytest.skip("running as root, PostgreSQL needs the `postgres` user and `runuser` (Debian's postgresql package "
                    "makes the user): install it, or run the tests as another user")
    with Postgres() as server:
        yield server


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    """An S3 API in memory (moto) for the session."""
    with MotoS3(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory, postgres: Postgres, s3: MotoS3) -> Iterator[MlflowServer]:
    """An MLflow server for the session: runs and registry in PostgreSQL, artifacts proxied to S3 (moto)."""
    with MlflowServer(tmp_path_factory.mktemp("mlflow-server"), postgres.create_database("mlflow"), s3,
                      bucket="mlflow") as server:
        yield server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis server for the session (skips, saying what to install, where redis-server is missing)."""
    if shutil.which("redis-server") is None:
        pytest.skip(INSTALL_REDIS)
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server
