"""Real servers for the fault tests, each in a process group of its own so that a test can kill it whole.

    with Gunicorn(store.uri, tmp_path / "instance") as service:     # app/gunicorn_config.py, a free port
        service.wait_for("/healthz")
        service.kill()                                              # SIGKILL to the master and every worker
    with MlflowServer("sqlite:///.../mlflow.db", port, tmp_path / "mlflow.log") as server:  # on 127.0.0.1
        server.wait_for("/health")
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from pipeline import QUIET_ENV
from testkit.gunicorn import ROOT, free_port

LOOPBACK = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


class Server:
    """A command run in a new session (its own process group), its output in ``log_path``."""

    def __init__(self, argv: list[str], log_path: Path, url: str, env: dict[str, str], cwd: Path = ROOT) -> None:
        self.argv, self.log_path, self.url, self.env, self.cwd = argv, log_path, url, env, cwd
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, path: str, status: int = 200, timeout: float = 90.0) -> requests.Response:
        """Poll ``GET path`` until it answers ``status``; fail with the log's end if it never does."""
        deadline, answer = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.argv[:4]} exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                answer = requests.get(self.url + path, timeout=5)
                if answer.status_code == status:
                    return answer
            time.sleep(0.2)
        last = f"{answer.status_code} {answer.text[:300]}" if answer is not None else "no answer"
        raise AssertionError(f"GET {path} did not answer {status} within {timeout} s (last: {last}):\n"
                             f"{self.log()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group at once (no handler runs, nothing is flushed or cleaned up)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        _wait_group_gone(self.process.pid)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL to whatever of the group is left."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=30)

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wait_group_gone(pgid: int, timeout: float = 10.0) -> None:
    """Wait until every process of the group is dead (a zombie, or reaped): SIGKILL takes effect when scheduled."""
    deadline = time.monotonic() + timeout
    while (alive := _alive_in_group(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive, f"processes {alive} of group {pgid} still alive {timeout} s after SIGKILL"


def _alive_in_group(pgid: int) -> list[int]:
    """The processes of a group that are not zombies, from /proc."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            state, _, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
            if int(group) == pgid and state not in ("Z", "X"):
                alive.append(int(stat.parent.name))
    return alive


class Gunicorn(Server):
    """``gunicorn -c app/gunicorn_config.py app.wsgi:app`` on a free port, on ``tracking_uri`` and ``instance``.

    ``settings`` become ``IMAGE_TO_AUDIO_<KEY>`` variables (the documented way to configure the service), as JSON
    unless they are strings.
    """

    def __init__(self, tracking_uri: str, instance: Path, *, workers: int = 1, threads: int = 4,
                 **settings: object) -> None:
        port = free_port()
        env = {**os.environ, **QUIET_ENV, **LOOPBACK, "MLFLOW_TRACKING_URI": tracking_uri,
               "IMAGE_TO_AUDIO_INSTANCE_PATH": str(instance), "IMAGE_TO_AUDIO_PORT": str(port),
               "IMAGE_TO_AUDIO_WORKERS": str(workers), "IMAGE_TO_AUDIO_THREADS": str(threads),
               "IMAGE_TO_AUDIO_RATE_LIMIT": "off",
               **{f"IMAGE_TO_AUDIO_{key}": value if isinstance(value, str) else json.dumps(value)
                  for key, value in settings.items()}}
        super().__init__([sys.executable, "-m", "gunicorn", "-c", "app/gunicorn_config.py", "app.wsgi:app"],
                         instance.parent / f"gunicorn-{port}.log", f"http://127.0.0.1:{port}", env)


class MlflowServer(Server):
    """``mlflow server`` on 127.0.0.1:``port`` over ``backend_uri`` (one worker, no job runner), run from
    ``log_path``'s folder (where it would put anything it makes)."""

    def __init__(self, backend_uri: str, port: int, log_path: Path) -> None:
        env = {**os.environ, **QUIET_ENV, **LOOPBACK,
               "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # its job runner starts seven more processes
        for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            env.pop(key, None)
        super().__init__([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_uri,
                          "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                         log_path, f"http://127.0.0.1:{port}", env, cwd=log_path.parent)
