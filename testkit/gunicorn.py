"""Run the service under real gunicorn on 127.0.0.1 (a free port), for the smoke test and the bench."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import requests

from pipeline import QUIET_ENV

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(tracking_uri: str, instance: Path, *, workers: int = 2, threads: int = 4, ready_timeout: float = 90.0,
          env: Mapping[str, str] | None = None, ready: str = "/readyz", **settings: str) -> Iterator[tuple[str, Path]]:
    """Start ``gunicorn -c app/gunicorn_config.py app.wsgi:app`` (in a process group of its own, with ``env`` added
    to the environment); yield its base URL and log file once ``ready`` answers 200 (``/healthz``: without waiting
    for the models); stop it."""
    port = free_port()
    log_path = instance.parent / f"gunicorn-{port}.log"
    env = {**os.environ, **QUIET_ENV, "MLFLOW_TRACKING_URI": tracking_uri,
           "IMAGE_TO_AUDIO_INSTANCE_PATH": str(instance), "IMAGE_TO_AUDIO_PORT": str(port),
           "IMAGE_TO_AUDIO_WORKERS": str(workers), "IMAGE_TO_AUDIO_THREADS": str(threads),
           "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1", "IMAGE_TO_AUDIO_RATE_LIMIT": "off",  # load tests
           **{f"IMAGE_TO_AUDIO_{key}": value for key, value in settings.items()}, **(env or {})}
    with open(log_path, "wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "app/gunicorn_config.py", "app.wsgi:app"],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
            with contextlib.suppress(requests.RequestException):  # refused, or workers still booting
                if requests.get(f"{url}{ready}", timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn not ready after {ready_timeout} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield url, log_path
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def kill(log_path: Path) -> None:
    """SIGKILL a server ``serve`` started, master and workers at once (no handler runs, nothing is cleaned up);
    its master's pid is in its log ("Listening at: ... (pid)")."""
    master = int(re.search(r"Listening at: \S+ \((\d+)\)", log_path.read_text()).group(1))
    os.killpg(master, signal.SIGKILL)
